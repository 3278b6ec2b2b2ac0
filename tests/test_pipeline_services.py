"""``[services]``: radio presets evaluated on the base run, counted per district, written out.

The tiny scenario has one omni 900 MHz LTE site (61 dBm EIRP, 20 MHz) in a 10 km square of
uniform population (10 residents and 4 households per 100 m cell, suburban class, σ = 8 dB).
With a single sector there is no interference, so the SINR is the level over the noise of one
subcarrier, and the FCC 5/1 Mbit/s rule can be recomputed here from the level alone with the
TR 36.942 formulas written out below (independently of :mod:`citycov.accounting.services`).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

import citycov
from citycov.errors import ScenarioError
from citycov.presets.radio import load_preset

from .conftest import make_tiny

FAST = "[accounting]\nuncertainty = false\n"
LTE = 1


def services_scenario(folder, presets: str, *, radio: str = ""):
    return make_tiny(folder, extra=f"[services]\npresets = {presets}\n" + FAST, radio=radio)


def fcc_covered_cells(level_dbm: np.ndarray, extra_loss_db: float, extra_sigma_db: float) -> int:
    """Cells meeting 5/1 Mbit/s at 90 % (σ = 8 dB suburban), no interference, 20 MHz LTE:

    N = −174 + 10·log10(15 kHz) + 7 dB;  M = Φ⁻¹(0.9)·√(8² + σ_env²)
    down = 20·min(0.6·log2(1 + 10^((S − N − L − M)/10)), 4.4), 0 below −10 dB SINR
    up = 20·min(0.4·log2(1 + 10^(SINR_ul/10)), 2.0), SINR_ul = 23 + 17 − (EIRP_RS − S + L + M)
         − (−174 + 10·log10(20 MHz) + 5 + 3), 0 below −10 dB
    """
    s = level_dbm[np.isfinite(level_dbm)].astype(np.float64)
    noise = -174.0 + 10.0 * math.log10(15e3) + 7.0
    margin = NormalDist().inv_cdf(0.9) * math.hypot(8.0, extra_sigma_db)
    sinr = s - noise - extra_loss_db - margin
    down = np.where(sinr < -10.0, 0.0, 20.0 * np.minimum(0.6 * np.log2(1.0 + 10.0 ** (sinr / 10.0)), 4.4))
    eirp_rs = round(61.0 - 10.0 * math.log10(1200), 2)  # as sectors.csv stores it
    ul = 23.0 + 17.0 - (eirp_rs - s + extra_loss_db + margin) - (-174.0 + 10.0 * math.log10(20e6) + 5.0 + 3.0)
    up = np.where(ul < -10.0, 0.0, 20.0 * np.minimum(0.4 * np.log2(1.0 + 10.0 ** (ul / 10.0)), 2.0))
    return int(((down >= 5.0) & (up >= 1.0)).sum())


def test_fcc_and_ofcom_presets_write_services_csv_with_provenance(tmp_path):
    tiny = services_scenario(tmp_path / "t", '["fcc-bdc-4g-5-1", "ofcom-4g-outdoor"]')
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    paths = citycov.write_outputs(res, tmp_path / "out")
    table = pd.read_csv(paths["services.csv"], dtype={"area_id": str})
    assert list(table.columns[:7]) == ["area_id", "name", "preset", "technology", "metric", "environment",
                                       "cell_edge_probability"]
    fcc = table[table["preset"] == "fcc-bdc-4g-5-1"].pivot(index="area_id", columns="environment",
                                                            values="population_covered")
    assert sorted(fcc.index) == ["1", "city"]
    assert (fcc["outdoor_stationary"] >= fcc["in_vehicle"]).all()
    assert fcc.loc["city", "in_vehicle"] > 0

    # by hand: 10 residents and 4 households per cell, every served cell inside the district
    serving = res.rasters["best_dbm"][LTE]  # one sector: the serving level is the best level
    inside = res.rasters["district_index"] >= 0
    level = np.where(inside, serving, np.nan)
    for env, loss, sigma in (("outdoor_stationary", 0.0, 0.0), ("in_vehicle", 9.0, 5.0)):
        cells = fcc_covered_cells(level, loss, sigma)
        assert fcc.loc["city", env] == pytest.approx(10.0 * cells, abs=10.0), env  # ±1 cell at a threshold
    city = table[(table["area_id"] == "city")].set_index(["preset", "environment"])
    assert city.loc[("fcc-bdc-4g-5-1", "outdoor_stationary"), "cell_edge_probability"] == 0.9
    assert city.loc[("fcc-bdc-4g-5-1", "outdoor_stationary"), "population"] == pytest.approx(100_000.0)
    assert city.loc[("fcc-bdc-4g-5-1", "outdoor_stationary"), "households_covered"] == pytest.approx(
        fcc.loc["city", "outdoor_stationary"] / 2.5)

    # Ofcom fixes no probability: the scenario's 50 % applies, margin 0, RSRP ≥ −105 dBm is
    # exactly the scenario's own 4G threshold, so the residents covered equal population_cellular
    ofcom = city.loc[("ofcom-4g-outdoor", "outdoor")]
    assert ofcom["cell_edge_probability"] == 0.5
    assert ofcom["population_covered"] == pytest.approx(res.table.loc["city", "population_cellular"])
    assert ofcom["population_covered"] == pytest.approx(10.0 * int((np.nan_to_num(level, nan=-999) >= -105).sum()))

    doc = json.loads(paths["districts.json"].read_text(encoding="utf-8"))
    records = {r["preset"]: r for r in doc["provenance"]["services"]["presets"]}
    for name in ("fcc-bdc-4g-5-1", "ofcom-4g-outdoor"):
        preset = load_preset(name)
        assert records[name]["sha256"] == hashlib.sha256(Path(preset.origin).read_bytes()).hexdigest()
        assert records[name]["file"] == preset.origin
    assert records["fcc-bdc-4g-5-1"]["service"]["environments"]["in_vehicle"]["margin_db"]["min"] == pytest.approx(
        NormalDist().inv_cdf(0.9) * math.hypot(8.0, 5.0))
    assert records["ofcom-4g-outdoor"]["service"]["cell_edge_probability_from"] == "caller"
    assert doc["provenance"]["parameters"]["services"]["presets"] == ["fcc-bdc-4g-5-1", "ofcom-4g-outdoor"]
    report = paths["report.md"].read_text(encoding="utf-8")
    assert "## Service coverage" in report and "| fcc-bdc-4g-5-1 | 4G | speed | in_vehicle | 90% |" in report


def broadcast_scenario(folder, presets: str, *, erp_w: float, with_input: bool = True):
    """The tiny square with one omni trunking transmitter (851 MHz, 40 m mast) at its centre."""
    extra = ""
    if with_input:
        extra = ('[inputs.broadcast]\npath = "broadcast.csv"\ncrs = "EPSG:32649"\nlon_column = "x"\n'
                 'lat_column = "y"\n\n[broadcast]\ncell_m = 200\nreach_km = { trunking = 12 }\n')
    tiny = make_tiny(folder, extra=f"[services]\npresets = {presets}\n" + FAST + extra)
    pd.DataFrame({"tx_id": ["T1"], "service": ["trunking"], "operator": ["City"], "freq_mhz": [851.0125],
                  "erp_w": [erp_w], "height_m": [40.0], "x": [tiny.centre[0]], "y": [tiny.centre[1]]}
                 ).to_csv(folder / "broadcast.csv", index=False)
    return tiny


def test_trunking_preset_from_the_broadcast_transmitters(tmp_path):
    """Talk-out at -103 dBm, 95 % of locations (margin 1.645 x 5.5 dB = 9.05 dB) on flat ground:
    a 100 W site covers the whole 10 km square (5 km from the mast the free-space level is
    about -51 dBm, and P.1812 over flat ground stays within tens of dB of it); a 10 mW one
    (12.15 dBm e.i.r.p., free space -92.9 dBm at 5 km, less over the ground) covers only part."""
    strong = broadcast_scenario(tmp_path / "a", '["trunking-800"]', erp_w=100.0)
    res = citycov.run(citycov.load_scenario(strong.scenario))
    city = res.services[res.services["area_id"] == "city"]
    assert city["preset"].tolist() == ["trunking-800"] and city["technology"].tolist() == ["trunking"]
    assert float(city["population_pct"].iloc[0]) == pytest.approx(100.0, abs=0.5)
    rec = next(r for r in res.service_provenance["presets"] if r["preset"] == "trunking-800")
    assert rec["evaluated"]["grid_cell_m"] == 200.0
    assert rec["evaluated"]["broadcast"]["model"] == "p1812"
    weak = broadcast_scenario(tmp_path / "b", '["trunking-800"]', erp_w=0.01)
    res = citycov.run(citycov.load_scenario(weak.scenario))
    city = res.services[res.services["area_id"] == "city"]
    assert 1.0 < float(city["population_pct"].iloc[0]) < 90.0
    paths = citycov.write_outputs(res, tmp_path / "out")
    assert "trunking-800" in set(pd.read_csv(paths["services.csv"])["preset"])
    import rasterio

    with rasterio.open(tmp_path / "out" / "broadcast_trunking-800.tif") as src:
        assert src.crs.to_epsg() == 32649 and src.res == (200.0, 200.0)
        assert src.tags()["units"] == "dBm" and src.tags()["SYNTHETIC_INPUTS"]
        level = src.read(1)
    _grid, values, unit = res.broadcast_rasters["trunking-800"]
    np.testing.assert_array_equal(level, values)
    assert unit == "dBm" and -75.0 < np.nanmax(level) < -55.0  # 12 dBm e.i.r.p., about 100-150 m away


def test_broadcast_preset_without_transmitters_is_refused(tmp_path):
    tiny = broadcast_scenario(tmp_path / "t", '["dtv-dtmb-uhf"]', erp_w=100.0, with_input=False)
    with pytest.raises(ScenarioError, match=r"need \[inputs.broadcast\]"):
        citycov.load_scenario(tiny.scenario)


def test_preset_problems_are_listed_at_load(tmp_path):
    tiny = services_scenario(tmp_path / "t", '["fcc-bdc-4g-5-I", "ofcom-4g-outdoor", "nope"]')
    with pytest.raises(ScenarioError) as info:
        citycov.load_scenario(tiny.scenario)
    msg = str(info.value)
    assert "unknown preset 'fcc-bdc-4g-5-I'" in msg and "unknown preset 'nope'" in msg
    assert "shipped presets: ['dtv-dtmb-uhf', 'fcc-bdc-4g-5-1'" in msg

    tiny = services_scenario(tmp_path / "u", '["fcc-bdc-4g-5-1", "fcc-bdc-4g-5-1"]', radio="sinr = false")
    with pytest.raises(ScenarioError) as info:
        citycov.load_scenario(tiny.scenario)
    msg = str(info.value)
    assert "'fcc-bdc-4g-5-1' is listed twice" in msg
    assert "'fcc-bdc-4g-5-1' (metric 'speed') needs [radio].sinr = true" in msg


def test_preset_file_relative_to_the_scenario(tmp_path):
    tiny = services_scenario(tmp_path / "t", '["presets/my-rsrp.toml"]')
    (tiny.folder / "presets").mkdir()
    text = Path(load_preset("ofcom-4g-outdoor").origin).read_text(encoding="utf-8")
    text = text.replace('name = "ofcom-4g-outdoor"', 'name = "my-rsrp"').replace("technology = \"4G\"",
                                                                                 "technology = \"3G\"")
    (tiny.folder / "presets" / "my-rsrp.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"'my-rsrp' \(3G\) has metric 'rsrp_dbm'; the engine's 3G rasters "
                                            r"support \['rscp_dbm', 'speed'\]"):
        citycov.load_scenario(tiny.scenario)


def test_indoor_environment_uses_p2109_at_the_serving_frequency(tmp_path):
    """``indoor_probability = 0.5``: Ofcom indoors = RSRP − BEL ≥ −105 dBm, with BEL the P.2109
    median for traditional buildings at the 900 MHz carrier, horizontal incidence."""
    from citycov.propagation.p2109 import p2109_building_entry_loss_db

    tiny = make_tiny(tmp_path / "t", extra='[services]\npresets = ["ofcom-4g-outdoor"]\nindoor_probability = 0.5\n'
                     + FAST)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    city = res.services[res.services["area_id"] == "city"].set_index("environment")
    assert set(city.index) == {"outdoor", "indoor_p2109"}
    bel = float(p2109_building_entry_loss_db(0.9, 0.0, 50.0, 1))  # class 1: traditional
    assert 10.0 < bel < 20.0
    level = np.where(res.rasters["district_index"] >= 0, res.rasters["best_dbm"][LTE], np.nan)
    want = 10.0 * int((np.nan_to_num(level, nan=-999) - bel >= -105.0).sum())
    assert city.loc["indoor_p2109", "population_covered"] == pytest.approx(want, abs=10.0)
    assert city.loc["indoor_p2109", "population_covered"] < city.loc["outdoor", "population_covered"]
    rec = res.service_provenance["presets"][0]["service"]["environments"]["indoor_p2109"]
    assert rec["extra_loss_db"]["min"] == pytest.approx(bel, abs=1e-6)
