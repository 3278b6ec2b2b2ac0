"""Targets (80% wireless, 50% FTTH, 3G urban area, village broadband) and their evaluation:
value, pass/fail, gap in persons, households, km² or villages, and the verdict across the
uncertainty band."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citycov.accounting.districts import CITY_ID, EMPTY_BELOW, METRIC_COLUMNS
from citycov.config import METRIC_UNITS, Target

EMPTY_VERDICTS = {"population": "no residents", "households": "no households", "urban_area_km2": "no urban area",
                  "villages": "no villages"}
"""Verdict of a target whose denominator is empty (below :data:`EMPTY_BELOW`): its share is
undefined, and it neither passes nor fails a band; ``passed`` is False and the gap 0."""


@dataclass(frozen=True)
class TargetResult:
    """One target for one area: value (share), pass/fail, the gap, and the uncertainty band."""

    target: Target
    area_id: str
    value: float
    passed: bool
    gap: float
    gap_unit: str
    low: float = float("nan")
    high: float = float("nan")
    verdict: str = ""


def evaluate_targets(targets: tuple[Target, ...], table: pd.DataFrame,
                     band: pd.DataFrame | None = None) -> list[TargetResult]:
    """Value, pass/fail and gap of every target on every area of its scope (scope "districts":
    every row of ``table``, the districts, their groups and the city; scope "city": the city
    row); with ``band`` (columns area_id, metric, low, high), the range and whether the target
    is met across it.

    An area whose denominator is empty (below :data:`EMPTY_BELOW`, e.g. a district without
    residents) gets value NaN, ``passed`` False, gap 0 and the verdict of :data:`EMPTY_VERDICTS`
    ("no residents", ...), whatever the band says."""
    out = []
    for target in targets:
        num_col, den_col, _ = METRIC_COLUMNS[target.metric]
        unit = METRIC_UNITS[target.metric]
        areas = table.index if target.scope == "districts" else [CITY_ID]
        for area_id in areas:
            num = float(table.loc[area_id, num_col])
            den = float(table.loc[area_id, den_col])
            empty = not den >= EMPTY_BELOW[den_col]
            value = float("nan") if empty else num / den
            passed = not empty and value >= target.threshold - 1e-12
            needed = target.threshold * den - num
            gap = 0.0 if empty else max(0.0, needed)
            if unit != "km²":
                gap = max(0.0, float(np.ceil(gap - 1e-9)))
            gap = abs(gap)  # no negative zero
            low = high = float("nan")
            verdict = EMPTY_VERDICTS[den_col] if empty else ""
            if band is not None and not empty:
                sel = band[(band["area_id"] == area_id) & (band["metric"] == target.metric)]
                if len(sel):
                    low, high = float(sel["low"].iloc[0]), float(sel["high"].iloc[0])
                    if low >= target.threshold - 1e-12:
                        verdict = "met across the band"
                    elif high < target.threshold - 1e-12:
                        verdict = "missed across the band"
                    else:
                        verdict = "undecided"
            out.append(TargetResult(target, str(area_id), value, bool(passed), gap, unit, low, high, verdict))
    return out
