"""``run(scenario) -> Results``: the one top-to-bottom path from input files to figures.

Read and validate (once) → layers on the analysis grid (population, terrain, clutter, census
factor) → cellular and WLAN coverage → FTTH → accounting per district → service presets and,
beside them, broadcast presets → uncertainty variants (cell-edge probability, zonal rule, ±1
resolution step, alternative model) → targets → gaps → verification of claims.  Each step is a
function of its own module; this one calls them in turn and collects their results.  Nothing
here reads or writes files.  The engine's tile tasks run where ``[compute]`` says
(:func:`citycov.compute.cluster.open_runner`: in this process by default, or on a Dask cluster,
whose workers read the scene from files the engine writes to a scratch folder); the figures do
not depend on it.  The engine's rasters are written tile by tile into the run's scratch folder
(:class:`citycov.stored.Scratch`, removed when the results are no longer used) and the steps
after the engine read them strip by strip, so that the run never holds them whole in memory.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from citycov.accounting import districts as acc
from citycov.accounting import gaps as gaps_mod
from citycov.accounting.targets import evaluate_targets
from citycov.checkpoints import checkpoint
from citycov.compute.cluster import open_runner
from citycov.config import Scenario
from citycov.crs import WGS84
from citycov.engine.tile_tasks import warm_kernels
from citycov.errors import CitycovWarning
from citycov.grid import GridSpec
from citycov.pipeline.broadcast import broadcast_presets, broadcast_services
from citycov.pipeline.coverage import Fibre, coverage_masks, fibre_coverage, link_rasters, radio_coverage
from citycov.pipeline.inputs import Additions, Inputs, add_planned, read_inputs
from citycov.pipeline.layers import Layers, build_layers
from citycov.pipeline.results import Results, RunContext
from citycov.pipeline.services import collect_services, service_coverage
from citycov.pipeline.tables import account, networks
from citycov.pipeline.uncertainty import alternative_model, variants
from citycov.provenance import software_versions
from citycov.stored import Scratch
from citycov.verification.claims import verify_claims

log = logging.getLogger("citycov")


@contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    """Time and log one step; its checkpoint is ``step.<first word>`` (``step.cellular``)."""
    t0 = time.perf_counter()
    log.info("%s ...", name)
    checkpoint("step." + re.match(r"\w+", name).group(0).lower())
    yield
    timings[name] = time.perf_counter() - t0
    log.info("%s done in %.2f s", name, timings[name])


def run(scenario: Scenario, *, progress: bool = False, keep_context: bool = False,
        additions: Additions | None = None) -> Results:
    """Run a scenario end to end and return the results (no files are written).

    ``keep_context`` keeps the inputs, layers and coverage in ``Results.context`` (for the
    planner); ``additions`` adds planned sectors and fibre cabinets to the scenario's inputs.

    Examples
    --------
    >>> import citycov
    >>> res = citycov.run(citycov.load_scenario("tests/data/tiny/tiny.toml"))  # doctest: +SKIP
    >>> res.city["wireless_pct"]                                             # doctest: +SKIP
    """
    timings: dict[str, float] = {}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    acc_cfg = scenario.accounting
    scratch = Scratch(scenario.compute.scratch_dir)
    with warnings.catch_warnings(record=True) as caught, \
            open_runner(scenario.compute, warm=warm_kernels, progress=progress) as tasks:
        warnings.simplefilter("always", CitycovWarning)
        with _step("read and validate inputs", timings):
            inputs = read_inputs(scenario)
            if additions is not None:
                inputs = add_planned(inputs, additions)
        with _step("population, households and terrain on the grid", timings):
            layers = build_layers(scenario, inputs, cell_m=scenario.grid.cell_m, rule=acc_cfg.zonal_rule)
            g = layers.grid
            log.info("grid %s x %s cells at %g m in %s", g.shape[0], g.shape[1], g.cell_m, g.crs.to_string())
        with _step("cellular and WLAN coverage (Numba)", timings):
            cov = radio_coverage(scenario, inputs, layers, scenario.radio, progress=progress,
                                 alt_model=alternative_model(scenario), runner=tasks, store=scratch)
        with _step("FTTH and district accounting", timings):
            masks = coverage_masks(scenario, layers, cov, cell_edge_probability=acc_cfg.cell_edge_probability)
            fibre = fibre_coverage(scenario, inputs, layers)
            table = account(scenario, inputs, layers, masks, fibre)
            network_table = networks(inputs, layers, cov, masks)
        services = None
        service_prov: dict[str, Any] = {}
        broadcast_rasters: dict[str, tuple[GridSpec, np.ndarray, str]] = {}
        if scenario.services.presets:
            with _step("service presets", timings):
                service_results = [service_coverage(scenario, inputs, layers, cov)]
            if broadcast := broadcast_presets(scenario):
                with _step("broadcast presets", timings):
                    service_results.append(broadcast_services(scenario, inputs, broadcast))
                broadcast_rasters = service_results[-1].rasters
            services, service_prov = collect_services(*service_results)
        band = variants_long = None
        variant_notes: dict[str, str] = {}
        if acc_cfg.uncertainty:
            with _step("uncertainty variants", timings):
                variant_tables, variant_notes = variants(scenario, inputs, layers, cov, masks, fibre, progress,
                                                         runner=tasks, store=scratch)
                band, variants_long = acc.band_table(table, variant_tables)
        target_results = evaluate_targets(scenario.targets, table, band)
        with _step("coverage gaps", timings):
            sites = inputs.sectors.drop_duplicates("site_id")
            gaps = gaps_mod.find_gaps(~masks["wireless"], layers.population, layers.index, layers.grid,
                                      district_ids=inputs.districts.ids,
                                      district_names=list(inputs.districts.frame["name"]),
                                      site_x=sites.geometry.x.to_numpy(), site_y=sites.geometry.y.to_numpy())
        claims = None
        if scenario.verification is not None:
            with _step("verification of operator claims (H3 challenges, three-way comparison, calibration)",
                       timings):
                claims = verify_claims(scenario.verification, claims=inputs.claims, tests=inputs.measurements,
                                       cellular=cov.cell, sectors=inputs.sectors, grid=layers.grid,
                                       population=layers.population, districts=inputs.districts,
                                       district_index=layers.index)
    warn_texts = _replay_warnings(caught)
    records = [inputs.records[0], layers.population_record, layers.terrain_record,
               *([layers.clutter_record] if layers.clutter_record is not None else []), *inputs.records[1:]]
    return Results(
        scenario=scenario, grid=layers.grid, districts=inputs.districts, table=table,
        target_results=target_results,
        rasters={"best_dbm": cov.cell.best_dbm, "best_sector": cov.cell.best_sector, "wlan_dbm": cov.wlan_dbm,
                 "wireless": masks["wireless"], "cellular": masks["cellular"], "wlan": masks["wlan"],
                 "ftth": fibre.passed_cells, "population": layers.population, "district_index": layers.index,
                 "environment": layers.env, **link_rasters(cov.cell)},
        sectors=cov.cell.sectors, inputs=records, timings_s=timings,
        warnings=warn_texts, extrapolation=cov.cell.extrapolation, networks=network_table, band=band,
        variants=variants_long, variant_notes=variant_notes, gaps=gaps,
        accounting_notes=_accounting_notes(scenario, inputs, layers, fibre, table),
        started_utc=started, software=software_versions(), network_wgs84=_network_wgs84(inputs, layers),
        claims=claims, services=services, broadcast_rasters=broadcast_rasters, service_provenance=service_prov,
        context=RunContext(inputs=inputs, layers=layers, coverage=cov, masks=masks, fibre=fibre) if keep_context
        else None,
    )


def _replay_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """The texts of the CitycovWarnings caught (each also logged); other warnings are re-issued."""
    warn_texts = list(dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, CitycovWarning)))
    for w in caught:
        if not issubclass(w.category, CitycovWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for text in warn_texts:
        log.warning(text)
    return warn_texts


def _accounting_notes(scenario: Scenario, inputs: Inputs, layers: Layers, fibre: Fibre,
                      table: pd.DataFrame) -> list[str]:
    """FTTH notes, the exactextract cross-check and the census rescaling.  (The zonal rule is one
    of the run's models, ``provenance.models.zonal_rule``, which every report prints once.)"""
    acc_cfg = scenario.accounting
    notes = [*fibre.notes, *(layers.area.notes() if layers.area is not None else [])]
    if np.isfinite(layers.crosscheck_rel):
        notes.append(f"exactextract cross-check of the district population sums: max relative difference "
                     f"{layers.crosscheck_rel:.1e}")
    if acc_cfg.rescale_to_census and inputs.census is not None:
        f = table["census_factor"].iloc[:-1]
        notes.append(f"population rescaled per district to the census table (factors {f.min():.4f}-{f.max():.4f})")
    return notes


def _network_wgs84(inputs: Inputs, grid_layers: Layers) -> dict[str, gpd.GeoDataFrame]:
    """The input network layers in WGS84, for the map: the modelled sectors, WLAN, fibre nodes and routes."""
    sectors = inputs.sectors if grid_layers.area is None else grid_layers.area.sectors
    layers = {"sectors": sectors, "wlan": inputs.aps, "fibre_nodes": inputs.nodes,
              "fibre_routes": inputs.routes}
    return {name: frame.to_crs(WGS84) for name, frame in layers.items() if frame is not None and len(frame)}
