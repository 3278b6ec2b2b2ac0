"""ITU-R P.1812-6: path-specific point-to-area prediction, 30 MHz-6 GHz.

The method predicts the basic transmission loss L_b not exceeded for p % of the time and
pL % of locations over a terrain profile, by combining

- line of sight with multipath/focusing enhancements (L_b0p, L_b0β; eqs. 8-11),
- the delta-Bullington diffraction model: Bullington over the actual profile (terrain plus
  representative clutter at the intermediate points) and over a smooth profile, plus the
  first-term spherical-Earth loss (L_d = L_bulla + max(L_dsph − L_bulls, 0); eqs. 12-41),
- troposcatter (L_bs; eqs. 44-45),
- ducting/layer reflection (L_ba; eqs. 46-56),

blended by F_j (path angular distance) and F_k (path length) into L_bc (eqs. 57-63), then
location variability −I(pL/100)·σ_L (§4.7) and the floor L_b0p (eq. 69).  The field strength
for 1 kW e.r.p. is E_p = 199.36 + 20·log10 f − L_b (eq. 70).  Building entry loss (§4.8) is
not included (outdoor terminals).  The path profile analysis (horizons, angular distance,
smooth-Earth heights) follows Attachment 1 of Annex 1.

The kernels live in :mod:`citycov.propagation._p1812_kernels`; :func:`p1812_lb_db` (re-exported
here) is the unvalidated per-pixel entry point for the radio engine, :func:`p1812` the
validated wrapper returning every intermediate.  Checked against the ITU-R Study Group 3
validation examples (tests/data/reference/itu-r/p1812) to 0.1 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from citycov.errors import P1812Error
from citycov.propagation import _p1812_kernels
from citycov.propagation._p1812_kernels import p1812_lb_db, path_centre_lat_deg

__all__ = ["P1812_FREQ_GHZ", "P1812Result", "p1812", "p1812_lb_db", "path_centre_lat_deg"]

P1812_FREQ_GHZ = (0.03, 6.0)
P1812_TIME_PERCENT = (1.0, 50.0)
P1812_LOCATION_PERCENT = (1.0, 99.0)
P1812_ANTENNA_HEIGHT_M = (1.0, 3000.0)
P1812_LATITUDE_DEG = (-80.0, 80.0)
POLARISATIONS = {1: "horizontal", 2: "vertical"}
RADIO_CLIMATIC_ZONES = {1: "sea", 3: "coastal land", 4: "inland"}


@dataclass(frozen=True)
class P1812Result:
    """Outcome of :func:`p1812`: the losses and every intermediate of the validation logs.

    Losses and field strengths in dB / dB(µV/m), distances in km, heights in m above mean sea
    level (``hte``, ``hre``, ``htc_prime``, ``hrc_prime``: m above the smooth surface), angles in
    mrad (``phi`` in degrees), percentages in %.  Equation numbers are those of P.1812-6.
    """

    lb_db: float  #: basic transmission loss not exceeded for p % time and pL % locations (eq. 69)
    ep_dbuv_m: float  #: field strength exceeded for p % time, pL % locations, at ``ptx_kw`` e.r.p.
    path_type: str  #: "los" or "transhorizon" (Attachment 1, eq. 76 against eq. 78)
    ptx_kw: float  #: the transmitter e.r.p. used for ``ep_dbuv_m`` (kW)
    ep: float  #: field strength for 1 kW e.r.p. (eq. 70)
    d: float  #: path length (km)
    dlt: float  #: Tx horizon distance (eq. 78), or distance to the Bullington point on LoS paths
    dlr: float  #: Rx horizon distance (eq. 81a)
    theta_t: float  #: Tx horizon elevation angle (eqs. 76-78)
    theta_r: float  #: Rx horizon elevation angle (eqs. 79-81)
    theta: float  #: path angular distance (eq. 82)
    hts: float  #: Tx antenna height above sea level
    hrs: float  #: Rx antenna height above sea level
    htc: float  #: Tx height used by the diffraction model (Table 5)
    hrc: float  #: Rx height used by the diffraction model (Table 5)
    w: float  #: fraction of the path over sea (ω)
    dtm: float  #: longest continuous land (coastal + inland) section (§3.6)
    dlm: float  #: longest continuous inland section (§3.6)
    phi: float  #: path-centre latitude, degrees (eq. 4)
    b0: float  #: β0, time percentage of anomalous refractivity gradients (eq. 5)
    ae: float  #: median effective Earth radius (eq. 7a)
    hst_n: float  #: least-squares smooth-surface height at Tx (eq. 85)
    hsr_n: float  #: least-squares smooth-surface height at Rx (eq. 86)
    hst: float  #: smooth-surface height at Tx limited to the ground (eq. 90a)
    hsr: float  #: smooth-surface height at Rx limited to the ground (eq. 90b)
    hstd: float  #: smooth-surface height at Tx for the diffraction model (eq. 89)
    hsrd: float  #: smooth-surface height at Rx for the diffraction model (eq. 89)
    htc_prime: float  #: htc − hstd (eq. 37a)
    hrc_prime: float  #: hrc − hsrd (eq. 37b)
    hte: float  #: Tx effective height for ducting (eq. 92a)
    hre: float  #: Rx effective height for ducting (eq. 92b)
    hm: float  #: terrain roughness (eq. 93)
    fi: float  #: diffraction time interpolation factor (eq. 40)
    fj: float  #: angular-distance blending factor (eq. 57)
    fk: float  #: path-length blending factor (eq. 58)
    lbfs: float  #: free-space loss (eq. 8)
    lb0p: float  #: LoS loss not exceeded for p % time (eq. 10)
    lb0b: float  #: LoS loss not exceeded for β0 % time (eq. 11)
    lbulla: float  #: Bullington loss of the actual profile, median refraction (eq. 21)
    lbulls: float  #: Bullington loss of the smooth profile, median refraction (eq. 21)
    ldsph: float  #: spherical-Earth diffraction loss, median refraction (eq. 27)
    ld50: float  #: median diffraction loss (eq. 39)
    ldb: float  #: diffraction loss not exceeded for β0 % time (eq. 39)
    ldp: float  #: diffraction loss not exceeded for p % time (eq. 41)
    lbd50: float  #: median basic loss with diffraction (eq. 42)
    lbd: float  #: basic loss with diffraction for p % time (eq. 43)
    lminb0p: float  #: notional minimum LoS / sub-path diffraction loss (eq. 59)
    lba: float  #: ducting/layer-reflection loss (eq. 46)
    lminbap: float  #: notional minimum LoS / ducting loss (eq. 60)
    lbda: float  #: diffraction with ducting enhancement (eq. 61)
    lbam: float  #: modified basic loss (eq. 62)
    lbs: float  #: troposcatter loss (eq. 44)
    lbc: float  #: basic loss for p % time, 50 % locations (eq. 63)
    lbu: float  #: same as ``lbc`` (P.1812-6 dropped the terminal clutter terms that separated them)
    lloc: float  #: location-variability term −I(pL/100)·σ_L (§4.7; 0 for a receiver at sea)
    lb: float  #: same as ``lb_db``


def _check_range(problems: list[str], name: str, value: float, lo: float, hi: float, unit: str = "",
                 *, lo_open: bool = False, hi_open: bool = False) -> None:
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
        problems.append(f"{name} must be in {lb}{lo:g}, {hi:g}{rb}{(' ' + unit) if unit else ''}, got {value!r}")


def _scalar(problems: list[str], name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        problems.append(f"{name} must be a real number, got {value!r}")
        return math.nan


def _validate_profile(problems: list[str], d_km: Any, h_m: Any, r_m: Any, zone: Any) -> tuple[np.ndarray, ...]:
    arrays = []
    for name, value in (("d_km", d_km), ("h_m", h_m), ("r_m", r_m), ("zone", zone)):
        try:
            a = np.array(value, dtype=np.float64)  # a copy: inputs are never touched
        except (TypeError, ValueError):
            problems.append(f"{name} must be a 1-D array of numbers")
            a = np.full(1, np.nan)
        if a.ndim != 1:
            problems.append(f"{name} must be 1-D, got shape {a.shape}")
            a = a.reshape(-1)
        arrays.append(a)
    d, h, r, z = arrays
    sizes = {"d_km": d.size, "h_m": h.size, "r_m": r.size, "zone": z.size}
    if len(set(sizes.values())) > 1:
        problems.append(f"d_km, h_m, r_m and zone must have equal lengths, got {sizes}")
        return d, h, r, z.astype(np.int64)
    if d.size < 3:
        problems.append(f"the profile needs at least 3 points (Tx, one intermediate, Rx), got {d.size}")
    for name, a in (("d_km", d), ("h_m", h), ("r_m", r), ("zone", z)):
        if not np.isfinite(a).all():
            where = np.flatnonzero(~np.isfinite(a))[:5].tolist()
            problems.append(f"{name} must be finite, got non-finite values at indices {where}")
    if d.size and np.isfinite(d).all():
        if d[0] != 0.0:
            problems.append(f"d_km must start at 0 km (the transmitter), got {d[0]!r}")
        steps = np.diff(d)
        if (steps <= 0).any():
            where = (np.flatnonzero(steps <= 0) + 1)[:5].tolist()
            problems.append(f"d_km must be strictly increasing, not at indices {where}")
    if np.isfinite(r).all() and (r < 0).any():
        problems.append(f"r_m (representative clutter height) must be >= 0 m, got {np.unique(r[r < 0])[:5].tolist()}")
    bad_zone = ~np.isin(z, list(RADIO_CLIMATIC_ZONES))
    if np.isfinite(z).all() and bad_zone.any():
        problems.append(f"zone must be one of {RADIO_CLIMATIC_ZONES} (radio-climatic zone codes), "
                        f"got {np.unique(z[bad_zone])[:5].tolist()}")
    return d, h, r, np.nan_to_num(z).astype(np.int64)


def p1812(d_km: Any, h_m: Any, r_m: Any, zone: Any, *, freq_ghz: float, p: float, pl: float, htg_m: float,
          hrg_m: float, pol: int, dn: float, n0: float, phi_t_deg: float, phi_r_deg: float, lam_t_deg: float,
          lam_r_deg: float, sigma_l_db: float = 0.0, dct_km: float = 500.0, dcr_km: float = 500.0,
          ptx_kw: float = 1.0) -> P1812Result:
    """ITU-R P.1812-6 basic transmission loss and field strength over one terrain profile.

    Parameters
    ----------
    d_km
        Distance of each profile point from the transmitter, km: 1-D, starts at 0 (Tx), strictly
        increasing, ends at the receiver; at least 3 points.
    h_m
        Terrain height above mean sea level at each point, m.
    r_m
        Representative clutter height at each point, m (>= 0; e.g. 0 water/open, 10 suburban,
        15 urban/trees, 20 dense urban).  Added to the terrain at the intermediate points only.
    zone
        Radio-climatic zone at each point: 1 sea, 3 coastal land, 4 inland.
    freq_ghz
        Frequency, 0.03-6 GHz.
    p
        Percentage of time the loss is not exceeded, 1-50 %.
    pl
        Percentage of locations the loss is not exceeded, 1-99 %.
    htg_m, hrg_m
        Tx and Rx antenna heights above ground, 1-3000 m.
    pol
        Polarisation: 1 horizontal, 2 vertical.
    dn
        ΔN, average radio-refractive index lapse rate through the lowest 1 km at the path
        centre, N-units/km (positive, below 157).
    n0
        Sea-level surface refractivity at the path centre, N-units (0-500).
    phi_t_deg, phi_r_deg, lam_t_deg, lam_r_deg
        Tx/Rx latitude (−80..80°) and longitude (−180..360°), WGS84 degrees; only the path-centre
        latitude (eq. 4) is used.
    sigma_l_db
        Location-variability standard deviation, dB (>= 0; 0 gives the 50 %-location value).
    dct_km, dcr_km
        Distance over land from Tx / Rx to the coast, km (>= 0; set to 0 automatically for a
        terminal in a sea zone).
    ptx_kw
        Transmitter e.r.p., kW (> 0), for ``ep_dbuv_m``.

    Returns
    -------
    P1812Result
        ``lb_db``, ``ep_dbuv_m`` and every intermediate of the ITU-R validation logs.

    Raises
    ------
    P1812Error
        (a :class:`~citycov.errors.ModelError`) listing every argument outside its domain.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.linspace(0.0, 20.0, 201)
    >>> h = 100.0 + 40.0 * np.exp(-(((d - 10.0) / 2.0) ** 2))
    >>> res = p1812(d, h, np.zeros_like(d), np.full(d.size, 4), freq_ghz=0.6, p=50, pl=50, htg_m=30,
    ...             hrg_m=10, pol=1, dn=45, n0=325, phi_t_deg=45.0, phi_r_deg=45.1, lam_t_deg=7.0,
    ...             lam_r_deg=7.1)
    >>> res.path_type, bool(res.lb_db > res.lbfs)
    ('transhorizon', True)
    """
    problems: list[str] = []
    d, h, r, z = _validate_profile(problems, d_km, h_m, r_m, zone)
    s = {name: _scalar(problems, name, value) for name, value in (
        ("freq_ghz", freq_ghz), ("p", p), ("pl", pl), ("htg_m", htg_m), ("hrg_m", hrg_m), ("pol", pol),
        ("dn", dn), ("n0", n0), ("phi_t_deg", phi_t_deg), ("phi_r_deg", phi_r_deg), ("lam_t_deg", lam_t_deg),
        ("lam_r_deg", lam_r_deg), ("sigma_l_db", sigma_l_db), ("dct_km", dct_km), ("dcr_km", dcr_km),
        ("ptx_kw", ptx_kw))}
    _check_range(problems, "freq_ghz", s["freq_ghz"], *P1812_FREQ_GHZ, "GHz")
    _check_range(problems, "p", s["p"], *P1812_TIME_PERCENT, "% of time")
    _check_range(problems, "pl", s["pl"], *P1812_LOCATION_PERCENT, "% of locations")
    _check_range(problems, "htg_m", s["htg_m"], *P1812_ANTENNA_HEIGHT_M, "m")
    _check_range(problems, "hrg_m", s["hrg_m"], *P1812_ANTENNA_HEIGHT_M, "m")
    if s["pol"] not in POLARISATIONS:
        problems.append(f"pol must be one of {POLARISATIONS}, got {pol!r}")
    _check_range(problems, "dn", s["dn"], 0.0, 157.0, "N-units/km", lo_open=True, hi_open=True)
    _check_range(problems, "n0", s["n0"], 0.0, 500.0, "N-units", lo_open=True)
    for name in ("phi_t_deg", "phi_r_deg"):
        _check_range(problems, name, s[name], *P1812_LATITUDE_DEG, "degrees")
    for name in ("lam_t_deg", "lam_r_deg"):
        _check_range(problems, name, s[name], -180.0, 360.0, "degrees")
    _check_range(problems, "sigma_l_db", s["sigma_l_db"], 0.0, math.inf, "dB", hi_open=True)
    _check_range(problems, "dct_km", s["dct_km"], 0.0, math.inf, "km", hi_open=True)
    _check_range(problems, "dcr_km", s["dcr_km"], 0.0, math.inf, "km", hi_open=True)
    _check_range(problems, "ptx_kw", s["ptx_kw"], 0.0, math.inf, "kW", lo_open=True, hi_open=True)
    if problems:
        raise P1812Error("P.1812: " + "; ".join(problems))

    phi_path = path_centre_lat_deg(s["phi_t_deg"], s["lam_t_deg"], s["phi_r_deg"], s["lam_r_deg"], float(d[-1]))
    out = np.empty(_p1812_kernels.N_FIELDS)
    lb = _p1812_kernels.p1812_eval(d, h, r, z, s["freq_ghz"], s["p"], s["pl"], s["htg_m"], s["hrg_m"], int(s["pol"]),
                                   s["dn"], s["n0"], phi_path, s["sigma_l_db"], s["dct_km"], s["dcr_km"], out)
    values = {name: float(v) for name, v in zip(_p1812_kernels.FIELDS, out, strict=True)}
    is_los = values.pop("is_los") > 0.5
    return P1812Result(lb_db=float(lb), ep_dbuv_m=values["ep"] + 10.0 * math.log10(s["ptx_kw"]),
                       path_type="los" if is_los else "transhorizon", ptx_kw=s["ptx_kw"], lbu=values["lbc"],
                       **values)
