"""Exact answers by enumerating every subset of at most 20 candidates (private to
:mod:`citycov.planning.solve`; the reference the tests hold the solvers to).

Subsets are bit masks (bit j: candidate j).  Reach coverage of all subsets of a chunk is one
vectorised test ``mask & reach_bits[i] != 0``; capacitated service, where present, is an LP per
subset (:mod:`citycov.planning._service`), run only on the subsets whose coverage with every
capacity ignored could still qualify.
"""

from __future__ import annotations

import numpy as np

from citycov.planning._instance import Instance, covered_weight, met, value_of
from citycov.planning._service import served_fraction

MAX_CANDIDATES = 20


def _bits(matrix, m: int) -> np.ndarray:
    """(n,) int64: bit j set where ``matrix[i, j]``."""
    coo = matrix.tocoo()
    out = np.zeros(matrix.shape[0], dtype=np.int64)
    np.bitwise_or.at(out, coo.row, np.left_shift(np.int64(1), coo.col.astype(np.int64)))
    return out


def subset_costs(cost: np.ndarray) -> np.ndarray:
    """(2^m,) the cost of every subset, indexed by bit mask."""
    out = np.zeros(1)
    for c in cost:
        out = np.concatenate([out, out + c])
    return out


def _chunk_covered(masks: np.ndarray, bits: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """(len(masks), r) the weight covered per requirement by each subset."""
    hit = (masks[:, None] & bits[None, :]) != 0
    return hit.astype(np.float64) @ onehot


def _members(mask: int, m: int) -> np.ndarray:
    return np.array([j for j in range(m) if (mask >> j) & 1], dtype=np.int64)


def _onehot(inst: Instance) -> np.ndarray:
    out = np.zeros((inst.n, inst.r))
    out[np.arange(inst.n), inst.requirement] = inst.weight
    return out


def _chunk_size(n: int) -> int:
    return max(1, 2**22 // max(n, 1))


def cheapest_meeting(inst: Instance, need: np.ndarray, omega: np.ndarray, cap: np.ndarray) -> int | None:
    """The bit mask of the cheapest subset meeting ``need`` (ties: lowest mask), or None."""
    m = inst.m
    costs = subset_costs(inst.cost)
    order = np.argsort(costs, kind="stable")
    reach_bits = _bits(inst.reach, m)
    any_bits = reach_bits | _bits(inst.serve, m)
    onehot = _onehot(inst)
    size = _chunk_size(inst.n)
    for start in range(0, order.size, size):
        masks = order[start:start + size].astype(np.int64)
        if not inst.has_service:
            ok = met(_chunk_covered(masks, reach_bits, onehot), need[None, :]).all(axis=1)
            if ok.any():
                return int(masks[np.argmax(ok)])
            continue
        maybe = met(_chunk_covered(masks, any_bits, onehot), need[None, :]).all(axis=1)
        for mask in masks[maybe]:
            covered = covered_weight(inst, served_fraction(inst, _members(int(mask), m), omega, cap))
            if met(covered, need).all():
                return int(mask)
    return None


def best_within_budget(inst: Instance, budget: float, omega: np.ndarray, cap: np.ndarray) -> tuple[int, float]:
    """``(mask, value)`` of the subset of cost ≤ ``budget`` with the largest ``Σ ω min(covered,
    cap)`` (ties: lowest cost, then lowest mask)."""
    m = inst.m
    costs = subset_costs(inst.cost)
    fits = np.flatnonzero(costs <= budget + 1e-9 * max(1.0, abs(budget)))
    reach_bits = _bits(inst.reach, m)
    any_bits = reach_bits | _bits(inst.serve, m)
    onehot = _onehot(inst)
    size = _chunk_size(inst.n)
    use = omega > 0
    values = np.empty(fits.size)
    for start in range(0, fits.size, size):
        masks = fits[start:start + size].astype(np.int64)
        cov = _chunk_covered(masks, any_bits, onehot)
        values[start:start + size] = (omega[use] * np.minimum(cov[:, use], cap[use])).sum(axis=1)
    if not inst.has_service:
        order = np.lexsort((fits, costs[fits], -values))
        return int(fits[order[0]]), float(values[order[0]])
    # values are upper bounds (capacity ignored): evaluate exactly in descending order
    order = np.lexsort((fits, costs[fits], -values))
    best_mask, best_value, best_cost = -1, -np.inf, np.inf
    for pos in order:
        if values[pos] < best_value - 1e-12:
            break
        mask = int(fits[pos])
        covered = covered_weight(inst, served_fraction(inst, _members(mask, m), omega, cap))
        v = value_of(covered, omega, cap)
        if v > best_value + 1e-9 or (abs(v - best_value) <= 1e-9 and costs[mask] < best_cost):
            best_mask, best_value, best_cost = mask, v, costs[mask]
    return best_mask, best_value
