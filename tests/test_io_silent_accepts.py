"""Inputs that used to be accepted without a word: population rasters with inf, NaN without
nodata or impossible densities; vector layers wholly or mostly outside the study area."""

from __future__ import annotations

import re
import textwrap
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

import citycov
from citycov.errors import CitycovWarning, CRSError, RasterError
from citycov.grid import GridSpec
from citycov.io import read_population
from citycov.io.raster import MAX_POPULATION_DENSITY_PER_KM2, _cell_area_km2
from citycov.io.vector import check_extent
from citycov.pipeline.inputs import read_inputs

from .conftest import UTM49, X0, Y0, make_tiny, write_raster

GRID = GridSpec.from_bounds((X0, Y0, X0 + 2000.0, Y0 + 2000.0), cell_m=100.0, crs=pyproj.CRS(UTM49))


def _population(tmp_path, values, **kw):
    path = tmp_path / "pop.tif"
    write_raster(path, values.astype(np.float32), x0=X0, y1=Y0 + 2000.0, cell_m=100.0, **kw)
    return path


# -- population rasters --------------------------------------------------------------------------

def test_population_inf_cell_is_refused(tmp_path):
    counts = np.full((20, 20), 10.0)
    counts[3, 5] = np.inf
    path = _population(tmp_path, counts)
    with pytest.raises(RasterError) as info:
        read_population(path, GRID)
    msg = str(info.value)
    assert msg.startswith(f"{path}: 1 cells have non-finite population (NaN or ±inf) and are not nodata "
                          "(first at row 3, col 5: inf)")
    assert "declare the raster's nodata value" in msg


def test_population_nan_block_without_nodata_is_refused(tmp_path):
    counts = np.full((20, 20), 10.0)
    counts[6:9, 2:6] = np.nan  # 3 x 4 = 12 cells
    path = _population(tmp_path, counts)
    with pytest.raises(RasterError, match=re.escape(f"{path}: 12 cells have non-finite population (NaN or ±inf) "
                                                    "and are not nodata (first at row 6, col 2: nan)")):
        read_population(path, GRID)


def test_population_nan_declared_as_nodata_is_unpopulated(tmp_path):
    counts = np.full((20, 20), 10.0)
    counts[6:9, 2:6] = np.nan
    layer = read_population(_population(tmp_path, counts, nodata=np.nan), GRID)
    assert float(layer.values.sum()) == pytest.approx(10.0 * (400 - 12))
    assert any("12 nodata cells read as unpopulated" in n for n in layer.notes)


def test_population_impossible_density_is_refused(tmp_path):
    counts = np.full((20, 20), 10.0)
    counts[11, 17] = 1e12  # a 100 m cell: 1e14 persons/km²
    path = _population(tmp_path, counts)
    with pytest.raises(RasterError) as info:
        read_population(path, GRID)
    assert str(info.value).startswith(
        f"{path}: 1 cells exceed 1,000,000 persons/km² (first at row 11, col 17: value 1e+12, "
        "density 1e+14 persons/km²)")


def test_population_density_bound_in_count_and_per_km2_units(tmp_path):
    # 100 m cells are 0.01 km²: 10,000 persons is exactly the bound, 10,001 is above it.
    counts = np.full((20, 20), 10.0)
    counts[0, 0] = MAX_POPULATION_DENSITY_PER_KM2 * 0.01
    assert read_population(_population(tmp_path, counts), GRID).input_total == pytest.approx(399 * 10 + 1e4)
    counts[0, 0] += 1
    with pytest.raises(RasterError, match="1 cells exceed 1,000,000 persons/km²"):
        read_population(_population(tmp_path, counts), GRID)
    # As densities the same numbers are harmless; 2e6 per km² is not.
    dens = np.full((20, 20), 5000.0)
    read_population(_population(tmp_path, dens), GRID, units="per_km2")
    dens[2, 3] = 2e6
    with pytest.raises(RasterError, match=r"first at row 2, col 3: value 2e\+06, density 2e\+06 persons/km²"):
        read_population(_population(tmp_path, dens), GRID, units="per_km2")


def test_population_density_uses_geodesic_cell_area_in_lon_lat(tmp_path):
    # 3 arc-second cells at 23° N: about 85.3 m x 92.2 m = 0.00787 km², so the bound is ~7,870
    # persons per cell (a flat 100 m x 100 m guess would put it at 10,000).
    import rasterio

    path = tmp_path / "pop_ll.tif"
    step = 3.0 / 3600.0
    counts = np.full((10, 10), 5.0)
    write_raster(path, counts.astype(np.float32), x0=111.0, y1=23.1, cell_m=step, crs="EPSG:4326")
    with rasterio.open(path) as src:
        area = _cell_area_km2(src)
    assert area[0, 0] == pytest.approx(0.00787, rel=0.01)
    counts[4, 4] = 9000.0
    write_raster(path, counts.astype(np.float32), x0=111.0, y1=23.1, cell_m=step, crs="EPSG:4326")
    with pytest.raises(RasterError, match=r"first at row 4, col 4: value 9000, density 1.14e\+06 persons/km²"):
        read_population(path, GRID)


