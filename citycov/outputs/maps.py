"""``map.html``: a folium map of a finished run, offline, in English or Chinese.

Renders a :class:`~citycov.outputs.saved.SavedRun` (what ``citycov run`` wrote), so ``citycov map OUT``
re-renders without recomputing.  Layers, each in the layer control and each with a legend:
districts by wireless and by FTTH coverage (outline = pass/fail, popup = every target with
its band and gap), raster overlays (signal classes, covered/not covered, best server, speed
tier when present) as PNG images at display resolution, ranked gap polygons, clustered sites,
WLAN access points, fibre routes and access nodes, and, for a run of ``citycov plan``, the
planned sites and cabinets (:mod:`citycov.outputs.plan`).  A title block names the scenario, the run
and the data, with a banner when any input is synthetic.  All JavaScript and CSS is inlined
(:mod:`citycov.outputs.web_assets`); the optional OpenStreetMap basemap is the only network use.

Every string that comes from input data is HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.plugins import FastMarkerCluster
from folium.template import Template
from pyproj import Transformer
from rasterio.warp import Resampling, calculate_default_transform, reproject

from citycov.choices import BASEMAPS
from citycov.crs import WGS84
from citycov.errors import ScenarioError
from citycov.outputs.atomic import write_text_atomic
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
from citycov.outputs.plan import PROVENANCE_KEY as PLAN_KEY
from citycov.outputs.plan import cabinet_popups, load_saved_plan, site_popups
from citycov.outputs.saved import Raster, SavedRun
from citycov.outputs.web_assets import asset_versions, inline_assets
from citycov.stored import row_strips

PASS_COLOUR = "#1a9850"
FAIL_COLOUR = "#d73027"
NONE_COLOUR = "#999999"
"""Outline of a district whose share is undefined (no residents, no households): neither passes nor fails."""
NO_TARGET_COLOUR = "#333333"
"""Outline of a district with no target of the layer's metric."""
OUTCOME_COLOURS = {"pass": PASS_COLOUR, "fail": FAIL_COLOUR, "none": NONE_COLOUR}
MAX_OVERLAY_PX = 1600
MAX_GAPS = 300
PCT_BINS = (0.0, 50.0, 80.0, 90.0, 95.0, 100.0001)
PCT_COLOURS = ("#fee5d9", "#fcae91", "#c6dbef", "#6baed6", "#2171b5")
LEVEL_CLASSES = ((-85.0, "#1a9850"), (-95.0, "#91cf60"), (-105.0, "#d9ef8b"), (-115.0, "#fdae61"),
                 (-1e9, "#d73027"))
SERVER_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                  "#bcbd22", "#17becf", "#393b79", "#637939")
SPEED_COLOURS = ("#d73027", "#fdae61", "#a6d96a", "#1a9850", "#006837", "#00441b")
WEB_MERCATOR = "EPSG:3857"
OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "&copy; OpenStreetMap contributors"


def _e(value: object) -> str:
    """HTML-escape any value from input data."""
    return html.escape(str(value), quote=True)


def _hex_rgba(colour: str, alpha: int) -> tuple[int, int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), alpha


