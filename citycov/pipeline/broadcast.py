"""Step 6, a sibling of the services step: the trunking and DTV presets of ``[services]`` from
the ``[inputs.broadcast]`` transmitters, on their own grid (``[broadcast].cell_m``)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from citycov.accounting import services as service_mod
from citycov.choices import TECHNOLOGIES
from citycov.config import Scenario
from citycov.grid import GridSpec
from citycov.pipeline.inputs import Inputs
from citycov.pipeline.layers import build_layers
from citycov.pipeline.services import ServiceResult, service_table
from citycov.presets.radio import RadioPreset

log = logging.getLogger("citycov")


def broadcast_presets(scenario: Scenario) -> list[RadioPreset]:
    """The ``[services]`` presets of a field-strength service (``trunking``, ``dtv``)."""
    return [p for p in scenario.services.presets if p.technology not in TECHNOLOGIES]


def broadcast_services(scenario: Scenario, inputs: Inputs, presets: list[RadioPreset]) -> ServiceResult:
    """Trunking and DTV presets from the ``[inputs.broadcast]`` transmitters on the broadcast
    grid (``[broadcast].cell_m``): strongest field strength (DTV) or received level
    (trunking) per cell (:func:`citycov.engine.broadcast.broadcast_coverage`, exact mode), then the
    preset's threshold and cell-edge margin z·σ with σ = ``[broadcast].location_sigma_db``,
    then residents and households covered per district and city on that grid."""
    from citycov.engine import broadcast as broadcast_mod

    cfg = scenario.broadcast
    layers = build_layers(scenario, inputs, cell_m=cfg.cell_m, rule=scenario.accounting.zonal_rule)
    area = layers.active
    counted = layers.weights.in_district() | (layers.index >= 0)
    masks: dict[tuple[str, str], np.ndarray] = {}
    described: list[tuple[RadioPreset, str]] = []
    records: list[dict[str, Any]] = []
    rasters: dict[str, tuple[GridSpec, np.ndarray, str]] = {}
    for preset in presets:
        model = cfg.model if cfg.model != "preset" else (preset.model if preset.model in ("p1812", "itm")
                                                         else "p1812")
        res = broadcast_mod.broadcast_coverage(
            inputs.broadcast, layers.dem, layers.grid, service=preset.technology, model=model,
            rx_height_m=preset.rx_height_m, reach_km=cfg.reach_km[preset.technology],
            time_percent=preset.time_percent if preset.time_percent is not None else 50.0,
            location_percent=50.0, active=area, geometry=scenario.radio.exact_geometry)
        grid_value = res.field_dbuv_m if preset.metric == "field_strength_dbuv_m" else res.rx_level_dbm
        rasters[preset.name] = (layers.grid, grid_value.astype(np.float32),
                                "dBuV/m" if preset.metric == "field_strength_dbuv_m" else "dBm")
        sel = counted & np.isfinite(grid_value)
        key = "field_dbuv_m" if preset.metric == "field_strength_dbuv_m" else "level_dbm"
        result = service_mod.evaluate_preset(preset, sigma_db=np.full(int(sel.sum()), cfg.location_sigma_db),
                                             cell_edge_probability=scenario.accounting.cell_edge_probability,
                                             **{key: grid_value[sel]})
        for env_name, covered in result.masks.items():
            full = np.zeros(layers.grid.shape, dtype=bool)
            full[sel] = covered
            masks[(preset.name, env_name)] = full
            described.append((preset, env_name))
        record = dict(result.provenance)
        record["evaluated"] = {"technology_band": preset.technology, "rasters": f"broadcast {key} ({model})",
                               "cells_evaluated": int(sel.sum()), "grid_cell_m": layers.grid.cell_m,
                               "broadcast": res.provenance,
                               "notes": [f"location variability sigma {cfg.location_sigma_db:g} dB "
                                         "([broadcast].location_sigma_db) for the cell-edge margin"]}
        records.append(record)
        log.info("broadcast preset %s (%s): %d cells with a signal in the districts", preset.name,
                 preset.technology, int(sel.sum()))
    table = service_table(scenario, inputs, layers, masks, described, records)
    return ServiceResult(table, records, rasters=rasters)
