"""Selection algorithms for :class:`~citycov.planning.problem.CoverProblem` (no geography).

Two forms of one problem (see :mod:`citycov.planning.problem`):

* **min cost**: the cheapest set of candidates whose covered weight reaches ``need_k`` for every
  requirement k (:func:`greedy_cover`, :func:`solve_cover_mip`, :func:`solve_cover_cpsat`,
  :func:`brute_force_cover`);
* **max coverage**: within a budget, the largest value ``Σ_k ω_k min(covered_k, cap_k)``
  (:func:`greedy_max_coverage`, :func:`solve_cover_mip` with ``budget``,
  :func:`brute_force_max_coverage`).  ``ω_k = 1/need_k`` and ``cap_k = need_k`` for a finite
  need > 0, so the value is the sum of the shares of each need reached and persons, households
  and villages mix on one scale; a need of 0 counts nothing; an infinite need counts the share of
  the requirement's total weight covered, uncapped.  With one requirement (or equal needs) this is
  the covered weight capped at the need, up to a constant factor.

The greedy value of the min-cost form is the same function with the same weights, so both forms
share one formula (:func:`citycov.planning._instance.objective`).

Units with load 0 are covered by reach alone (also by capacitated candidates); units with load
> 0 are covered outright by uncapacitated candidates and may be served in part by capacitated
ones, each serving at most its capacity of load.  For a chosen set the coverage reported is that
of the capacitated service that maximises the value above (an LP; see
:mod:`citycov.planning._service`).  A need counts as met within :data:`NEED_RTOL` × max(need, 1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from citycov.planning import _brute, _cpsat, _highs
from citycov.planning._greedy import GreedyState, celf
from citycov.planning._instance import (
    NEED_RTOL,
    VALUE_EPS,
    Instance,
    check_problem,
    covered_weight,
    met,
    objective,
    value_of,
)
from citycov.planning._reduce import merge_units
from citycov.planning._service import achievable_weight, served_fraction, service
from citycov.planning.problem import CoverProblem, Selection

__all__ = [
    "NEED_RTOL",
    "achievable",
    "brute_force_cover",
    "brute_force_max_coverage",
    "greedy_cover",
    "greedy_max_coverage",
    "lp_bound",
    "optimality_gap_pct",
    "reduce_problem",
    "solve_cover_cpsat",
    "solve_cover_mip",
]

GREEDY_MAX_BOUND = "½(1−1/e)"
"""The guarantee of :func:`greedy_max_coverage` with unequal costs (Khuller, Moss & Naor 1999;
Krause & Guestrin 2005): the better of the cost-benefit greedy and the best single candidate
reaches at least ½(1 − 1/e) ≈ 0.316 of the optimum value; with equal costs the plain greedy
reaches 1 − 1/e ≈ 0.632 (Nemhauser, Wolsey & Fisher 1978)."""


# ----------------------------------------------------------------------------- shared pieces

def achievable(problem: CoverProblem) -> np.ndarray:
    """The most each requirement can reach with every candidate chosen.

    Parameters
    ----------
    problem
        The covering problem.

    Returns
    -------
    numpy.ndarray
        (r,) float64, in each requirement's unit: the weight of its units that some candidate
        reaches (a plain union); where capacitated candidates serve units of load > 0, the
        largest service their capacities allow, one LP per requirement.  Capacity is shared, so
        the requirements may not all reach these values at once.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> achievable(problem)  # all five units: 4 + 3 + 2 + 5 + 1
    array([15.])
    """
    return achievable_weight(check_problem(problem, form="max"))


def optimality_gap_pct(cost: float, lower_bound: float) -> float:
    """``100 · (cost − lower_bound) / lower_bound`` (inf when the bound is 0 and the cost is not,
    0 when both are 0, NaN when either is NaN).

    Examples
    --------
    >>> optimality_gap_pct(110.0, 100.0)
    10.0
    """
    if np.isnan(cost) or np.isnan(lower_bound):
        return float("nan")
    if lower_bound == 0:
        return 0.0 if cost == 0 else float("inf")
    return 100.0 * (cost - lower_bound) / lower_bound


def _capped_need(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """``(need capped at what is achievable, achievable)``."""
    best = achievable_weight(inst)
    return np.minimum(inst.need, np.where(met(best, inst.need), inst.need, best)), best


def _infeasible_text(inst: Instance, covered: np.ndarray, best: np.ndarray) -> str:
    parts = []
    for k in np.flatnonzero(~met(covered, inst.need)):
        need, unit = inst.need[k], inst.unit(k)
        if met(best[k:k + 1], inst.need[k:k + 1])[0]:
            parts.append(f"{inst.label(k)} reached {covered[k]:.6g} of the {need:.6g} {unit} needed "
                         f"(all candidates together reach {best[k]:.6g}; capacity is shared)")
        else:
            parts.append(f"{inst.label(k)} reaches at most {best[k]:.6g} of the {need:.6g} {unit} needed")
    return "infeasible: " + "; ".join(parts)


def _coverage_of(inst: Instance, chosen: np.ndarray) -> np.ndarray:
    omega, cap = objective(inst)
    return covered_weight(inst, served_fraction(inst, chosen, omega, cap))


def _attributed_gains(inst: Instance, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(covered, gains)`` of an exact method's selection: ``gains[t]`` is what ``chosen[t]``
    adds, a unit reached outright going to the first chosen candidate reaching it, a served part
    to the candidate serving it (the service LP of :func:`_coverage_of`)."""
    omega, cap = objective(inst)
    fraction, row, col, s = service(inst, chosen, omega, cap)
    gains = np.zeros((chosen.size, inst.r))
    reached = np.zeros(inst.n, dtype=bool)
    reach = inst.reach
    for t, j in enumerate(chosen):
        idx = reach.indices[reach.indptr[j]:reach.indptr[j + 1]]
        new = idx[~reached[idx]]
        reached[new] = True
        gains[t] = np.bincount(inst.requirement[new], weights=inst.weight[new], minlength=inst.r)
        mine = col == j
        gains[t] += np.bincount(inst.requirement[row[mine]], weights=inst.weight[row[mine]] * s[mine],
                                minlength=inst.r)
    return covered_weight(inst, fraction), gains


