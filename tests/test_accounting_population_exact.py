"""Residents per district exact when the population raster is in another CRS, and empty districts.

The expected figures are worked out here with shapely, independently of citycov's kernels and
of exactextract: every source cell is a box in the raster's CRS, densified to 1/20 of its side,
reprojected into the districts' UTM zone and intersected with each district polygon; a
district holds Σ value × area(cell ∩ district) / area(cell).  (These areas are UTM areas; the
raster-CRS fractions citycov uses differ from them by the projections' scale change across
one cell, ~1e-7 here.)
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine

import citycov
from citycov.accounting.districts import CITY_ID, Grids, band_table, district_table
from citycov.accounting.population import census_factor, person_weights, zonal_weights
from citycov.accounting.targets import evaluate_targets
from citycov.config import Target
from citycov.errors import ScenarioError
from citycov.grid import GridSpec
from citycov.io import read_population
from citycov.io.boundaries import Districts

from .conftest import UTM49, X0, Y0, make_tiny, sector_row, write_raster

UTM = pyproj.CRS(UTM49)
LON0, LAT0, STEP = 113.2, 23.3, 0.005  # the EPSG:4326 raster: 40 x 40 cells of 0.005° (~510 x 555 m)
ROWS = COLS = 40
BOUNDARY_LON = LON0 + 17.3 * STEP  # the shared edge: a meridian 0.3 into column 17, in every row
MOLLWEIDE = pyproj.CRS("ESRI:54009")


def source_values(rows: int, cols: int) -> np.ndarray:
    """Non-uniform residents per cell: random, with a gradient across the raster."""
    rng = np.random.default_rng(7)
    gradient = 1.0 + np.add.outer(np.arange(rows), np.arange(cols)) / 20.0
    return (rng.uniform(50.0, 500.0, (rows, cols)) * gradient).astype(np.float32)


def meridian_districts() -> Districts:
    """Two districts in UTM 49N sharing an edge along the meridian BOUNDARY_LON (densified)."""
    south, north = LAT0 - 37.4 * STEP, LAT0 - 2.2 * STEP
    west = shapely.box(LON0 + 2.6 * STEP, south, BOUNDARY_LON, north)
    east = shapely.box(BOUNDARY_LON, south, LON0 + 36.7 * STEP, north)
    utm = gpd.GeoSeries([west, east], crs=4326).segmentize(STEP / 20).to_crs(UTM)
    return Districts(gpd.GeoDataFrame({"district_id": ["W", "E"], "name": ["West", "East"], "name_local": ["西", "东"]},
                                      geometry=utm.values, crs=UTM))


def utm_box_districts() -> Districts:
    """Two UTM rectangles over the raster sharing a north-south grid line: 17 km straight edges,
    which bend in EPSG:4326 (by ~1 m in the middle: the districts are densified before
    exactextract sees them there)."""
    to_utm = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
    xa, ya = to_utm.transform(LON0 + 2.3 * STEP, LAT0 - 37.6 * STEP)
    xb, yb = to_utm.transform(LON0 + 36.5 * STEP, LAT0 - 2.4 * STEP)
    xm = (xa + xb) / 2 + 123.4
    return Districts(gpd.GeoDataFrame({"district_id": ["W", "E"], "name": ["West", "East"], "name_local": ["西", "东"]},
                                      geometry=[shapely.box(xa, ya, xm, yb), shapely.box(xm, ya, xb, yb)], crs=UTM))


def shapely_cells(transform: Affine, shape: tuple[int, int], crs) -> np.ndarray:
    """Every source cell as a polygon in UTM 49N (boxes in ``crs`` densified to 1/20 of a side)."""
    rows, cols = shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x0, y0 = transform @ (c.ravel(), r.ravel())
    x1, y1 = transform @ (c.ravel() + 1, r.ravel() + 1)
    boxes = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
    return gpd.GeoSeries(boxes, crs=crs).segmentize(abs(transform.a) / 20).to_crs(UTM).values


def shapely_overlap(values: np.ndarray, cells: np.ndarray, polygons) -> np.ndarray:
    """Σ value × area(cell ∩ polygon) / area(cell), per polygon."""
    flat = values.astype(np.float64).ravel()
    area = shapely.area(cells)
    return np.array([float(np.sum(flat * shapely.area(shapely.intersection(cells, p)) / area)) for p in polygons])


def kxk_binning(counts: np.ndarray, transform: Affine, crs, grid: GridSpec, k: int) -> np.ndarray:
    """The former method: each source cell split into k × k parts binned by their centres."""
    frac = (np.arange(k) + 0.5) / k
    r, c = np.nonzero(counts > 0)
    sub_c = (c[:, None, None] + frac[None, None, :]) * np.ones((1, k, 1))
    sub_r = (r[:, None, None] + frac[None, :, None]) * np.ones((1, 1, k))
    x, y = transform @ (sub_c.ravel(), sub_r.ravel())
    gx, gy = pyproj.Transformer.from_crs(crs, grid.crs, always_xy=True).transform(x, y)
    gr, gc = grid.rowcol(np.asarray(gx), np.asarray(gy))
    w = np.repeat(counts[r, c].astype(np.float64) / (k * k), k * k)
    inside = grid.contains(gr, gc)
    out = np.zeros(grid.shape[0] * grid.shape[1])
    np.add.at(out, gr[inside] * grid.shape[1] + gc[inside], w[inside])
    return out.reshape(grid.shape)


def geographic_raster(path) -> tuple[np.ndarray, Affine]:
    values = source_values(ROWS, COLS)
    write_raster(path, values, x0=LON0, y1=LAT0, cell_m=STEP, crs="EPSG:4326")
    return values, Affine(STEP, 0.0, LON0, 0.0, -STEP, LAT0)


def district_residents(path, districts: Districts, cell_m: float) -> tuple[np.ndarray, np.ndarray, GridSpec]:
    """citycov's residents per district (person weights on the grid) and its source totals."""
    grid = GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=cell_m, crs=UTM)
    layer = read_population(path, grid)
    exact = person_weights(layer, districts, grid, zonal_weights(districts, grid, "fraction"))
    return exact.weights.sums(layer.values), exact.totals, grid


