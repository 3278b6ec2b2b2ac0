"""Selection algorithms (citycov.planning.solve) against brute force, hand-worked answers and a
plain greedy written here.  Instances are tiny and seeded; reference values never come from the
code under test."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import sparse
from scipy.optimize import linprog

from citycov.planning.problem import CoverProblem, Requirement
from citycov.planning.solve import (
    achievable,
    brute_force_cover,
    brute_force_max_coverage,
    greedy_cover,
    greedy_max_coverage,
    lp_bound,
    optimality_gap_pct,
    reduce_problem,
    solve_cover_cpsat,
    solve_cover_mip,
)

N_RANDOM = 32


def make_problem(cover, weight, requirement, need, cost, *, capacity=None, load=None, units=None) -> CoverProblem:
    need = np.atleast_1d(np.asarray(need, dtype=float))
    units = units or ["persons"] * need.size
    reqs = tuple(Requirement(metric="wireless_population", area_id=f"D{k}", need=float(need[k]), unit=units[k])
                 for k in range(need.size))
    return CoverProblem(cost=np.asarray(cost, dtype=float), cover=sparse.csc_array(np.asarray(cover, dtype=bool)),
                        unit_weight=np.asarray(weight, dtype=float),
                        unit_requirement=np.asarray(requirement, dtype=np.int64), requirements=reqs,
                        capacity=None if capacity is None else np.asarray(capacity, dtype=float),
                        unit_load=None if load is None else np.asarray(load, dtype=float))


def union_weight(cover: np.ndarray, weight, requirement, r, chosen) -> np.ndarray:
    """Covered weight per requirement without capacities (a direct union, written here)."""
    hit = cover[:, list(chosen)].any(axis=1) if len(chosen) else np.zeros(cover.shape[0], bool)
    return np.array([weight[hit & (requirement == k)].sum() for k in range(r)])


def random_problem(seed: int, *, capacitated: bool, integer: bool) -> tuple[CoverProblem, np.ndarray]:
    """8–12 candidates, 20–50 units, 1–3 requirements; needs a share of the reachable weight.
    ``integer``: integer weights and costs, served units' weight = load, integer capacities and
    needs (the CP-SAT domain); otherwise fractional weights, costs, loads and capacities."""
    rng = np.random.default_rng(seed)
    m, n, r = int(rng.integers(8, 13)), int(rng.integers(20, 51)), int(rng.integers(1, 4))
    cover = rng.random((n, m)) < rng.uniform(0.12, 0.35)
    requirement = rng.integers(0, r, n)
    if integer:
        weight = rng.integers(1, 10, n).astype(float)
        cost = rng.integers(1, 10, m).astype(float)
    else:
        weight = np.round(rng.lognormal(0.5, 0.8, n), 3)
        cost = np.round(rng.uniform(1, 10, m), 2)
    reach = union_weight(cover, weight, requirement, r, range(m))
    share = rng.uniform(0.4, 0.95, r)
    need = np.floor(share * reach) if integer else share * reach
    capacity = load = None
    if capacitated:
        capacity = np.where(rng.random(m) < 0.45, rng.integers(2, 12, m).astype(float), np.inf)
        if integer:
            load = np.where(rng.random(n) < 0.8, weight, 0.0)
        else:
            capacity = np.where(rng.random(m) < 0.6, rng.integers(1, 7, m) + 0.5, np.inf)
            load = np.where(rng.random(n) < 0.8, np.round(rng.uniform(0.5, 4, n), 2), 0.0)
    return make_problem(cover, weight, requirement, need, cost, capacity=capacity, load=load), cover


def instances(*, integer: bool):
    for seed in range(N_RANDOM):
        yield seed, random_problem(seed, capacitated=seed % 2 == 1, integer=integer)[0]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(b))


# ----------------------------------------------------------------------------- exact solvers


def test_highs_matches_brute_force():
    n_capacitated = n_feasible = n_binding = 0
    for seed, p in instances(integer=False):
        ref = brute_force_cover(p)
        if p.capacity is not None:
            free = make_problem(p.cover.toarray(), p.unit_weight, p.unit_requirement, p.need, p.cost)
            n_binding += not close(brute_force_cover(free).cost, ref.cost)
        got = solve_cover_mip(p, time_limit_s=30)
        assert got.feasible == ref.feasible, (seed, got.status, ref.status)
        assert close(got.cost, ref.cost), (seed, got.cost, ref.cost, got.status)
        assert got.status.startswith("optimal") or not ref.feasible, (seed, got.status)
        assert got.lower_bound <= got.cost + 1e-9
        np.testing.assert_allclose(got.gains.sum(axis=0), got.covered, atol=1e-9)
        if p.capacity is None:
            real = union_weight(p.cover.toarray(), p.unit_weight, p.unit_requirement, len(p.requirements), got.chosen)
            np.testing.assert_allclose(got.covered, real)
        n_capacitated += p.capacity is not None
        n_feasible += ref.feasible
    assert n_capacitated >= 15 and n_feasible >= 25 and n_binding >= 8  # capacities change the optimum


def test_cpsat_matches_brute_force():
    n_capacitated = 0
    for seed, p in instances(integer=True):
        ref = brute_force_cover(p)
        got = solve_cover_cpsat(p, time_limit_s=30)
        assert got.feasible == ref.feasible, (seed, got.status, ref.status)
        assert close(got.cost, ref.cost), (seed, got.cost, ref.cost, got.status)
        n_capacitated += p.capacity is not None
    assert n_capacitated >= 15


def test_cpsat_refuses_what_integers_would_change():
    p, cover = random_problem(3, capacitated=False, integer=False)
    irrational = make_problem(cover, p.unit_weight * math.pi, p.unit_requirement, p.need, p.cost)
    got = solve_cover_cpsat(irrational)
    assert solve_cover_cpsat(p).status == "optimal"  # weights in thousandths: scaled by 10^3
    assert got.status.startswith("not applicable: unit weights are not integers")
    assert not got.feasible and got.chosen.size == 0
    p, _ = random_problem(1, capacitated=True, integer=True)
    fractional_cap = make_problem(p.cover.toarray(), p.unit_weight, p.unit_requirement, p.need, p.cost,
                                  capacity=np.where(np.isfinite(p.capacity), p.capacity + 0.5, np.inf),
                                  load=p.unit_load)
    assert solve_cover_cpsat(fractional_cap).status == "not applicable: finite capacities are not integers"


def test_lp_bound_below_optimum_and_gap():
    for _, p in itertools.islice(instances(integer=False), 10):
        ref = brute_force_cover(p)
        if ref.feasible:
            assert lp_bound(p) <= ref.cost + 1e-7
    assert optimality_gap_pct(110.0, 100.0) == pytest.approx(10.0)
    assert optimality_gap_pct(0.0, 0.0) == 0.0


def test_mip_budget_form_matches_brute_force():
    for seed in range(12):
        p, _ = random_problem(seed, capacitated=seed % 2 == 1, integer=False)
        budget = float(np.sort(p.cost)[:3].sum())
        ref = brute_force_max_coverage(p, budget=budget)
        got = solve_cover_mip(p, budget=budget)
        assert got.cost <= budget + 1e-9
        assert share_value(p, got.covered) == pytest.approx(share_value(p, ref.covered), abs=1e-6), seed


def share_value(p: CoverProblem, covered: np.ndarray) -> float:
    need = p.need
    return float(sum(min(c, n) / n for c, n in zip(covered, need, strict=True) if n > 0))


# ----------------------------------------------------------------------------- greedy


def test_greedy_max_coverage_within_one_minus_inverse_e():
    worst = 1.0
    for seed in range(N_RANDOM):
        p, cover = random_problem(seed, capacitated=False, integer=False)
        unit = make_problem(cover, p.unit_weight, p.unit_requirement, p.need, np.ones(p.n_candidates))
        k = 2 + seed % 3
        r = len(p.requirements)
        best = max(share_value(p, union_weight(cover, p.unit_weight, p.unit_requirement, r, s))
                   for s in itertools.combinations(range(p.n_candidates), k))
        got = greedy_max_coverage(unit, budget=float(k))
        assert got.chosen.size <= k
        value = share_value(p, union_weight(cover, p.unit_weight, p.unit_requirement, r, got.chosen))
        assert value >= (1 - 1 / math.e) * best - 1e-12, seed
        assert share_value(p, brute_force_max_coverage(unit, budget=float(k)).covered) == pytest.approx(best)
        worst = min(worst, value / best)
    assert worst <= 1.0


def test_greedy_max_coverage_with_costs_half_bound():
    for seed in range(N_RANDOM):
        p, _ = random_problem(seed, capacitated=False, integer=False)
        budget = float(np.median(p.cost) * 2)
        ref = brute_force_max_coverage(p, budget=budget)
        got = greedy_max_coverage(p, budget=budget, per_cost=True)
        assert got.cost <= budget + 1e-9
        assert share_value(p, got.covered) >= 0.5 * (1 - 1 / math.e) * share_value(p, ref.covered) - 1e-12


def test_greedy_cover_feasible_whenever_optimum_is():
    for seed, p in instances(integer=False):
        ref = brute_force_cover(p)
        got = greedy_cover(p)
        if ref.feasible:
            assert got.feasible, (seed, got.status)
            assert got.cost >= ref.cost - 1e-9
        np.testing.assert_allclose(got.gains.sum(axis=0), got.covered, atol=1e-9)
        cover = p.cover.toarray()
        if p.capacity is None:
            real = union_weight(cover, p.unit_weight, p.unit_requirement, len(p.requirements), got.chosen)
            np.testing.assert_allclose(got.covered, real)
            np.testing.assert_allclose(got.gains.sum(axis=0), real)


def plain_greedy(cover, weight, requirement, need, cost, *, per_cost, capacity=None, load=None, budget=None):
    """Non-lazy greedy written independently: every step evaluates every candidate with a
    Python loop over units; capacitated candidates fill their capacity unit by unit, best
    value per load first (ties: lowest unit index), within each requirement's residual."""
    n, m = cover.shape
    r = len(need)
    covered_part = np.zeros(n)
    covered = np.zeros(r)
    capacity = np.full(m, np.inf) if capacity is None else capacity
    load = np.zeros(n) if load is None else load
    picks: list[int] = []
    spent = 0.0

    def evaluate(j):
        add = np.zeros(n)
        delta = np.zeros(r)
        units = [i for i in range(n) if cover[i, j]]
        if math.isinf(capacity[j]):
            for i in units:
                add[i] = 1 - covered_part[i]
        else:
            for i in units:
                if load[i] == 0:
                    add[i] = 1 - covered_part[i]
            for i in units:
                if load[i] == 0:
                    delta[requirement[i]] += weight[i] * add[i]
            residual = [max(need[k] - covered[k] - delta[k], 0.0) for k in range(r)]
            left = capacity[j]
            ranked = sorted((i for i in units if load[i] > 0 and covered_part[i] < 1 and need[requirement[i]] > 0),
                            key=lambda i: (-(weight[i] / need[requirement[i]]) / load[i], i))
            for i in ranked:
                k = requirement[i]
                amount = min(1 - covered_part[i], residual[k] / weight[i], left / load[i])
                add[i] = amount
                residual[k] -= amount * weight[i]
                left -= amount * load[i]
            delta = np.zeros(r)
        for i in units:
            delta[requirement[i]] += weight[i] * add[i]
        value = sum((min(covered[k] + delta[k], need[k]) - min(covered[k], need[k])) / need[k]
                    for k in range(r) if need[k] > 0)
        return value, add, delta

    while not all(covered[k] >= need[k] for k in range(r)) or budget is not None:
        best = None
        for j in range(m):
            if j in picks or (budget is not None and spent + cost[j] > budget):
                continue
            value, add, delta = evaluate(j)
            score = value / cost[j] if per_cost else value
            if value > 1e-12 and (best is None or score > best[0]):
                best = (score, j, add, delta)
        if best is None:
            break
        _, j, add, delta = best
        picks.append(j)
        spent += cost[j]
        covered_part += add
        covered += delta
    return picks


