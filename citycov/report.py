"""Report content: the district table, the provenance record, the Markdown report, GeoTIFFs.

Everything here renders finished :class:`~citycov.pipeline.Results`; ``outputs`` decides
where and how atomically the files land.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio

from citycov.config import METRICS, TECHNOLOGIES
from citycov.pipeline import CITY_ID, Results
from citycov.population import ZONAL_RULE
from citycov.provenance import file_sha256

LEVEL_NAMES = {"3G": "CPICH RSCP (dBm)", "4G": "RSRP (dBm)", "5G": "SS-RSRP (dBm)"}


def district_rows(results: Results) -> pd.DataFrame:
    """The district table as written: one row per district and the city, with every target."""
    t = results.table
    out = pd.DataFrame({
        "area_id": t.index, "name": t["name"].to_numpy(), "name_zh": t["name_zh"].to_numpy(),
        "area_km2": t["area_km2"].round(2).to_numpy(),
        "population": t["population"].round(0).astype("int64").to_numpy(),
        "population_covered": t["population_covered"].round(0).astype("int64").to_numpy(),
        "wireless_pct": t["wireless_pct"].round(2).to_numpy(),
        "population_cellular": t["population_cellular"].round(0).astype("int64").to_numpy(),
        "population_wlan": t["population_wlan"].round(0).astype("int64").to_numpy(),
        "households": t["households"].round(0).astype("int64").to_numpy(),
        "households_passed": t["households_passed"].round(0).astype("int64").to_numpy(),
        "ftth_pct": t["ftth_pct"].round(2).to_numpy(),
    })
    for target in results.scenario.targets:
        res = {r.area_id: r for r in results.target_results if r.target == target}
        key = f"{target.metric}_{round(target.threshold * 100)}"
        out[f"{key}_pass"] = [res[a].passed for a in out["area_id"]]
        out[f"{key}_gap"] = [res[a].gap for a in out["area_id"]]
    return out


def provenance(results: Results) -> dict[str, Any]:
    """Inputs (with SHA-256), parameters, models, zonal rule, software and warnings."""
    sc = results.scenario
    return {
        "scenario": {"name": sc.name, "file": str(sc.source), "sha256": file_sha256(sc.source)},
        "run_started_utc": results.started_utc,
        "software": results.software,
        "synthetic_inputs": results.synthetic_inputs,
        "inputs": [
            {"name": r.name, "path": r.path, "sha256": r.sha256, "bytes": r.size_bytes, "crs": r.crs,
             "synthetic": r.synthetic, "rows": r.rows, "vintage": r.vintage, "notes": list(r.notes)}
            for r in results.inputs
        ],
        "grid": {"crs": results.grid.crs.to_string(), "cell_m": results.grid.cell_m,
                 "shape": list(results.grid.shape), "bounds": list(results.grid.bounds)},
        "parameters": {
            "radio": _plain(sc.radio.__dict__), "wlan": _plain(sc.wlan.__dict__),
            "fibre": _plain(sc.fibre.__dict__),
        },
        "models": {
            "cellular": "Okumura-Hata 150-1500 MHz, COST-231 Hata 1500-2000 MHz, TR 38.901 UMa/RMa NLOS above "
                        "2000 MHz (model 'auto'); environment class from residents per km²; plus one terrain "
                        "knife edge (ITU-R P.526 eq. 31) at the radio horizon of each radial, earth radius "
                        f"factor k = {sc.radio.k_factor:.4g}; 3GPP sector antenna pattern",
            "wlan": f"log-distance: FSPL(1 m) + 10·{sc.wlan.path_loss_exponent:g}·log10(d)",
            "ftth": f"cell centre within {sc.fibre.drop_distance_m:g} m of a fibre route or access node",
            "zonal_rule": ZONAL_RULE,
        },
        "sector_models": results.sectors["model"].value_counts().to_dict(),
        "model_extrapolation": list(results.extrapolation),
        "timings_s": {k: round(v, 3) for k, v in results.timings_s.items()},
        "warnings": results.warnings,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def json_document(results: Results, rows: pd.DataFrame, prov: dict[str, Any]) -> str:
    """``districts.json``: provenance, targets, per-area target results and the district rows."""

    def number(v: float) -> float | None:
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    doc = {
        "provenance": prov,
        "targets": [{"metric": t.metric, "threshold": t.threshold, "label": t.label}
                    for t in results.scenario.targets],
        "target_results": [{"area_id": r.area_id, "metric": r.target.metric, "value": number(r.value),
                            "passed": bool(r.passed), "gap": int(r.gap), "gap_unit": r.gap_unit}
                           for r in results.target_results],
        "areas": json.loads(rows.to_json(orient="records", force_ascii=False)),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)


def markdown_report(results: Results, rows: pd.DataFrame, prov: dict[str, Any]) -> str:
    """The Markdown report: synthetic banner, targets, district table, method, provenance."""
    sc = results.scenario
    lines = [f"# citycov report: {sc.name}", ""]
    if results.synthetic_inputs:
        lines += [f"> **SYNTHETIC INPUT**: {', '.join(results.synthetic_inputs)} "
                  "are synthetic stand-ins, not measured data. Figures show what the method gives on them; "
                  "they are not official coverage statistics.", ""]
    city = rows.set_index("area_id").loc[CITY_ID]
    lines += ["## Targets (city)", "", "| target | value | result | gap |", "|---|---|---|---|"]
    for r in results.target_results:
        if r.area_id == CITY_ID:
            lines.append(f"| {r.target.label} | {100 * r.value:.2f}% | {'PASS' if r.passed else 'FAIL'} | "
                         f"{r.gap:,} {r.gap_unit} |")
    lines += ["", f"City population on the grid: {city['population']:,}; covered by wireless broadband: "
              f"{city['population_covered']:,} ({city['wireless_pct']:.2f}%). Households: {city['households']:,}; "
              f"passed by fibre: {city['households_passed']:,} ({city['ftth_pct']:.2f}%).", ""]
    lines += ["## Districts", "",
              "| district | 区 | population | wireless % | wireless target | households | FTTH % | FTTH target |",
              "|---|---|---:|---:|---|---:|---:|---|"]
    def cell(res: dict, metric: str) -> str:
        r = res.get(metric)
        if r is None:
            return "-"
        return "PASS" if r.passed else f"FAIL (gap {r.gap:,} {r.gap_unit})"

    for _, row in rows.iterrows():
        res = {r.target.metric: r for r in results.target_results if r.area_id == row["area_id"]}
        lines.append(f"| {row['name']} | {row['name_zh']} | {row['population']:,} | {row['wireless_pct']:.2f} | "
                     f"{cell(res, 'wireless_population')} | {row['households']:,} | {row['ftth_pct']:.2f} | "
                     f"{cell(res, 'ftth_households')} |")
    lines += ["", "## Definitions and method", ""]
    for metric, text in METRICS.items():
        lines.append(f"- `{metric}`: {text}.")
    radio = sc.radio
    thr = ", ".join(f"{t} {LEVEL_NAMES[t].split(' (')[0]} ≥ {radio.threshold_dbm[t]:g} dBm"
                    for t in radio.broadband_technologies)
    lines += [
        f"- Wireless broadband coverage of a cell: {thr} (outdoor, receiver at {radio.rx_height_m:g} m), "
        f"or WLAN ≥ {sc.wlan.threshold_dbm:g} dBm.",
        f"- Cellular model: {prov['models']['cellular']}.",
        f"- WLAN model: {prov['models']['wlan']}.",
        f"- FTTH rule: {prov['models']['ftth']}; households = residents / {sc.fibre.persons_per_household:g}.",
        f"- Zonal rule: {ZONAL_RULE}.",
        *[f"- Extrapolation: {text}." for text in results.extrapolation],
        f"- Grid: {results.grid.shape[0]} × {results.grid.shape[1]} cells of {results.grid.cell_m:g} m in "
        f"{results.grid.crs.to_string()}.",
        "",
        "## Provenance", "",
        f"- Scenario: `{prov['scenario']['file']}` (SHA-256 `{prov['scenario']['sha256']}`)",
        f"- Run started (UTC): {prov['run_started_utc']}",
        "- Software: " + ", ".join(f"{k} {v}" for k, v in prov["software"].items()),
        "",
        "| input | file | SHA-256 | CRS | rows | vintage | synthetic |", "|---|---|---|---|---:|---|---|",
    ]
    for inp in prov["inputs"]:
        lines.append(f"| {inp['name']} | `{inp['path']}` | `{inp['sha256']}` | {inp['crs']} | "
                     f"{inp['rows'] if inp['rows'] is not None else '-'} | {inp['vintage'] or '-'} | "
                     f"{'**SYNTHETIC**' if inp['synthetic'] else 'no'} |")
    notes = [f"{inp['name']}: {n}" for inp in prov["inputs"] for n in inp["notes"]]
    if notes:
        lines += ["", "Input notes:"] + [f"- {n}" for n in notes]
    lines += ["", "Parameters:", "", "```json", json.dumps(prov["parameters"], indent=2, ensure_ascii=False),
              "```"]
    if results.warnings:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in results.warnings]
    lines += ["", "Step timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in prov["timings_s"].items()), ""]
    return "\n".join(lines)


def write_rasters(results: Results, folder: Path) -> None:
    grid = results.grid
    study = results.rasters["district_index"] >= 0
    best = results.rasters["best_dbm"]
    with rasterio.open(folder / "rsrp_dbm.tif", "w", **grid.profile(dtype="float32", nodata=np.nan,
                                                                     count=len(TECHNOLOGIES))) as dst:
        dst.write(best)
        for i, tech in enumerate(TECHNOLOGIES):
            dst.set_band_description(i + 1, f"{tech} best-server {LEVEL_NAMES[tech]}")
        dst.update_tags(floor_dbm=str(results.scenario.radio.floor_dbm), units="dBm")
    with rasterio.open(folder / "serving_sector.tif", "w", **grid.profile(dtype="int32", nodata=-1,
                                                                          count=len(TECHNOLOGIES))) as dst:
        dst.write(results.rasters["best_sector"])
        for i, tech in enumerate(TECHNOLOGIES):
            dst.set_band_description(i + 1, f"{tech} serving sector_index (see sectors.csv)")
    cov = np.stack([
        np.where(study, results.rasters["wireless"], 255),
        np.where(study, results.rasters["ftth"], 255),
    ]).astype("uint8")
    with rasterio.open(folder / "coverage.tif", "w", **grid.profile(dtype="uint8", nodata=255, count=2)) as dst:
        dst.write(cov)
        dst.set_band_description(1, "wireless broadband coverage (1 covered, 0 not)")
        dst.set_band_description(2, "FTTH passed (1 passed, 0 not)")
    if results.synthetic_inputs:
        for name in ("rsrp_dbm.tif", "serving_sector.tif", "coverage.tif"):
            with rasterio.open(folder / name, "r+") as dst:
                dst.update_tags(SYNTHETIC_INPUTS=",".join(results.synthetic_inputs))
