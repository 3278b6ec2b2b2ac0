"""Numba kernels of the Longley-Rice Irregular Terrain Model (ITM) v1.4, point-to-point and area modes.

Written from NTIA/ITS's published description of the model: Hufford, *The Algorithm of the
Irregular Terrain Model* ([Algorithm]); Longley & Rice, ERL 79-ITS 67; Rice et al., NBS
Technical Note 101 ([TN101]); Vogler (1964) for the three-radii smooth-earth diffraction,
with the constants and validity checks of NTIA's ITM v1.4 reference release. Equation
references in the comments are to those documents.

Everything here takes and returns numbers (and the PFL profile array) only: no validation,
no Python objects. Distances are metres, heights metres, angles radians, losses dB.

Conventions of the kernels
--------------------------
* ``pfl`` is NTIA's profile form ``[n_intervals, spacing_m, z_0, ..., z_n]``.
* ``p2p`` is 1 for point-to-point mode, 0 for area mode (it changes one constant of the
  diffraction weighting, [ERL 79-ITS 67, p. 3-8]).
* A kernel that can fail returns NTIA's error code (0 on success) next to its values; the
  warning flags are NTIA's ``WARN__*`` bit values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# --- model constants ------------------------------------------------------------------------
GAMMA_A_PER_M = 157e-9  # curvature of the actual earth, ~1/6370 km
A_0_M = 6370e3  # earth radius used by Vogler's normalisation
A_9000_M = 9000e3  # 9000 km radius of the effective-distance formula [Algorithm, 5.3]
THIRD = 1.0 / 3.0
SQRT2 = math.sqrt(2.0)
INV_4PI = 0.0795775  # 1/(4π) as printed in [TN101, I.7]

# --- NTIA return codes ----------------------------------------------------------------------
SUCCESS = 0
SUCCESS_WITH_WARNINGS = 1
ERROR_TX_TERMINAL_HEIGHT = 1000
ERROR_RX_TERMINAL_HEIGHT = 1001
ERROR_INVALID_RADIO_CLIMATE = 1002
ERROR_INVALID_TIME = 1003
ERROR_INVALID_LOCATION = 1004
ERROR_INVALID_SITUATION = 1005
ERROR_INVALID_CONFIDENCE = 1006
ERROR_INVALID_RELIABILITY = 1007
ERROR_REFRACTIVITY = 1008
ERROR_FREQUENCY = 1009
ERROR_POLARIZATION = 1010
ERROR_EPSILON = 1011
ERROR_SIGMA = 1012
ERROR_GROUND_IMPEDANCE = 1013
ERROR_MDVAR = 1014
ERROR_EFFECTIVE_EARTH = 1016
ERROR_PATH_DISTANCE = 1017
ERROR_DELTA_H = 1018
ERROR_TX_SITING_CRITERIA = 1019
ERROR_RX_SITING_CRITERIA = 1020
ERROR_SURFACE_REFRACTIVITY_SMALL = 1021
ERROR_SURFACE_REFRACTIVITY_LARGE = 1022

# --- NTIA warning flags ---------------------------------------------------------------------
WARN_TX_TERMINAL_HEIGHT = 0x0001
WARN_RX_TERMINAL_HEIGHT = 0x0002
WARN_FREQUENCY = 0x0004
WARN_PATH_DISTANCE_TOO_BIG_1 = 0x0008
WARN_PATH_DISTANCE_TOO_BIG_2 = 0x0010
WARN_PATH_DISTANCE_TOO_SMALL_1 = 0x0020
WARN_PATH_DISTANCE_TOO_SMALL_2 = 0x0040
WARN_TX_HORIZON_ANGLE = 0x0080
WARN_RX_HORIZON_ANGLE = 0x0100
WARN_TX_HORIZON_DISTANCE_1 = 0x0200
WARN_RX_HORIZON_DISTANCE_1 = 0x0400
WARN_TX_HORIZON_DISTANCE_2 = 0x0800
WARN_RX_HORIZON_DISTANCE_2 = 0x1000
WARN_EXTREME_VARIABILITIES = 0x2000
WARN_SURFACE_REFRACTIVITY = 0x4000

# --- propagation modes ----------------------------------------------------------------------
MODE_LINE_OF_SIGHT = 1
MODE_DIFFRACTION = 2
MODE_TROPOSCATTER = 3

# --- climate tables, index climate − 1 ([Algorithm, §5], [TN101v2, III.69-70]) -------------
# median (all-year) curve: c1, c2, x1, x2, x3
_V_MED = np.array([
    [-9.67, -0.62, 1.26, -9.21, -0.62, -0.39, 3.15],
    [12.7, 9.19, 15.5, 9.05, 9.19, 2.86, 857.9],
    [144.9e3, 228.9e3, 262.6e3, 84.1e3, 228.9e3, 141.7e3, 2222.0e3],
    [190.3e3, 205.2e3, 185.2e3, 101.1e3, 205.2e3, 315.9e3, 164.8e3],
    [133.8e3, 143.6e3, 99.8e3, 98.6e3, 143.6e3, 167.4e3, 116.3e3],
])
# σ_T− curve (lower tail of time variability)
_SIGMA_T_MINUS = np.array([
    [2.13, 2.66, 6.11, 1.98, 2.68, 6.86, 8.51],
    [159.5, 7.67, 6.65, 13.11, 7.16, 10.38, 169.8],
    [762.2e3, 100.4e3, 138.2e3, 139.1e3, 93.7e3, 187.8e3, 609.8e3],
    [123.6e3, 172.5e3, 242.2e3, 132.7e3, 186.8e3, 169.6e3, 119.9e3],
    [94.5e3, 136.4e3, 178.6e3, 193.5e3, 133.5e3, 108.9e3, 106.6e3],
])
# σ_T+ curve (upper tail)
_SIGMA_T_PLUS = np.array([
    [2.11, 6.87, 10.08, 3.68, 4.75, 8.58, 8.43],
    [102.3, 15.53, 9.60, 159.3, 8.12, 13.97, 8.19],
    [636.9e3, 138.7e3, 165.3e3, 464.4e3, 93.2e3, 216.0e3, 136.2e3],
    [134.8e3, 143.7e3, 225.7e3, 93.1e3, 135.9e3, 152.0e3, 188.5e3],
    [95.6e3, 98.6e3, 129.7e3, 94.2e3, 113.4e3, 122.7e3, 122.9e3],
])
# C_D, z_D of [Algorithm, Table 5.1]; frequency gain g−(f), g+(f): three coefficients each
_C_D = np.array([1.224, 0.801, 1.380, 1.000, 1.224, 1.518, 1.518])
_Z_D = np.array([1.282, 2.161, 1.282, 20.0, 1.282, 1.282, 1.282])
_G_MINUS = np.array([
    [1.0, 1.0, 1.0, 1.0, 0.92, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0, 1.77, 0.0, 0.0],
])
_G_PLUS = np.array([
    [1.0, 0.93, 1.0, 0.93, 0.93, 1.0, 1.0],
    [0.0, 0.31, 0.0, 0.19, 0.31, 0.0, 0.0],
    [0.0, 2.00, 0.0, 1.79, 2.00, 0.0, 0.0],
])
# H_01(r, j) curve coefficients [Algorithm, 6.13]
_H0_A = np.array([25.0, 80.0, 177.0, 395.0, 705.0])
_H0_B = np.array([24.0, 45.0, 68.0, 80.0, 105.0])

# largest number of resampled points used for Δh (10·25 − 5)
DELTA_H_MAX_SAMPLES = 245


# ============================================================================================
# small functions
# ============================================================================================
@njit(cache=True, nogil=True)
def inverse_q(q):
    """Inverse complementary normal distribution Q⁻¹(q), 0 < q < 1, by Abramowitz & Stegun
    26.2.23 (|error| < 4.5e-4), the approximation ITM is specified with."""
    x = 1.0 - q if q > 0.5 else q
    t = math.sqrt(-2.0 * math.log(x))
    z = t - ((0.010328 * t + 0.802853) * t + 2.515516) / (((0.001308 * t + 0.189269) * t + 1.432788) * t + 1.0)
    return -z if q > 0.5 else z


@njit(cache=True, nogil=True)
def free_space_db(d_m, freq_mhz):
    """ITM's free-space basic transmission loss (dB)."""
    return 32.45 + 20.0 * math.log10(freq_mhz) + 20.0 * math.log10(d_m / 1000.0)