def _empty(method: str, inst: Instance, status: str, t0: float, *, feasible: bool) -> Selection:
    return Selection(method=method, chosen=np.zeros(0, dtype=np.int64), cost=0.0 if feasible else float("nan"),
                     covered=_coverage_of(inst, np.zeros(0, dtype=np.int64)), feasible=feasible, status=status,
                     time_s=time.perf_counter() - t0, lower_bound=0.0 if feasible else float("nan"),
                     gains=np.zeros((0, inst.r)))


# ----------------------------------------------------------------------------- greedy

def greedy_cover(problem: CoverProblem, *, per_cost: bool = True, chosen: Sequence[int] = ()) -> Selection:
    """CELF (lazy greedy) for the min-cost form.

    Repeatedly adds the candidate with the largest marginal value per unit cost (per candidate
    when ``per_cost`` is False), the value being ``f(S) = Σ_k min(covered_k(S), need_k)/need_k``
    over the requirements with ``need_k > 0``, until every need is met or no candidate adds
    anything.  Ties go to the lowest index, so the result is reproducible.  A capacitated
    candidate's marginal value is that of serving up to its capacity from the uncovered parts of
    the units it reaches, best value per load first; that assignment is fixed when it is chosen.

    Fixed assignments can block a need that the candidates could meet with service reassigned.
    When that happens (and some unmet need is within reach) the service is re-optimised and the
    selection continues by the exact marginal value (the service LP over the chosen set plus one
    candidate, :mod:`citycov.planning._service`), one LP per candidate and step; ``status`` says so
    and ``gains`` are then attributed from the final service, as for the exact methods.

    Parameters
    ----------
    problem
        The covering problem (needs finite).
    per_cost
        Rank by marginal value per unit cost (True) or by marginal value alone.
    chosen
        Candidates already built (e.g. the plan so far, before a continuation after a
        full-engine check): their coverage counts from the start and they are never picked.

    Returns
    -------
    Selection
        ``chosen``: the new picks in order of selection; ``cost``: theirs; ``covered``: with the
        already-built candidates included; ``gains``: the weight each pick newly covered per
        requirement, at the time of its choice; ``feasible``: every need met.  If the needs
        cannot be met, ``status`` names each unmet requirement with the most all candidates
        together reach.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> sel = greedy_cover(problem)
    >>> sel.chosen.tolist(), sel.cost, sel.feasible, sel.gains.ravel().tolist()
    ([1, 0], 7.0, True, [10.0, 4.0])
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="cover")
    pre = _check_chosen(chosen, inst.m)
    omega, cap = objective(inst)
    state = GreedyState.empty(inst, omega, cap)
    for j in pre:
        state.add(j, record=False)
    celf(state, per_cost=per_cost, need=inst.need, exclude=pre)
    picks = np.array(state.picks, dtype=np.int64)
    gains = np.array(state.gains).reshape(len(state.picks), inst.r)
    covered = state.covered
    status = "greedy"
    best = None
    if inst.has_service and not met(covered, inst.need).all():
        best = achievable_weight(inst)
        unmet = ~met(covered, inst.need)
        if met(best[unmet], inst.need[unmet]).any():  # some unmet need is within reach: reassign
            picks, gains, covered, status = _repair(inst, pre, picks, gains, covered, per_cost=per_cost)
    feasible = bool(met(covered, inst.need).all())
    if not feasible:
        status = _infeasible_text(inst, covered, achievable_weight(inst) if best is None else best)
    return Selection(method="greedy", chosen=picks, cost=float(inst.cost[picks].sum()), covered=covered,
                     feasible=feasible, status=status, time_s=time.perf_counter() - t0, gains=gains)


def _check_chosen(chosen: Sequence[int], m: int) -> np.ndarray:
    pre = np.asarray(chosen, dtype=np.int64).reshape(-1)
    bad = pre[(pre < 0) | (pre >= m)]
    if bad.size:
        raise ValueError(f"chosen: candidate indices must be in [0, {m}); got {bad[:10].tolist()}")
    if np.unique(pre).size != pre.size:
        raise ValueError(f"chosen: candidate indices repeat: {pre.tolist()}")
    return pre


def _repair(inst: Instance, pre: np.ndarray, picks: np.ndarray, gains: np.ndarray, covered: np.ndarray, *,
            per_cost: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Continue a stalled greedy with the service re-optimised (exact marginal values by LP).
    Returns ``(picks, gains, covered, status)``; unchanged when re-optimising gains nothing.
    After a repair the gains are attributed from the final service (:func:`_attributed_gains`)."""
    omega, cap = objective(inst)
    n_celf = picks.size
    built = [*pre.tolist(), *picks.tolist()]
    lp_covered = covered_weight(inst, served_fraction(inst, np.array(built, dtype=np.int64), omega, cap))
    improved = value_of(lp_covered, omega, cap) > value_of(covered, omega, cap) + 1e-9
    has_entries = np.diff(inst.cover.indptr) > 0
    current = lp_covered
    while not met(current, inst.need).all():
        base = value_of(current, omega, cap)
        best = None
        for j in np.flatnonzero(has_entries):
            if j in built:
                continue
            cov_j = covered_weight(inst, served_fraction(inst, np.array([*built, j], dtype=np.int64), omega, cap))
            gain = value_of(cov_j, omega, cap) - base
            if gain <= 1e-9:
                continue
            score = gain / inst.cost[j] if per_cost else gain
            if best is None or score > best[0]:
                best = (score, j, cov_j)
        if best is None:
            break
        built.append(int(best[1]))
        current = best[2]
    n_more = len(built) - pre.size - n_celf
    if not improved and n_more == 0:
        return picks, gains, covered, "greedy"
    all_covered, all_gains = _attributed_gains(inst, np.array(built, dtype=np.int64))
    status = (f"greedy (service re-optimised by LP after {n_celf} picks with fixed assignments stalled; "
              f"{n_more} more picks by exact marginal value; gains attributed from the final service)")
    return np.array(built[pre.size:], dtype=np.int64), all_gains[pre.size:], all_covered, status


