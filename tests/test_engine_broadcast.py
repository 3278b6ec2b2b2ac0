"""Broadcast / trunking coverage (:mod:`citycov.engine.broadcast`) and its table reader (:mod:`citycov.io.broadcast`).

References never come from the engine: free space is worked by hand from E = √(30·P)/d, and the
P.1812 and ITM cells are checked against the validated point-to-point wrappers on profiles built
here with SciPy.
"""

from __future__ import annotations

import doctest
import importlib
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
from scipy.ndimage import map_coordinates

from citycov.engine.broadcast import BroadcastResult, broadcast_coverage
from citycov.engine.exact import ItmParams, P1812Params
from citycov.errors import CitycovWarning, CRSError, ModelError, RasterError, SiteTableError
from citycov.grid import GridSpec
from citycov.io.broadcast import read_transmitters
from citycov.propagation.itm import itm_p2p
from citycov.propagation.p1812 import p1812

REPO = Path(__file__).resolve().parent.parent
UTM49 = pyproj.CRS("EPSG:32649")
X0, Y0 = 500_000.0, 2_550_000.0  # on zone 49's central meridian (111° E): grid north = true north
CELL_M = 50.0
N_CELLS = 60
GRID = GridSpec.from_bounds((X0, Y0, X0 + N_CELLS * CELL_M, Y0 + N_CELLS * CELL_M), cell_m=CELL_M, crs=UTM49)
TOL_DB = 0.1


def tx_row(**overrides) -> dict:
    row = {"tx_id": "T1", "service": "dtv", "operator": "Test", "freq_mhz": 600.0, "erp_w": 1000.0,
           "height_m": 100.0, "x": X0 + 10.5 * CELL_M, "y": Y0 + N_CELLS * CELL_M - 30.5 * CELL_M}
    row.update(overrides)
    return row


def write_table(tmp_path, rows, name="tx.csv") -> str:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def read(tmp_path, rows, name="tx.csv"):
    return read_transmitters(write_table(tmp_path, rows, name), crs=UTM49, lon_column="x", lat_column="y")


def flat_dem(height_m=5.0) -> np.ndarray:
    return np.full(GRID.shape, height_m, dtype=np.float32)


def ridge_dem() -> np.ndarray:
    """A 10 m plain with a 70 m ridge running north-south at column 35 and a gentle rise to the east."""
    r, c = np.mgrid[0:N_CELLS, 0:N_CELLS].astype(np.float64)
    return (10.0 + 0.3 * c + 70.0 * np.exp(-(((c - 0.3 * r - 30.0) / 3.0) ** 2))).astype(np.float32)


def ref_profile(dem, row0, col0, row, col, cell_m):
    """(n, d_m, z) of the straight path, n = ceil(d / cell) intervals, bilinear heights (SciPy)."""
    d_m = math.hypot(row - row0, col - col0) * cell_m
    n = max(2, math.ceil(d_m / cell_m))
    t = np.arange(n + 1) / n
    coords = np.vstack([row0 + t * (row - row0), col0 + t * (col - col0)])
    return n, d_m, map_coordinates(np.asarray(dem, dtype=np.float64), coords, order=1)


