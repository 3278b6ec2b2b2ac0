"""Radial exact mode: ITM (and P.1812) on the prefix profiles of a ray fan.

Every evaluated ray sample must equal the library model on the prefix profile extracted
independently (scipy's bilinear ``map_coordinates``) to 0.01 dB; a cell on a grid axis through
the mast lies on a ray, so the radial and the per-cell geometries give it the same value; the
option is validated and radial is the default."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from citycov import load_scenario
from citycov.config import RadioConfig
from citycov.engine import _radial_exact_kernels
from citycov.engine.exact import (
    ItmParams,
    P1812Params,
    Transmitter,
    exact_loss_window,
    own_profile_radius_cells,
)
from citycov.engine.tiles import fan_size
from citycov.errors import ModelError, ScenarioError
from citycov.propagation.itm import interdecile_hinted, itm_p2p
from citycov.propagation.p1812 import p1812
from tests.test_engine_cellular import ALL_EXACT, grid_of, rough_dem, run, sectors_at

from .conftest import write_scenario

N = 81
N_RAYS = 16  # a multiple of 4: rays 0, 4, 8, 12 run along the grid axes, 2, 6, 10, 14 along the diagonals


@pytest.fixture(scope="module")
def hills():
    """Rough terrain with 400 m of relief (h_sys, hence ITM's effective earth curvature, changes
    along each ray) and a no-data hole crossed by ray 5."""
    dem = rough_dem(N, seed=7, relief_m=400.0).astype(np.float64)
    th = 2 * math.pi * 5 / N_RAYS
    dem[int(round(40 - 30 * math.cos(th))), int(round(40 + 30 * math.sin(th)))] = np.nan
    return dem


def prefix_profile(dem, row0, col0, ray, k, cell_m):
    """The PFL prefix [k, cell_m, z_0 .. z_k] of ray ``ray`` of ``N_RAYS``, bilinear by scipy."""
    th = 2 * math.pi * ray / N_RAYS
    i = np.arange(k + 1)
    z = map_coordinates(dem, [row0 - i * math.cos(th), col0 + i * math.sin(th)], order=1, mode="nearest")
    return np.r_[k, cell_m, z]


ITM_CASES = {
    "900MHz-vertical-mobile": (Transmitter(40.0, 40.0, 90.0, 30.0, 1.5, 900.0), ItmParams()),
    "150MHz-horizontal-broadcast-tails": (Transmitter(40.3, 39.6, 120.0, 100.0, 10.0, 150.0),
                                          ItmParams(climate=1, pol=0, mdvar=3, time=10.0, location=90.0,
                                                    situation=50.0, epsilon=4.0, sigma=0.001)),
    "2100MHz-low-mast-accidental": (Transmitter(39.5, 40.5, 30.0, 10.0, 2.0, 2100.0),
                                    ItmParams(climate=6, n0=350.0, mdvar=1, time=90.0, location=50.0,
                                              situation=90.0)),
}


@pytest.mark.parametrize("name", sorted(ITM_CASES))
def test_every_ray_sample_equals_itm_on_its_prefix(hills, name):
    tx, params = ITM_CASES[name]
    n_steps = 38
    ray_lo = 3  # a wedge of the fan: rays 3 .. 15 and 0 .. 1 (wraps), axis and diagonal rays among them
    n_wedge = 15
    need = np.ones((n_wedge, n_steps + 1), dtype=np.uint8)
    need[:, 0] = 0
    out = np.full(need.shape, -1.0)
    _radial_exact_kernels.itm_fan_loss(hills, tx, params.kernel_params(), N_RAYS, ray_lo, need, out)
    kw = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    worst = 0.0
    for w in range(n_wedge):
        ray = (ray_lo + w) % N_RAYS
        for k in range(1, n_steps + 1):
            pfl = prefix_profile(hills, tx.row0, tx.col0, ray, k, tx.cell_m)
            if np.isnan(pfl[2:]).any():
                assert np.isnan(out[w, k]), (ray, k)
                continue
            ref = itm_p2p(pfl, tx.h_tx_m, tx.h_rx_m, freq_mhz=tx.freq_mhz, **kw).loss_db
            assert out[w, k] == pytest.approx(ref, abs=0.01), (ray, k)
            worst = max(worst, abs(out[w, k] - ref))
    print(f"{name}: largest |radial - itm_p2p(prefix)| = {worst:.2e} dB")
    assert np.isnan(out[(5 - ray_lo) % N_RAYS, 31:]).all()  # ray 5 crosses the hole at 30 cells


@pytest.mark.parametrize("seed", range(4))
def test_hinted_interdecile_is_exact_whatever_the_hint(seed):
    """Against a sort: the k-th smallest and k-th largest, with good, bad, inverted and NaN hints
    and with ties."""
    rng = np.random.default_rng(seed)
    for n, k in ((35, 4), (105, 11), (245, 25)):
        values = rng.normal(0.0, 20.0, n)
        if seed % 2:
            values = np.round(values / 5.0) * 5.0  # many ties
        ranked = np.sort(values)
        want = (ranked[n - k], ranked[k - 1])
        for hint_lo, hint_hi in ((ranked[k + 3], ranked[n - k - 4]), (ranked[0] - 1, ranked[-1] + 1),
                                 (ranked[-1], ranked[0]), (np.nan, np.nan), (ranked[k - 1], ranked[n - k])):
            got = interdecile_hinted(values.copy(), n, k, hint_lo, hint_hi, np.empty(n), np.empty(n))
            assert got == want, (n, k, hint_lo, hint_hi)


def test_only_marked_samples_are_written(hills):
    tx, params = ITM_CASES["900MHz-vertical-mobile"]
    need = np.zeros((N_RAYS, 31), dtype=np.uint8)
    need[0, [3, 17, 30]] = 1
    need[6, 12] = 1
    out = np.full(need.shape, -1.0)
    _radial_exact_kernels.itm_fan_loss(hills, tx, params.kernel_params(), N_RAYS, 0, need, out)
    assert (out[need == 1] > 0).all()
    assert (out[need == 0] == -1.0).all()
    ref = itm_p2p(prefix_profile(hills, tx.row0, tx.col0, 0, 30, tx.cell_m), tx.h_tx_m, tx.h_rx_m,
                  freq_mhz=tx.freq_mhz, **dataclasses.asdict(params)).loss_db
    assert out[0, 30] == pytest.approx(ref, abs=0.01)


def test_p1812_ray_samples_equal_p1812_on_their_prefix(hills):
    tx = Transmitter(40.0, 40.0, 90.0, 30.0, 1.5, 900.0)
    params = P1812Params(time_percent=10.0, location_percent=50.0, clutter_height_m=10.0)
    lat = 23.5
    need = np.zeros((N_RAYS, 31), dtype=np.uint8)
    rays, samples = (0, 2, 4, 9), (2, 3, 7, 18, 30)
    for r in rays:
        need[r, list(samples)] = 1
    out = np.full(need.shape, np.nan)
    _radial_exact_kernels.p1812_fan_loss(hills, tx, params.kernel_params(), lat, N_RAYS, 0, need, out)
    f_ghz = tx.freq_mhz / 1000.0
    sigma_l = (0.024 * f_ghz + 0.52) * tx.cell_m ** 0.28 * 1.0  # u(h) = 1 below the 10 m clutter
    for r in rays:
        for k in samples:
            pfl = prefix_profile(hills, tx.row0, tx.col0, r, k, tx.cell_m)
            ref = p1812(np.arange(k + 1) * tx.cell_m / 1000.0, pfl[2:], np.full(k + 1, 10.0), np.full(k + 1, 4),
                        freq_ghz=f_ghz, p=10.0, pl=50.0, htg_m=tx.h_tx_m, hrg_m=tx.h_rx_m, pol=2, dn=45.0, n0=325.0,
                        phi_t_deg=lat, phi_r_deg=lat, lam_t_deg=113.0, lam_r_deg=113.0, sigma_l_db=sigma_l)
            assert out[r, k] == pytest.approx(ref.lb_db, abs=0.01), (r, k)


@pytest.mark.parametrize("model", ["itm", "p1812"])
def test_axis_cells_equal_the_per_cell_mode(hills, model):
    """A cell on a grid axis through a mast on a cell centre lies on a ray, at an integer number of
    cells: its prefix is its own profile (from 2 cells on; the per-cell mode draws at least two
    intervals), so both geometries give the same loss."""
    dem = np.nan_to_num(hills, nan=50.0)
    tx = Transmitter(40.0, 40.0, 90.0, 30.0, 1.5, 900.0)
    params = ItmParams().kernel_params() if model == "itm" else P1812Params().kernel_params()
    out = {}
    for geometry in ("radial", "cell"):
        out[geometry] = np.full(dem.shape, np.nan)
        exact_loss_window(dem, tx, params, model=model, geometry=geometry, reach_cells=36.0, win_row0=0, win_col0=0,
                          out_loss_db=out[geometry], lat_deg=23.5)
    m = np.arange(2, 37)
    for rows, cols in ((40 - m, 40 + 0 * m), (40 + m, 40 + 0 * m), (40 + 0 * m, 40 - m), (40 + 0 * m, 40 + m)):
        np.testing.assert_allclose(out["radial"][rows, cols], out["cell"][rows, cols], rtol=0, atol=1e-9)
    # the mast's own cell keeps its own profile; all cells within reach are filled, the rest untouched
    assert out["radial"][40, 40] == out["cell"][40, 40]
    rr, cc = np.mgrid[0:N, 0:N]
    inside = np.hypot(rr - 40, cc - 40) <= 36.0
    assert np.isfinite(out["radial"][inside]).all() and np.isnan(out["radial"][~inside]).all()


def test_engine_axis_cells_equal_the_per_cell_mode():
    """Through the tiled engine (radial computed per tile wedge, tiles of 17 cells): the levels
    of on-axis cells equal the per-cell mode's, and the provenance names the geometry."""
    n, cell = 61, 60.0
    dem = rough_dem(n, seed=5, relief_m=150.0)
    grid = grid_of(n, cell)
    sectors = sectors_at(grid, (30, 30), [{"freq_mhz": 900.0}])
    res = {g: run(sectors, dem, grid, mode=ALL_EXACT, exact_geometry=g, tile_cells=17, link=None)
           for g in ("radial", "cell")}
    m = np.arange(2, 30)
    band = 1  # 4G
    for rows, cols in ((30 - m, 30 + 0 * m), (30 + m, 30 + 0 * m), (30 + 0 * m, 30 - m), (30 + 0 * m, 30 + m)):
        np.testing.assert_allclose(res["radial"].best_dbm[band, rows, cols], res["cell"].best_dbm[band, rows, cols],
                                   rtol=0, atol=1e-4)
    served = np.isfinite(res["cell"].best_dbm[band])
    np.testing.assert_array_equal(np.isfinite(res["radial"].best_dbm[band]), served)
    assert any("exact_geometry = 'radial'" in note for note in res["radial"].notes)
    assert any("exact_geometry = 'cell'" in note for note in res["cell"].notes)
    # elsewhere the nearest ray sample stands in for the cell: close, not equal
    delta = np.abs(res["radial"].best_dbm[band] - res["cell"].best_dbm[band])[served]
    assert np.median(delta) < 1.0


