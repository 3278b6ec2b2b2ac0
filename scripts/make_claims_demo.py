#!/usr/bin/env python3
"""Generate the SYNTHETIC regulator-toolkit demo: an overstated operator claim and drive/speed tests.

Everything written here is synthetic (seed 2009) and labelled so in ``data/claims/README.md``:

* ``claims_synthetic.geojson``: the operator's claimed 4G 5/1 Mbit/s outdoor coverage, drawn
  from the modelled RSRP at a *lower* threshold than the one the model needs for that speed
  (``CLAIM_THRESHOLD_DBM`` < ``TRUE_THRESHOLD_DBM``), so the claim overstates coverage;
* ``measurements_synthetic.csv``: speed tests along random drive routes through several
  districts: level = modelled RSRP + log-normal shadowing (+ car loss in vehicles), speed from a
  simple SINR → spectral-efficiency mapping, local timestamps, GNSS accuracy, and a few
  deliberately bad records (night-time, stale, inaccurate, negative speeds) so that the reader's
  drop counts and the challenge's exclusions have something to show.

The generator functions take plain arrays and a :class:`~citycov.grid.GridSpec`, so tests and the
pipeline can call them on any grid.  ``main()`` builds the inputs from the embedded Guangzhou
scenario on a coarse 500 m grid, for one operator's 4G sectors only (about a minute on 2 cores;
the full 100 m run takes about 4 minutes), and writes ``data/claims/``.

usage: python scripts/make_claims_demo.py [--cell-m 500] [--operator "China Mobile"] [--out data/claims]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from rasterio.features import shapes

from citycov.grid import GridSpec

SEED = 2009
CLAIM_THRESHOLD_DBM = -115.0
"""The operator's claim: everywhere the modelled RSRP reaches -115 dBm (overstated)."""
TRUE_THRESHOLD_DBM = -105.0
"""What 5/1 Mbit/s needs in the synthetic speed model below (about 13/2 Mbit/s at -105 dBm)."""
SHADOW_SIGMA_DB = 6.0
CAR_LOSS_DB = 9.0
BANDWIDTH_MHZ = 20.0
TZ = "Asia/Shanghai"
AS_OF = pd.Timestamp("2024-06-30", tz=TZ)
REPO = Path(__file__).resolve().parent.parent


def claim_polygons(level_dbm: np.ndarray, grid: GridSpec, *, threshold_dbm: float = CLAIM_THRESHOLD_DBM,
                   operator: str, providerid: str, technology: str = "4G", min_down_mbps: float = 5.0,
                   min_up_mbps: float = 1.0, environment: int = 0) -> gpd.GeoDataFrame:
    """One claim feature (BDC attribute layout, WGS84) covering the cells with ``level_dbm >= threshold_dbm``."""
    mask = np.nan_to_num(level_dbm, nan=-np.inf) >= threshold_dbm
    polys = [shapely.geometry.shape(geom) for geom, value in
             shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform) if value == 1]
    area = shapely.union_all(polys) if polys else shapely.MultiPolygon()
    code = {"3G": 300, "4G": 400, "5G": 500}[technology]
    frame = gpd.GeoDataFrame({"providerid": [providerid], "technology": [code], "mindown": [min_down_mbps],
                              "minup": [min_up_mbps], "environmnt": [environment], "operator": [operator],
                              "synthetic": [True]}, geometry=[area], crs=grid.crs)
    return frame.to_crs(4326)


def drive_routes(study: np.ndarray, grid: GridSpec, rng: np.random.Generator, *, start: np.ndarray | None = None,
                 n_routes: int = 60, points_per_route: int = 250, step_m: float = 80.0, turn_sigma_deg: float = 12.0,
                 passes: int = 3, pass_offset_m: float = 350.0) -> np.ndarray:
    """Random-walk routes inside ``study`` (bool grid), each driven ``passes`` times.

    A route starts in a random cell of ``start`` (default ``study``); every pass follows the route
    shifted by a random offset of up to ``pass_offset_m`` (a parallel street), so repeated drives
    reach several point-hexes of a hexagon.  Returns (n, 4): route id, pass, x, y (metres).
    """
    start = study if start is None else start & study
    rows, cols = np.nonzero(start)
    if len(rows) == 0:
        raise ValueError("no start cells: the start mask and the study area do not overlap")
    out = []
    for route in range(n_routes):
        k = rng.integers(len(rows))
        x, y = grid.xy(rows[k], cols[k])
        heading = rng.uniform(0, 2 * np.pi)
        path = []
        for _ in range(points_per_route):
            heading += np.radians(rng.normal(0, turn_sigma_deg))
            nx, ny = x + step_m * np.sin(heading), y + step_m * np.cos(heading)
            r, c = grid.rowcol(nx, ny)
            if not (grid.contains(r, c) and study[r, c]):
                heading += np.pi  # turn back at the edge of the study area
                continue
            x, y = nx, ny
            path.append((float(x), float(y)))
        for p in range(passes):
            dx, dy = rng.uniform(-pass_offset_m, pass_offset_m, 2) if p else (0.0, 0.0)
            out.extend((route, p, px + dx, py + dy) for px, py in path)
    return np.array(out)


