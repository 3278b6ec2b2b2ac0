"""District accounting: every headline figure as a numerator over a denominator, per district
and for the city, under one zonal rule; coverage by network; uncertainty bands.

Nothing here reads files or runs the radio engine: it takes finished grids (population,
households, coverage masks) and sparse zonal weights, and returns tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from citycov.accounting.population import EMPTY_PERSONS, ZonalWeights
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts

CITY_ID = "city"
CITY_NAME = "City total"
"""Name of the city row in the tables this module builds (English; outputs label it per
language).  The city row has no local name."""
AREA_KINDS = ("district", "group", "total")
"""The kinds of row of a district table (column ``area_kind``): a district, a group of districts
(``[inputs.districts].group_column``: the sum of its districts) and the total (the city)."""

# metric -> (numerator column, denominator column, percentage column)
METRIC_COLUMNS = {
    "wireless_population": ("population_covered", "population", "wireless_pct"),
    "ftth_households": ("households_passed", "households", "ftth_pct"),
    "urban_area_3g": ("urban_area_3g_km2", "urban_area_km2", "urban_3g_pct"),
    "village_broadband": ("villages_covered", "villages", "village_broadband_pct"),
}
EMPTY_AREA_KM2 = 1e-6
"""Area below which an area counts as having none (1 m²), km²: the same float noise, in area."""
EMPTY_VILLAGES = 0.5
"""Village counts are whole numbers: below half a village there is none."""
EMPTY_BELOW = {"population": EMPTY_PERSONS, "households": EMPTY_PERSONS, "urban_area_km2": EMPTY_AREA_KM2,
               "villages": EMPTY_VILLAGES}
"""Denominator column -> the value below which it counts as zero (its share undefined)."""


def area_kinds(table: pd.DataFrame) -> np.ndarray:
    """The kind (:data:`AREA_KINDS`) of each row of a district table (index ``area_id``) or of
    ``districts.csv`` (column ``area_id``): its ``area_kind`` column where it has one (written
    when the districts have groups), else "total" for the city row and "district" for the rest."""
    if "area_kind" in table.columns:
        return table["area_kind"].astype(str).to_numpy()
    ids = table["area_id"] if "area_id" in table.columns else table.index.to_series()
    return np.where(ids.astype(str).to_numpy() == CITY_ID, "total", "district")


def share(numerator: np.ndarray | float, denominator: np.ndarray | float, den_column: str) -> np.ndarray | float:
    """numerator / denominator, NaN where the denominator is below :data:`EMPTY_BELOW` of its column."""
    num = np.asarray(numerator, dtype=np.float64)
    den = np.asarray(denominator, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den >= EMPTY_BELOW[den_column], num / np.where(den > 0, den, 1.0), np.nan)
    return out if out.ndim else float(out)


FIELD_DEFINITIONS = {
    "population": "residents on the grid (zonal rule; under fraction exactly the source raster's residents inside "
                  "the district; × census factor when rescaled)",
    "population_covered": "residents in cells with wireless broadband (cellular ≥ its threshold or WLAN)",
    "wireless_pct": "100 × population_covered / population",
    "population_cellular": "residents in cells with any broadband cellular technology ≥ its threshold",
    "population_wlan": "residents in cells with WLAN ≥ its threshold",
    "households": "population / persons per household",
    "households_passed": "households passed by fibre under [fibre].rule",
    "ftth_pct": "100 × households_passed / households",
    "urban_area_km2": "area of urban cells (residents/km² ≥ [radio].env_density_per_km2.urban)",
    "urban_area_3g_km2": "urban area covered by 3G or better (any operator)",
    "urban_3g_pct": "100 × urban_area_3g_km2 / urban_area_km2",
    "villages": "village and town points in the district",
    "villages_covered": "of which in a cell with wireless broadband or passed by fibre",
    "village_broadband_pct": "100 × villages_covered / villages",
    "population_input": "residents of the source population raster in the district (fractional overlap, "
                        "before resampling): the conservation check",
    "census_factor": "census figure / grid population (1 when not rescaled)",
}
"""Definitions of the district table's columns, in ``districts.json`` and the report."""

GROUP_FIELD_DEFINITIONS = {
    "area_kind": "the kind of row: district, group (a group of districts, [inputs.districts].group_column) or "
                 "total (the study area)",
    "group_id": "a district's group; a group row's own id; empty on the total row",
}
"""Definitions of the columns written only when the districts have groups."""


def field_definitions(columns: Iterable[str]) -> dict[str, str]:
    """:data:`FIELD_DEFINITIONS`, with :data:`GROUP_FIELD_DEFINITIONS` of the group columns among
    ``columns`` (the written table's), so a table without groups keeps its definitions unchanged."""
    present = set(columns)
    return {**FIELD_DEFINITIONS, **{k: v for k, v in GROUP_FIELD_DEFINITIONS.items() if k in present}}


