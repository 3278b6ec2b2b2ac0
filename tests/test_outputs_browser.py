"""map.html and report.html in a real browser: Debian's Chromium driven by Playwright, with every
network request blocked.  ``make test`` installs Chromium (scripts/install_system_deps.sh);
without it these tests skip and say why.  Screenshots are kept in ``test-artifacts/``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citycov.cli import cli
from citycov.outputs import i18n

from .test_outputs_maps import XSS_SITE, make_run

CHROMIUM = os.environ.get("CITYCOV_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(os.environ.get("CITYCOV_ARTIFACTS", Path(__file__).resolve().parent.parent / "test-artifacts"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium not installed (make test installs Debian's chromium via scripts/install_system_deps.sh; "
           "that needs root and apt-get)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = make_run(tmp_path_factory.mktemp("browser"))
    from click.testing import CliRunner

    res = CliRunner().invoke(cli, ["map", str(folder), "--lang", "zh", "-o", str(folder / "map_zh.html")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["report", str(folder), "--lang", "zh", "-o", str(folder / "zh" / "report.html")])
    assert res.exit_code == 0, res.output
    return folder


class Page:
    """A page with the network blocked, recording console errors, blocked requests and dialogs."""

    def __init__(self, browser, path: Path) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 800})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def wait_map(self) -> None:
        self.page.wait_for_function("window.citycovMap !== undefined && window.L !== undefined", timeout=15_000)
        self.page.wait_for_timeout(300)

    def close(self) -> None:
        self.page.close()


def _screenshot_variance(page, name: str) -> float:
    from io import BytesIO

    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(path=str(ARTIFACTS / name))
    pixels = np.asarray(Image.open(BytesIO(png)).convert("L"), dtype=float)
    return float(pixels.var())


@pytest.mark.parametrize(("name", "lang"), [("map.html", "en"), ("map_zh.html", "zh")])
def test_map_loads_offline_without_errors(browser, out, name, lang):
    p = Page(browser, out / name)
    try:
        p.wait_map()
        assert p.errors == []
        assert p.blocked == []  # nothing even tried to reach the network
        assert p.page.evaluate("window.citycovMap.map instanceof L.Map")
        assert p.page.locator(".leaflet-container").count() == 1
        labels = [t.strip() for t in p.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
        for key in ("layer_wireless", "layer_ftth", "layer_rsrp", "layer_covered", "layer_server", "layer_gaps",
                    "layer_sites", "layer_wlan", "layer_nodes"):
            assert any(label.startswith(i18n.text(key, lang)) for label in labels), (key, labels)
        legend = p.page.locator(".citycov-legend").inner_text()
        assert i18n.text("layer_wireless", lang) in legend
        assert i18n.text("legend", lang) in legend
        assert p.page.locator(".leaflet-control-scale").count() == 1
        assert p.page.locator(".citycov-fullscreen a").count() == 1
        assert p.page.locator(".citycov-measure a").count() == 1
        assert i18n.text("synthetic_banner", lang) in p.page.locator("#citycov-title").inner_text()
        variance = _screenshot_variance(p.page, f"map_{lang}.png")
        assert variance > 50.0, f"screenshot looks blank (grey-level variance {variance:.1f})"
    finally:
        p.close()


def test_toggling_a_layer_changes_the_map(browser, out):
    p = Page(browser, out / "map.html")
    try:
        p.wait_map()
        images_before = p.page.locator(".leaflet-image-layer").count()
        label = p.page.locator(".leaflet-control-layers-overlays label", has_text=i18n.text("layer_rsrp", "en"))
        label.locator("input").check()
        p.page.wait_for_timeout(200)
        assert p.page.locator(".leaflet-image-layer").count() == images_before + 1
        assert p.page.evaluate("window.citycovMap.map.hasLayer(window.citycovMap.layers.rsrp)")
        assert "dBm" in p.page.locator(".citycov-legend").inner_text()
        label.locator("input").uncheck()
        p.page.wait_for_timeout(200)
        assert p.page.locator(".leaflet-image-layer").count() == images_before
        assert p.errors == []
    finally:
        p.close()


def test_clicking_a_district_shows_its_percentage_from_districts_csv(browser, out):
    rows = pd.read_csv(out / "districts.csv", dtype={"area_id": str}).set_index("area_id")
    expected = f"{rows.loc['1', 'wireless_pct']:.2f}%"
    p = Page(browser, out / "map.html")
    try:
        p.wait_map()
        # hide the covered/not covered image so nothing sits between the cursor and the district
        point = p.page.evaluate("""() => {
            const m = window.citycovMap.map;
            const c = m.getCenter();
            const pt = m.latLngToContainerPoint([c.lat + 0.02, c.lng + 0.02]);
            const box = m.getContainer().getBoundingClientRect();
            return [box.left + pt.x, box.top + pt.y];
        }""")
        p.page.mouse.click(point[0], point[1])
        popup = p.page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        value = popup.locator("td.value[data-metric='wireless_population']").inner_text()
        assert value == expected
        assert "Sq ${alert(3)} `x`" in popup.inner_text()  # the hostile name shows as text
        assert p.dialogs == [] and p.errors == []
    finally:
        p.close()


def test_hostile_site_name_renders_as_text_and_opens_no_dialog(browser, out):
    p = Page(browser, out / "map.html")
    try:
        p.wait_map()
        text = p.page.evaluate("""() => {
            const lyr = window.citycovMap.layers.sites;
            const m = window.citycovMap.map;
            m.addLayer(lyr);
            let shown = [];
            lyr.getLayers().forEach(marker => {
                lyr.zoomToShowLayer(marker, () => {});
                marker.openPopup();
                const c = document.querySelector('.leaflet-popup-content');
                if (c) shown.push(c.innerText);
            });
            return shown.join('\\n');
        }""")
        p.page.wait_for_timeout(300)
        assert XSS_SITE in text
        assert p.page.locator(".leaflet-popup-content script").count() == 0
        assert p.page.locator(".leaflet-popup-content img").count() == 0
        assert p.dialogs == [] and p.errors == []
    finally:
        p.close()


@pytest.mark.parametrize(("path", "lang"), [("report.html", "en"), ("zh/report.html", "zh")])
def test_report_is_standalone_and_renders(browser, out, path, lang):
    p = Page(browser, out / path)
    try:
        p.page.wait_for_load_state("load")
        assert p.errors == [] and p.blocked == [] and p.dialogs == []
        assert p.page.locator("h2#targets-district").inner_text() == i18n.text("targets_by_district", lang)
        widths = p.page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        assert widths and all(w > 100 for w in widths)
        variance = _screenshot_variance(p.page, f"report_{lang}.png")
        assert variance > 50.0
    finally:
        p.close()


@pytest.fixture(scope="module")
def osm_map(out):
    from click.testing import CliRunner

    path = out / "map_osm.html"
    res = CliRunner().invoke(cli, ["map", str(out), "--basemap", "osm", "-o", str(path)])
    assert res.exit_code == 0, res.output
    return path


def test_online_basemap_requests_nothing_while_offline(browser, osm_map):
    context = browser.new_context(offline=True)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
    try:
        page.goto(osm_map.as_uri())
        page.wait_for_function("window.citycovMap !== undefined", timeout=15_000)
        page.wait_for_timeout(500)
        assert errors == [] and requests == []
        assert page.locator(".leaflet-overlay-pane path").count() > 0  # districts on the plain background
        assert page.evaluate("typeof citycovTiles === 'undefined'")
    finally:
        context.close()


def test_online_basemap_falls_back_when_tiles_fail(browser, osm_map):
    p = Page(browser, osm_map)
    try:
        p.wait_map()
        p.page.wait_for_function("!window.citycovMap.map.hasLayer(citycovTiles)", timeout=10_000)
        assert p.blocked and all(u.startswith("https://tile.openstreetmap.org/") for u in p.blocked)
        # the only console errors are the browser's own reports of the blocked tile requests
        assert all("Failed to load resource" in e for e in p.errors), p.errors
        assert p.page.locator(".leaflet-overlay-pane path").count() > 0
    finally:
        p.close()
