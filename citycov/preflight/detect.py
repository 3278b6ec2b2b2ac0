"""What ``citycov init`` reads from the files a user downloaded: CRS, id and name columns,
raster units, coordinate columns, OpenCelliD or sector table.

Each ``detect_*`` function returns a :class:`Detected`: the keys of the scenario's
``[inputs.<name>]`` table (with a comment on how each value was decided) and TODO lines where
only the user can decide.  A file that cannot be read at all raises the reader's own
:class:`~citycov.errors.CitycovError` (one line naming the file).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from citycov.crs import WGS84
from citycov.errors import BoundaryError, SiteTableError
from citycov.io._validate import CSV_SUFFIXES, read_csv_table, read_ogr, text_values
from citycov.io.opencellid import OCID_COLUMNS, RADIOS
from citycov.io.raster import MAX_POPULATION_DENSITY_PER_KM2, _cell_area_km2, open_raster

ID_COLUMN_NAMES = ("id", "code", "geoid", "insee_com", "insee", "code_insee", "borocode", "adcode", "ags", "gss_code",
                   "lad_code", "nuts_id", "gid_2", "gid_1", "objectid", "fid")
"""Preferred district id columns, best first (compared case-insensitively)."""
NAME_COLUMN_NAMES = ("name", "nom", "boroname", "name_en", "nom_com", "libelle", "namelsad", "gen", "lad_name",
                     "name_2", "name_1", "nom_m")
"""Preferred district name columns, best first (compared case-insensitively)."""
COORDINATE_PAIRS = (("lon", "lat"), ("longitude", "latitude"), ("lng", "lat"), ("long", "lat"), ("x", "y"),
                    ("easting", "northing"), ("e", "n"), ("xcoord", "ycoord"), ("x_coord", "y_coord"))
"""Coordinate column pairs of point tables, best first (compared case-insensitively)."""
COUNT_NAME_HINTS = ("ghs_pop", "worldpop", "_ppp_", "ppp_", "_count", "population_count")
DENSITY_NAME_HINTS = ("dens", "per_km2", "perkm2", "_pd_", "popdens")
PROJECTED_MARGIN_M = 50_000.0
"""x/y columns in metres are taken to be in the districts' CRS when they fall within this
distance of the districts' extent in that CRS."""


@dataclass
class Detected:
    """One ``[inputs.<name>]`` table to write: its keys (path first) with a comment each, lines
    of commentary above it, and TODO lines (written as comments; ``citycov check`` refuses them)."""

    name: str
    keys: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    crs: pyproj.CRS | None = None
    """The CRS the input is in (file or inferred), for the detections that follow."""
    bounds: tuple[float, float, float, float] | None = None
    """Its extent in :attr:`crs`."""

    def set(self, key: str, value: Any, comment: str = "") -> None:
        self.keys[key] = value
        if comment:
            self.comments[key] = comment


def _crs_text(crs: pyproj.CRS) -> str:
    return f"{crs.to_string()} ({crs.name})"


def _lookup(columns: list[str], preferred: tuple[str, ...]) -> list[str]:
    """``columns`` in the order of ``preferred`` (case-insensitive), then the rest."""
    lower = {c.lower(): c for c in reversed(columns)}
    first = [lower[p] for p in preferred if p in lower]
    return first + [c for c in columns if c not in first]


# -- districts ---------------------------------------------------------------------------------