@dataclass(frozen=True)
class Grids:
    """Per-cell inputs of the accounting, all on one grid."""

    population: np.ndarray
    households: np.ndarray
    wireless: np.ndarray
    cellular: np.ndarray
    wlan: np.ndarray
    g3_or_better: np.ndarray
    urban: np.ndarray
    households_passed: np.ndarray | None
    cell_area_km2: float


def group_weights(weights: ZonalWeights, districts: Districts) -> ZonalWeights:
    """Weights of each group of ``districts`` (:attr:`~citycov.io.boundaries.Districts.groups`,
    in that order) as the union of its districts' cells, for a rule that counts a cell in
    several districts (``all_touched``, every weight 1): a cell on the border of two districts
    of one group counts once in the group, as the union of all districts does for the total.

    Raises ``ValueError`` for weights other than 0/1 (``fraction``: a group is then the sum of
    its districts)."""
    if not np.all(weights.weight == 1.0):
        raise ValueError(f"group union weights need 0/1 weights (rule centroid or all_touched), got rule "
                         f"{weights.rule!r}")
    size = weights.shape[0] * weights.shape[1]
    key = np.unique(districts.group_index[weights.district] * size + weights.cell)
    return ZonalWeights(weights.rule, key % size, key // size, np.ones(key.size), len(districts.groups),
                        weights.shape)


def _areas(districts: Districts) -> tuple[list[str], np.ndarray, int]:
    """(area ids in table order: districts, groups, the total; group row of each district; number of groups)."""
    groups = districts.groups
    return [*districts.frame["district_id"], *groups.index, CITY_ID], districts.group_index, len(groups)


