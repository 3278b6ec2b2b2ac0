"""Readers of the regulator toolkit: claim polygons, speed/drive tests, OpenCelliD exports."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from citycov.errors import CitycovWarning, ClaimTableError, CRSError, MeasurementTableError, SiteTableError
from citycov.io.claims import claim_layers, read_claims
from citycov.io.measurements import DROP_REASONS, read_measurements
from citycov.io.opencellid import RADIO_DEFAULTS, read_opencellid
from citycov.io.sites import SECTOR_COLUMNS

UTM49 = pyproj.CRS.from_epsg(32649)


def _square(lon: float, lat: float, d: float = 0.01) -> shapely.Polygon:
    return shapely.box(lon, lat, lon + d, lat + d)


def _write_claims(path: Path, rows: list[dict], geoms: list, crs: str | None = "EPSG:4326") -> Path:
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs)
    frame.to_file(path, driver="GeoJSON" if path.suffix == ".geojson" else "GPKG")
    return path


GOOD = [
    {"providerid": "130077", "technology": 400, "mindown": 5, "minup": 1, "environmnt": 0, "operator": "China Mobile"},
    {"providerid": "130077", "technology": "5G", "mindown": 35, "minup": 3, "environmnt": "in-vehicle",
     "operator": "China Mobile"},
    {"providerid": "130078", "technology": "LTE", "mindown": 5, "minup": 1, "environmnt": 1,
     "operator": "China Unicom"},
]


def test_read_claims_normalises_codes_and_reprojects(tmp_path):
    path = _write_claims(tmp_path / "claims.gpkg", GOOD, [_square(113.3, 23.1)] * 3)
    claims = read_claims(path, crs=UTM49)
    assert claims.crs.equals(UTM49)
    assert claims["technology"].tolist() == ["4G", "5G", "4G"]
    assert claims["environment"].tolist() == ["outdoor_stationary", "in_vehicle", "in_vehicle"]
    assert claims["min_down_mbps"].tolist() == [5.0, 35.0, 5.0]
    assert claims["min_up_mbps"].dtype == np.float64
    # a 0.01 degree square near Guangzhou is about 1.02 km x 1.11 km
    assert claims.geometry.area.iloc[0] / 1e6 == pytest.approx(1.136, rel=0.02)
    layers = claim_layers(claims)
    assert len(layers) == 3 and set(layers["operator"]) == {"China Mobile", "China Unicom"}


def test_operator_defaults_to_provider(tmp_path):
    rows = [{k: v for k, v in r.items() if k != "operator"} for r in GOOD[:1]]
    claims = read_claims(_write_claims(tmp_path / "c.gpkg", rows, [_square(113.3, 23.1)]), crs=UTM49)
    assert claims["operator"].tolist() == ["130077"]


def test_claim_errors_list_every_problem_with_feature_and_expected_value(tmp_path):
    rows = [dict(GOOD[0]), dict(GOOD[1]), dict(GOOD[2])]
    rows[0]["technology"] = "6G"
    rows[1]["mindown"] = 0
    rows[1]["environmnt"] = "indoor"
    rows[2]["minup"] = -1
    rows[2]["providerid"] = ""
    bowtie = shapely.Polygon([(113.3, 23.1), (113.31, 23.11), (113.31, 23.1), (113.3, 23.11)])
    path = _write_claims(tmp_path / "bad.gpkg", rows, [_square(113.3, 23.1), _square(113.3, 23.1), bowtie])
    with pytest.raises(ClaimTableError) as info:
        read_claims(path, crs=UTM49)
    msg = str(info.value)
    for fragment in ("technology: expected one of ['3G', '4G', '5G']", "feature 1 (found ['6G'])",
                     "mindown: must be > 0 Mbit/s at feature 2 (found [0.0])",
                     "environmnt: expected 0 (outdoor stationary), 1 (in-vehicle)", "(found ['indoor'])",
                     "minup: outside 0.0..10000.0 Mbit/s at feature 3", "providerid: empty at feature 3",
                     "geometry: invalid at feature 3"):
        assert fragment in msg


def test_claims_missing_columns_and_points_are_refused(tmp_path):
    rows = [{"providerid": "1", "technology": "4G"}]
    path = _write_claims(tmp_path / "pts.gpkg", rows, [shapely.Point(113.3, 23.1)])
    with pytest.raises(ClaimTableError, match=r"missing columns \['mindown', 'minup', 'environmnt'\]") as info:
        read_claims(path, crs=UTM49)
    assert "geometry: expected ['MultiPolygon', 'Polygon']" in str(info.value)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_claims_without_crs_are_refused(tmp_path):
    path = _write_claims(tmp_path / "nocrs.gpkg", GOOD[:1], [_square(113.3, 23.1)], crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        read_claims(path, crs=UTM49)
    claims = read_claims(path, crs=UTM49, source_crs="EPSG:4326")
    assert claims.crs.equals(UTM49)


# ------------------------------------------------------------------------------------------- measurements
HEADER = "timestamp,lon,lat,accuracy_m,technology,operator,download_mbps,upload_mbps,latency_ms,environment,rsrp_dbm"


def _write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def test_measurements_keep_valid_and_count_every_drop_reason(tmp_path):
    ok = "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,12.5,2.0,35,outdoor,-95"
    lines = [
        ok,
        "2024-05-01T09:30:00+00:00,113.3,23.1,5,LTE,China Mobile,0,0,35,in-vehicle,",  # UTC offset, zero speed
        "yesterday,113.3,23.1,5,4G,China Mobile,12.5,2.0,35,outdoor,-95",              # timestamp
        "2024-05-01 08:30:00,113.3,95.0,5,4G,China Mobile,12.5,2.0,35,outdoor,-95",    # coordinates
        "2024-05-01 08:30:00,113.3,23.1,80,4G,China Mobile,12.5,2.0,35,outdoor,-95",   # accuracy
        "2024-05-01 08:30:00,113.3,23.1,5,2G,China Mobile,12.5,2.0,35,outdoor,-95",    # technology
        "2024-05-01 08:30:00,113.3,23.1,5,4G,,12.5,2.0,35,outdoor,-95",                # operator
        "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,12.5,2.0,35,indoor,-95",     # environment
        "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,-3,2.0,35,outdoor,-95",      # download
        "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,12.5,abc,35,outdoor,-95",    # upload
        "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,12.5,2.0,-1,outdoor,-95",    # latency
        "2024-05-01 08:30:00,113.3,23.1,5,4G,China Mobile,12.5,2.0,35,outdoor,-200",   # rsrp
        "bad,113.3,95.0,500,2G,,-1,-1,-1,indoor,-200",                                 # everything: counted once
    ]
    path = _write_csv(tmp_path / "tests.csv", lines)
    with pytest.warns(CitycovWarning, match="11 of 13 test records dropped"):
        ms = read_measurements(path, crs=UTM49)
    assert ms.n_read == 13 and ms.n_kept == 2 and ms.n_dropped == 11
    drops = ms.drops.set_index("reason")
    assert list(drops.index) == list(DROP_REASONS)
    expected_dropped = {"timestamp": 2, "coordinates": 1, "accuracy": 1, "technology": 1, "operator": 1,
                        "environment": 1, "download": 1, "upload": 1, "latency": 1, "rsrp": 1, "rsrq": 0, "sinr": 0}
    assert drops["dropped"].to_dict() == expected_dropped
    assert drops.loc["rsrp", "flagged"] == 2 and drops.loc["environment", "flagged"] == 2
    tests = ms.tests
    assert tests["record"].tolist() == [0, 1]
    assert tests.crs.equals(UTM49)
    assert str(tests["timestamp"].dt.tz) == "Asia/Shanghai"
    assert tests["timestamp"].dt.hour.tolist() == [8, 17]  # 09:30 UTC is 17:30 in Guangzhou
    assert tests["technology"].tolist() == ["4G", "4G"]
    assert tests["environment"].tolist() == ["outdoor_stationary", "in_vehicle"]
    assert np.isnan(tests["rsrp_dbm"].iloc[1]) and np.isnan(tests["sinr_db"]).all()


def test_measurements_missing_columns_is_an_error(tmp_path):
    path = _write_csv(tmp_path / "t.csv", ["2024-05-01 08:30,113.3,23.1"], header="timestamp,lon,lat")
    with pytest.raises(MeasurementTableError, match=r"missing columns \['accuracy_m', 'technology', 'operator', "
                                                     r"'download_mbps', 'upload_mbps', 'latency_ms', 'environment'\]"):
        read_measurements(path, crs=UTM49)


def test_measurements_gcj02_are_converted(tmp_path):
    from citycov.crs import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(113.3, 23.1)
    line = f"2024-05-01 08:30:00,{float(glon):.9f},{float(glat):.9f},5,4G,CM,10,2,30,outdoor,-90"
    ms = read_measurements(_write_csv(tmp_path / "g.csv", [line]), crs=UTM49, source_crs="gcj02")
    assert ms.tests["lon"].iloc[0] == pytest.approx(113.3, abs=1e-8)
    assert ms.tests["lat"].iloc[0] == pytest.approx(23.1, abs=1e-8)


def test_measurements_from_geopackage(tmp_path):
    frame = gpd.GeoDataFrame({"timestamp": ["2024-05-01 08:30:00"], "accuracy_m": [3.0], "technology": ["5G"],
                              "operator": ["CU"], "download_mbps": [300.0], "upload_mbps": [40.0],
                              "latency_ms": [20.0], "environment": ["outdoor"]},
                             geometry=[shapely.Point(113.3, 23.1)], crs="EPSG:4326").to_crs(UTM49)
    path = tmp_path / "t.gpkg"
    frame.to_file(path, driver="GPKG")
    ms = read_measurements(path, crs=UTM49)
    assert ms.n_kept == 1
    assert ms.tests["lon"].iloc[0] == pytest.approx(113.3, abs=1e-9)


def test_unknown_time_zone_is_an_error(tmp_path):
    path = _write_csv(tmp_path / "t.csv", ["2024-05-01 08:30:00,113.3,23.1,5,4G,CM,10,2,30,outdoor,-90"])
    with pytest.raises(MeasurementTableError, match="unknown time zone tz='Mars/Olympus'"):
        read_measurements(path, crs=UTM49, tz="Mars/Olympus")


# ------------------------------------------------------------------------------------------- OpenCelliD
OCID_HEADER = "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal"


def test_opencellid_gives_a_sector_table_with_recorded_defaults(tmp_path):
    lines = [
        "LTE,460,0,9501,123456789,101,113.30,23.10,1200,35,1,1500000000,1700000000,0",
        "LTE,460,0,9501,123456790,102,113.31,23.10,900,12,1,1500000000,1700000000,0",
        "NR,460,11,9502,5000001234,300,113.32,23.11,500,7,1,1600000000,1700000000,-90",
        "UMTS,460,1,9503,26214401,12,113.33,23.12,800,3,1,1400000000,1600000000,0",
        "GSM,460,0,9504,12345,0,113.34,23.13,1000,40,1,1400000000,1600000000,0",
        "LTE,460,0,9501,123456789,101,113.30,23.10,1200,35,1,1500000000,1600000000,0",  # older duplicate
    ]
    path = tmp_path / "460.csv"
    path.write_text("\n".join([OCID_HEADER, *lines]) + "\n", encoding="utf-8")
    with pytest.warns(CitycovWarning, match="2 of 6 cells dropped: 1 of radio \\['GSM'\\]"):
        sectors = read_opencellid(path, crs=UTM49)
    assert len(sectors) == 4
    for column in SECTOR_COLUMNS:
        assert column in sectors.columns
    assert sectors["technology"].tolist() == ["4G", "4G", "5G", "3G"]
    assert sectors["operator"].tolist() == ["China Mobile", "China Mobile", "China Telecom", "China Unicom"]
    assert sectors["site_id"].iloc[0] == sectors["site_id"].iloc[1] == "460-0-L482253"  # ECI // 256
    assert sectors["omni"].all() and sectors["azimuth_deg"].isna().all()
    assert sectors["freq_mhz"].tolist() == [1850.0, 1850.0, 3500.0, 2140.0]
    assert sectors.attrs["defaults_used"] is True
    assert sectors.attrs["defaults"]["NR"]["band"] == "n78"
    assert sectors.attrs["dropped"] == {"unsupported_radio": 1, "few_samples": 0, "duplicate_cell": 1}
    assert sectors.crs.equals(UTM49)
    assert sectors["sector_id"].is_unique


def test_opencellid_without_header_and_with_overrides(tmp_path):
    path = tmp_path / "460.csv"
    path.write_text("NR,460,0,1,4096000,1,113.3,23.1,100,5,1,0,0,0\n", encoding="utf-8")
    sectors = read_opencellid(path, crs=UTM49, defaults={"NR": {"freq_mhz": 2600.0, "band": "n41"}})
    assert sectors["freq_mhz"].iloc[0] == 2600.0 and sectors["band"].iloc[0] == "n41"
    assert sectors["site_id"].iloc[0] == "460-0-N1000"
    assert sectors.attrs["defaults"]["NR"]["freq_mhz"] == 2600.0
    assert RADIO_DEFAULTS["NR"]["freq_mhz"] == 3500.0  # the module table is not mutated


def test_opencellid_errors_list_every_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([OCID_HEADER, "WIMAX,460,0,1,2,0,113.3,23.1,0,1,1,0,0,0",
                               "LTE,460,x,1,2,0,213.3,23.1,0,1,1,0,0,0"]) + "\n", encoding="utf-8")
    with pytest.raises(SiteTableError) as info:
        read_opencellid(path, crs=UTM49, defaults={"WIFI": {}})
    msg = str(info.value)
    for fragment in ("defaults: unknown radio 'WIFI'", "radio: expected one of", "line 2 (found ['WIMAX'])",
                     "lon: outside -180.0..180.0 degrees at line 3", "net: expected a non-negative integer at line 3"):
        assert fragment in msg


def test_claims_geojson_round_trip(tmp_path):
    """GeoJSON (implicitly WGS84) is read like the GeoPackage."""
    path = tmp_path / "c.geojson"
    features = [{"type": "Feature", "properties": GOOD[0], "geometry": shapely.geometry.mapping(_square(113.3, 23.1))}]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    claims = read_claims(path, crs=UTM49)
    assert claims["technology"].tolist() == ["4G"] and isinstance(claims, pd.DataFrame)
