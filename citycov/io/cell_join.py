"""Joining OpenCelliD cells to a sector table, so that one network given twice counts once.

A sector table (``[inputs.sectors]``, the operator's or a regulator's list) and an OpenCelliD
export (``[inputs.opencellid]``) often describe the same network: adding both would model every
cell twice.  :func:`join_cells` with ``how="fill"`` keeps every sector-table row and adds only
the OpenCelliD cells it lacks:

1. **by ids**: a cell whose (technology, MCC, MNC, cell id) equals a sector-table row's
   (``technology``, ``mcc``, ``mnc``, ``cell_id``, the optional id columns of
   :data:`citycov.io.sites.SECTOR_OPTIONAL`) is that row;
2. **by position**, for the rest, against the sector-table rows without ids: a cell within
   ``match_distance_m`` of a sector of the same technology and the same operator (same MCC-MNC
   where the row has them, else the same name, compared without case) is taken as that site's.
   OpenCelliD positions are crowd estimates, often hundreds of metres from the mast, hence the
   500 m default.

``how="add"`` adds every cell (the old behaviour: the same network twice counts twice).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from citycov.choices import OCID_JOINS
from citycov.errors import CitycovWarning, SiteTableError

ID_COLUMNS = ("mcc", "mnc", "cell_id")
"""Sector-table columns that identify a cell as OpenCelliD does."""


@dataclass(frozen=True)
class JoinCounts:
    """What :func:`join_cells` did, in OpenCelliD cells (a cell of 3 sectors counts once)."""

    how: str
    cells: int
    by_ids: int = 0
    by_position: int = 0
    match_distance_m: float = 0.0

    @property
    def added(self) -> int:
        return self.cells - self.by_ids - self.by_position

    def note(self) -> str:
        """One line for the provenance record."""
        if self.how == "add":
            return (f"join = add: all {self.cells} OpenCelliD cells added to the sector table (a network in "
                    f"both is counted twice)")
        return (f"join = fill: {self.by_ids + self.by_position} of {self.cells} OpenCelliD cells are sector-table "
                f"rows (by ids {self.by_ids}, by position within {self.match_distance_m:g} m {self.by_position}) "
                f"and were left out; {self.added} added")


def _ids(frame: pd.DataFrame, columns: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
    """(rows with all three ids, their ids as an int64 (n, 3) array)."""
    values = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64)
                              for c in columns]) if len(frame) else np.zeros((0, 3))
    ok = np.isfinite(values).all(axis=1)
    return ok, np.where(ok[:, None], values, -1).astype(np.int64)


def join_cells(sectors: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, *, how: str = "fill",
               match_distance_m: float = 500.0) -> tuple[gpd.GeoDataFrame, JoinCounts]:
    """The sector table with the OpenCelliD sectors ``cells`` (:func:`citycov.io.read_opencellid`)
    joined by ``how`` (:data:`citycov.choices.OCID_JOINS`), and the counts.

    Both frames are in the same projected CRS (metres).  Only the sector table's columns are
    kept.  With ``how="fill"``, when no cell matched although cells lie within
    ``match_distance_m`` of sectors of the same technology, a :class:`CitycovWarning` names the
    two tables' operators (the names probably differ: set ``[inputs.opencellid].operators``).

    Examples
    --------
    >>> joined, counts = join_cells(sectors, cells)  # doctest: +SKIP
    >>> counts.note()  # doctest: +SKIP
    'join = fill: 40 of 52 OpenCelliD cells are sector-table rows (by ids 0, by position within 500 m 40) ...'
    """
    if how not in OCID_JOINS:
        raise SiteTableError(f"join must be one of {list(OCID_JOINS)}, got {how!r}")
    ident = ("radio", "mcc", "mnc", "area", "cell")
    cell_key = (cells[list(ident)].astype(str).agg("-".join, axis=1) if all(c in cells.columns for c in ident)
                else cells["sector_id"].astype(str))  # one key per cell, whatever its sectors
    n_cells = int(cell_key.nunique())
    matched = np.zeros(len(cells), dtype=bool)
    by_ids = by_position = 0
    if how == "fill" and len(sectors) and len(cells):
        matched_ids = _match_ids(sectors, cells)
        matched |= matched_ids
        by_ids = int(cell_key[matched_ids].nunique())
        has_ids = _ids(sectors, ID_COLUMNS)[0] if all(c in sectors.columns for c in ID_COLUMNS) \
            else np.zeros(len(sectors), dtype=bool)
        near = _match_position(sectors.loc[~has_ids], cells, match_distance_m, same_operator=True) & ~matched
        matched |= near
        by_position = int(cell_key[near].nunique())
        if not matched.any() and _match_position(sectors, cells, match_distance_m, same_operator=False).any():
            warnings.warn(f"no OpenCelliD cell matched a sector-table row, though some lie within "
                          f"{match_distance_m:g} m of sectors of the same technology: the operators differ "
                          f"(sector table {sorted(set(sectors['operator'].astype(str)))[:6]}, OpenCelliD "
                          f"{sorted(set(cells['operator'].astype(str)))[:6]}); name them alike with "
                          f'[inputs.opencellid] operators = {{ "MCC-MNC" = "name" }}, or add mcc, mnc and '
                          f"cell_id columns to the sector table", CitycovWarning, stacklevel=2)
    added = cells.loc[~matched].copy()
    if "cell_id" in sectors.columns and "cell" in added.columns:
        added["cell_id"] = added["cell"]
    for col in ID_COLUMNS:  # the sector table's nullable integers, not OpenCelliD's text
        if col in sectors.columns and col in added.columns:
            added[col] = pd.to_numeric(added[col], errors="coerce").astype(sectors[col].dtype)
    added = added[[c for c in sectors.columns if c in added.columns]]
    out = gpd.GeoDataFrame(pd.concat([sectors, added], ignore_index=True), geometry=sectors.geometry.name,
                           crs=sectors.crs) if len(added) else sectors.copy()
    return out, JoinCounts(how=how, cells=n_cells, by_ids=by_ids, by_position=by_position,
                           match_distance_m=match_distance_m)


def _match_ids(sectors: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Cells whose (technology, MCC, MNC, cell id) is a sector-table row's."""
    if not all(c in sectors.columns for c in ID_COLUMNS):
        return np.zeros(len(cells), dtype=bool)
    ok, ids = _ids(sectors, ID_COLUMNS)
    known = {(t, *row) for t, row in zip(sectors["technology"].astype(str).to_numpy()[ok], ids[ok].tolist(),
                                         strict=True)}
    c_ok, c_ids = _ids(cells, ("mcc", "mnc", "cell"))
    tech = cells["technology"].astype(str).to_numpy()
    return np.array([bool(o) and (t, *row) in known for o, t, row in zip(c_ok, tech, c_ids.tolist(), strict=True)],
                    dtype=bool)


