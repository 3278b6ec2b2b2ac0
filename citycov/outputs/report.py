"""Report content: the district, target, network, service and uncertainty tables, the
provenance record, the Markdown report and the GeoTIFFs.

Everything here renders finished :class:`~citycov.pipeline.results.Results`; ``outputs`` decides
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
import rasterio.shutil
from rasterio.windows import Window

from citycov.accounting.districts import CITY_ID, METRIC_COLUMNS, area_kinds, field_definitions
from citycov.accounting.gaps import top_gaps_per_district
from citycov.accounting.population import ZONAL_RULES
from citycov.accounting.targets import EMPTY_VERDICTS, TargetResult
from citycov.choices import TECHNOLOGIES
from citycov.config import METRICS
from citycov.engine.linkbudget import FCC_BDC_TIERS as SPEED_TIERS
from citycov.errors import OutputNameError
from citycov.io.boundaries import has_local_names
from citycov.outputs.i18n import text as label
from citycov.outputs.names import file_names
from citycov.pipeline.results import Results
from citycov.pipeline.services import SERVICE_COLUMNS
from citycov.provenance import file_sha256
from citycov.stored import StoredRaster, bounded_gdal_cache, row_strips, strip_of

LEVEL_NAMES = {"3G": "CPICH RSCP (dBm)", "4G": "RSRP (dBm)", "5G": "SS-RSRP (dBm)"}
BROADCAST_PREFIX = "broadcast_"
BROADCAST_SUFFIX = ".tif"
COUNT_COLUMNS = ("population", "population_covered", "population_cellular", "population_wlan", "households",
                 "households_passed", "villages", "villages_covered", "population_input")


def _num(value: float, digits: int = 2) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def area_names(results: Results, lang: str = "en") -> pd.Series:
    """``name`` per area id: the districts' names, and the city row labelled in ``lang``."""
    names = results.table["name"].copy()
    names.loc[CITY_ID] = label("city_total", lang)
    return names


def has_groups(table: pd.DataFrame) -> bool:
    """Whether a district table (or ``districts.csv``) has rows of groups of districts."""
    return bool((area_kinds(table) == "group").any())


def district_rows(results: Results, lang: str = "en") -> pd.DataFrame:
    """The district table as written: one row per district, per group of districts and the city
    (its name in ``lang``), every metric with its numerator, denominator, percentage and
    uncertainty band, and every target's pass/gap.  ``name_local`` (the districts' second name)
    only when they have one; ``area_kind`` (district, group, total) and ``group_id`` (a
    district's group, a group's own id) only when the districts have groups."""
    t = results.table
    out = pd.DataFrame({"area_id": t.index, "name": area_names(results, lang).to_numpy()})
    if has_local_names(t):
        out["name_local"] = t["name_local"].to_numpy()
    if has_groups(t):
        out["area_kind"] = t["area_kind"].to_numpy()
        out["group_id"] = t["group_id"].to_numpy()
    out["area_km2"] = t["area_km2"].round(2).to_numpy()
    for col in COUNT_COLUMNS:
        if col in t.columns:
            out[col] = t[col].round(0).to_numpy()
    for col in ("urban_area_km2", "urban_area_3g_km2"):
        out[col] = t[col].round(3).to_numpy()
    out["census_factor"] = t["census_factor"].round(6).to_numpy()
    band = results.band
    for metric, (_, _, pct) in METRIC_COLUMNS.items():
        out[pct] = t[pct].round(2).to_numpy()
        if band is not None:
            sel = band[band["metric"] == metric].set_index("area_id")
            out[f"{pct}_low"] = [_num(100 * sel.loc[a, "low"]) if a in sel.index else None for a in t.index]
            out[f"{pct}_high"] = [_num(100 * sel.loc[a, "high"]) if a in sel.index else None for a in t.index]
    for target in results.scenario.targets:
        res = {r.area_id: r for r in results.target_results if r.target == target}
        key = f"{target.metric}_{round(target.threshold * 100)}"
        out[f"{key}_pass"] = [res[a].passed if a in res else None for a in out["area_id"]]
        out[f"{key}_gap"] = [res[a].gap if a in res else None for a in out["area_id"]]
        out[f"{key}_verdict"] = [res[a].verdict if a in res else None for a in out["area_id"]]
    return out


