"""The plan's outputs (``citycov plan``): tables, GeoJSON, its provenance and its report section.

:func:`write_plan_files` writes a :class:`~citycov.planning.result.PlanResult` into the staging
folder of a run (through the one CSV writer, :func:`citycov.outputs.tables.write_csv`):

=========================  ==================================================================
``plan_sites.csv``         :data:`~citycov.planning.result.SITE_COLUMNS`, then ``lon``, ``lat`` (WGS84)
``plan_sites.geojson``     the same sites as RFC 7946 points (WGS84 lon/lat, no ``crs`` member)
``plan_cabinets.csv``      :data:`~citycov.planning.result.CABINET_COLUMNS`, then ``lon``, ``lat``
``plan_cabinets.geojson``  the same cabinets as RFC 7946 points
``plan_summary.csv``       :data:`~citycov.planning.result.SUMMARY_COLUMNS` (``threshold`` a fraction)
``plan_curve.csv``         :data:`~citycov.planning.result.CURVE_COLUMNS`
``plan_solvers.csv``       :data:`~citycov.planning.result.SOLVER_COLUMNS` (``time_s`` empty in a
                           reproducible run)
=========================  ==================================================================

An empty frame gives a CSV with the header only and an empty FeatureCollection.  The plan's
``[plan]`` settings, the solvers' statuses, the notes and the versions of highspy and ortools
go to ``districts.json`` as ``provenance.plan`` (:func:`plan_provenance`).

``report.html``, ``report.md`` and ``map.html`` render the plan from those files
(:func:`load_saved_plan`), so ``citycov report OUT`` and ``citycov map OUT`` re-render it
without recomputing.  Every string from input is escaped where it lands (HTML, Markdown,
JavaScript via :mod:`citycov.outputs.maps`).
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from citycov.crs import WGS84
from citycov.errors import InputFileError
from citycov.outputs.figures import CurveLine, Figure, figure_html, plan_curve_charts
from citycov.outputs.folder import PLAN_FILES
from citycov.outputs.i18n import LABELS, area_name, metric_label, pct_label, text
from citycov.outputs.report import md_cell, md_text
from citycov.outputs.tables import read_csv, write_csv
from citycov.planning.result import (
    CABINET_COLUMNS,
    CURVE_COLUMNS,
    SITE_COLUMNS,
    SOLVER_COLUMNS,
    SUMMARY_COLUMNS,
    PlanResult,
)

PROVENANCE_KEY = "plan"
"""``districts.json``: ``provenance.plan``; present exactly when the run wrote a plan."""
LONLAT = ("lon", "lat")
SOLVER_SOFTWARE = ("highspy", "ortools")
"""Packages whose versions ``provenance.plan.software`` records."""
_TEXT_COLUMNS = {"area_id": str, "district_id": str, "candidate_id": str, "instance": str, "district": str}


# -- writing ---------------------------------------------------------------------------------------

def _checked(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    """``frame`` with the documented ``columns`` first (then any others, never ``geometry``).
    An empty frame may lack columns (it gets them); a non-empty one lacking any is refused."""
    missing = [c for c in columns if c not in frame.columns]
    if missing and len(frame):
        raise ValueError(f"PlanResult.{what}: missing columns {missing}; expected {list(columns)} "
                         "(citycov.planning.result)")
    extra = [c for c in frame.columns if c not in columns and c != "geometry"]
    return pd.DataFrame(frame).reindex(columns=[*columns, *extra])


def _points_wgs84(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """The points of ``frame`` in WGS84; refuses a frame without CRS or with a missing or
    non-point geometry."""
    if "geometry" not in frame.columns or not isinstance(frame, gpd.GeoDataFrame):
        if len(frame):
            raise ValueError(f"PlanResult.{what}: a GeoDataFrame with point geometries is expected")
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=WGS84), crs=WGS84)
    if frame.crs is None and len(frame):
        raise ValueError(f"PlanResult.{what}: no CRS (the points must be in the grid CRS)")
    bad = [i for i, g in enumerate(frame.geometry) if g is None or g.is_empty or g.geom_type != "Point"]
    if bad:
        raise ValueError(f"PlanResult.{what}: rows {bad[:10]} have no point geometry")
    return frame.to_crs(WGS84) if frame.crs is not None else frame.set_crs(WGS84)


def _summary_checked(summary: pd.DataFrame) -> pd.DataFrame:
    out = _checked(summary, SUMMARY_COLUMNS, "summary")
    threshold = pd.to_numeric(out["threshold"], errors="coerce")
    bad = list(out.index[~threshold.between(0.0, 1.0)][:10])
    if bad:
        raise ValueError(f"PlanResult.summary: threshold must be a fraction in [0, 1] (as [[targets]].threshold), "
                         f"got {list(out.loc[bad, 'threshold'])} in rows {bad}")
    return out


def _point_table(frame: gpd.GeoDataFrame, columns: tuple[str, ...], what: str) -> tuple[pd.DataFrame, str]:
    """The CSV table (documented columns, then ``lon``, ``lat``) and the GeoJSON text of
    ``frame``'s points."""
    table = _checked(frame, columns, what)
    points = _points_wgs84(frame, what)
    table["lon"] = np.round(points.geometry.x.to_numpy(dtype=float), 7) if len(points) else []
    table["lat"] = np.round(points.geometry.y.to_numpy(dtype=float), 7) if len(points) else []
    props = table.drop(columns=list(LONLAT))
    geo = gpd.GeoDataFrame(props, geometry=points.geometry.to_numpy() if len(points) else [], crs=WGS84)
    return table, geo.to_json(na="null", drop_id=True, ensure_ascii=False)


