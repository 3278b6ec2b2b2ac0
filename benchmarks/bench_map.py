"""Size of map.html/report.html and time until the map is interactive in headless Chromium.

Usage: ``python benchmarks/bench_map.py OUT_DIR [--runs 3] [--label KEY]`` on the output folder of a
``citycov run`` (for example the Guangzhou default).  Re-renders the map in both languages
from the saved folder (no recomputation), then opens each in Debian's Chromium with the
network blocked and measures, per run, the time from navigation start until
``window.citycovMap`` exists and Leaflet has drawn the district layer (``performance.now()``
inside the page, so Python overhead is excluded), plus the whole-file render time.  Writes
``benchmarks/results/map.json`` under ``KEY`` (default: the output folder's name).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from citycov.outputs.maps import write_map
from citycov.outputs.report_html import write_report
from citycov.outputs.saved import load_saved_run

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def interactive_ms(browser, path: Path) -> float:
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
               else r.abort())
    page.goto(path.as_uri(), wait_until="commit")
    page.wait_for_function("window.citycovMap !== undefined && document.querySelectorAll("
                           "'.leaflet-overlay-pane path').length > 0", timeout=60_000, polling=20)
    ms = page.evaluate("performance.now()")
    page.close()
    if errors:
        raise RuntimeError(f"{path}: page errors {errors}")
    return float(ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--label", default=None, help="key of the result in results/map.json (default: OUT_DIR's name)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium not installed (scripts/install_system_deps.sh)")
    saved = load_saved_run(args.out_dir)
    tmp = Path(tempfile.mkdtemp(prefix="citycov-bench-map-"))
    result: dict[str, object] = {"out_dir": args.out_dir.name, "grid": saved.provenance.get("grid"), "maps": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        for lang in ("en", "zh"):
            t0 = time.perf_counter()
            path = write_map(saved, tmp / f"map_{lang}.html", lang=lang)
            render_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            report = write_report(saved, tmp / f"report_{lang}.html", lang=lang)
            report_s = time.perf_counter() - t0
            times = [interactive_ms(browser, path) for _ in range(args.runs)]
            result["maps"][lang] = {
                "map_bytes": path.stat().st_size, "map_render_s": round(render_s, 2),
                "interactive_ms": [round(t) for t in times], "interactive_ms_median": round(statistics.median(times)),
                "report_bytes": report.stat().st_size, "report_render_s": round(report_s, 2),
            }
            print(f"{lang}: map.html {path.stat().st_size / 1e6:.2f} MB (render {render_s:.1f} s), interactive "
                  f"in {statistics.median(times):.0f} ms (runs {[round(t) for t in times]}); report.html "
                  f"{report.stat().st_size / 1e6:.2f} MB (render {report_s:.1f} s)")
        browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    out = Path(__file__).resolve().parent / "results" / "map.json"
    out.parent.mkdir(exist_ok=True)
    previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    previous[args.label or args.out_dir.name] = result
    out.write_text(json.dumps(previous, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