@njit(cache=True, nogil=True)
def _roughness_m(d_m, delta_h_m):
    """Δh(d), the interdecile range seen over a path of length d [ERL 79-ITS 67, eq. 3]."""
    return delta_h_m * (1.0 - 0.8 * math.exp(-d_m / 50e3))


@njit(cache=True, nogil=True)
def _sigma_h_m(delta_h_d_m):
    """σ_h, rms terrain deviation within the first Fresnel zone [ERL 79-ITS 67, 3.6a]."""
    return 0.78 * delta_h_d_m * math.exp(-0.5 * delta_h_d_m ** 0.25)


@njit(cache=True, nogil=True)
def _knife_edge_db(v2):
    """Ideal knife-edge loss A(v, 0) from v² [TN101v2, III.24b-c]."""
    if v2 < 5.76:
        return 6.02 + 9.11 * math.sqrt(v2) - 1.27 * v2
    return 12.953 + 10.0 * math.log10(v2)


@njit(cache=True, nogil=True)
def _height_gain_db(x_km, k):
    """Vogler's height-gain function F(x, K) for smooth-earth diffraction."""
    if x_km < 200.0:
        w = -math.log(k)
        if k < 1e-5 or x_km * w * w * w > 5495.0:
            out = -117.0
            if x_km > 1.0:
                out += 17.372 * math.log(x_km)
            return out
        return 2.5e-5 * x_km * x_km / k - 8.686 * w - 15.0
    out = 0.05751 * x_km - 4.343 * math.log(x_km)
    if x_km < 2000.0:
        w = 0.0134 * x_km * math.exp(-0.005 * x_km)
        out = (1.0 - w) * out + w * (17.372 * math.log(x_km) - 117.0)
    return out


@njit(cache=True, nogil=True)
def _vogler_x_k(radius_m, length_m, f_cbrt, z_abs):
    """Normalised distance x (km) and K for an arc of ``length_m`` on a sphere of ``radius_m``."""
    c0 = ((4.0 / 3.0) * A_0_M / radius_m) ** THIRD  # (4/3k)^(1/3) [Vogler 1964, eq. 2]
    k = 0.017778 * c0 / (f_cbrt * z_abs)  # [Vogler 1964, eq. 6a/7a]
    return (1.607 - k) * c0 * c0 * f_cbrt * length_m / 1000.0, k


@njit(cache=True, nogil=True)
def _smooth_earth_db(d_m, f_mhz, a_e_m, theta_los, dhzn0, dhzn1, he0, he1, z_abs):
    """Smooth-earth diffraction by Vogler's three-radii method [Algorithm, 4.20]."""
    theta_nlos = d_m / a_e_m - theta_los
    f_cbrt = f_mhz ** THIRD
    x1, k1 = _vogler_x_k(0.5 * dhzn0 * dhzn0 / he0, dhzn0, f_cbrt, z_abs)
    x2, k2 = _vogler_x_k(0.5 * dhzn1 * dhzn1 / he1, dhzn1, f_cbrt, z_abs)
    radius = (d_m - dhzn0 - dhzn1) / theta_nlos  # radius of the beyond-horizon arc
    x0, _ = _vogler_x_k(radius, radius * theta_nlos, f_cbrt, z_abs)
    x = x0 + x1 + x2
    g_db = 0.05751 * x - 10.0 * math.log10(x)  # distance function [TN101, 8.4]
    return g_db - _height_gain_db(x1, k1) - _height_gain_db(x2, k2) - 20.0


