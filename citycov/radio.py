"""The coverage engine: sector tables and a DEM in, best-server level rasters out.

Per sector: EIRP of the reference signal + 3GPP antenna pattern − (empirical median loss
+ terrain knife-edge loss).  The empirical model is chosen by band (``"auto"``):
Okumura-Hata for 150-1500 MHz, COST-231 Hata for 1500-2000 MHz and TR 38.901 (UMa in
urban classes, RMa elsewhere, NLOS) above 2000 MHz.  The environment class of each cell
(dense urban / urban / suburban / open) comes from the population density, because the
default has no clutter raster.

Terrain enters as one knife edge per receiver: the radio horizon of the receiver's radial
(running maximum of the elevation slope, earth curvature with effective radius factor k),
shared by every cell along the radial instead of being rescanned per cell.  The loss added
is J(ν) of that edge minus J(ν) of the same geometry over smooth earth, floored at 0, so
flat ground adds nothing to the empirical model (which already includes average ground)
and a ridge adds up to its full knife-edge loss.  This is the first-version LOS/NLOS
obstruction model; multi-edge diffraction is for the propagation library.

Levels are the per-reference-signal received power: RSRP (4G, per resource element),
SS-RSRP (5G) and CPICH RSCP (3G).
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from tqdm import tqdm

from citycov import _radio_kernels as K
from citycov.config import TECHNOLOGIES, RadioConfig, WlanConfig
from citycov.errors import CitycovWarning, ModelError, RasterError
from citycov.grid import GridSpec
from citycov.propagation.free_space import fspl_db

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_000.0
TECH_INDEX = {t: i for i, t in enumerate(TECHNOLOGIES)}
MODEL_CODES = {"okumura_hata": K.MODEL_OKUMURA_HATA, "cost231_hata": K.MODEL_COST231,
               "tr38901": K.MODEL_TR38901}
MODEL_FREQ_MHZ = {"okumura_hata": (150.0, 1500.0), "cost231_hata": (1500.0, 2000.0),
                  "tr38901": (500.0, 100_000.0)}
SUBCARRIER_KHZ = {"4G": 15.0, "5G": 30.0}
OCCUPANCY = {"4G": 0.9, "5G": 0.98}
CPICH_FRACTION_DB = -10.0
"""3G: the pilot (CPICH) carries 10% of the cell power, the usual planning assumption."""
ENV_CLASSES = ("dense_urban", "urban", "suburban", "open")


@dataclass(frozen=True)
class CellularResult:
    """Best-server rasters and the sector table they index.

    ``best_dbm``: float32 (3, rows, cols), one band per technology in ``TECHNOLOGIES``
    order, NaN where no sector reaches ``floor_dbm``.  ``best_sector``: int32, same shape,
    the row of ``sectors`` serving each cell, −1 for none.
    """

    best_dbm: np.ndarray
    best_sector: np.ndarray
    sectors: pd.DataFrame
    dropped_outside: int
    extrapolation: tuple[str, ...] = ()
    cover_bits: np.ndarray | None = None
    networks: tuple[tuple[str, str], ...] = ()
    """(operator, technology) of each bit of ``cover_bits``."""

    def network_mask(self, operator: str | None, technology: str) -> np.ndarray:
        """Bool grid: covered (at the nominal threshold) by ``technology`` of ``operator``
        (``None``: any operator)."""
        bits = np.uint64(0)
        for k, (op, tech) in enumerate(self.networks):
            if tech == technology and (operator is None or op == operator):
                bits |= np.uint64(1) << np.uint64(k)
        return (self.cover_bits & bits) != 0


def reference_signal_offset_db(technology: np.ndarray, bandwidth_mhz: np.ndarray) -> np.ndarray:
    """dB from total EIRP to the reference signal: −10·log10(subcarriers) for 4G/5G, −10 dB for 3G.

    Subcarriers = 12 · floor(occupancy · bandwidth / (12 · spacing)), giving 1200 for
    LTE 20 MHz and 3264 for NR 100 MHz at 30 kHz.
    """
    out = np.full(len(technology), CPICH_FRACTION_DB)
    for tech in ("4G", "5G"):
        sel = technology == tech
        n_rb = np.floor(OCCUPANCY[tech] * bandwidth_mhz[sel] * 1e3 / (12.0 * SUBCARRIER_KHZ[tech]))
        out[sel] = -10.0 * np.log10(np.maximum(12.0 * n_rb, 1.0))
    return out


def select_models(freq_mhz: np.ndarray, model: str, *, sector_ids: np.ndarray) -> np.ndarray:
    """Model code per sector; ``"auto"`` picks by band.  Refuses frequencies outside a forced model."""
    if model == "auto":
        return np.where(freq_mhz <= 1500.0, K.MODEL_OKUMURA_HATA,
                        np.where(freq_mhz <= 2000.0, K.MODEL_COST231, K.MODEL_TR38901)).astype(np.int64)
    if model not in MODEL_CODES:
        raise ModelError(f"unknown radio model {model!r}; expected one of {[*sorted(MODEL_CODES), 'auto']}")
    lo, hi = MODEL_FREQ_MHZ[model]
    bad = (freq_mhz < lo) | (freq_mhz > hi)
    if bad.any():
        raise ModelError(f"[radio].model = {model!r} covers {lo:g}-{hi:g} MHz but sectors "
                         f"{[str(s) for s in sector_ids[bad][:10]]} use {sorted(set(freq_mhz[bad].tolist()))[:5]} MHz; "
                         "use model = \"auto\"")
    return np.full(freq_mhz.shape, MODEL_CODES[model], dtype=np.int64)


def environment_classes(population: np.ndarray, grid: GridSpec, thresholds: dict[str, float]) -> np.ndarray:
    """Environment class per cell from residents per km²: 0 dense urban, 1 urban, 2 suburban, 3 open."""
    density = population / grid.cell_area_km2
    env = np.full(population.shape, 3, dtype=np.int64)
    env[density >= thresholds["suburban"]] = 2
    env[density >= thresholds["urban"]] = 1
    env[density >= thresholds["dense_urban"]] = 0
    return env


def _grid_north_offset_deg(x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Grid azimuth of true north at each point (meridian convergence), degrees."""
    to_geo = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    to_grid = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    lon, lat = to_geo.transform(x, y)
    xn, yn = to_grid.transform(lon, np.asarray(lat) + 0.001)
    return np.degrees(np.arctan2(np.asarray(xn) - x, np.asarray(yn) - y))