def _rounded(frame: pd.DataFrame, digits: dict[str, int]) -> pd.DataFrame:
    out = frame.copy()
    for col, n in digits.items():
        if col in out.columns and len(out):
            out[col] = pd.to_numeric(out[col], errors="coerce").round(n)
    return out


def write_plan_files(plan: PlanResult, folder: str | Path, *, reproducible: bool = False) -> list[str]:
    """Write the plan's tables and GeoJSON (see the module docstring) into ``folder``; return
    the names written (:data:`citycov.outputs.folder.PLAN_FILES`).

    ``reproducible``: leave the solvers' ``time_s`` empty, so two runs write the same bytes.

    Raises
    ------
    ValueError
        A non-empty frame of ``plan`` without its documented columns, points without CRS or
        geometry, or a ``threshold`` outside [0, 1].
    """
    folder = Path(folder)
    pct = {"before_pct": 4, "planned_pct": 4, "after_pct": 4, "cum_pct": 4, "pct": 4, "gap_pct": 4}
    amounts = {"cost": 6, "greedy_cost": 6, "optimum_cost": 6, "lower_bound": 6, "new_persons": 3,
               "new_households": 3, "new_villages": 3, "feeder_m": 1, "time_s": 3}
    sites, sites_json = _point_table(plan.sites, SITE_COLUMNS, "sites")
    cabinets, cabinets_json = _point_table(plan.cabinets, CABINET_COLUMNS, "cabinets")
    summary = _summary_checked(plan.summary)
    curve = _checked(plan.curve, CURVE_COLUMNS, "curve")
    solvers = _checked(plan.solvers, SOLVER_COLUMNS, "solvers")
    if reproducible:
        solvers["time_s"] = np.nan
    write_csv(_rounded(sites, {**pct, **amounts}), folder / "plan_sites.csv")
    (folder / "plan_sites.geojson").write_text(sites_json, encoding="utf-8")
    write_csv(_rounded(cabinets, {**pct, **amounts}), folder / "plan_cabinets.csv")
    (folder / "plan_cabinets.geojson").write_text(cabinets_json, encoding="utf-8")
    write_csv(_rounded(summary, {**pct, **amounts}), folder / "plan_summary.csv")
    write_csv(_rounded(curve, {**pct, **amounts}), folder / "plan_curve.csv")
    write_csv(_rounded(solvers, {**pct, **amounts}), folder / "plan_solvers.csv")
    return list(PLAN_FILES)


