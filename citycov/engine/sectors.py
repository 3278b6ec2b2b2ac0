"""Sectors for the kernels: the sector table turned into arrays once, grouped into named structs.

The tile kernels (:mod:`citycov.engine._tile_kernels`) take a handful of named groups instead
of dozens of positional arrays, as pycraf's ``PathProp`` carries a path.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from citycov.errors import CitycovWarning, ModelError, RasterError
from citycov.grid import GridSpec
from citycov.io.antenna_patterns import pattern_names
from citycov.io.msi import AntennaPattern


def inside_grid(grid: GridSpec, x: np.ndarray, y: np.ndarray, what: str, ids: np.ndarray) -> np.ndarray:
    """Bool per point: inside ``grid``; warns (:class:`CitycovWarning`) with the ids of the others."""
    row, col = grid.rowcol(x, y)
    inside = grid.contains(row, col)
    if (~inside).any():
        warnings.warn(f"{(~inside).sum()} {what} outside the analysis grid were dropped "
                      f"(first: {[str(i) for i in ids[~inside][:5]]})", CitycovWarning, stacklevel=3)
    return inside


class SectorArrays(NamedTuple):
    """Per-sector arrays of the tile kernels, one element per sector (row ``j`` of a site's run).

    Built once per engine run (:func:`citycov.engine.cellular.cellular_coverage`); a site's
    sectors are :meth:`take` of it, with the tile's carrier slots set by ``slot``."""

    index: np.ndarray
    """int64: row of the engine's sector table."""
    model: np.ndarray
    """int64: empirical model code (:mod:`citycov.engine._radio_kernels`)."""
    freq_mhz: np.ndarray
    height_m: np.ndarray
    """float64: mast height above ground, m."""
    ref_eirp_dbm: np.ndarray
    """float64: reference-signal EIRP, dBm."""
    azimuth_deg: np.ndarray
    """float64: azimuth clockwise from grid north (0 for omni)."""
    omni: np.ndarray
    """bool."""
    tilt_deg: np.ndarray
    hbw_deg: np.ndarray
    vbw_deg: np.ndarray
    pattern: np.ndarray
    """int64: index of the sector's MSI pattern in :class:`PatternTables`, −1: the 3GPP model."""
    reach_m: np.ndarray
    """float64 (n, 4): reach per environment class, m (the exact mode uses column 0)."""
    tech: np.ndarray
    """int64: technology index (``TECHNOLOGIES`` order)."""
    slot: np.ndarray
    """int64: carrier slot of the tile state, −1: no carrier state kept."""
    bit: np.ndarray
    """int64: bit of the sector's (operator, technology) network in ``cover_bits``."""
    threshold_dbm: np.ndarray
    """float64: coverage threshold of its technology, dBm."""

    def take(self, idx: np.ndarray, slot: np.ndarray) -> SectorArrays:
        """The sectors ``idx`` (contiguous copies), with the carrier slots ``slot[idx]`` of the tile."""
        return SectorArrays(*(a[idx] for a in self._replace(slot=slot)))


class PatternTables(NamedTuple):
    """Antenna patterns of the tile kernels: MSI cuts by pattern index and the 3GPP model's caps."""

    h_loss_db: np.ndarray
    """float64 (patterns, 360): horizontal cut, dB below the peak, per degree."""
    v_loss_db: np.ndarray
    """float64 (patterns, 360): vertical cut."""
    max_loss_db: np.ndarray
    """float64 (patterns,): cap of each pattern's combined loss."""
    front_to_back_db: float
    vertical_sidelobe_db: float


class Scene(NamedTuple):
    """The whole grid the tile kernels read, and the receiver's constants."""

    dem_m: np.ndarray
    """float32/float64 (rows, cols): terrain, m (NaN: no data)."""
    env: np.ndarray
    """int8 (rows, cols): environment class 0..3."""
    active: np.ndarray
    """uint8 (rows, cols): cells to evaluate."""
    rx_loss_db: np.ndarray
    """float32 (rows, cols): loss at the receiver, dB; (0, 0): none."""
    cell_m: float
    h_rx_m: float
    earth_radius_m: float
    """Effective earth radius k·R, m."""
    floor_dbm: float
    """Levels below it are not kept."""


class TileState(NamedTuple):
    """Best-server state the tile kernels update: whole-grid rasters and the tile's carrier slots.

    The tile is the global rows ``row0 .. row0 + th − 1`` and columns ``col0 .. col0 + tw − 1``
    with (th, tw) the last two axes of ``car_idx``."""

    row0: int
    col0: int
    best_dbm: np.ndarray
    """float32 (3, rows, cols): best level per technology."""
    best_idx: np.ndarray
    """int16/int32 (3, rows, cols): its sector."""
    cover_bits: np.ndarray
    """uint (rows, cols): network cover bits."""
    car_top: np.ndarray
    """float32 (slots, k, th, tw): k strongest levels per carrier slot."""
    car_idx: np.ndarray
    """int32 (slots, th, tw): serving sector per slot."""
    car_sum: np.ndarray
    """float32 (slots, th, tw): summed power (mW) per slot."""


NO_HORIZON = np.zeros((0, 0, 2), dtype=np.float32)
"""``Fan.hs`` of a fan without a horizon slope: a hull fan (:func:`citycov.engine._terrain_kernels.ray_wedge_into`)."""


class Fan(NamedTuple):
    """The wedge of a site's ray fan that a tile needs (:func:`citycov.engine.tiles.fan_wedge`).

    Deygout and Bullington read the obstacle sets (``zr``, ``prev``, ``top``, ``hz`` of
    :func:`citycov.engine._terrain_kernels.ray_wedge_into`); the knife edge reads the running
    horizon alone (``hs`` of :func:`~citycov.engine._terrain_kernels.horizon_wedge_into`; ``zr``,
    ``prev``, ``top``, ``hz`` may then be empty).  ``hs`` empty (:data:`NO_HORIZON`): the knife edge
    falls back to the nearest ray's hull fan."""

    zr: np.ndarray
    prev: np.ndarray
    top: np.ndarray
    hz: np.ndarray
    ray_lo: int
    n_rays: int
    hs: np.ndarray = NO_HORIZON
    """float32 (n_steps + 1, n_wedge, 2): elevation slope (m/m) and sample of the running horizon."""


class SmoothRay(NamedTuple):
    """One ray over smooth earth and the smooth-earth loss per sector at integer distances."""

    zs: np.ndarray
    prev: np.ndarray
    top: np.ndarray
    hz: np.ndarray
    loss_db: np.ndarray
    """float64 (n_sectors, n_steps + 1)."""


def pattern_tables(table: pd.DataFrame, patterns: Mapping[str, AntennaPattern] | None, *, front_to_back_db: float,
                   vertical_sidelobe_db: float) -> tuple[np.ndarray, PatternTables]:
    """Per sector the index of its MSI pattern (−1: 3GPP model), and the patterns' cuts and caps
    with the 3GPP model's caps.  Names are read by the reader's rule
    (:func:`citycov.io.antenna_patterns.pattern_names`); a run checked them when the sectors were
    read, and a direct caller gets a :class:`ModelError` naming the sectors whose
    ``antenna_pattern`` is not among ``patterns``."""
    names = pattern_names(table)
    used = sorted({name for name in names if name})
    patterns = dict(patterns or {})
    missing = [name for name in used if name not in patterns]
    if missing:
        bad = [str(s) for s in table["sector_id"].to_numpy()[np.isin(names, missing)][:10]]
        raise ModelError(f"antenna_pattern: no pattern file named {missing[:10]} (sectors {bad}); "
                         f"known: {sorted(patterns)[:20]}")
    index = {name: k for k, name in enumerate(used)}
    s_pattern = np.array([index.get(name, -1) for name in names], dtype=np.int64)
    h = np.zeros((max(len(used), 1), 360))
    v = np.zeros((max(len(used), 1), 360))
    cap = np.zeros(max(len(used), 1))
    for name, k in index.items():
        p = patterns[name]
        h[k], v[k], cap[k] = p.h_loss_db, p.v_loss_db, p.max_loss_db
    return s_pattern, PatternTables(h, v, cap, front_to_back_db, vertical_sidelobe_db)


def site_groups(table: pd.DataFrame, height: np.ndarray, freq: np.ndarray) -> list[np.ndarray]:
    """Sector indices per (site, mast height), each sorted by frequency (the kernels reuse a
    frequency's diffraction loss across the run of sectors that share it)."""
    if not len(table):
        return []
    key = pd.Series(list(zip(table["site_id"].astype(str), np.round(height, 1), strict=True)), dtype=object)
    groups = []
    for idx in key.groupby(key, sort=False).indices.values():
        idx = np.asarray(idx, dtype=np.int64)
        groups.append(idx[np.argsort(freq[idx], kind="stable")])
    return groups


def same_frequency(idx: np.ndarray, freq: np.ndarray) -> list[np.ndarray]:
    """The sectors ``idx`` split into runs of one frequency (ascending)."""
    return [idx[freq[idx] == f] for f in np.unique(freq[idx])] if idx.size else []


def bits_dtype(n_networks: int) -> type:
    """The smallest unsigned integer dtype with a bit per network."""
    for dtype, bits in ((np.uint8, 8), (np.uint16, 16), (np.uint32, 32)):
        if n_networks <= bits:
            return dtype
    return np.uint64


def scene_arrays(dem_m: np.ndarray, env: np.ndarray, shape: tuple[int, int], *, active: np.ndarray | None,
                 rx_loss_db: np.ndarray | None, cell_m: float, h_rx_m: float, earth_radius_m: float,
                 floor_dbm: float) -> Scene:
    """The grids of the kernels in their dtypes (copies only where the dtype or layout differs),
    checked against the grid's ``shape``; ``active`` None: every cell, ``rx_loss_db`` None: none."""
    rows, cols = shape
    dem_k = np.ascontiguousarray(dem_m, dtype=np.float64 if dem_m.dtype == np.float64 else np.float32)
    env_k = np.ascontiguousarray(env, dtype=np.int8)
    active_k = (np.ones((rows, cols), dtype=np.uint8) if active is None
                else np.ascontiguousarray(active, dtype=np.uint8))
    if active_k.shape != (rows, cols) or env_k.shape != (rows, cols) or dem_k.shape != (rows, cols):
        raise RasterError(f"terrain, environment and active grids must have the grid's shape {(rows, cols)}, got "
                          f"{dem_k.shape}, {env_k.shape}, {active_k.shape}")
    rx_loss_k = (np.zeros((0, 0), dtype=np.float32) if rx_loss_db is None
                 else np.ascontiguousarray(rx_loss_db, dtype=np.float32))
    return Scene(dem_m=dem_k, env=env_k, active=active_k, rx_loss_db=rx_loss_k, cell_m=cell_m, h_rx_m=h_rx_m,
                 earth_radius_m=earth_radius_m, floor_dbm=floor_dbm)


def tile_state(carrier_of: np.ndarray, n_carriers: int, near_groups: list[np.ndarray],
               window: tuple[int, int, int, int], best_dbm: np.ndarray, best_idx: np.ndarray, cover_bits: np.ndarray,
               *, capacity: int | None) -> tuple[np.ndarray, np.ndarray, TileState]:
    """The carriers present in the tile ``window`` (row0, row1, col0, col1), the carrier slot of
    every sector (−1: none kept) and the tile state over the whole-grid rasters.  ``capacity``:
    strongest levels kept per carrier; None: levels only, no carrier state."""
    tr0, tr1, tc0, tc1 = window
    th, tw = tr1 - tr0, tc1 - tc0
    if capacity is not None:
        present = np.unique(np.concatenate([carrier_of[idx] for idx in near_groups]))
        slot_of = np.full(n_carriers, -1, dtype=np.int64)
        slot_of[present] = np.arange(present.size)
        s_slot = slot_of[carrier_of]
    else:  # levels only: no per-carrier state
        present = np.zeros(0, dtype=np.int64)
        s_slot = np.full(carrier_of.size, -1, dtype=np.int64)
        capacity = 2
    tile = TileState(row0=tr0, col0=tc0, best_dbm=best_dbm, best_idx=best_idx, cover_bits=cover_bits,
                     car_top=np.full((present.size, capacity, th, tw), -np.inf, dtype=np.float32),
                     car_idx=np.full((present.size, th, tw), -1, dtype=np.int32),
                     car_sum=np.zeros((present.size, th, tw), dtype=np.float32))
    return present, s_slot, tile