def _inside(grid: GridSpec, x: np.ndarray, y: np.ndarray, what: str, ids: np.ndarray) -> np.ndarray:
    row, col = grid.rowcol(x, y)
    inside = grid.contains(row, col)
    if (~inside).any():
        warnings.warn(f"{(~inside).sum()} {what} outside the analysis grid were dropped "
                      f"(first: {[str(i) for i in ids[~inside][:5]]})", CitycovWarning, stacklevel=3)
    return inside


def cellular_coverage(sectors: gpd.GeoDataFrame, dem_m: np.ndarray, env: np.ndarray, grid: GridSpec,
                      radio: RadioConfig, *, progress: bool = True) -> CellularResult:
    """Best-server reference-signal level per technology over ``grid``.

    Parameters
    ----------
    sectors
        Validated sectors (``citycov.io.read_sectors``) in ``grid.crs``.
    dem_m
        Terrain on the grid (float32 metres, NaN = no data; those cells stay uncovered).
    env
        Environment class per cell (int, 0..3), see :func:`environment_classes`.
    """
    x = sectors.geometry.x.to_numpy()
    y = sectors.geometry.y.to_numpy()
    ids = sectors["sector_id"].to_numpy()
    inside = _inside(grid, x, y, "sectors", ids)
    table = sectors.loc[inside].reset_index(drop=True)
    x, y = x[inside], y[inside]
    n = len(table)
    tech = table["technology"].to_numpy()
    freq = table["freq_mhz"].to_numpy(dtype=np.float64)
    height = table["height_m"].to_numpy(dtype=np.float64)
    models = select_models(freq, radio.model, sector_ids=table["sector_id"].to_numpy())
    ref_eirp = table["eirp_dbm"].to_numpy(dtype=np.float64) + reference_signal_offset_db(
        tech, table["bandwidth_mhz"].to_numpy(dtype=np.float64))
    reach_m = np.array([
        [1000.0 * K.reach_km(models[i], freq[i], height[i], radio.rx_height_m, ref_eirp[i] - radio.floor_dbm,
                             radio.max_range_km, e) for e in range(len(ENV_CLASSES))]
        for i in range(n)]).reshape(n, len(ENV_CLASSES))
    north = _grid_north_offset_deg(x, y, grid.crs) if n else np.zeros(0)
    azimuth_grid = np.nan_to_num(table["azimuth_deg"].to_numpy(dtype=np.float64), nan=0.0) + north
    row_f, col_f = grid.fractional_rowcol(x, y)
    z_ground = np.array([K.bilinear(dem_m, row_f[i], col_f[i]) for i in range(n)])
    if np.isnan(z_ground).any():
        bad = table["sector_id"].to_numpy()[np.isnan(z_ground)]
        raise RasterError(f"terrain: no elevation under sectors {[str(b) for b in bad[:10]]}; "
                          "the DEM must cover every site")
    extrapolation = model_extrapolation(models, height, reach_m)
    for text in extrapolation:
        log.info("model extrapolation: %s", text)

    rows, cols = grid.shape
    best_dbm = np.full((len(TECHNOLOGIES), rows, cols), np.nan, dtype=np.float32)
    best_sector = np.full((len(TECHNOLOGIES), rows, cols), -1, dtype=np.int32)
    dem64 = np.ascontiguousarray(dem_m, dtype=np.float64)
    env64 = np.ascontiguousarray(env, dtype=np.int64)
    k_re = radio.k_factor * EARTH_RADIUS_M
    tech_idx = np.array([TECH_INDEX[t] for t in tech], dtype=np.int64)
    tilt = table["downtilt_deg"].to_numpy(dtype=np.float64)
    hbw = table["h_beamwidth_deg"].to_numpy(dtype=np.float64)
    vbw = table["v_beamwidth_deg"].to_numpy(dtype=np.float64)
    omni = table["omni"].to_numpy(dtype=np.bool_)
    operators = table["operator"].to_numpy()
    networks = tuple(sorted({(str(o), str(t)) for o, t in zip(operators, tech, strict=True)}))
    if len(networks) > 64:
        raise ModelError(f"{len(networks)} operator x technology networks; at most 64 are supported")
    bit_of = {net: k for k, net in enumerate(networks)}
    s_bit = np.array([bit_of[(str(o), str(t))] for o, t in zip(operators, tech, strict=True)], dtype=np.int64)
    s_thr = np.array([radio.threshold_dbm[t] for t in tech], dtype=np.float64)
    cover_bits = np.zeros((rows, cols), dtype=np.uint64)
    groups = table.groupby([table["site_id"], np.round(height, 1)], sort=False).indices
    for idx in tqdm(list(groups.values()), desc="cellular sites", unit="site", disable=not progress,
                    mininterval=1.0):
        idx = np.asarray(idx, dtype=np.int64)
        i0 = idx[0]
        reach_cells = float(reach_m[idx].max()) / grid.cell_m
        n_steps = max(1, int(math.ceil(reach_cells)))
        n_rays = max(16, int(math.ceil(2.0 * math.pi * reach_cells)))
        z_tx = z_ground[i0] + height[i0]
        slope, dist = K.horizon_fan(dem64, row_f[i0], col_f[i0], z_tx, grid.cell_m, n_rays, n_steps, k_re)
        K.site_coverage(dem64, env64, row_f[i0], col_f[i0], z_ground[i0], z_tx, grid.cell_m, radio.rx_height_m, k_re,
                        slope, dist, models[idx], freq[idx], height[idx], ref_eirp[idx], azimuth_grid[idx],
                        omni[idx], tilt[idx], hbw[idx], vbw[idx], reach_m[idx], tech_idx[idx], idx,
                        radio.front_to_back_db, radio.vertical_sidelobe_db, radio.floor_dbm,
                        best_dbm, best_sector, s_bit[idx], s_thr[idx], cover_bits)
    names = {v: k for k, v in MODEL_CODES.items()}
    out_table = pd.DataFrame({
        "sector_index": np.arange(n), "sector_id": table["sector_id"].to_numpy(),
        "site_id": table["site_id"].to_numpy(), "operator": table["operator"].to_numpy(),
        "technology": tech, "freq_mhz": freq, "model": [names[m] for m in models],
        "ref_signal_eirp_dbm": np.round(ref_eirp, 2),
        "reach_urban_km": np.round(reach_m[:, 1] / 1000.0, 3), "reach_open_km": np.round(reach_m[:, 3] / 1000.0, 3),
        "ground_m": np.round(z_ground, 1),
    })
    return CellularResult(best_dbm=best_dbm, best_sector=best_sector, sectors=out_table,
                          dropped_outside=int((~inside).sum()), extrapolation=extrapolation,
                          cover_bits=cover_bits, networks=networks)


