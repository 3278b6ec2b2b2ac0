"""folium rendering of finished results: districts by coverage, coverage overlay, sites.

Computes nothing new: it only reprojects finished rasters to lon/lat for display.
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import numpy as np
import pandas as pd
from branca.element import Element
from folium.plugins import FastMarkerCluster
from rasterio.warp import Resampling, calculate_default_transform, reproject

from citycov.crs import WGS84
from citycov.pipeline import CITY_ID, Results

PASS_COLOUR = "#1a9850"
FAIL_COLOUR = "#d73027"
MAX_OVERLAY_PX = 1400


def _overlay_rgba(results: Results) -> tuple[np.ndarray, list[list[float]]]:
    """Wireless coverage classes as an RGBA image in EPSG:4326 with its lat/lon bounds."""
    grid = results.grid
    classes = np.where(results.rasters["district_index"] < 0, 0,
                       np.where(results.rasters["wireless"], 2, 1)).astype(np.uint8)
    rows, cols = grid.shape
    scale = max(1.0, max(rows, cols) / MAX_OVERLAY_PX)
    transform, width, height = calculate_default_transform(
        grid.crs, WGS84, cols, rows, *grid.bounds, dst_width=int(cols / scale), dst_height=int(rows / scale))
    dst = np.zeros((height, width), dtype=np.uint8)
    reproject(classes, dst, src_transform=grid.transform, src_crs=grid.crs, dst_transform=transform,
              dst_crs=WGS84, resampling=Resampling.mode, src_nodata=0, dst_nodata=0)
    rgba = np.zeros((height, width, 4), dtype=np.uint8)
    rgba[dst == 1] = (215, 48, 39, 150)
    rgba[dst == 2] = (26, 152, 80, 110)
    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    return rgba, [[south, west], [north, east]]


def _district_layer(results: Results, rows: pd.DataFrame, metric: str, pct_col: str, name: str,
                    show: bool) -> folium.GeoJson:
    frame = results.districts.frame.to_crs(WGS84).copy()
    frame["geometry"] = frame.geometry.simplify(0.0005)
    by_id = rows.set_index("area_id")
    res = {r.area_id: r for r in results.target_results if r.target.metric == metric}
    frame["pct"] = [float(by_id.loc[i, pct_col]) for i in frame["district_id"]]
    frame["result"] = ["PASS" if res[i].passed else f"FAIL (gap {res[i].gap:,} {res[i].gap_unit})"
                       if i in res else "-" for i in frame["district_id"]]
    frame["population"] = [f"{int(by_id.loc[i, 'population']):,}" for i in frame["district_id"]]
    passed = {i: res[i].passed for i in res}
    return folium.GeoJson(
        frame[["district_id", "name", "name_zh", "pct", "result", "population", "geometry"]].to_json(),
        name=name, show=show,
        style_function=lambda f: {
            "fillColor": PASS_COLOUR if passed.get(f["properties"]["district_id"]) else FAIL_COLOUR,
            "color": "#333333", "weight": 1.2, "fillOpacity": 0.35},
        popup=folium.GeoJsonPopup(fields=["name", "name_zh", "population", "pct", "result"],
                                  aliases=["District", "区", "Population", f"{name} (%)", "Target"]),
        tooltip=folium.GeoJsonTooltip(fields=["name", "pct"], aliases=["", "%"]),
    )


def write_map(results: Results, rows: pd.DataFrame, path: str | Path) -> None:
    """Write ``map.html``: districts coloured by pass/fail, coverage overlay, sites, title block."""
    frame = results.districts.frame.to_crs(WGS84)
    minx, miny, maxx, maxy = frame.total_bounds
    fmap = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=9, tiles="OpenStreetMap",
                      control_scale=True)
    _district_layer(results, rows, "wireless_population", "wireless_pct", "Wireless coverage", True).add_to(fmap)
    _district_layer(results, rows, "ftth_households", "ftth_pct", "FTTH coverage", False).add_to(fmap)
    rgba, bounds = _overlay_rgba(results)
    folium.raster_layers.ImageOverlay(rgba, bounds=bounds, name="Wireless coverage raster (green covered, "
                                      "red not)", mercator_project=True, show=True).add_to(fmap)
    sites = results.sites_wgs84
    by_site = sites.groupby("site_id", sort=False)
    data = []
    for site_id, grp in by_site:
        lines = "<br>".join(
            html.escape(f"{r.sector_id} {r.operator} {r.technology} {r.freq_mhz:g} MHz "
                        f"az {'omni' if r.omni else f'{r.azimuth_deg:g}°'} tilt {r.downtilt_deg:g}° "
                        f"h {r.height_m:g} m EIRP {r.eirp_dbm:g} dBm")
            for r in grp.itertuples())
        g = grp.geometry.iloc[0]
        data.append([g.y, g.x, f"<b>{html.escape(str(site_id))}</b><br>{lines}"])
    FastMarkerCluster(data, name=f"Sites ({len(data):,})", show=False, callback=(
        "function (row) { var m = L.marker(new L.LatLng(row[0], row[1])); m.bindPopup(row[2]); return m; }"
    )).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    city = rows.set_index("area_id").loc[CITY_ID]
    banner = ""
    if results.synthetic_inputs:
        banner = (f"<div style='background:#b30000;color:white;padding:2px 6px;font-weight:bold'>SYNTHETIC DATA: "
                  f"{html.escape(', '.join(results.synthetic_inputs))}</div>")
    title = (
        "<div style='position:fixed;top:10px;left:60px;z-index:9999;background:white;padding:6px 10px;"
        "border:1px solid #888;font:13px sans-serif;max-width:460px'>"
        f"{banner}<b>{html.escape(results.scenario.name)}</b><br>"
        f"Run {html.escape(results.started_utc)} UTC · citycov {html.escape(results.software.get('citycov', ''))}"
        f"<br>Wireless broadband: {city['wireless_pct']:.1f}% of residents · FTTH: {city['ftth_pct']:.1f}% of "
        "households<br><span style='color:" + PASS_COLOUR + "'>■</span> meets target "
        "<span style='color:" + FAIL_COLOUR + "'>■</span> below target</div>"
    )
    fmap.get_root().html.add_child(Element(title))
    fmap.save(str(path))
