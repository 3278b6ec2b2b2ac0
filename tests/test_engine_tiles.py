"""The tiled engine: results independent of the tile size, ray wedges that hold every cell's
nearest ray, the co-channel reach limit, the study-area mask, the receiver loss grid, MSI
pattern files in the engine and the P.1812 exact mode."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyproj
import pytest
from scipy.ndimage import map_coordinates

from citycov.config import RadioConfig
from citycov.engine.antenna import sector_pattern_db, sector_pattern_msi
from citycov.engine.exact import P1812Params
from citycov.engine.linkbudget import LinkParams
from citycov.engine.tiles import ReachLimit, fan_size, fan_wedge, tile_windows
from citycov.errors import ModelError
from citycov.propagation.p1812 import p1812
from tests import oracles_engine
from tests.test_engine_cellular import ALL_EXACT, grid_of, rough_dem, run, sectors_at

N = 120
CELL = 30.0


@pytest.fixture(scope="module")
def scene():
    dem = rough_dem(N, seed=11, relief_m=150.0)
    grid = grid_of(N, CELL)
    rows = []
    for k, (dr, dc) in enumerate([(0, 0), (-1500, 900), (1200, -1400), (600, 1700)]):
        for az in (0.0, 120.0, 240.0):
            rows.append({"site_id": f"S{k}", "azimuth_deg": az, "dx": dc, "dy": dr, "freq_mhz": 1800.0,
                         "h_beamwidth_deg": 65.0, "v_beamwidth_deg": 10.0, "downtilt_deg": 3.0})
        rows.append({"site_id": f"S{k}", "freq_mhz": 900.0, "dx": dc, "dy": dr, "technology": "3G"})
    sectors = sectors_at(grid, (N // 2, N // 2), rows)
    sectors["sector_id"] = [f"x{i}" for i in range(len(sectors))]
    return dem, grid, sectors


def _same(a, b):
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0), rtol=0, atol=1e-4)


@pytest.mark.parametrize("diffraction", ["knife_edge", "deygout", "bullington"])
def test_results_do_not_depend_on_tile_size(scene, diffraction):
    dem, grid, sectors = scene
    whole = run(sectors, dem, grid, diffraction=diffraction, tile_cells=4096, link=LinkParams())
    tiled = run(sectors, dem, grid, diffraction=diffraction, tile_cells=17, link=LinkParams())
    _same(whole.best_dbm, tiled.best_dbm)
    np.testing.assert_array_equal(whole.best_sector, tiled.best_sector)
    np.testing.assert_array_equal(whole.cover_bits, tiled.cover_bits)
    for name in ("sinr_db", "margin_db", "throughput_mbps", "uplink_mbps"):
        _same(getattr(whole, name), getattr(tiled, name))
    np.testing.assert_array_equal(whole.speed_tier, tiled.speed_tier)
    np.testing.assert_array_equal(whole.overlap, tiled.overlap)


@pytest.mark.parametrize("seed", range(6))
def test_wedge_holds_every_cells_nearest_ray(seed):
    """Brute force: for random sites and tiles, the nearest ray of every cell of the tile
    within reach lies inside the wedge (so the kernel never needs its edge fallback)."""
    rng = np.random.default_rng(seed)
    for _ in range(40):
        row0, col0 = rng.uniform(-50, 250, 2)
        r0, c0 = rng.integers(0, 180, 2)
        size = int(rng.integers(16, 80))
        r1, c1 = r0 + size, c0 + size
        reach = float(rng.uniform(20, 400))
        n_rays, n_steps = fan_size(reach)
        lo, n_wedge, steps = fan_wedge(row0, col0, int(r0), int(r1), int(c0), int(c1), n_rays, n_steps)
        rr, cc = np.mgrid[r0:r1, c0:c1]
        dr, dc = rr - row0, cc - col0
        d = np.hypot(dr, dc)
        keep = d <= reach
        theta = np.arctan2(dc, -dr) % (2 * math.pi)
        ray = (theta / (2 * math.pi) * n_rays + 0.5).astype(int) % n_rays
        local = (ray - lo) % n_rays
        assert (local[keep] < n_wedge).all()
        if keep.any():
            assert steps >= int(d[keep].max() - 0.5)


def test_tile_windows_cover_the_grid_once():
    seen = np.zeros((70, 45), dtype=int)
    for r0, r1, c0, c1 in tile_windows(70, 45, 16):
        seen[r0:r1, c0:c1] += 1
    assert (seen == 1).all()
    with pytest.raises(ModelError, match="tile_cells"):
        list(tile_windows(10, 10, 4))


def test_reach_limit_by_hand():
    """Six sites 1 km apart on a line (plus one 10 km off): with neighbours = 2 and factor 3,
    the cap of the site at 0 km is 3 × 2 km = 6 km; min_km floors it."""
    x = np.array([0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 15000.0])
    y = np.zeros(7)
    ids = np.array([f"s{i}" for i in range(7)])
    carrier = np.zeros(7, dtype=np.int64)
    cap = ReachLimit(neighbours=2, factor=3.0, min_km=1.0).limit_m(x, y, carrier, ids)
    np.testing.assert_allclose(cap, [6000.0, 3000.0, 3000.0, 3000.0, 3000.0, 6000.0, 3.0 * 11000.0])
    cap = ReachLimit(neighbours=2, factor=3.0, min_km=5.0).limit_m(x, y, carrier, ids)
    np.testing.assert_allclose(cap[:6], [6000.0, 5000.0, 5000.0, 5000.0, 5000.0, 6000.0])
    # another carrier with too few sites is not capped
    carrier[:2] = 1
    cap = ReachLimit(neighbours=2, factor=3.0, min_km=1.0).limit_m(x, y, carrier, ids)
    assert np.isinf(cap[:2]).all()
    with pytest.raises(ModelError, match="reach limit"):
        ReachLimit(neighbours=2, factor=0.5)


def test_reach_limit_stops_far_cells(scene):
    dem, grid, sectors = scene
    free = run(sectors, dem, grid)
    capped = run(sectors, dem, grid, reach_neighbours=1, reach_factor=1.0, reach_min_km=0.5)
    assert np.isfinite(capped.best_dbm).sum() < np.isfinite(free.best_dbm).sum()
    assert not (np.isfinite(capped.best_dbm) & np.isnan(free.best_dbm)).any()
    # a cap beyond every reach changes nothing
    loose = run(sectors, dem, grid, reach_neighbours=1, reach_factor=1.0, reach_min_km=50.0)
    _same(loose.best_dbm, free.best_dbm)


def test_active_mask_and_receiver_loss(scene):
    dem, grid, sectors = scene
    base = run(sectors, dem, grid)
    active = np.zeros(dem.shape, dtype=bool)
    active[30:90, 20:70] = True
    part = run(sectors, dem, grid, active=active)
    assert np.isnan(part.best_dbm[:, ~active]).all()
    _same(part.best_dbm[:, active], base.best_dbm[:, active])
    lossy = run(sectors, dem, grid, rx_loss_db=np.full(dem.shape, 7.0), radio=RadioConfig(floor_dbm=-200.0,
                                                                                             max_range_km=3.0))
    ref = run(sectors, dem, grid, radio=RadioConfig(floor_dbm=-200.0, max_range_km=3.0))
    served = np.isfinite(ref.best_dbm)
    np.testing.assert_allclose(lossy.best_dbm[served], ref.best_dbm[served] - 7.0, atol=2e-4)


def test_msi_pattern_in_engine_matches_3gpp_model():
    """A sector whose MSI file is the 3GPP pattern exported at 1° steps gives the 3GPP
    model's levels up to the linear interpolation between whole degrees."""
    dem = np.full((N, N), 20.0, dtype=np.float32)
    grid = grid_of(N, CELL)
    common = {"azimuth_deg": 60.0, "h_beamwidth_deg": 65.0, "v_beamwidth_deg": 10.0, "downtilt_deg": 0.0}
    model = run(sectors_at(grid, (60, 60), [common]), dem, grid)
    pattern = sector_pattern_msi(gain_dbi=17.0, h_beamwidth_deg=65.0, v_beamwidth_deg=10.0, front_to_back_db=30.0)
    with_file = sectors_at(grid, (60, 60), [{**common, "antenna_pattern": "kat"}])
    msi = run(with_file, dem, grid, patterns={"kat": pattern})
    served = np.isfinite(model.best_dbm)
    diff = np.abs(msi.best_dbm[served] - model.best_dbm[served])
    # 12·x² between whole degrees: at most 12·(0.5/65)²·... well under 0.1 dB in the main lobe
    assert diff.max() < 0.1
    # the back of the antenna is the file's front-to-back ratio below the front, as the model's
    assert abs(float(np.nanmax(msi.best_dbm)) - float(np.nanmax(model.best_dbm))) < 1e-3
    with pytest.raises(ModelError, match="antenna_pattern"):
        run(with_file, dem, grid)
    assert sector_pattern_db(0.0, 0.0) == 0.0


