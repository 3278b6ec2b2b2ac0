"""Okumura-Hata (Hata 1980) and COST-231 Hata median path loss.

Environment codes used by the kernels (``HATA_ENVIRONMENTS`` maps the names):

====  ======================  ==========================================================
code  name                    definition
====  ======================  ==========================================================
0     ``urban_large``         urban loss with the large-city a(hm)
1     ``urban_small_medium``  urban loss with the small/medium-city a(hm)
2     ``suburban``            Lu(small/medium) − 2·(log10(f/28))² − 5.4
3     ``open``                Lu(small/medium) − 4.78·(log10 f)² + 18.33·log10 f − 40.94
====  ======================  ==========================================================

Large-city a(hm): 8.29·(log10 1.54·hm)² − 1.1 for f ≤ 200 MHz, else 3.2·(log10 11.75·hm)² − 4.97.
COST-231 applies the same suburban/open corrections to its urban formula when the engine
asks for them (a common planning-tool extension; COST-231 itself defines only Cm).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from citycov.errors import ModelError
from citycov.propagation.arrays import as_float_arrays, check_range, finish

HATA_ENVIRONMENTS = {"urban_large": 0, "urban_small_medium": 1, "suburban": 2, "open": 3}
OKUMURA_HATA_FREQ_MHZ = (150.0, 1500.0)
COST231_FREQ_MHZ = (1500.0, 2000.0)
H_BASE_M = (30.0, 200.0)
H_MOBILE_M = (1.0, 10.0)
DIST_KM = (1.0, 20.0)
"""Hata's (and COST-231's) stated domain besides frequency: hb 30-200 m, hm 1-10 m, d 1-20 km."""


@njit(cache=True, nogil=True)
def _a_hm_small_medium(freq_mhz, h_mobile_m):
    lf = math.log10(freq_mhz)
    return (1.1 * lf - 0.7) * h_mobile_m - (1.56 * lf - 0.8)


@njit(cache=True, nogil=True)
def _a_hm_large(freq_mhz, h_mobile_m):
    if freq_mhz <= 200.0:
        return 8.29 * math.log10(1.54 * h_mobile_m) ** 2 - 1.1
    return 3.2 * math.log10(11.75 * h_mobile_m) ** 2 - 4.97


@njit(cache=True, nogil=True)
def _environment_correction_db(freq_mhz, env):
    """Suburban / open correction added to the small/medium-city urban loss (0 otherwise)."""
    lf = math.log10(freq_mhz)
    if env == 2:
        return -2.0 * math.log10(freq_mhz / 28.0) ** 2 - 5.4
    if env == 3:
        return -4.78 * lf * lf + 18.33 * lf - 40.94
    return 0.0


@njit(cache=True, nogil=True)
def okumura_hata_db(freq_mhz, h_base_m, h_mobile_m, dist_km, env):
    """Okumura-Hata median loss in dB; ``env`` is an integer code (see module docstring)."""
    a_hm = _a_hm_large(freq_mhz, h_mobile_m) if env == 0 else _a_hm_small_medium(freq_mhz, h_mobile_m)
    lhb = math.log10(h_base_m)
    urban = (69.55 + 26.16 * math.log10(freq_mhz) - 13.82 * lhb - a_hm
             + (44.9 - 6.55 * lhb) * math.log10(dist_km))
    return urban + _environment_correction_db(freq_mhz, env)


@njit(cache=True, nogil=True)
def cost231_hata_db(freq_mhz, h_base_m, h_mobile_m, dist_km, env):
    """COST-231 Hata median loss in dB.

    ``env`` 0 is metropolitan (Cm = 3 dB), 1 medium city/suburban centre (Cm = 0), 2 and 3
    add the Hata suburban/open corrections to the Cm = 0 loss.
    """
    lhb = math.log10(h_base_m)
    c_m = 3.0 if env == 0 else 0.0
    urban = (46.3 + 33.9 * math.log10(freq_mhz) - 13.82 * lhb - _a_hm_small_medium(freq_mhz, h_mobile_m)
             + (44.9 - 6.55 * lhb) * math.log10(dist_km) + c_m)
    return urban + _environment_correction_db(freq_mhz, env)


@vectorize(["float64(float64, float64, float64, float64, int64)"], cache=True)
def _okumura_hata_ufunc(f, hb, hm, d, env):
    return okumura_hata_db(f, hb, hm, d, env)


@vectorize(["float64(float64, float64, float64, float64, int64)"], cache=True)
def _cost231_ufunc(f, hb, hm, d, env):
    return cost231_hata_db(f, hb, hm, d, env)


def _check_common(model: str, hb: np.ndarray, hm: np.ndarray, d: np.ndarray, extrapolate: bool) -> None:
    if extrapolate:
        check_range("h_base_m", hb, 0.0, 1000.0, model=model, lo_open=True)
        check_range("h_mobile_m", hm, 0.0, 100.0, model=model, lo_open=True)
        check_range("dist_km", d, 0.0, 1000.0, model=model, lo_open=True)
        return
    check_range("h_base_m", hb, *H_BASE_M, model=model)
    check_range("h_mobile_m", hm, *H_MOBILE_M, model=model)
    check_range("dist_km", d, *DIST_KM, model=model)


def okumura_hata_loss_db(freq_mhz, h_base_m, h_mobile_m, dist_km, environment="urban_small_medium", *,
                         extrapolate=False):
    """Okumura-Hata median basic transmission loss in dB (Hata 1980).

    Parameters
    ----------
    freq_mhz
        Frequency, MHz, 150-1500.
    h_base_m, h_mobile_m
        Base and mobile antenna heights above ground, m: 30-200 and 1-10.
    dist_km
        Distance, km, 1-20.
    environment
        ``urban_large``, ``urban_small_medium``, ``suburban`` or ``open``.
    extrapolate
        ``True`` accepts heights and distances outside Hata's domain (any positive value);
        the frequency range is always enforced.  The caller records that it did so.

    Arguments broadcast like numpy; scalars give a float.  Out-of-domain input raises
    :class:`~citycov.errors.ModelError` naming the argument, value and range.

    Examples
    --------
    >>> round(okumura_hata_loss_db(900.0, 30.0, 1.5, 1.0, "urban_large"), 2)
    126.42
    """
    if environment not in HATA_ENVIRONMENTS:
        raise ModelError(f"Okumura-Hata: unknown environment {environment!r}; expected one of "
                         f"{sorted(HATA_ENVIRONMENTS)}")
    (f, hb, hm, d), scalar = as_float_arrays(freq_mhz, h_base_m, h_mobile_m, dist_km)
    check_range("freq_mhz", f, *OKUMURA_HATA_FREQ_MHZ, model="Okumura-Hata")
    _check_common("Okumura-Hata", hb, hm, d, extrapolate)
    env = np.full(f.shape, HATA_ENVIRONMENTS[environment], dtype=np.int64)
    return finish(_okumura_hata_ufunc(f, hb, hm, d, env), scalar)


def cost231_hata_loss_db(freq_mhz, h_base_m, h_mobile_m, dist_km, *, metropolitan=False, extrapolate=False):
    """COST-231 Hata median basic transmission loss in dB.

    Domain: f 1500-2000 MHz, hb 30-200 m, hm 1-10 m, d 1-20 km (``extrapolate=True`` lifts
    all but the frequency range).  ``metropolitan=True`` adds Cm = 3 dB (metropolitan
    centres); otherwise Cm = 0 (medium cities and suburban centres).

    Examples
    --------
    >>> round(cost231_hata_loss_db(1800.0, 30.0, 1.5, 1.0), 2)
    136.2
    """
    (f, hb, hm, d), scalar = as_float_arrays(freq_mhz, h_base_m, h_mobile_m, dist_km)
    check_range("freq_mhz", f, *COST231_FREQ_MHZ, model="COST-231 Hata")
    _check_common("COST-231 Hata", hb, hm, d, extrapolate)
    env = np.full(f.shape, 0 if metropolitan else 1, dtype=np.int64)
    return finish(_cost231_ufunc(f, hb, hm, d, env), scalar)
