"""Clutter and building entry loss: ITU-R P.2108 (§3.1, §3.2) and P.2109, and the normal quantiles.

Expectations come from ``tests/data/reference/`` (copied unchanged from the shared reference
folder; see the README there), from the Recommendations' equations written out here, or from
Python's ``statistics.NormalDist``; never from citycov itself.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from citycov.errors import ModelError, P2108Error
from citycov.propagation import (
    CLUTTER_TYPES,
    p2108_height_gain_db,
    p2108_terrestrial_loss_db,
    p2109_building_entry_loss_db,
)
from citycov.propagation.stats import inverse_normal_cdf, normal_cdf

REFERENCE = Path(__file__).parent / "data" / "reference"
TOL_P2108_DB = 0.1  # NTIA p2108-test-data (shared reference README)
TOL_P2109_DB = 0.01  # ITU-R SG3 validation workbook (shared reference README)
PHI_INV = NormalDist().inv_cdf  # independent Φ⁻¹ (Wichura's AS 241, double precision)

KNIFE_EDGE_CLASSES = ("suburban", "urban", "trees_forest", "dense_urban")
HEIGHT_GAIN_CLASSES = ("water_sea", "open_rural")


def _read(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{name} is empty"
    return rows


def _log10(x: float) -> float:
    # Natural logarithms on purpose, so the expectation shares no code with the kernels.
    return math.log(x) / math.log(10.0)


# --------------------------------------------------------------------------------------
# P.2108 §3.2 terrestrial statistical model
# --------------------------------------------------------------------------------------

P2108_ROWS = list(enumerate(_read("TerrestrialStatisticalModelTestData.csv"), start=2))
P2108_ARGUMENT = {48: "freq_ghz", 49: "dist_km", 50: "p"}  # NTIA return code → argument


@pytest.mark.parametrize(
    "row", [pytest.param(r, id=f"row{i}") for i, r in P2108_ROWS if int(r["rtn"]) == 0]
)
def test_p2108_terrestrial_matches_ntia_reference(row):
    got = p2108_terrestrial_loss_db(float(row["f__ghz"]), float(row["d__km"]), float(row["p"]))
    assert got == pytest.approx(float(row["L_ctt__db"]), abs=TOL_P2108_DB)


@pytest.mark.parametrize(
    "row", [pytest.param(r, id=f"row{i}-rtn{r['rtn']}") for i, r in P2108_ROWS if int(r["rtn"]) != 0]
)
def test_p2108_terrestrial_ntia_error_rows(row):
    code = int(row["rtn"])
    name = P2108_ARGUMENT[code]
    with pytest.raises(P2108Error, match=rf"P\.2108: {name} must be .*\(NTIA return code {code}\)") as info:
        p2108_terrestrial_loss_db(float(row["f__ghz"]), float(row["d__km"]), float(row["p"]))
    assert info.value.code == code
    assert isinstance(info.value, ModelError)


def _p2108_ctt_uncapped(f_ghz: float, d_km: float, p: float) -> float:
    """P.2108 §3.2 eqs. (4)-(5), written out; Q⁻¹(x) = −Φ⁻¹(x)."""
    l_l = -2 * _log10(10 ** (-5 * _log10(f_ghz) - 12.5) + 10 ** (-16.5))  # eq. (4a)
    l_s = 32.98 + 23.9 * _log10(d_km) + 3 * _log10(f_ghz)  # eq. (5a)
    sigma_l, sigma_s = 4.0, 6.0  # eqs. (4b), (5b)
    w_l, w_s = 10 ** (-0.2 * l_l), 10 ** (-0.2 * l_s)
    sigma_cb = math.sqrt((sigma_l**2 * w_l + sigma_s**2 * w_s) / (w_l + w_s))  # eq. (3b)
    q_inv = -PHI_INV(p / 100.0)
    return -5 * _log10(w_l + w_s) - sigma_cb * q_inv  # eq. (3a)


def _p2108_ctt(f_ghz: float, d_km: float, p: float) -> float:
    # Eq. (6): the loss may not exceed its value at 2 km.
    return min(_p2108_ctt_uncapped(f_ghz, d_km, p), _p2108_ctt_uncapped(f_ghz, 2.0, p))


def test_p2108_terrestrial_hand_worked_median():
    """f = 3.5 GHz, d = 1 km, p = 50 % (Q⁻¹(0.5) = 0, so only the median term remains).

    log10 f = 0.544068;  Ll = −2 log10(10^(−5·0.544068 − 12.5) + 10^(−16.5)) = 30.3962 dB;
    Ls = 32.98 + 23.9·0 + 3·0.544068 = 34.6122 dB;
    L = −5 log10(10^(−6.07924) + 10^(−6.92244)) = 30.1051 dB (< the 2 km cap, 32.44 dB).
    """
    f, d = 3.5, 1.0
    l_l = -2 * _log10(10 ** (-5 * _log10(f) - 12.5) + 10 ** (-16.5))
    l_s = 32.98 + 23.9 * _log10(d) + 3 * _log10(f)
    expected = -5 * _log10(10 ** (-0.2 * l_l) + 10 ** (-0.2 * l_s))
    assert expected == pytest.approx(30.1051, abs=1e-4)  # the arithmetic in the docstring
    assert p2108_terrestrial_loss_db(f, d, 50.0) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("f", [0.5, 2.0, 3.5, 26.0, 67.0])
@pytest.mark.parametrize("d", [0.25, 0.7, 1.9, 2.0, 5.0, 40.0])
@pytest.mark.parametrize("p", [0.01, 1.0, 25.0, 50.0, 90.0, 99.99])
def test_p2108_terrestrial_matches_written_out_equations(f, d, p):
    assert p2108_terrestrial_loss_db(f, d, p) == pytest.approx(_p2108_ctt(f, d, p), abs=1e-9)


def test_p2108_terrestrial_increases_with_p():
    p = np.linspace(0.01, 99.99, 300)
    for f in (0.5, 3.5, 28.0, 67.0):
        for d in (0.25, 1.0, 2.0, 10.0):
            loss = p2108_terrestrial_loss_db(f, d, p)
            assert np.all(np.diff(loss) > 0), (f, d)


@pytest.mark.parametrize("f", [0.5, 3.5, 26.0])
def test_p2108_median_grows_up_to_2_km_then_is_flat(f):
    near = np.linspace(0.25, 2.0, 50)
    loss_near = p2108_terrestrial_loss_db(f, near, 50.0)
    assert np.all(np.diff(loss_near) > 0)
    far = np.array([2.0, 2.001, 3.0, 10.0, 100.0, 1000.0])
    loss_far = p2108_terrestrial_loss_db(f, far, 50.0)
    # Beyond 2 km the uncapped median would keep growing; eq. (6) holds it at its 2 km value.
    assert _p2108_ctt_uncapped(f, 10.0, 50.0) > _p2108_ctt_uncapped(f, 2.0, 50.0)
    np.testing.assert_allclose(loss_far, loss_far[0], rtol=0, atol=1e-12)
    assert loss_far[0] == pytest.approx(_p2108_ctt_uncapped(f, 2.0, 50.0), abs=1e-9)


def test_p2108_terrestrial_output_contract():
    f = np.array([[0.9], [3.5], [28.0]])
    d = np.array([0.5, 1.0, 4.0, 10.0])
    f0, d0 = f.copy(), d.copy()
    out = p2108_terrestrial_loss_db(f, d, 50.0)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(f, f0)
    np.testing.assert_array_equal(d, d0)
    scalar = p2108_terrestrial_loss_db(3.5, 4.0, 50.0)
    assert type(scalar) is float
    assert out[1, 2] == scalar


@pytest.mark.parametrize(
    ("f", "d", "p", "code", "name"),
    [
        (0.49, 1.0, 50.0, 48, "freq_ghz"),
        (math.nan, 1.0, 50.0, 48, "freq_ghz"),
        (3.5, 0.0, 50.0, 49, "dist_km"),
        (3.5, -1.0, 50.0, 49, "dist_km"),
        (3.5, math.nan, 50.0, 49, "dist_km"),
        (3.5, 1.0, -5.0, 50, "p"),
        (3.5, 1.0, 150.0, 50, "p"),
    ],
)
def test_p2108_terrestrial_more_domain_errors(f, d, p, code, name):
    with pytest.raises(P2108Error, match=rf"{name} must be") as info:
        p2108_terrestrial_loss_db(f, d, p)
    assert info.value.code == code


def test_p2108_error_shows_the_bad_value_in_an_array():
    with pytest.raises(P2108Error, match=r"dist_km must be >= 0\.25 km, got \[0\.1\]"):
        p2108_terrestrial_loss_db(3.5, np.array([1.0, 0.1, 2.0]), 50.0)


# --------------------------------------------------------------------------------------
# P.2108 §3.1 height-gain terminal correction
# --------------------------------------------------------------------------------------


def _ah_knife_edge(f_ghz: float, h: float, ws: float, r: float) -> float:
    """Eqs. (2a), (2c)-(2e), (2g): Ah = J(ν) − 6.03, J from P.526 eq. (31)."""
    h_dif = r - h
    theta_clut = math.atan(h_dif / ws) * 180.0 / math.pi
    nu = 0.342 * math.sqrt(f_ghz) * math.sqrt(h_dif * theta_clut)
    t = nu - 0.1
    j = 6.9 + 20 * _log10(math.sqrt(t * t + 1) + t) if nu > -0.78 else 0.0
    return j - 6.03


def _ah_height_gain(f_ghz: float, h: float, r: float) -> float:
    """Eqs. (2b), (2f): Ah = −Kh2·log10(h/R), Kh2 = 21.8 + 6.2·log10 f."""
    return -(21.8 + 6.2 * _log10(f_ghz)) * _log10(h / r)


def test_p2108_height_gain_hand_worked_urban():
    """Urban, f = 1 GHz, h = 5 m, ws = 27 m, R = 15 m.

    hdif = 10 m; θclut = atan(10/27) = 20.3231°; ν = 0.342·√1·√(10·20.3231) = 4.87553;
    J = 6.9 + 20 log10(√(4.77553² + 1) + 4.77553) = 26.5947 dB; Ah = J − 6.03 = 20.5647 dB.
    """
    expected = _ah_knife_edge(1.0, 5.0, 27.0, 15.0)
    assert expected == pytest.approx(20.5647, abs=1e-4)  # the arithmetic in the docstring
    assert p2108_height_gain_db(1.0, 5.0, 27.0, 15.0, "urban") == pytest.approx(expected, abs=1e-9)


def test_p2108_height_gain_hand_worked_water_sea():
    """Water/sea, f = 0.9 GHz, h = 2 m, R = 10 m.

    Kh2 = 21.8 + 6.2 log10 0.9 = 21.5163;  Ah = −21.5163·log10(0.2) = 15.0393 dB.
    """
    expected = _ah_height_gain(0.9, 2.0, 10.0)
    assert expected == pytest.approx(15.0393, abs=1e-4)
    assert p2108_height_gain_db(0.9, 2.0, 27.0, 10.0, "water_sea") == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("clutter_type", KNIFE_EDGE_CLASSES)
@pytest.mark.parametrize(
    ("f", "h", "ws", "r"),
    [(0.03, 1.5, 27.0, 10.0), (0.9, 1.5, 27.0, 15.0), (2.1, 8.0, 12.0, 20.0), (3.0, 19.9, 40.0, 20.0)],
)
def test_p2108_height_gain_knife_edge_classes(clutter_type, f, h, ws, r):
    got = p2108_height_gain_db(f, h, ws, r, clutter_type)
    assert got == pytest.approx(_ah_knife_edge(f, h, ws, r), abs=1e-9)


@pytest.mark.parametrize("clutter_type", HEIGHT_GAIN_CLASSES)
@pytest.mark.parametrize(("f", "h", "r"), [(0.03, 1.5, 10.0), (0.9, 1.5, 10.0), (3.0, 9.0, 10.0)])
def test_p2108_height_gain_height_gain_classes(clutter_type, f, h, r):
    got = p2108_height_gain_db(f, h, 27.0, r, clutter_type)
    assert got == pytest.approx(_ah_height_gain(f, h, r), abs=1e-9)
    assert got > 0  # the terminal is below the clutter: a loss


@pytest.mark.parametrize("clutter_type", sorted(CLUTTER_TYPES))
@pytest.mark.parametrize("h", [15.0, 15.0001, 40.0])
def test_p2108_height_gain_zero_at_or_above_clutter(clutter_type, h):
    assert p2108_height_gain_db(1.0, h, 27.0, 15.0, clutter_type) == 0.0


@pytest.mark.parametrize("clutter_type", sorted(CLUTTER_TYPES))
def test_p2108_height_gain_continuous_at_clutter_height(clutter_type):
    # h → R⁻: the height-gain form → −Kh2·log10(1) = 0 exactly; the knife-edge form → J(0) − 6.03
    # = 6.0329 − 6.03 = 0.0029 dB (the Recommendation rounds J(0) to 6.03), i.e. within 0.01 dB.
    r = 15.0
    just_below = p2108_height_gain_db(1.0, r - 1e-9, 27.0, r, clutter_type)
    assert just_below == pytest.approx(0.0, abs=0.01)
    if clutter_type in HEIGHT_GAIN_CLASSES:
        assert just_below == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("clutter_type", sorted(CLUTTER_TYPES))
def test_p2108_height_gain_decreases_with_height(clutter_type):
    h = np.linspace(0.5, 14.9, 60)
    ah = p2108_height_gain_db(1.5, h, 27.0, 15.0, clutter_type)
    assert ah.shape == h.shape
    assert np.all(np.diff(ah) < 0)


def test_p2108_height_gain_unknown_clutter_type():
    with pytest.raises(ModelError, match=r"unknown clutter_type 'desert'.*dense_urban.*water_sea"):
        p2108_height_gain_db(1.0, 5.0, 27.0, 15.0, "desert")


@pytest.mark.parametrize("f", [0.029, 3.01, 28.0])
def test_p2108_height_gain_frequency_outside_0_03_3_ghz(f):
    with pytest.raises(ModelError, match=r"freq_ghz must be in \[0\.03, 3\] GHz"):
        p2108_height_gain_db(f, 5.0, 27.0, 15.0, "urban")


@pytest.mark.parametrize("h", [0.0, -1.0])
@pytest.mark.parametrize("clutter_type", ["urban", "open_rural"])
def test_p2108_height_gain_non_positive_height(h, clutter_type):
    with pytest.raises(ModelError, match=r"h_m must be > 0 m"):
        p2108_height_gain_db(1.0, h, 27.0, 15.0, clutter_type)


@pytest.mark.parametrize(("ws", "r", "name"), [(0.0, 15.0, "street_width_m"), (27.0, 0.0, "clutter_height_m")])
def test_p2108_height_gain_non_positive_street_or_clutter(ws, r, name):
    with pytest.raises(ModelError, match=rf"{name} must be > 0 m"):
        p2108_height_gain_db(1.0, 5.0, ws, r, "urban")


# --------------------------------------------------------------------------------------
# P.2109 building entry loss
# --------------------------------------------------------------------------------------

P2109_ROWS = list(enumerate(_read("p2109_bel_reference.csv"), start=2))

# P.2109 Table 1: r, s, t, u, v, w, x, y, z
P2109_TABLE_1 = {
    1: (12.64, 3.72, 0.96, 9.6, 2.0, 9.1, -3.0, 4.5, -2.0),
    2: (28.19, -3.00, 8.48, 13.5, 3.8, 27.8, -2.9, 9.4, -2.1),
}


def _p2109(f_ghz: float, theta_deg: float, p_percent: float, building_class: int) -> float:
    """P.2109 eqs. (1)-(8), written out with NormalDist's Φ⁻¹."""
    r, s, t, u, v, w, x, y, z = P2109_TABLE_1[building_class]
    lf = _log10(f_ghz)
    mu_1 = r + s * lf + t * lf**2 + 0.212 * abs(theta_deg)
    mu_2 = w + x * lf
    sigma_1 = u + v * lf
    sigma_2 = y + z * lf
    q = PHI_INV(p_percent / 100.0)
    a = q * sigma_1 + mu_1
    b = q * sigma_2 + mu_2
    c = -3.0
    return 10 * _log10(10 ** (0.1 * a) + 10 ** (0.1 * b) + 10 ** (0.1 * c))