def test_radial_results_do_not_depend_on_tile_size():
    n, cell = 61, 60.0
    dem = rough_dem(n, seed=9, relief_m=150.0)
    grid = grid_of(n, cell)
    sectors = sectors_at(grid, (25, 33), [{"freq_mhz": 900.0}, {"freq_mhz": 1800.0, "technology": "5G",
                                                                  "azimuth_deg": 45.0}])
    whole = run(sectors, dem, grid, mode=ALL_EXACT, tile_cells=4096, link=None)
    tiled = run(sectors, dem, grid, mode=ALL_EXACT, tile_cells=16, link=None)
    np.testing.assert_array_equal(whole.best_dbm, tiled.best_dbm)
    np.testing.assert_array_equal(whole.best_sector, tiled.best_sector)


def test_own_profile_radius():
    # 1" cells (29.6 m): the cells nearest to samples 0 and 1 (one interval) keep their own profile
    assert own_profile_radius_cells(29.6) == 1.5
    # 5 m cells: samples 1..3 are nearer than the 20 m shortest path, so round(d) < 4 keeps its own
    assert own_profile_radius_cells(5.0) == 3.5
    n_rays, _ = fan_size(100.0)
    assert n_rays % 4 == 0


def test_default_is_radial_and_bad_geometry_is_refused(tmp_path):
    assert RadioConfig().exact_geometry == "radial"
    (tmp_path / "dummy").mkdir()
    path = write_scenario(tmp_path, radio='exact_geometry = "rays"')
    with pytest.raises(ScenarioError, match=r"\[radio\]\.exact_geometry must be one of .*'radial'.*'cell'.*got 'rays'"):
        load_scenario(path)
    dem = rough_dem(21)
    grid = grid_of(21, 60.0)
    sectors = sectors_at(grid, (10, 10), [{}])
    with pytest.raises(ModelError,
                       match=r"exact_geometry: unknown geometry 'rays'; expected one of \['radial', 'cell'\]"):
        run(sectors, dem, grid, mode=ALL_EXACT, exact_geometry="rays")
    tx = Transmitter(10.0, 10.0, 60.0, 30.0, 1.5, 900.0)
    with pytest.raises(ModelError, match=r"expected one of \['radial', 'cell'\]"):
        exact_loss_window(dem, tx, ItmParams().kernel_params(), model="itm", geometry="fan", reach_cells=5.0,
                          win_row0=0, win_col0=0, out_loss_db=np.zeros((21, 21)))
    with pytest.raises(ModelError, match=r"active must have the terrain's shape \(21, 21\) \(got \(5, 5\)\)"):
        exact_loss_window(dem, tx, ItmParams().kernel_params(), model="itm", geometry="radial", reach_cells=5.0,
                          win_row0=0, win_col0=0, out_loss_db=np.zeros((21, 21)), active=np.ones((5, 5), dtype=bool))