def target_rows(results: Results, lang: str = "en") -> pd.DataFrame:
    """``targets.csv``: one row per target × area of its scope (the city named in ``lang``)."""
    names = area_names(results, lang)
    rows = []
    for r in results.target_results:
        num_col, den_col, _ = METRIC_COLUMNS[r.target.metric]
        rows.append({
            "metric": r.target.metric, "label": r.target.label, "scope": r.target.scope, "area_id": r.area_id,
            "name": names.loc[r.area_id], "threshold_pct": round(100 * r.target.threshold, 4),
            "value_pct": _num(100 * r.value, 4), "passed": r.passed, "gap": r.gap, "gap_unit": r.gap_unit,
            "band_low_pct": _num(100 * r.low, 4), "band_high_pct": _num(100 * r.high, 4), "verdict": r.verdict,
            "numerator": _num(results.table.loc[r.area_id, num_col], 3),
            "denominator": _num(results.table.loc[r.area_id, den_col], 3),
            "numerator_field": num_col, "denominator_field": den_col,
        })
    return pd.DataFrame(rows)


def provenance(results: Results) -> dict[str, Any]:
    """Inputs (with SHA-256 and vintage), parameters, models, zonal rule, software and warnings."""
    sc = results.scenario
    return {
        "scenario": {"name": sc.name, "file": str(sc.source), "sha256": file_sha256(sc.source)},
        "run_started_utc": results.started_utc,
        "software": results.software,
        "synthetic_inputs": results.synthetic_inputs,
        "inputs": [
            {"name": r.name, "path": r.path, "sha256": r.sha256, "bytes": r.size_bytes, "crs": r.crs,
             "synthetic": r.synthetic, "rows": r.rows, "vintage": r.vintage, "notes": list(r.notes),
             **({"tiles": [{"tile": t.tile, "file": t.file, "sha256": t.sha256, "bytes": t.size_bytes}
                           for t in r.tiles]} if r.tiles else {})}
            for r in results.inputs
        ],
        "grid": {"crs": results.grid.crs.to_string(), "cell_m": results.grid.cell_m,
                 "shape": list(results.grid.shape), "bounds": list(results.grid.bounds)},
        "parameters": {
            "radio": _plain(sc.radio.__dict__), "wlan": _plain(sc.wlan.__dict__),
            "fibre": _plain(sc.fibre.__dict__), "households": _plain(sc.households.__dict__),
            "accounting": _plain(sc.accounting.__dict__), "report": _plain(sc.report.__dict__),
            "services": {"presets": sc.services.names},
        },
        "models": {
            "cellular": "Okumura-Hata 150-1500 MHz, COST-231 Hata 1500-2000 MHz, TR 38.901 UMa/RMa NLOS above "
                        "2000 MHz (model 'auto'); environment class from residents per km²; plus one terrain "
                        "knife edge (ITU-R P.526 eq. 31) at the radio horizon of each radial, earth radius "
                        f"factor k = {sc.radio.k_factor:.4g}; 3GPP sector antenna pattern",
            "terrain_diffraction": {
                "knife_edge": "one knife edge at the radio horizon of each radial",
                "deygout": "Deygout multi-edge (principal edge plus one each side) over the radial's obstacle set",
                "bullington": "Bullington equivalent edge over the radial's obstacle set",
            }[sc.radio.diffraction] + " minus the same method over smooth earth (never negative)",
            "link_budget": (f"SINR against the other sectors of the same carrier (operator, technology, frequency) "
                            f"at {sc.radio.cell_loading:.0%} loading, noise figure {sc.radio.noise_figure_db:g} dB; "
                            "downlink throughput by the attenuated Shannon bound of 3GPP TR 36.942 (alpha 0.6, "
                            "SINR_min -10 dB, 4.4 bit/s/Hz); speed tiers " + ", ".join(
                                f"{t.name} ({t.down_mbps:g}/{t.up_mbps:g} Mbit/s)" for t in SPEED_TIERS))
            if sc.radio.sinr else "not computed ([radio].sinr = false)",
            "wlan": f"log-distance: FSPL(1 m) + 10·{sc.wlan.path_loss_exponent:g}·log10(d)",
            "ftth": _ftth_rule_text(results),
            "zonal_rule": ZONAL_RULES[sc.accounting.zonal_rule],
            "household_size": household_size_text(results),
            "cell_edge": f"cell-edge probability {sc.accounting.cell_edge_probability:.0%}, shadow-fading σ per "
                         f"environment class {sc.accounting.shadow_sigma_db} dB",
        },
        "accounting_notes": results.accounting_notes,
        "uncertainty_variants": results.variant_notes,
        "sector_models": results.sectors["model"].value_counts().to_dict(),
        "model_extrapolation": list(results.extrapolation),
        "timings_s": {k: round(v, 3) for k, v in results.timings_s.items()},
        "warnings": results.warnings,
        "verification": results.claims.provenance() if results.claims is not None else None,
        "services": _service_provenance(results),
    }


