"""Broadcast-style coverage: digital TV (DTMB) and 800 MHz trunking field strength on terrain.

Per transmitter of the chosen service, every cell within ``reach_km`` gets the basic
transmission loss L_b of its own terrain profile from ITU-R P.1812-6 or Longley-Rice ITM
point to point (:func:`citycov.engine.exact.exact_loss_window` on the window of the grid that
holds the reach disc: by default on the prefix profiles of a ray fan, each cell from its nearest
ray sample, or on each cell's own profile, ``geometry``), and the field strength

    E (dBµV/m) = EIRP (dBm) + G_rel (dB) − L_b (dB) + 20·log10(f / MHz) + 77.2193

where G_rel ≤ 0 is the antenna pattern relative to the main beam (omni, or the 3GPP sector
pattern from azimuth and beamwidths) and the last two terms convert the power an isotropic
antenna receives, EIRP + G_rel − L_b, into the field strength (S = E²/120π, A_e = λ²/4π;
:data:`citycov.engine._linkbudget_kernels.FIELD_STRENGTH_OFFSET_DB`).  For 1 kW e.r.p. (62.15 dBm
e.i.r.p.) this is P.1812's own E_p = 199.36 + 20·log10(f / GHz) − L_b (eq. 70) to 0.01 dB, and
in free space at 1 km it gives 106.92 dBµV/m.  Each cell keeps the strongest transmitter.

Everything after :mod:`citycov.io` is in the grid's projected CRS; a transmitter table in
another CRS is refused.  Azimuths are from true north and turned onto the grid by the
meridian convergence at the mast.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from tqdm import tqdm

from citycov.choices import EXACT_GEOMETRIES
from citycov.crs import grid_north_offset_deg
from citycov.engine import _linkbudget_kernels, _radio_kernels
from citycov.engine.antenna import sector_pattern_db
from citycov.engine.exact import DEFAULT_ITM, DEFAULT_P1812, ItmParams, P1812Params, Transmitter, exact_loss_window
from citycov.errors import CitycovWarning, CRSError, ModelError, RasterError, SiteTableError
from citycov.grid import GridSpec
from citycov.io.broadcast import SERVICES

MODELS = {
    "p1812": "ITU-R P.1812-6 point-to-area, delta-Bullington diffraction (citycov.propagation.p1812)",
    "itm": "Longley-Rice ITM v1.4 point to point (citycov.propagation.itm)",
}
"""Propagation models by name: the one place names resolve."""
P1812_POL = {"h": 1, "v": 2}
ITM_POL = {"h": 0, "v": 1}
"""Polarisation codes of each model (they differ: P.1812 1/2, ITM 0/1)."""
P1812_PERCENT = {"time_percent": (1.0, 50.0), "location_percent": (1.0, 99.0)}
ITM_PERCENT = {"time_percent": (0.1, 99.9), "location_percent": (0.1, 99.9)}
RX_HEIGHT_M = {"p1812": (1.0, 3000.0), "itm": (0.5, 3000.0)}
FRONT_TO_BACK_DB = 30.0
VERTICAL_SIDELOBE_DB = 30.0


@dataclass(frozen=True)
class BroadcastResult:
    """Strongest-transmitter field strength of one service over the grid.

    ``field_dbuv_m``: float32 (rows, cols), the strongest field strength (dBµV/m) over the
    service's transmitters, NaN where none reaches (beyond ``reach_km``, no terrain on the path,
    or outside ``active``).  ``rx_level_dbm``: float32, the power an isotropic (0 dBi) antenna
    receives from that same transmitter, E − 20·log10(f / MHz) − 77.2193 (the trunking presets'
    metric; add the terminal's gain and losses yourself).  ``best_tx``: int32, the row of
    ``transmitters`` serving each cell, −1 for none.  ``transmitters``: the service's
    transmitters on the grid with their ground heights (``ground_m``, m above sea level) and
    the cells each serves.  ``provenance``: plain data for reports (model, parameters, reach,
    conventions, transmitters dropped, runtime).
    """

    field_dbuv_m: np.ndarray
    rx_level_dbm: np.ndarray
    best_tx: np.ndarray
    transmitters: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)


def _effective_params(model: str, p1812: P1812Params, itm: ItmParams, time_percent: float,
                      location_percent: float) -> P1812Params | ItmParams:
    """The model's parameters with the percentages of the keywords; a conflicting value set in
    the parameter object (or a polarisation, which comes from the table) is an error."""
    if model == "p1812":
        given, names = p1812, {"time_percent": "time_percent", "location_percent": "location_percent"}
        defaults = DEFAULT_P1812
    else:
        given, names = itm, {"time_percent": "time", "location_percent": "location"}
        defaults = DEFAULT_ITM
    wanted = {"time_percent": time_percent, "location_percent": location_percent}
    problems = []
    for key, attr in names.items():
        value = getattr(given, attr)
        if value != getattr(defaults, attr) and value != wanted[key]:
            problems.append(f"{model}.{attr} = {value!r} contradicts {key} = {wanted[key]!r}; "
                            f"give the percentage once, as {key}=")
    if given.pol != defaults.pol:
        problems.append(f"{model}.pol = {given.pol!r} is not used: polarisation is set per transmitter "
                        "(the table's polarisation column, h or v)")
    if problems:
        raise ModelError("broadcast_coverage: " + "; ".join(problems))
    return dataclasses.replace(given, **{attr: float(wanted[key]) for key, attr in names.items()})


def _check_arguments(transmitters: gpd.GeoDataFrame, dem_m: np.ndarray, grid: GridSpec, *, service: str,
                     model: str, rx_height_m: float, reach_km: float, time_percent: float,
                     location_percent: float, active: np.ndarray | None, geometry: str = "radial") -> None:
    problems = []
    if geometry not in EXACT_GEOMETRIES:
        problems.append(f"geometry: unknown {geometry!r}; expected one of {list(EXACT_GEOMETRIES)}")
    if service not in SERVICES:
        problems.append(f"service: unknown {service!r}; expected one of {list(SERVICES)}")
    if model not in MODELS:
        problems.append(f"model: unknown {model!r}; expected one of {sorted(MODELS)}")
    else:
        lo, hi = RX_HEIGHT_M[model]
        if not (lo <= rx_height_m <= hi):
            problems.append(f"rx_height_m must be in [{lo:g}, {hi:g}] m for {model}, got {rx_height_m!r}")
        for name, value in (("time_percent", time_percent), ("location_percent", location_percent)):
            lo, hi = (P1812_PERCENT if model == "p1812" else ITM_PERCENT)[name]
            if not (lo <= value <= hi):
                problems.append(f"{name} must be in [{lo:g}, {hi:g}] % for {model}, got {value!r}")
    if not (reach_km > 0.0 and math.isfinite(reach_km)):
        problems.append(f"reach_km must be a positive number of km, got {reach_km!r}")
    if np.shape(dem_m) != grid.shape:
        problems.append(f"dem_m must have the grid's shape {grid.shape}, got {np.shape(dem_m)}")
    if active is not None and np.shape(active) != grid.shape:
        problems.append(f"active must have the grid's shape {grid.shape}, got {np.shape(active)}")
    if problems:
        raise ModelError("broadcast_coverage: " + "; ".join(problems))
    needed = ["tx_id", "service", "operator", "freq_mhz", "eirp_dbm", "height_m", "azimuth_deg", "h_beamwidth_deg",
              "v_beamwidth_deg", "downtilt_deg", "polarisation", "omni"]
    missing = [c for c in needed if c not in transmitters.columns]
    if missing:
        raise SiteTableError(f"broadcast_coverage: transmitters lack columns {missing}; read them with "
                             "citycov.io.broadcast.read_transmitters")
    if transmitters.crs is None or not pyproj.CRS(transmitters.crs).equals(grid.crs):
        found = "none" if transmitters.crs is None else pyproj.CRS(transmitters.crs).to_string()
        raise CRSError(f"broadcast_coverage: transmitters are in CRS {found}, the grid in "
                       f"{grid.crs.to_string()}; pass to_crs=grid.crs to read_transmitters")


def broadcast_coverage(transmitters: gpd.GeoDataFrame, dem_m: np.ndarray, grid: GridSpec, *, service: str,
                       model: str = "p1812", rx_height_m: float, reach_km: float, time_percent: float = 50.0,
                       location_percent: float = 50.0, p1812: P1812Params = DEFAULT_P1812,
                       itm: ItmParams = DEFAULT_ITM, active: np.ndarray | None = None, progress: bool = False,
                       front_to_back_db: float = FRONT_TO_BACK_DB,
                       vertical_sidelobe_db: float = VERTICAL_SIDELOBE_DB, geometry: str = "radial") -> BroadcastResult:
    """Strongest field strength of ``service``'s transmitters over ``grid`` on terrain.

    Parameters
    ----------
    transmitters
        Validated transmitters (:func:`citycov.io.broadcast.read_transmitters`) in ``grid.crs``;
        only the rows of ``service`` are used.  Transmitters outside the grid are dropped with a
        :class:`CitycovWarning` (their terrain is unknown) and listed in the provenance.
    dem_m
        Terrain on the grid, m above sea level (float32 or float64, NaN = no data: paths that
        touch it get no value).  Not modified.
    grid
        The analysis grid (projected, metres).
    service
        One of :data:`citycov.io.broadcast.SERVICES`.
    model
        ``"p1812"`` or ``"itm"`` (:data:`MODELS`).
    rx_height_m
        Receiving antenna height above ground, m (10 for rooftop TV, 1.5 for a hand-portable).
    reach_km
        Radius around each transmitter within which cells are evaluated, km.
    time_percent, location_percent
        Percentages of time and locations for which the loss is not exceeded (the field
        strength exceeded): P.1812 p 1-50 % and pL 1-99 %; ITM time and location 0.1-99.9 %.
        They replace the percentages of ``p1812`` / ``itm``; a different non-default value
        there is an error.
    p1812, itm
        The other model parameters (refractivity, zone, clutter; climate, ground constants,
        mdvar, situation).  Their ``pol`` is not used: each transmitter's ``polarisation``
        (h/v) is, converted to the model's code.  P.1812 takes the transmitter's latitude as
        the path-centre latitude.
    active
        Optional bool grid of the cells to keep (others stay NaN / −1); every cell's terrain
        still shapes the paths.
    progress
        Show a progress bar over transmitters.
    front_to_back_db, vertical_sidelobe_db
        3GPP pattern caps (A_m, SLA_V) for directional antennas and vertical patterns.
    geometry
        ``"radial"`` (the model on the prefix profiles of a ray fan, one sample per cell and one
        ray per perimeter cell, each cell from its nearest ray sample) or ``"cell"`` (each cell's
        own profile, the reference); :data:`citycov.choices.EXACT_GEOMETRIES`.

    Returns
    -------
    BroadcastResult

    Raises
    ------
    ModelError
        Unknown service or model, or an argument outside the model's domain (all listed).
    SiteTableError
        No transmitter of ``service`` in the table, or columns missing.
    CRSError
        Transmitters not in the grid's CRS.
    RasterError
        No terrain under a transmitter (NaN DEM there); names the transmitters.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd, pyproj
    >>> from citycov.grid import GridSpec
    >>> grid = GridSpec.from_bounds((500_000, 2_550_000, 504_000, 2_554_000), cell_m=200.0,
    ...                             crs=pyproj.CRS("EPSG:32649"))
    >>> tx = gpd.GeoDataFrame({"tx_id": ["T1"], "service": ["dtv"], "operator": ["X"], "freq_mhz": [600.0],
    ...     "eirp_dbm": [62.15], "height_m": [100.0], "azimuth_deg": [np.nan],
    ...     "h_beamwidth_deg": [np.nan], "v_beamwidth_deg": [np.nan], "downtilt_deg": [np.nan],
    ...     "polarisation": ["h"], "omni": [True]},
    ...     geometry=gpd.points_from_xy([502_100.0], [2_552_100.0]), crs="EPSG:32649")
    >>> res = broadcast_coverage(tx, np.full(grid.shape, 5.0, np.float32), grid, service="dtv",
    ...                          rx_height_m=10.0, reach_km=2.0)
    >>> res.field_dbuv_m.dtype, int(res.best_tx.max())
    (dtype('float32'), 0)
    """
    started = time.perf_counter()
    _check_arguments(transmitters, dem_m, grid, service=service, model=model, rx_height_m=rx_height_m,
                     reach_km=reach_km, time_percent=time_percent, location_percent=location_percent,
                     active=active, geometry=geometry)
    params = _effective_params(model, p1812, itm, time_percent, location_percent)
    dem_k = np.ascontiguousarray(dem_m, dtype=np.float64 if np.asarray(dem_m).dtype == np.float64 else np.float32)
    on_grid = _on_grid(transmitters, dem_k, grid, service)
    best, best_tx = _strongest(on_grid, dem_k, grid, model=model, params=params, rx_height_m=rx_height_m,
                               reach_km=reach_km, active=active, progress=progress, service=service,
                               front_to_back_db=front_to_back_db, vertical_sidelobe_db=vertical_sidelobe_db,
                               geometry=geometry)
    t = on_grid
    n = len(t.table)
    served = best_tx >= 0
    level = np.full(grid.shape, np.nan, dtype=np.float32)
    level[served] = (best[served] - 20.0 * np.log10(t.freq[best_tx[served]])
                     - _linkbudget_kernels.FIELD_STRENGTH_OFFSET_DB)
    out_table = _transmitter_table(t, np.bincount(best_tx[served], minlength=n))
    provenance = {
        "service": service,
        "model": model,
        "model_reference": MODELS[model],
        "geometry": geometry,
        "parameters": {k: v for k, v in asdict(params).items() if k != "pol"},
        "polarisation": "per transmitter (h/v column); P.1812 codes 1/2, ITM 0/1",
        "time_percent": float(time_percent),
        "location_percent": float(location_percent),
        "rx_height_m": float(rx_height_m),
        "reach_km": float(reach_km),
        "cell_m": grid.cell_m,
        "field_strength": ("E = EIRP + G_rel - Lb + 20 log10(f/MHz) + 77.2193 dBuV/m (isotropic receiving antenna; "
                           "1 kW e.r.p. = 62.15 dBm e.i.r.p.)"),
        "antenna": (f"omni or 3GPP sector pattern (front-to-back {front_to_back_db:g} dB); vertical pattern only "
                    f"where v_beamwidth_deg is given (side-lobe cap {vertical_sidelobe_db:g} dB)"),
        "path_latitude": "P.1812 path-centre latitude = the transmitter's" if model == "p1812" else None,
        "min_path_km": _radio_kernels.MIN_DIST_KM,
        "transmitters": n,
        "dropped_outside": t.dropped,
        "runtime_s": round(time.perf_counter() - started, 3),
    }
    return BroadcastResult(field_dbuv_m=best, rx_level_dbm=level, best_tx=best_tx, transmitters=out_table,
                           provenance=provenance)


def _transmitter_table(t: _OnGrid, served_cells: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "tx_index": np.arange(len(t.table)), "tx_id": t.table["tx_id"].to_numpy(),
        "operator": t.table["operator"].to_numpy(),
        "service": t.table["service"].to_numpy(), "freq_mhz": t.freq, "eirp_dbm": np.round(t.eirp, 2),
        "height_m": t.height, "ground_m": np.round(t.ground, 1), "antenna_amsl_m": np.round(t.ground + t.height, 1),
        "polarisation": t.pol, "omni": t.omni, "azimuth_deg": t.table["azimuth_deg"].to_numpy(dtype=np.float64),
        "x_m": t.x, "y_m": t.y, "lon": np.round(t.lon, 6), "lat": np.round(t.lat, 6), "served_cells": served_cells,
    })


@dataclass(frozen=True)
class _OnGrid:
    """The service's transmitters on the grid, as arrays."""

    table: pd.DataFrame
    dropped: list[str]
    x: np.ndarray
    y: np.ndarray
    row_f: np.ndarray
    col_f: np.ndarray
    ground: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    freq: np.ndarray
    eirp: np.ndarray
    height: np.ndarray
    azimuth_grid: np.ndarray
    omni: np.ndarray
    hbw: np.ndarray
    vbw: np.ndarray
    tilt: np.ndarray
    pol: np.ndarray


def _on_grid(transmitters: gpd.GeoDataFrame, dem_k: np.ndarray, grid: GridSpec, service: str) -> _OnGrid:
    """The transmitters of ``service`` on the grid (those outside dropped with a warning), with
    their ground heights, geographic positions and grid azimuths."""
    of_service = transmitters[transmitters["service"].to_numpy() == service]
    if of_service.empty:
        found = sorted({str(s) for s in transmitters["service"].to_numpy()})
        raise SiteTableError(f"broadcast_coverage: no transmitters of service {service!r} (found {found})")
    x_all = of_service.geometry.x.to_numpy()
    y_all = of_service.geometry.y.to_numpy()
    r_int, c_int = grid.rowcol(x_all, y_all)
    inside = grid.contains(r_int, c_int)
    dropped = [str(t) for t in of_service["tx_id"].to_numpy()[~inside]]
    if dropped:
        warnings.warn(f"{len(dropped)} {service} transmitters outside the analysis grid were dropped "
                      f"(first: {dropped[:5]}); their terrain is unknown", CitycovWarning, stacklevel=3)
    if not inside.any():
        raise SiteTableError(f"broadcast_coverage: none of the {len(dropped)} {service} transmitters lies on the "
                             f"analysis grid (bounds {tuple(round(b) for b in grid.bounds)}, {grid.crs.to_string()})")
    table = of_service.loc[inside].reset_index(drop=True)
    x, y = x_all[inside], y_all[inside]
    row_f, col_f = grid.fractional_rowcol(x, y)
    ground = np.array([_radio_kernels.bilinear(dem_k, float(row_f[i]), float(col_f[i])) for i in range(len(table))])
    if np.isnan(ground).any():
        bad = [str(t) for t in table["tx_id"].to_numpy()[np.isnan(ground)]]
        raise RasterError(f"terrain: no elevation under transmitters {bad[:10]} (NaN DEM there, or within half a "
                          "cell of the grid edge); the DEM must cover every transmitter")
    to_geo = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True)
    lon, lat = (np.asarray(a, dtype=np.float64) for a in to_geo.transform(x, y))
    north = grid_north_offset_deg(x, y, grid.crs)
    return _OnGrid(
        table=table, dropped=dropped, x=x, y=y, row_f=row_f, col_f=col_f, ground=ground, lon=lon, lat=lat,
        freq=table["freq_mhz"].to_numpy(dtype=np.float64), eirp=table["eirp_dbm"].to_numpy(dtype=np.float64),
        height=table["height_m"].to_numpy(dtype=np.float64),
        azimuth_grid=np.nan_to_num(table["azimuth_deg"].to_numpy(dtype=np.float64), nan=0.0) + north,
        omni=table["omni"].to_numpy(dtype=bool), hbw=table["h_beamwidth_deg"].to_numpy(dtype=np.float64),
        vbw=table["v_beamwidth_deg"].to_numpy(dtype=np.float64),
        tilt=np.nan_to_num(table["downtilt_deg"].to_numpy(dtype=np.float64), nan=0.0),
        pol=table["polarisation"].to_numpy())


