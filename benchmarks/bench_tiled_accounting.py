#!/usr/bin/env python3
"""District sums of the Guangzhou default tile by tile (citycov.accounting.tiled) against the
whole-grid accounting the pipeline uses, at 100 m and 30 m: time, peak memory, and the largest
relative difference per district.

Both paths start from the same inputs, loaded as the pipeline loads them (the districts in the
analysis CRS, the population raster read onto the grid).  The whole-grid path builds the
``fraction`` rule's area weights and exact person weights of the whole grid
(:func:`citycov.accounting.population.zonal_weights`, :func:`~citycov.accounting.population.person_weights`)
and sums residents, households, residents in a synthetic covered mask and the area.  The tiled
path prepares the polygons once (:func:`~citycov.accounting.tiled.prepare_districts`), then
builds each 512 × 512 tile's person and area weights
(:func:`~citycov.accounting.tiled.tile_person_weights`), sums the same layers over the tile, and combines.
The exact reference is each district's
products weight × value summed by :func:`math.fsum` (whole-grid weights; products rounded alike
in both paths).  Each path runs in its own child process (the figure is its peak RSS above the RSS once the
inputs are loaded); runs alternate whole, tiled, whole, tiled.

usage: python benchmarks/bench_tiled_accounting.py [--cell-m 100 30] [--tile 512] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "tiled_accounting.json"
LAYERS = ["population", "households", "population_covered", "area_km2"]
PERSONS_PER_HOUSEHOLD = 2.38


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _covered(population: np.ndarray, row0: int, col0: int) -> np.ndarray:
    """A synthetic coverage mask, the same cell for cell whatever the window: dense cells, and
    a checkerboard of 16-cell blocks."""
    rows = np.arange(row0, row0 + population.shape[0])[:, None]
    cols = np.arange(col0, col0 + population.shape[1])[None, :]
    return (population > 5.0) | (((rows // 16) + (cols // 16)) % 2 == 0)


def child(method: str, cell_m: float, tile: int) -> dict:
    from citycov import load_scenario
    from citycov.accounting import population as pop_mod
    from citycov.accounting import tiled
    from citycov.io import read_population
    from citycov.pipeline.inputs import read_study_districts
    from citycov.pipeline.layers import build_grid

    sc = load_scenario()
    districts = read_study_districts(sc)
    grid = build_grid(districts, cell_m=cell_m)
    spec = sc.inputs["population"]
    layer = read_population(spec.source, grid, declared_synthetic=spec.synthetic,
                            units=spec.options.get("units", "count"))
    population = layer.values
    area_km2 = grid.cell_area_km2
    base_kb = _rss_kb()
    t0 = time.perf_counter()
    if method == "whole":
        area = pop_mod.zonal_weights(districts, grid, "fraction")
        persons = pop_mod.person_weights(layer, districts, grid, area).weights
        hh = population.astype(np.float64) / PERSONS_PER_HOUSEHOLD
        covered = _covered(population, 0, 0)
        sums = np.column_stack([persons.sums(population), persons.sums(hh), persons.sums(population, covered),
                                area.sums(np.ones(grid.shape, dtype=np.float32)) * area_km2])
        n_tiles = 1
        seconds = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # the exact reference: each district's products weight × value summed by math.fsum
        # (correctly rounded; the products are the same in both paths)
        flat = {"population": (persons, population), "households": (persons, hh),
                "population_covered": (persons, population * covered),
                "area_km2": (area, np.full(grid.shape, area_km2))}
        exact = np.zeros_like(sums)
        for j, name in enumerate(LAYERS):
            w, v = flat[name]
            prod = w.weight * np.asarray(v, dtype=np.float64).reshape(-1)[w.cell]
            order = np.argsort(w.district, kind="stable")
            bounds = np.searchsorted(w.district[order], np.arange(len(districts) + 1))
            prod = prod[order]
            exact[:, j] = [math.fsum(prod[bounds[d]:bounds[d + 1]].tolist()) for d in range(len(districts))]
        return {"method": method, "cell_m": cell_m, "grid_shape": list(grid.shape), "tiles": n_tiles,
                "seconds": seconds, "peak_rss_above_inputs_mb": max(peak_kb - base_kb, 0) / 1024,
                "inputs_rss_mb": base_kb / 1024, "districts": list(districts.frame["district_id"]),
                "sums": sums.tolist(), "exact": exact.tolist()}
    else:
        parts, area_parts = [], []
        wins = tiled.windows(grid.shape, tile)
        prepared = tiled.prepare_districts(districts, source_crs=layer.source_crs)  # once per run
        for k, w in enumerate(wins):
            pop_w = population[w.slices()]
            p = tiled.tile_person_weights(layer, prepared, grid, w, values=pop_w)
            covered = _covered(pop_w, w.row0, w.col0)
            parts.append((k, tiled.person_partial_sums(p, {
                "population": pop_w, "households": pop_w.astype(np.float64) / PERSONS_PER_HOUSEHOLD,
                "population_covered": pop_w * covered})))
            area_parts.append((k, tiled.partial_sums(p.area, {"area": np.full(w.shape, area_km2)})))
        rescale = tiled.person_rescales(layer, grid, "fraction")
        persons_sums, _ = tiled.person_sums(tiled.combine(parts), rescale=rescale)
        sums = np.column_stack([persons_sums, tiled.combine(area_parts)])
        n_tiles = len(wins)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"method": method, "cell_m": cell_m, "grid_shape": list(grid.shape), "tiles": n_tiles,
            "seconds": seconds, "peak_rss_above_inputs_mb": max(peak_kb - base_kb, 0) / 1024,
            "inputs_rss_mb": base_kb / 1024, "districts": list(districts.frame["district_id"]),
            "sums": sums.tolist()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-m", type=float, nargs="+", default=[100.0, 30.0])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "CELL_M"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], float(args.child[1]), args.tile)))
        return
    out = {"machine": platform.processor() or platform.machine(), "tile": args.tile, "layers": LAYERS,
           "command": "python benchmarks/bench_tiled_accounting.py " + " ".join(sys.argv[1:]), "runs": []}
    for cell_m in args.cell_m:
        runs: dict[str, list[dict]] = {"whole": [], "tiled": []}
        for _ in range(args.repeat):
            for method in ("whole", "tiled"):
                res = subprocess.run([sys.executable, __file__, "--tile", str(args.tile), "--child", method,
                                      str(cell_m)], capture_output=True, text=True, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                runs[method].append(r)
                print(f"{cell_m:g} m {method}: {r['seconds']:.1f} s, peak +{r['peak_rss_above_inputs_mb']:.0f} MB "
                      f"(inputs {r['inputs_rss_mb']:.0f} MB), {r['tiles']} tiles", flush=True)
        whole = np.array(runs["whole"][0]["sums"])
        tiled_sums = np.array(runs["tiled"][0]["sums"])
        exact = np.array(runs["whole"][0]["exact"])
        rel = np.abs(tiled_sums - whole) / np.maximum(np.abs(whole), 1e-300)
        rel_whole_exact = np.abs(whole - exact) / np.maximum(np.abs(exact), 1e-300)
        rel_tiled_exact = np.abs(tiled_sums - exact) / np.maximum(np.abs(exact), 1e-300)
        entry = {
            "cell_m": cell_m, "grid_shape": runs["whole"][0]["grid_shape"], "tiles": runs["tiled"][0]["tiles"],
            "whole_seconds": [r["seconds"] for r in runs["whole"]],
            "tiled_seconds": [r["seconds"] for r in runs["tiled"]],
            "time_ratio_tiled_over_whole": min(r["seconds"] for r in runs["tiled"])
            / min(r["seconds"] for r in runs["whole"]),
            "whole_peak_rss_above_inputs_mb": max(r["peak_rss_above_inputs_mb"] for r in runs["whole"]),
            "tiled_peak_rss_above_inputs_mb": max(r["peak_rss_above_inputs_mb"] for r in runs["tiled"]),
            "inputs_rss_mb": runs["whole"][0]["inputs_rss_mb"],
            "max_rel_diff_per_district": dict(zip(runs["whole"][0]["districts"], rel.max(axis=1).tolist(),
                                                  strict=True)),
            "max_rel_diff_per_layer": dict(zip(LAYERS, rel.max(axis=0).tolist(), strict=True)),
            "max_rel_diff": float(rel.max()),
            "max_rel_diff_whole_vs_fsum_per_layer": dict(zip(LAYERS, rel_whole_exact.max(axis=0).tolist(),
                                                            strict=True)),
            "max_rel_diff_tiled_vs_fsum_per_layer": dict(zip(LAYERS, rel_tiled_exact.max(axis=0).tolist(),
                                                            strict=True)),
        }
        out["runs"].append(entry)
        print(json.dumps({k: v for k, v in entry.items() if k != "max_rel_diff_per_district"}), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
