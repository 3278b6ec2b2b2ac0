"""Tiles and reach of the coverage engine: how the grid is cut, which part of a site's ray fan
a tile needs, and how far a sector is computed.

Plain geometry over grid units (rows down, columns right, cell centres at integers; azimuth
clockwise from grid north, as in :mod:`citycov.engine._terrain_kernels`).  The engine
(:func:`citycov.engine.cellular.cellular_coverage`) processes the grid tile by tile; per tile, each site
whose reach touches it builds the wedge of its fan that :func:`fan_wedge` names, into the one
buffer of :class:`FanWorkspace`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citycov.errors import ModelError

TILE_CELLS = 512
"""Default tile side (cells): 512² cells hold 262,144 cells, so the per-carrier state of a tile
with 12 carriers and 4 strongest levels is about 75 MB."""


@dataclass(frozen=True)
class ReachLimit:
    """Caps each sector's reach at ``factor`` times the distance from its site to the
    ``neighbours``-th nearest other site carrying the same carrier, but never below
    ``min_km``.  Beyond that distance at least ``neighbours`` co-channel sites are nearer
    to every cell, so the sector is neither the server nor more than a small part of the
    interference there (with a path-loss slope of 35 dB/decade, a site ``factor`` times
    further than the server is 10·3.5·log10(factor) dB weaker: 16.7 dB at 3×).  What it
    drops is recorded in the provenance; ``neighbours = 0`` disables it."""

    neighbours: int = 6
    factor: float = 3.0
    min_km: float = 3.0

    def __post_init__(self) -> None:
        if self.neighbours < 0 or not (self.factor >= 1.0) or not (self.min_km > 0.0):
            raise ModelError(f"reach limit: neighbours >= 0, factor >= 1 and min_km > 0 expected, got "
                             f"{self.neighbours}, {self.factor}, {self.min_km}")

    def apply(self, reach_m: np.ndarray, x_m: np.ndarray, y_m: np.ndarray, carrier: np.ndarray,
              site_id: np.ndarray, *, cap_m: np.ndarray | None = None) -> tuple[np.ndarray, str]:
        """``reach_m`` (sectors, environment classes) capped by :meth:`limit_m` (or ``cap_m``, its
        value computed beforehand), and a note for the provenance saying how many sectors it capped."""
        cap = self.limit_m(x_m, y_m, carrier, site_id) if cap_m is None else cap_m
        capped = cap < reach_m.max(axis=1)
        note = (f"reach limit ({self.neighbours} co-channel neighbours x {self.factor:g}, at least "
                f"{self.min_km:g} km): {int(capped.sum()):,} of {len(reach_m):,} sectors capped"
                + (f", median cap {np.median(cap[capped]) / 1000.0:.1f} km" if capped.any() else ""))
        return np.minimum(reach_m, cap[:, None]), note

    def limit_m(self, x_m: np.ndarray, y_m: np.ndarray, carrier: np.ndarray, site_id: np.ndarray) -> np.ndarray:
        """Reach cap (m) per sector; +inf where the carrier has too few other sites."""
        from scipy.spatial import cKDTree

        out = np.full(x_m.size, np.inf)
        if self.neighbours == 0:
            return out
        for c in np.unique(carrier):
            sel = np.flatnonzero(carrier == c)
            sites, first = np.unique(site_id[sel].astype(str), return_index=True)
            if sites.size <= self.neighbours:
                continue
            pts = np.column_stack([x_m[sel][first], y_m[sel][first]])
            dist, _ = cKDTree(pts).query(pts, k=self.neighbours + 1)
            cap = np.maximum(self.factor * dist[:, -1], 1000.0 * self.min_km)
            pos = np.searchsorted(sites, site_id[sel].astype(str))
            out[sel] = cap[pos]
        return out


def tile_windows(rows: int, cols: int, tile_cells: int):
    """(row0, row1, col0, col1) of the tiles covering a grid, row-major, half-open."""
    if tile_cells < 16:
        raise ModelError(f"tile_cells must be at least 16, got {tile_cells}")
    for r0 in range(0, rows, tile_cells):
        for c0 in range(0, cols, tile_cells):
            yield r0, min(r0 + tile_cells, rows), c0, min(c0 + tile_cells, cols)


def rect_distance(row: np.ndarray, col: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Distance (cells) from points to the nearest cell centre of the tile [r0, r1) x [c0, c1)."""
    dr = np.maximum(np.maximum(r0 - row, row - (r1 - 1)), 0.0)
    dc = np.maximum(np.maximum(c0 - col, col - (c1 - 1)), 0.0)
    return np.hypot(dr, dc)


def fan_wedge(row0: float, col0: float, r0: int, r1: int, c0: int, c1: int, n_rays: int,
              n_steps: int) -> tuple[int, int, int]:
    """(first ray, number of rays, samples) of a fan of ``n_rays`` x ``n_steps`` that the
    cells of the tile [r0, r1) x [c0, c1) need: the rays nearest to some direction into the
    tile (one ray of margin each side) and the samples up to its farthest cell."""
    corners_r = np.array([r0 - 0.5, r0 - 0.5, r1 - 0.5, r1 - 0.5])
    corners_c = np.array([c0 - 0.5, c1 - 0.5, c0 - 0.5, c1 - 0.5])
    far = float(np.hypot(corners_r - row0, corners_c - col0).max())
    steps = min(n_steps, int(math.ceil(far)) + 1)
    if r0 - 1.0 <= row0 <= r1 and c0 - 1.0 <= col0 <= c1:
        return 0, n_rays, steps
    theta = np.arctan2(corners_c - col0, -(corners_r - row0))
    centre = math.atan2(0.5 * (c0 + c1 - 1) - col0, -(0.5 * (r0 + r1 - 1) - row0))
    rel = (theta - centre + math.pi) % (2.0 * math.pi) - math.pi
    lo = math.floor((centre + rel.min()) / (2.0 * math.pi) * n_rays) - 1
    hi = math.ceil((centre + rel.max()) / (2.0 * math.pi) * n_rays) + 1
    n_wedge = min(n_rays, hi - lo + 1)
    return int(lo % n_rays), int(n_wedge), steps


class FanWorkspace:
    """One growing buffer for the ray wedges of every (site, tile): ``views(n, m)`` gives
    C-contiguous (n, m) arrays zr (float64) and prev, top, hz (int32) over its start."""

    def __init__(self) -> None:
        self.size = 0

    def views(self, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        need = n * m
        if need > self.size:
            self.size = max(need, int(self.size * 1.5))
            self.zr = np.empty(self.size)
            self.ints = np.empty((3, self.size), dtype=np.int32)
        return (self.zr[:need].reshape(n, m), self.ints[0, :need].reshape(n, m), self.ints[1, :need].reshape(n, m),
                self.ints[2, :need].reshape(n, m))


def fan_size(reach_cells: float) -> tuple[int, int]:
    """(n_rays, n_steps) of a fan reaching ``reach_cells``: one sample per cell along each ray
    and one ray per cell of the perimeter, rounded up to a multiple of 4 so that a 90° turn of
    the scene maps rays onto rays."""
    n_steps = max(1, int(math.ceil(reach_cells)))
    n_rays = max(16, 4 * int(math.ceil(2.0 * math.pi * reach_cells / 4.0)))
    return n_rays, n_steps
