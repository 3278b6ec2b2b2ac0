"""Groups of districts (``[inputs.districts].group_column``): one row per group between the
districts and the city, the sum of its districts' figures (the union of their cells under
``all_touched``), targets per group, the reader's and the scenario's checks.

Four districts in a 2 x 2 layout on a 2 km square, their borders off the 100 m cell edges (so
``fraction`` splits cells and ``all_touched`` counts a border cell in both districts), in two
groups given interleaved in the file (A, B, A, B) so that a group is not a run of rows.
"""

from __future__ import annotations

import json
import math
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio.features
import shapely

import citycov
from citycov.accounting.districts import CITY_ID, Grids, district_table, group_weights, network_table
from citycov.accounting.population import zonal_weights
from citycov.accounting.targets import evaluate_targets
from citycov.config import Target
from citycov.errors import BoundaryError, ScenarioError
from citycov.grid import GridSpec
from citycov.io.boundaries import Districts, read_districts

from .conftest import UTM49, X0, Y0, make_tiny

SIDE_M = 2000.0
SPLIT_X, SPLIT_Y = 1050.0, 950.0  # mid-cell: both borders cut a row or column of cells
IDS = ["11", "21", "12", "22"]
GROUP_OF = {"11": "A", "12": "A", "21": "B", "22": "B"}
COUNTS = ("population", "population_covered", "population_cellular", "population_wlan", "households",
          "households_passed", "urban_area_km2", "urban_area_3g_km2", "villages", "villages_covered", "area_km2",
          "population_input")


def quadrants(x0: float, y0: float, side_m: float, split_x: float, split_y: float) -> list[shapely.Polygon]:
    """Bottom-left, bottom-right, top-left, top-right (the order of :data:`IDS`)."""
    sx, sy = x0 + split_x, y0 + split_y
    x1, y1 = x0 + side_m, y0 + side_m
    return [shapely.box(x0, y0, sx, sy), shapely.box(sx, y0, x1, sy), shapely.box(x0, sy, sx, y1),
            shapely.box(sx, sy, x1, y1)]


def write_districts(path, geoms, *, groups=None, drop=None, **columns):
    """A district file with adcode, names and the groups' columns (city_adcode, city_en, city)."""
    groups = groups or [GROUP_OF[i] for i in IDS]
    data = {"adcode": IDS, "name_en": [f"D{i}" for i in IDS], "name": [f"区{i}" for i in IDS],
            "city_adcode": groups, "city_en": [f"City {g}" for g in groups], "city": [f"市{g}" for g in groups]}
    data.update(columns)
    if drop:
        del data[drop]
    gpd.GeoDataFrame(data, geometry=geoms, crs=UTM49).to_file(path, driver="GPKG")
    return path


GROUP_OPTIONS = {"group_column": "city_adcode", "group_name_column": "city_en", "group_local_name_column": "city"}


def read(path, **options) -> Districts:
    return read_districts(path, id_column="adcode", name_column="name_en", local_name_column="name",
                          **(GROUP_OPTIONS | options))


@pytest.fixture
def layout(tmp_path):
    """Districts (with groups), grid and per-cell inputs with random values."""
    d = read(write_districts(tmp_path / "d.gpkg", quadrants(X0, Y0, SIDE_M, SPLIT_X, SPLIT_Y)))
    grid = GridSpec.from_bounds((X0, Y0, X0 + SIDE_M, Y0 + SIDE_M), cell_m=100.0, crs=pyproj.CRS(UTM49))
    rng = np.random.default_rng(14)
    pop = rng.uniform(0, 50, grid.shape)
    masks = {k: rng.random(grid.shape) < p for k, p in (("wireless", 0.7), ("cellular", 0.6), ("wlan", 0.2),
                                                        ("g3", 0.8), ("urban", 0.5))}
    grids = Grids(population=pop, households=pop / 2.5, wireless=masks["wireless"], cellular=masks["cellular"],
                  wlan=masks["wlan"], g3_or_better=masks["g3"], urban=masks["urban"],
                  households_passed=pop / 2.5 * rng.random(grid.shape), cell_area_km2=grid.cell_area_km2)
    return d, grid, grids