def speed_from_level(level_dbm: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (download, upload) Mbit/s: SINR ≈ RSRP + 112 dB (clipped -10..30), Shannon efficiency capped at
    5.5 b/s/Hz, a random 15-40 % share of a 20 MHz carrier; upload 15 % of download; 0 where no signal."""
    level = np.nan_to_num(level_dbm, nan=-200.0)
    sinr = np.clip(level + 112.0, -10.0, 30.0)
    eff = np.minimum(np.log2(1.0 + 10 ** (sinr / 10.0)), 5.5)
    share = rng.uniform(0.15, 0.40, level.shape)
    down = np.where(level > -125.0, BANDWIDTH_MHZ * eff * share, 0.0)
    return down, 0.15 * down


def synthetic_tests(routes: np.ndarray, level_dbm: np.ndarray, grid: GridSpec, rng: np.random.Generator, *,
                    operator: str, technology: str = "4G") -> pd.DataFrame:
    """One speed test per route point (``routes`` from :func:`drive_routes`), with the columns that
    :func:`citycov.io.measurements.read_measurements` reads."""
    passes = int(routes[:, 1].max()) + 1 if len(routes) else 1
    route = (routes[:, 0] * passes + routes[:, 1]).astype(int)  # one drive per (route, pass)
    x, y = routes[:, 2], routes[:, 3]
    r, c = grid.rowcol(x, y)
    inside = grid.contains(r, c)
    r, c = np.where(inside, r, 0), np.where(inside, c, 0)
    n = len(route)
    n_routes = int(route.max()) + 1 if n else 0
    in_vehicle = rng.random(n_routes) < 0.5
    vehicle = in_vehicle[route]
    level = (np.where(inside, level_dbm[r, c], np.nan) + rng.normal(0, SHADOW_SIGMA_DB, n)
             - np.where(vehicle, CAR_LOSS_DB, 0.0))
    down, up = speed_from_level(level, rng)
    # each route is one drive at a random day and hour; tests every 30 s
    day = rng.integers(1, 330, n_routes)
    hour = rng.uniform(6.5, 20.0, n_routes)
    hour[rng.random(n_routes) < 0.08] = 5.25   # a few night drives: excluded by the 06:00-22:00 window
    day[rng.random(n_routes) < 0.05] = 400     # a few stale drives: older than 365 days
    first = np.r_[0, np.flatnonzero(np.diff(route)) + 1]
    seq = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
    stamp = (AS_OF.tz_localize(None) - pd.to_timedelta(day[route], unit="D") + pd.to_timedelta(hour[route], unit="h")
             + pd.to_timedelta(30 * seq, unit="s"))
    lon, lat = pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(x, y)
    accuracy = rng.gamma(2.0, 3.0, n)
    accuracy[rng.random(n) < 0.02] = rng.uniform(80, 400)       # network-located fixes: dropped on read
    down = np.round(down, 2)
    down[rng.random(n) < 0.005] = -1.0                          # corrupted records: dropped on read
    rsrp = np.round(np.clip(level, -140.0, -44.0), 1)
    rsrp[level < -140.0] = np.nan
    return pd.DataFrame({
        "timestamp": stamp.strftime("%Y-%m-%d %H:%M:%S"), "lon": np.round(lon, 6), "lat": np.round(lat, 6),
        "accuracy_m": np.round(accuracy, 1), "technology": technology, "operator": operator,
        "download_mbps": down, "upload_mbps": np.round(up, 2), "latency_ms": np.round(rng.gamma(4.0, 9.0, n), 0),
        "rsrp_dbm": rsrp, "environment": np.where(vehicle, "in-vehicle", "outdoor"), "route": routes[:, 0].astype(int),
        "pass": routes[:, 1].astype(int),
        "synthetic": True,
    })


README = """# Regulator toolkit demo data (SYNTHETIC)

**Everything in this folder is synthetic.** It was generated by `scripts/make_claims_demo.py`
(seed {seed}) from citycov's own model of the embedded Guangzhou scenario on a {cell_m:g} m grid,
which itself uses a synthetic network. It describes no real operator's claim and no real test.

* `claims_synthetic.geojson` (WGS84): an operator claim in the FCC BDC attribute layout
  (`providerid`, `technology` = 400 (4G), `mindown` = 5, `minup` = 1, `environmnt` = 0,
  `operator` = "{operator}"), drawn where the modelled 4G RSRP of that operator reaches
  {claim:g} dBm. The synthetic speed model needs about {true:g} dBm for 5/1 Mbit/s, so the
  claim deliberately **overstates** coverage: inside the districts, {claim_km2:.0f} km² claimed
  against {true_km2:.0f} km² where the model supports the tier.
* `measurements_synthetic.csv`: {n_tests} speed tests along {n_routes} random drive routes, each
  driven three times on different days and hours along parallel streets (one test every 30 s,
  80 m apart; half the routes start where the claim overstates the model), level = modelled
  RSRP + N(0, {sigma:g} dB) shadowing (− {car:g} dB in vehicles), speeds from a SINR →
  Shannon-efficiency mapping. Local time (Asia/Shanghai).
  Deliberately bad records are included: night drives (05:15), drives older than a year,
  network-located fixes (accuracy 80-400 m) and negative speeds.

Read them with `citycov.io.claims.read_claims` and `citycov.io.measurements.read_measurements`,
then `citycov.verification.challenge.classify_tests` / `evaluate_challenges` with the `fcc-2022` preset and
`as_of = "{as_of}"`.
"""


def write_demo(out: Path, claims: gpd.GeoDataFrame, tests: pd.DataFrame, *, meta: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    claims.to_file(out / "claims_synthetic.geojson", driver="GeoJSON")
    tests.to_csv(out / "measurements_synthetic.csv", index=False)
    (out / "README.md").write_text(README.format(**meta), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell-m", type=float, default=500.0)
    ap.add_argument("--operator", default="China Mobile")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "claims")
    ap.add_argument("--routes", type=int, default=60)
    args = ap.parse_args()

    from citycov import load_scenario
    from citycov.engine.cellular import TECH_INDEX, cellular_coverage
    from citycov.pipeline.inputs import read_inputs
    from citycov.pipeline.layers import build_layers

    t0 = time.perf_counter()
    scenario = load_scenario(REPO / "data" / "guangzhou.toml")
    inputs = read_inputs(scenario)
    layers = build_layers(scenario, inputs, cell_m=args.cell_m, rule="centroid")
    sectors = inputs.sectors
    mine = sectors[(sectors["operator"] == args.operator) & (sectors["technology"] == "4G")]
    if mine.empty:
        raise SystemExit(f"no 4G sectors of operator {args.operator!r}; operators: {sorted(set(sectors['operator']))}")
    cell = cellular_coverage(mine, layers.dem, layers.env, layers.grid, scenario.radio, progress=False)
    level = cell.best_dbm[TECH_INDEX["4G"]]
    print(f"model: {len(mine)} sectors on {layers.grid.shape} cells in {time.perf_counter() - t0:.0f} s")

    rng = np.random.default_rng(SEED)
    grid = layers.grid
    claims = claim_polygons(level, grid, operator=args.operator, providerid="DEMO-460-00")
    finite = np.nan_to_num(level, nan=-np.inf)
    study = layers.index >= 0
    # half the drives start where the claim overstates the model, half anywhere claimed
    overstated = (finite >= CLAIM_THRESHOLD_DBM) & (finite < TRUE_THRESHOLD_DBM)
    routes = np.vstack([
        drive_routes(study, grid, rng, start=overstated, n_routes=args.routes // 2),
        drive_routes(study, grid, rng, start=finite >= CLAIM_THRESHOLD_DBM, n_routes=args.routes - args.routes // 2)
        + np.array([args.routes // 2, 0, 0, 0]),
    ])
    tests = synthetic_tests(routes, level, grid, rng, operator=args.operator)
    km2 = grid.cell_area_km2
    meta = {"seed": SEED, "cell_m": args.cell_m, "operator": args.operator, "claim": CLAIM_THRESHOLD_DBM,
            "true": TRUE_THRESHOLD_DBM, "claim_km2": float(((finite >= CLAIM_THRESHOLD_DBM) & study).sum() * km2),
            "true_km2": float(((finite >= TRUE_THRESHOLD_DBM) & study).sum() * km2), "n_tests": len(tests),
            "n_routes": args.routes, "sigma": SHADOW_SIGMA_DB, "car": CAR_LOSS_DB, "as_of": AS_OF.date().isoformat()}
    write_demo(args.out, claims, tests, meta=meta)
    print(f"wrote {args.out} ({len(tests)} tests; claim {meta['claim_km2']:.0f} km² vs model "
          f"{meta['true_km2']:.0f} km²) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
