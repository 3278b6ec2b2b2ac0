"""``plan(results) -> PlanResult``: from a run's gaps to the sites and cabinets that meet the targets.

1. **Scope**: the (target, area) pairs of ``[plan].metrics`` to bring up: the areas that miss
   (``districts = "missing"``), every area, or the listed districts.
2. **Demand units** (:func:`build_problem`): the residents of every cell without wireless
   coverage, split by district as the accounting splits them (the person weights and census
   factor of the run, so the matrix adds up to the table's figures), the households not passed
   by fibre, and the villages with neither; each in the requirement of its area.
3. **Candidates** and what each newly covers, from the same engine and FTTH rule as the run
   (:mod:`.candidates`, :mod:`.site_matrix`, :mod:`.cabinets`).
4. **Selection** (:mod:`.solve`): CELF greedy, the HiGHS optimum with its proven bound, and the
   CP-SAT cross-check; ``[plan].selection`` says which one is the plan.
5. **Full-engine check**: the scenario is run again with the planned sites and cabinets added.
   Best server and SINR are not submodular (a new site changes the neighbours' reach caps and
   interference), so the "after" figures come from that run, never from the matrix; a target
   still missed there continues the greedy on the updated coverage, up to ``max_rounds`` runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import sparse

from citycov.accounting.districts import CITY_ID, EMPTY_BELOW, METRIC_COLUMNS, area_kinds
from citycov.config import METRIC_UNITS, Scenario, Target
from citycov.config.plan import PlanConfig
from citycov.errors import ScenarioError
from citycov.pipeline.inputs import Additions
from citycov.pipeline.results import Results
from citycov.pipeline.runner import run
from citycov.planning import cabinets as cab_mod
from citycov.planning import candidates as cand_mod
from citycov.planning import solve
from citycov.planning.problem import CellCover, CoverProblem, Requirement, Selection
from citycov.planning.result import (
    CABINET_COLUMNS,
    CURVE_COLUMNS,
    SITE_COLUMNS,
    SOLVER_COLUMNS,
    SUMMARY_COLUMNS,
    PlanResult,
)
from citycov.planning.site_matrix import site_cover

log = logging.getLogger("citycov")

NEED_SLACK = 4e-6
"""Relative slack added to the need of an area that misses its target (times max(need, 1)), so
that a plan the solvers call feasible (they accept a need met within 1e-6 of it, as partial
cabinet service is continuous) passes the target's own comparison in the full-engine check."""


@dataclass(frozen=True)
class Scope:
    """One (target, area) pair to bring up."""

    target: Target
    area_id: str


@dataclass
class Instance:
    """A covering problem with the candidates behind its columns."""

    problem: CoverProblem
    scope: list[Scope]
    sites: gpd.GeoDataFrame
    cabinets: gpd.GeoDataFrame
    site_pairs: int = 0

    @property
    def n_sites(self) -> int:
        return len(self.sites)


def plan_scenario(scenario: Scenario, *, progress: bool = False) -> PlanResult:
    """Run ``scenario`` and plan from it (``citycov plan``)."""
    t0 = time.perf_counter()
    base = run(scenario, progress=progress, keep_context=True)
    result = plan(base, progress=progress)
    result.timings_s = {"base run": float(sum(base.timings_s.values())), **result.timings_s,
                        "total": time.perf_counter() - t0}
    return result


