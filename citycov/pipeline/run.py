"""``run(scenario) -> Results``: the one top-to-bottom path from input files to figures.

Read and validate (once) → layers on the analysis grid (population, terrain, clutter) →
cellular and WLAN coverage → FTTH → accounting per district → service presets → targets →
uncertainty variants (cell-edge probability, zonal rule, ±1 resolution step, alternative
model) → gaps.  Nothing here writes files.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.accounting import districts as acc
from citycov.accounting import fibre as fibre_mod
from citycov.accounting import gaps as gaps_mod
from citycov.accounting import population as pop_mod
from citycov.accounting import services as service_mod
from citycov.accounting.districts import CITY_ID
from citycov.accounting.targets import TargetResult, evaluate_targets
from citycov.config import TECHNOLOGIES, InputSpec, RadioConfig, Scenario
from citycov.crs import WGS84, parse_crs, require_projected, utm_crs_for
from citycov.engine import cellular as radio_mod
from citycov.engine.wlan import wlan_coverage
from citycov.errors import CitycovWarning, InputFileError, ModelError, ScenarioError, SiteTableError
from citycov.grid import GridSpec
from citycov.io import (
    Districts,
    read_dem,
    read_districts,
    read_fibre_nodes,
    read_fibre_routes,
    read_population,
    read_sectors,
    read_wlan,
)
from citycov.io.antenna_patterns import check_pattern_names, read_pattern_folder
from citycov.io.broadcast import read_transmitters
from citycov.io.claims import read_claims
from citycov.io.clutter import read_clutter
from citycov.io.measurements import MeasurementSet, read_measurements
from citycov.io.msi import AntennaPattern
from citycov.io.opencellid import read_opencellid
from citycov.io.vector import read_vector
from citycov.presets.radio import RadioPreset
from citycov.provenance import InputRecord, record_for, software_versions
from citycov.verification.claims import ClaimsResult, verify_claims

log = logging.getLogger("citycov")
ENV_NAMES = radio_mod.ENV_CLASSES


@dataclass
class Inputs:
    """Every input read and validated once, vectors in the analysis CRS."""

    crs: pyproj.CRS
    districts: Districts
    sectors: gpd.GeoDataFrame
    aps: gpd.GeoDataFrame | None = None
    nodes: gpd.GeoDataFrame | None = None
    routes: gpd.GeoDataFrame | None = None
    premises: gpd.GeoDataFrame | None = None
    villages: gpd.GeoDataFrame | None = None
    census: np.ndarray | None = None
    household_sizes: np.ndarray | None = None
    claims: gpd.GeoDataFrame | None = None
    measurements: MeasurementSet | None = None
    patterns: dict[str, AntennaPattern] | None = None
    """Antenna patterns by name (file stem) of ``[inputs.antenna_patterns]``."""
    broadcast: gpd.GeoDataFrame | None = None
    """Trunking and DTV transmitters of ``[inputs.broadcast]``."""
    records: list[InputRecord] = field(default_factory=list)


@dataclass
class Layers:
    """The rasters of one grid and the zonal weights on it."""

    grid: GridSpec
    weights: pop_mod.ZonalWeights
    city_weights: pop_mod.ZonalWeights | None
    index: np.ndarray
    population: np.ndarray
    households: np.ndarray
    dem: np.ndarray
    env: np.ndarray
    population_record: InputRecord
    terrain_record: InputRecord
    population_input: np.ndarray
    crosscheck_rel: float
    rx_loss_db: np.ndarray | None = None
    """float32: clutter loss at the receiver (dB) of each cell, NaN where the raster has no class."""
    clutter_valid: np.ndarray | None = None
    active: np.ndarray | None = None
    """Cells the engine evaluates (:func:`engine_cells`), computed once per grid; None: all."""
    """bool: cells with a clutter class (the engine evaluates no other cell)."""
    clutter_record: InputRecord | None = None


@dataclass
class Results:
    """Everything a report needs: tables, rasters on ``grid``, and provenance.

    ``table`` has one row per district plus a final ``city`` row (index ``area_id``).
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

    @property
    def synthetic_inputs(self) -> list[str]:
        return [r.name for r in self.inputs if r.synthetic]

    @property
    def city(self) -> pd.Series:
        return self.table.loc[CITY_ID]


@contextmanager
def _step(name: str, timings: dict[str, float]) -> Iterator[None]:
    t0 = time.perf_counter()
    log.info("%s ...", name)
    yield
    timings[name] = time.perf_counter() - t0
    log.info("%s done in %.2f s", name, timings[name])