_POL_CODES = {"p1812": P1812_POL, "itm": ITM_POL}
"""Per model: the kernel's polarisation code of each table value."""


def _strongest(t: _OnGrid, dem_k: np.ndarray, grid: GridSpec, *, model: str, params: P1812Params | ItmParams,
               rx_height_m: float, reach_km: float, active: np.ndarray | None, progress: bool, service: str,
               front_to_back_db: float, vertical_sidelobe_db: float, geometry: str) -> tuple[np.ndarray, np.ndarray]:
    """Strongest field strength (dBµV/m, float32) and its transmitter (int32, −1 none) per cell."""
    rows, cols = grid.shape
    cell_m = grid.cell_m
    reach_cells = 1000.0 * reach_km / cell_m
    best = np.full(grid.shape, np.nan, dtype=np.float32)
    best_tx = np.full(grid.shape, -1, dtype=np.int32)
    active_b = None if active is None else np.asarray(active, dtype=bool)
    active_u8 = None if active is None else np.ascontiguousarray(active_b, dtype=np.uint8)  # once, for the kernels
    for i in tqdm(range(len(t.table)), desc=f"{service} transmitters", unit="tx", disable=not progress):
        r_lo = max(0, int(math.floor(t.row_f[i] - reach_cells)))
        r_hi = min(rows - 1, int(math.ceil(t.row_f[i] + reach_cells)))
        c_lo = max(0, int(math.floor(t.col_f[i] - reach_cells)))
        c_hi = min(cols - 1, int(math.ceil(t.col_f[i] + reach_cells)))
        loss = np.full((r_hi - r_lo + 1, c_hi - c_lo + 1), np.nan)
        tx = Transmitter(float(t.row_f[i]), float(t.col_f[i]), cell_m, float(t.height[i]), float(rx_height_m),
                         float(t.freq[i]))
        exact_loss_window(dem_k, tx, params.kernel_params(pol=_POL_CODES[model][t.pol[i]]), model=model,
                          geometry=geometry, reach_cells=reach_cells, win_row0=r_lo, win_col0=c_lo, out_loss_db=loss,
                          lat_deg=float(t.lat[i]), active=active_u8)
        win = (slice(r_lo, r_hi + 1), slice(c_lo, c_hi + 1))
        gain = _relative_gain_db(dem_k[win], r_lo, c_lo, t.row_f[i], t.col_f[i], t.ground[i] + t.height[i], cell_m,
                                 rx_height_m, t.azimuth_grid[i], bool(t.omni[i]), t.hbw[i], t.vbw[i], t.tilt[i],
                                 front_to_back_db, vertical_sidelobe_db)
        e_field = _linkbudget_kernels.field_strength_ufunc(t.eirp[i] + gain - loss, t.freq[i])
        cur = best[win]
        better = np.isfinite(e_field) & ~(e_field <= cur)  # NaN in cur: the first value wins
        if active_b is not None:
            better &= active_b[win]
        cur[better] = e_field[better]
        best_tx[win][better] = i
    return best, best_tx