def _overlay(raster: Raster, colours: dict[int, tuple[int, int, int, int]],
             classify) -> tuple[np.ndarray, list[list[float]]]:
    """``raster`` as an RGBA image in Web Mercator at display resolution.

    ``classify`` maps a strip of the raster's bands (bands, rows, cols) to small integer classes
    (rows, cols; 0 = transparent) before resampling (nearest neighbour), so no class is invented
    by interpolation; the raster is read strip by strip (:func:`citycov.stored.row_strips`).
    """
    classes = np.zeros(raster.shape[1:], dtype=np.uint8)
    for r0, r1 in row_strips(raster.shape):
        classes[r0:r1] = classify(raster.rows(r0, r1))
    rows, cols = classes.shape
    left, bottom, right, top = raster.bounds
    transform, width, height = calculate_default_transform(raster.crs, WEB_MERCATOR, cols, rows, left, bottom,
                                                           right, top)
    scale = max(1.0, max(width, height) / MAX_OVERLAY_PX)
    transform, width, height = calculate_default_transform(
        raster.crs, WEB_MERCATOR, cols, rows, left, bottom, right, top,
        dst_width=max(1, int(width / scale)), dst_height=max(1, int(height / scale)))
    dst = np.zeros((height, width), dtype=np.uint8)
    reproject(classes, dst, src_transform=raster.transform, src_crs=raster.crs, dst_transform=transform,
              dst_crs=WEB_MERCATOR, resampling=Resampling.nearest, src_nodata=0, dst_nodata=0)
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    for value, colour in colours.items():
        rgba[dst == value] = colour
    to_ll = Transformer.from_crs(WEB_MERCATOR, WGS84, always_xy=True)
    west, north = to_ll.transform(transform.c, transform.f)
    east, south = to_ll.transform(transform.c + width * transform.a, transform.f + height * transform.e)
    return rgba, [[south, west], [north, east]]


def _legend_rows(rows: list[tuple[str, str]], title: str, *, outline: bool = False) -> str:
    items = "".join(
        f"<div><i style='{'border:3px solid ' + c + ';background:none' if outline else 'background:' + c}'></i>"
        f"{_e(label)}</div>" for c, label in rows)
    return f"<div class='t'>{_e(title)}</div>{items}"


def _pct_colour(value: float) -> str:
    if not np.isfinite(value):
        return "#cccccc"
    for lo, hi, colour in zip(PCT_BINS[:-1], PCT_BINS[1:], PCT_COLOURS, strict=True):
        if lo <= value < hi:
            return colour
    return PCT_COLOURS[-1]


def _pct_legend(title: str, lang: str) -> str:
    rows = [(c, f"{lo:g}-{min(hi, 100):g}%") for lo, hi, c in zip(PCT_BINS[:-1], PCT_BINS[1:], PCT_COLOURS,
                                                                    strict=True)]
    rows += [(PASS_COLOUR, text("meets_target", lang)), (FAIL_COLOUR, text("below_target", lang)),
             (NONE_COLOUR, text("undefined_share", lang))]
    body = _legend_rows(rows[:5], title)
    return body + "".join(f"<div><i style='border:3px solid {c};background:none'></i>{_e(label)}</div>"
                          for c, label in rows[5:])


def _district_popup(run: SavedRun, area_id: str, name: str, lang: str) -> str:
    """Every target of one district: value, band, verdict, result and gap (all escaped)."""
    row = run.districts.set_index("area_id").loc[area_id]
    head = (f"<b>{_e(name)}</b><br>{_e(text('population', lang))}: {float(row['population']):,.0f}"
            f" · {_e(text('households', lang))}: {float(row['households']):,.0f}")
    rows = []
    for _, t in run.targets[run.targets["area_id"] == area_id].iterrows():
        result = outcome(t["passed"], t["verdict"])
        verdict_text = verdict_label(t["verdict"], lang)
        band = (f"{pct_label(t['band_low_pct'])}–{pct_label(t['band_high_pct'])}"
                if not pd.isna(t["band_low_pct"]) else "-")
        rows.append(
            f"<tr><td>{_e(metric_label(t['metric'], lang))} ≥ {float(t['threshold_pct']):g}%</td>"
            f"<td class='value' data-metric='{_e(t['metric'])}'>{_e(pct_label(t['value_pct']))}</td>"
            f"<td>{_e(band)}</td><td>{_e(verdict_text)}</td>"
            f"<td class='{result}'>{_e(outcome_label(result, lang))}</td>"
            f"<td>{float(t['gap']):,.0f} {_e(unit_label(str(t['gap_unit']), lang))}</td></tr>")
    header = "".join(f"<th>{_e(text(k, lang))}</th>" for k in ("target", "value", "band", "verdict", "result", "gap"))
    return (f"<div class='citycov-popup' data-area='{_e(area_id)}'>{head}<table><tr>{header}</tr>{''.join(rows)}"
            "</table></div>")


