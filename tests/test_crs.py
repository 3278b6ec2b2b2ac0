"""CRS handling: GCJ-02 <-> WGS84, UTM choice, CRS parsing and reproject-on-read.

The GCJ-02 known points are published test vectors of independent implementations of the
same published algorithm; each carries the source's repository and path.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from citycov.crs import GCJ02, gcj02_to_wgs84, parse_crs, utm_crs_for, wgs84_to_gcj02
from citycov.errors import CRSError, SiteTableError
from citycov.io import read_vector

GEOD = pyproj.Geod(ellps="WGS84")


def _geod_distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return np.asarray(dist)


# --------------------------------------------------------------------------------------
# Forward transform: published test vectors, (WGS84 lon, lat) -> (GCJ-02 lon, lat), tol (deg)
# --------------------------------------------------------------------------------------

KNOWN_POINTS = [
    # googollee/eviltransform: go/transform_test.go and python/test.py
    # (the same vectors appear in its C, C# and JS tests).
    pytest.param(
        (121.5272106, 31.1774276),
        (121.531541859215, 31.17530398364597),
        1e-6,
        id="eviltransform-shanghai",
    ),
    pytest.param(
        (113.912316, 22.543847),
        (113.9171764808363, 22.540796131694766),
        1e-6,
        id="eviltransform-shenzhen",
    ),
    pytest.param(
        (116.377817, 39.911954),
        (116.38404722455657, 39.91334545536069),
        1e-6,
        id="eviltransform-beijing",
    ),
    # wyxloading/coordtransform-rs: tests/tests.rs, test_wgs84_to_gcj02 (asserts exact equality).
    pytest.param(
        (116.404, 39.915),
        (116.41024449916938, 39.91640428150164),
        1e-9,
        id="coordtransform-rs-beijing",
    ),
    # feiquan123/coordtransform-go: coordtransform_test.go, p -> expWGS84toGCJ02.
    pytest.param(
        (114.363089, 30.517411),
        (114.36861383019243, 30.515078352018758),
        1e-7,
        id="coordtransform-go-wuhan",
    ),
    # hujiulong/gcoord: test/fixtures/china-cities.json (Guangzhou, Yuexiu), checked in
    # test/unit/transform.spec.ts with toBeCloseTo(..., 4), i.e. |error| < 5e-5 degrees.
    pytest.param(
        (113.2590543, 23.131788), (113.2643859, 23.1291146), 5e-5, id="gcoord-guangzhou-yuexiu"
    ),
    # hujiulong/gcoord: test/unit/transform.spec.ts, 'transform - geojson',
    # WGS84 -> GCJ02 of [123, 45],
    # toBeCloseTo(..., 5), i.e. |error| < 5e-6 degrees.
    pytest.param((123.0, 45.0), (123.00607541, 45.00197815), 5e-6, id="gcoord-123-45"),
]


@pytest.mark.parametrize(("wgs", "gcj", "tol"), KNOWN_POINTS)
def test_wgs84_to_gcj02_known_points(wgs, gcj, tol):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert float(lon) == pytest.approx(gcj[0], abs=tol)
    assert float(lat) == pytest.approx(gcj[1], abs=tol)


@pytest.mark.parametrize(("wgs", "gcj", "tol"), KNOWN_POINTS)
def test_gcj02_to_wgs84_known_points(wgs, gcj, tol):
    # The exact inverse recovers the WGS84 point from the published GCJ-02 value; the published
    # value's own rounding (tol, in degrees) is what limits the agreement.
    lon, lat = gcj02_to_wgs84(*gcj)
    assert float(lon) == pytest.approx(wgs[0], abs=2 * tol)
    assert float(lat) == pytest.approx(wgs[1], abs=2 * tol)


def test_gcj02_to_wgs84_gcoord_vector():
    # hujiulong/gcoord: test/unit/crs/GCJ02.spec.ts, GCJ02.to.WGS84([123, 45]), toBeCloseTo(..., 5).
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert float(lon) == pytest.approx(122.99395597, abs=5e-6)
    assert float(lat) == pytest.approx(44.99804071, abs=5e-6)


def test_known_points_vectorised_equal_scalar():
    wgs = np.array([p.values[0] for p in KNOWN_POINTS])
    lon, lat = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    assert lon.shape == lat.shape == (len(KNOWN_POINTS),)
    for i, (x, y) in enumerate(wgs):
        sx, sy = wgs84_to_gcj02(x, y)
        assert lon[i] == float(sx)
        assert lat[i] == float(sy)


# --------------------------------------------------------------------------------------
# Offset size, round trip, outside China
# --------------------------------------------------------------------------------------

GUANGZHOU_LON = np.linspace(113.0, 114.0, 6)
GUANGZHOU_LAT = np.linspace(22.6, 23.9, 6)


def test_forward_offset_in_guangzhou_is_550_to_700_m():
    lon, lat = np.meshgrid(GUANGZHOU_LON, GUANGZHOU_LAT)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    offset_m = _geod_distance_m(lon, lat, g_lon, g_lat)
    assert offset_m.shape == lon.shape
    assert np.all(offset_m > 550.0), offset_m.min()
    assert np.all(offset_m < 700.0), offset_m.max()


def test_round_trip_in_guangzhou_below_1_cm():
    lon, lat = np.meshgrid(np.linspace(113.0, 114.0, 21), np.linspace(22.6, 23.9, 21))
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    err_m = _geod_distance_m(lon, lat, back_lon, back_lat)
    assert err_m.max() < 0.01


@settings(max_examples=200, deadline=None)
@given(lon=st.floats(73.0, 135.0), lat=st.floats(18.0, 53.0))
def test_round_trip_property_over_china(lon, lat):
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert float(_geod_distance_m(lon, lat, float(back_lon), float(back_lat))) < 0.01


def test_inverse_does_not_mutate_input():
    lon = np.array([113.3, 113.4])
    lat = np.array([23.1, 23.2])
    lon0, lat0 = lon.copy(), lat.copy()
    gcj02_to_wgs84(lon, lat)
    wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(lon, lon0)
    np.testing.assert_array_equal(lat, lat0)


@pytest.mark.parametrize(
    "point",
    [(2.35, 48.85), (-74.006, 40.7128), (139.69, 35.69), (151.21, -33.87), (72.0, 30.0)],
    ids=["paris", "new-york", "tokyo", "sydney", "west-of-box"],
)
def test_outside_china_is_identity(point):
    lon, lat = wgs84_to_gcj02(*point)
    assert (float(lon), float(lat)) == point
    lon, lat = gcj02_to_wgs84(*point)
    assert (float(lon), float(lat)) == point


# --------------------------------------------------------------------------------------
# UTM zone choice and CRS parsing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (113.3, 23.1, 32649),  # Guangzhou: zone 49 (108-114 E), north
        (116.4, 39.9, 32650),  # Beijing: zone 50
        (-0.1, 51.5, 32630),  # London: zone 30
        (151.2, -33.9, 32756),  # Sydney: zone 56, south
        (-58.4, -34.6, 32721),  # Buenos Aires: zone 21, south
        (-180.0, 0.0, 32601),
        (180.0, 0.0, 32660),
    ],
)
def test_utm_crs_for(lon, lat, epsg):
    crs = utm_crs_for(lon, lat)
    assert crs.to_epsg() == epsg
    assert crs.is_projected


def test_utm_southern_hemisphere_is_327xx():
    assert 32701 <= utm_crs_for(18.4, -33.9).to_epsg() <= 32760


@pytest.mark.parametrize(("lon", "lat"), [(181.0, 0.0), (-181.0, 0.0), (10.0, 85.0), (10.0, -81.0)])
def test_utm_out_of_range(lon, lat):
    with pytest.raises(CRSError, match="no UTM zone"):
        utm_crs_for(lon, lat)


@pytest.mark.parametrize("value", ["gcj02", "GCJ-02", " gcj_02 "])
def test_parse_crs_gcj02(value):
    assert parse_crs(value, where="test") == GCJ02


def test_parse_crs_epsg():
    crs = parse_crs("EPSG:4326", where="test")
    assert isinstance(crs, pyproj.CRS)
    assert crs.to_epsg() == 4326


def test_parse_crs_nonsense():
    with pytest.raises(CRSError, match=r"scenario\.toml: unknown CRS 'nonsense'.*gcj02"):
        parse_crs("nonsense", where="scenario.toml")


# --------------------------------------------------------------------------------------
# Readers: reproject once, on read
# --------------------------------------------------------------------------------------

GCJ_POINTS = [(113.2643859, 23.1291146), (113.3300000, 23.1200000)]


def _feature_collection(geometries: list[dict]) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": i}, "geometry": g}
            for i, g in enumerate(geometries)
        ],
    }


def test_read_geojson_points_in_gcj02(tmp_path: Path):
    path = tmp_path / "sites.geojson"
    geoms = [{"type": "Point", "coordinates": list(p)} for p in GCJ_POINTS]
    path.write_text(json.dumps(_feature_collection(geoms)), encoding="utf-8")
    frame = read_vector(path, crs="gcj02")
    assert frame.crs.to_epsg() == 4326
    exp_lon, exp_lat = gcj02_to_wgs84([p[0] for p in GCJ_POINTS], [p[1] for p in GCJ_POINTS])
    np.testing.assert_allclose(frame.geometry.x.to_numpy(), exp_lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame.geometry.y.to_numpy(), exp_lat, rtol=0, atol=1e-9)
    assert list(frame["id"]) == [0, 1]


def test_read_geojson_polygon_in_gcj02(tmp_path: Path):
    ring = [[113.26, 23.12], [113.28, 23.12], [113.28, 23.14], [113.26, 23.14], [113.26, 23.12]]
    path = tmp_path / "district.geojson"
    path.write_text(
        json.dumps(_feature_collection([{"type": "Polygon", "coordinates": [ring]}])),
        encoding="utf-8",
    )
    frame = read_vector(path, crs="gcj02")
    assert frame.crs.to_epsg() == 4326
    got = np.asarray(frame.geometry.iloc[0].exterior.coords)
    ring_arr = np.asarray(ring)
    exp_lon, exp_lat = gcj02_to_wgs84(ring_arr[:, 0], ring_arr[:, 1])
    np.testing.assert_allclose(got, np.column_stack([exp_lon, exp_lat]), rtol=0, atol=1e-9)


def test_read_csv_in_gcj02(tmp_path: Path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "name,lon,lat\n" + "".join(f"s{i},{x!r},{y!r}\n" for i, (x, y) in enumerate(GCJ_POINTS)),
        encoding="utf-8",
    )
    frame = read_vector(path, crs="gcj02")
    assert frame.crs.to_epsg() == 4326
    exp_lon, exp_lat = gcj02_to_wgs84([p[0] for p in GCJ_POINTS], [p[1] for p in GCJ_POINTS])
    np.testing.assert_allclose(frame.geometry.x.to_numpy(), exp_lon, rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame.geometry.y.to_numpy(), exp_lat, rtol=0, atol=1e-9)
    assert list(frame["name"]) == ["s0", "s1"]


def test_read_csv_without_crs_is_refused(tmp_path: Path):
    path = tmp_path / "sites.csv"
    path.write_text("lon,lat\n113.3,23.1\n", encoding="utf-8")
    with pytest.raises(SiteTableError, match="CRS"):
        read_vector(path)


def test_read_gpkg_with_contradicting_declared_crs(tmp_path: Path):
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame(
        {"id": [1]}, geometry=[shapely.Point(500_000.0, 2_550_000.0)], crs="EPSG:32649"
    ).to_file(path, driver="GPKG")
    with pytest.raises(CRSError, match="contradicts"):
        read_vector(path, crs="EPSG:4326")
