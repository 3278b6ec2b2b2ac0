"""Tiled rasters: a folder, list or glob of tiles, zipped SRTM tiles and /vsizip/ paths read as
one mosaic.

The SRTM tiles are real .hgt files (1201 x 1201 big-endian int16, named for their south-west
corner, read by GDAL's SRTMHGT driver) whose cells hold a hand-chosen plane,
``elevation = 10 + (lon + 75)·1200 + (41 - lat)·1200`` metres at each cell centre: a whole number
at every centre, equal on the edge row/column two neighbouring tiles share, so the expected
value of any point is known without reading the tiles back.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from affine import Affine

import citycov
from citycov.config import load_scenario, scenario_files
from citycov.errors import InputFileError, OutputFolderError, RasterError, ScenarioError
from citycov.grid import GridSpec
from citycov.io import read_dem, read_population
from citycov.io.raster import open_raster
from citycov.provenance import record_for
from citycov.tilepaths import resolve_raster_path

from .conftest import UTM49, make_tiny, write_raster

SRTM3 = 1201  # cells per side of a 3 arc-second SRTM tile
WHERE = "[inputs.terrain].path"


def plane_m(lon: float, lat: float) -> float:
    """The elevation every test tile holds at (lon, lat), metres."""
    return 10.0 + (lon + 75.0) * 1200.0 + (41.0 - lat) * 1200.0


def write_hgt(folder: Path, lat0: int, lon0: int) -> Path:
    """An SRTM 3″ tile with south-west corner (lat0, lon0) holding :func:`plane_m` at its cell centres."""
    name = f"{'N' if lat0 >= 0 else 'S'}{abs(lat0):02d}{'E' if lon0 >= 0 else 'W'}{abs(lon0):03d}.hgt"
    step = 1.0 / (SRTM3 - 1)
    lats = lat0 + 1.0 - np.arange(SRTM3) * step
    lons = lon0 + np.arange(SRTM3) * step
    values = np.rint(plane_m(lons[None, :], lats[:, None])).astype(">i2")  # big-endian int16
    path = folder / name
    values.tofile(path)
    return path


def zip_tile(tile: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(tile, tile.name)
    return archive


@pytest.fixture
def srtm(tmp_path) -> Path:
    """A folder with two side-by-side SRTM tiles (N40W075, N40W074) and files that are not tiles."""
    folder = tmp_path / "srtm"
    folder.mkdir()
    write_hgt(folder, 40, -75)
    write_hgt(folder, 40, -74)
    (folder / "README.txt").write_text("SRTM 3 arc-second tiles", encoding="utf-8")
    (folder / "N40W074.hgt.aux.xml").write_text("<PAMDataset/>", encoding="utf-8")
    return folder


POINTS = [(-74.75, 40.25), (-74.5, 40.5), (-74.0, 40.75), (-73.9, 40.1), (-73.25, 40.9)]  # both tiles and the seam


def sample(source, points=POINTS) -> np.ndarray:
    with open_raster(source) as src:
        return np.array([v[0] for v in src.sample(points)], dtype=np.float64)


def expected(points=POINTS) -> np.ndarray:
    """The plane at the centre of the 3″ cell holding each point."""
    step = 1.0 / 1200.0
    out = []
    for lon, lat in points:
        c_lon = math.floor((lon + step / 2) / step) * step  # SRTM cells are centred on multiples of 3″
        c_lat = math.floor((lat + step / 2) / step) * step
        out.append(round(plane_m(c_lon, c_lat)))
    return np.array(out, dtype=np.float64)


def tiles_of(raw, base: Path) -> tuple[str, ...]:
    path, tiles, problems = resolve_raster_path(raw, base, where=WHERE)
    assert problems == []
    assert path is not None
    return tiles


# -- each form of path reads the elevations written -----------------------------------------------

def test_folder_takes_the_tiles_and_ignores_other_files(srtm):
    tiles = tiles_of("srtm", srtm.parent)
    assert [Path(t).name for t in tiles] == ["N40W074.hgt", "N40W075.hgt"]
    np.testing.assert_array_equal(sample(tiles), expected())


def test_list_of_tiles(srtm):
    tiles = tiles_of(["srtm/N40W075.hgt", str(srtm / "N40W074.hgt")], srtm.parent)  # relative and absolute
    assert tiles == (str(srtm / "N40W075.hgt"), str(srtm / "N40W074.hgt"))
    np.testing.assert_array_equal(sample(tiles), expected())


def test_glob_relative_to_the_scenario(srtm):
    tiles = tiles_of("srtm/N40W07?.hgt", srtm.parent)
    assert len(tiles) == 2
    np.testing.assert_array_equal(sample(tiles), expected())


def test_zipped_srtm_tiles_in_a_folder_and_alone(srtm, tmp_path):
    zips = tmp_path / "zips"
    zips.mkdir()
    for name in ("N40W075", "N40W074"):
        zip_tile(srtm / f"{name}.hgt", zips / f"{name}.SRTMGL3.hgt.zip")  # NASA's download names
    tiles = tiles_of("zips", tmp_path)
    assert tiles == tuple(f"/vsizip/{zips}/{n}.SRTMGL3.hgt.zip/{n}.hgt" for n in ("N40W074", "N40W075"))
    np.testing.assert_array_equal(sample(tiles), expected())
    one = tiles_of("zips/N40W074.SRTMGL3.hgt.zip", tmp_path)  # one .hgt.zip as the path
    assert one == (f"/vsizip/{zips}/N40W074.SRTMGL3.hgt.zip/N40W074.hgt",)
    east = [p for p in POINTS if p[0] >= -74.0]
    np.testing.assert_array_equal(sample(one, east), expected(east))


def test_vsizip_path_relative_to_the_scenario(srtm, tmp_path):
    with zipfile.ZipFile(tmp_path / "tiles.zip", "w") as z:
        for name in ("N40W075.hgt", "N40W074.hgt"):
            z.write(srtm / name, f"srtm/{name}")
    tiles = tiles_of("/vsizip/tiles.zip/srtm/N40W075.hgt", tmp_path)
    assert tiles == (f"/vsizip/{tmp_path}/tiles.zip/srtm/N40W075.hgt",)
    west = [p for p in POINTS if p[0] <= -74.0]
    np.testing.assert_array_equal(sample(tiles, west), expected(west))
    both = tiles_of(["/vsizip/tiles.zip/srtm/N40W075.hgt", "/vsizip/tiles.zip/srtm/N40W074.hgt"], tmp_path)
    np.testing.assert_array_equal(sample(both), expected())


def test_vsitar_and_vsigzip_paths(tmp_path):
    tile = copernicus_tile(tmp_path, 49, 0)
    with tarfile.open(tmp_path / "dem.tar.gz", "w:gz") as t:
        t.add(tile, f"cop/{tile.name}")
    with gzip.open(tmp_path / "dem.tif.gz", "wb") as g:
        g.write(tile.read_bytes())
    pts = [(0.2541, 49.2537), (0.9033, 49.6042)]  # inside cells, off their edges
    want = [100.0 + 50.0 * (math.floor(lon * 120) + 0.5) / 120 + 30.0 * ((math.floor(lat * 120) + 0.5) / 120 - 49.0)
            for lon, lat in pts]  # the plane at the centre of the cell holding each point
    for raw in (f"/vsitar/dem.tar.gz/cop/{tile.name}", "/vsigzip/dem.tif.gz"):
        np.testing.assert_allclose(sample(tiles_of(raw, tmp_path), pts), want, atol=1e-3)
    assert "holds no member 'cop/x.tif'" in problems_of("/vsitar/dem.tar.gz/cop/x.tif", tmp_path)


def test_mosaic_equals_each_tile_alone_and_the_seam_is_continuous(srtm):
    tiles = tiles_of("srtm", srtm.parent)
    step = 1.0 / 1200.0
    for tile, lon0 in ((srtm / "N40W075.hgt", -75.0), (srtm / "N40W074.hgt", -74.0)):
        pts = [(lon0 + i * step, 40.0 + j * step) for i, j in ((0, 0), (1, 7), (600, 600), (1199, 1), (1200, 1200))]
        np.testing.assert_array_equal(sample(tiles, pts), sample(tile, pts))
    with open_raster(tiles) as src:
        assert src.shape == (SRTM3, 2 * SRTM3 - 1)  # the shared column counted once
        assert src.nodata == -32768
        row = src.read(1)[600].astype(np.int64)
    np.testing.assert_array_equal(np.diff(row), 1)  # the plane rises 1 m a cell, across the seam too


def test_nodata_voids_are_kept(tmp_path):
    folder = tmp_path / "voids"
    folder.mkdir()
    tile = write_hgt(folder, 40, -75)
    values = np.fromfile(tile, dtype=">i2").reshape(SRTM3, SRTM3)
    values[100:110, 200:210] = -32768  # an SRTM void
    values.tofile(tile)
    write_hgt(folder, 40, -74)
    with open_raster(tiles_of("voids", tmp_path)) as src:
        block = src.read(1, masked=True)
    assert block.mask[100:110, 200:210].all()
    assert block.mask.sum() == 100


def copernicus_tile(folder: Path, lat0: int, lon0: int, n: int = 120) -> Path:
    """A Copernicus DEM-like tile: EPSG:4326 float32 GeoTIFF, ``n`` cells a degree, named as
    Copernicus names them, holding the plane at cell centres."""
    name = f"Copernicus_DSM_COG_10_N{lat0:02d}_00_E{lon0:03d}_00_DEM.tif"
    step = 1.0 / n
    lats = lat0 + 1.0 - (np.arange(n) + 0.5) * step
    lons = lon0 + (np.arange(n) + 0.5) * step
    values = (100.0 + 50.0 * lons[None, :] + 30.0 * (lats[:, None] - 49.0)).astype(np.float32)
    write_raster(folder / name, values, x0=float(lon0), y1=lat0 + 1.0, cell_m=step, crs="EPSG:4326")
    return folder / name


def test_copernicus_tiles_read_onto_a_utm_grid_across_the_seam(tmp_path):
    folder = tmp_path / "cop"
    folder.mkdir()
    copernicus_tile(folder, 49, 0)
    copernicus_tile(folder, 49, 1)
    utm31 = pyproj.CRS("EPSG:32631")
    x_seam, y_mid = pyproj.Transformer.from_crs("EPSG:4326", utm31, always_xy=True).transform(1.0, 49.5)
    grid = GridSpec(crs=utm31, transform=Affine(500.0, 0, x_seam - 10_000, 0, -500.0, y_mid + 10_000),
                    shape=(40, 40))
    dem = read_dem(tiles_of("cop", tmp_path), grid)
    rows, cols = np.meshgrid(np.arange(40), np.arange(40), indexing="ij")
    xs, ys = grid.xy(rows.ravel(), cols.ravel())
    lons, lats = pyproj.Transformer.from_crs(utm31, "EPSG:4326", always_xy=True).transform(xs, ys)
    want = 100.0 + 50.0 * lons + 30.0 * (lats - 49.0)  # bilinear reproduces a plane exactly
    np.testing.assert_allclose(dem.values.ravel(), want, atol=0.05)
    assert dem.record.notes[0].startswith("mosaic of 2 tiles")


def test_worldpop_tiles_keep_their_nodata_and_people(tmp_path):
    folder = tmp_path / "worldpop"
    folder.mkdir()
    step = 1.0 / 1200.0  # 3 arc-seconds
    totals = []
    for k, lon0 in enumerate((113.0, 113.02)):
        counts = np.full((24, 24), 2.5 + k, dtype=np.float32)
        counts[:3, :] = -99999.0  # nodata
        totals.append(float(counts[3:].sum(dtype=np.float64)))
        write_raster(folder / f"chn_ppp_2020_{k}.tif", counts, x0=lon0, y1=23.02, cell_m=step, crs="EPSG:4326",
                     nodata=-99999.0)
    utm = pyproj.CRS(UTM49)
    x0, y0 = pyproj.Transformer.from_crs("EPSG:4326", utm, always_xy=True).transform(112.99, 23.03)
    grid = GridSpec(crs=utm, transform=Affine(100.0, 0, x0, 0, -100.0, y0), shape=(60, 70))
    layer = read_population(tiles_of("worldpop", tmp_path), grid)
    assert layer.input_total == pytest.approx(sum(totals))
    assert float(layer.values.sum(dtype=np.float64)) == pytest.approx(sum(totals), rel=1e-5)
    assert any("144 nodata cells" in n for n in layer.notes)  # 3 rows of 24 in each tile


# -- errors ---------------------------------------------------------------------------------------

def problems_of(raw, base: Path) -> str:
    problems = resolve_raster_path(raw, base, where=WHERE)[2]
    assert problems
    return "; ".join(problems)


def test_a_folder_without_tiles_lists_what_it_holds(tmp_path):
    (tmp_path / "dem").mkdir()
    (tmp_path / "dem" / "README.txt").write_text("nothing here", encoding="utf-8")
    msg = problems_of("dem", tmp_path)
    assert f"{WHERE}: the folder {tmp_path / 'dem'} holds no raster tile" in msg
    assert "README.txt" in msg
    (tmp_path / "empty").mkdir()
    assert "it is empty" in problems_of("empty", tmp_path)


def test_a_glob_matching_nothing_and_a_missing_list_entry_are_named(srtm):
    assert f"the pattern {srtm / 'S*.hgt'} matches no file" in problems_of("srtm/S*.hgt", srtm.parent)
    msg = problems_of(["srtm/N40W075.hgt", "srtm/N41W075.hgt"], srtm.parent)
    assert msg == f"{WHERE}[1]: file not found: {srtm / 'N41W075.hgt'}"
    assert "[1] must be a non-empty string" in problems_of(["srtm/N40W075.hgt", 3], srtm.parent)
    assert "must be a path or a non-empty list" in problems_of([], srtm.parent)


def test_vsizip_errors_name_the_archive_and_member(srtm, tmp_path):
    assert f"archive not found: {tmp_path / 'gone.zip'}" in problems_of("/vsizip/gone.zip/N40W075.hgt", tmp_path)
    zip_tile(srtm / "N40W075.hgt", tmp_path / "t.zip")
    msg = problems_of("/vsizip/t.zip/N41W075.hgt", tmp_path)
    assert "holds no member 'N41W075.hgt'; it holds N40W075.hgt" in msg
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert "cannot be read as a zip archive" in problems_of("bad.zip", tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_a_fifo_tile_is_refused(srtm):
    os.mkfifo(srtm / "N41W075.hgt")
    msg = problems_of("srtm", srtm.parent)
    assert f"tile {srtm / 'N41W075.hgt'} is a FIFO; expected a regular file" in msg


def test_mixed_crs_and_mixed_cell_size_name_the_odd_tile(tmp_path):
    a = copernicus_tile(tmp_path, 49, 0)
    values = np.ones((10, 10), dtype=np.float32)
    write_raster(tmp_path / "merc.tif", values, x0=120_000.0, y1=6_300_000.0, cell_m=30.0, crs="EPSG:3857")
    with pytest.raises(RasterError, match=r"tile .*merc.tif: CRS EPSG:3857, expected EPSG:4326"):
        sample([str(a), str(tmp_path / "merc.tif")])
    write_raster(tmp_path / "coarse.tif", values, x0=1.0, y1=50.0, cell_m=1 / 60, crs="EPSG:4326")
    with pytest.raises(RasterError, match=r"tile .*coarse.tif: cell size 0.01666666667 x 0.01666666667, "
                                          r"expected 0.008333333333 x 0.008333333333"):
        sample([str(a), str(tmp_path / "coarse.tif")])
    write_raster(tmp_path / "f64.tif", values.astype(np.float64), x0=1.0, y1=50.0, cell_m=1 / 120, crs="EPSG:4326")
    with pytest.raises(RasterError, match=r"f64.tif: data type float64, expected float32"):
        sample([str(a), str(tmp_path / "f64.tif")])


def test_an_unreadable_hgt_tile_says_what_srtm_tiles_are(tmp_path):
    np.zeros((10, 10), dtype=">i2").tofile(tmp_path / "N40W075.hgt")
    with pytest.raises(InputFileError, match=r"N40W075.hgt: cannot read as a raster: .*1201x1201"):
        sample(str(tmp_path / "N40W075.hgt"))


# -- provenance and the files a run reads ---------------------------------------------------------

def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_provenance_hashes_every_tile(srtm, tmp_path):
    tiles = tiles_of("srtm", srtm.parent)
    rec = record_for("terrain", tiles, crs="EPSG:4326", synthetic=False)
    hashes = {Path(t.tile).name: t.sha256 for t in rec.tiles}
    assert hashes == {n: sha256_of(srtm / n) for n in ("N40W074.hgt", "N40W075.hgt")}
    manifest = "".join(f"{hashes[n]}  {n}\n" for n in sorted(hashes, key=lambda n: hashes[n]))
    assert rec.sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert rec.size_bytes == 2 * SRTM3 * SRTM3 * 2
    assert rec.path == str(srtm)
    assert rec.notes[0].startswith("mosaic of 2 tiles (N40W074.hgt, N40W075.hgt)")
    zip_tile(srtm / "N40W075.hgt", tmp_path / "one.zip")
    member = record_for("terrain", f"/vsizip/{tmp_path}/one.zip/N40W075.hgt", crs="EPSG:4326", synthetic=False)
    assert member.sha256 == sha256_of(tmp_path / "one.zip")  # the archive as downloaded
    assert [t.file for t in member.tiles] == [str(tmp_path / "one.zip")]


def hilly_dem() -> np.ndarray:
    """The tiny scenario's DEM area (140 x 140 cells of 100 m) with hills of up to 210 m."""
    rows, cols = np.mgrid[0:140, 0:140]
    return (10.0 + 100.0 * (1.0 + np.sin(rows / 9.0) * np.cos(cols / 13.0))).astype(np.float32)


