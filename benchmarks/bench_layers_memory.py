#!/usr/bin/env python3
"""B1 of issue 14, the layers step: memory and wall time of ``build_layers`` (step 2 of
``citycov run``: population, households and terrain on the grid), old code against new.

Each measured code tree (``--root``, e.g. a checkout of the old revision and this one) runs in a fresh
subprocess with ``PYTHONPATH`` pointing at it: the scenario is loaded (``--cell-m`` overriding
``[grid].cell_m``), its inputs read (:func:`citycov.pipeline.inputs.read_inputs`) and the layers
built (:func:`citycov.pipeline.layers.build_layers`); no engine.  The child reports

* ``rss_before_gb``: resident set after the imports and the inputs, before the step;
* ``peak_rss_gb``: the largest resident set during the step, sampled every 10 ms by a thread
  (a lower bound: a peak shorter than 10 ms can be missed), and ``ru_maxrss_gb`` from
  ``getrusage`` (exact, over the whole child: imports and inputs included);
* ``rss_after_gb``: resident set after the step with the ``Layers`` kept (after ``gc.collect``);
* ``wall_s``: the step's wall time;
* ``fields_mb``: the bytes of every array the ``Layers`` holds (arrays shared by two fields, or
  views of another field's array, are counted once, under the first field);
* with ``--tracemalloc``, a second child traces the step and reports the top allocation sites
  at the traced peak (slow; the timings of that child are not reported).

"GB" is 10^9 bytes.  Writes ``benchmarks/results/layers_memory.json`` (one entry per label).

usage: python benchmarks/bench_layers_memory.py --root old=../old-checkout --root new=. [--cell-m 30]
           [--repeats 1] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "layers_memory.json"

CHILD = r"""
import gc, json, os, resource, sys, threading, time
from dataclasses import fields, replace
import numpy as np
import psutil

cell_m, scenario_path, trace = float(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
import citycov
from citycov.config import load_scenario
from citycov.pipeline.inputs import read_inputs
from citycov.pipeline.layers import build_layers

proc = psutil.Process()
sc = load_scenario(scenario_path)
sc = replace(sc, grid=replace(sc.grid, cell_m=cell_m))
inputs = read_inputs(sc)
gc.collect()
before = proc.memory_info().rss
peak = [before]
stop = threading.Event()

def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.01)

if trace:
    import tracemalloc
    tracemalloc.start(8)
thread = threading.Thread(target=sample, daemon=True)
thread.start()
t0 = time.perf_counter()
layers = build_layers(sc, inputs, cell_m=sc.grid.cell_m, rule=sc.accounting.zonal_rule)
wall = time.perf_counter() - t0
stop.set()
thread.join()
out = {}
if trace:
    snap = tracemalloc.take_snapshot()
    cur, tpeak = tracemalloc.get_traced_memory()
    out["traced_peak_gb"] = round(tpeak / 1e9, 3)
    out["traced_after_gb"] = round(cur / 1e9, 3)
    def where(frame):  # a path inside the checkout or the site-packages, not the machine's
        name = frame.filename
        for prefix in (os.getcwd() + os.sep, *(d + os.sep for d in sys.path if d.endswith("site-packages"))):
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        return f"{name}:{frame.lineno}"

    out["traced_after_top"] = [f"{s.size / 1e6:.0f} MB {where(s.traceback[0])}"
                               for s in snap.statistics("lineno")[:8]]
    tracemalloc.stop()
gc.collect()
after = proc.memory_info().rss
seen = {}
sizes = {}

def arrays(value, name):
    if isinstance(value, np.ndarray):
        yield name, value
    elif hasattr(value, "__dataclass_fields__"):
        for f in fields(value):
            yield from arrays(getattr(value, f.name), f"{name}.{f.name}")

for f in fields(layers):
    for name, a in arrays(getattr(layers, f.name), f.name):
        base = a
        while isinstance(base.base, np.ndarray):
            base = base.base
        key = id(base)
        if key in seen:
            sizes[name] = f"shared with {seen[key]} ({a.dtype})"
            continue
        seen[key] = name
        if base.nbytes >= 1e6:
            sizes[name] = f"{base.nbytes / 1e6:.1f} MB {a.dtype} {a.shape}"
out.update({"grid": list(layers.grid.shape), "rss_before_gb": round(before / 1e9, 3),
            "peak_rss_gb": round(peak[0] / 1e9, 3),
            "ru_maxrss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 3),
            "rss_after_gb": round(after / 1e9, 3), "wall_s": round(wall, 2), "fields_mb": sizes})
print("RESULT " + json.dumps(out))
"""


def child(root: Path, cell_m: float, scenario: str, trace: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_NUM_THREADS=os.environ.get("NUMBA_NUM_THREADS", "2"))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(cell_m), scenario, "1" if trace else "0"],
                          capture_output=True, text=True, cwd=root, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child in {root} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    line = [s for s in proc.stdout.splitlines() if s.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def _revision(root: Path) -> str:
    """``branch@commit`` of the checkout at ``root`` (``+dirty`` with uncommitted changes)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True).stdout.strip()

    dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{git('rev-parse', '--abbrev-ref', 'HEAD')}@{git('rev-parse', '--short', 'HEAD')}{dirty}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", action="append", required=True, help="LABEL=PATH of a citycov checkout")
    ap.add_argument("--cell-m", type=float, default=30.0)
    ap.add_argument("--scenario", default="data/guangzhou.toml", help="relative to each root")
    ap.add_argument("--repeats", type=int, default=1, help="runs per root, interleaved")
    ap.add_argument("--tracemalloc", action="store_true")
    args = ap.parse_args()
    roots = [(s.split("=", 1)[0], Path(s.split("=", 1)[1]).resolve()) for s in args.root]
    runs: dict[str, list[dict]] = {label: [] for label, _ in roots}
    for _ in range(args.repeats):
        for label, root in roots:
            r = child(root, args.cell_m, args.scenario, False)
            runs[label].append(r)
            print(label, json.dumps(r), flush=True)
    entry = {}
    for label, root in roots:
        rs = runs[label]
        entry[label] = {"code": _revision(root), "runs": rs,
                        "peak_rss_gb_max": max(r["peak_rss_gb"] for r in rs),
                        "rss_after_gb_max": max(r["rss_after_gb"] for r in rs),
                        "wall_s_min": min(r["wall_s"] for r in rs)}
        if args.tracemalloc:
            entry[label]["tracemalloc"] = child(root, args.cell_m, args.scenario, True)
            print(label, "traced", json.dumps(entry[label]["tracemalloc"]), flush=True)
    if len(roots) == 2:
        (a, _), (b, _) = roots
        entry["wall_ratio"] = round(entry[b]["wall_s_min"] / entry[a]["wall_s_min"], 3)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[f"cell_m={args.cell_m:g}"] = {"scenario": args.scenario, "repeats": args.repeats,
                                          "cpu_count": os.cpu_count(), **entry}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
