"""Coverage gaps on a hand-checkable 10 x 10 grid of 100 m cells (UTM 49N).

Layout (row 0 at the top, ``#`` uncovered and populated, ``0`` uncovered with no people,
``x`` uncovered but outside every district; left district = columns 0-4, right = 5-9)::

         col 0 1 2 3 4 | 5 6 7 8 9
    row 0    . . . . . | . . . . #    B: one cell, right district (10 people)
    row 1    # # # . . | . . . . .    A: 2 x 3 block, left district (60 people)
    row 2    # # # . . | . . . . .
    row 5    . . . # # | # # . . .    C: 2 x 4 block across the border -> two gaps of 40
    row 6    . . . # # | # # . . .
    row 8    . . . . . | # . . 0 .    E: diagonal pair (8,5)-(9,6): one gap with 8-connectivity
    row 9    x . . . . | . # . . .       two with 4; (8,8) has no people; (9,0) is outside

Cell (row, col) spans x = 500000 + 100 col .. + 100, y = 2551000 - 100 (row + 1) .. + 100.
"""

from __future__ import annotations

import doctest

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import citycov.accounting.gaps
from citycov.accounting.gaps import GAP_COLUMNS, find_gaps, top_gaps_per_district, write_gaps
from citycov.errors import CitycovError, CRSError, GridError, RasterError
from citycov.grid import GridSpec

UTM49 = pyproj.CRS("EPSG:32649")
X0, Y1, CELL_M = 500_000.0, 2_551_000.0, 100.0
SITES_X = np.array([500_500.0, 500_950.0])  # site 1 on the border line; site 2 inside cell B (0, 9)
SITES_Y = np.array([2_550_950.0, 2_550_950.0])
IDS, NAMES = ["L1", "R2"], ["Left", "Right"]


def cell_box(row: int, col: int) -> shapely.Polygon:
    x = X0 + CELL_M * col
    y = Y1 - CELL_M * (row + 1)
    return shapely.box(x, y, x + CELL_M, y + CELL_M)


def cells_union(cells) -> shapely.Geometry:
    return shapely.union_all([cell_box(r, c) for r, c in cells])


@pytest.fixture
def grid() -> GridSpec:
    return GridSpec.from_bounds((500_000, 2_550_000, 501_000, 2_551_000), cell_m=CELL_M, crs=UTM49)


@pytest.fixture
def layers(grid):
    uncovered = np.zeros(grid.shape, dtype=bool)
    uncovered[1:3, 0:3] = True  # A
    uncovered[0, 9] = True  # B
    uncovered[5:7, 3:7] = True  # C
    uncovered[8, 8] = True  # zero population
    uncovered[8, 5] = uncovered[9, 6] = True  # E (diagonal)
    uncovered[9, 0] = True  # outside districts
    population = np.full(grid.shape, 10.0, dtype=np.float32)
    population[8, 8] = 0.0
    district = np.zeros(grid.shape, dtype=np.int32)
    district[:, 5:] = 1
    district[9, 0] = -1
    return uncovered, population, district


def run(layers, grid, **kwargs):
    options = {"district_ids": IDS, "district_names": NAMES, "site_x": SITES_X, "site_y": SITES_Y, **kwargs}
    return find_gaps(*layers, grid, **options)


def test_columns_dtypes_and_crs(layers, grid):
    gaps = run(layers, grid)
    assert list(gaps.columns) == [*GAP_COLUMNS, "geometry"]
    assert gaps.crs == UTM49
    assert gaps["rank"].dtype == np.int64
    assert gaps["cells"].dtype == np.int64
    assert gaps["population"].dtype == np.float64
    assert list(gaps.index) == list(range(len(gaps)))
    assert shapely.is_valid(gaps.geometry.values).all()


def test_ranks_populations_districts_connectivity_8(layers, grid):
    gaps = run(layers, grid)
    # A 60; C-left 40 and C-right 40 tie (same area): left district first; E 20; B 10.
    assert gaps["gap_id"].tolist() == ["G0001", "G0002", "G0003", "G0004", "G0005"]
    assert gaps["rank"].tolist() == [1, 2, 3, 4, 5]
    assert gaps["population"].tolist() == [60.0, 40.0, 40.0, 20.0, 10.0]
    assert gaps["cells"].tolist() == [6, 4, 4, 2, 1]
    assert gaps["district_id"].tolist() == ["L1", "L1", "R2", "R2", "R2"]
    assert gaps["district_name"].tolist() == ["Left", "Left", "Right", "Right", "Right"]
    np.testing.assert_allclose(gaps["area_km2"], [0.06, 0.04, 0.04, 0.02, 0.01], rtol=1e-12)
    np.testing.assert_allclose(gaps.geometry.area, gaps["area_km2"] * 1e6, rtol=1e-12)


