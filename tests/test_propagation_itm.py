"""ITM v1.4 (Longley-Rice) against NTIA/ITS's published reference cases, plus invariants and errors.

Reference values come only from ``tests/data/reference/ntia/itm`` (NTIA/itm commit 183ad95):
``p2p.csv``/``area.csv`` at NTIA's 0.1 dB, and the command-line driver reports in
``cmd_examples/`` (parsed, not hand-copied) at the precision they are printed.
"""

from __future__ import annotations

import csv
import math
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from citycov.errors import ItmError, ModelError
from citycov.propagation import _itm_kernels
from citycov.propagation.itm import ItmResult, itm_area, itm_p2p, itm_p2p_loss_db

REF = Path(__file__).parent / "data" / "reference" / "ntia" / "itm"
CMD = REF / "cmd_examples"
TOL_DB = 0.1


# ---------------------------------------------------------------------------------------------
# reading the reference files
# ---------------------------------------------------------------------------------------------
def _profiles() -> list[np.ndarray]:
    rows = []
    for line in (REF / "pfls.csv").read_text().splitlines():
        if line.strip():
            rows.append(np.array([float(v) for v in line.split(",") if v.strip()]))
    return rows


def _csv_rows(name: str) -> list[dict[str, str]]:
    with (REF / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


def _read_inputs(name: str) -> dict[str, list[str]]:
    """``key,value[,value...]`` lines of a driver input file."""
    out = {}
    for line in (CMD / name).read_text().splitlines():
        if line.strip():
            key, *values = [v.strip() for v in line.split(",")]
            out[key] = values
    return out


def _printed(token: str) -> tuple[float, float]:
    """A printed number and half a unit of its last digit."""
    exp = Decimal(token).as_tuple().exponent
    return float(token), 0.5 * 10.0 ** exp + 1e-9


def _read_report(name: str) -> dict:
    """The results, intermediate values and table of a driver report."""
    text = (CMD / name).read_text()
    rep: dict = {"values": {}, "table": None}
    rep["warnings"] = int(re.search(r"ITM Warning Flags\s+(0x[0-9A-Fa-f]+)", text).group(1), 16)
    rep["return_code"] = int(re.search(r"ITM Return Code\s+(\d+)", text).group(1))
    m = re.search(r"Basic Transmission Loss\s+([-\d.]+)\s+\(dB\)", text)
    rep["loss"] = m.group(1) if m else None
    if "Intermediate Values" in text:
        block = text.split("Intermediate Values", 1)[1]
        for line in block.splitlines():
            m = re.match(r"(.+?)\s{2,}(-?\d+(?:\.\d+)?)\s", line + " ")
            if m:
                rep["values"][m.group(1).strip()] = m.group(2)
    if "Basic Transmission Loss Results" in text:
        block = text.split("Basic Transmission Loss Results (dB)", 1)[1].split("Intermediate Values", 1)[0]
        lines = [ln for ln in block.splitlines() if ln.strip()]
        header = lines[0].split()
        has_fs = "Free" in header
        cols = [c for c in lines[1].split() if re.fullmatch(r"\d+(\.\d+)?", c)]
        rows = []
        for ln in lines[2:]:
            nums = ln.split()
            if not re.fullmatch(r"\d+(\.\d+)?", nums[0]):
                continue
            key = nums[0]
            fs = nums[1] if has_fs else None
            vals = nums[2:] if has_fs else nums[1:]
            rows.append((key, fs, vals))
        rep["table"] = {"columns": cols, "rows": rows, "free_space": has_fs}
    return rep


PFLS = _profiles()
P2P_ROWS = _csv_rows("p2p.csv")
AREA_ROWS = _csv_rows("area.csv")
CMD_PFL = np.array([float(v) for v in (CMD / "pfl.txt").read_text().split(",") if v.strip()])


def _common(inp: dict[str, list[str]]) -> dict:
    return dict(climate=int(inp["climate"][0]), n0=float(inp["N_0"][0]), freq_mhz=float(inp["f__mhz"][0]),
                pol=int(inp["pol"][0]), epsilon=float(inp["epsilon"][0]), sigma=float(inp["sigma"][0]),
                mdvar=int(inp["mdvar"][0]))


def _csv_common(row: dict[str, str]) -> dict:
    return dict(climate=int(row["climate"]), n0=float(row["N_0"]), freq_mhz=float(row["f__mhz"]), pol=int(row["pol"]),
                epsilon=float(row["epsilon"]), sigma=float(row["sigma"]), mdvar=int(row["mdvar"]),
                time=float(row["time"]), location=float(row["location"]), situation=float(row["situation"]))


def _area_from(inp: dict[str, list[str]], d_km: float, **var) -> ItmResult:
    return itm_area(float(inp["h_tx__meter"][0]), float(inp["h_rx__meter"][0]),
                    tx_siting=int(inp["tx_site_criteria"][0]), rx_siting=int(inp["rx_site_criteria"][0]),
                    dist_km=d_km, delta_h_m=float(inp["delta_h__meter"][0]), **_common(inp), **var)


def _p2p_from(inp: dict[str, list[str]], **var) -> ItmResult:
    return itm_p2p(CMD_PFL, float(inp["h_tx__meter"][0]), float(inp["h_rx__meter"][0]), **_common(inp), **var)


# ---------------------------------------------------------------------------------------------
# NTIA reference tables
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("i", range(len(P2P_ROWS)))
def test_p2p_reference_rows(i):
    row = P2P_ROWS[i]
    r = itm_p2p(PFLS[i], float(row["h_tx__meter"]), float(row["h_rx__meter"]), **_csv_common(row))
    assert abs(r.loss_db - float(row["A__db"])) <= TOL_DB


@pytest.mark.parametrize("i", range(len(AREA_ROWS)))
def test_area_reference_rows(i):
    row = AREA_ROWS[i]
    r = itm_area(float(row["h_tx__meter"]), float(row["h_rx__meter"]), tx_siting=int(row["tx_siting_criteria"]),
                 rx_siting=int(row["rx_siting_criteria"]), dist_km=float(row["d__km"]),
                 delta_h_m=float(row["delta_h__meter"]), **_csv_common(row))
    assert abs(r.loss_db - float(row["A__db"])) <= TOL_DB


@pytest.mark.parametrize("i", range(len(P2P_ROWS)))
def test_p2p_kernel_matches_wrapper(i):
    row = P2P_ROWS[i]
    c = _csv_common(row)
    r = itm_p2p(PFLS[i], float(row["h_tx__meter"]), float(row["h_rx__meter"]), **c)
    k = itm_p2p_loss_db(PFLS[i], float(row["h_tx__meter"]), float(row["h_rx__meter"]), c["climate"], c["n0"],
                        c["freq_mhz"], c["pol"], c["epsilon"], c["sigma"], c["mdvar"], c["time"], c["location"],
                        c["situation"])
    assert k == pytest.approx(r.loss_db, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# NTIA command-line driver reports
# ---------------------------------------------------------------------------------------------
def _check_intermediates(r: ItmResult, rep: dict) -> None:
    v = rep["values"]
    expected = {
        "Free Space": r.free_space_loss_db,
        "d__km": r.d_km,
        "theta_hzn_tx": r.theta_hzn_rad[0] * 1e3,
        "theta_hzn_rx": r.theta_hzn_rad[1] * 1e3,
        "d_hzn_tx__meter": r.d_hzn_m[0],
        "d_hzn_rx__meter": r.d_hzn_m[1],
        "h_e_tx__meter": r.h_e_m[0],
        "h_e_rx__meter": r.h_e_m[1],
        "N_s": r.n_s,
        "delta_h__meter": r.delta_h_m,
        "A_ref__db": r.ref_attenuation_db,
    }
    assert set(expected) <= set(v), f"report lacks {set(expected) - set(v)}"
    for key, ours in expected.items():
        ref, tol = _printed(v[key])
        assert abs(ours - ref) <= tol, f"{key}: ours {ours!r}, printed {v[key]}"
    assert r.mode == int(v["Mode of Propagation"])


@pytest.mark.parametrize(("inp", "out"), [("i_p2ptls.txt", "o_p2ptls.txt"), ("i_p2pcr.txt", "o_p2pcr.txt")])
def test_cmd_p2p_single(inp, out):
    i = _read_inputs(inp)
    rep = _read_report(out)
    var = ({k: float(i[k][0]) for k in ("time", "location", "situation")} if "time" in i else
           {k: float(i[k][0]) for k in ("confidence", "reliability")})
    r = _p2p_from(i, **var)
    ref, tol = _printed(rep["loss"])
    assert abs(r.loss_db - ref) <= tol
    assert r.warnings == rep["warnings"]
    _check_intermediates(r, rep)


@pytest.mark.parametrize(("inp", "out"), [("i_areatls.txt", "o_areatls.txt"), ("i_areacr.txt", "o_areacr.txt")])
def test_cmd_area_single(inp, out):
    i = _read_inputs(inp)
    rep = _read_report(out)
    var = ({k: float(i[k][0]) for k in ("time", "location", "situation")} if "time" in i else
           {k: float(i[k][0]) for k in ("confidence", "reliability")})
    r = _area_from(i, float(i["d__km"][0]), **var)
    ref, tol = _printed(rep["loss"])
    assert abs(r.loss_db - ref) <= tol
    assert r.warnings == rep["warnings"]
    _check_intermediates(r, rep)


def test_cmd_p2p_cr_table():
    i = _read_inputs("i_p2pcr_tbl.txt")
    rep = _read_report("o_p2pcr_tbl.txt")
    table = rep["table"]
    assert [float(c) for c in table["columns"]] == [float(c) for c in i["confidence"]]
    assert [float(k) for k, _, _ in table["rows"]] == [float(c) for c in i["reliability"]]
    checked = 0
    for rel, _, vals in table["rows"]:
        for conf, printed in zip(table["columns"], vals, strict=True):
            r = _p2p_from(i, confidence=float(conf), reliability=float(rel))
            ref, tol = _printed(printed)
            assert abs(r.loss_db - ref) <= tol, (rel, conf, r.loss_db, printed)
            assert r.warnings == rep["warnings"]
            checked += 1
    assert checked == 9
    _check_intermediates(r, rep)


def test_cmd_area_cr_table():
    i = _read_inputs("i_areacr_tbl.txt")
    rep = _read_report("o_areacr_tbl.txt")
    table = rep["table"]
    assert table["free_space"]
    assert [float(c) for c in table["columns"]] == [float(c) for c in i["confidence"]]
    rel = float(i["reliability"][0])
    checked = 0
    for d_km, fs, vals in table["rows"]:
        for conf, printed in zip(table["columns"], vals, strict=True):
            r = _area_from(i, float(d_km), confidence=float(conf), reliability=rel)
            ref, tol = _printed(printed)
            assert abs(r.loss_db - ref) <= tol, (d_km, conf, r.loss_db, printed)
            assert r.warnings == rep["warnings"]
            checked += 1
        ref, tol = _printed(fs)
        assert abs(r.free_space_loss_db - ref) <= tol
    assert checked == 3 * 19


# ---------------------------------------------------------------------------------------------
# invariants
# ---------------------------------------------------------------------------------------------
_KW = dict(climate=5, n0=301.0, freq_mhz=900.0, pol=1, epsilon=15.0, sigma=0.005, mdvar=12,
           time=50.0, location=50.0, situation=50.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5, 57, 88, 128])
def test_p2p_reciprocal(seed):
    """Reversing the profile and swapping the antenna heights gives the same loss.

    Seeds 1, 57, 88 and 128 put a horizon on a grid index that is a multiple of 10, where ITM's
    truncation of 0.9·d_hzn/Δx to an integer is decided by floating-point noise unless snapped.
    """
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 800))
    z = 200.0 + np.cumsum(rng.normal(0.0, rng.uniform(0.5, 8.0), n + 1))
    xi = float(rng.uniform(10.0, 120.0))
    h_tx, h_rx = float(rng.uniform(2.0, 60.0)), float(rng.uniform(1.5, 20.0))
    kw = dict(_KW, freq_mhz=float(rng.uniform(100.0, 6000.0)), mdvar=int(rng.choice([1, 2, 3, 12])))
    fwd = itm_p2p(np.concatenate([[n, xi], z]), h_tx, h_rx, **kw)
    rev = itm_p2p(np.concatenate([[n, xi], z[::-1]]), h_rx, h_tx, **kw)
    assert rev.loss_db == pytest.approx(fwd.loss_db, abs=1e-6)
    assert rev.mode == fwd.mode
    assert rev.h_e_m == pytest.approx(fwd.h_e_m[::-1])
    assert rev.d_hzn_m == pytest.approx(fwd.d_hzn_m[::-1])


