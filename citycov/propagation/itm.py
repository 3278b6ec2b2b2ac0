"""Longley-Rice Irregular Terrain Model (ITM) v1.4, NTIA/ITS, in point-to-point and area modes.

ITM predicts the median basic transmission loss of a terrestrial path from 20 MHz to 20 GHz
(designed for 40 MHz-10 GHz, paths of 1-2000 km) from the terrain between the terminals
(point-to-point) or from a terrain irregularity parameter Δh (area), and the variability of
that loss in time, location and situation:

* the reference attenuation A_ref (relative to free space) comes from the line-of-sight,
  diffraction (knife-edge blended with Vogler's smooth earth) or troposcatter region the path
  falls in;
* the variability is given either as time/location/situation percentages (TLS) or as
  confidence/reliability (CR: time = reliability, location = 50 %, situation = confidence,
  as NTIA's ``ITM_*_CR`` functions do).

Argument codes follow NTIA's interface: ``climate`` 1 equatorial, 2 continental subtropical,
3 maritime subtropical, 4 desert, 5 continental temperate, 6 maritime temperate over land,
7 maritime temperate over sea; ``pol`` 0 horizontal, 1 vertical; ``mdvar`` 0 single message,
1 accidental, 2 mobile, 3 broadcast, +10 to eliminate location variability, +20 to eliminate
direct situation variability (+30 both); siting 0 random, 1 careful, 2 very careful.

Input outside ITM's hard limits raises :class:`ItmError` (``code`` is NTIA's return code);
input inside them but outside the model's validated range sets NTIA's ``WARN__*`` bit flags
in :attr:`ItmResult.warnings` (see :data:`ITM_WARNINGS`).

The numerics are the Numba kernels of :mod:`citycov.propagation._itm_kernels`; the radio
engine calls :func:`itm_p2p_loss_db` from its own loops, and the radial exact mode
(:mod:`citycov.engine._radial_exact_kernels`) the steps of :func:`itm_p2p_full` exported here
(h_sys bounds, ground and atmosphere, fit bounds, terrain window, Δh's resampling and
interdecile range, terminal geometry, reference attenuation, variability).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from citycov.errors import ItmError
from citycov.propagation import _itm_kernels
from citycov.propagation._itm_kernels import (  # the steps of itm_p2p_full, for the radial exact mode
    DELTA_H_MAX_SAMPLES,
    asymptotic_delta_h_m,
    detrended_resample,
    free_space_db,
    ground_and_atmosphere,
    interdecile_hinted,
    itm_p2p_full,
    itm_p2p_loss_db,
    line_fit_indices,
    reference_attenuation,
    system_height_indices,
    terminal_geometry,
    terrain_window_m,
    variability_db,
)
from citycov.propagation._itm_kernels import SUCCESS as ITM_SUCCESS

__all__ = [
    "DELTA_H_MAX_SAMPLES",
    "ITM_CLIMATES",
    "ITM_MDVAR",
    "ITM_MODES",
    "ITM_SITING",
    "ITM_SUCCESS",
    "ITM_WARNINGS",
    "ItmResult",
    "asymptotic_delta_h_m",
    "detrended_resample",
    "free_space_db",
    "ground_and_atmosphere",
    "interdecile_hinted",
    "itm_area",
    "itm_p2p",
    "itm_p2p_full",
    "itm_p2p_loss_db",
    "line_fit_indices",
    "reference_attenuation",
    "system_height_indices",
    "terminal_geometry",
    "terrain_window_m",
    "variability_db",
]

ITM_CLIMATES = {
    1: "equatorial",
    2: "continental subtropical",
    3: "maritime subtropical",
    4: "desert",
    5: "continental temperate",
    6: "maritime temperate over land",
    7: "maritime temperate over sea",
}
ITM_MDVAR = {0: "single message", 1: "accidental", 2: "mobile", 3: "broadcast"}
ITM_SITING = {0: "random", 1: "careful", 2: "very careful"}
ITM_MODES = {1: "line of sight", 2: "diffraction", 3: "troposcatter"}
ITM_WARNINGS = {
    _itm_kernels.WARN_TX_TERMINAL_HEIGHT: "TX terminal height is near its limits (1-1000 m)",
    _itm_kernels.WARN_RX_TERMINAL_HEIGHT: "RX terminal height is near its limits (1-1000 m)",
    _itm_kernels.WARN_FREQUENCY: "frequency is near its limits (40-10000 MHz)",
    _itm_kernels.WARN_PATH_DISTANCE_TOO_BIG_1: "path distance is near its upper limit (> 1000 km)",
    _itm_kernels.WARN_PATH_DISTANCE_TOO_BIG_2: "path distance is large (> 2000 km): take care with the result",
    _itm_kernels.WARN_PATH_DISTANCE_TOO_SMALL_1: "path distance is near its lower limit (< |h_e,tx - h_e,rx| / 0.2)",
    _itm_kernels.WARN_PATH_DISTANCE_TOO_SMALL_2: "path distance is small (< 1 km): take care with the result",
    _itm_kernels.WARN_TX_HORIZON_ANGLE:
        "TX horizon angle is large (> 200 mrad): small-angle approximations may break down",
    _itm_kernels.WARN_RX_HORIZON_ANGLE:
        "RX horizon angle is large (> 200 mrad): small-angle approximations may break down",
    _itm_kernels.WARN_TX_HORIZON_DISTANCE_1:
        "TX horizon distance is less than 1/10 of the smooth-earth horizon distance",
    _itm_kernels.WARN_RX_HORIZON_DISTANCE_1:
        "RX horizon distance is less than 1/10 of the smooth-earth horizon distance",
    _itm_kernels.WARN_TX_HORIZON_DISTANCE_2:
        "TX horizon distance is more than 3 times the smooth-earth horizon distance",
    _itm_kernels.WARN_RX_HORIZON_DISTANCE_2:
        "RX horizon distance is more than 3 times the smooth-earth horizon distance",
    _itm_kernels.WARN_EXTREME_VARIABILITIES: "a variability is far in the tail of its distribution (|z| > 3.1)",
    _itm_kernels.WARN_SURFACE_REFRACTIVITY:
        "surface refractivity N_s is small (< 250 N-units): take care with the result",
}
_KERNEL_ERRORS = {
    _itm_kernels.ERROR_GROUND_IMPEDANCE:
        "ground impedance: the imaginary part of Z_g is not smaller than its real part "
                              "(epsilon {epsilon}, sigma {sigma} S/m, pol {pol})",
    _itm_kernels.ERROR_EFFECTIVE_EARTH: "effective earth radius outside 4000-13333 km",
    _itm_kernels.ERROR_SURFACE_REFRACTIVITY_SMALL:
        "surface refractivity N_s < 150 N-units (terrain too high for N0 {n0})",
    _itm_kernels.ERROR_SURFACE_REFRACTIVITY_LARGE: "surface refractivity N_s > 400 N-units",
}


@dataclass(frozen=True)
class ItmResult:
    """Result of one ITM prediction.

    Attributes
    ----------
    loss_db
        Basic transmission loss, dB, at the requested variability.
    mode
        Propagation mode: 1 line of sight, 2 diffraction, 3 troposcatter.
    warnings
        NTIA ``WARN__*`` bit flags (0 when none); :attr:`warning_messages` spells them out.
    free_space_loss_db
        Free-space basic transmission loss, dB.
    ref_attenuation_db
        Reference (median) attenuation relative to free space, A_ref, dB.
    d_km
        Path distance, km.
    n_s
        Surface refractivity, N-units.
    delta_h_m
        Terrain irregularity parameter Δh, m.
    h_e_m
        Effective heights (tx, rx), m.
    d_hzn_m
        Horizon distances (tx, rx), m.
    theta_hzn_rad
        Horizon elevation angles (tx, rx), radians.
    """

    loss_db: float
    mode: int
    warnings: int
    free_space_loss_db: float
    ref_attenuation_db: float
    d_km: float
    n_s: float
    delta_h_m: float
    h_e_m: tuple[float, float]
    d_hzn_m: tuple[float, float]
    theta_hzn_rad: tuple[float, float]

    @property
    def warning_messages(self) -> tuple[str, ...]:
        """The warnings set in :attr:`warnings`, in flag order."""
        return tuple(msg for bit, msg in ITM_WARNINGS.items() if self.warnings & bit)


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------
class _Problems:
    """Collects every problem, then raises once with the code of the first in NTIA's order."""

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.items: list[tuple[int | None, str]] = []

    def add(self, code: int | None, msg: str) -> None:
        self.items.append((code, msg))

    def number(self, name: str, value: Any, lo: float, hi: float, code: int, *, lo_open: bool = False,
               hi_open: bool = False, unit: str = "") -> float:
        """Check a real number in a range; return it as float (NaN when not a number)."""
        if isinstance(value, bool) or not isinstance(value, Real):
            self.add(code, f"{name} must be a real number, got {value!r}")
            return math.nan
        v = float(value)
        ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        if not ok:
            lb = "(" if lo_open else "["
            rb = ")" if hi_open else "]"
            hi_s = "inf" if math.isinf(hi) else f"{hi:g}"
            self.add(code, f"{name} must be in {lb}{lo:g}, {hi_s}{rb}{unit}, got {value!r}")
        return v

    def choice(self, name: str, value: Any, valid: dict[int, str], code: int, *, described: str = "") -> int:
        if isinstance(value, bool) or not (isinstance(value, Integral) or
                                           (isinstance(value, Real) and float(value).is_integer())):
            iv = None
        else:
            iv = int(value)
        if iv not in valid:
            listed = described or "one of " + ", ".join(f"{k} ({v})" for k, v in valid.items())
            self.add(code, f"{name} must be {listed}, got {value!r}")
            return -1
        return iv

    def raise_if_any(self) -> None:
        if self.items:
            codes = [c for c, _ in self.items if c is not None]
            code = codes[0] if codes else None
            msg = f"ITM {self.fn}: " + "; ".join(m for _, m in self.items)
            if code is not None:
                msg += f" (NTIA return code {code})"
            raise ItmError(msg, code)


