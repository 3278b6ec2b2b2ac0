"""Step 2: the rasters of one analysis grid (population, households, terrain, environment,
clutter), the zonal weights on it and the census factor of its districts."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np

from citycov.accounting import population as pop_mod
from citycov.config import Scenario
from citycov.engine import cellular as radio_mod
from citycov.grid import GridSpec
from citycov.io import Districts, read_dem, read_population
from citycov.io.clutter import read_clutter
from citycov.pipeline._margin_kernels import reach_cells, within_squared_distance
from citycov.pipeline.engine_area import EngineArea, engine_area
from citycov.pipeline.inputs import Inputs, labelled
from citycov.provenance import InputRecord


@dataclass
class Layers:
    """The rasters of one grid and the zonal weights on it."""

    grid: GridSpec
    weights: pop_mod.ZonalWeights
    """Zonal weights of the rule: areas (and, under ``centroid`` / ``all_touched``, everything)."""
    city_weights: pop_mod.ZonalWeights | None
    index: np.ndarray
    population: np.ndarray
    households: np.ndarray
    dem: np.ndarray
    """float32: terrain on the grid (NaN where the DEM has none); a view into :attr:`engine_dem`
    when that is padded (not contiguous then)."""
    env: np.ndarray
    """int8: environment class per cell (:func:`environment`)."""
    population_record: InputRecord
    terrain_record: InputRecord
    population_input: np.ndarray
    crosscheck_rel: float
    census_factor: np.ndarray
    """float64 per district: census figure / residents on the grid under :attr:`persons` (all ones
    when not rescaling); computed once per grid and zonal rule (:func:`build_layers`)."""
    person_weights: pop_mod.ZonalWeights | None = None
    """Zonal weights of residents, households and covered residents: under ``fraction`` the
    exact shares of :func:`citycov.accounting.population.person_weights`, otherwise ``weights``."""
    fraction_person_weights: pop_mod.ZonalWeights | None = None
    """The ``fraction`` rule's person weights, kept for :func:`with_zonal_rule`."""
    rx_loss_db: np.ndarray | None = None
    """float32: clutter loss at the receiver (dB) of each cell, NaN where the raster has no class."""
    clutter_valid: np.ndarray | None = None
    """bool: cells with a clutter class (the engine evaluates no other cell)."""
    active: np.ndarray | None = None
    """Cells the engine evaluates (:func:`engine_cells`), computed once per grid; None: all."""
    clutter_record: InputRecord | None = None
    area: EngineArea | None = None
    """The modelled sectors, their ground heights and the engine grid (:mod:`citycov.pipeline.engine_area`)."""
    engine_dem: np.ndarray | None = None
    """float32: terrain on ``area.grid`` when it is padded (NaN where the DEM has none), else None."""

    @property
    def persons(self) -> pop_mod.ZonalWeights:
        """The weights that sum residents and households: :attr:`person_weights`, else :attr:`weights`."""
        return self.weights if self.person_weights is None else self.person_weights


def build_grid(districts: Districts, *, cell_m: float) -> GridSpec:
    """The analysis grid: the districts' bounds (in their CRS) snapped to ``cell_m``."""
    return GridSpec.from_bounds(tuple(districts.frame.total_bounds), cell_m=cell_m, crs=districts.frame.crs)


def build_layers(scenario: Scenario, inputs: Inputs, *, cell_m: float, rule: str) -> Layers:
    """Population, households, terrain and environment on a grid of ``cell_m``, and the zonal weights."""
    grid = build_grid(inputs.districts, cell_m=cell_m)
    weights = pop_mod.zonal_weights(inputs.districts, grid, rule)
    city_weights = _city_weights(inputs, grid, rule)
    index = pop_mod.district_index(inputs.districts, grid)
    study = weights.in_district()
    study |= index >= 0
    p_spec, t_spec = scenario.inputs["population"], scenario.inputs["terrain"]
    pop = read_population(p_spec.source, grid, declared_synthetic=p_spec.synthetic,
                          units=p_spec.options.get("units", "count"))
    area = engine_area(inputs.sectors, inputs.districts, grid, scenario.radio, dem_path=t_spec.source,
                       margin_m=scenario.radio.study_margin_m)
    dem = read_dem(t_spec.source, area.grid, study_mask=area.pad(study, False), declared_synthetic=t_spec.synthetic)
    clutter = None
    if "clutter" in scenario.inputs:
        c_spec = scenario.inputs["clutter"]
        clutter = read_clutter(c_spec.source, grid, loss_db=c_spec.loss_db, study_mask=study, crs=c_spec.crs,
                               declared_synthetic=c_spec.synthetic)
    sizes = (inputs.household_sizes if inputs.household_sizes is not None
             else scenario.households.persons_per_household)
    hh = pop_mod.households(pop.values, sizes, index)
    env = environment(pop.values, grid, scenario.radio.env_density_per_km2)
    # residents of the source raster per district (fractional overlap in its CRS), and the
    # person weights that carry exactly them on the grid under the fraction rule
    fraction = weights if rule == "fraction" else pop_mod.zonal_weights(inputs.districts, grid, "fraction")
    exact = pop_mod.person_weights(pop, inputs.districts, grid, fraction)
    person = exact.weights if rule == "fraction" else weights
    crosscheck = (pop_mod.zonal_crosscheck(weights, pop.values, inputs.districts, grid) if rule == "fraction"
                  else float("nan"))
    record = labelled(pop.record, p_spec)
    del study
    layers = Layers(grid=grid, weights=weights, city_weights=city_weights, index=index, population=pop.values,
                    households=hh, dem=area.crop(dem.values), env=env,
                    population_record=replace(record, notes=(*record.notes, *exact.notes)),
                    terrain_record=labelled(dem.record, t_spec),
                    population_input=exact.totals, crosscheck_rel=crosscheck,
                    census_factor=_census_factor(scenario, inputs, person, pop.values),
                    person_weights=person, fraction_person_weights=exact.weights,
                    rx_loss_db=None if clutter is None else clutter.loss_db,
                    clutter_valid=None if clutter is None else clutter.valid,
                    clutter_record=None if clutter is None else labelled(clutter.record, scenario.inputs["clutter"]),
                    area=area, engine_dem=dem.values if area.padded else None)
    layers = replace(layers, active=engine_cells(layers, scenario.radio.study_margin_m))
    del pop, dem, exact, hh, env
    release_freed_heap()
    return layers