def plan(base: Results, *, config: PlanConfig | None = None, progress: bool = False) -> PlanResult:
    """The fewest-cost sites and cabinets that bring the targets of ``config`` (default: the
    scenario's ``[plan]``) to their thresholds, checked with a full engine run.

    ``base`` must come from ``citycov.run(scenario, keep_context=True)``.

    Examples
    --------
    >>> import citycov
    >>> from citycov.planning.planner import plan
    >>> base = citycov.run(citycov.load_scenario("tests/data/tiny/tiny.toml"), keep_context=True)  # doctest: +SKIP
    >>> plan(base).summary[["area_id", "metric", "before_pct", "after_pct", "met"]]                 # doctest: +SKIP
    """
    if base.context is None:
        raise ScenarioError("plan needs the run's layers: run the scenario with keep_context=True")
    cfg = config if config is not None else base.scenario.plan
    timings: dict[str, float] = {}
    notes: list[str] = []
    scope = plan_scope(base, cfg)
    if not scope:
        notes.append("every target in the plan's scope is already met: nothing to build")
        return _empty_result(cfg, base, notes)

    t = time.perf_counter()
    inst = build_instance(base, cfg, scope, progress=progress)
    timings["candidates and coverage matrix"] = time.perf_counter() - t
    notes += _candidate_notes(inst)
    log.info("plan: %d site and %d cabinet candidates, %d demand units, %d requirements", inst.n_sites,
             len(inst.cabinets), inst.problem.n_units, len(inst.problem.requirements))

    t = time.perf_counter()
    selections = _select(inst.problem, cfg)
    timings["selection"] = time.perf_counter() - t
    for method, sel in selections.items():
        log.info("plan: %s: cost %.6g with %d candidates (%s, %.1f s)", method, sel.cost, sel.chosen.size,
                 sel.status, sel.time_s)
    plan_sel = _plan_selection(selections, cfg, notes)
    notes += _feasibility_notes(inst, base)

    order, gains = _ranked(inst.problem, plan_sel)
    picks = [_Pick(int(j), g, "plan") for j, g in zip(order, gains, strict=True)]
    solver_rows = _solver_rows(selections, inst, "plan")

    after = None
    rounds_t = time.perf_counter()
    for round_no in range(1, cfg.max_rounds + 1):
        after = run(base.scenario, progress=progress, keep_context=True, additions=_additions(inst, picks, base))
        missed = [s for s in scope if not _met(after, s)]
        log.info("plan: full-engine check %d: %d of %d targets in scope missed", round_no, len(missed), len(scope))
        if not missed:
            break
        if cfg.budget is not None:
            notes.append(f"budget {cfg.budget:g} {cfg.cost_unit}: the full-engine check misses {len(missed)} "
                         "target(s); the plan stays within the budget (no continuation)")
            break
        if round_no == cfg.max_rounds:
            notes.append(f"after {round_no} full-engine checks {len(missed)} target(s) are still missed: "
                         + "; ".join(f"{s.target.metric} in {s.area_id}" for s in missed))
            break
        more = _continue(after, cfg, inst, picks, missed, progress=progress)
        if not more:
            notes.append("the full-engine check misses "
                         + "; ".join(f"{s.target.metric} in {s.area_id}" for s in missed)
                         + " and no remaining candidate adds coverage there")
            break
        notes.append(f"full-engine check {round_no}: {len(missed)} target(s) missed there (the matrix "
                     f"ignores changes to the existing sectors' reach caps); the greedy continued with "
                     f"{len(more)} more candidate(s)")
        picks += more
    timings["full-engine checks"] = time.perf_counter() - rounds_t

    sites, cabinets = _pick_frames(inst, picks, base)
    return PlanResult(
        config=cfg, base=base, after=after, sites=sites, cabinets=cabinets,
        summary=_summary(inst, scope, picks, base, after, selections, plan_sel),
        curve=_curve(inst, scope, picks, base), solvers=pd.DataFrame(solver_rows, columns=list(SOLVER_COLUMNS)),
        notes=notes, timings_s=timings)


# --- scope -----------------------------------------------------------------------------------------


def plan_scope(base: Results, cfg: PlanConfig) -> list[Scope]:
    """The (target, area) pairs to bring up, in target order then table order."""
    table = base.table
    district_ids = [str(a) for a in table.index[area_kinds(table) == "district"]]  # not the groups, nor the city
    if isinstance(cfg.districts, tuple):
        unknown = sorted(set(cfg.districts) - set(district_ids))
        if unknown:
            raise ScenarioError(f"[plan].districts: unknown district ids {unknown[:10]}; the districts are "
                                f"{district_ids[:20]}")
    out = []
    for target in base.scenario.targets:
        if target.metric not in cfg.metrics:
            continue
        # a district-scope target is planned per district: with every district in scope at its
        # threshold the city (their sum) is there too, and a city row beside them would count
        # the same residents and cabinet ports twice
        areas = district_ids if target.scope == "districts" else [CITY_ID]
        for area in areas:
            if isinstance(cfg.districts, tuple):
                if area not in cfg.districts:
                    continue
            elif cfg.districts == "missing" and _met(base, Scope(target, area)):
                continue
            if not _denominator(table, target.metric, area) >= EMPTY_BELOW[METRIC_COLUMNS[target.metric][1]]:
                continue  # nothing to count there (its share is undefined)
            out.append(Scope(target, area))
    return out


def _denominator(table: pd.DataFrame, metric: str, area: str) -> float:
    return float(table.loc[area, METRIC_COLUMNS[metric][1]])


def _value(table: pd.DataFrame, metric: str, area: str) -> tuple[float, float]:
    num_col, den_col, _ = METRIC_COLUMNS[metric]
    return float(table.loc[area, num_col]), float(table.loc[area, den_col])


def _met(results: Results, s: Scope) -> bool:
    num, den = _value(results.table, s.target.metric, s.area_id)
    return den > 0 and num / den >= s.target.threshold - 1e-12


