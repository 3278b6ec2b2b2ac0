"""Targets (80% wireless population, 50% FTTH households, ...) evaluated per district and city."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from citycov.config import Target

METRIC_COLUMNS = {
    "wireless_population": ("population_covered", "population", "persons"),
    "ftth_households": ("households_passed", "households", "households"),
}


@dataclass(frozen=True)
class TargetResult:
    """One target for one area: value (share), pass/fail and the gap to the threshold."""

    target: Target
    area_id: str
    value: float
    passed: bool
    gap: int
    gap_unit: str


def evaluate(target: Target, numerator: float, denominator: float, area_id: str) -> TargetResult:
    """Share = numerator / denominator; gap = persons/households still needed to reach the threshold."""
    _, _, unit = METRIC_COLUMNS[target.metric]
    value = numerator / denominator if denominator > 0 else float("nan")
    needed = target.threshold * denominator - numerator
    gap = max(0, math.ceil(needed - 1e-9)) if denominator > 0 else 0
    passed = denominator > 0 and value >= target.threshold - 1e-12
    return TargetResult(target=target, area_id=area_id, value=value, passed=passed, gap=gap, gap_unit=unit)


def evaluate_table(targets: tuple[Target, ...], table: pd.DataFrame) -> list[TargetResult]:
    """Evaluate every target on every row of ``table`` (indexed by area id)."""
    out = []
    for target in targets:
        num_col, den_col, _ = METRIC_COLUMNS[target.metric]
        for area_id, row in table.iterrows():
            out.append(evaluate(target, float(row[num_col]), float(row[den_col]), str(area_id)))
    return out
