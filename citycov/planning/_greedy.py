"""CELF: the lazy greedy with a heap of upper bounds (Leskovec et al. 2007), private to
:mod:`citycov.planning.solve`.

The state is the covered part ``u_i`` in [0, 1] of each unit.  The value of a state is
``Σ_k ω_k min(covered_k, cap_k)`` (:func:`citycov.planning._instance.objective`).  The marginal
value of an uncapacitated candidate is that of covering the uncovered part of its units; that
of a capacitated candidate is the best fractional knapsack of its capacity over the uncovered
parts of its units of load > 0 (units of load 0 it covers by reach), best value per load first,
each requirement's residual ``cap_k − covered_k`` capping what its units can add.  Greedy by
value per load with per-requirement caps is optimal for that knapsack: each requirement's value
is a concave, piecewise-linear function of the load spent on it, with slopes ``ω_k w_i / load_i``.

Marginal values never grow as the state grows (fewer uncovered parts, smaller residuals, and a
knapsack whose right-hand sides shrink), so a stale value is an upper bound and CELF picks what
the plain greedy picks, ties going to the lowest index.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from citycov.planning._greedy_kernels import column_weight_sums
from citycov.planning._instance import VALUE_EPS, Instance, met

BOUND_SLACK = 1e-9
"""Initial bounds come from a different summation order than the lazy evaluations; inflating
them by this relative slack keeps them upper bounds despite rounding."""


@dataclass
class GreedyState:
    """The covered part of each unit, and what the chosen candidates added."""

    inst: Instance
    omega: np.ndarray
    cap: np.ndarray
    fraction: np.ndarray
    covered: np.ndarray
    picks: list[int] = field(default_factory=list)
    gains: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def empty(cls, inst: Instance, omega: np.ndarray, cap: np.ndarray) -> GreedyState:
        return cls(inst, omega, cap, np.zeros(inst.n), np.zeros(inst.r))

    def value_of_delta(self, delta: np.ndarray) -> float:
        cov, cap = self.covered, self.cap
        return float(np.sum(self.omega * (np.minimum(cov + delta, cap) - np.minimum(cov, cap))))

    def gain(self, j: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """``(value, delta, units, take)``: the marginal value of candidate ``j``, the weight it
        newly covers per requirement, and the part ``take`` of each unit of ``units`` it covers."""
        inst = self.inst
        cover = inst.cover
        idx = cover.indices[cover.indptr[j]:cover.indptr[j + 1]]
        avail = 1.0 - self.fraction[idx]
        w = inst.weight[idx]
        k = inst.requirement[idx]
        if not np.isfinite(inst.capacity[j]):
            delta = np.bincount(k, weights=w * avail, minlength=inst.r)
            return self.value_of_delta(delta), delta, idx, avail
        load = inst.load[idx]
        free = load == 0
        take = np.where(free, avail, 0.0)
        delta = np.bincount(k, weights=w * take, minlength=inst.r)
        pos = np.flatnonzero(~free & (avail > 0) & (w > 0) & (self.omega[k] > 0))
        if pos.size and inst.capacity[j] > 0:
            ratio = self.omega[k[pos]] * w[pos] / load[pos]
            order = pos[np.lexsort((idx[pos], -ratio))]
            residual = np.maximum(self.cap - self.covered - delta, 0.0)
            wa = w[order] * avail[order]
            ko = k[order]
            take_w = np.empty_like(wa)
            for kk in np.unique(ko):
                sel = ko == kk
                before = np.concatenate(([0.0], np.cumsum(wa[sel])[:-1]))
                take_w[sel] = np.clip(residual[kk] - before, 0.0, wa[sel])
            load_o = load[order]
            want = take_w / w[order] * load_o
            before_l = np.concatenate(([0.0], np.cumsum(want)[:-1]))
            got = np.clip(inst.capacity[j] - before_l, 0.0, want)
            take[order] = got / load_o
            delta += np.bincount(ko, weights=w[order] * take[order], minlength=inst.r)
        return self.value_of_delta(delta), delta, idx, take

    def add(self, j: int, *, record: bool = True) -> None:
        _, delta, idx, take = self.gain(j)
        if np.isfinite(self.inst.capacity[j]):
            self.fraction[idx] = np.minimum(self.fraction[idx] + take, 1.0)
        else:
            self.fraction[idx] = 1.0
        self.covered = self.covered + delta
        if record:
            self.picks.append(int(j))
            self.gains.append(delta)

    def bounds(self) -> np.ndarray:
        """(m,) upper bounds on every candidate's marginal value (capacity ignored)."""
        inst = self.inst
        sums = column_weight_sums(inst.cover.indptr, inst.cover.indices, inst.weight * (1.0 - self.fraction),
                                  inst.requirement, np.zeros((inst.m, inst.r)))
        cov, cap = self.covered, self.cap
        values = (self.omega * (np.minimum(cov + sums, cap) - np.minimum(cov, cap))).sum(axis=1)
        return values * (1.0 + BOUND_SLACK)


def celf(state: GreedyState, *, per_cost: bool, budget: float = np.inf, need: np.ndarray | None = None,
         exclude: np.ndarray | None = None) -> GreedyState:
    """Add candidates to ``state`` (in place) by the largest marginal value (per unit cost when
    ``per_cost``) until ``need`` is met (if given), nothing fits in ``budget``, or nothing adds a
    value above :data:`VALUE_EPS`.  Ties go to the lowest index.  Returns ``state``."""
    inst = state.inst
    cost = inst.cost
    remaining = float(budget)
    tol = 1e-9 * max(1.0, abs(remaining)) if np.isfinite(remaining) else 0.0
    bounds = state.bounds()
    alive = (bounds > VALUE_EPS) & (cost <= remaining + tol)
    if exclude is not None:
        alive[exclude] = False

    def score(value: float, j: int) -> float:
        return value / cost[j] if per_cost else value

    heap = [(-score(bounds[j], j), int(j), -1) for j in np.flatnonzero(alive)]
    heapq.heapify(heap)
    version = 0
    while heap:
        if need is not None and met(state.covered, need).all():
            break
        _, j, seen = heapq.heappop(heap)
        if cost[j] > remaining + tol:
            continue
        if seen == version:
            state.add(j)
            remaining -= cost[j]
            version += 1
            continue
        value = state.gain(j)[0]
        if value > VALUE_EPS:
            heapq.heappush(heap, (-score(value, j), j, version))
    return state
