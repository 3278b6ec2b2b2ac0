#!/usr/bin/env python3
"""The planner on the Guangzhou default at 100 m: Conghua's wireless target alone, then the
default ``[plan]`` (every missed wireless, FTTH and village target).

For each instance: candidates, demand units, the greedy's and HiGHS's sites, cabinets and
cost, HiGHS's proven lower bound and status, the greedy plan's optimality gap, solver times,
and the full-engine "after" figure of every target in scope (``plan.after``: the scenario run
again with the planned sites and cabinets added).  The base and after runs skip the uncertainty
band (``[accounting].uncertainty = false``), which the plan does not read, to save time.

Writes ``benchmarks/results/plan_guangzhou.json``.

usage: python benchmarks/bench_plan_guangzhou.py [--cell-m 100] [--time-limit-s 120]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "plan_guangzhou.json"


def instance(base, cfg) -> dict:
    import citycov

    t0 = time.perf_counter()
    p = citycov.plan(base, config=cfg)
    wall = time.perf_counter() - t0
    solvers = {r.method: {"cost": r.cost, "sites": int(r.sites), "cabinets": int(r.cabinets),
                          "lower_bound": r.lower_bound, "gap_pct": r.gap_pct, "time_s": r.time_s,
                          "status": r.status} for r in p.solvers.itertuples()}
    targets = [{"area": r.district, "metric": r.metric, "threshold_pct": 100 * r.threshold,
                "before_pct": r.before_pct, "planned_pct": r.planned_pct, "after_pct": r.after_pct,
                "met": bool(r.met), "sites": int(r.sites), "cabinets": int(r.cabinets), "cost": r.cost}
               for r in p.summary.itertuples()]
    return {"wall_s": round(wall, 1), "timings_s": {k: round(v, 2) for k, v in p.timings_s.items()},
            "plan_sites": len(p.sites), "plan_cabinets": len(p.cabinets),
            "plan_cost": float(p.sites["cost"].sum() + p.cabinets["cost"].sum()),
            "solvers": solvers, "targets": targets, "notes": p.notes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cell-m", type=float, default=100.0)
    parser.add_argument("--time-limit-s", type=float, default=120.0)
    args = parser.parse_args()
    import logging

    import citycov

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    sc = citycov.load_scenario()
    sc = replace(sc, grid=replace(sc.grid, cell_m=args.cell_m),
                 accounting=replace(sc.accounting, uncertainty=False))
    t0 = time.perf_counter()
    base = citycov.run(sc, keep_context=True)
    base_s = time.perf_counter() - t0
    conghua = replace(sc.plan, metrics=("wireless_population",), districts=("440117",),
                      time_limit_s=args.time_limit_s)
    default = replace(sc.plan, time_limit_s=args.time_limit_s)
    out = {"benchmark": "plan_guangzhou", "cell_m": args.cell_m, "base_run_s": round(base_s, 1),
           "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                       "load_average_start": os.getloadavg()},
           "conghua_wireless": instance(base, conghua), "default_plan": instance(base, default)}
    out["machine"]["load_average_end"] = os.getloadavg()
    RESULTS.write_text(json.dumps(out, indent=1, default=float) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    main()