# --- the instance ----------------------------------------------------------------------------------


def build_instance(base: Results, cfg: PlanConfig, scope: list[Scope], *, progress: bool = False,
                   exclude_sites: frozenset[str] = frozenset(), exclude_cabinets: frozenset[str] = frozenset(),
                   sites: gpd.GeoDataFrame | None = None, cabinets: gpd.GeoDataFrame | None = None) -> Instance:
    """Candidates, what each newly covers, and the covering problem over ``scope``."""
    ctx = base.context
    metrics = {s.target.metric for s in scope}
    grid = base.grid
    district_ids = [str(d) for d in base.districts.ids]
    index = ctx.layers.index
    want_sites = bool(metrics & {"wireless_population", "village_broadband"})
    want_cabinets = bool(metrics & {"ftth_households", "village_broadband"})
    if sites is None:
        sites = _site_candidates(base, cfg, scope) if want_sites else _no_sites(grid.crs)
    passed = _passed_fraction(base)
    if cabinets is None:
        cabinets = _cabinet_candidates(base, cfg, passed) if want_cabinets else _no_cabinets(grid.crs)
    sites = sites[~sites["candidate_id"].isin(exclude_sites)].reset_index(drop=True)
    cabinets = cabinets[~cabinets["candidate_id"].isin(exclude_cabinets)].reset_index(drop=True)

    n_cells = grid.shape[0] * grid.shape[1]
    s_cover = _no_cover(len(sites))
    site_pairs = 0
    if len(sites):
        log.info("plan: coverage of %d site candidates from the engine ...", len(sites))
        sectors = cand_mod.candidate_sectors(sites, crs=grid.crs)
        s_cover = site_cover(sectors, list(sites["candidate_id"]), base, progress=progress)
        site_pairs = s_cover.pairs_evaluated
    c_cover = _no_cover(len(cabinets))
    if len(cabinets):
        c_cover = cab_mod.cabinet_cover(cabinets, grid=grid, passed=passed >= 1.0 - 1e-9,
                                        households=ctx.layers.households,
                                        drop_distance_m=base.scenario.fibre.drop_distance_m)

    reqs: list[Requirement] = []
    unit_cell, unit_req, unit_w, unit_load, unit_kind = [], [], [], [], []
    persons = ctx.layers.persons
    cf = np.asarray(ctx.layers.census_factor, dtype=np.float64)
    wireless = ctx.masks["wireless"].reshape(-1)
    pop = ctx.layers.population.reshape(-1).astype(np.float64)
    hh = ctx.layers.households.reshape(-1).astype(np.float64)
    hh_left = hh * np.clip(1.0 - passed.reshape(-1), 0.0, 1.0)
    villages = None
    if "village_broadband" in metrics and ctx.inputs.villages is not None:
        v_cell, v_district = cab_mod.village_units(ctx.inputs.villages, grid=grid, district_index=index,
                                                  wireless=ctx.masks["wireless"], passed=ctx.fibre.passed_cells)
        villages = (np.asarray(v_cell, dtype=np.int64), np.asarray(v_district, dtype=np.int64))
    for s in scope:
        metric, area = s.target.metric, s.area_id
        num, den = _value(base.table, metric, area)
        short = s.target.threshold * den - num
        need = 0.0 if _met(base, s) else short + NEED_SLACK * max(short, 1.0)
        rows = np.arange(len(district_ids)) if area == CITY_ID else np.array([district_ids.index(area)])
        k = len(reqs)
        reqs.append(Requirement(metric=metric, area_id=area, need=need, unit=METRIC_UNITS[metric]))
        if metric in ("wireless_population", "ftth_households"):
            weights, factor = persons, cf
            if area == CITY_ID and ctx.layers.city_weights is not None and np.allclose(cf, 1.0):
                weights, factor, rows = ctx.layers.city_weights, np.ones(1), np.zeros(1, np.int64)  # as the table
            sel = np.isin(weights.district, rows)
            cell = weights.cell[sel].astype(np.int64)
            d = weights.district[sel]
            if metric == "wireless_population":
                keep = ~wireless[cell]
                w = pop[cell] * weights.weight[sel] * factor[d]
            else:
                keep = hh_left[cell] > 0
                w = hh_left[cell] * weights.weight[sel] * factor[d]
            keep &= w > 0
            cell, w = cell[keep], w[keep]
            load = w if metric == "ftth_households" else np.zeros_like(w)
            kind = np.full(cell.size, 1 if metric == "wireless_population" else 2, dtype=np.int8)
        else:
            if villages is None:
                continue
            sel = np.isin(villages[1], rows)
            cell = villages[0][sel]
            w = np.ones(cell.size)
            load = np.zeros(cell.size)
            kind = np.full(cell.size, 3, dtype=np.int8)
        unit_cell.append(cell)
        unit_req.append(np.full(cell.size, k, dtype=np.int64))
        unit_w.append(w)
        unit_load.append(load)
        unit_kind.append(kind)
    cell = np.concatenate(unit_cell) if unit_cell else np.zeros(0, np.int64)
    kind = np.concatenate(unit_kind) if unit_kind else np.zeros(0, np.int8)
    cover_s = _unit_rows(s_cover, cell, n_cells, keep=(kind == 1) | (kind == 3))
    cover_c = _unit_rows(c_cover, cell, n_cells, keep=(kind == 2) | (kind == 3))
    cover = sparse.csc_array(sparse.hstack([cover_s, cover_c], format="csc").astype(bool))
    site_cost = sites["cost"].to_numpy(np.float64) if len(sites) else np.zeros(0)
    cab_cost = cabinets["cost"].to_numpy(np.float64) if len(cabinets) else np.zeros(0)
    if len(cabinets) and "feeder_m" not in cabinets.columns:  # (a continuation passes them costed)
        feeder = cab_mod.feeder_m(cabinets, nodes=ctx.inputs.nodes, routes=ctx.inputs.routes,
                                  route_factor=cfg.cabinets.route_factor)
        cabinets = cabinets.assign(feeder_m=feeder)
        cab_cost = cab_mod.cabinet_costs(feeder, config=cfg.cabinets, cost=cabinets["cost"].to_numpy(np.float64))
        cabinets = cabinets.assign(cost=cab_cost)
    capacity = np.concatenate([np.full(len(sites), np.inf),
                               cabinets["ports"].to_numpy(np.float64) if len(cabinets) else np.zeros(0)])
    problem = CoverProblem(
        cost=np.concatenate([site_cost, cab_cost]), cover=cover,
        unit_weight=np.concatenate(unit_w) if unit_w else np.zeros(0),
        unit_requirement=np.concatenate(unit_req) if unit_req else np.zeros(0, np.int64),
        requirements=tuple(reqs), capacity=capacity,
        unit_load=np.concatenate(unit_load) if unit_load else np.zeros(0),
        candidate_ids=(*sites["candidate_id"], *cabinets["candidate_id"]))
    return Instance(problem=problem, scope=scope, sites=sites, cabinets=cabinets, site_pairs=site_pairs)


