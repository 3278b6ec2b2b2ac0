"""Raster tiles opened as one dataset: a mosaic written as a GDAL VRT.

GDAL's Python bindings (``gdal.BuildVRT``) and the ``gdalbuildvrt`` program are not part of
rasterio's wheels, so :func:`mosaic_vrt_xml` writes the VRT itself: one ``VRTRasterBand`` per
band, one ``ComplexSource`` per tile, placed by the tile's own geotransform.  Every tile must
share the CRS, the cell size (within :data:`CELL_SIZE_TOLERANCE`), the data type, the band
count and the nodata value; a tile that differs is named with its value and the expected one.
Tiles may overlap (SRTM tiles share their edge row and column); where they do, a later tile's
valid cells win and its nodata cells let the earlier tile show through.  Cells that no tile
covers are nodata (for tiles that declare none: NaN, or the data type's most negative value or
largest unsigned one), never 0: missing terrain is not sea level.

The VRT goes into a temporary folder (``tempfile``; a CLI run points ``TMPDIR`` into its
staging folder), never next to the tiles, and is removed when the dataset is closed.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from citycov.errors import InputFileError, RasterError, raise_problems
from citycov.io._validate import one_line
from citycov.tilepaths import RasterSource, common_folder, is_vsi, source_tiles, split_vsi, tile_file

CELL_SIZE_TOLERANCE = 1e-4
"""Largest relative difference of cell size between the tiles of one mosaic."""
GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
              "int32": "Int32", "uint64": "UInt64", "int64": "Int64", "float32": "Float32", "float64": "Float64"}
HGT_HINT = ("an SRTM .hgt tile must be named for its south-west corner (e.g. N40W074.hgt) and hold 1201x1201 "
            "(3 arc-second) or 3601x3601 (1 arc-second) big-endian int16 values")


def describe_source(source: RasterSource) -> str:
    """A raster source as named in messages: the file, or ``mosaic of N tiles in <folder>``."""
    tiles = source_tiles(source)
    if len(tiles) == 1:
        return tiles[0]
    return f"mosaic of {len(tiles)} tiles in {common_folder(tiles)}"


@dataclass(frozen=True)
class _Tile:
    """What the VRT needs of one tile."""

    name: str
    crs: object
    transform: object
    width: int
    height: int
    count: int
    dtype: str
    nodata: float | None


def open_tile(tile: str | Path) -> rasterio.DatasetReader:
    """Open one tile (a file or a ``/vsi…`` path); an open dataset the caller closes.

    Raises
    ------
    InputFileError
        The file (or the archive of a ``/vsi…`` path) is missing or not a file, or GDAL cannot
        open it as a raster.
    RasterError
        The file is empty (0 bytes).
    """
    text = str(tile)
    path = tile_file(text)
    if is_vsi(text) and split_vsi(text) is None:
        raise InputFileError(f"{text}: names no archive (.zip, .tar, .tar.gz, .tgz, .gz)")
    if not path.exists():
        raise InputFileError(f"{text}: {'archive ' if is_vsi(text) else ''}file not found"
                             + (f": {path}" if is_vsi(text) else ""))
    if not path.is_file():
        raise InputFileError(f"{text}: not a file; expected a raster (GeoTIFF)")
    if path.stat().st_size == 0:
        raise RasterError(f"{text}: is empty (0 bytes); expected a raster (GeoTIFF)")
    try:
        return rasterio.open(text)
    except (RasterioError, CPLE_BaseError) as exc:
        hint = f"; {HGT_HINT}" if text.lower().endswith((".hgt", ".hgt.zip")) else ""
        raise InputFileError(f"{text}: cannot read as a raster: {one_line(exc)}{hint}") from None


def _info(tile: str) -> _Tile:
    with open_tile(tile) as src:
        return _Tile(name=tile, crs=src.crs, transform=src.transform, width=src.width, height=src.height,
                     count=src.count, dtype=src.dtypes[0], nodata=src.nodata)


def _same_nodata(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return (math.isnan(a) and math.isnan(b)) or a == b


def mosaic_vrt_xml(tiles: Sequence[str]) -> str:
    """The text of a GDAL VRT that mosaics ``tiles`` (files or ``/vsi…`` paths, absolute).

    Raises
    ------
    InputFileError
        A tile cannot be opened (named).
    RasterError
        Listing every tile that differs from the first in CRS, cell size, data type, band count
        or nodata, or that is rotated or not north-up, with its value and the expected one.
    """
    infos = [_info(t) for t in tiles]
    first = infos[0]
    a0, e0 = first.transform.a, first.transform.e
    problems = []
    for t in infos:
        tr = t.transform
        if tr.b or tr.d or tr.e >= 0 or tr.a <= 0:
            problems.append(f"tile {t.name}: geotransform {tuple(tr)[:6]} is rotated or not north-up; expected "
                            "north-up tiles (no rotation)")
            continue
        if t is first:
            continue
        if t.crs != first.crs:
            problems.append(f"tile {t.name}: CRS {_crs_text(t.crs)}, expected {_crs_text(first.crs)} "
                            f"(that of {first.name})")
        if abs(tr.a - a0) > CELL_SIZE_TOLERANCE * abs(a0) or abs(tr.e - e0) > CELL_SIZE_TOLERANCE * abs(e0):
            problems.append(f"tile {t.name}: cell size {tr.a:.10g} x {-tr.e:.10g}, expected {a0:.10g} x {-e0:.10g} "
                            f"(that of {first.name}); resample the tiles to one cell size (e.g. gdalwarp -tr)")
        if t.dtype != first.dtype:
            problems.append(f"tile {t.name}: data type {t.dtype}, expected {first.dtype} (that of {first.name})")
        if t.count != first.count:
            problems.append(f"tile {t.name}: {t.count} bands, expected {first.count} (that of {first.name})")
        if not _same_nodata(t.nodata, first.nodata):
            problems.append(f"tile {t.name}: nodata {t.nodata!r}, expected {first.nodata!r} (that of {first.name})")
    if first.dtype not in GDAL_TYPES:
        problems.append(f"tile {first.name}: data type {first.dtype}; expected one of {sorted(GDAL_TYPES)}")
    raise_problems(RasterError, describe_source(tiles),
                   [*problems, "every tile of a mosaic must share CRS, cell size, data type, band count and "
                               "nodata"] if problems else [])
    left = min(t.transform.c for t in infos)
    top = max(t.transform.f for t in infos)
    right = max(t.transform.c + t.width * t.transform.a for t in infos)
    bottom = min(t.transform.f + t.height * t.transform.e for t in infos)
    width = max(1, round((right - left) / a0))
    height = max(1, round((bottom - top) / e0))
    nodata = first.nodata if first.nodata is not None else _sentinel(first.dtype)

    root = ET.Element("VRTDataset", rasterXSize=str(width), rasterYSize=str(height))
    if first.crs is not None:
        ET.SubElement(root, "SRS").text = first.crs.to_wkt()  # GDAL: traditional GIS axis order
    ET.SubElement(root, "GeoTransform").text = ", ".join(_num(v) for v in (left, a0, 0.0, top, 0.0, e0))
    for band in range(1, first.count + 1):
        b = ET.SubElement(root, "VRTRasterBand", dataType=GDAL_TYPES[first.dtype], band=str(band))
        ET.SubElement(b, "NoDataValue").text = _num(nodata)
        for t in infos:
            tr = t.transform
            src = ET.SubElement(b, "ComplexSource")
            ET.SubElement(src, "SourceFilename", relativeToVRT="0").text = t.name
            ET.SubElement(src, "SourceBand").text = str(band)
            ET.SubElement(src, "SrcRect", xOff="0", yOff="0", xSize=str(t.width), ySize=str(t.height))
            ET.SubElement(src, "DstRect", xOff=_num((tr.c - left) / a0), yOff=_num((tr.f - top) / e0),
                          xSize=_num(t.width * tr.a / a0), ySize=_num(t.height * tr.e / e0))
            if t.nodata is not None:
                ET.SubElement(src, "NODATA").text = _num(t.nodata)
    return ET.tostring(root, encoding="unicode")


def _crs_text(crs: object) -> str:
    return "none" if crs is None else crs.to_string()


def _num(value: float) -> str:
    """A number for the VRT: whole when within 1e-6 of a whole number (tile offsets), else exact."""
    if math.isnan(value):
        return "nan"
    near = round(value)
    return str(int(near)) if abs(value - near) < 1e-6 else repr(float(value))


def _sentinel(dtype: str) -> float:
    """Nodata for tiles that declare none: NaN, the most negative signed or largest unsigned value."""
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.floating):
        return math.nan
    info = np.iinfo(kind)
    return float(info.max if info.min == 0 else info.min)


@contextmanager
def open_mosaic(tiles: Sequence[str]) -> Iterator[rasterio.DatasetReader]:
    """Open ``tiles`` as one dataset through a VRT (:func:`mosaic_vrt_xml`) written to a
    temporary folder, which is removed when the context ends."""
    xml = mosaic_vrt_xml(tiles)
    folder = Path(tempfile.mkdtemp(prefix="citycov-mosaic-"))
    try:
        vrt = folder / "mosaic.vrt"
        vrt.write_text(xml, encoding="utf-8")
        try:
            src = rasterio.open(vrt)
        except (RasterioError, CPLE_BaseError) as exc:
            raise RasterError(f"{describe_source(tiles)}: cannot open the mosaic of its tiles: "
                              f"{one_line(exc)}") from None
        with src:
            yield src
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def open_source(source: RasterSource) -> Iterator[rasterio.DatasetReader]:
    """Open a raster source: one file, one ``/vsi…`` path, or several tiles as a mosaic."""
    tiles = source_tiles(source)
    if not tiles:
        raise InputFileError("no raster tile given; expected a file, a folder of tiles or a list of tiles")
    if len(tiles) == 1:
        with open_tile(tiles[0]) as src:
            yield src
    else:
        with open_mosaic(tiles) as src:
            yield src
