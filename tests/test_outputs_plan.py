"""The plan's outputs (citycov.outputs.plan): tables, GeoJSON, provenance, report and map sections.

The PlanResult is built by hand here (a base run of the tiny scenario, then frames with the
documented columns of citycov.planning.result), so every expected value below is a number typed
into this file, or a WGS84 position computed by pyproj independently of the writer.
"""

from __future__ import annotations

import base64
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

import citycov
from citycov.config.plan import PlanConfig, SiteCandidates
from citycov.errors import InputFileError
from citycov.outputs import i18n
from citycov.outputs.folder import PLAN_FILES, is_output_name
from citycov.outputs.maps import render_map
from citycov.outputs.plan import load_saved_plan, write_plan_files
from citycov.outputs.report_html import render_report
from citycov.outputs.saved import load_saved_run
from citycov.outputs.tables import read_csv
from citycov.planning.result import (
    CABINET_COLUMNS,
    CURVE_COLUMNS,
    SITE_COLUMNS,
    SOLVER_COLUMNS,
    SUMMARY_COLUMNS,
    PlanResult,
)

from .conftest import UTM49, X0, Y0, make_tiny

XSS_DISTRICT = "Sq <script>alert(7)</script>"
XSS_ID = "<img src=x onerror=alert(8)>"
CURRENCY = "million $CNY"  # a "$" must not start mathtext in the chart

SITE_XY = [(X0 + 1500.0, Y0 + 1500.0), (X0 + 8500.0, Y0 + 9000.0)]
CABINET_XY = [(X0 + 9000.0, Y0 + 1000.0)]


def _sites() -> gpd.GeoDataFrame:
    rows = [
        {"rank": 1, "candidate_id": XSS_ID, "district_id": "1", "district": XSS_DISTRICT, "technology": "4G",
         "operator": "planned", "freq_mhz": 1842.5, "height_m": 30.0, "eirp_dbm": 61.0, "sectors": 3,
         "new_persons": 12345.0, "new_villages": 0, "cum_pct": 81.25, "cost": 1.0, "source": "lattice"},
        {"rank": 2, "candidate_id": "L0002", "district_id": "1", "district": XSS_DISTRICT, "technology": "4G",
         "operator": "planned", "freq_mhz": 1842.5, "height_m": 30.0, "eirp_dbm": 61.0, "sectors": 3,
         "new_persons": 4321.0, "new_villages": 1, "cum_pct": 92.5, "cost": 1.25, "source": "continuation"},
    ]
    return gpd.GeoDataFrame(rows, geometry=[shapely.Point(x, y) for x, y in SITE_XY], crs=UTM49)


def _cabinets() -> gpd.GeoDataFrame:
    rows = [{"rank": 1, "candidate_id": "C0001", "district_id": "1", "district": XSS_DISTRICT, "ports": 288,
             "new_households": 250.0, "new_villages": 0, "feeder_m": 1400.0, "cum_pct": 64.0, "cost": 0.262,
             "source": "lattice"}]
    return gpd.GeoDataFrame(rows, geometry=[shapely.Point(x, y) for x, y in CABINET_XY], crs=UTM49)


SUMMARY = pd.DataFrame([
    {"area_id": "1", "district": XSS_DISTRICT, "metric": "wireless_population", "threshold": 0.9,
     "before_pct": 61.37, "planned_pct": 92.5, "after_pct": 91.83, "met": True, "sites": 2, "cabinets": 0,
     "cost": 2.25, "greedy_cost": 2.25, "optimum_cost": 2.25, "lower_bound": 2.0, "gap_pct": 12.5,
     "note": "one continuation round"},
    {"area_id": "1", "district": XSS_DISTRICT, "metric": "ftth_households", "threshold": 0.6,
     "before_pct": 55.55, "planned_pct": 64.0, "after_pct": 58.88, "met": False, "sites": 0, "cabinets": 1,
     "cost": 0.262, "greedy_cost": 0.262, "optimum_cost": 0.262, "lower_bound": 0.262, "gap_pct": 0.0,
     "note": np.nan},
], columns=list(SUMMARY_COLUMNS))
CURVE = pd.DataFrame([("wireless_population", "1", 0, 0.0, 61.37), ("wireless_population", "1", 1, 1.0, 81.25),
                      ("wireless_population", "1", 2, 2.25, 92.5), ("ftth_households", "1", 0, 0.0, 55.55),
                      ("ftth_households", "1", 1, 0.262, 64.0)], columns=list(CURVE_COLUMNS))