_JS_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _js(value: object) -> str:
    """``value`` as a JavaScript string literal (JSON) that is safe inside ``<script>``: ``<``,
    ``>`` and ``&`` as ``\\u`` escapes (so neither ``</script>`` nor ``<!--`` can end or confuse
    the script), and every non-ASCII character escaped, U+2028/U+2029 included."""
    return json.dumps(str(value), ensure_ascii=True).translate(_JS_ESCAPES)


def _bind(layer: folium.Element, bindings: list[str], *, popup: str | None = None, tooltip: str | None = None) -> None:
    """Queue popup/tooltip bindings (HTML already escaped) for the map's closing script.

    folium's own Popup and Tooltip put the text in JavaScript template literals (and need
    jQuery); these bindings pass JSON strings, so ``${...}`` or backticks in data stay text.
    """
    if popup is not None:
        bindings.append(f"{layer.get_name()}.bindPopup({_js(popup)}, {{maxWidth: 560}});")
    if tooltip is not None:
        bindings.append(f"{layer.get_name()}.bindTooltip({_js(tooltip)}, {{sticky: true}});")


def _district_layer(run: SavedRun, fmap: folium.Map, *, metric: str, pct_col: str, title: str, lang: str,
                    show: bool, bindings: list[str]) -> folium.FeatureGroup:
    """One polygon per district, filled by ``pct_col``, outlined by the target's outcome.

    Failing districts are added last, so that their red outline is drawn on top of the shared
    borders of passing (green) or neutral neighbours (Leaflet draws later layers above)."""
    group = folium.FeatureGroup(name=title, show=show)
    targets = run.targets[run.targets["metric"] == metric].set_index("area_id")
    by_id = run.districts.set_index("area_id")
    frame = run.boundaries.copy()
    frame["geometry"] = frame.geometry.simplify(0.0003, preserve_topology=True)
    drawn = []
    for _, d in frame.iterrows():
        did = str(d["district_id"])
        if did not in by_id.index:
            continue
        result = outcome(targets.loc[did, "passed"], targets.loc[did, "verdict"]) if did in targets.index else None
        drawn.append((result == "fail", did, d.geometry, result))
    drawn.sort(key=lambda item: item[0])  # stable: file order, failing districts last
    for _, did, geometry, result in drawn:
        pct = float(by_id.loc[did, pct_col])
        name = area_name(did, by_id, lang)
        outline = NO_TARGET_COLOUR if result is None else OUTCOME_COLOURS[result]
        style = {"fillColor": _pct_colour(pct), "color": outline, "weight": 3, "fillOpacity": 0.55}
        gj = folium.GeoJson({"type": "Feature", "properties": {"district_id": did},
                             "geometry": _geo(geometry)},
                            style_function=lambda _f, s=style: s,
                            highlight_function=lambda _f: {"weight": 5, "fillOpacity": 0.7})
        _bind(gj, bindings, popup=_district_popup(run, did, name, lang), tooltip=f"{_e(name)}: {pct:.2f}%")
        gj.add_to(group)
    group.add_to(fmap)
    return group


def _site_popups(sectors: pd.DataFrame, lang: str) -> list[list[object]]:
    """[lat, lon, title, body] per site: plain text, one sector per body line (the page builds
    the popup from text nodes, so nothing here is ever parsed as HTML)."""
    rows = []
    for site_id, grp in sectors.groupby("site_id", sort=False):
        lines = []
        for r in grp.itertuples():
            az = "omni" if pd.isna(getattr(r, "azimuth_deg", np.nan)) else f"{r.azimuth_deg:g}°"
            lines.append(f"{r.sector_id} {r.operator} {r.technology} {r.freq_mhz:g} MHz az {az} "
                         f"tilt {getattr(r, 'downtilt_deg', 0):g}° h {r.height_m:g} m EIRP {r.eirp_dbm:g} dBm")
        g = grp.geometry.iloc[0]
        rows.append([round(g.y, 6), round(g.x, 6), f"{text('site', lang)} {site_id}", "\n".join(lines)])
    return rows


