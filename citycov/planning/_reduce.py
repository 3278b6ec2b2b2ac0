"""Merging the units no solver can tell apart (private to :mod:`citycov.planning.solve`, whose
:func:`~citycov.planning.solve.reduce_problem` documents it)."""

from __future__ import annotations

import numpy as np
from scipy import sparse

from citycov.planning._greedy_kernels import row_hashes, rows_equal_to
from citycov.planning._instance import check_problem
from citycov.planning.problem import CoverProblem


def merge_units(problem: CoverProblem) -> tuple[CoverProblem, np.ndarray]:
    """``(reduced problem, new unit of each old unit)``: see :func:`citycov.planning.solve.reduce_problem`."""
    inst = check_problem(problem, form="max")
    csr = sparse.csr_array(inst.cover)
    if not csr.has_sorted_indices:
        csr = csr.copy()
        csr.sort_indices()
    rng = np.random.default_rng(0x5EED)
    key1 = rng.integers(0, 2**40, size=inst.m, dtype=np.uint64)
    key2 = rng.integers(0, 2**40, size=inst.m, dtype=np.uint64)
    h1, h2 = row_hashes(csr.indptr, csr.indices, key1, key2, np.empty(inst.n, np.uint64), np.empty(inst.n, np.uint64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(inst.load == 0, 0.0, inst.load / inst.weight)
    keys = (h2, h1, np.diff(csr.indptr), ratio, inst.requirement)
    order = np.lexsort(keys)
    starts = np.zeros(inst.n, dtype=bool)
    starts[:1] = True
    for key in keys:
        ranked = key[order]
        starts[1:] |= ranked[1:] != ranked[:-1]
    group_sorted = np.cumsum(starts) - 1
    inverse = np.empty(inst.n, dtype=np.int64)
    inverse[order] = group_sorted
    first = np.minimum.reduceat(order, np.flatnonzero(starts)) if inst.n else np.zeros(0, dtype=np.int64)
    representative = first[inverse]
    if not rows_equal_to(csr.indptr, csr.indices, representative):
        # a hash collision: group exactly by the index lists instead
        groups: dict[tuple, int] = {}
        representative = np.empty(inst.n, dtype=np.int64)
        for i in range(inst.n):
            key = (int(inst.requirement[i]), float(ratio[i]),
                   csr.indices[csr.indptr[i]:csr.indptr[i + 1]].tobytes())
            representative[i] = groups.setdefault(key, i)
        first, inverse = np.unique(representative, return_inverse=True)
    # renumber groups by first occurrence
    order = np.argsort(first, kind="stable")
    new_id = np.empty(order.size, dtype=np.int64)
    new_id[order] = np.arange(order.size)
    new_of_old = new_id[inverse]
    rep_rows = first[order]
    n_new = rep_rows.size
    weight = np.bincount(new_of_old, weights=inst.weight, minlength=n_new)
    load = None if problem.unit_load is None else np.bincount(new_of_old, weights=inst.load, minlength=n_new)
    reduced = CoverProblem(cost=problem.cost, cover=sparse.csc_array(csr[rep_rows]), unit_weight=weight,
                           unit_requirement=inst.requirement[rep_rows], requirements=problem.requirements,
                           capacity=problem.capacity, unit_load=load, candidate_ids=problem.candidate_ids)
    return reduced, new_of_old
