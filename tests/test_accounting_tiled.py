"""Tiled accounting: district sums combined from tiles equal exactextract's own sums on the whole
polygon and the whole raster, and the whole-grid accounting the pipeline uses, for every tile
size and zonal rule; the combination does not depend on the order the tiles finish in."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from affine import Affine
from exactextract import exact_extract
from exactextract.raster import NumPyRasterSource

import citycov
from citycov.accounting import tiled
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers
from tests.conftest import UTM49, X0, Y0, make_tiny, write_raster

CRS = pyproj.CRS(UTM49)
CELL_M = 100.0
Y1 = Y0 + 1_900.0
GRID = GridSpec(crs=CRS, transform=Affine(CELL_M, 0.0, X0, 0.0, -CELL_M, Y1), shape=(19, 24))
TILE_SIZES = [1, 7, (5, 13), GRID.shape]


def _districts(geoms: list) -> Districts:
    n = len(geoms)
    return Districts(gpd.GeoDataFrame({"district_id": [str(i) for i in range(n)], "name": [f"d{i}" for i in range(n)],
                                       "name_local": [""] * n}, geometry=geoms, crs=CRS))


def _synthetic() -> Districts:
    """A quadrilateral crossing many tile lines, a square with a square hole, a polygon smaller
    than a cell, and an L shape touching the grid's edge."""
    big = shapely.Polygon([(X0 + 130, Y1 - 170), (X0 + 2170, Y1 - 420), (X0 + 1890, Y1 - 1777), (X0 + 333, Y1 - 1520)])
    hole = shapely.Polygon(shapely.box(X0 + 250, Y1 - 1850, X0 + 1250, Y1 - 1000).exterior.coords,
                           [shapely.box(X0 + 520, Y1 - 1610, X0 + 880, Y1 - 1240).exterior.coords])
    small = shapely.box(X0 + 1510, Y1 - 1460, X0 + 1540, Y1 - 1445)
    ell = shapely.Polygon([(X0 + 1700, Y1), (X0 + 2400, Y1), (X0 + 2400, Y1 - 1900), (X0 + 2250, Y1 - 1900),
                           (X0 + 2250, Y1 - 90), (X0 + 1700, Y1 - 90)])
    return _districts([big, hole, small, ell])


def _exactextract_sum(values: np.ndarray, districts: Districts, grid: GridSpec) -> np.ndarray:
    """The reference: exactextract's own ``sum`` on the whole polygon and the whole raster."""
    minx, miny, maxx, maxy = grid.bounds
    source = NumPyRasterSource(values.astype(np.float64), minx, miny, maxx, maxy, srs_wkt=grid.crs.to_wkt())
    table = exact_extract(source, districts.frame[["geometry"]].reset_index(drop=True), ["sum"], output="pandas")
    return table["sum"].to_numpy(dtype=np.float64)


def _tiled_sums(districts: Districts, grid: GridSpec, tile, layers: dict[str, np.ndarray], rule: str = "fraction"):
    parts = []
    for k, window in enumerate(tiled.windows(grid.shape, tile)):
        weights = tiled.tile_weights(districts, grid, window, rule=rule)
        parts.append((k, tiled.partial_sums(weights, {n: v[window.slices()] for n, v in layers.items()})))
    return tiled.combine(parts), parts


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("tile", TILE_SIZES, ids=str)
def test_tiles_equal_exactextract_sums_on_whole_polygons(tile):
    districts = _synthetic()
    rng = np.random.default_rng(14)
    population = rng.uniform(0.0, 50.0, GRID.shape)
    covered = rng.random(GRID.shape) < 0.6
    combined, _ = _tiled_sums(districts, GRID, tile, {"population": population, "covered": population * covered})
    assert combined.shape == (4, 2)
    assert _rel(combined[:, 0], _exactextract_sum(population, districts, GRID)) <= 1e-9
    assert _rel(combined[:, 1], _exactextract_sum(population * covered, districts, GRID)) <= 1e-9


