"""The plan as plain data (:class:`PlanResult`), rendered by :mod:`citycov.outputs`."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from citycov.config.plan import PlanConfig
from citycov.pipeline.results import Results

SITE_COLUMNS = ("rank", "candidate_id", "district_id", "district", "technology", "operator", "freq_mhz",
                "height_m", "eirp_dbm", "sectors", "new_persons", "new_villages", "cum_pct", "cost", "source")
"""Columns of ``PlanResult.sites`` (plus ``geometry``, a point in the grid CRS): ``rank`` 1.. in the
order of selection, ``new_persons`` residents newly covered (matrix, at the time of the choice),
``cum_pct`` the wireless share of its district after this addition (matrix), ``source`` ``lattice``,
the candidate file's name, or ``continuation`` (added after a full-engine check)."""
CABINET_COLUMNS = ("rank", "candidate_id", "district_id", "district", "ports", "new_households", "new_villages",
                   "feeder_m", "cum_pct", "cost", "source")
"""Columns of ``PlanResult.cabinets`` (plus ``geometry``): ``new_households`` households newly
passed, ``feeder_m`` the feeder length (straight line × route factor), ``cum_pct`` the FTTH
share of its district after this addition (matrix)."""
SUMMARY_COLUMNS = ("area_id", "district", "metric", "threshold", "before_pct", "planned_pct", "after_pct", "met",
                   "sites", "cabinets", "cost", "greedy_cost", "optimum_cost", "lower_bound", "gap_pct", "note")
"""Columns of ``PlanResult.summary``, one row per (area, metric) in scope: ``threshold`` the
target's share (0-1, as ``[[targets]].threshold``), ``before_pct`` from the
base run, ``planned_pct`` from the matrix, ``after_pct`` from the full-engine run with the plan
added; ``sites``/``cabinets``/``cost`` of the plan in that area; ``greedy_cost``/``optimum_cost``/
``lower_bound``/``gap_pct`` of the whole instance (repeated on each row of one instance)."""
CURVE_COLUMNS = ("metric", "area_id", "step", "cost", "pct")
"""The cumulative coverage curve: after ``step`` additions (0 = before), at cumulative ``cost``."""
SOLVER_COLUMNS = ("instance", "method", "cost", "sites", "cabinets", "lower_bound", "gap_pct", "time_s", "status")


@dataclass
class PlanResult:
    """Everything the plan's outputs need.  ``after`` is the full-engine run with the plan's
    sites and cabinets added (its figures are the honest "after")."""

    config: PlanConfig
    base: Results
    after: Results | None
    sites: gpd.GeoDataFrame
    cabinets: gpd.GeoDataFrame
    summary: pd.DataFrame
    curve: pd.DataFrame
    solvers: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
