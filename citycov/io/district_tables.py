"""District tables: one number per district from a CSV table (census figures, household sizes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from citycov.errors import InputFileError, ScenarioError


def read_district_values(path: str | Path, district_ids: Sequence[str], *, id_column: str, value_column: str,
                         lo: float, hi: float) -> np.ndarray:
    """One float64 per district of ``district_ids`` (in that order) from column ``value_column``
    of the CSV table at ``path``, keyed by ``id_column``.

    Raises
    ------
    InputFileError
        The file cannot be read or parsed.
    ScenarioError
        A column is missing, or a district's value is missing or outside ``lo..hi`` (every
        such district is listed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "census.csv"
    >>> _ = p.write_text("district_id,population\\n1,100\\n2,250\\n")
    >>> read_district_values(p, ["2", "1"], id_column="district_id", value_column="population",
    ...                      lo=0.0, hi=1e9).tolist()
    [250.0, 100.0]
    """
    try:
        table = pd.read_csv(path, dtype={id_column: str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read: {exc}") from exc
    missing = [c for c in (id_column, value_column) if c not in table.columns]
    if missing:
        raise ScenarioError(f"{path}: missing columns {missing} (found {list(table.columns)})")
    values = dict(zip(table[id_column].astype(str).str.strip(), pd.to_numeric(table[value_column], errors="coerce"),
                      strict=True))
    out, problems = [], []
    for did in district_ids:
        v = values.get(did)
        if v is None or not np.isfinite(v) or not lo <= v <= hi:
            problems.append(f"district {did}: {value_column} missing or outside {lo:g}..{hi:g} (found {v})")
        out.append(np.nan if v is None else float(v))
    if problems:
        raise ScenarioError(f"{path}: " + "; ".join(problems))
    return np.asarray(out, dtype=np.float64)