def _mdvar_codes() -> dict[int, str]:
    codes = {}
    for base, name in ITM_MDVAR.items():
        codes[base] = name
        codes[base + 10] = f"{name}, no location variability"
        codes[base + 20] = f"{name}, no direct situation variability"
        codes[base + 30] = f"{name}, neither"
    return dict(sorted(codes.items()))


_MDVAR_CODES = _mdvar_codes()


def _check_common(p: _Problems, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar):
    """NTIA's ValidateInputs, in its order (variabilities are checked by the caller)."""
    h_tx = p.number("h_tx_m", h_tx_m, 0.5, 3000.0, _itm_kernels.ERROR_TX_TERMINAL_HEIGHT, unit=" m")
    h_rx = p.number("h_rx_m", h_rx_m, 0.5, 3000.0, _itm_kernels.ERROR_RX_TERMINAL_HEIGHT, unit=" m")
    clim = p.choice("climate", climate, ITM_CLIMATES, _itm_kernels.ERROR_INVALID_RADIO_CLIMATE)
    n_0 = p.number("n0", n0, 250.0, 400.0, _itm_kernels.ERROR_REFRACTIVITY, unit=" N-units")
    f = p.number("freq_mhz", freq_mhz, 20.0, 20000.0, _itm_kernels.ERROR_FREQUENCY, unit=" MHz")
    pl = p.choice("pol", pol, {0: "horizontal", 1: "vertical"}, _itm_kernels.ERROR_POLARIZATION)
    eps = p.number("epsilon", epsilon, 1.0, math.inf, _itm_kernels.ERROR_EPSILON)
    sig = p.number("sigma", sigma, 0.0, math.inf, _itm_kernels.ERROR_SIGMA, lo_open=True, unit=" S/m")
    mdv = p.choice("mdvar", mdvar, _MDVAR_CODES, _itm_kernels.ERROR_MDVAR,
                   described="0-3 (single message, accidental, mobile, broadcast), plus 10 (no location "
                             "variability), 20 (no direct situation variability) or 30 (both)")
    return h_tx, h_rx, clim, n_0, f, pl, eps, sig, mdv


