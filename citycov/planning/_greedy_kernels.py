"""Numba kernels over a CSC/CSR cover matrix (``indptr``, ``indices``) for the selection
algorithms: plain array functions, no geography (see :mod:`citycov.planning.solve`)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def column_weight_sums(indptr, indices, weight, unit_requirement, out):
    """Fill ``out[j, k]`` (zeroed by the caller) with ``Σ weight[i]`` over the rows ``i`` of
    column ``j`` whose ``unit_requirement[i] == k``; return ``out``."""
    for j in range(indptr.size - 1):
        for p in range(indptr[j], indptr[j + 1]):
            i = indices[p]
            out[j, unit_requirement[i]] += weight[i]
    return out


@njit(cache=True, nogil=True)
def row_hashes(indptr, indices, key1, key2, out1, out2):
    """Order-free hashes of each row's column set: ``out1[i] = Σ key1[indices]`` and
    ``out2[i] = Σ key2[indices]`` over row ``i`` (uint64; keys below 2^40 cannot overflow)."""
    for i in range(indptr.size - 1):
        h1 = np.uint64(0)
        h2 = np.uint64(0)
        for p in range(indptr[i], indptr[i + 1]):
            h1 += key1[indices[p]]
            h2 += key2[indices[p]]
        out1[i] = h1
        out2[i] = h2
    return out1, out2


@njit(cache=True, nogil=True)
def rows_equal_to(indptr, indices, representative):
    """True when every row ``i`` holds exactly the columns of row ``representative[i]`` (both
    with sorted indices)."""
    for i in range(indptr.size - 1):
        rep = representative[i]
        if rep == i:
            continue
        a0 = indptr[i]
        b0 = indptr[rep]
        size = indptr[i + 1] - a0
        if indptr[rep + 1] - b0 != size:
            return False
        for p in range(size):
            if indices[a0 + p] != indices[b0 + p]:
                return False
    return True