_CIRCLE_CALLBACK = ("function callback(row) {{ var m = L.circleMarker(new L.LatLng(row[0], row[1]), "
                    "{{radius: 5, color: '{colour}', weight: 1, fillOpacity: 0.8}}); "
                    "m.bindPopup(function () {{ return citycovTextPopup(row[2], row[3]); }}); return m; }}")


def _geo(geom) -> dict:
    """GeoJSON of ``geom`` with coordinates on a 1e-5° grid (about 1 m), to keep the page small."""
    return shapely.set_precision(geom, 1e-5).__geo_interface__


def _points(rows: list[list[object]], name: str, colour: str, hidden: list[str]) -> FastMarkerCluster:
    """Clustered circle markers; hidden at first (FastMarkerCluster always adds itself to the map,
    so the closing script removes the layers listed in ``hidden``)."""
    cluster = FastMarkerCluster(rows, name=name, callback=_CIRCLE_CALLBACK.format(colour=colour),
                                options={"maxClusterRadius": 50})  # no chunkedLoading: hiding a layer mid-load fails
    hidden.append(cluster.get_name())
    return cluster


def _title_block(run: SavedRun, lang: str) -> str:
    prov = run.provenance
    city = run.city
    banner = ""
    if run.synthetic_inputs:
        banner = (f"<div class='citycov-banner'>{_e(text('synthetic_banner', lang))}: "
                  f"{_e(', '.join(run.synthetic_inputs))}</div>")
    vintages = sorted({str(i.get("vintage") or "") for i in prov.get("inputs", []) if i.get("vintage")})
    software = prov.get("software", {})
    libs = asset_versions()
    return (
        f"<div class='citycov-title' id='citycov-title'>{banner}<h1>{_e(run.scenario_name)}</h1>"
        f"{_e(text('run', lang))}: {_e(run_time(prov.get('run_started_utc'), lang))} · "
        f"{_e(text('software', lang))}: citycov {_e(software.get('citycov', ''))} "
        f"(Leaflet {_e(libs['leaflet'])})<br>"
        f"{_e(text('layer_wireless', lang))}: <b>{float(city['wireless_pct']):.2f}%</b> · "
        f"{_e(text('layer_ftth', lang))}: <b>{float(city['ftth_pct']):.2f}%</b><br>"
        f"<small>{_e(text('data', lang))}: {_e('; '.join(vintages))}</small></div>")


