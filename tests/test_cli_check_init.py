"""``citycov check`` and ``citycov init``: every input validated without an engine run, every
problem listed (exit 2); a scenario written from downloaded-style files that loads, checks and
runs without edits."""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from click.testing import CliRunner

from citycov.cli import cli
from citycov.config import RadioConfig, load_scenario
from citycov.engine.cellular import sector_reach_m
from citycov.preflight import check_scenario
from citycov.preflight.check import sample_elevation_m
from citycov.preflight.detect import detect_districts, detect_points, detect_population, is_opencellid

from .conftest import X0, Y0, make_tiny, write_raster

L93 = "EPSG:2154"
EX, EY = 565_000.0, 6_877_000.0  # Lambert-93, near Évreux
SIDE_M = 3000.0
OCID_HEADER = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
               "created", "updated", "averageSignal"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not (result.exception and not isinstance(result.exception, SystemExit)), result.output
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def section(output: str, title: str) -> str:
    """The indented lines of ``title:`` in the check's output."""
    lines = output.splitlines()
    start = lines.index(f"{title}:")
    body = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        body.append(line)
    return "\n".join(body)


def make_french_inputs(folder: Path) -> dict[str, Path]:
    """Three 3 km communes in Lambert-93 with accented names, an EPSG:4326 population raster
    (5 persons per 0.001° cell, nodata -99999 in its top rows), a flat-ish DEM in EPSG:4326 and an
    OpenCelliD export (4 LTE, 4 UMTS, 1 GSM cells of MCC 208) inside the communes."""
    folder.mkdir(parents=True, exist_ok=True)
    polys = [shapely.box(EX + i * SIDE_M, EY, EX + (i + 1) * SIDE_M, EY + SIDE_M) for i in range(3)]
    gpd.GeoDataFrame({"CODE_DEPT": ["27", "50", "27"], "INSEE_COM": ["27229", "50502", "27299"],
                      "NOM": ["Évreux", "Saint-Lô", "Gravigny"], "POPULATION": [46700, 18600, 4000]},
                     geometry=polys, crs=L93).to_file(folder / "communes.gpkg", driver="GPKG")
    to_ll = pyproj.Transformer.from_crs(L93, "EPSG:4326", always_xy=True)
    lon0, lat0, lon1, lat1 = to_ll.transform_bounds(EX - 3000, EY - 3000, EX + 3 * SIDE_M + 3000, EY + SIDE_M + 3000)
    res = 0.001
    w, h = int((lon1 - lon0) / res) + 1, int((lat1 - lat0) / res) + 1
    pop = np.full((h, w), 5.0, dtype=np.float32)
    pop[:3, :] = -99999.0
    write_raster(folder / "population.tif", pop, x0=lon0, y1=lat1, cell_m=res, crs="EPSG:4326", nodata=-99999.0)
    dem = (60.0 + 0.5 * np.arange(w)[None, :] + np.zeros((h, 1))).astype(np.float32)
    write_raster(folder / "dem.tif", dem, x0=lon0, y1=lat1, cell_m=res, crs="EPSG:4326", nodata=-32768.0)
    rows = []
    for k, (x, y) in enumerate([(EX + 1500, EY + 1500), (EX + 4500, EY + 1500), (EX + 7500, EY + 1500),
                                (EX + 4500, EY + 2500)]):
        lon, lat = to_ll.transform(x, y)
        rows.append(["LTE", 208, 1, 100, 256 * (1000 + k) + 1, 10, round(lon, 6), round(lat, 6), 500, 20, 1,
                     1500000000, 1700000000, 0])
        rows.append(["UMTS", 208, 10, 200, 5000 + k, 20, round(lon + 0.001, 6), round(lat, 6), 800, 5, 1,
                     1500000000, 1700000000, 0])
    rows.append(["GSM", 208, 20, 300, 77, 0, round(lon, 6), round(lat, 6), 1000, 3, 1, 1500000000, 1700000000, 0])
    pd.DataFrame(rows, columns=OCID_HEADER).to_csv(folder / "208.csv", index=False)
    return {"districts": folder / "communes.gpkg", "population": folder / "population.tif",
            "terrain": folder / "dem.tif", "sites": folder / "208.csv"}


