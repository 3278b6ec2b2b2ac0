"""The CLI: exit codes, one-line errors without traceback, atomic outputs."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import citycov
from citycov.outputs import maps
from citycov.outputs import write as outputs

from .conftest import make_tiny, sector_row


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "citycov", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("citycov: error:")]
    assert len(lines) == 1, proc.stderr
    for frag in fragments:
        assert frag in lines[0]
    return lines[0]


def test_run_tiny_scenario_succeeds(tiny, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("-q", "run", str(tiny.scenario), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "wireless broadband" in proc.stdout and "report:" in proc.stdout and "map:" in proc.stdout
    for name in outputs.OUTPUT_FILES:
        assert (out / name).is_file()


def test_missing_scenario_file(tmp_path):
    proc = run_cli("run", str(tmp_path / "nope.toml"))
    assert_one_line_error(proc, "nope.toml", "not found")


def test_invalid_scenario_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[grid]\ncell_m = -5\ncolour = 1\n[radio]\nrx_height_m = "tall"\n', encoding="utf-8")
    line = assert_one_line_error(run_cli("run", str(bad)))
    for frag in ("[grid].cell_m must be > 0.0, got -5", "unknown keys ['colour']", "[radio].rx_height_m",
                 "[inputs.districts] is required", "[inputs.sectors] or [inputs.opencellid] is required"):
        assert frag in line


def test_bad_sector_table_names_lines_and_columns(tmp_path):
    rows = [sector_row(), sector_row(sector_id="S1-2", freq_mhz=-5.0, technology="6G"),
            sector_row(sector_id="S1-3", height_m="tall")]
    tiny = make_tiny(tmp_path / "t", sectors=rows)
    frame = pd.read_csv(tiny.sectors).drop(columns=["downtilt_deg"])
    frame.to_csv(tiny.sectors, index=False)
    line = assert_one_line_error(run_cli("run", str(tiny.scenario), "--out", str(tmp_path / "o")))
    assert "sectors.csv" in line
    assert "missing columns ['downtilt_deg']" in line
    assert "technology: expected one of ['3G', '4G', '5G'] at line 3 (found ['6G'])" in line
    assert "freq_mhz: outside 150.0..6000.0 MHz at line 3 (found [-5.0])" in line
    assert "height_m: not a number at line 4" in line
    assert not (tmp_path / "o").exists()


def test_failed_write_leaves_previous_outputs_untouched(tiny, tmp_path, monkeypatch):
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    out = tmp_path / "out"
    outputs.write_outputs(res, out)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("disk full while rendering the map")

    monkeypatch.setattr(maps, "write_map", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        outputs.write_outputs(res, out)
    after = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".out-staging-*"))
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="disk full"):
        outputs.write_outputs(res, fresh)
    assert not fresh.exists() or not any(fresh.iterdir())


def test_version_and_help():
    proc = run_cli("--version")
    assert proc.returncode == 0 and citycov.__version__ in proc.stdout
    proc = run_cli("run", "--help")
    assert proc.returncode == 0 and "Example" in proc.stdout
