#!/usr/bin/env python3
"""Viewshed (citycov.engine.visibility) on the shared benchmark tile, beside gdal_viewshed.

Job: the 1" tile N23E113 of ``../shared/bench/make_dem.py`` (square cells of 29.6 m, as in
``bench_terrain.py``), observer on the centre cell 30 m above the terrain, target 1.5 m above each
cell, k = 4/3, R = 20 km and 40 km.

V1  time of :func:`citycov.engine.viewshed` (sweep + refinement near visibility edges), of the sweep
    alone (``refine="none"``) and of every cell exact (``refine="all"``), median of ``--repeat``
    calls after a warm-up, in this process
V2  agreement with the exact per-cell line of sight (``refine="all"``, the definition in the module
    docstring) over the cells within 20 km: the sweep alone vs with the refinement
V3  gdal_viewshed (Debian's gdal-bin) on the same DEM written to a GeoTIFF: same observer cell,
    -oz 30 -tz 1.5 -md R -cc 0.75 (its corrected height is z − cc·d²/(2·R_ellipsoid), so cc = 1/k);
    its time (whole process, median of ``--repeat``) and its agreement with the exact LOS and with
    ours within 20 km.  Missing gdal_viewshed is reported, not fatal.
V4  today's fast terrain mode (the engine's fan and nearest-ray obstacle set, each diffraction
    method, 2100 MHz, the tile as float32 as the engine reads it): its cells with no terrain loss
    against the exact LOS within 20 km (baseline only)
V5  our sweep beside the engine's fan build over the same 40 km fan, in this process (a ratio).

Writes ``benchmarks/results/viewshed.json``.

usage: python benchmarks/bench_viewshed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.oracles_engine, benchmarks.bench_terrain

from benchmarks.bench_terrain import CELL_M, K_RE, PEERS, load_tile, median_time  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "viewshed.json"
ROW0 = COL0 = 1800
H_OBS, H_TGT, K = 30.0, 1.5, 4.0 / 3.0
CMP_KM = 20.0


def tile(folder: Path) -> np.ndarray:
    """The benchmark tile via ``bench_terrain.load_tile``, generated first with the ``shared/bench/make_dem.py``
    beside this checkout or beside its parent (git worktrees live one level deeper)."""
    hgt = folder / "srtm1" / "N23E113.hgt"
    for make_dem in (ROOT.parent / "shared" / "bench" / "make_dem.py",
                     ROOT.parent.parent / "shared" / "bench" / "make_dem.py"):
        if not hgt.exists() and make_dem.exists():
            subprocess.run([sys.executable, str(make_dem), str(folder)], check=True, capture_output=True)
    return load_tile(folder)


def agreement(a: np.ndarray, b: np.ndarray, inside: np.ndarray) -> dict:
    """Share of ``inside`` cells where the visible masks ``a`` and ``b`` agree, and the misses each way."""
    a, b = a[inside], b[inside]
    return {"cells": int(inside.sum()), "agree": round(float((a == b).mean()), 6),
            "visible_only_in_first": int((a & ~b).sum()), "visible_only_in_second": int((~a & b).sum())}


def v1_v2(dem: np.ndarray, repeat: int) -> tuple[dict, np.ndarray, np.ndarray]:
    from citycov.engine.visibility import VISIBLE, _one, _Workspace, viewshed

    def run(r_km: float, refine: str) -> np.ndarray:
        return viewshed(dem, CELL_M, row=ROW0, col=COL0, observer_height_m=H_OBS, target_height_m=H_TGT,
                        max_distance_m=r_km * 1000.0, k_factor=K, refine=refine)

    rr, cc = np.ogrid[:dem.shape[0], :dem.shape[1]]
    inside = np.hypot(rr - ROW0, cc - COL0) * CELL_M <= CMP_KM * 1000.0
    t0 = time.perf_counter()
    exact = run(CMP_KM, "all") == VISIBLE
    t_exact_cold = time.perf_counter() - t0
    out: dict = {"cells_within_20km": int(inside.sum()), "runs": {}}
    for r_km in (20.0, 40.0):
        res: dict = {}
        for refine in ("edges", "none") + (("all",) if r_km == 20.0 else ()):
            t, times = median_time(lambda r_km=r_km, refine=refine: run(r_km, refine), repeat if refine != "all" else 1)
            seen = run(r_km, refine) == VISIBLE
            res[refine] = {"s": round(t, 4), "runs_s": [round(v, 4) for v in times],
                           "agreement_with_exact_within_20km": agreement(seen, exact, inside)}
        codes = np.full(dem.shape, 255, dtype=np.uint8)
        n_ref = _one(dem, ROW0, COL0, H_OBS, H_TGT, CELL_M, 1.0 / (2.0 * K_RE), r_km * 1000.0, "edges", codes,
                     _Workspace())
        disc = int((codes != 255).sum())
        res["edges"]["cells"] = disc
        res["edges"]["refined_cells"] = n_ref
        res["edges"]["refined_share"] = round(n_ref / disc, 4)
        res["visible_share"] = round(float((codes == VISIBLE).sum() / disc), 4)
        out["runs"][f"{r_km:g}km"] = res
    out["exact_20km_first_call_s"] = round(t_exact_cold, 3)
    return out, exact, inside


def v3_gdal(dem: np.ndarray, repeat: int, exact: np.ndarray, ours: np.ndarray, inside: np.ndarray) -> dict:
    exe = shutil.which("gdal_viewshed")
    if exe is None:
        return {"available": False,
                "note": "gdal_viewshed not found on PATH: install Debian's gdal-bin (apt-get install gdal-bin) to "
                        "compare; nothing measured"}
    import pyproj
    import rasterio
    from affine import Affine

    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip().splitlines()[0]
    res: dict = {"available": True, "version": version, "runs": {}}
    transform = Affine(CELL_M, 0.0, 500_000.0, 0.0, -CELL_M, 2_700_000.0)
    ox = transform.c + (COL0 + 0.5) * CELL_M
    oy = transform.f - (ROW0 + 0.5) * CELL_M
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "dem.tif"
        with rasterio.open(src, "w", driver="GTiff", height=dem.shape[0], width=dem.shape[1], count=1,
                           dtype="float32", crs=pyproj.CRS("EPSG:32649"), transform=transform, tiled=True,
                           blockxsize=256, blockysize=256) as ds:
            ds.write(dem.astype(np.float32), 1)
        for r_km in (20.0, 40.0):
            dst = Path(tmp) / f"vs{r_km:g}.tif"
            cmd = [exe, "-q", "-ox", repr(ox), "-oy", repr(oy), "-oz", str(H_OBS), "-tz", str(H_TGT), "-md",
                   str(r_km * 1000.0), "-cc", str(1.0 / K), "-vv", "255", "-iv", "0", "-ov", "0", str(src), str(dst)]

            def job(cmd=cmd):
                subprocess.run(cmd, check=True, capture_output=True)

            t, times = median_time(job, repeat)
            with rasterio.open(dst) as ds:
                vis = ds.read(1)
                off_col = round((ds.transform.c - transform.c) / CELL_M)
                off_row = round((transform.f - ds.transform.f) / CELL_M)
            full = np.zeros(dem.shape, dtype=bool)
            full[off_row:off_row + vis.shape[0], off_col:off_col + vis.shape[1]] = vis == 255
            res["runs"][f"{r_km:g}km"] = {
                "s": round(t, 4), "runs_s": [round(v, 4) for v in times], "output_shape": list(vis.shape),
                "agreement_with_exact_within_20km": agreement(full, exact, inside),
                "agreement_with_ours_within_20km": agreement(full, ours, inside)}
        res["command"] = " ".join([*cmd[:-2], "dem.tif", "out.tif"])
    return res


def v4_engine_baseline(dem: np.ndarray, exact: np.ndarray, inside: np.ndarray) -> dict:
    """Today's fast mode: per cell its nearest ray's obstacle set on the engine's fan, and the
    terrain diffraction loss from it at 2100 MHz; cells with no terrain loss against the exact LOS."""
    from citycov.engine.cellular import DIFFRACTION_CODES, HULL_TOLERANCE
    from citycov.engine.tiles import fan_size
    from tests import oracles_engine

    dem32 = dem.astype(np.float32)  # the engine's terrain dtype
    reach = CMP_KM * 1000.0 / CELL_M
    n_rays, n_steps = fan_size(reach)
    z_tx = float(dem32[ROW0, COL0]) + H_OBS
    zr, prev, top, hz = oracles_engine.ray_fan(dem32, float(ROW0), float(COL0), z_tx, CELL_M, n_rays, n_steps, K_RE,
                                               HULL_TOLERANCE)
    inv_root = 1.0 / math.sqrt(299_792_458.0 / 2100e6)
    out: dict = {"fan": f"fan_size rays ({n_rays}), one sample per cell, hull tolerance {HULL_TOLERANCE:g}, nearest "
                        "ray per cell, float32 terrain", "terrain_loss_zero_at_2100MHz": {}}
    for name, code in sorted(DIFFRACTION_CODES.items()):
        loss = np.full(dem.shape, np.nan)
        oracles_engine.diffraction_grid(dem32, float(ROW0), float(COL0), CELL_M, H_TGT, K_RE, code, zr, prev, top, hz,
                                        reach, inv_root, loss)
        out["terrain_loss_zero_at_2100MHz"][name] = agreement(loss == 0.0, exact, inside)
    out["note"] = ("Deygout and Bullington on the obstacle set give no loss exactly when the set stays below the "
                   "direct ray (the engine's geometric line of sight); the knife edge also gives loss on clear paths "
                   "with nu > -0.78, so its loss = 0 is stricter than line of sight")
    return out


def v5_sweep_ratio(dem: np.ndarray, repeat: int) -> dict:
    """Our sweep (bounds of a 40 km fan) beside the engine's fan build (ray_wedge_into, as bench_terrain P1),
    same fan size, in this process: the load of the machine cancels in the ratio."""
    from citycov.engine import _visibility_kernels
    from citycov.engine.cellular import HULL_TOLERANCE
    from citycov.engine.tiles import fan_size
    from tests import oracles_engine

    reach = 40_000.0 / CELL_M
    n_rays, n_steps = fan_size(reach)
    dem32 = dem.astype(np.float32)
    z_obs = float(dem[ROW0, COL0]) + H_OBS
    upper = np.empty((n_steps + 1, n_rays), dtype=np.float32)
    lower = np.empty_like(upper)
    none = np.empty((0, 0), dtype=np.float32)

    def ours():
        _visibility_kernels.ray_horizon_bounds(dem, float(ROW0), float(COL0), z_obs, CELL_M, 1.0 / (2.0 * K_RE), n_rays,
                                             1.0, 0.25, upper, lower, none)

    def engine():
        oracles_engine.ray_wedge(dem32, float(ROW0), float(COL0), z_obs, CELL_M, n_rays, 0, n_rays, n_steps, K_RE,
                                 HULL_TOLERANCE)

    t_ours, _ = median_time(ours, repeat)
    t_engine, _ = median_time(engine, repeat)
    return {"n_rays": n_rays, "n_steps": n_steps, "viewshed_sweep_s": round(t_ours, 4),
            "engine_fan_s": round(t_engine, 4), "ratio_engine_over_ours": round(t_engine / t_ours, 2),
            "peer_radial_sweep_limit_s": list(PEERS["radial_sweep_limit_s"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    result: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "numba_threads": int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1)),
                                "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
                                "note": "shared machine: other jobs ran alongside; compare ratios, not absolutes"},
                    "job": {"tile": "N23E113 1\" synthetic (shared/bench/make_dem.py)", "cell_m": round(CELL_M, 3),
                            "observer": [ROW0, COL0], "observer_height_m": H_OBS, "target_height_m": H_TGT,
                            "k_factor": K, "compare_within_km": CMP_KM},
                    "peers": {"gdal_viewshed_40km_s": PEERS["gdal_viewshed_40km_s"]}}
    with tempfile.TemporaryDirectory() as tmp:
        dem = tile(Path(tmp))
    out, exact, inside = v1_v2(dem, args.repeat)
    result["V1_V2"] = out
    for r, res in out["runs"].items():
        for refine in ("edges", "none", "all"):
            if refine in res:
                a = res[refine]["agreement_with_exact_within_20km"]
                print(f"R = {r}: refine={refine:5s} {res[refine]['s']:.3f} s, agrees with exact LOS on "
                      f"{a['agree']:.4%} of {a['cells']:,} cells within 20 km")
        print(f"   refined {res['edges']['refined_cells']:,} of {res['edges']['cells']:,} cells "
              f"({res['edges']['refined_share']:.1%}); visible {res['visible_share']:.1%}")
    from citycov.engine.visibility import VISIBLE, viewshed

    ours = viewshed(dem, CELL_M, row=ROW0, col=COL0, observer_height_m=H_OBS, target_height_m=H_TGT,
                    max_distance_m=CMP_KM * 1000.0, k_factor=K) == VISIBLE
    result["V3_gdal_viewshed"] = v3 = v3_gdal(dem, args.repeat, exact, ours, inside)
    if not v3["available"]:
        print(v3["note"])
    else:
        for r, res in v3["runs"].items():
            print(f"gdal_viewshed R = {r}: {res['s']:.3f} s (process), agrees with exact LOS on "
                  f"{res['agreement_with_exact_within_20km']['agree']:.4%}, with ours on "
                  f"{res['agreement_with_ours_within_20km']['agree']:.4%} (peer figure 0.11 s at 40 km)")
    result["V4_engine_fast_mode_baseline"] = v4 = v4_engine_baseline(dem, exact, inside)
    for name, a in v4["terrain_loss_zero_at_2100MHz"].items():
        print(f"engine fast mode ({name}): terrain loss = 0 agrees with exact LOS on {a['agree']:.4%}")
    result["V5_sweep_vs_engine_fan"] = v5 = v5_sweep_ratio(dem, args.repeat)
    print(f"sweep of a 40 km fan: ours {v5['viewshed_sweep_s']:.3f} s, the engine's fan build "
          f"{v5['engine_fan_s']:.3f} s (ratio {v5['ratio_engine_over_ours']})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