@pytest.mark.parametrize(("d_km", "h_tx", "h_rx"), [(20.0, 30.0, 2.0), (5.0, 10.0, 2.0), (40.0, 50.0, 10.0)])
def test_p2p_loss_grows_with_obstacle(d_km, h_tx, h_rx):
    """Loss is non-decreasing as a Gaussian ridge mid-path rises through and above the ray.

    The ridge starts where it first cuts the straight line between the antennas (earth bulge
    included). Below that, ITM's line-of-sight loss may legitimately dip as the ridge grows,
    because Δh rises and the rough-earth reflection weakens; that is the model, not checked here.
    """
    n = 200
    x = np.linspace(0.0, 1.0, n + 1)
    shape = np.exp(-(((x - 0.5) / 0.05) ** 2))
    bulge = (d_km * 1e3) ** 2 / 8.0 * _itm_kernels.GAMMA_A_PER_M * (1.0 - 0.04665 * math.exp(301.0 / 179.3))
    clear = 0.5 * (h_tx + h_rx) + bulge
    losses, horizons = [], []
    for height in np.linspace(clear, clear + 250.0, 60):
        r = itm_p2p(np.concatenate([[n, d_km * 1e3 / n], 100.0 + height * shape]), h_tx, h_rx, **_KW)
        losses.append(r.loss_db)
        horizons.append(r.d_hzn_m[0])
    assert np.all(np.diff(losses) >= -1e-9), np.diff(losses).min()
    assert losses[-1] > losses[0] + 10.0
    assert horizons[-1] == pytest.approx(d_km * 500.0, rel=0.02)  # the ridge is the horizon


