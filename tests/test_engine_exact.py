"""Exact-mode grid kernels (:mod:`citycov.engine._exact_kernels`) against the validated public models.

Reference values never come from the grid kernels: each cell's profile is rebuilt here with
NumPy/SciPy (straight line from the transmitter, n = ceil(d / cell) intervals, at least 2,
bilinear elevations, paths under 20 m drawn 20 m straight along the columns) and evaluated by
:func:`citycov.propagation.itm.itm_p2p` and :func:`citycov.propagation.p1812.p1812`.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from citycov.engine._exact_kernels import itm_loss_grid, p1812_loss_grid
from citycov.engine.exact import ItmKernelParams, P1812KernelParams, Transmitter
from citycov.propagation.itm import itm_p2p
from citycov.propagation.p1812 import p1812

REPO = Path(__file__).resolve().parent.parent
TOL_DB = 0.1  # the exact mode's tolerance against the point-to-point models
CELL_M = 30.0
N_CELLS = 60
TX = (12.3, 20.7)  # transmitter's grid position (row, col)
MIN_PATH_M = 20.0  # the engine's shortest path (citycov.engine._radio_kernels.MIN_DIST_KM)
LAT_DEG, LON_DEG = 23.1, 113.3
M_PER_DEG = 111_195.0
SENTINEL = -999.0

# ~10 cells: the mast's own cell, line of sight up and down the slope, behind the ridge, far corners
CELLS = [(12, 21), (13, 22), (14, 24), (5, 40), (2, 2), (30, 50), (40, 10), (50, 30), (55, 20), (58, 40),
         (45, 58), (25, 5)]

ITM_CASES = {
    "900MHz-broadcast-median": {"h_tx_m": 25.0, "h_rx_m": 1.5, "freq_mhz": 900.0, "climate": 5, "n0": 301.0,
                                "pol": 1, "epsilon": 15.0, "sigma": 0.005, "mdvar": 12, "time": 50.0,
                                "location": 50.0, "situation": 50.0},
    "2600MHz-mobile-90": {"h_tx_m": 40.0, "h_rx_m": 3.0, "freq_mhz": 2600.0, "climate": 6, "n0": 320.0,
                          "pol": 0, "epsilon": 25.0, "sigma": 0.02, "mdvar": 2, "time": 90.0,
                          "location": 80.0, "situation": 70.0},
}

P1812_CASES = {
    "900MHz-inland-open": {"h_tx_m": 25.0, "h_rx_m": 1.5, "freq_mhz": 900.0, "time_percent": 50.0,
                           "location_percent": 50.0, "delta_n": 45.0, "n0": 325.0, "pol": 2, "zone": 4,
                           "clutter_height_m": 0.0},
    "2600MHz-coastal-clutter-pL90": {"h_tx_m": 40.0, "h_rx_m": 1.5, "freq_mhz": 2600.0, "time_percent": 10.0,
                                     "location_percent": 90.0, "delta_n": 50.0, "n0": 330.0, "pol": 1,
                                     "zone": 3, "clutter_height_m": 10.0},
    "450MHz-sea-p1-pL20": {"h_tx_m": 30.0, "h_rx_m": 5.0, "freq_mhz": 450.0, "time_percent": 1.0,
                           "location_percent": 20.0, "delta_n": 40.0, "n0": 320.0, "pol": 1, "zone": 1,
                           "clutter_height_m": 0.0},
}


def make_dem(dtype=np.float64) -> np.ndarray:
    """A gentle slope rising to the east (0.8 m per cell) with a 45 m diagonal ridge across it."""
    r, c = np.mgrid[0:N_CELLS, 0:N_CELLS].astype(np.float64)
    return (40.0 + 0.8 * c + 45.0 * np.exp(-(((r - 0.6 * c - 30.0) / 3.0) ** 2))).astype(dtype)


def ref_profile(dem, row0, col0, row, col, cell_m):
    """(n, d_m, z): the exact mode's profile of cell (row, col), built independently."""
    d_m = math.hypot(row - row0, col - col0) * cell_m
    if d_m < MIN_PATH_M:
        d_m = MIN_PATH_M
        row, col = row0, col0 + MIN_PATH_M / cell_m
    n = max(2, math.ceil(d_m / cell_m))
    t = np.arange(n + 1) / n
    coords = np.vstack([row0 + t * (row - row0), col0 + t * (col - col0)])
    z = map_coordinates(np.asarray(dem, dtype=np.float64), coords, order=1, mode="nearest")
    inside = (coords >= 0).all(axis=0) & (coords[0] <= dem.shape[0] - 1) & (coords[1] <= dem.shape[1] - 1)
    # bilinear weights touching a no-data corner make the sample no data
    r0 = np.minimum(np.floor(coords[0]).astype(int), dem.shape[0] - 2)
    c0 = np.minimum(np.floor(coords[1]).astype(int), dem.shape[1] - 2)
    corners = (np.isnan(dem[r0, c0]) | np.isnan(dem[r0 + 1, c0]) | np.isnan(dem[r0, c0 + 1])
               | np.isnan(dem[r0 + 1, c0 + 1]))
    z[corners | ~inside] = np.nan
    return n, d_m, z


