"""Write every output of a run, atomically.

Files are first written to a staging folder beside the output folder and moved into place
only when all of them are complete, so a failed run never leaves half-written outputs
(each move is an atomic ``os.replace`` on the same file system).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from citycov.accounting import gaps as gaps_mod
from citycov.crs import WGS84
from citycov.outputs import maps, report, report_html
from citycov.outputs.saved import NETWORK_GPKG, load_saved_run
from citycov.pipeline.results import Results

OUTPUT_FILES = ("districts.csv", "districts.json", "districts.geojson", "targets.csv", "networks.csv",
                "uncertainty.csv", "report.md", "rsrp_dbm.tif", "serving_sector.tif", "coverage.tif", "sectors.csv",
                "gaps.geojson", "gaps.gpkg", NETWORK_GPKG, "map.html", "report.html")
OUTPUT_FOLDERS = ("figures",)
CLAIM_FILES = ("claims_hexes.geojson", "claims_summary.csv", "challenged_areas.geojson")
SERVICE_FILES = ("services.csv",)
"""Written when the scenario has ``[services]`` presets."""
LINK_FILES = ("sinr_db.tif", "throughput_mbps.tif", "speed_tier.tif")


@contextlib.contextmanager
def _quiet_vector_writes() -> Iterator[None]:
    """Keep pyogrio's "Created N records" (logged at INFO for every layer written) out of the run log."""
    logger = logging.getLogger("pyogrio._io")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _write_claims(results: Results, folder: Path) -> list[str]:
    """The verification outputs, when the scenario verifies claims; returns the file names."""
    c = results.claims
    if c is None:
        return []
    hexes = c.hexes.copy()
    for col in hexes.columns:
        if hexes[col].dtype == object and col != "geometry":
            hexes[col] = hexes[col].astype(str)
    hexes["cell"] = hexes["cell"].astype("int64").astype(str)
    hexes.to_file(folder / "claims_hexes.geojson", driver="GeoJSON")
    c.summary.round(4).to_csv(folder / "claims_summary.csv", index=False)
    c.challenged.to_file(folder / "challenged_areas.geojson", driver="GeoJSON")
    names = list(CLAIM_FILES)
    if c.calibration is not None:
        c.calibration.save(folder / "calibration.json")
        names.append("calibration.json")
    return names


def _write_vectors(results: Results, folder: Path) -> None:
    """District boundaries (GeoJSON, WGS84) and the network layers (GeoPackage, WGS84) for the map."""
    frame = results.districts.frame.to_crs(WGS84)
    keep = [c for c in ("district_id", "name", "name_zh") if c in frame.columns]
    frame[[*keep, "geometry"]].to_file(folder / "districts.geojson", driver="GeoJSON")
    path = folder / NETWORK_GPKG
    for name, layer in results.network_wgs84.items():
        layer.to_file(path, layer=name, driver="GPKG")
    if not results.network_wgs84:
        gpd.GeoDataFrame({"empty": []}, geometry=[], crs=WGS84).to_file(path, layer="empty", driver="GPKG")


def write_outputs(results: Results, out_dir: str | Path, *, lang: str | None = None,
                  basemap: str | None = None) -> dict[str, Path]:
    """Write all outputs of ``results`` into ``out_dir``; return their final paths.

    ``map.html`` and ``report.html`` are rendered from the files just written (as
    ``citycov map``/``citycov report`` would), in ``lang`` (default: the scenario's).
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-staging-", dir=out_dir.parent))
    try:
        rows = report.district_rows(results)
        prov = report.provenance(results)
        rows.to_csv(staging / "districts.csv", index=False)
        report.target_rows(results).to_csv(staging / "targets.csv", index=False)
        networks = results.networks if results.networks is not None else pd.DataFrame()
        networks.round(4).to_csv(staging / "networks.csv", index=False)
        variants = results.variants if results.variants is not None else pd.DataFrame(
            columns=["area_id", "metric", "variant", "value"])
        variants.round(6).to_csv(staging / "uncertainty.csv", index=False)
        gaps = results.gaps if results.gaps is not None else gaps_mod.find_gaps(
            np.zeros(results.grid.shape, dtype=bool), results.rasters["population"],
            results.rasters["district_index"], results.grid, district_ids=results.districts.ids,
            district_names=list(results.districts.frame["name"]), site_x=np.zeros(0), site_y=np.zeros(0))
        with _quiet_vector_writes():
            gaps_mod.write_gaps(gaps, staging)
        (staging / "districts.json").write_text(report.json_document(results, rows, prov), encoding="utf-8")
        (staging / "report.md").write_text(report.markdown_report(results, rows, prov), encoding="utf-8")
        results.sectors.to_csv(staging / "sectors.csv", index=False)
        report.write_rasters(results, staging)
        with _quiet_vector_writes():
            _write_vectors(results, staging)
            claim_files = _write_claims(results, staging)
        claim_files += [n for n in LINK_FILES if (staging / n).is_file()]
        claim_files += sorted(p.name for p in staging.glob("broadcast_*.tif"))
        if results.services is not None:
            report.service_rows(results).to_csv(staging / "services.csv", index=False)
            claim_files.append("services.csv")
        saved = load_saved_run(staging)
        lang = lang or results.scenario.report.lang
        maps.write_map(saved, staging / "map.html", lang=lang, basemap=basemap or results.scenario.report.basemap)
        report_html.write_report(saved, staging / "report.html", lang=lang, figures_dir=staging / "figures")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in (*OUTPUT_FILES, *claim_files):
            os.replace(staging / name, out_dir / name)
        stale_broadcast = [p.name for p in out_dir.glob("broadcast_*.tif")]
        for name in (*CLAIM_FILES, "calibration.json", *SERVICE_FILES, *stale_broadcast):
            if name not in claim_files and (out_dir / name).exists():
                os.replace(out_dir / name, staging / name)  # stale from an earlier run: remove with staging
        for name in OUTPUT_FOLDERS:
            if (out_dir / name).exists():
                os.replace(out_dir / name, staging / f"old-{name}")
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out_dir / name for name in (*OUTPUT_FILES, *OUTPUT_FOLDERS, *claim_files)}