def dyadic_problem(seed: int, *, capacitated: bool) -> tuple[CoverProblem, dict]:
    """Integer weights and power-of-two needs and loads: every value the greedy compares is
    exact in binary floating point, so ties are real ties in both implementations."""
    rng = np.random.default_rng(100 + seed)
    m, n, r = int(rng.integers(8, 16)), int(rng.integers(20, 60)), int(rng.integers(1, 4))
    cover = rng.random((n, m)) < 0.25
    cover[:, 1] = cover[:, 0]  # two columns of equal value
    weight = rng.integers(1, 8, n).astype(float)
    requirement = rng.integers(0, r, n)
    need = 2.0 ** rng.integers(3, 6, r)
    cost = rng.choice([1.0, 2.0, 4.0], m)
    cost[1] = cost[0]
    kw = {}
    if capacitated:
        kw["capacity"] = np.where(rng.random(m) < 0.5, 2.0 ** rng.integers(1, 4, m), np.inf)
        kw["load"] = np.where(rng.random(n) < 0.7, 2.0 ** rng.integers(0, 3, n), 0.0)
    p = make_problem(cover, weight, requirement, need, cost, **kw)
    return p, dict(cover=cover, weight=weight, requirement=requirement, need=need, cost=cost, **kw)


@pytest.mark.parametrize("per_cost", [True, False])
@pytest.mark.parametrize("capacitated", [False, True])
def test_celf_picks_what_plain_greedy_picks(per_cost, capacitated):
    for seed in range(12):
        p, raw = dyadic_problem(seed, capacitated=capacitated)
        expected = plain_greedy(**raw, per_cost=per_cost)
        got = greedy_cover(p, per_cost=per_cost)
        assert got.chosen[:len(expected)].tolist() == expected, seed
        assert got.chosen.size == len(expected) or "re-optimised" in got.status


