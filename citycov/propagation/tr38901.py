"""3GPP TR 38.901 Table 7.4.1-1 median path loss (no shadow fading), 0.5-100 GHz.

Scenario codes: 0 RMa, 1 UMa, 2 UMi-Street Canyon, 3 InH-Office.  ``d_2d_m`` is the ground
distance; d3D = sqrt(d2D² + (hBS − hUT)²).  NLOS loss is max(PL_LOS, PL'_NLOS).  UMa/UMi
use the effective-environment height hE = 1 m for the breakpoint distance
d'BP = 4·(hBS − hE)(hUT − hE)·fc/c; RMa uses dBP = 2π·hBS·hUT·fc/c.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from citycov.errors import ModelError
from citycov.propagation.arrays import as_float_arrays, check_range, finish
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S

TR38901_SCENARIOS = {"RMa": 0, "UMa": 1, "UMi": 2, "UMi-StreetCanyon": 2, "InH": 3, "InH-Office": 3}


@njit(cache=True, nogil=True)
def _rma_pl1(d3d_m, freq_ghz, h_m):
    return (20.0 * math.log10(40.0 * math.pi * d3d_m * freq_ghz / 3.0)
            + min(0.03 * h_m ** 1.72, 10.0) * math.log10(d3d_m)
            - min(0.044 * h_m ** 1.72, 14.77) + 0.002 * math.log10(h_m) * d3d_m)


@njit(cache=True, nogil=True)
def tr38901_db(scenario, freq_ghz, h_bs_m, h_ut_m, d_2d_m, los, building_height_m, street_width_m):
    """Median path loss in dB for scenario code 0-3; ``los`` is 1 (LOS) or 0 (NLOS)."""
    dh = h_bs_m - h_ut_m
    d3d = math.sqrt(d_2d_m * d_2d_m + dh * dh)
    lf = math.log10(freq_ghz)
    if scenario == 0:  # RMa
        h = building_height_m
        d_bp = 2.0 * math.pi * h_bs_m * h_ut_m * freq_ghz * 1e9 / SPEED_OF_LIGHT_M_S
        if d_2d_m <= d_bp:
            pl_los = _rma_pl1(d3d, freq_ghz, h)
        else:
            pl_los = _rma_pl1(d_bp, freq_ghz, h) + 40.0 * math.log10(d3d / d_bp)
        if los:
            return pl_los
        w = street_width_m
        pl_nlos = (161.04 - 7.1 * math.log10(w) + 7.5 * math.log10(h)
                   - (24.37 - 3.7 * (h / h_bs_m) ** 2) * math.log10(h_bs_m)
                   + (43.42 - 3.1 * math.log10(h_bs_m)) * (math.log10(d3d) - 3.0)
                   + 20.0 * lf - (3.2 * math.log10(11.75 * h_ut_m) ** 2 - 4.97))
        return max(pl_los, pl_nlos)
    if scenario == 3:  # InH-Office
        pl_los = 32.4 + 17.3 * math.log10(d3d) + 20.0 * lf
        if los:
            return pl_los
        return max(pl_los, 38.3 * math.log10(d3d) + 17.30 + 24.9 * lf)
    # UMa (1) and UMi-Street Canyon (2), hE = 1 m
    d_bp = 4.0 * (h_bs_m - 1.0) * (h_ut_m - 1.0) * freq_ghz * 1e9 / SPEED_OF_LIGHT_M_S
    if scenario == 1:
        if d_2d_m <= d_bp:
            pl_los = 28.0 + 22.0 * math.log10(d3d) + 20.0 * lf
        else:
            pl_los = 28.0 + 40.0 * math.log10(d3d) + 20.0 * lf - 9.0 * math.log10(d_bp * d_bp + dh * dh)
        if los:
            return pl_los
        return max(pl_los, 13.54 + 39.08 * math.log10(d3d) + 20.0 * lf - 0.6 * (h_ut_m - 1.5))
    if d_2d_m <= d_bp:
        pl_los = 32.4 + 21.0 * math.log10(d3d) + 20.0 * lf
    else:
        pl_los = 32.4 + 40.0 * math.log10(d3d) + 20.0 * lf - 9.5 * math.log10(d_bp * d_bp + dh * dh)
    if los:
        return pl_los
    return max(pl_los, 35.3 * math.log10(d3d) + 22.4 + 21.3 * lf - 0.3 * (h_ut_m - 1.5))


@vectorize(["float64(int64, float64, float64, float64, float64, int64, float64, float64)"], cache=True)
def _tr38901_ufunc(scenario, f, hbs, hut, d2d, los, h, w):
    return tr38901_db(scenario, f, hbs, hut, d2d, los, h, w)


# Validity ranges of Table 7.4.1-1 and its notes, per scenario code:
# freq_ghz, h_bs_m, h_ut_m, distance (d_2d; d_3d for InH) for LOS and for NLOS.
_DOMAIN = {
    0: {"freq_ghz": (0.5, 30.0), "h_bs_m": (10.0, 150.0), "h_ut_m": (1.0, 10.0), "los_m": (10.0, 10_000.0),
        "nlos_m": (10.0, 5_000.0), "building_height_m": (5.0, 50.0), "street_width_m": (5.0, 50.0)},
    1: {"freq_ghz": (0.5, 100.0), "h_bs_m": (10.0, 150.0), "h_ut_m": (1.5, 22.5), "los_m": (10.0, 5_000.0),
        "nlos_m": (10.0, 5_000.0)},
    2: {"freq_ghz": (0.5, 100.0), "h_bs_m": (10.0, 150.0), "h_ut_m": (1.5, 22.5), "los_m": (10.0, 5_000.0),
        "nlos_m": (10.0, 5_000.0)},
    3: {"freq_ghz": (0.5, 100.0), "h_bs_m": (1.0, 20.0), "h_ut_m": (1.0, 10.0), "los_m": (1.0, 150.0),
        "nlos_m": (1.0, 150.0)},
}
_SCENARIO_NAMES = {0: "RMa", 1: "UMa", 2: "UMi", 3: "InH"}


def _scenario_code(scenario: str) -> int:
    if scenario not in TR38901_SCENARIOS:
        raise ModelError(f"TR 38.901: unknown scenario {scenario!r}; expected one of {sorted(TR38901_SCENARIOS)}")
    return TR38901_SCENARIOS[scenario]


def tr38901_loss_db(scenario, freq_ghz, h_bs_m, h_ut_m, d_2d_m, los, *, building_height_m=5.0,
                    street_width_m=20.0, extrapolate=False):
    """3GPP TR 38.901 Table 7.4.1-1 median path loss in dB (no shadow fading).

    Parameters
    ----------
    scenario
        ``"RMa"``, ``"UMa"``, ``"UMi"`` (``"UMi-StreetCanyon"``) or ``"InH"`` (``"InH-Office"``).
    freq_ghz
        Carrier frequency, GHz: 0.5-30 (RMa) or 0.5-100.
    h_bs_m, h_ut_m
        Base-station and user-terminal heights, m.  RMa: 10-150 and 1-10; UMa/UMi: 10-150
        (the tables evaluate 25 m and 10 m) and 1.5-22.5; InH: 1-20 and 1-10.
    d_2d_m
        Ground distance, m.  RMa 10 m-10 km LOS, 10 m-5 km NLOS; UMa/UMi 10 m-5 km; InH the
        3-D distance must be 1-150 m.
    los
        True for line of sight; NLOS is max(PL_LOS, PL'_NLOS).
    building_height_m, street_width_m
        RMa only: average building height h (5-50 m) and street width W (5-50 m).
    extrapolate
        ``True`` lifts the distance and height ranges (the frequency range stays); the
        caller records that it did so.

    Examples
    --------
    >>> round(tr38901_loss_db("UMa", 3.5, 25.0, 1.5, 500.0, False), 2)
    129.92
    """
    code = _scenario_code(scenario)
    (f, hbs, hut, d, los_f, h, w), scalar = as_float_arrays(
        freq_ghz, h_bs_m, h_ut_m, d_2d_m, np.asarray(los, dtype=np.float64), building_height_m, street_width_m)
    dom = _DOMAIN[code]
    name = f"TR 38.901 {_SCENARIO_NAMES[code]}"
    check_range("freq_ghz", f, *dom["freq_ghz"], model=name)
    d3d = np.hypot(d, hbs - hut)
    if extrapolate:
        check_range("h_bs_m", hbs, 0.0, 1000.0, model=name, lo_open=True)
        check_range("h_ut_m", hut, 1.0, 100.0, model=name)
        check_range("d_2d_m", d, 0.0, 1e6, model=name)
        check_range("d_3d (from d_2d_m and the heights)", d3d, 0.0, 1e6, model=name, lo_open=True)
    else:
        check_range("h_bs_m", hbs, *dom["h_bs_m"], model=name)
        check_range("h_ut_m", hut, *dom["h_ut_m"], model=name)
        is_los = los_f != 0
        dist = d3d if code == 3 else d
        label = "d_3d (from d_2d_m and the heights)" if code == 3 else "d_2d_m"
        if is_los.any():
            check_range(f"{label} (LOS)", dist[is_los], *dom["los_m"], model=name)
        if (~is_los).any():
            check_range(f"{label} (NLOS)", dist[~is_los], *dom["nlos_m"], model=name)
        if code == 0:
            check_range("building_height_m", h, *dom["building_height_m"], model=name)
            check_range("street_width_m", w, *dom["street_width_m"], model=name)
    codes = np.full(f.shape, code, dtype=np.int64)
    return finish(_tr38901_ufunc(codes, f, hbs, hut, d, (los_f != 0).astype(np.int64), h, w), scalar)


@njit(cache=True, nogil=True)
def los_probability(scenario, d_2d_m, h_ut_m, open_office):
    """Table 7.4.2-1 LOS probability for scenario code 0-3 (InH: mixed or open office)."""
    d = d_2d_m
    if scenario == 0:
        return 1.0 if d <= 10.0 else math.exp(-(d - 10.0) / 1000.0)
    if scenario == 2:
        return 1.0 if d <= 18.0 else 18.0 / d + math.exp(-d / 36.0) * (1.0 - 18.0 / d)
    if scenario == 1:
        if d <= 18.0:
            return 1.0
        c = 0.0 if h_ut_m <= 13.0 else ((h_ut_m - 13.0) / 10.0) ** 1.5
        base = 18.0 / d + math.exp(-d / 63.0) * (1.0 - 18.0 / d)
        return base * (1.0 + c * 5.0 / 4.0 * (d / 100.0) ** 3 * math.exp(-d / 150.0))
    if open_office:
        if d <= 5.0:
            return 1.0
        if d <= 49.0:
            return math.exp(-(d - 5.0) / 70.8)
        return math.exp(-(d - 49.0) / 211.7) * 0.54
    if d <= 1.2:
        return 1.0
    if d < 6.5:
        return math.exp(-(d - 1.2) / 4.7)
    return math.exp(-(d - 6.5) / 32.6) * 0.32


@vectorize(["float64(int64, float64, float64, int64)"], cache=True)
def _los_ufunc(scenario, d, hut, open_office):
    return los_probability(scenario, d, hut, open_office)


def tr38901_los_probability(scenario, d_2d_m, *, h_ut_m=1.5, office="mixed"):
    """TR 38.901 Table 7.4.2-1 probability of line of sight (0-1) at ground distance ``d_2d_m``.

    ``h_ut_m`` matters for UMa only (13-23 m raises it); ``office`` is ``"mixed"`` or
    ``"open"`` for InH.

    Examples
    --------
    >>> round(tr38901_los_probability("UMi", 100.0), 4)
    0.231
    """
    code = _scenario_code(scenario)
    if office not in ("mixed", "open"):
        raise ModelError(f"TR 38.901: office must be 'mixed' or 'open', got {office!r}")
    (d, hut), scalar = as_float_arrays(d_2d_m, h_ut_m)
    check_range("d_2d_m", d, 0.0, 1e6, model="TR 38.901 LOS probability")
    check_range("h_ut_m", hut, 1.0, 23.0, model="TR 38.901 LOS probability")
    codes = np.full(d.shape, code, dtype=np.int64)
    return finish(_los_ufunc(codes, d, hut, np.full(d.shape, int(office == "open"), dtype=np.int64)), scalar)


SHADOW_FADING_DB = {"RMa": (4.0, 8.0), "UMa": (4.0, 6.0), "UMi": (4.0, 7.82), "InH": (3.0, 8.03)}
"""Table 7.4.1-1 shadow-fading σ (dB), (LOS, NLOS); RMa LOS is 6 dB beyond the breakpoint."""


def tr38901_shadow_fading_db(scenario, los, *, d_2d_m=None, freq_ghz=None, h_bs_m=35.0, h_ut_m=1.5):
    """TR 38.901 Table 7.4.1-1 shadow-fading standard deviation σ_SF in dB.

    RMa LOS is 4 dB up to the breakpoint dBP = 2π·hBS·hUT·fc/c and 6 dB beyond, so it needs
    ``d_2d_m`` and ``freq_ghz``; every other case is a constant.

    Examples
    --------
    >>> tr38901_shadow_fading_db("UMi", False)
    7.82
    """
    code = _scenario_code(scenario)
    name = _SCENARIO_NAMES[code]
    sigma_los, sigma_nlos = SHADOW_FADING_DB[name]
    if not los:
        return sigma_nlos
    if code != 0:
        return sigma_los
    if d_2d_m is None or freq_ghz is None:
        raise ModelError("TR 38.901 RMa LOS shadow fading depends on the breakpoint: give d_2d_m and freq_ghz")
    (d, f, hbs, hut), scalar = as_float_arrays(d_2d_m, freq_ghz, h_bs_m, h_ut_m)
    d_bp = 2.0 * math.pi * hbs * hut * f * 1e9 / SPEED_OF_LIGHT_M_S
    return finish(np.where(d <= d_bp, 4.0, 6.0).astype(np.float64), scalar)
