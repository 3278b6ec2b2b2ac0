"""Test oracles of the best-server rule (:mod:`citycov.engine.linkbudget`), written apart from it.

``best_server_stack`` walks a full stack of levels pixel by pixel in plain Python (the exact
overlap count); ``ServerAccumulator`` keeps the streaming state the engine's tile kernels
keep (the k strongest levels, the server and the summed power per pixel), in NumPy, and
turns it into rasters with its own formulas.  Both give a
:class:`~citycov.engine.linkbudget.ServerResult`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from citycov.engine.linkbudget import ServerResult
from citycov.errors import ModelError


def _sinr_db(best_dbm: float, total_mw: float, loading: float, noise_dbm: float) -> float:
    s_mw = 10.0 ** (best_dbm / 10.0)
    return 10.0 * math.log10(s_mw / (loading * max(total_mw - s_mw, 0.0) + 10.0 ** (noise_dbm / 10.0)))


def best_server_stack(rx_dbm, *, loading: float, noise_dbm: float, overlap_db: float = 5.0) -> ServerResult:
    """Best server of a stack (n_sectors, n_pixels), one pixel at a time; ties to the first sector."""
    rx = np.asarray(rx_dbm, dtype=np.float64)
    n_sec, n_pix = rx.shape
    best_dbm = np.full(n_pix, np.nan, dtype=np.float32)
    best_idx = np.full(n_pix, -1, dtype=np.int32)
    margin = np.full(n_pix, np.nan, dtype=np.float32)
    n_within = np.zeros(n_pix, dtype=np.int32)
    sinr = np.full(n_pix, np.nan, dtype=np.float32)
    for p in range(n_pix):
        seen = [(float(rx[s, p]), s) for s in range(n_sec) if math.isfinite(rx[s, p]) or rx[s, p] == np.inf]
        if not seen:
            continue
        best, idx = max(seen, key=lambda v: (v[0], -v[1]))
        second = max((v for v, s in seen if s != idx), default=-math.inf)
        best_dbm[p], best_idx[p], margin[p] = best, idx, best - second
        n_within[p] = sum(1 for v, _ in seen if v >= best - overlap_db)
        sinr[p] = _sinr_db(best, sum(10.0 ** (v / 10.0) for v, _ in seen), loading, noise_dbm)
    return ServerResult(best_dbm, best_idx, margin, n_within, sinr, float(overlap_db))


class ServerAccumulator:
    """Running best-server state of one carrier, updated sector by sector (the engine's state).

    ``capacity`` (≥ 2) strongest levels are kept per pixel, so the overlap count saturates there;
    sectors are added over the whole grid or over the window at ``origin`` that they reach.
    """

    def __init__(self, shape: int | Sequence[int], *, capacity: int = 4) -> None:
        shape_t = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
        problems: list[str] = []
        if len(shape_t) not in (1, 2) or any(s < 1 for s in shape_t):
            problems.append(f"shape must be (n_pixels,) or (rows, cols) of positive sizes, got {shape_t}")
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 2:
            problems.append(f"capacity must be an integer >= 2, got {capacity!r}")
        if problems:
            raise ModelError("ServerAccumulator: " + "; ".join(problems))
        self.shape = shape_t
        self.capacity = int(capacity)
        grid = shape_t if len(shape_t) == 2 else (1, shape_t[0])
        self.top_dbm = np.full((self.capacity, *grid), -np.inf)
        self.best_idx = np.full(grid, -1, dtype=np.int32)
        self.sum_mw = np.zeros(grid)

    def add(self, rx_dbm, *, sector_index: int, origin: Sequence[int] | int | None = None) -> None:
        """Add one sector's levels (NaN = not reached) with their first pixel at ``origin``."""
        tile = np.asarray(rx_dbm, dtype=np.float64)
        origin_t = (0,) * len(self.shape) if origin is None else (
            (int(origin),) if isinstance(origin, int | np.integer) else tuple(int(o) for o in origin))
        problems: list[str] = []
        if tile.ndim != len(self.shape):
            problems.append(f"rx_dbm must be {len(self.shape)}-D like the accumulator, got shape {tile.shape}")
        elif any(o < 0 or o + s > n for o, s, n in zip(origin_t, tile.shape, self.shape, strict=True)):
            problems.append(f"tile of shape {tile.shape} at origin {origin_t} does not fit in {self.shape}")
        if isinstance(sector_index, bool) or not isinstance(sector_index, int | np.integer) or sector_index < 0:
            problems.append(f"sector_index must be an integer >= 0, got {sector_index!r}")
        if problems:
            raise ModelError("ServerAccumulator.add: " + "; ".join(problems))
        if tile.ndim == 1:
            tile, origin_t = tile[np.newaxis, :], (0, origin_t[0])
        win = (slice(origin_t[0], origin_t[0] + tile.shape[0]), slice(origin_t[1], origin_t[1] + tile.shape[1]))
        level = np.where(np.isnan(tile), -np.inf, tile)
        top = self.top_dbm[(slice(None), *win)]
        self.best_idx[win] = np.where(level > top[0], int(sector_index), self.best_idx[win])
        self.sum_mw[win] += 10.0 ** (level / 10.0)
        self.top_dbm[(slice(None), *win)] = -np.sort(-np.concatenate([top, level[np.newaxis]]), axis=0)[:-1]

    def finish(self, *, loading: float, noise_dbm: float, overlap_db: float = 5.0) -> ServerResult:
        """Rasters of the state so far; the state is not changed."""
        served = self.best_idx >= 0
        best = np.where(served, self.top_dbm[0], np.nan)
        within = (self.top_dbm > -np.inf) & (self.top_dbm >= best - overlap_db)
        with np.errstate(invalid="ignore", divide="ignore"):
            margin = np.where(served, self.top_dbm[0] - self.top_dbm[1], np.nan)
            s_mw = 10.0 ** (best / 10.0)
            sinr = 10.0 * np.log10(s_mw / (loading * np.maximum(self.sum_mw - s_mw, 0.0) + 10.0 ** (noise_dbm / 10.0)))
        out = (best.astype(np.float32), self.best_idx.copy(), margin.astype(np.float32),
               within.sum(axis=0).astype(np.int32), sinr.astype(np.float32))
        return ServerResult(*(a.reshape(self.shape) for a in out), float(overlap_db), self.capacity)
