"""The New York example through ``citycov init`` and ``citycov check`` (branch wt-cli).

Skipped, visibly, until ``citycov.preflight`` (the module behind both commands) is on main.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from .conftest import REPO

pytest.importorskip("citycov.preflight", reason="citycov init/check are not merged yet (wt-cli)")

DATA = REPO / "data"
SCENARIO = DATA / "newyork.toml"
NAMES = ("Manhattan", "Bronx", "Brooklyn", "Queens", "Staten Island")
TILES = ("N40W074.hgt.zip", "N40W075.hgt.zip")
def test_init_writes_a_scenario_from_the_example_files(tmp_path):
    """``citycov init`` on the downloaded-style files finds what data/newyork.toml declares by hand."""
    out = tmp_path / "nyc.toml"
    proc = subprocess.run(
        [sys.executable, "-m", "citycov", "init", "--districts", str(DATA / "boundaries" / "nybb_16a.zip"),
         "--population", str(DATA / "population" / "newyork_population_synthetic_3s.tif"),
         *(a for t in TILES for a in ("--terrain", str(DATA / "terrain" / t))),
         "--sites", str(DATA / "sites" / "newyork_opencellid_synthetic.csv"), "--name", "New York City",
         "--household-size", "2.55", "--household-source", "assumption (see data/newyork.toml)",
         "--out", str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    doc = tomllib.loads(out.read_text(encoding="utf-8"))
    inputs = doc["inputs"]
    assert inputs["districts"]["id_column"] == "BoroCode"
    assert inputs["districts"]["name_column"] == "BoroName"
    assert inputs["districts"].get("crs") in (None, "EPSG:2263")  # the Shapefile's .prj states it
    assert inputs["population"].get("units", "count") == "count"
    assert "opencellid" in inputs and "sectors" not in inputs
    terrain = inputs["terrain"]["path"]
    assert sorted(Path(p).name for p in (terrain if isinstance(terrain, list) else [terrain])) == sorted(TILES)


def test_check_accepts_the_example_scenario():
    proc = subprocess.run([sys.executable, "-m", "citycov", "check", str(SCENARIO), "--cell-m", "250"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    for name in NAMES:
        assert name in proc.stdout
