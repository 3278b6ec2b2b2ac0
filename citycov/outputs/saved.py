"""A finished run read back from its output folder, so maps and reports re-render without
recomputing (``citycov map OUT`` and ``citycov report OUT``).

:func:`write_outputs <citycov.outputs.write.write_outputs>` renders ``map.html`` and ``report.html``
from the same :class:`SavedRun` that this module reads, so a re-render gives what the run gave.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.windows import Window

from citycov.errors import InputFileError
from citycov.outputs.tables import read_csv

REQUIRED_FILES = ("districts.csv", "targets.csv", "districts.json", "districts.geojson", "coverage.tif",
                  "rsrp_dbm.tif", "serving_sector.tif")
NETWORK_GPKG = "network.gpkg"
NETWORK_LAYERS = ("sectors", "wlan", "fibre_nodes", "fibre_routes")
BROADCAST_GLOB = "broadcast_*.tif"


@dataclass
class Raster:
    """A multi-band raster file of the output folder: its shape (bands, rows, cols), transform,
    CRS and band names; its values are read when asked for (:attr:`data`: all of them,
    :meth:`rows`: a strip), so that the map of a large grid never holds the file whole."""

    path: Path
    shape: tuple[int, int, int]
    transform: Affine
    crs: CRS
    nodata: float | None
    descriptions: tuple[str, ...]

    @property
    def data(self) -> np.ndarray:
        """Every band, ``data[band, row, col]`` (read from the file at each access)."""
        with rasterio.open(self.path) as src:
            return src.read()

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows r0:r1 of every band."""
        with rasterio.open(self.path) as src:
            return src.read(window=Window(0, r0, self.shape[2], r1 - r0))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.shape[1:]
        west, north = self.transform.c, self.transform.f
        return west, north + rows * self.transform.e, west + cols * self.transform.a, north


@dataclass
class SavedRun:
    """Everything the map and the HTML report show, read from an output folder."""

    folder: Path
    districts: pd.DataFrame
    targets: pd.DataFrame
    document: dict[str, Any]
    boundaries: gpd.GeoDataFrame
    coverage: Raster
    level: Raster
    serving: Raster
    gaps: gpd.GeoDataFrame | None = None
    network: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    speed: Raster | None = None
    speed_tags: dict[str, str] = field(default_factory=dict)
    claims_hexes: gpd.GeoDataFrame | None = None
    claims_summary: pd.DataFrame | None = None

    @property
    def provenance(self) -> dict[str, Any]:
        return self.document["provenance"]

    @property
    def synthetic_inputs(self) -> list[str]:
        return list(self.provenance.get("synthetic_inputs", []))

    @property
    def scenario_name(self) -> str:
        return str(self.provenance["scenario"]["name"])

    @property
    def default_lang(self) -> str:
        return str(self.provenance.get("parameters", {}).get("report", {}).get("lang", "en"))

    @property
    def default_basemap(self) -> str:
        return str(self.provenance.get("parameters", {}).get("report", {}).get("basemap", "none"))

    @property
    def verification(self) -> dict[str, Any] | None:
        return self.provenance.get("verification")

    @property
    def city(self) -> pd.Series:
        return self.districts.set_index("area_id").loc["city"]

    def broadcast_files(self) -> dict[str, Path]:
        """Broadcast preset name -> its raster in the folder (see :func:`read_broadcast_files`)."""
        return read_broadcast_files(self.folder)


def read_broadcast_files(folder: str | Path) -> dict[str, Path]:
    """Broadcast preset name -> its ``broadcast_*.tif`` in ``folder``.

    The preset name is the raster's ``preset`` tag, never parsed from the file name (the
    writer makes a safe file stem of it: :func:`citycov.outputs.names.file_names`).

    Raises
    ------
    InputFileError
        A raster that cannot be read, has no ``preset`` tag, or names the same preset as another.
    """
    out: dict[str, Path] = {}
    for path in sorted(Path(folder).glob(BROADCAST_GLOB)):
        try:
            with rasterio.open(path) as src:
                name = src.tags().get("preset")
        except rasterio.errors.RasterioError as exc:
            raise InputFileError(f"{path}: cannot read the broadcast raster: {exc}") from exc
        if not name:
            raise InputFileError(f"{path}: no 'preset' tag (the broadcast preset it shows)")
        if name in out:
            raise InputFileError(f"{path}: preset {name!r} is also the preset of {out[name].name}")
        out[name] = path
    return out


