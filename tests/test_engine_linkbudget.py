"""Link budget: noise, reference signals, field strength, best server / SINR, throughput, tiers.

Expected values are worked out by hand in the comments, or come from a formula written
differently from the code (Boltzmann's constant, the free-space field of an isotropic source).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citycov.carriers import resource_blocks
from citycov.engine.linkbudget import (
    DOWNLINK_TR36942,
    FCC_BDC_TIERS,
    UPLINK_TR36942,
    LinkParams,
    ShannonParams,
    SpeedTier,
    best_server_sinr,
    carrier_noise_dbm,
    cell_edge_margin_db,
    field_strength_dbuv_m,
    field_strength_from_eirp_dbuv_m,
    reference_signal_offset_db,
    rscp_dbm,
    rsrp_dbm,
    spectral_efficiency,
    speed_tier_class,
    thermal_noise_dbm,
    throughput_mbps,
    uplink_budget,
    uplink_budget_mbps,
    uplink_sinr_db,
)
from citycov.errors import ModelError

from .oracles_linkbudget import ServerAccumulator, best_server_stack

# ---------------------------------------------------------------------------------------- noise


def test_noise_10_mhz_nf_7_db_is_minus_97_dbm():
    # −174 + 10·log10(10e6) + 7 = −174 + 70 + 7
    assert thermal_noise_dbm(10.0, noise_figure_db=7.0) == pytest.approx(-97.0, abs=1e-12)


@pytest.mark.parametrize("bandwidth_mhz", [0.015, 1.4, 20.0, 100.0])
def test_noise_matches_boltzmann(bandwidth_mhz):
    # kT0B with k = 1.380649e-23 J/K, T0 = 290 K, in dBm; −174 dBm/Hz is kT0 rounded (−173.98)
    ktb_dbm = 10 * math.log10(1.380649e-23 * 290.0 * bandwidth_mhz * 1e6 * 1000.0)
    assert thermal_noise_dbm(bandwidth_mhz, noise_figure_db=5.0) == pytest.approx(ktb_dbm + 5.0, abs=0.03)


def test_noise_broadcasts_over_arrays():
    out = thermal_noise_dbm(np.array([1.0, 10.0]), noise_figure_db=np.array([0.0, 7.0]))
    np.testing.assert_allclose(out, [-114.0, -97.0])


def test_noise_lists_every_bad_argument():
    with pytest.raises(ModelError, match=r"bandwidth_mhz.*; noise_figure_db"):
        thermal_noise_dbm(-1.0, noise_figure_db=-2.0)


def test_carrier_noise_hand_values():
    # 4G: one 15 kHz subcarrier, −174 + 41.761 + 7 = −125.239 dBm; 5G: 30 kHz, −174 + 44.771 + 7 = −122.229;
    # 3G: 3.84 MHz lowered by the 10 % CPICH share, −174 + 65.843 + 7 − 10 = −111.157
    assert carrier_noise_dbm("4G", 7.0) == pytest.approx(-125.239, abs=1e-3)
    assert carrier_noise_dbm("5G", 7.0) == pytest.approx(-122.229, abs=1e-3)
    assert carrier_noise_dbm("3G", 7.0) == pytest.approx(-111.157, abs=1e-3)
    assert carrier_noise_dbm("5G", 5.0) == thermal_noise_dbm(0.03, noise_figure_db=5.0)
    with pytest.raises(ModelError, match=r"technology must be one of \['3G', '4G', '5G'\], got '2G'"):
        carrier_noise_dbm("2G", 7.0)


# ------------------------------------------------------------------------ reference signals


def test_rsrp_lte_20_mhz_46_dbm():
    # 46 − 10·log10(12·100) = 46 − 30.792 = 15.208 dBm per resource element, before any loss
    assert rsrp_dbm(46.0, 0.0, technology="4G", bandwidth_mhz=20.0) == pytest.approx(15.208, abs=1e-3)


def test_rsrp_adds_pattern_and_receiver_gain_and_subtracts_loss():
    level = rsrp_dbm(46.0, 120.0, technology="4G", bandwidth_mhz=20.0, pattern_gain_db=-3.0, rx_gain_dbi=2.0)
    assert level == pytest.approx(15.208 - 120.0 - 3.0 + 2.0, abs=1e-3)


def test_rsrp_nan_loss_stays_nan():
    out = rsrp_dbm(46.0, np.array([100.0, np.nan]), technology="4G", bandwidth_mhz=10.0)
    assert np.isnan(out[1]) and not np.isnan(out[0])


# TS 36.101 Table 5.6-1, "Transmission bandwidth configuration N_RB in E-UTRA channel bandwidths"
LTE_TABLE = {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}
# TS 38.101-1 Table 5.3.2-1, "Maximum transmission bandwidth configuration N_RB" (FR1), row by row as
# printed: the channel bandwidths (MHz) as columns, None for N/A
NR_BANDWIDTHS = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100]
NR_ROWS = {15: [25, 52, 79, 106, 133, 160, 188, 216, 242, 270, None, None, None, None, None],
           30: [11, 24, 38, 51, 65, 78, 92, 106, 119, 133, 162, 189, 217, 245, 273],
           60: [None, 11, 18, 24, 31, 38, 44, 51, 58, 65, 79, 93, 107, 121, 135]}
NR_TABLE = [(scs, float(bw), n) for scs, row in NR_ROWS.items() for bw, n in zip(NR_BANDWIDTHS, row, strict=True)]


@pytest.mark.parametrize(("bw", "n_rb"), list(LTE_TABLE.items()))
def test_lte_resource_blocks(bw, n_rb):
    assert resource_blocks("4G", bw) == n_rb
    assert reference_signal_offset_db("4G", bw) == pytest.approx(-10 * math.log10(12 * n_rb), abs=1e-12)


@pytest.mark.parametrize(("scs", "bw", "n_rb"), [c for c in NR_TABLE if c[2] is not None])
def test_nr_resource_blocks_from_ts_38_101_1(scs, bw, n_rb):
    assert resource_blocks("5G", bw, scs_khz=scs) == n_rb
    assert reference_signal_offset_db("5G", bw, scs_khz=scs) == pytest.approx(-10 * math.log10(12 * n_rb), abs=1e-12)


@pytest.mark.parametrize(("scs", "bw"), [(c[0], c[1]) for c in NR_TABLE if c[2] is None])
def test_nr_not_applicable_cells_are_refused(scs, bw):
    with pytest.raises(ModelError, match=rf"no NR carrier of {bw} MHz at {scs} kHz.*bandwidths at {scs} kHz: \["):
        resource_blocks("5G", bw, scs_khz=scs)


@pytest.mark.parametrize(("technology", "bw", "scs", "offset_db"), [
    ("4G", 20.0, None, -30.792),    # −10·log10(12·100) = −10·log10(1200)
    ("4G", 1.4, None, -18.573),     # −10·log10(72)
    ("5G", 100.0, None, -35.153),   # 30 kHz by default: −10·log10(12·273) = −10·log10(3276)
    ("5G", 20.0, 15, -31.045),      # −10·log10(12·106) = −10·log10(1272)
    ("5G", 100.0, 60, -32.095),     # −10·log10(12·135) = −10·log10(1620)
])
def test_reference_signal_offset_hand_values(technology, bw, scs, offset_db):
    assert reference_signal_offset_db(technology, bw, scs_khz=scs) == pytest.approx(offset_db, abs=5e-4)


def test_nr_defaults_to_30_khz():
    # 100 MHz at 30 kHz: 12·273 = 3276 subcarriers → −35.153 dB
    assert reference_signal_offset_db("5G", 100.0) == pytest.approx(-10 * math.log10(3276.0), abs=1e-12)


def test_reference_signal_offsets_of_sector_arrays():
    # as the engine calls it: one technology and one bandwidth per sector
    tech = np.array(["4G", "5G", "3G", "4G"], dtype=object)
    bw = np.array([20.0, 100.0, 5.0, 10.0])
    got = reference_signal_offset_db(tech, bw)
    # LTE 20 MHz: 100 RB x 12 = 1200 subcarriers; NR 100 MHz at 30 kHz: 273 RB = 3276; 3G CPICH 10 %;
    # LTE 10 MHz: 50 RB = 600.
    assert got == pytest.approx([-10 * math.log10(1200), -10 * math.log10(3276), -10.0, -10 * math.log10(600)])
    assert got.dtype == np.float64 and got.shape == (4,)
    per_sector = reference_signal_offset_db(np.array(["5G", "5G"]), np.array([20.0, 20.0]), scs_khz=[np.nan, 15])
    assert per_sector.tolist() == pytest.approx([-10 * math.log10(12 * 51), -10 * math.log10(12 * 106)])


def test_sector_bandwidths_outside_the_tables_are_named():
    tech = np.array(["4G", "5G", "4G", "3G"], dtype=object)
    with pytest.raises(ModelError, match=r"reference_signal_offset_db: no NR carrier of 7.0 MHz at 30 kHz .*"
                                         r"bandwidths at 30 kHz: \[5.0, 10.0, .*, 100.0\] \(sectors \['b'\]\); "
                                         r"LTE bandwidth_mhz must be one of \[1.4, 3.0, 5.0, 10.0, 15.0, 20.0\] "
                                         r"\(TS 36.101 Table 5.6-1\), got \[12.0, 25.0\] \(sectors \['a', 'c'\]\)"):
        reference_signal_offset_db(tech, np.array([12.0, 7.0, 25.0, 5.0]), sector_ids=["a", "b", "c", "d"])


def test_unknown_nr_bandwidth_lists_the_valid_ones():
    with pytest.raises(ModelError, match=r"no NR carrier of 7.0 MHz at 30 kHz.*\[5.0, 10.0"):
        resource_blocks("5G", 7.0)


def test_lte_bandwidth_outside_the_table_is_refused():
    with pytest.raises(ModelError, match=r"LTE bandwidth_mhz must be one of \[1.4, 3.0"):
        rsrp_dbm(46.0, 100.0, technology="4G", bandwidth_mhz=12.0)


def test_rsrp_refuses_3g():
    with pytest.raises(ModelError, match="rscp_dbm"):
        rsrp_dbm(43.0, 100.0, technology="3G", bandwidth_mhz=5.0)


def test_rscp_takes_the_cpich_share():
    # 43 dBm total, 10% on the CPICH: 33 dBm; 130 dB loss → −97 dBm; a 20% share adds 3.01 dB
    assert rscp_dbm(43.0, 130.0) == pytest.approx(-97.0)
    assert rscp_dbm(43.0, 130.0, cpich_fraction=0.2) == pytest.approx(-97.0 + 10 * math.log10(2.0))


def test_rscp_refuses_a_share_above_one():
    with pytest.raises(ModelError, match="cpich_fraction"):
        rscp_dbm(43.0, 130.0, cpich_fraction=1.5)


# ------------------------------------------------------------------------ field strength


def test_field_strength_p1812_hand_value():
    # 1 kW e.r.p. = 62.15 dBm e.i.r.p.; P.1812: 199.36 + 20·log10(0.6) − 120 = 74.92 dBµV/m
    expected = 199.36 + 20 * math.log10(0.6) - 120.0
    assert expected == pytest.approx(74.923, abs=1e-3)
    assert field_strength_from_eirp_dbuv_m(62.15, 120.0, freq_mhz=600.0) == pytest.approx(expected, abs=0.02)


def test_field_strength_of_isotropic_source_in_free_space():
    # 1 W e.i.r.p. at 1 km: E = √(30·P)/d = √30 / 1000 V/m = 74.77 dBµV/m, whatever the frequency;
    # free-space basic loss 32.4478 + 20·log10(f_MHz) + 20·log10(d_km)
    for f in (100.0, 600.0, 3500.0):
        lb = 32.4478 + 20 * math.log10(f)
        e = field_strength_from_eirp_dbuv_m(30.0, lb, freq_mhz=f)
        assert e == pytest.approx(20 * math.log10(math.sqrt(30.0) / 1000.0 * 1e6), abs=0.01)


def test_field_strength_from_received_power():
    # −80 dBm at 600 MHz on an isotropic antenna: −80 + 55.56 + 77.22 = 52.78 dBµV/m
    assert field_strength_dbuv_m(-80.0, freq_mhz=600.0) == pytest.approx(52.78, abs=0.01)
    with pytest.raises(ModelError, match="freq_mhz"):
        field_strength_dbuv_m(-80.0, freq_mhz=0.0)


# ------------------------------------------------------------------------ cell-edge margin


def test_cell_edge_margin_90_percent():
    # Φ⁻¹(0.9) = 1.2816
    assert cell_edge_margin_db(0.9, 1.0) == pytest.approx(1.2816, abs=1e-4)
    assert cell_edge_margin_db(0.9, 8.0) == pytest.approx(1.2816 * 8.0, abs=1e-3)


@pytest.mark.parametrize("p", [0.5, 0.75, 0.95, 0.99, 0.1])
def test_cell_edge_margin_matches_statistics(p):
    assert cell_edge_margin_db(p, 6.0) == pytest.approx(NormalDist().inv_cdf(p) * 6.0, abs=1e-9)


def test_cell_edge_margin_per_environment():
    env = np.array([[0, 3], [2, 1]])
    sigma = np.array([6.0, 6.0, 8.0, 8.0])[env]
    out = cell_edge_margin_db(0.9, sigma)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, 1.2815516 * sigma, atol=1e-6)


@pytest.mark.parametrize("p", [0.0, 1.0, 1.2, float("nan")])
def test_cell_edge_probability_must_be_inside_0_1(p):
    with pytest.raises(ModelError, match="probability must be in"):
        cell_edge_margin_db(p, 8.0)


# ------------------------------------------------------------------------ best server / SINR


def test_three_sector_hand_example():
    # levels −70, −75, −80 dBm; loading 0.5; noise −100 dBm:
    # S = 1e-7 mW; I = 0.5·(10^−7.5 + 1e-8) = 2.0811e-8; N = 1e-10; SINR = 1e-7/2.0911e-8 = 4.782 → 6.796 dB
    rx = np.array([[-75.0], [-70.0], [-80.0]])
    r = best_server_sinr(rx, loading=0.5, noise_dbm=-100.0, overlap_db=5.0)
    assert r.best_index[0] == 1
    assert r.best_dbm[0] == pytest.approx(-70.0)
    assert r.margin_db[0] == pytest.approx(5.0)
    assert r.n_within[0] == 2  # the server and the −75 dBm sector (−75 ≥ −70 − 5)
    assert r.sinr_db[0] == pytest.approx(6.796, abs=1e-3)
    assert best_server_sinr(rx, loading=0.5, noise_dbm=-100.0, overlap_db=10.0).n_within[0] == 3


def test_loading_zero_gives_snr():
    r = best_server_sinr([[-90.0], [-91.0]], loading=0.0, noise_dbm=-110.0)
    assert r.sinr_db[0] == pytest.approx(20.0, abs=1e-5)


def test_ties_go_to_the_first_sector_with_zero_margin():
    r = best_server_sinr([[-80.0], [-80.0]], loading=1.0, noise_dbm=-200.0)
    assert (r.best_index[0], r.margin_db[0], r.n_within[0]) == (0, 0.0, 2)
    assert r.sinr_db[0] == pytest.approx(0.0, abs=1e-5)


def test_no_sector_and_single_sector_pixels():
    rx = np.array([[np.nan, -80.0, -np.inf], [np.nan, np.nan, -90.0]])
    r = best_server_sinr(rx, loading=0.5, noise_dbm=-120.0)
    assert r.best_index.tolist() == [-1, 0, 1]
    assert np.isnan(r.best_dbm[0]) and np.isnan(r.sinr_db[0]) and np.isnan(r.margin_db[0])
    assert r.n_within.tolist() == [0, 1, 1]
    assert np.isinf(r.margin_db[1]) and r.margin_db[1] > 0
    assert r.sinr_db[1] == pytest.approx(40.0, abs=1e-4)  # alone: SNR


def test_stack_output_contract():
    rng = np.random.default_rng(1)
    rx = rng.uniform(-120, -60, size=(3, 4, 5))
    before = rx.copy()
    r = best_server_sinr(rx, loading=0.5, noise_dbm=-110.0)
    np.testing.assert_array_equal(rx, before)
    for arr, dtype in ((r.best_dbm, np.float32), (r.best_index, np.int32), (r.margin_db, np.float32),
                       (r.n_within, np.int32), (r.sinr_db, np.float32)):
        assert arr.shape == (4, 5)
        assert arr.dtype == dtype
    np.testing.assert_array_equal(r.best_index, rx.argmax(axis=0))


def test_sinr_arguments_are_all_reported():
    with pytest.raises(ModelError, match=r"loading must be in \[0, 1\], got 1.5; .*overlap_db"):
        best_server_sinr([[-80.0]], loading=1.5, noise_dbm=-100.0, overlap_db=-1.0)


def test_stack_needs_a_sector_axis():
    with pytest.raises(ModelError, match="n_sectors"):
        best_server_sinr([-80.0, -90.0], loading=0.5, noise_dbm=-100.0)


levels = st.one_of(st.floats(-140.0, -40.0), st.just(float("nan")))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_sec=st.integers(1, 5), n_pix=st.integers(1, 6), loading=st.floats(0.0, 1.0),
       noise=st.floats(-140.0, -90.0))
def test_sinr_never_exceeds_snr(data, n_sec, n_pix, loading, noise):
    rx = np.array(data.draw(st.lists(levels, min_size=n_sec * n_pix, max_size=n_sec * n_pix))).reshape(n_sec, n_pix)
    r = best_server_sinr(rx, loading=loading, noise_dbm=noise)
    ok = r.best_index >= 0
    snr = r.best_dbm[ok].astype(np.float64) - noise
    assert np.all(r.sinr_db[ok] <= snr + 1e-3)
    assert np.all(r.margin_db[ok] >= 0)
    assert np.all((r.n_within[ok] >= 1) & (r.n_within[ok] <= n_sec))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_sec=st.integers(1, 6), n_pix=st.integers(1, 6), loading=st.floats(0.0, 1.0),
       overlap=st.floats(0.0, 20.0))
def test_accumulator_equals_stack(data, n_sec, n_pix, loading, overlap):
    rx = np.array(data.draw(st.lists(levels, min_size=n_sec * n_pix, max_size=n_sec * n_pix))).reshape(n_sec, n_pix)
    stack = best_server_sinr(rx, loading=loading, noise_dbm=-110.0, overlap_db=overlap)
    acc = ServerAccumulator(n_pix, capacity=max(n_sec, 2))
    for s in range(n_sec):
        acc.add(rx[s], sector_index=s)
    streamed = acc.finish(loading=loading, noise_dbm=-110.0, overlap_db=overlap)
    np.testing.assert_array_equal(streamed.best_index, stack.best_index)
    np.testing.assert_array_equal(streamed.best_dbm, stack.best_dbm)
    np.testing.assert_array_equal(streamed.margin_db, stack.margin_db)
    np.testing.assert_array_equal(streamed.n_within, stack.n_within)
    np.testing.assert_allclose(streamed.sinr_db, stack.sinr_db, atol=1e-5, equal_nan=True)


def test_accumulator_windows_equal_a_stack_with_nan_outside():
    rng = np.random.default_rng(7)
    shape = (6, 7)
    windows = [((0, 0), (3, 4)), ((2, 3), (4, 4)), ((1, 1), (5, 2)), ((0, 0), (6, 7))]
    stack = np.full((len(windows), *shape), np.nan)
    acc = ServerAccumulator(shape, capacity=len(windows))
    for s, ((r0, c0), (h, w)) in enumerate(windows):
        tile = rng.uniform(-120, -60, size=(h, w))
        stack[s, r0:r0 + h, c0:c0 + w] = tile
        acc.add(tile, sector_index=s, origin=(r0, c0))
    a = acc.finish(loading=0.5, noise_dbm=-115.0, overlap_db=6.0)
    b = best_server_sinr(stack, loading=0.5, noise_dbm=-115.0, overlap_db=6.0)
    np.testing.assert_array_equal(a.best_index, b.best_index)
    np.testing.assert_array_equal(a.n_within, b.n_within)
    np.testing.assert_allclose(a.sinr_db, b.sinr_db, atol=1e-5)


def test_accumulator_overlap_count_saturates_at_capacity():
    rx = np.array([[-80.0], [-81.0], [-82.0], [-83.0]])
    acc = ServerAccumulator(1, capacity=2)
    for s in range(4):
        acc.add(rx[s], sector_index=s)
    r = acc.finish(loading=1.0, noise_dbm=-120.0, overlap_db=5.0)
    assert r.n_within[0] == 2 and r.n_within_cap == 2
    assert best_server_sinr(rx, loading=1.0, noise_dbm=-120.0, overlap_db=5.0).n_within[0] == 4
    # the interference still includes every sector
    np.testing.assert_allclose(r.sinr_db, best_server_sinr(rx, loading=1.0, noise_dbm=-120.0).sinr_db, atol=1e-5)


def test_accumulator_order_of_sectors_does_not_matter():
    rx = np.array([[-70.0, -90.0], [-75.0, -85.0], [-60.0, -100.0]])
    forward = ServerAccumulator(2)
    backward = ServerAccumulator(2)
    for s in range(3):
        forward.add(rx[s], sector_index=s)
        backward.add(rx[2 - s], sector_index=2 - s)
    a = forward.finish(loading=0.5, noise_dbm=-110.0)
    b = backward.finish(loading=0.5, noise_dbm=-110.0)
    assert a.best_index.tolist() == b.best_index.tolist() == [2, 1]
    np.testing.assert_allclose(a.sinr_db, b.sinr_db, atol=1e-5)


def test_accumulator_refuses_tiles_that_do_not_fit():
    acc = ServerAccumulator((3, 3))
    with pytest.raises(ModelError, match=r"does not fit.*; sector_index"):
        acc.add(np.zeros((2, 2)), sector_index=-1, origin=(2, 2))
    with pytest.raises(ModelError, match="capacity"):
        ServerAccumulator((3, 3), capacity=1)


# ------------------------------------------------------------------------ throughput


@pytest.mark.parametrize(("sinr_db", "se"), [
    (0.0, 0.6),                                 # 0.6 · log2(1 + 1)
    (10.0, 0.6 * math.log2(11.0)),              # 2.0757
    (-10.0, 0.6 * math.log2(1.1)),              # at SINR_min: 0.0825
    (-10.01, 0.0),                              # below SINR_min: nothing
    (30.0, 4.4),                                # clipped at the maximum
    (22.5, 4.4),                                # above SINR_max = 10·log10(2^(4.4/0.6) − 1) = 22.05 dB
])
def test_attenuated_shannon_points(sinr_db, se):
    assert spectral_efficiency(sinr_db) == pytest.approx(se, abs=1e-9)


def test_sinr_max_of_the_bound():
    assert DOWNLINK_TR36942.sinr_max_db == pytest.approx(22.05, abs=0.01)
    assert spectral_efficiency(DOWNLINK_TR36942.sinr_max_db) == pytest.approx(4.4)


def test_uplink_parameters():
    assert spectral_efficiency(0.0, params=UPLINK_TR36942) == pytest.approx(0.4)
    assert spectral_efficiency(40.0, params=UPLINK_TR36942) == pytest.approx(2.0)


def test_throughput_is_efficiency_times_bandwidth_times_factor():
    assert throughput_mbps(0.0, bandwidth_mhz=10.0) == pytest.approx(6.0)
    assert throughput_mbps(30.0, bandwidth_mhz=20.0, efficiency_factor=2.0) == pytest.approx(176.0)
    out = throughput_mbps(np.array([np.nan, -20.0]), bandwidth_mhz=10.0)
    assert np.isnan(out[0]) and out[1] == 0.0


def test_configurable_bound():
    params = ShannonParams(alpha=1.0, sinr_min_db=-20.0, max_se_bps_hz=8.0)
    assert spectral_efficiency(0.0, params=params) == pytest.approx(1.0)
    with pytest.raises(ModelError, match=r"alpha must be in \(0, 1\].*max_se_bps_hz"):
        spectral_efficiency(0.0, params=ShannonParams(alpha=0.0, sinr_min_db=-10.0, max_se_bps_hz=-1.0))


@settings(max_examples=100, deadline=None)
@given(a=st.floats(-40.0, 60.0), b=st.floats(-40.0, 60.0))
def test_throughput_is_monotonic_in_sinr(a, b):
    lo, hi = min(a, b), max(a, b)
    assert throughput_mbps(lo, bandwidth_mhz=10.0) <= throughput_mbps(hi, bandwidth_mhz=10.0)


def test_uplink_sinr_hand_value():
    # 23 dBm + 17 dBi − 140 dB − (−174 + 60 + 5 + 3) = −100 + 106 = 6 dB
    assert uplink_sinr_db(140.0, ul_bandwidth_mhz=1.0, bs_gain_dbi=17.0) == pytest.approx(6.0)
    # a 3 dB pattern loss adds to the path loss
    assert uplink_sinr_db(137.0, ul_bandwidth_mhz=1.0, bs_gain_dbi=17.0, pattern_gain_db=-3.0) == pytest.approx(6.0)
    with pytest.raises(ModelError, match=r"ul_bandwidth_mhz must be > 0.*pattern_gain_db"):
        uplink_sinr_db(140.0, ul_bandwidth_mhz=0.0, bs_gain_dbi=17.0, pattern_gain_db=3.0)


# ------------------------------------------------------------------------ speed tiers


def test_fcc_tiers():
    assert [(t.down_mbps, t.up_mbps) for t in FCC_BDC_TIERS] == [(5.0, 1.0), (7.0, 1.0), (35.0, 3.0)]
    down = np.array([[4.9, 5.0, 7.0], [100.0, 35.0, np.nan]])
    up = np.array([[9.0, 1.0, 1.0], [2.9, 3.0, 5.0]])
    out = speed_tier_class(down, up)
    assert out.dtype == np.int8
    assert out.tolist() == [[0, 1, 2], [2, 3, -1]]


def test_tiers_must_ascend():
    with pytest.raises(ModelError, match="tiers must ascend"):
        speed_tier_class([10.0], [1.0], tiers=(SpeedTier("b", 7.0, 1.0), SpeedTier("a", 5.0, 1.0)))


def test_uplink_budget_hand_values():
    # 20 MHz carrier, uplink capped at 20 MHz: N = −174 + 73.010 + 5 + 3 = −92.990 dBm;
    # coupling 120 dB: SINR = 23 + 17 − 120 + 92.990 = 12.990 dB; 0.4·log2(1 + 19.907) = 1.7536 bit/s/Hz × 20
    # 40 MHz carrier: capped at 20 MHz, the same; NaN coupling stays NaN
    ul = uplink_budget(np.array([120.0, 120.0, np.nan]), np.array([20.0, 40.0, 20.0]), LinkParams())
    assert ul.sinr_db[:2] == pytest.approx([12.990, 12.990], abs=1e-3)
    assert ul.mbps[:2] == pytest.approx([0.4 * math.log2(1 + 10 ** 1.2990) * 20.0] * 2, rel=1e-4)
    assert np.isnan(ul.sinr_db[2]) and np.isnan(ul.mbps[2])
    np.testing.assert_array_equal(uplink_budget_mbps(np.array([120.0]), 20.0, LinkParams()), ul.mbps[:1])
    # the same formula as the public SINR
    assert ul.sinr_db[0] == pytest.approx(uplink_sinr_db(120.0, ul_bandwidth_mhz=20.0, bs_gain_dbi=17.0), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_sec=st.integers(1, 6), n_pix=st.integers(1, 6), loading=st.floats(0.0, 1.0),
       overlap=st.floats(0.0, 20.0))
def test_best_server_equals_the_pixel_by_pixel_oracle(data, n_sec, n_pix, loading, overlap):
    rx = np.array(data.draw(st.lists(levels, min_size=n_sec * n_pix, max_size=n_sec * n_pix))).reshape(n_sec, n_pix)
    got = best_server_sinr(rx, loading=loading, noise_dbm=-110.0, overlap_db=overlap)
    want = best_server_stack(rx, loading=loading, noise_dbm=-110.0, overlap_db=overlap)
    np.testing.assert_array_equal(got.best_index, want.best_index)
    np.testing.assert_array_equal(got.best_dbm, want.best_dbm)
    np.testing.assert_array_equal(got.margin_db, want.margin_db)
    np.testing.assert_array_equal(got.n_within, want.n_within)
    np.testing.assert_allclose(got.sinr_db, want.sinr_db, atol=1e-5, equal_nan=True)
