"""3GPP TR 38.901: LOS probability, shadow-fading σ and the declared domains; Hata/COST domains.

The Table 7.4.1-1 path-loss reference rows are tested in ``test_propagation.py``.  Here the
expectations are TR 38.901's tables (7.4.1-1 and 7.4.2-1) and Hata's formula written out in
the tests, never values printed by citycov.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from citycov.errors import ModelError
from citycov.propagation import (
    TR38901_SCENARIOS,
    cost231_hata_loss_db,
    okumura_hata_loss_db,
    tr38901_los_probability,
    tr38901_loss_db,
    tr38901_shadow_fading_db,
)

SPEED_OF_LIGHT_M_S = 299_792_458.0


def _log10(x: float) -> float:
    # Natural logarithms on purpose, so the expectation shares no code with the kernels.
    return math.log(x) / math.log(10.0)


# --------------------------------------------------------------------------------------
# LOS probability, Table 7.4.2-1
# --------------------------------------------------------------------------------------


def _p_los_rma(d: float) -> float:
    return 1.0 if d <= 10.0 else math.exp(-(d - 10.0) / 1000.0)


def _p_los_umi(d: float) -> float:
    return 1.0 if d <= 18.0 else 18.0 / d + math.exp(-d / 36.0) * (1.0 - 18.0 / d)


def _p_los_uma(d: float, h_ut: float) -> float:
    if d <= 18.0:
        return 1.0
    c_prime = 0.0 if h_ut <= 13.0 else ((h_ut - 13.0) / 10.0) ** 1.5
    return (18.0 / d + math.exp(-d / 63.0) * (1.0 - 18.0 / d)) * (
        1.0 + c_prime * 5.0 / 4.0 * (d / 100.0) ** 3 * math.exp(-d / 150.0)
    )


def _p_los_inh_mixed(d: float) -> float:
    if d <= 1.2:
        return 1.0
    if d < 6.5:
        return math.exp(-(d - 1.2) / 4.7)
    return 0.32 * math.exp(-(d - 6.5) / 32.6)


def _p_los_inh_open(d: float) -> float:
    if d <= 5.0:
        return 1.0
    if d <= 49.0:
        return math.exp(-(d - 5.0) / 70.8)
    return 0.54 * math.exp(-(d - 49.0) / 211.7)


DISTANCES = [0.5, 1.2, 3.0, 5.0, 6.4, 6.5, 10.0, 17.9, 18.0, 18.1, 35.0, 49.0, 49.5, 100.0, 250.0,
             1000.0, 4000.0, 10_000.0]


@pytest.mark.parametrize("d", DISTANCES)
def test_los_probability_rma(d):
    assert tr38901_los_probability("RMa", d) == pytest.approx(_p_los_rma(d), abs=1e-12)


@pytest.mark.parametrize("d", DISTANCES)
def test_los_probability_umi(d):
    assert tr38901_los_probability("UMi", d) == pytest.approx(_p_los_umi(d), abs=1e-12)
    assert tr38901_los_probability("UMi-StreetCanyon", d) == tr38901_los_probability("UMi", d)


@pytest.mark.parametrize("d", DISTANCES)
@pytest.mark.parametrize("h_ut", [1.5, 10.0, 13.0, 13.5, 18.0, 23.0])
def test_los_probability_uma(d, h_ut):
    assert tr38901_los_probability("UMa", d, h_ut_m=h_ut) == pytest.approx(_p_los_uma(d, h_ut), abs=1e-12)


def test_los_probability_hand_worked():
    # UMi at 100 m: 18/100 + e^(−100/36)·(1 − 0.18) = 0.18 + 0.062177·0.82 = 0.230985.
    assert tr38901_los_probability("UMi", 100.0) == pytest.approx(0.230985, abs=1e-6)
    # UMa at 100 m, hUT = 20 m: C' = 0.7^1.5 = 0.585662; base 0.18 + e^(−100/63)·0.82 = 0.347671;
    # factor 1 + 0.585662·1.25·1·e^(−2/3) = 1.375861; P = 0.347671·1.375861 = 0.478347.
    assert tr38901_los_probability("UMa", 100.0, h_ut_m=20.0) == pytest.approx(0.478347, abs=1e-6)
    # RMa at 1010 m: e^(−1) = 0.367879.
    assert tr38901_los_probability("RMa", 1010.0) == pytest.approx(math.exp(-1.0), abs=1e-12)


@pytest.mark.parametrize("d", DISTANCES)
def test_los_probability_inh_mixed_office(d):
    assert tr38901_los_probability("InH", d) == pytest.approx(_p_los_inh_mixed(d), abs=1e-12)
    assert tr38901_los_probability("InH-Office", d, office="mixed") == tr38901_los_probability("InH", d)


@pytest.mark.parametrize("d", DISTANCES)
def test_los_probability_inh_open_office(d):
    assert tr38901_los_probability("InH", d, office="open") == pytest.approx(_p_los_inh_open(d), abs=1e-12)


@pytest.mark.parametrize(
    ("scenario", "kwargs"),
    [
        ("RMa", {}),
        ("UMi", {}),
        ("UMa", {"h_ut_m": 1.5}),
        ("InH", {"office": "mixed"}),
    ],
)
def test_los_probability_is_a_non_increasing_probability(scenario, kwargs):
    d = np.concatenate([np.linspace(0.0, 60.0, 601), np.geomspace(60.0, 20_000.0, 400)])
    p = tr38901_los_probability(scenario, d, **kwargs)
    assert p.shape == d.shape
    assert p.dtype == np.float64
    assert np.all((p >= 0.0) & (p <= 1.0))
    assert np.all(np.diff(p) <= 0.0)


def test_los_probability_open_office_step_at_49_m():
    # Table 7.4.2-1 itself is not monotonic here: e^(−44/70.8) = 0.5372 at 49 m, then
    # 0.54·e^(−(d − 49)/211.7) → 0.54 just beyond.  The implementation must follow the table.
    at_49 = tr38901_los_probability("InH", 49.0, office="open")
    beyond = tr38901_los_probability("InH", 49.0 + 1e-9, office="open")
    assert at_49 == pytest.approx(math.exp(-44.0 / 70.8), abs=1e-12)
    assert beyond == pytest.approx(0.54, abs=1e-9)
    d = np.linspace(0.0, 500.0, 2001)
    p = tr38901_los_probability("InH", d, office="open")
    assert np.all((p >= 0.0) & (p <= 1.0))


def test_los_probability_scalar_and_broadcast():
    assert type(tr38901_los_probability("UMa", 200.0)) is float
    out = tr38901_los_probability("UMa", np.array([50.0, 200.0])[:, None], h_ut_m=np.array([1.5, 20.0]))
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(_p_los_uma(200.0, 20.0), abs=1e-12)


def test_los_probability_bad_input():
    with pytest.raises(ModelError, match=r"unknown scenario 'SMa'.*RMa"):
        tr38901_los_probability("SMa", 100.0)
    with pytest.raises(ModelError, match=r"office must be 'mixed' or 'open', got 'cubicle'"):
        tr38901_los_probability("InH", 10.0, office="cubicle")
    with pytest.raises(ModelError, match=r"d_2d_m must be in \[0\.0, .*got \[-1\.0\]"):
        tr38901_los_probability("UMa", -1.0)
    with pytest.raises(ModelError, match=r"h_ut_m must be in \[1\.0, 23\.0\], got \[25\.0\]"):
        tr38901_los_probability("UMa", 100.0, h_ut_m=25.0)


# --------------------------------------------------------------------------------------
# Shadow fading σ, Table 7.4.1-1
# --------------------------------------------------------------------------------------


def test_shadow_fading_rma_los_switches_at_breakpoint():
    # dBP = 2π·hBS·hUT·fc/c = 2π·35·1.5·3.5e9 / 299 792 458 = 3851.1 m.
    fc, h_bs, h_ut = 3.5, 35.0, 1.5
    d_bp = 2 * math.pi * h_bs * h_ut * fc * 1e9 / SPEED_OF_LIGHT_M_S
    assert d_bp == pytest.approx(3851.1, abs=0.1)
    assert tr38901_shadow_fading_db("RMa", True, d_2d_m=d_bp - 1.0, freq_ghz=fc) == 4.0
    assert tr38901_shadow_fading_db("RMa", True, d_2d_m=d_bp + 1.0, freq_ghz=fc) == 6.0
    assert tr38901_shadow_fading_db("RMa", True, d_2d_m=10.0, freq_ghz=fc, h_bs_m=h_bs, h_ut_m=h_ut) == 4.0
    # A lower mast moves the breakpoint in: hBS = 10 m gives dBP = 1100.3 m.
    assert tr38901_shadow_fading_db("RMa", True, d_2d_m=2000.0, freq_ghz=fc, h_bs_m=10.0) == 6.0
    d = np.array([100.0, 3000.0, 3900.0, 9000.0])
    np.testing.assert_array_equal(
        tr38901_shadow_fading_db("RMa", True, d_2d_m=d, freq_ghz=fc), [4.0, 4.0, 6.0, 6.0]
    )


@pytest.mark.parametrize(
    ("scenario", "los", "sigma"),
    [
        ("RMa", False, 8.0),
        ("UMa", True, 4.0),
        ("UMa", False, 6.0),
        ("UMi", True, 4.0),
        ("UMi-StreetCanyon", False, 7.82),
        ("UMi", False, 7.82),
        ("InH", True, 3.0),
        ("InH-Office", False, 8.03),
    ],
)
def test_shadow_fading_constants(scenario, los, sigma):
    assert tr38901_shadow_fading_db(scenario, los) == sigma
    # Distance does not matter for these.
    assert tr38901_shadow_fading_db(scenario, los, d_2d_m=9000.0, freq_ghz=3.5) == sigma


def test_shadow_fading_bad_input():
    with pytest.raises(ModelError, match=r"RMa LOS shadow fading depends on the breakpoint: give d_2d_m and freq_ghz"):
        tr38901_shadow_fading_db("RMa", True)
    with pytest.raises(ModelError, match=r"give d_2d_m and freq_ghz"):
        tr38901_shadow_fading_db("RMa", True, d_2d_m=500.0)
    with pytest.raises(ModelError, match=r"unknown scenario 'UMb'"):
        tr38901_shadow_fading_db("UMb", False)


# --------------------------------------------------------------------------------------
# Path-loss domain (Table 7.4.1-1 and its notes)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("UMa", 3.5, 25.0, 1.5, 6000.0, True),
                     "TR 38.901 UMa: d_2d_m (LOS) must be in [10.0, 5000.0], got [6000.0]", id="UMa-LOS-6km"),
        pytest.param(("UMa", 3.5, 25.0, 1.5, 6000.0, False),
                     "TR 38.901 UMa: d_2d_m (NLOS) must be in [10.0, 5000.0], got [6000.0]", id="UMa-NLOS-6km"),
        pytest.param(("UMi", 3.5, 10.0, 1.5, 5.0, True),
                     "TR 38.901 UMi: d_2d_m (LOS) must be in [10.0, 5000.0], got [5.0]", id="UMi-5m"),
        pytest.param(("RMa", 3.5, 35.0, 1.5, 7000.0, False),
                     "TR 38.901 RMa: d_2d_m (NLOS) must be in [10.0, 5000.0], got [7000.0]", id="RMa-NLOS-7km"),
        pytest.param(("RMa", 40.0, 35.0, 1.5, 1000.0, True),
                     "TR 38.901 RMa: freq_ghz must be in [0.5, 30.0], got [40.0]", id="RMa-40GHz"),
        pytest.param(("UMa", 101.0, 25.0, 1.5, 1000.0, True),
                     "TR 38.901 UMa: freq_ghz must be in [0.5, 100.0], got [101.0]", id="UMa-101GHz"),
        pytest.param(("UMa", 3.5, 25.0, 1.0, 1000.0, True),
                     "TR 38.901 UMa: h_ut_m must be in [1.5, 22.5], got [1.0]", id="UMa-hut-1m"),
        pytest.param(("UMa", 3.5, 5.0, 1.5, 1000.0, True),
                     "TR 38.901 UMa: h_bs_m must be in [10.0, 150.0], got [5.0]", id="UMa-hbs-5m"),
        pytest.param(("InH", 3.5, 3.0, 1.5, 200.0, True),
                     "TR 38.901 InH: d_3d (from d_2d_m and the heights) (LOS) must be in [1.0, 150.0]",
                     id="InH-200m"),
        pytest.param(("InH", 3.5, 3.0, 1.5, 200.0, False),
                     "TR 38.901 InH: d_3d (from d_2d_m and the heights) (NLOS) must be in [1.0, 150.0]",
                     id="InH-NLOS-200m"),
    ],
)
def test_tr38901_domain_errors_name_argument_and_range(args, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        tr38901_loss_db(*args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"building_height_m": 60.0}, "building_height_m must be in [5.0, 50.0], got [60.0]"),
        ({"street_width_m": 2.0}, "street_width_m must be in [5.0, 50.0], got [2.0]"),
    ],
)
def test_tr38901_rma_building_and_street_domain(kwargs, message):
    with pytest.raises(ModelError, match=re.escape(message)):
        tr38901_loss_db("RMa", 3.5, 35.0, 1.5, 1000.0, False, **kwargs)


def test_tr38901_unknown_scenario_lists_the_known_ones():
    with pytest.raises(ModelError, match=r"unknown scenario 'rma'.*InH-Office.*UMi-StreetCanyon"):
        tr38901_loss_db("rma", 3.5, 35.0, 1.5, 1000.0, True)
    assert {"RMa", "UMa", "UMi", "InH"} <= set(TR38901_SCENARIOS)


def _rma_pl1(d3d: float, fc: float, h: float) -> float:
    """RMa PL1 of Table 7.4.1-1 (fc in GHz, d in m, h the average building height)."""
    return (20 * _log10(40 * math.pi * d3d * fc / 3) + min(0.03 * h**1.72, 10) * _log10(d3d)
            - min(0.044 * h**1.72, 14.77) + 0.002 * _log10(h) * d3d)


def test_tr38901_rma_los_accepts_7_km():
    # RMa LOS is defined to 10 km (NLOS only to 5 km).  Beyond dBP: PL2 = PL1(dBP) + 40 log10(d3D/dBP).
    fc, h_bs, h_ut, d_2d, h = 3.5, 35.0, 1.5, 7000.0, 5.0
    d_bp = 2 * math.pi * h_bs * h_ut * fc * 1e9 / SPEED_OF_LIGHT_M_S
    d_3d = math.hypot(d_2d, h_bs - h_ut)
    assert d_2d > d_bp
    expected = _rma_pl1(d_bp, fc, h) + 40 * _log10(d_3d / d_bp)
    got = tr38901_loss_db("RMa", fc, h_bs, h_ut, d_2d, True)
    assert got == pytest.approx(expected, abs=1e-9)


def test_tr38901_extrapolate_uma_nlos_at_6_km():
    # UMa NLOS = max(PL_LOS, PL'_NLOS), PL'_NLOS = 13.54 + 39.08 log10(d3D) + 20 log10(fc) − 0.6(hUT − 1.5);
    # beyond d'BP = 4 (hBS − 1)(hUT − 1) fc / c the LOS loss is
    # 28 + 40 log10(d3D) + 20 log10(fc) − 9 log10(d'BP² + (hBS − hUT)²).
    fc, h_bs, h_ut, d_2d = 3.5, 25.0, 1.5, 6000.0
    d_3d = math.hypot(d_2d, h_bs - h_ut)
    d_bp = 4 * (h_bs - 1) * (h_ut - 1) * fc * 1e9 / SPEED_OF_LIGHT_M_S
    pl_los = 28 + 40 * _log10(d_3d) + 20 * _log10(fc) - 9 * _log10(d_bp**2 + (h_bs - h_ut) ** 2)
    pl_nlos = 13.54 + 39.08 * _log10(d_3d) + 20 * _log10(fc) - 0.6 * (h_ut - 1.5)
    expected = max(pl_los, pl_nlos)
    # d3D = 6000.046 m: 13.54 + 39.08·3.778155 + 20·0.544068 = 172.0716 dB (NLOS dominates).
    assert expected == pytest.approx(172.0716, abs=1e-4)
    assert pl_nlos > pl_los
    got = tr38901_loss_db("UMa", fc, h_bs, h_ut, d_2d, False, extrapolate=True)
    assert got == pytest.approx(expected, abs=1e-9)
    assert tr38901_loss_db("UMa", fc, h_bs, h_ut, d_2d, True, extrapolate=True) == pytest.approx(pl_los, abs=1e-9)


def test_tr38901_extrapolate_lifts_distance_and_heights_but_not_frequency():
    assert math.isfinite(tr38901_loss_db("RMa", 3.5, 35.0, 1.5, 7000.0, False, extrapolate=True))
    assert math.isfinite(tr38901_loss_db("InH", 3.5, 3.0, 1.5, 200.0, True, extrapolate=True))
    assert math.isfinite(tr38901_loss_db("UMa", 3.5, 25.0, 1.2, 1000.0, True, extrapolate=True))
    with pytest.raises(ModelError, match=re.escape("TR 38.901 RMa: freq_ghz must be in [0.5, 30.0], got [40.0]")):
        tr38901_loss_db("RMa", 40.0, 35.0, 1.5, 1000.0, True, extrapolate=True)


# --------------------------------------------------------------------------------------
# Okumura-Hata and COST-231 domains (hb 30-200 m, hm 1-10 m, d 1-20 km)
# --------------------------------------------------------------------------------------


def _hata_urban_small_medium(f: float, hb: float, hm: float, d: float, *, cost231: bool) -> float:
    a_hm = (1.1 * _log10(f) - 0.7) * hm - (1.56 * _log10(f) - 0.8)
    head = 46.3 + 33.9 * _log10(f) if cost231 else 69.55 + 26.16 * _log10(f)
    return head - 13.82 * _log10(hb) - a_hm + (44.9 - 6.55 * _log10(hb)) * _log10(d)


HATA_OUT_OF_DOMAIN = [
    pytest.param({"d": 0.5}, "dist_km must be in [1.0, 20.0], got [0.5]", id="d-0.5km"),
    pytest.param({"d": 25.0}, "dist_km must be in [1.0, 20.0], got [25.0]", id="d-25km"),
    pytest.param({"hb": 20.0}, "h_base_m must be in [30.0, 200.0], got [20.0]", id="hb-20m"),
    pytest.param({"hm": 12.0}, "h_mobile_m must be in [1.0, 10.0], got [12.0]", id="hm-12m"),
]


@pytest.mark.parametrize(("change", "message"), HATA_OUT_OF_DOMAIN)
def test_okumura_hata_domain(change, message):
    args = {"f": 900.0, "hb": 30.0, "hm": 1.5, "d": 5.0} | change
    with pytest.raises(ModelError, match=re.escape("Okumura-Hata: " + message)):
        okumura_hata_loss_db(args["f"], args["hb"], args["hm"], args["d"], "urban_small_medium")
    got = okumura_hata_loss_db(args["f"], args["hb"], args["hm"], args["d"], "urban_small_medium", extrapolate=True)
    assert got == pytest.approx(_hata_urban_small_medium(**args, cost231=False), abs=1e-9)


@pytest.mark.parametrize(("change", "message"), HATA_OUT_OF_DOMAIN)
def test_cost231_domain(change, message):
    args = {"f": 1800.0, "hb": 30.0, "hm": 1.5, "d": 5.0} | change
    with pytest.raises(ModelError, match=re.escape("COST-231 Hata: " + message)):
        cost231_hata_loss_db(args["f"], args["hb"], args["hm"], args["d"])
    got = cost231_hata_loss_db(args["f"], args["hb"], args["hm"], args["d"], extrapolate=True)
    assert got == pytest.approx(_hata_urban_small_medium(**args, cost231=True), abs=1e-9)


def test_hata_all_out_of_domain_at_once_with_extrapolate():
    # d = 0.5 km, hb = 20 m, hm = 12 m together: refused, then accepted with extrapolate=True.
    with pytest.raises(ModelError, match=r"Okumura-Hata: h_base_m must be in \[30\.0, 200\.0\]"):
        okumura_hata_loss_db(900.0, 20.0, 12.0, 0.5)
    with pytest.raises(ModelError, match=r"COST-231 Hata: h_base_m must be in \[30\.0, 200\.0\]"):
        cost231_hata_loss_db(1800.0, 20.0, 12.0, 0.5)
    assert okumura_hata_loss_db(900.0, 20.0, 12.0, 0.5, extrapolate=True) == pytest.approx(
        _hata_urban_small_medium(900.0, 20.0, 12.0, 0.5, cost231=False), abs=1e-9
    )
    assert cost231_hata_loss_db(1800.0, 20.0, 12.0, 0.5, extrapolate=True) == pytest.approx(
        _hata_urban_small_medium(1800.0, 20.0, 12.0, 0.5, cost231=True), abs=1e-9
    )


@pytest.mark.parametrize("bad", [{"hb": 0.0}, {"hm": 0.0}, {"d": 0.0}, {"d": math.nan}])
def test_hata_extrapolate_still_refuses_non_positive(bad):
    args = {"f": 900.0, "hb": 30.0, "hm": 1.5, "d": 5.0} | bad
    with pytest.raises(ModelError, match=r"Okumura-Hata: (h_base_m|h_mobile_m|dist_km) must be in \(0\.0, "):
        okumura_hata_loss_db(args["f"], args["hb"], args["hm"], args["d"], extrapolate=True)
