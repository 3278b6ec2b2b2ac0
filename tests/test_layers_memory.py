"""The layers step in bounded memory (issue 14): each lean computation against an independent
reference (SciPy's distance transform, a brute-force loop, the plain whole-grid formula)."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from scipy.ndimage import distance_transform_edt

from citycov.accounting import population as pop_mod
from citycov.accounting._zonal_kernels import cell_states
from citycov.engine.cellular import environment_classes
from citycov.grid import GridSpec
from citycov.pipeline.layers import environment, margin_d2_max, within_margin


def _edt_reference(inside: np.ndarray, cell_m: float, margin_m: float) -> np.ndarray:
    return distance_transform_edt(~inside) * cell_m <= margin_m


@pytest.mark.parametrize("seed", range(12))
def test_within_margin_equals_scipy_edt_on_random_masks(seed):
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(1, 60, size=2)
    density = rng.choice([0.002, 0.02, 0.2, 0.7])
    inside = rng.random((rows, cols)) < density
    if not inside.any():
        inside[rng.integers(rows), rng.integers(cols)] = True
    cell_m = float(rng.choice([30.0, 100.0, 7.3]))
    for margin_m in (cell_m * 0.5, cell_m, cell_m * 2 ** 0.5, cell_m * 5.0, cell_m * 7.77, 1000.0, 1e7):
        got = within_margin(inside, cell_m, margin_m)
        np.testing.assert_array_equal(got, _edt_reference(inside, cell_m, margin_m), err_msg=f"margin {margin_m}")


def test_within_margin_at_exactly_the_margin():
    """A 3-4-5 offset lies at exactly 5 cells: in at margin 5 cells, out just below; the
    float64 test is the EDT's own, whatever rounds (sqrt(2) cells, 1/3 m cells)."""
    inside = np.zeros((21, 21), dtype=bool)
    inside[10, 10] = True
    for cell_m in (30.0, 1.0 / 3.0, 0.1):
        for cells in (5.0, 2 ** 0.5, 3.0, 10.0):
            for margin_m in (cells * cell_m, np.nextafter(cells * cell_m, 0.0), np.nextafter(cells * cell_m, 1e9)):
                np.testing.assert_array_equal(within_margin(inside, cell_m, margin_m),
                                              _edt_reference(inside, cell_m, margin_m))
    got = within_margin(inside, 30.0, 150.0)
    assert got[10 + 3, 10 + 4] and got[10 - 4, 10 + 3] and got[10 + 5, 10] and not got[10 + 4, 10 + 4]
    assert not within_margin(inside, 30.0, np.nextafter(150.0, 0.0))[10 + 3, 10 + 4]


def test_within_margin_edges():
    """Whole grid inside; an inside cell in a corner; a single row and a single column; no cell
    inside (SciPy's own result then)."""
    for inside in (np.ones((5, 7), bool), np.eye(1, 9, 8, dtype=bool), np.eye(9, 1, 0, dtype=bool),
                   np.pad(np.ones((1, 1), bool), ((0, 30), (40, 0))), np.zeros((4, 6), bool)):
        for margin_m in (10.0, 25.0, 99.0, 1e6):
            np.testing.assert_array_equal(within_margin(inside, 10.0, margin_m),
                                          _edt_reference(inside, 10.0, margin_m))


def test_margin_d2_max_by_hand():
    # 1000 m at 30 m: 33.33 cells, 33² = 1089 <= 1111.1 < 1112 -> the largest k is 1111
    assert margin_d2_max(30.0, 1000.0, (5000, 5000)) == 1111
    assert margin_d2_max(100.0, 500.0, (100, 100)) == 25  # exactly 5 cells
    assert margin_d2_max(100.0, 499.999, (100, 100)) == 24
    assert margin_d2_max(10.0, 1e9, (3, 4)) == 2 ** 2 + 3 ** 2  # clamped to the squared diagonal


def _brute_states(cell, district, weight, n_cells):
    state = [-1] * n_cells
    entries: dict[int, list[tuple[int, float]]] = {}
    for c, d, w in zip(cell.tolist(), district.tolist(), weight.tolist(), strict=True):
        entries.setdefault(c, []).append((d, w))
    for c, e in entries.items():
        state[c] = e[0][0] if len(e) == 1 and e[0][1] >= 1.0 else -2
    return np.array(state)


def test_cell_states_against_brute_force():
    rng = np.random.default_rng(3)
    n_cells = 400
    cell = rng.integers(0, n_cells, size=600).astype(np.int32)
    district = rng.integers(0, 5, size=600).astype(np.int8)
    weight = np.where(rng.random(600) < 0.6, 1.0, rng.random(600))
    np.testing.assert_array_equal(cell_states(cell, district, weight, n_cells),
                                  _brute_states(cell, district, weight, n_cells))


