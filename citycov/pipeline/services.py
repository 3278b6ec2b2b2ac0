"""Step 5: the ``[services]`` presets of the cellular technologies on the base run, and the one
table of residents and households covered per preset, environment and area."""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citycov.accounting import districts as acc
from citycov.accounting import services as service_mod
from citycov.accounting.districts import CITY_ID
from citycov.choices import ENV_CLASSES, TECHNOLOGIES
from citycov.config import Scenario
from citycov.errors import CitycovWarning, ModelError
from citycov.grid import GridSpec
from citycov.pipeline.coverage import Coverage
from citycov.pipeline.inputs import Inputs
from citycov.pipeline.layers import Layers
from citycov.pipeline.tables import group_weights
from citycov.presets.radio import RadioPreset
from citycov.stored import row_strips, strip_of

log = logging.getLogger("citycov")

SERVICE_COLUMNS = ("area_id", "name", "preset", "technology", "metric", "environment", "cell_edge_probability",
                   "population_covered", "population", "population_pct", "households_covered", "households",
                   "households_pct")
SERVICE_LEVELS = {
    "level": "best_dbm: the strongest reference-signal level over every carrier of the technology "
             "(as the scenario's own coverage masks)",
    "speed": "serving_dbm, sinr_db: level and SINR of the serving sector on the carrier with the best download; "
             "coupling loss = its ref_signal_eirp_dbm (sectors.csv, 0.01 dB) - serving_dbm; bandwidth_mhz of "
             "that sector",
}


@dataclass
class ServiceResult:
    """What one service step returns: its table, its presets' provenance, and rasters."""

    table: pd.DataFrame | None
    """One row per area × preset × environment (:data:`SERVICE_COLUMNS`); None: no preset evaluated."""
    records: list[dict[str, Any]]
    """Each evaluated preset's provenance (citation, file, SHA-256, rule, margins, evaluation)."""
    skipped: dict[str, str] = field(default_factory=dict)
    """Preset name -> why it was not evaluated."""
    rasters: dict[str, tuple[GridSpec, np.ndarray, str]] = field(default_factory=dict)
    """Per preset: its grid, the value per cell and its unit (the broadcast step's rasters)."""


