"""Shared column checks for tabular inputs: collect every problem, name rows and expected values."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from citycov.io.vector import rows_text


class TableChecker:
    """Accumulates problems about one table read from ``path``."""

    def __init__(self, frame: pd.DataFrame, path: str | Path) -> None:
        self.frame = frame
        self.path = Path(path)
        self.problems: list[str] = []

    def require(self, columns: Iterable[str]) -> bool:
        missing = [c for c in columns if c not in self.frame.columns]
        if missing:
            self.problems.append(f"missing columns {missing} (found {list(self.frame.columns)})")
        return not missing

    def numeric(self, column: str, lo: float, hi: float, *, unit: str = "",
                allow_missing: bool = False) -> np.ndarray:
        """Float64 values of ``column``; problems for non-numbers and values outside [lo, hi]."""
        if column not in self.frame.columns:
            return np.full(len(self.frame), np.nan)
        raw = self.frame[column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        blank = raw.isna().to_numpy()
        not_number = np.flatnonzero(~blank & ~np.isfinite(values))
        if len(not_number):
            shown = [raw.iloc[i] for i in not_number[:3]]
            self.problems.append(f"{column}: not a number at {rows_text(self.path, not_number)} (found {shown})")
        if not allow_missing:
            missing = np.flatnonzero(blank)
            if len(missing):
                self.problems.append(f"{column}: missing at {rows_text(self.path, missing)}")
        finite = np.isfinite(values)
        out = np.flatnonzero(finite & ((values < lo) | (values > hi)))
        if len(out):
            shown = [float(values[i]) for i in out[:3]]
            self.problems.append(
                f"{column}: outside {lo}..{hi}{(' ' + unit) if unit else ''} at "
                f"{rows_text(self.path, out)} (found {shown})"
            )
        return values

    def choice(self, column: str, allowed: Iterable[str]) -> np.ndarray:
        allowed = list(allowed)
        if column not in self.frame.columns:
            return np.array([""] * len(self.frame), dtype=object)
        values = self.frame[column].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        bad = np.flatnonzero(~np.isin(values, allowed))
        if len(bad):
            shown = sorted({str(values[i]) for i in bad[:10]})
            self.problems.append(f"{column}: expected one of {allowed} at {rows_text(self.path, bad)} (found {shown})")
        return values

    def text(self, column: str) -> np.ndarray:
        if column not in self.frame.columns:
            return np.array([""] * len(self.frame), dtype=object)
        values = self.frame[column].astype("string").fillna("").str.strip()
        blank = np.flatnonzero((values == "").to_numpy())
        if len(blank):
            self.problems.append(f"{column}: empty at {rows_text(self.path, blank)}")
        return values.to_numpy(dtype=object)

    def unique(self, column: str) -> None:
        if column not in self.frame.columns:
            return
        dup = self.frame[column].duplicated(keep=False).to_numpy()
        idx = np.flatnonzero(dup)
        if len(idx):
            shown = sorted({str(self.frame[column].iloc[i]) for i in idx[:5]})
            self.problems.append(f"{column}: duplicate values {shown} at {rows_text(self.path, idx)}")

    def geometry_types(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        geom = self.frame.geometry
        empty = np.flatnonzero((geom.isna() | geom.is_empty).to_numpy())
        if len(empty):
            self.problems.append(f"geometry: missing or empty at {rows_text(self.path, empty)}")
        types = geom.geom_type.fillna("").to_numpy(dtype=object)
        bad = np.flatnonzero(~np.isin(types, list(allowed)) & (types != ""))
        if len(bad):
            self.problems.append(f"geometry: expected {sorted(allowed)} at {rows_text(self.path, bad)} "
                                 f"(found {sorted({types[i] for i in bad})})")