def test_celf_max_coverage_picks_what_plain_greedy_picks():
    for seed in range(12):
        p, raw = dyadic_problem(seed, capacitated=False)
        raw["cost"] = np.ones(p.n_candidates)
        unit = make_problem(raw["cover"], raw["weight"], raw["requirement"], raw["need"], raw["cost"])
        expected = plain_greedy(**raw, per_cost=False, budget=3.0)
        assert greedy_max_coverage(unit, budget=3.0).chosen.tolist() == expected, seed


def test_greedy_reproducible_and_equal_columns_go_to_lowest_index():
    for seed in range(6):
        p, _ = dyadic_problem(seed, capacitated=seed % 2 == 1)
        a, b = greedy_cover(p), greedy_cover(p)
        assert a.chosen.tolist() == b.chosen.tolist()
        assert 1 not in a.chosen.tolist() or 0 in a.chosen.tolist()
    # four identical columns: the greedy takes them in index order
    cover = np.ones((3, 4), dtype=bool)
    p = make_problem(cover, [1, 1, 1], [0, 0, 0], [3], [1, 1, 1, 1])
    assert greedy_cover(p).chosen.tolist() == [0]
    assert greedy_max_coverage(p, budget=2.0).chosen.tolist() == [0]


def test_greedy_continuation_skips_built_candidates():
    cover = np.array([[1, 0, 1], [1, 0, 0], [0, 1, 1], [0, 1, 0]], dtype=bool)
    p = make_problem(cover, [1, 1, 1, 1], [0, 0, 0, 0], [4], [1, 1, 1])
    sel = greedy_cover(p, chosen=[0])
    assert sel.chosen.tolist() == [1]
    assert sel.cost == 1.0 and sel.feasible
    np.testing.assert_allclose(sel.covered, [4.0])
    np.testing.assert_allclose(sel.gains, [[2.0]])


