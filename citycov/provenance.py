"""Provenance records: what went into a result (file, SHA-256, CRS, synthetic flag, software).

A raster read from several tiles (a mosaic) or from an archive member records every tile's file
and SHA-256 (:class:`TileRecord`); the record's own ``sha256`` is then that of the tiles'
manifest (:func:`tiles_sha256`).
"""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from citycov._version import __version__
from citycov.tilepaths import RasterSource, common_folder, is_vsi, source_tiles, tile_file


@dataclass(frozen=True)
class TileRecord:
    """One tile of a raster input: the tile as read (a file or a ``/vsizip/`` path), the file
    behind it (the archive of a ``/vsi…`` path), that file's SHA-256 and size."""

    tile: str
    file: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class InputRecord:
    """One input as read: which file, its hash, its CRS as declared and found, and labels."""

    name: str
    path: str
    sha256: str
    size_bytes: int
    crs: str
    synthetic: bool
    rows: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    vintage: str = ""
    tiles: tuple[TileRecord, ...] = ()
    """Every tile of a tiled raster (or the archive of a ``/vsizip/`` one); ``()`` for one file."""


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tiles_sha256(tiles: tuple[TileRecord, ...]) -> str:
    """SHA-256 of the tiles' manifest: the text of one ``<sha256>  <tile name>\n`` line per tile
    (the format of ``sha256sum``), sorted, the name being the tile's last path component."""
    lines = sorted(f"{t.sha256}  {t.tile.rstrip('/').rsplit('/', 1)[-1]}\n" for t in tiles)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def record_for(name: str, path: RasterSource, *, crs: str, synthetic: bool, rows: int | None = None,
               notes: tuple[str, ...] = (), vintage: str = "") -> InputRecord:
    """The record of an input read from ``path``: one file, or the tiles of a raster (a
    sequence of files and ``/vsizip/`` paths, or one ``/vsizip/`` path).

    A tiled raster's record has ``path`` the folder holding its tiles (the ``/vsi…`` path for one
    archive member), ``sha256`` that of the manifest (:func:`tiles_sha256`; the archive's own for
    one member), ``size_bytes`` the sum over the distinct files, one :class:`TileRecord` per tile
    and a note counting the tiles mosaicked.
    """
    tile_texts = source_tiles(path)
    if len(tile_texts) == 1 and not is_vsi(tile_texts[0]):
        p = Path(tile_texts[0])
        return InputRecord(name=name, path=str(p), sha256=file_sha256(p), size_bytes=p.stat().st_size,
                           crs=crs, synthetic=synthetic, rows=rows, notes=tuple(notes), vintage=vintage)
    hashed: dict[Path, tuple[str, int]] = {}
    records = []
    for tile in tile_texts:
        f = tile_file(tile)
        if f not in hashed:
            hashed[f] = (file_sha256(f), f.stat().st_size)
        records.append(TileRecord(tile=tile, file=str(f), sha256=hashed[f][0], size_bytes=hashed[f][1]))
    size = sum(n for _, n in hashed.values())
    if len(records) == 1:
        only = records[0]
        return InputRecord(name=name, path=only.tile, sha256=only.sha256, size_bytes=size, crs=crs,
                           synthetic=synthetic, rows=rows, notes=(f"read from the archive {only.file}", *notes),
                           vintage=vintage, tiles=tuple(records))
    shown = ", ".join(r.tile.rsplit("/", 1)[-1] for r in records[:5])
    more = f" and {len(records) - 5} more" if len(records) > 5 else ""
    note = (f"mosaic of {len(records)} tiles ({shown}{more}) as a GDAL VRT; sha256 is that of the tiles' "
            "sorted sha256sum manifest, each tile's hash is under tiles")
    return InputRecord(name=name, path=common_folder(tile_texts), sha256=tiles_sha256(tuple(records)),
                       size_bytes=size, crs=crs, synthetic=synthetic, rows=rows, notes=(note, *notes),
                       vintage=vintage, tiles=tuple(records))


def software_versions() -> dict[str, str]:
    """citycov and the versions of the libraries whose numbers end up in results."""
    out = {"citycov": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "numba", "geopandas", "shapely", "rasterio", "pyproj", "folium", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
