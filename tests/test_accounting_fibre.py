"""FTTH rules (a) drop distance, (b) premises and (c) capacity: hand cases, independent references,
invariants, readers."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from citycov.accounting._fibre_kernels import cell_node_pairs, cells_near_segments, greedy_capacity
from citycov.accounting.fibre import CapacityResult, capacity_passed, passed_cells, premises_passed
from citycov.errors import CitycovWarning, CRSError, RasterError, SiteTableError
from citycov.grid import GridSpec
from citycov.io.fibre import PREMISES_COLUMNS, read_premises

UTM49 = pyproj.CRS("EPSG:32649")
GRID = GridSpec.from_bounds((500000, 2550000, 501000, 2551000), cell_m=100.0, crs=UTM49)  # 10 x 10 cells


def centre(row: int, col: int) -> tuple[float, float]:
    x, y = GRID.xy(np.array([row]), np.array([col]))
    return float(x[0]), float(y[0])


def make_nodes(rows: list[tuple[str, str, float, float, float]], crs=UTM49) -> gpd.GeoDataFrame:
    """Nodes from (node_id, kind, ports, x, y) tuples."""
    return gpd.GeoDataFrame(
        {"node_id": [r[0] for r in rows], "kind": [r[1] for r in rows], "ports": [float(r[2]) for r in rows]},
        geometry=gpd.points_from_xy([r[3] for r in rows], [r[4] for r in rows]), crs=crs)


def households_at(cells: dict[tuple[int, int], float]) -> np.ndarray:
    out = np.zeros(GRID.shape)
    for (row, col), value in cells.items():
        out[row, col] = value
    return out


# ---------------------------------------------------------------- rule (a): exact drop distance

FINE = GridSpec.from_bounds((500000, 2550000, 502000, 2552000), cell_m=10.0, crs=UTM49)  # 200 x 200 cells
FINE_ROW, FINE_COL = 100, 100  # the cell every hand case below is about
DROP_M = 300.0


def fine_centre() -> tuple[float, float]:
    x, y = FINE.xy(np.array([FINE_ROW]), np.array([FINE_COL]))
    return float(x[0]), float(y[0])  # (501005, 2550995), exact in binary


def toward(origin: tuple[float, float], distance_m: float, angle_deg: float) -> tuple[float, float]:
    a = math.radians(angle_deg)
    return origin[0] + distance_m * math.cos(a), origin[1] + distance_m * math.sin(a)


def lines(*coords: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"route_id": [f"r{i}" for i in range(len(coords))]},
                            geometry=[shapely.LineString(c) for c in coords], crs=UTM49)


def route_end_case(distance_m: float) -> gpd.GeoDataFrame:
    # A route running west from its end E; the cell lies 50.625° north of east of E, the
    # direction of a 32-gon edge's middle (radius × cos 5.625° = 298.56 m there).
    end = toward(fine_centre(), distance_m, 180.0 + 50.625)
    return lines([end, (end[0] - 800.0, end[1])])


def route_bend_case(distance_m: float) -> gpd.GeoDataFrame:
    # West-to-east to the bend B, then south: the cell lies outside the bend, 39.375° north of
    # east of B, so B is its nearest point on the route.
    bend = toward(fine_centre(), distance_m, 180.0 + 39.375)
    return lines([(bend[0] - 800.0, bend[1]), bend, (bend[0], bend[1] - 800.0)])


def route_middle_case(distance_m: float) -> gpd.GeoDataFrame:
    # An 800 m segment at 30° whose middle M is the foot of the perpendicular from the cell.
    middle = toward(fine_centre(), distance_m, 30.0 - 90.0)
    return lines([toward(middle, 400.0, 210.0), toward(middle, 400.0, 30.0)])


def node_case(distance_m: float) -> gpd.GeoDataFrame:
    x, y = toward(fine_centre(), distance_m, 180.0 + 16.875)
    return make_nodes([("N", "olt", 0, x, y)])


def test_drop_distance_hand_geometry_is_as_built():
    """The cases are built as stated: the cell centre is 299.9 m / 300.1 m from the named point."""
    c = shapely.Point(fine_centre())
    for d in (299.9, 300.1):
        end = shapely.Point(route_end_case(d).geometry[0].coords[0])
        bend = shapely.Point(route_bend_case(d).geometry[0].coords[1])
        middle = route_middle_case(d).geometry[0].interpolate(0.5, normalized=True)
        node = node_case(d).geometry[0]
        for point in (end, bend, middle, node):
            assert c.distance(point) == pytest.approx(d, abs=1e-6)
        assert route_bend_case(d).geometry[0].distance(c) == pytest.approx(d, abs=1e-6)  # B is the nearest point
        assert route_end_case(d).geometry[0].distance(c) == pytest.approx(d, abs=1e-6)


@pytest.mark.parametrize(("distance_m", "passed"), [(299.9, True), (300.1, False)])
def test_drop_distance_is_exact_at_route_ends_bends_middles_and_nodes(distance_m, passed):
    for routes in (route_end_case(distance_m), route_bend_case(distance_m), route_middle_case(distance_m)):
        mask = passed_cells(FINE, drop_distance_m=DROP_M, routes=routes)
        assert mask[FINE_ROW, FINE_COL] == passed, routes.geometry[0].wkt
    mask = passed_cells(FINE, drop_distance_m=DROP_M, nodes=node_case(distance_m))
    assert mask[FINE_ROW, FINE_COL] == passed
    # the same node under the capacity rule reaches the same cell
    x, y = node_case(distance_m).geometry[0].coords[0]
    hh = np.zeros(FINE.shape)
    hh[FINE_ROW, FINE_COL] = 1.0
    cap = capacity_passed(hh, FINE, make_nodes([("N", "cabinet", 1, x, y)]), drop_distance_m=DROP_M)
    assert cap.households_in_range == (1.0 if passed else 0.0)


def test_drop_distance_of_exactly_the_limit_is_passed_and_a_node_passes_a_true_disc():
    # Node 300 m due west of the cell centre, all in whole metres: distance exactly 300.
    x, y = fine_centre()
    mask = passed_cells(FINE, drop_distance_m=DROP_M, nodes=make_nodes([("N", "splitter", 0, x - 300.0, y)]))
    assert mask[FINE_ROW, FINE_COL]
    assert not mask[FINE_ROW, FINE_COL + 1]  # 310 m
    # the disc of radius 300 m about a cell corner: centres at (±5 + 10 i, ±5 + 10 j) m
    cx, cy = FINE.cell_centres()
    corner = (501000.0, 2551000.0)
    mask = passed_cells(FINE, drop_distance_m=DROP_M, nodes=make_nodes([("N", "cabinet", 0, *corner)]))
    want = sum(1 for i in range(-30, 30) for j in range(-30, 30) if (10 * i + 5) ** 2 + (10 * j + 5) ** 2 <= 300**2)
    # one quadrant: 707 odd pairs (a, b) with a² + b² ≤ 60²; π·300²/10² ≈ 2827
    assert int(mask.sum()) == want == 4 * 707
    assert mask.sum() == (np.hypot(cx[None, :] - corner[0], cy[:, None] - corner[1]) <= 300.0).sum()


def test_drop_distance_matches_shapely_distances():
    """Random routes (multi line strings, some off the grid) and nodes against shapely's distance."""
    rng = np.random.default_rng(11)
    grid = GridSpec.from_bounds((500000, 2550000, 503000, 2552000), cell_m=10.0, crs=UTM49)
    routes = [shapely.MultiLineString([rng.uniform((499500, 2549500), (503500, 2552500), (4, 2)) for _ in range(2)])
              for _ in range(5)]
    routes.append(shapely.LineString([(500500.0, 2551000.0), (500500.0, 2551000.0 + 1e-9), (502500, 2551000)]))
    route_frame = gpd.GeoDataFrame({"route_id": [str(i) for i in range(len(routes))]}, geometry=routes, crs=UTM49)
    xs, ys = rng.uniform(499800, 503200, 40), rng.uniform(2549800, 2552200, 40)
    nodes = make_nodes([(f"n{i}", "cabinet", 1, xs[i], ys[i]) for i in range(40)])
    mask = passed_cells(grid, drop_distance_m=230.0, nodes=nodes, routes=route_frame)
    cx, cy = grid.cell_centres()
    points = shapely.points(*np.meshgrid(cx, cy))
    plant = shapely.union_all([*routes, *nodes.geometry])
    want = shapely.distance(points, plant) <= 230.0
    assert 0 < want.sum() < want.size
    np.testing.assert_array_equal(mask, want)
    empty = passed_cells(grid, drop_distance_m=230.0, nodes=nodes.iloc[:0], routes=None)
    assert empty.shape == grid.shape and not empty.any()