@pytest.mark.parametrize("row", [pytest.param(r, id=f"row{i}") for i, r in P2109_ROWS])
def test_p2109_matches_sg3_reference(row):
    got = p2109_building_entry_loss_db(
        float(row["f__ghz"]), float(row["theta__deg"]), float(row["p__percent"]), int(row["building_class"])
    )
    assert got == pytest.approx(float(row["L_bel__db"]), abs=TOL_P2109_DB)


def test_p2109_hand_worked_median_at_1_ghz():
    """Class 1, f = 1 GHz (log f = 0), θ = 0, p = 50 % (Φ⁻¹ = 0): A = r = 12.64, B = w = 9.1.

    L = 10 log10(10^1.264 + 10^0.91 + 10^−0.3) = 10 log10(18.365 + 8.128 + 0.501) = 14.3128 dB.
    """
    assert _p2109(1.0, 0.0, 50.0, 1) == pytest.approx(14.3128, abs=1e-4)
    assert p2109_building_entry_loss_db(1.0, 0.0, 50.0, 1) == pytest.approx(14.3128, abs=1e-4)


@pytest.mark.parametrize("building_class", [1, 2])
@pytest.mark.parametrize("f", [0.08, 0.7, 3.5, 28.0, 100.0])
@pytest.mark.parametrize("theta", [-60.0, 0.0, 30.0, 90.0])
@pytest.mark.parametrize("p", [0.1, 10.0, 50.0, 99.0])
def test_p2109_matches_written_out_equations(building_class, f, theta, p):
    got = p2109_building_entry_loss_db(f, theta, p, building_class)
    assert got == pytest.approx(_p2109(f, theta, p, building_class), abs=1e-9)


