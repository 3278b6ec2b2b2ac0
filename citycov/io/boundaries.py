"""District boundaries: polygons with an id, an English and a Chinese name."""

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

    ``frame`` has columns ``district_id`` (str), ``name``, ``name_zh`` and ``geometry``.
    """

    frame: gpd.GeoDataFrame

    @property
    def ids(self) -> list[str]:
        return list(self.frame["district_id"])

    def __len__(self) -> int:
        return len(self.frame)


def read_districts(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                   id_column: str = "adcode", name_column: str = "name_en",
                   name_zh_column: str | None = "name") -> Districts:
    """Read and validate district polygons.

    Invalid geometries are refused with shapely's reason (never silently "made valid").
    """
    frame = read_vector(path, crs=crs, error_cls=BoundaryError, what="district")
    check = TableChecker(frame, path)
    cols = [id_column, name_column] + ([name_zh_column] if name_zh_column else [])
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
            "name_zh": (frame[name_zh_column].astype(str).str.strip() if name_zh_column
                        else frame[name_column].astype(str).str.strip()),
        },
        geometry=frame.geometry.values,
        crs=frame.crs,
    )
    if to_crs is not None:
        out = out.to_crs(to_crs)
    return Districts(out.reset_index(drop=True))