def analysis_crs(scenario: Scenario, districts_wgs84: gpd.GeoDataFrame) -> pyproj.CRS:
    """The scenario's grid CRS, or the UTM zone of the districts' centroid when ``auto``."""
    if scenario.grid.crs != "auto":
        crs = parse_crs(scenario.grid.crs, where=f"{scenario.source}: [grid].crs")
        return require_projected(crs, where=f"{scenario.source}: [grid].crs")
    minx, miny, maxx, maxy = districts_wgs84.total_bounds
    return utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def build_grid(scenario: Scenario, *, cell_m: float | None = None) -> tuple[GridSpec, Districts]:
    """Read the districts and derive the analysis grid (their bounds, snapped to the cell size)."""
    spec = scenario.inputs["districts"]
    wgs = read_districts(spec.path, crs=spec.crs, to_crs=WGS84, **spec.options)
    crs = analysis_crs(scenario, wgs.frame)
    districts = Districts(wgs.frame.to_crs(crs))
    grid = GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=cell_m or scenario.grid.cell_m,
                                crs=crs)
    return grid, districts


def _crs_text(declared, default: str = "file") -> str:
    if declared is None:
        return default
    return declared if isinstance(declared, str) else declared.to_string()


def _labelled(record: InputRecord, spec: InputSpec) -> InputRecord:
    """``record`` with the scenario's vintage and note for that input."""
    return replace(record, vintage=spec.vintage, notes=(*record.notes, *((spec.note,) if spec.note else ())))


def _record(spec: InputSpec, rows: int | None) -> InputRecord:
    record = record_for(spec.name, spec.path, crs=_crs_text(spec.crs), synthetic=spec.synthetic, rows=rows)
    return _labelled(record, spec)


