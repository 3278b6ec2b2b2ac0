"""Hostile strings from input reach every output as text: escaped in map.html and report.html
(markup, popups, tooltips, legends, the title, JSON inside scripts), quoted against formula
injection in every CSV (text cells only; numbers stay numbers), escaped in report.md's tables,
and read back exactly by :func:`~citycov.outputs.saved.load_saved_run`.

One end-to-end run of the tiny scenario (with WLAN, a services preset and a claims check) whose
district names, operator, site, sector, access-point and node ids, scenario name, target label
and input vintage and note are hostile.
"""

from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import citycov
from citycov.outputs.maps import _js
from citycov.outputs.saved import load_saved_run

from .conftest import UTM49, X0, Y0, make_tiny, sector_row
from .test_pipeline_claims import VERIFICATION, _tests

SCRIPT = "<script>alert(1)</script>"
LINK = '=HYPERLINK("http://x")'
PLUS = "+1+1"
AT = "@SUM(A1)"
MINUS = "-2+3"
PIPE = "a|b"
BREAK = '"</script><img src=x onerror=alert(1)>'

DISTRICT = f"{LINK} {SCRIPT} {PIPE} $\\frac{{$ `x` *y* [z](http://x)"  # $..$: matplotlib mathtext
DISTRICT_ZH = f"{PLUS} 区 {BREAK}"
OPERATOR = f"{AT}{SCRIPT}"
SITE = f"{MINUS}{BREAK}"
SECTOR = f"{LINK}-1"
AP = f"{PLUS}{SCRIPT}"
AP_OPERATOR = AT
NODE = f"{MINUS} {SCRIPT}"
SCENARIO = f"{LINK} {PIPE} {SCRIPT}"
LABEL = f"{AT} {PIPE}{BREAK}"
VINTAGE = f"{BREAK} | {MINUS}"
NOTE = f"{MINUS} {SCRIPT}\n# not a heading"
GROUND_M = -5.0  # a negative number that must stay a number in sectors.csv

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string for these values