def _check_variability(p: _Problems, time, location, situation, confidence, reliability) -> tuple[float, float, float]:
    """Exactly one of TLS or CR; returns (time, location, situation) percentages."""
    tls = (time, location, situation)
    cr = (confidence, reliability)
    has_tls = any(v is not None for v in tls)
    has_cr = any(v is not None for v in cr)
    if has_tls == has_cr or (has_tls and None in tls) or (has_cr and None in cr):
        p.add(None, "give either time, location and situation (TLS) or confidence and reliability (CR), "
                    f"exactly one complete set; got time={time!r}, location={location!r}, situation={situation!r}, "
                    f"confidence={confidence!r}, reliability={reliability!r}")
        return math.nan, math.nan, math.nan
    if has_tls:
        s = p.number("situation", situation, 0.0, 100.0, _itm_kernels.ERROR_INVALID_SITUATION, lo_open=True,
                     hi_open=True, unit=" %")
        t = p.number("time", time, 0.0, 100.0, _itm_kernels.ERROR_INVALID_TIME, lo_open=True, hi_open=True, unit=" %")
        loc = p.number("location", location, 0.0, 100.0, _itm_kernels.ERROR_INVALID_LOCATION, lo_open=True,
                       hi_open=True, unit=" %")
        return t, loc, s
    c = p.number("confidence", confidence, 0.0, 100.0, _itm_kernels.ERROR_INVALID_CONFIDENCE, lo_open=True,
                 hi_open=True, unit=" %")
    r = p.number("reliability", reliability, 0.0, 100.0, _itm_kernels.ERROR_INVALID_RELIABILITY, lo_open=True,
                 hi_open=True, unit=" %")
    return r, 50.0, c