def test_small_polygon_and_hole_by_hand():
    """Uniform values of 1: each district's sum is its area in cells (by hand).  exactextract
    keeps coverage fractions in float32, so the sums are exact to float32 (1e-7), not better."""
    districts = _synthetic()
    combined, _ = _tiled_sums(districts, GRID, 7, {"ones": np.ones(GRID.shape)})
    hole_cells = (1000 * 850 - 360 * 370) / CELL_M**2
    small_cells = 30 * 15 / CELL_M**2
    ell_cells = (700 * 90 + 150 * 1810) / CELL_M**2
    np.testing.assert_allclose(combined[1:, 0], [hole_cells, small_cells, ell_cells], rtol=1e-7)


def test_combine_is_independent_of_completion_order():
    districts = _synthetic()
    population = np.random.default_rng(3).lognormal(2.0, 2.0, GRID.shape)  # wide range of magnitudes
    combined, parts = _tiled_sums(districts, GRID, (3, 5), {"population": population})
    for seed in range(5):
        shuffled = list(parts)
        np.random.default_rng(seed).shuffle(shuffled)
        assert tiled.combine(shuffled).tobytes() == combined.tobytes()


def test_combine_rejects_duplicates_and_shape_mismatch():
    with pytest.raises(ValueError, match="twice"):
        tiled.combine([(0, np.zeros((2, 1))), (0, np.zeros((2, 1)))])
    with pytest.raises(ValueError, match="shapes"):
        tiled.combine([(0, np.zeros((2, 1))), (1, np.zeros((3, 1)))])
    with pytest.raises(ValueError, match="no partial"):
        tiled.combine([])


def test_compensated_tile_sum_against_exact_fsum():
    """One tile of many cells: the compensated sum equals math.fsum of the products (correctly rounded)."""
    import math

    window = tiled.Window(0, 300, 0, 300)
    n = 300 * 300
    rng = np.random.default_rng(0)
    values = rng.lognormal(0.0, 3.0, (300, 300))
    weight = rng.random(n)
    weights = tiled.TileWeights(window, "fraction", np.arange(n), np.zeros(n, dtype=np.int64), weight, 1)
    got = tiled.partial_sums(weights, {"v": values})[0, 0]
    exact = math.fsum((weight * values.ravel()).tolist())
    assert abs(got - exact) <= 4 * np.spacing(exact)


# -- against the pipeline's whole-grid accounting ---------------------------------------------


def _tiny_districts(path: Path, side_m: float) -> None:
    """Three districts on the tiny square: a diagonal cut, a disc-shaped hole, an island."""
    square = shapely.box(X0, Y0, X0 + side_m, Y0 + side_m)
    cut = shapely.LineString([(X0 - 1, Y0 + 0.37 * side_m), (X0 + side_m + 1, Y0 + 0.71 * side_m)])
    lower, upper = sorted(shapely.ops.split(square, cut).geoms, key=lambda g: g.centroid.y)
    disc = shapely.Point(X0 + 0.3 * side_m, Y0 + 0.2 * side_m).buffer(0.11 * side_m)
    island = shapely.box(X0 + 0.613 * side_m, Y0 + 0.801 * side_m, X0 + 0.6132 * side_m, Y0 + 0.8014 * side_m)
    geoms = [lower.difference(disc), upper.difference(island), disc.union(island)]
    gpd.GeoDataFrame({"adcode": ["1", "2", "3"], "name_en": ["Lower", "Upper", "Holes"], "name": ["下", "上", "洞"]},
                     geometry=geoms, crs=UTM49).to_file(path, driver="GPKG")