def tiled_tiny(tmp_path: Path, terrain_path: str):
    """The tiny scenario of conftest on :func:`hilly_dem`, its DEM also cut into a west and an
    east tile (sharing a column) in the folder ``dem_tiles``, ``[inputs.terrain].path`` set to
    ``terrain_path``."""
    tiny = make_tiny(tmp_path / "t", dem_m=hilly_dem())
    with rasterio.open(tiny.folder / "dem.tif") as src:
        dem, t = src.read(1), src.transform
    folder = tiny.folder / "dem_tiles"
    folder.mkdir()
    half = dem.shape[1] // 2
    write_raster(folder / "west.tif", dem[:, : half + 1], x0=t.c, y1=t.f, cell_m=t.a, nodata=-9999.0)
    write_raster(folder / "east.tif", dem[:, half:], x0=t.c + half * t.a, y1=t.f, cell_m=t.a, nodata=-9999.0)
    (folder / "notes.txt").write_text("cut from dem.tif", encoding="utf-8")
    text = tiny.scenario.read_text(encoding="utf-8")
    tiny.scenario.write_text(text.replace('path = "dem.tif"', f"path = {terrain_path}"), encoding="utf-8")
    return tiny


def test_scenario_files_lists_every_tile(tmp_path):
    tiny = tiled_tiny(tmp_path, '"dem_tiles"')
    sc = load_scenario(tiny.scenario)
    folder = tiny.folder.resolve() / "dem_tiles"
    assert sc.inputs["terrain"].tiles == (str(folder / "east.tif"), str(folder / "west.tif"))
    files = scenario_files(sc)
    assert {folder, folder / "east.tif", folder / "west.tif"} <= set(files)
    listed = tiled_tiny(tmp_path / "l", '["dem_tiles/west.tif", "dem_tiles/east.tif"]')
    files = scenario_files(load_scenario(listed.scenario))
    lfolder = listed.folder.resolve() / "dem_tiles"
    assert {lfolder / "east.tif", lfolder / "west.tif"} <= set(files)
    assert lfolder not in files  # only a folder given as the path is read as a folder


