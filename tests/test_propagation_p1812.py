"""ITU-R P.1812-6 against the ITU-R SG3 validation examples (tests/data/reference/itu-r/p1812).

Expected values come only from the published files: the ``validation_profiles`` measurement
rows (L_b, E_p per case) and the ``validation_results`` step-by-step logs.  Tolerance 0.1 dB on
every loss; intermediates are checked group by group so that a failure names the broken step.
"""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from citycov.errors import ModelError, P1812Error
from citycov.propagation.p1812 import P1812Result, p1812, p1812_lb_db, path_centre_lat_deg

REF = Path(__file__).parent / "data" / "reference" / "itu-r" / "p1812"
PROFILES = REF / "validation_profiles"
RESULTS = REF / "validation_results"
TOL_DB = 0.1


def _read_profile(path: Path) -> dict:
    """Header (``key:`` → value), profile columns and measurement rows of a validation profile."""
    header: dict[str, str] = {}
    profile: list[list[float]] = []
    cases: list[list[str]] = []
    section = None
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            first = row[0].strip() if row else ""
            if first.startswith("{"):
                section = {"{Begin of Profile}": "profile", "{Begin of Measurements}": "cases"}.get(first)
                continue
            if section == "profile" and not first.startswith("Number of Points"):
                profile.append([float(x) for x in row[:5]])
            elif section == "cases":
                cases.append(row)
            elif section is None and first.endswith(":") and len(row) > 1:
                header[first[:-1].strip()] = row[1].strip()
    prof = np.array(profile)
    return {"header": header, "d": prof[:, 0], "h": prof[:, 1], "r": prof[:, 3], "zone": prof[:, 4].astype(int),
            "cases": cases}


def _read_log(path: Path) -> list[tuple[str, str, float]]:
    """Rows ``(name, equation reference, value)`` of a validation log."""
    rows = []
    with path.open(newline="") as fh:
        for row in csv.reader(fh):
            if len(row) >= 4 and row[0].strip() and not row[0].startswith("#"):
                rows.append((row[0].strip(), row[1].strip(), float(row[3])))
    return rows


_PROFILE_CACHE: dict[str, dict] = {}


def _profile(name: str) -> dict:
    if name not in _PROFILE_CACHE:
        _PROFILE_CACHE[name] = _read_profile(PROFILES / f"{name}.csv")
    return _PROFILE_CACHE[name]


# ---------------------------------------------------------------------------------------------
# 1. Every measurement row: L_b and E_p (at the row's e.r.p.) within 0.1 dB
# ---------------------------------------------------------------------------------------------
CASES = [(path.stem, k) for path in sorted(PROFILES.glob("*.csv")) for k in range(len(_profile(path.stem)["cases"]))]


def _run_case(name: str, k: int) -> tuple[P1812Result, float, float]:
    prof = _profile(name)
    hdr = prof["header"]
    row = prof["cases"][k]
    res = p1812(prof["d"], prof["h"], prof["r"], prof["zone"], freq_ghz=float(row[0]) / 1000.0, p=float(row[14]),
                pl=50.0, htg_m=float(row[1]), hrg_m=float(row[3]), pol=int(row[4]),
                dn=float(hdr["Average annual values dN (N-units/km)"]),
                n0=float(hdr["Average annual sea-level surface refractivity No (N-units)"]),
                phi_t_deg=float(hdr["Tx LAT"]), phi_r_deg=float(hdr["Rx LAT"]), lam_t_deg=float(hdr["Tx LON"]),
                lam_r_deg=float(hdr["Rx LON"]), ptx_kw=10.0 ** (float(row[12]) / 10.0) / 1000.0)
    return res, float(row[16]), float(row[17])


@pytest.mark.parametrize(("name", "k"), CASES, ids=[f"{n}-{k + 1}" for n, k in CASES])
def test_measurement_rows(name, k):
    res, ep_ref, lb_ref = _run_case(name, k)
    assert res.lb_db == pytest.approx(lb_ref, abs=TOL_DB)
    assert res.ep_dbuv_m == pytest.approx(ep_ref, abs=TOL_DB)


def test_every_profile_has_cases():
    assert len(CASES) == 24
    assert {n for n, _ in CASES} == {p.stem for p in PROFILES.glob("*.csv")}


