#!/usr/bin/env python3
"""B2 and B4 of issue 14: the engine's tile tasks in-process and on Dask workers, against the
whole-grid engine before the tasks, on the Guangzhou default (default network, SINR and speeds).

Setup (not timed) as ``bench_guangzhou30.py``: the default's layers at ``--cell-m``, saved as
``.npy`` in a cache folder.  Each measured job is a fresh Python process that calls
:func:`citycov.engine.cellular.cellular_coverage` once (wall time of that call) and saves its
rasters; the jobs run interleaved, ``--repeats`` times each.

Jobs
----
``old``       the engine before the tile tasks: this script run with ``PYTHONPATH`` = ``--old-src``
              (a checkout of the commit before them); B4's baseline.
``inproc``    the tile tasks in this process (``citycov run``'s default); B4.
``workers1``  a LocalCluster of 1 single-threaded worker process (NUMBA_NUM_THREADS=1); B2's baseline.
``workers2``  2 such workers; B2.
``inproc-files``, ``workers1-files``, ``workers2-files``
              the same, each tile task writing its rasters into files itself (``store=``: the way
              ``citycov run`` runs the engine now; only a few bytes per tile reach the main process);
              B2 is measured on ``workers*-files`` when both are run.
``ceiling``   not an engine job: a plain CPU job (numpy and a Python loop) alone and as 2 copies at
              once, 3 times; 2 copies' throughput over one's is what 2 workers can get at best here.

Peak RSS is the main process's ``ru_maxrss`` and each worker's (read in the worker at the end).
CPU time is the main process's plus its children's.  The rasters of every job are compared with
``inproc``'s: cell for cell (``workers*``: must be identical) and, for ``old``, the largest level
difference and the cells whose served/not-served state differs.

usage: python benchmarks/bench_scale_out.py [--jobs old,inproc,workers1,workers2] [--cell-m 100]
           [--old-src DIR] [--repeats 1] [--label KEY]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
RESULTS = ROOT / "benchmarks" / "results" / "scale_out.json"
RASTERS = ("best_dbm", "best_sector", "cover_bits", "sinr_db", "throughput_mbps", "speed_tier")


def job(cache: Path, which: str, out: Path) -> None:
    import resource

    import numpy as np
    from bench_guangzhou30 import load_prepared

    import citycov
    from citycov.engine import cellular as radio
    from citycov.engine.linkbudget import LinkParams

    meta, grid, dem, env, active, sectors = load_prepared(cache)
    cfg = citycov.load_scenario(ROOT / "data" / "guangzhou.toml").radio
    link = LinkParams(loading=cfg.cell_loading, noise_figure_db=cfg.noise_figure_db)
    kwargs = {}
    worker_rss = []
    stack = None
    if which.endswith("-files"):
        kwargs["store"] = Path(tempfile.mkdtemp(prefix="engine-", dir=cache))
        which = which[:-len("-files")]
    if which.startswith("workers"):
        from contextlib import ExitStack

        from citycov.compute.cluster import open_runner
        from citycov.config.compute import ComputeConfig

        stack = ExitStack()
        runner = stack.enter_context(open_runner(ComputeConfig(workers=int(which[len("workers"):]),
                                                               threads_per_worker=1, numba_threads=1,
                                                               dashboard=False)))
        kwargs["runner"] = runner
        kwargs["scene_folder"] = cache / "scene"
    use0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    res = radio.cellular_coverage(sectors, dem, env, grid, cfg, active=active, link=link, **kwargs)
    wall = time.perf_counter() - t0
    use1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (use1.ru_utime - use0.ru_utime) + (use1.ru_stime - use0.ru_stime)
    main_cpu = cpu
    if stack is not None:
        client = kwargs["runner"].client
        worker = client.run(_worker_usage)
        worker_rss = [round(v["rss_gb"], 3) for v in worker.values()]
        cpu += sum(v["cpu_s"] for v in worker.values())
        stack.close()
    np.savez(out.with_suffix(".npz"), **{n: np.asarray(getattr(res, n)) for n in RASTERS})
    if "store" in kwargs:
        import shutil

        shutil.rmtree(kwargs["store"])
    out.write_text(json.dumps({
        "job": which + ("-files" if "store" in kwargs else ""), "wall_s": round(wall, 2), "cpu_s": round(cpu, 1),
        "main_process_cpu_s": round(main_cpu, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "worker_peak_rss_gb": worker_rss, "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "sectors": len(sectors), "grid": meta["shape"]}))


def _worker_usage() -> dict:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return {"rss_gb": u.ru_maxrss / 1e6, "cpu_s": u.ru_utime + u.ru_stime}


SPIN = """
import time
import numpy as np
a = np.random.default_rng(0).random(2_000_000)
t = time.perf_counter()
for _ in range(60):
    np.sqrt(a * 1.0001 + 0.5).sum()