def model_extrapolation(models: np.ndarray, height_m: np.ndarray, reach_m: np.ndarray) -> tuple[str, ...]:
    """Describe where the engine evaluates models outside their published domain.

    The engine opts into extrapolation explicitly (it calls the kernels, not the checked
    public functions); this text goes into every report's provenance.
    """
    notes = []
    hata = models != K.MODEL_TR38901
    if hata.any():
        notes.append(f"Okumura-Hata/COST-231 ({int(hata.sum())} sectors) are evaluated below their 1 km minimum "
                     "distance for the cells next to each mast")
        low = hata & ((height_m < 30.0) | (height_m > 200.0))
        if low.any():
            notes.append(f"{int(low.sum())} Hata-family sectors have antenna heights outside Hata's 30-200 m "
                         f"domain ({height_m[low].min():g}-{height_m[low].max():g} m); the formula is extrapolated")
    tr = models == K.MODEL_TR38901
    if tr.any():
        far = tr & (reach_m.max(axis=1) > 5000.0)
        beyond = f", and {int(far.sum())} of them beyond the 5 km NLOS maximum" if far.any() else ""
        notes.append(f"TR 38.901 ({int(tr.sum())} sectors) is evaluated below its 10 m minimum distance next to "
                     f"each mast{beyond}")
    return tuple(notes)


