"""Link budget: noise, reference-signal levels, field strength, best server and SINR, speed.

The one place for each of these quantities: the coverage engine (:mod:`citycov.engine.cellular`),
the services (:mod:`citycov.accounting.services`) and callers of this API use the same functions.
Conventions:

* Levels are dBm, losses dB (positive), gains dBi; ``eirp_dbm`` is the total e.i.r.p. of
  the carrier at boresight (antenna gain included); ``pattern_gain_db`` is the relative
  pattern gain (≤ 0) towards the receiver.
* **RSRP / SS-RSRP** (4G/5G) is the power of one resource element: the carrier power spread
  evenly over its 12·N_RB subcarriers, RSRP = EIRP − 10·log10(12·N_RB) + G_pattern − L + G_rx,
  N_RB from the tables of TS 36.101 and TS 38.101-1 (:mod:`citycov.carriers`).
* **RSCP** (3G) is the CPICH level: the pilot carries ``cpich_fraction`` of the cell power.
* **SINR** compares levels in one bandwidth: with RSRP levels (one resource element) the
  noise is the noise of one subcarrier (:func:`carrier_noise_dbm`).  The serving cell is the
  strongest; the others on the carrier interfere in proportion to the cell ``loading``
  (0..1): SINR = S / (loading·Σ_others + N), so SINR ≤ S/N always.
* **Throughput**: the attenuated Shannon bound of 3GPP TR 36.942 Annex A.2 times the
  bandwidth and a configurable ``efficiency_factor`` (MIMO layers, overhead; 1 by default).
* **Uplink** (for the speed tiers): its own link budget, because the uplink is power-limited
  at the cell edge: the UE's full power in the allocated bandwidth over the downlink's
  coupling loss, against the base-station noise plus an interference margin (noise rise),
  through the TR 36.942 uplink bound (:func:`uplink_budget`, :func:`uplink_sinr_db`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from citycov.carriers import LTE_SCS_KHZ, NR_DEFAULT_SCS_KHZ, carrier_arrays, checked_resource_blocks
from citycov.choices import TECHNOLOGIES
from citycov.engine import _linkbudget_kernels
from citycov.errors import ModelError
from citycov.propagation.stats import inverse_normal_cdf

THERMAL_NOISE_DBM_HZ = -174.0
"""kT at T0 = 290 K, rounded as in 3GPP link budgets (exact: −173.98 dBm/Hz)."""
DEFAULT_CPICH_FRACTION = 0.1
"""3G: the pilot (CPICH) carries 10% of the cell power, the usual planning assumption."""
NOISE_BANDWIDTH_KHZ = {"3G": 3840.0, "4G": float(LTE_SCS_KHZ), "5G": float(NR_DEFAULT_SCS_KHZ)}
"""Bandwidth of the reference-signal level: one subcarrier (RSRP per RE), the 3.84 Mchip/s
chip rate for 3G CPICH (whose interference is scaled by the pilot fraction, see :func:`carrier_noise_dbm`)."""


@dataclass(frozen=True)
class ShannonParams:
    """Attenuated Shannon bound: α, the SINR below which nothing gets through (dB) and the
    maximum spectral efficiency (bit/s/Hz)."""

    alpha: float
    sinr_min_db: float
    max_se_bps_hz: float

    @property
    def sinr_max_db(self) -> float:
        """SINR (dB) at which the bound reaches its maximum."""
        return 10.0 * math.log10(2.0 ** (self.max_se_bps_hz / self.alpha) - 1.0)


DOWNLINK_TR36942 = ShannonParams(alpha=0.6, sinr_min_db=-10.0, max_se_bps_hz=4.4)
"""3GPP TR 36.942 Table A.2-1, downlink (baseline: 1×2 antennas, 10 MHz, overheads included)."""
UPLINK_TR36942 = ShannonParams(alpha=0.4, sinr_min_db=-10.0, max_se_bps_hz=2.0)
"""3GPP TR 36.942 Table A.2-2, uplink."""


@dataclass(frozen=True)
class SpeedTier:
    """A minimum download/upload speed pair (Mbit/s)."""

    name: str
    down_mbps: float
    up_mbps: float


FCC_BDC_TIERS = (SpeedTier("4G 5/1", 5.0, 1.0), SpeedTier("5G 7/1", 7.0, 1.0), SpeedTier("5G 35/3", 35.0, 3.0))
"""The mobile speed tiers of the FCC Broadband Data Collection (47 CFR 1.7004(c)(3))."""


@dataclass(frozen=True)
class LinkParams:
    """Link-budget parameters of SINR, throughput and speed tiers (3GPP TR 36.942 defaults)."""

    loading: float = 0.5
    noise_figure_db: float = 7.0
    overlap_db: float = 5.0
    capacity: int = 4
    downlink: ShannonParams = DOWNLINK_TR36942
    uplink: ShannonParams = UPLINK_TR36942
    ue_eirp_dbm: float = 23.0
    bs_gain_dbi: float = 17.0
    bs_noise_figure_db: float = 5.0
    ul_interference_margin_db: float = 3.0
    ul_bandwidth_max_mhz: float = 20.0
    tiers: tuple[SpeedTier, ...] = FCC_BDC_TIERS


def _raise(problems: list[str], where: str) -> None:
    if problems:
        raise ModelError(f"{where}: " + "; ".join(problems))


def _finish(value: Any) -> float | np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _finite(name: str, value: Any, problems: list[str], *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if lo is not None:
        bad |= (arr <= lo) if lo_open else (arr < lo)
    if hi is not None:
        bad |= arr > hi
    if bad.any():
        rng = "" if lo is None and hi is None else (
            f" in {'(' if lo_open else '['}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
        problems.append(f"{name} must be finite{rng}, got {np.unique(arr[bad])[:5].tolist()}")
    return arr


# --------------------------------------------------------------------------------------------
# noise, reference signals, field strength


def _noise_dbm(bandwidth_hz: Any, noise_figure_db: Any) -> Any:
    """The one noise formula (dBm): kT0·B + NF = −174 dBm/Hz + 10·log10(B / Hz) + NF; unchecked."""
    return THERMAL_NOISE_DBM_HZ + 10.0 * np.log10(bandwidth_hz) + noise_figure_db


def thermal_noise_dbm(bandwidth_mhz: Any, *, noise_figure_db: Any) -> float | np.ndarray:
    """Receiver noise power (dBm): −174 dBm/Hz + 10·log10(bandwidth) + noise figure.

    Examples
    --------
    >>> thermal_noise_dbm(10.0, noise_figure_db=7.0)   # 10 MHz, NF 7 dB
    -97.0
    >>> round(thermal_noise_dbm(0.015, noise_figure_db=7.0), 2)   # one 15 kHz subcarrier
    -125.24
    """
    problems: list[str] = []
    b = _finite("bandwidth_mhz", bandwidth_mhz, problems, lo=0.0, lo_open=True)
    nf = _finite("noise_figure_db", noise_figure_db, problems, lo=0.0)
    _raise(problems, "thermal_noise_dbm")
    return _finish(_noise_dbm(b * 1e6, nf))


def carrier_noise_dbm(technology: str, noise_figure_db: float) -> float:
    """Noise (dBm) in the bandwidth of the technology's reference-signal level (:data:`NOISE_BANDWIDTH_KHZ`).

    4G/5G: one subcarrier.  3G: the 3.84 MHz channel lowered by the 10 % CPICH share, so that
    S/(loading·ΣI + N) over CPICH levels equals the ratio of the full cell powers.

    Examples
    --------
    >>> round(carrier_noise_dbm("4G", 7.0), 2), round(carrier_noise_dbm("3G", 7.0), 2)
    (-125.24, -111.16)
    """
    if technology not in NOISE_BANDWIDTH_KHZ:
        raise ModelError(f"carrier_noise_dbm: technology must be one of {list(NOISE_BANDWIDTH_KHZ)}, "
                         f"got {technology!r}")
    noise = float(_noise_dbm(NOISE_BANDWIDTH_KHZ[technology] * 1e3, noise_figure_db))
    return noise + (10.0 * math.log10(DEFAULT_CPICH_FRACTION) if technology == "3G" else 0.0)


def reference_signal_offset_db(technology: Any, bandwidth_mhz: Any = None, *, scs_khz: Any = None,
                               cpich_fraction: float = DEFAULT_CPICH_FRACTION,
                               sector_ids: Any = None) -> float | np.ndarray:
    """dB from the carrier's total power to its reference signal, the one rule of the engine,
    the services and this API.

    4G/5G: −10·log10(12·N_RB) (one resource element, N_RB from :func:`citycov.carriers.resource_blocks`);
    3G: 10·log10(``cpich_fraction``).  A technology gives a float; an array of technologies
    with an array of bandwidths (one per sector, as the engine passes them) gives a float64 array.

    Examples
    --------
    >>> round(reference_signal_offset_db("4G", 20.0), 2)    # 1200 subcarriers
    -30.79
    >>> reference_signal_offset_db("3G")
    -10.0
    >>> reference_signal_offset_db(np.array(["4G", "3G"]), np.array([10.0, 5.0])).round(2).tolist()
    [-27.78, -10.0]
    """
    if not 0.0 < cpich_fraction <= 1.0:
        raise ModelError(f"reference_signal_offset_db: cpich_fraction must be in (0, 1], got {cpich_fraction}")
    scalar = isinstance(technology, str)
    if scalar and technology in ("4G", "5G") and bandwidth_mhz is None:
        raise ModelError(f"reference_signal_offset_db: {technology} needs bandwidth_mhz")
    tech, bw, scs = carrier_arrays(technology, bandwidth_mhz, scs_khz)
    n_rb = checked_resource_blocks(tech, bw, scs, TECHNOLOGIES, sector_ids=sector_ids,
                                   where="reference_signal_offset_db")
    out = np.where(tech == "3G", 10.0 * math.log10(cpich_fraction), -10.0 * np.log10(12.0 * np.maximum(n_rb, 1)))
    return float(out[0]) if scalar else out.reshape(np.shape(technology))


def rsrp_dbm(eirp_dbm: Any, loss_db: Any, *, technology: str, bandwidth_mhz: float, scs_khz: int | None = None,
             pattern_gain_db: Any = 0.0, rx_gain_dbi: Any = 0.0) -> float | np.ndarray:
    """RSRP (4G) or SS-RSRP (5G), dBm per resource element; broadcasts like numpy.

    RSRP = EIRP − 10·log10(12·N_RB) + pattern gain − loss + receiver gain.

    Examples
    --------
    >>> round(rsrp_dbm(46.0, 0.0, technology="4G", bandwidth_mhz=20.0), 2)
    15.21
    """
    if technology not in ("4G", "5G"):
        raise ModelError(f"rsrp_dbm: technology must be '4G' or '5G' (3G: use rscp_dbm), got {technology!r}")
    offset = reference_signal_offset_db(technology, bandwidth_mhz, scs_khz=scs_khz)
    return _level(eirp_dbm, loss_db, offset, pattern_gain_db, rx_gain_dbi, "rsrp_dbm")


def rscp_dbm(eirp_dbm: Any, loss_db: Any, *, cpich_fraction: float = DEFAULT_CPICH_FRACTION,
             pattern_gain_db: Any = 0.0, rx_gain_dbi: Any = 0.0) -> float | np.ndarray:
    """CPICH RSCP (3G), dBm: EIRP + 10·log10(cpich_fraction) + pattern gain − loss + receiver gain.

    Examples
    --------
    >>> rscp_dbm(43.0, 130.0)
    -97.0
    """
    offset = reference_signal_offset_db("3G", cpich_fraction=cpich_fraction)
    return _level(eirp_dbm, loss_db, offset, pattern_gain_db, rx_gain_dbi, "rscp_dbm")


def _level(eirp_dbm: Any, loss_db: Any, offset_db: float, pattern_gain_db: Any, rx_gain_dbi: Any,
           where: str) -> float | np.ndarray:
    problems: list[str] = []
    eirp = _finite("eirp_dbm", eirp_dbm, problems)
    pattern = _finite("pattern_gain_db", pattern_gain_db, problems, hi=0.0)
    rx_gain = _finite("rx_gain_dbi", rx_gain_dbi, problems)
    loss = np.asarray(loss_db, dtype=np.float64)  # NaN loss (no data) stays NaN
    if (loss < 0).any():
        problems.append(f"loss_db must be >= 0, got {np.unique(loss[loss < 0])[:5].tolist()}")
    _raise(problems, where)
    return _finish(eirp + offset_db + pattern - loss + rx_gain)


def field_strength_dbuv_m(rx_iso_dbm: Any, *, freq_mhz: Any) -> float | np.ndarray:
    """Field strength (dBµV/m) from the power an isotropic antenna receives (dBm):
    E = P_iso + 20·log10(f_MHz) + 77.22.

    Examples
    --------
    >>> round(field_strength_dbuv_m(-80.0, freq_mhz=600.0), 2)
    52.78
    """
    problems: list[str] = []
    f = _finite("freq_mhz", freq_mhz, problems, lo=0.0, lo_open=True)
    _raise(problems, "field_strength_dbuv_m")
    return _finish(_linkbudget_kernels.field_strength_ufunc(np.asarray(rx_iso_dbm, dtype=np.float64), f))


def field_strength_from_eirp_dbuv_m(eirp_dbm: Any, basic_loss_db: Any, *, freq_mhz: Any) -> float | np.ndarray:
    """Field strength (dBµV/m) at the end of a path of basic transmission loss ``basic_loss_db``
    (ITU-R P.341: between isotropic antennas) from a transmitter of ``eirp_dbm``.

    E = EIRP − Lb + 20·log10(f_MHz) + 77.22, which for 1 kW e.r.p. (EIRP = 62.15 dBm) is
    ITU-R P.1812's E = 199.36 + 20·log10(f_GHz) − Lb.

    Examples
    --------
    >>> round(field_strength_from_eirp_dbuv_m(62.15, 120.0, freq_mhz=600.0), 2)
    74.93
    """
    problems: list[str] = []
    eirp = _finite("eirp_dbm", eirp_dbm, problems)
    _raise(problems, "field_strength_from_eirp_dbuv_m")
    return field_strength_dbuv_m(eirp - np.asarray(basic_loss_db, dtype=np.float64), freq_mhz=freq_mhz)


def cell_edge_margin_db(probability: float, sigma_db: Any) -> float | np.ndarray:
    """Margin (dB) over the median level that the level at one location (the cell edge) is
    exceeded with ``probability``: z·σ, z = Φ⁻¹(p), for log-normal shadowing of ``sigma_db``.

    σ is per environment: pass an array, e.g. ``np.array([6, 6, 8, 8])[env_class]``.  This is
    the edge (single-location) probability; the area probability inside the cell is higher.

    Examples
    --------
    >>> round(cell_edge_margin_db(0.9, 8.0), 3)     # 1.2816 · 8 dB
    10.252
    """
    problems: list[str] = []
    if not (isinstance(probability, int | float) and 0.0 < probability < 1.0):
        problems.append(f"probability must be in (0, 1), got {probability!r}")
    sigma = _finite("sigma_db", sigma_db, problems, lo=0.0)
    _raise(problems, "cell_edge_margin_db")
    return _finish(inverse_normal_cdf(float(probability)) * sigma)


# --------------------------------------------------------------------------------------------
# best server and SINR


@dataclass(frozen=True, eq=False)
class ServerResult:
    """Best-server rasters of one carrier, in the pixel shape of the input.

    best_dbm
        float32 level of the serving (strongest) sector, NaN where no sector was seen.
    best_index
        int32 sector index of the server, −1 for none.
    margin_db
        float32 serving minus second-best level; +inf where one sector only, NaN where none.
    n_within
        int32 sectors (the server included) within ``overlap_db`` of the server; 0 for none.
        From :class:`ServerAccumulator` it saturates at ``capacity`` ("that many or more").
    sinr_db
        float32 S / (loading · Σ others + N), NaN where no sector was seen.
    """

    best_dbm: np.ndarray
    best_index: np.ndarray
    margin_db: np.ndarray
    n_within: np.ndarray
    sinr_db: np.ndarray
    overlap_db: float
    n_within_cap: int | None = None


def _sinr_args(loading: float, noise_dbm: float, overlap_db: float, where: str) -> None:
    problems: list[str] = []
    if not (isinstance(loading, int | float) and 0.0 <= loading <= 1.0):
        problems.append(f"loading must be in [0, 1], got {loading!r}")
    if not (isinstance(noise_dbm, int | float) and math.isfinite(noise_dbm)):
        problems.append(f"noise_dbm must be a finite number, got {noise_dbm!r}")
    if not (isinstance(overlap_db, int | float) and math.isfinite(overlap_db) and overlap_db >= 0.0):
        problems.append(f"overlap_db must be a finite number >= 0, got {overlap_db!r}")
    _raise(problems, where)


def _server_rasters(top_dbm: np.ndarray, best_idx: np.ndarray, sum_mw: np.ndarray, loading: float,
                    noise_dbm: float, overlap_db: float) -> ServerResult:
    """The one best-server / SINR rule: the (rows, cols) rasters of a best-server state (the k
    strongest levels, the server's index and the summed power, see :mod:`citycov.engine._linkbudget_kernels`)."""
    grid = best_idx.shape
    best = np.empty(grid, dtype=np.float32)
    margin = np.empty(grid, dtype=np.float32)
    count = np.empty(grid, dtype=np.int32)
    sinr = np.empty(grid, dtype=np.float32)
    _linkbudget_kernels.finish_sinr(top_dbm, best_idx, sum_mw, float(loading), float(noise_dbm), float(overlap_db),
                                    best, margin, count, sinr)
    return ServerResult(best, best_idx, margin, count, sinr, float(overlap_db))


def best_server_sinr(rx_dbm: Any, *, loading: float, noise_dbm: float, overlap_db: float = 5.0) -> ServerResult:
    """Best server, margins, overlap count and SINR from a full stack of levels.

    Parameters
    ----------
    rx_dbm
        Levels (dBm) of every sector on one carrier, shape (n_sectors, *pixels); NaN or −inf
        where a sector does not reach a pixel.  Not modified.
    loading
        Cell loading (0..1): the share of the other sectors' power that interferes.
    noise_dbm
        Noise in the bandwidth of ``rx_dbm`` (per resource element for RSRP levels).
    overlap_db
        Window below the server within which sectors are counted in ``n_within`` (exact count).

    Examples
    --------
    >>> r = best_server_sinr([[-80.0], [-83.0]], loading=1.0, noise_dbm=-200.0)
    >>> int(r.best_index[0]), float(r.margin_db[0]), round(float(r.sinr_db[0]), 2)
    (0, 3.0, 3.0)
    """
    _sinr_args(loading, noise_dbm, overlap_db, "best_server_sinr")
    stack = np.asarray(rx_dbm, dtype=np.float64)
    if stack.ndim < 2 or stack.shape[0] == 0:
        raise ModelError(f"best_server_sinr: rx_dbm must have shape (n_sectors >= 1, *pixels), got {stack.shape}")
    pixels = stack.shape[1:]
    level = stack.reshape(stack.shape[0], 1, -1)
    level = np.where(np.isnan(level) | (level == -np.inf), -np.inf, level)
    top = -np.sort(-level, axis=0)  # every level, strongest first: the overlap count is exact
    if top.shape[0] == 1:
        top = np.concatenate([top, np.full_like(top, -np.inf)])
    idx = np.where(top[0] > -np.inf, np.argmax(level, axis=0), -1).astype(np.int32)
    sum_mw = np.sum(10.0 ** (level / 10.0), axis=0)
    r = _server_rasters(np.ascontiguousarray(top), idx, sum_mw, loading, noise_dbm, overlap_db)
    return ServerResult(*(a.reshape(pixels) for a in (r.best_dbm, r.best_index, r.margin_db, r.n_within, r.sinr_db)),
                        r.overlap_db)


# --------------------------------------------------------------------------------------------
# throughput and speed tiers


def spectral_efficiency(sinr_db: Any, *, params: ShannonParams = DOWNLINK_TR36942) -> float | np.ndarray:
    """Attenuated Shannon bound (bit/s/Hz): 0 below SINR_min, α·log2(1 + SINR), at most the maximum.

    Examples
    --------
    >>> spectral_efficiency(0.0)            # 0.6 · log2(2)
    0.6
    >>> spectral_efficiency(30.0), spectral_efficiency(-10.5)
    (4.4, 0.0)
    """
    _check_params(params, "spectral_efficiency")
    sinr = np.asarray(sinr_db, dtype=np.float64)
    return _finish(_linkbudget_kernels.spectral_efficiency_ufunc(sinr, params.alpha, params.sinr_min_db,
                                                                 params.max_se_bps_hz))


def _check_params(params: ShannonParams, where: str) -> None:
    problems: list[str] = []
    if not (math.isfinite(params.alpha) and 0.0 < params.alpha <= 1.0):
        problems.append(f"alpha must be in (0, 1], got {params.alpha}")
    if not math.isfinite(params.sinr_min_db):
        problems.append(f"sinr_min_db must be finite, got {params.sinr_min_db}")
    if not (math.isfinite(params.max_se_bps_hz) and params.max_se_bps_hz > 0.0):
        problems.append(f"max_se_bps_hz must be > 0, got {params.max_se_bps_hz}")
    _raise(problems, where)


def throughput_mbps(sinr_db: Any, *, bandwidth_mhz: float, params: ShannonParams = DOWNLINK_TR36942,
                    efficiency_factor: float = 1.0) -> float | np.ndarray:
    """Throughput (Mbit/s) of one user with the whole ``bandwidth_mhz``: spectral efficiency ×
    bandwidth × ``efficiency_factor`` (MIMO layers, overhead; 1 = the TR 36.942 baseline).

    Examples
    --------
    >>> throughput_mbps(0.0, bandwidth_mhz=10.0)
    6.0
    """
    problems: list[str] = []
    if not (isinstance(bandwidth_mhz, int | float) and math.isfinite(bandwidth_mhz) and bandwidth_mhz > 0):
        problems.append(f"bandwidth_mhz must be > 0, got {bandwidth_mhz!r}")
    if not (isinstance(efficiency_factor, int | float) and math.isfinite(efficiency_factor) and efficiency_factor > 0):
        problems.append(f"efficiency_factor must be > 0, got {efficiency_factor!r}")
    _raise(problems, "throughput_mbps")
    return _finish(np.asarray(spectral_efficiency(sinr_db, params=params)) * bandwidth_mhz * efficiency_factor)


def uplink_sinr_db(path_loss_db: Any, *, ul_bandwidth_mhz: float, bs_gain_dbi: float, ue_eirp_dbm: float = 23.0,
                   pattern_gain_db: Any = 0.0, noise_figure_db: float = 5.0,
                   interference_margin_db: float = 3.0) -> float | np.ndarray:
    """Uplink SINR (dB) at the base station: the UE's e.i.r.p. over ``ul_bandwidth_mhz`` minus
    the path loss, plus the base-station antenna gain and pattern, against its noise
    (−174 + 10·log10(B) + NF) raised by ``interference_margin_db`` (the uplink noise rise).

    ``path_loss_db`` is the loss between isotropic antennas (the same as the downlink's).
    From a downlink level it is ``ref_eirp_dbm + pattern_gain_db + rx_gain_dbi − rsrp_dbm``.

    Examples
    --------
    >>> uplink_sinr_db(140.0, ul_bandwidth_mhz=1.0, bs_gain_dbi=17.0)   # 23 + 17 − 140 − (−114 + 5 + 3)
    6.0
    """
    problems: list[str] = []
    for name, value in (("ul_bandwidth_mhz", ul_bandwidth_mhz), ("bs_gain_dbi", bs_gain_dbi),
                        ("ue_eirp_dbm", ue_eirp_dbm), ("noise_figure_db", noise_figure_db),
                        ("interference_margin_db", interference_margin_db)):
        if not (isinstance(value, int | float) and math.isfinite(value)):
            problems.append(f"{name} must be a finite number, got {value!r}")
    if isinstance(ul_bandwidth_mhz, int | float) and not ul_bandwidth_mhz > 0:
        problems.append(f"ul_bandwidth_mhz must be > 0, got {ul_bandwidth_mhz}")
    if isinstance(interference_margin_db, int | float) and interference_margin_db < 0:
        problems.append(f"interference_margin_db must be >= 0, got {interference_margin_db}")
    pattern = _finite("pattern_gain_db", pattern_gain_db, problems, hi=0.0)
    _raise(problems, "uplink_sinr_db")
    return _finish(_uplink_sinr_db(np.asarray(path_loss_db, dtype=np.float64) - pattern, ul_bandwidth_mhz,
                                   ue_eirp_dbm, bs_gain_dbi, noise_figure_db, interference_margin_db))


def _uplink_sinr_db(coupling_loss_db: Any, ul_bandwidth_mhz: Any, ue_eirp_dbm: float, bs_gain_dbi: float,
                    noise_figure_db: float, interference_margin_db: float) -> Any:
    """The one uplink formula: P_UE + G_BS − coupling loss − (noise in B_ul + NF_BS + margin); unchecked."""
    with np.errstate(invalid="ignore", divide="ignore"):
        noise = _noise_dbm(ul_bandwidth_mhz * 1e6, noise_figure_db) + interference_margin_db
    return ue_eirp_dbm + bs_gain_dbi - coupling_loss_db - noise


class UplinkBudget(NamedTuple):
    """Uplink of :func:`uplink_budget` (float64, shape of the coupling loss, NaN stays NaN)."""

    sinr_db: np.ndarray
    mbps: np.ndarray


def uplink_budget(coupling_loss_db: Any, bandwidth_mhz: Any, link: LinkParams) -> UplinkBudget:
    """Uplink SINR and Mbit/s over a coupling loss (reference-signal EIRP − serving level, i.e.
    path loss − antenna pattern), the one uplink budget of the engine and the services.

    SINR = UE EIRP + BS gain − coupling − (noise in B_ul + BS noise figure + interference
    margin), B_ul = min(``bandwidth_mhz``, ``link.ul_bandwidth_max_mhz``); Mbit/s = the uplink
    Shannon bound (``link.uplink``) × B_ul.  The caller validates the numbers of ``link``.

    Examples
    --------
    >>> ul = uplink_budget(np.array([140.0]), 1.0, LinkParams(bs_gain_dbi=17.0))
    >>> ul.sinr_db.tolist(), ul.mbps.round(3).tolist()          # 23 + 17 − 140 − (−114 + 5 + 3)
    ([6.0], [0.927])
    """
    ul_bw = np.minimum(bandwidth_mhz, link.ul_bandwidth_max_mhz)
    sinr = _uplink_sinr_db(np.asarray(coupling_loss_db, dtype=np.float64), ul_bw, link.ue_eirp_dbm, link.bs_gain_dbi,
                           link.bs_noise_figure_db, link.ul_interference_margin_db)
    return UplinkBudget(sinr, np.asarray(spectral_efficiency(sinr, params=link.uplink)) * ul_bw)


def uplink_budget_mbps(coupling_loss_db: Any, bandwidth_mhz: Any, link: LinkParams) -> np.ndarray:
    """Uplink Mbit/s of :func:`uplink_budget` (what the engine's speed tiers use)."""
    return uplink_budget(coupling_loss_db, bandwidth_mhz, link).mbps


def speed_tier_class(down_mbps: Any, up_mbps: Any, *, tiers: Sequence[SpeedTier] = FCC_BDC_TIERS) -> np.ndarray:
    """Tier class raster (int8, shape of the speeds): k for the highest tier ``tiers[k - 1]``
    whose download *and* upload minima are met, 0 for none, −1 where a speed is NaN.

    ``tiers`` must ascend in both speeds (each tier contains the next).

    Examples
    --------
    >>> speed_tier_class([4.0, 6.0, 40.0, 40.0], [1.0, 1.0, 1.0, 3.0]).tolist()
    [0, 1, 2, 3]
    """
    problems: list[str] = []
    if not tiers:
        problems.append("tiers must not be empty")
    downs = np.array([t.down_mbps for t in tiers], dtype=np.float64)
    ups = np.array([t.up_mbps for t in tiers], dtype=np.float64)
    if tiers and (np.any(np.diff(downs) < 0) or np.any(np.diff(ups) < 0)):
        shown = [(t.name, t.down_mbps, t.up_mbps) for t in tiers]
        problems.append(f"tiers must ascend in down_mbps and up_mbps, got {shown}")
    down = np.asarray(down_mbps, dtype=np.float64)
    up = np.asarray(up_mbps, dtype=np.float64)
    try:
        down, up = np.broadcast_arrays(down, up)
    except ValueError:
        problems.append(f"down_mbps {down.shape} and up_mbps {up.shape} do not broadcast")
    _raise(problems, "speed_tier_class")
    out = np.empty(down.shape, dtype=np.int8)
    _linkbudget_kernels.speed_tier_grid(np.ascontiguousarray(down).reshape(-1), np.ascontiguousarray(up).reshape(-1),
                                        downs, ups, out.reshape(-1))
    return out


# --------------------------------------------------------------------------------------------
# the engine's rasters


class LinkRasters:
    """Per-technology SINR/throughput rasters of the engine, merged carrier by carrier (the
    carrier with the best download wins), from each carrier's best-server state.

    Uplink speeds are not kept as a raster (:attr:`citycov.engine.cellular.CellularResult.uplink_mbps`
    derives them from the serving level and sector); the speed tier is decided as each carrier merges.
    """

    def __init__(self, n_tech: int, rows: int, cols: int, index_dtype: type = np.int32) -> None:
        shape = (n_tech, rows, cols)
        self.serving_dbm = np.full(shape, np.nan, dtype=np.float32)
        self.serving_sector = np.full(shape, -1, dtype=index_dtype)
        self.sinr_db = np.full(shape, np.nan, dtype=np.float32)
        self.margin_db = np.full(shape, np.nan, dtype=np.float16)
        self.overlap = np.zeros(shape, dtype=np.int8)
        self.throughput_mbps = np.full(shape, np.nan, dtype=np.float32)
        self.speed_tier = np.full(shape, -1, dtype=np.int8)

    def add_carrier(self, t: int, car_top: np.ndarray, car_idx: np.ndarray, car_sum: np.ndarray, link: LinkParams,
                    technology: str, bandwidth_mhz: float, ref_eirp: np.ndarray,
                    win: tuple[slice, slice] = (slice(None), slice(None))) -> None:
        """Merge one carrier's best-server state (k strongest levels, server index, summed power
        over the window ``win`` of the grid) into the rasters of technology index ``t``."""
        server = _server_rasters(car_top, car_idx, car_sum, link.loading,
                                 carrier_noise_dbm(technology, link.noise_figure_db), link.overlap_db)
        best, sinr = server.best_dbm, server.sinr_db
        served = car_idx >= 0
        down = np.where(served, throughput_mbps(sinr.astype(np.float64), bandwidth_mhz=bandwidth_mhz,
                                                params=link.downlink), np.nan)
        cur_down = self.throughput_mbps[t][win]
        cur_sinr = self.sinr_db[t][win]
        better = served & (np.isnan(cur_down) | (down > cur_down) | ((down == cur_down) & (sinr > cur_sinr)))
        if not better.any():
            return
        # uplink over the same coupling loss: reference EIRP − level (exact EIRP, float32 level)
        up = uplink_budget_mbps(ref_eirp[car_idx[better]] - best[better], bandwidth_mhz, link)
        tier = speed_tier_class(down[better].astype(np.float32).astype(np.float64),
                                up.astype(np.float32).astype(np.float64), tiers=link.tiers)
        self.serving_dbm[t][win][better] = best[better]
        self.serving_sector[t][win][better] = car_idx[better]
        self.sinr_db[t][win][better] = sinr[better]
        self.margin_db[t][win][better] = server.margin_db[better]
        self.overlap[t][win][better] = server.n_within[better]
        self.throughput_mbps[t][win][better] = down[better]
        self.speed_tier[t][win][better] = tier

    def finish(self, link: LinkParams) -> dict[str, np.ndarray]:
        """The rasters, by the name of their :class:`~citycov.engine.cellular.CellularResult` field."""
        return {"serving_dbm": self.serving_dbm, "serving_sector": self.serving_sector,
                "sinr_db": self.sinr_db, "margin_db": self.margin_db, "overlap": self.overlap,
                "throughput_mbps": self.throughput_mbps, "speed_tier": self.speed_tier}
