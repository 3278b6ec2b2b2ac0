"""The out-of-core scene (:func:`citycov.engine.scene_files.write_scene_files`), built in small
windows, equals the in-memory pipeline's engine layers (:func:`citycov.pipeline.layers.build_layers`)
cell for cell, and its study area equals a brute-force distance oracle."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

import citycov
from citycov.engine.cellular import _scene_constants
from citycov.engine.scene_files import write_scene_files
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers
from tests.conftest import UTM49, X0, Y0, sector_row, write_raster, write_scenario

MARGIN_M = 600.0


def _scenario(folder, *, pop_offset_m: float):
    """Two districts (a slanted pentagon and a small square apart from it), random residents on a
    100 m raster whose lattice is shifted by ``pop_offset_m``, smooth random terrain in EPSG:4326,
    one site inside and one 1.5 km west of the districts (so the engine grid is padded)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(11)
    pent = shapely.Polygon([(X0 + 300, Y0 + 200), (X0 + 5200, Y0 + 900), (X0 + 6100, Y0 + 4700),
                            (X0 + 2500, Y0 + 6300), (X0 + 100, Y0 + 3900)])
    square = shapely.box(X0 + 6900, Y0 + 5200, X0 + 7700, Y0 + 6000)
    gpd.GeoDataFrame({"adcode": ["1", "2"], "name_en": ["Pent", "Sq"], "name": ["五", "方"]},
                     geometry=[pent, square], crs=UTM49).to_file(folder / "districts.gpkg", driver="GPKG")
    n = 90
    counts = np.floor(rng.gamma(0.6, 60.0, (n, n))).astype(np.float32)  # 0 .. a few hundred per 100 m cell
    counts[rng.random((n, n)) < 0.05] = -1.0  # nodata: no people
    write_raster(folder / "population.tif", counts, x0=X0 - 1000.0 + pop_offset_m, y1=Y0 + 7500.0 + pop_offset_m,
                 cell_m=100.0, nodata=-1.0, tags={"SYNTHETIC": "yes"})
    m = 160
    lon0, lat0 = 110.95, 23.0  # covers X0 - 3 km .. X0 + 10 km, Y0 - 2 km .. Y0 + 9 km (UTM 49N)
    step = 0.0011
    yy, xx = np.mgrid[0:m, 0:m]
    dem = (40.0 + 25.0 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 5.0 * rng.random((m, m))).astype(np.float32)
    write_raster(folder / "dem.tif", dem, x0=lon0, y1=lat0 + m * step, cell_m=step, crs="EPSG:4326",
                 nodata=-9999.0)
    rows = [sector_row(x=X0 + 3000.0, y=Y0 + 3000.0),
            sector_row(site_id="S2", sector_id="S2-1", x=X0 - 1500.0, y=Y0 + 2000.0)]
    pd.DataFrame(rows).to_csv(folder / "sectors.csv", index=False)
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "x": [X0 + 3000.0], "y": [Y0 + 3000.0],
                  "ports": [288]}).to_csv(folder / "fibre_nodes.csv", index=False)
    return write_scenario(folder, radio=f"study_margin_m = {MARGIN_M:g}\nmax_range_km = 5")


def _read(path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


@pytest.mark.parametrize(("cell_m", "pop_offset_m"), [(100.0, 0.0), (250.0, 37.0), (150.0, 0.0)])
def test_scene_files_equal_in_memory_layers(tmp_path, cell_m, pop_offset_m):
    path = _scenario(tmp_path / "s", pop_offset_m=pop_offset_m)
    scenario = citycov.load_scenario(path)
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=cell_m, rule="fraction")
    area = layers.area
    assert area.padded  # the western site lies beyond the analysis grid
    files = write_scene_files(tmp_path / "scene", area.grid, districts=inputs.districts,
                              terrain=scenario.inputs["terrain"].source,
                              population=scenario.inputs["population"].source,
                              thresholds=scenario.radio.env_density_per_km2, margin_m=MARGIN_M,
                              constants=_scene_constants(area.grid, scenario.radio), offset=area.offset,
                              shape=area.shape, block=16)
    assert files.windows > 4  # really built in windows
    dem = _read(files.scene.paths["dem_m"])
    env = _read(files.scene.paths["env"])
    active = _read(files.scene.paths["active"]).astype(bool)
    want_dem = layers.engine_dem if area.padded else layers.dem
    assert np.array_equal(np.isnan(dem), np.isnan(want_dem))
    # GDAL's warp of a window between CRSs is its part of the whole grid's to a few cm here (5 m of
    # pixel-to-pixel noise in the DEM): see citycov.engine.scene_files._terrain
    np.testing.assert_allclose(dem, want_dem, rtol=0, atol=0.1, equal_nan=True)
    assert np.array_equal(env, area.pad(layers.env.astype(np.int8), 3))
    assert np.array_equal(active, area.pad(layers.active, False))
    assert files.active_cells == int(layers.active.sum())
    assert files.district_cells == int((layers.index >= 0).sum())
    assert len(set(env[active].tolist())) >= 2  # the classes vary: the comparison says something

    # brute force: a cell is evaluated when some district-centre cell lies within the margin
    centres = np.argwhere(layers.index >= 0)
    rr, cc = np.mgrid[0:area.shape[0], 0:area.shape[1]]
    d2 = np.full(area.shape, np.inf)
    for r, c in centres:
        d2 = np.minimum(d2, (rr - r) ** 2 + (cc - c) ** 2)
    oracle = np.sqrt(d2) * cell_m <= MARGIN_M
    r0, c0 = area.offset
    assert np.array_equal(active[r0:r0 + area.shape[0], c0:c0 + area.shape[1]], oracle)


def test_scene_files_refuse_density_units(tmp_path):
    path = _scenario(tmp_path / "s", pop_offset_m=0.0)
    scenario = citycov.load_scenario(path)
    inputs = read_inputs(scenario)
    grid = citycov.pipeline.layers.build_grid(inputs.districts, cell_m=250.0)
    with pytest.raises(citycov.errors.RasterError, match="per_km2"):
        write_scene_files(tmp_path / "scene", grid, districts=inputs.districts,
                          terrain=scenario.inputs["terrain"].source, population=scenario.inputs["population"].source,
                          thresholds=scenario.radio.env_density_per_km2, margin_m=0.0,
                          constants=_scene_constants(grid, scenario.radio), population_units="per_km2")