def greedy_max_coverage(problem: CoverProblem, *, budget: float, per_cost: bool = False) -> Selection:
    """Greedy for the max-coverage form: the largest ``Σ_k ω_k min(covered_k, cap_k)`` (module
    docstring) with ``Σ cost ≤ budget``.

    With equal costs this is the classic greedy (by marginal value; ``per_cost`` changes
    nothing), within 1 − 1/e of the optimum for weighted coverage (Nemhauser, Wolsey & Fisher).
    With unequal costs it returns the best of the greedy by the rule ``per_cost`` names, the
    cost-benefit greedy (marginal value per cost, skipping what no longer fits) and the best
    single candidate: at least ½(1 − 1/e) of the optimum (Khuller, Moss & Naor 1999; Krause &
    Guestrin 2005).  The guarantees hold without capacities; capacitated candidates are valued
    by their fixed greedy assignment.

    Parameters
    ----------
    problem
        The covering problem (a need may be ``inf``: maximise the share of its total weight).
    budget
        The most the chosen candidates may cost, in the problem's cost units.
    per_cost
        Rank by marginal value per unit cost.

    Returns
    -------
    Selection
        ``status`` names the rule that won and the value reached; ``feasible``: every need met.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> greedy_max_coverage(problem, budget=4.0).chosen.tolist()  # 10 of the 11 needed
    [1]
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="max")
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    omega, cap = objective(inst)
    equal = bool(np.all(inst.cost == inst.cost[0])) if inst.m else True
    runs = {}
    first = "plain greedy" if (equal or not per_cost) else "cost-benefit greedy"
    runs[first] = celf(GreedyState.empty(inst, omega, cap), per_cost=per_cost and not equal, budget=budget)
    if not equal:
        if first != "cost-benefit greedy":
            runs["cost-benefit greedy"] = celf(GreedyState.empty(inst, omega, cap), per_cost=True, budget=budget)
        single = GreedyState.empty(inst, omega, cap)
        fits = np.flatnonzero(inst.cost <= budget + 1e-9 * max(1.0, budget))
        if fits.size:
            values = np.array([single.gain(int(j))[0] for j in fits])
            best_j = int(fits[np.argmax(values)])
            if values.max() > VALUE_EPS:
                single.add(best_j)
        runs["best single candidate"] = single
    name, state = max(runs.items(), key=lambda kv: value_of(kv[1].covered, omega, cap))
    picks = np.array(state.picks, dtype=np.int64)
    value = value_of(state.covered, omega, cap)
    bound = "1−1/e" if equal else GREEDY_MAX_BOUND
    status = f"greedy: {name} (guarantee {bound} without capacities), value {value:.6g}"
    return Selection(method="greedy", chosen=picks, cost=float(inst.cost[picks].sum()), covered=state.covered,
                     feasible=bool(met(state.covered, inst.need).all()), status=status,
                     time_s=time.perf_counter() - t0, gains=np.array(state.gains).reshape(len(picks), inst.r))


# ----------------------------------------------------------------------------- reduction

def reduce_problem(problem: CoverProblem) -> tuple[CoverProblem, np.ndarray]:
    """Merge the units that no solver can tell apart.

    Units merge when they share the requirement, the exact set of covering candidates and the
    load/weight ratio (load 0 included); the merged unit's weight and load are the sums.  A
    merged unit covered in part ``z`` stands for any split of its members with the same covered
    weight, and its load is proportional to that weight, so MIP, LP and CP-SAT optima are
    unchanged.  Cover sets are grouped by two order-free hashes (sums of random 40-bit keys) and
    then compared exactly.

    Parameters
    ----------
    problem
        The covering problem.

    Returns
    -------
    tuple[CoverProblem, numpy.ndarray]
        The reduced problem (units numbered by first occurrence; the same candidates and
        requirements) and (n,) int64 mapping each old unit to its new unit.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0], [1, 0], [1, 1], [1, 0]], dtype=bool))
    >>> problem = CoverProblem(np.array([1.0, 1.0]), cover, np.array([1.0, 2, 3, 4]), np.array([0, 0, 0, 1]),
    ...                        (Requirement("wireless_population", "D0", 5.0, "persons"),
    ...                         Requirement("wireless_population", "D1", 1.0, "persons")))
    >>> reduced, new_of_old = reduce_problem(problem)
    >>> new_of_old.tolist(), reduced.unit_weight.tolist()
    ([0, 0, 1, 2], [3.0, 3.0, 4.0])
    """
    return merge_units(problem)


# ----------------------------------------------------------------------------- exact: HiGHS

def lp_bound(problem: CoverProblem, *, time_limit_s: float = 120.0) -> float:
    """The LP relaxation bound of the min-cost MIP (x in [0, 1]), needs capped at what is
    achievable (:func:`achievable`).

    Returns
    -------
    float
        The bound; ``inf`` if even the relaxation is infeasible; NaN if HiGHS did not finish
        within ``time_limit_s``.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> round(lp_bound(problem), 4)  # 31/7
    4.4286
    """
    inst = check_problem(problem, form="cover")
    need, _ = _capped_need(inst)
    reduced = check_problem(reduce_problem(problem)[0], form="cover")
    omega, cap = objective(reduced)
    out = _highs.solve_model(_highs.build_model(reduced, need, budget=None, omega=omega, cap=cap),
                             time_limit_s=time_limit_s, integer=False)
    if out.status == "infeasible":
        return float("inf")
    return out.bound


def _with_needs(problem: CoverProblem, need: np.ndarray) -> CoverProblem:
    reqs = tuple(replace(req, need=float(v)) for req, v in zip(problem.requirements, need, strict=True))
    return replace(problem, requirements=reqs)


def solve_cover_mip(problem: CoverProblem, *, time_limit_s: float = 120.0, budget: float | None = None) -> Selection:
    """Solve the covering problem exactly with the HiGHS MIP solver (``highspy``).

    Min-cost form: ``min Σ c_j x_j`` s.t. ``Σ_{i∈k} w_i z_i ≥ need_k``, ``z_i ≤ Σ_{j reaching i}
    x_j + Σ_{j serving i} s_ij``, ``s_ij ≤ x_j``, ``Σ_i load_i s_ij ≤ capacity_j x_j``,
    ``0 ≤ z, s ≤ 1``, ``x`` binary, on :func:`reduce_problem`'s reduced problem.  A need above
    :func:`achievable` is capped there (the result then covers what can be covered, at least
    cost) and ``feasible`` is False with ``status`` ``"infeasible: ... reaches at most ..."``.

    Max-coverage form (``budget`` given): ``max Σ_k ω_k y_k`` with ``y_k ≤ Σ_{i∈k} w_i z_i``,
    ``y_k ≤ cap_k`` and ``Σ c x ≤ budget`` (module docstring).

    HiGHS starts from the greedy selection (:func:`greedy_cover` on the capped needs, or
    :func:`greedy_max_coverage`), so an answer cut by the time limit is never worse than it.
    The LP relaxation bound is :func:`lp_bound` (HiGHS's dual bound is at least as tight).

    Parameters
    ----------
    problem
        The covering problem.
    time_limit_s
        Wall-clock limit for HiGHS.
    budget
        Switch to the max-coverage form with this budget.

    Returns
    -------
    Selection
        ``status``: ``"optimal"`` only when HiGHS reports optimal with a relative gap ≤ 1e-6,
        otherwise ``"time limit (gap x %)"`` with the incumbent.  ``lower_bound``: HiGHS's
        proven dual bound on the minimum cost (not above the cost found); NaN in the
        max-coverage form, whose value and bound are in ``status``.  ``gains``: what each chosen
        candidate adds, a unit reached by several going to the lowest index, a served part to the
        candidate serving it (the same for the other exact methods).

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> sel = solve_cover_mip(problem, time_limit_s=60)
    >>> sel.cost, sel.status, sel.lower_bound
    (7.0, 'optimal', 7.0)
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="cover" if budget is None else "max")
    if budget is not None and (not np.isfinite(budget) or budget < 0):
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    if budget is None and not (inst.need > 0).any():
        return _empty("highs", inst, "optimal", t0, feasible=True)
    reduced = check_problem(reduce_problem(problem)[0], form="cover" if budget is None else "max")
    omega, cap = objective(reduced)
    if budget is None:
        need, best = _capped_need(inst)
        start = greedy_cover(_with_needs(problem, need))
        start_x = start.chosen if start.feasible else None
    else:
        need, best = inst.need, None
        start_x = greedy_max_coverage(problem, budget=budget, per_cost=True).chosen
    model = _highs.build_model(reduced, need, budget=budget, omega=omega, cap=cap)
    out = _highs.solve_model(model, time_limit_s=time_limit_s - (time.perf_counter() - t0), integer=True,
                             start=start_x)
    if out.status == "infeasible":
        msg = _infeasible_text(inst, np.zeros(inst.r), best) if best is not None else "infeasible"
        return _empty("highs", inst, msg + " (the needs cannot be met together)", t0, feasible=False)
    if out.x is None:
        return _empty("highs", inst, f"{out.status} (no solution found)", t0, feasible=False)
    chosen = np.flatnonzero(out.x > 0.5).astype(np.int64)
    cost = float(inst.cost[chosen].sum())
    covered, gains = _attributed_gains(inst, chosen)
    if budget is None:
        lower = min(out.bound, cost)
        gap = optimality_gap_pct(cost, lower)
        value_text = ""
    else:
        lower = float("nan")
        value = out.objective
        gap = 100.0 * (out.bound - value) / value if value > 0 else (0.0 if out.bound <= 0 else float("inf"))
        value_text = f" (value {value:.6g}, bound {out.bound:.6g})"
    if out.status == "optimal" and gap <= 100 * _highs.MIP_REL_GAP:
        status = f"optimal{value_text}"
    elif out.status in ("optimal", "time limit"):
        status = f"time limit (gap {gap:.3g} %){value_text}"
    else:
        status = f"{out.status} (gap {gap:.3g} %){value_text}"
    feasible = bool(met(covered, inst.need).all())
    if budget is None and not feasible:
        status = _infeasible_text(inst, covered, best) + f"; {status} for the needs capped there"
    return Selection(method="highs", chosen=chosen, cost=cost, covered=covered, feasible=feasible, status=status,
                     time_s=time.perf_counter() - t0, lower_bound=lower, gains=gains)