# ----------------------------------------------------------------------------- infeasible, trivial


def test_infeasible_need_named_with_best_value():
    # units 0..3 weights 2,3,5,7; candidates reach units {0,1} and {1,2}: at most 10 of 17
    cover = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], dtype=bool)
    p = make_problem(cover, [2, 3, 5, 7], [0, 0, 0, 1], [12, 0], [1, 1])
    np.testing.assert_allclose(achievable(p), [10.0, 0.0])
    for sel in (greedy_cover(p), solve_cover_mip(p), solve_cover_cpsat(p), brute_force_cover(p)):
        assert not sel.feasible, sel.method
        assert "infeasible: wireless_population in D0 reaches at most 10 of the 12 persons needed" in sel.status
        assert "D1" not in sel.status
    # the MIP and brute force cover what can be covered, at least cost
    assert solve_cover_mip(p).chosen.tolist() == [0, 1] == brute_force_cover(p).chosen.tolist()


def test_all_needs_zero_give_empty_selection():
    cover = np.ones((4, 3), dtype=bool)
    p = make_problem(cover, [1, 2, 3, 4], [0, 0, 1, 1], [0, 0], [1, 2, 3])
    for sel in (greedy_cover(p), solve_cover_mip(p), solve_cover_cpsat(p), brute_force_cover(p)):
        assert sel.chosen.size == 0 and sel.cost == 0 and sel.feasible, sel.method


