"""Candidate sites (lattice and file) and what each newly covers (the site matrix).

The lattice is checked against its definition written out by hand (node (i, j) at
x = (i + (j mod 2)/2)·s, y = j·s·√3/2) and by brute-force neighbour distances; the exclusions
against masks drawn by hand.  The matrix is checked against the honest reference: for each
candidate, a full run of the scenario with the candidate's sectors added
(``run(sc, additions=...)``), whose newly covered cells must be exactly the candidate's column.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine

import citycov
from citycov.config.plan import SiteCandidates, SiteTemplate
from citycov.engine.cellular import sector_reach_m
from citycov.engine.tiles import ReachLimit
from citycov.errors import ModelError, SiteTableError
from citycov.grid import GridSpec
from citycov.io import read_sectors
from citycov.pipeline.inputs import Additions, Inputs, add_planned
from citycov.pipeline.runner import run
from citycov.planning.candidates import (
    CANDIDATE_COLUMNS,
    candidate_sectors,
    lattice_sites,
    read_site_candidates,
    slope_deg,
)
from citycov.planning.site_matrix import coverage_reach_m, modelled_sectors, reach_caps, site_cover

from .conftest import REPO, UTM49, X0, Y0, make_tiny, sector_row, write_raster

CRS = pyproj.CRS(UTM49)
TO_WGS84 = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)


def square_grid(n: int, *, cell_m: float = 100.0) -> GridSpec:
    """n x n cells of ``cell_m`` with the south-west corner at (X0, Y0)."""
    return GridSpec(crs=CRS, transform=Affine(cell_m, 0.0, X0, 0.0, -cell_m, Y0 + n * cell_m), shape=(n, n))


def gap_frame(*boxes: tuple[float, float, float, float], population: float = 1000.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"gap_id": [f"G{k}" for k in range(len(boxes))], "population": population},
                            geometry=[shapely.box(*b) for b in boxes], crs=CRS)


def lattice_by_hand(box: tuple[float, float, float, float], s: float) -> set[tuple[float, float]]:
    """Every node of the lattice (i + (j mod 2)/2)·s, j·s·√3/2 in the closed box, rounded to 1 mm."""
    minx, miny, maxx, maxy = box
    h = s * math.sqrt(3.0) / 2.0
    out = set()
    for j in range(int(miny // h) - 2, int(maxy // h) + 3):
        for i in range(int(minx // s) - 2, int(maxx // s) + 3):
            x, y = (i + (j % 2) / 2.0) * s, j * h
            if minx <= x <= maxx and miny <= y <= maxy:
                out.add((round(x, 3), round(y, 3)))
    return out


def coords(frame: gpd.GeoDataFrame) -> set[tuple[float, float]]:
    return {(round(x, 3), round(y, 3)) for x, y in zip(frame.geometry.x, frame.geometry.y, strict=True)}


# -- the lattice ----------------------------------------------------------------------------------

def test_lattice_is_hexagonal_with_the_spacing():
    grid = square_grid(100)
    box = (X0 + 1000.0, Y0 + 1000.0, X0 + 9000.0, Y0 + 9000.0)
    s = 700.0
    sites = lattice_sites(grid=grid, gaps=gap_frame(box), district_index=np.zeros(grid.shape, np.int32),
                          dem_m=np.full(grid.shape, 10.0, np.float32), district_ids=["D1"],
                          config=SiteCandidates(spacing_m=s, margin_m=0.0))
    assert coords(sites) == lattice_by_hand(box, s)
    xy = np.column_stack([sites.geometry.x, sites.geometry.y])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    np.testing.assert_allclose(d.min(axis=1), s, rtol=1e-9)
    interior = ((xy[:, 0] > box[0] + s) & (xy[:, 0] < box[2] - s) & (xy[:, 1] > box[1] + s)
                & (xy[:, 1] < box[3] - s))
    assert interior.sum() > 50
    for k in np.flatnonzero(interior):
        near = np.flatnonzero(d[k] < s * 1.001)
        assert near.size == 6
        bearings = np.sort(np.degrees(np.arctan2(xy[near, 0] - xy[k, 0], xy[near, 1] - xy[k, 1])) % 360.0)
        np.testing.assert_allclose(np.diff(bearings), 60.0, atol=1e-6)
        assert not ((d[k] > s * 1.001) & (d[k] < s * 1.7)).any()  # the next ring is at s·√3
    assert list(sites.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert set(sites["source"]) == {"lattice"} and set(sites["district_id"]) == {"D1"}
    assert sites["azimuth_deg"].iloc[0] == (0.0, 120.0, 240.0) and (sites["cost"] == 1.0).all()


def test_lattice_exclusions_outside_water_nan_terrain():
    grid = square_grid(30)  # 3 x 3 km
    index = np.zeros(grid.shape, np.int32)
    index[:, :5] = -1  # the west 500 m belong to no district
    dem = np.full(grid.shape, 10.0, np.float32)
    dem[10:15, 10:15] = np.nan
    water = np.zeros(grid.shape, bool)
    water[20:25, 20:25] = True
    box = (X0 - 1000.0, Y0 - 1000.0, X0 + 4000.0, Y0 + 4000.0)  # beyond the grid on every side
    sites = lattice_sites(grid=grid, gaps=gap_frame(box), district_index=index, dem_m=dem, district_ids=["D1"],
                          config=SiteCandidates(spacing_m=250.0, margin_m=0.0), water=water)
    expected, counts = set(), {"outside the grid": 0, "outside every district": 0, "on water": 0,
                               "no terrain data": 0}
    for x, y in lattice_by_hand(box, 250.0):
        col, row = math.floor((x - X0) / 100.0), math.floor((Y0 + 3000.0 - y) / 100.0)
        if not (0 <= row < 30 and 0 <= col < 30):
            counts["outside the grid"] += 1
        elif col < 5:
            counts["outside every district"] += 1
        elif 20 <= row < 25 and 20 <= col < 25:
            counts["on water"] += 1
        elif 10 <= row < 15 and 10 <= col < 15:
            counts["no terrain data"] += 1
        else:
            expected.add((x, y))
    assert all(counts.values())
    assert coords(sites) == expected  # cells beside the NaN block keep a one-sided slope
    assert sites.attrs["dropped"] == {**counts, "steeper than max_slope_deg": 0}
    # gaps with fewer residents than min_gap_persons get no candidates
    few = lattice_sites(grid=grid, gaps=gap_frame(box, population=40.0), district_index=index, dem_m=dem,
                        district_ids=["D1"], config=SiteCandidates(spacing_m=250.0, margin_m=0.0))
    assert len(few) == 0 and list(few.columns) == [*CANDIDATE_COLUMNS, "geometry"]


@pytest.mark.parametrize(("max_slope_deg", "kept"), [(20.0, False), (30.0, True)])
def test_lattice_excludes_steep_terrain(max_slope_deg, kept):
    grid = square_grid(20)
    dem = np.tile(np.arange(20, dtype=np.float32) * 50.0, (20, 1))  # 50 m per 100 m: atan(0.5) = 26.57 degrees
    sites = lattice_sites(grid=grid, gaps=gap_frame((X0, Y0, X0 + 2000.0, Y0 + 2000.0)),
                          district_index=np.zeros(grid.shape, np.int32), dem_m=dem, district_ids=["D1"],
                          config=SiteCandidates(spacing_m=300.0, margin_m=0.0, max_slope_deg=max_slope_deg))
    assert (len(sites) > 0) == kept
    assert (sites.attrs["dropped"]["steeper than max_slope_deg"] == 0) == kept


def test_slope_by_hand():
    rows, cols = np.mgrid[0:6, 0:7].astype(np.float64)
    plane = 3.0 * cols - 4.0 * rows  # per 10 m cell: |grad| = 5 / 10
    np.testing.assert_allclose(slope_deg(plane, cell_m=10.0), math.degrees(math.atan(0.5)), atol=1e-12)
    dem = np.array([[0.0, 10.0, np.nan, 30.0, 40.0]])  # one row: no neighbour above or below
    got = slope_deg(np.vstack([dem, dem]), cell_m=10.0)
    # x: one-sided beside the hole, central elsewhere; y: one-sided (equal rows, 0)
    np.testing.assert_allclose(got[0], [45.0, 45.0, np.nan, 45.0, 45.0], atol=1e-12)
    assert np.isnan(slope_deg(np.array([[np.nan, 5.0, np.nan]]), cell_m=1.0)).all()


def test_lattice_ids_are_stable_and_anchored():
    grid = square_grid(40)
    kw = {"district_index": np.zeros(grid.shape, np.int32), "dem_m": np.zeros(grid.shape, np.float32),
          "district_ids": ["D1"], "config": SiteCandidates(spacing_m=450.0, margin_m=300.0)}
    gaps = gap_frame((X0 + 500.0, Y0 + 500.0, X0 + 1500.0, Y0 + 1500.0), (X0 + 2500.0, Y0 + 2500.0, X0 + 3500.0,
                                                                          Y0 + 3500.0))
    a = lattice_sites(grid=grid, gaps=gaps, **kw)
    b = lattice_sites(grid=grid, gaps=gaps.iloc[::-1], **kw)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry")))
    assert a.geometry.equals(b.geometry)
    assert list(a["candidate_id"]) == [f"L{k:06d}" for k in range(len(a))]
    y, x = a.geometry.y.to_numpy(), a.geometry.x.to_numpy()
    assert np.all((np.diff(y) < 0) | ((np.diff(y) == 0) & (np.diff(x) > 0)))  # north to south, west to east
    h = 450.0 * math.sqrt(3.0) / 2.0
    j = np.round(y / h)
    np.testing.assert_allclose(y, j * h)
    np.testing.assert_allclose((x / 450.0 - 0.5 * (j % 2)) % 1.0, 0.0, atol=1e-9)
    # another grid over the same place keeps the nodes where they were
    other = lattice_sites(grid=square_grid(45), gaps=gaps, **{**kw, "district_index": np.zeros((45, 45), np.int32),
                                                               "dem_m": np.zeros((45, 45), np.float32)})
    assert coords(other) == coords(a)


# -- candidate files ------------------------------------------------------------------------------

def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_WGS84.transform(x, y)
    return round(float(lon), 9), round(float(lat), 9)


def district_grid() -> tuple[GridSpec, np.ndarray]:
    grid = square_grid(50)
    index = np.zeros(grid.shape, np.int32)
    index[:, 25:] = 1
    index[:10, :10] = -1  # the north-west corner is in no district
    return grid, index


def test_read_candidates_csv_with_overrides(tmp_path):
    grid, index = district_grid()
    pts = [(X0 + 1050.0, Y0 + 1050.0), (X0 + 4020.0, Y0 + 2510.0), (X0 + 3000.0, Y0 + 4000.0)]
    rows = [{"candidate_id": "A", "lon": lonlat(*pts[0])[0], "lat": lonlat(*pts[0])[1], "height_m": 45,
             "azimuth_deg": "10; 190", "cost": 2.5, "operator": "Newco", "technology": "", "freq_mhz": ""},
            {"candidate_id": "B", "lon": lonlat(*pts[1])[0], "lat": lonlat(*pts[1])[1], "height_m": "",
             "azimuth_deg": "", "cost": "", "operator": "", "technology": "5G", "freq_mhz": 3500},
            {"candidate_id": 7, "lon": lonlat(*pts[2])[0], "lat": lonlat(*pts[2])[1], "height_m": 20,
             "azimuth_deg": "90", "cost": "", "operator": "", "technology": "", "freq_mhz": ""}]
    path = tmp_path / "cands.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    template = SiteTemplate(bandwidth_mhz=20.0)
    got = read_site_candidates(path, crs=CRS, grid=grid, config=SiteCandidates(cost=1.5, template=template),
                               district_index=index, district_ids=["West", "East"])
    assert list(got.columns) == [*CANDIDATE_COLUMNS, "geometry"]
    assert list(got["candidate_id"]) == ["A", "B", "7"] and set(got["source"]) == {"cands.csv"}
    assert list(got["district_id"]) == ["West", "East", "East"]
    np.testing.assert_allclose(np.column_stack([got.geometry.x, got.geometry.y]), pts, atol=1e-3)
    assert list(got["height_m"]) == [45.0, 30.0, 20.0] and list(got["cost"]) == [2.5, 1.5, 1.5]
    assert list(got["azimuth_deg"]) == [(10.0, 190.0), (0.0, 120.0, 240.0), (90.0,)]
    assert list(got["operator"]) == ["Newco", "planned", "planned"]
    assert list(got["technology"]) == ["4G", "5G", "4G"] and list(got["freq_mhz"]) == [1842.5, 3500.0, 1842.5]
    # x/y in the grid's CRS, and a GeoJSON of the same points, give the same candidates
    xy = tmp_path / "xy.csv"
    pd.DataFrame({"candidate_id": ["A", "B", "7"], "x": [p[0] for p in pts], "y": [p[1] for p in pts]}).to_csv(xy)
    by_xy = read_site_candidates(xy, crs=CRS, grid=grid, config=SiteCandidates(crs=UTM49), district_index=index,
                                 district_ids=["West", "East"])
    np.testing.assert_allclose(by_xy.geometry.x, got.geometry.x, atol=1e-3)
    gj = tmp_path / "c.geojson"
    two = gpd.points_from_xy([p[0] for p in pts[:2]], [p[1] for p in pts[:2]])
    gpd.GeoDataFrame({"candidate_id": ["A", "B"], "azimuth_deg": ["0;180", None]}, geometry=two,
                     crs=CRS).to_crs(4326).to_file(gj)
    by_json = read_site_candidates(gj, crs=CRS, grid=grid, config=SiteCandidates(), district_index=index,
                                   district_ids=["West", "East"])
    assert list(by_json["azimuth_deg"]) == [(0.0, 180.0), (0.0, 120.0, 240.0)]
    assert list(by_json["source"]) == ["c.geojson"] * 2


def test_read_candidates_lists_every_problem_at_once(tmp_path):
    grid, index = district_grid()
    ok = lonlat(X0 + 2000.0, Y0 + 2000.0)
    lines = [
        "candidate_id,lon,lat,height_m,freq_mhz,azimuth_deg,technology,bandwidth_mhz,cost",
        f"C1,{ok[0]},{ok[1]},30,1800,0;120;240,,,",          # line 2: fine
        f",{ok[0]},{ok[1]},30,1800,,,,",                      # line 3: no id
        f"C3,{ok[0]},{ok[1]},,,,,,",                          # line 4
        f"C3,{ok[0]},{ok[1]},,,,,,",                          # line 5: duplicate id
        f"C5,abc,{ok[1]},,,,,,",                              # line 6: lon not a number
        f"C6,{ok[0]},{ok[1]},999,,,,,",                       # line 7: height out of range
        f"C7,{ok[0]},{ok[1]},,10,,,,",                        # line 8: frequency out of range
        f"C8,{ok[0]},{ok[1]},,,north,,,",                     # line 9: bearings not numbers
        f"C9,{ok[0] + 1.0},{ok[1]},,,,,,",                    # line 10: a degree east, off the grid
        "C10,{},{},,,,,,".format(*lonlat(X0 + 450.0, Y0 + 4550.0)),  # line 11: in no district
        f"C11,{ok[0]},{ok[1]},,,0;400,2G,,",                  # line 12: bearing and technology
        f"C12,{ok[0]},{ok[1]},,,,,7,-1",                      # line 13: 4G bandwidth and cost
    ]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(SiteTableError, match=r"bad\.csv") as err:
        read_site_candidates(path, crs=CRS, grid=grid, config=SiteCandidates(), district_index=index,
                             district_ids=["West", "East"])
    msg = str(err.value)
    for fragment in ("candidate_id: empty at line 3",
                     "candidate_id: duplicate values ['C3'] at line 4, line 5",
                     "lon/lat: missing or not numbers at line 6",
                     "height_m: outside 1.0..300.0 m at line 7 (found [999.0])",
                     "freq_mhz: outside 150.0..6000.0 MHz at line 8 (found [10.0])",
                     "at line 9, line 12 (found ['north', '0;400'])",
                     "technology: expected one of ['3G', '4G', '5G'] (or blank) at line 12 (found ['2G'])",
                     "bandwidth_mhz: not a 4G channel bandwidth at line 13 (found [7.0]",
                     "cost: expected > 0 at line 13 (found [-1.0])",
                     "candidates outside the analysis grid", "ids ['C9'] at line 10",
                     "candidates outside every district: ids ['C10'] at line 11"):
        assert fragment in msg, fragment


# -- sector rows ----------------------------------------------------------------------------------

def test_candidate_sectors_rows_and_columns(tmp_path):
    grid, index = district_grid()
    sites = lattice_sites(grid=grid, gaps=gap_frame((X0 + 2000.0, Y0 + 2000.0, X0 + 2600.0, Y0 + 2600.0)),
                          district_index=index, dem_m=np.zeros(grid.shape, np.float32), district_ids=["W", "E"],
                          config=SiteCandidates(spacing_m=500.0, margin_m=0.0))
    sites.loc[sites.index[1], "azimuth_deg"] = (45.0,)
    rows = candidate_sectors(sites, crs=CRS)
    n_az = [len(a) for a in sites["azimuth_deg"]]
    assert len(rows) == sum(n_az) and n_az[1] == 1
    first = sites["candidate_id"].iloc[0]
    assert list(rows["sector_id"][:3]) == [f"{first}-1", f"{first}-2", f"{first}-3"]
    assert list(rows["azimuth_deg"][:4]) == [0.0, 120.0, 240.0, 45.0]
    assert (rows["site_id"].to_numpy() == np.repeat(sites["candidate_id"].to_numpy(), n_az)).all()
    assert not rows["omni"].any() and rows.crs.equals(CRS)
    lon, lat = TO_WGS84.transform(rows.geometry.x.to_numpy(), rows.geometry.y.to_numpy())
    np.testing.assert_allclose(rows["lon"], lon, atol=1e-12)
    np.testing.assert_allclose(rows["lat"], lat, atol=1e-12)
    # the columns of the sector table read from a file of the embedded default's layout
    header = (REPO / "data/sites/guangzhou_sectors_synthetic.csv").read_text(encoding="utf-8").splitlines()[:2]
    (tmp_path / "s.csv").write_text("\n".join(header) + "\n", encoding="utf-8")
    table = read_sectors(tmp_path / "s.csv", crs="EPSG:4326", to_crs=CRS)
    assert list(rows.columns) == list(table.columns)
    assert rows.dtypes.astype(str).to_dict() == table.dtypes.astype(str).to_dict()
    joined = add_planned(Inputs(crs=CRS, districts=None, sectors=table), Additions(sectors=rows)).sectors
    assert len(joined) == len(table) + len(rows)
    # another table's extra columns are added blank, in its order
    extra = table.assign(antenna_pattern="", scs_khz=np.nan)
    like = candidate_sectors(sites, crs=CRS, like=extra)
    assert list(like.columns) == list(extra.columns)
    assert (like["antenna_pattern"] == "").all() and like["scs_khz"].isna().all()


# -- the matrix against full runs -----------------------------------------------------------------

RIDGE_COLS = slice(85, 90)  # of the 140 x 140 DEM from X0 - 2 km: x = X0 + 6.5 .. 7 km


def matrix_scenario(folder: Path):
    """The tiny square (10 km, 1000 residents/km²) with a 160 m north-south ridge, clutter of
    3 dB west and 7.5 dB east of x = X0 + 5 km, cell-edge probability 75 %, and two 900 MHz
    sites of one carrier, one of them 1 km west of the grid (the engine grid is padded), under
    a reach limit of one neighbour."""
    dem = np.full((140, 140), 10.0, np.float32)
    dem[:, RIDGE_COLS] = 170.0
    extra = ('[inputs.clutter]\npath = "clutter.tif"\nvintage = "test classes"\n'
             'loss_db = { "10" = 3.0, "20" = 7.5 }\n'
             "[accounting]\nuncertainty = false\ncell_edge_probability = 0.75\n")
    radio = "reach_neighbours = 1\nreach_factor = 1.0\nreach_min_km = 0.5\n"
    sites = [sector_row(site_id="S1", sector_id="S1-1", x=X0 + 3000.0, y=Y0 + 5000.0, eirp_dbm=61.0),
             sector_row(site_id="S2", sector_id="S2-1", x=X0 - 1000.0, y=Y0 + 5000.0, eirp_dbm=61.0)]
    tiny = make_tiny(folder, dem_m=dem, sectors=sites, extra=extra, radio=radio)
    classes = np.full((140, 140), 10, dtype=np.uint8)
    classes[:, 70:] = 20
    write_raster(folder / "clutter.tif", classes, x0=X0 - 2000.0, y1=Y0 + 12_000.0, cell_m=100.0, nodata=255)
    return citycov.load_scenario(tiny.scenario)


@pytest.fixture(scope="module")
def matrix_base(tmp_path_factory):
    sc = matrix_scenario(tmp_path_factory.mktemp("matrix"))
    base = run(sc, keep_context=True)
    assert base.context.layers.area.padded  # S2 lies west of the grid
    assert base.context.layers.rx_loss_db is not None
    return sc, base


def candidates_at(folder: Path, base, points: list[tuple[float, float]], template: SiteTemplate) -> gpd.GeoDataFrame:
    path = folder / "c.csv"
    pd.DataFrame({"candidate_id": [f"C{k}" for k in range(len(points))], "x": [p[0] for p in points],
                  "y": [p[1] for p in points]}).to_csv(path, index=False)
    return read_site_candidates(path, crs=base.grid.crs, grid=base.grid,
                                config=SiteCandidates(crs=UTM49, template=template),
                                district_index=base.rasters["district_index"], district_ids=base.districts.ids)


def newly_covered_by_full_run(sc, base, one: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Cells a full run with ``one``'s sectors added covers that the base run does not, and the
    cells it no longer covers (flat indices)."""
    rows = candidate_sectors(one, crs=base.grid.crs, like=base.context.inputs.sectors)
    full = run(sc, additions=Additions(sectors=rows))
    before, after = base.rasters["wireless"], full.rasters["wireless"]
    assert full.grid.same_as(base.grid)
    return np.flatnonzero((after & ~before).ravel()), np.flatnonzero((before & ~after).ravel())


