"""Write every output of a run into a staged output folder, then publish it whole.

The outputs are written into the staging folder of an :class:`~citycov.outputs.folder.OutputFolder`
(checked before the run by the CLI, or here for library callers) and published by one atomic
swap, so a failed or killed run never leaves half-written outputs or a mix of two runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from citycov.accounting import gaps as gaps_mod
from citycov.config import scenario_files
from citycov.crs import WGS84
from citycov.outputs import maps, report, report_html
from citycov.outputs import plan as plan_out
from citycov.outputs.folder import CLAIM_FILES, OUTPUT_FILES, OUTPUT_FOLDERS, OutputFolder
from citycov.outputs.i18n import check_lang
from citycov.outputs.reproducible import Reproducible, gdal_dates, resolve, scrub
from citycov.outputs.saved import NETWORK_GPKG, load_saved_run
from citycov.outputs.tables import write_csv
from citycov.pipeline.results import Results
from citycov.planning.result import PlanResult

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


def _write_claims(results: Results, folder: Path, mode: Reproducible | None) -> list[str]:
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
    write_csv(c.summary.round(4), folder / "claims_summary.csv")
    c.challenged.to_file(folder / "challenged_areas.geojson", driver="GeoJSON")
    names = list(CLAIM_FILES)
    if c.calibration is not None:
        calibration = c.calibration
        if mode is not None:
            calibration = dataclasses.replace(calibration, provenance=scrub(calibration.provenance, mode))
        calibration.save(folder / "calibration.json")
        names.append("calibration.json")
    return names


def _write_vectors(results: Results, folder: Path) -> None:
    """District boundaries (GeoJSON, WGS84) and the network layers (GeoPackage, WGS84) for the map."""
    frame = results.districts.frame.to_crs(WGS84)
    keep = ["district_id", "name", *(["name_local"] if results.districts.has_local_names else [])]
    frame[[*keep, "geometry"]].to_file(folder / "districts.geojson", driver="GeoJSON")
    path = folder / NETWORK_GPKG
    for name, layer in results.network_wgs84.items():
        layer.to_file(path, layer=name, driver="GPKG")
    if not results.network_wgs84:
        gpd.GeoDataFrame({"empty": []}, geometry=[], crs=WGS84).to_file(path, layer="empty", driver="GPKG")


def write_outputs(results: Results, out: str | Path | OutputFolder, *, lang: str | None = None,
                  basemap: str | None = None, reproducible: bool | None = None,
                  plan: PlanResult | None = None) -> dict[str, Path]:
    """Write all outputs of ``results`` into ``out`` and publish them; return their final paths.

    ``out`` is a folder path (checked here: :meth:`OutputFolder.prepare`, with the scenario's
    files as the run's inputs) or an :class:`OutputFolder` the caller prepared before the run.
    ``map.html`` and ``report.html`` are rendered from the files just written (as
    ``citycov map``/``citycov report`` would), in ``lang`` (default: the scenario's).

    ``reproducible``: write no time of the run, so that two runs give byte-identical files
    (:mod:`citycov.outputs.reproducible`); None (default): exactly when the environment
    variable ``SOURCE_DATE_EPOCH`` is set, whose time is then written as the run's.

    ``plan`` (from ``citycov plan``; ``results`` is then its "after" run, or its base run when
    there is none): also write the plan's tables and GeoJSON (:mod:`citycov.outputs.plan`),
    ``provenance.plan`` in ``districts.json``, a "Plan" section in ``report.html`` and
    ``report.md`` with one coverage-curve chart per metric, and the planned sites and cabinets
    as layers of ``map.html``.  None (default): none of these, the outputs as without a plan.

    Raises
    ------
    ScenarioError
        ``SOURCE_DATE_EPOCH`` is set to something other than a non-negative integer.
    """
    mode = resolve(reproducible)
    folder = out if isinstance(out, OutputFolder) else OutputFolder.prepare(
        out, reads=scenario_files(results.scenario))
    with folder:
        with folder.temporary_files(), gdal_dates(mode):
            names = _write_all(results, folder.staging, lang=lang, basemap=basemap, mode=mode, plan=plan)
        path = folder.publish()
    return {name: path / name for name in names}


def _write_all(results: Results, staging: Path, *, lang: str | None, basemap: str | None,
               mode: Reproducible | None, plan: PlanResult | None = None) -> list[str]:
    """Write every output into ``staging``; return the names of the entries written."""
    lang = check_lang(lang or results.scenario.report.lang)
    rows = report.district_rows(results, lang)
    prov = report.provenance(results)
    if mode is not None:
        prov = scrub(prov, mode)
    prov["reproducible"] = None if mode is None else {"source_date_epoch": mode.epoch}
    plan_names: list[str] = []
    saved_plan = None
    if plan is not None:
        entry = plan_out.plan_provenance(plan)
        prov[plan_out.PROVENANCE_KEY] = entry if mode is None else scrub(entry, mode)
        plan_names = plan_out.write_plan_files(plan, staging, reproducible=mode is not None)
        saved_plan = plan_out.load_saved_plan(staging, prov[plan_out.PROVENANCE_KEY])
    write_csv(rows, staging / "districts.csv")
    write_csv(report.target_rows(results, lang), staging / "targets.csv")
    networks = results.networks if results.networks is not None else pd.DataFrame()
    write_csv(networks.round(4), staging / "networks.csv")
    variants = results.variants if results.variants is not None else pd.DataFrame(
        columns=["area_id", "metric", "variant", "value"])
    write_csv(variants.round(6), staging / "uncertainty.csv")
    gaps = results.gaps if results.gaps is not None else gaps_mod.find_gaps(
        np.zeros(results.grid.shape, dtype=bool), results.rasters["population"],
        results.rasters["district_index"], results.grid, district_ids=results.districts.ids,
        district_names=list(results.districts.frame["name"]), site_x=np.zeros(0), site_y=np.zeros(0))
    with _quiet_vector_writes():
        gaps_mod.write_gaps(gaps, staging)
    (staging / "districts.json").write_text(report.json_document(results, rows, prov, lang), encoding="utf-8")
    markdown = report.markdown_report(results, rows, prov, lang)
    if saved_plan is not None:
        section = plan_out.markdown_lines(saved_plan, rows.set_index("area_id"), lang)
        markdown = markdown.rstrip("\n") + "\n" + "\n".join(section) + "\n"
    (staging / "report.md").write_text(markdown, encoding="utf-8")
    write_csv(results.sectors, staging / "sectors.csv")
    report.write_rasters(results, staging)
    with _quiet_vector_writes():
        _write_vectors(results, staging)
        extra = _write_claims(results, staging, mode)
    extra += [n for n in LINK_FILES if (staging / n).is_file()]
    extra += sorted(p.name for p in staging.glob("broadcast_*.tif"))
    if results.services is not None:
        write_csv(report.service_rows(results), staging / "services.csv")
        extra.append("services.csv")
    saved = load_saved_run(staging)
    maps.write_map(saved, staging / "map.html", lang=lang, basemap=basemap or results.scenario.report.basemap)
    report_html.write_report(saved, staging / "report.html", lang=lang, figures_dir=staging / "figures")
    return [*OUTPUT_FILES, *OUTPUT_FOLDERS, *extra, *plan_names]