@pytest.mark.parametrize(("shape", "cell_m"), [("meridian", 100.0), ("meridian", 1000.0), ("utm_boxes", 250.0)])
def test_residents_per_district_are_the_exact_overlap_for_a_geographic_raster(tmp_path, shape, cell_m):
    values, transform = geographic_raster(tmp_path / "pop.tif")
    districts = meridian_districts() if shape == "meridian" else utm_box_districts()
    expected = shapely_overlap(values, shapely_cells(transform, values.shape, 4326), districts.frame.geometry)
    got, totals, grid = district_residents(tmp_path / "pop.tif", districts, cell_m)
    np.testing.assert_allclose(totals, expected, rtol=1e-6)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # the former k x k binning misses by far more than 1e-6 for every k it used
    area = zonal_weights(districts, grid, "fraction")
    for k in (2, 4, 8, 16) if shape == "meridian" else ():
        old = area.sums(kxk_binning(values, transform, "EPSG:4326", grid, k).astype(np.float32))
        assert np.max(np.abs(old / expected - 1.0)) > 1e-5, k


def test_residents_per_district_are_the_exact_overlap_for_a_mollweide_raster(tmp_path):
    """GHS-POP's grid: Mollweide (ESRI:54009), here 500 m cells (two segments per cell edge)."""
    districts = meridian_districts()
    to_moll = pyproj.Transformer.from_crs(UTM, MOLLWEIDE, always_xy=True)
    minx, miny, maxx, maxy = districts.frame.total_bounds
    mx, my = to_moll.transform([minx, minx, maxx, maxx], [miny, maxy, miny, maxy])
    cell = 500.0
    x0, y1 = math.floor(min(mx) / cell) * cell - 2 * cell, math.ceil(max(my) / cell) * cell + 2 * cell
    cols, rows = int((max(mx) - x0) / cell) + 3, int((y1 - min(my)) / cell) + 3
    values = source_values(rows, cols)
    path = tmp_path / "ghs.tif"
    write_raster(path, values, x0=x0, y1=y1, cell_m=cell, crs=MOLLWEIDE.to_wkt())
    transform = Affine(cell, 0.0, x0, 0.0, -cell, y1)
    expected = shapely_overlap(values, shapely_cells(transform, values.shape, MOLLWEIDE), districts.frame.geometry)
    got, totals, _ = district_residents(path, districts, 250.0)
    np.testing.assert_allclose(totals, expected, rtol=1e-6)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("cell_m", [250.0, 1000.0])
