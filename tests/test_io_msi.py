"""MSI / Planet antenna pattern files: parsing, errors with line numbers, the 2-D lookup and the
round trip of the 3GPP sector pattern (TR 36.814 / TR 38.901) through an MSI file.

The hand-made file has h_loss = min(a, 360 − a) / 10 dB (0 at boresight, 18 dB behind) and
v_loss = |a − 6| / 2 dB for the front angles (0 at the 6° electrical downtilt).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citycov.engine.antenna import sector_pattern_db, sector_pattern_msi
from citycov.errors import CitycovWarning, InputFileError
from citycov.io.msi import cut_loss_db, format_msi, parse_msi, pattern_gain_db, read_msi, write_msi

ANGLES = np.arange(360)
H_LOSS = np.minimum(ANGLES, 360 - ANGLES) / 10.0
V_LOSS = np.where((ANGLES <= 90) | (ANGLES >= 270), np.abs(((ANGLES + 180) % 360 - 180) - 6) / 2.0, 30.0)


def msi_text(gain: str = "15.35 dBd", h=H_LOSS, v=V_LOSS, extra_header: str = "") -> str:
    head = ["NAME Test 65deg", "MAKE ACME", "FREQUENCY 1800 MHz", "H_WIDTH 65", "V_WIDTH 7", "FRONT_TO_BACK 18",
            f"GAIN {gain}", "TILT ELECTRICAL", "ELECTRICAL_TILT 6", "COMMENT hand-made"]
    if extra_header:
        head.append(extra_header)
    body = ["HORIZONTAL 360", *[f"{a} {x:g}" for a, x in enumerate(h)],
            "VERTICAL 360", *[f"{a}\t{x:g}" for a, x in enumerate(v)]]
    return "\n".join(head + body) + "\n"


@pytest.fixture
def msi_file(tmp_path):
    path = tmp_path / "test.msi"
    path.write_text(msi_text(), encoding="utf-8")
    return path


def test_reads_header_and_cuts(msi_file):
    p = read_msi(msi_file)
    assert p.name == "Test 65deg"
    assert p.gain_dbi == pytest.approx(17.5)  # 15.35 dBd + 2.15
    assert p.freq_mhz == 1800.0
    assert (p.h_beamwidth_deg, p.v_beamwidth_deg, p.front_to_back_db, p.electrical_tilt_deg) == (65.0, 7.0, 18.0, 6.0)
    assert p.metadata["MAKE"] == "ACME"
    assert p.metadata["TILT"] == "ELECTRICAL"
    np.testing.assert_array_equal(p.h_loss_db, H_LOSS)
    np.testing.assert_array_equal(p.v_loss_db, V_LOSS)
    assert p.h_loss_db.dtype == np.float64 and p.h_loss_db.shape == (360,)
    assert not p.h_loss_db.flags.writeable
    assert p.source == str(msi_file)


def test_gain_in_dbi_is_taken_as_is():
    assert parse_msi(msi_text(gain="17.5 dBi")).gain_dbi == 17.5
    assert parse_msi(msi_text(gain="17.5dBi")).gain_dbi == 17.5


def test_gain_without_unit_is_dbd_with_a_warning():
    with pytest.warns(CitycovWarning, match="no unit; read as dBd"):
        p = parse_msi(msi_text(gain="15.35"))
    assert p.gain_dbi == pytest.approx(17.5)


def test_frequency_units():
    assert parse_msi(msi_text().replace("1800 MHz", "1.8 GHz")).freq_mhz == pytest.approx(1800.0)
    assert parse_msi(msi_text().replace("FREQUENCY 1800 MHz", "FREQUENCY 1800")).freq_mhz == 1800.0


def test_latin1_file_is_read(tmp_path):
    path = tmp_path / "latin1.msi"
    path.write_bytes(msi_text().replace("COMMENT hand-made", "COMMENT tilt 6° electrical").encode("latin-1"))
    assert read_msi(path).metadata["COMMENT"] == "tilt 6° electrical"


def test_sparse_cut_is_resampled_to_1_degree():
    sparse_h = "\n".join(f"{a} {min(a, 360 - a) / 10:g}" for a in range(0, 360, 10))
    text = msi_text().split("HORIZONTAL")[0] + f"HORIZONTAL 36\n{sparse_h}\nVERTICAL 360\n" + "\n".join(
        f"{a} {x:g}" for a, x in enumerate(V_LOSS))
    p = parse_msi(text)
    np.testing.assert_allclose(p.h_loss_db, H_LOSS, atol=1e-12)  # the cut is piecewise linear


# ------------------------------------------------------------------------ errors


def test_missing_file():
    with pytest.raises(InputFileError, match="antenna pattern file not found"):
        read_msi("/nonexistent/x.msi")


def test_every_problem_is_reported_with_its_line(msi_file):
    lines = msi_text().splitlines()
    i_h = lines.index("HORIZONTAL 360")
    lines[i_h + 1 + 10] = "10 -1.5"          # negative loss
    lines[i_h + 1 + 20] = "20 abc"           # not a number
    lines[6] = "GAIN lots"                   # bad gain
    msi_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        read_msi(msi_file)
    msg = str(info.value)
    assert msg.startswith(str(msi_file))
    assert f"line {i_h + 12}: HORIZONTAL loss must be >= 0 dB" in msg
    assert f"line {i_h + 22}: HORIZONTAL data must be 'angle loss_db', got '20 abc'" in msg
    assert "line 7: GAIN must be a number with optional dBi/dBd, got 'lots'" in msg


def test_short_block_and_missing_block():
    lines = msi_text().splitlines()
    i_v = lines.index("VERTICAL 360")
    text = "\n".join(lines[:i_v - 5])  # 5 horizontal points short, no vertical block
    with pytest.raises(InputFileError, match=r"line 11: HORIZONTAL declares 360 points, found 355; no VERTICAL block"):
        parse_msi(text, source="short.msi")


def test_repeated_angle_and_missing_gain():
    text = msi_text().replace("GAIN 15.35 dBd\n", "").replace("\n5 0.5\n", "\n4 0.5\n")
    with pytest.raises(InputFileError, match=r"HORIZONTAL angle 4 repeated \(first on line 15\).*no GAIN line"):
        parse_msi(text, source="dup.msi")


def test_data_outside_a_block_and_angle_out_of_range():
    text = msi_text().replace("COMMENT hand-made", "12 3.0").replace("\n359 0.1\n", "\n360 0.1\n")
    with pytest.raises(InputFileError, match=r"line 10: data line '12 3.0' outside.*HORIZONTAL angle must be in"):
        parse_msi(text, source="x.msi")


# ------------------------------------------------------------------------ lookup kernel


def test_lookup_at_whole_degrees_sums_the_cuts():
    p = parse_msi(msi_text(gain="17.5 dBi"))
    cap = p.max_loss_db
    assert cap == 48.0  # the vertical cut at 270° (zenith): |−90 − 6| / 2
    # azimuth 40° (4 dB) and 10° below the horizon (|10 − 6| / 2 = 2 dB)
    assert pattern_gain_db(p.h_loss_db, p.v_loss_db, 17.5, 40.0, 10.0, 0.0, cap) == pytest.approx(17.5 - 6.0)
    # behind (18 dB) and 60° above the horizon (|−60 − 6| / 2 = 33 dB): 51 dB, capped at 48 or at 30
    assert pattern_gain_db(p.h_loss_db, p.v_loss_db, 17.5, 180.0, -60.0, 0.0, cap) == pytest.approx(17.5 - 48.0)
    assert pattern_gain_db(p.h_loss_db, p.v_loss_db, 17.5, 180.0, -60.0, 0.0, 30.0) == pytest.approx(17.5 - 30.0)


def test_lookup_interpolates_and_wraps():
    assert cut_loss_db(H_LOSS, 10.5) == pytest.approx(1.05)
    assert cut_loss_db(H_LOSS, -1.0) == pytest.approx(0.1)        # = 359°
    assert cut_loss_db(H_LOSS, 359.5) == pytest.approx(0.05)      # between 359° (0.1) and 0° (0)
    assert cut_loss_db(H_LOSS, 720.0 + 90.0) == pytest.approx(9.0)


def test_mechanical_tilt_shifts_the_vertical_cut():
    p = parse_msi(msi_text(gain="17.5 dBi"))
    # with 4° extra downtilt the beam peak moves from 6° to 10° below the horizon
    assert p.gain_towards(0.0, 10.0, tilt_deg=4.0) == pytest.approx(17.5)
    assert p.gain_towards(0.0, 6.0, tilt_deg=4.0) == pytest.approx(17.5 - 2.0)


def test_gain_towards_broadcasts_and_keeps_nan():
    p = parse_msi(msi_text(gain="17.5 dBi"))
    out = p.gain_towards(np.array([[0.0, 40.0, np.nan]]), 6.0)
    assert out.shape == (1, 3)
    np.testing.assert_allclose(out[0, :2], [17.5, 13.5])
    assert np.isnan(out[0, 2])


@settings(max_examples=100, deadline=None)
@given(az=st.floats(-720.0, 720.0), el=st.floats(-90.0, 90.0), tilt=st.floats(-10.0, 20.0))
def test_gain_is_between_max_gain_and_max_gain_minus_cap(az, el, tilt):
    p = parse_msi(msi_text(gain="17.5 dBi"))
    g = p.gain_towards(az, el, tilt_deg=tilt)
    assert 17.5 - p.max_loss_db - 1e-9 <= g <= 17.5 + 1e-9


# ------------------------------------------------------------------------ 3GPP round trip


@pytest.mark.parametrize("kw", [{}, {"tilt_deg": 6.0}, {"h_beamwidth_deg": 90.0, "v_beamwidth_deg": 7.0,
                                                        "front_to_back_db": 25.0, "vertical_sidelobe_db": 20.0},
                                {"omni": True, "tilt_deg": 3.0}])
def test_3gpp_pattern_round_trips_through_msi(tmp_path, kw):
    exported = sector_pattern_msi(gain_dbi=17.0, freq_mhz=1800.0, **kw)
    path = tmp_path / "3gpp.msi"
    write_msi(exported, path)
    back = read_msi(path)
    assert back.gain_dbi == 17.0 and back.freq_mhz == 1800.0
    assert back.electrical_tilt_deg == kw.get("tilt_deg", 0.0)
    np.testing.assert_allclose(back.h_loss_db, exported.h_loss_db, atol=5e-5)
    np.testing.assert_allclose(back.v_loss_db, exported.v_loss_db, atol=5e-5)
    # the 2-D lookup reproduces the 3GPP model: exactly at whole degrees; between them within
    # the linear-interpolation error: 12/θ3dB² · 1²/4 ≈ 0.03 dB on the parabola, up to
    # ~0.2 dB in the 1° step where the parabola is clipped at the side-lobe level
    az, el = np.meshgrid(np.arange(-180.0, 180.0, 7.3), np.arange(-89.0, 89.0, 3.7))
    kw3 = dict(kw)
    error = np.abs(back.gain_towards(az, el) - (17.0 + sector_pattern_db(az, el, **kw3)))
    assert error.max() < 0.25
    assert error.mean() < 0.02
    az_i, el_i = np.meshgrid(np.arange(-180.0, 180.0, 1.0), np.arange(-90.0, 91.0, 1.0))
    np.testing.assert_allclose(exported.gain_towards(az_i, el_i), 17.0 + sector_pattern_db(az_i, el_i, **kw3),
                               atol=1e-9)


def test_3gpp_export_has_the_tilt_in_the_vertical_cut():
    p = sector_pattern_msi(gain_dbi=17.0, tilt_deg=6.0)
    assert p.v_loss_db.argmin() == 6
    assert p.v_loss_db[180] == 30.0  # behind: A_m
    assert p.h_loss_db[0] == 0.0 and p.h_loss_db[180] == 30.0


def test_format_writes_gain_in_dbi_and_positive_losses():
    text = format_msi(sector_pattern_msi(gain_dbi=17.0))
    assert "GAIN 17 dBi" in text
    assert "\nHORIZONTAL 360\n0 0.0000\n" in text
    assert "-" not in text.split("HORIZONTAL")[1]
