"""JavaScript and CSS for offline HTML: Leaflet and MarkerCluster from the installed
``xstatic`` packages, citycov's own controls from ``citycov/outputs/static``.

:func:`inline_assets` swaps every ``<script src>`` and stylesheet ``<link>`` that folium
writes for the installed file's contents, so ``map.html`` opens from ``file://`` with the
network off.  A reference it cannot resolve is an error, never left pointing at the web.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from importlib import resources
from pathlib import Path

import xstatic.pkg.leaflet as xs_leaflet
import xstatic.pkg.leaflet_markercluster as xs_cluster

from citycov.errors import AssetError

_TAG = re.compile(r"<script[^>]*\bsrc=\"(?P<js>[^\"]+)\"[^>]*>\s*</script>|"
                  r"<link[^>]*\bhref=\"(?P<css>[^\"]+\.css)\"[^>]*/?>", re.IGNORECASE)


def _read(path: Path) -> str:
    if not path.is_file():
        raise AssetError(f"asset {path} is missing; reinstall citycov's dependencies (pip install -e .)")
    return path.read_text(encoding="utf-8")


def _css_with_data_images(css: str, folder: Path) -> str:
    """Replace ``url(images/x.png)`` in ``css`` by data URIs of the files in ``folder``."""

    def repl(match: re.Match[str]) -> str:
        rel = match.group(1).strip("'\"")
        if rel.startswith(("data:", "#")):  # inline data, or an old-IE behaviour reference
            return match.group(0)
        path = folder / rel
        if not path.is_file():
            raise AssetError(f"asset {path} referenced by a stylesheet is missing")
        mime = "image/svg+xml" if path.suffix == ".svg" else f"image/{path.suffix.lstrip('.')}"
        return f"url(data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"

    return re.sub(r"url\(([^)]+)\)", repl, css)


@cache
def asset_table() -> dict[str, tuple[str, str]]:
    """File name → (kind, contents) of every asset the map may load."""
    leaflet = Path(xs_leaflet.BASE_DIR)
    cluster = Path(xs_cluster.BASE_DIR)
    static = Path(str(resources.files("citycov.outputs") / "static"))
    return {
        "leaflet.js": ("js", _read(leaflet / "leaflet.js")),
        "leaflet.css": ("css", _css_with_data_images(_read(leaflet / "leaflet.css"), leaflet)),
        "leaflet.markercluster.js": ("js", _read(cluster / "leaflet.markercluster.js")),
        "MarkerCluster.css": ("css", _read(cluster / "MarkerCluster.css")),
        "MarkerCluster.Default.css": ("css", _read(cluster / "MarkerCluster.Default.css")),
        "citycov_map.js": ("js", _read(static / "citycov_map.js")),
        "citycov_map.css": ("css", _read(static / "citycov_map.css")),
    }


def asset_versions() -> dict[str, str]:
    """Versions of the inlined libraries, for the provenance block."""
    return {"leaflet": xs_leaflet.VERSION, "leaflet.markercluster": xs_cluster.VERSION}


def inline_assets(html: str) -> str:
    """Inline every external script and stylesheet of ``html``.

    Raises
    ------
    AssetError
        When a referenced asset is not one of :func:`asset_table` (the message names it).
    """
    table = asset_table()
    unknown: list[str] = []

    def repl(match: re.Match[str]) -> str:
        url = match.group("js") or match.group("css")
        name = url.rsplit("/", 1)[-1].split("?", 1)[0]
        if name not in table:
            unknown.append(url)
            return match.group(0)
        kind, text = table[name]
        safe = text.replace("</script", "<\\/script") if kind == "js" else text.replace("</style", "<\\/style")
        return f"<script>/* {name} */\n{safe}\n</script>" if kind == "js" else f"<style>/* {name} */\n{safe}\n</style>"

    out = _TAG.sub(repl, html)
    if unknown:
        raise AssetError("map assets with no offline copy: " + ", ".join(unknown))
    return out
