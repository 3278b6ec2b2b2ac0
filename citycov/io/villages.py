"""Village and town points (the ``village_broadband`` target): a lon/lat CSV or any OGR point file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from citycov.errors import CitycovWarning, SiteTableError, raise_problems
from citycov.io._validate import TableChecker
from citycov.io.vector import read_vector

VILLAGE_COLUMNS = {"village_id": "village or town identifier (text, unique)"}
VILLAGE_OPTIONAL = {"kind": "village or town (text), kept as read"}


def read_villages(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                  lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate village and town points (columns in ``VILLAGE_COLUMNS``).

    Every problem (a missing ``village_id`` column, blank or duplicate ids, geometries that are
    not points) is listed once in a :class:`SiteTableError` with its lines (or feature numbers);
    an empty, header-only or undecodable file is refused by the front door
    (:func:`citycov.io.vector.read_vector`).

    Returns
    -------
    GeoDataFrame of points in ``to_crs`` (or the file CRS), ``village_id`` as stripped text,
    every other column as read.
    """
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="village")
    check = TableChecker(frame, path)
    check.require(list(VILLAGE_COLUMNS))
    check.geometry_types({"Point"})
    ids = check.text("village_id")
    check.unique("village_id")
    raise_problems(SiteTableError, str(path), check.problems)
    out = frame.copy()
    out["village_id"] = ids.astype(str)
    return out.to_crs(to_crs) if to_crs is not None else out


def check_within_districts(points: gpd.GeoDataFrame, districts: gpd.GeoDataFrame, *, source: str | Path,
                           what: str = "villages") -> int:
    """Count the points of ``points`` outside every district (both in one CRS), and refuse or warn.

    Raises
    ------
    SiteTableError
        When no point lies in a district: the target would count nothing (0 of 0).

    Some points outside is a :class:`CitycovWarning` naming them (the report repeats it): they
    are not counted.  Returns the number outside.
    """
    if len(points) == 0:
        return 0
    area = shapely.union_all(districts.geometry.to_numpy())
    inside = points.geometry.intersects(area).to_numpy(dtype=bool)
    outside = int((~inside).sum())
    if outside == 0:
        return 0
    check = TableChecker(points, source)
    if outside == len(points):
        raise SiteTableError(f"{source}: all {outside:,} {what} lie outside the districts ({check.rows(~inside, 5)}); "
                             f"expected {what} inside the study districts")
    warnings.warn(f"{source}: {outside:,} of {len(points):,} {what} lie outside every district "
                  f"({check.rows(np.flatnonzero(~inside), 5)}) and are not counted", CitycovWarning, stacklevel=2)
    return outside
