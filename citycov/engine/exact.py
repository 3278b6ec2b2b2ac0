"""The exact mode: ITM and ITU-R P.1812 point to point, its parameters and its two geometries.

The cellular engine (:func:`citycov.engine.cellular.cellular_coverage`, ``mode = "exact"``) and
the broadcast step (:func:`citycov.engine.broadcast.broadcast_coverage`) both fill windows of
basic transmission loss with :func:`exact_loss_window`, in one of the geometries of
:data:`citycov.choices.EXACT_GEOMETRIES`:

* ``"radial"`` (default): the model on the prefix profiles of the rays of the fast mode's fan,
  each cell painted from its nearest ray sample (:mod:`citycov.engine._radial_exact_kernels`);
  a cell on a ray gets exactly its own profile's value, others the value at most half a cell
  and half a ray spacing away (cells next to the mast, and cells whose nearest sample has no
  data on its prefix, keep their own profile);
* ``"cell"``: the model on each cell's own straight profile (:mod:`citycov.engine._exact_kernels`),
  the reference: every cell draws and scans a new profile of up to R samples, so its work grows
  as R³ against the radial geometry's R² (ITM's fixed per-path part, Δh's 245 resampled points
  among it, is what remains per cell there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from citycov.choices import EXACT_GEOMETRIES, EXACT_MODELS
from citycov.engine import _exact_kernels, _radial_exact_kernels
from citycov.engine._radio_kernels import MIN_DIST_KM
from citycov.engine.tiles import fan_size, fan_wedge
from citycov.errors import ModelError


class Transmitter(NamedTuple):
    """One transmitter of the exact-mode kernels (:mod:`citycov.engine._exact_kernels`): grid
    position (continuous row, column), cell size, antenna heights above ground and frequency."""

    row0: float
    col0: float
    cell_m: float
    h_tx_m: float
    h_rx_m: float
    freq_mhz: float


class ItmKernelParams(NamedTuple):
    """:class:`ItmParams` as the kernel takes them (plain numbers, fixed types)."""

    climate: int
    n0: float
    pol: int
    epsilon: float
    sigma: float
    mdvar: int
    time: float
    location: float
    situation: float


class P1812KernelParams(NamedTuple):
    """:class:`P1812Params` as the kernel takes them (plain numbers, fixed types)."""

    time_percent: float
    location_percent: float
    delta_n: float
    n0: float
    pol: int
    zone: int
    clutter_height_m: float


@dataclass(frozen=True)
class ItmParams:
    """ITM point-to-point parameters of the exact mode (see :func:`citycov.propagation.itm.itm_p2p`)."""

    climate: int = 5
    n0: float = 301.0
    pol: int = 1
    epsilon: float = 15.0
    sigma: float = 0.005
    mdvar: int = 12
    time: float = 50.0
    location: float = 50.0
    situation: float = 50.0

    def kernel_params(self, *, pol: int | None = None) -> ItmKernelParams:
        """The parameters for :func:`citycov.engine._exact_kernels.itm_loss_grid` (``pol`` overrides ``self.pol``)."""
        return ItmKernelParams(int(self.climate), float(self.n0), int(self.pol if pol is None else pol),
                               float(self.epsilon), float(self.sigma), int(self.mdvar), float(self.time),
                               float(self.location), float(self.situation))


@dataclass(frozen=True)
class P1812Params:
    """ITU-R P.1812-6 parameters of the exact mode (see :func:`citycov.propagation.p1812.p1812`).

    ``pol``: 1 horizontal, 2 vertical (P.1812's codes); ``zone``: 1 sea, 3 coastal land, 4
    inland on every profile point; ``clutter_height_m``: representative clutter height on
    every intermediate point (0: open ground).  The path latitude is the site's."""

    time_percent: float = 50.0
    location_percent: float = 50.0
    delta_n: float = 45.0
    n0: float = 325.0
    pol: int = 2
    zone: int = 4
    clutter_height_m: float = 0.0

    def kernel_params(self, *, pol: int | None = None) -> P1812KernelParams:
        """The parameters for :func:`citycov.engine._exact_kernels.p1812_loss_grid` (``pol`` overrides ``self.pol``)."""
        return P1812KernelParams(float(self.time_percent), float(self.location_percent), float(self.delta_n),
                                 float(self.n0), int(self.pol if pol is None else pol), int(self.zone),
                                 float(self.clutter_height_m))


DEFAULT_ITM = ItmParams()
DEFAULT_P1812 = P1812Params()
CLUTTER_ENV = np.array([True, True, True, False])
"""Environment classes whose receivers stand in clutter for P.2108 in the exact mode (dense
urban, urban, suburban; not open)."""


def own_profile_radius_cells(cell_m: float) -> float:
    """Radius (cells) within which the radial geometry keeps each cell's own profile (cells at a
    distance d < radius): those whose nearest ray sample, round(d), is the mast's own, the first
    (a prefix of one interval: the per-cell mode draws at least two, and P.1812 needs them) or
    nearer than the exact mode's shortest path (:data:`citycov.engine._radio_kernels.MIN_DIST_KM`)."""
    k_min = max(2, math.ceil(MIN_DIST_KM * 1000.0 / cell_m - 1e-9))
    return k_min - 0.5


def exact_loss_window(dem_m: np.ndarray, tx: Transmitter, params: ItmKernelParams | P1812KernelParams, *,
                      model: str, geometry: str, reach_cells: float, win_row0: int, win_col0: int,
                      out_loss_db: np.ndarray, lat_deg: float = 0.0, active: np.ndarray | None = None) -> None:
    """Fill ``out_loss_db`` (float64 window, element ``[i, j]`` = grid cell ``(win_row0 + i, win_col0 + j)``)
    with the basic transmission loss (dB) of ``tx`` at every cell within ``reach_cells`` (grid units).

    ``model`` is one of :data:`citycov.choices.EXACT_MODELS` with its kernel parameters
    (``params``; ``lat_deg``: P.1812's path-centre latitude), ``geometry`` one of
    :data:`citycov.choices.EXACT_GEOMETRIES` (see the module docstring).  NaN where the profile
    touches no data or the model refuses the path; cells beyond reach are not touched.  With
    ``active`` (a uint8 or bool grid), the radial geometry skips the cells it does not mark (they
    stay untouched; the per-cell geometry computes them anyway).

    Examples
    --------
    >>> dem = np.full((41, 41), 10.0)
    >>> out = np.full((41, 41), np.nan)
    >>> exact_loss_window(dem, Transmitter(20.0, 20.0, 100.0, 30.0, 1.5, 900.0), DEFAULT_ITM.kernel_params(),
    ...                   model="itm", geometry="radial", reach_cells=15.0, win_row0=0, win_col0=0, out_loss_db=out)
    >>> bool(np.isfinite(out[20, 35])), bool(np.isnan(out[20, 40]))
    (True, True)
    """
    if model not in EXACT_MODELS:
        raise ModelError(f"exact_model: unknown model {model!r}; expected one of {list(EXACT_MODELS)}")
    if geometry not in EXACT_GEOMETRIES:
        raise ModelError(f"exact_geometry: unknown geometry {geometry!r}; expected one of {list(EXACT_GEOMETRIES)}")
    if geometry == "cell":
        _cell_loss(dem_m, tx, params, model, lat_deg, reach_cells, win_row0, win_col0, out_loss_db)
        return
    n_win_rows, n_win_cols = out_loss_db.shape
    if active is not None and (np.shape(active) != np.shape(dem_m) or win_row0 < 0 or win_col0 < 0
                               or win_row0 + n_win_rows > dem_m.shape[0] or win_col0 + n_win_cols > dem_m.shape[1]):
        raise ModelError(f"exact_loss_window: active must have the terrain's shape {np.shape(dem_m)} (got "
                         f"{np.shape(active)}) and the window ({win_row0}, {win_col0}) + {out_loss_db.shape} lie in it")
    own = own_profile_radius_cells(tx.cell_m)
    _cell_loss(dem_m, tx, params, model, lat_deg, min(float(np.nextafter(own, 0.0)), reach_cells), win_row0,
               win_col0, out_loss_db)
    if reach_cells < own:
        return
    n_rays, n_steps = fan_size(reach_cells)
    ray_lo, n_wedge, steps = fan_wedge(tx.row0, tx.col0, win_row0, win_row0 + n_win_rows, win_col0,
                                       win_col0 + n_win_cols, n_rays, n_steps)
    mask = np.zeros((0, 0), dtype=np.uint8) if active is None else np.ascontiguousarray(active, dtype=np.uint8)
    need = np.zeros((n_wedge, steps + 1), dtype=np.uint8)
    _radial_exact_kernels.mark_needed(tx.row0, tx.col0, reach_cells, own, n_rays, ray_lo, win_row0, win_col0,
                                      n_win_rows, n_win_cols, mask, need)
    samples = np.full(need.shape, np.nan)
    if model == "itm":
        _radial_exact_kernels.itm_fan_loss(dem_m, tx, params, n_rays, ray_lo, need, samples)
    else:
        _radial_exact_kernels.p1812_fan_loss(dem_m, tx, params, lat_deg, n_rays, ray_lo, need, samples)
    flagged = np.zeros(out_loss_db.shape, dtype=np.uint8)
    _radial_exact_kernels.paint_loss(samples, tx.row0, tx.col0, reach_cells, own, n_rays, ray_lo, win_row0, win_col0,
                                     mask, out_loss_db, flagged)
    if flagged.any():  # nearest sample without data (grid edge, hole): the cell's own profile
        if model == "itm":
            _radial_exact_kernels.itm_cells_loss(dem_m, tx, params, flagged, win_row0, win_col0, out_loss_db)
        else:
            _radial_exact_kernels.p1812_cells_loss(dem_m, tx, params, lat_deg, flagged, win_row0, win_col0,
                                                   out_loss_db)


def _cell_loss(dem_m: np.ndarray, tx: Transmitter, params: ItmKernelParams | P1812KernelParams, model: str,
               lat_deg: float, reach_cells: float, win_row0: int, win_col0: int, out_loss_db: np.ndarray) -> None:
    """The per-cell geometry (:mod:`citycov.engine._exact_kernels`)."""
    if model == "itm":
        _exact_kernels.itm_loss_grid(dem_m, tx, params, reach_cells, win_row0, win_col0, out_loss_db)
    else:
        _exact_kernels.p1812_loss_grid(dem_m, tx, params, lat_deg, reach_cells, win_row0, win_col0, out_loss_db)


def exact_geometry_note(model: str, geometry: str, n_sectors: int) -> str:
    """The provenance line of the exact mode: model, geometry and how many sectors use it."""
    how = {"radial": "on the prefix profiles of a ray fan (one sample per cell along each ray, one ray per "
                     "perimeter cell), each cell from its nearest ray sample",
           "cell": "on each cell's own straight profile"}[geometry]
    return f"exact mode ({n_sectors:,} sectors): {model} point to point {how} (exact_geometry = {geometry!r})"