def _passed_fraction(base: Results) -> np.ndarray:
    """Share of each cell's households passed by fibre (0..1) under the run's FTTH rule."""
    fibre = base.context.fibre
    hh = base.context.layers.households
    if fibre.households_passed is None:  # premises rule: FTTH is not planned
        return np.ones(hh.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(hh > 0, fibre.households_passed / hh, 1.0)
    return np.clip(np.nan_to_num(frac, nan=1.0), 0.0, 1.0)


def _unit_rows(cc: CellCover, unit_cell: np.ndarray, n_cells: int, *, keep: np.ndarray) -> sparse.csr_array:
    """The rows of ``cc.cover`` for each unit's cell (empty for cells it does not list or units not kept)."""
    m = cc.cover.shape[1]
    if unit_cell.size == 0 or m == 0 or cc.cells.size == 0:
        return sparse.csr_array((unit_cell.size, m), dtype=bool)
    pos = np.searchsorted(cc.cells, unit_cell)
    pos_c = np.minimum(pos, cc.cells.size - 1)
    found = (cc.cells[pos_c] == unit_cell) & keep
    rows = sparse.csr_array(cc.cover.tocsr())[pos_c[found]]
    idx = np.flatnonzero(found)
    coo = sparse.coo_array(rows)
    return sparse.csr_array((coo.data.astype(bool), (idx[coo.row], coo.col)), shape=(unit_cell.size, m))


def _no_cover(m: int) -> CellCover:
    return CellCover(cells=np.zeros(0, np.int64), cover=sparse.csc_array((0, m), dtype=bool))


def _site_candidates(base: Results, cfg: PlanConfig, scope: list[Scope]) -> gpd.GeoDataFrame:
    ctx = base.context
    district_ids = [str(d) for d in base.districts.ids]
    sc = cfg.sites
    if sc.path is not None:
        return cand_mod.read_site_candidates(sc.path, crs=sc.crs, grid=base.grid, config=sc,
                                             district_index=ctx.layers.index, district_ids=district_ids)
    areas = {s.area_id for s in scope if s.target.metric in ("wireless_population", "village_broadband")}
    gaps = base.gaps
    if gaps is not None and CITY_ID not in areas:
        gaps = gaps[gaps["district_id"].astype(str).isin(areas)]
    if gaps is None or not len(gaps):
        return _no_sites(base.grid.crs)
    return cand_mod.lattice_sites(grid=base.grid, gaps=gaps, district_index=ctx.layers.index, dem_m=ctx.layers.dem,
                                  district_ids=district_ids, config=sc, water=None)


def _cabinet_candidates(base: Results, cfg: PlanConfig, passed: np.ndarray) -> gpd.GeoDataFrame:
    ctx = base.context
    district_ids = [str(d) for d in base.districts.ids]
    cc = cfg.cabinets
    if cc.path is not None:
        return cab_mod.read_cabinet_candidates(cc.path, crs=cc.crs, grid=base.grid, config=cc,
                                               district_index=ctx.layers.index, district_ids=district_ids)
    return cab_mod.lattice_cabinets(grid=base.grid, households=ctx.layers.households,
                                    passed=passed >= 1.0 - 1e-9, district_index=ctx.layers.index,
                                    district_ids=district_ids, config=cc,
                                    drop_distance_m=base.scenario.fibre.drop_distance_m)


def _no_sites(crs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"candidate_id": pd.Series(dtype=str), "district_id": pd.Series(dtype=str),
                             "cost": pd.Series(dtype=float)}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _no_cabinets(crs) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"candidate_id": pd.Series(dtype=str), "district_id": pd.Series(dtype=str),
                             "ports": pd.Series(dtype=float)}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _candidate_notes(inst: Instance) -> list[str]:
    p = inst.problem
    useful = np.diff(p.cover.indptr) > 0
    n_s = inst.n_sites
    return [f"{n_s} site candidates ({int(useful[:n_s].sum())} add coverage where it is needed), "
            f"{len(inst.cabinets)} cabinet candidates ({int(useful[n_s:].sum())} pass households or villages "
            f"where needed); {p.n_units} demand units in {len(p.requirements)} requirements; "
            f"{inst.site_pairs:,} candidate × cell pairs evaluated by the engine"]


