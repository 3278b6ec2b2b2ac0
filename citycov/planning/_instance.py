"""A :class:`~citycov.planning.problem.CoverProblem` checked once and turned into the arrays the
solvers share (private to :mod:`citycov.planning.solve`).

The cover matrix is split in two: *reach* entries cover a unit outright (an uncapacitated
candidate, or any candidate on a unit of load 0), *serve* entries may serve a unit in part
against the candidate's capacity (a capacitated candidate on a unit of load > 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from citycov.planning.problem import CoverProblem

NEED_RTOL = 1e-6
"""A need counts as met when the covered weight is within ``NEED_RTOL × max(need, 1)`` of it
(solvers meet linear constraints to about 1e-7 relative)."""
VALUE_EPS = 1e-12
"""A marginal value (in shares of a need) at or below this adds nothing."""


@dataclass(frozen=True)
class Instance:
    """The checked arrays of one covering problem (``n`` units, ``m`` candidates, ``r`` requirements)."""

    problem: CoverProblem
    cost: np.ndarray
    """(m,) float64 > 0."""
    cover: sparse.csc_array
    """(n, m) bool, no explicit zeros."""
    reach: sparse.csc_array
    """(n, m) bool: the entries that cover a unit outright."""
    serve: sparse.csc_array
    """(n, m) bool: the entries that serve a unit of load > 0 against a finite capacity."""
    weight: np.ndarray
    requirement: np.ndarray
    """(n,) int64."""
    need: np.ndarray
    capacity: np.ndarray
    """(m,) float64, ``inf`` where uncapacitated."""
    load: np.ndarray
    """(n,) float64 (zeros when the problem has no ``unit_load``)."""

    @property
    def n(self) -> int:
        return int(self.cover.shape[0])

    @property
    def m(self) -> int:
        return int(self.cover.shape[1])

    @property
    def r(self) -> int:
        return int(self.need.size)

    @property
    def has_service(self) -> bool:
        """Some capacitated candidate serves some unit of load > 0."""
        return self.serve.nnz > 0

    def label(self, k: int) -> str:
        req = self.problem.requirements[k]
        return f"{req.metric} in {req.area_id}"

    def unit(self, k: int) -> str:
        return self.problem.requirements[k].unit


def check_problem(problem: CoverProblem, *, form: str) -> Instance:
    """Check ``problem`` and return its :class:`Instance`; raise ValueError listing every problem.

    ``form`` is ``"cover"`` (needs must be finite) or ``"max"`` (a need may be ``inf``).
    """
    problems: list[str] = []
    cost = np.asarray(problem.cost, dtype=np.float64)
    weight = np.asarray(problem.unit_weight, dtype=np.float64)
    requirement = np.asarray(problem.unit_requirement)
    need = problem.need
    cover = problem.cover
    n, m = (int(s) for s in cover.shape) if cover.ndim == 2 else (-1, -1)
    r = need.size
    if cover.ndim != 2:
        problems.append(f"cover must be 2-D (units × candidates), got {cover.ndim}-D")
    if cost.shape != (m,):
        problems.append(f"cost has shape {cost.shape}, expected ({m},) (one per candidate column of cover)")
    elif not np.all(np.isfinite(cost) & (cost > 0)):
        bad = np.flatnonzero(~(np.isfinite(cost) & (cost > 0)))
        problems.append(f"cost must be finite and > 0; candidates {bad[:10].tolist()} have {cost[bad[:10]].tolist()}")
    if weight.shape != (n,):
        problems.append(f"unit_weight has shape {weight.shape}, expected ({n},) (one per row of cover)")
    elif not np.all(np.isfinite(weight) & (weight >= 0)):
        bad = np.flatnonzero(~(np.isfinite(weight) & (weight >= 0)))
        problems.append(f"unit_weight must be finite and >= 0; units {bad[:10].tolist()} have "
                        f"{weight[bad[:10]].tolist()}")
    if requirement.shape != (n,):
        problems.append(f"unit_requirement has shape {requirement.shape}, expected ({n},)")
    elif not np.issubdtype(requirement.dtype, np.integer):
        problems.append(f"unit_requirement must be integer, got dtype {requirement.dtype}")
    elif n and (requirement.min() < 0 or requirement.max() >= r):
        bad = np.flatnonzero((requirement < 0) | (requirement >= r))
        problems.append(f"unit_requirement must be in [0, {r}); units {bad[:10].tolist()} have "
                        f"{requirement[bad[:10]].tolist()}")
    finite_need = np.isfinite(need) if form == "cover" else ~np.isnan(need)
    if not np.all(finite_need & (need >= 0)):
        bad = np.flatnonzero(~(finite_need & (need >= 0)))
        what = "finite and >= 0" if form == "cover" else ">= 0 (inf allowed)"
        problems.append(f"requirement need must be {what}; requirements {bad.tolist()} have {need[bad].tolist()}")
    if problem.capacity is None:
        capacity = np.full(m, np.inf)
    else:
        capacity = np.asarray(problem.capacity, dtype=np.float64)
        if capacity.shape != (m,):
            problems.append(f"capacity has shape {capacity.shape}, expected ({m},)")
        elif np.any(np.isnan(capacity) | (capacity < 0)):
            bad = np.flatnonzero(np.isnan(capacity) | (capacity < 0))
            problems.append(f"capacity must be >= 0 (inf: uncapacitated); candidates {bad[:10].tolist()} have "
                            f"{capacity[bad[:10]].tolist()}")
    if problem.unit_load is None:
        load = np.zeros(n)
        if problem.capacity is not None and np.isfinite(capacity).any():
            problems.append("capacity is finite for some candidates but unit_load is None: give each unit's load")
    else:
        load = np.asarray(problem.unit_load, dtype=np.float64)
        if load.shape != (n,):
            problems.append(f"unit_load has shape {load.shape}, expected ({n},)")
        elif not np.all(np.isfinite(load) & (load >= 0)):
            bad = np.flatnonzero(~(np.isfinite(load) & (load >= 0)))
            problems.append(f"unit_load must be finite and >= 0; units {bad[:10].tolist()} have "
                            f"{load[bad[:10]].tolist()}")
    if problems:
        raise ValueError("CoverProblem: " + "; ".join(problems))

    cover = sparse.csc_array(cover)
    if cover.dtype != np.bool_ or (cover.nnz and not cover.data.all()):
        cover = sparse.csc_array(cover != 0)
    if not cover.has_canonical_format:
        cover = cover.copy()
        cover.sum_duplicates()
    capacitated = np.isfinite(capacity)
    if capacitated.any() and (load > 0).any():
        coo = cover.tocoo()
        is_serve = capacitated[coo.col] & (load[coo.row] > 0)
        reach = sparse.csc_array((coo.data[~is_serve], (coo.row[~is_serve], coo.col[~is_serve])), shape=(n, m))
        serve = sparse.csc_array((coo.data[is_serve], (coo.row[is_serve], coo.col[is_serve])), shape=(n, m))
    else:
        reach = cover
        serve = sparse.csc_array((n, m), dtype=np.bool_)
    return Instance(problem=problem, cost=cost, cover=cover, reach=reach, serve=serve, weight=weight,
                    requirement=requirement.astype(np.int64), need=need, capacity=capacity, load=load)


def objective(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """The value every solver maximises or must bring to its top: ``Σ_k ω_k min(covered_k, cap_k)``.

    Returns ``(omega, cap)``, each (r,): ``ω_k = 1/need_k`` and ``cap_k = need_k`` for a finite
    need > 0 (a share of the need, so persons, households and villages mix on one scale);
    ``ω_k = 0`` for a need of 0 (already met); for an infinite need (max-coverage form only)
    ``cap_k = inf`` and ``ω_k = 1/(total weight of k's units)`` (a share of what is there).
    """
    need = inst.need
    total = np.bincount(inst.requirement, weights=inst.weight, minlength=inst.r)
    omega = np.zeros(inst.r)
    finite = np.isfinite(need) & (need > 0)
    omega[finite] = 1.0 / need[finite]
    infinite = np.isinf(need) & (total > 0)
    omega[infinite] = 1.0 / total[infinite]
    return omega, need.copy()


def value_of(covered: np.ndarray, omega: np.ndarray, cap: np.ndarray) -> float:
    """``Σ_k ω_k min(covered_k, cap_k)`` (terms with ω_k = 0 skipped)."""
    use = omega > 0
    return float(np.sum(omega[use] * np.minimum(covered[use], cap[use])))


def met(covered: np.ndarray, need: np.ndarray) -> np.ndarray:
    """(r,) bool: each need is met (within :data:`NEED_RTOL`)."""
    return covered >= need - NEED_RTOL * np.maximum(need, 1.0)


def reach_coverage(inst: Instance, chosen: np.ndarray) -> np.ndarray:
    """(n,) bool: the units some chosen candidate covers outright."""
    mask = np.zeros(inst.m, dtype=np.float64)
    mask[np.asarray(chosen, dtype=np.int64)] = 1.0
    return (inst.reach @ mask) > 0


def covered_weight(inst: Instance, fraction: np.ndarray) -> np.ndarray:
    """(r,) ``Σ_{i ∈ k} w_i · fraction_i``."""
    return np.bincount(inst.requirement, weights=inst.weight * fraction, minlength=inst.r)
