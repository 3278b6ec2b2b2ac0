"""The min-cost covering problem in OR-Tools CP-SAT, an independent cross-check of the MIP
(private to :mod:`citycov.planning.solve`).

CP-SAT needs integers.  It is applied only where scaling cannot change the optimum:

* costs are integers after one power-of-ten scale ``10^d`` (d ≤ 6), checked to 1e-9 relative;
* the weights of the units in requirements with a need > 0 are integers after one scale
  ``10^d`` (d ≤ 4); with integer weights a need ``N`` is met exactly when ``⌈N⌉`` is;
* capacitated service: capacities and loads are integers, every served unit's weight equals its
  load (households counted in the households they load) and the needs of the requirements with
  served units are integers.  Service is then modelled as whole households ``t_ij``; the MIP's
  fractional service is a flow with integer capacities and integer lower bounds (the needs),
  which has an integral solution whenever it has a fractional one (Hoffman), so both optima agree.

Anything else is reported as ``not applicable: <reason>``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse

from citycov.planning._instance import NEED_RTOL, Instance

NUM_WORKERS = 8
"""CP-SAT's portfolio includes its LP-based workers from 8 workers on; with fewer (its default is
the number of cores) its lower bounds stall on covering problems.  Workers share the cores."""
MAX_COEFF = 2**50
"""Scaled sums stay below this (CP-SAT works in int64; leave headroom)."""


def integer_scale(values: np.ndarray, *, max_digits: int) -> int | None:
    """The smallest ``10^d`` (d ≤ ``max_digits``) making every value an integer (to 1e-9
    relative), or None."""
    for d in range(max_digits + 1):
        scaled = values * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(np.abs(scaled), 1.0)):
            return 10**d
    return None


def _is_integer(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9 * np.maximum(np.abs(values), 1.0)))


def applicability(inst: Instance, need: np.ndarray) -> tuple[str | None, int, int]:
    """``(reason or None, cost scale, weight scale)``: why CP-SAT cannot be applied exactly."""
    cost_scale = integer_scale(inst.cost, max_digits=6)
    if cost_scale is None:
        return "costs are not integers after scaling by up to 10^6", 1, 1
    relevant = need[inst.requirement] > 0
    weight_scale = integer_scale(inst.weight[relevant], max_digits=4)
    if weight_scale is None:
        return "unit weights are not integers after scaling by up to 10^4", cost_scale, 1
    if float(np.sum(inst.cost)) * cost_scale > MAX_COEFF or float(np.sum(inst.weight)) * weight_scale > MAX_COEFF:
        return f"scaled costs or weights exceed 2^50 (scales {cost_scale}, {weight_scale})", cost_scale, weight_scale
    if inst.has_service:
        serve = inst.serve.tocoo()
        served = np.unique(serve.row[relevant[serve.row]])
        caps = inst.capacity[np.unique(serve.col)]
        if served.size and not _is_integer(caps):
            return "finite capacities are not integers", cost_scale, weight_scale
        if served.size and not _is_integer(inst.load[served]):
            return "loads of served units are not integers", cost_scale, weight_scale
        if served.size and not np.allclose(inst.weight[served], inst.load[served], rtol=1e-12, atol=0):
            return "served units' weights differ from their loads", cost_scale, weight_scale
        ks = np.unique(inst.requirement[served])
        if not _is_integer(need[ks]):
            return "needs of requirements with capacitated service are not integers", cost_scale, weight_scale
    return None, cost_scale, weight_scale


def solve_cpsat(inst: Instance, need: np.ndarray, *, time_limit_s: float, cost_scale: int, weight_scale: int,
                hint: np.ndarray | None = None) -> tuple[str, np.ndarray | None, float, float]:
    """Solve on ``inst`` (usually reduced) with ``need`` capped at what is achievable, from the
    candidate indices ``hint`` when given.  Returns ``(status, x or None, cost, lower bound)`` in
    the problem's own cost units."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    m = inst.m
    x = [model.new_bool_var(f"x{j}") for j in range(m)]
    relevant = need[inst.requirement] > 0
    reach = sparse.csr_array(inst.reach)
    serve = sparse.csr_array(inst.serve)
    w_int = np.round(inst.weight * weight_scale).astype(np.int64)
    terms: dict[int, list] = {}
    served_by: dict[int, list] = {}
    for i in np.flatnonzero(relevant & (inst.weight > 0)):
        reach_j = reach.indices[reach.indptr[i]:reach.indptr[i + 1]]
        serve_j = serve.indices[serve.indptr[i]:serve.indptr[i + 1]]
        if reach_j.size == 0 and serve_j.size == 0:
            continue
        k = int(inst.requirement[i])
        if serve_j.size == 0:
            r_i = model.new_bool_var(f"r{i}")
            model.add(sum(x[j] for j in reach_j) >= r_i)
            terms.setdefault(k, []).append(int(w_int[i]) * r_i)
            continue
        load = round(float(inst.load[i]))
        per_household = int(w_int[i]) // load
        t = []
        for j in serve_j:
            t_ij = model.new_int_var(0, load, f"t{i}_{j}")
            model.add(t_ij <= load * x[j])
            served_by.setdefault(int(j), []).append(t_ij)
            t.append(t_ij)
        c_i = model.new_int_var(0, load, f"c{i}")
        if reach_j.size:
            r_i = model.new_bool_var(f"r{i}")
            model.add(sum(x[j] for j in reach_j) >= r_i)
            model.add(c_i <= load * r_i + sum(t))
        else:
            model.add(c_i <= sum(t))
        terms.setdefault(k, []).append(per_household * c_i)
    for j, t in served_by.items():
        model.add(sum(t) <= round(float(inst.capacity[j])) * x[j])
    for k in np.flatnonzero(need > 0):
        scaled = need[k] * weight_scale  # integer weights: ⌈need⌉ is met exactly when need is (within NEED_RTOL)
        target = math.ceil(scaled - NEED_RTOL * max(1.0, scaled))
        model.add(sum(terms.get(int(k), [])) >= target)
    c_int = np.round(inst.cost * cost_scale).astype(np.int64)
    model.minimize(sum(int(c_int[j]) * x[j] for j in range(m)))
    if hint is not None:
        in_hint = np.zeros(m, dtype=bool)
        in_hint[hint] = True
        for j in range(m):
            model.add_hint(x[j], bool(in_hint[j]))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(max(time_limit_s, 0.01))
    solver.parameters.num_workers = NUM_WORKERS
    code = solver.solve(model)
    if code == cp_model.OPTIMAL:
        status = "optimal"
    elif code == cp_model.FEASIBLE:
        status = "time limit"
    elif code == cp_model.INFEASIBLE:
        return "infeasible", None, float("nan"), float("nan")
    else:
        return f"time limit (no solution, CP-SAT {solver.status_name(code)})", None, float("nan"), float("nan")
    xs = np.array([solver.boolean_value(v) for v in x], dtype=bool)
    return status, xs, solver.objective_value / cost_scale, solver.best_objective_bound / cost_scale
