"""The covering problem as a HiGHS MIP (``highspy``), private to :mod:`citycov.planning.solve`.

Columns: ``x_j`` (binary, candidate built), ``z_i`` in [0, 1] (covered part of unit i), ``s_ij``
in [0, 1] (part of unit i served by capacitated j) and, in the max-coverage form, ``y_k``.
Rows: ``z_i − Σ_{reach} x_j − Σ_j s_ij ≤ 0``; ``s_ij − x_j ≤ 0``; ``Σ_i load_i s_ij −
capacity_j x_j ≤ 0``; then either ``Σ_{i∈k} w_i z_i ≥ need_k`` (min cost) or ``y_k − Σ_{i∈k} w_i
z_i ≤ 0``, ``0 ≤ y_k ≤ cap_k`` and ``Σ c_j x_j ≤ budget`` (max ``Σ ω_k y_k``).
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from citycov.planning._instance import Instance

MIP_REL_GAP = 1e-6
"""HiGHS stops when ``(primal − dual)/|primal|`` is at most this; "optimal" needs no more."""

_QUIET = {"done": False}


def _new_highs():
    """A silent ``highspy.Highs``.  HiGHS ≥ 1.12 prints its banner on stdout from the C++
    constructor of the first instance in a process, before any option can be set; that one
    construction runs with file descriptor 1 pointed at /dev/null."""
    import highspy

    if _QUIET["done"]:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _QUIET["done"] = True
    h.setOptionValue("output_flag", False)
    return h


@dataclass(frozen=True)
class MipModel:
    """Arrays of one model, ready for HiGHS (``sense`` +1 minimise, −1 maximise)."""

    matrix: sparse.csc_array
    col_cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    n_x: int
    sense: int


@dataclass(frozen=True)
class MipOutcome:
    status: str
    """``optimal``, ``time limit``, ``infeasible``, or HiGHS's own word."""
    x: np.ndarray | None
    """(m,) the incumbent's x (None: no solution)."""
    objective: float
    bound: float
    """The proven dual bound (a lower bound when minimising, an upper bound when maximising)."""
    gap: float
    """HiGHS's relative gap."""


def build_model(inst: Instance, need: np.ndarray, *, budget: float | None, omega: np.ndarray,
                cap: np.ndarray) -> MipModel:
    """The model of the module docstring on ``inst`` (usually the reduced problem), with
    ``need`` (capped at what is achievable) in the min-cost form, or ``budget`` and the
    objective weights ``omega``/``cap`` in the max-coverage form."""
    m = inst.m
    relevant = (need > 0) if budget is None else (omega > 0)
    reach_rows = np.diff(sparse.csr_array(inst.reach).indptr) > 0
    serve_rows = np.diff(sparse.csr_array(inst.serve).indptr) > 0
    keep = np.flatnonzero((reach_rows | serve_rows) & (inst.weight > 0) & relevant[inst.requirement])
    nz = keep.size
    local = np.full(inst.n, -1)
    local[keep] = np.arange(nz)
    reach = inst.reach[keep].tocoo()
    serve = inst.serve[keep].tocoo()
    n_edge = serve.nnz
    ks = np.flatnonzero(relevant)
    n_y = ks.size if budget is not None else 0
    z0, s0, y0 = m, m + nz, m + nz + n_edge
    n_col = y0 + n_y
    e = np.arange(n_edge)
    # rows: link (nz), s ≤ x (n_edge), capacity (per capacitated column with edges), then need or y rows
    cap_cols = np.unique(serve.col)
    cap_row = np.full(m, -1)
    cap_row[cap_cols] = np.arange(cap_cols.size)
    r_link, r_sx, r_cap = 0, nz, nz + n_edge
    r_req = r_cap + cap_cols.size
    k_row = np.full(inst.r, -1)
    k_row[ks] = np.arange(ks.size)
    w_keep = inst.weight[keep]
    k_keep = inst.requirement[keep]
    rows = [r_link + np.arange(nz), r_link + reach.row, r_link + serve.row,
            r_sx + e, r_sx + e,
            r_cap + cap_row[serve.col], r_cap + cap_row[cap_cols],
            r_req + k_row[k_keep]]
    cols = [z0 + np.arange(nz), reach.col, s0 + e,
            s0 + e, serve.col,
            s0 + e, cap_cols,
            z0 + np.arange(nz)]
    vals = [np.ones(nz), -np.ones(reach.nnz), -np.ones(n_edge),
            np.ones(n_edge), -np.ones(n_edge),
            inst.load[keep][serve.row], -inst.capacity[cap_cols],
            w_keep]
    n_row = r_req + ks.size
    row_lower = np.full(n_row, -np.inf)
    row_upper = np.zeros(n_row)
    col_cost = np.zeros(n_col)
    col_lower = np.zeros(n_col)
    col_upper = np.ones(n_col)
    if budget is None:
        row_lower[r_req:] = need[ks]
        row_upper[r_req:] = np.inf
        col_cost[:m] = inst.cost
        sense = 1
    else:
        vals[-1] = -w_keep
        rows.append(r_req + np.arange(n_y))
        cols.append(y0 + np.arange(n_y))
        vals.append(np.ones(n_y))
        rows.append(np.full(m, n_row))
        cols.append(np.arange(m))
        vals.append(inst.cost)
        n_row += 1
        row_lower = np.append(row_lower, -np.inf)
        row_upper = np.append(row_upper, budget)
        col_cost[y0:] = omega[ks]
        col_upper[y0:] = cap[ks]
        sense = -1
    matrix = sparse.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(n_row, n_col))
    return MipModel(matrix=matrix, col_cost=col_cost, col_lower=col_lower, col_upper=col_upper,
                    row_lower=row_lower, row_upper=row_upper, n_x=m, sense=sense)


