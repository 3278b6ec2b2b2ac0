#!/usr/bin/env python3
"""Candidate x cell pairs per second of the planner's site matrix (``site_cover``) on the
Guangzhou default, with the ``[plan.sites]`` lattice over the run's coverage gaps.

Per cell size: the base run (``run(sc, keep_context=True)``, without the uncertainty variants,
which the matrix does not read), the lattice (:func:`citycov.planning.candidates.lattice_sites`)
and ``site_cover`` over all candidates or an evenly spaced subset (``--max-candidates``), once
per worker count.  Throughput = candidate x cell pairs evaluated (the evaluated cells within
each candidate's reach) / wall time of ``site_cover``; the columns of every worker count are
checked equal.  Timings share the machine with whatever else runs on it (the load average after
each run is recorded).

Writes ``benchmarks/results/plan_matrix.json`` (one entry per cell size, merged with the
entries already there).

usage: python benchmarks/bench_plan_matrix.py [--cell-m 100] [--max-candidates 0] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "plan_matrix.json"


def measure(cell_m: float, max_candidates: int, workers: list[int]) -> dict:
    import citycov
    from citycov.pipeline.runner import run
    from citycov.planning.candidates import candidate_sectors, lattice_sites
    from citycov.planning.site_matrix import site_cover

    sc = citycov.load_scenario()
    sc = replace(sc, grid=replace(sc.grid, cell_m=cell_m), accounting=replace(sc.accounting, uncertainty=False))
    t0 = time.perf_counter()
    base = run(sc, keep_context=True)
    base_s = time.perf_counter() - t0
    layers = base.context.layers
    config = sc.plan.sites
    t0 = time.perf_counter()
    sites = lattice_sites(grid=base.grid, gaps=base.gaps, district_index=layers.index, dem_m=layers.dem,
                          district_ids=base.districts.ids, config=config)
    lattice_s = time.perf_counter() - t0
    n_all = len(sites)
    if max_candidates and n_all > max_candidates:
        pick = np.unique(np.linspace(0, n_all - 1, max_candidates).round().astype(int))
        sites = sites.iloc[pick]
    sectors = candidate_sectors(sites, crs=base.grid.crs, like=base.context.inputs.sectors)
    entry = {
        "cell_m": cell_m, "grid": list(base.grid.shape), "base_run_s": round(base_s, 1),
        "base_steps_s": {k: round(v, 1) for k, v in base.timings_s.items()},
        "lattice": {"spacing_m": config.spacing_m, "margin_m": config.margin_m,
                    "min_gap_persons": config.min_gap_persons, "candidates": n_all,
                    "dropped": sites.attrs.get("dropped", {}), "seconds": round(lattice_s, 2)},
        "candidates_evaluated": len(sites), "sectors": len(sectors), "runs": {},
    }
    reference = None
    for w in workers:
        t0 = time.perf_counter()
        cover = site_cover(sectors, sites["candidate_id"].tolist(), base, workers=w)
        seconds = time.perf_counter() - t0
        per_candidate = np.asarray(cover.cover.sum(axis=0)).ravel()
        if reference is None:
            reference = cover
        same = bool(np.array_equal(cover.cells, reference.cells) and (cover.cover != reference.cover).nnz == 0)
        entry["runs"][f"workers={w}"] = {
            "seconds": round(seconds, 2), "pairs_evaluated": cover.pairs_evaluated,
            "pairs_per_s": round(cover.pairs_evaluated / seconds), "candidates_per_s": round(len(sites) / seconds, 2),
            "cells_newly_covered_by_some_candidate": int(cover.cells.size), "nonzeros": int(cover.cover.nnz),
            "median_cells_per_candidate": float(np.median(per_candidate)) if per_candidate.size else 0.0,
            "same_as_first": same, "load_average_1min_after": round(os.getloadavg()[0], 2),
        }
        print(f"{cell_m:g} m, workers={w}: {len(sites)} candidates, {cover.pairs_evaluated:,} pairs in {seconds:.1f} s "
              f"= {cover.pairs_evaluated / seconds:,.0f} pairs/s", flush=True)
    return entry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-m", type=float, nargs="+", default=[100.0])
    ap.add_argument("--max-candidates", type=int, default=0, help="evaluate an evenly spaced subset (0: all)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "processor": platform.processor() or platform.machine()}
    for cell_m in args.cell_m:
        results[f"{cell_m:g}m"] = measure(cell_m, args.max_candidates, workers)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