class _Script(MacroElement):
    """Raw JavaScript emitted in the map's script section, in child order."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "CitycovScript"
        self.code = code


Legends = list[tuple[str, object, str]]
"""(key, layer, legend HTML) per layer that has a legend, in layer order."""


def _base_map(run: SavedRun, basemap: str) -> folium.Map:
    """An empty map fitted to the districts, with the Leaflet assets inlined later."""
    bounds = run.boundaries.total_bounds
    fmap = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=9,
                      tiles=None, control_scale=True, prefer_canvas=False)
    fmap.options.update({"maxZoom": 18, "minZoom": 3})  # folium sets these only with a tile layer
    fmap.default_js = [("leaflet", "leaflet.js")]
    fmap.default_css = [("leaflet_css", "leaflet.css")]
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    if basemap not in BASEMAPS:
        raise ScenarioError(f"basemap must be one of {list(BASEMAPS)}, got {basemap!r}")
    return fmap


def _image_layer(rgba: np.ndarray, box: list[list[float]], title: str,
                 fmap: folium.Map) -> folium.raster_layers.ImageOverlay:
    """A hidden, pixelated image overlay on ``fmap``."""
    layer = folium.raster_layers.ImageOverlay(rgba, bounds=box, name=title, show=False, pixelated=True)
    layer.add_to(fmap)
    return layer


def _raster_layers(run: SavedRun, fmap: folium.Map, lang: str, legends: Legends) -> None:
    """Signal classes (best over technologies), covered / not covered, best server, speed tier."""
    floor = LEVEL_CLASSES
    level_colours = {i + 1: _hex_rgba(c, 170) for i, (_, c) in enumerate(floor)}

    def level_classes(levels: np.ndarray) -> np.ndarray:
        best = np.nanmax(np.where(np.isfinite(levels), levels, -np.inf), axis=0)
        out = np.zeros(best.shape, dtype=np.uint8)
        for i, (lo, _) in enumerate(reversed(floor)):
            out[best >= lo] = len(floor) - i
        out[~np.isfinite(best)] = 0
        return out

    rgba, box = _overlay(run.level, level_colours, level_classes)
    title = text("layer_rsrp", lang)
    layer = _image_layer(rgba, box, title, fmap)
    rows = [(c, f"≥ {lo:g} dBm" if lo > -1e8 else f"{text('below_floor', lang)} {floor[-2][0]:g} dBm")
            for lo, c in floor]
    legends.append(("rsrp", layer, _legend_rows(rows, title)))

    cov_colours = {1: _hex_rgba(FAIL_COLOUR, 150), 2: _hex_rgba(PASS_COLOUR, 110)}
    rgba, box = _overlay(run.coverage, cov_colours, lambda b: np.where(b[0] == 255, 0, np.where(b[0] == 1, 2, 1)))
    title = text("layer_covered", lang)
    layer = _image_layer(rgba, box, title, fmap)
    legends.append(("covered", layer, _legend_rows([(PASS_COLOUR, text("covered", lang)),
                                                    (FAIL_COLOUR, text("not_covered", lang))], title)))

    band = next((i for i, d in enumerate(run.serving.descriptions) if d.startswith("4G")), 0)
    server_colours = {i + 1: _hex_rgba(c, 150) for i, c in enumerate(SERVER_PALETTE)}
    rgba, box = _overlay(run.serving, server_colours,
                         lambda b: np.where(b[band] < 0, 0, (b[band] % len(SERVER_PALETTE)) + 1))
    title = text("layer_server", lang)
    layer = _image_layer(rgba, box, title, fmap)
    legends.append(("server", layer, _legend_rows([(c, "") for c in SERVER_PALETTE[:6]], title)
                    + f"<div>{_e(text('serving_sectors', lang))}</div>"))

    if run.speed is not None:
        tiers = [n for n in run.speed_tags.get("tiers", "").split(";") if n]
        speed_colours = {i + 1: _hex_rgba(c, 160) for i, c in enumerate(SPEED_COLOURS[:len(tiers) + 1])}

        def tier_classes(bands: np.ndarray) -> np.ndarray:
            best = bands.max(axis=0).astype(np.int16)  # best tier over the technologies
            return np.where(best < 0, 0, np.minimum(best, len(tiers)) + 1)

        rgba, box = _overlay(run.speed, speed_colours, tier_classes)
        title = text("layer_speed", lang)
        layer = _image_layer(rgba, box, title, fmap)
        names = [text("no_tier", lang)] + [f"≥ {n}" for n in tiers]
        legends.append(("speed", layer, _legend_rows(list(zip(SPEED_COLOURS, names, strict=False)), title)))


def _gap_layer(run: SavedRun, fmap: folium.Map, lang: str, legends: Legends, bindings: list[str]) -> None:
    """The :data:`MAX_GAPS` largest gap polygons, when the run has any."""
    if run.gaps is None or not len(run.gaps):
        return
    gaps = run.gaps.sort_values("rank").head(MAX_GAPS).copy()
    gaps["geometry"] = gaps.geometry.simplify(0.0003, preserve_topology=True)
    title = f"{text('layer_gaps', lang)} ({text('top_of', lang, n=len(gaps), total=len(run.gaps))})"
    group = folium.FeatureGroup(name=title, show=False)
    for g in gaps.itertuples():
        tip = (f"#{int(g.rank)} · {_e(g.district_name)} · {_e(text('population', lang))} {g.population:,.0f}"
               f" · {_e(text('area_km2', lang))} {g.area_km2:.2f} · {_e(text('nearest_site_km', lang))} "
               f"{g.nearest_site_m / 1000:.1f}")
        gj = folium.GeoJson(_geo(g.geometry), style_function=lambda _f: {
            "color": "#7b3294", "weight": 1, "fillColor": "#c2a5cf", "fillOpacity": 0.6})
        _bind(gj, bindings, popup=f"<div class='citycov-popup'>{tip}</div>", tooltip=tip)
        gj.add_to(group)
    group.add_to(fmap)
    legends.append(("gaps", group, _legend_rows([("#c2a5cf", text("layer_gaps", lang))], title)))


def _claims_layer(run: SavedRun, fmap: folium.Map, lang: str, legends: Legends, bindings: list[str]) -> None:
    """H3 hexagons of the claims check (tested or claimed but not modelled), when the run has any."""
    if run.claims_hexes is None or not len(run.claims_hexes):
        return
    h = run.claims_hexes
    show = h[(h["verdict"] != "untested") | (h["claimed_not_modelled_cells"] > 0)].copy()
    colour = {"challenged": "#b2182b", "tested, not challenged": "#1a9850"}
    show["fill"] = [colour.get(v, "#fdae61") for v in show["verdict"]]
    verdict_key = {"challenged": "hex_challenged", "tested, not challenged": "hex_tested"}
    show["tip"] = [f"{_e(o)} {_e(t)} · {_e(text(verdict_key.get(v, 'hex_not_modelled'), lang))} · "
                   f"{0 if pd.isna(n) else int(n)} tests"
                   for o, t, v, n in zip(show["operator"], show["technology"], show["verdict"], show["n_tests"],
                                         strict=True)]
    title = text("layer_claims", lang)
    show["geometry"] = show.geometry.set_precision(1e-5)
    layer = folium.GeoJson(json.loads(show[["fill", "tip", "geometry"]].to_json(drop_id=True)), name=title,
                           show=False,
                           style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#555555",
                                                     "weight": 0.5, "fillOpacity": 0.6})
    layer.add_to(fmap)
    bindings.append(f"{layer.get_name()}.eachLayer(function (l) {{ l.bindTooltip(l.feature.properties.tip); }});")
    legends.append(("claims", layer, _legend_rows([("#b2182b", text("hex_challenged", lang)),
                                                   ("#1a9850", text("hex_tested", lang)),
                                                   ("#fdae61", text("hex_not_modelled", lang))], title)))


def _network_layers(run: SavedRun, fmap: folium.Map, lang: str, legends: Legends, hidden: list[str]) -> None:
    """Sites, WLAN access points, fibre routes and access nodes: those the run wrote."""
    net = run.network
    if "sectors" in net:
        rows_ = _site_popups(net["sectors"], lang)
        title = f"{text('layer_sites', lang)} ({len(rows_):,})"
        layer = _points(rows_, title, "#08519c", hidden)
        layer.add_to(fmap)
        legends.append(("sites", layer, _legend_rows([("#08519c", title)], text("layer_sites", lang))))
    if "wlan" in net:
        aps = net["wlan"]
        rows_ = [[round(p.y, 6), round(p.x, 6), str(a), str(o)]
                 for p, a, o in zip(aps.geometry, aps["ap_id"], aps.get("operator", [""] * len(aps)), strict=True)]
        title = f"{text('layer_wlan', lang)} ({len(rows_):,})"
        layer = _points(rows_, title, "#6a51a3", hidden)
        layer.add_to(fmap)
        legends.append(("wlan", layer, _legend_rows([("#6a51a3", title)], text("layer_wlan", lang))))
    if "fibre_routes" in net:
        routes = net["fibre_routes"].geometry.simplify(0.0002).set_precision(1e-5)
        title = f"{text('layer_routes', lang)} ({len(routes):,})"
        layer = folium.GeoJson(json.loads(routes.to_json(drop_id=True)), name=title, show=False, interactive=False,
                               style_function=lambda _f: {"color": "#e6550d", "weight": 1.5, "opacity": 0.8})
        layer.add_to(fmap)
        legends.append(("routes", layer, _legend_rows([("#e6550d", title)], text("layer_routes", lang))))
    if "fibre_nodes" in net:
        nodes = net["fibre_nodes"]
        kinds = nodes["kind"] if "kind" in nodes else [""] * len(nodes)
        ports = nodes["ports"] if "ports" in nodes else [""] * len(nodes)
        rows_ = [[round(p.y, 6), round(p.x, 6), str(n), f"{text('kind', lang)}: {k} · {text('ports', lang)}: {pt}"]
                 for p, n, k, pt in zip(nodes.geometry, nodes["node_id"], kinds, ports, strict=True)]
        title = f"{text('layer_nodes', lang)} ({len(rows_):,})"
        layer = _points(rows_, title, "#a63603", hidden)
        layer.add_to(fmap)
        legends.append(("nodes", layer, _legend_rows([("#a63603", title)], text("layer_nodes", lang))))


PLAN_SITE_COLOUR = "#e7298a"
PLAN_CABINET_COLOUR = "#d95f02"
_PLAN_CALLBACK = ("function callback(row) {{ var m = L.circleMarker(new L.LatLng(row[0], row[1]), "
                  "{{radius: 7, color: '#222222', weight: 2, fillColor: '{colour}', fillOpacity: 0.95}}); "
                  "m.bindPopup(function () {{ return citycovTextPopup(row[2], row[3]); }}); return m; }}")


def _plan_layers(run: SavedRun, fmap: folium.Map, lang: str, legends: Legends) -> None:
    """The planned sites and cabinets of ``citycov plan`` (shown at first), when the run has a plan;
    popups as text (rank, id, district, newly covered, the district's coverage after it, cost)."""
    saved = load_saved_plan(run.folder, run.provenance.get(PLAN_KEY))
    if saved is None:
        return
    names = run.districts.set_index("area_id")
    for key, label, colour, rows_ in (
            ("plan_sites", "layer_plan_sites", PLAN_SITE_COLOUR, site_popups(saved, names, lang)),
            ("plan_cabinets", "layer_plan_cabinets", PLAN_CABINET_COLOUR, cabinet_popups(saved, names, lang))):
        title = f"{text(label, lang)} ({len(rows_):,})"
        layer = FastMarkerCluster(rows_, name=title, callback=_PLAN_CALLBACK.format(colour=colour),
                                  options={"maxClusterRadius": 30})
        layer.add_to(fmap)
        legends.append((key, layer, _legend_rows([(colour, title)], text(label, lang))))


def _closing_script(fmap: folium.Map, control: folium.LayerControl, *, basemap: str, lang: str, legends: Legends,
                    bindings: list[str], hidden: list[str]) -> str:
    """The JavaScript run after every layer exists: popups, hidden layers, the optional basemap,
    the legend, fullscreen and measure controls, and ``window.citycovMap``."""
    entries = ",".join(f"{{key: {_js(key)}, layer: {layer.get_name()}, html: {_js(body)}}}"
                       for key, layer, body in legends)
    map_var = fmap.get_name()
    if basemap == "osm":
        # Built here rather than as a folium TileLayer so that nothing is requested while the
        # browser is offline; after repeated tile errors the layer is removed, leaving the plain
        # background with the district outlines.
        bindings.append(
            f"if (navigator.onLine) {{ var citycovTiles = L.tileLayer({_js(OSM_URL)}, {{maxZoom: 19, "
            f"attribution: {_js(OSM_ATTRIBUTION)}}}).addTo({fmap.get_name()}); var citycovTileErrors = 0; "
            f"citycovTiles.on('tileerror', function () {{ if (++citycovTileErrors === 4) "
            f"{{ {fmap.get_name()}.removeLayer(citycovTiles); }} }}); "
            f"{control.get_name()}.addOverlay(citycovTiles, {_js(text('layer_basemap', lang))}); "
            f"citycovTiles.bringToBack(); }}")
    return "\n".join(bindings + [f"{map_var}.removeLayer({name});" for name in hidden]) + "\n" + (
        f"new L.Control.CitycovLegend([{entries}], {{title: {_js(text('legend', lang))}}}).addTo({map_var});\n"
        f"new L.Control.CitycovFullscreen({{title: {_js(text('fullscreen', lang))}}}).addTo({map_var});\n"
        f"new L.Control.CitycovMeasure({{title: {_js(text('measure', lang))}, "
        f"hint: {_js(text('measure_hint', lang))}}}).addTo({map_var});\n"
        f"window.citycovMap = {{map: {map_var}, lang: {_js(lang)}, layers: {{"
        + ",".join(f"{_js(key)}: {layer.get_name()}" for key, layer, _ in legends) + "}};\n")


_HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _element_ids(element: Element) -> Iterator[str]:
    yield element._id
    for child in element._children.values():
        yield from _element_ids(child)


def _numbered_ids(root: Element, page: str) -> str:
    """``page`` with the random element ids of folium/branca (128-bit hex from ``os.urandom``,
    in variable names such as ``map_3f2a…``) replaced by ``c000001``, ``c000002``, … in order of
    first appearance, so that the same run renders to the same bytes.  Only the ids of the
    elements of ``root``'s tree are replaced; nothing is patched."""
    ids = set(_element_ids(root))
    numbers: dict[str, str] = {}

    def repl(match: re.Match[str]) -> str:
        found = match.group(0)
        if found not in ids:
            return found
        return numbers.setdefault(found, f"c{len(numbers) + 1:06d}")

    return _HEX_ID.sub(repl, page)


def render_map(run: SavedRun, *, lang: str | None = None, basemap: str | None = None) -> str:
    """The complete, self-contained ``map.html`` text of ``run``."""
    lang = check_lang(lang or run.default_lang)
    basemap = basemap or run.default_basemap
    fmap = _base_map(run, basemap)
    legends: Legends = []
    bindings: list[str] = []
    hidden: list[str] = []

    outline = folium.GeoJson(_geo(run.boundaries.geometry.union_all().simplify(0.0003)),
                             name=text("layer_outline", lang), style_function=lambda _f: {
                                 "color": "#222222", "weight": 2, "fill": False}, interactive=False)
    outline.add_to(fmap)

    title = text("layer_wireless", lang)
    layer = _district_layer(run, fmap, metric="wireless_population", pct_col="wireless_pct", title=title,
                            lang=lang, show=True, bindings=bindings)
    legends.append(("wireless", layer, _pct_legend(title, lang)))
    title = text("layer_ftth", lang)
    layer = _district_layer(run, fmap, metric="ftth_households", pct_col="ftth_pct", title=title, lang=lang,
                            show=False, bindings=bindings)
    legends.append(("ftth", layer, _pct_legend(title, lang)))
    _raster_layers(run, fmap, lang, legends)
    _gap_layer(run, fmap, lang, legends, bindings)
    _claims_layer(run, fmap, lang, legends, bindings)
    _network_layers(run, fmap, lang, legends, hidden)
    _plan_layers(run, fmap, lang, legends)

    control = folium.LayerControl(collapsed=False, position="topright")
    control.add_to(fmap)
    root = fmap.get_root()
    root.header.add_child(Element('<link rel="stylesheet" href="citycov_map.css"/>'), name="citycov_css")
    # In the body, so that it runs after the Leaflet scripts that folium puts in the head.
    root.html.add_child(Element('<script src="citycov_map.js"></script>'), name="citycov_js")
    root.html.add_child(Element(_title_block(run, lang)))
    script = _closing_script(fmap, control, basemap=basemap, lang=lang, legends=legends, bindings=bindings,
                             hidden=hidden)
    _Script(script).add_to(fmap)  # a child of the map, rendered after every layer it names
    html_text = _numbered_ids(root, root.render())
    html_text = html_text.replace("<html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', 1)
    return inline_assets(html_text)


def write_map(run: SavedRun, path: str | Path, *, lang: str | None = None, basemap: str | None = None) -> Path:
    """Render ``run`` to ``path`` (atomically) and return the path."""
    path = Path(path)
    write_text_atomic(path, render_map(run, lang=lang, basemap=basemap))
    return path