# ----------------------------------------------------------------------------- exact: CP-SAT

def solve_cover_cpsat(problem: CoverProblem, *, time_limit_s: float = 120.0) -> Selection:
    """Solve the min-cost form with OR-Tools CP-SAT, an independent cross-check of
    :func:`solve_cover_mip` (MIP solvers can misreport optimality).

    CP-SAT works in integers; it is applied only where that cannot change the optimum
    (integer costs and weights after a power-of-ten scale; for capacitated service integer
    capacities and loads, weights equal to loads, integer needs; see
    :mod:`citycov.planning._cpsat`).  Otherwise the result says ``"not applicable: <reason>"``,
    with no selection.  Needs above :func:`achievable` are capped as in the MIP.  The search
    starts from the greedy selection (a hint), with :data:`citycov.planning._cpsat.NUM_WORKERS`
    workers.

    Parameters
    ----------
    problem
        The covering problem (needs finite).
    time_limit_s
        Wall-clock limit for CP-SAT.

    Returns
    -------
    Selection
        ``status`` ``"optimal"``, ``"time limit (gap x %)"``, ``"infeasible: ..."`` or
        ``"not applicable: ..."``; ``lower_bound``: CP-SAT's proven bound.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> sel = solve_cover_cpsat(problem)
    >>> sel.cost, sel.status
    (7.0, 'optimal')
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="cover")
    if not (inst.need > 0).any():
        return _empty("cp-sat", inst, "optimal", t0, feasible=True)
    need, best = _capped_need(inst)
    reduced = check_problem(reduce_problem(problem)[0], form="cover")
    reason, cost_scale, weight_scale = _cpsat.applicability(reduced, need)
    if reason is not None:
        return Selection(method="cp-sat", chosen=np.zeros(0, dtype=np.int64), cost=float("nan"),
                         covered=np.full(inst.r, np.nan), feasible=False, status=f"not applicable: {reason}",
                         time_s=time.perf_counter() - t0)
    start = greedy_cover(_with_needs(problem, need))
    status, x, _, bound = _cpsat.solve_cpsat(reduced, need, time_limit_s=time_limit_s, cost_scale=cost_scale,
                                             weight_scale=weight_scale,
                                             hint=start.chosen if start.feasible else None)
    if x is None:
        text = _infeasible_text(inst, np.zeros(inst.r), best) + " (the needs cannot be met together)" \
            if status == "infeasible" else status
        return _empty("cp-sat", inst, text, t0, feasible=False)
    chosen = np.flatnonzero(x).astype(np.int64)
    cost = float(inst.cost[chosen].sum())
    covered, gains = _attributed_gains(inst, chosen)
    lower = min(bound, cost)
    gap = optimality_gap_pct(cost, lower)
    if status != "optimal":
        status = f"time limit (gap {gap:.3g} %)"
    feasible = bool(met(covered, inst.need).all())
    if not feasible:
        status = _infeasible_text(inst, covered, best) + f"; {status} for the needs capped there"
    return Selection(method="cp-sat", chosen=chosen, cost=cost, covered=covered, feasible=feasible, status=status,
                     time_s=time.perf_counter() - t0, lower_bound=lower, gains=gains)


# ----------------------------------------------------------------------------- exact: brute force

def _check_small(inst: Instance) -> None:
    if inst.m > _brute.MAX_CANDIDATES:
        msg = (f"brute force enumerates 2^m subsets: at most {_brute.MAX_CANDIDATES} candidates, "
               f"got {inst.m}")
        raise ValueError(msg)


def brute_force_cover(problem: CoverProblem) -> Selection:
    """The exact min-cost selection by enumerating every subset in order of cost (≤ 20
    candidates; capacitated service by an LP per subset).  Needs above :func:`achievable` are
    capped as in :func:`solve_cover_mip`.  Ties in cost go to the lowest bit mask.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> sel = brute_force_cover(problem)  # {A, B} and {A, C} both cost 7: the lower mask
    >>> sel.chosen.tolist(), sel.cost
    ([0, 1], 7.0)
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="cover")
    _check_small(inst)
    if not (inst.need > 0).any():
        return _empty("brute-force", inst, "optimal", t0, feasible=True)
    need, best = _capped_need(inst)
    omega, cap = objective(inst)
    mask = _brute.cheapest_meeting(inst, need, omega, cap)
    if mask is None:
        text = _infeasible_text(inst, np.zeros(inst.r), best) + " (the needs cannot be met together)"
        return _empty("brute-force", inst, text, t0, feasible=False)
    chosen = np.array([j for j in range(inst.m) if (mask >> j) & 1], dtype=np.int64)
    cost = float(inst.cost[chosen].sum())
    covered, gains = _attributed_gains(inst, chosen)
    feasible = bool(met(covered, inst.need).all())
    status = "optimal" if feasible else _infeasible_text(inst, covered, best)
    return Selection(method="brute-force", chosen=chosen, cost=cost, covered=covered, feasible=feasible,
                     status=status, time_s=time.perf_counter() - t0, lower_bound=cost, gains=gains)


