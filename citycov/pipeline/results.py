"""The pipeline's result: plain data that the outputs render (:class:`Results`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from citycov.accounting.districts import CITY_ID
from citycov.accounting.targets import TargetResult
from citycov.config import Scenario
from citycov.grid import GridSpec
from citycov.io import Districts
from citycov.provenance import InputRecord
from citycov.verification.claims import ClaimsResult


@dataclass
class RunContext:
    """The run's validated inputs, grid layers, coverage levels, masks and FTTH result
    (:mod:`citycov.pipeline`'s own types), kept for ``citycov plan``."""

    inputs: Any
    layers: Any
    coverage: Any
    masks: dict[str, np.ndarray]
    fibre: Any


@dataclass
class Results:
    """Everything a report needs: tables, rasters on ``grid``, and provenance.

    ``table`` has one row per district, then one per group of districts (when the districts
    input has a ``group_column``), then a final ``city`` row (index ``area_id``; ``area_kind``
    says which).
    Rasters: ``best_dbm``/``best_sector`` (per technology), ``wlan_dbm``, ``wireless``
    (bool), ``ftth`` (households passed per cell), ``population`` (persons per cell),
    ``district_index`` (cell-centre district).
    """

    scenario: Scenario
    grid: GridSpec
    districts: Districts
    table: pd.DataFrame
    target_results: list[TargetResult]
    rasters: dict[str, np.ndarray]
    sectors: pd.DataFrame
    inputs: list[InputRecord]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extrapolation: tuple[str, ...] = ()
    networks: pd.DataFrame | None = None
    band: pd.DataFrame | None = None
    variants: pd.DataFrame | None = None
    variant_notes: dict[str, str] = field(default_factory=dict)
    gaps: gpd.GeoDataFrame | None = None
    accounting_notes: list[str] = field(default_factory=list)
    started_utc: str = ""
    software: dict[str, str] = field(default_factory=dict)
    network_wgs84: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    claims: ClaimsResult | None = None
    services: pd.DataFrame | None = None
    """Residents and households covered per (preset, environment) and area (``[services]``)."""
    broadcast_rasters: dict[str, tuple[GridSpec, np.ndarray, str]] = field(default_factory=dict)
    """Per broadcast preset: its grid, the strongest field strength (DTV, dBµV/m) or received
    level (trunking, dBm) per cell, and the unit (written as ``broadcast_<preset>.tif``)."""
    service_provenance: dict[str, Any] = field(default_factory=dict)
    """``presets``: each evaluated preset's provenance (citation, file, SHA-256, rule, margins);
    ``skipped``: preset name -> why it was not evaluated here."""

    context: RunContext | None = field(default=None, repr=False, compare=False)
    """What the run computed on the way and the planner reuses (never written, never saved)."""

    @property
    def synthetic_inputs(self) -> list[str]:
        return [r.name for r in self.inputs if r.synthetic]

    @property
    def city(self) -> pd.Series:
        return self.table.loc[CITY_ID]