SOLVERS = pd.DataFrame([("wireless", "greedy", 2.25, 2, 0, 2.0, 12.5, 0.01, "greedy"),
                        ("wireless", "highs", 2.25, 2, 0, 2.0, 12.5, 0.2, "optimal"),
                        ("wireless", "cp-sat", 2.25, 2, 0, 2.25, 0.0, 0.3, "optimal")], columns=list(SOLVER_COLUMNS))


def make_plan(base, **overrides) -> PlanResult:
    config = PlanConfig(cost_unit=CURRENCY, districts=("1",), sites=SiteCandidates(spacing_m=750.0))
    kw = {"config": config, "base": base, "after": base, "sites": _sites(), "cabinets": _cabinets(),
          "summary": SUMMARY.copy(), "curve": CURVE.copy(), "solvers": SOLVERS.copy(),
          "notes": ["the village of <b>Xiaotang</b> stays out of reach"], "timings_s": {"select": 0.5}}
    kw.update(overrides)
    return PlanResult(**kw)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    tiny = make_tiny(tmp_path_factory.mktemp("plan") / "t")
    square = shapely.box(X0, Y0, X0 + 10_000.0, Y0 + 10_000.0)
    gpd.GeoDataFrame({"adcode": ["1"], "name_en": [XSS_DISTRICT], "name": ["方形区<script>x</script>"]},
                     geometry=[square], crs=UTM49).to_file(tiny.folder / "districts.gpkg", driver="GPKG")
    return citycov.run(citycov.load_scenario(tiny.scenario))