def test_p1812_exact_mode_matches_public_function():
    dem = rough_dem(80, seed=5, relief_m=90.0)
    grid = grid_of(80, CELL)
    sectors = sectors_at(grid, (40, 40), [{"freq_mhz": 700.0, "height_m": 40.0}])
    # each cell's own profile: the per-cell geometry (the radial one: tests/test_engine_radial_exact.py)
    res = run(sectors, dem, grid, mode=ALL_EXACT, exact_model="p1812", p1812=P1812Params(),
              radio=RadioConfig(floor_dbm=-200.0, max_range_km=1.1), exact_geometry="cell")
    assert res.sectors["model"].tolist() == ["p1812"]
    eirp_ref = float(res.sectors["ref_signal_eirp_dbm"].iloc[0])
    lon_lat = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True)
    x0, y0 = grid.xy(np.array([40]), np.array([40]))
    lat = lon_lat.transform(x0[0], y0[0])[1]
    z0 = float(dem[40, 40])
    checked = 0
    for row, col in [(40, 70), (10, 40), (60, 20), (75, 55), (20, 20)]:
        d_cells = math.hypot(row - 40, col - 40)
        if d_cells * CELL > 1100.0:
            continue
        n = max(2, math.ceil(d_cells - 1e-9))
        t = np.arange(n + 1) / n
        z = map_coordinates(dem.astype(np.float64), [40 + t * (row - 40), 40 + t * (col - 40)], order=1)
        ref = p1812(t * d_cells * CELL / 1000.0, z, np.zeros(n + 1), np.full(n + 1, 4), freq_ghz=0.7, p=50.0,
                    htg_m=40.0, hrg_m=1.5, pol=2, phi_t_deg=lat, phi_r_deg=lat,
                    lam_t_deg=113.0, lam_r_deg=113.0, pl=50.0, dn=45.0, n0=325.0)
        elev = math.degrees(math.atan2(z0 + 40.0 - float(dem[row, col]) - 1.5, d_cells * CELL))
        gain = sector_pattern_db(0.0, elev, omni=True, v_beamwidth_deg=65.0, front_to_back_db=30.0,
                                 vertical_sidelobe_db=30.0)
        level = eirp_ref + gain - ref.lb_db
        assert res.best_dbm[1, row, col] == pytest.approx(level, abs=0.1)
        checked += 1
    assert checked >= 3


