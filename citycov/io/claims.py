"""Claim file reader: operators' claimed-coverage polygons, in the FCC BDC mobile attribute layout.

A claim file is any OGR polygon file (GeoJSON, GeoPackage, Shapefile) with one feature per
claimed (provider, technology, speed tier, environment) area.  The attribute names follow the
FCC Broadband Data Collection (BDC) mobile coverage-map layout, whose Shapefile heritage
explains the ten-character ``environmnt``:

=============  =====================================================================================
column         meaning
=============  =====================================================================================
``providerid`` provider identifier (text, required, non-empty)
``technology`` ``3G``, ``4G`` or ``5G``; also the BDC codes ``300`` (3G), ``400`` (4G LTE) and
               ``500`` (5G-NR), and the aliases ``UMTS``, ``LTE``, ``4G LTE``, ``NR``, ``5G-NR``
``mindown``    claimed minimum download speed at the cell edge, Mbit/s (> 0, ≤ 10000)
``minup``      claimed minimum upload speed at the cell edge, Mbit/s (> 0, ≤ 10000)
``environmnt`` ``0`` outdoor stationary, ``1`` in-vehicle (BDC codes); or the text
               ``outdoor``, ``outdoor_stationary``, ``stationary``, ``in_vehicle``, ``in-vehicle``,
               ``vehicle``, ``mobile`` (any case)
``operator``   optional operator name (text); when absent it is ``providerid``.  Speed and drive
               tests (:mod:`citycov.io.measurements`) are matched to claims by this name.
=============  =====================================================================================

The returned frame renames the columns to carry units (``min_down_mbps``, ``min_up_mbps``) and
holds the normalised ``technology`` (``3G``/``4G``/``5G``) and ``environment``
(``outdoor_stationary``/``in_vehicle``, the environment names of the radio service presets); every
other attribute is kept as read.  Geometries are reprojected once, here, to the analysis CRS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from citycov.choices import TECHNOLOGIES
from citycov.crs import to_crs
from citycov.errors import ClaimTableError, raise_problems
from citycov.io._validate import TableChecker
from citycov.io.vector import read_vector

TECHNOLOGY_RANK = {"3G": 3, "4G": 4, "5G": 5}
"""Order of the technologies: a test on a lower rank than a claim cannot show the claimed service."""
TECHNOLOGY_CODES = {"300": "3G", "400": "4G", "500": "5G"}
"""FCC BDC mobile technology codes."""
TECHNOLOGY_ALIASES = {"3G": "3G", "UMTS": "3G", "WCDMA": "3G", "HSPA": "3G", "4G": "4G", "LTE": "4G",
                      "4G LTE": "4G", "4G-LTE": "4G", "5G": "5G", "NR": "5G", "5G NR": "5G", "5G-NR": "5G",
                      **TECHNOLOGY_CODES}
ENVIRONMENTS = ("outdoor_stationary", "in_vehicle")
ENVIRONMENT_CODES = {"0": "outdoor_stationary", "1": "in_vehicle"}
"""FCC BDC ``environmnt`` codes."""
ENVIRONMENT_ALIASES = {"outdoor": "outdoor_stationary", "outdoor_stationary": "outdoor_stationary",
                       "outdoor-stationary": "outdoor_stationary", "stationary": "outdoor_stationary",
                       "in_vehicle": "in_vehicle", "in-vehicle": "in_vehicle", "invehicle": "in_vehicle",
                       "vehicle": "in_vehicle", "mobile": "in_vehicle", **ENVIRONMENT_CODES}
CLAIM_COLUMNS = {
    "providerid": "provider identifier (text)",
    "technology": f"one of {list(TECHNOLOGIES)} or BDC code 300/400/500",
    "mindown": "claimed minimum download speed, Mbit/s (> 0)",
    "minup": "claimed minimum upload speed, Mbit/s (> 0)",
    "environmnt": "0 outdoor stationary / 1 in-vehicle, or text",
}
CLAIM_OPTIONAL = {"operator": "operator name (text); defaults to providerid"}
MAX_SPEED_MBPS = 10_000.0


def normalise_technology(values: pd.Series) -> np.ndarray:
    """Map technology text or BDC codes to ``3G``/``4G``/``5G``; unknown values become ``""``.

    Numbers read as floats (``400.0``) are accepted as their integer code.
    """
    text = values.astype("string").fillna("").str.strip().str.upper()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.map(lambda v: TECHNOLOGY_ALIASES.get(v, "")).to_numpy(dtype=object)


def normalise_environment(values: pd.Series) -> np.ndarray:
    """Map environment text or BDC codes to ``outdoor_stationary``/``in_vehicle``; unknown -> ``""``."""
    text = values.astype("string").fillna("").str.strip().str.lower()
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    return text.map(lambda v: ENVIRONMENT_ALIASES.get(v, "")).to_numpy(dtype=object)


def _check_choice(check: TableChecker, column: str, normalised: np.ndarray, expected: str) -> None:
    if column not in check.frame.columns:
        return
    bad = np.flatnonzero(normalised == "")
    if len(bad):
        raw = check.frame[column].astype("string").fillna("<blank>").to_numpy(dtype=object)
        shown = sorted({str(raw[i]) for i in bad[:10]})
        check.problems.append(f"{column}: expected {expected} at {check.rows(bad)} (found {shown})")


def _check_positive(check: TableChecker, column: str, values: np.ndarray, unit: str) -> None:
    zero = np.flatnonzero(np.isfinite(values) & (values <= 0))
    if len(zero):
        shown = [float(values[i]) for i in zero[:3]]
        check.problems.append(f"{column}: must be > 0 {unit} at {check.rows(zero)} (found {shown})")


def read_claims(path: str | Path, *, crs: pyproj.CRS, source_crs: Any = None) -> gpd.GeoDataFrame:
    """Read and validate operator coverage-claim polygons (columns in the module docstring).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile or any other OGR polygon file.
    crs
        The analysis CRS (projected, metres); the polygons are reprojected to it.
    source_crs
        Declared CRS of the file (a pyproj-readable value or ``"gcj02"``), needed only when the
        file states none; it may not contradict a CRS the file states.  A file without a CRS
        and without ``source_crs`` is refused.

    Returns
    -------
    GeoDataFrame in ``crs``, one row per feature in file order (index 0..n-1), with columns
    ``providerid``, ``operator``, ``technology`` (3G/4G/5G), ``min_down_mbps``,
    ``min_up_mbps`` (float64, Mbit/s), ``environment`` (outdoor_stationary/in_vehicle), every
    other attribute of the file, and the (Multi)Polygon geometry.

    Raises
    ------
    ClaimTableError
        Listing every problem once: missing columns, unknown technology or environment,
        non-positive or non-numeric speeds, empty provider ids, missing, non-polygon or
        invalid geometries, each with its feature number and the expected value.
    CRSError
        The file has no CRS and none was declared.

    Examples
    --------
    >>> claims = read_claims("claims.geojson", crs=pyproj.CRS("EPSG:32649"))  # doctest: +SKIP
    >>> claims[["operator", "technology", "min_down_mbps", "environment"]].head()  # doctest: +SKIP
    """
    frame = read_vector(path, crs=source_crs, error_cls=ClaimTableError, what="claim polygon")
    check = TableChecker(frame, path)
    check.require(list(CLAIM_COLUMNS))
    check.geometry_types({"Polygon", "MultiPolygon"})
    if len(frame) == 0:
        check.problems.append("no claim polygons in the file")
    provider = check.text("providerid")
    operator = check.text("operator") if "operator" in frame.columns else provider
    technology = normalise_technology(frame["technology"]) if "technology" in frame.columns else None
    environment = normalise_environment(frame["environmnt"]) if "environmnt" in frame.columns else None
    if technology is not None:
        _check_choice(check, "technology", technology,
                      f"one of {list(TECHNOLOGIES)}, BDC code 300/400/500 or {sorted(TECHNOLOGY_ALIASES)}")
    if environment is not None:
        _check_choice(check, "environmnt", environment,
                      f"0 (outdoor stationary), 1 (in-vehicle) or one of {sorted(ENVIRONMENT_ALIASES)}")
    down = check.numeric("mindown", 0.0, MAX_SPEED_MBPS, unit="Mbit/s")
    up = check.numeric("minup", 0.0, MAX_SPEED_MBPS, unit="Mbit/s")
    _check_positive(check, "mindown", down, "Mbit/s")
    _check_positive(check, "minup", up, "Mbit/s")
    geoms = frame.geometry.to_numpy()
    present = ~(frame.geometry.isna().to_numpy()) & ~shapely.is_empty(geoms)
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    if len(invalid):
        reasons = [shapely.is_valid_reason(geoms[i]) for i in invalid[:3]]
        check.problems.append(f"geometry: invalid at {check.rows(invalid)} ({reasons}); "
                              "repair it in the source (it is never made valid silently)")
    raise_problems(ClaimTableError, str(path), check.problems)
    renamed = {"mindown", "minup", "environmnt", "technology", "providerid", "operator"}
    extra = [c for c in frame.columns if c not in renamed and c != frame.geometry.name]
    out = gpd.GeoDataFrame(
        {
            "providerid": provider.astype(str),
            "operator": operator.astype(str),
            "technology": technology.astype(str),
            "min_down_mbps": down,
            "min_up_mbps": up,
            "environment": environment.astype(str),
            **{c: frame[c].to_numpy() for c in extra},
        },
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    out = to_crs(out, crs, where=str(path))
    out.attrs["source"] = str(path)
    return out.reset_index(drop=True)


def claim_layers(claims: gpd.GeoDataFrame) -> pd.DataFrame:
    """The distinct claimed services: one row per (operator, technology, environment, tier).

    Returns a table with ``layer`` (0..k-1), ``operator``, ``technology``, ``environment``,
    ``min_down_mbps``, ``min_up_mbps`` and ``features`` (the claim rows of the layer, a tuple).
    """
    keys = ["operator", "technology", "environment", "min_down_mbps", "min_up_mbps"]
    grouped = claims.reset_index(drop=True).groupby(keys, sort=True)
    rows = [dict(zip(keys, key, strict=True)) | {"features": tuple(int(i) for i in idx)}
            for key, idx in grouped.indices.items()]
    table = pd.DataFrame(rows, columns=[*keys, "features"])
    table.insert(0, "layer", np.arange(len(table)))
    return table