def brute_force_max_coverage(problem: CoverProblem, *, budget: float) -> Selection:
    """The exact max-coverage selection (module docstring) by enumerating every subset of cost ≤
    ``budget`` (≤ 20 candidates).  Ties go to the lowest cost, then the lowest bit mask.
    ``status`` gives the value reached.

    Examples
    --------
    >>> from scipy import sparse
    >>> from citycov.planning.problem import CoverProblem, Requirement
    >>> cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
    ...                        (Requirement("wireless_population", "D0", 11.0, "persons"),))
    >>> brute_force_max_coverage(problem, budget=4.0).chosen.tolist()
    [1]
    """
    t0 = time.perf_counter()
    inst = check_problem(problem, form="max")
    _check_small(inst)
    if not np.isfinite(budget) or budget < 0:
        raise ValueError(f"budget must be finite and >= 0, got {budget}")
    omega, cap = objective(inst)
    mask, value = _brute.best_within_budget(inst, budget, omega, cap)
    chosen = np.array([j for j in range(inst.m) if (mask >> j) & 1], dtype=np.int64)
    covered, gains = _attributed_gains(inst, chosen)
    return Selection(method="brute-force", chosen=chosen, cost=float(inst.cost[chosen].sum()), covered=covered,
                     feasible=bool(met(covered, inst.need).all()), status=f"optimal (value {value:.6g})",
                     time_s=time.perf_counter() - t0, gains=gains)