def test_blocked_fan_equals_ray_by_ray_hull():
    """The sample-major, block-built fan equals :func:`build_ray` run on each ray's heights."""
    from citycov.engine import _terrain_kernels

    dem = rough_dem(90, seed=2).astype(np.float64)
    dem[40:44, 60:63] = np.nan
    n_rays, n_steps = fan_size(40.0)
    zr, prev, top, hz = oracles_engine.ray_fan(dem, 45.3, 44.8, float(dem[45, 45]) + 30.0, CELL, n_rays, n_steps,
                                        4 / 3 * 6_371_000.0, 1e-4)
    assert zr.shape == (n_steps + 1, n_rays)
    assert np.isnan(zr).any()
    for r in range(0, n_rays, 7):
        p = np.empty(n_steps + 1, np.int32)
        t = np.empty(n_steps + 1, np.int32)
        h = np.empty(n_steps + 1, np.int32)
        _terrain_kernels.build_ray(np.ascontiguousarray(zr[:, r]), p, t, h, 1e-4 * CELL)
        np.testing.assert_array_equal(prev[:, r], p)
        np.testing.assert_array_equal(top[:, r], t)
        np.testing.assert_array_equal(hz[:, r], h)
    # a wedge is those columns of the whole fan, and a shorter one their first rows
    w = oracles_engine.ray_wedge(dem, 45.3, 44.8, float(dem[45, 45]) + 30.0, CELL, n_rays, n_rays - 5, 12, 20,
                          4 / 3 * 6_371_000.0, 1e-4)
    cols = (np.arange(12) + n_rays - 5) % n_rays
    np.testing.assert_array_equal(w[0], zr[:21, cols])
    np.testing.assert_array_equal(w[1], prev[:21, cols])