def make_hostile_tiny(folder: Path):
    """The tiny square (WLAN, fibre node, one site, services preset, claims and speed tests) with
    hostile strings in every free-text field that reaches an output."""
    tiny = make_tiny(folder, wlan=True, dem_m=np.full((140, 140), GROUND_M, dtype=np.float32),
                     sectors=[sector_row(site_id=SITE, sector_id=SECTOR, operator=OPERATOR,
                                         x=X0 + 5000.0, y=Y0 + 5000.0)],
                     extra='[services]\npresets = ["ofcom-4g-outdoor"]\n' + VERIFICATION,
                     targets=f'[[targets]]\nmetric = "wireless_population"\nthreshold = 0.8\nlabel = {_toml(LABEL)}\n'
                             '[[targets]]\nmetric = "ftth_households"\nthreshold = 0.5\n')
    text = tiny.scenario.read_text(encoding="utf-8")
    text = text.replace('name = "tiny"', f"name = {_toml(SCENARIO)}", 1)
    text = text.replace("synthetic = true\n",
                        f"synthetic = true\nvintage = {_toml(VINTAGE)}\nnote = {_toml(NOTE)}\n", 1)
    tiny.scenario.write_text(text, encoding="utf-8")
    square = shapely.box(X0, Y0, X0 + 10_000.0, Y0 + 10_000.0)
    gpd.GeoDataFrame({"adcode": ["1"], "name_en": [DISTRICT], "name": [DISTRICT_ZH]}, geometry=[square],
                     crs=UTM49).to_file(folder / "districts.gpkg", driver="GPKG")
    cx, cy = tiny.centre
    pd.DataFrame({"ap_id": [AP], "operator": [AP_OPERATOR], "x": [cx], "y": [cy], "height_m": [4.0],
                  "freq_mhz": [2437.0], "eirp_dbm": [20.0]}).to_csv(folder / "wlan.csv", index=False)
    pd.DataFrame({"node_id": [NODE], "kind": ["cabinet"], "x": [cx], "y": [cy], "ports": [288]}).to_csv(
        folder / "fibre_nodes.csv", index=False)
    gpd.GeoDataFrame({"providerid": ["T1"], "operator": [OPERATOR], "technology": [400], "mindown": [5.0],
                      "minup": [1.0], "environmnt": [0]}, geometry=[square], crs=UTM49).to_crs(
        "EPSG:4326").to_file(folder / "claims.geojson", driver="GeoJSON")
    tests = _tests(tiny.centre)
    tests["operator"] = OPERATOR
    tests["rsrp_dbm"] = -80.0 - (np.arange(len(tests)) % 20)  # enough for the calibration (calibration.json)
    tests.to_csv(folder / "tests.csv", index=False)
    return tiny


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    tiny = make_hostile_tiny(folder / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    out = folder / "out"
    citycov.write_outputs(res, out)
    return out


# HTML: map.html and report.html

class Page(HTMLParser):
    """Tags, attributes, script bodies and visible text of an HTML page."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in: str | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in is None:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


ALLOWED_FRAGMENT_TAGS = {"div", "b", "br", "table", "tr", "th", "td", "i", "small"}


def assert_no_markup_from_input(page: str, name: str) -> Page:
    for raw in ("<script>alert", "<img src=x", "onerror=alert(1)>", "</script><img"):
        assert raw not in page, (name, raw)
    parsed = Page(page)
    for tag, attrs in parsed.tags:
        assert not any(a.startswith("on") for a in attrs), (name, tag, attrs)
        assert tag != "img" or attrs.get("src", "").startswith("data:image/png;base64,"), (name, attrs)
    for body in parsed.scripts:
        assert "<script" not in body and "<img" not in body and "<!--" not in body, name
    return parsed


def js_strings(page: str, pattern: str) -> list[str]:
    """The JSON string literals that follow ``pattern`` in ``page``, decoded."""
    return [json.loads(m) for m in re.findall(pattern + r'("(?:[^"\\]|\\.)*")', page)]


def fragment_text(fragment: str) -> str:
    """The text of an HTML fragment, asserting that it holds only citycov's own tags."""
    parsed = Page(fragment)
    assert {t for t, _ in parsed.tags} <= ALLOWED_FRAGMENT_TAGS, fragment
    assert not any(a.startswith("on") for _, attrs in parsed.tags for a in attrs), fragment
    return parsed.visible


def test_map_shows_every_hostile_string_as_text(hostile_out):
    page = (hostile_out / "map.html").read_text(encoding="utf-8")
    parsed = assert_no_markup_from_input(page, "map.html")
    # the title block: the scenario name and the input vintage, as text
    assert SCENARIO in parsed.visible and VINTAGE in parsed.visible
    # district popups and tooltips, gap popups and tooltips: escaped HTML in JSON string arguments
    popups = js_strings(page, r"\.bindPopup\(") + js_strings(page, r"\.bindTooltip\(")
    texts = [fragment_text(p) for p in popups]
    assert sum(DISTRICT in t for t in texts) >= 4, texts  # wireless and FTTH layers, popup and tooltip
    assert any(t.startswith(f"#1 · {DISTRICT} · ") for t in texts), texts  # the gap tooltip
    # legends: escaped HTML in JSON strings
    for legend in js_strings(page, r"html: "):
        fragment_text(legend)
    # sites, access points and nodes: plain text in JSON (the page makes text nodes of them)
    data = [json.loads(m) for m in re.findall(r"var data = (\[.*?\]);\n", page)]
    rows = [cell for block in data for row in block for cell in row[2:]]
    assert any(SITE in c for c in rows) and any(SECTOR in c and OPERATOR in c for c in rows), rows
    assert AP in rows and AP_OPERATOR in rows and NODE in rows, rows
    # claims hexagons: the tooltip is escaped HTML in the GeoJSON properties
    tips = re.findall(r'"tip": ("(?:[^"\\]|\\.)*")', page)
    assert tips and all(fragment_text(json.loads(t)).startswith(f"{OPERATOR} 4G") for t in tips)


def test_report_shows_every_hostile_string_as_text(hostile_out):
    page = (hostile_out / "report.html").read_text(encoding="utf-8")
    parsed = assert_no_markup_from_input(page, "report.html")
    text = parsed.visible
    for value in (SCENARIO, DISTRICT, VINTAGE, f"{OPERATOR} 4G"):
        assert value in text, value
    assert "'" + DISTRICT not in text  # read back without the spreadsheet quote
    title = next(t for t in re.findall(r"<title>(.*?)</title>", page))
    assert "<" not in title and "&lt;script&gt;" in title


def test_report_in_chinese_escapes_the_local_name(hostile_out, tmp_path):
    from citycov.outputs.maps import render_map
    from citycov.outputs.report_html import render_report

    run = load_saved_run(hostile_out)
    for name, page in (("map", render_map(run, lang="zh")), ("report", render_report(run, lang="zh")[0])):
        parsed = assert_no_markup_from_input(page, name)
        if name == "report":
            assert DISTRICT_ZH in parsed.visible


def test_js_string_literals_cannot_end_or_confuse_a_script():
    value = "a</script><!--<script>\u2028\u2029&'\"`${x}"
    literal = _js(value)
    assert json.loads(literal) == value
    assert not set(literal) & {"<", ">", "&", "\u2028", "\u2029"}, literal


# CSV: formula injection

def test_the_spreadsheet_rule(tmp_path):
    from citycov.outputs import tables

    frame = pd.DataFrame({
        "text": ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "'quoted", "plain", "", None, "-", "x\r=1+1\n@y"],
        "number": [-95.2, -1.0, 0.0, 1.5, -0.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0, -7.0],
        "flag": [True, False, None, True, True, True, True, True, True, True, True, True],
        "count": list(range(-6, 6)),
    })
    path = tmp_path / "t.csv"
    tables.write_csv(frame, path)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    cells = [r[0] for r in rows[1:]]
    # a line break inside a cell stays inside it (quoted), so no row starts with "=1+1"
    assert cells == ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "''quoted", "plain", "", "", "'-", "x\r=1+1\n@y"]
    assert [r[1] for r in rows[1:3]] == ["-95.2", "-1.0"] and rows[1][3] == "-6"
    back = tables.read_csv(path)
    assert back["text"].tolist()[:8] == frame["text"].tolist()[:8]
    assert back["text"].tolist()[10:] == ["-", "x\r=1+1\n@y"]
    assert back["text"].iloc[8:10].isna().all()  # an empty cell reads as missing, as with any CSV in pandas
    assert back["number"].dtype == np.float64 and back["count"].dtype == np.int64
    pd.testing.assert_series_equal(back["number"], frame["number"])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_every_csv_cell_is_safe_in_a_spreadsheet(hostile_out):
    files = sorted(hostile_out.glob("*.csv"))
    assert {p.name for p in files} >= {"districts.csv", "targets.csv", "networks.csv", "services.csv",
                                       "uncertainty.csv", "sectors.csv", "claims_summary.csv"}
    quoted: dict[str, set[str]] = {}
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        for cell in cells:
            if cell.startswith(FORMULA_START):
                assert _is_number(cell), (path.name, cell)
        quoted[path.name] = {c for c in cells if c.startswith("'")}
    assert {"'" + DISTRICT, "'" + DISTRICT_ZH} <= quoted["districts.csv"]
    assert {"'" + DISTRICT, "'" + LABEL} <= quoted["targets.csv"]
    assert {"'" + SITE, "'" + SECTOR, "'" + OPERATOR} <= quoted["sectors.csv"]
    assert "'" + OPERATOR in quoted["networks.csv"]
    assert "'" + DISTRICT in quoted["services.csv"]
    assert "'" + OPERATOR in quoted["claims_summary.csv"]
    sectors = pd.read_csv(hostile_out / "sectors.csv")
    assert sectors["ground_m"].dtype == np.float64 and sectors["ground_m"].tolist() == [GROUND_M]
    with (hostile_out / "sectors.csv").open(newline="", encoding="utf-8") as fh:
        row = next(csv.DictReader(fh))
    assert row["ground_m"] == "-5.0"