def solve_model(model: MipModel, *, time_limit_s: float, integer: bool, start: np.ndarray | None = None) -> MipOutcome:
    """Solve ``model`` with HiGHS (x binary when ``integer``, else its LP relaxation), from the
    candidate indices ``start`` as a first incumbent when given (HiGHS completes the other
    columns and ignores a start it finds infeasible)."""
    import highspy

    h = _new_highs()
    lp = highspy.HighsLp()
    n_row, n_col = model.matrix.shape
    lp.num_col_ = n_col
    lp.num_row_ = n_row
    lp.col_cost_ = model.col_cost
    lp.col_lower_ = model.col_lower
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isfinite(model.row_lower), model.row_lower, -inf)
    lp.row_upper_ = np.where(np.isfinite(model.row_upper), model.row_upper, inf)
    lp.col_upper_ = np.where(np.isfinite(model.col_upper), model.col_upper, inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = model.matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = model.matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = model.matrix.data.astype(np.float64)
    lp.sense_ = highspy.ObjSense.kMinimize if model.sense > 0 else highspy.ObjSense.kMaximize
    if integer:
        lp.integrality_ = ([highspy.HighsVarType.kInteger] * model.n_x
                           + [highspy.HighsVarType.kContinuous] * (n_col - model.n_x))
    h.passModel(lp)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.01)))
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("mip_abs_gap", 1e-9)
    if integer and start is not None:
        x0 = np.zeros(model.n_x)
        x0[start] = 1.0
        h.setSolution(model.n_x, np.arange(model.n_x, dtype=np.int32), x0)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kModelEmpty:  # no columns: nothing to choose, nothing to pay
        zero = np.zeros(model.n_x)
        return MipOutcome(status="optimal", x=zero, objective=0.0, bound=0.0, gap=0.0)
    info = h.getInfo()
    words = {highspy.HighsModelStatus.kOptimal: "optimal", highspy.HighsModelStatus.kTimeLimit: "time limit",
             highspy.HighsModelStatus.kInfeasible: "infeasible"}
    word = words.get(status, h.modelStatusToString(status))
    has_x = info.primal_solution_status == int(highspy.SolutionStatus.kSolutionStatusFeasible)
    x = np.asarray(h.getSolution().col_value)[:model.n_x] if has_x else None
    if integer:
        bound, gap = float(info.mip_dual_bound) + 0.0, float(info.mip_gap)
    else:
        bound = float(info.objective_function_value) if word == "optimal" else float("nan")
        gap = 0.0
    objective = float(info.objective_function_value) if has_x else float("nan")
    return MipOutcome(status=word, x=x, objective=objective, bound=bound, gap=gap)