x = 0
for i in range(20_000_000):
    x += i * i
print(time.perf_counter() - t)
"""


def ceiling(repeats: int = 3) -> dict:
    """What 2 processes get from this machine's 2 cores: a plain CPU job (numpy and a Python loop,
    no Numba) alone, then 2 copies at once; the throughput of 2 against 1 bounds B2."""
    ratios = []
    for _ in range(repeats):
        one = float(subprocess.run([sys.executable, "-c", SPIN], capture_output=True, text=True, check=True).stdout)
        procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        two = [float(p.communicate()[0]) for p in procs]
        ratios.append(2 * one / max(two))
    return {"two_processes_over_one": [round(r, 3) for r in ratios], "best": round(max(ratios), 3)}


def compare(a: Path, b: Path) -> dict:
    import numpy as np

    x, y = np.load(a), np.load(b)
    out = {"identical": all(np.array_equal(x[n], y[n], equal_nan=True) for n in RASTERS)}
    lx, ly = x["best_dbm"], y["best_dbm"]
    both = np.isfinite(lx) & np.isfinite(ly)
    out["best_dbm_max_abs_diff_db"] = float(np.abs(lx[both] - ly[both]).max()) if both.any() else 0.0
    out["best_dbm_cells_differing"] = int((both & (lx != ly)).sum())
    out["served_state_differs_cells"] = int((np.isfinite(lx) != np.isfinite(ly)).sum())
    out["best_sector_differs_cells"] = int((x["best_sector"] != y["best_sector"]).sum())
    out["cells"] = int(lx[0].size)
    return out


def main() -> None:
    from bench_guangzhou30 import prepare

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="old,inproc,workers1,workers2")
    ap.add_argument("--cell-m", type=float, default=100.0)
    ap.add_argument("--old-src", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--label", default=None, help="key of the result in results/scale_out.json (default: '<cell>m')")
    ap.add_argument("--_job", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--_out", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._job:
        job(args.cache, args._job, args._out)
        return
    cache = args.cache or Path(tempfile.mkdtemp(prefix="citycov-b2-"))
    cache.mkdir(parents=True, exist_ok=True)
    if not (cache / "grid.json").exists():
        prepare(cache, args.cell_m)
    jobs = [j for j in args.jobs.split(",") if j != "ceiling"]
    machine_ceiling = ceiling() if "ceiling" in args.jobs.split(",") else None
    runs: dict[str, list[dict]] = {j: [] for j in jobs}
    for rep in range(args.repeats):
        for which in jobs:
            env = dict(os.environ)
            if which == "old":
                if args.old_src is None:
                    raise SystemExit("--old-src: a checkout of the engine before the tile tasks")
                env["PYTHONPATH"] = str(args.old_src)
            else:
                env["PYTHONPATH"] = str(ROOT)
            out = cache / f"{which}-{rep}.json"
            subprocess.run([sys.executable, __file__, "--_job", which, "--cache", str(cache), "--_out", str(out)],
                           check=True, env=env)
            r = json.loads(out.read_text())
            runs[which].append(r)
            print(json.dumps(r), flush=True)
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "ceiling_2_processes": machine_ceiling}, "cell_m": args.cell_m,
              "repeats": args.repeats, "runs": runs,
              "best_wall_s": {j: min(r["wall_s"] for r in rs) for j, rs in runs.items()}}
    best = result["best_wall_s"]
    if "old" in best and "inproc" in best:
        result["B4_inproc_over_old"] = round(best["inproc"] / best["old"], 3)
    if "workers1" in best and "workers2" in best:
        result["B2_speedup_2_over_1"] = round(best["workers1"] / best["workers2"], 3)
    if "workers1-files" in best and "workers2-files" in best:
        result["B2_speedup_2_over_1_files"] = round(best["workers1-files"] / best["workers2-files"], 3)
    if "inproc-files" in best and "inproc" in best:
        result["inproc_files_over_inproc"] = round(best["inproc-files"] / best["inproc"], 3)
    if "inproc" in jobs:
        ref = cache / "inproc-0.npz"
        result["compared_with_inproc"] = {j: compare(cache / f"{j}-0.npz", ref) for j in jobs if j != "inproc"}
    else:  # every run against the first job's first run
        ref = cache / f"{jobs[0]}-0.npz"
        result[f"compared_with_{jobs[0]}_run_0"] = {
            f"{j}-{rep}": compare(cache / f"{j}-{rep}.npz", ref)
            for j in jobs for rep in range(args.repeats) if (j, rep) != (jobs[0], 0)}
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    previous[args.label or f"{args.cell_m:g}m"] = result
    RESULTS.write_text(json.dumps(previous, indent=2) + "\n")
    if args.cache is None:  # the layers, scene and every job's rasters: gigabytes at 30 m
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