@njit(cache=True, nogil=True)
def _diffraction_db(d_m, f_mhz, a_e_m, theta_los, d_sml_m, dhzn0, dhzn1, he0, he1, h0, h1, z_abs,
                    delta_h_m, p2p):
    """Diffraction attenuation: knife-edge and smooth-earth blended by terrain roughness,
    plus the clutter term [ERL 79-ITS 67, 3.23-3.38]."""
    k = f_mhz / 47.7
    d_ml = dhzn0 + dhzn1
    theta_nlos = d_m / a_e_m - theta_los
    d_nlos = d_m - d_ml
    v = INV_4PI * k * theta_nlos * theta_nlos * d_nlos
    a_knife = _knife_edge_db(v * dhzn0 / (d_nlos + dhzn0)) + _knife_edge_db(v * dhzn1 / (d_nlos + dhzn1))
    a_smooth = _smooth_earth_db(d_m, f_mhz, a_e_m, theta_los, dhzn0, dhzn1, he0, he1, z_abs)
    sigma = _sigma_h_m(_roughness_m(d_sml_m, delta_h_m))
    a_clutter = min(15.0, 5.0 * math.log10(1.0 + 1e-5 * h0 * h1 * f_mhz * sigma))  # [3.38c]
    hh = h0 * h1
    c = hh + 10.0 if p2p else hh  # C ≈ 10 for low antennas on known paths [p. 3-8]
    q = (math.sqrt(1.0 + (he0 * he1 - hh) / c) + (d_ml - theta_los * a_e_m) / d_m) * min(
        _roughness_m(d_m, delta_h_m) * k, 6283.2)
    w = 25.1 / (25.1 + math.sqrt(q))
    return w * a_smooth + (1.0 - w) * a_knife + a_clutter


@njit(cache=True, nogil=True)
def _los_db(d_m, he0, he1, z_g, delta_h_m, m_d, a_d0, d_sml_m, f_mhz):
    """Line-of-sight attenuation: two-ray with a rough-earth reflection, blended with the
    extended diffraction line [Algorithm, 4.44-4.50]."""
    k = f_mhz / 47.7
    sigma = _sigma_h_m(_roughness_m(d_m, delta_h_m))
    hs = he0 + he1
    sin_psi = hs / math.sqrt(d_m * d_m + hs * hs)
    r_e = (sin_psi - z_g) / (sin_psi + z_g) * math.exp(-min(10.0, k * sigma * sin_psi))
    mag2 = r_e.real * r_e.real + r_e.imag * r_e.imag
    if mag2 < 0.25 or mag2 < sin_psi:
        r_e = r_e * math.sqrt(sin_psi / mag2)
    dphi = 2.0 * k * he0 * he1 / d_m
    if dphi > 0.5 * math.pi:
        dphi = math.pi - 0.25 * math.pi * math.pi / dphi
    re = math.cos(dphi) + r_e.real
    im = -math.sin(dphi) + r_e.imag
    a_two_ray = -10.0 * math.log10(re * re + im * im)
    w = 1.0 / (1.0 + f_mhz * delta_h_m / max(10e3, d_sml_m))
    return w * a_two_ray + (1.0 - w) * (m_d * d_m + a_d0)


@njit(cache=True, nogil=True)
def _h0_curve_db(j, r):
    x = 1.0 / (r * r)
    return 10.0 * math.log10(1.0 + _H0_A[j] * x * x + _H0_B[j] * x)


@njit(cache=True, nogil=True)
def _h0_db(r, eta_s):
    """Frequency-gain function H_0(r, η_s), interpolated between integer η_s in 1..5 [TN101, 9.2]."""
    eta = min(max(eta_s, 1.0), 5.0)
    i = int(eta)
    frac = eta - i
    out = _h0_curve_db(i - 1, r)
    if frac != 0.0:
        out = (1.0 - frac) * out + frac * _h0_curve_db(i, r)
    return out


@njit(cache=True, nogil=True)
def _f_theta_d_db(td):
    """Attenuation function F(θd) [Algorithm, 6.9]."""
    if td <= 10e3:
        return 133.4 + 0.332e-3 * td - 10.0 * math.log10(td)
    if td <= 70e3:
        return 104.6 + 0.212e-3 * td - 2.5 * math.log10(td)
    return 71.8 + 0.157e-3 * td + 5.0 * math.log10(td)


@njit(cache=True, nogil=True)
def _tropo_db(d_m, th0, th1, dhzn0, dhzn1, he0, he1, a_e_m, n_s, f_mhz, theta_los, h0_prev):
    """Forward-scatter attenuation at ``d_m`` [Algorithm, 4.63-4.67]; returns (loss, H_0).

    ``h0_prev`` carries H_0 between the two evaluations (d_6 first, then d_5): a value above
    15 dB is reused rather than recomputed [Algorithm, p. 12]. Returns 1001 dB when r_1 and r_2
    are both below 0.2, where the function is undefined.
    """
    if h0_prev > 15.0:
        h0 = h0_prev
    else:
        ad = dhzn0 - dhzn1
        rr = he1 / he0
        if ad < 0.0:
            ad = -ad
            rr = 1.0 / rr
        theta = th0 + th1 + d_m / a_e_m
        r1 = 2.0 * (f_mhz / 47.7) * theta * he0
        r2 = 2.0 * (f_mhz / 47.7) * theta * he1
        if r1 < 0.2 and r2 < 0.2:
            return 1001.0, h0_prev
        s = (d_m - ad) / (d_m + ad)  # asymmetry
        q = min(max(0.1, rr / s), 10.0)
        s = max(0.1, s)
        z_cross = (d_m - ad) * (d_m + ad) * theta * 0.25 / d_m  # crossover height
        eta_s = (z_cross / 1.7556e3) * (1.0 + (0.031 - 2.32e-3 * n_s + 5.67e-6 * n_s * n_s)
                                        * math.exp(-min(1.7, z_cross / 8.0e3) ** 6))
        h00 = 0.5 * (_h0_db(r1, eta_s) + _h0_db(r2, eta_s))
        h0 = max(h00 + min(h00, 6.0 * (0.6 - math.log10(max(eta_s, 1.0))) * math.log10(s) * math.log10(q)), 0.0)
        if eta_s < 1.0:
            h0 = eta_s * h0 + (1.0 - eta_s) * 10.0 * math.log10(
                ((1.0 + SQRT2 / r1) * (1.0 + SQRT2 / r2)) ** 2 * (r1 + r2) / (r1 + r2 + 2.0 * SQRT2))
        if h0 > 15.0 and h0_prev >= 0.0:
            h0 = h0_prev
    th = d_m / a_e_m - theta_los
    loss = (_f_theta_d_db(th * d_m) + 10.0 * math.log10(f_mhz * th ** 4)
            - 0.1 * (n_s - 301.0) * math.exp(-th * d_m / 40e3) + h0)
    return loss, h0