_NO_JIT_SCRIPT = """
import json, numpy as np
from citycov.engine.exact import ItmParams, P1812Params, Transmitter, exact_loss_window
from tests.test_engine_cellular import rough_dem
dem = rough_dem(25, seed=3, relief_m=200.0).astype(np.float64)
out = {}
for model, params in (("itm", ItmParams().kernel_params()), ("p1812", P1812Params().kernel_params())):
    loss = np.full((25, 25), np.nan)
    exact_loss_window(dem, Transmitter(12.3, 11.6, 90.0, 30.0, 1.5, 900.0), params, model=model, geometry="radial",
                      reach_cells=9.0, win_row0=0, win_col0=0, out_loss_db=loss, lat_deg=23.5)
    out[model] = np.nan_to_num(loss, nan=-1.0).tolist()
print(json.dumps(out))
"""


def test_radial_kernels_same_without_jit():
    """The radial kernels run as plain Python (prange as range) and agree with the compiled ones."""
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", _NO_JIT_SCRIPT], env={**os.environ, "NUMBA_DISABLE_JIT": "1"},
                          capture_output=True, text=True, cwd=repo, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    dem = rough_dem(25, seed=3, relief_m=200.0).astype(np.float64)
    for model, params in (("itm", ItmParams().kernel_params()), ("p1812", P1812Params().kernel_params())):
        loss = np.full((25, 25), np.nan)
        exact_loss_window(dem, Transmitter(12.3, 11.6, 90.0, 30.0, 1.5, 900.0), params, model=model,
                          geometry="radial", reach_cells=9.0, win_row0=0, win_col0=0, out_loss_db=loss, lat_deg=23.5)
        np.testing.assert_allclose(got[model], np.nan_to_num(loss, nan=-1.0), rtol=0, atol=1e-9)
