"""District boundaries: polygons with an id, a name and, optionally, a local name.

The local name is a second name from another column of the boundary file (for Guangzhou the
Chinese name beside the English one); reports show it beside the name only when the file
has one, and ``--lang zh`` shows it first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from citycov.errors import BoundaryError, raise_problems
from citycov.io._validate import TableChecker
from citycov.io.vector import read_vector


@dataclass(frozen=True)
class Districts:
    """Validated districts, in the analysis CRS, in file order.

    ``frame`` has columns ``district_id`` (str), ``name``, ``name_local`` (the second name;
    ``""`` when the file gives none) and ``geometry``.
    """

    frame: gpd.GeoDataFrame

    @property
    def ids(self) -> list[str]:
        return list(self.frame["district_id"])

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_local_names(self) -> bool:
        """Whether any district has a local (second) name."""
        return has_local_names(self.frame)


def has_local_names(frame: Any) -> bool:
    """Whether the ``name_local`` column of a district frame or table holds any name."""
    if "name_local" not in frame.columns:
        return False
    names = frame["name_local"].astype("string").fillna("").str.strip()
    return bool((names != "").any())


def read_districts(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                   id_column: str = "adcode", name_column: str = "name_en",
                   local_name_column: str | None = None, name_zh_column: str | None = None) -> Districts:
    """Read and validate district polygons.

    ``local_name_column`` names a column with a second name per district (``None``: no second
    name); ``name_zh_column`` is its older spelling, accepted for compatibility (give one).
    Invalid geometries are refused with shapely's reason (never silently "made valid").
    """
    if local_name_column and name_zh_column and local_name_column != name_zh_column:
        raise BoundaryError(f"{path}: local_name_column ({local_name_column!r}) and its older spelling "
                            f"name_zh_column ({name_zh_column!r}) are both given: give one")
    local = local_name_column or name_zh_column or None
    frame = read_vector(path, crs=crs, error_cls=BoundaryError, what="district")
    check = TableChecker(frame, path)
    cols = [id_column, name_column] + ([local] if local else [])
    ok = check.require(cols)
    check.geometry_types({"Polygon", "MultiPolygon"})
    if ok:
        check.text(name_column)
        check.unique(id_column)
        ids = frame[id_column].astype("string").fillna("")
        blank = np.flatnonzero((ids.str.strip() == "").to_numpy())
        if len(blank):
            check.problems.append(f"{id_column}: empty at {check.rows(blank)}")
    geoms = frame.geometry.to_numpy()
    present = ~(frame.geometry.isna().to_numpy())
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    if len(invalid):
        reasons = [shapely.is_valid_reason(geoms[i]) for i in invalid[:3]]
        check.problems.append(f"geometry: invalid at {check.rows(invalid)} ({reasons})")
    if len(frame) == 0:
        check.problems.append("no districts in the file")
    raise_problems(BoundaryError, str(path), check.problems)
    out = gpd.GeoDataFrame(
        {
            "district_id": frame[id_column].astype(str).str.strip(),
            "name": frame[name_column].astype(str).str.strip(),
            "name_local": (frame[local].fillna("").astype(str).str.strip() if local
                           else [""] * len(frame)),
        },
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    if to_crs is not None:
        out = out.to_crs(to_crs)
    return Districts(out.reset_index(drop=True))
