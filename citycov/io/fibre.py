"""Fibre plant and premises: access nodes (OLT, cabinets, splitters) as points, cable routes as
lines, and premises (buildings or addresses) with their households and FTTH readiness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
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
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")
BOOLEAN_TEXT = "true/false, yes/no or 1/0 (any case)"
PREMISES_COLUMNS = {
    "premises_id": "premises (building or address) identifier (text, unique)",
    "households": "households at the premises (number, 0..100000; fractions allowed)",
    "ftth_ready": f"fibre can be connected today: {BOOLEAN_TEXT}",
}


def read_fibre_nodes(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                     lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate fibre access nodes (columns in ``NODE_COLUMNS``)."""
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="access node")
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
    frame = read_vector(path, crs=crs, what="cable route")
    check = TableChecker(frame, path)
    check.require(list(ROUTE_COLUMNS))
    check.geometry_types({"LineString", "MultiLineString"})
    check.text("route_id")
    check.unique("route_id")
    raise_problems(SiteTableError, str(path), check.problems)
    return frame.to_crs(to_crs) if to_crs is not None else frame.copy()


def read_premises(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                  lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate a premises table (columns in ``PREMISES_COLUMNS``).

    Every problem (missing column, empty or duplicate ``premises_id``, ``households`` not a
    number or outside 0..100000, ``ftth_ready`` not a recognised boolean) is listed once in a
    :class:`SiteTableError`, with CSV line numbers (or feature numbers) and the values found.

    Parameters
    ----------
    path
        CSV of lon/lat points (needs ``crs``) or any OGR point file.
    crs
        Declared CRS of the file (pyproj-readable or ``"gcj02"``); see :func:`read_vector`.
    to_crs
        Projected CRS to return the points in (reproject once, on read).
    lon_column, lat_column
        Coordinate columns of a CSV.

    Returns
    -------
    GeoDataFrame of points in ``to_crs`` (or the file CRS) with ``premises_id`` as stripped
    text, ``households`` as float64 and ``ftth_ready`` as bool.

    Examples
    --------
    >>> premises = read_premises("premises.csv", crs="EPSG:4326", to_crs=grid.crs)  # doctest: +SKIP
    >>> premises.loc[premises["ftth_ready"], "households"].sum()  # doctest: +SKIP
    """
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="premises")
    check = TableChecker(frame, path)
    check.require(list(PREMISES_COLUMNS))
    check.geometry_types({"Point"})
    ids = check.text("premises_id")
    check.unique("premises_id")
    out = frame.copy()
    out["households"] = check.numeric("households", 0.0, 100_000.0)
    ready = _booleans(check, "ftth_ready")
    raise_problems(SiteTableError, str(path), check.problems)
    out["premises_id"] = ids.astype(str)
    out["ftth_ready"] = ready
    return out.to_crs(to_crs) if to_crs is not None else out


def _booleans(check: TableChecker, column: str) -> np.ndarray:
    """bool values of ``column``: true/false, yes/no, 1/0 in any case (or a boolean column).

    Blank and unrecognised values are added to ``check.problems`` with their rows.
    """
    if column not in check.frame.columns:
        return np.zeros(len(check.frame), dtype=bool)
    values = np.zeros(len(check.frame), dtype=bool)
    blank: list[int] = []
    bad: list[int] = []
    shown: list[str] = []
    for i, raw in enumerate(check.frame[column].to_numpy(dtype=object)):
        word = _boolean_word(raw)
        if word is None:
            blank.append(i)
        elif word in TRUE_WORDS:
            values[i] = True
        elif word not in FALSE_WORDS:
            bad.append(i)
            if len(shown) < 10 and str(raw) not in shown:
                shown.append(str(raw))
    if blank:
        check.problems.append(f"{column}: missing at {check.rows(blank)}")
    if bad:
        check.problems.append(
            f"{column}: expected {BOOLEAN_TEXT} at "
            f"{check.rows(bad)} (found {shown})"
        )
    return values


def _boolean_word(raw: Any) -> str | None:
    """Lower-case word for one cell: booleans as true/false, whole numbers as digits, None if blank."""
    if raw is None or raw is pd.NA or (isinstance(raw, float | np.floating) and np.isnan(raw)):
        return None
    if isinstance(raw, bool | np.bool_):
        return "true" if raw else "false"
    if isinstance(raw, int | float | np.integer | np.floating):
        value = float(raw)
        return str(int(value)) if value.is_integer() else str(raw)
    word = str(raw).strip().lower()
    return word or None
