"""The 3GPP sector antenna pattern (TR 36.814 Table A.2.1.1-2; TR 38.901 Table 7.3-1).

Expectations are written out by hand from the table:

    A_H(φ) = −min(12 (φ/φ3dB)², A_m)
    A_V(θ) = −min(12 ((θ − θ_tilt)/θ3dB)², SLA_V)
    A(φ,θ) = −min(−(A_H + A_V), A_m)

with A_m the front-to-back ratio (30 dB here) and SLA_V the vertical side-lobe level (30 dB).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citycov.engine.antenna import sector_pattern_db

A_M = 30.0  # front_to_back_db default
H_BW = 65.0  # h_beamwidth_deg default
V_BW = 10.0  # v_beamwidth_deg default


def test_boresight_is_0_db():
    assert sector_pattern_db(0.0, 0.0) == 0.0


@pytest.mark.parametrize("az", [32.5, -32.5])
def test_half_horizontal_beamwidth_is_minus_3_db(az):
    # 12·(32.5/65)² = 12·0.25 = 3 dB.
    assert sector_pattern_db(az, 0.0) == pytest.approx(-3.0, abs=1e-12)


def test_half_beamwidth_follows_the_beamwidth_argument():
    assert sector_pattern_db(45.0, 0.0, h_beamwidth_deg=90.0) == pytest.approx(-3.0, abs=1e-12)


@pytest.mark.parametrize("az", [180.0, -180.0, 120.0])
def test_back_lobe_is_front_to_back_ratio(az):
    # 12·(180/65)² = 92 dB and 12·(120/65)² = 40.9 dB, both capped at A_m = 30 dB.
    assert sector_pattern_db(az, 0.0) == pytest.approx(-A_M, abs=1e-12)
    assert sector_pattern_db(az, 0.0, front_to_back_db=25.0) == pytest.approx(-25.0, abs=1e-12)


@pytest.mark.parametrize("tilt", [0.0, 6.0, -2.0])
def test_vertical_pattern(tilt):
    # At the tilt angle: 0 dB; at tilt ± θ3dB/2: 12·0.25 = 3 dB down.
    assert sector_pattern_db(0.0, tilt, tilt_deg=tilt) == pytest.approx(0.0, abs=1e-12)
    assert sector_pattern_db(0.0, tilt + V_BW / 2, tilt_deg=tilt) == pytest.approx(-3.0, abs=1e-12)
    assert sector_pattern_db(0.0, tilt - V_BW / 2, tilt_deg=tilt) == pytest.approx(-3.0, abs=1e-12)


def test_vertical_side_lobe_level_caps_the_vertical_loss():
    # 12·(30/10)² = 108 dB, capped at SLA_V.
    assert sector_pattern_db(0.0, 30.0, vertical_sidelobe_db=20.0) == pytest.approx(
        -20.0, abs=1e-12
    )


@pytest.mark.parametrize(
    ("az", "elev", "tilt", "expected"),
    [
        # A_H = −12·(20/65)² = −1.13609; A_V = −12·(3/10)² = −1.08; sum −2.21609 (above −30).
        (20.0, 5.0, 2.0, -(12 * (20 / 65) ** 2 + 12 * 0.3**2)),
        # A_H = −12·(60/65)² = −10.2249; A_V = −12·(1.5)² = −27; sum −37.2 -> capped at −30.
        (60.0, 15.0, 0.0, -30.0),
        # A_H = −12·(10/65)² = −0.28402; A_V = 0 at the tilt.
        (10.0, 4.0, 4.0, -12 * (10 / 65) ** 2),
    ],
)
def test_combined_pattern_by_hand(az, elev, tilt, expected):
    assert sector_pattern_db(az, elev, tilt_deg=tilt) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("az", [0.0, 32.5, 90.0, 180.0, -135.0, 359.0])
def test_omni_ignores_azimuth(az):
    assert sector_pattern_db(az, 0.0, omni=True) == 0.0
    # Only the vertical part remains: 3 dB down at half the vertical beamwidth.
    assert sector_pattern_db(az, 5.0, omni=True) == pytest.approx(-3.0, abs=1e-12)


@pytest.mark.parametrize(
    ("wrapped", "plain"),
    [
        (350.0, -10.0),
        (10.0, -350.0),
        (370.0, 10.0),
        (540.0, 180.0),
        (-190.0, 170.0),
        (720.0 + 20.0, 20.0),
    ],
)
def test_azimuth_wraps_around(wrapped, plain):
    assert sector_pattern_db(wrapped, 0.0) == pytest.approx(sector_pattern_db(plain, 0.0), abs=1e-9)


def test_350_degrees_off_is_10_degrees_off():
    assert sector_pattern_db(350.0, 0.0) == pytest.approx(-12 * (10 / 65) ** 2, abs=1e-12)


def test_pattern_is_symmetric_in_azimuth():
    az = np.linspace(0.0, 180.0, 91)
    np.testing.assert_allclose(sector_pattern_db(az, 2.0), sector_pattern_db(-az, 2.0), atol=1e-12)


def test_total_never_below_front_to_back_ratio_on_a_grid():
    az = np.linspace(-360.0, 360.0, 145)[:, None]
    elev = np.linspace(-90.0, 90.0, 73)[None, :]
    gain = sector_pattern_db(az, elev, tilt_deg=6.0)
    assert gain.shape == (145, 73)
    assert gain.dtype == np.float64
    assert gain.min() >= -A_M
    assert gain.max() <= 0.0


@settings(max_examples=200, deadline=None)
@given(
    az=st.floats(-720.0, 720.0),
    elev=st.floats(-90.0, 90.0),
    tilt=st.floats(-10.0, 20.0),
    h_bw=st.floats(10.0, 120.0),
    v_bw=st.floats(3.0, 65.0),
    fbr=st.floats(10.0, 40.0),
    omni=st.booleans(),
)
def test_total_never_below_front_to_back_ratio_property(az, elev, tilt, h_bw, v_bw, fbr, omni):
    gain = sector_pattern_db(
        az,
        elev,
        tilt_deg=tilt,
        h_beamwidth_deg=h_bw,
        v_beamwidth_deg=v_bw,
        omni=omni,
        front_to_back_db=fbr,
    )
    assert -fbr <= gain <= 0.0


def test_gain_decreases_away_from_boresight():
    az = np.linspace(0.0, 180.0, 181)
    gain = sector_pattern_db(az, 0.0)
    assert np.all(np.diff(gain) <= 0.0)
    unsaturated = az < H_BW * np.sqrt(A_M / 12.0)  # where 12·(φ/φ3dB)² < A_m
    assert np.all(np.diff(gain[unsaturated]) < 0.0)


def test_output_contract():
    az = np.array([0.0, 32.5, 180.0])
    az_before = az.copy()
    out = sector_pattern_db(az, 0.0)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == (3,)
    np.testing.assert_array_equal(az, az_before)
    np.testing.assert_allclose(out, [0.0, -3.0, -A_M], atol=1e-12)
    assert type(sector_pattern_db(32.5, 0.0)) is float
