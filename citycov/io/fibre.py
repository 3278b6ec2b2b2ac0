"""Fibre plant: access nodes (OLT, cabinets, splitters) as points and cable routes as lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pyproj

from citycov.errors import SiteTableError, raise_problems
from citycov.io._validate import TableChecker
from citycov.io.vector import read_vector

NODE_KINDS = ("olt", "cabinet", "splitter")
NODE_COLUMNS = {
    "node_id": "access-node identifier (text, unique)",
    "kind": f"one of {list(NODE_KINDS)}",
    "ports": "installed subscriber (PON) ports (0..100000)",
}
ROUTE_COLUMNS = {"route_id": "cable-route identifier (text, unique)"}


def read_fibre_nodes(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                     lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate fibre access nodes (columns in ``NODE_COLUMNS``)."""
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column)
    check = TableChecker(frame, path)
    check.require(list(NODE_COLUMNS))
    check.geometry_types({"Point"})
    check.text("node_id")
    check.unique("node_id")
    check.choice("kind", NODE_KINDS)
    out = frame.copy()
    out["ports"] = check.numeric("ports", 0, 100_000)
    raise_problems(SiteTableError, str(path), check.problems)
    return out.to_crs(to_crs) if to_crs is not None else out


def read_fibre_routes(path: str | Path, *, crs: Any = None,
                      to_crs: pyproj.CRS | None = None) -> gpd.GeoDataFrame:
    """Read and validate fibre cable routes: (Multi)LineStrings with a unique ``route_id``."""
    frame = read_vector(path, crs=crs)
    check = TableChecker(frame, path)
    check.require(list(ROUTE_COLUMNS))
    check.geometry_types({"LineString", "MultiLineString"})
    check.text("route_id")
    check.unique("route_id")
    raise_problems(SiteTableError, str(path), check.problems)
    return frame.to_crs(to_crs) if to_crs is not None else frame.copy()
