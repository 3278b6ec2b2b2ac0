"""Step 3: cellular and WLAN coverage, the coverage masks at a cell-edge probability, and FTTH."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from citycov.accounting import fibre as fibre_mod
from citycov.choices import ENV_CLASSES, TECHNOLOGIES
from citycov.config import RadioConfig, Scenario
from citycov.engine import cellular as radio_mod
from citycov.engine.linkbudget import LinkParams
from citycov.engine.wlan import wlan_coverage
from citycov.errors import ModelError
from citycov.pipeline.inputs import Inputs
from citycov.pipeline.layers import Layers
from citycov.stored import Scratch, row_strips, strip_of


@dataclass
class Coverage:
    cell: radio_mod.CellularResult
    wlan_dbm: np.ndarray
    link: LinkParams | None = None
    """The link parameters of the SINR and speed rasters (``None``: not computed)."""
    alt_skipped: str | None = None
    """Why the alternative model asked of :func:`radio_coverage` was not computed (it does not
    cover some sector's frequency), else None."""


def link_params(radio: RadioConfig) -> LinkParams:
    """The engine's link-budget parameters from ``[radio]`` (loading, noise figure)."""
    return LinkParams(loading=radio.cell_loading, noise_figure_db=radio.noise_figure_db)


def radio_coverage(scenario: Scenario, inputs: Inputs, layers: Layers, radio: RadioConfig, *,
                   progress: bool = False, link: bool = True, alt_model: str | None = None,
                   runner: Any = None, store: Scratch | None = None) -> Coverage:
    """Cellular and WLAN levels; with ``link`` (and ``[radio].sinr``) also SINR, throughput and
    speed tiers per technology (the uncertainty variants skip them: they only need levels).
    The clutter loss of ``layers`` and the antenna patterns of ``inputs`` apply to every run.

    ``alt_model``: also the best levels under that empirical model, in the same pass
    (``cell.alt_best_dbm``, the uncertainty band's model variant).  When it does not cover some
    sector's frequency the run goes on without it and ``alt_skipped`` says why.

    ``runner``: where the engine's tile tasks run (:func:`citycov.compute.cluster.open_runner`);
    None: in this process.  ``store``: the engine's rasters go to files in this run's scratch
    folder, tile by tile (:class:`citycov.stored.StoredRaster`); None: in memory."""
    params = link_params(radio) if link and radio.sinr else None
    skipped = None
    try:
        cell = engine_coverage(inputs, layers, radio, progress=progress, link=params, alt_model=alt_model,
                               runner=runner, store=store)
    except ModelError as exc:
        if alt_model is None:
            raise
        # the engine checks the models before its first tile: without the alternative, the run either
        # succeeds (the error was the alternative's) or raises the base run's own error
        cell = engine_coverage(inputs, layers, radio, progress=progress, link=params, runner=runner, store=store)
        skipped = str(exc)
    valid = np.isfinite(layers.dem)
    wlan = (wlan_coverage(inputs.aps, valid, layers.grid, scenario.wlan) if inputs.aps is not None
            else np.full(layers.grid.shape, np.nan, dtype=np.float32))
    return Coverage(cell=cell, wlan_dbm=wlan, link=params, alt_skipped=skipped)


def engine_coverage(inputs: Inputs, layers: Layers, radio: RadioConfig, *, progress: bool = False,
                    link: LinkParams | None = None, alt_model: str | None = None,
                    runner: Any = None, store: Scratch | None = None) -> radio_mod.CellularResult:
    """The engine over the modelled sectors of ``layers.area`` (every sector of ``inputs`` when
    it is None), on the engine grid, cut back to the analysis grid.  The pad around the analysis
    grid is never evaluated: its terrain only shapes the rays of the sites there.  ``store``:
    the rasters go to files in that scratch folder (see :func:`radio_coverage`)."""
    area = layers.area
    files = {} if store is None else {"store": store.folder("engine"), "keep": store}
    if area is None:
        return radio_mod.cellular_coverage(inputs.sectors, layers.dem, layers.env, layers.grid, radio,
                                           progress=progress, link=link, active=layers.active,
                                           rx_loss_db=layers.rx_loss_db, patterns=inputs.patterns,
                                           alt_model=alt_model, runner=runner, scene_folder=_scratch(runner),
                                           **files)
    active = layers.active
    if area.padded:
        active = area.pad(np.ones(layers.grid.shape, dtype=bool) if active is None else active, False)
    cell = radio_mod.cellular_coverage(
        area.sectors, layers.engine_dem if area.padded else layers.dem, area.pad(layers.env, 3), area.grid, radio,
        progress=progress, link=link, active=active, rx_loss_db=area.pad(layers.rx_loss_db, np.nan),
        patterns=inputs.patterns, z_ground_m=area.ground_m, alt_model=alt_model, runner=runner,
        scene_folder=_scratch(runner), **files)
    if area.padded:
        cell = radio_mod.crop_result(cell, area.offset, area.shape)
    return replace(cell, dropped_outside=cell.dropped_outside + area.beyond_reach,
                   notes=(*cell.notes, *area.notes()))


def _scratch(runner: Any) -> Path | None:
    """``[compute].scratch_dir`` of the runner (where a cluster's workers read the scene), or None."""
    folder = getattr(getattr(runner, "compute", None), "scratch_dir", None)
    return Path(folder).expanduser() if folder else None


def coverage_masks(scenario: Scenario, layers: Layers, cov: Coverage, *,
                   cell_edge_probability: float) -> dict[str, np.ndarray]:
    """Wireless, cellular, WLAN and 3G-or-better masks at a cell-edge probability.

    The shadow-fading margin z·σ (σ per environment class) raises every cellular threshold;
    at 50 % it is 0.  WLAN keeps its threshold (short links, no margin model).
    The grid is gone over in row strips (:func:`citycov.stored.row_strips`), so the levels may
    be stored rasters.
    """
    radio = scenario.radio
    z = NormalDist().inv_cdf(cell_edge_probability)
    sigma = np.array([scenario.accounting.shadow_sigma_db[name] for name in ENV_CLASSES])
    cellular = np.zeros(layers.grid.shape, dtype=bool)
    any_cell = np.zeros(layers.grid.shape, dtype=bool)
    wlan = np.zeros(layers.grid.shape, dtype=bool)
    for r0, r1 in row_strips(layers.grid.shape):
        margin = z * sigma[layers.env[r0:r1]]
        levels = strip_of(cov.cell.best_dbm, r0, r1)
        for i, tech in enumerate(TECHNOLOGIES):
            level = np.nan_to_num(levels[i], nan=-np.inf)
            ok = level >= radio.threshold_dbm[tech] + margin
            any_cell[r0:r1] |= ok
            if tech in radio.broadband_technologies:
                cellular[r0:r1] |= ok
        wlan[r0:r1] = np.nan_to_num(cov.wlan_dbm[r0:r1], nan=-np.inf) >= scenario.wlan.threshold_dbm
    return {"wireless": cellular | wlan, "cellular": cellular, "wlan": wlan, "g3_or_better": any_cell}


@dataclass
class Fibre:
    households_passed: np.ndarray | None
    passed_cells: np.ndarray
    premises: tuple[np.ndarray, np.ndarray] | None
    notes: list[str]


def fibre_coverage(scenario: Scenario, inputs: Inputs, layers: Layers) -> Fibre:
    """FTTH under the scenario's rule: households passed per cell (or per district for premises)."""
    rule = scenario.fibre.rule
    grid = layers.grid
    drop = scenario.fibre.drop_distance_m
    if rule == "premises":
        hh, ready = fibre_mod.premises_passed(inputs.premises, layers.index, grid, len(inputs.districts))
        return Fibre(None, fibre_mod.ready_cells(inputs.premises, grid), (hh, ready),
                     ["FTTH from the premises table's ftth_ready flag"])
    if rule == "capacity":
        result = fibre_mod.capacity_passed(layers.households, grid, inputs.nodes, drop_distance_m=drop,
                                           kinds=scenario.fibre.capacity_node_kinds)
        return Fibre(result.passed, result.passed > 0, None, [f"capacity-aware FTTH: {result.summary()}"])
    mask = fibre_mod.passed_cells(grid, drop_distance_m=drop, nodes=inputs.nodes, routes=inputs.routes)
    return Fibre(np.where(mask, layers.households, 0.0), mask, None, [])


def link_rasters(cell: radio_mod.CellularResult) -> dict[str, np.ndarray]:
    """SINR, throughput and speed-tier rasters (per technology) when the engine computed them
    (the uplink speeds are derived on access: :attr:`~citycov.engine.cellular.CellularResult.uplink_mbps`)."""
    names = ("sinr_db", "throughput_mbps", "speed_tier")
    return {n: getattr(cell, n) for n in names if getattr(cell, n, None) is not None}