def _operator_keys(frame: pd.DataFrame, *, plmn_columns: tuple[str, str] | None) -> list[set]:
    """Each row's operator keys: its name without case, and ``(mcc, mnc)`` where it has them."""
    names = frame["operator"].astype(str).str.strip().str.casefold().to_numpy()
    keys = [{("name", n)} for n in names]
    if plmn_columns and all(c in frame.columns for c in plmn_columns):
        mcc = pd.to_numeric(frame[plmn_columns[0]], errors="coerce").to_numpy(dtype=np.float64)
        mnc = pd.to_numeric(frame[plmn_columns[1]], errors="coerce").to_numpy(dtype=np.float64)
        for k, a, b in zip(keys, mcc, mnc, strict=True):
            if np.isfinite(a) and np.isfinite(b):
                k.add(("plmn", int(a), int(b)))
    return keys


def _match_position(sectors: gpd.GeoDataFrame, cells: gpd.GeoDataFrame, distance_m: float, *,
                    same_operator: bool) -> np.ndarray:
    """Cells within ``distance_m`` of a sector of the same technology (and operator)."""
    out = np.zeros(len(cells), dtype=bool)
    if not len(sectors) or not len(cells):
        return out
    s_xy = np.column_stack([sectors.geometry.x.to_numpy(), sectors.geometry.y.to_numpy()])
    c_xy = np.column_stack([cells.geometry.x.to_numpy(), cells.geometry.y.to_numpy()])
    s_tech = sectors["technology"].astype(str).to_numpy()
    c_tech = cells["technology"].astype(str).to_numpy()
    s_keys = _operator_keys(sectors, plmn_columns=("mcc", "mnc")) if same_operator else [{"any"}] * len(sectors)
    c_keys = _operator_keys(cells, plmn_columns=("mcc", "mnc")) if same_operator else [{"any"}] * len(cells)
    groups: dict[tuple, list[int]] = {}
    for i, (t, keys) in enumerate(zip(s_tech, s_keys, strict=True)):
        for k in keys:
            groups.setdefault((t, k), []).append(i)
    wanted: dict[tuple, list[int]] = {}
    for j, (t, keys) in enumerate(zip(c_tech, c_keys, strict=True)):
        for k in keys:
            wanted.setdefault((t, k), []).append(j)
    for group, rows in wanted.items():
        if group in groups:
            dist, _ = cKDTree(s_xy[groups[group]]).query(c_xy[rows], distance_upper_bound=distance_m)
            out[np.asarray(rows)[np.isfinite(dist) & (dist <= distance_m)]] = True
    return out