def _read_raster(path: Path) -> Raster:
    with rasterio.open(path) as src:
        return Raster(Path(path), (src.count, src.height, src.width), src.transform, CRS.from_user_input(src.crs),
                      src.nodata, tuple(d or "" for d in src.descriptions))


def load_saved_run(folder: str | Path) -> SavedRun:
    """Read an output folder written by ``citycov run``.

    Raises
    ------
    InputFileError
        Listing every required file that is missing or unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: not an output folder (it does not exist)")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise InputFileError(f"{folder}: not a complete citycov output folder; missing {', '.join(missing)} "
                             "(rerun `citycov run` to write them)")
    problems: list[str] = []
    try:
        districts = read_csv(folder / "districts.csv", dtype={"area_id": str})
        targets = read_csv(folder / "targets.csv", dtype={"area_id": str})
        document = json.loads((folder / "districts.json").read_text(encoding="utf-8"))
        boundaries = gpd.read_file(folder / "districts.geojson")
        boundaries["district_id"] = boundaries["district_id"].astype(str)
        rasters = {name: _read_raster(folder / name) for name in ("coverage.tif", "rsrp_dbm.tif",
                                                                   "serving_sector.tif")}
    except (OSError, ValueError, KeyError, rasterio.errors.RasterioError) as exc:
        raise InputFileError(f"{folder}: cannot read the saved run: {exc}") from exc
    if "name_zh" in districts.columns and "name_local" not in districts.columns:  # an older run: the same column
        districts = districts.rename(columns={"name_zh": "name_local"})
    for col in ("area_id", "name", "population", "wireless_pct", "ftth_pct"):
        if col not in districts.columns:
            problems.append(f"districts.csv: column {col!r} missing")
    if "city" not in set(districts.get("area_id", [])):
        problems.append("districts.csv: no 'city' row")
    if "provenance" not in document:
        problems.append("districts.json: no 'provenance' object")
    if problems:
        raise InputFileError(f"{folder}: " + "; ".join(problems))
    gaps = gpd.read_file(folder / "gaps.geojson") if (folder / "gaps.geojson").is_file() else None
    network: dict[str, gpd.GeoDataFrame] = {}
    gpkg = folder / NETWORK_GPKG
    if gpkg.is_file():
        present = {name for name, _ in pyogrio.list_layers(gpkg)}
        for name in NETWORK_LAYERS:
            if name in present:
                network[name] = gpd.read_file(gpkg, layer=name)
    speed = _read_raster(folder / "speed_tier.tif") if (folder / "speed_tier.tif").is_file() else None
    speed_tags: dict[str, str] = {}
    if speed is not None:
        with rasterio.open(folder / "speed_tier.tif") as src:
            speed_tags = dict(src.tags())
    claims_hexes = claims_summary = None
    if (folder / "claims_summary.csv").is_file() and (folder / "claims_hexes.geojson").is_file():
        claims_summary = read_csv(folder / "claims_summary.csv", dtype={"area_id": str})
        claims_hexes = gpd.read_file(folder / "claims_hexes.geojson")
    return SavedRun(folder=folder, districts=districts, targets=targets, document=document, boundaries=boundaries,
                    coverage=rasters["coverage.tif"], level=rasters["rsrp_dbm.tif"],
                    serving=rasters["serving_sector.tif"], gaps=gaps, network=network, speed=speed,
                    speed_tags=speed_tags, claims_hexes=claims_hexes, claims_summary=claims_summary)
