"""Link budget: noise, reference-signal levels, field strength, best server and SINR, speed.

Pure functions over numbers and arrays, to be wired into the coverage engine
(:mod:`citycov.engine.cellular`).  Conventions:

* Levels are dBm, losses dB (positive), gains dBi; ``eirp_dbm`` is the total e.i.r.p. of
  the carrier at boresight (antenna gain included); ``pattern_gain_db`` is the relative
  pattern gain (≤ 0) towards the receiver.
* **RSRP / SS-RSRP** (4G/5G) is the power of one resource element: the carrier power spread
  evenly over its 12·N_RB subcarriers, RSRP = EIRP − 10·log10(12·N_RB) + G_pattern − L + G_rx.
  N_RB comes from the channel bandwidth (LTE: TS 36.101 Table 5.6-1; NR FR1: TS 38.101-1
  Table 5.3.2-1 with the subcarrier spacing).
* **RSCP** (3G) is the CPICH level: the pilot carries ``cpich_fraction`` of the cell power
  (10% by default, the usual planning assumption).
* **SINR** compares levels in one bandwidth: with RSRP levels (one resource element) the
  noise is the noise of one subcarrier, ``thermal_noise_dbm(scs_khz / 1000, ...)``.  The
  serving cell is the strongest; the others on the carrier interfere in proportion to
  the cell ``loading`` (0..1): SINR = S / (loading·Σ_others + N), so SINR ≤ S/N always.
* **Throughput**: the attenuated Shannon bound of 3GPP TR 36.942 Annex A.2 times the
  bandwidth and a configurable ``efficiency_factor`` (MIMO layers, overhead; 1 by default).
* **Uplink** (for the speed tiers): its own link budget, not a fixed fraction of the
  downlink, because the uplink is power-limited at the cell edge.  :func:`uplink_sinr_db`
  puts the UE's full power into the allocated bandwidth ``ul_bandwidth_mhz`` over the same
  path loss as the downlink, against the base-station noise plus an interference margin
  (noise rise); the same Shannon mapping with the TR 36.942 uplink parameters gives Mbit/s.
  A caller who prefers a ratio can pass ``down_mbps * ratio`` to :func:`speed_tier_class`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from citycov.engine import _linkbudget_kernels
from citycov.errors import ModelError
from citycov.propagation._stats import inverse_normal_cdf

THERMAL_NOISE_DBM_HZ = _linkbudget_kernels.THERMAL_NOISE_DBM_HZ
ERP_TO_EIRP_DB = 2.15
"""e.i.r.p. = e.r.p. + 2.15 dB (gain of a half-wave dipole over isotropic)."""
P1812_CONSTANT_DB = 199.36
"""ITU-R P.1812: E = 199.36 + 20·log10(f_GHz) − Lb dBµV/m for 1 kW e.r.p."""

LTE_RESOURCE_BLOCKS: dict[float, int] = {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}
"""LTE channel bandwidth (MHz) -> N_RB (TS 36.101 Table 5.6-1)."""

NR_RESOURCE_BLOCKS: dict[tuple[int, float], int] = {
    # (SCS kHz, channel bandwidth MHz) -> N_RB, TS 38.101-1 Table 5.3.2-1 (FR1).  The 35, 45
    # and 70 MHz columns were added in later releases.
    **{(15, b): n for b, n in {5.0: 25, 10.0: 52, 15.0: 79, 20.0: 106, 25.0: 133, 30.0: 160, 35.0: 188,
                               40.0: 216, 45.0: 242, 50.0: 270}.items()},
    **{(30, b): n for b, n in {5.0: 11, 10.0: 24, 15.0: 38, 20.0: 51, 25.0: 65, 30.0: 78, 35.0: 92, 40.0: 106,
                               45.0: 119, 50.0: 133, 60.0: 162, 70.0: 189, 80.0: 217, 90.0: 245,
                               100.0: 273}.items()},
    **{(60, b): n for b, n in {10.0: 11, 15.0: 18, 20.0: 24, 25.0: 31, 30.0: 38, 35.0: 44, 40.0: 51, 45.0: 58,
                               50.0: 65, 60.0: 79, 70.0: 93, 80.0: 107, 90.0: 121, 100.0: 135}.items()},
}
NR_DEFAULT_SCS_KHZ = 30
DEFAULT_CPICH_FRACTION = 0.1
LINK_TECHNOLOGIES = ("3G", "4G", "5G")


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
    return _finish(THERMAL_NOISE_DBM_HZ + 10.0 * np.log10(b * 1e6) + nf)


def resource_blocks(technology: str, bandwidth_mhz: float, *, scs_khz: int | None = None) -> int:
    """N_RB of a 4G or 5G carrier of ``bandwidth_mhz`` (5G: at ``scs_khz``, 30 kHz by default).

    Examples
    --------
    >>> resource_blocks("4G", 20.0), resource_blocks("5G", 100.0, scs_khz=30)
    (100, 273)
    """
    bw = float(bandwidth_mhz)
    if technology == "4G":
        if scs_khz not in (None, 15):
            raise ModelError(f"resource_blocks: LTE uses 15 kHz subcarriers, got scs_khz={scs_khz}")
        if bw not in LTE_RESOURCE_BLOCKS:
            raise ModelError(f"resource_blocks: LTE bandwidth_mhz must be one of {sorted(LTE_RESOURCE_BLOCKS)}, "
                             f"got {bandwidth_mhz}")
        return LTE_RESOURCE_BLOCKS[bw]
    if technology == "5G":
        scs = NR_DEFAULT_SCS_KHZ if scs_khz is None else int(scs_khz)
        if (scs, bw) not in NR_RESOURCE_BLOCKS:
            valid = sorted(b for s, b in NR_RESOURCE_BLOCKS if s == scs)
            scs_list = sorted({s for s, _ in NR_RESOURCE_BLOCKS})
            hint = f"bandwidths at {scs} kHz: {valid}" if valid else f"scs_khz must be one of {scs_list}"
            raise ModelError(f"resource_blocks: no NR carrier of {bandwidth_mhz} MHz at {scs} kHz "
                             f"(TS 38.101-1 Table 5.3.2-1); {hint}")
        return NR_RESOURCE_BLOCKS[(scs, bw)]
    raise ModelError(f"resource_blocks: technology must be '4G' or '5G', got {technology!r}")


def reference_signal_offset_db(technology: str, bandwidth_mhz: float | None = None, *, scs_khz: int | None = None,
                               cpich_fraction: float = DEFAULT_CPICH_FRACTION) -> float:
    """dB from the carrier's total power to its reference signal.

    4G/5G: −10·log10(12·N_RB) (one resource element); 3G: 10·log10(``cpich_fraction``).

    Examples
    --------
    >>> round(reference_signal_offset_db("4G", 20.0), 2)    # 1200 subcarriers
    -30.79
    >>> reference_signal_offset_db("3G")
    -10.0
    """
    if technology == "3G":
        if not 0.0 < cpich_fraction <= 1.0:
            raise ModelError(f"reference_signal_offset_db: cpich_fraction must be in (0, 1], got {cpich_fraction}")
        return 10.0 * math.log10(cpich_fraction)
    if technology not in LINK_TECHNOLOGIES:
        raise ModelError(f"reference_signal_offset_db: technology must be one of {list(LINK_TECHNOLOGIES)}, "
                         f"got {technology!r}")
    if bandwidth_mhz is None:
        raise ModelError(f"reference_signal_offset_db: {technology} needs bandwidth_mhz")
    return -10.0 * math.log10(12.0 * resource_blocks(technology, bandwidth_mhz, scs_khz=scs_khz))


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
        Window below the server within which sectors are counted in ``n_within``.

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
    flat = np.ascontiguousarray(stack.reshape(stack.shape[0], -1))
    n = flat.shape[1]
    best = np.empty(n, dtype=np.float32)
    idx = np.empty(n, dtype=np.int32)
    margin = np.empty(n, dtype=np.float32)
    count = np.empty(n, dtype=np.int32)
    sinr = np.empty(n, dtype=np.float32)
    _linkbudget_kernels.best_server_stack(flat, float(loading), float(noise_dbm), float(overlap_db), best, idx, margin, count, sinr)
    return ServerResult(best.reshape(pixels), idx.reshape(pixels), margin.reshape(pixels), count.reshape(pixels),
                        sinr.reshape(pixels), float(overlap_db))


class ServerAccumulator:
    """Running best-server state of one carrier, updated sector by sector.

    The engine keeps one accumulator per carrier and adds each sector's levels, over the
    whole grid or over the window it reaches, without keeping a stack: memory is
    (capacity + 2) values per pixel.  ``capacity`` (≥ 2) is how many of the strongest levels
    are kept per pixel; the overlap count is exact up to it and saturates there, so choose
    capacity = the pilot-pollution count of interest (e.g. 4 for "4 or more within 5 dB").

    Examples
    --------
    >>> acc = ServerAccumulator((1, 2))
    >>> acc.add([[-80.0, -95.0]], sector_index=0)
    >>> acc.add([[-90.0]], sector_index=1, origin=(0, 1))     # a window: pixel (0, 1) only
    >>> r = acc.finish(loading=0.5, noise_dbm=-120.0)
    >>> r.best_index.tolist(), r.margin_db.tolist()
    ([[0, 1]], [[inf, 5.0]])
    """

    def __init__(self, shape: int | Sequence[int], *, capacity: int = 4) -> None:
        shape_t = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
        problems: list[str] = []
        if len(shape_t) not in (1, 2) or any(s < 1 for s in shape_t):
            problems.append(f"shape must be (n_pixels,) or (rows, cols) of positive sizes, got {shape_t}")
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 2:
            problems.append(f"capacity must be an integer >= 2, got {capacity!r}")
        _raise(problems, "ServerAccumulator")
        self.shape = shape_t
        self.capacity = int(capacity)
        grid = shape_t if len(shape_t) == 2 else (1, shape_t[0])
        self.top_dbm = np.full((self.capacity, *grid), -np.inf)
        self.best_idx = np.full(grid, -1, dtype=np.int32)
        self.sum_mw = np.zeros(grid)

    def add(self, rx_dbm: Any, *, sector_index: int, origin: Sequence[int] | int | None = None) -> None:
        """Add one sector's levels (dBm, NaN = not reached): an array of the accumulator's
        dimensionality whose first pixel sits at ``origin`` (row, col), or (pixel,) for 1-D;
        by default at the first pixel.  Sectors may be added in any order; ties between equal
        levels go to the sector added first."""
        tile = np.asarray(rx_dbm, dtype=np.float64)
        if origin is None:
            origin = (0,) * len(self.shape)
        origin_t = (int(origin),) if isinstance(origin, int | np.integer) else tuple(int(o) for o in origin)
        problems: list[str] = []
        if tile.ndim != len(self.shape):
            problems.append(f"rx_dbm must be {len(self.shape)}-D like the accumulator, got shape {tile.shape}")
        elif len(origin_t) != len(self.shape):
            problems.append(f"origin must have {len(self.shape)} values, got {origin_t}")
        elif any(o < 0 or o + s > n for o, s, n in zip(origin_t, tile.shape, self.shape, strict=True)):
            problems.append(f"tile of shape {tile.shape} at origin {origin_t} does not fit in {self.shape}")
        if isinstance(sector_index, bool) or not isinstance(sector_index, int | np.integer) or sector_index < 0:
            problems.append(f"sector_index must be an integer >= 0, got {sector_index!r}")
        _raise(problems, "ServerAccumulator.add")
        if tile.ndim == 1:
            tile, row0, col0 = tile[np.newaxis, :], 0, origin_t[0]
        else:
            row0, col0 = origin_t
        _linkbudget_kernels.accumulate_sector(tile, row0, col0, int(sector_index), self.top_dbm, self.best_idx, self.sum_mw)

    def finish(self, *, loading: float, noise_dbm: float, overlap_db: float = 5.0) -> ServerResult:
        """Rasters of the state so far (see :class:`ServerResult`); the state is not changed."""
        _sinr_args(loading, noise_dbm, overlap_db, "ServerAccumulator.finish")
        grid = self.best_idx.shape
        best = np.empty(grid, dtype=np.float32)
        margin = np.empty(grid, dtype=np.float32)
        count = np.empty(grid, dtype=np.int32)
        sinr = np.empty(grid, dtype=np.float32)
        _linkbudget_kernels.finish_sinr(self.top_dbm, self.best_idx, self.sum_mw, float(loading), float(noise_dbm), float(overlap_db),
                      best, margin, count, sinr)
        return ServerResult(best.reshape(self.shape), self.best_idx.copy().reshape(self.shape),
                            margin.reshape(self.shape), count.reshape(self.shape), sinr.reshape(self.shape),
                            float(overlap_db), self.capacity)


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
    return _finish(_linkbudget_kernels.spectral_efficiency_ufunc(sinr, params.alpha, params.sinr_min_db, params.max_se_bps_hz))


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
    noise = _linkbudget_kernels.thermal_noise_dbm(ul_bandwidth_mhz * 1e6, noise_figure_db) + interference_margin_db
    loss = np.asarray(path_loss_db, dtype=np.float64)
    return _finish(ue_eirp_dbm + bs_gain_dbi + pattern - loss - noise)


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
    _linkbudget_kernels.speed_tier_grid(np.ascontiguousarray(down).reshape(-1), np.ascontiguousarray(up).reshape(-1), downs, ups,
                      out.reshape(-1))
    return out