def _plain(value: Any) -> Any:
    """Plain JSON data of a config value: paths as text, tuples as lists, NaN/inf as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def solver_versions() -> dict[str, str]:
    """The installed versions of :data:`SOLVER_SOFTWARE` ("not installed" where absent)."""
    out = {}
    for pkg in SOLVER_SOFTWARE:
        try:
            out[pkg] = metadata.version(pkg) if importlib.util.find_spec(pkg) is not None else "not installed"
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def plan_provenance(plan: PlanResult) -> dict[str, Any]:
    """``provenance.plan``: the ``[plan]`` settings, each solver call's status, the notes, the
    solver packages' versions, whether a full-engine "after" run was made, and the step timings
    (``timings_s``, left out of reproducible runs)."""
    solvers = _checked(plan.solvers, SOLVER_COLUMNS, "solvers")
    return {
        "config": _plain(plan.config),
        "solvers": [{"instance": _plain(r["instance"]), "method": _plain(r["method"]), "status": _plain(r["status"])}
                    for _, r in solvers.iterrows()],
        "software": solver_versions(),
        "after_run": plan.after is not None,
        "notes": [str(n) for n in plan.notes],
        "files": list(PLAN_FILES),
        "timings_s": {k: round(float(v), 3) for k, v in plan.timings_s.items()},
    }


# -- reading back ----------------------------------------------------------------------------------

@dataclass
class SavedPlan:
    """A plan as written into an output folder (tables as read, points with ``lon``/``lat``)."""

    entry: dict[str, Any]
    """``provenance.plan``."""
    sites: pd.DataFrame
    cabinets: pd.DataFrame
    summary: pd.DataFrame
    curve: pd.DataFrame
    solvers: pd.DataFrame

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.entry.get("config", {}))

    @property
    def cost_unit(self) -> str:
        return str(self.settings.get("cost_unit", ""))

    @property
    def notes(self) -> list[str]:
        return [str(n) for n in self.entry.get("notes", [])]


def load_saved_plan(folder: str | Path, entry: dict[str, Any] | None) -> SavedPlan | None:
    """The plan of the output folder ``folder`` whose ``provenance.plan`` is ``entry``; None
    when ``entry`` is None (a run without a plan).

    Raises
    ------
    InputFileError
        Listing every plan table that is missing, unreadable or lacks a documented column.
    """
    if entry is None:
        return None
    folder = Path(folder)
    specs = {"plan_sites.csv": (*SITE_COLUMNS, *LONLAT), "plan_cabinets.csv": (*CABINET_COLUMNS, *LONLAT),
             "plan_summary.csv": SUMMARY_COLUMNS, "plan_curve.csv": CURVE_COLUMNS,
             "plan_solvers.csv": SOLVER_COLUMNS}
    missing = [name for name in specs if not (folder / name).is_file()]
    if missing:
        raise InputFileError(f"{folder}: districts.json records a plan, but {', '.join(missing)} "
                             f"{'is' if len(missing) == 1 else 'are'} missing (rerun `citycov plan`)")
    tables: dict[str, pd.DataFrame] = {}
    problems = []
    for name, columns in specs.items():
        try:
            frame = read_csv(folder / name, dtype={c: str for c in _TEXT_COLUMNS if c in columns})
        except (OSError, ValueError) as exc:
            problems.append(f"{name}: cannot read it ({exc})")
            continue
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            problems.append(f"{name}: columns {absent} missing")
        tables[name] = frame
    if problems:
        raise InputFileError(f"{folder}: " + "; ".join(problems))
    return SavedPlan(entry=entry, sites=tables["plan_sites.csv"], cabinets=tables["plan_cabinets.csv"],
                     summary=tables["plan_summary.csv"], curve=tables["plan_curve.csv"],
                     solvers=tables["plan_solvers.csv"])


# -- rendering -------------------------------------------------------------------------------------

def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value)))


def _number(value: object, fmt: str = ",.3f") -> str:
    """A number for display; "-" when missing."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return "-" if not math.isfinite(v) else format(v, fmt)


def _count(value: object) -> str:
    return _number(value, ",.0f")