def tx_position(frame):
    row_f, col_f = GRID.fractional_rowcol(frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    lon, lat = pyproj.Transformer.from_crs(UTM49, 4326, always_xy=True).transform(
        frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy())
    return float(row_f[0]), float(col_f[0]), float(lon[0]), float(lat[0])


# ----------------------------------------------------------------------------- 1. by hand


def test_free_space_by_hand(tmp_path):
    """1 kW e.r.p. at 600 MHz, 100 m mast, 10 m receiver, 1 km away over flat ground.

    E.i.r.p. = 1 kW × 1.6406 (the dipole's 2.15 dB) = 1640.6 W.  Free space: the power density
    is S = P / (4π d²) and E² = 120π S, so E = √(30 P) / d = √(30 × 1640.6) / 1000 m
    = 221.85 / 1000 = 0.22185 V/m = 20·log10(221 850 µV/m) = 106.92 dBµV/m.  The slant path
    (90 m of height difference) is 1004.0 m: 0.035 dB less, 106.89 dBµV/m.  P.1812's line-of-sight
    loss is free space with the constant rounded to 92.4 dB (exactly 92.448), so the engine gives
    0.05 dB more: 106.93 dBµV/m.
    """
    tx = read(tmp_path, [tx_row()])
    res = broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=1.2)
    eirp_w = 1000.0 * 10.0 ** (2.15 / 10.0)
    slant_m = math.hypot(1000.0, 100.0 - 10.0)
    by_hand = 20.0 * math.log10(math.sqrt(30.0 * eirp_w) / slant_m * 1e6)
    for row, col in ((30, 30), (10, 10)):  # 1 km east and 1 km north of the mast at (30, 10)
        got = float(res.field_dbuv_m[row, col])
        print(f"flat 1 km: E = {got:.3f} dBµV/m, free space by hand {by_hand:.3f} dBµV/m")
        assert got == pytest.approx(by_hand, abs=TOL_DB)
    assert 20.0 * math.log10(math.sqrt(30.0 * eirp_w) / 1000.0 * 1e6) == pytest.approx(106.92, abs=0.005)
    # the level an isotropic antenna receives: E − 20·log10(600) − 77.2193
    assert res.rx_level_dbm[30, 30] == pytest.approx(res.field_dbuv_m[30, 30] - 20 * math.log10(600.0) - 77.2193,
                                                     abs=1e-3)
    # reach: 1.2 km = 24 cells, nothing beyond
    assert np.isnan(res.field_dbuv_m[30, 10 + 25:]).all()
    assert (res.best_tx[30, 10 + 25:] == -1).all()


def test_output_contract(tmp_path):
    tx = read(tmp_path, [tx_row()])
    dem = ridge_dem()
    before = dem.copy()
    res = broadcast_coverage(tx, dem, GRID, service="dtv", rx_height_m=10.0, reach_km=1.0)
    assert isinstance(res, BroadcastResult)
    np.testing.assert_array_equal(dem, before)
    assert res.field_dbuv_m.shape == GRID.shape and res.field_dbuv_m.dtype == np.float32
    assert res.rx_level_dbm.dtype == np.float32
    assert res.best_tx.shape == GRID.shape and res.best_tx.dtype == np.int32
    assert ((res.best_tx >= 0) == np.isfinite(res.field_dbuv_m)).all()
    row = res.transmitters.iloc[0]
    assert row["ground_m"] == pytest.approx(dem[30, 10], abs=0.05)
    assert row["eirp_dbm"] == pytest.approx(62.15)
    assert row["served_cells"] == int((res.best_tx == 0).sum())
    prov = res.provenance
    assert prov["model"] == "p1812" and prov["reach_km"] == 1.0 and prov["transmitters"] == 1
    assert prov["parameters"]["time_percent"] == 50.0 and "pol" not in prov["parameters"]


# ----------------------------------------------------------------------------- 2. against the models

P1812_CASES = {
    # name: (reader overrides, broadcast_coverage keywords)
    "dtv-h-rooftop-p50": ({"service": "dtv"}, {"rx_height_m": 10.0, "time_percent": 50.0, "location_percent": 50.0,
                                               "p1812": P1812Params()}),
    "trunking-v-portable-p10-pL95-clutter": (
        {"service": "trunking", "freq_mhz": 858.0, "erp_w": 50.0, "height_m": 40.0, "polarisation": "v"},
        {"rx_height_m": 1.5, "time_percent": 10.0, "location_percent": 95.0,
         "p1812": P1812Params(clutter_height_m=10.0, zone=3, delta_n=50.0, n0=330.0)}),
}
CELLS = [(30, 20), (12, 40), (45, 45), (5, 5), (58, 33), (30, 55)]  # open ground, behind the ridge, far