def test_connectivity_4_splits_diagonal_pair(layers, grid):
    gaps = run(layers, grid, connectivity=4)
    assert gaps["population"].tolist() == [60.0, 40.0, 40.0, 10.0, 10.0, 10.0]
    # The three single cells tie on people and area, all in R2: row-major first cell decides.
    singles = gaps.iloc[3:]
    expected = [cell_box(0, 9), cell_box(8, 5), cell_box(9, 6)]
    assert all(shapely.equals(g, e) for g, e in zip(singles.geometry, expected, strict=True))
    assert singles["rank"].tolist() == [4, 5, 6]


def test_geometry_is_union_of_cells(layers, grid):
    gaps = run(layers, grid).set_index("gap_id")
    a = gaps.geometry["G0001"]
    assert a.geom_type == "Polygon"
    assert a.area == pytest.approx(60_000.0, abs=1e-6)
    assert a.bounds == (500_000.0, 2_550_700.0, 500_300.0, 2_550_900.0)
    assert shapely.equals(a, cells_union([(r, c) for r in (1, 2) for c in (0, 1, 2)]))
    c_left, c_right = gaps.geometry["G0002"], gaps.geometry["G0003"]
    assert c_left.bounds == (500_300.0, 2_550_300.0, 500_500.0, 2_550_500.0)
    assert c_right.bounds == (500_500.0, 2_550_300.0, 500_700.0, 2_550_500.0)
    assert shapely.equals(c_right, cells_union([(r, c) for r in (5, 6) for c in (5, 6)]))
    e = gaps.geometry["G0004"]  # corner-touching cells: a valid two-part MultiPolygon
    assert e.geom_type == "MultiPolygon"
    assert shapely.equals(e, cells_union([(8, 5), (9, 6)]))
    assert shapely.equals(gaps.geometry["G0005"], cell_box(0, 9))


def test_nearest_site_distance(layers, grid):
    gaps = run(layers, grid).set_index("gap_id")
    # A: from (500500, 2550950) to corner (500300, 2550900): dx 200, dy 50.
    assert gaps.loc["G0001", "nearest_site_m"] == pytest.approx(np.hypot(200.0, 50.0), abs=1e-6)
    # C halves: top edge y = 2550500 lies 450 m below site 1, whose x is within both halves.
    assert gaps.loc["G0002", "nearest_site_m"] == pytest.approx(450.0, abs=1e-6)
    assert gaps.loc["G0003", "nearest_site_m"] == pytest.approx(450.0, abs=1e-6)
    # E: top edge of (8, 5) is y = 2550200, x range 500500..500600 contains site 1's x.
    assert gaps.loc["G0004", "nearest_site_m"] == pytest.approx(750.0, abs=1e-6)
    assert gaps.loc["G0005", "nearest_site_m"] == 0.0  # site 2 inside B


def test_no_sites_gives_nan_distance(layers, grid):
    gaps = run(layers, grid, site_x=np.array([]), site_y=np.array([]))
    assert len(gaps) == 5
    assert gaps["nearest_site_m"].isna().all()


def test_centroid_in_wgs84(layers, grid):
    gaps = run(layers, grid)
    back = pyproj.Transformer.from_crs("EPSG:4326", UTM49, always_xy=True)
    x, y = back.transform(gaps.loc[0, "centroid_lon"], gaps.loc[0, "centroid_lat"])
    assert (x, y) == (pytest.approx(500_150.0, abs=1e-3), pytest.approx(2_550_800.0, abs=1e-3))
    # Easting 500 km is zone 49's central meridian, 111 E; 150 m east of it at 23 N is ~0.0015 degrees.
    assert 111.0 < gaps.loc[0, "centroid_lon"] < 111.01
    assert 23.0 < gaps.loc[0, "centroid_lat"] < 23.1


def test_min_population_drops_small_gaps(layers, grid):
    gaps = run(layers, grid, min_population=15.0)
    assert gaps["population"].tolist() == [60.0, 40.0, 40.0, 20.0]
    assert gaps["gap_id"].tolist() == ["G0001", "G0002", "G0003", "G0004"]
    assert run(layers, grid, min_population=0.0)["population"].sum() == 170.0


def test_varying_population_ranks_by_people_not_area(layers, grid):
    uncovered, population, district = layers
    population = population.copy()
    population[0, 9] = 100.0  # B now holds more people than the 6-cell block A
    gaps = find_gaps(uncovered, population, district, grid, district_ids=IDS, district_names=NAMES,
                     site_x=SITES_X, site_y=SITES_Y)
    assert gaps.loc[0, "cells"] == 1
    assert gaps.loc[0, "population"] == 100.0
    assert gaps.loc[0, "gap_id"] == "G0001"