def _district_values(spec: InputSpec, districts: Districts, value_column: str, default_value_column: str,
                     lo: float, hi: float) -> np.ndarray:
    """One number per district from a CSV table (census figures, household sizes)."""
    id_col = spec.options.get("id_column", "district_id")
    val_col = spec.options.get(value_column, default_value_column)
    try:
        table = pd.read_csv(spec.path, dtype={id_col: str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{spec.path}: cannot read: {exc}") from exc
    missing = [c for c in (id_col, val_col) if c not in table.columns]
    if missing:
        raise ScenarioError(f"{spec.path}: missing columns {missing} (found {list(table.columns)})")
    values = dict(zip(table[id_col].astype(str).str.strip(), pd.to_numeric(table[val_col], errors="coerce"),
                      strict=True))
    out, problems = [], []
    for did in districts.ids:
        v = values.get(did)
        if v is None or not np.isfinite(v) or not lo <= v <= hi:
            problems.append(f"district {did}: {val_col} missing or outside {lo:g}..{hi:g} (found {v})")
        out.append(np.nan if v is None else float(v))
    if problems:
        raise ScenarioError(f"{spec.path}: " + "; ".join(problems))
    return np.asarray(out, dtype=np.float64)


def read_inputs(scenario: Scenario) -> Inputs:
    """Read and validate every vector and table input, in the analysis CRS."""
    spec_in = scenario.inputs
    _, districts = build_grid(scenario)
    crs = districts.frame.crs
    d = spec_in["districts"]
    inputs = Inputs(crs=crs, districts=districts, sectors=None)  # type: ignore[arg-type]
    inputs.records.append(_record(d, len(districts)))
    tables = []
    if "sectors" in spec_in:
        s = spec_in["sectors"]
        tables.append(read_sectors(s.path, crs=s.crs, to_crs=crs, **s.options))
        inputs.records.append(_record(s, len(tables[-1])))
    if "opencellid" in spec_in:
        o = spec_in["opencellid"]
        cells = read_opencellid(o.path, crs=crs, min_samples=int(o.options.get("min_samples", "1")))
        tables.append(cells[[c for c in tables[0].columns if c in cells.columns]] if tables else cells)
        used = "; ".join(f"{radio}: {d['technology']} {d['band']} {d['freq_mhz']:g} MHz, {d['height_m']:g} m, "
                         f"EIRP {d['eirp_dbm']:g} dBm" for radio, d in cells.attrs.get("defaults", {}).items())
        dropped = ", ".join(f"{k} {v}" for k, v in cells.attrs.get("dropped", {}).items() if v)
        note = (f"sectors from OpenCelliD cell positions, omnidirectional, with per-radio defaults ({used})"
                + (f"; dropped: {dropped}" if dropped else ""))
        inputs.records.append(_labelled(record_for(o.name, o.path, crs=_crs_text(o.crs), synthetic=o.synthetic,
                                                   rows=len(cells), notes=(note,)), o))
    inputs.sectors = tables[0] if len(tables) == 1 else gpd.GeoDataFrame(
        pd.concat(tables, ignore_index=True), geometry="geometry", crs=crs)
    duplicated = inputs.sectors["sector_id"].duplicated()
    if duplicated.any():
        raise SiteTableError(f"sector_id values appear in both [inputs.sectors] and [inputs.opencellid]: "
                             f"{sorted(inputs.sectors.loc[duplicated, 'sector_id'].astype(str))[:5]}")
    if "antenna_patterns" in spec_in:
        a = spec_in["antenna_patterns"]
        found = read_pattern_folder(a.path, synthetic=a.synthetic, vintage=a.vintage, note=a.note)
        inputs.patterns = found.patterns
        inputs.records.extend(found.records)
    check_pattern_names(inputs.sectors, inputs.patterns,
                        source=str(spec_in["sectors"].path) if "sectors" in spec_in else "sectors")
    from citycov.io.fibre import read_premises

    optional = {  # input name -> (Inputs attribute, reader)
        "wlan": ("aps", lambda f: read_wlan(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "fibre_nodes": ("nodes", lambda f: read_fibre_nodes(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "fibre_routes": ("routes", lambda f: read_fibre_routes(f.path, crs=f.crs, to_crs=crs)),
        "premises": ("premises", lambda f: read_premises(f.path, crs=f.crs, to_crs=crs, **f.options)),
        "villages": ("villages", lambda f: read_vector(f.path, crs=f.crs, **f.options).to_crs(crs)),
        "broadcast": ("broadcast", lambda f: read_transmitters(f.path, crs=f.crs, to_crs=crs, **f.options)),
    }
    for name, (attr, reader) in optional.items():
        if name in spec_in:
            frame = reader(spec_in[name])
            setattr(inputs, attr, frame)
            inputs.records.append(_record(spec_in[name], len(frame)))
    if scenario.verification is not None:
        v = scenario.verification
        c_spec, m_spec = spec_in["claims"], spec_in["measurements"]
        inputs.claims = read_claims(c_spec.path, crs=crs, source_crs=c_spec.crs)
        inputs.records.append(_record(c_spec, len(inputs.claims)))
        inputs.measurements = read_measurements(m_spec.path, crs=crs, tz=v.timezone,
                                                source_crs=m_spec.crs or "EPSG:4326",
                                                max_accuracy_m=v.max_accuracy_m)
        inputs.records.append(_record(m_spec, inputs.measurements.n_read))
    if "census" in spec_in:
        c = spec_in["census"]
        inputs.census = _district_values(c, districts, "population_column", "population", 0.0, 1e9)
        inputs.records.append(_record(c, len(districts)))
    if "household_sizes" in spec_in:
        h = spec_in["household_sizes"]
        inputs.household_sizes = _district_values(h, districts, "size_column", "persons_per_household", 0.5, 20.0)
        inputs.records.append(_record(h, len(districts)))
    return inputs


def build_layers(scenario: Scenario, inputs: Inputs, *, cell_m: float, rule: str) -> Layers:
    """Population, households, terrain and environment on a grid of ``cell_m``, and the zonal weights."""
    grid = GridSpec.from_bounds(tuple(inputs.districts.frame.total_bounds), cell_m=cell_m, crs=inputs.crs)
    weights = pop_mod.zonal_weights(inputs.districts, grid, rule)
    city_weights = _city_weights(inputs, grid, rule)
    index = pop_mod.district_index(inputs.districts, grid)
    study = weights.in_district() | (index >= 0)
    p_spec, t_spec = scenario.inputs["population"], scenario.inputs["terrain"]
    pop = read_population(p_spec.path, grid, declared_synthetic=p_spec.synthetic,
                          units=p_spec.options.get("units", "count"))
    dem = read_dem(t_spec.path, grid, study_mask=study, declared_synthetic=t_spec.synthetic)
    clutter = None
    if "clutter" in scenario.inputs:
        c_spec = scenario.inputs["clutter"]
        clutter = read_clutter(c_spec.path, grid, loss_db=c_spec.loss_db, study_mask=study, crs=c_spec.crs,
                               declared_synthetic=c_spec.synthetic)
    sizes = (inputs.household_sizes if inputs.household_sizes is not None
             else scenario.households.persons_per_household)
    hh = pop_mod.households(pop.values, sizes, index)
    env = radio_mod.environment_classes(pop.values, grid, scenario.radio.env_density_per_km2)
    # conservation: residents of the source raster per district (fractional overlap) vs the grid
    population_input = _source_district_totals(pop, inputs.districts)
    check = pop_mod.exactextract_sums(pop.values, inputs.districts, grid) if rule == "fraction" else None
    ours = weights.sums(pop.values)
    crosscheck = (float(np.max(np.abs(ours - check) / np.maximum(np.abs(check), 1e-9))) if check is not None
                  else float("nan"))
    layers = Layers(grid=grid, weights=weights, city_weights=city_weights, index=index, population=pop.values,
                    households=hh, dem=dem.values, env=env,
                    population_record=_labelled(pop.record, p_spec), terrain_record=_labelled(dem.record, t_spec),
                    population_input=population_input, crosscheck_rel=crosscheck,
                    rx_loss_db=None if clutter is None else clutter.loss_db,
                    clutter_valid=None if clutter is None else clutter.valid,
                    clutter_record=None if clutter is None else _labelled(clutter.record, scenario.inputs["clutter"]))
    return replace(layers, active=engine_cells(layers, scenario.radio.study_margin_m))


def _city_weights(inputs: Inputs, grid: GridSpec, rule: str) -> pop_mod.ZonalWeights | None:
    """Weights of the union of the districts, needed only when a rule counts a cell twice."""
    if rule != "all_touched":
        return None
    city = Districts(gpd.GeoDataFrame({"district_id": ["city"], "name": ["city"], "name_zh": ["全市"]},
                                      geometry=[inputs.districts.frame.union_all()], crs=inputs.crs))
    return pop_mod.zonal_weights(city, grid, rule)


def _source_district_totals(layer, districts: Districts) -> np.ndarray:
    """Residents of the source raster inside each district (fractional overlap in the source CRS)."""
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    t = layer.source_transform
    rows, cols = layer.source_counts.shape
    if t.b != 0 or t.d != 0:
        return np.full(len(districts), np.nan)
    xs = (t.c, t.c + cols * t.a)
    ys = (t.f, t.f + rows * t.e)
    src_crs = pyproj.CRS(layer.source_crs)
    source = NumPyRasterSource(layer.source_counts.astype(np.float64), min(xs), min(ys), max(xs), max(ys),
                               srs_wkt=src_crs.to_wkt())
    if t.e > 0:  # south-up rasters: flip to the north-up layout exactextract expects
        source = NumPyRasterSource(layer.source_counts[::-1].astype(np.float64), min(xs), min(ys), max(xs),
                                   max(ys), srs_wkt=src_crs.to_wkt())
    frame = districts.frame[["geometry"]].to_crs(src_crs).reset_index(drop=True)
    table = exact_extract(source, frame, ["sum"], output="pandas")
    return table["sum"].to_numpy(dtype=np.float64)


@dataclass
class Coverage:
    cell: radio_mod.CellularResult
    wlan_dbm: np.ndarray
    link: radio_mod.LinkParams | None = None
    """The link parameters of the SINR and speed rasters (``None``: not computed)."""


def link_params(radio: RadioConfig) -> radio_mod.LinkParams:
    """The engine's link-budget parameters from ``[radio]`` (loading, noise figure)."""
    return radio_mod.LinkParams(loading=radio.cell_loading, noise_figure_db=radio.noise_figure_db)


def radio_coverage(scenario: Scenario, inputs: Inputs, layers: Layers, radio: RadioConfig, *,
                   progress: bool = False, link: bool = True) -> Coverage:
    """Cellular and WLAN levels; with ``link`` (and ``[radio].sinr``) also SINR, throughput and
    speed tiers per technology (the uncertainty variants skip them: they only need levels).
    The clutter loss of ``layers`` and the antenna patterns of ``inputs`` apply to every run."""
    params = link_params(radio) if link and radio.sinr else None
    cell = radio_mod.cellular_coverage(inputs.sectors, layers.dem, layers.env, layers.grid, radio,
                                       progress=progress, link=params, active=layers.active,
                                       rx_loss_db=layers.rx_loss_db, patterns=inputs.patterns)
    valid = np.isfinite(layers.dem)
    wlan = (wlan_coverage(inputs.aps, valid, layers.grid, scenario.wlan) if inputs.aps is not None
            else np.full(layers.grid.shape, np.nan, dtype=np.float32))
    return Coverage(cell=cell, wlan_dbm=wlan, link=params)


def engine_cells(layers: Layers, margin_m: float | None) -> np.ndarray | None:
    """Cells the engine evaluates: the study area and margin (:func:`study_area`), less the
    cells outside the study area that the clutter raster does not cover (``None``: all)."""
    active = study_area(layers, margin_m)
    if layers.clutter_valid is None:
        return active
    return layers.clutter_valid if active is None else active & layers.clutter_valid


def study_area(layers: Layers, margin_m: float | None) -> np.ndarray | None:
    """Cells the engine evaluates: those of a district and within ``margin_m`` of one (``None``:
    every cell of the grid).  Terrain outside still shapes the rays."""
    if margin_m is None:
        return None
    inside = layers.index >= 0
    if margin_m <= 0:
        return inside
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(~inside) * layers.grid.cell_m <= margin_m


def coverage_masks(scenario: Scenario, layers: Layers, cov: Coverage, *,
                   cell_edge_probability: float) -> dict[str, np.ndarray]:
    """Wireless, cellular, WLAN and 3G-or-better masks at a cell-edge probability.

    The shadow-fading margin z·σ (σ per environment class) raises every cellular threshold;
    at 50 % it is 0.  WLAN keeps its threshold (short links, no margin model).
    """
    radio = scenario.radio
    z = NormalDist().inv_cdf(cell_edge_probability)
    sigma = np.array([scenario.accounting.shadow_sigma_db[name] for name in ENV_NAMES])
    margin = z * sigma[layers.env]
    cellular = np.zeros(layers.grid.shape, dtype=bool)
    any_cell = np.zeros(layers.grid.shape, dtype=bool)
    for i, tech in enumerate(TECHNOLOGIES):
        level = np.nan_to_num(cov.cell.best_dbm[i], nan=-np.inf)
        ok = level >= radio.threshold_dbm[tech] + margin
        any_cell |= ok
        if tech in radio.broadband_technologies:
            cellular |= ok
    wlan = np.nan_to_num(cov.wlan_dbm, nan=-np.inf) >= scenario.wlan.threshold_dbm
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
        cells = np.zeros(grid.shape, dtype=bool)
        xs, ys = inputs.premises.geometry.x.to_numpy(), inputs.premises.geometry.y.to_numpy()
        ready_flag = inputs.premises["ftth_ready"].to_numpy(dtype=bool)
        r, c = grid.rowcol(xs[ready_flag], ys[ready_flag])
        ok = grid.contains(r, c)
        cells[r[ok], c[ok]] = True
        return Fibre(None, cells, (hh, ready), ["FTTH from the premises table's ftth_ready flag"])
    if rule == "capacity":
        result = fibre_mod.capacity_passed(layers.households, grid, inputs.nodes, drop_distance_m=drop,
                                           kinds=scenario.fibre.capacity_node_kinds)
        return Fibre(result.passed, result.passed > 0, None, [f"capacity-aware FTTH: {result.summary()}"])
    mask = fibre_mod.passed_cells(grid, drop_distance_m=drop, nodes=inputs.nodes, routes=inputs.routes)
    return Fibre(np.where(mask, layers.households, 0.0), mask, None, [])


def _villages(inputs: Inputs, layers: Layers, masks: dict[str, np.ndarray],
              fibre: Fibre) -> tuple[np.ndarray, np.ndarray] | None:
    if inputs.villages is None:
        return None
    grid = layers.grid
    r, c = grid.rowcol(inputs.villages.geometry.x.to_numpy(), inputs.villages.geometry.y.to_numpy())
    ok = grid.contains(r, c)
    r, c = r[ok], c[ok]
    district = layers.index[r, c]
    inside = district >= 0
    covered = (masks["wireless"] | fibre.passed_cells)[r, c]
    n = len(inputs.districts)
    total = np.bincount(district[inside], minlength=n).astype(np.float64)
    good = np.bincount(district[inside], weights=covered[inside].astype(np.float64), minlength=n)
    return total, good


def census_factor(scenario: Scenario, inputs: Inputs, layers: Layers) -> np.ndarray:
    """Per district: census figure / residents on the grid (all ones when not rescaling)."""
    if not (scenario.accounting.rescale_to_census and inputs.census is not None):
        return np.ones(len(inputs.districts))
    grid_pop = layers.weights.sums(layers.population)
    factor = inputs.census / np.where(grid_pop > 0, grid_pop, np.nan)
    if not np.isfinite(factor).all():
        raise ScenarioError("census rescaling: some districts have no population on the grid")
    return factor


def account(scenario: Scenario, inputs: Inputs, layers: Layers, masks: dict[str, np.ndarray],
            fibre: Fibre) -> pd.DataFrame:
    """The district table of one variant."""
    factor = census_factor(scenario, inputs, layers)
    urban = layers.env <= 1
    grids = acc.Grids(population=layers.population, households=layers.households, wireless=masks["wireless"],
                      cellular=masks["cellular"], wlan=masks["wlan"], g3_or_better=masks["g3_or_better"],
                      urban=urban, households_passed=fibre.households_passed, cell_area_km2=layers.grid.cell_area_km2)
    return acc.district_table(inputs.districts, layers.weights, layers.city_weights, grids, census_factor=factor,
                              premises=fibre.premises, villages=_villages(inputs, layers, masks, fibre),
                              population_input=layers.population_input)


def run(scenario: Scenario, *, progress: bool = False) -> Results:
    """Run a scenario end to end and return the results (no files are written).

    Examples
    --------
    >>> import citycov
    >>> res = citycov.run(citycov.load_scenario("tests/data/tiny/tiny.toml"))  # doctest: +SKIP
    >>> res.city["wireless_pct"]                                             # doctest: +SKIP
    """
    timings: dict[str, float] = {}
    started = datetime.now(UTC).isoformat(timespec="seconds")
    acc_cfg = scenario.accounting
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CitycovWarning)
        with _step("read and validate inputs", timings):
            inputs = read_inputs(scenario)
        with _step("population, households and terrain on the grid", timings):
            layers = build_layers(scenario, inputs, cell_m=scenario.grid.cell_m, rule=acc_cfg.zonal_rule)
            g = layers.grid
            log.info("grid %s x %s cells at %g m in %s", g.shape[0], g.shape[1], g.cell_m, g.crs.to_string())
        with _step("cellular and WLAN coverage (Numba)", timings):
            cov = radio_coverage(scenario, inputs, layers, scenario.radio, progress=progress)
        with _step("FTTH and district accounting", timings):
            masks = coverage_masks(scenario, layers, cov, cell_edge_probability=acc_cfg.cell_edge_probability)
            fibre = fibre_coverage(scenario, inputs, layers)
            table = account(scenario, inputs, layers, masks, fibre)
            networks = _networks(scenario, inputs, layers, cov, masks)
        services = None
        service_prov: dict[str, Any] = {}
        if scenario.services.presets:
            with _step("service presets", timings):
                services, service_prov = service_coverage(scenario, inputs, layers, cov)
        band = variants_long = None
        variant_notes: dict[str, str] = {}
        if acc_cfg.uncertainty:
            with _step("uncertainty variants", timings):
                variant_tables, variant_notes = _variants(scenario, inputs, layers, cov, masks, fibre, progress)
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
    warn_texts = [str(w.message) for w in caught if issubclass(w.category, CitycovWarning)]
    for w in caught:
        if not issubclass(w.category, CitycovWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for text in warn_texts:
        log.warning(text)
    notes = [f"zonal rule: {pop_mod.ZONAL_RULES[acc_cfg.zonal_rule]}", *fibre.notes]
    if np.isfinite(layers.crosscheck_rel):
        notes.append(f"exactextract cross-check of the district population sums: max relative difference "
                     f"{layers.crosscheck_rel:.1e}")
    if acc_cfg.rescale_to_census and inputs.census is not None:
        f = table["census_factor"].iloc[:-1]
        notes.append(f"population rescaled per district to the census table (factors {f.min():.4f}-{f.max():.4f})")
    records = [inputs.records[0], layers.population_record, layers.terrain_record,
               *([layers.clutter_record] if layers.clutter_record is not None else []), *inputs.records[1:]]
    return Results(
        scenario=scenario, grid=layers.grid, districts=inputs.districts, table=table,
        target_results=target_results,
        rasters={"best_dbm": cov.cell.best_dbm, "best_sector": cov.cell.best_sector, "wlan_dbm": cov.wlan_dbm,
                 "wireless": masks["wireless"], "cellular": masks["cellular"], "wlan": masks["wlan"],
                 "ftth": fibre.passed_cells, "population": layers.population, "district_index": layers.index,
                 "environment": layers.env, **_link_rasters(cov.cell)},
        sectors=cov.cell.sectors, inputs=records, timings_s=timings,
        warnings=warn_texts, extrapolation=cov.cell.extrapolation, networks=networks, band=band,
        variants=variants_long, variant_notes=variant_notes, gaps=gaps, accounting_notes=notes,
        started_utc=started, software=software_versions(), network_wgs84=_network_wgs84(inputs),
        claims=claims, services=services, broadcast_rasters=service_prov.pop("broadcast_rasters", {}),
        service_provenance=service_prov,
    )


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


def service_coverage(scenario: Scenario, inputs: Inputs, layers: Layers,
                     cov: Coverage) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Residents and households covered per district and city by each ``[services]`` preset in
    each of its environments (:func:`citycov.accounting.services.evaluate_preset` on the base run).

    σ per cell is ``[accounting].shadow_sigma_db`` of its environment class; presets that fix
    no cell-edge probability use ``[accounting].cell_edge_probability``.  Presets of
    technology ``trunking`` / ``dtv`` are field-strength services, skipped here (the broadcast
    step evaluates them).  Only cells inside a district are evaluated (no other cell is
    counted); the zonal sums are those of :func:`citycov.accounting.districts.network_table`.

    Returns
    -------
    (table, provenance)
        ``table``: one row per area × preset × environment with ``population_covered``,
        ``population``, ``population_pct``, ``households_covered``, ``households``,
        ``households_pct``; ``provenance``: ``{"presets": [...], "skipped": {name: reason}}``.
    """
    sigma_by_class = np.array([scenario.accounting.shadow_sigma_db[name] for name in ENV_NAMES])
    counted = layers.weights.in_district() | (layers.index >= 0)
    masks: dict[tuple[str, str], np.ndarray] = {}
    described: list[tuple[RadioPreset, str]] = []
    records: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    broadcast_presets = [p for p in scenario.services.presets if p.technology not in TECHNOLOGIES]
    for preset in scenario.services.presets:
        if preset.technology not in TECHNOLOGIES:
            continue
        t = TECHNOLOGIES.index(preset.technology)
        rasters, source = _service_rasters(cov, t, preset)
        sel = counted & np.isfinite(rasters["level_dbm"])
        picked = {k: v[sel] for k, v in rasters.items()}
        indoor = None
        if scenario.services.indoor_probability is not None:
            sector = cov.cell.serving_sector[t] if preset.metric == "speed" else cov.cell.best_sector[t]
            f_mhz = cov.cell.sectors["freq_mhz"].to_numpy(dtype=np.float64)[sector[sel]]
            indoor = service_mod.indoor_loss_db(f_mhz, probability=scenario.services.indoor_probability,
                                                building_class=scenario.services.indoor_building_class)
        result = service_mod.evaluate_preset(preset, sigma_db=sigma_by_class[layers.env[sel]],
                                             link=cov.link if preset.metric == "speed" else None,
                                             cell_edge_probability=scenario.accounting.cell_edge_probability,
                                             indoor_loss_db=indoor, **picked)
        notes = _preset_notes(scenario, layers, preset)
        for env_name, covered in result.masks.items():
            full = np.zeros(layers.grid.shape, dtype=bool)
            full[sel] = covered
            masks[(preset.name, env_name)] = full
            described.append((preset, env_name))
        record = dict(result.provenance)
        record["evaluated"] = {"technology_band": preset.technology, "rasters": source,
                               "cells_evaluated": int(sel.sum()), "grid_cell_m": layers.grid.cell_m,
                               "notes": notes}
        records.append(record)
        log.info("service preset %s (%s, %s): %d served cells in the districts evaluated", preset.name,
                 preset.technology, preset.metric, int(sel.sum()))
    tables = []
    if masks:
        tables.append(_service_table(scenario, inputs, layers, masks, described, records))
    if broadcast_presets:
        b_table, b_records, b_rasters = broadcast_services(scenario, inputs, broadcast_presets)
        tables.append(b_table)
        records.extend(b_records)
    prov: dict[str, Any] = {"presets": records, "skipped": skipped}
    if broadcast_presets:
        prov["broadcast_rasters"] = b_rasters
    if not tables:
        return pd.DataFrame(columns=list(SERVICE_COLUMNS)), prov
    return pd.concat(tables, ignore_index=True), prov


def broadcast_services(scenario: Scenario, inputs: Inputs, presets: list[RadioPreset]
                       ) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, tuple[GridSpec, np.ndarray, str]]]:
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
            location_percent=50.0, active=area)
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
    return _service_table(scenario, inputs, layers, masks, described, records), records, rasters


def _service_table(scenario: Scenario, inputs: Inputs, layers: Layers, masks: dict[tuple[str, str], np.ndarray],
                   described: list[tuple[RadioPreset, str]], records: list[dict[str, Any]]) -> pd.DataFrame:
    """Population and households covered per area for each (preset, environment) mask."""
    factor = census_factor(scenario, inputs, layers)
    args = (inputs.districts, layers.weights, layers.city_weights)
    people = acc.network_table(*args, layers.population, masks, factor)
    homes = acc.network_table(*args, layers.households, masks, factor)
    table = pd.DataFrame({
        "area_id": people["area_id"],
        "name": people["area_id"].map(dict(zip([*inputs.districts.ids, CITY_ID],
                                               [*inputs.districts.frame["name"], "City total"], strict=True))),
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


def _service_rasters(cov: Coverage, t: int, preset: RadioPreset) -> tuple[dict[str, np.ndarray], str]:
    """The outdoor rasters of technology band ``t`` that ``preset`` needs, and their description."""
    cell = cov.cell
    if preset.metric != "speed":
        return {"level_dbm": cell.best_dbm[t]}, SERVICE_LEVELS["level"]
    missing = [n for n in ("serving_dbm", "serving_sector", "sinr_db") if getattr(cell, n, None) is None]
    missing += [c for c in ("ref_signal_eirp_dbm", "bandwidth_mhz") if c not in cell.sectors.columns]
    if missing or cov.link is None:
        raise ModelError(f"service preset {preset.name!r} (metric speed): the engine returned no {missing or 'link'} "
                         "rasters; [radio].sinr = true is needed")
    sector = cell.serving_sector[t]
    served = sector >= 0
    eirp = cell.sectors["ref_signal_eirp_dbm"].to_numpy(dtype=np.float64)
    bandwidth = cell.sectors["bandwidth_mhz"].to_numpy(dtype=np.float64)
    level = np.where(served, cell.serving_dbm[t], np.nan)
    pick = np.where(served, sector, 0)
    if not len(eirp):
        eirp = bandwidth = np.full(1, np.nan)
    return {"level_dbm": level, "sinr_db": cell.sinr_db[t],
            "coupling_loss_db": np.where(served, eirp[pick] - level, np.nan),
            "bandwidth_mhz": np.where(served, bandwidth[pick], np.nan)}, SERVICE_LEVELS["speed"]


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


def _link_rasters(cell: radio_mod.CellularResult) -> dict[str, np.ndarray]:
    """SINR, throughput and speed-tier rasters (per technology) when the engine computed them."""
    names = ("sinr_db", "throughput_mbps", "uplink_mbps", "speed_tier")
    return {n: getattr(cell, n) for n in names if getattr(cell, n, None) is not None}


def _network_wgs84(inputs: Inputs) -> dict[str, gpd.GeoDataFrame]:
    """The input network layers in WGS84, for the map: sectors, WLAN, fibre nodes and routes."""
    layers = {"sectors": inputs.sectors, "wlan": inputs.aps, "fibre_nodes": inputs.nodes,
              "fibre_routes": inputs.routes}
    return {name: frame.to_crs(WGS84) for name, frame in layers.items() if frame is not None and len(frame)}


def _networks(scenario: Scenario, inputs: Inputs, layers: Layers, cov: Coverage,
              masks: dict[str, np.ndarray]) -> pd.DataFrame:
    cell = cov.cell
    combos: dict[tuple[str, str], np.ndarray] = {}
    for tech in TECHNOLOGIES:
        operators = sorted({op for op, t in cell.networks if t == tech})
        if not operators:
            continue
        combos[(tech, "any")] = cell.network_mask(None, tech)
        for op in operators:
            combos[(tech, op)] = cell.network_mask(op, tech)
    if inputs.aps is not None:
        combos[("WLAN", "any")] = masks["wlan"]
    return acc.network_table(inputs.districts, layers.weights, layers.city_weights, layers.population, combos,
                             census_factor(scenario, inputs, layers))


def _variants(scenario: Scenario, inputs: Inputs, layers: Layers, cov: Coverage, masks: dict[str, np.ndarray],
              fibre: Fibre, progress: bool) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """District tables with one factor changed each: cell-edge probability, zonal rule,
    resolution ±1 step, alternative propagation model."""
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
    alt_rule = "centroid" if cfg.zonal_rule != "centroid" else "fraction"
    alt_layers = replace(layers, weights=pop_mod.zonal_weights(inputs.districts, layers.grid, alt_rule),
                         city_weights=_city_weights(inputs, layers.grid, alt_rule))
    out[f"zonal_{alt_rule}"] = account(scenario, inputs, alt_layers, masks, fibre)
    notes[f"zonal_{alt_rule}"] = f"zonal rule {alt_rule}"
    for step in cfg.uncertainty_resolution:
        cell_m = layers.grid.cell_m * (2.0 if step == "coarser" else 0.5)
        name = f"resolution_{cell_m:g}m"
        log.info("uncertainty: rerunning at %g m", cell_m)
        lay = build_layers(scenario, inputs, cell_m=cell_m, rule=cfg.zonal_rule)
        c = radio_coverage(scenario, inputs, lay, scenario.radio, progress=progress, link=False)
        m = coverage_masks(scenario, lay, c, cell_edge_probability=cfg.cell_edge_probability)
        out[name] = account(scenario, inputs, lay, m, fibre_coverage(scenario, inputs, lay))
        notes[name] = f"resolution {cell_m:g} m ({step})"
    if cfg.alternative_model != scenario.radio.model:
        alt_radio = replace(scenario.radio, model=cfg.alternative_model)
        try:
            c = radio_coverage(scenario, inputs, layers, alt_radio, progress=progress, link=False)
        except ModelError as exc:
            log.warning("uncertainty: alternative model %s skipped: %s", cfg.alternative_model, exc)
        else:
            name = f"model_{cfg.alternative_model}"
            m = coverage_masks(scenario, layers, c, cell_edge_probability=cfg.cell_edge_probability)
            out[name] = account(scenario, inputs, layers, m, fibre)
            notes[name] = f"propagation model {cfg.alternative_model} for every sector"
    return out, notes