def init_args(paths: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return ["init", "--districts", str(paths["districts"]), "--population", str(paths["population"]),
            "--terrain", str(paths["terrain"]), "--sites", str(paths["sites"]), "--out", str(out),
            "--household-size", "2.19", "--household-source", "INSEE RP2021 (test)", *extra]


# -- check -------------------------------------------------------------------------------------

def test_check_guangzhou_default_is_usable_and_shows_grid_and_counts():
    code, out = invoke("check")
    assert code == 0, out
    # the grid and network of the default as README.md documents them (30 m: 5,261 x 3,727 cells;
    # 3,605 sites with 25,410 sectors; 11 districts)
    assert "30 m cells, 5,261 rows x 3,727 columns = 19,607,747 cells" in section(out, "analysis grid")
    assert "EPSG:32649" in section(out, "analysis grid")
    assert "11 districts" in section(out, "inputs")
    assert "25,410 sectors at 3,605 sites" in section(out, "sites")
    # 7th census city figure of the district table (data/population/README.md): 18,677,605
    assert "census 18,677,605" in section(out, "population per district")
    assert "ok" in section(out, "targets") and "NOT USABLE" not in out
    assert out.rstrip().splitlines()[-1].startswith("check: usable")


def test_check_lists_every_broken_input_and_exits_2(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    # sectors: coordinate columns renamed (the scenario names x/y)
    pd.read_csv(tiny.sectors).rename(columns={"x": "easting", "y": "northing"}).to_csv(tiny.sectors, index=False)
    # terrain: a DEM 100 km east of the district
    write_raster(tiny.folder / "dem.tif", np.full((20, 20), 10.0, dtype=np.float32), x0=X0 + 100_000.0,
                 y1=Y0 + 2000.0, cell_m=100.0, nodata=-9999.0)
    # fibre nodes: degrees written where the scenario declares UTM metres
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "x": [113.3], "y": [23.1], "ports": [288]}).to_csv(
        tiny.folder / "fibre_nodes.csv", index=False)
    # population: a negative cell and no nodata value
    values = np.full((100, 100), 10.0, dtype=np.float32)
    values[0, 0] = -99999.0
    write_raster(tiny.folder / "population.tif", values, x0=X0, y1=Y0 + 10_000.0, cell_m=100.0)
    code, out = invoke("check", str(tiny.scenario))
    assert code == 2, out
    problems = section(out, "problems (4)")
    assert "[inputs.sectors]" in problems and "missing coordinate columns" in problems
    assert "[inputs.terrain]" in problems and "no terrain for" in problems
    assert "[inputs.fibre_nodes]" in problems and "outside" in problems
    assert "[inputs.population]" in problems and "negative population" in problems
    assert out.rstrip().splitlines()[-1].startswith("check: NOT USABLE: 4 problem(s)")


