"""Viewsheds and line of sight (citycov.engine.visibility): hand-worked horizons and shadows, a
brute-force oracle of the exact per-cell line of sight written plainly in numpy, multi-observer
counts, rotation, and precise errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from affine import Affine

from citycov.engine import line_of_sight, viewshed, viewshed_count
from citycov.engine.visibility import BEYOND, HIDDEN, NO_DATA, VISIBLE
from citycov.errors import GridError, ModelError, RasterError
from citycov.grid import GridSpec
from tests.test_engine_cellular import UTM49, rough_dem

R_EARTH_M = 6_371_000.0


def oracle_code(dem: np.ndarray, r0: int, c0: int, row: int, col: int, cell_m: float, h_obs_m: float,
                h_tgt_m: float, k_factor: float) -> int:
    """The exact per-cell line of sight from cell (r0, c0) to cell (row, col): the segment from the
    eye to the target point against the terrain at every crossing of an integer row or column
    strictly between, linear along that grid line, heights lowered by s^2/(2kR); NaN = unknown."""
    rows, cols = dem.shape
    dr, dc = row - r0, col - c0
    if dr == 0 and dc == 0:
        return VISIBLE
    if math.isnan(dem[row, col]):
        return NO_DATA
    z_eye = dem[r0, c0] + h_obs_m
    curv = 0.0 if math.isinf(k_factor) else 1.0 / (2.0 * k_factor * R_EARTH_M)
    dist_m = math.hypot(dr, dc) * cell_m
    t_row = np.arange(1, abs(dr)) / abs(dr)  # crossings of the integer rows between
    r_int = r0 + np.sign(dr) * np.arange(1, abs(dr))
    c_frac = c0 + t_row * dc
    left = np.minimum(np.floor(c_frac).astype(int), cols - 2)
    f = c_frac - left
    a, b = dem[r_int, left], dem[r_int, np.minimum(left + 1, cols - 1)]
    z_row = np.where(f == 0, a, np.where(f == 1, b, a + (b - a) * f))
    t_col = np.arange(1, abs(dc)) / abs(dc)  # crossings of the integer columns between
    c_int = c0 + np.sign(dc) * np.arange(1, abs(dc))
    r_frac = r0 + t_col * dr
    top = np.minimum(np.floor(r_frac).astype(int), rows - 2)
    f = r_frac - top
    a, b = dem[top, c_int], dem[np.minimum(top + 1, rows - 1), c_int]
    z_col = np.where(f == 0, a, np.where(f == 1, b, a + (b - a) * f))
    t = np.concatenate([t_row, t_col])
    target = dem[row, col] + h_tgt_m - curv * dist_m**2
    sight = z_eye + (target - z_eye) * t  # the segment at each crossing
    ground = np.concatenate([z_row, z_col]) - curv * (t * dist_m) ** 2
    known = ~np.isnan(ground)
    if (ground[known] > sight[known]).any():
        return HIDDEN
    return NO_DATA if not known.all() else VISIBLE


def oracle_codes(dem: np.ndarray, r0: int, c0: int, cell_m: float, h_obs_m: float, h_tgt_m: float,
                 max_distance_m: float, k_factor: float) -> np.ndarray:
    """:func:`oracle_code` of every cell within ``max_distance_m`` (BEYOND elsewhere)."""
    out = np.full(dem.shape, BEYOND, dtype=np.uint8)
    for row in range(dem.shape[0]):
        for col in range(dem.shape[1]):
            if math.hypot(row - r0, col - c0) * cell_m <= max_distance_m:
                out[row, col] = oracle_code(dem, r0, c0, row, col, cell_m, h_obs_m, h_tgt_m, k_factor)
    return out


@pytest.fixture(scope="module")
def hills() -> np.ndarray:
    return rough_dem(81, seed=5, relief_m=200.0).astype(np.float64)


# ---------------------------------------------------------------- hand-worked cases


@pytest.mark.parametrize(("k_factor", "h_obs", "h_tgt"), [(4.0 / 3.0, 30.0, 0.0), (1.0, 30.0, 0.0),
                                                           (4.0 / 3.0, 30.0, 10.0)])
def test_flat_earth_is_visible_to_the_geometric_horizon(k_factor, h_obs, h_tgt):
    # flat ground on a sphere of radius kR: the eye at h sees a target at h_t to
    # d = sqrt(2kRh) + sqrt(2kRh_t): 22,576 m for k = 4/3, h = 30 m, h_t = 0 (2 x 8,494,667 m x 30 m =
    # 509,680,000 m^2); 19,551 m for k = 1; 22,576 + 13,034 = 35,610 m with h_t = 10 m.  The terrain is
    # read at grid-line crossings, the last at most sqrt(2) cells before the target, so the
    # discrete horizon lies between d and d + 1.5 cells.
    cell = 100.0
    d_h = math.sqrt(2 * k_factor * R_EARTH_M * h_obs) + math.sqrt(2 * k_factor * R_EARTH_M * h_tgt)
    assert d_h == pytest.approx({(1.0, 0.0): 19_551.5, (4.0 / 3.0, 0.0): 22_576.1,
                                 (4.0 / 3.0, 10.0): 35_610.0}[(k_factor, h_tgt)], abs=1.0)
    n = 2 * int(d_h / cell + 5) + 1
    mid = n // 2
    dem = np.zeros((n, n))
    seen = viewshed(dem, cell, row=mid, col=mid, observer_height_m=h_obs, target_height_m=h_tgt,
                    max_distance_m=(mid - 1) * cell, k_factor=k_factor)
    rr, cc = np.mgrid[:n, :n]
    d = np.hypot(rr - mid, cc - mid) * cell
    inside = seen != BEYOND
    assert (seen[inside & (d <= d_h)] == VISIBLE).all()
    assert (seen[inside & (d > d_h + 1.5 * cell)] == HIDDEN).all()
    assert ((seen == VISIBLE) & (d > d_h + 1.5 * cell)).sum() == 0


def test_without_curvature_flat_ground_is_visible_everywhere():
    dem = np.full((201, 201), 12.0)
    for kw in ({"curvature": False}, {"k_factor": math.inf}):
        seen = viewshed(dem, 100.0, row=100, col=100, observer_height_m=2.0, max_distance_m=10_000.0, **kw)
        assert (seen[seen != BEYOND] == VISIBLE).all()
        assert (seen == VISIBLE).sum() == (np.hypot(*np.mgrid[-100:101, -100:101]) <= 100).sum()


@pytest.mark.parametrize("refine", ["edges", "all"])  # the sweep alone leaks through a one-cell wall
def test_wall_casts_the_shadow_of_similar_triangles(refine):
    # flat ground at 0, eye 30 m up, a wall 20 m high along the whole column 10 cells east.  A
    # target at x cells east (any row) sees over the wall when the sight line clears its top:
    # 30 - (30 - h_t) * 10 / x >= 20  <=>  x >= 10 * (30 - h_t) / 10 = 30 - h_t.
    # h_t = 1.5 m: columns 11..28 are in shadow, 29 on visible; h_t = 0: 11..29 shadow, 30 grazes
    # the wall top (visible).
    dem = np.zeros((61, 101))
    dem[:, 50 + 10] = 20.0
    for h_t, first_seen in ((1.5, 29), (0.0, 30)):
        seen = viewshed(dem, 25.0, row=30, col=50, observer_height_m=30.0, target_height_m=h_t,
                        max_distance_m=60 * 25.0, curvature=False, refine=refine)
        for x in range(11, 46):
            column = seen[:, 50 + x]
            column = column[column != BEYOND]
            assert (column == (VISIBLE if x >= first_seen else HIDDEN)).all(), (h_t, x, column)
        assert (seen[:, 51:60][seen[:, 51:60] != BEYOND] == VISIBLE).all()  # before the wall


def test_line_of_sight_over_a_ridge_by_hand():
    # eye 10 m up at column 0, a 20 m ridge at column 5, target 10 m up at column 10: the line at
    # the ridge is 10 m < 20 m, blocked; at 25 m heights it clears (25 > 20)
    dem = np.zeros((3, 11))
    dem[:, 5] = 20.0
    assert not line_of_sight(dem, 30.0, (1, 0), (1, 10), observer_height_m=10.0, target_height_m=10.0,
                             curvature=False)
    assert line_of_sight(dem, 30.0, (1, 0), (1, 10), observer_height_m=25.0, target_height_m=25.0,
                         curvature=False)
    # 15 m at the observer, 24 m at the target: 15 + 9 * 5/10 = 19.5 < 20, blocked; 26 m: 20.5, clear
    assert not line_of_sight(dem, 30.0, (1, 0), (1, 10), observer_height_m=15.0, target_height_m=24.0,
                             curvature=False)
    assert line_of_sight(dem, 30.0, (1, 0), (1, 10), observer_height_m=15.0, target_height_m=26.0,
                         curvature=False)


# ---------------------------------------------------------------- brute-force oracle


CASES = [  # (observer cell, cell size m, eye m, target m, k)
    ((40, 40), 30.0, 30.0, 1.5, 4.0 / 3.0),
    ((12, 63), 30.0, 10.0, 0.0, 4.0 / 3.0),
    ((70, 5), 500.0, 20.0, 2.0, 1.0),  # 500 m cells: curvature matters across the 40 km grid
    ((33, 47), 90.0, 2.0, 2.0, math.inf),
]


@pytest.mark.parametrize(("at", "cell", "h_obs", "h_tgt", "k"), CASES)
def test_viewshed_matches_the_brute_force_oracle(hills, at, cell, h_obs, h_tgt, k):
    reach = 57.3 * cell
    ref = oracle_codes(hills, *at, cell, h_obs, h_tgt, reach, k)
    inside = ref != BEYOND
    got = {}
    for refine in ("edges", "all", "none"):
        got[refine] = viewshed(hills, cell, row=at[0], col=at[1], observer_height_m=h_obs, target_height_m=h_tgt,
                               max_distance_m=reach, k_factor=k, refine=refine)
        assert ((got[refine] == BEYOND) == ~inside).all()
    # measured: exact agreement (100 %) on all four cases with the refinement and with every cell
    # exact; the sweep alone (nearest ray) agrees on 98.2-98.9 % of these cells
    assert (got["all"] == ref).all()
    assert (got["edges"] == ref).all()
    agree_sweep = (got["none"][inside] == ref[inside]).mean()
    assert agree_sweep >= 0.95
    assert 0.02 < (ref[inside] == VISIBLE).mean() < 0.98  # a real mix of visible and hidden cells


def test_refined_sweep_agrees_with_the_oracle_on_random_terrain():
    # six random rough terrains, observers and heights: measured 100.00 % of 21,000 cells agree
    # (the sweep alone: about 98.5 %); the bound asserted is the 99.5 %
    rng = np.random.default_rng(7)
    agree = cells = 0
    for seed in range(6):
        dem = rough_dem(61, seed=100 + seed, relief_m=float(rng.uniform(50, 400))).astype(np.float64)
        at = tuple(int(v) for v in rng.integers(5, 56, 2))
        h_obs, h_tgt = float(rng.uniform(1, 40)), float(rng.uniform(0, 5))
        ref = oracle_codes(dem, *at, 30.0, h_obs, h_tgt, 1e9, 4.0 / 3.0)
        got = viewshed(dem, 30.0, row=at[0], col=at[1], observer_height_m=h_obs, target_height_m=h_tgt,
                       max_distance_m=1e9)
        agree += int((got == ref).sum())
        cells += ref.size
    assert agree / cells >= 0.995


def test_line_of_sight_is_symmetric_and_matches_the_oracle(hills):
    rng = np.random.default_rng(2)
    for _ in range(40):
        a = tuple(int(v) for v in rng.integers(0, 81, 2))
        b = tuple(int(v) for v in rng.integers(0, 81, 2))
        if a == b:
            continue
        there = line_of_sight(hills, 30.0, a, b, observer_height_m=5.0, target_height_m=5.0)
        back = line_of_sight(hills, 30.0, b, a, observer_height_m=5.0, target_height_m=5.0)
        assert there == back
        ref = oracle_code(hills, *a, *b, 30.0, 5.0, 5.0, 4.0 / 3.0)
        assert there == (ref == VISIBLE)


def test_no_data_is_unknown_never_sea_level(hills):
    dem = hills.copy()
    dem[30:33, 50:52] = np.nan
    dem[5, 5] = np.nan
    ref = oracle_codes(dem, 40, 40, 30.0, 30.0, 1.5, 57.3 * 30.0, 4.0 / 3.0)
    for refine in ("edges", "all"):
        got = viewshed(dem, 30.0, row=40, col=40, observer_height_m=30.0, target_height_m=1.5,
                       max_distance_m=57.3 * 30.0, refine=refine, nodata="unknown")
        assert (got == ref).all()
    assert (ref == NO_DATA).sum() > 6  # the no-data cells and some behind them
    # sea level (0 m) instead of no data would open those paths: the oracle sees a difference
    sea = oracle_codes(np.nan_to_num(dem, nan=0.0), 40, 40, 30.0, 30.0, 1.5, 57.3 * 30.0, 4.0 / 3.0)
    assert (sea[ref == NO_DATA] == VISIBLE).any()


# ---------------------------------------------------------------- invariants


def test_count_is_the_sum_of_single_observers(hills):
    at = [(40, 40), (10, 70), (75, 20), (40, 41)]
    heights = [30.0, 10.0, 50.0, 2.0]
    reach = [1500.0, 2500.0, 1000.0, 1800.0]
    count, stack = viewshed_count(hills, 30.0, rows=[a[0] for a in at], cols=[a[1] for a in at],
                                  observer_height_m=heights, target_height_m=1.5, max_distance_m=reach,
                                  per_observer=True)
    total = np.zeros(hills.shape, dtype=np.int64)
    for i, (a, h, r) in enumerate(zip(at, heights, reach, strict=True)):
        one = viewshed(hills, 30.0, row=a[0], col=a[1], observer_height_m=h, target_height_m=1.5, max_distance_m=r)
        assert (stack[i] == one).all()
        total += one == VISIBLE
    assert count.dtype == np.int32 and count.shape == hills.shape
    assert (count == total).all()
    assert count.max() >= 2
    alone = viewshed_count(hills, 30.0, rows=[a[0] for a in at], cols=[a[1] for a in at], observer_height_m=heights,
                           target_height_m=1.5, max_distance_m=reach)
    assert (alone == count).all()


@pytest.mark.parametrize("refine", ["edges", "all"])
def test_rotation_by_90_degrees_rotates_the_result(hills, refine):
    dem = hills[:, :77]  # not square, so rows and columns really swap
    seen = viewshed(dem, 30.0, row=31, col=44, observer_height_m=20.0, target_height_m=1.5, max_distance_m=1500.0,
                    refine=refine)
    turned = np.rot90(dem)  # counter-clockwise: cell (r, c) moves to (cols - 1 - c, r)
    seen_turned = viewshed(turned, 30.0, row=77 - 1 - 44, col=31, observer_height_m=20.0, target_height_m=1.5,
                           max_distance_m=1500.0, refine=refine)
    assert (np.rot90(seen) == seen_turned).all()


def test_contract_input_unchanged_shape_dtype_and_points(hills):
    dem32 = hills.astype(np.float32)
    before = dem32.copy()
    grid = GridSpec(crs=UTM49, transform=Affine(30.0, 0.0, 400_000.0, 0.0, -30.0, 2_600_000.0), shape=hills.shape)
    by_cell = viewshed(dem32, grid, row=20, col=30, observer_height_m=15.0, max_distance_m=1000.0)
    x, y = grid.xy(np.array([20]), np.array([30]))
    by_point = viewshed(dem32, grid, x=float(x[0]) + 9.0, y=float(y[0]) - 9.0, observer_height_m=15.0,
                        max_distance_m=1000.0)
    assert (dem32 == before).all()
    assert by_cell.dtype == np.uint8 and by_cell.shape == hills.shape
    assert (by_cell == by_point).all()
    assert set(np.unique(by_cell)) <= {VISIBLE, HIDDEN, BEYOND}


# ---------------------------------------------------------------- errors


def test_observer_outside_the_dem_names_position_and_bounds(hills):
    with pytest.raises(GridError, match=r"row 200, col 5; the DEM has rows 0\.\.80 and cols 0\.\.80"):
        viewshed(hills, 30.0, row=200, col=5, observer_height_m=10.0, max_distance_m=500.0)
    grid = GridSpec(crs=UTM49, transform=Affine(30.0, 0.0, 400_000.0, 0.0, -30.0, 2_600_000.0), shape=hills.shape)
    with pytest.raises(GridError, match=r"x=399000\.0, y=2599000\.0.*\(400000\.0, 2597570\.0, 402430\.0, 2600000\.0\)"):
        viewshed(hills, grid, x=399_000.0, y=2_599_000.0, observer_height_m=10.0, max_distance_m=500.0)
    with pytest.raises(GridError, match=r"line_of_sight: 1 target\(s\) outside the DEM, first at row 3, col 99"):
        line_of_sight(hills, 30.0, (1, 1), (3, 99), observer_height_m=1.0)
    with pytest.raises(GridError, match=r"first at row -1, col 3"):
        viewshed_count(hills, 30.0, rows=[4, -1], cols=[4, 3], observer_height_m=10.0, max_distance_m=500.0)


def test_no_data_in_reach_is_an_error_by_default(hills):
    dem = hills.copy()
    dem[45, 47] = np.nan
    with pytest.raises(RasterError, match=r"1 no-data \(NaN\) DEM cells within reach .* row 40, col 40, first at "
                                          r"row 45, col 47; .*nodata='unknown'"):
        viewshed(dem, 30.0, row=40, col=40, observer_height_m=10.0, max_distance_m=500.0)
    # out of reach: no error
    viewshed(dem, 30.0, row=10, col=10, observer_height_m=10.0, max_distance_m=500.0)
    with pytest.raises(RasterError, match=r"no terrain \(NaN\) under the observer at row 45, col 47"):
        viewshed(dem, 30.0, row=45, col=47, observer_height_m=10.0, max_distance_m=500.0, nodata="unknown")
    with pytest.raises(RasterError, match=r"no-data terrain \(NaN\) on the path from row 45, col 40 to row 45, col 55"):
        line_of_sight(dem, 30.0, (45, 40), (45, 55), observer_height_m=1000.0)


def test_bad_arguments_are_listed_at_once(hills):
    with pytest.raises(ModelError, match=r"refine must be one of \['edges', 'none', 'all'\], got 'fast'.*"
                                         r"observer_height_m must be finite heights >= 0, got \[-1\.0\].*"
                                         r"max_distance_m must be finite distances > 0, got \[0\.0\]"):
        viewshed(hills, 30.0, row=1, col=1, observer_height_m=-1.0, max_distance_m=0.0, refine="fast")
    with pytest.raises(ModelError, match=r"nodata must be one of \['error', 'unknown'\], got 'zero'.*k_factor must "
                                         r"be > 0"):
        viewshed(hills, 30.0, row=1, col=1, observer_height_m=1.0, max_distance_m=100.0, nodata="zero", k_factor=0.0)
    with pytest.raises(ModelError, match=r"cell must be a cell size in metres > 0 or a GridSpec, got -30\.0"):
        viewshed(hills, -30.0, row=1, col=1, observer_height_m=1.0, max_distance_m=100.0)
    with pytest.raises(ModelError, match=r"dem_m must be a 2-D numeric array of at least 2 x 2 cells, got "
                                         r"shape \(81,\)"):
        viewshed(hills[0], 30.0, row=1, col=1, observer_height_m=1.0, max_distance_m=100.0)
    with pytest.raises(ModelError, match=r"a point \(x, y\) needs the DEM's GridSpec"):
        viewshed(hills, 30.0, x=1.0, y=1.0, observer_height_m=1.0, max_distance_m=100.0)
    with pytest.raises(ModelError, match=r"either as a cell \(row, col\) or as a point \(x, y\), not both"):
        viewshed(hills, 30.0, row=1, col=1, x=1.0, y=1.0, observer_height_m=1.0, max_distance_m=100.0)
    with pytest.raises(ModelError, match=r"observer_height_m has 2 values for 3 observers"):
        viewshed_count(hills, 30.0, rows=[1, 2, 3], cols=[1, 2, 3], observer_height_m=[1.0, 2.0], max_distance_m=100.0)
    with pytest.raises(ModelError, match=r"row and col must be whole cell indices"):
        viewshed(hills, 30.0, row=1.5, col=1, observer_height_m=1.0, max_distance_m=100.0)
