#!/usr/bin/env python3
"""B1 and B3 of issue 14: peak memory of a whole ``citycov run``, of the main process and of each
Dask worker, in process and with ``--workers N``.

The run is a subprocess (``python -m citycov run SCENARIO --out <tmp> --no-progress ...``); this
script samples the resident set size of it and of every process below it (the LocalCluster's
worker processes) with psutil every 0.2 s and keeps each process's largest sample.  A sample can
miss a peak shorter than 0.2 s, so those figures are lower bounds.  Beside them,
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after the run is exact: the largest peak of any process
of the run (the main process or a worker; the workers are the main process's children).  "GB"
is 10^6 kB, as ``ru_maxrss`` counts (the convention of the other benchmarks and of the issue).

Writes ``benchmarks/results/memory.json`` (one entry per ``--label``).

usage: python benchmarks/bench_memory.py [--scenario data/guangzhou.toml] [--cell-m 30] [--workers 0]
           [--label NAME] [--extra-args "..."]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "memory.json"


def measure(args: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    main = psutil.Process(proc.pid)
    peaks: dict[int, tuple[str, float]] = {}
    out_err = []
    import threading

    def drain(stream) -> None:
        out_err.append(stream.read())

    threads = [threading.Thread(target=drain, args=(s,), daemon=True) for s in (proc.stdout, proc.stderr)]
    for t in threads:
        t.start()
    while proc.poll() is None:
        try:
            procs = [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss / 1024 / 1e6  # kB / 1e6, as ru_maxrss
                role = "main" if p.pid == proc.pid else " ".join(p.cmdline()[-3:])[:80]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (role, rss)
        time.sleep(0.2)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{''.join(out_err)[-3000:]}")
    import re

    steps = {}
    for line in "".join(out_err).splitlines():  # "HH:MM:SS INFO <step> done in 12.34 s" (the runner's log)
        m = re.match(r"\S+ INFO (.+) done in ([0-9.]+) s$", line)
        if m:
            steps[m.group(1).strip()] = float(m.group(2))
    main_peak = peaks.pop(proc.pid, ("main", 0.0))[1]
    others = sorted((rss for _, rss in peaks.values()), reverse=True)
    return {"wall_s": round(wall, 1), "main_peak_rss_gb_sampled": round(main_peak, 3),
            "largest_process_ru_maxrss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 3),
            "other_process_peaks_gb": [round(v, 3) for v in others[:8]], "steps_s": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="data/guangzhou.toml")
    ap.add_argument("--cell-m", type=float, default=None)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--label", default=None)
    ap.add_argument("--extra-args", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="citycov-b1-") as tmp:
        cmd = [sys.executable, "-m", "citycov", "run", args.scenario, "--out", str(Path(tmp) / "out"),
               "--no-progress", *(["--cell-m", f"{args.cell_m:g}"] if args.cell_m else []),
               *(["--workers", str(args.workers)] if args.workers else []), *args.extra_args.split()]
        r = measure(cmd)
    r.update({"command": " ".join(["citycov", *cmd[3:]]).replace(tmp, "<tmp>"), "cpus": os.cpu_count()})
    label = args.label or f"{Path(args.scenario).stem}-{args.cell_m or 'default'}-w{args.workers}"
    print(json.dumps({label: r}, indent=1))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[label] = r
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
