"""Raster input paths that stand for several tiles, and GDAL virtual paths.

The ``path`` of a raster input (terrain, population, clutter) may be one file; a folder of
tiles (non-recursive: every file with a :data:`TILE_SUFFIXES` suffix, other files such as
``README.txt`` or ``.aux.xml`` ignored); a list of any of these; a glob pattern (``*``,
``?``, ``[``) relative to the scenario file; a zip archive of tiles (``N40W074.SRTMGL1.hgt.zip``);
or a GDAL virtual path (``/vsizip/tiles.zip/N40W074.hgt``, ``/vsigzip/dem.tif.gz``,
``/vsitar/tiles.tar/a.tif``), its archive relative to the scenario file.

:func:`resolve_raster_path` turns that ``path`` into the tiles a reader opens (plain files and
``/vsi…`` paths to archive members, as text), with every problem named; :func:`tile_file` is
the file on disk behind one tile (its archive for a virtual path), which provenance hashes and
the output-folder checks protect.
"""

from __future__ import annotations

import glob
import os
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from citycov.filekind import MISSING, path_problem

TILE_SUFFIXES = (".tif", ".tiff", ".hgt", ".hgt.zip", ".zip", ".vrt", ".img")
"""Suffixes of the raster tiles taken from a folder or a glob (lower case; a ``.zip`` must hold
a tile: an SRTM ``.hgt`` or another of these formats)."""
MEMBER_SUFFIXES = (".tif", ".tiff", ".hgt", ".img")
"""Suffixes of the archive members taken as tiles from a zip archive."""
VSI_ARCHIVES = {"/vsizip/": (".zip",), "/vsitar/": (".tar", ".tar.gz", ".tgz"), "/vsigzip/": (".gz",)}
"""GDAL virtual file systems accepted, and the suffixes of their archives."""
GLOB_CHARS = frozenset("*?[")

RasterSource = str | Path | Sequence[str | Path]
"""What a raster reader opens: one path (a file or a ``/vsi…`` path) or a sequence of tiles."""


def is_vsi(text: str | Path) -> bool:
    """Whether ``text`` is a GDAL virtual path this package accepts (``/vsizip/`` ...)."""
    return isinstance(text, str) and text.startswith(tuple(VSI_ARCHIVES))


def split_vsi(text: str) -> tuple[str, str, str] | None:
    """``(prefix, archive, member)`` of a GDAL virtual path, ``member`` ``""`` for ``/vsigzip/``;
    ``None`` when no path component ends with the archive suffixes of the prefix."""
    for prefix, suffixes in VSI_ARCHIVES.items():
        if not text.startswith(prefix):
            continue
        rest = text[len(prefix):]
        parts = rest.split("/")
        for i in range(len(parts)):
            archive = "/".join(parts[: i + 1])
            if archive.lower().endswith(suffixes):
                return prefix, archive, "/".join(parts[i + 1:])
        return None
    return None


def tile_file(tile: str | Path) -> Path:
    """The file on disk behind a tile: the tile itself, or the archive of a ``/vsi…`` path."""
    if is_vsi(tile):
        parts = split_vsi(str(tile))
        if parts is not None:
            return Path(parts[1])
    return Path(tile)


def source_tiles(source: RasterSource) -> tuple[str, ...]:
    """The tiles of a raster source as text: one for a path, each entry of a sequence."""
    if isinstance(source, str | Path):
        return (str(source),)
    return tuple(str(t) for t in source)