@pytest.mark.parametrize("name", sorted(P1812_CASES))
def test_p1812_matches_point_to_point(tmp_path, name):
    over, kw = P1812_CASES[name]
    # an off-centre mast: its profile starts between cell centres
    tx = read(tmp_path, [tx_row(x=X0 + 10.8 * CELL_M, y=Y0 + N_CELLS * CELL_M - 30.3 * CELL_M, **over)])
    dem = ridge_dem()
    # each cell's own profile: the per-cell geometry (the radial one is checked in test_engine_radial_exact.py)
    res = broadcast_coverage(tx, dem, GRID, service=over["service"], reach_km=3.5, geometry="cell", **kw)
    row0, col0, lon, lat = tx_position(tx)
    params = kw["p1812"]
    f_ghz = float(tx["freq_mhz"].iloc[0]) / 1000.0
    h_tx, h_rx = float(tx["height_m"].iloc[0]), kw["rx_height_m"]
    # P.1812-6 location variability of a square area one cell wide: (0.024 f + 0.52)·w^0.28·u(h)
    u = min(max(1.0 - (h_rx - params.clutter_height_m) / 10.0, 0.0), 1.0)
    sigma_l = (0.024 * f_ghz + 0.52) * CELL_M ** 0.28 * u
    erp_kw = float(tx["erp_w"].iloc[0]) / 1000.0
    for row, col in CELLS:
        n, d_m, z = ref_profile(dem, row0, col0, row, col, CELL_M)
        ref = p1812(np.linspace(0.0, d_m / 1000.0, n + 1), z, np.full(n + 1, params.clutter_height_m),
                    np.full(n + 1, params.zone), freq_ghz=f_ghz, p=kw["time_percent"], pl=kw["location_percent"],
                    htg_m=h_tx, hrg_m=h_rx, pol={"h": 1, "v": 2}[tx["polarisation"].iloc[0]], dn=params.delta_n,
                    n0=params.n0, phi_t_deg=lat, phi_r_deg=lat, lam_t_deg=lon, lam_r_deg=lon, sigma_l_db=sigma_l,
                    ptx_kw=erp_kw)
        got = float(res.field_dbuv_m[row, col])
        print(f"{name} cell {(row, col)}: E = {got:.3f}, P.1812 Ep = {ref.ep_dbuv_m:.3f} dBµV/m ({ref.path_type})")
        assert got == pytest.approx(ref.ep_dbuv_m, abs=TOL_DB)


def test_itm_matches_point_to_point(tmp_path):
    tx = read(tmp_path, [tx_row(x=X0 + 10.8 * CELL_M, y=Y0 + N_CELLS * CELL_M - 30.3 * CELL_M)])
    dem = ridge_dem()
    itm = ItmParams(climate=3, mdvar=3)
    res = broadcast_coverage(tx, dem, GRID, service="dtv", model="itm", rx_height_m=10.0, reach_km=3.5, itm=itm,
                             time_percent=50.0, location_percent=90.0, geometry="cell")
    row0, col0, _, _ = tx_position(tx)
    for row, col in CELLS:
        n, d_m, z = ref_profile(dem, row0, col0, row, col, CELL_M)
        lb = itm_p2p([n, d_m / n, *z], 100.0, 10.0, climate=3, n0=itm.n0, freq_mhz=600.0, pol=0,  # h: ITM's 0
                     epsilon=itm.epsilon, sigma=itm.sigma, mdvar=3, time=50.0, location=90.0,
                     situation=itm.situation).loss_db
        expected = 62.15 - lb + 20.0 * math.log10(600.0) + 77.2193
        assert float(res.field_dbuv_m[row, col]) == pytest.approx(expected, abs=TOL_DB)


# ----------------------------------------------------------------------------- 3. combination, pattern