def test_zonal_weights_compact_dtypes_and_sums():
    """int32 cells and int8 districts; the sums equal a plain Python loop over the entries in order."""
    z = pop_mod.ZonalWeights("fraction", np.array([0, 5, 7, 5], dtype=np.int64), np.array([0, 1, 2, 0]),
                             np.array([1.0, 0.25, 0.5, 0.75]), 3, (2, 4))
    assert z.cell.dtype == np.int32 and z.district.dtype == np.int8 and z.weight.dtype == np.float64
    values = np.arange(8, dtype=np.float32).reshape(2, 4) * np.float32(1.1)
    expect = [0.0, 0.0, 0.0]
    for c, d, w in zip([0, 5, 7, 5], [0, 1, 2, 0], [1.0, 0.25, 0.5, 0.75], strict=True):
        expect[d] += w * float(values.reshape(-1)[c])
    assert z.sums(values).tolist() == expect
    assert pop_mod.district_dtype(127) == np.int8 and pop_mod.district_dtype(128) == np.int16
    assert pop_mod.district_dtype(40_000) == np.int32
    assert pop_mod.cell_dtype((46_341, 46_341)) == np.int64 and pop_mod.cell_dtype((46_340, 46_340)) == np.int32


def test_households_by_district_equals_whole_grid_formula(monkeypatch):
    rng = np.random.default_rng(5)
    pop = (rng.random((37, 23)) * 50).astype(np.float32)
    index = rng.integers(-1, 4, size=pop.shape).astype(np.int32)
    pph = np.array([2.5, 3.1, 2.9, 3.3])
    expect = pop.astype(np.float64) / np.where(index >= 0, pph[np.clip(index, 0, None)], pph.mean())
    monkeypatch.setattr(pop_mod, "HOUSEHOLD_STRIP_CELLS", 50)  # several strips, one not full
    got = pop_mod.households(pop, pph, index)
    assert got.dtype == np.float64 and got.tobytes() == expect.tobytes()
    assert pop_mod.households(pop, 2.7).tobytes() == (pop.astype(np.float64) / 2.7).tobytes()


def test_environment_int8_in_strips(monkeypatch):
    import citycov.pipeline.layers as layers_mod

    grid = GridSpec(crs=pyproj.CRS.from_epsg(32650), transform=Affine(30.0, 0, 0, 0, -30.0, 0), shape=(41, 17))
    rng = np.random.default_rng(8)
    pop = (rng.random(grid.shape) ** 3 * 200).astype(np.float32)
    thresholds = {"dense_urban": 40_000.0, "urban": 10_000.0, "suburban": 1_000.0}
    monkeypatch.setattr(layers_mod, "ENV_STRIP_CELLS", 60)
    got = environment(pop, grid, thresholds)
    density = pop.astype(np.float64) / (0.03 * 0.03)
    expect = np.select([density >= 40_000.0, density >= 10_000.0, density >= 1_000.0], [0, 1, 2], 3)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, environment_classes(pop, grid, thresholds))
    # the independent reference, away from float32 rounding at a threshold
    clear = np.all(np.abs(density[..., None] - np.array([40_000.0, 10_000.0, 1_000.0])) > 1.0, axis=-1)
    np.testing.assert_array_equal(got[clear], expect[clear])


def test_fraction_weights_by_hand():
    """The fraction rule's entries, built district by district, on a grid cut by hand: a 2 x 2
    grid of 100 m cells and two districts splitting it down the middle of column 1."""
    import geopandas as gpd

    from citycov.io.boundaries import Districts

    crs = pyproj.CRS.from_epsg(32650)
    grid = GridSpec(crs=crs, transform=Affine(100.0, 0, 0, 0, -100.0, 200.0), shape=(2, 2))
    frame = gpd.GeoDataFrame({"district_id": ["a", "b"], "name": ["a", "b"], "name_local": ["", ""]},
                             geometry=[shapely.box(0, 0, 150, 200), shapely.box(150, 0, 200, 200)], crs=crs)
    w = pop_mod.zonal_weights(Districts(frame), grid, "fraction")
    assert w.cell.dtype == np.int32 and w.district.dtype == np.int8
    # entries: district a: cells 0, 1 (half), 2, 3 (half); district b: cells 1, 3 (half each)
    assert sorted(zip(w.cell.tolist(), w.district.tolist(), w.weight.tolist(), strict=True)) == [
        (0, 0, 1.0), (1, 0, 0.5), (1, 1, 0.5), (2, 0, 1.0), (3, 0, 0.5), (3, 1, 0.5)]
    values = np.array([[10.0, 20.0], [30.0, 40.0]], dtype=np.float32)
    assert w.sums(values).tolist() == [10.0 + 10.0 + 30.0 + 20.0, 10.0 + 20.0]