# ============================================================================================
# reference attenuation
# ============================================================================================
@njit(cache=True, nogil=True)
def reference_attenuation(th0, th1, f_mhz, z_g, dhzn0, dhzn1, he0, he1, gamma_e, n_s, delta_h_m, h0, h1, d_m,
                          p2p):
    """Longley-Rice reference attenuation A_ref (dB) relative to free space.

    Returns ``(a_ref_db, mode, warnings, error_code)``; ``mode`` 1 line of sight,
    2 diffraction, 3 troposcatter.
    """
    warn = 0
    a_e = 1.0 / gamma_e
    dls0 = math.sqrt(2.0 * he0 * a_e)  # smooth-earth horizon distances
    dls1 = math.sqrt(2.0 * he1 * a_e)
    d_sml = dls0 + dls1
    d_ml = dhzn0 + dhzn1
    theta_los = -max(th0 + th1, -d_ml / a_e)

    if abs(th0) > 200e-3:
        warn |= WARN_TX_HORIZON_ANGLE
    if abs(th1) > 200e-3:
        warn |= WARN_RX_HORIZON_ANGLE
    if dhzn0 < 0.1 * dls0:
        warn |= WARN_TX_HORIZON_DISTANCE_1
    if dhzn1 < 0.1 * dls1:
        warn |= WARN_RX_HORIZON_DISTANCE_1
    if dhzn0 > 3.0 * dls0:
        warn |= WARN_TX_HORIZON_DISTANCE_2
    if dhzn1 > 3.0 * dls1:
        warn |= WARN_RX_HORIZON_DISTANCE_2

    if n_s < 150.0:
        return math.nan, 0, warn, ERROR_SURFACE_REFRACTIVITY_SMALL
    if n_s > 400.0:
        return math.nan, 0, warn, ERROR_SURFACE_REFRACTIVITY_LARGE
    if n_s < 250.0:
        warn |= WARN_SURFACE_REFRACTIVITY
    if a_e < 4000000.0 or a_e > 13333333.0:
        return math.nan, 0, warn, ERROR_EFFECTIVE_EARTH
    if z_g.real <= abs(z_g.imag):
        return math.nan, 0, warn, ERROR_GROUND_IMPEDANCE
    z_abs = abs(z_g)

    # the diffraction line through two points well beyond the horizon
    step = (a_e * a_e / f_mhz) ** THIRD
    d3 = max(d_sml, d_ml + 5.0 * step)
    d4 = d3 + 10.0 * step
    a3 = _diffraction_db(d3, f_mhz, a_e, theta_los, d_sml, dhzn0, dhzn1, he0, he1, h0, h1, z_abs, delta_h_m, p2p)
    a4 = _diffraction_db(d4, f_mhz, a_e, theta_los, d_sml, dhzn0, dhzn1, he0, he1, h0, h1, z_abs, delta_h_m, p2p)
    m_d = (a4 - a3) / (d4 - d3)
    a_d0 = a3 - m_d * d3

    if d_m < abs(he0 - he1) / 200e-3:
        warn |= WARN_PATH_DISTANCE_TOO_SMALL_1
    if d_m < 1e3:
        warn |= WARN_PATH_DISTANCE_TOO_SMALL_2
    if d_m > 1000e3:
        warn |= WARN_PATH_DISTANCE_TOO_BIG_1
    if d_m > 2000e3:
        warn |= WARN_PATH_DISTANCE_TOO_BIG_2

    if d_m < d_sml:
        # line of sight: A = A_o + k1·d + k2·ln d fitted through d0, d1 and d_sML [ERL 79-ITS 67, 3.16-3.21]
        a_sml = m_d * d_sml + a_d0
        d0 = 0.04 * f_mhz * he0 * he1
        if a_d0 >= 0.0:
            d0 = min(d0, 0.5 * d_ml)
            d1 = d0 + 0.25 * (d_ml - d0)
        else:
            d1 = max(-a_d0 / m_d, 0.25 * d_ml)
        a1 = _los_db(d1, he0, he1, z_g, delta_h_m, m_d, a_d0, d_sml, f_mhz)
        fitted = False
        k1 = 0.0
        k2 = 0.0
        if d0 < d1:
            a0 = _los_db(d0, he0, he1, z_g, delta_h_m, m_d, a_d0, d_sml, f_mhz)
            ln_s0 = math.log(d_sml / d0)
            k2 = max(0.0, ((d_sml - d0) * (a1 - a0) - (d1 - d0) * (a_sml - a0))
                     / ((d_sml - d0) * math.log(d1 / d0) - (d1 - d0) * ln_s0))
            fitted = a_d0 > 0.0 or k2 > 0.0
            if fitted:
                k1 = (a_sml - a0 - k2 * ln_s0) / (d_sml - d0)
                if k1 < 0.0:
                    k1 = 0.0
                    k2 = max(a_sml - a0, 0.0) / ln_s0
                    if k2 == 0.0:
                        k1 = m_d
        if not fitted:
            k1 = max(a_sml - a1, 0.0) / (d_sml - d1)
            k2 = 0.0
            if k1 == 0.0:
                k1 = m_d
        a_o = a_sml - k1 * d_sml - k2 * math.log(d_sml)
        a_ref = a_o + k1 * d_m + k2 * math.log(d_m)
        mode = MODE_LINE_OF_SIGHT
    else:
        # beyond the horizon: the smaller-slope of the diffraction and troposcatter lines
        d5 = d_ml + 200e3
        d6 = d_ml + 400e3
        a6, h0_state = _tropo_db(d6, th0, th1, dhzn0, dhzn1, he0, he1, a_e, n_s, f_mhz, theta_los, -1.0)
        a5, _ = _tropo_db(d5, th0, th1, dhzn0, dhzn1, he0, he1, a_e, n_s, f_mhz, theta_los, h0_state)
        if a5 < 1000.0:
            m_s = (a6 - a5) / 200e3
            d_x = max(max(d_sml, d_ml + 1.088 * step * math.log(f_mhz)), (a5 - a_d0 - m_s * d5) / (m_d - m_s))
            a_s0 = (m_d - m_s) * d_x + a_d0
        else:
            m_s = m_d
            a_s0 = a_d0
            d_x = 10e6
        if d_m > d_x:
            a_ref = m_s * d_m + a_s0
            mode = MODE_TROPOSCATTER
        else:
            a_ref = m_d * d_m + a_d0
            mode = MODE_DIFFRACTION
    return max(a_ref, 0.0), mode, warn, SUCCESS


