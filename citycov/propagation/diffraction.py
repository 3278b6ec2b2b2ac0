"""ITU-R P.526 single knife-edge diffraction loss J(ν) and the Fresnel-Kirchhoff parameter."""

from __future__ import annotations

import math

from numba import njit, vectorize

from citycov.propagation._broadcast import as_float_arrays, finish


@njit(cache=True, nogil=True)
def knife_edge_db(nu):
    """P.526 eq. (31): J(ν) = 6.9 + 20·log10(√((ν−0.1)²+1) + ν − 0.1) for ν > −0.78, else 0."""
    if nu <= -0.78:
        return 0.0
    t = nu - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(t * t + 1.0) + t)


@njit(cache=True, nogil=True)
def fresnel_nu(h_m, d1_m, d2_m, wavelength_m):
    """ν = h·√(2(d1+d2)/(λ·d1·d2)) for an edge ``h_m`` above the direct path (P.526 eq. 26)."""
    return h_m * math.sqrt(2.0 * (d1_m + d2_m) / (wavelength_m * d1_m * d2_m))


@vectorize(["float64(float64)"], cache=True)
def _knife_edge_ufunc(nu):
    return knife_edge_db(nu)


def knife_edge_loss_db(nu):
    """Single knife-edge diffraction loss J(ν) in dB, P.526 eq. (31) approximation.

    Examples
    --------
    >>> round(knife_edge_loss_db(0.0), 4)
    6.0329
    """
    (v,), scalar = as_float_arrays(nu)
    return finish(_knife_edge_ufunc(v), scalar)
