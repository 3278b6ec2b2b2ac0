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
from citycov.propagation._broadcast import as_float_arrays, check_range, finish
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


def tr38901_loss_db(scenario, freq_ghz, h_bs_m, h_ut_m, d_2d_m, los, *, building_height_m=5.0,
                    street_width_m=20.0):
    """TR 38.901 median path loss in dB for ``scenario`` RMa, UMa, UMi or InH.

    ``los`` is a bool (or array of bools); NLOS is max(LOS, NLOS').  No shadow fading.
    ``building_height_m`` and ``street_width_m`` are used by RMa only.

    Examples
    --------
    >>> round(tr38901_loss_db("UMa", 3.5, 25.0, 1.5, 500.0, False), 2)
    129.6
    """
    if scenario not in TR38901_SCENARIOS:
        raise ModelError(f"TR 38.901: unknown scenario {scenario!r}; expected one of {sorted(TR38901_SCENARIOS)}")
    (f, hbs, hut, d, los_f, h, w), scalar = as_float_arrays(
        freq_ghz, h_bs_m, h_ut_m, d_2d_m, np.asarray(los, dtype=np.float64), building_height_m, street_width_m)
    check_range("freq_ghz", f, 0.5, 100.0, model="TR 38.901")
    check_range("h_bs_m", hbs, 1.0, 1000.0, model="TR 38.901", lo_open=True)
    check_range("h_ut_m", hut, 1.0, 100.0, model="TR 38.901")
    check_range("d_2d_m", d, 0.0, 1e6, model="TR 38.901")
    check_range("d_3d (from d_2d_m and the heights)", np.hypot(d, hbs - hut), 0.0, 1e6, model="TR 38.901",
                lo_open=True)
    code = np.full(f.shape, TR38901_SCENARIOS[scenario], dtype=np.int64)
    return finish(_tr38901_ufunc(code, f, hbs, hut, d, (los_f != 0).astype(np.int64), h, w), scalar)