def test_scenario_errors_for_tiles_are_listed_at_load(tmp_path):
    tiny = tiled_tiny(tmp_path, '["dem_tiles/west.tif", "dem_tiles/north.tif"]')
    with pytest.raises(ScenarioError, match=r"\[inputs.terrain\].path\[1\]: file not found: .*north.tif"):
        load_scenario(tiny.scenario)


def test_a_scenario_with_terrain_in_a_folder_of_two_tiles_runs(tmp_path):
    tiled = tiled_tiny(tmp_path / "tiled", '"dem_tiles"')
    res_tiled = citycov.run(load_scenario(tiled.scenario))
    res_one = citycov.run(load_scenario(make_tiny(tmp_path / "one", dem_m=hilly_dem()).scenario))
    flat = citycov.run(load_scenario(make_tiny(tmp_path / "flat").scenario))
    best_tiled, best_one = res_tiled.rasters["best_dbm"], res_one.rasters["best_dbm"]
    assert not np.allclose(best_one, flat.rasters["best_dbm"], equal_nan=True)  # the hills matter
    np.testing.assert_allclose(best_tiled, best_one, rtol=0, atol=1e-4, equal_nan=True)
    terrain = next(r for r in res_tiled.inputs if r.name == "terrain")
    assert [Path(t.tile).name for t in terrain.tiles] == ["east.tif", "west.tif"]
    assert terrain.notes[0].startswith("mosaic of 2 tiles")
    paths = citycov.write_outputs(res_tiled, tmp_path / "out")
    doc = json.loads(paths["districts.json"].read_text(encoding="utf-8"))
    record = next(r for r in doc["provenance"]["inputs"] if r["name"] == "terrain")
    folder = tiled.folder.resolve() / "dem_tiles"
    assert {t["tile"]: t["sha256"] for t in record["tiles"]} == {
        str(folder / n): sha256_of(folder / n) for n in ("east.tif", "west.tif")}
    with pytest.raises(OutputFolderError, match="lies inside the input folder"):
        citycov.write_outputs(res_tiled, folder / "out")  # the tiles' folder is read: no outputs in it