# ---------------------------------------------------------------------------------------------
# 2. Every log, step by step
# ---------------------------------------------------------------------------------------------
# (log name, equation reference) -> (result attribute, absolute tolerance); grouped in model order
GROUPS: dict[str, dict[tuple[str, str], tuple[str, float]]] = {
    "geometry": {
        ("d (km)", ""): ("d", 1e-6), ("dlt (km)", "Eq (78)"): ("dlt", 1e-6), ("dlr (km)", "Eq (81a)"): ("dlr", 1e-6),
        ("th_t (mrad)", "Eqs (76-78)"): ("theta_t", 1e-4), ("th_r (mrad)", "Eqs (79-81)"): ("theta_r", 1e-4),
        ("th (mrad)", "Eq (82)"): ("theta", 1e-4), ("hts (m)", ""): ("hts", 1e-6), ("hrs (m)", ""): ("hrs", 1e-6),
        ("htc (m)", "Table 5"): ("htc", 1e-6), ("hrc (m)", "Table 5"): ("hrc", 1e-6),
    },
    "climate": {
        ("w", "Table 5"): ("w", 1e-4), ("dtm (km)", "Sec 3.6"): ("dtm", 1e-3), ("dlm (km)", "Sec 3.6"): ("dlm", 1e-3),
        ("phi (deg)", "Eq (4)"): ("phi", 1e-4), ("b0 (%)", "Eq (5)"): ("b0", 1e-4),
        ("ae (km)", "Eq (7a)"): ("ae", 1e-3),
    },
    "smooth_earth": {
        ("hst (m)", "Eq (85)"): ("hst_n", 1e-3), ("hsr (m)", "Eq (86)"): ("hsr_n", 1e-3),
        ("hst (m)", "Eq (90a)"): ("hst", 1e-3), ("hsr (m)", "Eq (90b)"): ("hsr", 1e-3),
        ("hstd (m)", "Eq (89)"): ("hstd", 1e-3), ("hsrd (m)", "Eq (89)"): ("hsrd", 1e-3),
        ("htc' (m)", "Eq (37a)"): ("htc_prime", 1e-3), ("hrc' (m)", "Eq (37b)"): ("hrc_prime", 1e-3),
        ("hte (m)", "Eq (92a)"): ("hte", 1e-3), ("hre (m)", "Eq (92b)"): ("hre", 1e-3),
        ("hm (m)", "Eq (93)"): ("hm", 1e-3),
    },
    # F_i depends on I(x); the Recommendation's rational approximation is within 4.5e-4 of it
    "interpolation": {("Fi", "Eq (40)"): ("fi", 2e-3), ("Fj", "Eq (57)"): ("fj", 1e-6),
                      ("Fk", "Eq (58)"): ("fk", 1e-6)},
    "line_of_sight": {("Lbfs", "Eq (8)"): ("lbfs", TOL_DB), ("Lb0p", "Eq (10)"): ("lb0p", TOL_DB),
                      ("Lb0b", "Eq (11)"): ("lb0b", TOL_DB)},
    "diffraction": {
        ("Lbulla (dB)", "Eq (21)"): ("lbulla", TOL_DB), ("Lbulls (dB)", "Eq (21)"): ("lbulls", TOL_DB),
        ("Ldsph (dB)", "Eq (27)"): ("ldsph", TOL_DB), ("Ld50 (dB)", "Eq (39)"): ("ld50", TOL_DB),
        ("Ldb (dB)", "Eq (39)"): ("ldb", TOL_DB), ("Ldp (dB)", "Eq (41)"): ("ldp", TOL_DB),
        ("Lbd50 (dB)", "Eq (42)"): ("lbd50", TOL_DB), ("Lbd (dB)", "Eq (43)"): ("lbd", TOL_DB),
    },
    "anomalous": {
        ("Lminb0p (dB)", "Eq (59)"): ("lminb0p", TOL_DB), ("Lba (dB)", "Eq (46)"): ("lba", TOL_DB),
        ("Lminbap (dB)", "Eq (60)"): ("lminbap", TOL_DB), ("Lbda (dB)", "Eq (61)"): ("lbda", TOL_DB),
        ("Lbam (dB)", "Eq (62)"): ("lbam", TOL_DB),
    },
    "troposcatter": {("Lbs (dB)", "Eq (44)"): ("lbs", TOL_DB)},
    "total": {("Lbc (dB)", "Eq (63)"): ("lbc", TOL_DB), ("Lb (dB)", "Eq (69)"): ("lb_db", TOL_DB),
              ("Ep (dBuV/m)", "Eq (70)"): ("ep", TOL_DB), ("Ep (dBuV/m) w.r.t. Ptx", ""): ("ep_dbuv_m", TOL_DB)},
}
INPUT_ROWS = {"Ptx (kW)", "f (GHz)", "p (%)", "pL (%)", "sigmaL (dB)", "phi_t (deg)", "phi_r (deg)", "lam_t (deg)",
              "lam_r (deg)", "htg (m)", "hrg (m)", "pol", "DN", "N0", "dct (km)", "dcr (km)", "R2 (m)", "Rn-1 (m)",
              "Ct Tx", "Ct Rx"}