def wlan_coverage(aps: gpd.GeoDataFrame, valid: np.ndarray, grid: GridSpec, wlan: WlanConfig) -> np.ndarray:
    """Best WLAN level (dBm, float32, NaN = none) per cell with the log-distance model of ``wlan``.

    Reach of each access point: where the level falls to the threshold, capped at
    ``wlan.max_range_m``.
    """
    x = aps.geometry.x.to_numpy()
    y = aps.geometry.y.to_numpy()
    inside = _inside(grid, x, y, "WLAN access points", aps["ap_id"].to_numpy())
    freq = aps["freq_mhz"].to_numpy(dtype=np.float64)[inside]
    eirp = aps["eirp_dbm"].to_numpy(dtype=np.float64)[inside]
    l1m = np.array([fspl_db(f, 0.001) for f in freq])
    reach = np.minimum(10.0 ** ((eirp - wlan.threshold_dbm - l1m) / (10.0 * wlan.path_loss_exponent)),
                       wlan.max_range_m)
    row_f, col_f = grid.fractional_rowcol(x[inside], y[inside])
    best = np.full(grid.shape, np.nan, dtype=np.float32)
    K.wlan_coverage(row_f, col_f, aps["height_m"].to_numpy(dtype=np.float64)[inside], eirp, freq, reach,
                    grid.cell_m, wlan.rx_height_m, wlan.path_loss_exponent, valid, best)
    return best