def _met(value: object) -> str:
    """``pass``, ``fail`` or ``none`` (not known) for a ``met`` cell as read."""
    if isinstance(value, bool | np.bool_):
        return "pass" if value else "fail"
    if isinstance(value, str) and value in ("True", "False"):
        return "pass" if value == "True" else "fail"
    return "none"


def _met_label(key: str, lang: str) -> str:
    return "-" if key == "none" else text(key, lang)


def _area(area_id: object, name: object, names: pd.DataFrame, lang: str) -> str:
    """The display name of an area: from the district table (``names``, indexed by ``area_id``)
    in ``lang`` when it knows the area, else the plan's own name for it."""
    aid = str(area_id)
    if aid == "city" or aid in names.index:
        return area_name(aid, names, lang)
    return aid if _missing(name) or not str(name).strip() else str(name)


def _method(method: object, lang: str) -> str:
    key = f"plan_method_{method}"
    return text(key, lang) if key in LABELS else str(method)


def _source(spec: dict[str, Any], lang: str) -> str:
    path = spec.get("path")
    if path:
        return text("plan_candidate_file", lang, name=Path(str(path)).name)
    return text("plan_lattice", lang, spacing=_g(spec, "spacing_m"))


def _g(spec: dict[str, Any], key: str) -> str:
    """A number of a settings table for display (``%g``); "-" when absent."""
    value = spec.get(key)
    return "-" if value is None else f"{float(value):g}"


def _template(t: dict[str, Any], lang: str) -> str:
    return text("plan_template_text", lang, technology=t.get("technology", ""), band=t.get("band", ""),
                freq=_g(t, "freq_mhz"), bandwidth=_g(t, "bandwidth_mhz"), height=_g(t, "height_m"),
                eirp=_g(t, "eirp_dbm"), azimuths="/".join(f"{float(a):g}" for a in t.get("azimuth_deg", [])),
                tilt=_g(t, "downtilt_deg"), hbw=_g(t, "h_beamwidth_deg"), vbw=_g(t, "v_beamwidth_deg"),
                operator=t.get("operator", ""))


def settings_rows(saved: SavedPlan, names: pd.DataFrame, lang: str) -> list[tuple[str, str]]:
    """(label, value) per setting of the plan, as plain text in ``lang``."""
    s = saved.settings
    unit = saved.cost_unit
    districts = s.get("districts", "missing")
    if isinstance(districts, list):
        scope = ", ".join(_area(d, d, names, lang) for d in districts)
    else:
        scope = text(f"plan_scope_{districts}", lang) if f"plan_scope_{districts}" in LABELS else str(districts)
    budget = s.get("budget")
    budget_text = (text("plan_budget_minimum", lang) if budget is None
                   else text("plan_budget_limit", lang, budget=f"{float(budget):g}", unit=unit))
    selection = s.get("selection", "")
    sel_key = f"plan_selection_{selection}"
    sites = s.get("sites", {})
    cabinets = s.get("cabinets", {})
    rows = [
        (text("plan_metrics", lang), ", ".join(metric_label(str(m), lang) for m in s.get("metrics", []))),
        (text("plan_districts", lang), scope),
        (text("plan_budget", lang), budget_text),
        (text("plan_selection", lang), text(sel_key, lang) if sel_key in LABELS else str(selection)),
        (text("plan_time_limit", lang), f"{_g(s, 'time_limit_s')} s"),
        (text("plan_cross_check", lang), text("yes" if s.get("cross_check") else "no", lang)),
        (text("plan_cost_unit", lang), unit),
        (text("plan_site_candidates", lang), _source(sites, lang) + "; " + text(
            "plan_site_cost", lang, cost=_g(sites, "cost"), unit=unit)),
        (text("plan_template", lang), _template(sites.get("template", {}), lang)),
        (text("plan_cabinet_candidates", lang), _source(cabinets, lang) + "; " + text(
            "plan_cabinet_cost", lang, cost=_g(cabinets, "cost"), unit=unit, ports=_g(cabinets, "ports"),
            feeder=_g(cabinets, "feeder_cost_per_km"))),
    ]
    return rows