def test_strongest_transmitter_wins(tmp_path):
    rows = [tx_row(tx_id="A", freq_mhz=530.0, erp_w=2000.0),
            tx_row(tx_id="B", freq_mhz=754.0, erp_w=500.0, height_m=60.0, x=X0 + 45.5 * CELL_M,
                   y=Y0 + N_CELLS * CELL_M - 20.5 * CELL_M),
            tx_row(tx_id="TR", service="trunking", freq_mhz=860.0, erp_w=50.0)]  # another service: ignored
    both = read(tmp_path, rows)
    dem = ridge_dem()
    kw = {"service": "dtv", "rx_height_m": 10.0, "reach_km": 2.0}
    res = broadcast_coverage(both, dem, GRID, **kw)
    assert list(res.transmitters["tx_id"]) == ["A", "B"]
    single = [broadcast_coverage(both[both["tx_id"] == t], dem, GRID, **kw).field_dbuv_m for t in ("A", "B")]
    stack = np.stack(single)
    np.testing.assert_array_equal(res.field_dbuv_m, np.fmax(stack[0], stack[1]))
    some = np.isfinite(stack).any(axis=0)
    expected_idx = np.where(some, np.nanargmax(np.where(np.isfinite(stack), stack, -np.inf), axis=0), -1)
    np.testing.assert_array_equal(res.best_tx, expected_idx)
    assert {0, 1} <= set(np.unique(res.best_tx).tolist())
    # each cell's isotropic level uses its own server's frequency
    freq = np.array([530.0, 754.0])[res.best_tx[some]]
    np.testing.assert_allclose(res.rx_level_dbm[some],
                               res.field_dbuv_m[some] - 20.0 * np.log10(freq) - 77.2193, atol=1e-3)


def test_active_mask_keeps_only_active_cells(tmp_path):
    tx = read(tmp_path, [tx_row()])
    active = np.zeros(GRID.shape, dtype=bool)
    active[:, :20] = True
    res = broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=2.0, active=active)
    full = broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=2.0)
    assert np.isnan(res.field_dbuv_m[:, 20:]).all() and (res.best_tx[:, 20:] == -1).all()
    np.testing.assert_array_equal(res.field_dbuv_m[:, :20], full.field_dbuv_m[:, :20])


def test_sector_pattern_front_to_back(tmp_path):
    """A 65° beam pointing east: east cells as omni, west cells 30 dB (front-to-back) lower, north −12 dB·(90/65)²
    capped at 30; on the central meridian grid north is true north."""
    omni = read(tmp_path, [tx_row(x=X0 + 30.5 * CELL_M)], "omni.csv")
    east = read(tmp_path, [tx_row(x=X0 + 30.5 * CELL_M, azimuth_deg=90.0, h_beamwidth_deg=65.0)], "east.csv")
    kw = {"service": "dtv", "rx_height_m": 10.0, "reach_km": 1.4}
    e_omni = broadcast_coverage(omni, flat_dem(), GRID, **kw).field_dbuv_m
    e_east = broadcast_coverage(east, flat_dem(), GRID, **kw).field_dbuv_m
    assert e_east[30, 50] == pytest.approx(e_omni[30, 50], abs=1e-3)
    assert e_east[30, 10] == pytest.approx(e_omni[30, 10] - 30.0, abs=1e-3)
    # the mast is 1.5 km east of the central meridian: a 0.006° convergence, 0.003 dB on this flank
    assert e_east[10, 30] == pytest.approx(e_omni[10, 30] - min(12.0 * (90.0 / 65.0) ** 2, 30.0), abs=0.01)


def test_vertical_pattern_and_tilt(tmp_path):
    """A 10° vertical beam tilted 5° down: at 1 km from a 100 m mast the receiver at 10 m is
    atan(90 / 1000) = 5.14° below the horizon, so −12·(0.14/10)² ≈ 0 dB; next to the mast (100 m
    away, 42° down) the side-lobe cap of 30 dB applies."""
    omni = read(tmp_path, [tx_row(x=X0 + 30.5 * CELL_M)], "omni.csv")
    tilted = read(tmp_path, [tx_row(x=X0 + 30.5 * CELL_M, v_beamwidth_deg=10.0, downtilt_deg=5.0)], "tilt.csv")
    kw = {"service": "dtv", "rx_height_m": 10.0, "reach_km": 1.2}
    e_omni = broadcast_coverage(omni, flat_dem(), GRID, **kw).field_dbuv_m
    e_tilt = broadcast_coverage(tilted, flat_dem(), GRID, **kw).field_dbuv_m
    elev = math.degrees(math.atan2(90.0, 1000.0))
    assert e_tilt[30, 50] == pytest.approx(e_omni[30, 50] - 12.0 * ((elev - 5.0) / 10.0) ** 2, abs=1e-3)
    assert e_tilt[30, 32] == pytest.approx(e_omni[30, 32] - 30.0, abs=1e-3)