@pytest.fixture(scope="module")
def tiny_layers(tmp_path_factory):
    """The tiny scenario with three districts and a population raster in geographic degrees
    (3″ cells, so residents go through the exact person weights), built as the pipeline does."""
    folder = tmp_path_factory.mktemp("tiled") / "tiny"
    tiny = make_tiny(folder, side_m=6_000.0)
    _tiny_districts(folder / "districts.gpkg", tiny.side_m)
    to_geo = pyproj.Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True)
    lon0, lat0 = to_geo.transform(X0 - 500, Y0 - 500)
    lon1, lat1 = to_geo.transform(X0 + tiny.side_m + 500, Y0 + tiny.side_m + 500)
    step = 3.0 / 3600.0
    cols, rows = int((lon1 - lon0) / step) + 2, int((lat1 - lat0) / step) + 2
    counts = np.random.default_rng(7).gamma(1.5, 4.0, (rows, cols)).astype(np.float32)
    write_raster(folder / "population.tif", counts, x0=lon0, y1=lat0 + rows * step, cell_m=step, crs="EPSG:4326",
                 tags={"SYNTHETIC": "yes"})
    scenario = citycov.load_scenario(tiny.scenario)
    inputs = read_inputs(scenario)
    out = {}
    for rule in ("fraction", "centroid", "all_touched"):
        out[rule] = build_layers(scenario, inputs, cell_m=100.0, rule=rule)
    return scenario, inputs, out


@pytest.mark.parametrize("rule", ["fraction", "centroid", "all_touched"])
@pytest.mark.parametrize("tile", [1, 7, (9, 4), 512], ids=str)
def test_tiles_equal_the_pipeline_accounting(tiny_layers, rule, tile):
    """Residents, households and covered residents (person weights) and areas (area weights),
    combined from tiles, equal the whole-grid zonal sums of the layers the pipeline builds."""
    from citycov.io import read_population

    scenario, inputs, by_rule = tiny_layers
    layers = by_rule[rule]
    grid = layers.grid
    if tile == 1 and rule != "centroid":
        pytest.skip("1-cell tiles: covered by the synthetic tests; slow with the person weights")
    p_spec = scenario.inputs["population"]
    source = read_population(p_spec.source, grid, declared_synthetic=p_spec.synthetic)
    covered = np.random.default_rng(1).random(grid.shape) < 0.5
    values = {"population": layers.population, "households": layers.households,
              "covered": layers.population * covered}
    parts, area_parts, on_the_way = [], [], []
    for k, window in enumerate(tiled.windows(grid.shape, tile)):
        sl = window.slices()
        persons = tiled.tile_person_weights(source, inputs.districts, grid, window, values=layers.population[sl],
                                            rule=rule)
        parts.append((k, tiled.person_partial_sums(persons, {n: v[sl] for n, v in values.items()})))
        area = tiled.tile_weights(inputs.districts, grid, window, rule=rule)
        area_parts.append((k, tiled.partial_sums(area, {"area": np.ones(window.shape), "covered": covered[sl]})))
        on_the_way.append((k, tiled.partial_sums(persons.area, {"area": np.ones(window.shape)})))
    rescale = tiled.person_rescales(source, grid, rule)
    assert rescale == (rule == "fraction")
    sums, totals = tiled.person_sums(tiled.combine(parts), rescale=rescale)
    persons_w = layers.persons
    assert _rel(sums[:, 0], persons_w.sums(layers.population)) <= 1e-9
    assert _rel(sums[:, 1], persons_w.sums(layers.households)) <= 1e-9
    assert _rel(sums[:, 2], persons_w.sums(layers.population, covered)) <= 1e-9
    areas = tiled.combine(area_parts)
    assert _rel(areas[:, 0], layers.weights.sums(np.ones(grid.shape))) <= 1e-9
    assert _rel(areas[:, 1], layers.weights.sums(np.ones(grid.shape), covered)) <= 1e-9
    assert _rel(tiled.combine(on_the_way)[:, 0], areas[:, 0]) <= 1e-12  # TilePersons.area: the same weights
    if rule == "fraction":
        # the residents of the source raster per district (population_input), owned tile by tile
        assert _rel(totals, layers.population_input) <= 1e-9
        # under fraction the person sums carry exactly those residents
        assert _rel(sums[:, 0], totals) <= 1e-9
        # and the area weights are exactextract's own on the whole polygon
        assert _rel(areas[:, 0], _exactextract_sum(np.ones(grid.shape), inputs.districts, grid)) <= 1e-9