def column(cover, j: int) -> np.ndarray:
    return cover.cells[cover.cover[:, [j]].toarray().ravel()]


def test_site_cover_equals_the_full_runs_new_coverage(matrix_base, tmp_path):
    sc, base = matrix_base
    # west of the ridge, behind it (east), and in the grid's north-west corner (window cut by the grid)
    points = [(X0 + 5550.0, Y0 + 2050.0), (X0 + 8450.0, Y0 + 7950.0), (X0 + 450.0, Y0 + 9550.0)]
    sites = candidates_at(tmp_path, base, points, SiteTemplate(operator="planned"))
    rows = candidate_sectors(sites, crs=base.grid.crs)
    cover = site_cover(rows, list(sites["candidate_id"]), base, workers=1)
    assert cover.cover.shape == (cover.cells.size, 3) and np.all(np.diff(cover.cells) > 0)
    for j in range(3):
        new, lost = newly_covered_by_full_run(sc, base, sites.iloc[[j]])
        assert new.size > 100
        np.testing.assert_array_equal(column(cover, j), new)
        assert lost.size == 0  # a carrier of its own: the existing sites' reach caps do not move
    # every covered cell lies within the candidate's coverage reach; the pairs are the cells
    # within it and a cell more (every cell of the tiny grid is evaluated)
    xs, ys = base.grid.cell_centres()
    low = high = 0
    for j, (x, y) in enumerate(points):
        d2 = (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2
        sectors = rows.iloc[3 * j:3 * j + 3]
        cover_reach = coverage_reach_m(sectors, sc).max()
        reach = sector_reach_m(sectors, sc.radio).max()
        assert 1000.0 < cover_reach < reach
        r, c = np.divmod(column(cover, j), base.grid.shape[1])
        assert (d2[r, c] <= cover_reach ** 2).all()
        low += int((d2 <= cover_reach ** 2).sum())
        high += int((d2 <= (cover_reach + 100.0) ** 2).sum())
    assert low <= cover.pairs_evaluated <= high
    # the same matrix from two worker processes
    again = site_cover(rows, list(sites["candidate_id"]), base, workers=2)
    np.testing.assert_array_equal(again.cells, cover.cells)
    assert (again.cover != cover.cover).nnz == 0 and again.pairs_evaluated == cover.pairs_evaluated


def test_site_cover_on_the_carrier_of_existing_sites(matrix_base, tmp_path):
    """A candidate on the existing sites' carrier (same operator, technology and frequency).

    Its own reach is capped by the reach limit among those sites, in the matrix as in the full
    run, so its column still equals the full run's new cells, and is smaller than the same
    candidate's on a carrier of its own.  But the full run also lowers the cap of its neighbour
    S1 (1.5 km away: the cap falls from 4 km to 1.5 km), which loses cells it covered alone:
    the matrix does not see those; the planner's full-engine check does."""
    sc, base = matrix_base
    point = [(X0 + 4550.0, Y0 + 5050.0)]
    same = SiteTemplate(operator="Test", technology="4G", freq_mhz=900.0, bandwidth_mhz=20.0, eirp_dbm=61.0)
    own = SiteTemplate(operator="planned", technology="4G", freq_mhz=900.0, bandwidth_mhz=20.0, eirp_dbm=61.0)
    got = {}
    for name, template in (("same", same), ("own", own)):
        sites = candidates_at(tmp_path, base, point, template)
        cover = site_cover(candidate_sectors(sites, crs=base.grid.crs), ["C0"], base, workers=1)
        new, lost = newly_covered_by_full_run(sc, base, sites)
        np.testing.assert_array_equal(column(cover, 0), new)
        got[name] = (set(new.tolist()), lost.size)
    assert got["same"][0] < got["own"][0]  # the capped reach covers a strict subset
    assert got["own"][1] == 0
    assert got["same"][1] > 50  # S1 loses cells beyond its new 1.5 km cap


def test_reach_caps_equal_the_reach_limit_over_the_whole_network(matrix_base):
    sc, base = matrix_base
    existing = modelled_sectors(base)
    rng = np.random.default_rng(7)
    x = X0 + rng.uniform(0, 10_000, 12)
    y = Y0 + rng.uniform(0, 10_000, 12)
    for neighbours in (1, 2, 3):
        radio = dataclasses.replace(sc.radio, reach_neighbours=neighbours)
        for k in range(len(x)):
            cand = gpd.GeoDataFrame({"site_id": [f"N{k}"], "operator": ["Test"], "technology": ["4G"],
                                     "freq_mhz": [900.0]}, geometry=gpd.points_from_xy([x[k]], [y[k]]), crs=CRS)
            got = reach_caps(cand, existing, radio)[0]
            allx = np.append(existing.geometry.x.to_numpy(), x[k])
            ally = np.append(existing.geometry.y.to_numpy(), y[k])
            sites = np.append(existing["site_id"].to_numpy().astype(str), f"N{k}")
            want = ReachLimit(neighbours, radio.reach_factor, radio.reach_min_km).limit_m(
                allx, ally, np.zeros(allx.size, np.int64), sites)[-1]
            assert got == want  # exactly: inf when the carrier has too few other sites
    other = gpd.GeoDataFrame({"site_id": ["N"], "operator": ["planned"], "technology": ["4G"], "freq_mhz": [900.0]},
                             geometry=gpd.points_from_xy([X0], [Y0]), crs=CRS)
    assert reach_caps(other, existing, sc.radio)[0] == np.inf


def test_site_cover_refuses_bad_input(matrix_base, tmp_path):
    sc, base = matrix_base
    sites = candidates_at(tmp_path, base, [(X0 + 5550.0, Y0 + 2050.0)], SiteTemplate())
    rows = candidate_sectors(sites, crs=base.grid.crs)
    no_context = run(sc)
    with pytest.raises(ModelError, match=r"keep_context=True"):
        site_cover(rows, ["C0"], no_context)
    clash = rows.assign(site_id="S1")
    with pytest.raises(SiteTableError, match=r"candidate ids that are site ids of the scenario: \['S1'\]"):
        site_cover(clash, ["S1"], base)
    with pytest.raises(SiteTableError, match=r"candidates without sectors: \['C9'\]"):
        site_cover(rows, ["C0", "C9"], base)