def collect_services(*results: ServiceResult) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The one services table (rows of each result in turn) and its provenance:
    ``{"presets": [...], "skipped": {name: reason}}``."""
    tables = [r.table for r in results if r.table is not None]
    prov: dict[str, Any] = {"presets": [rec for r in results for rec in r.records],
                            "skipped": {k: v for r in results for k, v in r.skipped.items()}}
    if not tables:
        return pd.DataFrame(columns=list(SERVICE_COLUMNS)), prov
    return pd.concat(tables, ignore_index=True), prov


def service_coverage(scenario: Scenario, inputs: Inputs, layers: Layers,
                     cov: Coverage) -> ServiceResult:
    """Residents and households covered per district and city by each ``[services]`` preset in
    each of its environments (:func:`citycov.accounting.services.evaluate_preset` on the base run).

    σ per cell is ``[accounting].shadow_sigma_db`` of its environment class; presets that fix
    no cell-edge probability use ``[accounting].cell_edge_probability``.  Presets of
    technology ``trunking`` / ``dtv`` are field-strength services, skipped here (the broadcast
    step evaluates them).  Only cells inside a district are evaluated (no other cell is
    counted); the zonal sums are those of :func:`citycov.accounting.districts.network_table`.

    Returns
    -------
    ServiceResult
        ``table`` (None when no preset was evaluated here): one row per area × preset ×
        environment with ``population_covered``, ``population``, ``population_pct``,
        ``households_covered``, ``households``, ``households_pct``; ``records``: each evaluated
        preset's provenance; ``skipped``: preset name -> why it was not evaluated.
    """
    sigma_by_class = np.array([scenario.accounting.shadow_sigma_db[name] for name in ENV_CLASSES])
    counted = layers.weights.in_district() | (layers.index >= 0)
    masks: dict[tuple[str, str], np.ndarray] = {}
    described: list[tuple[RadioPreset, str]] = []
    records: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for preset in scenario.services.presets:
        if preset.technology not in TECHNOLOGIES:
            continue
        t = TECHNOLOGIES.index(preset.technology)
        with_sector = scenario.services.indoor_probability is not None
        sel, picked, sector, source = _picked(cov, t, preset, counted, with_sector=with_sector)
        indoor = None
        if with_sector:
            f_mhz = cov.cell.sectors["freq_mhz"].to_numpy(dtype=np.float64)[sector]
            indoor = service_mod.indoor_loss_db(f_mhz, probability=scenario.services.indoor_probability,
                                                building_class=scenario.services.indoor_building_class)
        covered_by_env, provenance = _evaluate_in_chunks(
            preset, sigma_db=sigma_by_class[layers.env[sel]], link=cov.link if preset.metric == "speed" else None,
            cell_edge_probability=scenario.accounting.cell_edge_probability, indoor_loss_db=indoor, picked=picked)
        del picked, indoor
        notes = _preset_notes(scenario, layers, preset)
        for env_name, covered in covered_by_env.items():
            full = np.zeros(layers.grid.shape, dtype=bool)
            full[sel] = covered
            masks[(preset.name, env_name)] = full
            described.append((preset, env_name))
        record = dict(provenance)
        record["evaluated"] = {"technology_band": preset.technology, "rasters": source,
                               "cells_evaluated": int(sel.sum()), "grid_cell_m": layers.grid.cell_m,
                               "notes": notes}
        records.append(record)
        log.info("service preset %s (%s, %s): %d served cells in the districts evaluated", preset.name,
                 preset.technology, preset.metric, int(sel.sum()))
    table = service_table(scenario, inputs, layers, masks, described, records) if masks else None
    return ServiceResult(table, records, skipped)


def service_table(scenario: Scenario, inputs: Inputs, layers: Layers, masks: dict[tuple[str, str], np.ndarray],
                   described: list[tuple[RadioPreset, str]], records: list[dict[str, Any]]) -> pd.DataFrame:
    """Population and households covered per area for each (preset, environment) mask."""
    args = (inputs.districts, layers.persons, layers.city_weights)
    groups = group_weights(inputs, layers)
    people = acc.network_table(*args, layers.population, masks, layers.census_factor, group_weights=groups)
    homes = acc.network_table(*args, layers.households, masks, layers.census_factor, group_weights=groups)
    districts = inputs.districts
    table = pd.DataFrame({
        "area_id": people["area_id"],
        "name": people["area_id"].map(dict(zip([*districts.ids, *districts.groups.index, CITY_ID],
                                               [*districts.frame["name"], *districts.groups["name"], "City total"],
                                               strict=True))),
        "preset": people["technology"], "environment": people["operator"],
        "population_covered": people["population_covered"], "population": people["population"],
        "population_pct": people["coverage_pct"],
        "households_covered": homes["population_covered"].to_numpy(), "households": homes["population"].to_numpy(),
        "households_pct": homes["coverage_pct"].to_numpy(),
    })
    by_name = {p.name: p for p, _ in described}
    table.insert(3, "technology", table["preset"].map(lambda n: by_name[n].technology))
    table.insert(4, "metric", table["preset"].map(lambda n: by_name[n].metric))
    probability = {r["preset"]: r["service"]["cell_edge_probability"] for r in records}
    table.insert(6, "cell_edge_probability", table["preset"].map(probability))
    return table


CHUNK_CELLS = 1 << 20
"""Cells per call of :func:`citycov.accounting.services.evaluate_preset` (each call holds several
float64 arrays per environment of its cells)."""


def _evaluate_in_chunks(preset: RadioPreset, *, sigma_db: np.ndarray, link: Any, cell_edge_probability: float,
                        indoor_loss_db: np.ndarray | None,
                        picked: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """:func:`~citycov.accounting.services.evaluate_preset` on the picked cells, :data:`CHUNK_CELLS`
    at a time: each environment's mask (the chunks' masks in order) and the provenance record.
    The record's value summaries ({"min", "max"} of σ, losses and margins) are combined over the
    chunks, so record and masks equal one call on every cell; every other entry is the same in
    each chunk (checked)."""
    n = len(sigma_db)
    masks: dict[str, list[np.ndarray]] = {}
    records = []
    for a in range(0, max(n, 1), CHUNK_CELLS):
        b = min(a + CHUNK_CELLS, n)
        result = service_mod.evaluate_preset(
            preset, sigma_db=sigma_db[a:b], link=link, cell_edge_probability=cell_edge_probability,
            indoor_loss_db=None if indoor_loss_db is None else indoor_loss_db[a:b],
            **{k: v[a:b] for k, v in picked.items()})
        for env_name, covered in result.masks.items():
            masks.setdefault(env_name, []).append(covered)
        records.append(result.provenance)
        del result
    return {k: np.concatenate(v) for k, v in masks.items()}, _combined(records)


def _combined(values: list[Any]) -> Any:
    """One provenance value from the chunks' (see :func:`_evaluate_in_chunks`)."""
    first = values[0]
    if len(values) == 1:
        return first
    if isinstance(first, dict):
        if set(first) == {"min", "max"} and all(isinstance(v, dict) and set(v) == {"min", "max"} for v in values):
            lows = [v["min"] for v in values if not math.isnan(v["min"])]
            highs = [v["max"] for v in values if not math.isnan(v["max"])]
            return {"min": min(lows) if lows else math.nan, "max": max(highs) if highs else math.nan}
        if not all(isinstance(v, dict) and list(v) == list(first) for v in values):
            raise RuntimeError(f"services: the chunks' provenance records differ: {values}")
        return {k: _combined([v[k] for v in values]) for k in first}
    same = all(v == first or (isinstance(v, float) and isinstance(first, float) and math.isnan(v) and math.isnan(first))
               for v in values)
    if not same:
        raise RuntimeError(f"services: the chunks' provenance records differ: {values}")
    return first