def broadcast_files(results: Results) -> dict[str, str]:
    """Broadcast preset name -> its raster's file name, ``broadcast_<preset>.tif`` with the
    preset name made a safe file stem (:func:`citycov.outputs.names.file_names`).

    Raises
    ------
    OutputNameError
        A preset name with NUL: GDAL cuts the raster's ``preset`` tag there, so the name
        would not read back.
    """
    for name in results.broadcast_rasters:
        if "\x00" in name:
            raise OutputNameError(f"broadcast preset name {name!r} contains NUL, which its raster's 'preset' "
                                  "tag cannot hold")
    return file_names(results.broadcast_rasters, prefix=BROADCAST_PREFIX, suffix=BROADCAST_SUFFIX)


def _service_provenance(results: Results) -> dict[str, Any] | None:
    """``provenance.services``: the presets' records, the skipped ones, and ``rasters`` (preset
    name -> file name of its broadcast raster, so readers never parse a preset from a file name)."""
    if not results.service_provenance:
        return None
    prov = _json_safe(results.service_provenance)
    if results.broadcast_rasters:
        prov["rasters"] = broadcast_files(results)
    return prov


def service_rows(results: Results) -> pd.DataFrame:
    """``services.csv``: one row per area × preset × environment (empty with the columns when the
    scenario has no ``[services]``)."""
    if results.services is None:
        return pd.DataFrame(columns=list(SERVICE_COLUMNS))
    out = results.services[list(SERVICE_COLUMNS)].copy()
    for col in ("population_covered", "population", "households_covered", "households"):
        out[col] = out[col].round(3)
    for col in ("population_pct", "households_pct"):
        out[col] = out[col].round(4)
    return out