def _check_profile(p: _Problems, profile: Any) -> np.ndarray:
    try:
        pfl = np.array(profile, dtype=np.float64).reshape(-1) if np.ndim(profile) == 1 else None
    except (TypeError, ValueError):
        pfl = None
    if pfl is None or pfl.size < 4:
        p.add(None, "profile must be a 1-D array [n_intervals, spacing_m, elev_0, ..., elev_n] with n >= 1")
        return np.zeros(4)
    n = pfl[0]
    if not (math.isfinite(n) and n >= 1 and float(n).is_integer()):
        p.add(None, f"profile[0] (number of intervals) must be an integer >= 1, got {n!r}")
    elif pfl.size != int(n) + 3:
        p.add(None, f"profile holds {pfl.size - 2} elevations but profile[0] = {int(n)} intervals needs {int(n) + 1}")
    if not (math.isfinite(pfl[1]) and pfl[1] > 0):
        p.add(_itm_kernels.ERROR_PATH_DISTANCE, f"profile[1] (spacing_m) must be > 0 m, got {pfl[1]!r}")
    bad = ~np.isfinite(pfl[2:])
    if bad.any():
        where = np.flatnonzero(bad)[:10].tolist()
        p.add(None, f"profile elevations must be finite; non-finite at elevation indices {where}")
    return pfl


def _result(out: tuple, p_fn: str, epsilon: float, sigma: float, pol: int, n0: float) -> ItmResult:
    loss, err, warn, mode, a_fs, a_ref, d, n_s, dh, he0, he1, dz0, dz1, th0, th1 = out
    if err != _itm_kernels.SUCCESS:
        why = _KERNEL_ERRORS.get(err, "computation refused").format(epsilon=epsilon, sigma=sigma, pol=pol, n0=n0)
        raise ItmError(f"ITM {p_fn}: {why} (NTIA return code {err})", int(err))
    return ItmResult(
        loss_db=float(loss), mode=int(mode), warnings=int(warn), free_space_loss_db=float(a_fs),
        ref_attenuation_db=float(a_ref), d_km=float(d) / 1000.0, n_s=float(n_s), delta_h_m=float(dh),
        h_e_m=(float(he0), float(he1)), d_hzn_m=(float(dz0), float(dz1)), theta_hzn_rad=(float(th0), float(th1)),
    )


# ---------------------------------------------------------------------------------------------
# public functions
# ---------------------------------------------------------------------------------------------
def itm_p2p(profile: Any, h_tx_m: float, h_rx_m: float, *, climate: int, n0: float, freq_mhz: float, pol: int,
            epsilon: float, sigma: float, mdvar: int, time: float | None = None, location: float | None = None,
            situation: float | None = None, confidence: float | None = None,
            reliability: float | None = None) -> ItmResult:
    """ITM point-to-point prediction over a terrain profile.

    Parameters
    ----------
    profile
        1-D array in NTIA's PFL form ``[n_intervals, spacing_m, elev_0, ..., elev_n]``:
        elevations (m above sea level) equally spaced from the transmitter to the receiver.
    h_tx_m, h_rx_m
        Antenna heights above ground, m, 0.5-3000 (warning outside 1-1000).
    climate
        Radio climate code, 1-7 (see :data:`ITM_CLIMATES`).
    n0
        Sea-level surface refractivity, N-units, 250-400.
    freq_mhz
        Frequency, MHz, 20-20000 (warning outside 40-10000).
    pol
        Polarisation: 0 horizontal, 1 vertical.
    epsilon
        Relative permittivity of the ground, ≥ 1.
    sigma
        Ground conductivity, S/m, > 0.
    mdvar
        Mode of variability: 0-3, plus 10 and/or 20 (see module docstring).
    time, location, situation
        Percentages in (0, 100) (TLS form).
    confidence, reliability
        Percentages in (0, 100) (CR form); give either all three TLS values or both CR values.

    Returns
    -------
    ItmResult
        Loss, mode, warning flags and intermediate values.

    Raises
    ------
    ItmError
        (a :class:`~citycov.errors.ModelError`) naming each invalid argument, its value and
        valid range; ``code`` is NTIA's return code.

    Examples
    --------
    >>> pfl = [4, 1000.0, 100.0, 110.0, 140.0, 120.0, 100.0]
    >>> r = itm_p2p(pfl, 30.0, 10.0, climate=5, n0=301.0, freq_mhz=900.0, pol=1, epsilon=15.0,
    ...             sigma=0.005, mdvar=12, time=50.0, location=50.0, situation=50.0)
    >>> r.mode, round(r.d_km, 1)
    (1, 4.0)
    """
    p = _Problems("point-to-point")
    h_tx, h_rx, clim, n_0, f, pl, eps, sig, mdv = _check_common(
        p, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar)
    t, loc, s = _check_variability(p, time, location, situation, confidence, reliability)
    pfl = _check_profile(p, profile)
    p.raise_if_any()
    buf = np.empty(_itm_kernels.DELTA_H_MAX_SAMPLES)
    out = _itm_kernels.itm_p2p_full(pfl, h_tx, h_rx, clim, n_0, f, pl, eps, sig, mdv, t, loc, s, buf)
    return _result(out, "point-to-point", eps, sig, pl, n_0)