def test_grid_cells_receive_the_area_overlap_of_the_source_cells(tmp_path, cell_m):
    values, transform = geographic_raster(tmp_path / "pop.tif")
    districts = meridian_districts()
    grid = GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=cell_m, crs=UTM)
    layer = read_population(tmp_path / "pop.tif", grid)
    rows, cols = grid.shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    x0, y1 = grid.transform.c, grid.transform.f
    boxes = shapely.box(x0 + c.ravel() * cell_m, y1 - (r.ravel() + 1) * cell_m, x0 + (c.ravel() + 1) * cell_m,
                        y1 - r.ravel() * cell_m)
    src = shapely_cells(transform, values.shape, 4326)
    tree = shapely.STRtree(src)
    pairs = tree.query(boxes, predicate="intersects")
    share = shapely.area(shapely.intersection(boxes[pairs[0]], src[pairs[1]])) / shapely.area(src[pairs[1]])
    expected = np.bincount(pairs[0], weights=share * values.ravel()[pairs[1]].astype(np.float64),
                           minlength=boxes.size).reshape(grid.shape)
    np.testing.assert_allclose(layer.values, expected, rtol=2e-6, atol=1e-6 * expected.max())
    assert float(layer.values.sum(dtype=np.float64)) == pytest.approx(float(expected.sum()), rel=1e-6)


def test_districts_csv_residents_are_exact_end_to_end(tmp_path):
    """The whole run with a WGS84 raster: ``population`` (and the conservation column) of
    each district is the exact overlap, and the city is their sum."""
    districts = meridian_districts()
    tiny = make_tiny(tmp_path / "t")
    frame = districts.frame.rename(columns={"district_id": "adcode", "name": "name_en", "name_local": "name"})
    frame.to_file(tiny.folder / "districts.gpkg", driver="GPKG")
    values, transform = geographic_raster(tiny.folder / "population.tif")
    minx, miny, maxx, maxy = districts.frame.total_bounds
    x0, y1 = math.floor(minx / 100) * 100 - 2000, math.ceil(maxy / 100) * 100 + 2000
    n_c, n_r = int((maxx - x0) / 100) + 21, int((y1 - miny) / 100) + 21
    write_raster(tiny.folder / "dem.tif", np.full((n_r, n_c), 10.0, np.float32), x0=x0, y1=y1, cell_m=100.0,
                 nodata=-9999.0)
    cx, cy = districts.frame.union_all().centroid.coords[0]
    pd.DataFrame([sector_row(x=cx, y=cy)]).to_csv(tiny.sectors, index=False)
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "x": [cx], "y": [cy], "ports": [288]}).to_csv(
        tiny.folder / "fibre_nodes.csv", index=False)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    expected = shapely_overlap(values, shapely_cells(transform, values.shape, 4326), districts.frame.geometry)
    table = res.table
    np.testing.assert_allclose(table.loc[["W", "E"], "population"], expected, rtol=1e-6)
    np.testing.assert_allclose(table.loc[["W", "E"], "population_input"], expected, rtol=1e-6)
    assert table.loc[CITY_ID, "population"] == pytest.approx(expected.sum(), rel=1e-6)


# ---- an empty district sharing an edge with populated cells -------------------------------------