def test_saved_run_reads_the_names_back_exactly(hostile_out):
    from citycov.outputs import tables

    run = load_saved_run(hostile_out)
    d = run.districts.set_index("area_id")
    assert d.loc["1", "name"] == DISTRICT and d.loc["1", "name_local"] == DISTRICT_ZH
    assert d["population"].dtype == np.float64
    t = run.targets
    assert set(t.loc[t["metric"] == "wireless_population", "label"]) == {LABEL}
    assert t.loc[t["area_id"] == "1", "name"].tolist() == [DISTRICT, DISTRICT]
    assert t["value_pct"].dtype == np.float64
    assert set(run.claims_summary["operator"]) == {OPERATOR}
    assert run.scenario_name == SCENARIO
    assert run.network["sectors"]["site_id"].tolist() == [SITE]
    assert tables.read_csv(hostile_out / "sectors.csv")["sector_id"].tolist() == [SECTOR]


# report.md

def _cells(line: str) -> list[str]:
    """The cells of a GFM table row: split at pipes not escaped by a backslash."""
    cells, cur, i = [], "", 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cur += line[i:i + 2]
            i += 2
            continue
        if ch == "|":
            cells.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    cells.append(cur)
    return cells[1:-1]


def test_markdown_tables_keep_their_columns(hostile_out):
    from citycov.outputs.report import md_cell

    md = (hostile_out / "report.md").read_text(encoding="utf-8")
    assert not re.search(r"(?<!\\)<", md), "unescaped < in report.md"
    blocks, current = [], []
    for line in [*md.splitlines(), ""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    assert len(blocks) >= 6
    for block in blocks:
        widths = {len(_cells(line)) for line in block}
        assert len(widths) == 1, block
    assert md_cell(DISTRICT) in md and md_cell(LABEL) in md and md_cell(VINTAGE) in md
    assert "\n# not a heading" not in md
    assert md.splitlines()[0] == f"# citycov report: {md_cell(SCENARIO)}"


@pytest.mark.parametrize("text", [PIPE, "a\\|b", "x\ny", "# h", "> q", "- l", "+ l", "1. x", "<b>", "`c`", "*e*",
                                  "[l](u)", "&amp;", "!", "|"])
def test_md_cell_is_one_literal_cell(text):
    from citycov.outputs.report import md_cell

    cell = md_cell(text)
    assert "\n" not in cell and "\r" not in cell
    assert len(_cells(f"| {cell} | x |")) == 2
    # every ASCII punctuation the cell keeps unescaped is harmless in a cell
    unescaped = re.sub(r"\\.", "", cell)
    assert not set(unescaped) & set("|\\<>`*_[]&"), cell
    if text[:1] in "#>+-=!":
        assert cell.startswith("\\"), cell
