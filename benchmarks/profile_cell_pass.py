#!/usr/bin/env python3
"""Where the time of the fast mode's site goes (benchmark P1: one site, 1", R = 40 km).

Times, in one process and interleaved (the machine is shared: compare ratios), the radial sweep
and the cell pass of the engine against the kernels as they were before issue 15
(``benchmarks/kernels.py``: ``ray_wedge_into_v0``, ``tile_site_levels_v0``), and an ablation of the
old cell pass (``--ablate``): the same loop with one piece at a time left out, so that the
difference is that piece's share.

usage: PYTHONPATH=. python benchmarks/profile_cell_pass.py [--repeat 5] [--dem-dir DIR] [--ablate]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_terrain import P1, load_tile  # noqa: E402
from benchmarks.kernels import tile_site_levels_v0  # noqa: E402
from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, model_loss_db  # noqa: E402
from citycov.engine._terrain_kernels import (  # noqa: E402
    DIFF_KNIFE_EDGE,
    edges_loss_db,
    receiver_edges,
    receiver_samples,
)
from citycov.engine._tile_kernels import (  # noqa: E402
    TWO_PI,
    _row_span,
    attenuation_db,
    elevation_deg,
    grid_windows,
    pattern_coefficients,
    site_constants,
    store_slot,
)

SKIP_ATAN2 = 1
SKIP_EDGES = 2
SKIP_SMOOTH = 4
SKIP_PATTERN = 8
SKIP_STORE = 16
SKIP_MODEL = 32
PARTS = {"atan2 (nearest ray)": SKIP_ATAN2, "receiver edges (fan reads)": SKIP_EDGES,
         "smooth-earth reference": SKIP_SMOOTH, "antenna pattern + elevation": SKIP_PATTERN,
         "store (best, cover, carrier slot)": SKIP_STORE, "model (log10) + J(nu)": SKIP_MODEL}


@njit(cache=True, parallel=True)
def cell_pass_ablated(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile, skip):
    """``tile_site_levels_v0`` with the pieces in the bit mask ``skip`` left out (a cheap stand-in
    keeps the data dependencies, so that the compiler cannot drop the rest)."""
    dem_m, env, active = scene.dem_m, scene.env, scene.active
    cell_m, h_rx_m, earth_radius_m, floor_dbm = scene.cell_m, scene.h_rx_m, scene.earth_radius_m, scene.floor_dbm
    zr, prev, top, hz, ray_lo, n_rays = fan.zr, fan.prev, fan.top, fan.hz, fan.ray_lo, fan.n_rays
    zs, prev_s, top_s, hz_s, smooth_db = smooth.zs, smooth.prev, smooth.top, smooth.hz, smooth.loss_db
    s_model, s_freq_mhz, s_height_m, s_reach_m = sectors.model, sectors.freq_mhz, sectors.height_m, sectors.reach_m
    s_ref_eirp_dbm = sectors.ref_eirp_dbm
    s_tech, s_index, s_bit, s_slot, s_threshold_dbm = (sectors.tech, sectors.index, sectors.bit, sectors.slot,
                                                       sectors.threshold_dbm)
    s_azimuth_deg, s_omni, s_tilt_deg, s_pattern = sectors.azimuth_deg, sectors.omni, sectors.tilt_deg, sectors.pattern
    h_loss, v_loss, pattern_max_loss_db = patterns.h_loss_db, patterns.v_loss_db, patterns.max_loss_db
    front_to_back_db, vertical_sidelobe_db = patterns.front_to_back_db, patterns.vertical_sidelobe_db
    t_row0, t_col0 = tile.row0, tile.col0
    th = tile.car_idx.shape[1]
    tw = tile.car_idx.shape[2]
    best_dbm, best_idx, cover_bits = grid_windows(tile, th, tw)
    car_top, car_idx, car_sum = tile.car_top, tile.car_idx, tile.car_sum
    n_wedge = zr.shape[1]
    n_steps = zr.shape[0] - 1
    n_smooth = zs.shape[0] - 1
    n_sec = s_model.size
    drop = 1.0 / (2.0 * earth_radius_m)
    k_h, k_v = pattern_coefficients(sectors.hbw_deg, sectors.vbw_deg)
    hata_a, hata_b, inv_root_wavelength, reach_env_m = site_constants(sectors, h_rx_m)
    g_clear = -0.78 / inv_root_wavelength.min()
    reach_cells = reach_env_m.max() / cell_m
    r_lo = max(t_row0, int(math.floor(row0 - reach_cells)))
    r_hi = min(t_row0 + th - 1, int(math.ceil(row0 + reach_cells)))
    sink = np.zeros(r_hi + 1 - r_lo)
    for row in prange(r_lo, r_hi + 1):
        i = row - t_row0
        dr = row - row0
        c_first, c_last = _row_span(row, row0, col0, reach_cells, t_col0, tw)
        acc = 0.0
        for c in range(c_first, c_last + 1):
            col = t_col0 + c
            if active[row, col] == 0:
                continue
            z_ground = dem_m[row, col]
            if math.isnan(z_ground):
                continue
            env_c = env[row, col]
            dc = col - col0
            d_cells = math.sqrt(dr * dr + dc * dc)
            if d_cells * cell_m > reach_env_m[env_c]:
                continue
            d_m = max(d_cells * cell_m, MIN_DIST_KM * 1000.0)
            dd = d_m / cell_m
            z_rx = z_ground + h_rx_m
            if skip & SKIP_ATAN2:
                theta = (dc + 3.0 * dr) * 1e-9 + 1.0
            else:
                theta = math.atan2(dc, -dr)
                if theta < 0.0:
                    theta += TWO_PI
            ray = (int(theta / TWO_PI * n_rays + 0.5) % n_rays - ray_lo) % n_rays
            if ray >= n_wedge:
                ray = n_wedge - 1 if ray - n_wedge < n_rays - ray else 0
            kmax = min(receiver_samples(d_cells), n_steps)
            if skip & SKIP_EDGES:
                g_p, g_t, g_r = z_rx - 100.0, -np.inf, -np.inf
            else:
                g_p, g_t, g_r = receiver_edges(zr, prev, top, hz, ray, kmax, dd, z_rx - d_m * d_m * drop, cell_m,
                                               method)
            if g_p <= g_clear:
                g_p = -np.inf
            s_p = -np.inf
            s_t = -np.inf
            s_r = -np.inf
            m0 = min(int(dd), n_smooth)
            m1 = min(m0 + 1, n_smooth)
            w = min(dd - m0, 1.0)
            if g_p > -np.inf and method == DIFF_KNIFE_EDGE and not skip & SKIP_SMOOTH:
                s_p, s_t, s_r = receiver_edges(zs, prev_s, top_s, hz_s, 0, min(kmax, n_smooth), dd,
                                               h_rx_m - d_m * d_m * drop, cell_m, method)
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - z_rx, d_m)
            log_d_km = d_m * 1e-4 if skip & SKIP_MODEL else math.log10(d_m / 1000.0)
            last_freq = -1.0
            base = 0.0
            for j in range(n_sec):
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or s_model[j] != s_model[j - 1]:
                    if s_model[j] == MODEL_TR38901:
                        base = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = hata_a[j, env_c] + hata_b[j] * log_d_km
                    if g_p > -np.inf:
                        if skip & SKIP_MODEL:
                            excess = g_p - s_p * 0.5
                        else:
                            excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                            if method == DIFF_KNIFE_EDGE:
                                excess -= edges_loss_db(s_p, s_t, s_r, inv_root_wavelength[j])
                            else:
                                excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                        base += max(excess, 0.0)
                    last_freq = s_freq_mhz[j]
                if skip & SKIP_PATTERN:
                    att = elev * 1e-6
                else:
                    att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                         v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                level = s_ref_eirp_dbm[j] - att - base
                if skip & SKIP_STORE:
                    acc += level
                else:
                    store_slot(level, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j], s_threshold_dbm[j], floor_dbm,
                               best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
        sink[row - r_lo] = acc
    return sink.sum()


def timed(fn, repeat):
    """Median and all of ``repeat`` timed calls after a warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def interleaved(fns: dict, repeat: int) -> dict:
    """Median seconds per named function, called in turn ``repeat`` times after a warm-up each."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def ablation(p1, repeat: int) -> dict:
    """Old cell pass (knife edge) with each piece left out in turn; share = full − without."""
    from citycov.engine._terrain_kernels import DIFF_KNIFE_EDGE

    fan, smooth = p1.fan_v0(), p1.smooth(DIFF_KNIFE_EDGE)
    fns = {"full": lambda: cell_pass_ablated(p1.scene, p1.row0, p1.col0, p1.z_tx, DIFF_KNIFE_EDGE, fan, smooth,
                                             p1.sectors, p1.patterns, p1.tile, 0)}
    for name, bit in PARTS.items():
        fns[name] = (lambda bit=bit: cell_pass_ablated(p1.scene, p1.row0, p1.col0, p1.z_tx, DIFF_KNIFE_EDGE, fan,
                                                       smooth, p1.sectors, p1.patterns, p1.tile, bit))
    fns["all pieces left out"] = lambda: cell_pass_ablated(p1.scene, p1.row0, p1.col0, p1.z_tx, DIFF_KNIFE_EDGE, fan,
                                                           smooth, p1.sectors, p1.patterns, p1.tile, 63)
    t = interleaved(fns, repeat)
    full = t["full"]
    return {"cell_pass_v0_s": round(full, 4),
            "share_s": {k: round(full - v, 4) for k, v in t.items() if k != "full"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dem-dir", type=Path, default=Path("/tmp/citycov_bench_dem"))
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.dem_dir.mkdir(parents=True, exist_ok=True)
    dem = load_tile(args.dem_dir)
    p1 = P1(dem)
    result: dict = {"n_rays": p1.n_rays, "n_steps": p1.n_steps, "pixels": p1.pixels}
    if args.ablate:
        result["ablation_knife_edge"] = a = ablation(p1, args.repeat)
        print(f"old cell pass (knife edge) {a['cell_pass_v0_s']:.3f} s; time of each piece (full - without):")
        for k, v in a["share_s"].items():
            print(f"   {k:36s} {v:.3f} s")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