def _relative_gain_db(dem_win: np.ndarray, r_lo: int, c_lo: int, row0: float, col0: float, z_tx_m: float,
                      cell_m: float, rx_height_m: float, azimuth_grid_deg: float, omni: bool, hbw_deg: float,
                      vbw_deg: float, tilt_deg: float, front_to_back_db: float,
                      vertical_sidelobe_db: float) -> np.ndarray | float:
    """Antenna gain relative to the main beam (dB, ≤ 0) towards every cell of a window.

    Omni without a vertical pattern: 0.  Otherwise the 3GPP pattern of
    :func:`citycov.engine.antenna.sector_pattern_db`, from the grid azimuth of each cell and its
    elevation below the horizon, atan((z_tx − z_cell − h_rx) / d) (d ≥ the 20 m shortest path);
    a blank vertical beamwidth gives no vertical attenuation.
    """
    if omni and not np.isfinite(vbw_deg):
        return 0.0
    dr = (np.arange(dem_win.shape[0], dtype=np.float64) + r_lo - row0)[:, None]
    dc = (np.arange(dem_win.shape[1], dtype=np.float64) + c_lo - col0)[None, :]
    d_m = np.maximum(np.hypot(dr, dc) * cell_m, _radio_kernels.MIN_DIST_KM * 1000.0)
    az_deg = np.degrees(np.arctan2(dc, -dr))
    elev_deg = np.degrees(np.arctan2(z_tx_m - dem_win.astype(np.float64) - rx_height_m, d_m))
    return sector_pattern_db(az_deg - azimuth_grid_deg, elev_deg, tilt_deg=tilt_deg,
                             h_beamwidth_deg=hbw_deg if not omni else 360.0,
                             v_beamwidth_deg=vbw_deg if np.isfinite(vbw_deg) else np.inf,
                             omni=omni, front_to_back_db=front_to_back_db,
                             vertical_sidelobe_db=vertical_sidelobe_db)