# --- selection ----------------------------------------------------------------------------------------


def _select(problem: CoverProblem, cfg: PlanConfig) -> dict[str, Selection]:
    out: dict[str, Selection] = {}
    if cfg.budget is None:
        out["greedy"] = solve.greedy_cover(problem, per_cost=True)
        out["highs"] = mip = solve.solve_cover_mip(problem, time_limit_s=cfg.time_limit_s)
        if mip.status != "optimal" and not mip.lower_bound > 0:
            # stopped without a useful dual bound: the LP relaxation still bounds the optimum
            t0 = time.perf_counter()
            bound = solve.lp_bound(problem, time_limit_s=cfg.time_limit_s)
            out["lp"] = Selection(method="lp", chosen=np.zeros(0, np.int64), cost=float("nan"),
                                  covered=np.zeros(len(problem.requirements)), feasible=False,
                                  status="LP relaxation" if np.isfinite(bound) else "LP relaxation: no bound in time",
                                  time_s=time.perf_counter() - t0, lower_bound=bound)
            if np.isfinite(bound):
                out["highs"] = replace(mip, lower_bound=max(bound, mip.lower_bound if mip.lower_bound > 0 else 0.0))
        if cfg.cross_check:
            try:
                out["cp-sat"] = solve.solve_cover_cpsat(problem, time_limit_s=cfg.time_limit_s)
            except ValueError as exc:  # not applicable to this instance (said why)
                log.warning("plan: CP-SAT cross-check skipped: %s", exc)
    else:
        out["greedy"] = solve.greedy_max_coverage(problem, budget=cfg.budget, per_cost=True)
        out["highs"] = solve.solve_cover_mip(problem, time_limit_s=cfg.time_limit_s, budget=cfg.budget)
    return out


def _plan_selection(selections: dict[str, Selection], cfg: PlanConfig, notes: list[str]) -> Selection:
    greedy, mip = selections["greedy"], selections.get("highs")
    if cfg.selection == "greedy" or mip is None:
        return greedy
    if mip.chosen.size == 0 and greedy.chosen.size > 0 and not mip.feasible:
        notes.append(f"the integer program found no plan ({mip.status}); the greedy plan is used")
        return greedy
    if cfg.budget is None and mip.feasible and greedy.feasible and greedy.cost < mip.cost - 1e-9:
        notes.append(f"the integer program stopped at {mip.cost:.4g} ({mip.status}) above the greedy plan's "
                     f"{greedy.cost:.4g}; the greedy plan is used")
        return greedy
    cps = selections.get("cp-sat")
    if cps is not None and mip.status == "optimal" and cps.status == "optimal" \
            and abs(cps.cost - mip.cost) > 1e-6 * max(1.0, mip.cost):
        notes.append(f"CROSS-CHECK FAILED: HiGHS optimum {mip.cost:.6g}, CP-SAT optimum {cps.cost:.6g}")
    return mip