def summary_rows(saved: SavedPlan, names: pd.DataFrame, lang: str) -> list[dict[str, str]]:
    """The before/after table as display text, one row per (area, metric) of ``plan_summary.csv``;
    ``result`` is ``pass``/``fail``/``none``."""
    out = []
    for _, r in saved.summary.iterrows():
        threshold = pd.to_numeric(r["threshold"], errors="coerce")
        key = _met(r["met"])
        out.append({
            "area_id": str(r["area_id"]), "metric": str(r["metric"]),
            "area": _area(r["area_id"], r["district"], names, lang),
            "metric_label": metric_label(str(r["metric"]), lang),
            "before": pct_label(r["before_pct"]), "planned": pct_label(r["planned_pct"]),
            "after": pct_label(r["after_pct"]), "target": "-" if _missing(threshold) else f"{100 * threshold:g}%",
            "result": key, "met": _met_label(key, lang), "sites": _count(r["sites"]),
            "cabinets": _count(r["cabinets"]), "cost": _number(r["cost"]),
            "note": "" if _missing(r["note"]) else str(r["note"]),
        })
    return out


def solver_rows(saved: SavedPlan, lang: str) -> list[dict[str, str]]:
    """The solver table as display text, one row per solver call."""
    return [{"instance": "" if _missing(r["instance"]) else str(r["instance"]), "method": _method(r["method"], lang),
             "cost": _number(r["cost"]), "sites": _count(r["sites"]), "cabinets": _count(r["cabinets"]),
             "lower_bound": _number(r["lower_bound"]),
             "gap": "-" if _missing(r["gap_pct"]) else f"{float(r['gap_pct']):.2f}%",
             "time": _number(r["time_s"], ",.2f"), "status": "" if _missing(r["status"]) else str(r["status"])}
            for _, r in saved.solvers.iterrows()]


def cross_check_lines(saved: SavedPlan, lang: str) -> list[str]:
    """The CP-SAT cross-check in words: off, missing, or per instance CP-SAT against HiGHS."""
    if not saved.settings.get("cross_check", False):
        return [text("plan_cross_check_off", lang)]
    s = saved.solvers
    cp = s[s["method"] == "cp-sat"]
    if not len(cp):
        return [text("plan_cross_check_missing", lang)]
    lines = []
    for _, r in cp.iterrows():
        instance = "" if _missing(r["instance"]) else str(r["instance"])
        highs = s[(s["method"] == "highs") & (s["instance"].astype(str) == instance)]
        other = _number(r["cost"])
        if not len(highs):
            lines.append(text("plan_cross_check_alone", lang, instance=instance, other=other, status=r["status"]))
            continue
        a, b = float(highs["cost"].iloc[0]), float(r["cost"])
        same = math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-6 * max(1.0, abs(a))
        lines.append(text("plan_cross_check_agree" if same else "plan_cross_check_differ", lang, instance=instance,
                          other=other, cost=_number(a)))
    return lines


def curve_lines(saved: SavedPlan) -> dict[str, list[CurveLine]]:
    """metric -> one :class:`CurveLine` per area of ``plan_curve.csv`` (in order of first
    appearance), each with its target from ``plan_summary.csv`` in percent."""
    threshold = {(str(r["metric"]), str(r["area_id"])): 100 * float(r["threshold"])
                 for _, r in saved.summary.iterrows() if not _missing(pd.to_numeric(r["threshold"], errors="coerce"))}
    names = {str(r["area_id"]): r["district"] for _, r in saved.summary.iterrows()}
    out: dict[str, list[CurveLine]] = {}
    curve = saved.curve
    for (metric, area_id), sel in curve.groupby([curve["metric"].astype(str), curve["area_id"].astype(str)],
                                                sort=False):
        sel = sel.sort_values("step")
        out.setdefault(metric, []).append(CurveLine(
            area_id=area_id, name=str(names.get(area_id, area_id)), cost=sel["cost"].to_numpy(dtype=float),
            pct=sel["pct"].to_numpy(dtype=float), target_pct=threshold.get((metric, area_id), float("nan"))))
    return out


