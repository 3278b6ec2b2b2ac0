"""Fibre cabinets for the plan: lattice, candidate files, cover, feeder, costs, node rows, villages.

References are independent of the code under test: brute-force distances over every cell, the
accounting's own ``passed_cells`` and ``village_counts``, hand-worked feeder lengths and costs,
and the full pipeline run with the cabinets added."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine
from scipy.spatial import cKDTree

import citycov
from citycov.accounting import fibre as fibre_mod
from citycov.accounting.districts import village_counts
from citycov.config import load_scenario
from citycov.config.plan import CabinetCandidates
from citycov.crs import WGS84, wgs84_to_gcj02
from citycov.errors import CRSError, SiteTableError
from citycov.grid import GridSpec
from citycov.pipeline.inputs import Additions
from citycov.planning.cabinets import (
    CANDIDATE_COLUMNS,
    cabinet_costs,
    cabinet_cover,
    cabinet_nodes,
    feeder_m,
    lattice_cabinets,
    read_cabinet_candidates,
    village_units,
)
from tests.conftest import UTM49, X0, Y0, make_tiny

CELL_M = 100.0
ROWS, COLS = 20, 25
GRID = GridSpec(crs=pyproj.CRS(UTM49), transform=Affine(CELL_M, 0.0, X0, 0.0, -CELL_M, Y0 + ROWS * CELL_M),
                shape=(ROWS, COLS))


def centres() -> tuple[np.ndarray, np.ndarray]:
    """Cell-centre x, y of every cell (rows, cols), written out independently of GridSpec."""
    col, row = np.meshgrid(np.arange(COLS), np.arange(ROWS))
    return X0 + (col + 0.5) * CELL_M, Y0 + ROWS * CELL_M - (row + 0.5) * CELL_M


def points(xy: list[tuple[float, float]] | np.ndarray, crs=UTM49, **columns) -> gpd.GeoDataFrame:
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def two_districts() -> np.ndarray:
    """District 0 in the west, 1 in the east, a strip of no district on the north edge."""
    index = np.zeros(GRID.shape, dtype=np.int32)
    index[:, 13:] = 1
    index[:3, :] = -1
    return index


# -- lattice ----------------------------------------------------------------------------------------

def test_lattice_is_hexagonal_at_the_spacing_from_a_fixed_origin():
    spacing = 300.0
    everywhere = np.ones(GRID.shape)
    cands = lattice_cabinets(grid=GRID, households=everywhere, passed=np.zeros(GRID.shape, bool),
                             district_index=np.zeros(GRID.shape, np.int32), district_ids=["A"],
                             config=CabinetCandidates(spacing_m=spacing), drop_distance_m=300.0)
    xy = np.column_stack([cands.geometry.x, cands.geometry.y])
    # every lattice point of the plane inside the grid, enumerated with plain loops
    h = spacing * math.sqrt(3) / 2
    minx, miny, maxx, maxy = X0, Y0, X0 + COLS * CELL_M, Y0 + ROWS * CELL_M
    expected = {(round((i + 0.5 * (j % 2)) * spacing, 6), round(j * h, 6))
                for j in range(int(miny // h) - 1, int(maxy // h) + 2)
                for i in range(int(minx // spacing) - 2, int(maxx // spacing) + 2)
                if minx <= (i + 0.5 * (j % 2)) * spacing < maxx and miny < j * h <= maxy}
    assert {(round(x, 6), round(y, 6)) for x, y in xy} == expected
    dist, _ = cKDTree(xy).query(xy, k=7)
    np.testing.assert_allclose(dist[:, 1], spacing, rtol=1e-9)  # nearest neighbour at the spacing
    inner = ((xy[:, 0] > minx + spacing) & (xy[:, 0] < maxx - spacing)
             & (xy[:, 1] > miny + spacing) & (xy[:, 1] < maxy - spacing))
    assert inner.sum() > 5
    np.testing.assert_allclose(dist[inner, 1:], spacing, rtol=1e-9)  # six neighbours inside
    assert list(cands.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert (cands["source"] == "lattice").all() and (cands["ports"] == 288).all() and (cands["cost"] == 0.15).all()
    assert cands["candidate_id"].str.fullmatch(r"C\d{6}").all() and cands["candidate_id"].is_unique
    assert cands.crs.equals(GRID.crs)


def test_square_lattice():
    cands = lattice_cabinets(grid=GRID, households=np.ones(GRID.shape), passed=np.zeros(GRID.shape, bool),
                             district_index=np.zeros(GRID.shape, np.int32), district_ids=["A"],
                             config=CabinetCandidates(spacing_m=400.0), drop_distance_m=300.0, lattice="square")
    x, y = cands.geometry.x.to_numpy(), cands.geometry.y.to_numpy()
    assert np.allclose(x / 400.0, np.round(x / 400.0)) and np.allclose(y / 400.0, np.round(y / 400.0))
    assert len(cands) == len(np.unique(x)) * len(np.unique(y)) == 7 * 5


def test_lattice_keeps_exactly_the_points_near_unpassed_households_in_a_district():
    rng = np.random.default_rng(3)
    households = rng.uniform(0.0, 5.0, GRID.shape) * (rng.random(GRID.shape) < 0.15)
    passed = np.zeros(GRID.shape, bool)
    passed[10:, :10] = True
    households[10:, :10] = 3.0  # populated but passed: brings no candidate
    index = two_districts()
    drop = 250.0
    all_points = lattice_cabinets(grid=GRID, households=np.ones(GRID.shape), passed=np.zeros(GRID.shape, bool),
                                  district_index=np.zeros(GRID.shape, np.int32), district_ids=["w", "e"],
                                  config=CabinetCandidates(), drop_distance_m=drop)
    kept = lattice_cabinets(grid=GRID, households=households, passed=passed, district_index=index,
                            district_ids=["w", "e"], config=CabinetCandidates(), drop_distance_m=drop)
    cx, cy = centres()
    demand = (households > 0) & ~passed
    expected = []
    for cid, p in zip(all_points["candidate_id"], all_points.geometry, strict=True):
        row, col = int((Y0 + ROWS * CELL_M - p.y) // CELL_M), int((p.x - X0) // CELL_M)
        near = np.hypot(cx - p.x, cy - p.y) <= drop
        if index[row, col] >= 0 and (near & demand).any():
            expected.append((cid, "we"[index[row, col]]))
    assert list(zip(kept["candidate_id"], kept["district_id"], strict=True)) == expected
    assert 0 < len(kept) < len(all_points)
    # the same position keeps its id whatever the households (ids come from the grid's lattice)
    same = all_points.set_index("candidate_id").loc[kept["candidate_id"]]
    assert shapely.equals(same.geometry.to_numpy(), kept.geometry.to_numpy()).all()


def test_lattice_is_reproducible_and_leaves_its_inputs_alone():
    households = np.random.default_rng(5).uniform(0, 3, GRID.shape)
    passed = np.zeros(GRID.shape, bool)
    passed[:5] = True
    index = two_districts()
    kept = [households.copy(), passed.copy(), index.copy()]
    first = lattice_cabinets(grid=GRID, households=households, passed=passed, district_index=index,
                             district_ids=["w", "e"], config=CabinetCandidates(), drop_distance_m=300.0)
    second = lattice_cabinets(grid=GRID, households=households, passed=passed, district_index=index,
                              district_ids=["w", "e"], config=CabinetCandidates(), drop_distance_m=300.0)
    pd.testing.assert_frame_equal(first, second)
    for before, after in zip(kept, (households, passed, index), strict=True):
        np.testing.assert_array_equal(before, after)


def test_lattice_refuses_bad_inputs():
    good = {"grid": GRID, "households": np.ones(GRID.shape), "passed": np.zeros(GRID.shape, bool),
            "district_index": np.zeros(GRID.shape, np.int32), "district_ids": ["A"],
            "config": CabinetCandidates(), "drop_distance_m": 300.0}
    with pytest.raises(ValueError, match="lattice must be one of"):
        lattice_cabinets(**good, lattice="triangular")
    bad = np.ones(GRID.shape)
    bad[2, 3] = np.nan
    with pytest.raises(citycov.errors.RasterError, match=r"NaN, infinite or negative, e.g. \(row, col\) \[\(2, 3\)\]"):
        lattice_cabinets(**{**good, "households": bad})
    with pytest.raises(ValueError, match="passed must be a bool array"):
        lattice_cabinets(**{**good, "passed": np.zeros(GRID.shape)})
    with pytest.raises(ValueError, match="more than 20,000,000"):
        lattice_cabinets(**{**good, "grid": GridSpec(GRID.crs, Affine(100, 0, 0, 0, -100, 1e6), (10_000, 10_000)),
                            "households": np.zeros((1, 1)), "passed": np.zeros((1, 1), bool),
                            "district_index": np.zeros((1, 1))} | {"config": CabinetCandidates(spacing_m=10.0)})


# -- cover = passed_cells ---------------------------------------------------------------------------

def test_cover_is_exactly_what_passed_cells_marks_for_each_cabinet():
    rng = np.random.default_rng(11)
    households = rng.uniform(0.0, 4.0, GRID.shape) * (rng.random(GRID.shape) < 0.7)
    passed = rng.random(GRID.shape) < 0.3
    cx, cy = centres()
    xy = [*zip(rng.uniform(X0 - 200, X0 + COLS * CELL_M + 200, 40), rng.uniform(Y0 - 200, Y0 + ROWS * CELL_M + 200,
                                                                               40), strict=True),
          (cx[5, 7], cy[5, 7]), (cx[0, 0], cy[0, 0]),  # on a centre: centres at exactly 300 m
          (X0 + 700.0, Y0 + 450.0), (X0 - 200.0, Y0 + 1000.0)]  # on a cell edge; outside, touching column 0
    cabinets = points(xy, candidate_id=[f"K{i}" for i in range(len(xy))])
    drop = 300.0
    cover = cabinet_cover(cabinets, grid=GRID, passed=passed, households=households, drop_distance_m=drop)
    demand = (households > 0) & ~passed
    dense = np.zeros((GRID.shape[0] * GRID.shape[1], len(cabinets)), bool)
    dense[cover.cells] = cover.cover.toarray()
    expected_pairs = 0
    for j in range(len(cabinets)):
        marked = fibre_mod.passed_cells(GRID, drop_distance_m=drop, nodes=cabinets.iloc[[j]])
        np.testing.assert_array_equal(dense[:, j], (marked & demand).ravel(), err_msg=f"cabinet {j}")
        expected_pairs += int(marked.sum())
    assert np.array_equal(cover.cells, np.flatnonzero(dense.any(axis=1)))  # sorted, unique, only cells covered
    assert cover.cover.shape == (len(cover.cells), len(cabinets)) and cover.cover.dtype == bool
    assert cover.pairs_evaluated == expected_pairs
    outside = fibre_mod.passed_cells(GRID, drop_distance_m=drop, nodes=cabinets.iloc[[len(xy) - 1]])
    assert outside[:, 0].any() and not outside[:, 1:].any()  # 200 m west of the grid: column 0 only


def test_cover_with_no_cabinets_and_nothing_to_pass():
    none = points(np.zeros((0, 2)), candidate_id=[])
    cover = cabinet_cover(none, grid=GRID, passed=np.zeros(GRID.shape, bool), households=np.ones(GRID.shape),
                          drop_distance_m=300.0)
    assert cover.cover.shape == (0, 0) and len(cover.cells) == 0
    one = points([(X0 + 1000, Y0 + 1000)], candidate_id=["K"])
    cover = cabinet_cover(one, grid=GRID, passed=np.ones(GRID.shape, bool), households=np.ones(GRID.shape),
                          drop_distance_m=300.0)
    assert cover.cover.shape == (0, 1)
    with pytest.raises(CRSError, match="differs"):
        cabinet_cover(one.to_crs(WGS84), grid=GRID, passed=np.zeros(GRID.shape, bool),
                      households=np.ones(GRID.shape), drop_distance_m=300.0)


# -- feeder and costs -------------------------------------------------------------------------------

def test_feeder_to_a_segment_and_to_a_route_end_worked_by_hand():
    route = gpd.GeoDataFrame({"route_id": ["R"]}, geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=UTM49)
    cabinets = points([(500, 300), (1300, 400), (-90, -120), (250, 0)], candidate_id=list("abcd"))
    # (500, 300): 300 m off the middle of the segment (its vertices are 583 m away);
    # (1300, 400): past the end, nearest the end vertex (1000, 0): hypot(300, 400) = 500 m;
    # (-90, -120): before the start: hypot(90, 120) = 150 m; (250, 0): on the route
    np.testing.assert_allclose(feeder_m(cabinets, nodes=None, routes=route, route_factor=1.4),
                               [420.0, 700.0, 210.0, 0.0], rtol=1e-12)
    node = points([(500, 350)], node_id=["N"])  # 50 m from a, nearer than the route
    np.testing.assert_allclose(feeder_m(cabinets, nodes=node, routes=route, route_factor=1.0),
                               [50.0, 500.0, 150.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(feeder_m(cabinets, nodes=node, routes=None, route_factor=2.0),
                               2 * np.hypot([0, 800, 590, 250], [50, 50, 470, 350]), rtol=1e-12)


def test_feeder_refuses_no_fibre_and_other_crs():
    cabinets = points([(0, 0)], candidate_id=["a"])
    with pytest.raises(ValueError, match="both are None"):
        feeder_m(cabinets, nodes=None, routes=None, route_factor=1.4)
    with pytest.raises(ValueError, match="hold no geometry"):
        feeder_m(cabinets, nodes=points(np.zeros((0, 2))), routes=None, route_factor=1.4)
    with pytest.raises(CRSError, match="nodes: CRS EPSG:4326 differs"):
        feeder_m(cabinets, nodes=points([(113.0, 23.0)], crs="EPSG:4326"), routes=None, route_factor=1.4)
    with pytest.raises(ValueError, match="route_factor must be"):
        feeder_m(cabinets, nodes=points([(1, 1)]), routes=None, route_factor=0.5)


def test_costs():
    config = CabinetCandidates(cost=0.15, feeder_cost_per_km=0.08)
    np.testing.assert_allclose(cabinet_costs(np.array([0.0, 1000.0, 2500.0]), config=config),
                               [0.15, 0.15 + 0.08, 0.15 + 0.2], rtol=1e-12)
    np.testing.assert_allclose(cabinet_costs(np.array([500.0, 0.0]), config=config, cost=np.array([1.0, 0.3])),
                               [1.04, 0.3], rtol=1e-12)
    with pytest.raises(ValueError, match="finite lengths"):
        cabinet_costs(np.array([np.nan]), config=config)
    with pytest.raises(ValueError, match="shape"):
        cabinet_costs(np.array([1.0, 2.0]), config=config, cost=np.array([1.0]))


# -- candidate files --------------------------------------------------------------------------------

def to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return pyproj.Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True).transform(x, y)


def read(path: Path, crs="EPSG:4326", **kw) -> gpd.GeoDataFrame:
    return read_cabinet_candidates(path, crs=crs, grid=GRID, config=CabinetCandidates(ports=288, cost=0.15),
                                   district_index=two_districts(), district_ids=["w", "e"], **kw)


def test_read_candidates_csv_lonlat_xy_and_geojson(tmp_path):
    x = np.array([X0 + 250.0, X0 + 2100.0, X0 + 1234.5])
    y = np.array([Y0 + 350.0, Y0 + 1050.0, Y0 + 600.0])
    lon, lat = to_wgs84(x, y)
    path = tmp_path / "cab.csv"
    pd.DataFrame({"candidate_id": ["A", "B", "C"], "lon": lon, "lat": lat, "ports": [96, None, 512],
                  "cost": [None, 0.4, None]}).to_csv(path, index=False)
    got = read(path)
    assert list(got.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    np.testing.assert_allclose(got.geometry.x, x, atol=1e-6)
    np.testing.assert_allclose(got.geometry.y, y, atol=1e-6)
    assert list(got["district_id"]) == ["w", "e", "w"]
    assert list(got["ports"]) == [96.0, 288.0, 512.0] and list(got["cost"]) == [0.15, 0.4, 0.15]
    assert (got["source"] == "cab.csv").all()
    xy = tmp_path / "xy.csv"
    pd.DataFrame({"candidate_id": ["A", "B", "C"], "x": x, "y": y}).to_csv(xy, index=False)
    got = read(xy, crs=UTM49)
    np.testing.assert_allclose(got.geometry.x, x)
    np.testing.assert_allclose(got.geometry.y, y)
    assert list(got["ports"]) == [288.0] * 3
    gj = tmp_path / "cab.geojson"
    gpd.GeoDataFrame({"candidate_id": ["A", "B", "C"], "cost": [1.0, 2.0, 3.0]},
                     geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_file(gj, driver="GeoJSON")
    got = read(gj)
    np.testing.assert_allclose(got.geometry.x, x, atol=1e-6)
    assert list(got["cost"]) == [1.0, 2.0, 3.0] and (got["source"] == "cab.geojson").all()
    # GCJ-02 lon/lat land on the same points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    gcj = tmp_path / "gcj.csv"
    pd.DataFrame({"candidate_id": ["A", "B", "C"], "lon": g_lon, "lat": g_lat}).to_csv(gcj, index=False)
    np.testing.assert_allclose(read(gcj, crs="gcj02").geometry.x, x, atol=1e-3)


def test_read_candidates_lists_every_problem_once(tmp_path):
    inside_x, inside_y = to_wgs84(np.array([X0 + 500.0]), np.array([Y0 + 500.0]))
    north_x, north_y = to_wgs84(np.array([X0 + 500.0]), np.array([Y0 + ROWS * CELL_M - 50.0]))  # no district
    far_x, far_y = to_wgs84(np.array([X0 + 9000.0]), np.array([Y0 + 500.0]))  # off the grid
    lon, lat = float(inside_x[0]), float(inside_y[0])
    lines = [
        "candidate_id,lon,lat,ports,cost",
        f"A,{lon},{lat},96,0.2",            # line 2: fine
        f",{lon},{lat},,",                  # line 3: no id
        f"A,{lon},{lat},,",                 # line 4: duplicate id
        f"D,east,{lat},,",                  # line 5: lon not a number
        f"E,{lon},{lat},0,",                # line 6: ports below 1
        f"F,{lon},{lat},2.5,",              # line 7: fractional ports
        f"G,{lon},{lat},,0",                # line 8: cost 0
        f"H,{float(far_x[0])},{float(far_y[0])},,",  # line 9: off the grid
        f"I,{float(north_x[0])},{float(north_y[0])},,",  # line 10: outside every district
        f"J,{lon},95,,",                    # line 11: latitude off the Earth
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SiteTableError) as err:
        read(path)
    msg = str(err.value)
    assert msg.startswith(str(path))
    for part in ("candidate_id: empty at line 3", "candidate_id: duplicate values ['A'] at line 2, line 4",
                 "lon: not a number at line 5 (found ['east'])", "ports: outside 1.0..100000.0 at line 6",
                 "ports: expected a whole number of ports at line 7 (found [2.5])",
                 "cost: expected a number > 0 at line 8", "candidates ['H'] at line 9 lie outside the analysis grid",
                 "candidates ['I'] at line 10 lie in cells outside every district",
                 "lat: outside -90.0..90.0 at line 11"):
        assert part in msg, part


def test_read_candidates_missing_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("id,longitude,latitude\nA,113.0,23.0\n", encoding="utf-8")
    with pytest.raises(SiteTableError, match=r"missing coordinate columns: expected lon/lat \(or x/y\).*"
                                             r"missing columns \['candidate_id'\]"):
        read(path)
    gj = tmp_path / "lines.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"candidate_id": "A"},
         "geometry": {"type": "LineString", "coordinates": [[113.0, 23.0], [113.1, 23.0]]}}]}), encoding="utf-8")
    with pytest.raises(SiteTableError, match=r"geometry: expected \['Point'\] at feature 1"):
        read(gj)


# -- cabinet rows through the pipeline --------------------------------------------------------------

def test_cabinet_nodes_columns():
    x, y = np.array([X0 + 100.0, X0 + 900.0]), np.array([Y0 + 100.0, Y0 + 700.0])
    cabinets = points(np.column_stack([x, y]), candidate_id=["C1", "C2"], ports=[96.0, 288.0])
    nodes = cabinet_nodes(cabinets, crs=GRID.crs)
    assert list(nodes.columns) == ["node_id", "kind", "lon", "lat", "ports", "geometry"]
    lon, lat = to_wgs84(x, y)
    np.testing.assert_allclose(nodes["lon"], lon, atol=1e-9)
    np.testing.assert_allclose(nodes["lat"], lat, atol=1e-9)
    assert list(nodes["node_id"]) == ["C1", "C2"] and (nodes["kind"] == "cabinet").all()
    assert list(nodes["ports"]) == [96.0, 288.0] and nodes.crs.equals(GRID.crs)
    np.testing.assert_allclose(nodes.geometry.x, x)
    gcj = cabinet_nodes(cabinets, crs=GRID.crs, column_crs="gcj02")
    np.testing.assert_allclose(gcj["lon"], wgs84_to_gcj02(lon, lat)[0])


def scenario_with_rule(tmp_path: Path, rule: str):
    tiny = make_tiny(tmp_path / rule, side_m=3000.0)
    text = tiny.scenario.read_text(encoding="utf-8").replace("[fibre]\n", f"[fibre]\nrule = \"{rule}\"\n", 1)
    tiny.scenario.write_text(text, encoding="utf-8")
    return load_scenario(tiny.scenario)


@pytest.mark.parametrize("rule", ["drop_distance", "capacity"])
def test_chosen_cabinets_pass_what_the_matrix_says_in_the_full_pipeline(tmp_path, rule):
    sc = scenario_with_rule(tmp_path, rule)
    assert sc.fibre.rule == rule
    base = citycov.run(sc, keep_context=True)
    ctx = base.context
    households = ctx.layers.households
    passed = ctx.fibre.passed_cells
    drop = sc.fibre.drop_distance_m
    cands = lattice_cabinets(grid=base.grid, households=households, passed=passed, district_index=ctx.layers.index,
                             district_ids=base.districts.ids, config=CabinetCandidates(spacing_m=300.0),
                             drop_distance_m=drop)
    cover = cabinet_cover(cands, grid=base.grid, passed=passed, households=households, drop_distance_m=drop)
    # three candidates: two overlapping each other, one overlapping the existing node N1's reach
    centre = shapely.Point(ctx.inputs.nodes.geometry.iloc[0])
    near = np.argsort(cands.distance(centre).to_numpy(), kind="stable")
    chosen_idx = np.array(sorted({int(near[3]), int(near[4]), int(near[-1])}))
    chosen = cands.iloc[chosen_idx]
    newly = np.flatnonzero(cover.cover[:, chosen_idx].toarray().any(axis=1))
    new_cells = cover.cells[newly]
    assert len(new_cells) > 20
    # households per cell: 1000 persons/km² × 0.01 km² / 2.5 = 4; N1's 288 ports pass its 32 cells (128)
    expected_new = float(households.ravel()[new_cells].sum())
    spec = sc.inputs["fibre_nodes"]
    nodes = cabinet_nodes(chosen, crs=base.grid.crs, lon_column=spec.options["lon_column"],
                          lat_column=spec.options["lat_column"], column_crs=spec.crs)
    after = citycov.run(sc, keep_context=True, additions=Additions(nodes=nodes))
    assert len(after.context.inputs.nodes) == 1 + len(chosen)
    expected = passed.ravel().copy()
    expected[new_cells] = True
    np.testing.assert_array_equal(after.context.fibre.passed_cells.ravel() & (households.ravel() > 0),
                                  expected & (households.ravel() > 0))
    before_hh = float(base.table.loc["city", "households_passed"])
    after_hh = float(after.table.loc["city", "households_passed"])
    assert before_hh == pytest.approx(128.0)
    assert after_hh - before_hh == pytest.approx(expected_new, rel=1e-9)
    assert after_hh - before_hh == pytest.approx(4.0 * len(new_cells), rel=1e-6)


def test_cabinet_nodes_with_default_columns_join_a_lonlat_node_table(tmp_path):
    tiny = make_tiny(tmp_path / "lonlat", side_m=3000.0)
    lon, lat = to_wgs84(np.array([tiny.centre[0]]), np.array([tiny.centre[1]]))
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "lon": lon, "lat": lat, "ports": [288]}).to_csv(
        tiny.folder / "fibre_nodes.csv", index=False)
    text = tiny.scenario.read_text(encoding="utf-8")
    head, tail = text.split("[inputs.fibre_nodes]", 1)
    _, rest = tail.split("\n[", 1)  # drop the section's keys
    tiny.scenario.write_text(head + '[inputs.fibre_nodes]\npath = "fibre_nodes.csv"\ncrs = "EPSG:4326"\n\n[' + rest,
                             encoding="utf-8")
    sc = load_scenario(tiny.scenario)
    cabinets = points([(X0 + 500.0, Y0 + 500.0)], candidate_id=["P1"], ports=[288.0])
    nodes = cabinet_nodes(cabinets, crs=pyproj.CRS(UTM49))
    after = citycov.run(sc, keep_context=True, additions=Additions(nodes=nodes))
    assert list(after.context.inputs.nodes["node_id"]) == ["N1", "P1"]
    # 300 m around a cell corner holds 32 cell centres (8 per quadrant), 4 households each, none passed before
    assert float(after.table.loc["city", "households_passed"]) == pytest.approx(128.0 + 128.0)


# -- villages ---------------------------------------------------------------------------------------

def test_village_units_count_like_village_counts():
    rng = np.random.default_rng(7)
    index = two_districts()
    wireless = rng.random(GRID.shape) < 0.4
    passed = rng.random(GRID.shape) < 0.2
    n = 300
    x = rng.uniform(X0 - 400, X0 + COLS * CELL_M + 400, n)
    y = rng.uniform(Y0 - 400, Y0 + ROWS * CELL_M + 400, n)
    x[:3], y[:3] = X0 + 1300.0, Y0 + 600.0  # on a district border (cell edge)
    villages = points(np.column_stack([x, y]), village_id=[f"V{i}" for i in range(n)])
    cell, district = village_units(villages, grid=GRID, district_index=index, wireless=wireless, passed=passed)
    total, good = village_counts(x, y, covered=wireless | passed, district_index=index, grid=GRID, n_districts=2)
    np.testing.assert_array_equal(np.bincount(district, minlength=2), total - good)
    assert 0 < len(cell) < n
    row, col = np.divmod(cell, GRID.shape[1])
    assert (index[row, col] == district).all() and not (wireless | passed)[row, col].any()
    # each unit is a village point in that cell (brute force: the cell holding each point)
    c_all = np.floor((x - X0) / CELL_M).astype(int)
    r_all = np.floor((Y0 + ROWS * CELL_M - y) / CELL_M).astype(int)
    on = (r_all >= 0) & (r_all < ROWS) & (c_all >= 0) & (c_all < COLS)
    flat = np.where(on, r_all * COLS + c_all, -1)
    keep = on & (index[np.clip(r_all, 0, ROWS - 1), np.clip(c_all, 0, COLS - 1)] >= 0)
    keep &= ~(wireless | passed)[np.clip(r_all, 0, ROWS - 1), np.clip(c_all, 0, COLS - 1)]
    np.testing.assert_array_equal(cell, flat[keep])
