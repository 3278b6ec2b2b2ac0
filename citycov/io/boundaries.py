"""District boundaries: polygons with an id, a name and, optionally, a local name and a group.

The local name is a second name from another column of the boundary file (for Guangzhou the
Chinese name beside the English one); reports show it beside the name only when the file
has one, and ``--lang zh`` shows it first.

A group is an area made of whole districts, named by another column of the file (for
Guangdong the prefecture city of each county-level district): the accounting adds one row per
group, the sum of its districts, between the districts and the study-area total.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from citycov.errors import BoundaryError, raise_problems
from citycov.io._validate import TableChecker
from citycov.io.vector import read_vector


@dataclass(frozen=True)
class Districts:
    """Validated districts, in the analysis CRS, in file order.

    ``frame`` has columns ``district_id`` (str), ``name``, ``name_local`` (the second name;
    ``""`` when the file gives none) and ``geometry``; with groups (``group_column``) also
    ``group_id`` (str), ``group_name`` and ``group_name_local``.
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

    @property
    def has_groups(self) -> bool:
        """Whether the districts are grouped (``group_column``)."""
        return "group_id" in self.frame.columns

    @property
    def groups(self) -> pd.DataFrame:
        """One row per group, in the order each first appears in the file: index ``group_id``,
        columns ``name`` and ``name_local`` (empty without groups)."""
        if not self.has_groups:
            return pd.DataFrame({"name": [], "name_local": []}, index=pd.Index([], name="group_id"))
        first = self.frame.drop_duplicates("group_id")
        return pd.DataFrame({"name": first["group_name"].to_numpy(),
                             "name_local": first["group_name_local"].to_numpy()},
                            index=pd.Index(first["group_id"].to_numpy(), name="group_id"))

    @property
    def group_index(self) -> np.ndarray:
        """int64 per district: the row of its group in :attr:`groups` (empty without groups)."""
        if not self.has_groups:
            return np.zeros(0, dtype=np.int64)
        order = {g: i for i, g in enumerate(self.groups.index)}
        return np.array([order[g] for g in self.frame["group_id"]], dtype=np.int64)

    def group_areas(self) -> Districts:
        """The groups as districts of their own (id, name, local name), each the union of its
        districts' polygons, in :attr:`groups` order: for a zonal rule that counts a cell in
        several districts (``all_touched``), whose group figures are not the sum of its districts'."""
        groups = self.groups
        index = self.group_index
        geoms = [shapely.union_all(self.frame.geometry.to_numpy()[index == i]) for i in range(len(groups))]
        return Districts(gpd.GeoDataFrame({"district_id": list(groups.index), "name": list(groups["name"]),
                                           "name_local": list(groups["name_local"])},
                                          geometry=geoms, crs=self.frame.crs))


def has_local_names(frame: Any) -> bool:
    """Whether the ``name_local`` column of a district frame or table holds any name."""
    if "name_local" not in frame.columns:
        return False
    names = frame["name_local"].astype("string").fillna("").str.strip()
    return bool((names != "").any())


def read_districts(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                   id_column: str = "adcode", name_column: str = "name_en",
                   local_name_column: str | None = None, name_zh_column: str | None = None,
                   group_column: str | None = None, group_name_column: str | None = None,
                   group_local_name_column: str | None = None) -> Districts:
    """Read and validate district polygons.

    ``local_name_column`` names a column with a second name per district (``None``: no second
    name); ``name_zh_column`` is its older spelling, accepted for compatibility (give one).
    ``group_column`` names a column with the id of each district's group (an area of whole
    districts, e.g. its prefecture city; ``None``: no groups), ``group_name_column`` and
    ``group_local_name_column`` the group's name and second name (default: the group id and
    ``""``).  Every district needs a group; a group id may equal neither a district id nor
    ``"city"`` (the study-area total), and a group has one name.
    Invalid geometries are refused with shapely's reason (never silently "made valid").
    """
    if local_name_column and name_zh_column and local_name_column != name_zh_column:
        raise BoundaryError(f"{path}: local_name_column ({local_name_column!r}) and its older spelling "
                            f"name_zh_column ({name_zh_column!r}) are both given: give one")
    local = local_name_column or name_zh_column or None
    frame = read_vector(path, crs=crs, error_cls=BoundaryError, what="district")
    check = TableChecker(frame, path)
    group_cols = [c for c in (group_column, group_name_column, group_local_name_column) if c]
    if group_cols and not group_column:
        check.problems.append(f"group_name_column / group_local_name_column ({group_cols}) given without "
                              "group_column (the column of each district's group id)")
    cols = [id_column, name_column] + ([local] if local else []) + (group_cols if group_column else [])
    ok = check.require(list(dict.fromkeys(cols)))
    check.geometry_types({"Polygon", "MultiPolygon"})
    if ok:
        check.text(name_column)
        check.unique(id_column)
        ids = frame[id_column].astype("string").fillna("")
        blank = np.flatnonzero((ids.str.strip() == "").to_numpy())
        if len(blank):
            check.problems.append(f"{id_column}: empty at {check.rows(blank)}")
        if group_column:
            _check_groups(check, frame, id_column, group_column, group_name_column, group_local_name_column)
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
    if group_column:
        out.insert(3, "group_id", frame[group_column].astype(str).str.strip().to_numpy())
        out.insert(4, "group_name", (frame[group_name_column].astype(str).str.strip().to_numpy() if group_name_column
                                     else out["group_id"].to_numpy()))
        out.insert(5, "group_name_local", (frame[group_local_name_column].fillna("").astype(str).str.strip().to_numpy()
                                           if group_local_name_column else [""] * len(frame)))
    if to_crs is not None:
        out = out.to_crs(to_crs)
    return Districts(out.reset_index(drop=True))


def _check_groups(check: TableChecker, frame: gpd.GeoDataFrame, id_column: str, group_column: str,
                  name_column: str | None, local_column: str | None) -> None:
    """Every district has a group id, no group id is a district id or ``"city"``, and each group
    has one name and one local name: every problem goes to ``check``."""
    groups = frame[group_column].astype("string").fillna("").str.strip()
    blank = np.flatnonzero((groups == "").to_numpy())
    if len(blank):
        check.problems.append(f"{group_column} (group_column): empty at {check.rows(blank)}: every district needs "
                              "a group")
    ids = set(frame[id_column].astype("string").fillna("").str.strip())
    clash = [g for g in dict.fromkeys(groups) if g and (g in ids or g == "city")]
    if clash:
        rows = np.flatnonzero(groups.isin(clash).to_numpy())
        check.problems.append(f"{group_column} (group_column): group ids {clash[:10]} at {check.rows(rows)} equal a "
                              f"district id ({id_column}) or 'city' (the study-area total): a group needs an id of "
                              "its own (for a group of one district that has the district's id, take another "
                              "column, e.g. the groups' names)")
    for col in (name_column, local_column):
        if not col:
            continue
        names = frame[col].astype("string").fillna("").str.strip()
        per_group = pd.DataFrame({"g": groups, "n": names})[groups != ""].groupby("g", sort=False)["n"].nunique()
        mixed = list(per_group.index[per_group > 1])
        if mixed:
            rows = np.flatnonzero(groups.isin(mixed).to_numpy())
            check.problems.append(f"{col}: groups {mixed[:10]} ({group_column}) have more than one name, at "
                                  f"{check.rows(rows)}: a group has one name")
        if col == name_column:
            empty = np.flatnonzero(((names == "") & (groups != "")).to_numpy())
            if len(empty):
                check.problems.append(f"{col} (group_name_column): empty at {check.rows(empty)}")