# ---------------------------------------------------------------------------------------------
# errors and warnings
# ---------------------------------------------------------------------------------------------
_AREA_KW = dict(tx_siting=0, rx_siting=0, dist_km=10.0, delta_h_m=20.0, **_KW)
_PFL = CMD_PFL


@pytest.mark.parametrize(("arg", "value", "code"), [
    ("h_tx_m", 0.4, 1000), ("h_tx_m", 3001.0, 1000), ("h_tx_m", math.nan, 1000),
    ("h_rx_m", 0.0, 1001), ("h_rx_m", 4000.0, 1001),
    ("climate", 0, 1002), ("climate", 8, 1002), ("climate", 5.5, 1002),
    ("n0", 249.0, 1008), ("n0", 401.0, 1008),
    ("freq_mhz", 19.9, 1009), ("freq_mhz", 20001.0, 1009),
    ("pol", 2, 1010), ("pol", -1, 1010),
    ("epsilon", 0.99, 1011),
    ("sigma", 0.0, 1012), ("sigma", -1.0, 1012),
    ("mdvar", 4, 1014), ("mdvar", 9, 1014), ("mdvar", 14, 1014), ("mdvar", 34, 1014), ("mdvar", -1, 1014),
    ("time", 0.0, 1003), ("time", 100.0, 1003),
    ("location", 0.0, 1004), ("location", 100.0, 1004),
    ("situation", -5.0, 1005), ("situation", 100.0, 1005),
])
@pytest.mark.parametrize("mode", ["p2p", "area"])
def test_invalid_argument_raises(mode, arg, value, code):
    h = {"h_tx_m": 15.0, "h_rx_m": 3.0}
    kw = dict(_KW)
    if arg in h:
        h[arg] = value
    else:
        kw[arg] = value
    if mode == "p2p":
        def call():
            return itm_p2p(_PFL, h["h_tx_m"], h["h_rx_m"], **kw)
    else:
        def call():
            return itm_area(h["h_tx_m"], h["h_rx_m"], **dict(_AREA_KW, **kw))
    with pytest.raises(ItmError, match=arg) as exc:
        call()
    assert exc.value.code == code
    assert isinstance(exc.value, ModelError)
    assert "must be" in str(exc.value)


