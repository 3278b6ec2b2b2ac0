"""map.html and report.html without a browser: offline assets, escaping, language, re-rendering
from a saved folder, atomic writes."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import citycov
from citycov.cli import cli
from citycov.errors import AssetError, InputFileError, ScenarioError
from citycov.outputs import i18n
from citycov.outputs.maps import render_map
from citycov.outputs.report_html import render_report
from citycov.outputs.saved import load_saved_run
from citycov.outputs.web_assets import inline_assets

from .conftest import UTM49, X0, Y0, make_tiny, sector_row

XSS_SITE = "<script>alert(1)</script>"
XSS_DISTRICT = "Sq ${alert(3)} `x` </script><script>alert(4)</script>"


def make_run(folder, *, lang: str = "en"):
    """The tiny scenario with hostile strings in a site id, an operator and the district names."""
    tiny = make_tiny(folder / "t", wlan=True, sectors=[
        sector_row(site_id=XSS_SITE, sector_id=XSS_SITE + "-1", operator="<img src=x onerror=alert(2)>",
                   x=X0 + 5000.0, y=Y0 + 5000.0)],
        extra=f'[report]\nlang = "{lang}"\n')
    square = shapely.box(X0, Y0, X0 + 10_000.0, Y0 + 10_000.0)
    gpd.GeoDataFrame({"adcode": ["1"], "name_en": [XSS_DISTRICT], "name": ["方形区<b>粗</b>"]}, geometry=[square],
                     crs=UTM49).to_file(tiny.folder / "districts.gpkg", driver="GPKG")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    out = folder / "out"
    citycov.write_outputs(res, out)
    return out


@pytest.fixture(scope="module")
def saved_out(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("maps"))


def test_outputs_include_map_report_figures_and_vectors(saved_out):
    for name in ("map.html", "report.html", "districts.geojson", "network.gpkg"):
        assert (saved_out / name).is_file(), name
    pngs = sorted(p.name for p in (saved_out / "figures").glob("*.png"))
    assert "target_wireless_population.png" in pngs and "target_ftth_households.png" in pngs
    assert all((saved_out / "figures" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.parametrize("name", ["map.html", "report.html"])
def test_html_has_no_external_references(saved_out, name):
    page = (saved_out / name).read_text(encoding="utf-8")
    loads = re.findall(r"""<(?:script|img|iframe)[^>]*\bsrc\s*=\s*["'](?!data:)([^"']+)["']""", page)
    loads += re.findall(r"""<link[^>]*\bhref\s*=\s*["']([^"']+)["']""", page)
    loads += re.findall(r"""url\(\s*["']?(https?:[^)"']+)""", page)
    assert loads == [], loads
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "code.jquery" not in page


def test_leaflet_and_markercluster_are_inlined(saved_out):
    page = (saved_out / "map.html").read_text(encoding="utf-8")
    assert "/* leaflet.js */" in page and "/* leaflet.markercluster.js */" in page
    assert "/* citycov_map.js */" in page and "/* leaflet.css */" in page


def test_hostile_strings_are_escaped_everywhere(saved_out):
    for name in ("map.html", "report.html"):
        page = (saved_out / name).read_text(encoding="utf-8")
        assert "<script>alert(" not in page, name
        assert "<img src=x" not in page, name
        assert "alert(4)</script>" not in page, name
    page = (saved_out / "map.html").read_text(encoding="utf-8")
    # the site id arrives as plain text in a JSON string (folium's tojson writes < and > as \u003c and
    # \u003e); the page turns it into a text node, never into HTML
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    # data reaches JavaScript only as JSON string arguments of bindPopup/bindTooltip, never in
    # folium's backtick template literals, where ${...} would run
    lines = [line.strip() for line in page.splitlines() if "alert(3)" in line]
    assert lines
    assert all(re.match(r'^\w+\.bind(Popup|Tooltip)\("', line) for line in lines), lines


def test_popup_carries_every_target_with_value_band_and_gap(saved_out):
    run = load_saved_run(saved_out)
    page = render_map(run, lang="en")
    t = run.targets[run.targets["area_id"] == "1"]
    for _, row in t.iterrows():
        assert f"{row['value_pct']:.2f}%" in page
    assert "Uncertainty band" in page and "Gap" in page


def test_language_switches_labels(saved_out):
    run = load_saved_run(saved_out)
    zh = render_map(run, lang="zh")
    en = render_map(run, lang="en")
    label_zh = i18n.text("layer_wireless", "zh")
    assert label_zh in zh and label_zh not in en
    assert i18n.text("layer_wireless", "en") in en
    assert 'lang="zh-CN"' in zh
    report_zh, _, _ = render_report(run, lang="zh")
    assert i18n.text("targets_by_district", "zh") in report_zh
    assert i18n.text("targets_by_district", "en") not in report_zh


def test_every_label_has_both_languages():
    for key, entry in i18n.LABELS.items():
        assert set(entry) == set(i18n.LANGS), key
        assert all(entry[lang].strip() for lang in i18n.LANGS), key


def test_unknown_language_is_an_error(saved_out):
    with pytest.raises(ScenarioError, match="language must be one of"):
        render_map(load_saved_run(saved_out), lang="fr")


def test_synthetic_banner_in_map_and_report(saved_out):
    assert "SYNTHETIC DATA" in (saved_out / "map.html").read_text(encoding="utf-8")
    assert "synthetic-banner" in (saved_out / "report.html").read_text(encoding="utf-8")


def test_report_tables_match_targets_csv(saved_out):
    page = (saved_out / "report.html").read_text(encoding="utf-8")
    targets = pd.read_csv(saved_out / "targets.csv", dtype={"area_id": str})
    for _, row in targets.iterrows():
        assert f"data-area='{row['area_id']}' data-metric='{row['metric']}'" in page
        assert f"{row['value_pct']:.2f}%" in page
    assert page.count("data:image/png;base64,") == targets["metric"].nunique()


def test_cli_rerenders_map_and_report_without_recomputing(saved_out, tmp_path):
    runner = CliRunner()
    target = tmp_path / "map_zh.html"
    res = runner.invoke(cli, ["map", str(saved_out), "--lang", "zh", "-o", str(target)])
    assert res.exit_code == 0, res.output
    assert i18n.text("layer_ftth", "zh") in target.read_text(encoding="utf-8")
    report = tmp_path / "r" / "report.html"
    report.parent.mkdir()
    res = runner.invoke(cli, ["report", str(saved_out), "--lang", "zh", "-o", str(report)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "figures" / "target_wireless_population.png").is_file()
    # the re-rendered English map equals the one the run wrote, but for random element ids
    again = tmp_path / "map_en.html"
    runner.invoke(cli, ["map", str(saved_out), "--lang", "en", "-o", str(again)])

    def norm(s: str) -> str:
        return re.sub(r"_[0-9a-f]{32}", "_ID", s)

    assert norm(again.read_text(encoding="utf-8")) == norm((saved_out / "map.html").read_text(encoding="utf-8"))


def test_cli_map_on_incomplete_folder_is_one_line_error(tmp_path):
    (tmp_path / "districts.csv").write_text("area_id\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["map", str(tmp_path)])
    assert res.exit_code == 1
    assert "missing" in res.output and "targets.csv" in res.output and "Traceback" not in res.output


def test_load_saved_run_lists_every_missing_file(tmp_path):
    with pytest.raises(InputFileError) as err:
        load_saved_run(tmp_path)
    for name in ("districts.csv", "targets.csv", "coverage.tif"):
        assert name in str(err.value)


def test_unknown_asset_is_an_error_not_a_web_reference():
    with pytest.raises(AssetError, match="no offline copy"):
        inline_assets('<script src="https://example.invalid/other.js"></script>')


def test_failed_render_leaves_previous_map_in_place(saved_out, tmp_path, monkeypatch):
    target = tmp_path / "map.html"
    target.write_text("previous", encoding="utf-8")
    run = load_saved_run(saved_out)

    def boom(*_a, **_k):
        raise RuntimeError("render failed")

    monkeypatch.setattr("citycov.outputs.maps.inline_assets", boom)
    from citycov.outputs.maps import write_map

    with pytest.raises(RuntimeError):
        write_map(run, target)
    assert target.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["map.html"]


@pytest.mark.parametrize("name", ["rsrp_dbm.tif", "serving_sector.tif", "coverage.tif"])
def test_rasters_are_cloud_optimised_geotiffs(saved_out, name):
    import rasterio

    with rasterio.open(saved_out / name) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.profile["tiled"] and src.crs is not None
        assert "SYNTHETIC_INPUTS" in src.tags()