def _feasibility_notes(inst: Instance, base: Results) -> list[str]:
    """A note per requirement that no set of the candidates can meet, with the best achievable share."""
    p = inst.problem
    reach = solve.achievable(p)
    out = []
    for k, req in enumerate(p.requirements):
        if reach[k] < req.need * (1 - 1e-9) - 1e-9:
            num, den = _value(base.table, req.metric, req.area_id)
            out.append(f"{req.metric} in {req.area_id} cannot reach its target with any set of these candidates: "
                       f"at most {reach[k]:,.0f} of the {req.need:,.0f} {req.unit} still needed, "
                       f"{100.0 * (num + reach[k]) / den:.2f} % at best")
    return out


def _ranked(problem: CoverProblem, sel: Selection) -> tuple[np.ndarray, np.ndarray]:
    """The chosen candidates in greedy order (an exact method's set ranked by the greedy restricted
    to it) and each one's newly covered weight per requirement."""
    if sel.method == "greedy" or sel.chosen.size == 0:
        gains = sel.gains if sel.gains.shape == (sel.chosen.size, len(problem.requirements)) else \
            np.zeros((sel.chosen.size, len(problem.requirements)))
        return sel.chosen.astype(np.int64), gains
    chosen = np.sort(sel.chosen.astype(np.int64))
    sub = replace(problem, cost=problem.cost[chosen], cover=sparse.csc_array(problem.cover[:, chosen]),
                  capacity=None if problem.capacity is None else problem.capacity[chosen],
                  candidate_ids=tuple(problem.candidate_ids[j] for j in chosen) if problem.candidate_ids else ())
    g = solve.greedy_cover(sub, per_cost=True)
    order = chosen[g.chosen]
    rest = np.setdiff1d(chosen, order)  # chosen by the exact method but adding nothing once the others are in
    r = len(problem.requirements)
    gains = np.vstack([g.gains.reshape(len(order), r), np.zeros((rest.size, r))])
    return np.concatenate([order, rest]), gains


@dataclass
class _Pick:
    column: int
    """Column of the instance's problem (sites first, then cabinets)."""
    gains: np.ndarray
    source: str


def _continue(after: Results, cfg: PlanConfig, inst: Instance, picks: list[_Pick], missed: list[Scope], *,
              progress: bool) -> list[_Pick]:
    """More picks by the greedy on the full-engine coverage of ``after`` (the plan so far added)."""
    chosen_sites = frozenset(inst.sites["candidate_id"].iloc[[p.column for p in picks if p.column < inst.n_sites]])
    chosen_cabs = frozenset(inst.cabinets["candidate_id"].iloc[
        [p.column - inst.n_sites for p in picks if p.column >= inst.n_sites]])
    more = build_instance(after, cfg, missed, progress=progress, exclude_sites=chosen_sites,
                          exclude_cabinets=chosen_cabs, sites=inst.sites, cabinets=inst.cabinets)
    g = solve.greedy_cover(more.problem, per_cost=True)
    site_col = {cid: j for j, cid in enumerate(inst.sites["candidate_id"])}
    cab_col = {cid: inst.n_sites + j for j, cid in enumerate(inst.cabinets["candidate_id"])}
    out = []
    for j, gains in zip(g.chosen, g.gains, strict=True):
        j = int(j)
        col = site_col[more.sites["candidate_id"].iloc[j]] if j < more.n_sites else \
            cab_col[more.cabinets["candidate_id"].iloc[j - more.n_sites]]
        full = np.zeros(len(inst.problem.requirements))
        for k, req in enumerate(more.problem.requirements):
            for kk, r0 in enumerate(inst.problem.requirements):
                if (r0.metric, r0.area_id) == (req.metric, req.area_id):
                    full[kk] = gains[k]
        out.append(_Pick(col, full, "continuation"))
    return out


def _additions(inst: Instance, picks: list[_Pick], base: Results) -> Additions:
    crs = base.grid.crs
    site_rows = [p.column for p in picks if p.column < inst.n_sites]
    cab_rows = [p.column - inst.n_sites for p in picks if p.column >= inst.n_sites]
    sectors = cand_mod.candidate_sectors(inst.sites.iloc[site_rows], crs=crs) if site_rows else None
    nodes = None
    if cab_rows:
        spec = base.scenario.inputs.get("fibre_nodes")
        options = getattr(spec, "options", {}) or {}
        column_crs = spec.crs if spec is not None and spec.crs is not None and spec.path.suffix.lower() == ".csv" \
            else "EPSG:4326"
        nodes = cab_mod.cabinet_nodes(inst.cabinets.iloc[cab_rows], crs=crs,
                                      lon_column=options.get("lon_column", "lon"),
                                      lat_column=options.get("lat_column", "lat"), column_crs=column_crs)
    return Additions(sectors=sectors, nodes=nodes)