# ============================================================================================
# variability
# ============================================================================================
@njit(cache=True, nogil=True)
def _curve(c, i, d_e):
    """Climate curve (c1 + c2 / (1 + ((d_e − x2)/x3)²)) · (d_e/x1)² / (1 + (d_e/x1)²) [TN101v2, III.69]."""
    u = (d_e - c[3, i]) / c[4, i]
    r = (d_e / c[2, i]) ** 2
    return (c[0, i] + c[1, i] / (1.0 + u * u)) * r / (1.0 + r)


@njit(cache=True, nogil=True)
def variability_db(time, location, situation, he0, he1, delta_h_m, f_mhz, d_m, a_ref_db, climate, mdvar):
    """Attenuation (dB, relative to free space) not exceeded at the given time, location and
    situation percentages, from ``a_ref_db`` [Algorithm, §5]; returns ``(loss_db, warnings)``."""
    warn = 0
    z_t = inverse_q(time / 100.0)
    z_l = inverse_q(location / 100.0)
    z_s = inverse_q(situation / 100.0)
    ci = climate - 1
    k = f_mhz / 47.7

    # effective distance [Algorithm, 5.3]
    d_ex = math.sqrt(2.0 * A_9000_M * he0) + math.sqrt(2.0 * A_9000_M * he1) + (575.7e12 / k) ** THIRD
    d_e = 130e3 * d_m / d_ex if d_m < d_ex else 130e3 + d_m - d_ex

    kind = mdvar
    no_situation = kind >= 20  # +20: direct situation variability eliminated
    if no_situation:
        kind -= 20
    no_location = kind >= 10  # +10: location variability eliminated
    if no_location:
        kind -= 10
    sigma_s = 0.0 if no_situation else 5.0 + 3.0 * math.exp(-d_e / 100e3)  # [Algorithm, 5.10]

    v_med = _curve(_V_MED, ci, d_e)
    if kind == 0:  # single message
        z_t = z_s
        z_l = z_s
    elif kind == 1:  # accidental
        z_l = z_s
    elif kind == 2:  # mobile
        z_l = z_t
    if abs(z_t) > 3.1 or abs(z_l) > 3.1 or abs(z_s) > 3.1:
        warn |= WARN_EXTREME_VARIABILITIES

    if no_location:
        sigma_l = 0.0
    else:
        dhd = _roughness_m(d_m, delta_h_m)
        sigma_l = 10.0 * k * dhd / (k * dhd + 13.0)
    y_l = sigma_l * z_l

    lq = math.log(0.133 * k)
    g_minus = _G_MINUS[0, ci] + _G_MINUS[1, ci] / ((_G_MINUS[2, ci] * lq) ** 2 + 1.0)
    g_plus = _G_PLUS[0, ci] + _G_PLUS[1, ci] / ((_G_PLUS[2, ci] * lq) ** 2 + 1.0)
    sigma_t_minus = _curve(_SIGMA_T_MINUS, ci, d_e) * g_minus
    sigma_t_plus = _curve(_SIGMA_T_PLUS, ci, d_e) * g_plus
    sigma_td = _C_D[ci] * sigma_t_plus
    z_d = _Z_D[ci]
    if z_t < 0.0:
        sigma_t = sigma_t_minus
    elif z_t <= z_d:
        sigma_t = sigma_t_plus
    else:
        sigma_t = sigma_td + (sigma_t_plus - sigma_td) * z_d / z_t
    y_t = sigma_t * z_t

    s2 = sigma_s * sigma_s + y_t * y_t / (7.8 + z_s * z_s) + y_l * y_l / (24.0 + z_s * z_s)  # [Algorithm, 5.11]
    if kind == 0:
        y_r = 0.0
        y_s = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l + s2) * z_s
    elif kind == 1:
        y_r = y_t
        y_s = math.sqrt(sigma_l * sigma_l + s2) * z_s
    elif kind == 2:
        y_r = math.sqrt(sigma_t * sigma_t + sigma_l * sigma_l) * z_t
        y_s = math.sqrt(s2) * z_s
    else:  # broadcast
        y_r = y_t + y_l
        y_s = math.sqrt(s2) * z_s

    a = a_ref_db - v_med - y_r - y_s
    if a < 0.0:  # soften negative attenuation (gains) [Algorithm, 5.2]
        a = a * (29.0 - a) / (29.0 - 10.0 * a)
    return a, warn