def test_capacity_limits_achievable_and_is_shared():
    # one cabinet, 3 ports; two FTTH units of 2 households each (load = weight) → 3 of 4;
    # a village (load 0) in another requirement is covered by reach alone
    cover = np.array([[1], [1], [1]], dtype=bool)
    p = make_problem(cover, [2, 2, 1], [0, 0, 1], [3, 1], [5], capacity=[3], load=[2, 2, 0],
                     units=["households", "villages"])
    np.testing.assert_allclose(achievable(p), [3.0, 1.0])
    for sel in (greedy_cover(p), solve_cover_mip(p), solve_cover_cpsat(p), brute_force_cover(p)):
        assert sel.feasible and sel.chosen.tolist() == [0], sel.method
        np.testing.assert_allclose(sel.covered, [3.0, 1.0])


def test_needs_that_share_one_capacity():
    # one cabinet with 2 ports reaches two FTTH units of 2 households in two districts: each
    # district alone can reach 2, both together only 2 of 4
    p = make_problem(np.ones((2, 1), dtype=bool), [2, 2], [0, 1], [2, 2], [1], capacity=[2], load=[2, 2],
                     units=["households", "households"])
    np.testing.assert_allclose(achievable(p), [2.0, 2.0])
    for sel in (solve_cover_mip(p), solve_cover_cpsat(p), brute_force_cover(p)):
        assert not sel.feasible and "cannot be met together" in sel.status, (sel.method, sel.status)
    g = greedy_cover(p)
    assert not g.feasible and g.chosen.tolist() == [0]
    assert "D1 reached 0 of the 2 households needed (all candidates together reach 2; capacity is shared)" in g.status


def test_greedy_repairs_blocked_assignment():
    # cabinet A (cap 1) reaches u0, u1; cabinet B (cap 1) reaches u0 only.  The greedy gives A
    # unit 0 (lowest index on a tie), which blocks B; serving u1 from A and u0 from B meets 2.
    cover = np.array([[1, 1], [1, 0]], dtype=bool)
    p = make_problem(cover, [1, 1], [0, 0], [2], [1, 1], capacity=[1, 1], load=[1, 1], units=["households"])
    sel = greedy_cover(p)
    assert sel.feasible and sorted(sel.chosen.tolist()) == [0, 1]
    assert "re-optimised" in sel.status
    np.testing.assert_allclose(sel.gains.sum(axis=0), [2.0])
    assert brute_force_cover(p).cost == 2.0


def test_bad_problem_lists_every_problem():
    cover = np.ones((2, 2), dtype=bool)
    p = CoverProblem(cost=np.array([1.0, -1.0]), cover=sparse.csc_array(cover), unit_weight=np.array([1.0, np.nan]),
                     unit_requirement=np.array([0, 5]), requirements=(Requirement("m", "a", 1.0, "persons"),))
    with pytest.raises(ValueError, match=r"cost must be finite.*unit_weight must be finite.*unit_requirement"):
        greedy_cover(p)
    big = make_problem(np.ones((2, 21), dtype=bool), [1, 1], [0, 0], [1], np.ones(21))
    with pytest.raises(ValueError, match="at most 20 candidates, got 21"):
        brute_force_cover(big)


# ----------------------------------------------------------------------------- reduction


def test_reduce_problem_merges_identical_units_and_keeps_optimum():
    for seed in range(N_RANDOM):
        p, cover = random_problem(seed, capacitated=seed % 2 == 1, integer=seed % 4 < 2)
        # duplicate every unit so that merging has work to do
        twice = make_problem(np.vstack([cover, cover]), np.tile(p.unit_weight, 2), np.tile(p.unit_requirement, 2),
                             p.need * 2, p.cost, capacity=p.capacity,
                             load=None if p.unit_load is None else np.tile(p.unit_load, 2))
        reduced, new_of_old = reduce_problem(twice)
        assert reduced.n_units <= p.n_units
        assert new_of_old[0] == 0 and np.array_equal(new_of_old[:p.n_units], new_of_old[p.n_units:])
        np.testing.assert_allclose(np.bincount(new_of_old, twice.unit_weight), reduced.unit_weight)
        full, red = twice.cover.toarray(), reduced.cover.toarray()
        assert (full == red[new_of_old]).all()
        assert (twice.unit_requirement == reduced.unit_requirement[new_of_old]).all()
        a, b = brute_force_cover(twice), brute_force_cover(reduced)
        assert a.feasible == b.feasible and close(a.cost, b.cost), seed


