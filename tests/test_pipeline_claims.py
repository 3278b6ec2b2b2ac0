"""Verification of claims through the whole pipeline on the tiny scenario: an operator claims
the whole square, the model covers a disc of about 3.4 km, and speed tests fail outside the
disc and pass inside it."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import citycov
from citycov.errors import ScenarioError
from citycov.verification.partition import CITY_ID

from .conftest import UTM49, X0, Y0, make_tiny

VERIFICATION = """
[inputs.claims]
path = "claims.geojson"
synthetic = true
[inputs.measurements]
path = "tests.csv"
crs = "EPSG:4326"
synthetic = true
[verification]
preset = "fcc-2022"
as_of = "2024-06-30"
"""


def _tests(centre: tuple[float, float]) -> pd.DataFrame:
    """Tests every 120 m on a lattice: failing (1 Mbit/s) beyond 4.3 km of the site, passing
    (20 Mbit/s) within 2.5 km, each point tested at 08:00 and at 14:00 (6 hours apart)."""
    cx, cy = centre
    xs, ys = np.meshgrid(np.arange(X0 + 60, X0 + 10_000, 120.0), np.arange(Y0 + 60, Y0 + 10_000, 120.0))
    d = np.hypot(xs - cx, ys - cy).ravel()
    keep = (d > 4300) | (d < 2500)
    x, y, d = xs.ravel()[keep], ys.ravel()[keep], d[keep]
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=UTM49).to_crs("EPSG:4326")
    rows = []
    for hour in ("08:00:00", "14:00:00"):
        rows.append(pd.DataFrame({
            "timestamp": f"2024-05-02 {hour}", "lon": pts.x.round(7), "lat": pts.y.round(7), "accuracy_m": 5.0,
            "technology": "4G", "operator": "Test", "download_mbps": np.where(d > 4300, 1.0, 20.0),
            "upload_mbps": np.where(d > 4300, 0.3, 3.0), "latency_ms": 30.0, "environment": "outdoor"}))
    return pd.concat(rows, ignore_index=True)


def make_claims_tiny(folder):
    """The tiny scenario with claim verification: one claimed square and the test lattice."""
    tiny = make_tiny(folder, extra=VERIFICATION)
    square = shapely.box(X0, Y0, X0 + 10_000.0, Y0 + 10_000.0)
    gpd.GeoDataFrame({"providerid": ["T1"], "operator": ["Test"], "technology": [400], "mindown": [5.0],
                      "minup": [1.0], "environmnt": [0]}, geometry=[square], crs=UTM49).to_crs(
        "EPSG:4326").to_file(tiny.folder / "claims.geojson", driver="GeoJSON")
    _tests(tiny.centre).to_csv(tiny.folder / "tests.csv", index=False)
    return tiny


@pytest.fixture(scope="module")
def verified(tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims")
    tiny = make_claims_tiny(folder / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    out = folder / "out"
    paths = citycov.write_outputs(res, out)
    return res, out, paths


def test_overclaim_is_found_and_areas_add_up(verified):
    res, _, _ = verified
    city = res.claims.summary.set_index("area_id").loc[CITY_ID]
    assert city["claimed_km2"] == pytest.approx(100.0)
    # claimed = (claimed ∩ modelled) + (claimed − modelled), exactly
    assert city["claimed_km2"] == city["claimed_modelled_km2"] + city["claimed_not_modelled_km2"]
    # the model covers a disc of about 3.4 km (test_pipeline_end_to_end works the radius by hand)
    assert 25.0 < city["claimed_modelled_km2"] < 45.0
    assert city["claimed_failed_km2"] > 0.0
    h = res.claims.challenge.hexagons
    assert h["challenged"].any() and not h["challenged"].all()


def test_challenged_hexagons_lie_where_tests_fail(verified):
    res, _, _ = verified
    hexes = res.claims.hexes.to_crs(UTM49)
    centre = shapely.Point(X0 + 5000.0, Y0 + 5000.0)
    challenged = hexes[hexes["verdict"] == "challenged"]
    assert len(challenged)
    # a resolution-8 hexagon is about 1 km across: every challenged one reaches beyond 3.5 km
    far = challenged.geometry.apply(lambda g: g.exterior.distance(centre) if not g.contains(centre) else 0.0)
    assert (challenged.geometry.apply(lambda g: shapely.Point(g.centroid).distance(centre)) > 3000.0).all(), far


def test_outputs_and_report_sections(verified):
    _, out, paths = verified
    for name in ("claims_hexes.geojson", "claims_summary.csv", "challenged_areas.geojson"):
        assert paths[name].is_file() and paths[name].stat().st_size > 0
    challenged = gpd.read_file(out / "challenged_areas.geojson")
    assert list(challenged[["providerid", "technology", "mindown", "minup", "environmnt"]].iloc[0]) == [
        "T1", "4G", 5.0, 1.0, 0]
    doc = json.loads((out / "districts.json").read_text(encoding="utf-8"))
    ver = doc["provenance"]["verification"]
    assert ver["preset"]["name"] == "fcc-2022" and ver["preset"]["version"]
    assert ver["tests_read"] == ver["tests_kept"] + sum(ver["tests_dropped"].values())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "id='claims'" in page and "fcc-2022" in page
    assert "Claim verification (H3 hexagons)" in (out / "map.html").read_text(encoding="utf-8")


def test_verification_section_needs_its_inputs(tmp_path):
    tiny = make_tiny(tmp_path / "t", extra="[verification]\npreset = \"fcc-2022\"\n")
    with pytest.raises(ScenarioError) as err:
        citycov.load_scenario(tiny.scenario)
    msg = str(err.value)
    assert "[verification] needs [inputs.claims]" in msg and "as_of is required" in msg


def test_claim_inputs_need_a_verification_section(tmp_path):
    tiny = make_tiny(tmp_path / "t", extra=VERIFICATION.split("[verification]")[0])
    (tiny.folder / "claims.geojson").write_text("{}", encoding="utf-8")
    (tiny.folder / "tests.csv").write_text("", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"needs a \[verification\] section"):
        citycov.load_scenario(tiny.scenario)


def test_opencellid_cells_become_the_modelled_network(tmp_path):
    """A scenario with only an OpenCelliD list: the LTE cell at the centre is modelled with the
    documented LTE defaults (omni), the GSM cell is dropped and counted, and the report says so."""
    tiny = make_tiny(tmp_path / "t")
    text = tiny.scenario.read_text(encoding="utf-8")
    start = text.index("[inputs.sectors]")
    end = text.index("[inputs.fibre_nodes]")
    text = text[:start] + '[inputs.opencellid]\npath = "cells.csv"\n' + text[end:]
    tiny.scenario.write_text(text, encoding="utf-8")
    centre = gpd.GeoSeries([shapely.Point(*tiny.centre)], crs=UTM49).to_crs("EPSG:4326").iloc[0]
    rows = [
        ["LTE", "460", "00", "9001", str(12345 * 256 + 1), "7", centre.x, centre.y, 500, 40, 1, 1.6e9, 1.7e9, 0],
        ["GSM", "460", "00", "9001", "4567", "3", centre.x, centre.y, 500, 40, 1, 1.6e9, 1.7e9, 0],
    ]
    pd.DataFrame(rows, columns=["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                                "changeable", "created", "updated", "averageSignal"]).to_csv(
        tiny.folder / "cells.csv", index=False)
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    assert len(res.sectors) == 1
    assert res.sectors["operator"].iloc[0] == "China Mobile"
    assert res.city["wireless_pct"] > 0
    record = next(r for r in res.inputs if r.name == "opencellid")
    assert any("OpenCelliD" in n and "omnidirectional" in n and "dropped" in n for n in record.notes)


def test_a_network_input_is_required(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    text = tiny.scenario.read_text(encoding="utf-8")
    text = text[:text.index("[inputs.sectors]")] + text[text.index("[inputs.fibre_nodes]"):]
    tiny.scenario.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\[inputs.sectors\] or \[inputs.opencellid\] is required"):
        citycov.load_scenario(tiny.scenario)