def _picked(cov: Coverage, t: int, preset: RadioPreset, counted: np.ndarray, *,
            with_sector: bool) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray | None, str]:
    """The cells ``preset`` evaluates (bool grid: ``counted`` and a level there) and the values of
    its rasters at them (row-major order, 1-D), gathered strip by strip (the rasters may be stored);
    with ``with_sector`` also the sector (row of ``cov.cell.sectors``) each cell's level is of."""
    _check_service_rasters(cov, preset)
    cell = cov.cell
    sel = np.zeros(counted.shape, dtype=bool)
    parts: dict[str, list[np.ndarray]] = {}
    sectors: list[np.ndarray] = []
    for r0, r1 in row_strips(counted.shape):
        rasters = _service_rasters(cov, t, preset, r0, r1)
        here = counted[r0:r1] & np.isfinite(rasters["level_dbm"])
        sel[r0:r1] = here
        for k, v in rasters.items():
            parts.setdefault(k, []).append(v[here])
        if with_sector:
            sector = cell.serving_sector if preset.metric == "speed" else cell.best_sector
            sectors.append(strip_of(sector, r0, r1)[t][here])
    picked = {k: np.concatenate(v) for k, v in parts.items()}
    source = SERVICE_LEVELS["speed" if preset.metric == "speed" else "level"]
    return sel, picked, np.concatenate(sectors) if with_sector else None, source


def _check_service_rasters(cov: Coverage, preset: RadioPreset) -> None:
    """A speed preset needs the engine's link rasters and the sectors' EIRP and bandwidth."""
    if preset.metric != "speed":
        return
    cell = cov.cell
    missing = [n for n in ("serving_dbm", "serving_sector", "sinr_db") if getattr(cell, n, None) is None]
    missing += [c for c in ("ref_signal_eirp_dbm", "bandwidth_mhz") if c not in cell.sectors.columns]
    if missing or cov.link is None:
        raise ModelError(f"service preset {preset.name!r} (metric speed): the engine returned no {missing or 'link'} "
                         "rasters; [radio].sinr = true is needed")


def _service_rasters(cov: Coverage, t: int, preset: RadioPreset, r0: int, r1: int) -> dict[str, np.ndarray]:
    """Rows r0:r1 of the outdoor rasters of technology band ``t`` that ``preset`` needs."""
    cell = cov.cell
    if preset.metric != "speed":
        return {"level_dbm": strip_of(cell.best_dbm, r0, r1)[t]}
    sector = strip_of(cell.serving_sector, r0, r1)[t]
    served = sector >= 0
    eirp = cell.sectors["ref_signal_eirp_dbm"].to_numpy(dtype=np.float64)
    bandwidth = cell.sectors["bandwidth_mhz"].to_numpy(dtype=np.float64)
    level = np.where(served, strip_of(cell.serving_dbm, r0, r1)[t], np.nan)
    pick = np.where(served, sector, 0)
    if not len(eirp):
        eirp = bandwidth = np.full(1, np.nan)
    return {"level_dbm": level, "sinr_db": strip_of(cell.sinr_db, r0, r1)[t],
            "coupling_loss_db": np.where(served, eirp[pick] - level, np.nan),
            "bandwidth_mhz": np.where(served, bandwidth[pick], np.nan)}


def _preset_notes(scenario: Scenario, layers: Layers, preset: RadioPreset) -> list[str]:
    """Where the run departs from what the preset asks for (each also a CitycovWarning)."""
    notes = []
    if preset.max_cell_m is not None and layers.grid.cell_m > preset.max_cell_m:
        notes.append(f"the preset asks for cells of at most {preset.max_cell_m:g} m; the grid has "
                     f"{layers.grid.cell_m:g} m")
    if abs(preset.rx_height_m - scenario.radio.rx_height_m) > 1e-9:
        notes.append(f"the preset's receiver is at {preset.rx_height_m:g} m; the engine ran at "
                     f"[radio].rx_height_m = {scenario.radio.rx_height_m:g} m")
    if preset.model is not None and preset.model != scenario.radio.model:
        notes.append(f"the preset names model {preset.model!r}; the engine ran [radio].model = "
                     f"{scenario.radio.model!r}")
    for text in notes:
        warnings.warn(f"service preset {preset.name!r}: {text}", CitycovWarning, stacklevel=3)
    return notes
