"""The uncertainty band's model variant in one pass: the alternative model's levels come from the
base run's tile pass (``alt_model``), and the band's figures must equal those of the former way,
a second engine run with ``[radio].model`` replaced, computed here in the test itself."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import citycov
from citycov.engine.cellular import cellular_coverage
from citycov.errors import ModelError
from citycov.pipeline.coverage import coverage_masks, fibre_coverage, radio_coverage
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers
from citycov.pipeline.tables import account
from citycov.pipeline.uncertainty import alternative_model, variants
from tests.conftest import X0, Y0, make_tiny, sector_row

CX, CY = X0 + 5000.0, Y0 + 5000.0


def _ridge_dem() -> np.ndarray:
    """The tiny scenario's 14 x 14 km DEM (100 m cells) with a 110 m ridge and a hill."""
    dem = np.full((140, 140), 10.0, dtype=np.float32)
    dem[:, 70:73] = 120.0
    yy, xx = np.mgrid[0:140, 0:140]
    dem += (80.0 * np.exp(-((yy - 40) ** 2 + (xx - 100) ** 2) / 60.0)).astype(np.float32)
    return dem


def _mixed_sectors() -> list[dict]:
    """Three bands (Okumura-Hata, COST-231, TR 38.901 under "auto") on two sites, sectorised and omni."""
    return [
        sector_row(sector_id="A1", freq_mhz=900.0, x=CX, y=CY),
        sector_row(sector_id="A2", freq_mhz=1800.0, x=CX, y=CY, azimuth_deg=90.0, h_beamwidth_deg=65.0),
        sector_row(sector_id="A3", freq_mhz=2600.0, x=CX, y=CY, azimuth_deg=200.0, h_beamwidth_deg=65.0,
                   technology="5G", downtilt_deg=4.0),
        sector_row(site_id="S2", sector_id="B1", freq_mhz=900.0, x=X0 + 9500.0, y=Y0 + 500.0, height_m=30.0),
        sector_row(site_id="S2", sector_id="B2", freq_mhz=2100.0, x=X0 + 9500.0, y=Y0 + 500.0, height_m=25.0,
                   technology="3G", azimuth_deg=300.0, h_beamwidth_deg=65.0),
    ]


def _grid_sites() -> list[dict]:
    """Nine 900 MHz sites 3 km apart (one carrier): with ``reach_neighbours`` the reach limit caps them."""
    rows = []
    for k, (dx, dy) in enumerate((dx, dy) for dx in (-3000, 0, 3000) for dy in (-3000, 0, 3000)):
        rows.append(sector_row(site_id=f"G{k}", sector_id=f"G{k}-1", x=CX + dx, y=CY + dy, height_m=25.0 + 3 * k))
        rows.append(sector_row(site_id=f"G{k}", sector_id=f"G{k}-2", x=CX + dx, y=CY + dy, height_m=25.0 + 3 * k,
                               freq_mhz=1800.0, azimuth_deg=45.0 * k, h_beamwidth_deg=65.0))
    return rows


SCENARIOS = {
    # several models and a ridge: the alternative reach differs from the base reach, so its fan too
    "mixed_bands_ridge": dict(sectors=_mixed_sectors(), dem_m=_ridge_dem(), radio="floor_dbm = -125\ntile_cells = 24"),
    # the co-channel reach limit and tiles smaller than the grid
    "reach_limit_tiles": dict(sectors=_grid_sites(), dem_m=_ridge_dem(),
                              radio="reach_neighbours = 3\nreach_factor = 1.5\nreach_min_km = 2.0\ntile_cells = 32"),
    # 3G in exact mode (ITM): those sectors keep their level in the variant
    "exact_3g": dict(sectors=_mixed_sectors(), dem_m=_ridge_dem(), radio='mode = { "3G" = "exact" }'),
    # a site outside the analysis grid within reach of the study area: the engine runs on a padded grid
    "padded_area": dict(sectors=[*_mixed_sectors()[:3],
                                 sector_row(site_id="OUT", sector_id="O1", x=X0 - 1500.0, y=CY, freq_mhz=1800.0)],
                        dem_m=_ridge_dem(), radio="study_margin_m = 500"),
    # the other way round (TR 38.901 base, "auto" variant): the variant's reach is the longer one here
    "reverse_models": dict(sectors=_mixed_sectors(), dem_m=_ridge_dem(), radio='model = "tr38901"\ntile_cells = 24',
                           alternative="auto"),
}