# ----------------------------------------------------------------------------- 4. bad input


def test_reader_lists_every_problem(tmp_path):
    rows = [
        tx_row(tx_id="A", service="tv"),                 # line 2: unknown service
        tx_row(tx_id="A"),                                # line 3: duplicate id
        tx_row(tx_id="C", freq_mhz=5000.0),               # line 4: frequency out of range
        tx_row(tx_id="D", height_m=0.5, polarisation="x"),  # line 5: height, polarisation
    ]
    path = write_table(tmp_path, [{k: v for k, v in r.items() if k != "erp_w"} for r in rows])
    with pytest.raises(SiteTableError) as info:
        read_transmitters(path, crs=UTM49, lon_column="x", lat_column="y")
    msg = str(info.value)
    print(msg)
    assert "missing power column: give erp_w" in msg
    assert "service: expected one of ['dtv', 'trunking'] at line 2 (found ['tv'])" in msg
    assert "tx_id: duplicate values ['A'] at line 2, line 3" in msg
    assert "freq_mhz: outside 30.0..3000.0 MHz at line 4 (found [5000.0])" in msg
    assert "height_m: outside 1.0..600.0 m at line 5" in msg
    assert "polarisation: expected one of ['h', 'v'] or blank at line 5 (found ['x'])" in msg


def test_reader_power_and_beam_consistency(tmp_path):
    rows = [
        tx_row(tx_id="A", eirp_dbm=70.0),                                  # line 2: both powers
        tx_row(tx_id="B", erp_w=np.nan),                                   # line 3: no power
        tx_row(tx_id="C", azimuth_deg=90.0),                               # line 4: no beamwidth
        tx_row(tx_id="D", h_beamwidth_deg=65.0),                           # line 5: beamwidth, omni
        tx_row(tx_id="E", downtilt_deg=3.0),                               # line 6: tilt, no vertical beam
        tx_row(tx_id="F", erp_w=-5.0),                                     # line 7: negative power
    ]
    with pytest.raises(SiteTableError) as info:
        read(tmp_path, rows)
    msg = str(info.value)
    print(msg)
    assert "erp_w and eirp_dbm both given at line 2" in msg
    assert "no power at line 3" in msg
    assert "h_beamwidth_deg: missing at line 4" in msg
    assert "h_beamwidth_deg: given at line 5" in msg
    assert "downtilt_deg: given at line 6 without v_beamwidth_deg" in msg
    assert "erp_w: outside 0.01..1000000.0 W at line 7 (found [-5.0])" in msg


def test_reader_defaults_and_conversion(tmp_path):
    rows = [tx_row(tx_id="D1", erp_w=10_000.0), tx_row(tx_id="T1", service="trunking", erp_w=np.nan, eirp_dbm=47.0),
            tx_row(tx_id="D2", polarisation="v", azimuth_deg=45.0, h_beamwidth_deg=90.0)]
    tx = read(tmp_path, rows)
    assert tx["eirp_dbm"].tolist() == pytest.approx([72.15, 47.0, 62.15])
    assert tx["polarisation"].tolist() == ["h", "v", "v"]
    assert tx["omni"].tolist() == [True, True, False]