# ============================================================================================
# preparation: atmosphere and ground, terrain profile, area-mode geometry
# ============================================================================================
@njit(cache=True, nogil=True)
def ground_and_atmosphere(f_mhz, h_sys_m, n_0, pol, epsilon, sigma):
    """Surface refractivity N_s, effective earth curvature γ_e and ground impedance Z_g."""
    n_s = n_0 if h_sys_m == 0.0 else n_0 * math.exp(-h_sys_m / 9460.0)  # [TN101, 4.3]
    gamma_e = GAMMA_A_PER_M * (1.0 - 0.04665 * math.exp(n_s / 179.3))  # [TN101, 4.4]
    ep_r = complex(epsilon, 18000.0 * sigma / f_mhz)
    z_g = np.sqrt(ep_r - 1.0)
    if pol == 1:
        z_g = z_g / ep_r
    return n_s, gamma_e, z_g


@njit(cache=True, nogil=True)
def _index_floor(x):
    """floor(x) for x ≥ 0, taking x within 1e-9 below an integer as that integer.

    ITM truncates fractional profile indices such as (d − 0.9·d_hzn)/Δx to integers. When a
    horizon lies on a grid point whose index is a multiple of 10, that index is an exact
    integer in real arithmetic and plain truncation would let floating-point noise choose
    between two end points of a least-squares fit (and break reciprocity); this returns the
    exact-arithmetic answer instead.
    """
    return int(x + 1e-9)


@njit(cache=True, nogil=True)
def line_fit_indices(n, xi, d_start_m, d_end_m):
    """First and last profile index (i0 < i1) of the least-squares fit between two distances
    on a profile of ``n`` intervals of ``xi`` metres."""
    i0 = _index_floor(max(d_start_m / xi, 0.0))
    i1 = n - _index_floor(max(n - d_end_m / xi, 0.0))
    if i1 <= i0:
        i0 = int(max(i0 - 1.0, 0.0))
        i1 = n - int(max(n - (i1 + 1.0), 0.0))
    return i0, i1


@njit(cache=True, nogil=True)
def _line_fit_ends(z, xi, d_start_m, d_end_m):
    """Least-squares line through elevations ``z`` between two distances (trapezoid weights on
    the end points); returns its heights at the start and end of the profile."""
    i0, i1 = line_fit_indices(z.size - 1, xi, d_start_m, d_end_m)
    n = z.size - 1
    span = float(i1 - i0)
    centre = 0.5 * (i0 + i1)
    mean = 0.5 * (z[i0] + z[i1])
    moment = 0.5 * (z[i0] * (i0 - centre) + z[i1] * (i1 - centre))
    for i in range(i0 + 1, i1):
        mean += z[i]
        moment += z[i] * (i - centre)
    mean /= span
    slope = moment * 12.0 / ((span * span + 2.0) * span)
    return mean - slope * centre, mean + slope * (n - centre)


