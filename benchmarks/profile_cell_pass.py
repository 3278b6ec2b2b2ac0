#!/usr/bin/env python3
"""Where the time of the fast mode's site goes (benchmark P1: one site, 1", R = 40 km).

Times, in one process and interleaved (the machine is shared: compare ratios), the radial sweep
and the cell pass of the engine against the kernels as they were before issue 15
(``benchmarks/kernels.py``: ``ray_wedge_into_v0``, ``tile_site_levels_v0``), and an ablation of the
engine's cell pass (``--ablate``, knife edge): the same loop with one piece at a time left out, so
that the difference is that piece's share.

usage: PYTHONPATH=. python benchmarks/profile_cell_pass.py [--repeat 5] [--dem-dir DIR] [--ablate]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
from numba import njit, prange

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_terrain import P1, interleaved, load_tile  # noqa: E402
from citycov.engine._radio_kernels import MIN_DIST_KM, MODEL_TR38901, model_loss_db  # noqa: E402
from citycov.engine._terrain_kernels import (  # noqa: E402
    DIFF_KNIFE_EDGE,
    edges_loss_db,
    receiver_edges,
    receiver_samples,
)
from citycov.engine._tile_kernels import (  # noqa: E402
    INV_LN10,
    TWO_PI,
    _row_span,
    attenuation_db,
    azimuth_rad,
    elevation_deg,
    grid_windows,
    knife_edge_cell_g,
    knife_edge_excess_db,
    pattern_coefficients,
    site_constants,
    store_slot,
    wedge_column,
)

SKIP_ATAN2 = 1
SKIP_EDGES = 2
SKIP_SMOOTH = 4
SKIP_PATTERN = 8
SKIP_STORE = 16
SKIP_MODEL = 32
PARTS = {"azimuth (polynomial atan2)": SKIP_ATAN2, "terrain g (two rays, fan reads)": SKIP_EDGES,
         "smooth-earth reference": SKIP_SMOOTH, "antenna pattern + elevation": SKIP_PATTERN,
         "store (best, cover, carrier slot)": SKIP_STORE, "model (log10) + J(nu)": SKIP_MODEL}


@njit(cache=True, parallel=True)
def cell_pass_ablated(scene, row0, col0, z_tx_m, method, fan, smooth, sectors, patterns, tile, alt_model,
                      alt_best_dbm, refine, skip):
    """The engine's cell pass (``_tile_kernels._site_levels``) with the pieces in the bit mask ``skip``
    left out; a cheap stand-in keeps the data dependencies, so that the compiler cannot drop the rest."""
    sink = np.zeros(tile.car_idx.shape[1])
    dem_m, env, active, rx_loss_db = scene.dem_m, scene.env, scene.active, scene.rx_loss_db
    cell_m, h_rx_m, earth_radius_m, floor_dbm = scene.cell_m, scene.h_rx_m, scene.earth_radius_m, scene.floor_dbm
    zr, prev, top, hz, hs, ray_lo, n_rays = fan.zr, fan.prev, fan.top, fan.hz, fan.hs, fan.ray_lo, fan.n_rays
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
    horizon = method == DIFF_KNIFE_EDGE and hs.shape[0] > 0  # knife edge on a horizon fan
    n_wedge = hs.shape[1] if horizon else hz.shape[1]
    n_steps = hs.shape[0] - 1 if horizon else hz.shape[0] - 1
    n_smooth = zs.shape[0] - 1
    n_sec = s_model.size
    with_alt = alt_model.size > 0
    drop = 1.0 / (2.0 * earth_radius_m)
    has_rx_loss = rx_loss_db.shape[0] > 0
    k_h, k_v = pattern_coefficients(sectors.hbw_deg, sectors.vbw_deg)
    hata_a, hata_b, inv_root_wavelength, reach_env_m = site_constants(sectors, h_rx_m)
    # the principal edge's g below which ν = g/√λ ≤ −0.78 at every frequency: the terrain
    # adds nothing there, so neither the smooth-earth reference nor J(ν) is needed
    g_clear = -np.inf
    if n_sec > 0:
        g_clear = -0.78 / inv_root_wavelength.min()
    to_rays = n_rays / TWO_PI
    reach_cells = reach_env_m.max() / cell_m
    r_lo = max(t_row0, int(math.floor(row0 - reach_cells)))
    r_hi = min(t_row0 + th - 1, int(math.ceil(row0 + reach_cells)))
    for row in prange(r_lo, r_hi + 1):
        i = row - t_row0
        dr = row - row0
        c_first, c_last = _row_span(row, row0, col0, reach_cells, t_col0, tw)
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
            z_rx_eff = z_rx - d_m * d_m * drop
            theta = (dc + 3.0 * dr) * 1e-9 + 1.0 if skip & SKIP_ATAN2 else azimuth_rad(dr, dc)
            u = theta * to_rays
            kmax = min(receiver_samples(d_cells), n_steps)
            if skip & SKIP_EDGES:
                g_p, g_t, g_r = z_rx - 100.0, -np.inf, -np.inf
            elif horizon:
                g_p, _ = knife_edge_cell_g(dem_m, row0, col0, z_tx_m, hs, ray_lo, n_rays, u, dr, dc, d_cells, kmax,
                                           d_m, z_rx_eff, cell_m, earth_radius_m, refine)
                g_t = -np.inf
                g_r = -np.inf
            else:
                ray = wedge_column(int(u + 0.5), ray_lo, n_rays, n_wedge)
                g_p, g_t, g_r = receiver_edges(zr, prev, top, hz, ray, kmax, dd, z_rx_eff, cell_m, method)
            if g_p <= g_clear:  # ν ≤ −0.78 at every frequency of the site: no terrain loss, no excess
                g_p = -np.inf
            s_p = -np.inf
            m0 = min(int(dd), n_smooth)
            m1 = min(m0 + 1, n_smooth)
            w = min(dd - m0, 1.0)
            if g_p > -np.inf and method == DIFF_KNIFE_EDGE and not skip & SKIP_SMOOTH:
                s_p = receiver_edges(zs, prev_s, top_s, hz_s, 0, min(kmax, n_smooth), dd, h_rx_m - d_m * d_m * drop,
                                     cell_m, method)[0]
            az = math.degrees(theta)
            elev = elevation_deg(z_tx_m - z_rx, d_m)
            log_d_km = d_m * 1e-4 if skip & SKIP_MODEL else math.log(d_m) * INV_LN10 - 3.0
            extra = rx_loss_db[row, col] if has_rx_loss else 0.0
            last_freq = -1.0
            base = 0.0
            terrain = 0.0
            for j in range(n_sec):
                if d_m > s_reach_m[j, env_c]:
                    continue
                if s_freq_mhz[j] != last_freq or s_model[j] != s_model[j - 1]:
                    # median loss + terrain excess: once per run of sectors on one frequency
                    if s_model[j] == MODEL_TR38901:
                        base = model_loss_db(s_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    else:
                        base = hata_a[j, env_c] + hata_b[j] * log_d_km
                    terrain = extra
                    if g_p > -np.inf:
                        if skip & SKIP_MODEL:
                            excess = g_p - s_p * 0.5
                        elif method == DIFF_KNIFE_EDGE:
                            excess = knife_edge_excess_db(g_p * inv_root_wavelength[j], s_p * inv_root_wavelength[j])
                        else:
                            excess = edges_loss_db(g_p, g_t, g_r, inv_root_wavelength[j])
                            excess -= smooth_db[j, m0] * (1.0 - w) + smooth_db[j, m1] * w
                        terrain += max(excess, 0.0)
                    base += terrain
                    last_freq = s_freq_mhz[j]
                if skip & SKIP_PATTERN:
                    att = elev * 1e-6
                else:
                    att = attenuation_db(j, az, elev, s_azimuth_deg, s_omni, s_tilt_deg, k_h, k_v, s_pattern, h_loss,
                                         v_loss, pattern_max_loss_db, front_to_back_db, vertical_sidelobe_db)
                if skip & SKIP_STORE:
                    sink[i] += s_ref_eirp_dbm[j] - att - base
                    continue
                store_slot(s_ref_eirp_dbm[j] - att - base, i, c, s_tech[j], s_index[j], s_bit[j], s_slot[j],
                           s_threshold_dbm[j], floor_dbm, best_dbm, best_idx, cover_bits, car_top, car_idx, car_sum)
                if with_alt and alt_model[j] >= 0:
                    level = s_ref_eirp_dbm[j] - att - terrain - model_loss_db(
                        alt_model[j], s_freq_mhz[j], s_height_m[j], h_rx_m, d_m / 1000.0, env_c)
                    if level >= floor_dbm:
                        cur = alt_best_dbm[s_tech[j], i, c]
                        if math.isnan(cur) or level > cur:
                            alt_best_dbm[s_tech[j], i, c] = level
    return sink.sum()


def ablation(p1, repeat: int) -> dict:
    """The engine's cell pass (knife edge) with each piece left out in turn; share = full − without."""
    fan, smooth = p1.fan_new(DIFF_KNIFE_EDGE), p1.smooth(DIFF_KNIFE_EDGE)
    no_alt, no_alt_best = np.zeros(0, np.int64), np.zeros((0, 0, 0), np.float32)

    def run(skip, refine=True):
        return cell_pass_ablated(p1.scene, p1.row0, p1.col0, p1.z_tx, DIFF_KNIFE_EDGE, fan, smooth, p1.sectors,
                                 p1.patterns, p1.tile, no_alt, no_alt_best, refine, skip)

    fns = {"full": lambda: run(0), "own-profile refinement": lambda: run(0, False)}
    for name, bit in PARTS.items():
        fns[name] = lambda bit=bit: run(bit)
    fns["all pieces left out"] = lambda: run(63, False)
    cpu: dict = {}
    t = interleaved(fns, repeat, cpu)
    return {"cell_pass_s": round(t["full"], 4), "cell_pass_cpu_s": round(cpu["full"], 4),
            "share_s": {k: round(t["full"] - v, 4) for k, v in t.items() if k != "full"},
            "share_cpu_s": {k: round(cpu["full"] - v, 4) for k, v in cpu.items() if k != "full"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dem-dir", type=Path, default=Path(tempfile.gettempdir()) / "citycov_bench_dem")
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--methods", default="", help="comma-separated subset of the diffraction methods")
    args = ap.parse_args()
    args.dem_dir.mkdir(parents=True, exist_ok=True)
    dem = load_tile(args.dem_dir)
    p1 = P1(dem)
    result: dict = {"n_rays": p1.n_rays, "n_steps": p1.n_steps, "pixels": p1.pixels}
    if args.ablate:
        result["ablation_knife_edge"] = a = ablation(p1, args.repeat)
        print(f"cell pass (knife edge) {a['cell_pass_s']:.3f} s wall, {a['cell_pass_cpu_s']:.3f} s CPU; "
              f"each piece (full - without), wall / CPU:")
        for k, v in a["share_s"].items():
            print(f"   {k:36s} {v:.3f} s / {a['share_cpu_s'][k]:.3f} s")
    result["side_by_side"] = sbs = p1.side_by_side(args.repeat, args.methods.split(",") if args.methods else None)
    for name, m in sbs.items():
        c = m["cpu_s"]
        print(f"{name:11s}: wall sweep {m['sweep_v0']:.3f} -> {m['sweep_new']:.3f} s (x{m['sweep_ratio']}), "
              f"cells {m['cells_v0']:.3f} -> {m['cells_new']:.3f} s (x{m['cells_ratio']}), "
              f"site {m['site_v0']:.3f} -> {m['site_new']:.3f} s (x{m['site_ratio']}); CPU sweep "
              f"{c['sweep_v0']:.3f} -> {c['sweep_new']:.3f}, cells {c['cells_v0']:.3f} -> {c['cells_new']:.3f}, "
              f"site {c['site_v0']:.3f} -> {c['site_new']:.3f} s (x{m['site_cpu_ratio']})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
