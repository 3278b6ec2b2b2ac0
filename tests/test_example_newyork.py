"""The second embedded example, New York City: its data files and one run through the CLI.

Expectations come from outside citycov: the 2020 Census borough totals (US Census Bureau,
table P1), the borough areas the publisher stored in the Shapefile's own ``Shape_Area``
column (US survey square feet, computed by NYC DCP's ArcGIS in EPSG:2263), the SRTM tile
format (1201 x 1201 big-endian int16 points named by the south-west corner) and the
OpenCelliD column layout.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.features import rasterize

from .conftest import REPO

DATA = REPO / "data"
SCENARIO = DATA / "newyork.toml"
# 2020 Census, total population (P1), by BoroCode: Manhattan, Bronx, Brooklyn, Queens, Staten Island.
CENSUS_2020 = {"1": 1_694_251, "2": 1_472_654, "3": 2_736_074, "4": 2_405_464, "5": 495_747}
NAMES = {"1": "Manhattan", "2": "Bronx", "3": "Brooklyn", "4": "Queens", "5": "Staten Island"}
# Shape_Area of nybb 16A as published (US survey ft²); 1 US survey ft = 1200/3937 m.
SHAPE_AREA_FT2 = {"1": 636_471_539.774, "2": 1_186_924_686.49, "3": 1_937_478_507.61, "4": 3_045_212_795.2,
                  "5": 1_623_819_823.81}
SQ_FT_TO_KM2 = (1200.0 / 3937.0) ** 2 / 1e6
TILES = ("N40W074.hgt.zip", "N40W075.hgt.zip")


def test_census_table_holds_the_2020_figures():
    table = pd.read_csv(DATA / "population" / "newyork_borough_population.csv", dtype={"borocode": str})
    assert dict(zip(table["borocode"], table["census2020_population"], strict=True)) == CENSUS_2020
    assert table["census2020_population"].sum() == 8_804_190  # New York City, 2020 Census
    assert table["source"].str.contains("2020 Census").all()


def test_boundaries_are_the_published_shapefile_in_us_feet():
    boroughs = gpd.read_file(DATA / "boundaries" / "nybb_16a.zip")
    assert boroughs.crs.to_epsg() == 2263
    assert boroughs.crs.axis_info[0].unit_name == "US survey foot"
    stored = dict(zip(boroughs["BoroCode"].astype(int).astype(str), boroughs["Shape_Area"], strict=True))
    for code, ft2 in SHAPE_AREA_FT2.items():
        assert stored[code] == pytest.approx(ft2, rel=1e-9)
    # Land only (clipped at mean high water): about 783 km² in all.
    assert sum(SHAPE_AREA_FT2.values()) * SQ_FT_TO_KM2 == pytest.approx(783.1, abs=0.1)


def test_population_grid_is_worldpop_style_and_sums_to_the_census():
    path = DATA / "population" / "newyork_population_synthetic_3s.tif"
    boroughs = gpd.read_file(DATA / "boundaries" / "nybb_16a.zip").to_crs("EPSG:4326")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4326
        assert src.res == pytest.approx((3 / 3600, 3 / 3600), rel=1e-9)
        assert src.nodata == -99999 and src.dtypes[0] == "float32"
        assert src.tags()["SYNTHETIC"] == "yes"
        counts = src.read(1, masked=True).astype(np.float64)
        # Pixel-centre membership, the rule the generator calibrates with.
        code = rasterize(((g, int(c)) for g, c in zip(boroughs.geometry, boroughs["BoroCode"], strict=True)),
                         out_shape=counts.shape, transform=src.transform, fill=0)
    assert counts.min() >= 0.0
    assert not np.ma.getmaskarray(counts)[code > 0].any()  # every borough pixel has a value
    assert np.ma.getmaskarray(counts)[code == 0].all()  # outside the boroughs: nodata
    for c, total in CENSUS_2020.items():
        assert counts[code == int(c)].sum() == pytest.approx(total, abs=1.0)


@pytest.mark.parametrize("name", TILES)
def test_terrain_tiles_are_srtm_3_arcsecond(name):
    path = DATA / "terrain" / name
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == [name.removesuffix(".zip")]
        raw = zf.read(name.removesuffix(".zip"))
    assert len(raw) == 1201 * 1201 * 2
    heights = np.frombuffer(raw, dtype=">i2").reshape(1201, 1201)
    assert heights.min() >= 0 and heights.max() <= 130  # NYC's highest point, Todt Hill, is about 125 m
    south, west = int(name[1:3]), -int(name[4:7])
    with rasterio.open(path) as src:  # GDAL reads the zipped tile as it is
        assert src.driver == "SRTMHGT" and src.shape == (1201, 1201)
        # The tile's points lie on whole multiples of 3"; the first is its north-west corner.
        x0, y0 = src.xy(0, 0)
        assert (x0, y0) == pytest.approx((west, south + 1), abs=1e-9)
        np.testing.assert_array_equal(src.read(1), heights)


def test_opencellid_export_has_the_standard_columns_and_us_networks():
    table = pd.read_csv(DATA / "sites" / "newyork_opencellid_synthetic.csv", dtype={"mcc": str, "net": str})
    assert list(table.columns) == ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
                                   "changeable", "created", "updated", "averageSignal"]
    assert set(table["radio"]) == {"LTE", "NR"}
    assert set(zip(table["mcc"], table["net"], strict=True)) == {("310", "260"), ("310", "410"), ("311", "480")}
    assert table["lon"].between(-74.26, -73.70).all() and table["lat"].between(40.49, 40.92).all()
    assert not table.duplicated(["radio", "mcc", "net", "area", "cell"]).any()


def test_generator_is_deterministic(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_nyc_data.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for rel in ("population/newyork_borough_population.csv", "sites/newyork_opencellid_synthetic.csv",
                *(f"terrain/{t}" for t in TILES)):
        assert (tmp_path / rel).read_bytes() == (DATA / rel).read_bytes(), rel
    rel = "population/newyork_population_synthetic_3s.tif"
    with rasterio.open(tmp_path / rel) as new, rasterio.open(DATA / rel) as old:
        np.testing.assert_array_equal(new.read(1), old.read(1))
        assert new.transform == old.transform and new.tags() == old.tags()


@pytest.fixture(scope="module")
def newyork_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("newyork") / "out"
    proc = subprocess.run([sys.executable, "-m", "citycov", "run", str(SCENARIO), "--out", str(out),
                           "--cell-m", "250", "--no-progress"], capture_output=True, text=True, check=False)
    return proc, out


def test_example_runs_through_the_cli(newyork_run):
    proc, out = newyork_run
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "wireless broadband" in proc.stdout
    assert "synthetic inputs" in proc.stdout.lower()
    for name in ("report.md", "report.html", "map.html", "districts.csv", "districts.json", "coverage.tif"):
        assert (out / name).is_file(), name


def test_example_borough_populations_are_the_census_figures(newyork_run):
    _, out = newyork_run
    table = pd.read_csv(out / "districts.csv", dtype={"area_id": str}).set_index("area_id")
    for code, total in CENSUS_2020.items():
        assert table.loc[code, "name"] == NAMES[code]
        assert table.loc[code, "population"] == pytest.approx(total, rel=1e-6)
        # The analysis grid is UTM 18N (metres): areas from the feet-based file agree with the
        # publisher's own areas to the scale error of the two projections: UTM 18N shrinks areas by
        # about 0.06 % at 74 W (scale factor about 0.99969 there), the State Plane LCC by less.
        assert table.loc[code, "area_km2"] == pytest.approx(SHAPE_AREA_FT2[code] * SQ_FT_TO_KM2, rel=1e-3)
    boroughs = table.loc[list(CENSUS_2020)]
    assert boroughs["population"].sum() == pytest.approx(8_804_190, rel=1e-6)
    assert boroughs["wireless_pct"].between(0.0, 100.0).all()
    assert (boroughs["population_covered"] <= boroughs["population"] * (1 + 1e-9)).all()
    # The covered share is the covered residents over the residents.
    np.testing.assert_allclose(boroughs["wireless_pct"],
                               100.0 * boroughs["population_covered"] / boroughs["population"], atol=0.006)


def test_example_report_names_the_boroughs_and_labels_synthetic_inputs(newyork_run):
    _, out = newyork_run
    report = (out / "report.md").read_text(encoding="utf-8")
    for name in NAMES.values():
        assert name in report
    assert "SYNTHETIC" in report
    provenance = json.loads((out / "districts.json").read_text(encoding="utf-8"))["provenance"]
    inputs = {r["name"]: r for r in provenance["inputs"]}
    assert not inputs["districts"]["synthetic"]
    assert inputs["districts"]["path"].endswith("nybb_16a.zip")
    assert {"population", "terrain", "opencellid"} <= set(provenance["synthetic_inputs"])
    assert inputs["opencellid"]["rows"] == len(pd.read_csv(DATA / "sites" / "newyork_opencellid_synthetic.csv"))
    # The terrain is the two zipped SRTM tiles, each hashed in the provenance.
    tiles = {Path(t["file"]).name: t["sha256"] for t in inputs["terrain"]["tiles"]}
    assert tiles == {name: hashlib.sha256((DATA / "terrain" / name).read_bytes()).hexdigest() for name in TILES}
    # Operators named by their MCC-MNC (310-260 T-Mobile, 310-410 AT&T, 311-480 Verizon).
    networks = pd.read_csv(out / "networks.csv")
    assert set(networks["operator"]) - {"any"} == {"T-Mobile", "AT&T", "Verizon"}
