"""Hand-checkable fixtures: a square district on flat ground with uniform population and one
omni site; a small DEM with one ridge; helpers to write scenario files."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

UTM49 = "EPSG:32649"
X0, Y0 = 500_000.0, 2_550_000.0  # south-west corner of the square district (UTM 49N)
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Tiny:
    """Paths of a tiny scenario and its parameters."""

    folder: Path
    scenario: Path
    side_m: float
    density_per_km2: float
    sectors: Path
    centre: tuple[float, float]


def write_square_district(path: Path, side_m: float, *, name: str = "Square") -> None:
    square = shapely.box(X0, Y0, X0 + side_m, Y0 + side_m)
    gpd.GeoDataFrame({"adcode": ["1"], "name_en": [name], "name": ["方形区"]}, geometry=[square],
                     crs=UTM49).to_file(path, driver="GPKG")


def write_raster(path: Path, values: np.ndarray, *, x0: float, y1: float, cell_m: float, crs: str = UTM49,
                 nodata=None, tags: dict | None = None) -> None:
    profile = {"driver": "GTiff", "height": values.shape[0], "width": values.shape[1], "count": 1,
               "dtype": values.dtype.name, "crs": crs, "transform": Affine(cell_m, 0, x0, 0, -cell_m, y1)}
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        if tags:
            dst.update_tags(**tags)


def sector_row(**overrides) -> dict:
    row = {"site_id": "S1", "sector_id": "S1-1", "operator": "Test", "technology": "4G", "freq_mhz": 900.0,
           "bandwidth_mhz": 20.0, "x": X0 + 5000.0, "y": Y0 + 5000.0, "height_m": 30.0, "eirp_dbm": 61.0,
           "azimuth_deg": np.nan, "downtilt_deg": 0.0, "h_beamwidth_deg": 360.0, "v_beamwidth_deg": 65.0}
    row.update(overrides)
    return row


HOUSEHOLDS = """
[households]
persons_per_household = 2.5
source = "test fixture: a round figure"
"""


def write_scenario(folder: Path, *, extra: str = "", radio: str = "", wlan: bool = False,
                   fibre: bool = True, targets: str = "", households: str = HOUSEHOLDS) -> Path:
    """The tiny scenario's TOML; ``households`` is its ``[households]`` section ("" for none)."""
    text = f"""
    name = "tiny"
    [inputs.districts]
    path = "districts.gpkg"
    id_column = "adcode"
    name_column = "name_en"
    name_zh_column = "name"
    [inputs.population]
    path = "population.tif"
    synthetic = true
    [inputs.terrain]
    path = "dem.tif"
    [inputs.sectors]
    path = "sectors.csv"
    crs = "{UTM49}"
    lon_column = "x"
    lat_column = "y"
    """
    if fibre:
        text += f"""
    [inputs.fibre_nodes]
    path = "fibre_nodes.csv"
    crs = "{UTM49}"
    lon_column = "x"
    lat_column = "y"
    """
    if wlan:
        text += f"""
    [inputs.wlan]
    path = "wlan.csv"
    crs = "{UTM49}"
    lon_column = "x"
    lat_column = "y"
    """
    text += f"""
    [grid]
    crs = "{UTM49}"
    cell_m = 100
    [radio]
    {radio}
    [fibre]
    drop_distance_m = 300
    """
    text = textwrap.dedent(text) + households + textwrap.dedent(extra) + textwrap.dedent(targets)
    path = folder / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_tiny(folder: Path, *, side_m: float = 10_000.0, density_per_km2: float = 1000.0,
              dem_m: np.ndarray | None = None, sectors: list[dict] | None = None, **scenario_kw) -> Tiny:
    """A square district (side ``side_m``) with uniform population on flat 10 m ground."""
    folder.mkdir(parents=True, exist_ok=True)
    write_square_district(folder / "districts.gpkg", side_m)
    n = int(side_m / 100)
    per_cell = density_per_km2 * 0.01
    write_raster(folder / "population.tif", np.full((n, n), per_cell, dtype=np.float32), x0=X0,
                 y1=Y0 + side_m, cell_m=100.0, tags={"SYNTHETIC": "yes"})
    margin = 2000.0
    if dem_m is None:
        m = int((side_m + 2 * margin) / 100)
        dem_m = np.full((m, m), 10.0, dtype=np.float32)
    write_raster(folder / "dem.tif", dem_m.astype(np.float32), x0=X0 - margin, y1=Y0 + side_m + margin,
                 cell_m=100.0, nodata=-9999.0)
    centre = (X0 + side_m / 2, Y0 + side_m / 2)
    rows = sectors if sectors is not None else [sector_row(x=centre[0], y=centre[1])]
    pd.DataFrame(rows).to_csv(folder / "sectors.csv", index=False)
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "x": [centre[0]], "y": [centre[1]],
                  "ports": [288]}).to_csv(folder / "fibre_nodes.csv", index=False)
    pd.DataFrame({"ap_id": ["AP1"], "operator": ["Test"], "x": [centre[0]], "y": [centre[1]],
                  "height_m": [4.0], "freq_mhz": [2437.0], "eirp_dbm": [20.0]}).to_csv(folder / "wlan.csv",
                                                                                     index=False)
    scenario = write_scenario(folder, **scenario_kw)
    return Tiny(folder=folder, scenario=scenario, side_m=side_m, density_per_km2=density_per_km2,
                sectors=folder / "sectors.csv", centre=centre)


@pytest.fixture
def tiny(tmp_path: Path) -> Tiny:
    return make_tiny(tmp_path / "tiny")
