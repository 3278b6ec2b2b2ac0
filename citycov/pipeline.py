"""``run(scenario) -> Results``: the one top-to-bottom path from input files to figures.

Read and validate → analysis grid → rasters onto the grid → cellular and WLAN coverage →
FTTH → sums per district → targets.  Nothing here writes files (see ``report``).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov import fibre as fibre_mod
from citycov import population as pop_mod
from citycov import radio as radio_mod
from citycov.config import TECHNOLOGIES, Scenario
from citycov.crs import WGS84, parse_crs, require_projected, utm_crs_for
from citycov.errors import CitycovWarning, ScenarioError
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
from citycov.provenance import InputRecord, record_for, software_versions
from citycov.targets import TargetResult, evaluate_table

log = logging.getLogger("citycov")

CITY_ID = "city"


@dataclass
class Results:
    """Everything a report needs: tables, rasters on ``grid``, and provenance.

    ``table`` has one row per district plus a final ``city`` row (index ``area_id``).
    Rasters: ``best_dbm``/``best_sector`` (per technology), ``wlan_dbm``, ``wireless``
    (bool), ``ftth`` (bool), ``population`` (persons per cell), ``district_index``.
    """

    scenario: Scenario
    grid: GridSpec
    districts: Districts
    table: pd.DataFrame
    target_results: list[TargetResult]
    rasters: dict[str, np.ndarray]
    sectors: pd.DataFrame
    sites_wgs84: gpd.GeoDataFrame
    inputs: list[InputRecord]
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extrapolation: tuple[str, ...] = ()
    started_utc: str = ""
    software: dict[str, str] = field(default_factory=dict)

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


def build_grid(scenario: Scenario) -> tuple[GridSpec, Districts]:
    """Read the districts and derive the analysis grid (their bounds, snapped to the cell size)."""
    spec = scenario.inputs["districts"]
    wgs = read_districts(spec.path, crs=spec.crs, to_crs=WGS84, **spec.options)
    crs = analysis_crs(scenario, wgs.frame)
    districts = Districts(wgs.frame.to_crs(crs))
    grid = GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=scenario.grid.cell_m, crs=crs)
    return grid, districts


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
    records: list[InputRecord] = []
    inputs = scenario.inputs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CitycovWarning)
        with _step("read districts and build the grid", timings):
            grid, districts = build_grid(scenario)
            d_spec = inputs["districts"]
            records.append(record_for("districts", d_spec.path, crs=_crs_text(d_spec.crs, "file"),
                                      synthetic=d_spec.synthetic, rows=len(districts)))
            index = pop_mod.district_index(districts, grid)
            study = index >= 0
            log.info("grid %s x %s cells at %g m in %s", grid.shape[0], grid.shape[1], grid.cell_m,
                     grid.crs.to_string())
        with _step("read population and terrain", timings):
            p_spec, t_spec = inputs["population"], inputs["terrain"]
            population = read_population(p_spec.path, grid, declared_synthetic=p_spec.synthetic)
            dem = read_dem(t_spec.path, grid, study_mask=study, declared_synthetic=t_spec.synthetic)
            records += [population.record, dem.record]
        with _step("read sites and fibre", timings):
            s_spec = inputs["sectors"]
            sectors = read_sectors(s_spec.path, crs=s_spec.crs, to_crs=grid.crs, **s_spec.options)
            records.append(record_for("sectors", s_spec.path, crs=_crs_text(s_spec.crs, "file"),
                                      synthetic=s_spec.synthetic, rows=len(sectors)))
            aps = nodes = routes = None
            if "wlan" in inputs:
                w = inputs["wlan"]
                aps = read_wlan(w.path, crs=w.crs, to_crs=grid.crs, **w.options)
                records.append(record_for("wlan", w.path, crs=_crs_text(w.crs, "file"), synthetic=w.synthetic,
                                          rows=len(aps)))
            if "fibre_nodes" in inputs:
                f = inputs["fibre_nodes"]
                nodes = read_fibre_nodes(f.path, crs=f.crs, to_crs=grid.crs, **f.options)
                records.append(record_for("fibre_nodes", f.path, crs=_crs_text(f.crs, "file"),
                                          synthetic=f.synthetic, rows=len(nodes)))
            if "fibre_routes" in inputs:
                f = inputs["fibre_routes"]
                routes = read_fibre_routes(f.path, crs=f.crs, to_crs=grid.crs)
                records.append(record_for("fibre_routes", f.path, crs=_crs_text(f.crs, "file"),
                                          synthetic=f.synthetic, rows=len(routes)))
        with _step("cellular coverage (Numba)", timings):
            env = radio_mod.environment_classes(population.values, grid, scenario.radio.env_density_per_km2)
            cell = radio_mod.cellular_coverage(sectors, dem.values, env, grid, scenario.radio, progress=progress)
        with _step("WLAN coverage (Numba)", timings):
            valid = np.isfinite(dem.values)
            wlan_dbm = (radio_mod.wlan_coverage(aps, valid, grid, scenario.wlan) if aps is not None
                        else np.full(grid.shape, np.nan, dtype=np.float32))
        with _step("FTTH and district accounting", timings):
            radio = scenario.radio
            cellular = np.zeros(grid.shape, dtype=bool)
            for tech in radio.broadband_technologies:
                band = cell.best_dbm[TECHNOLOGIES.index(tech)]
                cellular |= np.nan_to_num(band, nan=-np.inf) >= radio.threshold_dbm[tech]
            wlan_ok = np.nan_to_num(wlan_dbm, nan=-np.inf) >= scenario.wlan.threshold_dbm
            wireless = cellular | wlan_ok
            ftth = fibre_mod.passed_cells(grid, drop_distance_m=scenario.fibre.drop_distance_m, nodes=nodes,
                                          routes=routes)
            table = _district_table(districts, index, population.values, wireless, cellular, wlan_ok, ftth,
                                    scenario.fibre.persons_per_household)
            target_results = evaluate_table(scenario.targets, table)
    records = [_with_scenario_labels(r, inputs[r.name]) for r in records]
    warn_texts = [str(w.message) for w in caught if issubclass(w.category, CitycovWarning)]
    for w in caught:
        if not issubclass(w.category, CitycovWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for text in warn_texts:
        log.warning(text)
    sites = sectors.to_crs(WGS84)
    return Results(
        scenario=scenario, grid=grid, districts=districts, table=table, target_results=target_results,
        rasters={"best_dbm": cell.best_dbm, "best_sector": cell.best_sector, "wlan_dbm": wlan_dbm,
                 "wireless": wireless, "cellular": cellular, "wlan": wlan_ok, "ftth": ftth,
                 "population": population.values, "district_index": index, "environment": env},
        sectors=cell.sectors, sites_wgs84=sites, inputs=records, timings_s=timings,
        warnings=warn_texts, extrapolation=cell.extrapolation,
        started_utc=started, software=software_versions(),
    )


def _with_scenario_labels(record: InputRecord, spec) -> InputRecord:
    """Add the scenario's vintage and note for an input to its provenance record."""
    notes = (*record.notes, spec.note) if spec.note else record.notes
    return replace(record, vintage=spec.vintage, notes=notes)


