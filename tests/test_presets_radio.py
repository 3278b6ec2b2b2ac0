"""Radio presets: the shipped files load, say what their sources say, and bad files are refused
with every problem listed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path

import pytest

from citycov.engine.linkbudget import FCC_BDC_TIERS
from citycov.errors import InputFileError, ScenarioError
from citycov.presets.radio import RadioPreset, list_presets, load_preset

SHIPPED = ["dtv-dtmb-uhf", "fcc-bdc-4g-5-1", "fcc-bdc-5g-35-3", "fcc-bdc-5g-7-1", "ofcom-4g-outdoor", "trunking-800"]

MINIMAL = """
name = "mine"
version = "0.1"
source = "my own measurements"
description = "test preset"
technology = "4G"
metric = "rsrp_dbm"
threshold = -110.0
rx_height_m = 1.5

[environments.outdoor]
extra_loss_db = 0.0
"""


def test_shipped_presets_are_listed():
    assert list_presets() == SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_preset_loads_with_a_citation(name):
    p = load_preset(name)
    assert isinstance(p, RadioPreset)
    assert p.name == name
    assert p.version and p.description
    assert len(p.source) > 20
    assert p.environments
    prov = p.as_provenance()
    assert prov["preset"] == name and prov["source"] == p.source and prov["version"] == p.version
    assert prov["sha256"] == hashlib.sha256(Path(prov["file"]).read_bytes()).hexdigest()
    json.dumps(prov)  # plain data


@pytest.mark.parametrize(("name", "tier"), [("fcc-bdc-4g-5-1", 0), ("fcc-bdc-5g-7-1", 1), ("fcc-bdc-5g-35-3", 2)])
def test_fcc_presets_follow_the_bdc_parameters(name, tier):
    p = load_preset(name)
    assert p.metric == "speed"
    assert (p.min_down_mbps, p.min_up_mbps) == (FCC_BDC_TIERS[tier].down_mbps, FCC_BDC_TIERS[tier].up_mbps)
    assert p.technology == ("4G" if tier == 0 else "5G")
    assert p.cell_edge_probability == 0.9
    assert p.cell_loading == 0.5
    assert p.rx_height_m == 1.5
    assert p.max_cell_m <= 100.0
    assert [e.name for e in p.environments] == ["outdoor_stationary", "in_vehicle"]
    assert p.environment("outdoor_stationary").extra_loss_db == 0.0
    assert p.environment("in_vehicle").extra_loss_db > 0.0


def test_ofcom_and_trunking_thresholds():
    ofcom = load_preset("ofcom-4g-outdoor")
    assert (ofcom.metric, ofcom.threshold, ofcom.threshold_unit.split()[0]) == ("rsrp_dbm", -105.0, "dBm")
    assert ofcom.cell_edge_probability is None  # not fixed by the source
    trunk = load_preset("trunking-800")
    assert (trunk.metric, trunk.threshold, trunk.cell_edge_probability) == ("rx_level_dbm", -103.0, 0.95)
    assert trunk.freq_mhz == (806.0, 866.0)
    assert "EN 300 392-2" in trunk.source


def test_dtmb_threshold_follows_its_stated_derivation():
    # ITU-R BT.1368 method with the assumptions written in the preset's notes
    p = load_preset("dtv-dtmb-uhf")
    pn_dbw = 7.0 + 10 * math.log10(1.380649e-23 * 290.0 * 7.56e6)
    ps_min = 16.0 + pn_dbw
    wavelength = 299.792458 / 650.0
    aa = 11.0 + 10 * math.log10(1.64 * wavelength**2 / (4 * math.pi))
    e_min = ps_min - aa + 4.0 + 120.0 + 10 * math.log10(120 * math.pi)
    assert p.threshold == pytest.approx(e_min, abs=0.1)
    assert (p.metric, p.rx_height_m, p.model, p.time_percent) == ("field_strength_dbuv_m", 10.0, "p1812", 50.0)


def test_load_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    for arg in (path, str(path)):
        p = load_preset(arg)
        assert p.name == "mine" and p.threshold == -110.0 and p.origin == str(path.resolve())


def test_preset_is_frozen():
    p = load_preset("ofcom-4g-outdoor")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.threshold = -100.0  # type: ignore[misc]


def test_unknown_name_lists_the_shipped_presets():
    with pytest.raises(ScenarioError, match=r"unknown preset 'fcc-4g'; shipped presets: \['dtv-dtmb-uhf'"):
        load_preset("fcc-4g")


def test_missing_file():
    with pytest.raises(InputFileError, match="preset file not found"):
        load_preset("/nonexistent/preset.toml")


def test_invalid_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("name = \n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_preset(path)


def test_every_problem_is_listed(tmp_path):
    text = MINIMAL.replace('metric = "rsrp_dbm"', 'metric = "speed"\ncolour = "blue"\ncell_loading = 1.5') \
        .replace("rx_height_m = 1.5", 'rx_height_m = "high"\nmodel = "magic"') \
        .replace("extra_loss_db = 0.0", "extra_loss_db = -3.0\nwalls = 2")
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_preset(path)
    msg = str(info.value)
    for part in ("unknown keys ['colour']", "min_down_mbps is required", "min_up_mbps is required",
                 "threshold is not used with metric = 'speed'", "cell_loading must be in [0, 1], got 1.5",
                 "rx_height_m must be a number, got 'high'", "model must be one of ['auto'",
                 "[environments.outdoor]: unknown keys ['walls']",
                 "[environments.outdoor].extra_loss_db must be in [0, 100], got -3.0"):
        assert part in msg, part
    assert msg.startswith(str(path))


def test_required_keys_and_environments(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text('name = "empty"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"version is required; source is required.*\[environments\] is required"):
        load_preset(path)


@pytest.mark.parametrize(("line", "message"), [
    ("cell_edge_probability = 1.0", r"cell_edge_probability must be in \(0, 1\)"),
    ("freq_mhz = [900.0, 800.0]", "freq_mhz must be \\[lo, hi\\]"),
    ("time_percent = 0", r"time_percent must be in \(0, 100\)"),
    ('technology = "6G"', r"technology must be one of \['3G', '4G', '5G', 'trunking', 'dtv'\]"),
])
def test_ranges_and_vocabularies(tmp_path, line, message):
    key = line.split(" =")[0]
    lines = [x for x in MINIMAL.splitlines() if not x.startswith(key + " ")]
    path = tmp_path / "p.toml"
    path.write_text("\n".join([lines[1], line, *lines[2:]]) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=message):
        load_preset(path)


def test_threshold_must_fit_its_metric(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(MINIMAL.replace("threshold = -110.0", "threshold = 45.0"), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"threshold must be in \[-160, 0\], got 45.0"):
        load_preset(path)


def test_name_must_match_the_shipped_file(tmp_path, monkeypatch):
    (tmp_path / "other.toml").write_text(MINIMAL, encoding="utf-8")
    import citycov.presets.files as preset_files

    monkeypatch.setattr(preset_files, "shipped_folder", lambda _folder: tmp_path)
    with pytest.raises(ScenarioError, match="name = 'mine' must match the file name 'other'"):
        load_preset("other")


def test_unknown_environment():
    with pytest.raises(ScenarioError, match=r"unknown environment 'indoor'; expected one of \['outdoor'\]"):
        load_preset("ofcom-4g-outdoor").environment("indoor")
