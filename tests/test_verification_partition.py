"""Claimed vs modelled vs measured: hand-checkable cases and exact identities."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from citycov.errors import RasterError
from citycov.grid import GridSpec
from citycov.presets.challenge import load_challenge_preset
from citycov.verification.challenge import ChallengeResult
from citycov.verification.partition import CITY_ID, FIELDS, claim_mask, grid_h3_cells, verify

UTM49 = pyproj.CRS.from_epsg(32649)
X0, Y0 = 500_000.0, 2_550_000.0


def _grid(n: int = 4, cell_m: float = 1000.0) -> GridSpec:
    return GridSpec.from_bounds((X0, Y0, X0 + n * cell_m, Y0 + n * cell_m), cell_m=cell_m, crs=UTM49)


def test_hand_case_areas_and_population():
    grid = _grid()
    claimed = np.zeros(grid.shape, dtype=bool)
    claimed[:, :2] = True            # left half: 8 cells
    modelled = np.zeros(grid.shape, dtype=bool)
    modelled[:2, :] = True           # top half: 8 cells
    pop = np.arange(16, dtype=np.float64).reshape(4, 4)
    v = verify(grid, claimed=claimed, modelled=modelled, population=pop)
    city = v.city
    assert city["claimed_cells"] == 8 and city["claimed_modelled_cells"] == 4
    assert city["claimed_not_modelled_cells"] == 4 and city["modelled_not_claimed_cells"] == 4
    assert city["claimed_km2"] == pytest.approx(8.0) and city["area_km2"] == pytest.approx(16.0)
    # rows 2-3, cols 0-1: 8 + 9 + 12 + 13
    assert city["claimed_not_modelled_population"] == 42.0
    # rows 0-1, cols 2-3: 2 + 3 + 6 + 7
    assert city["modelled_not_claimed_population"] == 18.0
    assert city["claimed_population"] == 0 + 1 + 4 + 5 + 42
    assert city["claimed_failed_km2"] == 0.0 and city["claimed_tested_cells"] == 0
    assert city["population"] == pop.sum()
    assert v.codes.dtype == np.uint8 and v.codes.shape == grid.shape
    assert v.hexagons["claimed_cells"].sum() == 8


def test_districts_and_city_with_cells_outside():
    grid = _grid()
    claimed = np.ones(grid.shape, dtype=bool)
    modelled = np.eye(4, dtype=bool)
    index = np.array([[0, 0, 1, 1]] * 3 + [[-1, -1, -1, -1]], dtype=np.int32)
    pop = np.ones(grid.shape)
    v = verify(grid, claimed=claimed, modelled=modelled, population=pop, district_index=index)
    d = v.districts
    assert list(d.index) == ["0", "1", CITY_ID]
    assert d.loc["0", "claimed_cells"] == 6 and d.loc["0", "claimed_modelled_cells"] == 2  # (0,0), (1,1)
    assert d.loc["1", "claimed_modelled_cells"] == 1                                      # (2,2)
    assert d.loc[CITY_ID, "claimed_cells"] == 12                                          # row 3 outside
    assert d.loc[CITY_ID, "population"] == 12.0


def test_identities_hold_exactly_on_random_masks():
    rng = np.random.default_rng(11)
    grid = _grid(40, 100.0)
    index = rng.integers(-1, 5, grid.shape).astype(np.int32)
    pop = rng.gamma(0.5, 37.3, grid.shape)
    claimed = rng.random(grid.shape) < 0.6
    modelled = rng.random(grid.shape) < 0.5
    v = verify(grid, claimed=claimed, modelled=modelled, population=pop, district_index=index)
    for table in (v.districts, v.hexagons):
        for unit in ("km2", "population", "cells"):
            assert (table[f"claimed_{unit}"] == table[f"claimed_modelled_{unit}"]
                    + table[f"claimed_not_modelled_{unit}"]).all()
            assert (table[f"modelled_{unit}"] == table[f"claimed_modelled_{unit}"]
                    + table[f"modelled_not_claimed_{unit}"]).all()
    # against direct sums over the masks (independent of the partition)
    study = index >= 0
    city = v.city
    assert city["claimed_not_modelled_population"] == pytest.approx(pop[claimed & ~modelled & study].sum(), rel=1e-12)
    assert city["modelled_not_claimed_cells"] == int((modelled & ~claimed & study).sum())
    assert city["claimed_km2"] == pytest.approx((claimed & study).sum() * grid.cell_area_km2, rel=1e-12)
    # districts add up to the city in whole cells
    assert v.districts.drop(CITY_ID)["claimed_cells"].sum() == city["claimed_cells"]
    assert set(FIELDS) <= {c.rsplit("_", 1)[0] for c in v.districts.columns}


def test_measured_failures_from_challenge_verdicts():
    grid = _grid(4, 1000.0)
    claimed = np.ones(grid.shape, dtype=bool)
    modelled = np.zeros(grid.shape, dtype=bool)
    modelled[0, 0] = True
    hexes = grid_h3_cells(grid, 8)
    challenged_hex = int(hexes[0, 0])
    tested_only = int(hexes[3, 3])
    assert challenged_hex != tested_only
    preset = load_challenge_preset("fcc-2022")
    hexagons = pd.DataFrame({"layer": [0, 0], "cell": [challenged_hex, tested_only], "challenged": [True, False]})
    rollup = pd.DataFrame(columns=["layer", "resolution", "cell", "children_challenged", "challenged"])
    result = ChallengeResult(hexagons=hexagons, rollup=rollup, layers=pd.DataFrame(), preset=preset, rule="table",
                             as_of=pd.Timestamp("2024-06-30", tz="Asia/Shanghai"))
    v = verify(grid, claimed=claimed, modelled=modelled, population=np.full(grid.shape, 10.0),
               challenge=result, layer=0)
    failed_cells = int((hexes == challenged_hex).sum())
    tested_cells = failed_cells + int((hexes == tested_only).sum())
    city = v.city
    assert city["claimed_failed_cells"] == failed_cells
    assert city["claimed_tested_cells"] == tested_cells
    assert city["claimed_modelled_failed_cells"] == 1           # cell (0, 0): modelled, yet failed
    assert city["claimed_not_modelled_failed_cells"] == failed_cells - 1
    assert city["claimed_failed_population"] == 10.0 * failed_cells
    row = v.hexagons.loc[challenged_hex]
    assert row["challenged"] and row["tested"] and row["cell_h3"] == h3.int_to_str(challenged_hex)


def test_claim_mask_uses_cell_centres():
    grid = _grid(4, 1000.0)
    claims = gpd.GeoDataFrame({"operator": ["A", "A"]},
                              geometry=[shapely.box(X0, Y0 + 3000, X0 + 1600, Y0 + 4000),   # covers centre (0, 0)
                                        shapely.box(X0 + 3400, Y0, X0 + 4000, Y0 + 400)],  # misses centre (3, 3)
                              crs=UTM49)
    mask = claim_mask(claims, grid)
    assert mask.sum() == 2 and mask[0, 0] and mask[0, 1] and not mask[3, 3]
    assert claim_mask(claims, grid, rows=[1]).sum() == 0
    with pytest.raises(RasterError, match=r"read them with crs=grid\.crs"):
        claim_mask(claims.to_crs(4326), grid)


def test_bad_inputs_are_refused():
    grid = _grid()
    ok = np.zeros(grid.shape, dtype=bool)
    with pytest.raises(RasterError, match=r"modelled has shape \(3, 3\), the grid is \(4, 4\)"):
        verify(grid, claimed=ok, modelled=np.zeros((3, 3), dtype=bool), population=np.zeros(grid.shape))
    pop = np.zeros(grid.shape)
    pop[1, 1] = np.nan
    with pytest.raises(RasterError, match="1 non-finite cells"):
        verify(grid, claimed=ok, modelled=ok, population=pop)