def test_shipped_synthetic_table_reads():
    tx = read_transmitters(REPO / "data/sites/guangzhou_broadcast_synthetic.csv", crs="EPSG:4326", to_crs=UTM49)
    assert tx.crs == UTM49
    counts = tx["service"].value_counts()
    assert counts["dtv"] == 6 and counts["trunking"] == 20
    trunk = tx[tx["service"] == "trunking"]
    assert trunk["freq_mhz"].between(851.0, 866.0).all() and trunk["erp_w"].between(20.0, 100.0).all()
    assert (tx["polarisation"] == np.where(tx["service"] == "dtv", "h", "v")).all()


def test_nan_dem_under_transmitter(tmp_path):
    tx = read(tmp_path, [tx_row(tx_id="HILL-7")])
    dem = flat_dem()
    dem[29:32, 9:12] = np.nan
    with pytest.raises(RasterError, match=r"no elevation under transmitters \['HILL-7'\]"):
        broadcast_coverage(tx, dem, GRID, service="dtv", rx_height_m=10.0, reach_km=1.0)


def test_wrapper_arguments_listed(tmp_path):
    tx = read(tmp_path, [tx_row()])
    with pytest.raises(ModelError, match=r"service: unknown 'tv'; expected one of \['dtv', 'trunking'\]; "
                                         r"model: unknown 'hata'; expected one of \['itm', 'p1812'\]"):
        broadcast_coverage(tx, flat_dem(), GRID, service="tv", model="hata", rx_height_m=10.0, reach_km=1.0)
    with pytest.raises(ModelError, match=r"time_percent must be in \[1, 50\] % for p1812, got 90.0; "
                                         r"reach_km must be a positive number of km, got -1.0"):
        broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=-1.0, time_percent=90.0)
    with pytest.raises(ModelError, match=r"p1812.time_percent = 10.0 contradicts time_percent = 50.0.*"
                                         r"p1812.pol = 1 is not used"):
        broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=1.0,
                           p1812=P1812Params(time_percent=10.0, pol=1))
    with pytest.raises(SiteTableError, match=r"no transmitters of service 'trunking' \(found \['dtv'\]\)"):
        broadcast_coverage(tx, flat_dem(), GRID, service="trunking", rx_height_m=1.5, reach_km=1.0)
    with pytest.raises(CRSError, match=r"pass to_crs=grid\.crs"):
        broadcast_coverage(tx.to_crs(4326), flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=1.0)


def test_transmitter_off_grid_dropped_with_warning(tmp_path):
    tx = read(tmp_path, [tx_row(), tx_row(tx_id="FAR", x=X0 - 5000.0)])
    with pytest.warns(CitycovWarning, match=r"1 dtv transmitters outside the analysis grid were dropped .*'FAR'"):
        res = broadcast_coverage(tx, flat_dem(), GRID, service="dtv", rx_height_m=10.0, reach_km=1.0)
    assert list(res.transmitters["tx_id"]) == ["T1"] and res.provenance["dropped_outside"] == ["FAR"]


def test_reach_disc_bounds_the_work(tmp_path):
    """Work grows with the reach disc, not the grid: only cells within reach_km get a value."""
    tx = read(tmp_path, [tx_row(x=X0 + 30.5 * CELL_M)])
    kw = {"service": "dtv", "rx_height_m": 10.0}
    broadcast_coverage(tx, ridge_dem(), GRID, reach_km=0.5, **kw)  # warm-up (JIT cache load)
    t0 = time.perf_counter()
    small = broadcast_coverage(tx, ridge_dem(), GRID, reach_km=0.5, **kw)
    t1 = time.perf_counter()
    big = broadcast_coverage(tx, ridge_dem(), GRID, reach_km=1.45, **kw)
    t2 = time.perf_counter()
    assert np.isfinite(small.field_dbuv_m).sum() < np.isfinite(big.field_dbuv_m).sum() / 5
    print(f"0.5 km: {t1 - t0:.3f} s, 1.45 km: {t2 - t1:.3f} s")


@pytest.mark.parametrize("name", ["citycov.engine.broadcast", "citycov.io.broadcast"])
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(REPO)  # the reader's example opens the shipped table by its repository path
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
