#!/usr/bin/env python3
"""What the co-channel reach limit changes: the Guangzhou default's network on a coarser grid,
engine run without a limit and with each candidate limit, compared cell by cell.

Measured per technology over the study area (districts + 1 km): the share of cells served
and covered at the threshold, and over cells served in both runs the SINR difference (mean,
95th percentile and max of |ΔSINR|) and the share of cells whose speed tier changes.  Also
the engine wall time of each run (the limit's purpose).  Accuracy, not speed, is the point:
timings here share the machine with whatever else runs.

Writes ``benchmarks/results/reach_limit.json``.

usage: python benchmarks/reach_limit_effect.py [--cell-m 100] [--factors 2,3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "reach_limit.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-m", type=float, default=100.0)
    ap.add_argument("--factors", default="2,3")
    ap.add_argument("--neighbours", type=int, default=6)
    ap.add_argument("--network-factors", default="",
                    help="instead: the default's limit against the same limit plus a network cap at these factors "
                         "(the distance to the operator+technology's neighbours-th nearest other site, any carrier)")
    args = ap.parse_args()

    import citycov
    from citycov.choices import TECHNOLOGIES
    from citycov.engine import cellular
    from citycov.engine.linkbudget import LinkParams
    from citycov.pipeline.inputs import read_inputs
    from citycov.pipeline.layers import build_layers, study_area

    sc = citycov.load_scenario(ROOT / "data" / "guangzhou.toml")
    inputs = read_inputs(sc)
    layers = build_layers(sc, inputs, cell_m=args.cell_m, rule=sc.accounting.zonal_rule)
    area = study_area(layers, sc.radio.study_margin_m)
    link = LinkParams(loading=sc.radio.cell_loading, noise_figure_db=sc.radio.noise_figure_db)

    def engine(neighbours, factor, network_factor=0.0):
        t0 = time.perf_counter()
        radio = dataclasses.replace(sc.radio, reach_neighbours=neighbours, reach_factor=factor)
        cap = None
        if network_factor:
            cap = network_cap_m(inputs.sectors, neighbours, network_factor, sc.radio.reach_min_km)
        res = cellular.cellular_coverage(inputs.sectors, layers.dem, layers.env, layers.grid, radio, link=link,
                                         active=area, reach_cap_m=cap)
        return res, time.perf_counter() - t0

    if args.network_factors:
        ref, t_ref = engine(sc.radio.reach_neighbours, sc.radio.reach_factor)
        out = {"cell_m": args.cell_m, "cells_in_study_area": int(area.sum()), "diffraction": sc.radio.diffraction,
               "reference": f"the default's limit (neighbours={sc.radio.reach_neighbours}, "
                            f"factor={sc.radio.reach_factor:g})", "default_limit": {"engine_s": round(t_ref, 1)},
               "network_caps": {}}
        runs = [(f"network cap: {sc.radio.reach_neighbours} operator+technology neighbours x {f:g}",
                 (sc.radio.reach_neighbours, sc.radio.reach_factor, float(f)))
                for f in map(float, args.network_factors.split(","))]
        target = out["network_caps"]
    else:
        ref, t_ref = engine(0, sc.radio.reach_factor)
        out = {"cell_m": args.cell_m, "cells_in_study_area": int(area.sum()), "diffraction": sc.radio.diffraction,
               "no_limit": {"engine_s": round(t_ref, 1)}, "limits": {}}
        runs = [(f"neighbours={args.neighbours},factor={float(f):g},min_km={sc.radio.reach_min_km:g}",
                 (args.neighbours, float(f), 0.0)) for f in args.factors.split(",")]
        target = out["limits"]
    for label, params in runs:
        res, t = engine(*params)
        per_tech = {}
        for i, tech in enumerate(TECHNOLOGIES):
            thr = sc.radio.threshold_dbm[tech]
            a_srv, b_srv = np.isfinite(ref.best_dbm[i]) & area, np.isfinite(res.best_dbm[i]) & area
            a_cov = a_srv & (np.nan_to_num(ref.best_dbm[i], nan=-999) >= thr)
            b_cov = b_srv & (np.nan_to_num(res.best_dbm[i], nan=-999) >= thr)
            both = np.isfinite(ref.sinr_db[i]) & np.isfinite(res.sinr_db[i]) & area
            d = np.abs(res.sinr_db[i][both].astype(np.float64) - ref.sinr_db[i][both])
            signed = (res.sinr_db[i][both].astype(np.float64) - ref.sinr_db[i][both])
            per_tech[tech] = {
                "served_share_no_limit": round(float(a_srv.sum() / area.sum()), 5),
                "served_share_limited": round(float(b_srv.sum() / area.sum()), 5),
                "covered_share_no_limit": round(float(a_cov.sum() / area.sum()), 5),
                "covered_share_limited": round(float(b_cov.sum() / area.sum()), 5),
                "covered_cells_lost": int((a_cov & ~b_cov).sum()),
                "sinr_abs_diff_db": {"mean": round(float(d.mean()), 4), "p95": round(float(np.percentile(d, 95)), 3),
                                     "max": round(float(d.max()), 3)},
                "sinr_mean_signed_diff_db": round(float(signed.mean()), 4),
                "speed_tier_changed_share": round(float((res.speed_tier[i] != ref.speed_tier[i])[area].mean()), 5),
            }
        target[label] = {"engine_s": round(t, 1), "speed_up": round(t_ref / t, 2), "per_technology": per_tech}
        print(json.dumps(target, indent=1)[-1500:], flush=True)
        save(out, network=bool(args.network_factors))  # after each run: a long job keeps what it measured
    print(f"wrote {RESULTS.relative_to(ROOT)}")


def save(out: dict, *, network: bool) -> None:
    """Merge ``out`` into the results file (the network-cap comparison under its own key)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if network:
        merged["network_caps_vs_default_limit"] = out
    else:
        merged.update(out)
    RESULTS.write_text(json.dumps(merged, indent=2) + "\n")


def network_cap_m(sectors, neighbours: int, factor: float, min_km: float) -> np.ndarray:
    """Per sector: ``factor`` times the distance from its site to the ``neighbours``-th nearest other
    site of its operator and technology (on any carrier), at least ``min_km``: the co-channel reach
    limit with the network's sites in place of the carrier's."""
    from citycov.engine.tiles import ReachLimit

    net = sectors["operator"].astype(str) + "/" + sectors["technology"].astype(str)
    codes = np.unique(net.to_numpy(), return_inverse=True)[1]
    return ReachLimit(neighbours, factor, min_km).limit_m(sectors.geometry.x.to_numpy(), sectors.geometry.y.to_numpy(),
                                                         codes, sectors["site_id"].to_numpy())


if __name__ == "__main__":
    main()