def test_inputs_unchanged(layers, grid):
    copies = [a.copy() for a in layers]
    sx, sy = SITES_X.copy(), SITES_Y.copy()
    run(layers, grid)
    for before, after in zip(copies, layers, strict=True):
        assert after.dtype == before.dtype
        np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(SITES_X, sx)
    np.testing.assert_array_equal(SITES_Y, sy)


def test_empty_when_no_gaps(layers, grid):
    _, population, district = layers
    gaps = find_gaps(np.zeros(grid.shape, dtype=bool), population, district, grid, district_ids=IDS,
                     district_names=NAMES, site_x=SITES_X, site_y=SITES_Y)
    assert isinstance(gaps, gpd.GeoDataFrame)
    assert gaps.empty
    assert list(gaps.columns) == [*GAP_COLUMNS, "geometry"]
    assert gaps.crs == UTM49
    assert gaps["rank"].dtype == np.int64


def test_empty_when_all_below_min_population(layers, grid):
    gaps = run(layers, grid, min_population=1000.0)
    assert gaps.empty
    assert list(gaps.columns) == [*GAP_COLUMNS, "geometry"]


def test_bad_shape_raises(layers, grid):
    uncovered, population, district = layers
    with pytest.raises(GridError, match=r"population has shape \(9, 10\), expected the grid shape \(10, 10\)"):
        find_gaps(uncovered, population[:9], district, grid, district_ids=IDS, district_names=NAMES,
                  site_x=SITES_X, site_y=SITES_Y)


def test_bad_dtypes_are_all_reported(layers, grid):
    uncovered, population, district = layers
    with pytest.raises(GridError, match=r"uncovered has dtype int64, expected bool") as info:
        find_gaps(uncovered.astype(np.int64), population, district.astype(np.float64), grid, district_ids=IDS,
                  district_names=NAMES, site_x=SITES_X, site_y=SITES_Y)
    assert "district_index has dtype float64, expected an integer dtype" in str(info.value)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, CitycovError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connectivity": 6}, r"connectivity must be one of \[4, 8\], got 6"),
        ({"min_population": -1.0}, r"min_population must be a finite number >= 0 persons, got -1.0"),
        ({"district_ids": ["L1"], "district_names": ["Left"]},
         r"district_index refers to district row 1 but only 1 district_ids were given"),
        ({"district_names": ["Left"]}, r"district_ids has 2 entries but district_names has 1"),
        ({"site_y": np.array([1.0])}, r"site_x and site_y must be 1-D arrays of equal length"),
        ({"site_x": np.array([np.nan, 1.0])}, r"1 sites have non-finite coordinates \(first at index 0\)"),
    ],
)
def test_bad_arguments_raise(layers, grid, kwargs, message):
    with pytest.raises(GridError, match=message):
        run(layers, grid, **kwargs)


def test_negative_or_nan_population_raises(layers, grid):
    uncovered, population, district = layers
    population = population.copy()
    population[3, 4] = np.nan
    with pytest.raises(RasterError, match=r"1 cells inside districts .* \(first at row 3, col 4: nan\)"):
        find_gaps(uncovered, population, district, grid, district_ids=IDS, district_names=NAMES,
                  site_x=SITES_X, site_y=SITES_Y)


def test_nan_population_outside_districts_is_ignored(layers, grid):
    uncovered, population, district = layers
    population = population.copy()
    population[9, 0] = np.nan  # outside every district
    assert len(find_gaps(uncovered, population, district, grid, district_ids=IDS, district_names=NAMES,
                         site_x=SITES_X, site_y=SITES_Y)) == 5


def test_top_gaps_per_district(layers, grid):
    gaps = run(layers, grid, connectivity=4)
    top = top_gaps_per_district(gaps, n=2)
    assert not isinstance(top, gpd.GeoDataFrame)
    assert "geometry" not in top.columns
    assert top["district_id"].tolist() == ["L1", "L1", "R2", "R2"]
    assert top["rank"].tolist() == [1, 2, 3, 4]
    assert top["district_rank"].tolist() == [1, 2, 1, 2]
    assert list(top.index) == [0, 1, 2, 3]
    top1 = top_gaps_per_district(gaps, n=1)
    assert top1["gap_id"].tolist() == ["G0001", "G0003"]
    assert len(top_gaps_per_district(gaps, n=10)) == len(gaps)


def test_top_gaps_default_and_empty(layers, grid):
    gaps = run(layers, grid, connectivity=4)  # R2 has 4 gaps (ranks 3..6)
    assert top_gaps_per_district(gaps)["rank"].tolist() == [1, 2, 3, 4, 5]
    empty = top_gaps_per_district(run(layers, grid, min_population=1e6))
    assert empty.empty
    assert "district_rank" in empty.columns


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_top_gaps_bad_n(layers, grid, n):
    with pytest.raises(GridError, match=r"n must be a positive integer"):
        top_gaps_per_district(run(layers, grid), n=n)


