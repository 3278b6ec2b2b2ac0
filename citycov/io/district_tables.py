"""District tables: one number per district from a CSV table (census figures, household sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from citycov.errors import ScenarioError
from citycov.io._validate import TableChecker, numbers, read_csv_table, text_values


def read_district_values(path: str | Path, district_ids: Sequence[str], *, id_column: str, value_column: str,
                         lo: float, hi: float, lo_open: bool = False) -> np.ndarray:
    """One float64 per district of ``district_ids`` (in that order) from column ``value_column``
    of the CSV table at ``path``, keyed by ``id_column``.

    ``lo_open``: the value must be above ``lo`` (a census population of 0 cannot be rescaled to).

    Raises
    ------
    InputFileError
        The file is missing or cannot be read.
    ScenarioError
        The file is empty, has a header and no rows, or is not UTF-8 (line and byte); a column
        is missing; an id is blank or given on several lines (every such line listed, with the
        values when they conflict); a district's value is missing or outside ``lo..hi`` (every
        such district is listed, with its line).

    Lines for ids that are not among ``district_ids`` (a city total, districts outside the study)
    are ignored; when a district is missing they are named in the error (an id written otherwise).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "census.csv"
    >>> _ = p.write_text("district_id,population\\n1,100\\n2,250\\n")
    >>> read_district_values(p, ["2", "1"], id_column="district_id", value_column="population",
    ...                      lo=0.0, hi=1e9).tolist()
    [250.0, 100.0]
    """
    table = read_csv_table(path, error_cls=ScenarioError, what="district", dtype={id_column: str})
    check = TableChecker(table, path)
    check.require([id_column, value_column])
    if check.problems:
        raise ScenarioError(f"{path}: " + "; ".join(check.problems))
    ids = text_values(table[id_column])
    values = numbers(table[value_column])
    problems: list[str] = []
    blank = np.flatnonzero(ids == "")
    if len(blank):
        problems.append(f"{id_column}: empty at {check.rows(blank)}; expected a district id on every line")
    keyed = pd.Series(ids)
    for did, rows in keyed[(keyed != "") & keyed.duplicated(keep=False)].groupby(keyed, sort=False).groups.items():
        rows = np.asarray(rows)
        found = [values[i] for i in rows]
        same = all(v == found[0] or (np.isnan(v) and np.isnan(found[0])) for v in found)
        problems.append(f"{id_column} {did}: given on {len(rows)} lines ({check.rows(rows)})"
                        + ("" if same else f" with conflicting {value_column} {[_num(v) for v in found][:5]}")
                        + "; expected one line per district")
    first = {}
    for i, did in enumerate(ids):
        first.setdefault(did, i)
    wanted = f"{lo:g}{' (excluded)' if lo_open else ''}..{hi:g}"
    out = []
    for did in district_ids:
        i = first.get(did)
        if i is None:
            problems.append(f"district {did}: {value_column} missing or outside {wanted} (found None): the table has "
                            "no line for it")
            out.append(np.nan)
            continue
        v = values[i]
        if not np.isfinite(v) or v < lo or v > hi or (lo_open and v <= lo):
            raw = table[value_column].iloc[i]
            shown = "blank" if pd.isna(raw) or not str(raw).strip() else repr(raw if isinstance(raw, str) else _num(v))
            problems.append(f"district {did}: {value_column} missing or outside {wanted} (found {shown}) "
                            f"at {check.rows([i])}")
        out.append(v)
    known = set(district_ids)
    stray = np.flatnonzero([did != "" and did not in known for did in ids])
    stray_text = ""
    if len(stray):
        shown = sorted({str(ids[i]) for i in stray})[:5]
        stray_text = (f"{id_column}: {shown} at {check.rows(stray)} not in the districts file "
                      f"(expected one of {sorted(known)[:5]}{' ...' if len(known) > 5 else ''})")
    if problems:  # lines of other districts (a city total, districts outside the study) are named only here
        raise ScenarioError(f"{path}: " + "; ".join(problems + ([stray_text] if stray_text else [])))
    return np.asarray(out, dtype=np.float64)


def _num(value: float) -> float | int:
    return int(value) if np.isfinite(value) and float(value).is_integer() else float(value)
