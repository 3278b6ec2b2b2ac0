"""A FIFO, a device or a folder given where a file is expected is refused at scenario load, on
one line naming the key, the path and what it is, before anything opens it (a FIFO blocks its
reader until a writer comes; /dev/zero never ends).  These tests call load_scenario in-process:
were the check missing, they would hang rather than pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from citycov import load_scenario
from citycov.errors import InputFileError, ScenarioError
from citycov.filekind import path_problem

from .conftest import make_tiny

ZERO = Path("/dev/zero")
FIFO = "is a FIFO; expected a regular file"
CHAR = "is a character device; expected a regular file"

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not ZERO.exists(),
                                reason="needs POSIX FIFOs and /dev/zero")


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def repoint(scenario: Path, old: str, new: str | Path) -> None:
    """Point the scenario's ``path = "<old>"`` line at ``new``."""
    text = scenario.read_text(encoding="utf-8")
    assert f'path = "{old}"' in text
    scenario.write_text(text.replace(f'path = "{old}"', f'path = "{new}"'), encoding="utf-8")


def load_error(scenario: Path, error=ScenarioError) -> str:
    with pytest.raises(error) as info:
        load_scenario(scenario)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_path_problem_names_what_the_path_is(tmp_path):
    (tmp_path / "f.toml").write_text("", encoding="utf-8")
    (tmp_path / "d").mkdir()
    fifo(tmp_path / "p")
    (tmp_path / "to_p").symlink_to(tmp_path / "p")
    (tmp_path / "to_f").symlink_to(tmp_path / "f.toml")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert path_problem(tmp_path / "f.toml") is None
    assert path_problem(tmp_path / "to_f") is None
    assert path_problem(tmp_path / "d", folder=True) is None
    assert path_problem(tmp_path / "p") == FIFO
    assert path_problem(tmp_path / "to_p") == FIFO  # links are followed
    assert path_problem(ZERO) == CHAR
    assert path_problem(tmp_path / "d") == "is a folder; expected a file"
    assert path_problem(tmp_path / "f.toml", folder=True) == "is a regular file; expected a folder"
    assert path_problem(tmp_path / "p", folder=True) == "is a FIFO; expected a folder"
    assert path_problem(tmp_path / "gone") == "does not exist"
    assert path_problem(tmp_path / "f.toml" / "x") == "does not exist"
    assert path_problem(tmp_path / "dangling") == (f"does not exist (a symbolic link to {tmp_path / 'gone'}, "
                                                   "which is missing)")


def test_a_fifo_input_is_refused_at_load(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    pipe = fifo(tiny.folder / "population.fifo")
    repoint(tiny.scenario, "population.tif", "population.fifo")
    message = load_error(tiny.scenario)
    assert message == f"{tiny.scenario.resolve()}: [inputs.population].path: {pipe.resolve()} {FIFO}"


def test_a_character_device_input_is_refused_at_load(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    repoint(tiny.scenario, "sectors.csv", ZERO)
    assert load_error(tiny.scenario).endswith(f": [inputs.sectors].path: /dev/zero {CHAR}")


def test_links_are_followed_and_a_fifo_a_folder_or_a_dangling_link_is_refused(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    d = tiny.folder
    fifo(d / "pipe")
    (d / "dem.tif").rename(d / "dem_real.tif")
    (d / "dem.tif").symlink_to(d / "pipe")  # a link to a FIFO
    (d / "fibre_nodes.csv").rename(d / "nodes_real.csv")
    (d / "fibre_nodes.csv").mkdir()  # a folder
    (d / "districts.gpkg").rename(d / "districts_real.gpkg")
    (d / "districts.gpkg").symlink_to(d / "nowhere.gpkg")  # a dangling link
    message = load_error(tiny.scenario)
    folder = tiny.scenario.resolve().parent  # paths are joined to the scenario's folder
    for part in (f"[inputs.terrain].path: {folder / 'dem.tif'} {FIFO}",
                 f"[inputs.fibre_nodes].path: {folder / 'fibre_nodes.csv'} is a folder; expected a file",
                 f"[inputs.districts].path: {folder / 'districts.gpkg'} does not exist "
                 f"(a symbolic link to {d / 'nowhere.gpkg'}, which is missing)"):
        assert part in message, part
    # links to regular files are followed and accepted
    for name, real in (("dem.tif", "dem_real.tif"), ("districts.gpkg", "districts_real.gpkg")):
        (d / name).unlink()
        (d / name).symlink_to(d / real)
    (d / "fibre_nodes.csv").rmdir()
    (d / "fibre_nodes.csv").symlink_to(d / "nodes_real.csv")
    assert load_scenario(tiny.scenario).inputs["terrain"].path == (d / "dem_real.tif").resolve()


def test_the_antenna_pattern_folder_must_be_a_folder(tmp_path):
    tiny = make_tiny(tmp_path / "t", extra='[inputs.antenna_patterns]\npath = "patterns"\n')
    fifo(tiny.folder / "patterns")
    folder = tiny.scenario.resolve().parent
    assert load_error(tiny.scenario).endswith(
        f"[inputs.antenna_patterns].path: {folder / 'patterns'} is a FIFO; expected a folder")
    repoint(tiny.scenario, "patterns", "sectors.csv")
    assert load_error(tiny.scenario).endswith(
        f"[inputs.antenna_patterns].path: {folder / 'sectors.csv'} is a regular file; expected a folder")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_the_scenario_itself_is_refused(tmp_path, kind):
    path = fifo(tmp_path / "scenario.toml") if kind == "fifo" else ZERO
    what = FIFO if kind == "fifo" else CHAR
    assert load_error(path, InputFileError) == f"scenario {path} {what}"


def test_a_folder_as_the_scenario_is_refused(tmp_path):
    assert load_error(tmp_path, InputFileError) == f"scenario {tmp_path} is a folder; expected a file"


def test_preset_paths_of_services_and_verification_are_refused(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    pipe = fifo(tiny.folder / "mine.toml")
    for name in ("claims.geojson", "tests.csv"):
        (tiny.folder / name).write_text("", encoding="utf-8")
    text = tiny.scenario.read_text(encoding="utf-8")
    tiny.scenario.write_text(text + '[services]\npresets = ["mine.toml"]\n'
                             '[inputs.claims]\npath = "claims.geojson"\n[inputs.measurements]\npath = "tests.csv"\n'
                             '[verification]\nas_of = "2024-06-30"\npreset = "/dev/zero"\n', encoding="utf-8")
    message = load_error(tiny.scenario)
    assert f"[services].presets: preset {pipe} {FIFO}" in message
    assert f"[verification].preset: challenge preset /dev/zero {CHAR}" in message


def cli_error(scenario: Path, out: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "citycov", "run", str(scenario), "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("citycov: error:")]
    assert len(lines) == 1, proc.stderr
    assert not out.exists()
    return lines[0]


def test_the_cli_refuses_a_fifo_input_and_a_device_scenario_on_one_line(tmp_path):
    # unchecked, the census reader (pandas.read_csv) waits for a writer that never comes
    tiny = make_tiny(tmp_path / "t", extra='[inputs.census]\npath = "census.csv"\nid_column = "adcode"\n'
                                          'population_column = "population"\n')
    pipe = fifo(tiny.folder / "census.csv")
    line = cli_error(tiny.scenario, tmp_path / "out")
    assert line.endswith(f"[inputs.census].path: {pipe.resolve()} {FIFO}")
    assert cli_error(ZERO, tmp_path / "out") == f"citycov: error: scenario /dev/zero {CHAR}"
