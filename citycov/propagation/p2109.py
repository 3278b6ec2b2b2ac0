"""ITU-R P.2109 building entry loss (statistical, 0.08-100 GHz).

    Lh = r + s·log10 f + t·(log10 f)²,  Le = 0.212·|θ|
    μ1 = Lh + Le,  μ2 = w + x·log10 f,  σ1 = u + v·log10 f,  σ2 = y + z·log10 f
    A(P) = Φ⁻¹(P)·σ1 + μ1,  B(P) = Φ⁻¹(P)·σ2 + μ2,  C = −3 dB
    L_BEL(P) = 10·log10(10^(0.1 A) + 10^(0.1 B) + 10^(0.1 C))
with f in GHz, θ the elevation angle of the path at the façade, P the probability that the
loss is not exceeded, and the coefficients of Table 1 (class 1 traditional, class 2
thermally efficient).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from citycov.errors import ModelError
from citycov.propagation.arrays import as_float_arrays, check_range, finish
from citycov.propagation.stats import inverse_normal_cdf

P2109_FREQ_GHZ = (0.08, 100.0)
BUILDING_CLASSES = {1: "traditional", 2: "thermally efficient"}
# r, s, t, u, v, w, x, y, z  (P.2109 Table 1)
_COEFFS = np.array([
    [12.64, 3.72, 0.96, 9.6, 2.0, 9.1, -3.0, 4.5, -2.0],
    [28.19, -3.00, 8.48, 13.5, 3.8, 27.8, -2.9, 9.4, -2.1],
])


@njit(cache=True, nogil=True)
def building_entry_db(freq_ghz, theta_deg, p_percent, building_class, coeffs):
    """L_BEL (dB) not exceeded with probability ``p_percent`` %; ``building_class`` 1 or 2."""
    c = coeffs[building_class - 1]
    lf = math.log10(freq_ghz)
    mu1 = c[0] + c[1] * lf + c[2] * lf * lf + 0.212 * abs(theta_deg)
    mu2 = c[5] + c[6] * lf
    s1 = c[3] + c[4] * lf
    s2 = c[7] + c[8] * lf
    q = inverse_normal_cdf(p_percent / 100.0)
    a = q * s1 + mu1
    b = q * s2 + mu2
    return 10.0 * math.log10(10.0 ** (0.1 * a) + 10.0 ** (0.1 * b) + 10.0 ** (-0.3))




@njit(cache=True)
def _bel_loop(f, t, p, k, coeffs, out):
    for i in range(f.size):
        out[i] = building_entry_db(f[i], t[i], p[i], k[i], coeffs)
    return out


def p2109_building_entry_loss_db(freq_ghz, theta_deg, p, building_class):
    """ITU-R P.2109 building entry loss (dB) not exceeded for ``p`` % of cases.

    Parameters
    ----------
    freq_ghz
        0.08-100 GHz.
    theta_deg
        Elevation angle of the path at the building façade, degrees (−90..90).
    p
        Probability that the loss is not exceeded, percent (0 < p < 100).
    building_class
        1 traditional, 2 thermally efficient (scalar or array).

    Examples
    --------
    >>> round(p2109_building_entry_loss_db(28.0, 0.0, 0.0003981072, 1), 3)
    0.315
    """
    (f, t, pp, k), scalar = as_float_arrays(freq_ghz, theta_deg, p, building_class)
    check_range("freq_ghz", f, *P2109_FREQ_GHZ, model="P.2109")
    check_range("theta_deg", t, -90.0, 90.0, model="P.2109")
    if not ((pp > 0.0) & (pp < 100.0)).all():
        raise ModelError(f"P.2109: p must be in (0, 100) %, got {np.unique(pp[~((pp > 0) & (pp < 100))])[:5].tolist()}")
    if not np.isin(k, list(BUILDING_CLASSES)).all():
        raise ModelError(f"P.2109: building_class must be 1 (traditional) or 2 (thermally efficient), "
                         f"got {np.unique(k[~np.isin(k, list(BUILDING_CLASSES))])[:5].tolist()}")
    flat = [a.ravel() for a in (f, t, pp)]
    out = _bel_loop(*flat, k.ravel().astype(np.int64), _COEFFS, np.empty(f.size))
    return finish(out.reshape(f.shape), scalar)
