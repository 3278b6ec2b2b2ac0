"""Determinism and provenance: two runs of the same scenario give byte-identical tables and
GeoJSON and cell-for-cell identical rasters; with ``SOURCE_DATE_EPOCH`` or ``--reproducible``
every output file is byte-identical (map, report, figures, COGs, GeoPackages, run manifest)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio

import citycov
from citycov.errors import ScenarioError
from citycov.outputs.folder import MANIFEST
from citycov.outputs.maps import render_map
from citycov.outputs.report_html import render_report
from citycov.outputs.saved import load_saved_run

from .conftest import make_tiny
from .test_outputs_strings import make_hostile_tiny

EPOCH = 1_700_000_000
STAMP = "2023-11-14T22:13:20+00:00"


def hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones included), by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_twice(scenario: Path, base: Path, **kwargs) -> tuple[Path, Path]:
    """Run ``scenario`` twice (at least one second apart) into ``base/out0`` and ``base/out1``."""
    outs = []
    for i in range(2):
        if i:
            time.sleep(1.05)  # a clock read in seconds would differ
        res = citycov.run(citycov.load_scenario(scenario))
        outs.append(base / f"out{i}")
        citycov.write_outputs(res, outs[-1], **kwargs)
    return outs[0], outs[1]


def gpkg_dates(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {row[0] for row in con.execute("SELECT last_change FROM gpkg_contents")}


def test_source_date_epoch_makes_every_file_byte_identical(tmp_path, monkeypatch):
    """The tiny scenario with WLAN, fibre, a services preset, claims and calibration."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    tiny = make_hostile_tiny(tmp_path / "t")
    a, b = run_twice(tiny.scenario, tmp_path)
    ha, hb = hashes(a), hashes(b)
    assert {MANIFEST, "map.html", "report.html", "report.md", "districts.json", "network.gpkg", "gaps.gpkg",
            "calibration.json", "coverage.tif", "claims_summary.csv", "services.csv"} <= set(ha)
    assert any(n.startswith("figures/") and n.endswith(".png") for n in ha)
    assert ha == hb, sorted(n for n in ha if ha[n] != hb.get(n))
    prov = json.loads((a / "districts.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["run_started_utc"] == STAMP
    assert prov["reproducible"] == {"source_date_epoch": EPOCH}
    assert "timings_s" not in prov and "runtime_s" not in json.dumps(prov)
    assert prov["verification"]["calibration"]["provenance"]["created_utc"] == STAMP
    assert json.loads((a / "calibration.json").read_text(encoding="utf-8"))["provenance"]["created_utc"] == STAMP
    assert gpkg_dates(a / "network.gpkg") == gpkg_dates(a / "gaps.gpkg") == {"2023-11-14T22:13:20.000Z"}
    md = (a / "report.md").read_text(encoding="utf-8")
    assert f"Run started (UTC): {STAMP}" in md and "Step timings" not in md
    assert f"{STAMP} UTC" in (a / "map.html").read_text(encoding="utf-8")
    assert f"{STAMP} UTC" in (a / "report.html").read_text(encoding="utf-8")
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None  # only while writing
    for png in a.glob("figures/*.png"):
        assert b"Matplotlib" not in png.read_bytes()


def test_reproducible_without_epoch_records_no_time(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tiny = make_tiny(tmp_path / "t", wlan=True)
    a, b = run_twice(tiny.scenario, tmp_path, reproducible=True)
    assert hashes(a) == hashes(b)
    prov = json.loads((a / "districts.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["run_started_utc"] is None and prov["reproducible"] == {"source_date_epoch": None}
    assert "timings_s" not in prov
    assert gpkg_dates(a / "network.gpkg") == {"1970-01-01T00:00:00.000Z"}
    assert "Run started (UTC): not recorded (reproducible run)" in (a / "report.md").read_text(encoding="utf-8")
    for page in ("map.html", "report.html"):
        assert "Run: not recorded (reproducible run)" in (a / page).read_text(encoding="utf-8")


def test_without_reproducible_tables_and_rasters_are_identical(tmp_path, monkeypatch):
    """A normal run records its time and step timings; its tables, GeoJSON and rasters do not
    depend on them."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tiny = make_tiny(tmp_path / "t", wlan=True)
    a, b = run_twice(tiny.scenario, tmp_path)
    ha, hb = hashes(a), hashes(b)
    tables = [n for n in ha if n.endswith((".csv", ".geojson"))]
    assert len(tables) >= 7
    assert {n: ha[n] for n in tables} == {n: hb[n] for n in tables}
    rasters = [n for n in ha if n.endswith(".tif")]
    assert len(rasters) >= 3
    for name in rasters:
        with rasterio.open(a / name) as ra, rasterio.open(b / name) as rb:
            np.testing.assert_array_equal(ra.read(), rb.read())
            assert ra.tags() == rb.tags() and ra.descriptions == rb.descriptions
    starts = [json.loads((o / "districts.json").read_text(encoding="utf-8"))["provenance"] for o in (a, b)]
    assert all(p["run_started_utc"] and p["timings_s"] and p["reproducible"] is None for p in starts)
    assert starts[0]["run_started_utc"] != starts[1]["run_started_utc"]


def test_rendering_the_same_run_twice_gives_the_same_bytes(tmp_path, monkeypatch):
    """folium's element ids are random; map.html numbers them instead (and PNGs carry no date)."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    tiny = make_tiny(tmp_path / "t", wlan=True)
    out = tmp_path / "out"
    citycov.write_outputs(citycov.run(citycov.load_scenario(tiny.scenario)), out)
    run = load_saved_run(out)
    first = render_map(run, lang="en")
    assert render_map(run, lang="en") == first
    assert "map_c000001" in first
    report, figures, _ = render_report(run, lang="en")
    again, figures_again, _ = render_report(run, lang="en")
    assert again == report and [f.png for f in figures] == [f.png for f in figures_again]


def _cli(out: Path, scenario: Path, *args: str, seed: str, epoch: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONHASHSEED"] = seed
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = epoch
    return subprocess.run([sys.executable, "-m", "citycov", "-q", "run", str(scenario), "--out", str(out),
                           "--no-progress", *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_reproducible_runs_in_two_processes_are_byte_identical(tmp_path):
    """Two processes with different string-hash seeds (set and dict orders of strings differ)."""
    tiny = make_tiny(tmp_path / "t", wlan=True)
    for seed in ("1", "2"):
        proc = _cli(tmp_path / f"out{seed}", tiny.scenario, "--reproducible", seed=seed)
        assert proc.returncode == 0, proc.stderr
    assert hashes(tmp_path / "out1") == hashes(tmp_path / "out2")


def test_a_malformed_source_date_epoch_is_one_line_before_any_work(tmp_path, monkeypatch):
    # (a value that is no integer at all stops numpy.f2py at import, before citycov can say anything)
    tiny = make_tiny(tmp_path / "t")
    proc = _cli(tmp_path / "out", tiny.scenario, seed="0", epoch="-1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "citycov: error: SOURCE_DATE_EPOCH must be a non-negative integer (seconds since 1970-01-01 UTC), "
        "got '-1'"]
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    with pytest.raises(ScenarioError, match="SOURCE_DATE_EPOCH must be a non-negative integer"):
        citycov.write_outputs(res, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    paths = citycov.write_outputs(res, tmp_path / "out", reproducible=False)  # False: not read at all
    prov = json.loads(paths["districts.json"].read_text(encoding="utf-8"))["provenance"]
    assert prov["reproducible"] is None and prov["run_started_utc"] == res.started_utc
