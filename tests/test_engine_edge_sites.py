"""Sites at and beyond the edge of the analysis grid (issue 17, items 1 and 2).

Ground heights come from the DEM file, not from the grid: a mast in the grid's outer half cell
runs at any cell size, with the height bilinear in the DEM's own pixels.  A mast outside the
districts' bounding box but within reach is modelled on a padded engine grid; one beyond reach
is dropped and counted.  Expected levels are Hata's suburban formula worked out here (Hata 1980,
small/medium city a(hm)) with the 3GPP vertical pattern, on flat ground.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pyproj
import pytest
from affine import Affine

import citycov
from citycov.accounting.districts import CITY_ID
from citycov.config import RadioConfig
from citycov.engine.cellular import cellular_coverage, crop_result
from citycov.errors import RasterError
from citycov.grid import GridSpec
from citycov.io.dem_points import sample_dem
from citycov.pipeline.coverage import radio_coverage
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers

from .conftest import UTM49, X0, Y0, make_tiny, sector_row, write_raster

SIDE_M = 10_000.0
DEM_X0, DEM_Y1, DEM_CELL = X0 - 2000.0, Y0 + SIDE_M + 2000.0, 100.0  # make_tiny's DEM: 140 x 140 pixels of 100 m
REF_EIRP_DBM = 61.0 - 10.0 * math.log10(1200)  # 61 dBm over the 1,200 subcarriers of LTE 20 MHz


def saddle_dem(n: int = 140) -> np.ndarray:
    """z = 10 + 0.5 r + 0.3 c + 0.01 r c on pixel (r, c): bilinear in (r, c), so bilinear
    interpolation between pixel centres reproduces the formula exactly."""
    r, c = np.mgrid[0:n, 0:n].astype(np.float64)
    return (10.0 + 0.5 * r + 0.3 * c + 0.01 * r * c).astype(np.float32)


def saddle_height(x: float, y: float) -> float:
    """The saddle at a point, from the formula at fractional pixel-centre coordinates."""
    c = (x - DEM_X0) / DEM_CELL - 0.5
    r = (DEM_Y1 - y) / DEM_CELL - 0.5
    return 10.0 + 0.5 * r + 0.3 * c + 0.01 * r * c


def hata_suburban_db(d_km: float, *, f_mhz: float = 900.0, hb_m: float = 30.0, hm_m: float = 1.5) -> float:
    lf = math.log10(f_mhz)
    a_hm = (1.1 * lf - 0.7) * hm_m - (1.56 * lf - 0.8)
    urban = (69.55 + 26.16 * lf - 13.82 * math.log10(hb_m) - a_hm
             + (44.9 - 6.55 * math.log10(hb_m)) * math.log10(d_km))
    return urban - 2.0 * math.log10(f_mhz / 28.0) ** 2 - 5.4


def expected_level_dbm(d_m: float) -> float:
    """Omni 30 m mast over flat ground: EIRP − Hata suburban − the 3GPP vertical pattern."""
    elev = math.degrees(math.atan2(30.0 - 1.5, d_m))
    return REF_EIRP_DBM - hata_suburban_db(d_m / 1000.0) - min(12.0 * (elev / 65.0) ** 2, 30.0)


# --------------------------------------------------------------------------- (a) the edge mast


@pytest.mark.parametrize("cell_m", [125.0, 200.0, 250.0, 300.0, 500.0])
def test_mast_in_outer_half_cell_runs_with_dem_bilinear_height(tmp_path, cell_m):
    grid = GridSpec.from_bounds((X0, Y0, X0 + SIDE_M, Y0 + SIDE_M), cell_m=cell_m, crs=pyproj.CRS(UTM49))
    left = grid.bounds[0]
    # west edge, a fifth of a cell in: between the grid's edge and its first cell centre
    x, y = left + 0.2 * cell_m, Y0 + 5030.0
    tiny = make_tiny(tmp_path / "t", dem_m=saddle_dem(), sectors=[sector_row(x=x, y=y)],
                     radio="floor_dbm = -160")
    scenario = citycov.load_scenario(tiny.scenario)
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=cell_m, rule="fraction")
    assert layers.grid.same_as(grid)
    cov = radio_coverage(scenario, inputs, layers, scenario.radio, link=False)
    assert cov.cell.sectors["ground_m"].tolist() == [round(saddle_height(x, y), 1)]
    assert layers.area.ground_m == pytest.approx([saddle_height(x, y)], abs=1e-4)
    assert cov.cell.best_dbm.shape == (3, *grid.shape)
    row, col = grid.rowcol(np.array([x]), np.array([y]))
    assert np.isfinite(cov.cell.best_dbm[1, row[0], col[0]])  # the mast serves its own cell


def test_sample_dem_clamps_outer_half_pixel_skips_nodata_and_reprojects(tmp_path):
    dem = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, -9999.0], [7.0, 8.0, 9.0]], dtype=np.float32)
    write_raster(tmp_path / "d.tif", dem, x0=0.0 + X0, y1=Y0 + 300.0, cell_m=100.0, nodata=-9999.0)
    px = lambda c, r: (X0 + 100.0 * c, Y0 + 300.0 - 100.0 * r)  # noqa: E731  pixel-edge coordinates
    pts = [px(0.1, 0.1),   # outer half pixel, top-left corner: clamped to the centre of pixel (0, 0)
           px(1.0, 1.0),   # the corner between pixels (0,0), (0,1), (1,0), (1,1): their mean
           px(1.5, 0.5),   # centre of pixel (0, 1)
           px(2.2, 1.2),   # inside the nodata pixel (1, 2): no height
           px(1.8, 1.5),   # pixel (1, 1), next to nodata (1, 2): bilinear weights of the others renormalised
           px(3.5, 1.0)]   # outside the DEM
    x, y = np.array(pts).T
    got = sample_dem(tmp_path / "d.tif", x, y, crs=UTM49)
    # (1.8, 1.5): centre coords c = 1.3, r = 1.0 -> pixels (1,1) w 0.7 and (1,2) w 0.3 (nodata)
    want = [1.0, (1 + 2 + 4 + 5) / 4, 2.0, np.nan, 5.0, np.nan]
    np.testing.assert_allclose(got, want, atol=1e-9)
    # the same points given in WGS84 give the same heights
    lon, lat = pyproj.Transformer.from_crs(UTM49, 4326, always_xy=True).transform(x, y)
    np.testing.assert_allclose(sample_dem(tmp_path / "d.tif", lon, lat, crs="EPSG:4326"), want, atol=1e-6)


# --------------------------------------------------------------------------- (b) through the pipeline


def test_edge_mast_runs_through_pipeline_with_uncertainty_band(tmp_path):
    # 10 m into the grid at 50, 100 and 200 m cells (the point estimate and both resolution variants)
    x, y = X0 + 10.0, Y0 + 5000.0
    tiny = make_tiny(tmp_path / "t", dem_m=saddle_dem(), sectors=[sector_row(x=x, y=y)])
    scenario = citycov.load_scenario(tiny.scenario)
    assert scenario.accounting.uncertainty and set(scenario.accounting.uncertainty_resolution) == {"finer", "coarser"}
    res = citycov.run(scenario)
    assert res.sectors["ground_m"].tolist() == [round(saddle_height(x, y), 1)]
    assert {"resolution_200m", "resolution_50m"} <= set(res.variants["variant"])
    wireless = res.variants[(res.variants["area_id"] == CITY_ID) & (res.variants["metric"] == "wireless_population")]
    values = wireless.set_index("variant")["value"]
    # the mast covers part of the district's west at every resolution
    assert (values[["point", "resolution_200m", "resolution_50m"]] > 0.02).all()


# --------------------------------------------------------------------------- (c) (d) sites outside


def _levels(tmp_path, name, sectors, radio="floor_dbm = -160"):
    tiny = make_tiny(tmp_path / name, sectors=sectors, radio=radio, extra="[accounting]\nuncertainty = false\n")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    return res, res.warnings


def test_mast_outside_districts_within_reach_is_modelled_and_adds_coverage(tmp_path):
    centre = sector_row(x=X0 + 5050.0, y=Y0 + 5050.0)
    west = sector_row(site_id="W", sector_id="W-1", x=X0 - 1000.0, y=Y0 + 5050.0)
    alone, _ = _levels(tmp_path, "alone", [centre])
    both, _ = _levels(tmp_path, "both", [centre, west])
    assert both.sectors["sector_id"].tolist() == ["S1-1", "W-1"]
    assert both.sectors["ground_m"].tolist() == [10.0, 10.0]
    grid = both.grid
    assert grid.bounds == (X0, Y0, X0 + SIDE_M, Y0 + SIDE_M)  # results stay on the analysis grid
    rsrp = both.rasters["best_dbm"][1]
    assert rsrp.shape == grid.shape
    row = grid.rowcol(np.array([X0]), np.array([Y0 + 5050.0]))[0][0]
    for col in (0, 3, 10):  # cell centres 1.05, 1.35 and 2.05 km east of the western mast
        d_m = 1000.0 + 100.0 * col + 50.0
        assert rsrp[row, col] == pytest.approx(expected_level_dbm(d_m), abs=1e-3)
        assert both.rasters["best_sector"][1][row, col] == 1  # served by W-1
        assert rsrp[row, col] > alone.rasters["best_dbm"][1][row, col] + 10.0
    # the western mast covers a strip of the district the central one does not reach
    assert both.table.loc[CITY_ID, "wireless_pct"] > alone.table.loc[CITY_ID, "wireless_pct"] + 5.0
    assert any("1 of them outside the analysis grid" in n for n in both.accounting_notes)
    assert set(both.network_wgs84["sectors"]["sector_id"]) == {"S1-1", "W-1"}


def test_mast_beyond_reach_is_dropped_and_counted(tmp_path):
    # max_range_km = 1.5 bounds every reach: 1.0 km from the district is within, 1.8 km beyond
    near = sector_row(site_id="W", sector_id="W-1", x=X0 - 1000.0, y=Y0 + 5050.0)
    far = sector_row(site_id="F", sector_id="F-1", x=X0 - 1800.0, y=Y0 + 2050.0)
    centre = sector_row(x=X0 + 5050.0, y=Y0 + 5050.0)
    res, warned = _levels(tmp_path, "t", [centre, near, far], radio="floor_dbm = -160\nmax_range_km = 1.5")
    assert res.sectors["sector_id"].tolist() == ["S1-1", "W-1"]
    assert any("1 sectors outside the analysis grid are beyond reach" in w and "F-1" in w for w in warned)
    note = next(n for n in res.accounting_notes if n.startswith("sites:"))
    assert "2 sectors modelled" in note and "1 sectors beyond reach" in note
    assert "F-1" not in set(res.network_wgs84["sectors"]["sector_id"])
    # the near mast reaches 1.5 km: the cells 1.45 km from it are served, those 1.55 km away not
    rsrp = res.rasters["best_dbm"][1]
    row = res.grid.rowcol(np.array([X0]), np.array([Y0 + 5050.0]))[0][0]
    assert rsrp[row, 4] == pytest.approx(expected_level_dbm(1450.0), abs=1e-3)
    assert res.rasters["best_sector"][1][row, 5] != 1


def test_modelled_mast_over_nodata_names_sector_and_dem_extent(tmp_path):
    dem = np.full((140, 140), 10.0, dtype=np.float32)
    dem[60:80, 5:15] = -9999.0  # x 498,500..499,500 around the western mast
    west = sector_row(site_id="W", sector_id="W-1", x=X0 - 1000.0, y=Y0 + 5050.0)
    tiny = make_tiny(tmp_path / "t", dem_m=dem, sectors=[sector_row(), west])
    with pytest.raises(RasterError) as err:
        citycov.run(citycov.load_scenario(tiny.scenario))
    msg = str(err.value)
    assert "W-1" in msg and "S1-1" not in msg
    assert "(498000, 2548000, 512000, 2562000)" in msg  # the DEM's bounds
    assert "(499000, 2555000, 505000, 2555050)" in msg  # the bounds the modelled sectors need
    assert "EPSG:32649" in msg


# --------------------------------------------------------------------------- (f) the pad and the crop


def test_padded_engine_grid_gives_identical_rasters_after_crop():
    rng = np.random.default_rng(7)
    n, cell, pad = 40, 100.0, (5, 3, 2, 6)  # top, left, bottom, right
    dem = (20.0 + 60.0 * rng.random((n, n))).astype(np.float32)
    crs = pyproj.CRS(UTM49)
    grid = GridSpec(crs=crs, transform=Affine(cell, 0.0, X0, 0.0, -cell, Y0 + n * cell), shape=(n, n))
    top, left, bottom, right = pad
    big = GridSpec(crs=crs, transform=Affine(cell, 0.0, X0 - left * cell, 0.0, -cell, Y0 + (n + top) * cell),
                   shape=(n + top + bottom, n + left + right))
    # terrain outside, as a DEM read onto the padded grid has it: shapes nothing here (every site is
    # inside, and a zero bilinear weight times finite terrain is exactly zero)
    big_dem = (20.0 + 60.0 * rng.random(big.shape)).astype(np.float32)
    big_dem[top:top + n, left:left + n] = dem
    env = np.full((n, n), 2, dtype=np.int64)
    big_env = np.full(big.shape, 3, dtype=np.int64)
    big_env[top:top + n, left:left + n] = env
    active = np.ones((n, n), dtype=bool)
    active[:3, :] = False
    big_active = np.zeros(big.shape, dtype=bool)
    big_active[top:top + n, left:left + n] = active
    rows = [(12.3, 9.6, "4G", 900.0, np.nan), (12.3, 9.6, "4G", 1800.0, 120.0), (30.2, 28.7, "5G", 3500.0, 250.0),
            (25.0, 6.0, "3G", 2100.0, 10.0), (8.0, 33.0, "4G", 900.0, 300.0)]
    xs, ys = grid.xy(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    sectors = gpd.GeoDataFrame(
        [{"site_id": f"s{i // 2 if i < 2 else i}", "sector_id": f"x{i}", "operator": "Op", "technology": t,
          "freq_mhz": f, "bandwidth_mhz": 10.0, "height_m": 25.0, "eirp_dbm": 60.0, "azimuth_deg": az,
          "omni": bool(np.isnan(az)), "downtilt_deg": 2.0, "h_beamwidth_deg": 65.0, "v_beamwidth_deg": 10.0}
         for i, (_r, _c, t, f, az) in enumerate(rows)], geometry=gpd.points_from_xy(xs, ys), crs=crs)
    ground = np.array([40.0, 40.0, 55.0, 30.0, 45.0])
    # the per-cell exact geometry: a cell's own profile never leaves the grid, while the radial
    # geometry's nearest ray sample of an edge cell may lie up to half a cell beyond it (on the
    # padded grid it then reads the pad's terrain; on the plain one it falls back to the own profile)
    radio = RadioConfig(floor_dbm=-140.0, max_range_km=3.0, tile_cells=16, exact_geometry="cell")
    kw = {"z_ground_m": ground, "exact_sectors": ["x3"]}
    plain = cellular_coverage(sectors, dem, env, grid, radio, active=active, **kw)
    padded = cellular_coverage(sectors, big_dem, big_env, big, radio, active=big_active, **kw)
    cropped = crop_result(padded, (top, left), (n, n))
    names = ["best_dbm", "best_sector", "cover_bits", "sinr_db", "margin_db", "overlap", "throughput_mbps",
             "speed_tier", "serving_dbm", "serving_sector", "uplink_mbps"]
    assert np.isfinite(plain.best_dbm).sum() > 1000
    for name in names:
        np.testing.assert_array_equal(getattr(cropped, name), getattr(plain, name), err_msg=name)
        assert getattr(cropped, name).shape[-2:] == (n, n)
    assert cropped.sectors.equals(plain.sectors)