LOGS = sorted(RESULTS.glob("*.csv"))
_RESULT_CACHE: dict[str, tuple[P1812Result, dict]] = {}


def _run_log(path: Path) -> tuple[P1812Result, dict]:
    """Run the model with the inputs recorded in a log; return the result and the log's values."""
    if path.stem not in _RESULT_CACHE:
        rows = _read_log(path)
        values = {(n, ref): v for n, ref, v in rows}
        inp = {n: v for n, _, v in rows if n in INPUT_ROWS}
        prof = _profile(path.stem.rsplit("_", 1)[0])
        res = p1812(prof["d"], prof["h"], prof["r"], prof["zone"], freq_ghz=inp["f (GHz)"], p=inp["p (%)"],
                    pl=inp["pL (%)"], htg_m=inp["htg (m)"], hrg_m=inp["hrg (m)"], pol=int(inp["pol"]),
                    dn=inp["DN"], n0=inp["N0"], phi_t_deg=inp["phi_t (deg)"], phi_r_deg=inp["phi_r (deg)"],
                    lam_t_deg=inp["lam_t (deg)"], lam_r_deg=inp["lam_r (deg)"], sigma_l_db=inp["sigmaL (dB)"],
                    dct_km=inp["dct (km)"], dcr_km=inp["dcr (km)"], ptx_kw=inp["Ptx (kW)"])
        _RESULT_CACHE[path.stem] = (res, values)
    return _RESULT_CACHE[path.stem]


@pytest.mark.parametrize("group", list(GROUPS))
@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_log_intermediates(log, group):
    res, values = _run_log(log)
    wrong = []
    for key, (attr, tol) in GROUPS[group].items():
        assert key in values, f"{log.name}: no row {key}"
        got = getattr(res, attr)
        if not abs(got - values[key]) <= tol:
            wrong.append(f"{key[0]} {key[1]}: expected {values[key]:.10g}, got {got:.10g} (tol {tol})")
    assert not wrong, f"{log.name} [{group}]: " + "; ".join(wrong)


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_log_rows_all_checked(log):
    """Every row of every log is either an input or checked by one of the groups above."""
    checked = {key for g in GROUPS.values() for key in g}
    unchecked = [(n, ref) for n, ref, _ in _read_log(log) if n not in INPUT_ROWS and (n, ref) not in checked]
    assert not unchecked


def test_path_types_cover_los_and_transhorizon():
    types = {_run_log(p)[0].path_type for p in LOGS}
    assert types == {"los", "transhorizon"}


# ---------------------------------------------------------------------------------------------
# 3. Per-pixel kernel, invariants, location variability
# ---------------------------------------------------------------------------------------------
def _hill_profile(peak_m: float, clutter_m: float = 0.0, n: int = 301, d_km: float = 30.0):
    d = np.linspace(0.0, d_km, n)
    h = 120.0 + peak_m * np.exp(-(((d - 0.5 * d_km) / (0.08 * d_km)) ** 2))
    r = np.where(np.abs(d - 0.5 * d_km) < 1.0, clutter_m, 0.0)
    r[0] = r[-1] = 0.0
    return d, h, r, np.full(n, 4)


BASE = {"freq_ghz": 0.8, "p": 50.0, "pl": 50.0, "htg_m": 30.0, "hrg_m": 10.0, "pol": 1, "dn": 45.0, "n0": 325.0,
        "phi_t_deg": 48.0, "phi_r_deg": 48.2, "lam_t_deg": 11.0, "lam_r_deg": 11.2}


