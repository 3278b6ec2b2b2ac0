"""Service coverage (citycov.accounting.services): margins, threshold rules, speeds in a reception environment.

Expected values are worked by hand in the comments (dB sums, linear power sums, the attenuated
Shannon bound of 3GPP TR 36.942 Annex A.2), or come from published numbers: z(0.90) = 1.2816 and
z(0.95) = 1.6449 from normal tables, ITU-R P.2109 building entry loss from the ITU-R SG3
validation workbook (tests/data/reference/p2109_bel_reference.csv), the DTMB preset's own
E_med = E_min + 1.64 × 5.5 dB (ITU-R BT.1368), and the engine's own outdoor rasters for the
zero-loss identity.  Never from this module's output.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

import citycov.accounting.services
from citycov.accounting.services import (
    P2109_BUILDING_CODES,
    environment_margin_db,
    evaluate_preset,
    field_strength_service,
    indoor_loss_db,
    level_service,
    service_sinr_db,
    speed_service,
)
from citycov.engine.linkbudget import LinkParams, LinkRasters, carrier_noise_dbm, uplink_budget_mbps
from citycov.errors import ModelError, ScenarioError
from citycov.presets.radio import load_preset

from .oracles_linkbudget import ServerAccumulator

Z90 = 1.2816  # normal table, Φ⁻¹(0.90) = 1.28155
Z95 = 1.6449  # normal table, Φ⁻¹(0.95) = 1.64485
# NF chosen so that the 4G noise of one 15 kHz subcarrier is exactly −125 dBm:
# −174 + 10·log10(15 000) + NF = −174 + 41.76091 + 7.23909 = −125
NF_125 = 174.0 - 125.0 - 10.0 * math.log10(15_000.0)
LINK_125 = LinkParams(noise_figure_db=NF_125)


def _speed(level, sinr, **kw):
    args = {"technology": "4G", "bandwidth_mhz": 10.0, "coupling_loss_db": 130.0, "link": LINK_125,
            "min_down_mbps": 5.0, "min_up_mbps": 1.0}
    return speed_service(np.atleast_1d(level), np.atleast_1d(sinr), **(args | kw))


# ------------------------------------------------------------------------------------------- margin


def test_margin_90_percent_sigma_8_is_10_25_db():
    # 1.2816 · 8 = 10.25 dB
    assert environment_margin_db(0.9, 8.0) == pytest.approx(Z90 * 8.0, abs=1e-3)
    assert environment_margin_db(0.9, 8.0) == pytest.approx(10.25, abs=0.005)


def test_margin_in_vehicle_adds_the_variances():
    # √(8² + 5²) = √89 = 9.434; · 1.2816 = 12.09 dB
    assert environment_margin_db(0.9, 8.0, 5.0) == pytest.approx(12.09, abs=0.005)


def test_margin_95_percent_dtv():
    # 1.6449 · 5.5 = 9.047 dB (BT.1368 rounds z to 1.64: 9.02 dB)
    assert environment_margin_db(0.95, 5.5) == pytest.approx(Z95 * 5.5, abs=1e-3)


def test_margin_median_is_zero_and_below_median_negative():
    assert environment_margin_db(0.5, 8.0, 5.0) == pytest.approx(0.0, abs=1e-12)
    assert environment_margin_db(0.1, 8.0) == pytest.approx(-Z90 * 8.0, abs=1e-3)


def test_margin_sigma_per_cell():
    # σ by environment class (dense urban, urban, suburban, open) = 6, 6, 8, 8 dB
    sigma = np.array([6.0, 6.0, 8.0, 8.0])[np.array([[0, 3], [2, 1]])]
    out = environment_margin_db(0.9, sigma)
    np.testing.assert_allclose(out, [[Z90 * 6, Z90 * 8], [Z90 * 8, Z90 * 6]], atol=1e-3)  # 7.69, 10.25


@pytest.mark.parametrize("probability", [0.0, 1.0, 1.2, -0.1, float("nan"), True, "0.9"])
def test_margin_rejects_bad_probability(probability):
    with pytest.raises(ModelError, match=r"environment_margin_db: probability must be a finite number in \(0, 1\)"):
        environment_margin_db(probability, 8.0)


def test_margin_lists_every_bad_argument():
    with pytest.raises(ModelError) as err:
        environment_margin_db(1.5, [8.0, -1.0], extra_sigma_db=-5.0)
    text = str(err.value)
    assert "probability must be a finite number in (0, 1), got 1.5" in text
    assert "sigma_db must be finite in [0, inf), got [-1.0]" in text
    assert "extra_sigma_db must be finite in [0, inf), got [-5.0]" in text


def test_margin_shape_mismatch():
    with pytest.raises(ModelError, match=r"extra_sigma_db has shape \(3,\), which does not broadcast"):
        environment_margin_db(0.9, np.full((2, 2), 8.0), np.zeros(3))


# ---------------------------------------------------------------------------------- level rules


def test_level_rule_with_loss_and_margin():
    # threshold −105, in-vehicle 9 dB, margin 10.25: needs an outdoor level ≥ −105 + 9 + 10.25 = −85.75
    level = np.array([-85.0, -85.75, -86.0, np.nan])
    out = level_service(level, threshold_dbm=-105.0, extra_loss_db=9.0, margin_db=10.25)
    assert out.dtype == bool
    assert out.tolist() == [True, True, False, False]  # the boundary counts as covered; NaN never


def test_level_rule_margin_per_cell():
    level = np.array([[-95.0, -95.0]])
    out = level_service(level, threshold_dbm=-105.0, margin_db=np.array([[Z90 * 6, Z90 * 8]]))  # 7.69, 10.25
    assert out.tolist() == [[True, False]]  # −95 ≥ −97.31 but < −94.75


def test_level_rule_lists_every_bad_argument():
    with pytest.raises(ModelError) as err:
        level_service(np.zeros((2, 3)), threshold_dbm=float("nan"), extra_loss_db=-3.0, margin_db=np.zeros(2))
    text = str(err.value)
    assert text.startswith("level_service: ")
    assert "threshold_dbm must be a finite number in (-inf, inf), got nan" in text
    assert "extra_loss_db must be finite in [0, inf), got [-3.0]" in text
    assert "margin_db has shape (2,), which does not broadcast to the shape (2, 3) of level_dbm" in text


def test_field_strength_rule_dtmb_95_percent():
    # dtv-dtmb-uhf notes: E_min = 42.2 dBµV/m; at 95 % with σ = 5.5 dB the median must reach
    # 42.2 + 1.6449·5.5 = 51.247 dBµV/m (the preset's "1.64 x 5.5" gives 51.2)
    margin = environment_margin_db(0.95, 5.5)
    out = field_strength_service([51.25, 51.24, np.nan], threshold_dbuv_m=42.2, margin_db=margin)
    assert out.tolist() == [True, False, False]


def test_field_strength_rejects_negative_loss():
    with pytest.raises(ModelError, match=r"field_strength_service: extra_loss_db must be finite in \[0, inf\)"):
        field_strength_service([50.0], threshold_dbuv_m=42.2, extra_loss_db=-1.0)


# ----------------------------------------------------------------------------------------- SINR


def test_sinr_worked_example_in_vehicle():
    # S = −90, I = −100 (loaded), N = −125 dBm (mW: 1e-9, 1e-10, 3.162e-13)
    # outdoor SINR = −90 − 10·log10(1e-10 + 3.162e-13) + ... = 10 − 10·log10(1.0031623) = 9.98629 dB
    # in vehicle (9 dB on S and I): −99 − 10·log10(10^−10.9 + 10^−12.5)
    #   = 10 − 10·log10(1 + 10^−1.6) = 10 − 10·log10(1.025119) = 10 − 0.10774 = 9.89226 dB
    # with the in-vehicle margin 12.0901 dB on S only: 9.89226 − 12.0901 = −2.19788 dB
    outdoor = 9.986288
    assert service_sinr_db(-90.0, outdoor, noise_dbm=-125.0) == pytest.approx(outdoor, abs=1e-9)
    assert service_sinr_db(-90.0, outdoor, noise_dbm=-125.0, extra_loss_db=9.0) == pytest.approx(9.89226, abs=1e-5)
    got = service_sinr_db(-90.0, outdoor, noise_dbm=-125.0, extra_loss_db=9.0, margin_db=12.0901)
    assert got == pytest.approx(-2.19788, abs=1e-4)


def test_sinr_noise_limited_drops_db_for_db():
    # no interference: SINR = S − N = −90 + 125 = 35 dB; 9 dB loss + 3 dB margin → 23 dB
    assert service_sinr_db(-90.0, 35.0, noise_dbm=-125.0, extra_loss_db=9.0, margin_db=3.0) == pytest.approx(
        23.0, abs=1e-9)


def test_sinr_interference_limited_ignores_the_common_loss():
    # N = −200 dBm ≪ I: a loss on S and every interferer leaves S/I; the margin (server only) does not
    assert service_sinr_db(-90.0, 5.0, noise_dbm=-200.0, extra_loss_db=9.0) == pytest.approx(5.0, abs=1e-6)
    assert service_sinr_db(-90.0, 5.0, noise_dbm=-200.0, extra_loss_db=9.0, margin_db=4.0) == pytest.approx(
        1.0, abs=1e-6)


def test_sinr_loading_rescales_interference():
    # loading 0.5 → 1.0 doubles I: −100 → −96.9897 dBm; SINR = −90 − 10·log10(2e-10 + 3.162e-13) = 6.98284 dB
    got = service_sinr_db(-90.0, 9.986288, noise_dbm=-125.0, interference_scale=2.0)
    assert got == pytest.approx(6.98284, abs=1e-4)


def test_sinr_zero_loss_is_the_identity_and_nan_stays_nan():
    rng = np.random.default_rng(1)
    level = rng.uniform(-130.0, -60.0, 1000).astype(np.float32)
    sinr = rng.uniform(-10.0, 40.0, 1000).astype(np.float32)
    level[::7] = np.nan
    out = service_sinr_db(level, sinr, noise_dbm=-125.0)
    np.testing.assert_array_equal(out, np.where(np.isnan(level), np.nan, sinr.astype(np.float64)))


# ---------------------------------------------------------------------------------------- speeds


def test_speed_worked_example_outdoor_and_in_vehicle():
    # Outdoor, margin 0: SINR 9.98629 dB → SE = 0.6·log2(1 + 9.9685) = 2.07318 bit/s/Hz; × 10 MHz = 20.7318
    # Uplink: 23 + 17 − 130 − (−174 + 70 + 5 + 3) = 6 dB → 0.4·log2(1 + 3.98107) = 0.926582; × 10 = 9.26582
    out = _speed(-90.0, 9.986288)
    assert out.down_mbps[0] == pytest.approx(20.73175, abs=1e-4)
    assert out.up_mbps[0] == pytest.approx(9.26582, abs=1e-4)
    assert out.ul_sinr_db[0] == pytest.approx(6.0, abs=1e-9)
    assert out.covered.tolist() == [True]
    # In vehicle (9 dB), no margin: SINR 9.89226 → 0.6·log2(1 + 9.7555) = 2.05616 → 20.5616 Mbit/s
    # uplink 6 − 9 = −3 dB → 0.4·log2(1 + 0.501187) = 0.234442 → 2.34442 Mbit/s
    veh = _speed(-90.0, 9.986288, extra_loss_db=9.0)
    assert veh.down_mbps[0] == pytest.approx(20.5616, abs=1e-3)
    assert veh.up_mbps[0] == pytest.approx(2.34442, abs=1e-4)
    # In vehicle at 90 % (margin 12.0901): SINR −2.19788 → 0.6·log2(1 + 0.60296) = 0.408386 → 4.08386 Mbit/s
    # uplink 6 − 9 − 12.09 = −15.09 dB < −10 dB → 0: the 5/1 tier fails on both counts
    edge = _speed(-90.0, 9.986288, extra_loss_db=9.0, margin_db=12.0901)
    assert edge.sinr_db[0] == pytest.approx(-2.19788, abs=1e-4)
    assert edge.down_mbps[0] == pytest.approx(4.08386, abs=1e-4)
    assert edge.up_mbps[0] == 0.0
    assert edge.covered.tolist() == [False]


def test_speed_caps_and_per_cell_bandwidth():
    # SINR 30 dB > 22.05 dB (= 10·log10(2^(4.4/0.6) − 1)): SE = 4.4 → 4.4·B
    # Uplink at coupling 100 dB: 23 + 17 − 100 + 96 = 36 dB > 14.9 dB: SE = 2.0; B_ul = min(B, 20)
    out = _speed([-80.0, -80.0, -80.0], [30.0, 30.0, 30.0], bandwidth_mhz=np.array([10.0, 20.0, 40.0]),
                 coupling_loss_db=100.0, technology="5G")
    np.testing.assert_allclose(out.down_mbps, [44.0, 88.0, 176.0])
    np.testing.assert_allclose(out.up_mbps, [20.0, 40.0, 40.0])


def test_speed_minima_are_inclusive():
    # SINR 0 dB → SE = 0.6·log2(2) = 0.6 → 6 Mbit/s at 10 MHz; uplink 9.26582 Mbit/s (coupling 130 dB)
    out = _speed(-60.0, 0.0, min_down_mbps=6.0, min_up_mbps=9.0)
    assert out.down_mbps[0] == pytest.approx(6.0, abs=1e-12)
    assert out.covered.tolist() == [True]
    assert _speed(-60.0, 0.0, min_down_mbps=6.001, min_up_mbps=9.0).covered.tolist() == [False]
    assert _speed(-60.0, 0.0, min_down_mbps=6.0, min_up_mbps=9.3).covered.tolist() == [False]


def test_speed_nan_inputs_stay_uncovered():
    out = _speed([np.nan, -90.0, -90.0], [10.0, np.nan, 10.0], coupling_loss_db=np.array([130.0, 130.0, np.nan]))
    assert np.isnan(out.down_mbps).all() and np.isnan(out.up_mbps).all()
    assert out.covered.tolist() == [False, False, False]


def test_speed_preset_loading_rescales_the_engine_interference():
    # engine ran at loading 1.0 with I = −96.9897 (SINR 6.98284); the service asks 0.5 → I = −100 → 9.98629
    out = _speed(-90.0, 6.982839, link=LinkParams(loading=1.0, noise_figure_db=NF_125), loading=0.5)
    assert out.sinr_db[0] == pytest.approx(9.98629, abs=1e-4)


def test_speed_matches_the_engine_at_zero_loss():
    """The engine's own rasters (linkbudget.LinkRasters) come back unchanged with no loss and no margin:
    down = SE_dl(SINR)·B, up = SE_ul(23 + 17 − CL − N_BS − 3)·min(B, 20)."""
    rng = np.random.default_rng(7)
    shape = (6, 7)
    levels = rng.uniform(-125.0, -70.0, (3, *shape))
    levels[1, :2] = np.nan  # sector 1 does not reach the first rows
    levels[:, 0, 0] = np.nan  # nobody reaches (0, 0)
    ref_eirp = np.array([18.2, 15.7, 21.0])
    link = LinkParams(loading=0.5)
    acc = ServerAccumulator(shape)
    for i in range(3):
        acc.add(levels[i], sector_index=i)
    links = LinkRasters(3, *shape)
    links.add_carrier(1, acc.top_dbm, acc.best_idx, acc.sum_mw, link, "4G", 10.0, ref_eirp)
    server = acc.finish(loading=link.loading, noise_dbm=carrier_noise_dbm("4G", link.noise_figure_db))
    coupling = np.where(server.best_index >= 0, ref_eirp[np.maximum(server.best_index, 0)] - server.best_dbm, np.nan)
    out = speed_service(server.best_dbm, links.sinr_db[1], technology="4G", bandwidth_mhz=10.0,
                        coupling_loss_db=coupling, link=link, min_down_mbps=5.0, min_up_mbps=1.0)
    np.testing.assert_array_equal(out.down_mbps.astype(np.float32), links.throughput_mbps[1])
    # the engine keeps no uplink raster: it derives it from the serving level and sector
    served = links.serving_sector[1] >= 0
    engine_up = np.full(shape, np.nan)
    engine_up[served] = uplink_budget_mbps(ref_eirp[links.serving_sector[1][served]] - links.serving_dbm[1][served],
                                           10.0, link)
    np.testing.assert_allclose(out.up_mbps.astype(np.float32), engine_up.astype(np.float32), rtol=1e-6)
    assert np.isnan(out.down_mbps[0, 0]) and not out.covered[0, 0]
    np.testing.assert_array_equal(out.covered, (links.throughput_mbps[1] >= 5.0) & (engine_up >= 1.0))
    # and its speed tier is class 1 (5/1) or better exactly where the preset's rule holds
    np.testing.assert_array_equal(links.speed_tier[1] >= 1, out.covered)


def test_speed_lists_every_bad_argument():
    with pytest.raises(ModelError) as err:
        speed_service(np.zeros((2, 2)), np.zeros((3, 2)), technology="6G", bandwidth_mhz=-5.0,
                      coupling_loss_db=-1.0, link=LinkParams(), min_down_mbps=-1.0, min_up_mbps=1.0,
                      extra_loss_db=-9.0, margin_db=float("nan"))
    text = str(err.value)
    assert text.startswith("speed_service: ")
    for part in ("technology must be one of ['3G', '4G', '5G'], got '6G'",
                 "bandwidth_mhz must be finite or NaN in (0, inf), got [-5.0]",
                 "coupling_loss_db must be finite or NaN in [0, inf), got [-1.0]",
                 "extra_loss_db must be finite in [0, inf), got [-9.0]",
                 "margin_db must be finite, got [nan]",
                 "min_down_mbps must be a finite number in [0, inf), got -1.0",
                 "sinr_db has shape (3, 2), which does not broadcast to the shape (2, 2) of level_dbm"):
        assert part in text


def test_speed_cannot_rescale_a_zero_engine_loading():
    with pytest.raises(ModelError, match=r"engine ran with link.loading = 0"):
        _speed(-90.0, 10.0, link=LinkParams(loading=0.0), loading=0.5)
    with pytest.raises(ModelError, match=r"loading must be a finite number in \[0, 1\], got 1.5"):
        _speed(-90.0, 10.0, loading=1.5)


def test_speed_needs_a_link_with_the_engine_fields():
    with pytest.raises(ModelError,
                       match=r"link must have the fields of citycov.engine.linkbudget.LinkParams; missing \["):
        _speed(-90.0, 10.0, link=object())


# ------------------------------------------------------------------------------ building entry


def test_indoor_loss_hand_worked_median_at_1_ghz():
    # P.2109 class 1, 1 GHz (log f = 0), θ = 0, p = 50 %: 10·log10(10^1.264 + 10^0.91 + 10^−0.3) = 14.3128 dB
    assert indoor_loss_db(1000.0, probability=0.5) == pytest.approx(14.3128, abs=1e-4)


@pytest.mark.parametrize(("freq_mhz", "elevation", "klass", "p_percent", "expected"), [
    (28_000.0, 0.0, "traditional", 51.28614, 20.573),
    (2_000.0, 45.0, "traditional", 10.0, 11.251),
    (28_000.0, 0.0, "thermally_efficient", 1.0, 9.369),
    (2_000.0, 45.0, "thermally_efficient", 48.97788, 37.59),
])
def test_indoor_loss_matches_sg3_workbook(freq_mhz, elevation, klass, p_percent, expected):
    got = indoor_loss_db(freq_mhz, probability=p_percent / 100.0, building_class=klass, elevation_deg=elevation)
    assert got == pytest.approx(expected, abs=0.01)


def test_indoor_loss_per_cell_frequency():
    out = indoor_loss_db(np.array([1000.0, 28_000.0]), probability=0.5128614)
    assert out.shape == (2,)
    assert out[1] == pytest.approx(20.573, abs=0.01)
    assert set(P2109_BUILDING_CODES) == {"traditional", "thermally_efficient"}


def test_indoor_loss_lists_every_bad_argument():
    with pytest.raises(ModelError) as err:
        indoor_loss_db(50.0, probability=1.0, building_class="glass", elevation_deg=100.0)
    text = str(err.value)
    assert "probability must be a finite number in (0, 1), got 1.0" in text
    assert "freq_mhz must be finite in [80, 100000], got [50.0]" in text
    assert "elevation_deg must be finite in [-90, 90], got [100.0]" in text
    assert "building_class must be one of ['traditional', 'thermally_efficient'], got 'glass'" in text


# ---------------------------------------------------------------------------------------- presets


def test_fcc_4g_preset_outdoor_and_in_vehicle():
    preset = load_preset("fcc-bdc-4g-5-1")
    # cell (0): the worked example; cell (1): 10 dB more signal and 20 dB less coupling loss
    level = np.array([-90.0, -80.0])
    sinr = np.array([9.986288, 19.5])
    cov = evaluate_preset(preset, sigma_db=8.0, level_dbm=level, sinr_db=sinr,
                          coupling_loss_db=np.array([130.0, 110.0]), bandwidth_mhz=10.0, link=LINK_125)
    assert set(cov.masks) == {"outdoor_stationary", "in_vehicle"}
    out, veh = cov.environments["outdoor_stationary"], cov.environments["in_vehicle"]
    assert out.margin_db == pytest.approx(10.25, abs=0.005)
    assert veh.margin_db == pytest.approx(12.09, abs=0.005)
    # cell 0 outdoors at 90 % (no common loss, so I' = I): SINR 9.98629 − 10.2524 = −0.26612 dB
    # → 0.6·log2(1 + 0.94058) = 0.573885 → 5.73885 Mbit/s;
    # uplink 6 − 10.2524 = −4.2524 dB → 0.4·log2(1 + 0.37547) = 0.184036 → 1.84036 Mbit/s: 5/1 met
    assert out.speed.down_mbps[0] == pytest.approx(5.73885, abs=1e-3)
    assert out.speed.up_mbps[0] == pytest.approx(1.84036, abs=1e-4)
    assert cov.masks["outdoor_stationary"].tolist() == [True, True]
    assert cov.masks["in_vehicle"].tolist() == [False, True]  # see test_speed_worked_example_outdoor_and_in_vehicle
    service = cov.provenance["service"]
    assert cov.provenance["preset"] == "fcc-bdc-4g-5-1" and cov.provenance["sha256"] == preset.sha256
    assert service["cell_edge_probability"] == 0.9 and service["cell_edge_probability_from"] == "preset"
    assert service["z"] == pytest.approx(Z90, abs=1e-4)
    assert "√(σ² + σ_env²)" in service["margin_formula"]
    assert service["loading"] == 0.5 and service["loading_from"] == "preset"
    assert service["environments"]["in_vehicle"]["extra_loss_db"] == 9.0
    assert service["noise_dbm"] == pytest.approx(-125.0, abs=1e-9)


def test_fcc_preset_loading_replaces_the_engine_loading():
    # the engine ran at loading 1 (I = −96.99 dBm, SINR 6.98284); the FCC preset fixes 50 % → SINR 9.98629
    preset = load_preset("fcc-bdc-5g-7-1")
    link = LinkParams(loading=1.0, noise_figure_db=174.0 - 125.0 - 10.0 * math.log10(30_000.0))  # N = −125 at 30 kHz
    cov = evaluate_preset(preset, sigma_db=0.0, level_dbm=[-90.0], sinr_db=[6.982839], coupling_loss_db=[130.0],
                          bandwidth_mhz=10.0, link=link)
    assert cov.environments["outdoor_stationary"].speed.sinr_db[0] == pytest.approx(9.98629, abs=1e-4)
    assert cov.provenance["service"]["engine_loading"] == 1.0


def test_ofcom_preset_needs_a_probability_from_the_caller():
    preset = load_preset("ofcom-4g-outdoor")
    with pytest.raises(ScenarioError, match=r"fixes no cell_edge_probability"):
        evaluate_preset(preset, sigma_db=8.0, level_dbm=[-100.0])
    # at 90 % with σ = 8: −105 + 10.25 = −94.75 dBm needed
    cov = evaluate_preset(preset, sigma_db=8.0, level_dbm=[-94.0, -95.0], cell_edge_probability=0.9)
    assert cov.masks["outdoor"].tolist() == [True, False]
    assert cov.provenance["service"]["cell_edge_probability_from"] == "caller"
    assert cov.environments["outdoor"].speed is None


def test_trunking_preset_95_percent():
    # −103 dBm at 95 % with σ = 8: −103 + 1.6449·8 = −89.84 dBm needed
    cov = evaluate_preset(load_preset("trunking-800"), sigma_db=8.0, level_dbm=[-89.8, -89.9])
    assert cov.masks["outdoor_portable"].tolist() == [True, False]


def test_dtv_preset_field_strength():
    cov = evaluate_preset(load_preset("dtv-dtmb-uhf"), sigma_db=5.5, field_dbuv_m=np.array([51.25, 51.24]))
    assert cov.masks["outdoor_fixed"].tolist() == [True, False]
    assert "time_percent = 50" in cov.provenance["service"]["time_percent_note"]


def test_preset_lists_every_missing_input():
    with pytest.raises(ScenarioError) as err:
        evaluate_preset(load_preset("fcc-bdc-4g-5-1"), sigma_db=8.0, level_dbm=[-90.0])
    assert "['sinr_db', 'coupling_loss_db', 'bandwidth_mhz', 'link']" in str(err.value)
    with pytest.raises(ScenarioError, match=r"metric 'field_strength_dbuv_m' needs \['field_dbuv_m'\]"):
        evaluate_preset(load_preset("dtv-dtmb-uhf"), sigma_db=5.5, level_dbm=[-60.0])


def test_preset_sigma_shape_and_probability_errors():
    with pytest.raises(ModelError) as err:
        evaluate_preset(load_preset("ofcom-4g-outdoor"), sigma_db=np.full(3, 8.0), level_dbm=np.zeros((2, 2)),
                        cell_edge_probability=1.5)
    text = str(err.value)
    assert "cell_edge_probability must be a finite number in (0, 1), got 1.5" in text
    assert "sigma_db has shape (3,), which does not broadcast to the shape (2, 2) of level_dbm" in text


def test_docstring_examples():
    result = doctest.testmod(citycov.accounting.services, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
