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
Also recorded: the main process's largest sample during each step of the runner's log (between
one "<step> done in" line and the next), the CPU time of all the run's processes
(``RUSAGE_CHILDREN``), the load average before and after (other work may share this machine) and
the size of the output folder and of its largest files.

Writes ``benchmarks/results/memory.json`` (one entry per ``--label``).

usage: python benchmarks/bench_memory.py [--scenario data/guangzhou.toml] [--cell-m 30] [--workers 0]
           [--label NAME] [--extra-args "..."] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
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
    out_err: list[str] = []
    step_peak = [0.0]  # the main process's largest sample since the runner's last "done in" line
    step_peaks: dict[str, float] = {}
    import threading

    done = re.compile(r"\S+ INFO (.+) done in ([0-9.]+) s$")  # the runner's log: "HH:MM:SS INFO <step> done in 12.34 s"

    def drain(stream) -> None:
        for line in stream:
            out_err.append(line)
            m = done.match(line.rstrip("\n"))
            if m:
                step_peaks[m.group(1).strip()] = round(step_peak[0], 3)
                step_peak[0] = 0.0

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
            if p.pid == proc.pid:
                step_peak[0] = max(step_peak[0], rss)
            if rss > peaks.get(p.pid, ("", 0.0))[1]:
                peaks[p.pid] = (role, rss)
        time.sleep(0.2)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{''.join(out_err)[-3000:]}")
    steps = {}
    for line in out_err:
        m = done.match(line.rstrip("\n"))
        if m:
            steps[m.group(1).strip()] = float(m.group(2))
    main_peak = peaks.pop(proc.pid, ("main", 0.0))[1]
    others = sorted((rss for _, rss in peaks.values()), reverse=True)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": round(wall, 1), "main_peak_rss_gb_sampled": round(main_peak, 3),
            "largest_process_ru_maxrss_gb": round(usage.ru_maxrss / 1e6, 3),
            "other_process_peaks_gb": [round(v, 3) for v in others[:8]], "steps_s": steps,
            "main_peak_rss_gb_sampled_per_step": step_peaks,
            "cpu_s_all_processes": round(usage.ru_utime + usage.ru_stime, 1)}


def folder_sizes(out: Path) -> dict:
    """Total size of the run's output folder and of its largest files (MB = 10^6 bytes)."""
    files = [p for p in out.rglob("*") if p.is_file()]
    sizes = sorted(((p.stat().st_size, str(p.relative_to(out))) for p in files), reverse=True)
    return {"outputs_mb": round(sum(s for s, _ in sizes) / 1e6, 1), "output_files": len(sizes),
            "largest_outputs_mb": {name: round(size / 1e6, 1) for size, name in sizes[:6]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="data/guangzhou.toml")
    ap.add_argument("--cell-m", type=float, default=None)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--label", default=None)
    ap.add_argument("--extra-args", default="")
    ap.add_argument("--keep", type=Path, default=None, help="move the run's output folder here afterwards")
    args = ap.parse_args()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="citycov-b1-") as tmp:
        cmd = [sys.executable, "-m", "citycov", "run", args.scenario, "--out", str(Path(tmp) / "out"),
               "--no-progress", *(["--cell-m", f"{args.cell_m:g}"] if args.cell_m else []),
               *(["--workers", str(args.workers)] if args.workers else []), *args.extra_args.split()]
        r = measure(cmd)
        r.update(folder_sizes(Path(tmp) / "out"))
        if args.keep:
            shutil.move(str(Path(tmp) / "out"), args.keep)
    r.update({"command": " ".join(["citycov", *cmd[3:]]).replace(tmp, "<tmp>"), "cpus": os.cpu_count(),
              "load_average_start": [round(v, 2) for v in load_start],
              "load_average_end": [round(v, 2) for v in os.getloadavg()]})
    label = args.label or f"{Path(args.scenario).stem}-{args.cell_m or 'default'}-w{args.workers}"
    print(json.dumps({label: r}, indent=1))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[label] = r
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
