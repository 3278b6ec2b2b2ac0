"""Country-neutral defaults and labels (issue 17, item 4 and 6c/6d): no Chinese column or label
is assumed, the household size is stated with its source, the zonal rule is printed once, a
failing district's outline is drawn on top, and an empty district is neutral everywhere.

The run: three 3 km × 3 km districts in a row, in file order B, A, C.  One omni site at A's
centre with ``[radio].max_range_km = 2``: A (every point within 2.12 km of the site) is mostly
covered and passes 80 %; B (1.5 km and more from the site) is covered only on a thin sliver
(the circle of 2 km reaches 0.5 km into it) and fails; C has no residents.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import citycov
from citycov.accounting.population import ZONAL_RULES
from citycov.errors import BoundaryError, ScenarioError
from citycov.io import read_districts
from citycov.outputs import report
from citycov.outputs.tables import read_csv

from .conftest import UTM49, X0, Y0, make_tiny, sector_row, write_raster, write_scenario

SIDE_M = 3000.0
CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
SIZE_SOURCE = "test fixture: a round figure"  # conftest.HOUSEHOLDS


def write_row_of_districts(folder, *, local_names: bool) -> None:
    """Districts B, A, C (file order), side by side west to east: A, B, C."""
    boxes = {"A": shapely.box(X0, Y0, X0 + SIDE_M, Y0 + SIDE_M),
             "B": shapely.box(X0 + SIDE_M, Y0, X0 + 2 * SIDE_M, Y0 + SIDE_M),
             "C": shapely.box(X0 + 2 * SIDE_M, Y0, X0 + 3 * SIDE_M, Y0 + SIDE_M)}
    order = ["B", "A", "C"]
    columns = {"adcode": order, "name_en": [f"District {d}" for d in order]}
    if local_names:
        columns["nom"] = [f"Quartier {d}" for d in order]
    gpd.GeoDataFrame(columns, geometry=[boxes[d] for d in order], crs=UTM49).to_file(
        folder / "districts.gpkg", driver="GPKG")


@pytest.fixture(scope="module")
def neutral_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("neutral")
    site = (X0 + SIDE_M / 2, Y0 + SIDE_M / 2)
    tiny = make_tiny(folder / "t", side_m=SIDE_M, sectors=[sector_row(x=site[0], y=site[1])],
                     radio="max_range_km = 2")
    write_row_of_districts(tiny.folder, local_names=False)
    # 9 km x 3 km of 10 persons per 100 m cell, none in C; flat ground 2 km around
    pop = np.full((30, 90), 10.0, dtype=np.float32)
    pop[:, 60:] = 0.0
    write_raster(tiny.folder / "population.tif", pop, x0=X0, y1=Y0 + SIDE_M, cell_m=100.0,
                 tags={"SYNTHETIC": "yes"})
    write_raster(tiny.folder / "dem.tif", np.full((70, 130), 10.0, dtype=np.float32), x0=X0 - 2000.0,
                 y1=Y0 + SIDE_M + 2000.0, cell_m=100.0, nodata=-9999.0)
    # the default district keys, and no local-name column (the file has no `name`)
    text = tiny.scenario.read_text(encoding="utf-8")
    tiny.scenario.write_text("\n".join(line for line in text.splitlines() if not line.startswith(
        ("id_column", "name_column", "name_zh_column"))) + "\n", encoding="utf-8")
    results = citycov.run(citycov.load_scenario(tiny.scenario))
    out_en, out_zh = folder / "out_en", folder / "out_zh"
    citycov.write_outputs(results, out_en, lang="en")
    citycov.write_outputs(results, out_zh, lang="zh")
    return results, out_en, out_zh


# -- districts without a second-name column ------------------------------------------------------

def test_districts_file_without_a_name_column_reads_with_the_default_keys(tmp_path):
    write_row_of_districts(tmp_path, local_names=False)
    districts = read_districts(tmp_path / "districts.gpkg")
    assert list(districts.frame["name"]) == ["District B", "District A", "District C"]
    assert list(districts.frame["name_local"]) == ["", "", ""]
    assert not districts.has_local_names


def test_local_name_column_and_its_older_spelling(tmp_path):
    write_row_of_districts(tmp_path, local_names=True)
    for key in ("local_name_column", "name_zh_column"):
        districts = read_districts(tmp_path / "districts.gpkg", **{key: "nom"})
        assert list(districts.frame["name_local"]) == ["Quartier B", "Quartier A", "Quartier C"]
        assert districts.has_local_names
    with pytest.raises(BoundaryError, match=r"local_name_column .* name_zh_column .* give one"):
        read_districts(tmp_path / "districts.gpkg", local_name_column="nom", name_zh_column="name_en")
    with pytest.raises(BoundaryError, match=r"missing columns \['nom2'\]"):
        read_districts(tmp_path / "districts.gpkg", local_name_column="nom2")


def test_the_run_outcomes_are_the_ones_the_layout_gives(neutral_run):
    results, _, _ = neutral_run
    passed = {r.area_id: (r.passed, r.verdict) for r in results.target_results
              if r.target.metric == "wireless_population"}
    assert passed["A"][0] is True
    assert passed["B"][0] is False
    assert passed["C"] == (False, "no residents")


# -- labels follow --lang; no Chinese assumed --------------------------------------------------------

def test_english_report_has_no_local_name_column_and_no_chinese(neutral_run):
    _, out, _ = neutral_run
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "区" not in md
    assert CJK.search(md) is None, CJK.search(md)
    assert "| district | target | value | band | verdict | result | gap |" in md
    assert "| district | population | wireless % |" in md
    for name in ("districts.csv", "targets.csv", "districts.json", "report.html", "map.html"):
        page = (out / name).read_text(encoding="utf-8")
        assert CJK.search(page) is None, (name, CJK.search(page))
    districts = read_csv(out / "districts.csv", dtype={"area_id": str})
    assert "name_local" not in districts.columns and "name_zh" not in districts.columns


def test_city_row_label_follows_lang(neutral_run):
    _, out_en, out_zh = neutral_run
    for out, label in ((out_en, "City total"), (out_zh, "全市")):
        districts = read_csv(out / "districts.csv", dtype={"area_id": str}).set_index("area_id")
        assert districts.loc["city", "name"] == label
        targets = read_csv(out / "targets.csv", dtype={"area_id": str})
        assert set(targets.loc[targets["area_id"] == "city", "name"]) == {label}
        md = (out / "report.md").read_text(encoding="utf-8")
        assert f"| {label} |" in md
    # the districts keep their names in both languages (there is no local name to prefer)
    zh = read_csv(out_zh / "districts.csv", dtype={"area_id": str}).set_index("area_id")
    assert zh.loc["B", "name"] == "District B"


def test_local_name_column_shown_with_a_heading_per_lang(neutral_run):
    results, _, _ = neutral_run
    table = results.table.copy()
    table["name_local"] = [*(f"Quartier {a}" for a in table.index[:-1]), ""]
    named = dataclasses.replace(results, table=table)
    prov = report.provenance(named)
    for lang, heading in (("en", "local name"), ("zh", "区")):
        rows = report.district_rows(named, lang)
        assert list(rows["name_local"]) == ["Quartier B", "Quartier A", "Quartier C", ""]
        md = report.markdown_report(named, rows, prov, lang)
        assert f"| district | {heading} | target | value |" in md
        assert f"| district | {heading} | population |" in md
        assert "| District B | Quartier B | wireless_population ≥ 80% |" in md


# -- household size: required, stated with its source ---------------------------------------------

def test_missing_household_size_names_both_options(tmp_path):
    tiny = make_tiny(tmp_path / "t", households="")
    with pytest.raises(ScenarioError) as err:
        citycov.load_scenario(tiny.scenario)
    message = str(err.value)
    assert "household size is required" in message
    assert "[households].persons_per_household" in message and "[inputs.household_sizes]" in message
    assert "\n" not in message


def test_household_size_needs_a_source_and_only_one_way(tmp_path):
    tiny = make_tiny(tmp_path / "t", households="[households]\npersons_per_household = 2.2\n")
    with pytest.raises(ScenarioError, match=r"\[households\].source is required with persons_per_household"):
        citycov.load_scenario(tiny.scenario)
    (tiny.folder / "sizes.csv").write_text("adcode,pph\n1,2.1\n", encoding="utf-8")
    write_scenario(tiny.folder, extra='[inputs.household_sizes]\npath = "sizes.csv"\nid_column = "adcode"\n'
                                      'size_column = "pph"\n')
    with pytest.raises(ScenarioError, match=r"household size given twice: .*give one"):
        citycov.load_scenario(tiny.scenario)
    write_scenario(tiny.folder, households="", extra='[inputs.household_sizes]\npath = "sizes.csv"\n'
                                                     'id_column = "adcode"\nsize_column = "pph"\n')
    sc = citycov.load_scenario(tiny.scenario)
    assert sc.households.persons_per_household is None


def test_guangzhou_states_its_household_size_and_source():
    sc = citycov.load_scenario()
    assert sc.households.persons_per_household == 2.38
    assert "7th national census" in sc.households.source
    assert sc.inputs["districts"].options == {"id_column": "adcode", "name_column": "name_en",
                                              "local_name_column": "name"}


def test_household_size_and_source_in_every_report(neutral_run):
    _, out, _ = neutral_run
    md = (out / "report.md").read_text(encoding="utf-8")
    expected = f"2.5 persons per household in every district (source: {SIZE_SOURCE})"
    assert f"- Household size: {expected}." in md
    prov = json.loads((out / "districts.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["models"]["household_size"] == expected
    assert prov["parameters"]["households"] == {"persons_per_household": 2.5, "source": SIZE_SOURCE}
    assert expected in (out / "report.html").read_text(encoding="utf-8")
    # households = residents / 2.5 (A and B: 900 cells of 10 persons each)
    districts = read_csv(out / "districts.csv", dtype={"area_id": str}).set_index("area_id")
    assert districts.loc["A", "households"] == pytest.approx(9000 / 2.5)


# -- 6c: the zonal rule once ------------------------------------------------------------------------

def test_zonal_rule_is_printed_once(neutral_run):
    _, out, _ = neutral_run
    md = (out / "report.md").read_text(encoding="utf-8")
    assert len([line for line in md.splitlines() if line.lower().startswith("- zonal rule:")]) == 1
    rule = ZONAL_RULES["fraction"]
    assert md.count(rule) == 1
    assert (out / "report.html").read_text(encoding="utf-8").count(html.escape(rule)) == 1


# -- 6d: failing outlines on top; empty districts neutral --------------------------------------------

def test_failing_district_is_drawn_after_its_neighbours(neutral_run):
    """Leaflet draws later layers on top: in the wireless layer (the first district layer) B,
    first in the file, comes after A and C."""
    _, out, _ = neutral_run
    page = (out / "map.html").read_text(encoding="utf-8")
    first = {d: page.find(f'"district_id": "{d}"') for d in "ABC"}
    assert min(first.values()) > 0, first
    assert first["B"] > first["A"] and first["B"] > first["C"]


def test_no_residents_is_neutral_in_html(neutral_run):
    _, out, _ = neutral_run
    page = (out / "report.html").read_text(encoding="utf-8")
    row = re.search(r"<tr data-area='C' data-metric='wireless_population'>.*?</tr>", page).group(0)
    assert "<td class='none'>-</td>" in row
    assert "FAIL" not in row and "class='fail'" not in row
    failing = re.search(r"<tr data-area='B' data-metric='wireless_population'>.*?</tr>", page).group(0)
    assert "<td class='fail'>FAIL</td>" in failing
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| District C | wireless_population ≥ 80% | - | --- | no residents | - | 0 persons |" in md
    the_map = (out / "map.html").read_text(encoding="utf-8")
    popup = re.search(r"citycov-popup' data-area='C'[^\"]*", the_map).group(0)  # a JSON string: no '"' inside
    assert "class='none'\\u003e-\\u003c/td\\u003e" in popup
    assert "FAIL" not in popup and "class='fail'" not in popup
    zh = (neutral_run[2] / "report.html").read_text(encoding="utf-8")
    row = re.search(r"<tr data-area='C' data-metric='wireless_population'>.*?</tr>", zh).group(0)
    assert "<td class='none'>-</td>" in row and "未达标" not in row


def test_district_rows_are_unchanged_in_the_table(neutral_run):
    """The outputs label the city row; the accounting table keeps its own (English) name."""
    results, _, _ = neutral_run
    assert results.table.loc["city", "name"] == "City total"
    assert results.table.loc["city", "name_local"] == ""
    assert isinstance(results.table, pd.DataFrame)