@pytest.mark.parametrize("building_class", [1, 2])
@pytest.mark.parametrize("f", [0.1, 2.0, 28.0, 90.0])
def test_p2109_increases_with_p(building_class, f):
    p = np.linspace(0.001, 99.999, 200)
    loss = p2109_building_entry_loss_db(f, 10.0, p, building_class)
    assert np.all(np.diff(loss) > 0)


def test_p2109_thermally_efficient_above_traditional():
    traditional = p2109_building_entry_loss_db(1.0, 0.0, 50.0, 1)
    efficient = p2109_building_entry_loss_db(1.0, 0.0, 50.0, 2)
    assert efficient > traditional + 10.0  # 28.1 dB against 14.3 dB


@pytest.mark.parametrize("theta", [5.0, 30.0, 89.0])
def test_p2109_symmetric_in_elevation(theta):
    for building_class in (1, 2):
        up = p2109_building_entry_loss_db(3.5, theta, 50.0, building_class)
        down = p2109_building_entry_loss_db(3.5, -theta, 50.0, building_class)
        assert up == down
        assert up > p2109_building_entry_loss_db(3.5, 0.0, 50.0, building_class)


def test_p2109_class_may_be_an_array():
    out = p2109_building_entry_loss_db(3.5, 0.0, 50.0, np.array([1, 2, 1]))
    assert out.shape == (3,)
    assert out[0] == out[2] == pytest.approx(_p2109(3.5, 0.0, 50.0, 1), abs=1e-9)
    assert out[1] == pytest.approx(_p2109(3.5, 0.0, 50.0, 2), abs=1e-9)


