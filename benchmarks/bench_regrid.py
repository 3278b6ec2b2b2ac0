#!/usr/bin/env python3
"""Population raster in another CRS onto the analysis grid: area-exact move against k×k binning.

A 1000 × 1000 EPSG:4326 raster of 3″ cells (WorldPop's resolution, 1 M cells, about 83 × 92 km)
over Guangzhou, moved onto the UTM grid of the embedded districts at ``--cell-m``:

* citycov: :func:`citycov.regrid.move_counts` (each source cell's polygon, transformed, split
  by area over the grid cells), then the exact person weights of the districts
  (:func:`citycov.accounting.population.person_weights`: exactextract in EPSG:4326 and the
  (grid cell, district) pieces);
* baseline: the k × k centre binning citycov used before (copied below, k chosen as it was:
  ceil(4 × source cell / grid cell), 2..16), with the area weights of the grid.

Both measured in one process, kernels compiled first; the district residents of each are
compared with exactextract's exact overlap in the raster's CRS.

usage: python benchmarks/bench_regrid.py [--cell-m 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pyproj
from affine import Affine

from citycov import load_scenario
from citycov.accounting import population as pop_mod
from citycov.grid import GridSpec
from citycov.io.raster import RasterLayer
from citycov.pipeline.inputs import read_inputs
from citycov.regrid import move_counts


def kxk_binning(counts, src_transform, src_crs, grid, oversample=None):
    """citycov's former resample_counts (k × k sub-cell centres binned), verbatim."""
    if oversample is None:
        src_m = abs(src_transform.a) * (111_000.0 if pyproj.CRS(src_crs).is_geographic else 1.0)
        oversample = int(min(16, max(2, np.ceil(4.0 * src_m / grid.cell_m))))
    k = oversample
    frac = (np.arange(k) + 0.5) / k
    to_grid = pyproj.Transformer.from_crs(src_crs, grid.crs, always_xy=True)
    out = np.zeros(grid.shape[0] * grid.shape[1], dtype=np.float64)
    outside = 0.0
    nz_rows = np.flatnonzero(counts.any(axis=1))
    for start in range(0, nz_rows.size, 64):
        block = nz_rows[start:start + 64]
        r_idx, c_idx = np.nonzero(counts[block] > 0)
        r_idx = block[r_idx]
        vals = counts[r_idx, c_idx] / (k * k)
        sub_c = (c_idx[:, None, None] + frac[None, None, :]) * np.ones((1, k, 1))
        sub_r = (r_idx[:, None, None] + frac[None, :, None]) * np.ones((1, 1, k))
        xs = src_transform.c + sub_c * src_transform.a + sub_r * src_transform.b
        ys = src_transform.f + sub_c * src_transform.d + sub_r * src_transform.e
        gx, gy = to_grid.transform(xs.ravel(), ys.ravel())
        gr, gc = grid.rowcol(np.asarray(gx), np.asarray(gy))
        w = np.repeat(vals, k * k)
        inside = grid.contains(gr, gc)
        outside += float(w[~inside].sum())
        np.add.at(out, gr[inside] * grid.shape[1] + gc[inside], w[inside])
    return out.reshape(grid.shape), outside, k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-m", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    inputs = read_inputs(load_scenario())
    d = inputs.districts
    grid = GridSpec.from_bounds(tuple(d.frame.total_bounds), cell_m=args.cell_m, crs=inputs.crs)
    step = 3.0 / 3600.0
    transform = Affine(step, 0.0, 113.0, 0.0, -step, 23.55)
    rng = np.random.default_rng(0)
    counts = rng.gamma(0.6, 12.0, (1000, 1000))
    src_crs = pyproj.CRS("EPSG:4326")
    print(f"source 1000 x 1000 EPSG:4326 cells of 3\"; grid {grid.shape[0]} x {grid.shape[1]} at {args.cell_m:g} m, "
          f"{len(d)} districts")
    area_w = pop_mod.zonal_weights(d, grid, "fraction")

    def ours():
        moved, _, n = move_counts(counts, transform, src_crs, grid)
        layer = RasterLayer(values=moved.astype(np.float32), record=None, synthetic=True, source_counts=counts,
                            source_transform=transform, source_crs=src_crs)
        return pop_mod.person_weights(layer, d, grid, area_w).weights.sums(layer.values), n

    def ours_move_only():
        return move_counts(counts, transform, src_crs, grid)

    def baseline():
        moved, _, k = kxk_binning(counts, transform, src_crs, grid)
        return area_w.sums(moved.astype(np.float32)), k

    (got, n), (old, k) = ours(), baseline()
    layer = RasterLayer(values=np.zeros(grid.shape, np.float32), record=None, synthetic=True, source_counts=counts,
                        source_transform=transform, source_crs=src_crs)
    exact = pop_mod.source_district_totals(layer, d)
    sel = exact > 1000
    t_move = statistics.median(timed(ours_move_only) for _ in range(args.repeat))
    t_ours = statistics.median(timed(ours) for _ in range(args.repeat))
    t_base = statistics.median(timed(baseline) for _ in range(args.repeat))
    print(f"area-exact move ({n} segment(s) per edge)       : {t_move:6.2f} s (median of {args.repeat})")
    print(f"  + exact person weights of the districts   : {t_ours:6.2f} s in all")
    print(f"k x k binning (k = {k}) + area weights        : {t_base:6.2f} s")
    print(f"largest district error vs exact overlap: area-exact {np.max(np.abs(got[sel] / exact[sel] - 1)):.1e}, "
          f"k x k {np.max(np.abs(old[sel] / exact[sel] - 1)):.1e}")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