def ref_itm(dem, row, col, case):
    n, d_m, z = ref_profile(dem, *TX, row, col, CELL_M)
    if np.isnan(z).any():
        return math.nan
    kw = {k: v for k, v in case.items() if k not in ("h_tx_m", "h_rx_m")}
    return itm_p2p([n, d_m / n, *z], case["h_tx_m"], case["h_rx_m"], **kw).loss_db


def ref_p1812(dem, row, col, case):
    n, d_m, z = ref_profile(dem, *TX, row, col, CELL_M)
    d_km = np.linspace(0.0, d_m / 1000.0, n + 1)
    # real coordinates of the receiver (rows run south): the path centre is then the true one
    lat_r = LAT_DEG - (row - TX[0]) * CELL_M / M_PER_DEG
    lon_r = LON_DEG + (col - TX[1]) * CELL_M / (M_PER_DEG * math.cos(math.radians(LAT_DEG)))
    # P.1812-6 location variability for a one-cell square receiver area (ITU-R SG3 stdDev)
    f_ghz = case["freq_mhz"] / 1000.0
    u = float(np.clip(1.0 - (case["h_rx_m"] - case["clutter_height_m"]) / 10.0, 0.0, 1.0))
    sigma_l = (0.024 * f_ghz + 0.52) * CELL_M ** 0.28 * u
    res = p1812(d_km, z, np.full(n + 1, case["clutter_height_m"]), np.full(n + 1, case["zone"]), freq_ghz=f_ghz,
                p=case["time_percent"], pl=case["location_percent"], htg_m=case["h_tx_m"], hrg_m=case["h_rx_m"],
                pol=case["pol"], dn=case["delta_n"], n0=case["n0"], phi_t_deg=LAT_DEG, phi_r_deg=lat_r,
                lam_t_deg=LON_DEG, lam_r_deg=lon_r, sigma_l_db=sigma_l)
    return res.lb_db


def run_itm(dem, case, reach_cells, win_row0=0, win_col0=0, shape=None, tx=TX, cell_m=CELL_M):
    out = np.full(shape or dem.shape, SENTINEL)
    itm = ItmKernelParams(case["climate"], case["n0"], case["pol"], case["epsilon"], case["sigma"], case["mdvar"],
                          case["time"], case["location"], case["situation"])
    itm_loss_grid(dem, Transmitter(tx[0], tx[1], cell_m, case["h_tx_m"], case["h_rx_m"], case["freq_mhz"]), itm,
                  reach_cells, win_row0, win_col0, out)
    return out


def run_p1812(dem, case, reach_cells, win_row0=0, win_col0=0, shape=None, tx=TX, cell_m=CELL_M):
    out = np.full(shape or dem.shape, SENTINEL)
    p1812 = P1812KernelParams(case["time_percent"], case["location_percent"], case["delta_n"], case["n0"], case["pol"],
                              case["zone"], case["clutter_height_m"])
    p1812_loss_grid(dem, Transmitter(tx[0], tx[1], cell_m, case["h_tx_m"], case["h_rx_m"], case["freq_mhz"]), p1812,
                    LAT_DEG, reach_cells, win_row0, win_col0, out)
    return out


@pytest.fixture(scope="module")
def dem():
    return make_dem()


@pytest.fixture(scope="module")
def itm_grids(dem):
    return {name: run_itm(dem, case, 100.0) for name, case in ITM_CASES.items()}


@pytest.fixture(scope="module")
def p1812_grids(dem):
    return {name: run_p1812(dem, case, 100.0) for name, case in P1812_CASES.items()}


# ----------------------------------------------------------------------------- 1. against the models


@pytest.mark.parametrize("name", ITM_CASES)
def test_itm_grid_matches_itm_p2p(dem, itm_grids, name):
    got = np.array([itm_grids[name][r, c] for r, c in CELLS])
    ref = np.array([ref_itm(dem, r, c, ITM_CASES[name]) for r, c in CELLS])
    assert np.isfinite(ref).all()
    diff = np.abs(got - ref)
    print(f"ITM {name}: max |grid - itm_p2p| = {diff.max():.2e} dB over {len(CELLS)} cells")
    assert diff.max() < TOL_DB, dict(zip(CELLS, diff.round(3), strict=True))


@pytest.mark.parametrize("name", P1812_CASES)
def test_p1812_grid_matches_p1812(dem, p1812_grids, name):
    got = np.array([p1812_grids[name][r, c] for r, c in CELLS])
    ref = np.array([ref_p1812(dem, r, c, P1812_CASES[name]) for r, c in CELLS])
    assert np.isfinite(ref).all()
    diff = np.abs(got - ref)
    print(f"P.1812 {name}: max |grid - p1812| = {diff.max():.2e} dB over {len(CELLS)} cells")
    assert diff.max() < TOL_DB, dict(zip(CELLS, diff.round(3), strict=True))


def test_ridge_shadow_costs_loss(itm_grids, p1812_grids):
    """Sanity of the synthetic terrain: a cell behind the ridge loses more than a nearer-by clear one."""
    for grid in (*itm_grids.values(), *p1812_grids.values()):
        assert grid[50, 30] > grid[30, 50] + 5.0