def table_for(d: Districts, grid: GridSpec, grids: Grids, rule: str, census_factor=None) -> pd.DataFrame:
    weights = zonal_weights(d, grid, rule)
    city = None
    if rule == "all_touched":  # the union of the districts, as citycov.pipeline.layers does
        union = Districts(gpd.GeoDataFrame({"district_id": ["u"], "name": ["u"], "name_local": [""]},
                                           geometry=[d.frame.union_all()], crs=d.frame.crs))
        city = zonal_weights(union, grid, rule)
    factor = np.ones(len(d)) if census_factor is None else census_factor
    return district_table(d, weights, city, grids, census_factor=factor,
                          villages=(np.array([3.0, 1.0, 4.0, 2.0]), np.array([2.0, 1.0, 1.0, 0.0])),
                          premises=None, population_input=np.array([100.0, 200.0, 300.0, 400.0]),
                          group_weights=group_weights(weights, d) if city is not None else None)


def test_reader_keeps_groups_in_order_of_first_appearance(layout):
    d, _, _ = layout
    assert d.has_groups
    assert list(d.groups.index) == ["A", "B"]
    assert list(d.groups["name"]) == ["City A", "City B"] and list(d.groups["name_local"]) == ["市A", "市B"]
    assert list(d.group_index) == [0, 1, 0, 1]


@pytest.mark.parametrize("rule", ["fraction", "centroid"])
def test_group_rows_are_the_sums_of_their_districts(layout, rule):
    d, grid, grids = layout
    table = table_for(d, grid, grids, rule)
    assert list(table.index) == [*IDS, "A", "B", CITY_ID]
    assert list(table["area_kind"]) == ["district"] * 4 + ["group"] * 2 + ["total"]
    assert list(table["group_id"]) == ["A", "B", "A", "B", "A", "B", ""]
    assert list(table.loc[["A", "B"], "name"]) == ["City A", "City B"]
    assert list(table.loc[["A", "B"], "name_local"]) == ["市A", "市B"]
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        for col in COUNTS:
            assert table.loc[group, col] == pytest.approx(table.loc[members, col].sum(), rel=1e-12, abs=1e-9), col
        # the share of the sums, never the mean of the shares
        pop, covered = table.loc[members, "population"].sum(), table.loc[members, "population_covered"].sum()
        assert table.loc[group, "wireless_pct"] == pytest.approx(100 * covered / pop, rel=1e-12)
        assert math.isnan(table.loc[group, "census_factor"])
    # groups partition the districts here: the city is the sum of the groups too
    assert table.loc[CITY_ID, "population"] == pytest.approx(table.loc[["A", "B"], "population"].sum(), rel=1e-12)
    # under fraction each group holds exactly the residents of its polygons (a hand check of the split)
    if rule == "fraction":
        left = grids.population[:, :10].sum() + 0.5 * grids.population[:, 10].sum()
        assert table.loc["A", "population"] == pytest.approx(left, rel=1e-9)