@pytest.mark.parametrize(("arg", "value", "code"), [
    ("dist_km", 0.0, 1017), ("dist_km", -3.0, 1017), ("delta_h_m", -1.0, 1018),
    ("tx_siting", 3, 1019), ("rx_siting", -1, 1020),
])
def test_invalid_area_argument_raises(arg, value, code):
    with pytest.raises(ItmError, match=arg) as exc:
        itm_area(15.0, 3.0, **dict(_AREA_KW, **{arg: value}))
    assert exc.value.code == code


@pytest.mark.parametrize(("arg", "value", "code"), [
    ("confidence", 0.0, 1006), ("confidence", 100.0, 1006), ("reliability", 0.0, 1007), ("reliability", 101.0, 1007),
])
def test_invalid_cr_argument_raises(arg, value, code):
    kw = {k: v for k, v in _KW.items() if k not in ("time", "location", "situation")}
    cr = {"confidence": 50.0, "reliability": 50.0, arg: value}
    with pytest.raises(ItmError, match=arg) as exc:
        itm_p2p(_PFL, 15.0, 3.0, **kw, **cr)
    assert exc.value.code == code


@pytest.mark.parametrize("var", [
    {},  # neither form
    {"time": 50.0, "location": 50.0, "situation": 50.0, "confidence": 50.0, "reliability": 50.0},  # both
    {"time": 50.0, "location": 50.0},  # incomplete TLS
    {"confidence": 50.0},  # incomplete CR
])
def test_variability_forms_are_exclusive(var):
    kw = {k: v for k, v in _KW.items() if k not in ("time", "location", "situation")}
    with pytest.raises(ItmError, match="TLS"):
        itm_p2p(_PFL, 15.0, 3.0, **kw, **var)