def test_top_gaps_missing_columns():
    with pytest.raises(GridError, match=r"missing columns \['gap_id'"):
        top_gaps_per_district(pd.DataFrame({"rank": [1]}))


def test_write_gaps_round_trip(layers, grid, tmp_path):
    gaps = run(layers, grid)
    paths = write_gaps(gaps, tmp_path / "out")
    assert paths == {"geojson": tmp_path / "out" / "gaps.geojson", "gpkg": tmp_path / "out" / "gaps.gpkg"}
    geojson = gpd.read_file(paths["geojson"])
    gpkg = gpd.read_file(paths["gpkg"], layer="gaps")
    assert geojson.crs.to_epsg() == 4326
    assert gpkg.crs.to_epsg() == 32649
    assert len(geojson) == len(gpkg) == len(gaps) == 5
    assert gpkg["gap_id"].tolist() == gaps["gap_id"].tolist()
    assert gpkg["population"].tolist() == gaps["population"].tolist()
    assert geojson["district_id"].tolist() == gaps["district_id"].tolist()
    assert all(shapely.equals(a, b) for a, b in zip(gpkg.geometry, gaps.geometry, strict=True))
    back = geojson.to_crs(UTM49)
    np.testing.assert_allclose(back.geometry.area, gaps.geometry.area, rtol=1e-6)
    assert not list(tmp_path.glob("out/.*"))  # no staging files left


def test_write_gaps_replaces_earlier_files(layers, grid, tmp_path):
    write_gaps(run(layers, grid), tmp_path)
    paths = write_gaps(run(layers, grid, min_population=50.0), tmp_path)
    assert len(gpd.read_file(paths["gpkg"], layer="gaps")) == 1
    assert len(gpd.read_file(paths["geojson"])) == 1


def test_write_gaps_empty(layers, grid, tmp_path):
    paths = write_gaps(run(layers, grid, min_population=1e6), tmp_path)
    geojson = gpd.read_file(paths["geojson"])
    gpkg = gpd.read_file(paths["gpkg"], layer="gaps")
    assert len(geojson) == len(gpkg) == 0
    assert gpkg.crs.to_epsg() == 32649
    assert geojson.crs.to_epsg() == 4326
    assert "gap_id" in gpkg.columns


def test_write_gaps_without_crs_raises(tmp_path):
    frame = gpd.GeoDataFrame({"gap_id": ["G0001"]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(CRSError, match=r"gaps has no CRS"):
        write_gaps(frame, tmp_path)


def test_docstring_examples():
    result = doctest.testmod(citycov.accounting.gaps, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@settings(max_examples=40, deadline=None)
@given(
    mask=hnp.arrays(bool, (6, 7)),
    district=hnp.arrays(np.int32, (6, 7), elements=st.integers(-1, 2)),
    population=hnp.arrays(np.float64, (6, 7), elements=st.sampled_from([0.0, 1.0, 2.5, 7.0])),
    connectivity=st.sampled_from([4, 8]),
)
def test_invariants(mask, district, population, connectivity):
    grid = GridSpec.from_bounds((X0, Y1 - 600, X0 + 700, Y1), cell_m=CELL_M, crs=UTM49)
    gaps = find_gaps(mask, population, district, grid, district_ids=["a", "b", "c"],
                     district_names=["A", "B", "C"], site_x=np.array([X0]), site_y=np.array([Y1]),
                     min_population=0.0, connectivity=connectivity)
    gap = mask & (district >= 0) & (population > 0)
    # People and cells are conserved; polygons are valid, disjoint and exactly the gap cells.
    assert gaps["population"].sum() == pytest.approx(population[gap].sum())
    assert gaps["cells"].sum() == gap.sum()
    assert shapely.is_valid(gaps.geometry.values).all()
    np.testing.assert_allclose(gaps.geometry.area, gaps["cells"] * CELL_M**2)
    union = cells_union(np.argwhere(gap)) if gap.any() else shapely.Polygon()
    assert shapely.union_all(gaps.geometry.values).symmetric_difference(union).area == pytest.approx(0.0)
    # Each gap lies in its own district, and ranks follow people.
    letters = np.array(["a", "b", "c"])
    for geom, district_id in zip(gaps.geometry, gaps["district_id"], strict=True):
        rows, cols = grid.rowcol(*shapely.get_coordinates(shapely.point_on_surface(geom)).T)
        assert letters[district[rows[0], cols[0]]] == district_id
    assert (np.diff(gaps["population"].to_numpy()) <= 0).all()
    assert gaps["rank"].tolist() == list(range(1, len(gaps) + 1))
