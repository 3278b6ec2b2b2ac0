"""ITU-R P.1812-6 as Numba kernels over numbers and 1-D profile arrays (no validation here).

Equation numbers refer to Annex 1 of Recommendation ITU-R P.1812-6 (09/2021) and its
Attachment 1 (path profile analysis).  Units follow the Recommendation: distances in km,
heights in m above mean sea level, frequency in GHz, angles in mrad, percentages in %.

Profile conventions: ``d_km[0] == 0`` is the transmitter, ``d_km[-1]`` the receiver;
``h_m`` is terrain height, ``r_m`` the representative clutter height (§3.2: it is added to the
terrain at the intermediate points only, ``g_i = h_i + R_i``); ``zone`` is the radio-climatic
zone (1 sea, 3 coastal land, 4 inland).

:func:`p1812_eval` fills an array of every intermediate (indices ``I_*`` below, names in
:data:`FIELDS`) and returns the basic transmission loss; :func:`p1812_lb_db` is the per-pixel
entry point for the radio engine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from citycov.propagation.diffraction import knife_edge_db
from citycov.propagation.stats import inverse_normal_cdf

EARTH_RADIUS_KM = 6371.0
K_BETA = 3.0  # effective Earth-radius factor exceeded for β0 % of the time (eq. 7b)
SEA, COASTAL, INLAND = 1, 3, 4
# ground electrical constants for the first-term spherical-Earth loss (§4.3.3)
LAND_EPS_R, LAND_SIGMA_S_M = 22.0, 0.003
SEA_EPS_R, SEA_SIGMA_S_M = 80.0, 5.0

#: Intermediate values written by :func:`p1812_eval`, in order (names of the ITU-R validation logs,
#: lower-cased; ``hst_n``/``hsr_n`` are the uncorrected smooth-surface heights of eqs. 85-86,
#: ``htc_prime``/``hrc_prime`` the heights of eq. 37).
FIELDS = (
    "d", "dlt", "dlr", "theta_t", "theta_r", "theta", "hts", "hrs", "htc", "hrc", "w", "dtm", "dlm",
    "phi", "b0", "ae", "hst_n", "hsr_n", "hst", "hsr", "hstd", "hsrd", "htc_prime", "hrc_prime",
    "hte", "hre", "hm", "fi", "fj", "fk", "lbfs", "lb0p", "lb0b", "lbulla", "lbulls", "ldsph", "ld50",
    "ldb", "ldp", "lbd50", "lbd", "lminb0p", "lba", "lminbap", "lbda", "lbam", "lbs", "lbc", "lloc",
    "lb", "ep", "is_los",
)
(I_D, I_DLT, I_DLR, I_THETA_T, I_THETA_R, I_THETA, I_HTS, I_HRS, I_HTC, I_HRC, I_W, I_DTM, I_DLM,
 I_PHI, I_B0, I_AE, I_HST_N, I_HSR_N, I_HST, I_HSR, I_HSTD, I_HSRD, I_HTC_PRIME, I_HRC_PRIME,
 I_HTE, I_HRE, I_HM, I_FI, I_FJ, I_FK, I_LBFS, I_LB0P, I_LB0B, I_LBULLA, I_LBULLS, I_LDSPH, I_LD50,
 I_LDB, I_LDP, I_LBD50, I_LBD, I_LMINB0P, I_LBA, I_LMINBAP, I_LBDA, I_LBAM, I_LBS, I_LBC, I_LLOC,
 I_LB, I_EP, I_IS_LOS) = range(len(FIELDS))
N_FIELDS = len(FIELDS)


@njit(cache=True, nogil=True)
def wavelength_m(freq_ghz):
    """λ (m) for ``freq_ghz``, with c = 2.998e8 m/s as in the Recommendation."""
    return 0.2998 / freq_ghz


@njit(cache=True, nogil=True)
def inverse_ccdf(x):
    """I(x): the inverse complementary cumulative normal distribution, 0 < x < 1."""
    return -inverse_normal_cdf(x)


@njit(cache=True, nogil=True)
def path_centre_lat_deg(phi_t_deg, lam_t_deg, phi_r_deg, lam_r_deg, d_km):
    """Latitude (deg) of the point ``d_km / 2`` along the great circle from Tx towards Rx (eq. 4).

    As P.2001 Attachment H: bearing from Tx to Rx, then the point at angular distance
    ``0.5 d / 6371`` along it.
    """
    pt = math.radians(phi_t_deg)
    pr = math.radians(phi_r_deg)
    dlon = math.radians(lam_r_deg - lam_t_deg)
    cos_arc = math.sin(pt) * math.sin(pr) + math.cos(pt) * math.cos(pr) * math.cos(dlon)
    x1 = math.sin(pr) - cos_arc * math.sin(pt)
    y1 = math.cos(pt) * math.cos(pr) * math.sin(dlon)
    bearing = math.atan2(y1, x1)
    arc = 0.5 * d_km / EARTH_RADIUS_KM
    s = math.sin(pt) * math.cos(arc) + math.cos(pt) * math.sin(arc) * math.cos(bearing)
    return math.degrees(math.asin(min(1.0, max(-1.0, s))))


@njit(cache=True, nogil=True)
def _cell_km(d_km, i):
    """Length of path represented by profile point ``i``: half of each adjacent interval."""
    n = d_km.size
    lo = d_km[i - 1] if i > 0 else d_km[0]
    hi = d_km[i + 1] if i < n - 1 else d_km[n - 1]
    return 0.5 * (hi - lo)


@njit(cache=True, nogil=True)
def zone_lengths_km(d_km, zone):
    """(dtm, dlm, sea length): longest continuous land (coastal + inland) run, longest inland run,
    and total length over sea (km), each profile point standing for half its adjacent intervals."""
    dtm = 0.0
    dlm = 0.0
    run_land = 0.0
    run_inland = 0.0
    sea = 0.0
    for i in range(d_km.size):
        c = _cell_km(d_km, i)
        z = zone[i]
        if z == SEA:
            sea += c
            run_land = 0.0
            run_inland = 0.0
        else:
            run_land += c
            run_inland = run_inland + c if z == INLAND else 0.0
        dtm = max(dtm, run_land)
        dlm = max(dlm, run_inland)
    return dtm, dlm, sea


@njit(cache=True, nogil=True)
def tau_factor(dlm_km):
    """τ of eq. (3)."""
    return 1.0 - math.exp(-4.12e-4 * dlm_km ** 2.41)


@njit(cache=True, nogil=True)
def beta0_percent(phi_deg, dtm_km, dlm_km):
    """β0 (%), time percentage of refractivity lapse rates beyond 100 N/km (eqs. 2-5)."""
    tau = tau_factor(dlm_km)
    mu1 = (10.0 ** (-dtm_km / (16.0 - 6.6 * tau)) + 10.0 ** (-5.0 * (0.496 + 0.354 * tau))) ** 0.2
    mu1 = min(mu1, 1.0)
    aphi = abs(phi_deg)
    if aphi <= 70.0:
        mu4 = 10.0 ** ((-0.935 + 0.0176 * aphi) * math.log10(mu1))
        return 10.0 ** (-0.015 * aphi + 1.67) * mu1 * mu4
    mu4 = 10.0 ** (0.3 * math.log10(mu1))
    return 4.17 * mu1 * mu4


@njit(cache=True, nogil=True)
def effective_radius_km(dn):
    """a_e (km), median effective Earth radius from ΔN (eqs. 6, 7a)."""
    return EARTH_RADIUS_KM * 157.0 / (157.0 - dn)


@njit(cache=True, nogil=True)
def profile_analysis(d_km, h_m, hts, hrs, ae, lam):
    """Attachment 1 §4-5 on the terrain profile ``h_m``.

    Returns ``(is_los, dlt, dlr, theta_t, theta_r, theta, hst_n, hsr_n, hst, hsr, hstd, hsrd,
    hte, hre, hm)``: horizon distances (km) and elevations (mrad), angular distance (mrad,
    eq. 82), the least-squares smooth surface (eqs. 85-86), its corrected ends (eq. 90), the
    smooth-surface heights for the diffraction model (eq. 89), the ducting effective heights
    (eq. 92) and the terrain roughness (eq. 93).
    """
    n = d_km.size
    d = d_km[n - 1]
    # horizon elevation angles (eqs. 76-78)
    theta_max = -np.inf
    it = 1
    for i in range(1, n - 1):
        th = 1000.0 * math.atan((h_m[i] - hts) / (1000.0 * d_km[i]) - d_km[i] / (2.0 * ae))
        if th > theta_max:
            theta_max = th
            it = i
    theta_td = 1000.0 * math.atan((hrs - hts) / (1000.0 * d) - d / (2.0 * ae))
    is_los = not theta_max > theta_td
    if not is_los:
        theta_t = theta_max
        dlt = d_km[it]
        theta_r = -np.inf
        ir = n - 2
        for i in range(1, n - 1):
            dr = d - d_km[i]
            th = 1000.0 * math.atan((h_m[i] - hrs) / (1000.0 * dr) - dr / (2.0 * ae))
            if th >= theta_r:  # the last maximum (nearest the receiver)
                theta_r = th
                ir = i
        dlr = d - d_km[ir]
    else:
        theta_t = theta_td
        theta_r = 1000.0 * math.atan((hts - hrs) / (1000.0 * d) - d / (2.0 * ae))
        # the Bullington point of the LoS path at median refraction (eq. 15)
        ce = 1.0 / ae
        nu_max = -np.inf
        it = 1
        for i in range(1, n - 1):
            di = d_km[i]
            nu = (h_m[i] + 500.0 * ce * di * (d - di) - (hts * (d - di) + hrs * di) / d) * math.sqrt(
                0.002 * d / (lam * di * (d - di)))
            if nu >= nu_max:
                nu_max = nu
                it = i
        ir = it
        dlt = d_km[it]
        dlr = d - dlt
    theta = 1000.0 * d / ae + theta_t + theta_r

    # least-squares smooth-Earth surface (eqs. 85-86, with v1, v2 sums)
    v1 = 0.0
    v2 = 0.0
    for i in range(1, n):
        dd = d_km[i] - d_km[i - 1]
        v1 += dd * (h_m[i] + h_m[i - 1])
        v2 += dd * (h_m[i] * (2.0 * d_km[i] + d_km[i - 1]) + h_m[i - 1] * (d_km[i] + 2.0 * d_km[i - 1]))
    hst_n = (2.0 * v1 * d - v2) / (d * d)
    hsr_n = (v2 - v1 * d) / (d * d)

    # smooth-surface heights for the diffraction model (eq. 89)
    hobs = -np.inf
    aobt = -np.inf
    aobr = -np.inf
    for i in range(1, n - 1):
        hh = h_m[i] - (hts * (d - d_km[i]) + hrs * d_km[i]) / d
        hobs = max(hobs, hh)
        aobt = max(aobt, hh / d_km[i])
        aobr = max(aobr, hh / (d - d_km[i]))
    if hobs <= 0.0:
        hstp = hst_n
        hsrp = hsr_n
    else:
        gt = aobt / (aobt + aobr)
        gr = aobr / (aobt + aobr)
        hstp = hst_n - hobs * gt
        hsrp = hsr_n - hobs * gr
    hstd = min(hstp, h_m[0])
    hsrd = min(hsrp, h_m[n - 1])

    # ducting/layer-reflection model: smooth surface limited to the ground (eq. 90), effective
    # heights (eq. 92) and roughness between the horizon points (eq. 93)
    hst = min(hst_n, h_m[0])
    hsr = min(hsr_n, h_m[n - 1])
    slope = (hsr - hst) / d
    hte = hts - hst
    hre = hrs - hsr
    hm = -np.inf
    for i in range(it, ir + 1):
        hm = max(hm, h_m[i] - (hst + slope * d_km[i]))
    return is_los, dlt, dlr, theta_t, theta_r, theta, hst_n, hsr_n, hst, hsr, hstd, hsrd, hte, hre, hm


@njit(cache=True, nogil=True)
def bullington_db(d_km, h_m, r_m, hts, hrs, ap, lam, flat):
    """L_bull (dB), eqs. (12)-(21), over g_i = h_i + R_i (or g_i = 0 when ``flat``)."""
    n = d_km.size
    d = d_km[n - 1]
    ce = 1.0 / ap
    stim = -np.inf
    for i in range(1, n - 1):
        di = d_km[i]
        gi = 0.0 if flat else h_m[i] + r_m[i]
        stim = max(stim, (gi + 500.0 * ce * di * (d - di) - hts) / di)
    s_tr = (hrs - hts) / d
    if stim < s_tr:  # LoS: the point of largest ν (eq. 15)
        nu = -np.inf
        for i in range(1, n - 1):
            di = d_km[i]
            gi = 0.0 if flat else h_m[i] + r_m[i]
            v = (gi + 500.0 * ce * di * (d - di) - (hts * (d - di) + hrs * di) / d) * math.sqrt(
                0.002 * d / (lam * di * (d - di)))
            nu = max(nu, v)
    else:  # trans-horizon: the Bullington point (eqs. 17-20)
        srim = -np.inf
        for i in range(1, n - 1):
            di = d_km[i]
            gi = 0.0 if flat else h_m[i] + r_m[i]
            srim = max(srim, (gi + 500.0 * ce * di * (d - di) - hrs) / (d - di))
        dbp = (hrs - hts + srim * d) / (stim + srim)
        nu = (hts + stim * dbp - (hts * (d - dbp) + hrs * dbp) / d) * math.sqrt(
            0.002 * d / (lam * dbp * (d - dbp)))
    luc = knife_edge_db(nu)
    return luc + (1.0 - math.exp(-luc / 6.0)) * (10.0 + 0.02 * d)


@njit(cache=True, nogil=True)
def _first_term_ground_db(eps_r, sigma, d, hte, hre, adft, f, pol):
    """First-term spherical-Earth diffraction loss over one ground type (eqs. 29-36)."""
    k = 0.036 * (adft * f) ** (-1.0 / 3.0) * ((eps_r - 1.0) ** 2 + (18.0 * sigma / f) ** 2) ** -0.25
    if pol == 2:
        k *= math.sqrt(eps_r * eps_r + (18.0 * sigma / f) ** 2)
    k2 = k * k
    beta = (1.0 + 1.6 * k2 + 0.67 * k2 * k2) / (1.0 + 4.5 * k2 + 1.53 * k2 * k2)
    x = 21.88 * beta * (f / (adft * adft)) ** (1.0 / 3.0) * d
    yscale = 0.9575 * beta * (f * f / adft) ** (1.0 / 3.0)
    fx = 11.0 + 10.0 * math.log10(x) - 17.6 * x if x >= 1.6 else -20.0 * math.log10(x) - 5.6488 * x ** 1.425
    gmin = 2.0 + 20.0 * math.log10(k)
    total = -fx
    for y in (yscale * hte, yscale * hre):
        b = beta * y
        if b > 2.0:
            gy = 17.6 * math.sqrt(b - 1.1) - 5.0 * math.log10(b - 1.1) - 8.0
        else:
            gy = 20.0 * math.log10(b + 0.1 * b ** 3)
        total -= max(gy, gmin)
    return total


@njit(cache=True, nogil=True)
def first_term_db(d, hte, hre, adft, f, omega, pol):
    """L_dft (dB): sea and land first-term losses weighted by the sea fraction ω (§4.3.3)."""
    land = _first_term_ground_db(LAND_EPS_R, LAND_SIGMA_S_M, d, hte, hre, adft, f, pol)
    if omega <= 0.0:
        return land
    sea = _first_term_ground_db(SEA_EPS_R, SEA_SIGMA_S_M, d, hte, hre, adft, f, pol)
    return omega * sea + (1.0 - omega) * land


@njit(cache=True, nogil=True)
def spherical_earth_db(d, hte, hre, ap, f, omega, pol):
    """L_dsph (dB), spherical-Earth diffraction loss (eqs. 22-27)."""
    dlos = math.sqrt(2.0 * ap) * (math.sqrt(0.001 * hte) + math.sqrt(0.001 * hre))
    if d >= dlos:
        return first_term_db(d, hte, hre, ap, f, omega, pol)
    c = (hte - hre) / (hte + hre)
    m = 250.0 * d * d / (ap * (hte + hre))
    arg = 1.5 * c * math.sqrt(3.0 * m / (m + 1.0) ** 3)
    b = 2.0 * math.sqrt((m + 1.0) / (3.0 * m)) * math.cos(math.pi / 3.0 + math.acos(min(1.0, max(-1.0, arg))) / 3.0)
    dse1 = 0.5 * d * (1.0 + b)
    dse2 = d - dse1
    hse = ((hte - 500.0 * dse1 * dse1 / ap) * dse2 + (hre - 500.0 * dse2 * dse2 / ap) * dse1) / d
    hreq = 17.456 * math.sqrt(dse1 * dse2 * wavelength_m(f) / d)
    if hse > hreq:
        return 0.0
    aem = 500.0 * (d / (math.sqrt(hte) + math.sqrt(hre))) ** 2
    ldft = first_term_db(d, hte, hre, aem, f, omega, pol)
    if ldft < 0.0:
        return 0.0
    return (1.0 - hse / hreq) * ldft


@njit(cache=True, nogil=True)
def delta_bullington_db(d_km, h_m, r_m, hts, hrs, hstd, hsrd, ap, f, omega, pol):
    """(L_d, L_bulla, L_bulls, L_dsph) in dB for effective Earth radius ``ap`` (§4.3.4, eqs. 37-39)."""
    lam = wavelength_m(f)
    d = d_km[d_km.size - 1]
    lbulla = bullington_db(d_km, h_m, r_m, hts, hrs, ap, lam, False)
    hte = hts - hstd
    hre = hrs - hsrd
    lbulls = bullington_db(d_km, h_m, r_m, hte, hre, ap, lam, True)
    ldsph = spherical_earth_db(d, hte, hre, ap, f, omega, pol)
    return lbulla + max(ldsph - lbulls, 0.0), lbulla, lbulls, ldsph


@njit(cache=True, nogil=True)
def troposcatter_db(d, theta, f, p, n0):
    """L_bs (dB), troposcatter loss not exceeded for p % of the time (eqs. 44-45)."""
    lf = 25.0 * math.log10(f) - 2.5 * math.log10(f / 2.0) ** 2
    return (190.1 + lf + 20.0 * math.log10(d) + 0.573 * theta - 0.15 * n0
            - 10.125 * math.log10(50.0 / p) ** 0.7)


@njit(cache=True, nogil=True)
def _site_shielding_db(theta_h, dl, f):
    """A_st / A_sr (eq. 48)."""
    t2 = theta_h - 0.1 * dl
    if t2 <= 0.0:
        return 0.0
    return 20.0 * math.log10(1.0 + 0.361 * t2 * math.sqrt(f * dl)) + 0.264 * t2 * f ** (1.0 / 3.0)


@njit(cache=True, nogil=True)
def _duct_coupling_db(dc, dl, omega, hs):
    """A_ct / A_cr, over-sea surface-duct coupling correction (eq. 49)."""
    if omega >= 0.75 and dc <= dl and dc <= 5.0:
        return -3.0 * math.exp(-0.25 * dc * dc) * (1.0 + math.tanh(0.07 * (50.0 - hs)))
    return 0.0


@njit(cache=True, nogil=True)
def ducting_db(d, dlt, dlr, dct, dcr, dlm, hts, hrs, hte, hre, hm, theta_t, theta_r, f, p, omega, ae, b0):
    """L_ba (dB), ducting/layer-reflection loss not exceeded for p % of the time (eqs. 46-56)."""
    alf = 45.375 - 137.0 * f + 92.5 * f * f if f < 0.5 else 0.0
    af = (102.45 + 20.0 * math.log10(f) + 20.0 * math.log10(dlt + dlr) + alf
          + _site_shielding_db(theta_t, dlt, f) + _site_shielding_db(theta_r, dlr, f)
          + _duct_coupling_db(dct, dlt, omega, hts) + _duct_coupling_db(dcr, dlr, omega, hrs))
    gamma_d = 5e-5 * ae * f ** (1.0 / 3.0)
    theta1 = 1000.0 * d / ae + min(theta_t, 0.1 * dlt) + min(theta_r, 0.1 * dlr)
    di = min(d - dlt - dlr, 40.0)
    mu3 = math.exp(-4.6e-5 * (hm - 10.0) * (43.0 + 6.0 * di)) if hm > 10.0 else 1.0
    alpha = max(-0.6 - 3.5e-9 * d ** 3.1 * tau_factor(dlm), -3.4)
    mu2 = min((500.0 / ae * d * d / (math.sqrt(hte) + math.sqrt(hre)) ** 2) ** alpha, 1.0)
    beta = b0 * mu2 * mu3
    lb = math.log10(beta)
    gamma = 1.076 / (2.0058 - lb) ** 1.012 * math.exp(-(9.51 - 4.8 * lb + 0.198 * lb * lb) * 1e-6 * d ** 1.13)
    ap = -12.0 + (1.2 + 3.7e-3 * d) * math.log10(p / beta) + 12.0 * (p / beta) ** gamma
    return af + gamma_d * theta1 + ap


@njit(cache=True, nogil=True)
def p1812_eval(d_km, h_m, r_m, zone, freq_ghz, p, pl, htg_m, hrg_m, pol, dn, n0, phi_path_deg,
               sigma_l_db, dct_km, dcr_km, out):
    """Full P.1812-6 prediction; fills ``out`` (length :data:`N_FIELDS`) and returns L_b (dB).

    ``phi_path_deg`` is the path-centre latitude (see :func:`path_centre_lat_deg`).  No input
    checking: call through :func:`citycov.propagation.p1812.p1812` for validated input.
    """
    f = freq_ghz
    n = d_km.size
    d = d_km[n - 1]
    lam = wavelength_m(f)
    hts = h_m[0] + htg_m
    hrs = h_m[n - 1] + hrg_m
    if zone[0] == SEA:  # a terminal on a ship or sea platform
        dct_km = 0.0
    if zone[n - 1] == SEA:
        dcr_km = 0.0

    dtm, dlm, sea_km = zone_lengths_km(d_km, zone)
    omega = sea_km / d
    b0 = beta0_percent(phi_path_deg, dtm, dlm)
    ae = effective_radius_km(dn)
    ab = EARTH_RADIUS_KM * K_BETA
    (is_los, dlt, dlr, theta_t, theta_r, theta, hst_n, hsr_n, hst, hsr, hstd, hsrd, hte, hre,
     hm) = profile_analysis(d_km, h_m, hts, hrs, ae, lam)

    # interpolation factors (eqs. 57-58)
    fj = 1.0 - 0.5 * (1.0 + math.tanh(3.0 * 0.8 * (theta - 0.3) / 0.3))
    fk = 1.0 - 0.5 * (1.0 + math.tanh(3.0 * 0.5 * (d - 20.0) / 20.0))

    # line of sight with short-term enhancements (eqs. 8-11)
    dfs = math.sqrt(d * d + ((hts - hrs) / 1000.0) ** 2)
    lbfs = 92.4 + 20.0 * math.log10(f) + 20.0 * math.log10(dfs)
    es = 2.6 * (1.0 - math.exp(-0.1 * (dlt + dlr)))
    lb0p = lbfs + es * math.log10(p / 50.0)
    lb0b = lbfs + es * math.log10(b0 / 50.0)

    # diffraction (§4.3.4-4.3.5): median and β0 effective Earth radii
    ld50, lbulla, lbulls, ldsph = delta_bullington_db(d_km, h_m, r_m, hts, hrs, hstd, hsrd, ae, f, omega, pol)
    ldb = delta_bullington_db(d_km, h_m, r_m, hts, hrs, hstd, hsrd, ab, f, omega, pol)[0]
    fi = inverse_ccdf(p / 100.0) / inverse_ccdf(b0 / 100.0) if p > b0 else 1.0
    ldp = ld50 + fi * (ldb - ld50)  # eq. 41
    lbd50 = lbfs + ld50
    lbd = lb0p + ldp

    # notional minimum LoS/sub-path loss (eq. 59)
    lminb0p = lb0p + (1.0 - omega) * ldp if p < b0 else lbd50 + (lb0b + (1.0 - omega) * ldp - lbd50) * fi

    # ducting/layer reflection (§4.5) and the combination (eqs. 60-63)
    lba = ducting_db(d, dlt, dlr, dct_km, dcr_km, dlm, hts, hrs, hte, hre, hm, theta_t, theta_r, f, p,
                     omega, ae, b0)
    eta = 2.5
    big = max(lba, lb0p)  # log-sum-exp, guarded against overflow
    lminbap = big + eta * math.log(math.exp((lba - big) / eta) + math.exp((lb0p - big) / eta))
    lbda = lbd if lminbap > lbd else lminbap + (lbd - lminbap) * fk
    lbam = lbda + (lminb0p - lbda) * fj
    lbs = troposcatter_db(d, theta, f, p, n0)
    lo = min(lbs, lbam)
    lbc = lo - 5.0 * math.log10(10.0 ** (-0.2 * (lbs - lo)) + 10.0 ** (-0.2 * (lbam - lo)))

    # location variability (§4.7, not applied to a receiver at sea) and the final loss (eq. 69)
    lloc = 0.0
    if zone[n - 1] != SEA and sigma_l_db > 0.0:
        lloc = -inverse_ccdf(pl / 100.0) * sigma_l_db
    lb = max(lb0p, lbc + lloc)
    ep = 199.36 + 20.0 * math.log10(f) - lb  # eq. 70, 1 kW e.r.p.

    out[I_D] = d
    out[I_DLT] = dlt
    out[I_DLR] = dlr
    out[I_THETA_T] = theta_t
    out[I_THETA_R] = theta_r
    out[I_THETA] = theta
    out[I_HTS] = hts
    out[I_HRS] = hrs
    out[I_HTC] = hts
    out[I_HRC] = hrs
    out[I_W] = omega
    out[I_DTM] = dtm
    out[I_DLM] = dlm
    out[I_PHI] = phi_path_deg
    out[I_B0] = b0
    out[I_AE] = ae
    out[I_HST_N] = hst_n
    out[I_HSR_N] = hsr_n
    out[I_HST] = hst
    out[I_HSR] = hsr
    out[I_HSTD] = hstd
    out[I_HSRD] = hsrd
    out[I_HTC_PRIME] = hts - hstd
    out[I_HRC_PRIME] = hrs - hsrd
    out[I_HTE] = hte
    out[I_HRE] = hre
    out[I_HM] = hm
    out[I_FI] = fi
    out[I_FJ] = fj
    out[I_FK] = fk
    out[I_LBFS] = lbfs
    out[I_LB0P] = lb0p
    out[I_LB0B] = lb0b
    out[I_LBULLA] = lbulla
    out[I_LBULLS] = lbulls
    out[I_LDSPH] = ldsph
    out[I_LD50] = ld50
    out[I_LDB] = ldb
    out[I_LDP] = ldp
    out[I_LBD50] = lbd50
    out[I_LBD] = lbd
    out[I_LMINB0P] = lminb0p
    out[I_LBA] = lba
    out[I_LMINBAP] = lminbap
    out[I_LBDA] = lbda
    out[I_LBAM] = lbam
    out[I_LBS] = lbs
    out[I_LBC] = lbc
    out[I_LLOC] = lloc
    out[I_LB] = lb
    out[I_EP] = ep
    out[I_IS_LOS] = 1.0 if is_los else 0.0
    return lb


@njit(cache=True, nogil=True)
def p1812_lb_db(d_km, h_m, r_m, zone, freq_ghz, p, pl, htg_m, hrg_m, pol, dn, n0, phi_path_deg,
                sigma_l_db, dct_km, dcr_km):
    """P.1812-6 basic transmission loss L_b (dB) for one profile: the per-pixel kernel.

    Same arguments as :func:`p1812_eval` less ``out`` (float64 profile arrays, int64 ``zone``,
    ``pol`` 1 or 2; pass ``sigma_l_db=0`` for 50 % locations and 500 km coast distances
    for inland terminals); unvalidated (see :func:`citycov.propagation.p1812.p1812` for the
    domain).  No defaults on purpose: Numba's dispatch of omitted arguments from Python is
    several times slower than the call itself.
    """
    out = np.empty(N_FIELDS)
    return p1812_eval(d_km, h_m, r_m, zone, freq_ghz, p, pl, htg_m, hrg_m, pol, dn, n0, phi_path_deg,
                      sigma_l_db, dct_km, dcr_km, out)
