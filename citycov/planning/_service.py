"""Capacitated service as a linear programme: which part of each unit the chosen candidates
serve (private to :mod:`citycov.planning.solve`).

For a chosen set S: units reached by a candidate in S are covered outright; the rest may be
served in part by the capacitated candidates of S,

    max Σ_k ω_k y_k  s.t.  y_k ≤ base_k + Σ_{(i,j): i∈k} w_i s_ij,  0 ≤ y_k ≤ cap_k,
                           Σ_j s_ij ≤ 1 (each unit),  Σ_i load_i s_ij ≤ capacity_j (each j),  0 ≤ s ≤ 1,

a transportation problem solved with HiGHS through :func:`scipy.optimize.linprog`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from citycov.planning._instance import Instance, covered_weight, reach_coverage


def served_fraction(inst: Instance, chosen: np.ndarray, omega: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """(n,) float64 in [0, 1]: the covered part of each unit with ``chosen`` built, the capacitated
    service chosen to maximise ``Σ_k ω_k min(covered_k, cap_k)`` (see the module docstring)."""
    return service(inst, chosen, omega, cap)[0]


def service(inst: Instance, chosen: np.ndarray, omega: np.ndarray,
            cap: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(fraction, row, col, s)``: :func:`served_fraction` and the service ``s[e]`` of unit
    ``row[e]`` by candidate ``col[e]`` (empty without capacitated service)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    reached = reach_coverage(inst, chosen)
    fraction = reached.astype(np.float64)
    none = np.zeros(0, dtype=np.int64)
    if not inst.has_service or chosen.size == 0:
        return fraction, none, none, np.zeros(0)
    sub = inst.serve[:, chosen].tocoo()
    row = sub.row.astype(np.int64)
    col = chosen[sub.col]
    useful = ~reached[row] & (omega[inst.requirement[row]] > 0) & (inst.weight[row] > 0)
    row, col = row[useful], col[useful]
    if row.size == 0:
        return fraction, none, none, np.zeros(0)
    base = covered_weight(inst, fraction)
    s = _solve(inst, row, col, base, omega, cap)
    fraction += np.bincount(row, weights=s, minlength=inst.n)
    return np.minimum(fraction, 1.0), row, col, s


def _solve(inst: Instance, row: np.ndarray, col: np.ndarray, base: np.ndarray, omega: np.ndarray,
           cap: np.ndarray) -> np.ndarray:
    """The service ``s_e`` in [0, 1] of each edge ``(row[e], col[e])``."""
    n_edge = row.size
    ks = np.flatnonzero(omega > 0)
    n_y = ks.size
    urow, unit_of_edge = np.unique(row, return_inverse=True)
    ucol, cand_of_edge = np.unique(col, return_inverse=True)
    y_of_k = np.full(inst.r, -1)
    y_of_k[ks] = np.arange(n_y)
    e = np.arange(n_edge)
    # unit rows, candidate rows, requirement rows
    rows = [unit_of_edge, urow.size + cand_of_edge, urow.size + ucol.size + y_of_k[inst.requirement[row]],
            urow.size + ucol.size + np.arange(n_y)]
    cols = [e, e, e, n_edge + np.arange(n_y)]
    vals = [np.ones(n_edge), inst.load[row], -inst.weight[row], np.ones(n_y)]
    a_ub = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                            shape=(urow.size + ucol.size + n_y, n_edge + n_y))
    b_ub = np.concatenate([np.ones(urow.size), inst.capacity[ucol], base[ks]])
    c = np.concatenate([np.zeros(n_edge), -omega[ks]])
    bounds = np.column_stack([np.zeros(n_edge + n_y),
                              np.concatenate([np.ones(n_edge), np.where(np.isfinite(cap[ks]), cap[ks], np.inf)])])
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.status != 0:
        msg = f"capacitated service LP failed ({res.status}: {res.message}); it is always feasible and bounded"
        raise RuntimeError(msg)
    return np.clip(res.x[:n_edge], 0.0, 1.0)


def achievable_weight(inst: Instance) -> np.ndarray:
    """(r,) the most each requirement can reach with every candidate chosen, each on its own
    (capacity is shared between requirements, so they may not all reach it at once)."""
    everything = np.arange(inst.m)
    reached = reach_coverage(inst, everything)
    best = covered_weight(inst, reached.astype(np.float64))
    if not inst.has_service:
        return best
    has_edge = np.zeros(inst.r, dtype=bool)
    rows = inst.serve.tocoo().row
    has_edge[inst.requirement[rows[~reached[rows]]]] = True
    for k in np.flatnonzero(has_edge):
        omega = np.zeros(inst.r)
        omega[k] = 1.0
        best[k] = covered_weight(inst, served_fraction(inst, everything, omega, np.full(inst.r, np.inf)))[k]
    return best