def test_projected_cell_area_follows_the_crs_unit(tmp_path):
    import rasterio

    path = tmp_path / "pop_ft.tif"
    write_raster(path, np.ones((2, 2), dtype=np.float32), x0=1_000_000.0, y1=200_000.0, cell_m=1000.0,
                 crs="EPSG:2263")  # NAD83 / New York Long Island, US survey feet
    with rasterio.open(path) as src:
        assert _cell_area_km2(src)[0, 0] == pytest.approx(0.3048006096**2 * 1e6 / 1e6, rel=1e-9)


# -- vector layers outside the study area --------------------------------------------------------

def _routes_scenario(tmp_path, lines, *, crs: str):
    tiny = make_tiny(tmp_path / "t", side_m=2000.0, extra=textwrap.dedent(f"""
    [inputs.fibre_routes]
    path = "routes.gpkg"
    crs = "{crs}"
    """))
    path = tiny.folder / "routes.gpkg"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)  # on purpose: crs from the scenario
        gpd.GeoDataFrame({"route_id": [f"R{i}" for i in range(len(lines))]}, geometry=lines,
                         crs=None).to_file(path, driver="GPKG")
    return tiny, path


def test_routes_in_lon_lat_declared_web_mercator_are_refused(tmp_path):
    # The district lies at about 111.0° E, 23.05° N; the routes are written in degrees but
    # declared EPSG:3857 (metres), so every one lands about 100 m from (0, 0).
    lon_lat = pyproj.Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True)
    lon0, lat0 = lon_lat.transform(X0 + 500.0, Y0 + 500.0)
    lon1, lat1 = lon_lat.transform(X0 + 1500.0, Y0 + 1500.0)
    lines = [shapely.LineString([(lon0, lat0), (lon1, lat1)]), shapely.LineString([(lon0, lat1), (lon1, lat0)])]
    tiny, path = _routes_scenario(tmp_path, lines, crs="EPSG:3857")
    with pytest.raises(CRSError) as info:
        read_inputs(citycov.load_scenario(tiny.scenario))
    msg = str(info.value)
    assert msg.startswith(f"{path}: all 2 features lie outside the study area; layer bounds x 111.0")
    assert "(both in EPSG:3857); is the declared CRS right?" in msg
    study_x = re.search(r"study area x ([\d.]+)\.\.", msg)
    assert study_x and float(study_x.group(1)) == pytest.approx(12_356_000, rel=1e-3)  # 111° E in metres


def test_routes_in_the_declared_crs_pass(tmp_path):
    lines = [shapely.LineString([(X0 + 500.0, Y0 + 500.0), (X0 + 1500.0, Y0 + 1500.0)])]
    tiny, _ = _routes_scenario(tmp_path, lines, crs=UTM49)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CitycovWarning)
        inputs = read_inputs(citycov.load_scenario(tiny.scenario))
    assert len(inputs.routes) == 1


def test_check_extent_counts_lines_crossing_the_study_area_as_inside():
    study = (0.0, 0.0, 100.0, 100.0)
    frame = gpd.GeoDataFrame(geometry=[shapely.LineString([(-50, 50), (150, 50)]),  # crosses: inside
                                       shapely.Point(500, 500), shapely.Point(50, 50)], crs=UTM49)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CitycovWarning)
        assert check_extent(frame, study, source="f.gpkg") == 1


def test_layer_mostly_outside_warns_and_the_report_repeats_it(tmp_path):
    tiny = make_tiny(tmp_path / "t", side_m=2000.0)
    centre = tiny.centre
    far = [(X0 + 40_000.0, Y0 + 40_000.0), (X0 - 30_000.0, Y0 + 1000.0)]
    pd.DataFrame({"node_id": ["N1", "N2", "N3"], "kind": ["cabinet"] * 3,
                  "x": [centre[0], far[0][0], far[1][0]], "y": [centre[1], far[0][1], far[1][1]],
                  "ports": [288] * 3}).to_csv(tiny.folder / "fibre_nodes.csv", index=False)
    expected = (f"{tiny.folder / 'fibre_nodes.csv'}: 2 of 3 features (67%) lie outside the study area "
                "(the analysis grid around the districts); check the file's extent and declared CRS")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert expected in res.warnings
    paths = citycov.write_outputs(res, tmp_path / "out")
    assert f"- {expected}" in paths["report.md"].read_text(encoding="utf-8")