def _union_cells(d: Districts, grid: GridSpec, group: str) -> np.ndarray:
    """Cells of the union of a group's polygons under all_touched (rasterio on the dissolved shape)."""
    geom = shapely.union_all([g for g, gid in zip(d.frame.geometry, d.frame["group_id"], strict=True) if gid == group])
    return rasterio.features.rasterize([(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                                       dtype="uint8", all_touched=True).astype(bool)


def test_all_touched_group_is_the_union_of_its_districts(layout):
    d, grid, grids = layout
    table = table_for(d, grid, grids, "all_touched")
    pop = grids.population
    for group in ("A", "B"):
        cells = _union_cells(d, grid, group)
        members = [i for i in IDS if GROUP_OF[i] == group]
        assert table.loc[group, "population"] == pytest.approx(pop[cells].sum(), rel=1e-9)
        assert table.loc[group, "population_covered"] == pytest.approx(pop[cells & grids.wireless].sum(), rel=1e-9)
        assert table.loc[group, "households_passed"] == pytest.approx(grids.households_passed[cells].sum(), rel=1e-9)
        assert table.loc[group, "area_km2"] == pytest.approx(cells.sum() * 0.01, rel=1e-6)  # float32 cell areas
        assert table.loc[group, "urban_area_3g_km2"] == pytest.approx(
            (cells & grids.urban & grids.g3_or_better).sum() * 0.01, rel=1e-6)
        # the row of cells on the border inside the group counts once, not twice as in the sum
        assert table.loc[group, "population"] < table.loc[members, "population"].sum() - 1.0
        # counted inputs (villages by the cell-centre rule) are still the sums
        assert table.loc[group, "villages"] == table.loc[members, "villages"].sum()
        assert table.loc[group, "wireless_pct"] == pytest.approx(
            100 * pop[cells & grids.wireless].sum() / pop[cells].sum(), rel=1e-9)


def test_all_touched_rescaled_groups_are_the_sums_of_the_rescaled_districts(layout):
    d, grid, grids = layout
    factor = np.array([1.1, 0.9, 1.2, 0.8])
    table = table_for(d, grid, grids, "all_touched", census_factor=factor)
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        assert table.loc[group, "population"] == pytest.approx(table.loc[members, "population"].sum(), rel=1e-12)
        # areas are never rescaled: still the union
        assert table.loc[group, "area_km2"] == pytest.approx(_union_cells(d, grid, group).sum() * 0.01, rel=1e-6)


@pytest.mark.parametrize("rule", ["fraction", "all_touched"])
def test_network_table_has_the_group_rows(layout, rule):
    d, grid, grids = layout
    weights = zonal_weights(d, grid, rule)
    city = gw = None
    if rule == "all_touched":
        union = Districts(gpd.GeoDataFrame({"district_id": ["u"], "name": ["u"], "name_local": [""]},
                                           geometry=[d.frame.union_all()], crs=d.frame.crs))
        city, gw = zonal_weights(union, grid, rule), group_weights(weights, d)
    net = network_table(d, weights, city, grids.population, {("4G", "any"): grids.wireless}, np.ones(4),
                        group_weights=gw).set_index("area_id")
    assert list(net.index) == [*IDS, "A", "B", CITY_ID]
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        if rule == "fraction":
            expected = net.loc[members, "population_covered"].sum()
        else:
            expected = grids.population[_union_cells(d, grid, group) & grids.wireless].sum()
        assert net.loc[group, "population_covered"] == pytest.approx(expected, rel=1e-9)


def test_all_touched_without_group_weights_is_refused(layout):
    d, grid, grids = layout
    weights = zonal_weights(d, grid, "all_touched")
    with pytest.raises(ValueError, match="group_weights"):
        district_table(d, weights, weights, grids, census_factor=np.ones(4))
    with pytest.raises(ValueError, match="0/1 weights"):
        group_weights(zonal_weights(d, grid, "fraction"), d)


def test_targets_are_evaluated_per_group(layout):
    d, grid, grids = layout
    table = table_for(d, grid, grids, "fraction")
    target = Target(metric="wireless_population", threshold=0.8, label="80%", scope="districts")
    results = {r.area_id: r for r in evaluate_targets((target,), table)}
    assert set(results) == {*IDS, "A", "B", CITY_ID}
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        num, den = table.loc[members, "population_covered"].sum(), table.loc[members, "population"].sum()
        r = results[group]
        assert r.value == pytest.approx(num / den, rel=1e-12)
        assert r.passed == (num / den >= 0.8)
        assert r.gap == max(0.0, math.ceil(0.8 * den - num - 1e-9))
    city_only = Target(metric="wireless_population", threshold=0.8, label="80%", scope="city")
    assert [r.area_id for r in evaluate_targets((city_only,), table)] == [CITY_ID]


# -- bad input --------------------------------------------------------------------------------------

def test_missing_group_column_is_named(tmp_path):
    path = write_districts(tmp_path / "d.gpkg", quadrants(X0, Y0, SIDE_M, SPLIT_X, SPLIT_Y), drop="city_adcode")
    with pytest.raises(BoundaryError, match=r"d\.gpkg.*city_adcode"):
        read(path)


def test_every_group_problem_is_listed_at_once(tmp_path):
    # feature 2 has no group, feature 3's group is a district id, feature 4's is "city"
    path = write_districts(tmp_path / "d.gpkg", quadrants(X0, Y0, SIDE_M, SPLIT_X, SPLIT_Y),
                           groups=["A", "", "11", "city"])
    with pytest.raises(BoundaryError) as err:
        read(path)
    msg = str(err.value)
    assert "d.gpkg" in msg
    assert "city_adcode (group_column): empty at feature 2" in msg
    assert "group ids ['11', 'city'] at feature 3, feature 4 equal a district id (adcode) or 'city'" in msg


def test_a_group_with_two_names_is_refused(tmp_path):
    path = write_districts(tmp_path / "d.gpkg", quadrants(X0, Y0, SIDE_M, SPLIT_X, SPLIT_Y),
                           city_en=["City A", "City B", "Another A", "City B"])
    with pytest.raises(BoundaryError, match=r"city_en: groups \['A'\] \(city_adcode\) have more than one name, at "
                                            r"feature 1, feature 3"):
        read(path)


def test_group_names_without_group_column_are_refused(tmp_path):
    path = write_districts(tmp_path / "d.gpkg", quadrants(X0, Y0, SIDE_M, SPLIT_X, SPLIT_Y))
    with pytest.raises(BoundaryError, match="given without group_column"):
        read_districts(path, id_column="adcode", name_column="name_en", group_name_column="city_en")


def test_scenario_checks_the_group_options(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    text = tiny.scenario.read_text(encoding="utf-8")
    tiny.scenario.write_text(text.replace('name_zh_column = "name"\n',
                                          'name_zh_column = "name"\ngroup_name_column = "city_en"\n'), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\[inputs\.districts\]: group_name_column given without group_column"):
        citycov.load_scenario(tiny.scenario)
    tiny.scenario.write_text(text.replace('name_zh_column = "name"\n',
                                          'name_zh_column = "name"\ngroup_column = "adcode"\n'), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\[inputs\.districts\]\.group_column 'adcode' is the id column"):
        citycov.load_scenario(tiny.scenario)


# -- end to end -------------------------------------------------------------------------------------

def grouped_tiny(folder, *, rule: str = "fraction"):
    """The tiny scenario (10 km square, one omni site at its centre) cut into four districts in two groups."""
    tiny = make_tiny(folder, targets="""
    [[targets]]
    metric = "wireless_population"
    threshold = 0.5
    label = "half"
    """, extra=f"""
    [accounting]
    zonal_rule = "{rule}"
    """)
    write_districts(folder / "districts.gpkg", quadrants(X0, Y0, 10_000.0, 5050.0, 4950.0))
    text = tiny.scenario.read_text(encoding="utf-8")
    tiny.scenario.write_text(text.replace('name_zh_column = "name"\n', 'name_zh_column = "name"\n'
                                          'group_column = "city_adcode"\ngroup_name_column = "city_en"\n'
                                          'group_local_name_column = "city"\n'),
                             encoding="utf-8")
    return tiny


def test_pipeline_writes_group_rows_and_targets(tmp_path):
    tiny = grouped_tiny(tmp_path / "t")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    t = res.table
    assert list(t.index) == [*IDS, "A", "B", CITY_ID]
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        for col in ("population", "population_covered", "households", "households_passed", "area_km2"):
            assert t.loc[group, col] == pytest.approx(t.loc[members, col].sum(), rel=1e-9), col
    # half the square each (the split is 50 m off the middle: 50.5 and 49.5 km², 1,000 residents/km²)
    assert t.loc["A", "population"] == pytest.approx(50_500.0, rel=1e-6)
    assert {r.area_id for r in res.target_results} == {*IDS, "A", "B", CITY_ID}
    net = res.networks.set_index(["area_id", "technology", "operator"])
    assert net.loc[("A", "4G", "any"), "population_covered"] == pytest.approx(t.loc["A", "population_covered"],
                                                                             rel=1e-9)
    paths = citycov.write_outputs(res, tmp_path / "out")
    rows = pd.read_csv(paths["districts.csv"], dtype={"area_id": str, "group_id": str}, keep_default_na=False)
    assert list(rows["area_id"]) == [*IDS, "A", "B", CITY_ID]
    assert list(rows["area_kind"]) == ["district"] * 4 + ["group"] * 2 + ["total"]
    assert list(rows["group_id"]) == ["A", "B", "A", "B", "A", "B", ""]
    targets = pd.read_csv(paths["targets.csv"], dtype={"area_id": str})
    sel = targets.set_index("area_id").loc["B"]
    assert sel["name"] == "City B"
    assert sel["value_pct"] == pytest.approx(100 * t.loc["B", "population_covered"] / t.loc["B", "population"],
                                             abs=1e-4)
    report = paths["report.md"].read_text(encoding="utf-8")
    groups_at = report.index("## Targets by group of districts")
    assert groups_at < report.index("## Targets by district") < report.index("## Groups of districts") < report.index(
        "## Districts")
    assert "| City A | 市A | wireless_population ≥ 50% |" in report
    assert "| D11 | City A | 区11 | wireless_population ≥ 50% |" in report
    html = paths["report.html"].read_text(encoding="utf-8")
    assert "id='targets-group'" in html and "data-area='A'" in html
    # every written column is defined: the group columns too
    definitions = report.split("## Definitions")[1].split("## Method")[0]
    assert "- `area_kind`: the kind of row: district, group" in definitions
    assert "- `group_id`: a district's group" in definitions
    doc = json.loads(paths["districts.json"].read_text(encoding="utf-8"))
    assert {"area_kind", "group_id"} <= set(doc["field_definitions"])


def test_pipeline_all_touched_groups_count_a_border_cell_once(tmp_path):
    tiny = grouped_tiny(tmp_path / "t", rule="all_touched")
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    t = res.table
    for group in ("A", "B"):
        members = [i for i in IDS if GROUP_OF[i] == group]
        # the row of cells on the border inside the group (y 4,900-5,000 m) counts once: 51 cells of 10
        # residents in A (x 0-5,100 m), 50 in B (x 5,000-10,000 m)
        twice = {"A": 51, "B": 50}[group] * 10.0
        assert t.loc[group, "population"] == pytest.approx(t.loc[members, "population"].sum() - twice, rel=1e-6)


def test_without_groups_the_tables_keep_their_columns(tmp_path, tiny):
    res = citycov.run(citycov.load_scenario(tiny.scenario))
    paths = citycov.write_outputs(res, tmp_path / "out")
    header = paths["districts.csv"].read_text(encoding="utf-8").splitlines()[0].split(",")
    assert "area_kind" not in header and "group_id" not in header
    report = paths["report.md"].read_text(encoding="utf-8")
    assert "group" not in report.split("## Definitions")[0].lower()
    assert "area_kind" not in report and "group_id" not in report
    doc = json.loads(paths["districts.json"].read_text(encoding="utf-8"))
    assert not {"area_kind", "group_id"} & set(doc["field_definitions"])


def test_guangdong_scenario_groups_the_units_by_prefecture_city():
    """data/guangdong.toml's group options on the real district file: 21 prefecture cities with
    their published counts of county-level units (Dongguan and Zhongshan: one unit each, whose
    adcode is the city's, hence the names as group ids)."""
    from .test_data_guangdong import DATA, UNITS_PER_CITY

    doc = tomllib.loads((DATA / "guangdong.toml").read_text(encoding="utf-8"))
    spec = doc["inputs"]["districts"]
    options = {k: v for k, v in spec.items() if k.endswith("_column")}
    d = read_districts(DATA / spec["path"], crs=spec["crs"], **options)
    sizes = pd.Series(d.group_index).value_counts()
    assert {d.groups.index[i]: n for i, n in sizes.items()} == UNITS_PER_CITY
    assert d.groups.loc["Guangzhou", "name_local"] == "广州市"
    with pytest.raises(BoundaryError, match=r"group ids \['441900', '442000'\] .* equal a district id"):
        read_districts(DATA / spec["path"], crs=spec["crs"], **(options | {"group_column": "city_adcode"}))