@pytest.fixture(scope="module")
def out(base, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan_out") / "out"
    paths = citycov.write_outputs(base, folder, plan=make_plan(base))
    assert all(paths[name].is_file() for name in PLAN_FILES)
    return folder


def _section(page: str) -> str:
    start = page.index("<section id='plan'>")
    return page[start:page.index("</section>", start)]


# -- files ------------------------------------------------------------------------------------------

def test_every_plan_file_has_the_documented_columns_and_rows(out):
    sites = read_csv(out / "plan_sites.csv", dtype={"candidate_id": str, "district_id": str})
    assert list(sites.columns) == [*SITE_COLUMNS, "lon", "lat"]
    assert list(sites["candidate_id"]) == [XSS_ID, "L0002"]  # read back exactly (spreadsheet quote removed)
    assert list(sites["new_persons"]) == [12345.0, 4321.0] and list(sites["cost"]) == [1.0, 1.25]
    cabinets = read_csv(out / "plan_cabinets.csv", dtype={"candidate_id": str})
    assert list(cabinets.columns) == [*CABINET_COLUMNS, "lon", "lat"]
    assert cabinets["new_households"].tolist() == [250.0] and cabinets["ports"].tolist() == [288]
    summary = read_csv(out / "plan_summary.csv", dtype={"area_id": str})
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["after_pct"].tolist() == [91.83, 58.88] and summary["met"].tolist() == [True, False]
    curve = read_csv(out / "plan_curve.csv", dtype={"area_id": str})
    assert list(curve.columns) == list(CURVE_COLUMNS) and len(curve) == 5
    assert curve["pct"].tolist() == [61.37, 81.25, 92.5, 55.55, 64.0]
    solvers = read_csv(out / "plan_solvers.csv")
    assert list(solvers.columns) == list(SOLVER_COLUMNS)
    assert solvers["method"].tolist() == ["greedy", "highs", "cp-sat"]
    assert solvers["time_s"].tolist() == [0.01, 0.2, 0.3]
    assert (out / "plan_sites.csv").read_bytes().startswith(b"rank,candidate_id,")
    assert b"'<img" not in (out / "plan_sites.csv").read_bytes()  # "<" is no formula character


@pytest.mark.parametrize(("name", "xy"), [("plan_sites.geojson", SITE_XY), ("plan_cabinets.geojson", CABINET_XY)])
def test_geojson_is_rfc7946_wgs84_and_matches(out, name, xy):
    doc = json.loads((out / name).read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    to_ll = Transformer.from_crs(UTM49, "EPSG:4326", always_xy=True)
    assert len(doc["features"]) == len(xy)
    for feature, (x, y) in zip(doc["features"], xy, strict=True):
        lon, lat = to_ll.transform(x, y)
        assert feature["geometry"]["type"] == "Point"
        assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-9)
        assert 110.9 < lon < 111.2 and 23.0 < lat < 23.2  # UTM 49N, 500 km easting: on the 111°E meridian
    assert doc["features"][0]["properties"]["rank"] == 1
    csv = read_csv(out / name.replace(".geojson", ".csv"))
    coords = [f["geometry"]["coordinates"] for f in doc["features"]]
    assert csv["lon"].tolist() == pytest.approx([c[0] for c in coords], abs=1e-7)
    assert csv["lat"].tolist() == pytest.approx([c[1] for c in coords], abs=1e-7)


def test_provenance_records_the_plan(out):
    prov = json.loads((out / "districts.json").read_text(encoding="utf-8"))["provenance"]
    plan = prov["plan"]
    assert plan["config"]["cost_unit"] == CURRENCY and plan["config"]["districts"] == ["1"]
    assert plan["config"]["sites"]["spacing_m"] == 750.0 and plan["config"]["sites"]["path"] is None
    assert plan["config"]["budget"] is None and plan["config"]["selection"] == "ilp"
    assert [s["status"] for s in plan["solvers"]] == ["greedy", "optimal", "optimal"]
    assert [s["method"] for s in plan["solvers"]] == ["greedy", "highs", "cp-sat"]
    assert set(plan["software"]) == {"highspy", "ortools"}
    assert all(isinstance(v, str) and v for v in plan["software"].values())
    assert plan["timings_s"] == {"select": 0.5} and plan["after_run"] is True


# -- report -----------------------------------------------------------------------------------------

def test_report_has_the_plan_section_with_the_summary_figures(out):
    page = (out / "report.html").read_text(encoding="utf-8")
    section = _section(page)
    assert i18n.text("plan_title", "en") in section
    for value in ("61.37%", "92.50%", "91.83%", "90%", "55.55%", "64.00%", "58.88%", "60%", "2.250", "0.262"):
        assert value in section, value
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    wireless = next(r for r in rows if i18n.metric_label("wireless_population", "en") in r and "61.37%" in r)
    assert "class='pass'>PASS<" in wireless
    ftth = next(r for r in rows if "55.55%" in r)
    assert "class='fail'>FAIL<" in ftth
    # settings, solvers and the cross-check (CP-SAT 2.250 = HiGHS 2.250)
    assert "hexagonal lattice, spacing 750 m" in section and "12.50%" in section
    assert i18n.text("plan_method_cp-sat", "en") in section
    assert i18n.text("plan_cross_check_agree", "en", instance="wireless", other="2.250", cost="2.250") in section
    assert "one continuation round" in section
    assert "&lt;b&gt;Xiaotang&lt;/b&gt;" in section and "<b>Xiaotang" not in page
    assert "<script>alert(" not in page


def test_report_embeds_one_curve_chart_per_metric(out):
    section = _section((out / "report.html").read_text(encoding="utf-8"))
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", section)
    assert len(images) == 2
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    files = {p.name: p.read_bytes() for p in (out / "figures").glob("plan_curve_*.png")}
    assert set(files) == {"plan_curve_wireless_population.png", "plan_curve_ftth_households.png"}
    assert {base64.b64decode(i) for i in images} == set(files.values())
    assert (out / "figures" / "target_wireless_population.png").is_file()


def test_report_md_has_the_plan_section(out):
    md = (out / "report.md").read_text(encoding="utf-8")
    plan = md[md.index("## " + i18n.text("plan_title", "en")):]
    assert "| 61.37% | 92.50% | 91.83% | 90% | PASS | 2 | 0 | 2.250 |" in plan
    assert "| 55.55% | 64.00% | 58.88% | 60% | FAIL | 0 | 1 | 0.262 |" in plan
    assert "<script>" not in md and "\\<b\\>Xiaotang" in plan


# -- map ---------------------------------------------------------------------------------------------

def test_map_has_both_plan_layers_with_escaped_popups(out):
    page = (out / "map.html").read_text(encoding="utf-8")
    assert f"{i18n.text('layer_plan_sites', 'en')} (2)" in page
    assert f"{i18n.text('layer_plan_cabinets', 'en')} (1)" in page
    assert '"plan_sites": ' in page and '"plan_cabinets": ' in page
    assert "<script>alert(" not in page and "<img src=x" not in page
    # popups reach the page as JSON text (built into text nodes), "<" as \u003c
    assert "\\u003cimg src=x onerror=alert(8)\\u003e" in page
    assert "Sq \\u003cscript\\u003ealert(7)\\u003c/script\\u003e" in page
    assert "12,345" in page and "81.25%" in page and "4,321" in page and "250" in page


def test_rerender_in_chinese_keeps_the_plan(out):
    run = load_saved_run(out)
    page = render_map(run, lang="zh")
    for key in ("layer_plan_sites", "layer_plan_cabinets", "plan_new_persons", "plan_cum_pct"):
        assert json.dumps(i18n.text(key, "zh"))[1:-1] in page, key  # in JSON strings, non-ASCII as \uXXXX
    report, figures, _ = render_report(run, lang="zh")
    assert i18n.text("plan_title", "zh") in _section(report)
    assert [f.prefix for f in figures].count("plan_curve_") == 2
    assert "方形区&lt;script&gt;x&lt;/script&gt;" in _section(report)


# -- without a plan, and empty plans ------------------------------------------------------------------

def test_without_plan_no_plan_output(base, tmp_path):
    paths = citycov.write_outputs(base, tmp_path / "out")
    assert not any(name.startswith("plan_") for name in paths)
    assert not list((tmp_path / "out").glob("plan_*")) and not list((tmp_path / "out" / "figures").glob("plan_*"))
    assert "plan" not in json.loads((tmp_path / "out" / "districts.json").read_text(encoding="utf-8"))["provenance"]
    assert "<section id='plan'>" not in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "layer_plan" not in (tmp_path / "out" / "map.html").read_text(encoding="utf-8")


def test_plan_files_are_output_names():
    assert all(is_output_name(name) for name in PLAN_FILES)


def test_empty_frames_give_headers_and_empty_collections(base, tmp_path):
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=UTM49), crs=UTM49)
    plan = make_plan(base, sites=empty, cabinets=empty, curve=pd.DataFrame(), solvers=pd.DataFrame(),
                     summary=pd.DataFrame())
    names = write_plan_files(plan, tmp_path)
    assert names == list(PLAN_FILES)
    assert (tmp_path / "plan_sites.csv").read_bytes() == ",".join([*SITE_COLUMNS, "lon", "lat"]).encode() + b"\r\n"
    assert (tmp_path / "plan_solvers.csv").read_bytes() == ",".join(SOLVER_COLUMNS).encode() + b"\r\n"
    for name in ("plan_sites.geojson", "plan_cabinets.geojson"):
        assert json.loads((tmp_path / name).read_text(encoding="utf-8")) == {"type": "FeatureCollection",
                                                                              "features": []}
    saved = load_saved_plan(tmp_path, {"config": {}})
    assert saved is not None and len(saved.sites) == 0 and len(saved.summary) == 0


