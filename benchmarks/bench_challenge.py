#!/usr/bin/env python3
"""Challenge engine on 10⁶ synthetic speed tests in central Guangzhou: classify + evaluate.

citycov's path (one ``h3.latlng_to_cell`` per test on the integer API, parents and child
positions by bit operations, one sort + ``reduceat`` per figure) against a plain pandas
baseline (h3 string API for cells and parents, ``DataFrame.groupby().agg`` with a per-group
``nunique``), measured side by side in one process on the same tests and claim polygon.  Both
must challenge the same hexagons.  Writes ``benchmarks/results/challenge.json``.

usage: python benchmarks/bench_challenge.py [--tests 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import shapely

from citycov.presets.challenge import load_challenge_preset
from citycov.verification.challenge import classify_tests, evaluate_challenges

UTM49 = pyproj.CRS.from_epsg(32649)
CENTRE_LON, CENTRE_LAT = 113.30, 23.12
OUT = Path(__file__).resolve().parent / "results" / "challenge.json"


def synthetic(n: int, seed: int = 2009) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """``n`` tests in a 30 km square and one 4G 5/1 claim polygon (a 12 km disc with a notch)."""
    rng = np.random.default_rng(seed)
    to_utm = pyproj.Transformer.from_crs(4326, UTM49, always_xy=True)
    cx, cy = to_utm.transform(CENTRE_LON, CENTRE_LAT)
    # clustered along "routes": points near 400 random centres, so hexagons get many tests
    centres = rng.uniform(-15_000, 15_000, size=(400, 2))
    pick = rng.integers(0, len(centres), n)
    x = cx + centres[pick, 0] + rng.normal(0, 600, n)
    y = cy + centres[pick, 1] + rng.normal(0, 600, n)
    lon, lat = pyproj.Transformer.from_crs(UTM49, 4326, always_xy=True).transform(x, y)
    day = rng.integers(0, 400, n)
    seconds = rng.integers(5 * 3600, 23 * 3600, n)
    stamp = (pd.Timestamp("2023-06-01") + pd.to_timedelta(day, unit="D") + pd.to_timedelta(seconds, unit="s"))
    weak = rng.random(400) < 0.3  # 30% of the clusters are poorly served
    down = rng.lognormal(np.where(weak[pick], 1.0, 3.0), 0.8)
    up = rng.lognormal(np.where(weak[pick], -0.5, 1.5), 0.8)
    tests = gpd.GeoDataFrame({
        "timestamp": pd.DatetimeIndex(stamp).tz_localize("Asia/Shanghai"), "lon": lon, "lat": lat,
        "operator": "Demo Mobile", "technology": "4G", "environment": "outdoor_stationary",
        "download_mbps": down, "upload_mbps": up,
    }, geometry=gpd.points_from_xy(x, y), crs=UTM49)
    disc = shapely.Point(cx, cy).buffer(12_000, quad_segs=64).difference(
        shapely.box(cx, cy - 2_000, cx + 13_000, cy + 2_000))
    claims = gpd.GeoDataFrame({"providerid": ["DM"], "operator": ["Demo Mobile"], "technology": ["4G"],
                               "min_down_mbps": [5.0], "min_up_mbps": [1.0], "environment": ["outdoor_stationary"]},
                              geometry=[disc], crs=UTM49)
    return tests, claims


def citycov_path(tests, claims, preset, as_of):
    t0 = time.perf_counter()
    classified = classify_tests(tests, claims, preset, as_of=as_of)
    t1 = time.perf_counter()
    result = evaluate_challenges(classified)
    t2 = time.perf_counter()
    return result, t1 - t0, t2 - t1


def pandas_baseline(tests, claims, preset, as_of):
    """Straightforward pandas: string H3 cells and parents, groupby/agg with a lambda."""
    t0 = time.perf_counter()
    area = claims.geometry.iloc[0]
    inside = shapely.contains_xy(area, tests.geometry.x.to_numpy(), tests.geometry.y.to_numpy())
    df = pd.DataFrame(tests.loc[inside, ["timestamp", "lat", "lon", "download_mbps", "upload_mbps"]])
    df["negative"] = (df["download_mbps"] < 5.0) | (df["upload_mbps"] < 1.0)
    df["child"] = [h3.latlng_to_cell(a, b, preset.child_resolution) for a, b in zip(df["lat"], df["lon"], strict=True)]
    df["cell"] = [h3.cell_to_parent(c, preset.resolution) for c in df["child"]]
    local = df["timestamp"].dt.tz_localize(None)
    tod = local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second
    age = (pd.Timestamp(as_of).tz_localize("Asia/Shanghai") - df["timestamp"]).dt.total_seconds()
    keep = (tod >= preset.local_hours[0] * 3600) & (tod < preset.local_hours[1] * 3600) & (age >= 0) & \
        (age <= preset.validity_days * 86400)
    df = df[keep].assign(tod=tod[keep])
    t1 = time.perf_counter()
    df["neg_child"] = df["child"].where(df["negative"])
    df["neg_tod"] = df["tod"].where(df["negative"])
    g = df.groupby("cell").agg(n=("negative", "size"), neg=("negative", "sum"),
                               children=("neg_child", lambda s: s.dropna().nunique()),
                               tmin=("neg_tod", "min"), tmax=("neg_tod", "max"))
    span = (g["tmax"] - g["tmin"]) / 3600.0
    need = np.where(g["n"] <= preset.small_sample_max_tests, preset.small_sample_min_negatives,
                    preset.min_negatives(g["n"].to_numpy()))
    g["challenged"] = (g["children"] >= preset.min_children) & (g["neg"] >= 2) & (span >= preset.min_hours_apart) & \
        (g["neg"] >= need)
    t2 = time.perf_counter()
    return g, t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tests", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    preset = load_challenge_preset("fcc-2022")
    as_of = "2024-06-30"
    t0 = time.perf_counter()
    tests, claims = synthetic(args.tests)
    gen_s = time.perf_counter() - t0
    ours, base = [], []
    for _ in range(args.repeat):
        result, c_s, e_s = citycov_path(tests, claims, preset, as_of)
        ours.append((c_s, e_s))
        g, bc_s, be_s = pandas_baseline(tests, claims, preset, as_of)
        base.append((bc_s, be_s))
    mine = set(h3.int_to_str(int(c)) for c in result.challenged_cells(0))
    theirs = set(g.index[g["challenged"]])
    total = [c + e for c, e in ours]
    base_total = [c + e for c, e in base]
    record = {
        "benchmark": "challenge engine: classify + evaluate",
        "tests": args.tests, "repeat": args.repeat, "preset": preset.name, "as_of": as_of,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "generate_s": round(gen_s, 3),
        "citycov": {"classify_s": round(statistics.median(c for c, _ in ours), 3),
                    "evaluate_s": round(statistics.median(e for _, e in ours), 3),
                    "total_s": round(statistics.median(total), 3)},
        "pandas_baseline": {"classify_s": round(statistics.median(c for c, _ in base), 3),
                            "evaluate_s": round(statistics.median(e for _, e in base), 3),
                            "total_s": round(statistics.median(base_total), 3)},
        "speedup": round(statistics.median(base_total) / statistics.median(total), 2),
        "hexagons_evaluated": int(len(result.hexagons)),
        "hexagons_challenged": int(result.hexagons["challenged"].sum()),
        "rolled_up_challenged": {str(r): int(((result.rollup["resolution"] == r) & result.rollup["challenged"]).sum())
                                 for r in preset.rollup_resolutions},
        "status_counts": {k: int(v) for k, v in result.status_counts.items()},
        "same_verdicts_as_baseline": mine == theirs,
        "target": "<= 10 s for 10^6 tests on 2 cores",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))
    if mine != theirs:
        raise SystemExit(f"verdicts differ: {len(mine ^ theirs)} hexagons")


if __name__ == "__main__":
    main()