def test_reduce_keeps_units_with_different_load_ratio_apart():
    cover = np.ones((5, 1), dtype=bool)
    # ratios load/weight 1, 1, 3, inf (weight 0), inf
    p = make_problem(cover, [1, 2, 1, 0, 0], [0] * 5, [1], [1], capacity=[5], load=[1, 2, 3, 1, 2])
    reduced, new_of_old = reduce_problem(p)
    assert new_of_old.tolist() == [0, 0, 1, 2, 2]
    np.testing.assert_allclose(reduced.unit_load, [3, 3, 3])
    np.testing.assert_allclose(reduced.unit_weight, [3, 1, 0])


def test_reduce_survives_hash_collisions(monkeypatch):
    import citycov.planning._reduce as reduce_module

    def colliding(indptr, indices, key1, key2, out1, out2):
        out1[:] = 7
        out2[:] = 7
        return out1, out2

    p, cover = random_problem(5, capacitated=False, integer=True)
    expected, _ = reduce_problem(p)
    monkeypatch.setattr(reduce_module, "row_hashes", colliding)
    reduced, new_of_old = reduce_problem(p)
    assert reduced.n_units == expected.n_units
    assert (cover == reduced.cover.toarray()[new_of_old]).all()
    assert (p.unit_requirement == reduced.unit_requirement[new_of_old]).all()


# ----------------------------------------------------------------------------- hand-worked


def test_hand_worked_example():
    """Units u0..u4 with weights 4, 3, 2, 5, 1 (one requirement, need 11; total 15).
    A (cost 3) covers u0, u1 → 7;  B (cost 4) covers u1, u2, u3 → 10;  C (cost 4) covers u0, u3, u4 → 10.
    No single candidate reaches 11.  Pairs: A+B covers u0..u3 = 14 (cost 7); A+C covers u0, u1, u3, u4
    = 13 (cost 7); B+C covers all = 15 (cost 8).  Optimum 7, tied between {A, B} and {A, C}.
    Greedy per cost, values in elevenths: A 7/3 = 2.33, B 10/4 = 2.5, C 10/4 = 2.5 → B (lower index);
    then A adds min(14, 11) − 10 = 1 per cost 3, C adds min(15, 11) − 10 = 1 per cost 4 → A.  Greedy
    {B, A}, cost 7: optimal here.  LP relaxation: x_A = x_B = x_C = 1/2 covers u0, u1, u3 fully
    and u2, u4 by half: 4+3+5+1+0.5 = 13.5 ≥ 11 at cost 5.5, so the LP bound is below 5.5."""
    cover = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool)
    p = make_problem(cover, [4, 3, 2, 5, 1], [0] * 5, [11], [3, 4, 4])
    g = greedy_cover(p)
    assert g.chosen.tolist() == [1, 0] and g.cost == 7.0
    np.testing.assert_allclose(g.gains, [[10.0], [4.0]])
    for sel in (solve_cover_mip(p), solve_cover_cpsat(p), brute_force_cover(p)):
        assert sel.cost == 7.0 and sel.feasible and sel.status.startswith("optimal"), sel.method
    assert brute_force_cover(p).chosen.tolist() == [0, 1]
    assert lp_bound(p) <= 5.5 + 1e-9
    # the LP relaxation computed here independently
    res = linprog([3, 4, 4, 0, 0, 0, 0, 0],
                  A_ub=np.block([[-cover.astype(float), np.eye(5)], [np.zeros((1, 3)), -np.array([[4, 3, 2, 5, 1]])]]),
                  b_ub=np.r_[np.zeros(5), -11], bounds=[(0, 1)] * 8, method="highs")
    assert lp_bound(p) == pytest.approx(res.fun)
    # max coverage with budget 4 (one of B or C): 10/11, B on the lower index
    assert brute_force_max_coverage(p, budget=4.0).chosen.tolist() == [1]
    assert greedy_max_coverage(p, budget=4.0).chosen.tolist() == [1]