# ----------------------------------------------------------------------------- 2. reach and no data


def test_cells_beyond_reach_untouched(dem):
    reach = 17.5
    rows, cols = np.mgrid[0:N_CELLS, 0:N_CELLS]
    inside = np.hypot(rows - TX[0], cols - TX[1]) <= reach
    for out in (run_itm(dem, ITM_CASES["900MHz-broadcast-median"], reach),
                run_p1812(dem, P1812_CASES["900MHz-inland-open"], reach)):
        assert (out[~inside] == SENTINEL).all()
        assert np.isfinite(out[inside]).all()
        assert (out[inside] > 0.0).all()


def test_no_data_on_path_gives_nan(dem, itm_grids, p1812_grids):
    holed = dem.astype(np.float32)  # also exercises a float32 DEM
    holed[30, 30] = np.nan
    touched = np.array([[np.isnan(ref_profile(holed, *TX, r, c, CELL_M)[2]).any() for c in range(N_CELLS)]
                        for r in range(N_CELLS)])
    assert touched[45, 38]  # a path right over the hole
    assert touched.sum() < 0.2 * touched.size
    itm_name, p1812_name = "900MHz-broadcast-median", "900MHz-inland-open"
    for out, intact in ((run_itm(holed, ITM_CASES[itm_name], 100.0), itm_grids[itm_name]),
                        (run_p1812(holed, P1812_CASES[p1812_name], 100.0), p1812_grids[p1812_name])):
        assert np.isnan(out[touched]).all()
        # elsewhere (rows shared with NaN cells included) as on the intact DEM, up to float32 heights
        np.testing.assert_allclose(out[~touched], intact[~touched], atol=0.05)


# ----------------------------------------------------------------------------- 3. flat earth


def test_p1812_flat_short_path_near_free_space():
    cell_m = 20.0
    flat = np.full((41, 41), 10.0)
    case = {**P1812_CASES["900MHz-inland-open"], "h_tx_m": 30.0, "h_rx_m": 1.5}
    out = run_p1812(flat, case, 15.0, tx=(20.0, 20.0), cell_m=cell_m)
    d_km = 10 * cell_m / 1000.0
    fspl_db = 32.45 + 20.0 * math.log10(case["freq_mhz"]) + 20.0 * math.log10(d_km)
    lb = out[20, 30]
    print(f"P.1812 flat 200 m: Lb = {lb:.3f} dB, free space {fspl_db:.3f} dB")
    assert lb >= fspl_db
    assert lb - fspl_db < 3.0
    assert out[20, 30] == pytest.approx(out[30, 20], abs=1e-9)  # same distance, another bearing


# ----------------------------------------------------------------------------- 4. window offset


def test_window_offset_matches_whole_grid(dem, itm_grids, p1812_grids):
    win_row0, win_col0, shape = 7, 31, (17, 23)
    for name, case in ITM_CASES.items():
        win = run_itm(dem, case, 100.0, win_row0, win_col0, shape)
        np.testing.assert_array_equal(win, itm_grids[name][win_row0:win_row0 + shape[0], win_col0:win_col0 + shape[1]])
    name = "900MHz-inland-open"
    win = run_p1812(dem, P1812_CASES[name], 100.0, win_row0, win_col0, shape)
    np.testing.assert_array_equal(win, p1812_grids[name][win_row0:win_row0 + shape[0], win_col0:win_col0 + shape[1]])
    # a window straddling the reach circle: inside cells as in the whole grid, others untouched
    reach = 20.0
    whole = run_itm(dem, ITM_CASES["900MHz-broadcast-median"], reach)
    win = run_itm(dem, ITM_CASES["900MHz-broadcast-median"], reach, 25, 10, (12, 30))
    np.testing.assert_array_equal(win, whole[25:37, 10:40])
    assert (win == SENTINEL).any()
    assert (win != SENTINEL).any()


# ----------------------------------------------------------------------------- without JIT

_NO_JIT_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {tests!r})
import test_engine_exact as t
dem = np.ascontiguousarray(t.make_dem()[:20, :24])
out = {{"itm": t.run_itm(dem, t.ITM_CASES["900MHz-broadcast-median"], 9.0).tolist(),
        "p1812": t.run_p1812(dem, t.P1812_CASES["2600MHz-coastal-clutter-pL90"], 9.0).tolist()}}
print(json.dumps(out))
"""


def test_same_without_jit():
    """The kernels run as plain Python (prange as range) and agree with the compiled ones."""
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    proc = subprocess.run([sys.executable, "-c", _NO_JIT_SCRIPT.format(tests=str(REPO / "tests"))], env=env,
                          capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    dem = np.ascontiguousarray(make_dem()[:20, :24])  # C layout: no new compilation
    np.testing.assert_allclose(got["itm"], run_itm(dem, ITM_CASES["900MHz-broadcast-median"], 9.0), atol=1e-9)
    np.testing.assert_allclose(got["p1812"], run_p1812(dem, P1812_CASES["2600MHz-coastal-clutter-pL90"], 9.0),
                               atol=1e-9)