def test_every_problem_reported_once_with_first_ntia_code():
    with pytest.raises(ItmError) as exc:
        itm_p2p(_PFL, 15.0, 3.0, **dict(_KW, n0=100.0, pol=5, time=0.0))
    msg = str(exc.value)
    assert "n0" in msg and "pol" in msg and "time" in msg
    assert exc.value.code == 1008


@pytest.mark.parametrize("profile", [
    [3, 100.0, 1.0, 2.0, 3.0],  # one elevation short
    [2.5, 100.0, 1.0, 2.0, 3.0],  # non-integer count
    [2, 0.0, 1.0, 2.0, 3.0],  # zero spacing
    [2, 100.0, 1.0, math.nan, 3.0],  # NaN elevation
    [[2, 100.0, 1.0, 2.0, 3.0]],  # 2-D
])
def test_malformed_profile_raises(profile):
    with pytest.raises(ItmError, match="profile"):
        itm_p2p(profile, 15.0, 3.0, **_KW)


def test_ground_impedance_error_from_kernel():
    """ε = 1 with horizontal polarisation makes Re Z_g = Im Z_g: NTIA refuses (code 1013)."""
    with pytest.raises(ItmError, match="ground impedance") as exc:
        itm_p2p(_PFL, 15.0, 3.0, **dict(_KW, epsilon=1.0, pol=0))
    assert exc.value.code == 1013
    assert math.isnan(itm_p2p_loss_db(_PFL, 15.0, 3.0, 5, 301.0, 900.0, 0, 1.0, 0.005, 12, 50.0, 50.0, 50.0))


@pytest.mark.parametrize(("change", "flag"), [
    ({"h_tx_m": 0.7}, _itm_kernels.WARN_TX_TERMINAL_HEIGHT),
    ({"h_rx_m": 1500.0}, _itm_kernels.WARN_RX_TERMINAL_HEIGHT),
    ({"freq_mhz": 30.0}, _itm_kernels.WARN_FREQUENCY),
    ({"freq_mhz": 15000.0}, _itm_kernels.WARN_FREQUENCY),
    ({"dist_km": 0.5}, _itm_kernels.WARN_PATH_DISTANCE_TOO_SMALL_2),
    ({"dist_km": 1500.0}, _itm_kernels.WARN_PATH_DISTANCE_TOO_BIG_1),
    ({"dist_km": 2500.0}, _itm_kernels.WARN_PATH_DISTANCE_TOO_BIG_2),
    ({"dist_km": 1.2, "h_tx_m": 400.0}, _itm_kernels.WARN_PATH_DISTANCE_TOO_SMALL_1),
    ({"time": 0.05}, _itm_kernels.WARN_EXTREME_VARIABILITIES),
    ({"situation": 99.95}, _itm_kernels.WARN_EXTREME_VARIABILITIES),
])
def test_out_of_range_but_computable_sets_warning(change, flag):
    h_tx = change.pop("h_tx_m", 15.0)
    h_rx = change.pop("h_rx_m", 3.0)
    r = itm_area(h_tx, h_rx, **dict(_AREA_KW, **change))
    assert r.warnings & flag
    assert math.isfinite(r.loss_db)
    assert r.warning_messages


def test_reference_paths_without_warnings_stay_clean():
    r = itm_area(15.0, 3.0, **_AREA_KW)
    assert r.warnings == 0
    assert r.warning_messages == ()


def test_low_surface_refractivity_warning_p2p():
    """A plateau at 1.5 km raises no warning at N0 = 301, but one at N0 = 280 leaves N_s < 250."""
    pfl = np.concatenate([[100, 100.0], np.full(101, 1500.0)])
    assert not itm_p2p(pfl, 15.0, 3.0, **_KW).warnings & _itm_kernels.WARN_SURFACE_REFRACTIVITY
    r = itm_p2p(pfl, 15.0, 3.0, **dict(_KW, n0=280.0))
    assert r.n_s < 250.0
    assert r.warnings & _itm_kernels.WARN_SURFACE_REFRACTIVITY


def test_result_is_frozen():
    r = itm_area(15.0, 3.0, **_AREA_KW)
    with pytest.raises(AttributeError):
        r.loss_db = 0.0  # type: ignore[misc]
