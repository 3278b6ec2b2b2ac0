#!/usr/bin/env python3
"""B3 of issue 14: the engine over a province out of core (Guangdong), and its cost per cell
against the Guangzhou default's, at one cell size.

Each job is a fresh Python process (``--_job``) that:

1. reads the scenario's districts and sector table (its own readers) and builds the analysis
   grid: the districts' bounds snapped to ``--cell-m`` in the scenario's CRS, as
   :func:`citycov.pipeline.layers.build_grid` does, but without :data:`citycov.grid.MAX_CELLS`
   (the in-memory limit: Guangdong at 30 m is 19,631 x 26,230 = 515 M cells, of which about 200 M
   are the study area); with ``--window qRC`` only that quarter of it (row half R, column half C);
2. picks the modelled sectors and the engine grid as the pipeline does
   (:func:`citycov.pipeline.engine_area.engine_area`: sectors on the grid, and those outside within
   their reach of the study area; a quarter: within reach of the quarter's box), with their
   ground heights from the DEM file;
3. **scene** (timed): writes the engine's scene out of core, window by window
   (:func:`citycov.engine.scene_files.write_scene_files`, 2048 x 2048-cell windows: terrain warped
   bilinearly from the DEM file, environment classes from the population raster, the study area
   = district cells + ``[radio].study_margin_m``), into a scratch folder;
4. **prepare** (timed apart): the engine's sector arrays and reach limit, to count the
   sector-cell pairs: for each sector, the evaluated cells within its reach (after the reach
   limit; counted on a ~1 km aggregate of the evaluated cells, each aggregate cell by its centre),
   ignoring azimuth; also the disc area in cells (pi reach^2 / cell^2);
5. **engine** (timed): :func:`citycov.engine.cellular.engine_to_files` with the scenario's
   ``[radio]`` (levels, serving sector and coverage bits per technology; no SINR rasters, as
   ``engine_to_files``' default ``link=None``) on ``--workers`` single-threaded LocalCluster
   workers (NUMBA_NUM_THREADS=1; 0: in this process with Numba's threads), each tile written to
   tiled GeoTIFFs as it finishes.  The cluster's start (and its Numba warm-up) is timed apart.

The parent process samples the resident set size of the job and of every process below it (the
Dask nanny and worker processes) with psutil every 0.5 s and keeps each one's largest sample;
after the job, ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the exact peak of the largest of
them, and the job reports its own ``ru_maxrss`` after the scene and at the end, and each worker's
(``client.run``).  "GB" is 10^6 kB as ``ru_maxrss`` counts.  The load average (1, 5, 15 min) is
recorded before and after: other work may run beside it on this 2-core machine.

Writes ``benchmarks/results/province.json`` (one entry per label), keeping other labels.

usage: python benchmarks/bench_province.py [--scenario guangdong] [--cell-m 100] [--workers 2]
           [--window full|q00|q01|q10|q11] [--label NAME] [--keep DIR] [--reach-min-km KM]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "province.json"
SCENARIOS = {"guangdong": ROOT / "data" / "guangdong.toml", "guangzhou": ROOT / "data" / "guangzhou.toml"}


# ------------------------------------------------------------------------------------ the job
def analysis_grid(bounds, cell_m: float, crs):
    """The analysis grid of :func:`citycov.grid.GridSpec.from_bounds` without its cell limit."""
    from affine import Affine

    from citycov.grid import GridSpec

    minx, miny, maxx, maxy = bounds
    x0 = math.floor(minx / cell_m) * cell_m
    y1 = math.ceil(maxy / cell_m) * cell_m
    cols = int(math.ceil((maxx - x0) / cell_m))
    rows = int(math.ceil((y1 - miny) / cell_m))
    return GridSpec(crs=crs, transform=Affine(cell_m, 0.0, x0, 0.0, -cell_m, y1), shape=(rows, cols))


def quarter(grid, which: str):
    """The sub-grid of ``which`` = ``q`` + pairs of digits (row half, column half), each pair a
    quarter of the previous window: ``q01`` the north-east quarter, ``q0110`` its south-west one."""
    from citycov.engine.scene_files import window_grid

    digits = which[1:]
    if not which.startswith("q") or len(digits) % 2 or set(digits) - {"0", "1"}:
        raise SystemExit(f"--window: full or q followed by pairs of 0/1 digits, got {which!r}")
    r0, r1, c0, c1 = 0, grid.shape[0], 0, grid.shape[1]
    for i in range(0, len(digits), 2):
        rm, cm = (r0 + r1) // 2, (c0 + c1) // 2
        r0, r1 = (r0, rm) if digits[i] == "0" else (rm, r1)
        c0, c1 = (c0, cm) if digits[i + 1] == "0" else (cm, c1)
    win = (r0, r1, c0, c1)
    return window_grid(grid, win), win


def active_aggregate(path: str, shape: tuple[int, int], k: int, block: int = 2048):
    """Evaluated cells per k x k block of the grid (int64), read window by window."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    rows, cols = shape
    out = np.zeros((math.ceil(rows / k), math.ceil(cols / k)), dtype=np.int64)
    step = (block // k) * k
    with rasterio.open(path) as src:
        for r0 in range(0, rows, step):
            for c0 in range(0, cols, step):
                h, w = min(step, rows - r0), min(step, cols - c0)
                a = src.read(1, window=Window(c0, r0, w, h)).astype(np.int64)
                ph, pw = math.ceil(h / k) * k, math.ceil(w / k) * k
                padded = np.zeros((ph, pw), dtype=np.int64)
                padded[:h, :w] = a
                out[r0 // k:r0 // k + ph // k, c0 // k:c0 // k + pw // k] = padded.reshape(
                    ph // k, k, pw // k, k).sum(axis=(1, 3))
    return out


def pairs_within_reach(agg, k: int, row_f, col_f, reach_cells):
    """Sum over sectors of the evaluated cells within reach: aggregate cells (k x k grid cells)
    whose centre lies within the sector's reach of it, row spans from prefix sums."""
    import numpy as np

    prefix = np.zeros((agg.shape[0], agg.shape[1] + 1), dtype=np.int64)
    prefix[:, 1:] = np.cumsum(agg, axis=1)
    R = (row_f + 0.5) / k - 0.5  # position in aggregate cells (centres at integers)
    C = (col_f + 0.5) / k - 0.5
    rad = reach_cells / k
    total = 0
    for dr in range(-int(np.ceil(rad.max())), int(np.ceil(rad.max())) + 1):
        rr = np.round(R).astype(np.int64) + dr
        dy = rr - R
        ok = (rr >= 0) & (rr < agg.shape[0]) & (np.abs(dy) <= rad)
        half = np.sqrt(np.maximum(rad[ok] ** 2 - dy[ok] ** 2, 0.0))
        c0 = np.clip(np.ceil(C[ok] - half).astype(np.int64), 0, agg.shape[1])
        c1 = np.clip(np.floor(C[ok] + half).astype(np.int64) + 1, 0, agg.shape[1])
        c1 = np.maximum(c1, c0)
        total += int((prefix[rr[ok], c1] - prefix[rr[ok], c0]).sum())
    return total


def _self_maxrss_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3)


def _self_cpu_s() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _worker_usage() -> dict:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return {"ru_maxrss_gb": u.ru_maxrss / 1e6, "cpu_s": u.ru_utime + u.ru_stime}


def job(args) -> dict:
    from citycov.compute.cluster import open_runner
    from citycov.config.compute import ComputeConfig
    from citycov.engine.tile_tasks import warm_kernels

    out: dict = {"load_average_start": [round(v, 2) for v in os.getloadavg()]}
    # the cluster first, while this process is small: a child's ru_maxrss starts from its parent's
    # at fork (kept across exec), so workers started later would report the parent's peak as theirs
    compute = (ComputeConfig(workers=args.workers, threads_per_worker=1, numba_threads=1, dashboard=False)
               if args.workers else ComputeConfig())
    t = time.perf_counter()
    with open_runner(compute, warm=warm_kernels) as runner:
        out["cluster_start_s"] = round(time.perf_counter() - t, 2)
        out["main_ru_maxrss_gb_at_cluster_start"] = _self_maxrss_gb()
        return _job(args, runner, out)


def _job(args, runner, out: dict) -> dict:
    import numpy as np

    import citycov
    from citycov.engine import cellular
    from citycov.engine.scene_files import write_scene_files
    from citycov.io import read_sectors
    from citycov.pipeline.engine_area import engine_area
    from citycov.pipeline.inputs import read_study_districts

    t = time.perf_counter()
    scenario = citycov.load_scenario(SCENARIOS.get(args.scenario, args.scenario))
    if args.reach_min_km is not None:
        import dataclasses

        scenario = dataclasses.replace(scenario, radio=dataclasses.replace(scenario.radio,
                                                                           reach_min_km=args.reach_min_km))
        out["reach_min_km_override"] = args.reach_min_km
    radio = scenario.radio
    districts = read_study_districts(scenario)
    s = scenario.inputs["sectors"]
    sectors = read_sectors(s.path, crs=s.crs, to_crs=districts.frame.crs, **s.options)
    full = analysis_grid(tuple(districts.frame.total_bounds), args.cell_m, districts.frame.crs)
    grid, win = (full, (0, full.shape[0], 0, full.shape[1])) if args.window == "full" else quarter(full, args.window)
    terrain = scenario.inputs["terrain"].source
    area = engine_area(sectors, districts, grid, radio, dem_path=terrain,
                       margin_m=radio.study_margin_m if args.window == "full" else None)
    out["read_s"] = round(time.perf_counter() - t, 2)
    out.update({"scenario": scenario.name, "cell_m": args.cell_m, "window": args.window,
                "analysis_grid_full": list(full.shape), "window_rows_cols": list(win),
                "grid": list(grid.shape), "grid_cells": grid.shape[0] * grid.shape[1],
                "engine_grid": list(area.grid.shape), "sectors_in_table": len(sectors),
                "sectors_modelled": len(area.sectors), "sectors_outside_grid_modelled": area.outside_grid,
                "sectors_beyond_reach": area.beyond_reach})
    scratch = Path(tempfile.mkdtemp(prefix="citycov-b3-", dir=args.scratch))
    try:
        t = time.perf_counter()
        files = write_scene_files(scratch / "scene", area.grid, districts=districts, terrain=terrain,
                                  population=scenario.inputs["population"].source,
                                  thresholds=radio.env_density_per_km2, margin_m=radio.study_margin_m,
                                  constants=cellular._scene_constants(area.grid, radio), offset=area.offset,
                                  shape=area.shape,
                                  population_units=scenario.inputs["population"].options.get("units", "count"))
        out["scene_s"] = round(time.perf_counter() - t, 2)
        out.update({"scene_windows": files.windows, "active_cells": files.active_cells,
                    "district_cells": files.district_cells,
                    "scene_files_mb": round(sum(Path(p).stat().st_size for p in files.scene.paths.values()) / 1e6, 1),
                    "main_ru_maxrss_gb_after_scene": _self_maxrss_gb()})
        print(json.dumps({k: out[k] for k in ("grid", "engine_grid", "active_cells", "sectors_modelled",
                                              "scene_s")}), flush=True)

        t = time.perf_counter()
        run = cellular._prepare(area.sectors, files.scene, area.grid, radio, patterns=None, exact_sectors=None,
                                z_ground_m=area.ground_m)
        reach_cells = run.reach_m.max(axis=1) / area.grid.cell_m
        k = max(1, round(1000.0 / area.grid.cell_m))
        agg = active_aggregate(files.scene.paths["active"], area.grid.shape, k)
        pairs = pairs_within_reach(agg, k, run.row_f, run.col_f, reach_cells)
        out["prepare_s"] = round(time.perf_counter() - t, 2)
        out.update({"sector_active_cell_pairs_within_reach": pairs,
                    "sector_disc_cells": int(np.sum(np.pi * reach_cells ** 2)),
                    "median_reach_km": round(float(np.median(run.reach_m.max(axis=1))) / 1000.0, 2),
                    "mean_reach_km": round(float(np.mean(run.reach_m.max(axis=1))) / 1000.0, 3),
                    "sector_reach_cells_sum": int(np.sum(reach_cells)),
                    "pairs_aggregate_cells": k})
        del run, agg
        if args.no_engine:
            out.update({"main_ru_maxrss_gb": _self_maxrss_gb(),
                        "load_average_end": [round(v, 2) for v in os.getloadavg()]})
            return out

        usage0 = runner.client.run(_worker_usage) if args.workers else {}
        cpu0 = _self_cpu_s()
        t = time.perf_counter()
        _, paths = cellular.engine_to_files(area.sectors, files.scene, area.grid, radio, scratch / "out",
                                            z_ground_m=area.ground_m, runner=runner)
        out["engine_s"] = round(time.perf_counter() - t, 2)
        out["engine_main_cpu_s"] = round(_self_cpu_s() - cpu0, 1)
        out["engine_cpu_s"] = out["engine_main_cpu_s"]
        if args.workers:
            usage = runner.client.run(_worker_usage)
            out["worker_ru_maxrss_gb"] = [round(v["ru_maxrss_gb"], 3) for v in usage.values()]
            out["engine_worker_cpu_s"] = [round(v["cpu_s"] - usage0.get(w, {"cpu_s": 0.0})["cpu_s"], 1)
                                          for w, v in usage.items()]
            out["engine_cpu_s"] = round(out["engine_main_cpu_s"] + sum(out["engine_worker_cpu_s"]), 1)
        out["outputs_mb"] = round(sum(Path(p).stat().st_size for p in paths.values()) / 1e6, 1)
        out["served_share_of_active"] = served_share(paths["best_dbm"], files.scene.paths["active"])
    finally:
        if args.keep:
            shutil.copytree(scratch, args.keep, dirs_exist_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    use = resource.getrusage(resource.RUSAGE_SELF)
    out["main_ru_maxrss_gb"] = round(use.ru_maxrss / 1e6, 3)
    out["main_cpu_s"] = round(use.ru_utime + use.ru_stime, 1)
    out["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    cells, grid_cells = out["active_cells"], area.grid.shape[0] * area.grid.shape[1]
    pairs = max(out["sector_active_cell_pairs_within_reach"], 1)
    out["active_cells_per_s"] = round(cells / out["engine_s"])
    out["engine_s_per_1e6_active_cells"] = round(out["engine_s"] / cells * 1e6, 3)
    out["engine_cpu_s_per_1e6_active_cells"] = round(out["engine_cpu_s"] / cells * 1e6, 3)
    out["engine_s_per_1e9_pairs"] = round(out["engine_s"] / pairs * 1e9, 3)
    out["engine_cpu_s_per_1e9_pairs"] = round(out["engine_cpu_s"] / pairs * 1e9, 3)
    out["engine_s_per_1e6_grid_cells"] = round(out["engine_s"] / grid_cells * 1e6, 3)
    out["engine_s_per_1000_sectors"] = round(out["engine_s"] / max(len(area.sectors), 1) * 1000, 3)
    out["scene_s_per_1e6_grid_cells"] = round(out["scene_s"] / grid_cells * 1e6, 3)
    return out


def served_share(best_path: str, active_path: str, block: int = 2048) -> float:
    """Share of the evaluated cells with a level in some technology (read window by window)."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    from citycov.engine.tiles import tile_windows

    served = active = 0
    with rasterio.open(best_path) as best, rasterio.open(active_path) as act:
        for r0, r1, c0, c1 in tile_windows(act.height, act.width, block):
            w = Window(c0, r0, c1 - c0, r1 - r0)
            a = act.read(1, window=w).astype(bool)
            if not a.any():
                continue
            s = np.isfinite(best.read(window=w)).any(axis=0)
            served += int((s & a).sum())
            active += int(a.sum())
    return round(served / max(active, 1), 4)


# ------------------------------------------------------------------------------------ the summary
def summary(results: dict) -> dict:
    """Ratios between the entries of ``results``: the quarters against the whole province (cost
    linear in area: the quarters' engine CPU time sums to the whole's), the province against
    Guangzhou per 10^6 evaluated cells and per 10^9 sector-cell pairs, 30 m against 100 m."""
    out: dict = {}
    for cell in ("100", "30", "250", "500"):
        whole = results.get(f"guangdong-{cell}m-w2-full")
        quarters = {q: results.get(f"guangdong-{cell}m-w2-{q}") for q in ("q00", "q01", "q10", "q11")}
        if whole and all(quarters.values()):
            qs = list(quarters.values())
            out[f"{cell}m_quarters_vs_whole"] = {
                "active_cells": [sum(q["active_cells"] for q in qs), whole["active_cells"]],
                "pairs": [sum(q["sector_active_cell_pairs_within_reach"] for q in qs),
                          whole["sector_active_cell_pairs_within_reach"]],
                "engine_cpu_s": [round(sum(q["engine_cpu_s"] for q in qs), 1), whole.get("engine_cpu_s")],
                "engine_s": [round(sum(q["engine_s"] for q in qs), 1), whole["engine_s"]],
                "cpu_s_per_1e9_pairs_each_quarter": {k: q["engine_cpu_s_per_1e9_pairs"] for k, q in quarters.items()},
                "cpu_s_per_1e6_active_cells_each_quarter": {k: q["engine_cpu_s_per_1e6_active_cells"]
                                                            for k, q in quarters.items()},
            }
    for key, entry in results.items():
        if not key.startswith("guangdong-30m") or "engine_cpu_s" not in entry:
            continue
        gz = results.get("guangzhou-30m-w2-full")
        # Guangzhou with every sector's reach raised to >= 6 km (--reach-min-km 6): the province's
        # median reach, so per pair the two compare at the same reach
        gz_reach6 = results.get("guangzhou-30m-w2-full-reach6")
        same_100 = results.get(key.replace("-30m-", "-100m-"))
        row: dict = {}
        for name in ("engine_cpu_s_per_1e6_active_cells", "engine_cpu_s_per_1e9_pairs", "engine_s_per_1e6_active_cells",
                     "engine_s_per_1e9_pairs"):
            row[name] = {"guangdong_30m": entry[name], **({"guangzhou_30m": gz[name]} if gz else {}),
                         **({"guangdong_100m_same_window": same_100[name]} if same_100 else {})}
            if gz:
                row[name]["guangdong_over_guangzhou"] = round(entry[name] / gz[name], 3)
            if gz_reach6:
                row[name]["guangzhou_30m_reach_min_6km"] = gz_reach6[name]
                row[name]["guangdong_over_guangzhou_reach_min_6km"] = round(entry[name] / gz_reach6[name], 3)
        out[f"{key}_against"] = row
    return out


# ------------------------------------------------------------------------------------ the parent
def measure(cmd: list[str], env: dict) -> tuple[dict, dict]:
    """Run ``cmd``; psutil peaks of it and every process below it, and ``ru_maxrss`` of children."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    main = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, float]] = {}
    lines: list[str] = []
    err: list[str] = []

    def drain(stream, sink) -> None:
        for line in stream:
            sink.append(line)
            if sink is lines:
                print(line, end="", flush=True)

    threads = [threading.Thread(target=drain, args=(proc.stdout, lines), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, err), daemon=True)]
    for th in threads:
        th.start()
    while proc.poll() is None:
        try:
            procs = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss / 1024 / 1e6
                cmdline = " ".join(p.cmdline())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            role = ("main" if p.pid == proc.pid else "worker" if "spawn_main" in cmdline or "multiprocessing" in cmdline
                    else cmdline[-60:])
            if rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (role, rss)
        time.sleep(0.5)
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"job failed ({proc.returncode}):\n{''.join(err)[-4000:]}")
    main_peak = peaks.pop(proc.pid, ("main", 0.0))[1]
    sampled = {"job_wall_s": round(wall, 1), "main_peak_rss_gb_sampled": round(main_peak, 3),
               "child_process_peaks_gb_sampled": sorted((round(v, 3) for _, v in peaks.values()), reverse=True)[:8],
               "largest_process_ru_maxrss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 3)}
    return json.loads(lines[-1]), sampled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="guangdong")
    ap.add_argument("--cell-m", type=float, default=100.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--window", default="full", help="full, or a quarter: q00 (north-west) .. q11, q0110 ...")
    ap.add_argument("--no-engine", action="store_true", help="the scene and the pairs only")
    ap.add_argument("--label", default=None)
    ap.add_argument("--scratch", default=None, help="folder for the scene and output files (default: the system's)")
    ap.add_argument("--keep", type=Path, default=None, help="copy the scene and outputs here")
    ap.add_argument("--gdal-cachemax", default="256", help="GDAL_CACHEMAX of the job (MB): GDAL's block cache "
                    "of the scene and output files, 5%% of the machine's memory by default (1.2 GB here)")
    ap.add_argument("--reach-min-km", type=float, default=None,
                    help="override the scenario's [radio].reach_min_km (the cost per pair against the reach)")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--summary", action="store_true", help="only (re)compute the summary of the saved results")
    ap.add_argument("--_job", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.summary:
        results = json.loads(RESULTS.read_text())
        results["summary"] = summary({k: v for k, v in results.items() if k != "summary"})
        print(json.dumps(results["summary"], indent=1))
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        return
    if args._job:
        print(json.dumps(job(args)), flush=True)
        return
    cmd = [sys.executable, __file__, "--_job", "--scenario", args.scenario, "--cell-m", f"{args.cell_m:g}",
           "--workers", str(args.workers), "--window", args.window, *(["--no-engine"] if args.no_engine else []),
           *(["--scratch", args.scratch] if args.scratch else []), *(["--keep", str(args.keep)] if args.keep else []),
           *(["--reach-min-km", f"{args.reach_min_km:g}"] if args.reach_min_km is not None else [])]
    env = dict(os.environ, PYTHONPATH=str(ROOT), GDAL_CACHEMAX=args.gdal_cachemax)
    before = [round(v, 2) for v in os.getloadavg()]
    r, sampled = measure(cmd, env)
    r.update(sampled)
    r.update({"load_average_before": before, "load_average_after": [round(v, 2) for v in os.getloadavg()],
              "cpus": os.cpu_count(), "python": platform.python_version(), "gdal_cachemax_mb": args.gdal_cachemax,
              "command": " ".join(["python benchmarks/bench_province.py", *cmd[3:]]).replace(" --_job", ""),
              "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    label = args.label or f"{args.scenario}-{args.cell_m:g}m-w{args.workers}-{args.window}"
    print(json.dumps({label: r}, indent=1))
    if args.no_save:
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[label] = r
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