def itm_area(h_tx_m: float, h_rx_m: float, *, tx_siting: int, rx_siting: int, dist_km: float, delta_h_m: float,
             climate: int, n0: float, freq_mhz: float, pol: int, epsilon: float, sigma: float, mdvar: int,
             time: float | None = None, location: float | None = None, situation: float | None = None,
             confidence: float | None = None, reliability: float | None = None) -> ItmResult:
    """ITM area-mode prediction from path length and terrain irregularity.

    Parameters
    ----------
    h_tx_m, h_rx_m
        Antenna heights above ground, m, 0.5-3000 (warning outside 1-1000).
    tx_siting, rx_siting
        Siting criteria: 0 random, 1 careful, 2 very careful.
    dist_km
        Path distance, km, > 0 (warnings below 1 km and above 1000 km).
    delta_h_m
        Terrain irregularity parameter Δh, m, ≥ 0 (about 0 for water, 30 for rolling plains,
        90 hills, 200 mountains).
    climate, n0, freq_mhz, pol, epsilon, sigma, mdvar
        As for :func:`itm_p2p`.
    time, location, situation, confidence, reliability
        As for :func:`itm_p2p`.

    Returns
    -------
    ItmResult
        Loss, mode, warning flags and intermediate values.

    Raises
    ------
    ItmError
        (a :class:`~citycov.errors.ModelError`) naming each invalid argument, its value and
        valid range; ``code`` is NTIA's return code.

    Examples
    --------
    >>> r = itm_area(15.0, 3.0, tx_siting=0, rx_siting=0, dist_km=10.0, delta_h_m=20.0, climate=5,
    ...              n0=301.0, freq_mhz=3500.0, pol=1, epsilon=15.0, sigma=0.005, mdvar=1,
    ...              time=50.0, location=50.0, situation=50.0)
    >>> round(r.loss_db, 1), r.mode
    (134.5, 1)
    """
    p = _Problems("area")
    h_tx, h_rx, clim, n_0, f, pl, eps, sig, mdv = _check_common(
        p, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar)
    t, loc, s = _check_variability(p, time, location, situation, confidence, reliability)
    d = p.number("dist_km", dist_km, 0.0, math.inf, _itm_kernels.ERROR_PATH_DISTANCE, lo_open=True, unit=" km")
    dh = p.number("delta_h_m", delta_h_m, 0.0, math.inf, _itm_kernels.ERROR_DELTA_H, unit=" m")
    tx_s = p.choice("tx_siting", tx_siting, ITM_SITING, _itm_kernels.ERROR_TX_SITING_CRITERIA)
    rx_s = p.choice("rx_siting", rx_siting, ITM_SITING, _itm_kernels.ERROR_RX_SITING_CRITERIA)
    p.raise_if_any()
    out = _itm_kernels.itm_area_full(h_tx, h_rx, tx_s, rx_s, d, dh, clim, n_0, f, pl, eps, sig, mdv, t, loc, s)
    return _result(out, "area", eps, sig, pl, n_0)
