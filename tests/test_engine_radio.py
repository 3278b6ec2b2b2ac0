"""Coverage-engine kernels and wrappers: hand cases, invariants and output contracts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citycov.engine import _radio_kernels
from citycov.engine.cellular import environment_classes, select_models
from citycov.errors import ModelError
from tests import oracles_engine


def test_model_selection_by_band_and_refusal():
    ids = np.array(["a", "b", "c"])
    freq = np.array([900.0, 1800.0, 3500.0])
    assert list(select_models(freq, "auto", sector_ids=ids)) == [
        _radio_kernels.MODEL_OKUMURA_HATA, _radio_kernels.MODEL_COST231, _radio_kernels.MODEL_TR38901]
    with pytest.raises(ModelError, match=r"covers 150-1500 MHz but sectors \['b', 'c'\]"):
        select_models(freq, "okumura_hata", sector_ids=ids)


def test_environment_classes_from_density():
    from citycov.grid import GridSpec

    grid = GridSpec.from_bounds((0, 0, 400, 100), cell_m=100.0, crs=__import__("pyproj").CRS("EPSG:32649"))
    pop = np.array([[200.0, 50.0, 5.0, 0.5]])  # 20,000 / 5,000 / 500 / 50 per km²
    env = environment_classes(pop, grid, {"dense_urban": 15000, "urban": 4000, "suburban": 100})
    assert env.tolist() == [[0, 1, 2, 3]]


def test_reach_is_where_loss_meets_budget():
    d = _radio_kernels.reach_km(_radio_kernels.MODEL_OKUMURA_HATA, 900.0, 30.0, 1.5, 140.0, 20.0, 2)
    loss = _radio_kernels.model_loss_db(_radio_kernels.MODEL_OKUMURA_HATA, 900.0, 30.0, 1.5, d, 2)
    assert loss == pytest.approx(140.0, abs=1e-6)
    assert _radio_kernels.reach_km(_radio_kernels.MODEL_OKUMURA_HATA, 900.0, 30.0, 1.5, 400.0, 20.0, 2) == 20.0
    # more loss tolerated -> longer reach; open land reaches further than urban
    cost231 = _radio_kernels.MODEL_COST231
    assert (_radio_kernels.reach_km(cost231, 1800.0, 30.0, 1.5, 150.0, 20.0, 1)
            > _radio_kernels.reach_km(cost231, 1800.0, 30.0, 1.5, 140.0, 20.0, 1))
    assert (_radio_kernels.reach_km(cost231, 1800.0, 30.0, 1.5, 140.0, 20.0, 3)
            > _radio_kernels.reach_km(cost231, 1800.0, 30.0, 1.5, 140.0, 20.0, 1))


def test_bilinear_hand_case():
    g = np.array([[0.0, 10.0], [20.0, 30.0]])
    assert _radio_kernels.bilinear(g, 0.5, 0.5) == pytest.approx(15.0)
    assert _radio_kernels.bilinear(g, 0.0, 1.0) == pytest.approx(10.0)
    assert math.isnan(_radio_kernels.bilinear(g, -0.1, 0.0))


def test_horizon_fan_flat_and_ridge():
    dem = np.full((41, 41), 10.0)
    k_re = 4 / 3 * 6_371_000.0
    slope, dist = oracles_engine.horizon_fan(dem, 20.0, 20.0, 40.0, 100.0, 16, 15, k_re)
    assert slope.shape == (16, 16) and dist.shape == (16, 16)
    # flat ground: the steepest sample is always the last one (below the radio horizon)
    assert np.allclose(dist[:, 1:], np.arange(1, 16) * 100.0)
    dem[:, 25] = 110.0  # ridge 500 m east
    slope, dist = oracles_engine.horizon_fan(dem, 20.0, 20.0, 40.0, 100.0, 16, 15, k_re)
    east = 4  # ray 4 of 16 points east
    assert dist[east, 15] == pytest.approx(500.0)
    assert slope[east, 15] == pytest.approx((110.0 - 500.0**2 / (2 * k_re) - 40.0) / 500.0)
    west = 12
    assert dist[west, 15] == pytest.approx(1500.0)


def test_site_coverage_touches_only_cells_within_reach_and_keeps_inputs():
    n = 101
    dem = np.full((n, n), 10.0)
    env = np.full((n, n), 2, dtype=np.int64)
    k_re = 4 / 3 * 6_371_000.0
    dem_before = dem.copy()
    reach_m = np.array([[1500.0, 1500.0, 1500.0, 1500.0]])
    slope, dist = oracles_engine.horizon_fan(dem, 50.0, 50.0, 40.0, 100.0, 64, 15, k_re)
    best = np.full((3, n, n), np.nan, dtype=np.float32)
    idx = np.full((3, n, n), -1, dtype=np.int32)
    oracles_engine.site_coverage(dem, env, 50.0, 50.0, 10.0, 40.0, 100.0, 1.5, k_re, slope, dist,
                          np.array([_radio_kernels.MODEL_OKUMURA_HATA]), np.array([900.0]), np.array([30.0]),
                          np.array([30.0]), np.array([0.0]), np.array([True]), np.array([0.0]), np.array([360.0]),
                          np.array([65.0]),
                          reach_m, np.array([1]), np.array([7]), 30.0, 30.0, -200.0, best, idx, np.array([0]),
                          np.array([-105.0]), np.zeros((n, n), dtype=np.uint64))
    rows, cols = np.nonzero(idx[1] == 7)
    d = np.hypot(rows - 50, cols - 50) * 100.0
    assert d.max() <= 1500.0 and len(rows) == int((np.hypot(*np.mgrid[-50:51, -50:51]) * 100 <= 1500).sum())
    assert np.isnan(best[0]).all() and np.isnan(best[2]).all()
    assert np.array_equal(dem, dem_before)
    # level falls with distance along a radial (omni, flat)
    east = best[1, 50, 51:66]
    assert np.all(np.diff(east) < 0)


def test_stronger_sector_wins_best_server():
    n = 41
    dem = np.full((n, n), 0.0)
    env = np.full((n, n), 1, dtype=np.int64)
    k_re = 4 / 3 * 6_371_000.0
    slope, dist = oracles_engine.horizon_fan(dem, 20.0, 20.0, 30.0, 100.0, 64, 20, k_re)
    best = np.full((3, n, n), np.nan, dtype=np.float32)
    idx = np.full((3, n, n), -1, dtype=np.int32)
    two = np.array([_radio_kernels.MODEL_COST231, _radio_kernels.MODEL_COST231])
    oracles_engine.site_coverage(dem, env, 20.0, 20.0, 0.0, 30.0, 100.0, 1.5, k_re, slope, dist, two,
                          np.array([1800.0, 1800.0]), np.array([30.0, 30.0]), np.array([20.0, 30.0]),
                          np.array([90.0, 270.0]), np.array([False, False]), np.array([0.0, 0.0]),
                          np.array([65.0, 65.0]), np.array([10.0, 10.0]), np.full((2, 4), 2000.0),
                          np.array([1, 1]), np.array([0, 1]), 30.0, 30.0,
                          -200.0, best, idx, np.array([0, 1]), np.array([-105.0, -105.0]),
                          np.zeros((n, n), dtype=np.uint64))
    assert idx[1, 20, 30] == 0  # east: sector 0 points east
    assert idx[1, 20, 10] == 1  # west: sector 1 points west
