"""Step 7: the uncertainty variants, each a district table with one factor changed."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from citycov.config import Scenario
from citycov.errors import ModelError
from citycov.pipeline.coverage import Coverage, Fibre, coverage_masks, fibre_coverage, radio_coverage
from citycov.pipeline.inputs import Inputs
from citycov.pipeline.layers import Layers, build_layers, with_zonal_rule
from citycov.pipeline.tables import account
from citycov.stored import Scratch

log = logging.getLogger("citycov")


def variants(scenario: Scenario, inputs: Inputs, layers: Layers, cov: Coverage, masks: dict[str, np.ndarray],
             fibre: Fibre, progress: bool, runner: Any = None,
             store: Scratch | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """District tables with one factor changed each: cell-edge probability, zonal rule,
    resolution ±1 step, alternative propagation model.  The model variant reads the levels
    ``cov`` holds for it (``cov.cell.alt_best_dbm``, :func:`alternative_model`), computed in the
    base run's tile pass; without them it reruns the engine with the model replaced (same figures).
    The engine's reruns go to ``runner`` (:func:`citycov.compute.cluster.open_runner`; None: in process)
    and their rasters to files in ``store`` (None: memory)."""
    cfg = scenario.accounting
    out: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    for p in (0.5, 0.75, 0.9):
        if abs(p - cfg.cell_edge_probability) < 1e-9:
            continue
        name = f"cell_edge_{round(p * 100)}"
        edge_masks = coverage_masks(scenario, layers, cov, cell_edge_probability=p)
        out[name] = account(scenario, inputs, layers, edge_masks, fibre)
        notes[name] = f"cell-edge probability {p:.0%} (shadow-fading margin z·σ)"
        del edge_masks  # each variant's whole-grid masks go before the next one is made
    alt_rule = "centroid" if cfg.zonal_rule != "centroid" else "fraction"
    alt_layers = with_zonal_rule(scenario, inputs, layers, alt_rule)
    out[f"zonal_{alt_rule}"] = account(scenario, inputs, alt_layers, masks, fibre)
    notes[f"zonal_{alt_rule}"] = f"zonal rule {alt_rule}"
    del alt_layers
    for step in cfg.uncertainty_resolution:
        cell_m = layers.grid.cell_m * (2.0 if step == "coarser" else 0.5)
        name = f"resolution_{cell_m:g}m"
        log.info("uncertainty: rerunning at %g m", cell_m)
        lay = build_layers(scenario, inputs, cell_m=cell_m, rule=cfg.zonal_rule)
        c = radio_coverage(scenario, inputs, lay, scenario.radio, progress=progress, link=False, runner=runner,
                           store=store)
        m = coverage_masks(scenario, lay, c, cell_edge_probability=cfg.cell_edge_probability)
        out[name] = account(scenario, inputs, lay, m, fibre_coverage(scenario, inputs, lay))
        notes[name] = f"resolution {cell_m:g} m ({step})"
        del lay, c, m
    if cfg.alternative_model != scenario.radio.model:
        name = f"model_{cfg.alternative_model}"
        if cov.alt_skipped is not None:
            log.warning("uncertainty: alternative model %s skipped: %s", cfg.alternative_model, cov.alt_skipped)
            return out, notes
        if cov.cell.alt_best_dbm is not None:  # computed in the base run's tile pass
            c = replace(cov, cell=replace(cov.cell, best_dbm=cov.cell.alt_best_dbm))
        else:
            log.info("uncertainty: rerunning with the alternative model %s", cfg.alternative_model)
            alt_radio = replace(scenario.radio, model=cfg.alternative_model)
            try:
                c = radio_coverage(scenario, inputs, layers, alt_radio, progress=progress, link=False, runner=runner,
                                   store=store)
            except ModelError as exc:
                log.warning("uncertainty: alternative model %s skipped: %s", cfg.alternative_model, exc)
                return out, notes
        m = coverage_masks(scenario, layers, c, cell_edge_probability=cfg.cell_edge_probability)
        out[name] = account(scenario, inputs, layers, m, fibre)
        notes[name] = f"propagation model {cfg.alternative_model} for every sector"
    return out, notes


def alternative_model(scenario: Scenario) -> str | None:
    """The model the band's model variant needs from the base run (``radio_coverage(alt_model=...)``,
    computed in the same tile pass), None when the band has no model variant."""
    cfg = scenario.accounting
    if cfg.uncertainty and cfg.alternative_model != scenario.radio.model:
        return cfg.alternative_model
    return None
