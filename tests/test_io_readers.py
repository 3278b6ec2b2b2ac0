"""Readers with good and bad input: every problem named with file, row and column."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from citycov.errors import BoundaryError, CRSError, InputFileError, RasterError, SiteTableError
from citycov.grid import GridSpec
from citycov.io import (
    read_dem,
    read_districts,
    read_fibre_nodes,
    read_fibre_routes,
    read_population,
    read_sectors,
    read_wlan,
)

from .conftest import UTM49, X0, Y0, sector_row, write_raster

GRID = GridSpec.from_bounds((X0, Y0, X0 + 2000.0, Y0 + 2000.0), cell_m=100.0, crs=__import__("pyproj").CRS(UTM49))


def write_sectors(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_read_sectors_good(tmp_path):
    path = write_sectors(tmp_path / "s.csv", [sector_row(), sector_row(sector_id="S1-2", azimuth_deg=120.0)])
    out = read_sectors(path, crs=UTM49, lon_column="x", lat_column="y")
    assert list(out["omni"]) == [True, False]
    assert out.crs.to_epsg() == 32649
    assert out["freq_mhz"].dtype == np.float64


def test_read_sectors_eirp_from_power_gain_losses(tmp_path):
    row = sector_row()
    del row["eirp_dbm"]
    row.update(tx_power_dbm=46.0, antenna_gain_dbi=17.0, feeder_loss_db=2.0)
    out = read_sectors(write_sectors(tmp_path / "s.csv", [row]), crs=UTM49, lon_column="x", lat_column="y")
    assert out["eirp_dbm"].iloc[0] == pytest.approx(61.0)


def test_read_sectors_lists_every_problem(tmp_path):
    rows = [sector_row(), sector_row(), sector_row(sector_id="S1-3", azimuth_deg=400.0, v_beamwidth_deg=0.0),
            sector_row(sector_id="S1-4", x=None, eirp_dbm="high")]
    with pytest.raises(SiteTableError) as info:
        read_sectors(write_sectors(tmp_path / "s.csv", rows), crs=UTM49, lon_column="x", lat_column="y")
    msg = str(info.value)
    assert msg.startswith(str(tmp_path / "s.csv"))
    assert "x/y missing or not numbers at line 5" in msg


def test_read_sectors_value_problems(tmp_path):
    rows = [sector_row(), sector_row(), sector_row(sector_id="S1-3", azimuth_deg=400.0, v_beamwidth_deg=0.0),
            sector_row(sector_id="S1-4", eirp_dbm="high", operator="")]
    with pytest.raises(SiteTableError) as info:
        read_sectors(write_sectors(tmp_path / "s.csv", rows), crs=UTM49, lon_column="x", lat_column="y")
    msg = str(info.value)
    for frag in ("sector_id: duplicate values ['S1-1'] at line 2, line 3",
                 "azimuth_deg: outside 0.0..360.0 degrees at line 4 (found [400.0])",
                 "v_beamwidth_deg: outside 1.0..90.0 degrees at line 4",
                 "eirp_dbm: not a number at line 5 (found ['high'])",
                 "operator: empty at line 5"):
        assert frag in msg, frag


def test_read_sectors_refuses_carriers_outside_the_resource_block_tables(tmp_path):
    rows = [sector_row(),                                                         # 4G 20 MHz: in the table
            sector_row(sector_id="S1-2", bandwidth_mhz=12.0),                     # 4G 12 MHz: no LTE carrier
            sector_row(sector_id="S1-3", technology="5G", bandwidth_mhz=100.0),   # 273 RB at 30 kHz
            sector_row(sector_id="S1-4", technology="5G", bandwidth_mhz=7.0),     # no NR carrier at 30 kHz
            sector_row(sector_id="S1-5", technology="3G", bandwidth_mhz=1.6),     # 3G: not tabulated
            sector_row(sector_id="S1-6", bandwidth_mhz=16.0)]
    with pytest.raises(SiteTableError) as info:
        read_sectors(write_sectors(tmp_path / "s.csv", rows), crs=UTM49, lon_column="x", lat_column="y")
    msg = str(info.value)
    assert ("bandwidth_mhz: not a 4G channel bandwidth of TS 36.101 Table 5.6-1 at line 3, line 7 "
            "(found [12.0, 16.0]; allowed [1.4, 3.0, 5.0, 10.0, 15.0, 20.0])") in msg
    assert ("bandwidth_mhz: not a 5G channel bandwidth of TS 38.101-1 Table 5.3.2-1 at 30 kHz at line 5 "
            "(found [7.0]; allowed [5.0, 10.0, 15.0,") in msg
    assert "line 4" not in msg and "line 6" not in msg and "line 2" not in msg


def test_read_sectors_nr_spacing_from_an_scs_khz_column(tmp_path):
    rows = [sector_row(sector_id="S1-1", technology="5G", bandwidth_mhz=5.0, scs_khz=15),    # 25 RB at 15 kHz
            sector_row(sector_id="S1-2", technology="5G", bandwidth_mhz=100.0, scs_khz=np.nan),  # blank: 30 kHz
            sector_row(sector_id="S1-3", technology="4G", bandwidth_mhz=20.0, scs_khz=np.nan)]
    out = read_sectors(write_sectors(tmp_path / "s.csv", rows), crs=UTM49, lon_column="x", lat_column="y")
    assert out["scs_khz"].iloc[0] == 15.0 and np.isnan(out["scs_khz"].iloc[1])
    bad = [sector_row(sector_id="S1-1", technology="5G", bandwidth_mhz=5.0, scs_khz=60),    # no 5 MHz at 60 kHz
           sector_row(sector_id="S1-2", technology="5G", bandwidth_mhz=20.0, scs_khz=45),   # no such spacing
           sector_row(sector_id="S1-3", technology="4G", bandwidth_mhz=20.0, scs_khz=30)]   # LTE is 15 kHz
    with pytest.raises(SiteTableError) as info:
        read_sectors(write_sectors(tmp_path / "b.csv", bad), crs=UTM49, lon_column="x", lat_column="y")
    msg = str(info.value)
    assert ("scs_khz: expected 15 (or blank) for 4G and one of [15, 30, 60] (or blank) for 5G at line 3, line 4 "
            "(found [30.0, 45.0])") in msg
    assert ("bandwidth_mhz: not a 5G channel bandwidth of TS 38.101-1 Table 5.3.2-1 at 60 kHz at line 2 "
            "(found [5.0]; allowed [10.0, 15.0,") in msg


def test_csv_needs_a_declared_crs(tmp_path):
    path = write_sectors(tmp_path / "s.csv", [sector_row()])
    with pytest.raises(SiteTableError, match="a CSV has no CRS"):
        read_sectors(path, lon_column="x", lat_column="y")


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_wlan(tmp_path / "none.csv", crs="EPSG:4326")


def test_lon_lat_out_of_range(tmp_path):
    path = tmp_path / "w.csv"
    pd.DataFrame({"ap_id": ["a"], "operator": ["o"], "lon": [213.0], "lat": [23.0], "height_m": [3.0],
                  "freq_mhz": [2437.0], "eirp_dbm": [20.0]}).to_csv(path, index=False)
    with pytest.raises(SiteTableError, match=r"lon/lat outside -180..180 / -90..90 at line 2"):
        read_wlan(path, crs="EPSG:4326")


def test_fibre_readers(tmp_path):
    nodes = tmp_path / "n.csv"
    pd.DataFrame({"node_id": ["A", "B"], "kind": ["olt", "exchange"], "lon": [113.3, 113.31], "lat": [23.1, 23.1],
                  "ports": [100, -1]}).to_csv(nodes, index=False)
    with pytest.raises(SiteTableError) as info:
        read_fibre_nodes(nodes, crs="EPSG:4326")
    assert "kind: expected one of ['olt', 'cabinet', 'splitter'] at line 3 (found ['exchange'])" in str(info.value)
    assert "ports: outside 0..100000 at line 3" in str(info.value)
    routes = tmp_path / "r.geojson"
    gpd.GeoDataFrame({"route_id": ["r1", "r2"]},
                     geometry=[shapely.LineString([(113.3, 23.1), (113.31, 23.1)]), shapely.Point(113.3, 23.1)],
                     crs="EPSG:4326").to_file(routes)
    with pytest.raises(SiteTableError, match=r"geometry: expected \['LineString', 'MultiLineString'\] at feature 2"):
        read_fibre_routes(routes)


def test_districts_invalid_geometry_and_duplicate_ids(tmp_path):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    path = tmp_path / "d.gpkg"
    gpd.GeoDataFrame({"adcode": ["1", "1"], "name_en": ["A", "B"], "name": ["甲", "乙"]},
                     geometry=[bowtie, shapely.box(2, 2, 3, 3)], crs=UTM49).to_file(path)
    with pytest.raises(BoundaryError) as info:
        read_districts(path)
    msg = str(info.value)
    assert "geometry: invalid at feature 1" in msg and "Self-intersection" in msg
    assert "adcode: duplicate values ['1']" in msg


def test_districts_gcj02_declared(tmp_path):
    from citycov.crs import gcj02_to_wgs84

    path = tmp_path / "d.geojson"
    gpd.GeoDataFrame({"adcode": [1], "name_en": ["A"], "name": ["甲"]},
                     geometry=[shapely.box(113.30, 23.10, 113.31, 23.11)], crs="EPSG:4326").to_file(path)
    out = read_districts(path, crs="gcj02")
    got = shapely.get_coordinates(out.frame.geometry.iloc[0])
    src = shapely.get_coordinates(shapely.box(113.30, 23.10, 113.31, 23.11))
    lon, lat = gcj02_to_wgs84(src[:, 0], src[:, 1])
    assert np.allclose(got, np.column_stack([lon, lat]), atol=1e-9, rtol=0)
    assert np.all(np.abs(got - src) > 1e-3)  # really moved (about 600 m)
    assert out.frame.crs.to_epsg() == 4326


def test_dem_must_cover_the_study_area(tmp_path):
    path = tmp_path / "dem.tif"
    write_raster(path, np.full((10, 20), 5.0, dtype=np.float32), x0=X0, y1=Y0 + 2000.0, cell_m=100.0, nodata=-9999.0)
    with pytest.raises(RasterError, match=r"no terrain for 200 of 400 study-area cells .* not taken as sea level"):
        read_dem(path, GRID)
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[:10] = True
    dem = read_dem(path, GRID, study_mask=mask)
    assert np.isnan(dem.values[15, 5]) and dem.values[5, 5] == pytest.approx(5.0)


def test_dem_nodata_inside_and_implausible_values(tmp_path):
    z = np.full((20, 20), 5.0, dtype=np.float32)
    z[3, 3] = -9999.0
    path = tmp_path / "dem.tif"
    write_raster(path, z, x0=X0, y1=Y0 + 2000.0, cell_m=100.0, nodata=-9999.0)
    with pytest.raises(RasterError, match="no terrain for"):
        read_dem(path, GRID)
    write_raster(path, np.full((20, 20), 12000.0, dtype=np.float32), x0=X0, y1=Y0 + 2000.0, cell_m=100.0)
    with pytest.raises(RasterError, match="outside the plausible"):
        read_dem(path, GRID)


def test_dem_without_crs(tmp_path):
    import rasterio

    path = tmp_path / "dem.tif"
    with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32") as dst:
        dst.write(np.zeros((1, 2, 2), dtype=np.float32))
    with pytest.raises(CRSError, match="DEM has no CRS"):
        read_dem(path, GRID)


def test_population_same_grid_is_exact_and_other_crs_conserves(tmp_path):
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 500, size=(20, 20)).astype(np.float32)
    path = tmp_path / "pop.tif"
    write_raster(path, counts, x0=X0, y1=Y0 + 2000.0, cell_m=100.0, tags={"SYNTHETIC": "yes"})
    layer = read_population(path, GRID)
    assert np.array_equal(layer.values, counts) and layer.synthetic
    # The same people on a finer grid in another CRS, well inside the analysis grid:
    fine = np.zeros((80, 80), dtype=np.float32)
    fine[20:60, 20:60] = 2.5
    write_raster(path, fine, x0=X0, y1=Y0 + 2000.0, cell_m=25.0)
    from rasterio.warp import transform_bounds

    bounds = transform_bounds(UTM49, "EPSG:3857", X0 - 1000, Y0 - 1000, X0 + 3000, Y0 + 3000)
    big = GridSpec.from_bounds(bounds, cell_m=100.0, crs=__import__("pyproj").CRS("EPSG:3857"))
    layer = read_population(path, big)
    assert layer.input_total == pytest.approx(4000.0)
    assert float(layer.values.sum(dtype=np.float64)) == pytest.approx(4000.0, rel=1e-4)
    assert "exact area overlap" in layer.notes[0]


def test_population_negative_counts(tmp_path):
    counts = np.ones((20, 20), dtype=np.float32)
    counts[4, 7] = -3
    path = tmp_path / "pop.tif"
    write_raster(path, counts, x0=X0, y1=Y0 + 2000.0, cell_m=100.0)
    with pytest.raises(RasterError, match=r"1 cells have negative population \(first at row 4, col 7: -3.0\)"):
        read_population(path, GRID)
