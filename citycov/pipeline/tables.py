"""Step 4: the district table of one variant and the coverage table by network (each with the
groups of districts, when the scenario has them)."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from citycov.accounting import districts as acc
from citycov.accounting.population import ZonalWeights
from citycov.choices import TECHNOLOGIES
from citycov.config import Scenario
from citycov.pipeline.coverage import Coverage, Fibre
from citycov.pipeline.inputs import Inputs
from citycov.pipeline.layers import Layers


def account(scenario: Scenario, inputs: Inputs, layers: Layers, masks: dict[str, np.ndarray],
            fibre: Fibre) -> pd.DataFrame:
    """The district table of one variant."""
    urban = layers.env <= 1
    grids = acc.Grids(population=layers.population, households=layers.households, wireless=masks["wireless"],
                      cellular=masks["cellular"], wlan=masks["wlan"], g3_or_better=masks["g3_or_better"],
                      urban=urban, households_passed=fibre.households_passed, cell_area_km2=layers.grid.cell_area_km2)
    return acc.district_table(inputs.districts, layers.weights, layers.city_weights, grids,
                              person_weights=layers.persons,
                              census_factor=layers.census_factor, premises=fibre.premises,
                              villages=_villages(inputs, layers, masks, fibre),
                              population_input=layers.population_input,
                              group_weights=group_weights(inputs, layers))


def group_weights(inputs: Inputs, layers: Layers) -> ZonalWeights | None:
    """The union weights of each group of districts, when the zonal rule counts a cell in several
    districts (``layers.city_weights`` is set: ``all_touched``) and the districts have groups;
    None otherwise (a group is then the sum of its districts)."""
    if layers.city_weights is None or not inputs.districts.has_groups:
        return None
    return acc.group_weights(layers.weights, inputs.districts)


def _villages(inputs: Inputs, layers: Layers, masks: dict[str, np.ndarray],
              fibre: Fibre) -> tuple[np.ndarray, np.ndarray] | None:
    """Village points per district and those with wireless broadband or passed by fibre."""
    if inputs.villages is None:
        return None
    geometry = inputs.villages.geometry
    return acc.village_counts(geometry.x.to_numpy(), geometry.y.to_numpy(),
                              covered=masks["wireless"] | fibre.passed_cells, district_index=layers.index,
                              grid=layers.grid, n_districts=len(inputs.districts))


def networks(inputs: Inputs, layers: Layers, cov: Coverage, masks: dict[str, np.ndarray]) -> pd.DataFrame:
    """Residents covered per area by each (technology, operator), operator ``any`` and WLAN."""
    cell = cov.cell
    combos = _NetworkMasks()
    for tech in TECHNOLOGIES:
        operators = sorted({op for op, t in cell.networks if t == tech})
        if not operators:
            continue
        combos[(tech, "any")] = partial(cell.network_mask, None, tech)
        for op in operators:
            combos[(tech, op)] = partial(cell.network_mask, op, tech)
    if inputs.aps is not None:
        combos[("WLAN", "any")] = lambda: masks["wlan"]
    return acc.network_table(inputs.districts, layers.persons, layers.city_weights, layers.population, combos,
                             layers.census_factor, group_weights=group_weights(inputs, layers))


class _NetworkMasks(dict):
    """(technology, operator) -> mask, each made when it is read (one whole-grid mask at a time,
    not a dozen at once); the values stored are functions that make them."""

    def __getitem__(self, key):
        return super().__getitem__(key)()

    def items(self):
        return ((key, make()) for key, make in super().items())

    def values(self):
        return (make() for make in super().values())