@pytest.mark.parametrize("building_class", [0, 3])
def test_p2109_unknown_building_class(building_class):
    with pytest.raises(ModelError, match=rf"building_class must be 1 \(traditional\) or 2 .*got \[{building_class}"):
        p2109_building_entry_loss_db(3.5, 0.0, 50.0, building_class)


@pytest.mark.parametrize("p", [0.0, 100.0, -1.0, math.nan])
def test_p2109_probability_outside_0_100(p):
    with pytest.raises(ModelError, match=r"P\.2109: p must be in \(0, 100\) %"):
        p2109_building_entry_loss_db(3.5, 0.0, p, 1)


@pytest.mark.parametrize("f", [0.079, 100.1, 0.0])
def test_p2109_frequency_outside_0_08_100(f):
    with pytest.raises(ModelError, match=r"P\.2109: freq_ghz must be in \[0\.08, 100\.0\]"):
        p2109_building_entry_loss_db(f, 0.0, 50.0, 1)


@pytest.mark.parametrize("theta", [-91.0, 90.5])
def test_p2109_elevation_outside_90(theta):
    with pytest.raises(ModelError, match=r"P\.2109: theta_deg must be in \[-90\.0, 90\.0\]"):
        p2109_building_entry_loss_db(3.5, theta, 50.0, 1)