def test_serving_rasters_name_the_carrier_of_the_speeds(scene):
    """With one carrier per technology the serving level and sector are the best server's;
    the coupling loss from them reproduces the uplink budget of the link parameters."""
    dem, grid, sectors = scene
    link = LinkParams()
    res = run(sectors, dem, grid, link=link)
    served = res.serving_sector >= 0
    assert served.any()
    np.testing.assert_array_equal(res.serving_sector, res.best_sector)
    _same(res.serving_dbm, res.best_dbm)
    t = 1  # 4G, 10 MHz
    sel = served[t]
    ref = res.sectors["ref_signal_eirp_dbm"].to_numpy()
    # the table's EIRP column is rounded to 0.01 dB; the engine uses the exact value
    coupling = ref[res.serving_sector[t][sel]] - res.serving_dbm[t][sel]
    bw = res.sectors["bandwidth_mhz"].to_numpy()[res.serving_sector[t][sel]]
    noise = -174.0 + 10 * np.log10(np.minimum(bw, link.ul_bandwidth_max_mhz) * 1e6) + link.bs_noise_figure_db \
        + link.ul_interference_margin_db
    ul_sinr = link.ue_eirp_dbm + link.bs_gain_dbi - coupling - noise
    se = np.where(ul_sinr < link.uplink.sinr_min_db, 0.0,
                  np.minimum(link.uplink.alpha * np.log2(1 + 10 ** (ul_sinr / 10)), link.uplink.max_se_bps_hz))
    clear = np.abs(ul_sinr - link.uplink.sinr_min_db) > 0.02  # the table's EIRP is rounded to 0.01 dB
    assert clear.mean() > 0.99
    np.testing.assert_allclose(res.uplink_mbps[t][sel][clear], (se * np.minimum(bw, link.ul_bandwidth_max_mhz))[clear],
                               atol=0.02)