def test_kernel_matches_wrapper_and_leaves_inputs_alone():
    prof = _profile("rburg")
    d, h, r, z = (prof[k].copy() for k in ("d", "h", "r", "zone"))
    before = [a.copy() for a in (d, h, r, z)]
    res = p1812(d, h, r, z, **BASE)
    phi = path_centre_lat_deg(BASE["phi_t_deg"], BASE["lam_t_deg"], BASE["phi_r_deg"], BASE["lam_r_deg"], d[-1])
    lb = p1812_lb_db(d.astype(float), h.astype(float), r.astype(float), z.astype(np.int64), 0.8, 50.0, 50.0, 30.0,
                     10.0, 1, 45.0, 325.0, phi, 0.0, 500.0, 500.0)
    assert lb == pytest.approx(res.lb_db, abs=1e-12)
    assert res.phi == pytest.approx(phi)
    for a, b in zip((d, h, r, z), before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("p", [1.0, 10.0, 50.0])
@pytest.mark.parametrize("grow", ["terrain", "clutter"])
def test_loss_non_decreasing_as_mid_path_obstacle_grows(p, grow):
    """A growing mid-path hill (or clutter on it) never lowers the diffraction loss, nor L_b.

    One exception is inherent to the Recommendation: at small time percentages the blend
    L_bam = L_bda + (L_minb0p − L_bda)·F_j (eq. 62) hands over from line-of-sight enhancement
    to ducting as the path turns trans-horizon (F_j falls from 1 to 0 as θ passes 0.3 mrad),
    and ducting (L_ba) is then the lower loss, so L_b drops by a few dB over that transition.
    There L_b is only required to be non-decreasing once F_j has settled.
    """
    results = []
    for height in np.linspace(0.0, 400.0 if grow == "terrain" else 60.0, 41):
        d, h, r, z = _hill_profile(height, 0.0) if grow == "terrain" else _hill_profile(50.0, height)
        results.append(p1812(d, h, r, z, **{**BASE, "p": p}))
    for attr in ("lbulla", "ld50", "ldp", "lbd"):
        steps = np.diff([getattr(res, attr) for res in results])
        assert (steps >= -1e-9).all(), f"{attr} fell by {-steps.min():.3g} dB as the obstacle grew"
    segments = [[res.lb_db for res in results]]
    if p < 10.0 and grow == "terrain":
        assert any(1e-3 <= res.fj <= 1.0 - 1e-3 for res in results), "expected the LoS -> trans-horizon hand-over"
        segments = [[res.lb_db for res in results if res.fj > 1.0 - 1e-3],
                    [res.lb_db for res in results if res.fj < 1e-3]]
    for lb in segments:
        steps = np.diff(lb)
        assert (steps >= -1e-9).all(), f"loss fell by {-steps.min():.3g} dB as the obstacle grew"
    assert results[-1].lb_db > results[0].lb_db + (10.0 if grow == "terrain" else 1.0)


def test_los_and_transhorizon_on_synthetic_hill():
    low = p1812(*_hill_profile(0.0), **BASE)
    high = p1812(*_hill_profile(400.0), **BASE)
    assert low.path_type == "los"
    assert high.path_type == "transhorizon"
    assert high.lbulla > low.lbulla


def test_location_variability():
    prof = _profile("rburg")
    args = (prof["d"], prof["h"], prof["r"], prof["zone"])
    median = p1812(*args, **{**BASE, "sigma_l_db": 5.5})
    low = p1812(*args, **{**BASE, "pl": 1.0, "sigma_l_db": 5.5})
    high = p1812(*args, **{**BASE, "pl": 90.0, "sigma_l_db": 5.5})
    assert median.lloc == pytest.approx(0.0, abs=1e-9)
    assert median.lb_db == pytest.approx(median.lbc)
    # I(0.01) = 2.3263, I(0.9) = -1.2816 (inverse complementary normal)
    assert low.lb_db == pytest.approx(max(low.lb0p, low.lbc - 2.3263479 * 5.5), abs=1e-4)
    assert high.lb_db == pytest.approx(high.lbc + 1.2815516 * 5.5, abs=1e-4)
    assert high.ep_dbuv_m < median.ep_dbuv_m < low.ep_dbuv_m


def test_field_strength_scales_with_power():
    args = _hill_profile(100.0)
    one = p1812(*args, **BASE)
    ten = p1812(*args, **BASE, ptx_kw=10.0)
    assert ten.ep_dbuv_m - one.ep_dbuv_m == pytest.approx(10.0)
    assert one.ep_dbuv_m == pytest.approx(199.36 + 20.0 * math.log10(0.8) - one.lb_db)


def test_result_is_frozen():
    res = p1812(*_hill_profile(50.0), **BASE)
    with pytest.raises(AttributeError):
        res.lb_db = 0.0  # type: ignore[misc]
    assert replace(res, lb_db=1.0).lb_db == 1.0


# ---------------------------------------------------------------------------------------------
# 4. Bad input: each argument named, with its valid range
# ---------------------------------------------------------------------------------------------
BAD_SCALARS = [
    ("freq_ghz", 0.02, "[0.03, 6]"), ("freq_ghz", 6.5, "[0.03, 6]"), ("p", 0.5, "[1, 50]"), ("p", 60.0, "[1, 50]"),
    ("pl", 0.0, "[1, 99]"), ("pl", 99.5, "[1, 99]"), ("htg_m", 0.5, "[1, 3000]"), ("hrg_m", 4000.0, "[1, 3000]"),
    ("pol", 3, "horizontal"), ("pol", 1.5, "vertical"), ("dn", -5.0, "(0, 157)"), ("dn", 157.0, "(0, 157)"),
    ("n0", 0.0, "(0, 500]"), ("phi_t_deg", 85.0, "[-80, 80]"), ("phi_r_deg", -81.0, "[-80, 80]"),
    ("lam_t_deg", 400.0, "[-180, 360]"), ("lam_r_deg", -200.0, "[-180, 360]"), ("sigma_l_db", -1.0, "[0, inf)"),
    ("dct_km", -1.0, "[0, inf)"), ("dcr_km", math.nan, "[0, inf)"), ("ptx_kw", 0.0, "(0, inf)"),
    ("freq_ghz", "high", "real number"),
]


@pytest.mark.parametrize(("arg", "value", "valid"), BAD_SCALARS, ids=[f"{a}={v}" for a, v, _ in BAD_SCALARS])
def test_bad_scalar_is_named(arg, value, valid):
    with pytest.raises(P1812Error) as info:
        p1812(*_hill_profile(50.0), **{**BASE, arg: value})
    msg = str(info.value)
    assert arg in msg
    assert valid in msg
    assert isinstance(info.value, ModelError)
    assert isinstance(info.value, ValueError)


def _bad_profile(kind: str):
    d, h, r, z = _hill_profile(50.0, n=11)
    if kind == "d_km not increasing":
        d[5] = d[4]
    elif kind == "d_km start":
        d = d + 1.0
    elif kind == "h_m length":
        h = h[:-1]
    elif kind == "r_m negative":
        r[3] = -2.0
    elif kind == "zone code":
        z[2] = 2
    elif kind == "h_m nan":
        h[4] = np.nan
    elif kind == "d_km too short":
        d, h, r, z = d[:2], h[:2], r[:2], z[:2]
    elif kind == "zone 2-D":
        z = np.tile(z, (2, 1))
    return d, h, r, z


BAD_PROFILES = [("d_km not increasing", "d_km", "strictly increasing"), ("d_km start", "d_km", "start at 0"),
                ("h_m length", "h_m", "equal lengths"), ("r_m negative", "r_m", ">= 0"),
                ("zone code", "zone", "1: 'sea', 3: 'coastal land', 4: 'inland'"), ("h_m nan", "h_m", "finite"),
                ("d_km too short", "at least 3 points", "3"), ("zone 2-D", "zone", "1-D")]


@pytest.mark.parametrize(("kind", "name", "expect"), BAD_PROFILES, ids=[k for k, _, _ in BAD_PROFILES])
def test_bad_profile_is_named(kind, name, expect):
    with pytest.raises(P1812Error) as info:
        p1812(*_bad_profile(kind), **BASE)
    assert name in str(info.value)
    assert expect in str(info.value)


def test_all_problems_reported_at_once():
    d, h, r, z = _hill_profile(50.0)
    with pytest.raises(P1812Error) as info:
        p1812(d, h, r, z, **{**BASE, "freq_ghz": 10.0, "p": 70.0, "pol": 0})
    msg = str(info.value)
    assert all(name in msg for name in ("freq_ghz", "p must", "pol"))


def test_sea_terminal_sets_coast_distance_to_zero():
    d, h, r, z = _hill_profile(0.0)
    h[:] = 0.0
    z[:] = 1
    res = p1812(d, h, r, z, **BASE)
    assert res.w == pytest.approx(1.0)
    assert res.lloc == 0.0
    assert math.isfinite(res.lb_db)