# --- frames -----------------------------------------------------------------------------------------------


def _district_names(base: Results) -> dict[str, str]:
    return {str(a): str(n) for a, n in base.table["name"].items()}


def _pick_frames(inst: Instance, picks: list[_Pick], base: Results) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    p = inst.problem
    names = _district_names(base)
    reqs = p.requirements
    running = {k: _value(base.table, r.metric, r.area_id)[0] for k, r in enumerate(reqs)}
    site_rows, cab_rows = [], []
    geoms_s, geoms_c = [], []
    for pick in picks:
        for k in range(len(reqs)):
            running[k] += float(pick.gains[k]) if k < pick.gains.size else 0.0

        if pick.column < inst.n_sites:
            row = inst.sites.iloc[pick.column]
            d = str(row["district_id"])
            site_rows.append({
                "rank": len(site_rows) + 1, "candidate_id": row["candidate_id"], "district_id": d,
                "district": names.get(d, d), "technology": row.get("technology", ""),
                "operator": row.get("operator", ""), "freq_mhz": row.get("freq_mhz", np.nan),
                "height_m": row.get("height_m", np.nan), "eirp_dbm": row.get("eirp_dbm", np.nan),
                "sectors": len(row.get("azimuth_deg", ())) if not isinstance(row.get("azimuth_deg"), float) else 1,
                "new_persons": _gained(reqs, pick.gains, "wireless_population"),
                "new_villages": _gained(reqs, pick.gains, "village_broadband"),
                "cum_pct": _cum_pct(reqs, running, base.table, "wireless_population", d), "cost": float(row["cost"]),
                "source": row.get("source", "lattice") if pick.source == "plan" else "continuation"})
            geoms_s.append(row.geometry)
        else:
            row = inst.cabinets.iloc[pick.column - inst.n_sites]
            d = str(row["district_id"])
            cab_rows.append({
                "rank": len(cab_rows) + 1, "candidate_id": row["candidate_id"], "district_id": d,
                "district": names.get(d, d), "ports": float(row["ports"]),
                "new_households": _gained(reqs, pick.gains, "ftth_households"),
                "new_villages": _gained(reqs, pick.gains, "village_broadband"),
                "feeder_m": float(row["feeder_m"]),
                "cum_pct": _cum_pct(reqs, running, base.table, "ftth_households", d),
                "cost": float(row["cost"]),
                "source": row.get("source", "lattice") if pick.source == "plan" else "continuation"})
            geoms_c.append(row.geometry)
    crs = base.grid.crs
    sites = gpd.GeoDataFrame(pd.DataFrame(site_rows, columns=list(SITE_COLUMNS)),
                             geometry=gpd.GeoSeries(geoms_s, crs=crs), crs=crs)
    cabinets = gpd.GeoDataFrame(pd.DataFrame(cab_rows, columns=list(CABINET_COLUMNS)),
                                geometry=gpd.GeoSeries(geoms_c, crs=crs), crs=crs)
    return sites, cabinets


def _gained(reqs: tuple[Requirement, ...], gains: np.ndarray, metric: str) -> float:
    """Weight of ``metric`` newly covered by one pick: over its districts' requirements (the city's
    only when no district of that metric is in scope, so that nothing counts twice)."""
    ks = [k for k, r in enumerate(reqs) if r.metric == metric and r.area_id != CITY_ID]
    ks = ks or [k for k, r in enumerate(reqs) if r.metric == metric]
    return float(sum(gains[k] for k in ks if k < gains.size))


def _cum_pct(reqs: tuple[Requirement, ...], running: dict[int, float], table: pd.DataFrame, metric: str,
             district: str) -> float:
    """The share of ``metric`` in ``district`` after the picks so far (the base figure where the
    district is not in scope for it)."""
    for k, r in enumerate(reqs):
        if r.metric == metric and r.area_id == district:
            return 100.0 * running[k] / _denominator(table, metric, district)
    if district not in table.index:
        return float("nan")
    num, den = _value(table, metric, district)
    return 100.0 * num / den if den else float("nan")


