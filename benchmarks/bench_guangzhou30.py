#!/usr/bin/env python3
"""P3: the engine over Guangzhou at 30 m, wall time and peak RSS, in fresh processes.

Setup (not timed): the embedded default's inputs are read and its layers built at 30 m (terrain
reprojected to the grid, environment classes from the population grid, and the evaluated cells:
those of the districts, 8.27 M, dilated by 2 cells; the issue's "about 8.3 M cells"; the default
run itself evaluates 1 km around the districts), then saved as ``.npy`` files in a cache folder.
Each measured job is a fresh Python process that loads them (memory-mapped, so they count in the
RSS only as far as the engine touches them) plus the sector table, and calls
:func:`citycov.engine.cellular.cellular_coverage` once with SINR and speed tiers, knife-edge terrain
diffraction and the default's reach limit.  Wall time counts the engine call only; peak
RSS (``ru_maxrss``) is the whole process.  A warm-up job first fills the Numba cache.

Jobs
----
``issue``   about 3,000 sites x 3 sectors on one carrier (the issue's P3 job): 3,000 of the
            default's 3,605 site positions drawn with a fixed seed, three sectors each
            (azimuths 0/120/240, 1,895 MHz LTE, 61 dBm EIRP, masts of at least 25 m).
``default`` the default network as shipped: 3,605 sites, 25,410 sectors on 12 carriers (P3).
``default_band`` the same engine call with the uncertainty band's alternative model in its tile
            pass (``alt_model``): its extra time over ``default`` is the band's model variant.
``demo``    ``make demo``: ``citycov run --out <tmp>`` on the embedded default (30 m, with the
            uncertainty band and every output), wall time of the whole process, and the time of
            each pipeline step from its log.

The warm-up before each measured engine job runs the same job on a few sectors (it only fills
the Numba cache); ``demo`` runs once after the engine jobs have filled it.

Writes ``benchmarks/results/guangzhou30.json``, keeping the keys of jobs not run this time.

usage: python benchmarks/bench_guangzhou30.py [--jobs issue,default,default_band,demo] [--cell-m 30] [--tile 512]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "guangzhou30.json"
TARGET_S = 60.0
TARGET_RSS_GB = 2.0


def prepare(cache: Path, cell_m: float) -> None:
    import numpy as np
    import scipy.ndimage as ndi

    import citycov
    from citycov.pipeline.inputs import read_inputs
    from citycov.pipeline.layers import build_layers

    scenario = citycov.load_scenario(ROOT / "data" / "guangzhou.toml")
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=cell_m, rule=scenario.accounting.zonal_rule)
    active = ndi.binary_dilation(layers.index >= 0, iterations=2)
    np.save(cache / "dem.npy", layers.dem.astype(np.float32))
    np.save(cache / "env.npy", layers.env.astype(np.int8))
    np.save(cache / "active.npy", active.astype(np.uint8))
    inputs.sectors.to_pickle(cache / "sectors.pkl")
    (cache / "grid.json").write_text(json.dumps({
        "cell_m": layers.grid.cell_m, "transform": list(layers.grid.transform)[:6],
        "shape": list(layers.grid.shape), "crs": layers.grid.crs.to_wkt(),
        "active_cells": int(active.sum()), "cells": int(active.size)}))


def load_prepared(cache: Path):
    """What :func:`prepare` saved: the grid's metadata, the grid, terrain, environment classes and
    evaluated cells (memory-mapped) and the sector table."""
    import numpy as np
    import pandas as pd
    import pyproj
    from affine import Affine

    from citycov.grid import GridSpec

    meta = json.loads((cache / "grid.json").read_text())
    grid = GridSpec(transform=Affine(*meta["transform"]), shape=tuple(meta["shape"]),
                    crs=pyproj.CRS.from_wkt(meta["crs"]))
    dem = np.load(cache / "dem.npy", mmap_mode="r")
    env = np.load(cache / "env.npy", mmap_mode="r")
    active = np.load(cache / "active.npy", mmap_mode="r")
    return meta, grid, dem, env, active, pd.read_pickle(cache / "sectors.pkl")


def issue_sectors(sectors):
    """About 3,000 sites x 3 sectors on one LTE carrier, from the default's site positions."""
    import numpy as np
    import pandas as pd

    sites = sectors.drop_duplicates("site_id").sort_values("site_id").reset_index(drop=True)
    rng = np.random.default_rng(3000)
    pick = np.sort(rng.choice(len(sites), size=min(3000, len(sites)), replace=False))
    sites = sites.iloc[pick].reset_index(drop=True)
    rows = []
    for _, s in sites.iterrows():
        for k, az in enumerate((0.0, 120.0, 240.0)):
            r = s.copy()
            r["sector_id"] = f"{s['site_id']}-L{k}"
            r["operator"] = "bench"
            r["technology"] = "4G"
            r["freq_mhz"] = 1895.0
            r["bandwidth_mhz"] = 20.0
            r["eirp_dbm"] = 61.0
            r["azimuth_deg"] = az
            r["omni"] = False
            r["height_m"] = max(float(s["height_m"]), 25.0)
            rows.append(r)
    return type(sectors)(pd.DataFrame(rows), geometry="geometry", crs=sectors.crs)