def resolve_raster_path(raw: object, base: Path, *, where: str) -> tuple[Path | None, tuple[str, ...], list[str]]:
    """The ``path`` of a raster input, resolved against ``base`` (the scenario's folder).

    Returns
    -------
    path, tiles, problems
        ``path``: the file, folder, archive or (for a glob) the pattern, absolute (``None`` when
        ``raw`` is not a path at all); ``tiles``: ``()`` for one plain raster file, else every tile
        (absolute files or ``/vsi…`` paths), in order; ``problems``: what is wrong, each naming
        ``where`` and the path, for :func:`citycov.config.load_scenario` to report.

    Examples
    --------
    >>> resolve_raster_path("dem.tif", Path("/nowhere"), where="[inputs.terrain].path")[2]
    ['[inputs.terrain].path: file not found: /nowhere/dem.tif']
    """
    problems: list[str] = []
    if isinstance(raw, list):
        if not raw:
            return None, (), [f"{where} must be a path or a non-empty list of paths, got []"]
        tiles: list[str] = []
        first: Path | None = None
        for i, entry in enumerate(raw):
            if not isinstance(entry, str) or not entry:
                problems.append(f"{where}[{i}] must be a non-empty string (a tile's path), got {entry!r}")
                continue
            path, found = _resolve_one(entry, base, f"{where}[{i}]", problems)
            first = first or path
            tiles += found or ([str(path)] if path is not None else [])
        return first, tuple(dict.fromkeys(tiles)), problems
    if not isinstance(raw, str) or not raw:
        return None, (), [f"{where} must be a non-empty string (a file, folder, glob or /vsizip/ path) "
                          f"or a list of them, got {raw!r}"]
    path, found = _resolve_one(raw, base, where, problems)
    return path, tuple(found), problems


def _resolve_one(raw: str, base: Path, where: str, problems: list[str]) -> tuple[Path | None, list[str]]:
    """One path of a raster input: ``(path, tiles)``, tiles ``[]`` for a plain raster file."""
    if is_vsi(raw):
        return _resolve_vsi(raw, base, where, problems)
    given = base / raw  # raw itself when absolute
    path = given.resolve() if not Path(raw).is_absolute() else given
    if given.is_dir():
        return path, _folder_tiles(path, where, problems)
    problem = path_problem(given)
    if problem is None:
        if _suffix_of(path) in (".zip", ".hgt.zip"):
            return path, _zip_tiles(path, where, problems)
        return path, []
    if problem == MISSING and GLOB_CHARS & set(raw):
        return path, _glob_tiles(str(given), where, problems)
    if problem == MISSING:
        problems.append(f"{where}: file not found: {path}")
    else:
        problems.append(f"{where}: {given} {problem}")
    return None, []


def _suffix_of(path: Path) -> str:
    name = path.name.lower()
    return next((s for s in sorted(TILE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), "")


def _tiles_among(paths: Sequence[Path], where: str, problems: list[str]) -> list[str]:
    """The tiles among ``paths`` (by suffix; hidden files, folders and other files skipped);
    a tile that is not a regular file (a FIFO, a device) is a problem."""
    tiles: list[str] = []
    for p in paths:
        suffix = _suffix_of(p)
        if not suffix or p.name.startswith(".") or p.is_dir():
            continue
        problem = path_problem(p)
        if problem is not None:
            problems.append(f"{where}: tile {p} {problem}")
        elif suffix in (".zip", ".hgt.zip"):
            tiles += _zip_tiles(p, where, problems)
        else:
            tiles.append(str(p))
    return tiles


def _folder_tiles(folder: Path, where: str, problems: list[str]) -> list[str]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        problems.append(f"{where}: cannot list the folder {folder}: {exc.strerror or exc}")
        return []
    n_problems = len(problems)
    tiles = _tiles_among(entries, where, problems)
    if not tiles and len(problems) == n_problems:
        names = [e.name + ("/" if e.is_dir() else "") for e in entries]
        found = f"it holds {_listed(names)}" if names else "it is empty"
        problems.append(f"{where}: the folder {folder} holds no raster tile ({', '.join(TILE_SUFFIXES)}); {found}")
    return tiles


def _glob_tiles(pattern: str, where: str, problems: list[str]) -> list[str]:
    matches = [Path(m) for m in sorted(glob.glob(pattern))]
    if not matches:
        problems.append(f"{where}: the pattern {pattern} matches no file")
        return []
    n_problems = len(problems)
    tiles = _tiles_among(matches, where, problems)
    if not tiles and len(problems) == n_problems:
        problems.append(f"{where}: the pattern {pattern} matches no raster tile ({', '.join(TILE_SUFFIXES)}); "
                        f"it matches {_listed([m.name for m in matches])}")
    return tiles


def _zip_tiles(archive: Path, where: str, problems: list[str]) -> list[str]:
    """``/vsizip/`` paths of the raster members of a zip archive (an SRTM ``.hgt.zip`` holds one)."""
    try:
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"{where}: {archive} cannot be read as a zip archive ({exc}); expected a zip of "
                        "raster tiles (e.g. an SRTM N40W074.SRTMGL1.hgt.zip holding N40W074.hgt)")
        return []
    members = [n for n in names if n.lower().endswith(MEMBER_SUFFIXES)]
    if not members:
        problems.append(f"{where}: the zip archive {archive} holds no raster tile ({', '.join(MEMBER_SUFFIXES)}); "
                        f"it holds {_listed(names) if names else 'nothing'}")
    return [f"/vsizip/{archive}/{m}" for m in members]