def test_p2108_clutter_in_exact_mode_by_hand():
    """Exact mode with P.2108 §3.2 at 50 % of locations: urban receivers lose exactly the
    recommendation's clutter loss (worked by hand at 1 km), open ones nothing."""
    dem = np.full((70, 70), 10.0, dtype=np.float32)
    grid = grid_of(70, CELL)
    sectors = sectors_at(grid, (30, 30), [{"freq_mhz": 2000.0}])
    radio = RadioConfig(floor_dbm=-200.0, max_range_km=1.2)
    env_urban = np.full(dem.shape, 1)
    bare = run(sectors, dem, grid, mode=ALL_EXACT, radio=radio, env_class=1)
    from citycov.engine.cellular import cellular_coverage

    clutter = dataclasses.replace(radio, mode=ALL_EXACT, exact_clutter_percent=50.0)
    cl = cellular_coverage(sectors, dem, env_urban, grid, clutter)
    open_ = cellular_coverage(sectors, dem, np.full(dem.shape, 3), grid, clutter)
    _same(open_.best_dbm, bare.best_dbm)
    # 2 GHz, d = 1.02 km (34 cells east), p = 50 %: Ll = -2·log10(10^(-5·log10 2 - 12.5) + 10^-16.5)
    f, d = 2.0, 34 * CELL / 1000.0
    ll = -2 * math.log10(10 ** (-5 * math.log10(f) - 12.5) + 10 ** -16.5)
    ls = 32.98 + 23.9 * math.log10(d) + 3 * math.log10(f)
    want = -5 * math.log10(10 ** (-0.2 * ll) + 10 ** (-0.2 * ls))  # Q^-1(0.5) = 0
    got = bare.best_dbm[1, 30, 30 + 34] - cl.best_dbm[1, 30, 30 + 34]
    assert got == pytest.approx(want, abs=1e-3)
    assert 15.0 < want < 40.0
    with pytest.raises(ModelError, match="exact_clutter_percent"):
        cellular_coverage(sectors, dem, env_urban, grid,
                          dataclasses.replace(radio, mode=ALL_EXACT, exact_clutter_percent=100.0))


def test_levels_only_run_equals_the_full_run(scene):
    """``link=None`` keeps no carrier state (the uncertainty variants' fast path) but gives the
    same levels, servers and cover bits."""
    dem, grid, sectors = scene
    full = run(sectors, dem, grid, link=LinkParams())
    bare = run(sectors, dem, grid, link=None)
    _same(full.best_dbm, bare.best_dbm)
    np.testing.assert_array_equal(full.best_sector, bare.best_sector)
    np.testing.assert_array_equal(full.cover_bits, bare.cover_bits)
    assert bare.sinr_db is None and bare.serving_dbm is None


def test_hata_best_server_equals_the_log10_kernel():
    """The tabulated, gather-free best-server kernel (benchmark P4) gives the levels and servers
    of the plain math.log10 kernel (float32 levels: within 1e-4 dB)."""
    from citycov.engine import _radio_kernels

    rng = np.random.default_rng(4)
    n, shape = 60, (180, 150)
    r0 = rng.integers(0, shape[0], n).astype(np.int64)
    c0 = rng.integers(0, shape[1], n).astype(np.int64)
    hb = rng.uniform(25, 45, n)
    a = np.array([_radio_kernels.model_loss_db(_radio_kernels.MODEL_COST231, 1840.0, h, 1.5, 1.0, 1) for h in hb])
    b = 44.9 - 6.55 * np.log10(hb)
    eirp = rng.uniform(25, 35, n)
    reach = rng.uniform(5, 40, n)
    fast = np.full(shape, -np.inf, dtype=np.float32)
    fi = np.full(shape, -1, dtype=np.int32)
    ref = np.full(shape, -np.inf, dtype=np.float32)
    ri = np.full(shape, -1, dtype=np.int32)
    oracles_engine.hata_best_server(r0, c0, eirp, a, b, reach, 30.0, fast, fi)
    oracles_engine.hata_best_server_log10(r0, c0, eirp, a, b, reach, 30.0, ref, ri)
    np.testing.assert_array_equal(np.isfinite(fast), np.isfinite(ref))
    seen = np.isfinite(ref)
    np.testing.assert_allclose(fast[seen], ref[seen], atol=1e-4)
    assert (fi[seen] == ri[seen]).mean() > 0.999
