"""Provenance records: what went into a result (file, SHA-256, CRS, synthetic flag, software)."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from citycov._version import __version__


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


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_for(name: str, path: str | Path, *, crs: str, synthetic: bool, rows: int | None = None,
               notes: tuple[str, ...] = (), vintage: str = "") -> InputRecord:
    p = Path(path)
    return InputRecord(name=name, path=str(p), sha256=file_sha256(p), size_bytes=p.stat().st_size,
                       crs=crs, synthetic=synthetic, rows=rows, notes=tuple(notes), vintage=vintage)


def software_versions() -> dict[str, str]:
    """citycov and the versions of the libraries whose numbers end up in results."""
    out = {"citycov": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "numba", "geopandas", "shapely", "rasterio", "pyproj", "folium", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out