# --------------------------------------------------------------------------------------
# Normal quantiles shared by P.2108 and P.2109
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "quantile"),
    [
        (0.975, 1.959963985),
        (0.5, 0.0),
        (0.001, -3.090232306),
        (1e-9, -5.997807015),
        (0.999, 3.090232306),
    ],
)
def test_inverse_normal_cdf_known_quantiles(p, quantile):
    assert inverse_normal_cdf(p) == pytest.approx(quantile, abs=1e-8)


def test_inverse_normal_cdf_against_stdlib():
    # Lower tail down to 1e-12 and upper tail up to 1 − 1e-6 (the P.2108/P.2109 range of use).
    for p in np.concatenate([np.geomspace(1e-12, 0.5, 60), 1 - np.geomspace(1e-6, 0.5, 30)]):
        assert inverse_normal_cdf(float(p)) == pytest.approx(PHI_INV(float(p)), abs=1e-9, rel=1e-12)


@pytest.mark.parametrize("q", [1e-8, 1e-10, 1e-12])
def test_inverse_normal_cdf_upper_tail_is_as_accurate_as_lower(q):
    # Both functions get the same float p = fl(1 − q); NormalDist works from 1 − p (exact for
    # p > 0.5) and is accurate to ~1e-16 relative there, as in the lower tail.
    p = 1.0 - q
    assert inverse_normal_cdf(p) == pytest.approx(PHI_INV(p), abs=1e-11)


def test_inverse_normal_cdf_round_trip():
    for p in (1e-10, 1e-6, 0.01, 0.2, 0.5, 0.8, 0.99, 1 - 1e-6):
        x = inverse_normal_cdf(p)
        assert normal_cdf(x) == pytest.approx(p, rel=1e-10)
        assert normal_cdf(x) == pytest.approx(NormalDist().cdf(x), rel=1e-10, abs=1e-15)
    for x in (-6.0, -1.5, 0.0, 0.3, 2.5):
        assert inverse_normal_cdf(normal_cdf(x)) == pytest.approx(x, abs=1e-9)
