"""ITU-R P.525 free-space basic transmission loss."""

from __future__ import annotations

import math

from numba import njit, vectorize

from citycov.propagation.arrays import as_float_arrays, check_range, finish

SPEED_OF_LIGHT_M_S = 299_792_458.0
FSPL_CONSTANT_DB = 20.0 * math.log10(4.0 * math.pi * 1e9 / SPEED_OF_LIGHT_M_S)
"""20·log10(4π·10⁹/c) = 32.4478 dB: the exact constant for f in MHz and d in km."""


@njit(cache=True, nogil=True)
def fspl_db(freq_mhz, dist_km):
    """Free-space basic loss in dB (P.525, exact constant)."""
    return FSPL_CONSTANT_DB + 20.0 * math.log10(freq_mhz) + 20.0 * math.log10(dist_km)


@vectorize(["float64(float64, float64)"], cache=True)
def _fspl_ufunc(freq_mhz, dist_km):
    return fspl_db(freq_mhz, dist_km)


def free_space_loss_db(freq_mhz, dist_km):
    """Free-space basic transmission loss ``20·log10(4π d f / c)`` in dB (ITU-R P.525).

    Parameters broadcast like numpy; scalars give a float.

    Examples
    --------
    >>> round(free_space_loss_db(100.0, 0.01), 4)
    32.4478
    """
    (f, d), scalar = as_float_arrays(freq_mhz, dist_km)
    check_range("freq_mhz", f, 0.0, 1e7, model="free space", lo_open=True)
    check_range("dist_km", d, 0.0, 1e6, model="free space", lo_open=True)
    return finish(_fspl_ufunc(f, d), scalar)