def detect_districts(path: Path) -> Detected:
    """Districts: the file's CRS, a unique non-empty id column and a text name column."""
    frame = read_ogr(path, error_cls=BoundaryError, what="district")
    out = Detected("districts")
    out.set("path", str(path))
    if frame.crs is None:
        out.todos.append("the file states no CRS: add crs = \"EPSG:....\" here (the code of its coordinates)")
    else:
        out.crs = pyproj.CRS(frame.crs)
        out.notes.append(f"CRS from the file: {_crs_text(out.crs)}")
    out.bounds = tuple(float(v) for v in frame.total_bounds)
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    text = {c: text_values(frame[c]) for c in columns}
    unique = [c for c in columns if (text[c] != "").all() and len(set(text[c])) == len(frame)]
    ids = [c for c in _lookup(unique, ID_COLUMN_NAMES)
           if c.lower() in ID_COLUMN_NAMES or re.search(r"id|code|insee|geoid|num", c, re.I)] or unique
    names = [c for c in _lookup(columns, NAME_COLUMN_NAMES)
             if (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])) and (text[c] != "").all()
             and pd.to_numeric(frame[c], errors="coerce").isna().all()]
    if ids:
        why = "a preferred id name" if ids[0].lower() in ID_COLUMN_NAMES else "an id-like name"
        out.set("id_column", ids[0], f"unique and non-empty in all {len(frame)} features; {why}")
    else:
        out.set("id_column", "TODO", "TODO: no column is unique and non-empty in every feature: add one")
    name_col = next((c for c in names if c != out.keys["id_column"]), None) or (ids[0] if ids else None)
    if name_col is not None:
        shown = ", ".join(text[name_col][:4]) + (", ..." if len(frame) > 4 else "")
        out.set("name_column", name_col, f"district names in reports and maps: {shown}")
        out.set("name_zh_column", name_col, "names shown with --lang zh (here the same column)")
    else:
        out.set("name_column", "TODO", "TODO: no text column for the district names: name one")
    if path.suffix.lower() == ".shp":
        cpg = [p for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")) if p.is_file()]
        out.notes.append(f"Shapefile text encoding from {cpg[0].name}: {cpg[0].read_text(errors='replace').strip()}"
                         if cpg else "no .cpg file: GDAL read the names in the .dbf's own encoding; if accents "
                         "look wrong, add a .cpg file holding the encoding (e.g. UTF-8 or CP1252)")
    out.notes.append(f"{len(frame)} districts; columns {columns[:12]}")
    return out


# -- rasters -----------------------------------------------------------------------------------

def _raster_notes(src: Any, out: Detected) -> None:
    if src.crs is None:
        out.todos.append("the raster has no CRS: georeference it (gdal_edit.py -a_srs EPSG:....), citycov cannot guess")
        return
    crs = pyproj.CRS(src.crs)
    unit = "°" if crs.is_geographic else " m"
    out.crs = crs
    out.notes.append(f"CRS {_crs_text(crs)}; {src.height:,} x {src.width:,} cells of {abs(src.transform.a):.6g}"
                     f"{unit}; nodata {src.nodata!r}; {src.dtypes[0]}")


def detect_population(path: Path) -> Detected:
    """Population raster: CRS, nodata, resolution, and whether its cells are counts or densities."""
    out = Detected("population")
    out.set("path", str(path))
    with open_raster(path) as src:
        _raster_notes(src, out)
        data = src.read(1, masked=True).astype(np.float64)
        valid = ~np.ma.getmaskarray(data) & np.isfinite(data.filled(np.nan))
        values = data.filled(np.nan)
        if src.nodata is None and valid.any() and values[valid].min() < 0:
            out.todos.append(f"cells as low as {values[valid].min():g} and no nodata value: declare it "
                             f"(gdal_edit.py -a_nodata {values[valid].min():g} {path.name})")
        max_density = 0.0
        if src.crs is not None and valid.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                density = np.where(valid & (values > 0), values / _cell_area_km2(src), 0.0)
            max_density = float(np.nanmax(density))
    lower = path.name.lower()
    if any(h in lower for h in DENSITY_NAME_HINTS):
        units, why = "per_km2", "the file name says density"
    elif any(h in lower for h in COUNT_NAME_HINTS):
        units, why = "count", "the file name is a GHS-POP / WorldPop count product (persons per pixel)"
    elif max_density > MAX_POPULATION_DENSITY_PER_KM2:
        units, why = "per_km2", (f"read as persons per cell, a cell would hold {max_density:,.0f} persons/km² "
                                 f"(over {MAX_POPULATION_DENSITY_PER_KM2:,.0f}): the values must be densities")
    else:
        units, why = "count", (f"read as persons per cell the densest cell is {max_density:,.0f} persons/km², "
                               "plausible; WorldPop and GHS-POP are counts")
    out.notes.append(f"units: {units!r}, because {why}; change to \"count\" (persons per cell) or \"per_km2\" "
                     "(persons per km²) if that is wrong")
    out.set("units", units, "persons per cell" if units == "count" else "persons per km²")
    return out


def detect_terrain(paths: list[str]) -> Detected:
    """Terrain: the paths as given (a file, a folder, a glob or several files)."""
    out = Detected("terrain")
    out.set("path", paths[0] if len(paths) == 1 else list(paths))
    files = [Path(p) for p in paths if Path(p).is_file()]
    if len(paths) > 1 or not files:
        out.notes.append("tiled terrain: every tile is read as one mosaic (folder, glob, list or /vsizip/ path)")
        found = files or [Path(f) for p in paths for f in glob.glob(p)]
        if not found and not any(p.startswith("/vsi") for p in paths):
            out.todos.append(f"no terrain file found at {paths}: give GeoTIFF DEM tiles")
        return out
    with open_raster(files[0]) as src:
        _raster_notes(src, out)
        step = max(1, max(src.height, src.width) // 512)
        sample = src.read(1, masked=True, out_shape=(max(1, src.height // step), max(1, src.width // step)))
        if sample.count():
            out.notes.append(f"elevation about {float(sample.min()):,.0f}..{float(sample.max()):,.0f} "
                             "(metres expected)")
    return out


# -- point tables ------------------------------------------------------------------------------

def is_opencellid(path: Path) -> bool:
    """A CSV export of OpenCelliD: header ``radio,mcc,net,...`` or 14 headerless fields starting
    with a radio type (GSM, UMTS, CDMA, LTE, NR)."""
    if path.suffix.lower() not in CSV_SUFFIXES:
        return False
    try:
        with open(path, "rb") as fh:
            first = fh.read(4096).split(b"\n", 1)[0].decode("utf-8", errors="replace").strip().lstrip("\ufeff")
    except OSError:
        return False
    fields = [f.strip().lower() for f in first.split(",")]
    if fields[:3] == ["radio", "mcc", "net"]:
        return True
    return len(fields) == len(OCID_COLUMNS) and fields[0].upper() in RADIOS


def detect_points(name: str, path: Path, *, near: Detected | None = None) -> Detected:
    """A point table (sectors, WLAN access points, fibre nodes): its CRS and coordinate columns.

    A CSV's coordinates are degrees (EPSG:4326) when every value fits -180..180 / -90..90;
    metres are taken to be in the CRS of ``near`` (the districts) when they fall within
    :data:`PROJECTED_MARGIN_M` of its extent; otherwise the CRS is a TODO."""
    out = Detected(name)
    out.set("path", str(path))
    if path.suffix.lower() not in CSV_SUFFIXES:
        frame = read_ogr(path, error_cls=SiteTableError, what="point")
        if frame.crs is None:
            out.todos.append("the file states no CRS: add crs = \"EPSG:....\" here")
        else:
            out.crs = pyproj.CRS(frame.crs)
            out.notes.append(f"CRS from the file: {_crs_text(out.crs)}; {len(frame):,} features")
        kinds = set(frame.geom_type.dropna())
        if name == "fibre_nodes" and kinds and kinds <= {"LineString", "MultiLineString"}:
            out.name = "fibre_routes"
            out.notes.append("line geometries: written as [inputs.fibre_routes] (cable routes)")
        return out
    table = read_csv_table(path, error_cls=SiteTableError, what="point")
    columns = [str(c) for c in table.columns]
    lower = {c.lower(): c for c in columns}
    pair = next(((lower[a], lower[b]) for a, b in COORDINATE_PAIRS if a in lower and b in lower), None)
    out.notes.append(f"{len(table):,} rows; columns {columns[:16]}")
    if pair is None:
        out.set("lon_column", "TODO", "TODO: no coordinate columns found (lon/lat, x/y, ...): name the x column")
        out.set("lat_column", "TODO", "TODO: name the y column")
        return out
    out.set("lon_column", pair[0], "x / longitude column")
    out.set("lat_column", pair[1], "y / latitude column")
    x = pd.to_numeric(table[pair[0]], errors="coerce").to_numpy(dtype=np.float64)
    y = pd.to_numeric(table[pair[1]], errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        out.todos.append(f"columns {pair[0]}/{pair[1]} hold no numbers")
        return out
    x, y = x[ok], y[ok]
    if (np.abs(x) <= 180).all() and (np.abs(y) <= 90).all():
        out.set("crs", "EPSG:4326", "the coordinates are degrees (all within -180..180 / -90..90): WGS84 lon/lat")
        out.crs = WGS84
        return out
    if near is not None and near.crs is not None and near.crs.is_projected and near.bounds is not None:
        minx, miny, maxx, maxy = near.bounds
        m = PROJECTED_MARGIN_M
        inside = (x >= minx - m) & (x <= maxx + m) & (y >= miny - m) & (y <= maxy + m)
        if inside.mean() >= 0.5:
            code = near.crs.to_string()
            out.set("crs", code, f"metres that fall on the districts in their CRS ({near.crs.name}) "
                                 f"({inside.mean():.0%} of rows within 50 km): assumed the same CRS")
            out.crs = near.crs
            return out
    out.todos.append(f"the {pair[0]}/{pair[1]} columns look projected (metres, e.g. {x[0]:.0f}, {y[0]:.0f}) and "
                     f"their CRS cannot be inferred: add crs = \"EPSG:....\" (the code of these coordinates)")
    return out


def detect_sites(path: Path, *, near: Detected | None = None) -> Detected:
    """Sites: an OpenCelliD export -> ``[inputs.opencellid]``; anything else a sector table."""
    if is_opencellid(path):
        out = Detected("opencellid")
        out.set("path", str(path))
        out.notes.append("an OpenCelliD export: cell positions with per-radio defaults for frequency, power "
                         "and height; every cell modelled as an omnidirectional sector; GSM and CDMA dropped")
        return out
    return detect_points("sectors", path, near=near)


__all__ = ["Detected", "detect_districts", "detect_points", "detect_population", "detect_sites", "detect_terrain",
           "is_opencellid"]