def test_check_of_a_scenario_that_does_not_load_lists_each_missing_file(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    (tiny.folder / "dem.tif").unlink()
    (tiny.folder / "sectors.csv").unlink()
    code, out = invoke("check", str(tiny.scenario))
    assert code == 2
    problems = section(out, "problems (2)")
    assert "[inputs.terrain].path: file not found" in problems
    assert "[inputs.sectors].path: file not found" in problems


def test_check_needs_terrain_under_every_site_that_reaches_a_district(tmp_path):
    # a site 1.5 km west of the 10 km district (within the 900 MHz reach) where the DEM, which
    # covers the district and 1 km around it only, has no cell
    tiny = make_tiny(tmp_path / "t", sectors=None)
    write_raster(tiny.folder / "dem.tif", np.full((120, 120), 10.0, dtype=np.float32), x0=X0 - 1000.0,
                 y1=Y0 + 11_000.0, cell_m=100.0, nodata=-9999.0)
    rows = pd.read_csv(tiny.sectors)
    far = rows.assign(site_id="S2", sector_id="S2-1", x=X0 - 1500.0)
    pd.concat([rows, far]).to_csv(tiny.sectors, index=False)
    code, out = invoke("check", str(tiny.scenario))
    assert code == 2, out
    problems = section(out, "problems (1)")
    assert "no elevation under 1 sectors that can reach a district (['S2-1']" in problems
    assert "2 sectors at 2 sites: 1 in the districts, 0 outside them on the grid, 1 outside the grid" in out


def test_sample_elevation_reads_the_cell_holding_each_point(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    values[2, 3] = -9999.0
    write_raster(tmp_path / "dem.tif", values, x0=X0, y1=Y0 + 300.0, cell_m=100.0, nodata=-9999.0)
    crs = pyproj.CRS("EPSG:32649")
    x = np.array([X0 + 50.0, X0 + 399.0, X0 + 150.0, X0 + 350.0, X0 - 1.0])
    y = np.array([Y0 + 299.0, Y0 + 201.0, Y0 + 1.0, Y0 + 50.0, Y0 + 150.0])
    z = sample_elevation_m(tmp_path / "dem.tif", x, y, crs)
    # cells (row 0, col 0) = 0, (0, 3) = 3, (2, 1) = 9, (2, 3) nodata, off the DEM
    np.testing.assert_array_equal(z[:3], [0.0, 3.0, 9.0])
    assert np.isnan(z[3:]).all()


def test_sector_reach_is_where_open_area_hata_meets_the_floor():
    # LTE 20 MHz (100 resource blocks, TS 36.101): RS EIRP = 40 - 10 log10(1200) dBm.  Open-area
    # Okumura-Hata (Hata 1980), f = 900 MHz, hb = 30 m, hm = 1.5 m, written out independently:
    f, hb, hm = 900.0, 30.0, 1.5
    a_hm = (1.1 * math.log10(f) - 0.7) * hm - (1.56 * math.log10(f) - 0.8)
    urban_1km = 69.55 + 26.16 * math.log10(f) - 13.82 * math.log10(hb) - a_hm
    open_1km = urban_1km - 4.78 * math.log10(f) ** 2 + 18.33 * math.log10(f) - 40.94
    slope = 44.9 - 6.55 * math.log10(hb)
    max_loss = 40.0 - 10 * math.log10(1200) - (-125.0)
    expected_km = 10 ** ((max_loss - open_1km) / slope)
    table = pd.DataFrame({"sector_id": ["A"], "technology": ["4G"], "freq_mhz": [f], "bandwidth_mhz": [20.0],
                          "height_m": [hb], "eirp_dbm": [40.0]})
    reach = sector_reach_m(table, RadioConfig(floor_dbm=-125.0, rx_height_m=hm, max_range_km=50.0))
    assert reach[0] / 1000.0 == pytest.approx(expected_km, rel=1e-6)
    capped = sector_reach_m(table, RadioConfig(floor_dbm=-125.0, rx_height_m=hm, max_range_km=5.0))
    assert capped[0] == pytest.approx(5000.0)


# -- init --------------------------------------------------------------------------------------

def test_init_detects_columns_crs_and_units(tmp_path):
    paths = make_french_inputs(tmp_path / "in")
    d = detect_districts(paths["districts"])
    assert (d.keys["id_column"], d.keys["name_column"]) == ("INSEE_COM", "NOM")
    assert d.crs.equals(pyproj.CRS(L93))
    assert "Évreux, Saint-Lô, Gravigny" in d.comments["name_column"]
    p = detect_population(paths["population"])
    assert p.keys["units"] == "count" and p.crs.equals(pyproj.CRS("EPSG:4326"))
    assert any("nodata -99999.0" in n for n in p.notes)
    assert is_opencellid(paths["sites"])


def test_init_takes_borough_columns_and_densities(tmp_path):
    boroughs = gpd.GeoDataFrame({"BoroName": ["Manhattan", "Bronx"], "BoroCode": [1, 2], "Shape_Area": [1.0, 1.0]},
                                geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:4326")
    boroughs.to_file(tmp_path / "boroughs.geojson", driver="GeoJSON")
    d = detect_districts(tmp_path / "boroughs.geojson")
    assert (d.keys["id_column"], d.keys["name_column"]) == ("BoroCode", "BoroName")
    # 20,000 persons/km² on 100 m cells: read as counts, 2,000,000 persons/km², impossible
    write_raster(tmp_path / "pop.tif", np.full((4, 4), 20_000.0, dtype=np.float32), x0=X0, y1=Y0, cell_m=100.0)
    assert detect_population(tmp_path / "pop.tif").keys["units"] == "per_km2"


def test_init_writes_a_scenario_that_loads_checks_and_runs(tmp_path):
    paths = make_french_inputs(tmp_path / "in")
    out = tmp_path / "scen" / "evreux.toml"
    code, text = invoke(*init_args(paths, out, "--name", 'Évreux "test"'))
    assert code == 0, text
    assert "check: usable" in text
    raw = tomllib.loads(out.read_text(encoding="utf-8"))
    assert raw["inputs"]["districts"]["path"] == "../in/communes.gpkg"
    assert "opencellid" in raw["inputs"] and "sectors" not in raw["inputs"]
    assert [t["metric"] for t in raw["targets"]] == ["wireless_population"]
    sc = load_scenario(out)
    assert sc.name == 'Évreux "test"'
    assert sc.inputs["districts"].options == {"id_column": "INSEE_COM", "name_column": "NOM",
                                              "name_zh_column": "NOM"}
    assert sc.inputs["population"].options["units"] == "count"
    assert sc.inputs["terrain"].path == paths["terrain"].resolve()
    assert check_scenario(out).usable
    # residents per district: 5 persons per 0.001° cell, i.e. 5 / (cell area) per km², times 9 km²
    geod = pyproj.Geod(ellps="WGS84")
    lon, lat = pyproj.Transformer.from_crs(L93, "EPSG:4326", always_xy=True).transform(EX + 1500, EY + 1500)
    cell_km2 = abs(geod.polygon_area_perimeter([lon, lon + 0.001, lon + 0.001, lon],
                                               [lat, lat, lat + 0.001, lat + 0.001])[0]) / 1e6
    line = next(ln for ln in text.splitlines() if "27229 Évreux:" in ln)
    assert float(line.split(":")[1].replace(",", "")) == pytest.approx(5.0 / cell_km2 * 9.0, rel=0.01)
    proc = subprocess.run([sys.executable, "-m", "citycov", "-q", "run", str(out), "--cell-m", "500", "--out",
                           str(tmp_path / "res"), "--no-progress"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "res" / "districts.csv", dtype={"district_id": str})
    assert set(table["name"]) >= {"Évreux", "Saint-Lô", "Gravigny"}


def test_init_with_fibre_and_household_size_adds_an_ftth_target(tmp_path):
    paths = make_french_inputs(tmp_path / "in")
    to_ll = pyproj.Transformer.from_crs(L93, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(EX + 4500, EY + 1500)
    pd.DataFrame({"node_id": ["N1"], "kind": ["cabinet"], "longitude": [lon], "latitude": [lat],
                  "ports": [288]}).to_csv(tmp_path / "in" / "nodes.csv", index=False)
    out = tmp_path / "s.toml"
    code, text = invoke(*init_args(paths, out, "--fibre-nodes", str(tmp_path / "in" / "nodes.csv"),
                                   "--household-size", "2.19", "--household-source", "INSEE RP2021"))
    assert code == 0, text
    sc = load_scenario(out)
    assert [t.metric for t in sc.targets] == ["wireless_population", "ftth_households"]
    assert sc.households.persons_per_household == 2.19
    assert sc.inputs["fibre_nodes"].options == {"lon_column": "longitude", "lat_column": "latitude"}
    assert sc.households.source == "INSEE RP2021"
    assert 'source = "INSEE RP2021"' in out.read_text(encoding="utf-8")


def test_init_projected_sector_table_without_inferable_crs_fails_check_with_a_todo(tmp_path):
    paths = make_french_inputs(tmp_path / "in")
    # x/y in metres far from the communes' Lambert-93 extent: no CRS can be inferred
    from .conftest import sector_row

    pd.DataFrame([sector_row(x=2_000_000.0, y=1_000_000.0)]).to_csv(tmp_path / "in" / "sectors.csv", index=False)
    paths["sites"] = tmp_path / "in" / "sectors.csv"
    out = tmp_path / "s.toml"
    code, text = invoke(*init_args(paths, out))
    assert code == 2, text
    problems = section(text, next(ln[:-1] for ln in text.splitlines() if ln.startswith("problems (")))
    assert "TODO: the x/y columns look projected" in problems
    assert "[inputs.sectors]" in problems
    near = detect_districts(paths["districts"])
    same = tmp_path / "in" / "near.csv"
    pd.DataFrame([sector_row(x=EX + 100.0, y=EY + 100.0)]).to_csv(same, index=False)
    assert detect_points("sectors", same, near=near).keys["crs"] == "EPSG:2154"


def test_init_refuses_to_overwrite_without_force(tmp_path):
    paths = make_french_inputs(tmp_path / "in")
    out = tmp_path / "s.toml"
    out.write_text("# mine\n", encoding="utf-8")
    code, text = invoke(*init_args(paths, out))
    assert code == 1
    assert text.count("citycov: error:") == 1 and "exists" in text and "--force" in text
    assert out.read_text(encoding="utf-8") == "# mine\n"
    code, _ = invoke(*init_args(paths, out, "--force"))
    assert code == 0
    assert "[inputs.opencellid]" in out.read_text(encoding="utf-8")


def test_headerless_opencellid_export_is_recognised(tmp_path):
    path = tmp_path / "208.csv"
    path.write_text("LTE,208,1,100,256001,10,1.15,49.02,500,20,1,1500000000,1700000000,0\n", encoding="utf-8")
    assert is_opencellid(path)
    other = tmp_path / "sectors.csv"
    other.write_text("site_id,sector_id,lon,lat\nA,A1,1.15,49.02\n", encoding="utf-8")
    assert not is_opencellid(other)


def test_init_reads_accented_names_in_the_shapefile_encoding(tmp_path):
    frame = gpd.GeoDataFrame({"INSEE_COM": ["27229", "50502"], "NOM": ["Évreux", "Saint-Lô"]},
                             geometry=[shapely.box(EX, EY, EX + 1000, EY + 1000),
                                       shapely.box(EX + 1000, EY, EX + 2000, EY + 1000)], crs=L93)
    frame.to_file(tmp_path / "communes.shp", encoding="cp1252")  # Latin-1 bytes, with a .cpg naming them
    assert "É".encode("cp1252") in (tmp_path / "communes.dbf").read_bytes()
    d = detect_districts(tmp_path / "communes.shp")
    assert "Évreux, Saint-Lô" in d.comments["name_column"]
    assert any("communes.cpg: CP1252" in n for n in d.notes)


def test_check_lang_names_the_district_name_column(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    code, out = invoke("check", str(tiny.scenario), "--lang", "zh", "--cell-m", "500")
    assert code == 0, out
    assert "report language zh: district names from column 'name'" in out
    assert "500 m cells, 20 rows x 20 columns = 400 cells" in out  # 10 km square / 500 m
