"""Scenario files: the default loads; every problem is named with its key path."""

from __future__ import annotations

import pytest

from citycov import load_scenario
from citycov.config import DEFAULT_TARGETS, default_scenario_path
from citycov.errors import InputFileError, ScenarioError

from .conftest import write_scenario


def test_default_scenario_loads_with_the_seed_targets():
    sc = load_scenario()
    assert sc.source == default_scenario_path().resolve()
    assert sc.grid.cell_m == 30.0 and sc.grid.crs == "auto"
    assert {t.metric: t.threshold for t in sc.targets} == {"wireless_population": 0.8, "ftth_households": 0.5,
                                                           "urban_area_3g": 0.95, "village_broadband": 0.95}
    assert sc.accounting.zonal_rule == "fraction" and sc.accounting.rescale_to_census
    for spec in sc.inputs.values():
        assert spec.path.is_absolute() and spec.path.is_file()
    assert sc.inputs["population"].synthetic and sc.inputs["terrain"].synthetic
    assert not sc.inputs["districts"].synthetic


def test_relative_paths_resolve_against_the_scenario_file(tiny):
    sc = load_scenario(tiny.scenario)
    assert sc.inputs["population"].path == (tiny.folder / "population.tif").resolve()


def test_defaults_when_targets_are_omitted(tiny):
    assert load_scenario(tiny.scenario).targets == DEFAULT_TARGETS


def test_every_problem_is_listed(tmp_path):
    (tmp_path / "dummy").mkdir()
    path = write_scenario(tmp_path, radio='model = "magic"\nthreshold_dbm = { "4G" = 5, "6G" = -90 }',
                          extra='[wlan]\nthreshold_dbm = "low"\n',
                          targets='[[targets]]\nmetric = "happiness"\nthreshold = 1.5\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    for frag in ("[radio].model must be one of", "got 'magic'", "[radio].threshold_dbm.4G must be <= 0.0, got 5",
                 "unknown technology '6G'", "[wlan].threshold_dbm must be a number, got 'low'",
                 "[[targets]][0].metric must be one of", "[[targets]][0].threshold must be <= 1.0, got 1.5",
                 "[inputs.districts].path: file not found"):
        assert frag in msg, frag


def test_ftth_target_needs_fibre_input(tmp_path):
    path = write_scenario(tmp_path, fibre=False)
    with pytest.raises(ScenarioError, match="ftth_households target needs"):
        load_scenario(path)


def test_gcj02_is_not_an_analysis_crs(tmp_path):
    path = write_scenario(tmp_path)
    path.write_text(path.read_text().replace('crs = "EPSG:32649"\ncell_m', 'crs = "gcj02"\ncell_m'))
    with pytest.raises(ScenarioError, match=r"\[grid\].crs cannot be gcj02"):
        load_scenario(path)


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    with pytest.raises(InputFileError, match="scenario file not found"):
        load_scenario(tmp_path / "missing.toml")


VERIFY = """
[inputs.claims]
path = "claims.geojson"
[inputs.measurements]
path = "tests.csv"
[verification]
as_of = "2024-06-30"
"""


def test_a_verification_preset_typo_fails_in_load_scenario(tmp_path):
    path = write_scenario(tmp_path, extra=VERIFY + 'preset = "fcc-2O22"\n')
    with pytest.raises(ScenarioError, match=r"\[verification\]\.preset: unknown challenge preset 'fcc-2O22'; "
                                            r"shipped presets: \['fcc-2022'\]"):
        load_scenario(path)


def test_an_invalid_verification_preset_file_fails_in_load_scenario(tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\n', encoding="utf-8")
    path = write_scenario(tmp_path, extra=VERIFY + 'preset = "mine.toml"\nrule = "majority"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    for frag in (f"[verification].preset: {tmp_path / 'mine.toml'}: resolution is required", "version is required",
                 "[verification].rule must be one of ['table', 'binomial'], got 'majority'"):
        assert frag in msg, frag


def test_the_verification_preset_is_loaded_by_load_scenario(tmp_path):
    for name in ("claims.geojson", "tests.csv", "districts.gpkg", "population.tif", "dem.tif", "sectors.csv",
                 "fibre_nodes.csv"):
        (tmp_path / name).write_text("", encoding="utf-8")
    sc = load_scenario(write_scenario(tmp_path, extra=VERIFY))
    assert sc.verification.preset.name == "fcc-2022" and sc.verification.preset.min_children == 4