@njit(cache=True, nogil=True)
def _kth_smallest(a, n, k):
    """k-th smallest of a[:n] (0-based) by in-place quickselect."""
    lo = 0
    hi = n - 1
    while lo < hi:
        pivot = a[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return a[k]
    return a[k]


@njit(cache=True, nogil=True)
def detrended_resample(z, xi, d_start_m, d_end_m, buf):
    """The points Δh is taken from: the profile ``z`` (spacing ``xi``) between two distances
    resampled to n = 10·k − 5 equally spaced points (k in 4..25) into ``buf`` and detrended by
    a least-squares line.  Returns (n, k): the interdecile range lies between the k-th smallest
    and the k-th largest; (0, 0) when the window is shorter than two intervals (Δh = 0)."""
    n_pts = z.size - 1
    x0 = d_start_m / xi
    x1 = d_end_m / xi
    if x1 - x0 < 2.0:
        return 0, 0
    p10 = min(max(4, _index_floor(0.1 * (x1 - x0 + 8.0))), 25)
    n = 10 * p10 - 5
    step = (x1 - x0) / (n - 1)
    kmin = int(x0) + 1
    for j in range(n):
        t = x0 + j * step
        kk = int(math.ceil(t))
        kk = min(max(kk, kmin), n_pts)
        buf[j] = z[kk] + (z[kk] - z[kk - 1]) * (t - kk)
    # detrend with the least-squares line over the n samples (unit spacing)
    a, b = _line_fit_ends(buf[:n], 1.0, 0.0, n - 1.0)
    slope = (b - a) / (n - 1)
    for j in range(n):
        buf[j] -= a + slope * j
    return n, p10


@njit(cache=True, nogil=True)
def asymptotic_delta_h_m(interdecile_m, d_start_m, d_end_m):
    """Δh from the interdecile range seen over a window [ERL 79-ITS 67, eq. 3, inverted]."""
    return interdecile_m / (1.0 - 0.8 * math.exp(-(d_end_m - d_start_m) / 50e3))


@njit(cache=True, nogil=True)
def terrain_irregularity_m(z, xi, d_start_m, d_end_m, buf):
    """Terrain irregularity Δh (m) between two distances along the profile ``z`` (spacing ``xi``).

    The profile is resampled to n = 10·k − 5 equally spaced points (k in 4..25), detrended by
    a least-squares line, and the interdecile range of the residuals is scaled back to an
    asymptotic Δh [ERL 79-ITS 67, eq. 3, inverted]. ``buf`` holds at least 245 floats.
    """
    n, p10 = detrended_resample(z, xi, d_start_m, d_end_m, buf)
    if n == 0:
        return 0.0
    upper = _kth_smallest(buf, n, n - p10)  # 10 % of residuals lie above
    lower = _kth_smallest(buf, n, p10 - 1)  # 10 % below
    return asymptotic_delta_h_m(upper - lower, d_start_m, d_end_m)


@njit(cache=True, nogil=True)
def interdecile_hinted(buf, n, p10, hint_lo, hint_hi, lo_buf, hi_buf):
    """(k-th largest, k-th smallest) of ``buf[:n]`` (k = ``p10``), as :func:`terrain_irregularity_m`
    selects them, exactly, faster when hints are good: the values ≤ ``hint_lo`` and ≥ ``hint_hi``
    are gathered (branch-free) into ``lo_buf`` / ``hi_buf`` (n floats each); when at least k
    values lie beyond a hint the order statistic is among them and is selected there, else over
    all of ``buf`` (which is reordered).  NaN hints always take the full selection."""
    c_lo = 0
    c_hi = 0
    for j in range(n):
        v = buf[j]
        lo_buf[c_lo] = v
        c_lo += v <= hint_lo
        hi_buf[c_hi] = v
        c_hi += v >= hint_hi
    lower = _kth_smallest(lo_buf, c_lo, p10 - 1) if c_lo >= p10 else _kth_smallest(buf, n, p10 - 1)
    upper = _kth_smallest(hi_buf, c_hi, c_hi - p10) if c_hi >= p10 else _kth_smallest(buf, n, n - p10)
    return upper, lower


@njit(cache=True, nogil=True)
def system_height_indices(n):
    """First and last profile index of the mean path height h_sys: the first and last 10 % left out."""
    p10 = int(0.1 * n)
    return p10, n - p10


@njit(cache=True, nogil=True)
def terrain_window_m(d_m, h0, h1, dhzn0, dhzn1):
    """Distances (m) between which the terrain counts for Δh and the effective heights: from ~15
    tower heights (at most 10 % of the horizon distance) in from each end."""
    return min(15.0 * h0, 0.1 * dhzn0), d_m - min(15.0 * h1, 0.1 * dhzn1)


@njit(cache=True, nogil=True)
def terminal_geometry(z_first, z_last, d, h0, h1, a_e, dh, th0, th1, dhzn0, dhzn1, fa, fb, los):
    """Effective heights and final horizons from the scanned horizons and the least-squares
    terrain heights ``fa`` (at the transmitter), ``fb`` (at the receiver): fitted over the whole
    terrain window when ``los`` (horizons beyond 1.5 path lengths: smooth-earth-like horizons
    from the effective heights), else over each terminal's side up to 0.9 of its horizon.
    Returns ``(th0, th1, dhzn0, dhzn1, he0, he1)``."""
    he0 = h0 + max(z_first - fa, 0.0)
    he1 = h1 + max(z_last - fb, 0.0)
    if los:
        dls0 = math.sqrt(2.0 * he0 * a_e)
        dls1 = math.sqrt(2.0 * he1 * a_e)
        dhzn0 = dls0 * math.exp(-0.07 * math.sqrt(dh / max(he0, 5.0)))
        dhzn1 = dls1 * math.exp(-0.07 * math.sqrt(dh / max(he1, 5.0)))
        if dhzn0 + dhzn1 <= d:
            q = (d / (dhzn0 + dhzn1)) ** 2
            he0 *= q
            he1 *= q
            dls0 = math.sqrt(2.0 * he0 * a_e)
            dls1 = math.sqrt(2.0 * he1 * a_e)
            dhzn0 = dls0 * math.exp(-0.07 * math.sqrt(dh / max(he0, 5.0)))
            dhzn1 = dls1 * math.exp(-0.07 * math.sqrt(dh / max(he1, 5.0)))
        th0 = (0.65 * dh * (dls0 / dhzn0 - 1.0) - 2.0 * he0) / dls0
        th1 = (0.65 * dh * (dls1 / dhzn1 - 1.0) - 2.0 * he1) / dls1
    return th0, th1, dhzn0, dhzn1, he0, he1


@njit(cache=True, nogil=True)
def profile_geometry(pfl, gamma_e, h0, h1, buf):
    """Horizon angles and distances, effective heights, Δh and path length from a PFL profile.

    Returns ``(th0, th1, dhzn0, dhzn1, he0, he1, delta_h_m, d_m)``.
    """
    n = int(pfl[0])
    xi = pfl[1]
    z = pfl[2:n + 3]
    d = pfl[0] * xi
    a_e = 1.0 / gamma_e
    za = z[0] + h0
    zb = z[n] + h1
    # horizons: the highest ray elevation angle seen from each end over a curved earth
    th0 = (zb - za) / d - d / (2.0 * a_e)
    th1 = -(zb - za) / d - d / (2.0 * a_e)
    dhzn0 = d
    dhzn1 = d
    half_ge = 0.5 * gamma_e
    s0 = 0.0
    s1 = d
    for i in range(1, n):
        # distances accumulated step by step, as NTIA does, so that the integer truncations
        # downstream (least-squares bounds) see the same floating-point values
        s0 += xi
        s1 -= xi
        t0 = (z[i] - za) / s0 - half_ge * s0
        t1 = (z[i] - zb) / s1 - half_ge * s1
        if t0 > th0:
            th0 = t0
            dhzn0 = s0
        if t1 > th1:
            th1 = t1
            dhzn1 = s1
    x_start, x_end = terrain_window_m(d, h0, h1, dhzn0, dhzn1)
    dh = terrain_irregularity_m(z, xi, x_start, x_end, buf)
    los = dhzn0 + dhzn1 > 1.5 * d
    if los:
        fa, fb = _line_fit_ends(z, xi, x_start, x_end)
    else:
        fa, _ = _line_fit_ends(z, xi, x_start, 0.9 * dhzn0)
        _, fb = _line_fit_ends(z, xi, d - 0.9 * dhzn1, x_end)
    th0, th1, dhzn0, dhzn1, he0, he1 = terminal_geometry(z[0], z[n], d, h0, h1, a_e, dh, th0, th1, dhzn0, dhzn1,
                                                         fa, fb, los)
    return th0, th1, dhzn0, dhzn1, he0, he1, dh, d


@njit(cache=True, nogil=True)
def _area_terminal(h_m, siting, gamma_e, delta_h):
    """Effective height, horizon distance and horizon angle of one area-mode terminal
    [Algorithm, 3.2-3.4]."""
    if siting == 0:
        he = h_m
    else:
        b = 4.0 if siting == 1 else 9.0
        if h_m < 5.0:
            b *= math.sin(0.1 * math.pi * h_m)
        he = h_m + (1.0 + b) * math.exp(-min(20.0, 2.0 * h_m / max(1e-3, delta_h)))
    dls = math.sqrt(2.0 * he / gamma_e)
    dhzn = dls * math.exp(-0.07 * math.sqrt(delta_h / max(he, 5.0)))
    th = (0.65 * delta_h * (dls / dhzn - 1.0) - 2.0 * he) / dls
    return he, dhzn, th


@njit(cache=True, nogil=True)
def _input_warnings(h_tx, h_rx, f_mhz):
    warn = 0
    if h_tx < 1.0 or h_tx > 1000.0:
        warn |= WARN_TX_TERMINAL_HEIGHT
    if h_rx < 1.0 or h_rx > 1000.0:
        warn |= WARN_RX_TERMINAL_HEIGHT
    if f_mhz < 40.0 or f_mhz > 10000.0:
        warn |= WARN_FREQUENCY
    return warn


# ============================================================================================
# whole-model kernels
# ============================================================================================
@njit(cache=True, nogil=True)
def itm_p2p_full(pfl, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar, time, location,
                 situation, buf):
    """ITM point-to-point mode on validated inputs.

    Returns ``(loss_db, error_code, warnings, mode, free_space_db, a_ref_db, d_m, n_s,
    delta_h_m, he0, he1, dhzn0, dhzn1, th0, th1)``; ``loss_db`` is NaN when ``error_code`` ≠ 0.
    ``buf`` is scratch space of at least 245 floats.
    """
    warn = _input_warnings(h_tx_m, h_rx_m, freq_mhz)
    n = int(pfl[0])
    i_lo, i_hi = system_height_indices(n)  # mean height of the path
    h_sys = 0.0
    for i in range(i_lo, i_hi + 1):
        h_sys += pfl[i + 2]
    h_sys /= i_hi - i_lo + 1
    n_s, gamma_e, z_g = ground_and_atmosphere(freq_mhz, h_sys, n0, pol, epsilon, sigma)
    th0, th1, dhzn0, dhzn1, he0, he1, dh, d = profile_geometry(pfl, gamma_e, h_tx_m, h_rx_m, buf)
    a_ref, mode, w, err = reference_attenuation(th0, th1, freq_mhz, z_g, dhzn0, dhzn1, he0, he1, gamma_e, n_s, dh,
                                                h_tx_m, h_rx_m, d, 1)
    warn |= w
    a_fs = free_space_db(d, freq_mhz)
    if err != SUCCESS:
        return math.nan, err, warn, mode, a_fs, a_ref, d, n_s, dh, he0, he1, dhzn0, dhzn1, th0, th1
    v, w = variability_db(time, location, situation, he0, he1, dh, freq_mhz, d, a_ref, climate, mdvar)
    warn |= w
    return a_fs + v, SUCCESS, warn, mode, a_fs, a_ref, d, n_s, dh, he0, he1, dhzn0, dhzn1, th0, th1


@njit(cache=True, nogil=True)
def itm_p2p_loss_db(pfl, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar, time, location,
                    situation):
    """ITM point-to-point basic transmission loss (dB) for the radio engine's per-cell loop.

    Inputs must already be valid (see :func:`citycov.propagation.itm.itm_p2p` for the ranges);
    returns NaN where ITM itself refuses the path (ground impedance, effective earth or surface
    refractivity out of range). One scratch allocation of 245 floats per call.
    """
    buf = np.empty(DELTA_H_MAX_SAMPLES)
    return itm_p2p_full(pfl, h_tx_m, h_rx_m, climate, n0, freq_mhz, pol, epsilon, sigma, mdvar, time, location,
                        situation, buf)[0]


@njit(cache=True, nogil=True)
def itm_area_full(h_tx_m, h_rx_m, tx_siting, rx_siting, dist_km, delta_h, climate, n0, freq_mhz, pol, epsilon,
                  sigma, mdvar, time, location, situation):
    """ITM area mode on validated inputs; returns the same tuple as :func:`itm_p2p_full`."""
    warn = _input_warnings(h_tx_m, h_rx_m, freq_mhz)
    n_s, gamma_e, z_g = ground_and_atmosphere(freq_mhz, 0.0, n0, pol, epsilon, sigma)
    he0, dhzn0, th0 = _area_terminal(h_tx_m, tx_siting, gamma_e, delta_h)
    he1, dhzn1, th1 = _area_terminal(h_rx_m, rx_siting, gamma_e, delta_h)
    d = dist_km * 1000.0
    a_ref, mode, w, err = reference_attenuation(th0, th1, freq_mhz, z_g, dhzn0, dhzn1, he0, he1, gamma_e, n_s,
                                                delta_h, h_tx_m, h_rx_m, d, 0)
    warn |= w
    a_fs = free_space_db(d, freq_mhz)
    if err != SUCCESS:
        return math.nan, err, warn, mode, a_fs, a_ref, d, n_s, delta_h, he0, he1, dhzn0, dhzn1, th0, th1
    v, w = variability_db(time, location, situation, he0, he1, delta_h, freq_mhz, d, a_ref, climate, mdvar)
    warn |= w
    return a_fs + v, SUCCESS, warn, mode, a_fs, a_ref, d, n_s, delta_h, he0, he1, dhzn0, dhzn1, th0, th1