def _table(head: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """An HTML table; each cell (class, text), the text escaped here."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td class='{c}'>{_e(v)}</td>" if c else f"<td>{_e(v)}</td>" for c, v in row)
                   + "</tr>" for row in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def html_section(saved: SavedPlan, names: pd.DataFrame, lang: str) -> tuple[str, list[Figure], list[str]]:
    """The "Plan" section of ``report.html`` (settings, before/after table, solvers with the
    CP-SAT cross-check, notes, one coverage-curve chart per metric), its figures and any
    rendering notes.  ``names``: the district table indexed by ``area_id``."""
    unit = saved.cost_unit
    parts = [f"<section id='plan'><h2>{_e(text('plan_title', lang))}</h2><p>{_e(text('plan_intro', lang))}</p>",
             f"<h3 id='plan-settings'>{_e(text('plan_settings', lang))}</h3>",
             _table([text("plan_setting", lang), text("value", lang)],
                    [[("", k), ("", v)] for k, v in settings_rows(saved, names, lang)])]
    head = [text(k, lang) for k in ("district", "plan_metric", "plan_before", "plan_planned", "plan_after",
                                    "target", "plan_met", "plan_sites", "plan_cabinets")]
    head.append(text("plan_cost", lang, unit=unit))
    rows = [[("", r["area"]), ("", r["metric_label"]), ("n", r["before"]), ("n", r["planned"]), ("n", r["after"]),
             ("n", r["target"]), (r["result"], r["met"]), ("n", r["sites"]), ("n", r["cabinets"]), ("n", r["cost"])]
            for r in summary_rows(saved, names, lang)]
    parts += [f"<h3 id='plan-summary'>{_e(text('plan_before_after', lang))}</h3>", _table(head, rows)]
    row_notes = [f"{r['area']} · {r['metric_label']}: {r['note']}" for r in summary_rows(saved, names, lang)
                 if r["note"]]
    head = [text(k, lang) for k in ("plan_instance", "plan_method")] + [text("plan_cost", lang, unit=unit)] + [
        text(k, lang) for k in ("plan_sites", "plan_cabinets", "plan_lower_bound", "plan_gap_pct", "plan_time_s",
                                "plan_status")]
    rows = [[("", r["instance"]), ("", r["method"]), ("n", r["cost"]), ("n", r["sites"]), ("n", r["cabinets"]),
             ("n", r["lower_bound"]), ("n", r["gap"]), ("n", r["time"]), ("", r["status"])]
            for r in solver_rows(saved, lang)]
    parts += [f"<h3 id='plan-solvers'>{_e(text('plan_solvers', lang))}</h3>", _table(head, rows),
              f"<p id='plan-cross-check'><b>{_e(text('plan_cross_check', lang))}</b>: "
              + "; ".join(_e(line) for line in cross_check_lines(saved, lang)) + "</p>"]
    notes = [*saved.notes, *row_notes]
    if notes:
        parts += [f"<h3 id='plan-notes'>{_e(text('plan_notes', lang))}</h3><ul>"
                  + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>"]
    figures, chart_notes = plan_curve_charts(curve_lines(saved), names, cost_unit=unit, lang=lang)
    if figures:
        parts.append(f"<h3 id='plan-curves'>{_e(text('plan_curves', lang))}</h3>")
        parts.extend(figure_html(fig) for fig in figures)
    parts.append("</section>")
    return "".join(parts), figures, chart_notes


def markdown_lines(saved: SavedPlan, names: pd.DataFrame, lang: str) -> list[str]:
    """The "Plan" section of ``report.md``: English prose and headings (as the rest of
    ``report.md``), area names in ``lang``, input text escaped (:func:`md_cell`, :func:`md_text`)."""
    en = "en"
    unit = saved.cost_unit
    lines = ["", f"## {text('plan_title', en)}", "", md_text(text("plan_intro", en)), ""]
    lines += [f"- {md_cell(k)}: {md_cell(v)}" for k, v in settings_rows(saved, names, en)]
    head = [text(k, en) for k in ("district", "plan_metric", "plan_before", "plan_planned", "plan_after", "target",
                                  "plan_met", "plan_sites", "plan_cabinets")] + [text("plan_cost", en, unit=unit)]
    lines += ["", f"### {text('plan_before_after', en)}", "", "| " + " | ".join(md_cell(h) for h in head) + " |",
              "|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in summary_rows(saved, names, lang):
        met = "-" if r["result"] == "none" else text(r["result"], en)
        lines.append(f"| {md_cell(r['area'])} | {md_cell(metric_label(r['metric'], en))} | {r['before']} | "
                     f"{r['planned']} | {r['after']} | {r['target']} | {met} | {r['sites']} | {r['cabinets']} | "
                     f"{r['cost']} |")
    head = [text("plan_instance", en), text("plan_method", en), text("plan_cost", en, unit=unit)] + [
        text(k, en) for k in ("plan_sites", "plan_cabinets", "plan_lower_bound", "plan_gap_pct", "plan_time_s",
                              "plan_status")]
    lines += ["", f"### {text('plan_solvers', en)}", "", "| " + " | ".join(md_cell(h) for h in head) + " |",
              "|---|---|" + "---:|" * 6 + "---|"]
    for r in solver_rows(saved, en):
        lines.append(f"| {md_cell(r['instance'])} | {md_cell(r['method'])} | {r['cost']} | {r['sites']} | "
                     f"{r['cabinets']} | {r['lower_bound']} | {r['gap']} | {r['time']} | {md_cell(r['status'])} |")
    lines += ["", f"{text('plan_cross_check', en)}: " + "; ".join(md_text(x) for x in cross_check_lines(saved, en))]
    notes = [*saved.notes, *(f"{r['area']} · {r['metric_label']}: {r['note']}"
                             for r in summary_rows(saved, names, lang) if r["note"])]
    if notes:
        lines += ["", f"### {text('plan_notes', en)}", ""] + [f"- {md_text(n)}" for n in notes]
    lines += ["", "Sites and cabinets: `plan_sites.csv`, `plan_cabinets.csv` (and `.geojson`); every step of the "
              "coverage curves: `plan_curve.csv`; charts: `figures/plan_curve_*.png`."]
    return lines


def _popup_rows(points: pd.DataFrame, names: pd.DataFrame, lang: str, *, title_key: str, new_col: str,
                new_key: str, unit: str) -> list[list[object]]:
    """[lat, lon, title, body] per point: plain text (the map builds the popup from text nodes)."""
    rows = []
    for _, p in points.sort_values("rank").iterrows():
        name = _area(p["district_id"], p["district"], names, lang)
        body = "\n".join((
            f"{text('plan_rank', lang)}: {_count(p['rank'])}",
            f"{text('plan_id', lang)}: {'' if _missing(p['candidate_id']) else p['candidate_id']}",
            f"{text('district', lang)}: {name}",
            f"{text(new_key, lang)}: {_count(p[new_col])}",
            f"{text('plan_cum_pct', lang)}: {pct_label(p['cum_pct'])}",
            f"{text('plan_cost', lang, unit=unit)}: {_number(p['cost'])}"))
        rows.append([round(float(p["lat"]), 6), round(float(p["lon"]), 6),
                     f"{text(title_key, lang)} #{_count(p['rank'])}", body])
    return rows


def site_popups(saved: SavedPlan, names: pd.DataFrame, lang: str) -> list[list[object]]:
    """The planned sites for the map: [lat, lon, title, body] (plain text) in order of rank."""
    return _popup_rows(saved.sites, names, lang, title_key="plan_site", new_col="new_persons",
                       new_key="plan_new_persons", unit=saved.cost_unit)


def cabinet_popups(saved: SavedPlan, names: pd.DataFrame, lang: str) -> list[list[object]]:
    """The planned cabinets for the map: [lat, lon, title, body] (plain text) in order of rank."""
    return _popup_rows(saved.cabinets, names, lang, title_key="plan_cabinet", new_col="new_households",
                       new_key="plan_new_households", unit=saved.cost_unit)