def job(cache: Path, which: str, tile: int, out: Path, warm_up: bool = False) -> None:
    import resource

    import numpy as np

    import citycov
    from citycov.engine import cellular as radio
    from citycov.engine.linkbudget import LinkParams

    meta, grid, dem, env, active, sectors = load_prepared(cache)
    if which == "issue":
        sectors = issue_sectors(sectors)
    if warm_up:  # compiles or loads every kernel the job calls
        sectors = sectors.iloc[::max(1, len(sectors) // 40)].reset_index(drop=True)
    scenario = citycov.load_scenario(ROOT / "data" / "guangzhou.toml")
    alt_model = scenario.accounting.alternative_model if which == "default_band" else None
    cfg = scenario.radio
    limit = ({"neighbours": cfg.reach_neighbours, "factor": cfg.reach_factor, "min_km": cfg.reach_min_km}
             if cfg.reach_neighbours else None)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    use0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = radio.cellular_coverage(sectors, dem, env, grid, dataclasses.replace(cfg, tile_cells=tile), active=active,
                                  link=LinkParams(loading=cfg.cell_loading, noise_figure_db=cfg.noise_figure_db),
                                  alt_model=alt_model)
    wall = time.perf_counter() - t0
    use1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (use1.ru_utime - use0.ru_utime) + (use1.ru_stime - use0.ru_stime)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    served = np.isfinite(res.best_dbm).any(axis=0) & (active != 0)
    out.write_text(json.dumps({
        "job": which, "sites": int(sectors["site_id"].nunique()), "sectors": len(sectors),
        "carriers": len(res.carriers), "tile_cells": tile, "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 1), "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "peak_rss_gb": round(rss, 3), "rss_before_engine_gb": round(rss0, 3),
        "active_cells": meta["active_cells"], "grid_cells": meta["cells"],
        "served_share_of_active": round(float(served.sum() / max(meta["active_cells"], 1)), 4),
        "diffraction": cfg.diffraction, "reach_limit": limit, "alt_model": alt_model,
    }))


def demo(out: Path) -> dict:
    """``make demo``: the embedded default with the band and every output, in a fresh process."""
    import re
    import resource

    use0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "citycov", "run", "--no-progress", "--out", str(out / "demo")],
                          check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    use1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (use1.ru_utime - use0.ru_utime) + (use1.ru_stime - use0.ru_stime)
    steps = {}
    for line in (proc.stderr + proc.stdout).splitlines():  # "HH:MM:SS INFO <step> done in 12.34 s" (runner)
        m = re.match(r"\S+ INFO (.+) done in ([0-9.]+) s$", line)
        if m:
            steps[m.group(1).strip()] = float(m.group(2))
    return {"job": "demo", "command": "citycov run --out <tmp> (make demo)", "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1), "load_average_after": [round(v, 2) for v in os.getloadavg()],
            "meets_target_180_s": wall <= 180.0, "steps_s": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="issue,default")
    ap.add_argument("--cell-m", type=float, default=30.0)
    ap.add_argument("--tile", type=int, default=0, help="tile side in cells (0: the engine's default)")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--_job", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_warm", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    from citycov.engine.tiles import TILE_CELLS

    tile = args.tile or TILE_CELLS
    if args._job:
        job(args.cache, args._job, tile, args._out, warm_up=args._warm)
        return
    cache = args.cache or Path(tempfile.mkdtemp(prefix="citycov-p3-"))
    if not (cache / "grid.json").exists():
        t0 = time.perf_counter()
        prepare(cache, args.cell_m)
        print(f"prepared layers at {args.cell_m:g} m in {time.perf_counter() - t0:.0f} s ({cache})", flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("jobs", {})
    results.update({"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "load_average_at_start": list(os.getloadavg())},
                    "cell_m": args.cell_m, "targets": {"wall_s": TARGET_S, "peak_rss_gb": TARGET_RSS_GB,
                                                       "demo_s": 180.0}})
    for which in args.jobs.split(","):
        if which == "demo":
            with tempfile.TemporaryDirectory() as tmp:
                r = demo(Path(tmp))
            results["jobs"]["demo"] = r
            print(json.dumps(r), flush=True)
            continue
        for attempt in ("warm-up", "measured"):
            out = cache / f"{which}.json"
            cmd = [sys.executable, __file__, "--_job", which, "--cache", str(cache), "--_out", str(out),
                   "--tile", str(tile)] + (["--_warm"] if attempt == "warm-up" else [])
            subprocess.run(cmd, check=True)
            if attempt == "measured":
                r = json.loads(out.read_text())
                r["meets_wall_target"] = r["wall_s"] <= TARGET_S
                r["meets_rss_target"] = r["peak_rss_gb"] <= TARGET_RSS_GB
                if which in results["jobs"] and "wall_s" in results["jobs"][which]:
                    r["previous_wall_s"] = results["jobs"][which].get("wall_s")
                results["jobs"][which] = r
                print(json.dumps(r), flush=True)
    jobs = results["jobs"]
    if "default" in jobs and "default_band" in jobs:
        extra = jobs["default_band"]["wall_s"] - jobs["default"]["wall_s"]
        results["band_model_variant"] = {"extra_engine_s": round(extra, 1),
                                         "share_of_base_engine": round(extra / jobs["default"]["wall_s"], 3)}
        if "cpu_s" in jobs["default"] and "cpu_s" in jobs["default_band"]:
            base_cpu = jobs["default"]["cpu_s"]
            extra_cpu = jobs["default_band"]["cpu_s"] - base_cpu
            results["band_model_variant"].update({"extra_engine_cpu_s": round(extra_cpu, 1),
                                                  "cpu_share_of_base_engine": round(extra_cpu / base_cpu, 3)})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