def _group_sums(values: np.ndarray, group_index: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: the sum of its districts' ``values``."""
    if not n_groups:
        return np.zeros(0)
    return np.bincount(group_index, weights=np.asarray(values, dtype=np.float64), minlength=n_groups)


def district_table(districts: Districts, weights: ZonalWeights, city_weights: ZonalWeights | None, grids: Grids, *,
                   census_factor: np.ndarray, person_weights: ZonalWeights | None = None,
                   premises: tuple[np.ndarray, np.ndarray] | None = None,
                   villages: tuple[np.ndarray, np.ndarray] | None = None,
                   population_input: np.ndarray | None = None,
                   group_weights: ZonalWeights | None = None) -> pd.DataFrame:
    """One row per district, per group of districts (when the districts have groups) and the
    city (index ``area_id``; column ``area_kind``, one of :data:`AREA_KINDS`) with numerators,
    denominators and percentages of every metric.

    ``premises``: (households, ready households) per district, replacing the grid's FTTH
    figures (rule "premises").  ``villages``: (villages, covered villages) per district.
    ``census_factor`` multiplies every resident and household figure of a district.
    ``city_weights`` (weights of the union of the districts) is needed only when the rule
    counts a cell in several districts (``all_touched``); otherwise the city is the sum of
    its districts.  The groups likewise: the sums of their districts, or, with ``city_weights``,
    the sums over ``group_weights`` (:func:`group_weights`, required then), the union of each
    group's districts; rescaled figures (a census factor other than 1) are always the sums of
    the rescaled districts.  ``person_weights`` (default ``weights``) sum the residents and
    households (:func:`citycov.accounting.population.person_weights`); ``weights`` the areas.
    Percentages come from the summed numerators and denominators, never from averaged shares.
    """
    n = len(districts)
    ids, group_index, n_groups = _areas(districts)
    if city_weights is not None and n_groups and group_weights is None:
        raise ValueError("districts with groups under a rule that counts a cell in several districts need "
                         "group_weights (the union of each group's districts)")
    persons = weights if person_weights is None else person_weights

    def summed(d: np.ndarray) -> np.ndarray:
        return np.concatenate([d, _group_sums(d, group_index, n_groups), [d.sum()]])

    def both(values: np.ndarray, mask: np.ndarray | None = None, scale: bool = True) -> np.ndarray:
        d = (persons if scale else weights).sums(values, mask) * (census_factor if scale else 1.0)
        # rescaled figures: the city (and each group) is the sum of the rescaled districts
        rescaled = scale and not np.allclose(census_factor, 1.0)
        if rescaled or city_weights is None:
            return summed(d)
        groups = group_weights.sums(values, mask) if n_groups else np.zeros(0)
        return np.concatenate([d, groups, [city_weights.sums(values, mask)[0]]])

    pop = grids.population
    cols: dict[str, np.ndarray] = {
        "population": both(pop),
        "population_covered": both(pop, grids.wireless),
        "population_cellular": both(pop, grids.cellular),
        "population_wlan": both(pop, grids.wlan),
        "households": both(grids.households),
    }
    if premises is not None:
        hh, ready = premises
        cols["households"] = summed(hh)
        cols["households_passed"] = summed(ready)
    elif grids.households_passed is not None:
        cols["households_passed"] = both(grids.households_passed)
    else:
        cols["households_passed"] = np.zeros(len(ids))
    ones = np.full(pop.shape, grids.cell_area_km2, dtype=np.float32)
    cols["urban_area_km2"] = both(ones, grids.urban, scale=False)
    cols["urban_area_3g_km2"] = both(ones, grids.urban & grids.g3_or_better, scale=False)
    if villages is not None:
        cols["villages"] = summed(villages[0])
        cols["villages_covered"] = summed(villages[1])
    else:
        cols["villages"] = np.zeros(len(ids))
        cols["villages_covered"] = np.zeros(len(ids))
    cols["area_km2"] = both(ones, scale=False)
    if population_input is not None:
        cols["population_input"] = summed(population_input)
    cols["census_factor"] = np.concatenate([census_factor, np.full(n_groups + 1, np.nan)])
    table = pd.DataFrame(cols)
    frame = districts.frame
    groups = districts.groups
    table.insert(0, "area_id", ids)
    table.insert(1, "name", [*frame["name"], *groups["name"], CITY_NAME])
    table.insert(2, "name_local", [*frame["name_local"], *groups["name_local"], ""])
    table.insert(3, "area_kind", ["district"] * n + ["group"] * n_groups + ["total"])
    if n_groups:
        table.insert(4, "group_id", [*frame["group_id"], *groups.index, ""])
    table = table.set_index("area_id")
    for num, den, pct in METRIC_COLUMNS.values():
        table[pct] = 100.0 * share(table[num].to_numpy(), table[den].to_numpy(), den)
    return table


def network_table(districts: Districts, weights: ZonalWeights, city_weights: ZonalWeights | None,
                  population: np.ndarray,
                  masks: dict[tuple[str, str], np.ndarray], census_factor: np.ndarray, *,
                  group_weights: ZonalWeights | None = None) -> pd.DataFrame:
    """Population covered per area (districts, groups, the city: as :func:`district_table`) by
    (technology, operator); operator "any" is the union."""
    rows = []
    ids, group_index, n_groups = _areas(districts)
    union = city_weights is not None and np.allclose(census_factor, 1.0)
    if union and n_groups and group_weights is None:
        raise ValueError("districts with groups under a rule that counts a cell in several districts need "
                         "group_weights (the union of each group's districts)")

    def areas(d: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        if union:
            groups = group_weights.sums(population, mask) if n_groups else np.zeros(0)
            return np.concatenate([d, groups, [city_weights.sums(population, mask)[0]]])
        return np.concatenate([d, _group_sums(d, group_index, n_groups), [d.sum()]])

    total = areas(weights.sums(population) * census_factor, None)
    for (tech, operator), mask in masks.items():
        cov = areas(weights.sums(population, mask) * census_factor, mask)
        for area_id, c, t in zip(ids, cov, total, strict=True):
            rows.append({"area_id": area_id, "technology": tech, "operator": operator, "population_covered": c,
                         "population": t, "coverage_pct": 100.0 * share(c, t, "population")})
    return pd.DataFrame(rows)


def village_counts(x_m: np.ndarray, y_m: np.ndarray, *, covered: np.ndarray, district_index: np.ndarray,
                   grid: GridSpec, n_districts: int) -> tuple[np.ndarray, np.ndarray]:
    """Village points per district and those in a ``covered`` cell (float64, ``n_districts`` each).

    A point counts in the district of the grid cell holding it (cell-centre rule of
    ``district_index``); points off the grid or outside every district are not counted.
    """
    r, c = grid.rowcol(x_m, y_m)
    ok = grid.contains(r, c)
    r, c = r[ok], c[ok]
    district = district_index[r, c]
    inside = district >= 0
    total = np.bincount(district[inside], minlength=n_districts).astype(np.float64)
    good = np.bincount(district[inside], weights=covered[r, c][inside].astype(np.float64), minlength=n_districts)
    return total, good


def band_table(point: pd.DataFrame, variants: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Uncertainty band of every metric share per area: the min and max over the point estimate
    and every variant.  Returns (band: area_id, metric, point, low, high; long table of all
    variant values: area_id, metric, variant, value)."""
    long_rows = []
    for name, table in {"point": point, **variants}.items():
        for metric, (num, den, _) in METRIC_COLUMNS.items():
            for area_id in point.index:
                if area_id not in table.index:
                    continue
                value = share(float(table.loc[area_id, num]), float(table.loc[area_id, den]), den)
                long_rows.append({"area_id": area_id, "metric": metric, "variant": name, "value": value})
    long = pd.DataFrame(long_rows)
    point_values = long[long["variant"] == "point"].set_index(["area_id", "metric"])["value"]
    grouped = long.groupby(["area_id", "metric"], sort=False)["value"]
    band = pd.DataFrame({"low": grouped.min(), "high": grouped.max()})
    band["point"] = point_values
    return band.reset_index()[["area_id", "metric", "point", "low", "high"]], long