def release_freed_heap() -> None:
    """Hand the heap pages that the step's freed temporaries left behind back to the system
    (glibc ``malloc_trim``; nothing elsewhere).  Strips and tables of a few MB are carved from
    the heap and, once freed, stay resident between the long-lived grids (~0.1 GB at 30 m over
    Guangzhou) until trimmed."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@functools.cache
def _glibc():
    """The C library when it is glibc (has ``malloc_trim``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def with_zonal_rule(scenario: Scenario, inputs: Inputs, layers: Layers, rule: str) -> Layers:
    """``layers`` with the zonal weights (and so the census factor) of another ``rule``."""
    weights = pop_mod.zonal_weights(inputs.districts, layers.grid, rule)
    person = layers.fraction_person_weights if rule == "fraction" else weights
    return replace(layers, weights=weights, city_weights=_city_weights(inputs, layers.grid, rule),
                   person_weights=person, census_factor=_census_factor(scenario, inputs, person, layers.population))


def _census_factor(scenario: Scenario, inputs: Inputs, weights: pop_mod.ZonalWeights,
                   population: np.ndarray) -> np.ndarray:
    """Per district: census figure / residents on the grid (all ones when not rescaling)."""
    if not (scenario.accounting.rescale_to_census and inputs.census is not None):
        return np.ones(len(inputs.districts))
    return pop_mod.census_factor(inputs.census, weights.sums(population))


def _city_weights(inputs: Inputs, grid: GridSpec, rule: str) -> pop_mod.ZonalWeights | None:
    """Weights of the union of the districts, needed only when a rule counts a cell twice."""
    if rule != "all_touched":
        return None
    city = Districts(gpd.GeoDataFrame({"district_id": ["city"], "name": ["city"], "name_local": [""]},
                                      geometry=[inputs.districts.frame.union_all()], crs=inputs.crs))
    return pop_mod.zonal_weights(city, grid, rule)


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
    return within_margin(inside, layers.grid.cell_m, margin_m)


def within_margin(inside: np.ndarray, cell_m: float, margin_m: float) -> np.ndarray:
    """Bool grid: the cells within ``margin_m`` (> 0) of a cell of ``inside``, centre to centre:
    exactly those where ``distance_transform_edt(~inside) * cell_m <= margin_m`` (SciPy's
    Euclidean distance transform, in float64), without its whole-grid float64 distances and
    int32 feature transform.

    A cell's distance in cells is sqrt(k) for an integer k (squared offsets), and the test is
    monotone in k, so it is ``k <= d2_max`` for the largest ``d2_max`` that passes it in the same
    float64 arithmetic (:func:`margin_d2_max`); the cells are then those within that squared
    distance of an inside cell (:func:`within_squared_distance`, exact integers)."""
    inside = np.ascontiguousarray(inside, dtype=np.bool_)
    if not inside.any():  # no inside cell: SciPy's transform then measures to outside the grid
        from scipy.ndimage import distance_transform_edt

        return distance_transform_edt(~inside) * cell_m <= margin_m
    d2_max = margin_d2_max(cell_m, margin_m, inside.shape)
    cap = reach_cells(d2_max) + 1
    scratch = next(np.dtype(t) for t in (np.uint8, np.uint16, np.int32, np.int64) if cap <= np.iinfo(t).max)
    return within_squared_distance(inside, d2_max, np.empty(inside.shape, dtype=scratch))


def margin_d2_max(cell_m: float, margin_m: float, shape: tuple[int, int]) -> int:
    """The largest squared distance k (cells², at most the grid's squared diagonal) for which
    ``sqrt(k) * cell_m <= margin_m`` holds in float64, as :func:`within_margin` evaluates it."""
    rows, cols = shape
    diagonal = (rows - 1) ** 2 + (cols - 1) ** 2

    def passes(k: int) -> bool:
        return bool(np.sqrt(np.float64(k)) * cell_m <= margin_m)

    ratio = margin_m / cell_m
    if ratio * ratio >= diagonal + 1:
        k = diagonal
    else:
        k = int(ratio * ratio)
        while k + 1 <= diagonal and passes(k + 1):
            k += 1
    while k > 0 and not passes(k):
        k -= 1
    return k


ENV_STRIP_CELLS = 1 << 20
"""Cells per strip of :func:`environment` (bounds its float and int64 temporaries to ~20 MB)."""


def environment(population: np.ndarray, grid: GridSpec, thresholds: dict[str, float]) -> np.ndarray:
    """int8 environment class per cell (:func:`citycov.engine.cellular.environment_classes`,
    which gives int64), computed in row strips: the classes of the whole grid in an eighth of
    the memory, and no whole-grid temporaries (each cell's class depends only on its own
    residents)."""
    out = np.empty(population.shape, dtype=np.int8)
    rows = max(1, ENV_STRIP_CELLS // max(population.shape[1], 1))
    for r0 in range(0, population.shape[0], rows):
        out[r0:r0 + rows] = radio_mod.environment_classes(population[r0:r0 + rows], grid, thresholds)
    return out