def test_drop_distance_kernel_runs_as_plain_python():
    cx, cy = FINE.cell_centres()
    ends = (np.array([500100.0, 501500.0]), np.array([2550400.0, 2551800.0]),
            np.array([500900.0, 501500.0]), np.array([2550100.0, 2551800.0]))
    jitted = np.zeros(FINE.shape, dtype=bool)
    cells_near_segments(*ends, cx, cy, 120.0, jitted)
    plain = np.zeros(FINE.shape, dtype=bool)
    getattr(cells_near_segments, "py_func", cells_near_segments)(*ends, cx, cy, 120.0, plain)
    np.testing.assert_array_equal(jitted, plain)
    node_only = np.hypot(cx[None, :] - 501500.0, cy[:, None] - 2551800.0) <= 120.0
    assert (jitted & node_only).sum() == node_only.sum()


def test_drop_distance_bad_input_is_named():
    with pytest.raises(ValueError, match="drop_distance_m must be a finite number ≥ 0 m, got nan"):
        passed_cells(FINE, drop_distance_m=float("nan"), nodes=node_case(299.9))
    polygons = gpd.GeoDataFrame({"route_id": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=UTM49)
    with pytest.raises(ValueError, match=r"routes: expected points or line strings, found 1 other "
                                         r"geometries, e\.g\. a Polygon$"):
        passed_cells(FINE, drop_distance_m=DROP_M, routes=polygons)


# ---------------------------------------------------------------- rule (c): hand cases


def test_two_nodes_of_ten_ports_pass_twenty_of_thirty():
    x, y = centre(5, 5)
    nodes = make_nodes([("A", "cabinet", 10, x, y), ("B", "splitter", 10, x + 10.0, y)])
    result = capacity_passed(households_at({(5, 5): 30.0}), GRID, nodes, drop_distance_m=50.0)
    assert result.passed.sum() == 20.0
    assert result.passed[5, 5] == 20.0
    np.testing.assert_array_equal(result.ports_used, [10.0, 10.0])
    assert result.ports_total == 20.0
    assert result.households_in_range == 30.0
    assert result.summary() == "20 of 20 ports used; 30 households in range"


def test_one_node_with_spare_ports_passes_every_household():
    x, y = centre(5, 5)
    nodes = make_nodes([("A", "cabinet", 100, x, y)])
    result = capacity_passed(households_at({(5, 5): 12.5, (5, 6): 17.5}), GRID, nodes, drop_distance_m=100.0)
    assert result.passed.sum() == 30.0
    assert result.ports_used.tolist() == [30.0]
    assert result.summary() == "30 of 100 ports used; 30 households in range"


def test_nearer_node_first_then_overflow_to_farther():
    # A (15 hh) is 10 m from N1 and 60 m from N2; B (8 hh) is 40 m from N2 and 90 m from N1.
    # Pairs by distance: A-N1 takes 10 (N1 full), B-N2 takes 8, A-N2 takes the last 2, B-N1 nothing.
    x, y = centre(5, 5)
    nodes = make_nodes([("N1", "cabinet", 10, x + 10.0, y), ("N2", "cabinet", 10, x + 60.0, y)])
    result = capacity_passed(households_at({(5, 5): 15.0, (5, 6): 8.0}), GRID, nodes, drop_distance_m=100.0)
    assert result.passed[5, 5] == 12.0
    assert result.passed[5, 6] == 8.0
    np.testing.assert_array_equal(result.ports_used, [10.0, 10.0])
    assert result.households_in_range == 23.0


def test_equal_distance_goes_to_the_first_node():
    x, y = centre(5, 5)
    first = ("L", "cabinet", 10, x - 30.0, y)
    second = ("R", "cabinet", 10, x + 30.0, y)
    hh = households_at({(5, 5): 5.0})
    result = capacity_passed(hh, GRID, make_nodes([first, second]), drop_distance_m=50.0)
    assert result.ports_used.tolist() == [5.0, 0.0]
    swapped = capacity_passed(hh, GRID, make_nodes([second, first]), drop_distance_m=50.0)
    assert swapped.node_ids.tolist() == ["R", "L"]
    assert swapped.ports_used.tolist() == [5.0, 0.0]


def test_olt_ports_are_upstream_and_ignored_by_default():
    x, y = centre(5, 5)
    nodes = make_nodes([("OLT", "olt", 1000, x, y), ("C", "cabinet", 4, x, y)])
    hh = households_at({(5, 5): 30.0})
    result = capacity_passed(hh, GRID, nodes, drop_distance_m=50.0)
    assert result.passed.sum() == 4.0
    assert result.node_ids.tolist() == ["C"]
    assert result.ports_total == 4.0
    olt_only = capacity_passed(hh, GRID, nodes, drop_distance_m=50.0, kinds=("olt",))
    assert olt_only.passed.sum() == 30.0


def test_households_beyond_the_drop_distance_are_never_passed():
    x, y = centre(4, 4)
    x += 37.0
    y -= 13.0
    nodes = make_nodes([("A", "cabinet", 1e6, x, y)])
    hh = np.ones(GRID.shape)
    result = capacity_passed(hh, GRID, nodes, drop_distance_m=250.0)
    xs, ys = GRID.cell_centres()
    within = np.hypot(xs[None, :] - x, ys[:, None] - y) <= 250.0
    np.testing.assert_array_equal(result.passed, within.astype(float))
    assert result.households_in_range == within.sum()


def test_node_outside_the_grid_reaches_only_the_cells_in_range():
    x, y = centre(0, 0)
    nodes = make_nodes([("far", "cabinet", 100, x - 5000.0, y), ("edge", "cabinet", 100, x - 120.0, y)])
    result = capacity_passed(np.ones(GRID.shape), GRID, nodes, drop_distance_m=150.0)
    assert result.passed.sum() == 1.0  # only cell (0, 0), 120 m from "edge"
    assert result.passed[0, 0] == 1.0
    assert result.ports_used.tolist() == [0.0, 1.0]


def test_inputs_are_not_modified_and_output_contract():
    rng = np.random.default_rng(1)
    hh = rng.uniform(0, 50, GRID.shape).astype(np.float32)
    hh_before = hh.copy()
    x, y = centre(3, 7)
    nodes = make_nodes([("A", "cabinet", 40, x, y), ("B", "olt", 40, x, y)])
    nodes_before = nodes.copy()
    result = capacity_passed(hh, GRID, nodes, drop_distance_m=300.0)
    np.testing.assert_array_equal(hh, hh_before)
    pd.testing.assert_frame_equal(pd.DataFrame(nodes), pd.DataFrame(nodes_before))
    assert result.passed.shape == GRID.shape
    assert result.passed.dtype == np.float64
    assert result.ports_used.dtype == np.float64


def test_everything_in_range_passes_min_of_ports_and_households():
    rng = np.random.default_rng(7)
    xs = rng.uniform(500000, 501000, 6)
    ys = rng.uniform(2550000, 2551000, 6)
    for ports_each in (3.0, 25.0, 1000.0):
        nodes = make_nodes([(f"n{i}", "splitter", ports_each, xs[i], ys[i]) for i in range(6)])
        hh = rng.uniform(0, 2, GRID.shape)
        result = capacity_passed(hh, GRID, nodes, drop_distance_m=2000.0)
        assert result.households_in_range == pytest.approx(hh.sum())
        assert result.passed.sum() == pytest.approx(min(6 * ports_each, hh.sum()), rel=1e-12)


# ---------------------------------------------------------------- rule (c): reference and invariants


def reference_capacity(hh: np.ndarray, xs: np.ndarray, ys: np.ndarray, ports: np.ndarray,
                       drop_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Written differently: every (distance, node, cell) over the whole grid, Python's sort."""
    cx, cy = GRID.cell_centres()
    n_rows, n_cols = GRID.shape
    pairs = sorted(
        (math.dist((cx[c], cy[r]), (xs[k], ys[k])), k, r * n_cols + c)
        for k in range(len(xs)) for r in range(n_rows) for c in range(n_cols)
        if math.dist((cx[c], cy[r]), (xs[k], ys[k])) <= drop_m
    )
    left = hh.ravel().astype(float).copy()
    free = ports.astype(float).copy()
    passed = np.zeros(left.size)
    for _, k, cell in pairs:
        take = min(left[cell], free[k])
        left[cell] -= take
        free[k] -= take
        passed[cell] += take
    return passed.reshape(GRID.shape), ports - free


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_an_independent_reference_and_keeps_invariants(seed):
    rng = np.random.default_rng(seed)
    n = 8
    xs = rng.uniform(499900, 501100, n)
    ys = rng.uniform(2549900, 2551100, n)
    ports = rng.integers(0, 40, n).astype(float)
    hh = rng.uniform(0, 6, GRID.shape) * (rng.random(GRID.shape) < 0.7)
    nodes = make_nodes([(f"n{i}", "cabinet", ports[i], xs[i], ys[i]) for i in range(n)])
    result = capacity_passed(hh, GRID, nodes, drop_distance_m=260.0)
    want_passed, want_used = reference_capacity(hh, xs, ys, ports, 260.0)
    np.testing.assert_allclose(result.passed, want_passed, rtol=0, atol=1e-9)
    np.testing.assert_allclose(result.ports_used, want_used, rtol=0, atol=1e-9)
    assert (result.passed <= hh).all()
    assert (result.ports_used <= ports).all()
    assert result.passed.sum() == pytest.approx(result.ports_used.sum())
    assert result.passed.sum() <= min(ports.sum(), result.households_in_range) + 1e-9


def test_kernels_run_as_plain_python():
    xs = np.array([500130.0, 500510.0])
    ys = np.array([2550870.0, 2550450.0])
    cx, cy = GRID.cell_centres()
    row_lo, col_lo = GRID.rowcol(xs - 200, ys + 200)
    row_hi, col_hi = GRID.rowcol(xs + 200, ys - 200)
    args = (xs, ys, np.clip(row_lo, 0, 10), np.clip(row_hi, -1, 9), np.clip(col_lo, 0, 10),
            np.clip(col_hi, -1, 9), cx, cy, 200.0)
    jitted = cell_node_pairs(*args)
    plain = getattr(cell_node_pairs, "py_func", cell_node_pairs)(*args)  # plain under NUMBA_DISABLE_JIT
    for a, b in zip(jitted, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    order = np.argsort(plain[2], kind="stable")
    hh = np.random.default_rng(3).uniform(0, 5, 100)
    ports = np.array([7.0, 30.0])
    got = getattr(greedy_capacity, "py_func", greedy_capacity)(plain[0][order], plain[1][order], hh, ports)
    want = greedy_capacity(jitted[0][order], jitted[1][order], hh, ports)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert (got[0] <= hh).all()
    assert (got[1] <= ports).all()
    assert got[0].sum() == pytest.approx(min(ports.sum(), hh[np.unique(plain[0])].sum()))


def test_summary_in_millions():
    result = CapacityResult(passed=np.zeros((1, 1)), ports_used=np.array([4_512_000.0]), node_ids=np.array(["a"]),
                            ports_total=4_980_000.0, households_in_range=5_100_000.0)
    assert result.summary() == "4,512,000 of 4,980,000 ports used; 5.1 M households in range"


# ---------------------------------------------------------------- rule (c): bad input


def test_capacity_bad_input_is_named():
    x, y = centre(5, 5)
    nodes = make_nodes([("A", "cabinet", 10, x, y)])
    hh = np.ones(GRID.shape)
    with pytest.raises(ValueError, match=r"households have shape \(3, 3\), the grid is \(10, 10\)"):
        capacity_passed(np.ones((3, 3)), GRID, nodes, drop_distance_m=50.0)
    with pytest.raises(RasterError, match=r"households: 1 cells are NaN.*\(2, 3\)"):
        capacity_passed(np.where(np.arange(100).reshape(10, 10) == 23, np.nan, hh), GRID, nodes, drop_distance_m=50.0)
    with pytest.raises(ValueError, match="drop_distance_m must be a finite number"):
        capacity_passed(hh, GRID, nodes, drop_distance_m=-1.0)
    with pytest.raises(ValueError, match=r"unknown node kinds \['pole'\]"):
        capacity_passed(hh, GRID, nodes, drop_distance_m=50.0, kinds=("cabinet", "pole"))
    with pytest.raises(CRSError, match="EPSG:4326 differs from the grid's"):
        capacity_passed(hh, GRID, nodes.set_crs("EPSG:4326", allow_override=True), drop_distance_m=50.0)
    with pytest.raises(SiteTableError, match=r"missing columns \['ports'\]"):
        capacity_passed(hh, GRID, nodes.drop(columns="ports"), drop_distance_m=50.0)
    with pytest.raises(SiteTableError, match=r"ports: expected a finite number ≥ 0 at nodes \['A'\]"):
        capacity_passed(hh, GRID, nodes.assign(ports=-3.0), drop_distance_m=50.0)


# ---------------------------------------------------------------- rule (b): premises reader

HEADER = "premises_id,lon,lat,households,ftth_ready\n"


def write(tmp_path: Path, text: str, name: str = "premises.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_premises_good(tmp_path):
    path = write(tmp_path, HEADER + "P1,113.30,23.10,3,true\nP2,113.31,23.11,2.5,NO\n P3 ,113.32,23.12,0,Yes\n"
                 "P4,113.33,23.13,7,0\nP5,113.34,23.14,1,1\nP6,113.35,23.15,4,FALSE\n")
    premises = read_premises(path, crs="EPSG:4326", to_crs=UTM49)
    assert premises.crs.equals(UTM49)
    assert premises["premises_id"].tolist() == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert premises["households"].tolist() == [3.0, 2.5, 0.0, 7.0, 1.0, 4.0]
    assert premises["ftth_ready"].dtype == bool
    assert premises["ftth_ready"].tolist() == [True, False, True, False, True, False]
    assert set(PREMISES_COLUMNS) <= set(premises.columns)


@pytest.mark.parametrize("flags", [("1", "0"), ("True", "False")])  # pandas reads these as int and bool
def test_read_premises_one_spelling_per_file(tmp_path, flags):
    path = write(tmp_path, HEADER + f"P1,113.30,23.10,3,{flags[0]}\nP2,113.31,23.11,2,{flags[1]}\n")
    assert read_premises(path, crs="EPSG:4326")["ftth_ready"].tolist() == [True, False]


def test_read_premises_boolean_column_of_a_gpkg(tmp_path):
    frame = gpd.GeoDataFrame({"premises_id": ["a", "b"], "households": [1.0, 2.0], "ftth_ready": [True, False]},
                             geometry=[shapely.Point(500100, 2550100), shapely.Point(500200, 2550200)], crs=UTM49)
    frame.to_file(tmp_path / "premises.gpkg", driver="GPKG")
    premises = read_premises(tmp_path / "premises.gpkg")
    assert premises["ftth_ready"].tolist() == [True, False]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("premises_id,lon,lat,households\nP1,113.3,23.1,3\n", r"missing columns \['ftth_ready'\]"),
        (HEADER + "P1,113.3,23.1,3,yes\nP1,113.4,23.2,2,no\n",
         r"premises_id: duplicate values \['P1'\] at line 2, line 3"),
        (HEADER + "P1,113.3,23.1,3,yes\nP2,113.4,23.2,2,maybe\n",
         r"ftth_ready: expected true/false, yes/no or 1/0 \(any case\) at line 3 \(found \['maybe'\]\)"),
        (HEADER + "P1,113.3,23.1,-2,yes\n", r"households: outside 0.0..100000.0 at line 2 \(found \[-2.0\]\)"),
    ],
)
def test_read_premises_bad(tmp_path, body, message):
    with pytest.raises(SiteTableError, match=message):
        read_premises(write(tmp_path, body), crs="EPSG:4326")


def test_read_premises_lists_every_problem_once(tmp_path):
    path = write(tmp_path, HEADER + "P1,113.3,23.1,-1,maybe\nP1,113.4,23.2,x,Y\nP3,113.5,23.3,1,\n")
    with pytest.raises(SiteTableError) as info:
        read_premises(path, crs="EPSG:4326")
    text = str(info.value)
    assert text.startswith(str(path))
    for part in ("premises_id: duplicate", "households: not a number at line 3", "households: outside",
                 "ftth_ready: expected", "(found ['maybe', 'Y'])", "ftth_ready: missing at line 4"):
        assert part in text


# ---------------------------------------------------------------- rule (b): sums per district


def test_premises_passed_hand_sums():
    index = np.zeros(GRID.shape, dtype=np.int32)
    index[:, 5:] = 1
    index[0, :] = -1  # top row in no district
    points = [
        (centre(3, 1), 3.0, True),
        (centre(7, 4), 2.0, False),
        (centre(2, 8), 4.0, True),
        (centre(9, 9), 1.5, False),
        (centre(5, 5), 0.5, True),
        (centre(0, 2), 10.0, True),  # top row: no district
        ((499_000.0, 2_550_500.0), 20.0, True),  # outside the grid
    ]
    premises = gpd.GeoDataFrame(
        {"premises_id": [f"p{i}" for i in range(len(points))], "households": [p[1] for p in points],
         "ftth_ready": [p[2] for p in points]},
        geometry=[shapely.Point(*p[0]) for p in points], crs=UTM49)
    before = premises.copy()
    with pytest.warns(CitycovWarning, match="2 of 7 premises were dropped: 1 outside the analysis grid, 1 in cells"):
        total, ready = premises_passed(premises, index, GRID, 2)
    np.testing.assert_array_equal(total, [5.0, 6.0])
    np.testing.assert_array_equal(ready, [3.0, 4.5])
    assert total.dtype == np.float64
    assert ready.dtype == np.float64
    pd.testing.assert_frame_equal(pd.DataFrame(premises), pd.DataFrame(before))


def test_premises_passed_with_an_empty_district_and_wrong_crs():
    index = np.zeros(GRID.shape, dtype=np.int32)
    premises = gpd.GeoDataFrame({"premises_id": ["a"], "households": [2.0], "ftth_ready": [False]},
                                geometry=[shapely.Point(*centre(4, 4))], crs=UTM49)
    total, ready = premises_passed(premises, index, GRID, 3)
    assert total.tolist() == [2.0, 0.0, 0.0]
    assert ready.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(CRSError, match="premises: CRS EPSG:4326 differs"):
        premises_passed(premises.set_crs("EPSG:4326", allow_override=True), index, GRID, 3)
