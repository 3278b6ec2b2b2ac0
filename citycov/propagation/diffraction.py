"""ITU-R P.526 knife-edge diffraction: single edge J(ν), and multiple edges on a profile.

Single edge (P.526 §4.1): ν = h·√(2(d1+d2)/(λ·d1·d2)) and
    exact   J(ν) = −20·log10( √((1 − C(ν) − S(ν))² + (C(ν) − S(ν))²) / 2 )
    eq. 31  J(ν) = 6.9 + 20·log10(√((ν − 0.1)² + 1) + ν − 0.1) for ν > −0.78, else 0
with C, S the Fresnel integrals.

Multiple edges on a profile (x from the transmitter, z heights with the antennas at both
ends; J from eq. 31).  The candidate edges are the intermediate points (``edges="all"``) or
only the vertices of the profile's upper convex hull (``edges="hull"``, for densely
sampled terrain, where neighbouring ground samples are not separate obstacles):
    ``deygout``           principal edge (largest ν over the whole path) plus at most one
                          edge on each side (largest ν between the principal edge and each
                          terminal); no empirical correction; 0 when the principal edge
                          has ν ≤ −0.78 (the path is clear).
    ``epstein_peterson``  the candidates that intrude on the direct path (ν over the
                          terminal-to-terminal line > −0.78) are the edges; each ν is taken
                          over the line joining its neighbouring edges; losses add.
    ``bullington``        the equivalent edge where the steepest ray from each terminal
                          meets (as in ITU-R P.1812 / P.526 §4.5); on a line-of-sight path
                          the point of largest ν.
The curved-earth variant adds the earth bulge x·(d − x)/(2·k·R) to every point first.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from citycov.errors import ModelError
from citycov.propagation.arrays import as_float_arrays, check_range, finish
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S

EARTH_RADIUS_M = 6_371_000.0
MULTI_EDGE_METHODS = {"deygout": 0, "epstein_peterson": 1, "bullington": 2}


@njit(cache=True, nogil=True)
def knife_edge_db(nu):
    """P.526 eq. (31): J(ν) = 6.9 + 20·log10(√((ν−0.1)²+1) + ν − 0.1) for ν > −0.78, else 0."""
    if nu <= -0.78:
        return 0.0
    t = nu - 0.1
    return 6.9 + 20.0 * math.log10(math.sqrt(t * t + 1.0) + t)


@njit(cache=True, nogil=True)
def fresnel_cs(x):
    """Fresnel integrals C(x) = ∫₀ˣ cos(πt²/2) dt and S(x) = ∫₀ˣ sin(πt²/2) dt.

    Power series for |x| ≤ 3.5 (terms stay below 1e8, so ~1e-8 absolute), the asymptotic
    expansion of the auxiliary functions f, g beyond, truncated at its smallest term
    (error below 1e-8 for |x| > 3.5).
    """
    ax = abs(x)
    if ax <= 3.5:
        z = 0.5 * math.pi * ax * ax
        c = 0.0
        s = 0.0
        term = ax  # x·z^(2n)/(2n)!  and  x·z^(2n+1)/(2n+1)!
        n = 0
        while True:
            c_add = term / (4 * n + 1)
            term_s = term * z / (2 * n + 1)
            s_add = term_s / (4 * n + 3)
            c += c_add if n % 2 == 0 else -c_add
            s += s_add if n % 2 == 0 else -s_add
            term = term_s * z / (2 * n + 2)
            n += 1
            if abs(c_add) < 1e-17 and abs(s_add) < 1e-17:
                break
            if n > 200:
                break
    else:
        u = math.pi * ax * ax  # πx²
        inv = 1.0 / (u * u)
        # f(x) ~ 1/(πx)·Σ (−1)^m (4m−1)!!/(πx²)^(2m),  g(x) ~ 1/(π²x³)·Σ (−1)^m (4m+1)!!/(πx²)^(2m)
        f_sum = 1.0
        g_sum = 1.0
        tf = 1.0
        tg = 1.0
        for m in range(1, 40):
            nf = tf * -(4 * m - 1) * (4 * m - 3) * inv
            ng = tg * -(4 * m + 1) * (4 * m - 1) * inv
            if abs(nf) >= abs(tf) or abs(ng) >= abs(tg):
                break  # asymptotic series: stop at the smallest term
            tf = nf
            tg = ng
            f_sum += tf
            g_sum += tg
            if abs(tf) < 1e-17 and abs(tg) < 1e-17:
                break
        f = f_sum / (math.pi * ax)
        g = g_sum / (math.pi * math.pi * ax * ax * ax)
        phase = 0.5 * math.pi * ax * ax
        c = 0.5 + f * math.sin(phase) - g * math.cos(phase)
        s = 0.5 - f * math.cos(phase) - g * math.sin(phase)
    if x < 0.0:
        return -c, -s
    return c, s


@njit(cache=True, nogil=True)
def knife_edge_exact_db(nu):
    """P.526 exact J(ν) from the Fresnel integrals."""
    c, s = fresnel_cs(nu)
    return -20.0 * math.log10(math.sqrt((1.0 - c - s) ** 2 + (c - s) ** 2) / 2.0)


@njit(cache=True, nogil=True)
def fresnel_nu(h_m, d1_m, d2_m, wavelength_m):
    """ν = h·√(2(d1+d2)/(λ·d1·d2)) for an edge ``h_m`` above the direct path (P.526 eq. 26)."""
    return h_m * math.sqrt(2.0 * (d1_m + d2_m) / (wavelength_m * d1_m * d2_m))


@vectorize(["float64(float64)"], cache=True)
def _knife_edge_ufunc(nu):
    return knife_edge_db(nu)


@vectorize(["float64(float64)"], cache=True)
def _knife_edge_exact_ufunc(nu):
    return knife_edge_exact_db(nu)


def knife_edge_loss_db(nu, *, exact=False):
    """Single knife-edge diffraction loss J(ν) in dB (ITU-R P.526).

    Parameters
    ----------
    nu
        Fresnel-Kirchhoff diffraction parameter (dimensionless), any real value.
    exact
        ``False`` (default): eq. (31), 0 for ν ≤ −0.78.  ``True``: the exact expression from
        the Fresnel integrals (shows the lit-region ripple, e.g. −0.44 dB at ν = −3).

    Examples
    --------
    >>> round(knife_edge_loss_db(0.0), 4)
    6.0329
    >>> round(knife_edge_loss_db(0.0, exact=True), 4)
    6.0206
    """
    (v,), scalar = as_float_arrays(nu)
    if np.isnan(v).any():
        raise ModelError("knife edge: nu must be a number, got NaN")
    return finish((_knife_edge_exact_ufunc if exact else _knife_edge_ufunc)(v), scalar)


# ----------------------------------------------------------------------------- multiple edges


@njit(cache=True, nogil=True)
def _max_nu_between(x, z, i0, i1, wavelength):
    """Largest ν (and its index) of the points strictly between i0 and i1, over the line i0-i1.
    Returns (-inf, -1) when there is no intermediate point."""
    best = -np.inf
    best_i = -1
    dx = x[i1] - x[i0]
    for i in range(i0 + 1, i1):
        d1 = x[i] - x[i0]
        d2 = x[i1] - x[i]
        if d1 <= 0.0 or d2 <= 0.0:
            continue
        h = z[i] - (z[i0] + (z[i1] - z[i0]) * d1 / dx)
        nu = fresnel_nu(h, d1, d2, wavelength)
        if nu > best:
            best = nu
            best_i = i
    return best, best_i


@njit(cache=True, nogil=True)
def deygout_db(x, z, wavelength):
    """Deygout: principal edge plus at most one edge each side (no correction), J from eq. 31.
    A clear path (principal ν ≤ −0.78) has no loss."""
    n = x.size
    nu_p, ip = _max_nu_between(x, z, 0, n - 1, wavelength)
    if ip < 0 or nu_p <= -0.78:
        return 0.0
    loss = knife_edge_db(nu_p)
    nu_t, it = _max_nu_between(x, z, 0, ip, wavelength)
    if it >= 0:
        loss += knife_edge_db(nu_t)
    nu_r, ir = _max_nu_between(x, z, ip, n - 1, wavelength)
    if ir >= 0:
        loss += knife_edge_db(nu_r)
    return loss


@njit(cache=True, nogil=True)
def epstein_peterson_db(x, z, wavelength):
    """Epstein-Peterson over the points that intrude on the direct path (ν > −0.78 over the
    terminal-to-terminal line): each over the line joining its neighbouring edges; losses add."""
    n = x.size
    d = x[n - 1] - x[0]
    keep = np.zeros(n, dtype=np.int64)
    m = 0
    keep[m] = 0
    m += 1
    for i in range(1, n - 1):
        d1 = x[i] - x[0]
        h = z[i] - (z[0] + (z[n - 1] - z[0]) * d1 / d)
        if fresnel_nu(h, d1, d - d1, wavelength) > -0.78:
            keep[m] = i
            m += 1
    keep[m] = n - 1
    m += 1
    loss = 0.0
    for k in range(1, m - 1):
        a, i, b = keep[k - 1], keep[k], keep[k + 1]
        d1 = x[i] - x[a]
        d2 = x[b] - x[i]
        h = z[i] - (z[a] + (z[b] - z[a]) * d1 / (d1 + d2))
        loss += knife_edge_db(fresnel_nu(h, d1, d2, wavelength))
    return loss


@njit(cache=True, nogil=True)
def upper_hull(x, z):
    """Indices of the upper convex hull of the profile points (x increasing), terminals included."""
    n = x.size
    idx = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        while m >= 2:
            a = idx[m - 2]
            b = idx[m - 1]
            # drop b when it lies on or below the segment a-i
            if (z[b] - z[a]) * (x[i] - x[a]) <= (z[i] - z[a]) * (x[b] - x[a]):
                m -= 1
            else:
                break
        idx[m] = i
        m += 1
    return idx[:m]


@njit(cache=True, nogil=True)
def bullington_nu(x, z, wavelength):
    """ν of the Bullington equivalent edge (intersection of the steepest terminal rays);
    on a line-of-sight path, the largest ν of the intermediate points (P.1812 §4.3.1)."""
    n = x.size
    d = x[n - 1] - x[0]
    z_t = z[0]
    z_r = z[n - 1]
    if n < 3:
        return -np.inf
    slope_tr = (z_r - z_t) / d
    s_tim = -np.inf
    s_rim = -np.inf
    for i in range(1, n - 1):
        di = x[i] - x[0]
        s_tim = max(s_tim, (z[i] - z_t) / di)
        s_rim = max(s_rim, (z[i] - z_r) / (d - di))
    if s_tim < slope_tr:  # line of sight: the point of largest ν
        best, _ = _max_nu_between(x, z, 0, n - 1, wavelength)
        return best
    d_b = (z_r - z_t + s_rim * d) / (s_tim + s_rim)
    h_b = z_t + s_tim * d_b - (z_t * (d - d_b) + z_r * d_b) / d
    return fresnel_nu(h_b, d_b, d - d_b, wavelength)


@njit(cache=True, nogil=True)
def bullington_db(x, z, wavelength):
    return knife_edge_db(bullington_nu(x, z, wavelength))


@njit(cache=True, nogil=True)
def multi_edge_db(x, z, wavelength, method):
    if method == 0:
        return deygout_db(x, z, wavelength)
    if method == 1:
        return epstein_peterson_db(x, z, wavelength)
    return bullington_db(x, z, wavelength)


EDGE_SELECTIONS = ("all", "hull")


def _profile(x_m, z_m, freq_mhz, method: str, edges: str) -> tuple[np.ndarray, np.ndarray, float, int]:
    if edges not in EDGE_SELECTIONS:
        raise ModelError(f"multi knife edge: edges must be one of {list(EDGE_SELECTIONS)}, got {edges!r}")
    if method not in MULTI_EDGE_METHODS:
        raise ModelError(f"multi knife edge: unknown method {method!r}; expected one of {sorted(MULTI_EDGE_METHODS)}")
    x = np.ascontiguousarray(x_m, dtype=np.float64)
    z = np.ascontiguousarray(z_m, dtype=np.float64)
    if x.ndim != 1 or x.shape != z.shape or x.size < 2:
        raise ModelError(f"multi knife edge: x_m and z_m must be 1-D arrays of the same length >= 2, "
                         f"got shapes {x.shape} and {z.shape}")
    if not (np.isfinite(x).all() and np.isfinite(z).all()):
        raise ModelError("multi knife edge: x_m and z_m must be finite (NaN is not terrain)")
    if np.any(np.diff(x) <= 0.0) or x[0] != 0.0:
        raise ModelError("multi knife edge: x_m must start at 0 (the transmitter) and increase strictly")
    check_range("freq_mhz", np.asarray(freq_mhz, dtype=np.float64), 1.0, 1e6, model="multi knife edge")
    return x, z, SPEED_OF_LIGHT_M_S / (float(freq_mhz) * 1e6), MULTI_EDGE_METHODS[method]


def _select(x: np.ndarray, z: np.ndarray, edges: str) -> tuple[np.ndarray, np.ndarray]:
    if edges == "hull":
        keep = upper_hull(x, z)
        return np.ascontiguousarray(x[keep]), np.ascontiguousarray(z[keep])
    return x, z


def multi_knife_edge_loss_db(x_m, z_m, freq_mhz, *, method, edges="all"):
    """Diffraction loss (dB) of a profile of knife edges over flat earth.

    Parameters
    ----------
    x_m
        Distance of each point from the transmitter, m, starting at 0 and increasing.
    z_m
        Height of each point, m; the first and last are the antennas (ground + mast).
    freq_mhz
        Frequency, MHz.
    method
        ``"deygout"``, ``"epstein_peterson"`` or ``"bullington"`` (see the module docstring).
    edges
        ``"all"``: every intermediate point is a candidate edge (an edge list, as in the
        reference profiles); ``"hull"``: only the vertices of the upper convex hull (use it
        for densely sampled terrain profiles).

    Examples
    --------
    >>> round(multi_knife_edge_loss_db([0, 5000, 10000], [25, 40, 25], 150.0, method="deygout"), 4)
    8.6267
    """
    x, z, wavelength, code = _profile(x_m, z_m, freq_mhz, method, edges)
    x, z = _select(x, z, edges)
    return float(multi_edge_db(x, z, wavelength, code))


def multi_knife_edge_loss_curved_db(x_m, z_m, freq_mhz, *, method, k_factor=4.0 / 3.0, edges="all"):
    """As :func:`multi_knife_edge_loss_db` over a curved earth of effective radius k·6371 km.

    Every point is raised by the earth bulge x·(d − x)/(2·k·R) before the flat method runs.
    """
    x, z, wavelength, code = _profile(x_m, z_m, freq_mhz, method, edges)
    if not (0.0 < k_factor < 100.0):
        raise ModelError(f"multi knife edge: k_factor must be in (0, 100), got {k_factor}")
    d = x[-1]
    z_eff = z + x * (d - x) / (2.0 * k_factor * EARTH_RADIUS_M)
    x, z_eff = _select(x, z_eff, edges)
    return float(multi_edge_db(x, z_eff, wavelength, code))