@pytest.mark.parametrize("rule", ["fraction", "centroid", "all_touched"])
def test_tile_weights_cell_for_cell(tiny_layers, rule):
    """Each cell's weights from its tile equal the whole grid's, cell for cell: the area weights
    bitwise, the person weights (× the per-district rescale) to 1e-9.  Not bitwise: the tile
    reads a window of the source raster, whose coverage fractions exactextract rounds to
    float32 from another origin, and the boundary split (iterative proportional fitting, fit
    residual ~5e-7 here) carries those 1e-8 roundings into the weights at ~3e-10."""
    from citycov.io import read_population

    scenario, inputs, by_rule = tiny_layers
    layers = by_rule[rule]
    grid = layers.grid
    n = len(inputs.districts)
    source = read_population(scenario.inputs["population"].source, grid, declared_synthetic=True)

    def dense(cell, district, weight):
        out = np.zeros((n, grid.shape[0] * grid.shape[1]))
        out[district, cell] = weight
        return out

    area_t = np.zeros((n, grid.shape[0] * grid.shape[1]))
    person_t = np.zeros_like(area_t)
    parts = []
    for k, window in enumerate(tiled.windows(grid.shape, (11, 8))):
        p = tiled.tile_person_weights(source, inputs.districts, grid, window, values=layers.population[window.slices()],
                                      rule=rule)
        r, c = np.divmod(p.weights.cell, window.shape[1])
        flat = (r + window.row0) * grid.shape[1] + c + window.col0
        person_t[p.weights.district, flat] = p.weights.weight
        r, c = np.divmod(p.area.cell, window.shape[1])
        area_t[p.area.district, (r + window.row0) * grid.shape[1] + c + window.col0] = p.area.weight
        parts.append((k, tiled.person_partial_sums(p, {})))
    w = layers.weights
    assert area_t.tobytes() == dense(w.cell, w.district, w.weight).tobytes()
    combined = tiled.combine(parts)
    if tiled.person_rescales(source, grid, rule):
        factor = combined[:, 0] / combined[:, 1]
        person_t *= factor[:, None]
    pw = layers.persons
    np.testing.assert_allclose(person_t, dense(pw.cell, pw.district, pw.weight), rtol=1e-9, atol=1e-15)


def test_prepared_districts_give_the_same_weights(tiny_layers):
    """Polygons prepared once (GeoJSON encoded once) give bitwise the weights of the districts."""
    from citycov.io import read_population

    scenario, inputs, by_rule = tiny_layers
    grid = by_rule["fraction"].grid
    source = read_population(scenario.inputs["population"].source, grid, declared_synthetic=True)
    prepared = tiled.prepare_districts(inputs.districts, source_crs=source.source_crs)
    window = tiled.Window(13, 40, 5, 29)
    values = by_rule["fraction"].population[window.slices()]
    for rule in ("fraction", "centroid", "all_touched"):
        a = tiled.tile_weights(inputs.districts, grid, window, rule=rule)
        b = tiled.tile_weights(prepared, grid, window, rule=rule)
        assert all(getattr(a, f).tobytes() == getattr(b, f).tobytes() for f in ("cell", "district", "weight"))
    a = tiled.tile_person_weights(source, inputs.districts, grid, window, values=values)
    b = tiled.tile_person_weights(source, prepared, grid, window, values=values)
    assert a.weights.weight.tobytes() == b.weights.weight.tobytes()
    assert a.totals.tobytes() == b.totals.tobytes()
    with pytest.raises(ValueError, match="source_crs"):
        tiled.tile_person_weights(source, tiled.prepare_districts(inputs.districts), grid, window, values=values)