def _crs_text(declared, default: str) -> str:
    if declared is None:
        return default
    return declared if isinstance(declared, str) else declared.to_string()


def _district_table(districts: Districts, index: np.ndarray, population: np.ndarray, wireless: np.ndarray,
                    cellular: np.ndarray, wlan: np.ndarray, ftth: np.ndarray,
                    persons_per_household: float) -> pd.DataFrame:
    n = len(districts)
    pop = pop_mod.district_sums(population, index, n)
    cols = {
        "population": pop,
        "population_covered": pop_mod.district_sums(np.where(wireless, population, 0.0), index, n),
        "population_cellular": pop_mod.district_sums(np.where(cellular, population, 0.0), index, n),
        "population_wlan": pop_mod.district_sums(np.where(wlan, population, 0.0), index, n),
        "households": pop / persons_per_household,
        "households_passed": pop_mod.district_sums(np.where(ftth, population, 0.0), index, n)
        / persons_per_household,
    }
    table = pd.DataFrame(cols)
    frame = districts.frame
    table.insert(0, "area_id", frame["district_id"].to_numpy())
    table.insert(1, "name", frame["name"].to_numpy())
    table.insert(2, "name_zh", frame["name_zh"].to_numpy())
    table["area_km2"] = frame.geometry.area.to_numpy() / 1e6
    city = {c: table[c].sum() for c in cols}
    city.update({"area_id": CITY_ID, "name": "City total", "name_zh": "全市"})
    table = pd.concat([table, pd.DataFrame([city])], ignore_index=True).set_index("area_id")
    table["wireless_pct"] = 100.0 * table["population_covered"] / table["population"].where(table["population"] > 0)
    table["ftth_pct"] = 100.0 * table["households_passed"] / table["households"].where(table["households"] > 0)
    if (table["population"] <= 0).any():
        empty = list(table.index[table["population"] <= 0])
        raise ScenarioError(f"districts {empty} hold no population on the grid; check the population raster "
                            "and the district CRS")
    return table