def two_district_scenario(folder):
    """A populated 10 x 10 km district and an empty 5 x 10 km one east of it, in UTM, sharing the
    edge x = X0 + 10 km (a cell edge of the 100 m grid), the site close to that edge."""
    tiny = make_tiny(folder, sectors=[sector_row(x=X0 + 9_600.0, y=Y0 + 5_000.0)])
    full = shapely.box(X0, Y0, X0 + 10_000, Y0 + 10_000)
    empty = shapely.box(X0 + 10_000, Y0, X0 + 15_000, Y0 + 10_000)
    gpd.GeoDataFrame({"adcode": ["full", "empty"], "name_en": ["Full", "Empty"], "name": ["满", "空"]},
                     geometry=[full, empty], crs=UTM49).to_file(folder / "districts.gpkg", driver="GPKG")
    pop = np.zeros((100, 150), np.float32)
    pop[:, :100] = 10.0
    write_raster(folder / "population.tif", pop, x0=X0, y1=Y0 + 10_000, cell_m=100.0, tags={"SYNTHETIC": "yes"})
    write_raster(folder / "dem.tif", np.full((140, 190), 10.0, np.float32), x0=X0 - 2000, y1=Y0 + 12_000,
                 cell_m=100.0, nodata=-9999.0)
    return tiny


def test_an_empty_district_beside_people_has_no_residents_and_no_pass(tmp_path):
    tiny = two_district_scenario(tmp_path / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert res.grid.shape == (100, 150)  # the exact extent, 15 x 10 km, over 100 m cells: no empty column
    empty = res.table.loc["empty"]
    assert empty["population"] == 0.0 and empty["households"] == 0.0
    assert math.isnan(empty["wireless_pct"]) and math.isnan(empty["ftth_pct"])
    by = {(r.area_id, r.target.metric): r for r in res.target_results}
    wireless, ftth = by[("empty", "wireless_population")], by[("empty", "ftth_households")]
    assert math.isnan(wireless.value) and not wireless.passed and wireless.verdict == "no residents"
    assert math.isnan(ftth.value) and not ftth.passed and ftth.verdict == "no households"
    # the city is the populated district: 100 x 100 cells of 10 residents
    city, full = res.table.loc[CITY_ID], res.table.loc["full"]
    assert city["population"] == pytest.approx(100_000.0, rel=1e-12)
    assert city["wireless_pct"] == pytest.approx(full["wireless_pct"], rel=1e-12)
    assert 0.0 < city["wireless_pct"] < 100.0


def test_float_noise_of_residents_is_no_population():
    """2.4e-11 residents, all covered (what the old WGS84 round trip left in the empty district):
    no share, no pass, "no residents"; and no census factor from it."""
    grid = GridSpec.from_bounds((X0, Y0, X0 + 200, Y0 + 100), cell_m=100.0, crs=UTM)
    districts = Districts(gpd.GeoDataFrame(
        {"district_id": ["a", "b"], "name": ["A", "B"], "name_local": ["甲", "乙"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100)], crs=UTM))
    pop = np.array([[1000.0, 2.4e-11]], dtype=np.float32)
    yes = np.ones(grid.shape, dtype=bool)
    grids = Grids(population=pop, households=pop / 2.5, wireless=yes, cellular=yes, wlan=yes, g3_or_better=yes,
                  urban=yes, households_passed=pop / 2.5, cell_area_km2=grid.cell_area_km2)
    table = district_table(districts, zonal_weights(districts, grid), None, grids, census_factor=np.ones(2))
    assert 0.0 < table.loc["b", "population"] < 1e-10
    assert math.isnan(table.loc["b", "wireless_pct"]) and math.isnan(table.loc["b", "ftth_pct"])
    assert table.loc["a", "wireless_pct"] == 100.0 and table.loc[CITY_ID, "wireless_pct"] == 100.0
    band, _ = band_table(table, {})
    people = band[(band["area_id"] == "b") & band["metric"].isin(["wireless_population", "ftth_households"])]
    assert len(people) == 2 and people[["point", "low", "high"]].isna().all().all()
    targets = (Target(metric="wireless_population", threshold=0.8, scope="districts", label="w"),
               Target(metric="ftth_households", threshold=0.5, scope="districts", label="f"))
    results = {(r.area_id, r.target.metric): r for r in evaluate_targets(targets, table, band)}
    for metric, verdict in (("wireless_population", "no residents"), ("ftth_households", "no households")):
        r = results[("b", metric)]
        assert math.isnan(r.value) and not r.passed and r.verdict == verdict and r.gap == 0.0
        assert results[("a", metric)].passed
    with pytest.raises(ScenarioError, match="no population on the grid"):
        census_factor(np.array([1000.0, 5.0]), table["population"].to_numpy()[:2])
