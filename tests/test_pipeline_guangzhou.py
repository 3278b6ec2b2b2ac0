"""The embedded Guangzhou default, end to end, at 100 m (``--cell-m 100``).

The default's own 30 m grid takes several minutes on 2 cores, too long for every CI run; it
is measured in ``benchmarks/bench_guangzhou30.py`` and by ``make demo``.  At 100 m the same
scenario runs every step (engine with terrain, SINR and speed tiers, accounting, the
uncertainty variants, gaps, claims, maps and reports) in about a minute or two."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def guangzhou_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("gz") / "out"
    proc = subprocess.run([sys.executable, "-m", "citycov", "-q", "run", "--out", str(out), "--no-progress",
                           "--cell-m", "100"],
                          capture_output=True, text=True, timeout=3600)  # a guard against a hang, not a timing
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_report_lists_all_districts_and_the_city_with_both_targets(guangzhou_out):
    out, proc = guangzhou_out
    table = pd.read_csv(out / "districts.csv", dtype={"area_id": str})
    assert len(table) == 12 and table["area_id"].iloc[-1] == "city"
    assert {"wireless_population_80_pass", "wireless_population_80_gap", "ftth_households_50_pass",
            "ftth_households_50_gap"} <= set(table.columns)
    city = table.iloc[-1]
    assert city["population"] == 18_677_605
    assert 0 < city["wireless_pct"] <= 100 and 0 < city["ftth_pct"] <= 100
    report = (out / "report.md").read_text(encoding="utf-8")
    for name in table["name"].iloc[:-1]:
        assert f"| {name} |" in report
    assert "SYNTHETIC INPUT" in report and "7th national census, 2020-11-01" in report
    assert "1,000 above the official city total" in report
    doc = json.loads((out / "districts.json").read_text(encoding="utf-8"))
    assert set(doc["provenance"]["synthetic_inputs"]) == {"population", "terrain", "sectors", "wlan",
                                                          "fibre_nodes", "fibre_routes", "villages", "claims",
                                                          "measurements", "broadcast"}
    assert "SYNTHETIC DATA" in (out / "map.html").read_text(encoding="utf-8")
    assert "report:" in proc.stdout and "map:" in proc.stdout


def test_targets_bands_and_gaps_are_written(guangzhou_out):
    out, _ = guangzhou_out
    targets = pd.read_csv(out / "targets.csv", dtype={"area_id": str})
    assert set(targets["metric"]) == {"wireless_population", "ftth_households", "urban_area_3g", "village_broadband"}
    assert len(targets) == 4 * 12
    assert (targets["band_low_pct"] <= targets["value_pct"] + 1e-9).all()
    assert (targets["value_pct"] <= targets["band_high_pct"] + 1e-9).all()
    assert set(targets["verdict"]) <= {"met across the band", "missed across the band", "undecided"}
    variants = set(pd.read_csv(out / "uncertainty.csv")["variant"])
    assert {"point", "cell_edge_75", "cell_edge_90", "zonal_centroid", "resolution_200m",
            "model_tr38901"} <= variants
    import geopandas as gpd

    gaps = gpd.read_file(out / "gaps.geojson")
    assert len(gaps) > 0 and gaps["population"].is_monotonic_decreasing
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "Largest coverage gaps" in report and "Conservation check" in report


def test_conservation_each_district_equals_its_census_figure(guangzhou_out):
    out, _ = guangzhou_out
    table = pd.read_csv(out / "districts.csv", dtype={"area_id": str}).iloc[:-1]
    from pathlib import Path

    census = pd.read_csv(Path(__file__).resolve().parent.parent / "data" / "population"
                         / "guangzhou_district_population.csv", dtype={"adcode": str}).set_index("adcode")
    for _, row in table.iterrows():
        assert row["population"] == census.loc[row["area_id"], "census2020_resident"]


def test_demo_finds_the_synthetic_overclaim(guangzhou_out):
    out, _ = guangzhou_out
    summary = pd.read_csv(out / "claims_summary.csv", dtype={"area_id": str}).set_index("area_id")
    city = summary.loc["city"]
    assert city["claimed_km2"] == pytest.approx(city["claimed_modelled_km2"] + city["claimed_not_modelled_km2"])
    assert city["claimed_not_modelled_km2"] > 0.2 * city["claimed_km2"]  # drawn 10 dB below the model
    assert city["claimed_failed_km2"] > 0
    hexes = gpd.read_file(out / "claims_hexes.geojson")
    assert (hexes["verdict"] == "challenged").sum() > 0
    cal = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert cal["cv"]["after"]["rmse_db"] < cal["cv"]["before"]["rmse_db"]
    assert "id='claims'" in (out / "report.html").read_text(encoding="utf-8")


def test_service_presets_cellular_and_broadcast(guangzhou_out):
    """The default's [services]: FCC speed presets (outdoor and in-vehicle), Ofcom's -105 dBm,
    trunking talk-out and DTMB fixed reception, per district and for the city."""
    out, _ = guangzhou_out
    services = pd.read_csv(out / "services.csv", dtype={"area_id": str})
    assert set(services["preset"]) == {"fcc-bdc-4g-5-1", "fcc-bdc-5g-7-1", "ofcom-4g-outdoor", "trunking-800",
                                       "dtv-dtmb-uhf"}
    city = services[services["area_id"] == "city"].set_index(["preset", "environment"])["population_pct"]
    assert city[("fcc-bdc-4g-5-1", "outdoor_stationary")] >= city[("fcc-bdc-4g-5-1", "in_vehicle")]
    assert (services["population_pct"].between(0, 100)).all()
    assert len(services[services["preset"] == "dtv-dtmb-uhf"]) == 12
    import rasterio

    with rasterio.open(out / "broadcast_dtv-dtmb-uhf.tif") as src:
        assert src.tags()["units"] == "dBuV/m" and src.res == (200.0, 200.0)
        field = src.read(1)
    assert 60.0 < float(np.nanmedian(field)) < 140.0  # kW-class UHF transmitters over a city
    doc = json.loads((out / "districts.json").read_text(encoding="utf-8"))
    names = {p["preset"] for p in doc["provenance"]["services"]["presets"]}
    assert {"trunking-800", "dtv-dtmb-uhf"} <= names