def _resolve_vsi(raw: str, base: Path, where: str, problems: list[str]) -> tuple[Path | None, list[str]]:
    """A ``/vsizip/``, ``/vsitar/`` or ``/vsigzip/`` path: its archive (relative to ``base``)
    must be a regular file that holds the member."""
    parts = split_vsi(raw)
    prefix = next(p for p in VSI_ARCHIVES if raw.startswith(p))
    if parts is None:
        problems.append(f"{where}: {raw}: names no archive; expected {prefix}<archive"
                        f"{'|'.join(VSI_ARCHIVES[prefix])}>{'' if prefix == '/vsigzip/' else '/<member>'}")
        return None, []
    _, archive_text, member = parts
    given = base / archive_text
    archive = given.resolve() if not Path(archive_text).is_absolute() else given
    problem = path_problem(given)
    if problem is not None:
        what = "archive not found" if problem == MISSING else f"archive {problem}"
        problems.append(f"{where}: {raw}: {what}: {archive}")
        return None, []
    if prefix == "/vsigzip/":
        if member:
            problems.append(f"{where}: {raw}: a /vsigzip/ path names one gzip file, not a member ({member!r}); "
                            "use /vsitar/ for a .tar.gz archive")
            return None, []
        return archive, [f"{prefix}{archive}"]
    names = _archive_members(archive, prefix, where, problems)
    if names is None:
        return None, []
    if not member:
        problems.append(f"{where}: {raw}: names no member of {archive}; expected {prefix}<archive>/<member>, "
                        f"the archive holds {_listed(names)}")
        return None, []
    if member not in names:
        problems.append(f"{where}: {raw}: {archive} holds no member {member!r}; it holds {_listed(names)}")
        return None, []
    return archive, [f"{prefix}{archive}/{member}"]


def _archive_members(archive: Path, prefix: str, where: str, problems: list[str]) -> list[str] | None:
    try:
        if prefix == "/vsizip/":
            with zipfile.ZipFile(archive) as z:
                return [n for n in z.namelist() if not n.endswith("/")]
        with tarfile.open(archive) as t:
            return [m.name for m in t.getmembers() if m.isfile()]
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        kind = "zip" if prefix == "/vsizip/" else "tar"
        problems.append(f"{where}: {archive} cannot be read as a {kind} archive ({exc})")
        return None


def _listed(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return f"{shown} and {len(names) - limit} more" if len(names) > limit else shown


def common_folder(tiles: Sequence[str]) -> str:
    """The deepest folder holding the files of all ``tiles``."""
    files = [os.path.dirname(str(tile_file(t))) for t in tiles]
    return os.path.commonpath(files) if files else ""
