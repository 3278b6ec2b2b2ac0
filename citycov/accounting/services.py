"""Service coverage: a service definition (a radio preset) in a reception environment, from the
engine's outdoor rasters.

The engine (:mod:`citycov.engine.cellular`) predicts median levels for a handset outdoors.  A service
definition (:mod:`citycov.presets.radio`) asks for a level, a field strength or a speed at a
cell-edge probability p, in environments that add a loss L_env (dB) and a spread σ_env (dB).
Every function here is pure NumPy over rasters; arguments are validated at the edge and every
bad one is listed in one :class:`~citycov.errors.ModelError` (numbers and arrays) or
:class:`~citycov.errors.ScenarioError` (a preset that lacks what a call needs).

Margin (log-normal shadowing; independent terms, so the variances add)
    M = z·√(σ² + σ_env²),  z = Φ⁻¹(p)  (``statistics.NormalDist``; z(0.9) = 1.2816)

    σ is the outdoor shadowing per cell (the scenario's ``shadow_sigma_db`` by environment
    class), σ_env the environment's ``extra_sigma_db`` (in-vehicle: 5 dB, 3GPP TR 38.901
    §7.4.3.2).  This is the single-location (cell-edge) probability, as in
    :func:`citycov.engine.linkbudget.cell_edge_margin_db`.

Level and field-strength metrics (RSRP, RSCP, received level in dBm; field strength in dBµV/m)
    covered ⇔ X − L_env ≥ threshold + M;  NaN (no server) is never covered.

Speed metric (FCC BDC style: download and upload minima)
    The engine stores, for the serving carrier, the reference-signal level S and
    SINR = S / (I + N), I = loading·Σ others, N the noise in the level's bandwidth
    (:func:`citycov.engine.linkbudget.carrier_noise_dbm`: one subcarrier for 4G/5G RSRP).  Inside the
    environment the wanted signal is lowered by L_env + M and the interference by L_env only
    (the vehicle or building attenuates every sector; the shadow-fading margin is the serving
    path's).  With the interference share f = I/(I + N) = max(1 − N·SINR/S, 0) and
    k = loading / engine loading::

        SINR' = S' / (I' + N),  S' = S·10^(−(L_env + M)/10),  I' = k·I·10^(−L_env/10)
              = SINR − L_env − M − 10·log10(1 + f·(k·10^(−L_env/10) − 1))      (dB)

    With L_env = M = 0 and k = 1 the last term is exactly 0: SINR' = SINR.
    Downlink: SE_dl(SINR')·B, the attenuated Shannon bound of 3GPP TR 36.942 Annex A.2
    (SE = α·log2(1 + SINR), 0 below SINR_min, at most SE_max; downlink α = 0.6, −10 dB,
    4.4 bit/s/Hz).  Uplink (UE power-limited, over the coupling loss CL = reference EIRP − S
    of the serving sector, raised by L_env + M)::

        SINR_ul = P_UE + G_BS − (CL + L_env + M) − (−174 + 10·log10(B_ul·1e6) + NF_BS + IM_ul)
        up = SE_ul(SINR_ul)·B_ul,  B_ul = min(B, ul_bandwidth_max_mhz)   (uplink α = 0.4, −10 dB, 2.0)

    with :func:`citycov.engine.linkbudget.uplink_budget`, as the engine's outdoor rasters
    (:class:`citycov.engine.linkbudget.LinkRasters`).
    covered ⇔ down ≥ min_down and up ≥ min_up.

Building entry loss
    ITU-R P.2109 (statistical, 80 MHz–100 GHz): :func:`indoor_loss_db` is the loss not exceeded
    with the given probability, for traditional or thermally efficient buildings.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from citycov.choices import INDOOR_BUILDING_CLASSES, TECHNOLOGIES
from citycov.engine.linkbudget import LinkParams, ShannonParams, carrier_noise_dbm, spectral_efficiency, uplink_budget
from citycov.errors import ModelError, ScenarioError, raise_problems
from citycov.presets.radio import RadioPreset
from citycov.propagation.p2109 import P2109_FREQ_GHZ, p2109_building_entry_loss_db

MARGIN_FORMULA = ("M = z·√(σ² + σ_env²), z = Φ⁻¹(p): log-normal shadowing at the cell-edge probability p; "
                  "σ the outdoor shadowing per cell, σ_env the environment's extra_sigma_db")
LEVEL_RULE = "covered ⇔ level − extra_loss_db ≥ threshold + M (NaN level: not covered)"
SPEED_RULE = ("SINR' = S'/(I' + N) with S' = S − extra_loss_db − M and I' = I + 10·log10(loading/engine loading) "
              "− extra_loss_db (dB), I = S/SINR − N (linear, ≥ 0) from the engine's rasters; "
              "down = SE_dl(SINR')·B (TR 36.942 A.2); "
              "up = SE_ul(P_UE + G_BS − (CL + extra_loss_db + M) − N_BS − IM_ul)·min(B, B_ul,max); "
              "covered ⇔ down ≥ min_down_mbps and up ≥ min_up_mbps")
P2109_BUILDING_CODES = dict(zip(INDOOR_BUILDING_CLASSES, (1, 2), strict=True))
"""ITU-R P.2109 building-type code of each class (1 traditional, 2 thermally efficient)."""
"""ITU-R P.2109 building classes (Table 1): 1 traditional, 2 thermally efficient."""
_LINK_FIELDS = ("loading", "noise_figure_db", "downlink", "uplink", "ue_eirp_dbm", "bs_gain_dbi",
                "bs_noise_figure_db", "ul_interference_margin_db", "ul_bandwidth_max_mhz")


# --------------------------------------------------------------------------------------------
# validation helpers


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _number(name: str, value: Any, problems: list[str], *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number in the given range; NaN (and a problem) otherwise."""
    ok = _is_number(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = not ((lo is not None and (v <= lo if lo_open else v < lo))
                  or (hi is not None and (v >= hi if hi_open else v > hi)))
    if not ok:
        problems.append(f"{name} must be a finite number in {_interval(lo, hi, lo_open, hi_open)}, got {value!r}")
        return math.nan
    return float(value)


def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"{'(' if lo_open or lo is None else '['}{lo_s}, {hi_s}{')' if hi_open or hi is None else ']'}"


def _array(name: str, value: Any, problems: list[str], *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, allow_nan: bool = False) -> np.ndarray:
    """``value`` as float64; values that are ±inf, out of range, or NaN (unless ``allow_nan``) are problems."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(f"{name} must be a number or an array of numbers, got {type(value).__name__}")
        return np.full((), np.nan)
    nan = np.isnan(arr)
    bad = np.isinf(arr) | (np.zeros_like(nan) if allow_nan else nan)
    with np.errstate(invalid="ignore"):
        if lo is not None:
            bad |= (arr <= lo) if lo_open else (arr < lo)
        if hi is not None:
            bad |= arr > hi
    if bad.any():
        what = "finite or NaN" if allow_nan else "finite"
        rng = "" if lo is None and hi is None else f" in {_interval(lo, hi, lo_open, False)}"
        problems.append(f"{name} must be {what}{rng}, got {np.unique(arr[bad])[:5].tolist()}")
    return arr


def _fits(shape: tuple[int, ...], reference: str, named: dict[str, np.ndarray], problems: list[str]) -> None:
    """Each array must broadcast to ``shape`` (the raster shape of ``reference``)."""
    for name, arr in named.items():
        try:
            fits = np.broadcast_shapes(arr.shape, shape) == shape
        except ValueError:
            fits = False
        if not fits:
            problems.append(f"{name} has shape {arr.shape}, which does not broadcast to the shape {shape} "
                            f"of {reference}")


def _probability(name: str, value: Any, problems: list[str]) -> float:
    return _number(name, value, problems, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def _summary(value: float | np.ndarray) -> float | dict[str, float]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    finite = arr[np.isfinite(arr)]
    return {"min": float(finite.min()), "max": float(finite.max())} if finite.size else {"min": math.nan,
                                                                                         "max": math.nan}


def _finish(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------------------------
# margin and threshold rules


def environment_margin_db(probability: float, sigma_db: Any, extra_sigma_db: Any = 0.0) -> float | np.ndarray:
    """Margin (dB) over the median that a level is exceeded with ``probability`` at one location:
    z·√(σ² + σ_env²), z = Φ⁻¹(probability).

    ``sigma_db`` is the outdoor shadowing (scalar or per cell), ``extra_sigma_db`` the spread the
    reception environment adds (the preset's ``extra_sigma_db``).  Below 0.5 the margin is
    negative (a level below the median suffices).

    Examples
    --------
    >>> round(environment_margin_db(0.9, 8.0), 2)          # 1.2816 · 8
    10.25
    >>> round(environment_margin_db(0.9, 8.0, 5.0), 2)     # 1.2816 · √(64 + 25)
    12.09
    """
    problems: list[str] = []
    p = _probability("probability", probability, problems)
    sigma = _array("sigma_db", sigma_db, problems, lo=0.0)
    extra = _array("extra_sigma_db", extra_sigma_db, problems, lo=0.0)
    _fits(sigma.shape, "sigma_db", {"extra_sigma_db": extra}, problems)
    raise_problems(ModelError, "environment_margin_db", problems)
    return _finish(NormalDist().inv_cdf(p) * np.hypot(sigma, extra))


def _threshold_mask(where: str, value_name: str, value: Any, threshold_name: str, threshold: Any,
                    extra_loss_db: Any, margin_db: Any) -> np.ndarray:
    problems: list[str] = []
    try:
        x = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(f"{value_name} must be a number or an array of numbers, got {type(value).__name__}")
        x = np.full((), np.nan)
    thr = _number(threshold_name, threshold, problems)
    loss = _array("extra_loss_db", extra_loss_db, problems, lo=0.0)
    margin = _array("margin_db", margin_db, problems)
    _fits(x.shape, value_name, {"extra_loss_db": loss, "margin_db": margin}, problems)
    raise_problems(ModelError, where, problems)
    with np.errstate(invalid="ignore"):
        return np.asarray(x - loss >= thr + margin, dtype=bool)


def level_service(level_dbm: Any, *, threshold_dbm: float, extra_loss_db: Any = 0.0,
                  margin_db: Any = 0.0) -> np.ndarray:
    """Bool mask (shape of ``level_dbm``): level − extra_loss_db ≥ threshold_dbm + margin_db.

    ``level_dbm`` is the outdoor median level (RSRP, RSCP or received level, dBm; NaN where
    nothing is received, never covered).  ``extra_loss_db`` (≥ 0) and ``margin_db`` (e.g. from
    :func:`environment_margin_db`) may be scalars or per-cell arrays.

    Examples
    --------
    >>> level_service([-90.0, -100.0, float("nan")], threshold_dbm=-105.0, extra_loss_db=9.0).tolist()
    [True, False, False]
    """
    return _threshold_mask("level_service", "level_dbm", level_dbm, "threshold_dbm", threshold_dbm,
                           extra_loss_db, margin_db)


def field_strength_service(field_dbuv_m: Any, *, threshold_dbuv_m: float, extra_loss_db: Any = 0.0,
                           margin_db: Any = 0.0) -> np.ndarray:
    """Bool mask (shape of ``field_dbuv_m``): field − extra_loss_db ≥ threshold_dbuv_m + margin_db.

    The field strength (dBµV/m, NaN = none) of a broadcast-style preset (e.g. DTV); a loss in
    dB lowers a field strength in dBµV/m by the same number of dB.

    Examples
    --------
    >>> field_strength_service([51.3, 51.2], threshold_dbuv_m=42.2, margin_db=9.05).tolist()
    [True, False]
    """
    return _threshold_mask("field_strength_service", "field_dbuv_m", field_dbuv_m, "threshold_dbuv_m",
                           threshold_dbuv_m, extra_loss_db, margin_db)


# --------------------------------------------------------------------------------------------
# speed


def _sinr_after_loss_db(level: np.ndarray, sinr: np.ndarray, noise_dbm: float, loss: np.ndarray,
                        margin: np.ndarray, interference_scale: float) -> np.ndarray:
    """SINR' (dB) from the module docstring; inputs float64, already validated."""
    with np.errstate(invalid="ignore", over="ignore"):
        share = np.maximum(1.0 - 10.0 ** ((noise_dbm + sinr - level) / 10.0), 0.0)  # f = I / (I + N)
        ratio = 1.0 + share * (interference_scale * 10.0 ** (-loss / 10.0) - 1.0)  # (I' + N) / (I + N)
        return sinr - loss - margin - 10.0 * np.log10(ratio)


def service_sinr_db(level_dbm: Any, sinr_db: Any, *, noise_dbm: float, extra_loss_db: Any = 0.0,
                    margin_db: Any = 0.0, interference_scale: float = 1.0) -> float | np.ndarray:
    """SINR (dB) in the environment: S lowered by extra_loss_db + margin_db, the interference
    I = S/SINR − N (clipped at 0) lowered by extra_loss_db and scaled by ``interference_scale``
    (new loading / engine loading), against the same noise ``noise_dbm`` (the noise in the
    bandwidth of the level, :func:`citycov.engine.linkbudget.carrier_noise_dbm`).

    NaN level or SINR stays NaN.

    Examples
    --------
    >>> round(service_sinr_db(-90.0, 10.0, noise_dbm=-200.0, extra_loss_db=9.0), 6)   # I ≫ N: SINR unchanged
    10.0
    """
    problems: list[str] = []
    level = _array("level_dbm", level_dbm, problems, allow_nan=True)
    sinr = _array("sinr_db", sinr_db, problems, allow_nan=True)
    noise = _number("noise_dbm", noise_dbm, problems)
    loss = _array("extra_loss_db", extra_loss_db, problems, lo=0.0)
    margin = _array("margin_db", margin_db, problems)
    scale = _number("interference_scale", interference_scale, problems, lo=0.0)
    _fits(level.shape, "level_dbm", {"sinr_db": sinr, "extra_loss_db": loss, "margin_db": margin}, problems)
    raise_problems(ModelError, "service_sinr_db", problems)
    return _finish(np.broadcast_to(_sinr_after_loss_db(level, sinr, noise, loss, margin, scale), level.shape))


@dataclass(frozen=True, eq=False)
class SpeedCoverage:
    """Speeds of one environment (float64 arrays, shape of the level raster, NaN = not served)
    and the cells meeting both minima."""

    down_mbps: np.ndarray
    up_mbps: np.ndarray
    sinr_db: np.ndarray
    """SINR' (dB) in the environment, after loss and margin."""
    ul_sinr_db: np.ndarray
    """Uplink SINR (dB) at the base station after loss and margin."""
    covered: np.ndarray
    """bool: down_mbps ≥ min_down_mbps and up_mbps ≥ min_up_mbps."""


def _check_link(link: Any, problems: list[str]) -> bool:
    missing = [name for name in _LINK_FIELDS if not hasattr(link, name)]
    if missing:
        problems.append(f"link must have the fields of citycov.engine.linkbudget.LinkParams; missing {missing}")
        return False
    _number("link.loading", link.loading, problems, lo=0.0, hi=1.0)
    _number("link.noise_figure_db", link.noise_figure_db, problems, lo=0.0)
    _number("link.bs_noise_figure_db", link.bs_noise_figure_db, problems, lo=0.0)
    _number("link.ul_interference_margin_db", link.ul_interference_margin_db, problems, lo=0.0)
    _number("link.ul_bandwidth_max_mhz", link.ul_bandwidth_max_mhz, problems, lo=0.0, lo_open=True)
    _number("link.ue_eirp_dbm", link.ue_eirp_dbm, problems)
    _number("link.bs_gain_dbi", link.bs_gain_dbi, problems)
    for name in ("downlink", "uplink"):
        if not isinstance(getattr(link, name), ShannonParams):
            problems.append(f"link.{name} must be a citycov.engine.linkbudget.ShannonParams, "
                            f"got {type(getattr(link, name)).__name__}")
    return True


def speed_service(level_dbm: Any, sinr_db: Any, *, technology: str, bandwidth_mhz: Any, coupling_loss_db: Any,
                  link: LinkParams, min_down_mbps: float, min_up_mbps: float, extra_loss_db: Any = 0.0,
                  margin_db: Any = 0.0, loading: float | None = None) -> SpeedCoverage:
    """Down/up speeds in a reception environment and the cells meeting ``min_down_mbps`` /
    ``min_up_mbps``, recomputed from the engine's outdoor rasters (formulas in the module docstring).

    Parameters
    ----------
    level_dbm, sinr_db
        Level (RSRP/SS-RSRP per resource element, or CPICH RSCP for 3G) and SINR of the serving
        carrier, as the engine computed them (NaN = not served).  The level must be the one
        the SINR was computed from.
    technology
        "3G", "4G" or "5G": fixes the noise bandwidth of the level
        (:func:`citycov.engine.linkbudget.carrier_noise_dbm`).
    bandwidth_mhz
        Channel bandwidth of the serving carrier (scalar or per cell; NaN where not served).
    coupling_loss_db
        Serving sector's reference-signal EIRP minus ``level_dbm`` (path loss − antenna
        pattern), as the engine's uplink uses it (scalar or per cell; NaN where not served).
    link
        The :class:`citycov.engine.linkbudget.LinkParams` the engine ran with: its ``loading`` and
        ``noise_figure_db`` are those of the stored SINR; its Shannon and uplink parameters
        give the speeds.
    extra_loss_db, margin_db
        The environment's loss (≥ 0, on signal and interference) and the shadow-fading margin
        (on the serving path only: downlink signal and uplink), scalars or per cell.
    loading
        Cell loading of the service definition (0..1); ``None``: the engine's ``link.loading``.
        The stored interference is rescaled by loading / link.loading.

    Examples
    --------
    >>> s = speed_service([-90.0], [10.0], technology="4G", bandwidth_mhz=10.0, coupling_loss_db=[130.0],
    ...                   link=LinkParams(), min_down_mbps=5.0, min_up_mbps=1.0)
    >>> round(float(s.down_mbps[0]), 3), round(float(s.up_mbps[0]), 3), bool(s.covered[0])
    (20.757, 9.266, True)
    """
    problems: list[str] = []
    if technology not in TECHNOLOGIES:
        problems.append(f"technology must be one of {list(TECHNOLOGIES)}, got {technology!r}")
    level = _array("level_dbm", level_dbm, problems, allow_nan=True)
    sinr = _array("sinr_db", sinr_db, problems, allow_nan=True)
    bw = _array("bandwidth_mhz", bandwidth_mhz, problems, lo=0.0, lo_open=True, allow_nan=True)
    coupling = _array("coupling_loss_db", coupling_loss_db, problems, lo=0.0, allow_nan=True)
    loss = _array("extra_loss_db", extra_loss_db, problems, lo=0.0)
    margin = _array("margin_db", margin_db, problems)
    down_min = _number("min_down_mbps", min_down_mbps, problems, lo=0.0)
    up_min = _number("min_up_mbps", min_up_mbps, problems, lo=0.0)
    _fits(level.shape, "level_dbm", {"sinr_db": sinr, "bandwidth_mhz": bw, "coupling_loss_db": coupling,
                                     "extra_loss_db": loss, "margin_db": margin}, problems)
    new_loading = math.nan if loading is None else _number("loading", loading, problems, lo=0.0, hi=1.0)
    scale = 1.0
    if _check_link(link, problems) and math.isfinite(new_loading) and _is_number(link.loading):
        if link.loading == 0.0 and new_loading > 0.0:
            problems.append(f"loading = {loading} needs the interference, but the engine ran with "
                            "link.loading = 0 (its SINR holds none); rerun the engine with a loading > 0")
        elif 0.0 < link.loading <= 1.0:
            scale = new_loading / float(link.loading)
    raise_problems(ModelError, "speed_service", problems)

    noise = carrier_noise_dbm(technology, float(link.noise_figure_db))
    sinr_env = np.broadcast_to(_sinr_after_loss_db(level, sinr, noise, loss, margin, scale), level.shape)
    served = np.isfinite(level) & np.isfinite(sinr) & np.isfinite(bw) & np.isfinite(coupling)
    down = np.asarray(spectral_efficiency(sinr_env, params=link.downlink)) * bw
    ul_sinr, up = uplink_budget(coupling + loss + margin, bw, link)
    down = np.where(served, np.broadcast_to(down, level.shape), np.nan)
    up = np.where(served, np.broadcast_to(up, level.shape), np.nan)
    ul_sinr = np.where(served, np.broadcast_to(ul_sinr, level.shape), np.nan)
    with np.errstate(invalid="ignore"):
        covered = served & (down >= down_min) & (up >= up_min)
    return SpeedCoverage(down_mbps=down, up_mbps=up, sinr_db=np.where(served, sinr_env, np.nan),
                         ul_sinr_db=ul_sinr, covered=covered)


# --------------------------------------------------------------------------------------------
# building entry loss


INDOOR_ENVIRONMENT = "indoor_p2109"
"""Name of the environment :func:`evaluate_preset` adds for a building entry loss."""


def indoor_loss_db(freq_mhz: Any, *, probability: float, building_class: str = "traditional",
                   elevation_deg: Any = 0.0) -> float | np.ndarray:
    """ITU-R P.2109 building entry loss (dB) not exceeded with ``probability`` (0..1), i.e. in
    that share of buildings; ``freq_mhz`` 80–100 000 (scalar or per cell, e.g. the serving
    carrier's), ``building_class`` "traditional" or "thermally_efficient", ``elevation_deg``
    the path's elevation at the façade (−90..90).

    Used as an environment's ``extra_loss_db`` at the cell-edge probability p this is
    conservative: the outdoor margin is also taken at p, so both tails are stacked.  The
    median (probability 0.5) with an extra σ is the alternative closer to the P.2109 spread.

    Examples
    --------
    >>> round(indoor_loss_db(1000.0, probability=0.5), 2)    # P.2109, 1 GHz, horizontal, median
    14.31
    """
    problems: list[str] = []
    p = _probability("probability", probability, problems)
    lo_mhz, hi_mhz = (1000.0 * f for f in P2109_FREQ_GHZ)
    freq = _array("freq_mhz", freq_mhz, problems, lo=lo_mhz, hi=hi_mhz)
    elevation = _array("elevation_deg", elevation_deg, problems, lo=-90.0, hi=90.0)
    if building_class not in INDOOR_BUILDING_CLASSES:
        problems.append(f"building_class must be one of {list(INDOOR_BUILDING_CLASSES)}, got {building_class!r}")
    try:
        np.broadcast_shapes(freq.shape, elevation.shape)
    except ValueError:
        problems.append(f"freq_mhz {freq.shape} and elevation_deg {elevation.shape} do not broadcast")
    raise_problems(ModelError, "indoor_loss_db", problems)
    return p2109_building_entry_loss_db(freq / 1000.0, elevation, 100.0 * p, P2109_BUILDING_CODES[building_class])


# --------------------------------------------------------------------------------------------
# a whole preset


@dataclass(frozen=True, eq=False)
class EnvironmentCoverage:
    """Coverage of a preset in one of its environments."""

    name: str
    extra_loss_db: float | np.ndarray
    extra_sigma_db: float
    margin_db: float | np.ndarray
    """z·√(σ² + σ_env²) (dB), scalar or per cell."""
    covered: np.ndarray
    """bool, shape of the input rasters."""
    speed: SpeedCoverage | None = None
    """Speeds (metric "speed" only)."""


@dataclass(frozen=True, eq=False)
class PresetCoverage:
    """Coverage of a preset in every environment it names, with the provenance record."""

    preset: str
    metric: str
    environments: dict[str, EnvironmentCoverage]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """Environment name -> bool coverage mask."""
        return {name: env.covered for name, env in self.environments.items()}


def evaluate_preset(preset: RadioPreset, *, sigma_db: Any, level_dbm: Any = None, field_dbuv_m: Any = None,
                    sinr_db: Any = None, coupling_loss_db: Any = None, bandwidth_mhz: Any = None,
                    link: LinkParams | None = None, cell_edge_probability: float | None = None,
                    indoor_loss_db: Any = None) -> PresetCoverage:
    """Coverage of ``preset`` in each of its environments, from the outdoor rasters of the
    preset's technology (e.g. ``result.best_dbm[TECHNOLOGIES.index("4G")]``).

    Parameters
    ----------
    sigma_db
        Outdoor shadowing σ (dB), scalar or per cell (the scenario's ``shadow_sigma_db`` by class).
    level_dbm
        Metric "rsrp_dbm", "rscp_dbm", "rx_level_dbm": the level in that unit; metric "speed":
        the serving carrier's level (see :func:`speed_service`).
    field_dbuv_m
        Metric "field_strength_dbuv_m": the field strength.
    sinr_db, coupling_loss_db, bandwidth_mhz, link
        Metric "speed" only, see :func:`speed_service`.  The preset's ``cell_loading`` (if any)
        replaces the engine's ``link.loading``.
    cell_edge_probability
        Used when the preset fixes none (e.g. Ofcom: the scenario's ``[accounting]`` value);
        the preset's own value wins otherwise.
    indoor_loss_db
        Optional building entry loss (dB, scalar or per cell, e.g. :func:`indoor_loss_db` at
        the serving frequency): adds an environment :data:`INDOOR_ENVIRONMENT` with that loss
        on top of the preset's own environments (no extra σ).

    Raises
    ------
    ScenarioError
        The preset needs a raster or a probability that was not given, or its technology has
        no speed model.
    ModelError
        A raster or number is out of range or of the wrong shape.

    Examples
    --------
    >>> from citycov.presets.radio import load_preset
    >>> cov = evaluate_preset(load_preset("ofcom-4g-outdoor"), sigma_db=8.0, level_dbm=[-100.0, -110.0],
    ...                       cell_edge_probability=0.5)
    >>> cov.masks["outdoor"].tolist()
    [True, False]
    """
    problems: list[str] = []
    if preset.cell_edge_probability is not None:
        p, p_from = preset.cell_edge_probability, "preset"
    elif cell_edge_probability is not None:
        p, p_from = cell_edge_probability, "caller"
    else:
        p, p_from = math.nan, ""
        problems.append("the preset fixes no cell_edge_probability; pass cell_edge_probability in (0, 1) "
                        "(e.g. the scenario's [accounting] value)")
    metric = preset.metric
    if metric == "speed":
        needed = {"level_dbm": level_dbm, "sinr_db": sinr_db, "coupling_loss_db": coupling_loss_db,
                  "bandwidth_mhz": bandwidth_mhz, "link": link}
        if preset.technology not in TECHNOLOGIES:
            problems.append(f"metric 'speed' needs a cellular technology {list(TECHNOLOGIES)}, "
                            f"the preset has {preset.technology!r}")
    elif metric == "field_strength_dbuv_m":
        needed = {"field_dbuv_m": field_dbuv_m}
    else:
        needed = {"level_dbm": level_dbm}
    missing = [name for name, value in needed.items() if value is None]
    if missing:
        problems.append(f"metric {metric!r} needs {missing}")
    raise_problems(ScenarioError, f"evaluate_preset({preset.name!r})", problems)
    if p_from == "caller":
        _probability("cell_edge_probability", p, problems)
    raster_name = "field_dbuv_m" if metric == "field_strength_dbuv_m" else "level_dbm"
    raster = _array(raster_name, needed[raster_name], problems, allow_nan=True)
    _fits(raster.shape, raster_name, {"sigma_db": _array("sigma_db", sigma_db, problems, lo=0.0)}, problems)
    loading = None
    if metric == "speed" and _check_link(link, problems):
        loading = preset.cell_loading if preset.cell_loading is not None else link.loading
    raise_problems(ModelError, f"evaluate_preset({preset.name!r})", problems)

    envs: dict[str, EnvironmentCoverage] = {}
    environments = [(e.name, e.extra_loss_db, e.extra_sigma_db) for e in preset.environments]
    if indoor_loss_db is not None:
        environments.append((INDOOR_ENVIRONMENT, indoor_loss_db, 0.0))
    for name, extra_loss_db, extra_sigma_db in environments:
        margin = environment_margin_db(p, sigma_db, extra_sigma_db)
        speed = None
        if metric == "speed":
            speed = speed_service(level_dbm, sinr_db, technology=preset.technology, bandwidth_mhz=bandwidth_mhz,
                                  coupling_loss_db=coupling_loss_db, link=link, min_down_mbps=preset.min_down_mbps,
                                  min_up_mbps=preset.min_up_mbps, extra_loss_db=extra_loss_db,
                                  margin_db=margin, loading=loading)
            covered = speed.covered
        elif metric == "field_strength_dbuv_m":
            covered = field_strength_service(field_dbuv_m, threshold_dbuv_m=preset.threshold,
                                             extra_loss_db=extra_loss_db, margin_db=margin)
        else:
            covered = level_service(level_dbm, threshold_dbm=preset.threshold, extra_loss_db=extra_loss_db,
                                    margin_db=margin)
        envs[name] = EnvironmentCoverage(name, extra_loss_db, extra_sigma_db, margin, covered, speed)

    provenance = preset.as_provenance()
    provenance["service"] = _service_record(preset, envs, p, p_from, sigma_db, link, loading)
    return PresetCoverage(preset=preset.name, metric=metric, environments=envs, provenance=provenance)


def _service_record(preset: RadioPreset, envs: dict[str, EnvironmentCoverage], p: float, p_from: str,
                    sigma_db: Any, link: LinkParams | None, loading: float | None) -> dict[str, Any]:
    """The provenance record of :func:`evaluate_preset`: rule, probability, margins, link budget."""
    metric = preset.metric
    service: dict[str, Any] = {
        "metric": metric, "unit": preset.threshold_unit, "cell_edge_probability": p,
        "cell_edge_probability_from": p_from, "z": NormalDist().inv_cdf(p), "margin_formula": MARGIN_FORMULA,
        "sigma_db": _summary(np.asarray(sigma_db, dtype=np.float64)),
        "environments": {e.name: {"extra_loss_db": _summary(np.asarray(e.extra_loss_db, dtype=np.float64)),
                                  "extra_sigma_db": e.extra_sigma_db,
                                  "margin_db": _summary(e.margin_db)} for e in envs.values()},
    }
    if metric == "speed":
        service.update({
            "rule": SPEED_RULE, "min_down_mbps": preset.min_down_mbps, "min_up_mbps": preset.min_up_mbps,
            "loading": loading, "loading_from": "engine" if preset.cell_loading is None else "preset",
            "engine_loading": link.loading, "noise_figure_db": link.noise_figure_db,
            "noise_dbm": carrier_noise_dbm(preset.technology, float(link.noise_figure_db)),
            "downlink": asdict(link.downlink), "uplink": asdict(link.uplink),
            "uplink_budget": {k: getattr(link, k) for k in ("ue_eirp_dbm", "bs_gain_dbi", "bs_noise_figure_db",
                                                            "ul_interference_margin_db", "ul_bandwidth_max_mhz")},
        })
    else:
        service.update({"rule": LEVEL_RULE, "threshold": preset.threshold})
    if preset.time_percent is not None:
        service["time_percent_note"] = (f"time_percent = {preset.time_percent:g} applies to the propagation "
                                        "prediction; it is not applied here")
    return service