def _summary(inst: Instance, scope: list[Scope], picks: list[_Pick], base: Results, after: Results | None,
             selections: dict[str, Selection], plan_sel: Selection) -> pd.DataFrame:
    p = inst.problem
    names = _district_names(base)
    greedy, mip = selections["greedy"], selections.get("highs")
    bound = mip.lower_bound if mip is not None else float("nan")
    rows = []
    for s in scope:
        metric, area = s.target.metric, s.area_id
        num, den = _value(base.table, metric, area)
        k = next((k for k, r in enumerate(p.requirements) if (r.metric, r.area_id) == (metric, area)), None)
        # what the selection covers (every chosen candidate, also those the ranking found adding nothing more)
        added = float(plan_sel.covered[k]) if k is not None and k < plan_sel.covered.size else 0.0
        after_pct = float("nan")
        met = False
        if after is not None:
            a_num, a_den = _value(after.table, metric, area)
            after_pct = 100.0 * a_num / a_den if a_den else float("nan")
            met = bool(a_den > 0 and a_num / a_den >= s.target.threshold - 1e-12)
        kinds = {"wireless_population": (True, False), "ftth_households": (False, True)}.get(metric, (True, True))
        in_area = [pk for pk in picks if (area == CITY_ID or _pick_district(inst, pk) == area)
                   and kinds[0 if pk.column < inst.n_sites else 1]]
        n_sites = sum(1 for pk in in_area if pk.column < inst.n_sites)
        n_cabs = len(in_area) - n_sites
        rows.append({
            "area_id": area, "district": names.get(area, area), "metric": metric,
            "threshold": s.target.threshold, "before_pct": 100.0 * num / den,
            "planned_pct": 100.0 * (num + added) / den, "after_pct": after_pct, "met": met,
            "sites": n_sites, "cabinets": n_cabs, "cost": float(sum(p.cost[pk.column] for pk in in_area)),
            "greedy_cost": greedy.cost, "optimum_cost": mip.cost if mip is not None and mip.status == "optimal"
            else float("nan"), "lower_bound": bound,
            "gap_pct": solve.optimality_gap_pct(greedy.cost, bound) if np.isfinite(bound) else float("nan"),
            "note": "" if plan_sel.feasible else plan_sel.status})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _pick_district(inst: Instance, pick: _Pick) -> str:
    if pick.column < inst.n_sites:
        return str(inst.sites["district_id"].iloc[pick.column])
    return str(inst.cabinets["district_id"].iloc[pick.column - inst.n_sites])


def _curve(inst: Instance, scope: list[Scope], picks: list[_Pick], base: Results) -> pd.DataFrame:
    p = inst.problem
    rows = []
    for k, req in enumerate(p.requirements):
        num, den = _value(base.table, req.metric, req.area_id)
        cost = 0.0
        rows.append({"metric": req.metric, "area_id": req.area_id, "step": 0, "cost": 0.0, "pct": 100.0 * num / den})
        for step, pick in enumerate(picks, start=1):
            num += float(pick.gains[k]) if k < pick.gains.size else 0.0
            cost += float(p.cost[pick.column])
            rows.append({"metric": req.metric, "area_id": req.area_id, "step": step, "cost": cost,
                         "pct": 100.0 * num / den})
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def _solver_rows(selections: dict[str, Selection], inst: Instance, instance: str) -> list[dict]:
    rows = []
    for method, sel in selections.items():
        n_sites = int(np.sum(sel.chosen < inst.n_sites))
        rows.append({"instance": instance, "method": method, "cost": sel.cost, "sites": n_sites,
                     "cabinets": int(sel.chosen.size - n_sites), "lower_bound": sel.lower_bound,
                     "gap_pct": solve.optimality_gap_pct(sel.cost, selections["highs"].lower_bound)
                     if "highs" in selections and np.isfinite(selections["highs"].lower_bound) else float("nan"),
                     "time_s": sel.time_s, "status": sel.status})
    return rows


def _empty_result(cfg: PlanConfig, base: Results, notes: list[str]) -> PlanResult:
    crs = base.grid.crs
    return PlanResult(
        config=cfg, base=base, after=None,
        sites=gpd.GeoDataFrame(pd.DataFrame(columns=list(SITE_COLUMNS)), geometry=gpd.GeoSeries([], crs=crs), crs=crs),
        cabinets=gpd.GeoDataFrame(pd.DataFrame(columns=list(CABINET_COLUMNS)), geometry=gpd.GeoSeries([], crs=crs),
                                  crs=crs),
        summary=pd.DataFrame(columns=list(SUMMARY_COLUMNS)), curve=pd.DataFrame(columns=list(CURVE_COLUMNS)),
        solvers=pd.DataFrame(columns=list(SOLVER_COLUMNS)), notes=notes)