def _json_safe(value: Any) -> Any:
    """Plain JSON data: numpy scalars as Python numbers, NaN and ±inf as None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def household_size_text(results: Results) -> str:
    """The household size the run divided residents by, and its source."""
    sc = results.scenario
    hh = sc.households
    if hh.persons_per_household is not None:
        return f"{hh.persons_per_household:g} persons per household in every district (source: {hh.source})"
    spec = sc.inputs["household_sizes"]
    where = "; ".join(x for x in (spec.vintage, spec.note, hh.source) if x)
    return (f"persons per household per district from [inputs.household_sizes] ({spec.path.name}"
            + (f"; {where})" if where else ")"))


def _ftth_rule_text(results: Results) -> str:
    f = results.scenario.fibre
    if f.rule == "premises":
        return "premises table: households of premises flagged ftth_ready"
    if f.rule == "capacity":
        return (f"capacity-aware: households within {f.drop_distance_m:g} m of a node of kind "
                f"{list(f.capacity_node_kinds)} assigned to the nearest node with free ports")
    return f"cell centre within {f.drop_distance_m:g} m of a fibre route or access node"


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def json_document(results: Results, rows: pd.DataFrame, prov: dict[str, Any], lang: str = "en") -> str:
    """``districts.json``: provenance, field definitions, targets, target results, areas, networks."""
    doc = {
        "provenance": prov,
        "field_definitions": field_definitions(rows.columns),
        "targets": [{"metric": t.metric, "threshold": t.threshold, "label": t.label, "scope": t.scope}
                    for t in results.scenario.targets],
        "target_results": json.loads(target_rows(results, lang).to_json(orient="records", force_ascii=False)),
        "areas": json.loads(rows.to_json(orient="records", force_ascii=False)),
        "networks": (json.loads(results.networks.round(4).to_json(orient="records", force_ascii=False))
                     if results.networks is not None else []),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)


_MD_CELL = str.maketrans({c: "\\" + c for c in "\\|`*_[]<>&~"})
_MD_TEXT = str.maketrans({c: "\\" + c for c in "\\<>"})
_MD_LEADING = "#>+-=!:"


def _md_line(value: object, table: dict[int, str]) -> str:
    text = " ".join(str(value).splitlines()).translate(table)
    return "\\" + text if text and text[0] in _MD_LEADING else text


def md_cell(value: object) -> str:
    """``value`` (text from input: a name, label, id, path) as literal text in one Markdown table
    cell: line breaks become spaces; ``|``, the backslash and inline markup (`` ` * _ [ ] < > & ~ ``)
    are backslash-escaped, and so is a leading block-markup character (``# > + - = ! :``), so the
    text can neither end the cell nor the row, nor become HTML, a link or emphasis."""
    return _md_line(value, _MD_CELL)


def md_text(value: object) -> str:
    """``value`` (a message that may quote input) as one line of Markdown prose: line breaks
    become spaces, the backslash, ``<`` and ``>`` and a leading block-markup character are
    escaped (no HTML, no new heading or block); other characters are left for readability."""
    return _md_line(value, _MD_TEXT)


def _result(r: TargetResult) -> str:
    """PASS or FAIL; "-" for an area with an empty denominator (its verdict says why)."""
    if r.verdict in EMPTY_VERDICTS.values():
        return "-"
    return "PASS" if r.passed else "FAIL"


def _pct(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def markdown_report(results: Results, rows: pd.DataFrame, prov: dict[str, Any], lang: str = "en") -> str:
    """The Markdown report: synthetic banner, targets with bands, districts, networks,
    conservation, gaps, definitions, method and provenance.

    The prose and column names are English; the city row's name and the heading of the local
    (second) name column follow ``lang``, and that column is shown only when the districts have
    a local name."""
    sc = results.scenario
    local = has_local_names(results.table)
    local_head = f" {md_cell(label('local_name', lang))} |" if local else ""
    local_rule = "---|" if local else ""
    area = area_names(results, lang)

    def local_cell(area_id: str) -> str:
        return f" {md_cell(results.table.loc[area_id, 'name_local'])} |" if local else ""

    lines = [f"# citycov report: {md_cell(sc.name)}", ""]
    if results.synthetic_inputs:
        lines += [f"> **SYNTHETIC INPUT**: {', '.join(md_cell(n) for n in results.synthetic_inputs)} "
                  "are synthetic stand-ins, not measured data. Figures show what the method gives on them; "
                  "they are not official coverage statistics.", ""]
    lines += ["## Targets (city)", "",
              "| target | value | band (low-high) | verdict across the band | result | gap |",
              "|---|---|---|---|---|---|"]
    for r in results.target_results:
        if r.area_id == CITY_ID:
            lines.append(f"| {md_cell(r.target.label)} | {_pct(r.value)} | {_pct(r.low)}-{_pct(r.high)} | "
                         f"{r.verdict or '-'} | {_result(r)} | {r.gap:,.0f} {r.gap_unit} |")
    city = rows.set_index("area_id").loc[CITY_ID]
    lines += ["", f"City population: {city['population']:,.0f}; covered by wireless broadband: "
              f"{city['population_covered']:,.0f} ({city['wireless_pct']:.2f}%). Households: "
              f"{city['households']:,.0f}; passed by fibre: {city['households_passed']:,.0f} "
              f"({city['ftth_pct']:.2f}%).", ""]
    kind = dict(zip(results.table.index, area_kinds(results.table), strict=True))
    grouped = has_groups(results.table)
    group_head, group_rule = (" group |", "---|") if grouped else ("", "")

    def group_cell(area_id: str) -> str:
        return f" {md_cell(area.loc[results.table.loc[area_id, 'group_id']])} |" if grouped else ""

    if grouped:
        lines += ["## Targets by group of districts", "",
                  f"Groups: the districts of each value of `{md_cell(_group_column(results))}` "
                  "([inputs.districts].group_column); each figure is the sum of its districts'.", "",
                  f"| group |{local_head} target | value | band | verdict | result | gap |",
                  f"|---|{local_rule}---|---|---|---|---|---|"]
        lines += [_target_line(r, area, local_cell) for r in results.target_results if kind[r.area_id] == "group"]
        lines.append("")
    lines += ["## Targets by district", "",
              f"| district |{group_head}{local_head} target | value | band | verdict | result | gap |",
              f"|---|{group_rule}{local_rule}---|---|---|---|---|---|"]
    lines += [_target_line(r, area, local_cell, group_cell) for r in results.target_results
              if kind[r.area_id] == "district"]
    if grouped:
        lines += ["", "## Groups of districts", "",
                  f"| group |{local_head} population | wireless % | households | FTTH % | urban 3G % | villages % |",
                  f"|---|{local_rule}---:|---:|---:|---:|---:|---:|"]
        lines += [_figure_line(row, local_cell) for _, row in rows.iterrows() if kind[row["area_id"]] == "group"]
    lines += ["", "## Districts", "",
              f"| district |{group_head}{local_head} population | wireless % | households | FTTH % | urban 3G % | "
              "villages % |",
              f"|---|{group_rule}{local_rule}---:|---:|---:|---:|---:|---:|"]
    for _, row in rows.iterrows():
        if kind[row["area_id"]] == "group":
            continue
        in_group = (lambda a: " - |" if grouped else "") if kind[row["area_id"]] == "total" else group_cell
        lines.append(_figure_line(row, local_cell, in_group))
    if results.networks is not None and len(results.networks):
        net = results.networks[results.networks["area_id"] == CITY_ID]
        lines += ["", "## Coverage by network (city, share of residents)", "",
                  "| technology | operator | residents covered | % |", "|---|---|---:|---:|"]
        for _, r in net.iterrows():
            lines.append(f"| {r['technology']} | {md_cell(r['operator'])} | {r['population_covered']:,.0f} | "
                         f"{r['coverage_pct']:.2f} |")
        lines.append("")
        lines.append("Per district and operator: `networks.csv`.")
    lines += _service_lines(results)
    lines += ["", "## Conservation check (residents)", "",
              "| district | source raster | on the grid | difference | census factor |", "|---|---:|---:|---:|---:|"]
    t = results.table
    for area_id, grid_pop in _grid_population(t).items():
        row = t.loc[area_id]
        src = row.get("population_input", float("nan"))
        diff = 100.0 * (grid_pop - src) / src if src else float("nan")
        factor = "-" if not math.isfinite(row["census_factor"]) else f"{row['census_factor']:.5f}"
        lines.append(f"| {md_cell(area.loc[row.name])} | {src:,.0f} | {grid_pop:,.0f} | {diff:+.4f}% | {factor} |")
    if results.gaps is not None and len(results.gaps):
        top = top_gaps_per_district(results.gaps, 3)
        lines += ["", f"## Largest coverage gaps ({len(results.gaps):,} gaps; all in gaps.geojson / gaps.gpkg)", "",
                  "| district | gap | residents | area km² | nearest site km | lon, lat |",
                  "|---|---|---:|---:|---:|---|"]
        for _, g in top.iterrows():
            lines.append(f"| {md_cell(g['district_name'])} | {md_cell(g['gap_id'])} | {g['population']:,.0f} | "
                         f"{g['area_km2']:.2f} | {g['nearest_site_m'] / 1000:.1f} | "
                         f"{g['centroid_lon']:.4f}, {g['centroid_lat']:.4f} |")
    lines += ["", "## Definitions", ""]
    for metric, text in METRICS.items():
        num, den, pct = METRIC_COLUMNS[metric]
        lines.append(f"- `{pct}` ({metric}): {text}; numerator `{num}`, denominator `{den}`.")
    for key, text in field_definitions(rows.columns).items():
        lines.append(f"- `{key}`: {text}.")
    radio = sc.radio
    thr = ", ".join(f"{t} {LEVEL_NAMES[t].split(' (')[0]} ≥ {radio.threshold_dbm[t]:g} dBm"
                    for t in radio.broadband_technologies)
    lines += [
        "", "## Method", "",
        f"- Wireless broadband coverage of a cell: {thr} (outdoor, receiver at {radio.rx_height_m:g} m, "
        f"{prov['models']['cell_edge']}), or WLAN ≥ {sc.wlan.threshold_dbm:g} dBm.",
        f"- Cellular model: {prov['models']['cellular']}.",
        f"- WLAN model: {prov['models']['wlan']}.",
        f"- FTTH rule: {prov['models']['ftth']}.",
        f"- Zonal rule: {prov['models']['zonal_rule']}.",
        f"- Household size: {md_text(prov['models']['household_size'])}.",
        *[f"- {n}." for n in results.accounting_notes],
        *[f"- Extrapolation: {text}." for text in results.extrapolation],
        f"- Grid: {results.grid.shape[0]} × {results.grid.shape[1]} cells of {results.grid.cell_m:g} m in "
        f"{results.grid.crs.to_string()}.",
    ]
    if results.variant_notes:
        lines += ["- Uncertainty band: the lowest and highest value over the point estimate and these variants "
                  "(one factor changed each): " + "; ".join(results.variant_notes.values()) + ". "
                  "Every value per variant: `uncertainty.csv`."]
    lines += [
        "", "## Provenance", "",
        f"- Scenario: {md_cell(prov['scenario']['file'])} (SHA-256 `{prov['scenario']['sha256']}`)",
        f"- Run started (UTC): {prov['run_started_utc'] or 'not recorded (reproducible run)'}",
        "- Software: " + ", ".join(f"{k} {v}" for k, v in prov["software"].items()),
        "",
        "| input | file | SHA-256 | CRS | rows | vintage | synthetic |", "|---|---|---|---|---:|---|---|",
    ]
    for inp in prov["inputs"]:
        vintage = md_cell(inp["vintage"]) if inp["vintage"] else "-"
        lines.append(f"| {md_cell(inp['name'])} | {md_cell(inp['path'])} | `{inp['sha256']}` | {md_cell(inp['crs'])} | "
                     f"{inp['rows'] if inp['rows'] is not None else '-'} | {vintage} | "
                     f"{'**SYNTHETIC**' if inp['synthetic'] else 'no'} |")
    notes = [f"{inp['name']}: {n}" for inp in prov["inputs"] for n in inp["notes"]]
    if notes:
        lines += ["", "Input notes:"] + [f"- {md_text(n)}" for n in notes]
    lines += ["", "Parameters:", "", "```json", json.dumps(prov["parameters"], indent=2, ensure_ascii=False),
              "```"]
    if results.warnings:
        lines += ["", "## Warnings", ""] + [f"- {md_text(w)}" for w in results.warnings]
    if prov.get("timings_s"):  # left out of reproducible runs
        lines += ["", "Step timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in prov["timings_s"].items())]
    lines.append("")
    return "\n".join(lines)


def _target_line(r: TargetResult, area: pd.Series, local_cell: Any, group_cell: Any = None) -> str:
    """One row of a "Targets by ..." table of the Markdown report."""
    group = group_cell(r.area_id) if group_cell is not None else ""
    return (f"| {md_cell(area.loc[r.area_id])} |{group}{local_cell(r.area_id)} "
            f"{r.target.metric} ≥ {r.target.threshold:.0%} | "
            f"{_pct(r.value)} | {_pct(r.low)}-{_pct(r.high)} | {r.verdict or '-'} | "
            f"{_result(r)} | {r.gap:,.0f} {r.gap_unit} |")


def _figure_line(row: pd.Series, local_cell: Any, group_cell: Any = None) -> str:
    """One row of the "Districts" (or "Groups of districts") table of the Markdown report."""
    group = group_cell(row["area_id"]) if group_cell is not None else ""
    return (f"| {md_cell(row['name'])} |{group}{local_cell(row['area_id'])} {row['population']:,.0f} | "
            f"{_fmt(row['wireless_pct'])} | {row['households']:,.0f} | {_fmt(row['ftth_pct'])} | "
            f"{_fmt(row['urban_3g_pct'])} | {_fmt(row['village_broadband_pct'])} |")


def _group_column(results: Results) -> str:
    """The ``group_column`` of ``[inputs.districts]`` (the column of each district's group)."""
    return str(results.scenario.inputs["districts"].options.get("group_column", ""))


def _grid_population(table: pd.DataFrame) -> pd.Series:
    """Residents on the grid per area before any census rescale: a district's population over its
    census factor, a group's and the city's the sum over their districts."""
    kinds = area_kinds(table)
    district = kinds == "district"
    grid_pop = table["population"][district] / table["census_factor"][district]
    out = {}
    for area_id, kind in zip(table.index, kinds, strict=True):
        if kind == "district":
            out[area_id] = grid_pop.loc[area_id]
        elif kind == "group":
            out[area_id] = grid_pop[table["group_id"][district] == area_id].sum()
        else:
            out[area_id] = grid_pop.sum()
    return pd.Series(out)


def _service_lines(results: Results) -> list[str]:
    """The "Service coverage" section: city figures per preset and environment, skipped presets."""
    prov = results.service_provenance
    if results.services is None and not prov.get("skipped"):
        return []
    lines = ["", "## Service coverage (city, [services] presets)", ""]
    if results.services is not None and len(results.services):
        lines += ["| preset | technology | metric | environment | cell-edge p | residents covered | % | "
                  "households covered | % |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
        city = results.services[results.services["area_id"] == CITY_ID]
        for _, r in city.iterrows():
            lines.append(f"| {r['preset']} | {r['technology']} | {r['metric']} | {r['environment']} | "
                         f"{r['cell_edge_probability']:.0%} | {r['population_covered']:,.0f} | "
                         f"{_fmt(r['population_pct'])} | {r['households_covered']:,.0f} | "
                         f"{_fmt(r['households_pct'])} |")
        lines += ["", "Per district: `services.csv`. Each preset's source, file SHA-256, rule and margins: "
                  "`districts.json` (provenance.services)."]
        for record in prov.get("presets", []):
            for note in record.get("evaluated", {}).get("notes", []):
                lines.append(f"- {record['preset']}: {md_text(note)}.")
    for name, reason in prov.get("skipped", {}).items():
        lines.append(f"- {name}: not evaluated here ({md_text(reason)}).")
    return lines


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


def _write_cog(path: Path, data: np.ndarray | StoredRaster, grid, *, dtype: str, nodata: float | int | None,
               descriptions: list[str], tags: dict[str, str]) -> None:
    """Write ``data`` (bands, rows, cols; an array or a stored raster, cast to ``dtype``) as a
    cloud-optimised GeoTIFF (tiled, overviews, DEFLATE).

    GDAL's COG driver only copies, so the bands go to a temporary GeoTIFF beside ``path`` first,
    strip by strip (:func:`citycov.stored.row_strips`: a stored raster is never read whole).
    """
    tmp = path.with_name(f".{path.name}.tmp.tif")
    try:
        with bounded_gdal_cache(), \
                rasterio.open(tmp, "w", **grid.profile(dtype=dtype, nodata=nodata, count=data.shape[0])) as dst:
            for r0, r1 in row_strips(data.shape):
                dst.write(strip_of(data, r0, r1).astype(dtype, copy=False),
                          window=Window(0, r0, data.shape[-1], r1 - r0))
            for i, text in enumerate(descriptions):
                dst.set_band_description(i + 1, text)
            dst.update_tags(**tags)
        rasterio.shutil.copy(tmp, path, driver="COG", compress="DEFLATE", overview_resampling="nearest")
    finally:
        tmp.unlink(missing_ok=True)


def write_rasters(results: Results, folder: Path) -> None:
    """``rsrp_dbm.tif``, ``serving_sector.tif`` and ``coverage.tif`` as cloud-optimised GeoTIFFs,
    with the link rasters and one ``broadcast_<preset>.tif`` per broadcast preset (its file name
    from :func:`broadcast_files`; the original preset name in its ``preset`` tag)."""
    files = broadcast_files(results)  # first: a name it refuses leaves nothing written
    grid = results.grid
    study = results.rasters["district_index"] >= 0
    tags = {"SYNTHETIC_INPUTS": ",".join(results.synthetic_inputs)} if results.synthetic_inputs else {}
    _write_cog(folder / "rsrp_dbm.tif", results.rasters["best_dbm"], grid, dtype="float32", nodata=np.nan,
               descriptions=[f"{t} best-server {LEVEL_NAMES[t]}" for t in TECHNOLOGIES],
               tags={"floor_dbm": str(results.scenario.radio.floor_dbm), "units": "dBm", **tags})
    _write_cog(folder / "serving_sector.tif", results.rasters["best_sector"], grid, dtype="int32", nodata=-1,
               descriptions=[f"{t} serving sector_index (see sectors.csv)" for t in TECHNOLOGIES], tags=tags)
    cov = np.full((2, *grid.shape), 255, dtype=np.uint8)
    cov[0][study] = results.rasters["wireless"][study]
    cov[1][study] = results.rasters["ftth"][study]
    r = results.rasters
    if "sinr_db" in r:
        _write_cog(folder / "sinr_db.tif", r["sinr_db"], grid, dtype="float32", nodata=np.nan,
                   descriptions=[f"{t} SINR (dB) of the best carrier" for t in TECHNOLOGIES],
                   tags={"units": "dB", "cell_loading": str(results.scenario.radio.cell_loading), **tags})
        _write_cog(folder / "throughput_mbps.tif", r["throughput_mbps"], grid, dtype="float32",
                   nodata=np.nan, descriptions=[f"{t} downlink Mbit/s (attenuated Shannon, TR 36.942)"
                                                for t in TECHNOLOGIES], tags={"units": "Mbit/s", **tags})
        names = ";".join(f"{tier.name}" for tier in SPEED_TIERS)
        _write_cog(folder / "speed_tier.tif", r["speed_tier"], grid, dtype="int8", nodata=-1,
                   descriptions=[f"{t} speed tier (0 none, k = highest tier met)" for t in TECHNOLOGIES],
                   tags={"tiers": names, **tags})
    for name, (b_grid, values, unit) in results.broadcast_rasters.items():
        what = "field strength" if unit == "dBuV/m" else "received level (0 dBi)"
        _write_cog(folder / files[name], values[None], b_grid, dtype="float32", nodata=np.nan,
                   descriptions=[f"{name}: strongest transmitter's {what} ({unit})"],
                   tags={"units": unit, "preset": name, **tags})
    _write_cog(folder / "coverage.tif", cov, grid, dtype="uint8", nodata=255,
               descriptions=["wireless broadband coverage (1 covered, 0 not)", "FTTH passed (1 passed, 0 not)"],
               tags=tags)