def _setup(tmp_path, name, alternative="tr38901", **kw):
    extra = f'[accounting]\nuncertainty_resolution = []\nalternative_model = "{alternative}"\n'
    tiny = make_tiny(tmp_path / name, extra=extra, **kw)
    scenario = citycov.load_scenario(tiny.scenario)
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=scenario.grid.cell_m, rule=scenario.accounting.zonal_rule)
    return scenario, inputs, layers


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_band_equals_the_two_run_band(tmp_path, name):
    scenario, inputs, layers = _setup(tmp_path, name, **SCENARIOS[name])
    alt = alternative_model(scenario)
    assert alt == SCENARIOS[name].get("alternative", "tr38901") != scenario.radio.model
    cov = radio_coverage(scenario, inputs, layers, scenario.radio, alt_model=alt)
    assert cov.cell.alt_best_dbm is not None and cov.alt_skipped is None
    cfg = scenario.accounting
    masks = coverage_masks(scenario, layers, cov, cell_edge_probability=cfg.cell_edge_probability)
    fibre = fibre_coverage(scenario, inputs, layers)
    tables, notes = variants(scenario, inputs, layers, cov, masks, fibre, progress=False)

    # the former way: a second engine run with the model replaced
    rerun = radio_coverage(scenario, inputs, layers, replace(scenario.radio, model=alt), link=False)
    np.testing.assert_array_equal(cov.cell.alt_best_dbm, rerun.cell.best_dbm)
    assert np.isfinite(rerun.cell.best_dbm).sum() > 1000  # the variant covers something
    assert not np.array_equal(rerun.cell.best_dbm, cov.cell.best_dbm, equal_nan=True)  # and differs from the base
    old = account(scenario, inputs, layers,
                  coverage_masks(scenario, layers, rerun, cell_edge_probability=cfg.cell_edge_probability), fibre)
    pd.testing.assert_frame_equal(tables[f"model_{alt}"], old, check_exact=True)
    assert notes[f"model_{alt}"] == f"propagation model {alt} for every sector"
    # the base run is unchanged by computing the alternative beside it
    plain = radio_coverage(scenario, inputs, layers, scenario.radio)
    for field in ("best_dbm", "best_sector", "cover_bits", "sinr_db", "margin_db", "overlap"):
        np.testing.assert_array_equal(getattr(cov.cell, field), getattr(plain.cell, field), err_msg=field)


def test_band_without_the_alternative_levels_reruns_with_the_same_figures(tmp_path):
    scenario, inputs, layers = _setup(tmp_path, "t", **SCENARIOS["mixed_bands_ridge"])
    cfg = scenario.accounting
    one = radio_coverage(scenario, inputs, layers, scenario.radio, alt_model="tr38901")
    two = radio_coverage(scenario, inputs, layers, scenario.radio)
    assert two.cell.alt_best_dbm is None
    fibre = fibre_coverage(scenario, inputs, layers)
    out = [variants(scenario, inputs, layers, c, coverage_masks(scenario, layers, c,
                                                                cell_edge_probability=cfg.cell_edge_probability),
                    fibre, progress=False)[0] for c in (one, two)]
    assert out[0].keys() == out[1].keys()
    for key in out[0]:
        pd.testing.assert_frame_equal(out[0][key], out[1][key], check_exact=True)


def test_alternative_that_does_not_cover_a_band_is_skipped_as_before(tmp_path, caplog):
    # 450 MHz is outside TR 38.901's 0.5-100 GHz: the rerun raised, the band skipped the variant
    sectors = [sector_row(sector_id="L1", freq_mhz=450.0, x=CX, y=CY), sector_row(sector_id="L2", x=CX, y=CY)]
    scenario, inputs, layers = _setup(tmp_path, "t", sectors=sectors)
    with pytest.raises(ModelError, match="tr38901"):
        radio_coverage(scenario, inputs, layers, replace(scenario.radio, model="tr38901"), link=False)
    with pytest.raises(ModelError, match="tr38901"):
        cellular_coverage(inputs.sectors, layers.dem, layers.env, layers.grid, scenario.radio, alt_model="tr38901")
    cov = radio_coverage(scenario, inputs, layers, scenario.radio, alt_model="tr38901")
    assert cov.cell.alt_best_dbm is None and "tr38901" in cov.alt_skipped
    assert np.isfinite(cov.cell.best_dbm).any()
    cfg = scenario.accounting
    masks = coverage_masks(scenario, layers, cov, cell_edge_probability=cfg.cell_edge_probability)
    with caplog.at_level("WARNING", logger="citycov"):
        tables, _ = variants(scenario, inputs, layers, cov, masks, fibre_coverage(scenario, inputs, layers), False)
    assert not any(k.startswith("model_") for k in tables)
    assert "alternative model tr38901 skipped" in caplog.text


def test_base_model_errors_still_raise(tmp_path):
    # a forced base model that does not cover a band raises whatever the alternative
    scenario, inputs, layers = _setup(tmp_path, "t", **SCENARIOS["mixed_bands_ridge"])
    with pytest.raises(ModelError, match="okumura_hata"):
        radio_coverage(scenario, inputs, layers, replace(scenario.radio, model="okumura_hata"), alt_model="tr38901")
