"""Model calibration: recovers known offsets and slopes, cross-validates by hexagon, round-trips JSON."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from citycov.engine.cellular import CellularResult
from citycov.errors import CalibrationError, CitycovWarning
from citycov.grid import GridSpec
from citycov.verification.calibration import (
    POOLED,
    fit_calibration,
    group_folds,
    sample_model,
)

from .oracles_calibration import apply_calibration, load_calibration

TRUE = {"outdoor_stationary": (-4.0, -8.0), "in_vehicle": (-12.0, 3.0)}  # offset dB, slope dB/decade
OFFSET_TOL_DB = 0.6
SLOPE_TOL_DB = 0.8


def _synthetic(n: int = 3000, seed: int = 5, outliers: float = 0.05):
    rng = np.random.default_rng(seed)
    lat = 23.0 + rng.random(n) * 0.1
    lon = 113.2 + rng.random(n) * 0.1
    dist = 10 ** rng.uniform(np.log10(0.05), np.log10(5.0), n)
    group = np.where(rng.random(n) < 0.6, "outdoor_stationary", "in_vehicle").astype(object)
    modelled = -80.0 - 35.0 * np.log10(dist)
    offset = np.array([TRUE[g][0] for g in group])
    slope = np.array([TRUE[g][1] for g in group])
    noise = rng.normal(0.0, 4.0, n)
    spikes = rng.random(n) < outliers
    noise[spikes] += rng.choice([-30.0, 30.0], spikes.sum())
    measured = modelled + offset + slope * np.log10(dist) + noise
    return measured, modelled, dist, group, lat, lon


def test_recovers_known_offsets_and_slopes_despite_outliers():
    measured, modelled, dist, group, lat, lon = _synthetic()
    cal = fit_calibration(measured, modelled, dist, group, lat_deg=lat, lon_deg=lon)
    for g, (offset, slope) in TRUE.items():
        assert cal.offset_db[g] == pytest.approx(offset, abs=OFFSET_TOL_DB)
        assert cal.slope_db_per_decade[g] == pytest.approx(slope, abs=SLOPE_TOL_DB)
    assert cal.n_points["outdoor_stationary"] + cal.n_points["in_vehicle"] == cal.n_points[POOLED] == 3000
    assert cal.pooled_groups == ()
    # ordinary least squares would be pulled by the +-30 dB spikes; Huber keeps the line


def test_cross_validation_reports_before_and_after_on_held_out_hexagons():
    measured, modelled, dist, group, lat, lon = _synthetic()
    cal = fit_calibration(measured, modelled, dist, group, lat_deg=lat, lon_deg=lon, n_folds=5)
    cv = cal.cv
    assert cv["n_folds"] == 5 and len(cv["folds"]) == 5
    assert sum(f["after"]["n"] for f in cv["folds"]) == 3000
    assert cv["after"]["rmse_db"] < cv["before"]["rmse_db"]
    assert abs(cv["before"]["bias_db"]) > 5.0            # the model is biased by several dB ...
    assert abs(cv["after"]["bias_db"]) < 0.5              # ... and calibration removes it on held-out data
    assert cv["groups"]["in_vehicle"]["after"]["rmse_db"] < cv["groups"]["in_vehicle"]["before"]["rmse_db"]


def test_group_folds_keep_hexagons_whole_and_balanced():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 2000)
    folds = group_folds(groups, 5, seed=1)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    sizes = np.bincount(folds, minlength=5)
    assert sizes.max() - sizes.min() <= np.bincount(groups).max()
    with pytest.raises(CalibrationError, match="3 groups"):
        group_folds(np.array([1, 2, 3]), 5)


def test_small_groups_use_the_pooled_fit_and_say_so():
    measured, modelled, dist, group, lat, lon = _synthetic(n=400)
    group = group.copy()
    group[:5] = "rare"
    cal = fit_calibration(measured, modelled, dist, group, lat_deg=lat, lon_deg=lon, min_points=20)
    assert cal.pooled_groups == ("rare",)
    assert cal.offset_db["rare"] == cal.offset_db[POOLED]


def test_save_load_apply_round_trip(tmp_path):
    measured, modelled, dist, group, lat, lon = _synthetic(n=800)
    cal = fit_calibration(measured, modelled, dist, group, lat_deg=lat, lon_deg=lon,
                          provenance={"technology": "4G", "operator": "China Mobile", "source": "synthetic"})
    path = cal.save(tmp_path / "cal.json")
    back = load_calibration(path)
    assert back == cal
    assert back.provenance["operator"] == "China Mobile" and back.provenance["citycov"]
    before = modelled.copy()
    out = apply_calibration(back, modelled, dist, group)
    np.testing.assert_array_equal(modelled, before)  # the input is not mutated
    expected = modelled + np.array([cal.offset_db[g] + cal.slope_db_per_decade[g] * np.log10(d)
                                    for g, d in zip(group, dist, strict=True)])
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9)
    with pytest.raises(CalibrationError, match=r"groups \['indoor'\] are not in the calibration"):
        apply_calibration(back, np.array([-90.0]), np.array([1.0]), np.array(["indoor"]))


def test_bad_calibration_file_and_inputs(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "citycov-calibration/1", "group_by": "env", "offset_db": {"a": "x"}, '
                    '"slope_db_per_decade": {"b": 1.0}, "n_points": {}}', encoding="utf-8")
    with pytest.raises(CalibrationError, match="offset_db: not finite numbers for groups \\['a'\\]; "
                                               "offset_db and slope_db_per_decade name different groups"):
        load_calibration(path)
    with pytest.raises(CalibrationError, match="arrays must have one length"):
        fit_calibration(np.zeros(3), np.zeros(2), np.ones(3), np.array(["a"] * 3), lat_deg=np.zeros(3),
                        lon_deg=np.zeros(3))


def test_non_finite_measurements_are_dropped_and_counted():
    measured, modelled, dist, group, lat, lon = _synthetic(n=300)
    measured = measured.copy()
    measured[:7] = np.nan
    with pytest.warns(CitycovWarning, match="7 of 300 measurements"):
        cal = fit_calibration(measured, modelled, dist, group, lat_deg=lat, lon_deg=lon)
    assert cal.provenance["dropped_nonfinite"] == 7 and cal.n_points[POOLED] == 293


def test_sample_model_reads_level_sector_and_distance():
    crs = pyproj.CRS.from_epsg(32649)
    grid = GridSpec.from_bounds((500_000.0, 2_550_000.0, 503_000.0, 2_553_000.0), cell_m=1000.0, crs=crs)
    best = np.full((3, 3, 3), np.nan, dtype=np.float32)
    best[1, 0, 0] = -91.0
    sector = np.full((3, 3, 3), -1, dtype=np.int32)
    sector[1, 0, 0] = 0
    table = pd.DataFrame({"sector_id": ["S1"], "operator": ["CM"]})
    result = CellularResult(best_dbm=best, best_sector=sector, sectors=table, dropped_outside=0)
    sectors = gpd.GeoDataFrame({"sector_id": ["S1"]}, geometry=[shapely.Point(502_500.0, 2_550_500.0)], crs=crs)
    tests = gpd.GeoDataFrame(geometry=[shapely.Point(500_500.0, 2_552_500.0), shapely.Point(502_500.0, 2_550_500.0),
                                       shapely.Point(600_000.0, 2_550_000.0)], crs=crs)
    out = sample_model(result, sectors, grid, tests, technology="4G")
    assert out["modelled_dbm"].iloc[0] == -91.0 and np.isnan(out["modelled_dbm"].iloc[1:]).all()
    assert out["sector_id"].iloc[0] == "S1" and out["sector_operator"].iloc[0] == "CM"
    assert out["distance_km"].iloc[0] == pytest.approx(np.hypot(2.0, 2.0))
    assert pd.isna(out["sector_id"].iloc[2])
