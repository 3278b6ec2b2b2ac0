"""``report.html``: one standalone file (no external assets) for a hearing, plus PNG figures.

Summary, every target by district with its band, a bar chart per target against the target
line, the plan of ``citycov plan`` when the run has one (:mod:`citycov.outputs.plan`), the
largest gaps, methods, definitions and provenance, rendered from a
:class:`~citycov.outputs.saved.SavedRun` so ``citycov report OUT`` re-renders without recomputing.
Headings and labels follow ``lang``; strings from input data are HTML-escaped.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from citycov.accounting.districts import area_kinds
from citycov.outputs.atomic import write_bytes_atomic, write_text_atomic
from citycov.outputs.figures import Figure, figure_html, target_charts
from citycov.outputs.i18n import (
    area_name,
    check_lang,
    metric_label,
    outcome,
    outcome_label,
    pct_label,
    run_time,
    text,
    unit_label,
    verdict_label,
)
from citycov.outputs.names import file_names
from citycov.outputs.plan import PROVENANCE_KEY as PLAN_KEY
from citycov.outputs.plan import html_section as plan_section
from citycov.outputs.plan import load_saved_plan
from citycov.outputs.saved import SavedRun

CSS = """
body { font: 14px/1.45 "Noto Sans CJK SC", "Noto Sans", "Helvetica Neue", Arial, sans-serif; margin: 24px auto;
       max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 24px; } h2 { font-size: 19px; border-bottom: 2px solid #ddd; padding-bottom: 3px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7a3a; font-weight: bold; } .fail { color: #b30000; font-weight: bold; }
.none { color: #777; }
.banner { background: #b30000; color: #fff; padding: 8px 12px; font-weight: bold; }
figure { margin: 10px 0 22px 0; } figcaption { color: #555; font-size: 12px; }
code { background: #f3f3f3; padding: 0 3px; word-break: break-all; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _target_table(run: SavedRun, lang: str, *, kind: str) -> str:
    """The targets of the areas of one kind (:data:`citycov.accounting.districts.AREA_KINDS`)."""
    names = run.districts.set_index("area_id")
    first = "group" if kind == "group" else "district"
    head = "".join(f"<th>{_e(text(k, lang))}</th>" for k in (first, "target", "value", "band", "verdict",
                                                               "result", "gap"))
    rows = []
    kinds = dict(zip(run.districts["area_id"], area_kinds(run.districts), strict=True))
    sel = run.targets[run.targets["area_id"].map(lambda a: kinds.get(a, "district")) == kind]
    for _, t in sel.iterrows():
        a = t["area_id"]
        name = area_name(a, names, lang)
        result = outcome(t["passed"], t["verdict"])
        verdict = verdict_label(t["verdict"], lang)
        band = "-" if pd.isna(t["band_low_pct"]) else f"{pct_label(t['band_low_pct'])}–{pct_label(t['band_high_pct'])}"
        rows.append(
            f"<tr data-area='{_e(a)}' data-metric='{_e(t['metric'])}'><td>{_e(name)}</td>"
            f"<td>{_e(metric_label(t['metric'], lang))} ≥ {float(t['threshold_pct']):g}%</td>"
            f"<td class='n'>{_e(pct_label(t['value_pct']))}</td><td class='n'>{_e(band)}</td><td>{_e(verdict)}</td>"
            f"<td class='{result}'>{_e(outcome_label(result, lang))}</td>"
            f"<td class='n'>{float(t['gap']):,.0f} {_e(unit_label(str(t['gap_unit']), lang))}</td></tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _gaps_table(run: SavedRun, lang: str, n: int = 15) -> str:
    if run.gaps is None or not len(run.gaps):
        return "<p>-</p>"
    top = run.gaps.sort_values("rank").head(n)
    head = "".join(f"<th>{_e(h)}</th>" for h in (text("gap_rank", lang), text("district", lang),
                                                 text("population", lang), text("area_km2", lang),
                                                 text("nearest_site_km", lang), "lon, lat"))
    rows = "".join(
        f"<tr><td class='n'>{int(g.rank)}</td><td>{_e(g.district_name)}</td><td class='n'>{g.population:,.0f}</td>"
        f"<td class='n'>{g.area_km2:.2f}</td><td class='n'>{g.nearest_site_m / 1000:.1f}</td>"
        f"<td>{g.centroid_lon:.4f}, {g.centroid_lat:.4f}</td></tr>" for g in top.itertuples())
    return f"<p>{_e(text('top_of', lang, n=len(top), total=len(run.gaps)))}</p><table><tr>{head}</tr>{rows}</table>"


def _provenance(run: SavedRun, lang: str) -> str:
    prov = run.provenance
    sc = prov.get("scenario", {})
    head = "".join(f"<th>{_e(h)}</th>" for h in (text("inputs", lang), text("file", lang), "SHA-256", "CRS",
                                                 text("vintage", lang), text("synthetic", lang)))
    rows = "".join(
        f"<tr><td>{_e(i['name'])}</td><td><code>{_e(Path(i['path']).name)}</code></td>"
        f"<td><code>{_e(str(i['sha256'])[:16])}…</code></td><td>{_e(i.get('crs', ''))}</td>"
        f"<td>{_e(i.get('vintage') or '-')}</td>"
        f"<td class='{'fail' if i.get('synthetic') else ''}'>{_e(text('yes' if i.get('synthetic') else 'no', lang))}"
        "</td></tr>" for i in prov.get("inputs", []))
    software = ", ".join(f"{k} {v}" for k, v in prov.get("software", {}).items())
    params = json.dumps(prov.get("parameters", {}), indent=2, ensure_ascii=False)
    return (f"<p>{_e(text('run', lang))}: {_e(run_time(prov.get('run_started_utc'), lang))} · "
            f"{_e(sc.get('file', ''))} (SHA-256 <code>{_e(sc.get('sha256', ''))}</code>)</p>"
            f"<p>{_e(text('software', lang))}: {_e(software)}</p><table><tr>{head}</tr>{rows}</table>"
            f"<details><summary>parameters</summary><pre>{_e(params)}</pre></details>")


def _claims_section(run: SavedRun, lang: str) -> str:
    """Verdict counts, the three-way comparison (city and districts) and the calibration."""
    v = run.verification
    summary = run.claims_summary
    if v is None or summary is None:
        return ""
    names = run.districts.set_index("area_id")
    dropped = sum(v.get("tests_dropped", {}).values())
    parts = [f"<h2 id='claims'>{_e(text('claims_title', lang))}</h2><p>" + _e(text(
        "claims_intro", lang, preset=v["preset"]["name"], version=v["preset"]["version"], rule=v["rule"],
        as_of=str(v["as_of"])[:10], kept=v["tests_kept"], read=v["tests_read"], dropped=dropped)) + "</p>",
        f"<p><small>{_e(v['preset']['source'])}</small></p>"]
    hexes = run.claims_hexes
    cols = [("claimed", "claimed_km2"), ("claimed_not_modelled", "claimed_not_modelled"),
            ("claimed_failed", "claimed_failed"), ("modelled_not_claimed", "modelled_not_claimed")]
    head = "".join(f"<th>{_e(h)}</th>" for h in [text("claims_layer", lang), text("district", lang)]) + "".join(
        f"<th>{_e(text(label, lang))}<br>km² / {_e(text('population', lang))}</th>" for _, label in cols) + (
        f"<th>{_e(text('hexagons_challenged', lang))}</th>")
    rows = []
    for _, r in summary.iterrows():
        area = r["area_id"]
        name = text("city", lang) if area == "city" else area_name(area, names, lang)
        layer = f"{r['operator']} {r['technology']} {r['min_down_mbps']:g}/{r['min_up_mbps']:g} Mbit/s"
        n_ch = "-"
        if area == "city" and hexes is not None and len(hexes):
            sel = hexes[(hexes["layer"] == r["layer"])]
            n_ch = f"{int((sel['verdict'] == 'challenged').sum()):,} / {int((sel['verdict'] != 'untested').sum()):,}"
        cells = "".join(f"<td class='n'>{r[f'{f}_km2']:,.1f} / {r[f'{f}_population']:,.0f}</td>" for f, _ in cols)
        cls = " style='font-weight:bold'" if area == "city" else ""
        rows.append(f"<tr data-claims-area='{_e(area)}'{cls}><td>{_e(layer)}</td><td>{_e(name)}</td>{cells}"
                    f"<td class='n'>{_e(n_ch)}</td></tr>")
    parts.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    cal = v.get("calibration")
    if cal:
        cv = cal.get("cv", {})
        b, a = cv.get("before", {}), cv.get("after", {})
        if b and a:
            parts.append(f"<h3>{_e(text('calibration', lang))}</h3><p>" + _e(text(
                "rmse_before_after", lang, before=b["rmse_db"], after=a["rmse_db"], bias_before=b["bias_db"],
                bias_after=a["bias_db"], n=int(a.get("n", 0)))) + "</p>")
    parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in v.get("notes", [])) + "</ul>")
    return "".join(parts)


def render_report(run: SavedRun, *, lang: str | None = None) -> tuple[str, list[Figure], list[str]]:
    """The ``report.html`` text of ``run``, its figures and any rendering notes."""
    lang = check_lang(lang or run.default_lang)
    prov = run.provenance
    city = run.city
    kinds = dict(zip(run.districts["area_id"], area_kinds(run.districts), strict=True))
    figures, notes = target_charts(run.districts, run.targets[run.targets["area_id"].map(kinds) != "group"], lang)
    total = len(run.targets)
    passed = int(run.targets["passed"].astype(bool).sum())
    parts = [f"<!DOCTYPE html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{_e(text('report_title', lang))}: {_e(run.scenario_name)}</title><style>{CSS}</style>"
             "</head><body>"]
    if run.synthetic_inputs:
        parts.append(f"<div class='banner' id='synthetic-banner'>{_e(text('synthetic_banner', lang))}: "
                     f"{_e(text('synthetic_note', lang, inputs=', '.join(run.synthetic_inputs)))}</div>")
    parts.append(f"<h1>{_e(text('report_title', lang))}: {_e(run.scenario_name)}</h1>")
    parts.append(f"<h2 id='summary'>{_e(text('summary', lang))}</h2><p>" + _e(text(
        "summary_line", lang, wireless=pct_label(city["wireless_pct"]), ftth=pct_label(city["ftth_pct"]), passed=passed,
        total=total)) + "</p>")
    parts.append(f"<h2 id='targets-city'>{_e(text('targets_city', lang))}</h2>{_target_table(run, lang, kind='total')}")
    if "group" in kinds.values():
        parts.append(f"<h2 id='targets-group'>{_e(text('targets_by_group', lang))}</h2>"
                     f"{_target_table(run, lang, kind='group')}")
    parts.append(f"<h2 id='targets-district'>{_e(text('targets_by_district', lang))}</h2>"
                 f"{_target_table(run, lang, kind='district')}")
    parts.append(f"<h2 id='charts'>{_e(text('charts', lang))}</h2>")
    parts.extend(figure_html(fig) for fig in figures)
    saved_plan = load_saved_plan(run.folder, prov.get(PLAN_KEY))
    if saved_plan is not None:
        section, plan_figures, plan_notes = plan_section(saved_plan, run.districts.set_index("area_id"), lang)
        parts.append(section)
        figures = [*figures, *plan_figures]
        notes = [*notes, *(n for n in plan_notes if n not in notes)]
    parts.append(f"<h2 id='gaps'>{_e(text('top_gaps', lang))}</h2>{_gaps_table(run, lang)}")
    parts.append(_claims_section(run, lang))
    models = prov.get("models", {})
    parts.append(f"<h2 id='methods'>{_e(text('methods', lang))}</h2><ul>"
                 + "".join(f"<li><b>{_e(k)}</b>: {_e(v)}</li>" for k, v in models.items())
                 + "".join(f"<li>{_e(n)}</li>" for n in prov.get("accounting_notes", []))
                 + "".join(f"<li>{_e(v)}</li>" for v in prov.get("uncertainty_variants", {}).values())
                 + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    defs = run.document.get("field_definitions", {})
    parts.append(f"<h2 id='definitions'>{_e(text('definitions', lang))}</h2><ul>"
                 + "".join(f"<li><code>{_e(k)}</code>: {_e(v)}</li>" for k, v in defs.items()) + "</ul>")
    parts.append(f"<h2 id='provenance'>{_e(text('provenance', lang))}</h2>{_provenance(run, lang)}")
    if prov.get("warnings"):
        parts.append(f"<h2>{_e(text('warnings', lang))}</h2><ul>"
                     + "".join(f"<li>{_e(w)}</li>" for w in prov["warnings"]) + "</ul>")
    parts.append("</body></html>")
    return "".join(parts), figures, notes


def write_report(run: SavedRun, path: str | Path, *, lang: str | None = None,
                 figures_dir: str | Path | None = None) -> Path:
    """Write ``report.html`` (atomically) and, with ``figures_dir``, one PNG per chart:
    ``target_<metric>.png`` (and, for a plan, ``plan_curve_<metric>.png``), the metric (read
    from ``targets.csv``, ``plan_curve.csv``) made a safe file stem
    (:func:`citycov.outputs.names.file_names`), so a saved folder's tables never name a
    path outside ``figures_dir``."""
    path = Path(path)
    page, figures, _ = render_report(run, lang=lang)
    if figures_dir is not None:
        folder = Path(figures_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for prefix in dict.fromkeys(fig.prefix for fig in figures):
            group = [fig for fig in figures if fig.prefix == prefix]
            names = file_names((fig.key for fig in group), prefix=prefix, suffix=".png")
            for fig in group:
                write_bytes_atomic(folder / names[fig.key], fig.png)
    write_text_atomic(path, page)
    return path