def test_reproducible_plan_leaves_out_solver_times(base, tmp_path):
    write_plan_files(make_plan(base), tmp_path, reproducible=True)
    assert read_csv(tmp_path / "plan_solvers.csv")["time_s"].isna().all()


def test_bad_frames_are_refused(base, tmp_path):
    with pytest.raises(ValueError, match=r"PlanResult.summary: missing columns \['threshold'"):
        write_plan_files(make_plan(base, summary=SUMMARY.drop(columns=["threshold", "met"])), tmp_path)
    with pytest.raises(ValueError, match=r"threshold must be a fraction in \[0, 1\].*\[90.0\] in rows \[0\]"):
        write_plan_files(make_plan(base, summary=SUMMARY.assign(threshold=[90.0, 0.6])), tmp_path)
    with pytest.raises(ValueError, match=r"PlanResult.sites: no CRS"):
        write_plan_files(make_plan(base, sites=_sites().set_crs(None, allow_override=True)), tmp_path)


def test_a_recorded_plan_without_its_files_is_an_error(tmp_path):
    with pytest.raises(InputFileError, match=r"records a plan, but plan_sites.csv, .*plan_solvers.csv are missing"):
        load_saved_plan(tmp_path, {"config": {}})
    assert load_saved_plan(tmp_path, None) is None


def test_reproducible_plan_outputs_are_byte_identical(base, tmp_path):
    """Two reproducible writes of plans that differ only in how long they took give the same bytes."""
    slow = SOLVERS.assign(time_s=[5.0, 60.0, 70.0])
    a = citycov.write_outputs(base, tmp_path / "a", reproducible=True, plan=make_plan(base))
    b = citycov.write_outputs(base, tmp_path / "b", reproducible=True,
                              plan=make_plan(base, solvers=slow, timings_s={"select": 99.0}))
    for name in (*PLAN_FILES, "districts.json", "report.html", "report.md", "map.html"):
        assert a[name].read_bytes() == b[name].read_bytes(), name
    prov = json.loads(a["districts.json"].read_text(encoding="utf-8"))["provenance"]["plan"]
    assert "timings_s" not in prov
