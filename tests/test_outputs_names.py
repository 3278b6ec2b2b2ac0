"""Output names built from input (preset names, chart keys) never name a path outside the output
folder: the one helper (:mod:`citycov.outputs.names`), preset names refused at load, and a run
whose broadcast presets are called ``../../evil`` and a 300-byte name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio

import citycov
from citycov.errors import OutputNameError, ScenarioError
from citycov.outputs.folder import MANIFEST
from citycov.outputs.names import FILE_NAME_BYTES, NAME_MAX_BYTES, SAFE_CHARS, file_names, name_hash, safe_file_stem
from citycov.outputs.report_html import write_report
from citycov.outputs.saved import load_saved_run, read_broadcast_files
from citycov.presets.challenge import load_challenge_preset
from citycov.presets.files import shipped_folder, shipped_names
from citycov.presets.radio import load_preset

from .test_pipeline_services import broadcast_scenario

HOSTILE = ["../x", "../../evil", "/etc/passwd", "a\x00b", "a/../../b", "C:\\Windows\\win.ini", "\\\\server\\share",
           ".", "..", "...", "", " ", ".hidden", "-rf", "x.", "line\nbreak", "tab\there", "\x7f\x01", "a:b*c?d",
           "广州 dtv", "x" * 300, "é" * 300, "广" * 300, "\ud800lone surrogate"]


def assert_one_safe_name(name: str, folder: Path) -> None:
    """``name`` is one portable file name that stays inside ``folder``."""
    assert name and set(name) <= SAFE_CHARS
    assert name not in (".", "..") and not name.startswith(".")
    assert len(name.encode("utf-8")) <= NAME_MAX_BYTES
    assert Path(name).name == name
    assert (folder / name).resolve().parent == folder.resolve()


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_every_hostile_name_gives_one_safe_name(text, tmp_path):
    stem = safe_file_stem(text)
    assert_one_safe_name(stem, tmp_path)
    assert len(stem) <= FILE_NAME_BYTES
    for prefix, suffix in (("broadcast_", ".tif"), ("target_", ".png")):
        stem = safe_file_stem(text, prefix=prefix, suffix=suffix)
        assert_one_safe_name(f"{prefix}{stem}{suffix}", tmp_path)
        assert len(f"{prefix}{stem}{suffix}") <= FILE_NAME_BYTES
        assert not stem.startswith((".", "-"))


@pytest.mark.parametrize(("text", "stem"), [
    ("../x", "_._x"), ("../../evil", "_._.._evil"), ("/etc/passwd", "_etc_passwd"), ("a\x00b", "a_b"),
    (".", "_"), ("..", "__"), ("", "_"), (".hidden", "_hidden"), ("-rf", "_rf"), ("x.", "x_"),
    ("C:\\Windows", "C__Windows"), ("广州 dtv", "___dtv"), ("NUL", "_NUL"), ("con.txt", "_con.txt"),
])
def test_the_mapping(text, stem):
    assert safe_file_stem(text) == stem


def test_windows_device_names_are_fine_behind_a_prefix():
    assert safe_file_stem("NUL", prefix="broadcast_") == "NUL"


@pytest.mark.parametrize("name", [*shipped_names("radio"), *shipped_names("challenge"), "wireless_population",
                                  "ftth_households", "urban_area_3g", "village_broadband", "Mixed.Case-1_2"])
def test_clean_names_map_to_themselves(name):
    assert safe_file_stem(name, prefix="broadcast_", suffix=".tif") == name
    assert file_names([name], prefix="target_", suffix=".png") == {name: f"target_{name}.png"}


@pytest.mark.parametrize("text", ["x" * 300, "é" * 300, "广" * 300, "x" * 250 + "广" * 20],
                         ids=["ascii", "utf8-2-byte", "utf8-3-byte", "mixed"])
def test_long_names_are_cut_with_the_hash_of_the_original(text):
    assert len(text.encode("utf-8")) >= 300
    stem = safe_file_stem(text, prefix="broadcast_", suffix=".tif")
    name = f"broadcast_{stem}.tif"
    assert len(name.encode("utf-8")) == FILE_NAME_BYTES
    assert stem.endswith("-" + name_hash(text))
    assert safe_file_stem(text, prefix="broadcast_", suffix=".tif") == stem  # deterministic
    assert len(safe_file_stem(text, max_bytes=NAME_MAX_BYTES)) == NAME_MAX_BYTES


def test_two_long_names_differing_only_at_the_end_stay_different():
    a, b = "x" * 299 + "a", "x" * 299 + "b"
    assert safe_file_stem(a) != safe_file_stem(b)
    names = file_names([a, b], prefix="broadcast_", suffix=".tif")
    assert len(set(names.values())) == 2


@pytest.mark.parametrize("pair", [("a/b", "a_b"), ("a\x00b", "a b"), ("..", "__"), ("Dtv", "dtv"),
                                  ("广州" * 50, "北京" * 50), ("", " ")])
def test_collisions_get_the_hash_of_each_original(pair):
    names = file_names([*pair, "other"], prefix="broadcast_", suffix=".tif")
    assert names["other"] == "broadcast_other.tif"
    first, second = (names[n] for n in pair)
    assert first.casefold() != second.casefold()
    for original in pair:
        assert names[original].endswith(f"-{name_hash(original)}.tif")


def test_no_collision_keeps_the_plain_names():
    assert file_names(["../../evil", "dtv"], prefix="broadcast_", suffix=".tif") == {
        "../../evil": "broadcast__._.._evil.tif", "dtv": "broadcast_dtv.tif"}


def test_a_collision_crafted_against_the_hash_is_an_error_naming_both():
    crafted = f"a_b-{name_hash('a/b')}"
    with pytest.raises(OutputNameError) as info:
        file_names(["a/b", "a_b", crafted], prefix="broadcast_", suffix=".tif")
    assert "'a/b'" in str(info.value) and repr(crafted) in str(info.value)


def test_bad_prefix_suffix_and_type_are_refused():
    with pytest.raises(ValueError, match=r"prefix '\.\./'"):
        safe_file_stem("x", prefix="../")
    with pytest.raises(ValueError, match=r"suffix '/\.tif'"):
        file_names(["x"], suffix="/.tif")
    with pytest.raises(ValueError, match="no room"):
        safe_file_stem("x", prefix="p" * 250)
    with pytest.raises(TypeError):
        safe_file_stem(b"x")  # type: ignore[arg-type]


# Preset names from a user's preset file: refused at load unless they are already safe names.

def _radio_preset(tmp_path: Path, name_line: str) -> Path:
    text = (shipped_folder("radio") / "trunking-800.toml").read_text(encoding="utf-8")
    path = tmp_path / "mine.toml"
    path.write_text(text.replace('name = "trunking-800"', name_line), encoding="utf-8")
    return path


@pytest.mark.parametrize("name_line", ['name = "../../evil"', 'name = "/etc/passwd"', 'name = "a\\u0000b"',
                                       'name = "ok\\n"', 'name = "a\\\\b"', 'name = "."', 'name = "x\\u001b"'])
def test_radio_preset_names_with_separators_or_control_characters_are_refused(tmp_path, name_line):
    path = _radio_preset(tmp_path, name_line)
    with pytest.raises(ScenarioError, match=r"mine\.toml: name must be lower-case letters, digits, '-' and '_'"):
        load_preset(path)


def test_challenge_preset_names_are_refused_the_same_way(tmp_path):
    text = (shipped_folder("challenge") / "fcc-2022.toml").read_text(encoding="utf-8")
    for line in ('name = "../../evil"', 'name = "a\\u0000b"', 'name = "ok\\n"'):
        path = tmp_path / "mine.toml"
        path.write_text(text.replace('name = "fcc-2022"', line), encoding="utf-8")
        with pytest.raises(ScenarioError, match=r"name must be lower-case letters, digits, '\.', '-' and '_'"):
            load_challenge_preset(path)


# End to end: rasters, districts.json and figures of a run with hostile names.

def _files(root: Path) -> set[Path]:
    return {Path(d, f).resolve() for d, _dirs, files in os.walk(root) for f in files}


def test_a_run_with_hostile_names_writes_only_inside_its_output_folder(tmp_path):
    """A user's trunking preset with a 300-byte name goes through load, run and write; a second
    broadcast raster named ``../../evil`` (the API takes any name) is written beside it; then the
    report is re-rendered from the saved folder whose targets.csv names ``../../evil`` and a
    300-byte metric.  Every file written lies inside the output folder, none outside."""
    long_name = "t" * 300
    folder = tmp_path / "in"
    folder.mkdir()
    preset = _radio_preset(folder, f'name = "{long_name}"')
    tiny = broadcast_scenario(folder, f'["{preset.name}"]', erp_w=100.0)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert list(res.broadcast_rasters) == [long_name]
    grid, values, unit = res.broadcast_rasters[long_name]
    res.broadcast_rasters["../../evil"] = (grid, values - 1.0, unit)
    res.broadcast_rasters["/abs/evil"] = (grid, values - 2.0, unit)

    out = tmp_path / "deep" / "er" / "out"
    out.parent.mkdir(parents=True)  # --out's parent must exist (checked before the run)
    before = _files(tmp_path)
    paths = citycov.write_outputs(res, out)
    written = _files(tmp_path) - before
    assert written and all(p.is_relative_to(out.resolve()) for p in written), sorted(
        str(p) for p in written if not p.is_relative_to(out.resolve()))
    assert not any("evil" in p.name for p in _files(tmp_path) - _files(out))
    for p in _files(out):
        if p.name != MANIFEST:  # the run manifest is hidden on purpose (citycov.outputs.folder)
            assert_one_safe_name(p.name, p.parent)

    found = read_broadcast_files(out)
    assert set(found) == {long_name, "../../evil", "/abs/evil"}
    assert found["../../evil"].name == "broadcast__._.._evil.tif"
    assert found["/abs/evil"].name == "broadcast__abs_evil.tif"
    assert found[long_name].name.endswith(f"-{name_hash(long_name)}.tif")
    for name, path in found.items():
        assert path.parent == out and path.name in {p.name for p in paths.values()}
        with rasterio.open(path) as src:
            assert src.tags()["preset"] == name
            np.testing.assert_array_equal(src.read(1), res.broadcast_rasters[name][1])
    doc = json.loads((out / "districts.json").read_text(encoding="utf-8"))
    assert doc["provenance"]["services"]["rasters"] == {n: p.name for n, p in found.items()}
    assert load_saved_run(out).broadcast_files() == found

    run = load_saved_run(out)
    metrics = list(dict.fromkeys(run.targets["metric"]))
    hostile = {metrics[0]: "../../evil", metrics[1]: "m" * 300}
    run.targets["metric"] = run.targets["metric"].map(lambda m: hostile.get(m, m))
    before = _files(tmp_path)
    write_report(run, out / "report.html", figures_dir=out / "figures")
    written = _files(tmp_path) - before
    figures = (out / "figures").resolve()
    assert written and all(p.parent == figures for p in written)
    names = {p.name for p in figures.iterdir()}
    assert "target__._.._evil.png" in names
    assert any(n.startswith("target_mmm") and n.endswith(f"-{name_hash('m' * 300)}.png") for n in names)
    for n in names:
        assert_one_safe_name(n, figures)


def test_a_nul_in_a_broadcast_name_is_refused_before_it_is_lost_in_a_tag(tmp_path):
    from citycov.outputs.report import write_rasters

    tiny = broadcast_scenario(tmp_path / "in", '["trunking-800"]', erp_w=100.0)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    res.broadcast_rasters = {"a\x00b": res.broadcast_rasters["trunking-800"]}
    (tmp_path / "out").mkdir()
    with pytest.raises(OutputNameError, match=r"'a\\x00b' contains NUL"):
        write_rasters(res, tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())
