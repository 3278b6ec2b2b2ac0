"""Rasters kept in tiled GeoTIFFs instead of memory, read strip by strip.

The engine writes each tile's rasters into tiled GeoTIFFs as the tile finishes
(:class:`citycov.engine.tile_tasks.TiffSink`); a :class:`StoredRaster` is one of those files seen
as a (bands, rows, cols) or (rows, cols) raster of its logical dtype.  The pipeline's steps after
the engine (masks, services, claims, the output files) go over the grid in row strips
(:func:`row_strips`, :func:`strip_of`), which treat in-memory arrays and stored rasters alike, so
that no process holds a whole-grid copy of the engine's rasters and the figures do not depend on
where the rasters are.

Reading a whole stored raster (``np.asarray(raster)``, ``raster[band]``) still works, for small
grids and for code that needs it; the pipeline itself does not.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from citycov.errors import RasterError

log = logging.getLogger(__name__)

STRIP_CELLS = 1 << 20
"""Cells of one strip (about 1 M: 4 MB per float32 band)."""
GDAL_CACHE_MB = 128
"""GDAL's block cache while stored rasters are read and written (:func:`bounded_gdal_cache`).
GDAL's default, 5 % of the machine's memory, would let the blocks of every strip read stay in
memory against the run's memory bound.  It is set around these reads and writes only: a small
cache makes other GDAL work (``rasterio.features.rasterize`` of many shapes into a grid) hundreds
of times slower."""


def bounded_gdal_cache() -> rasterio.Env:
    """A rasterio environment with GDAL's block cache at :data:`GDAL_CACHE_MB`."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def row_strips(shape: tuple[int, ...], *, cells: int = STRIP_CELLS, align: int = 256) -> list[tuple[int, int]]:
    """Row ranges (r0, r1) covering a grid of ``shape`` (last two axes: rows, cols), each of
    about ``cells`` cells, in whole multiples of ``align`` rows (the files' block height) when
    a strip holds at least that many."""
    rows, cols = int(shape[-2]), int(shape[-1])
    step = max(1, cells // max(cols, 1))
    if step >= align:
        step -= step % align
    return [(r, min(r + step, rows)) for r in range(0, rows, step)]


def strip_of(values: Any, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 (last two axes) of an array or a :class:`StoredRaster`, as an array."""
    if isinstance(values, StoredRaster):
        return values.read_rows(r0, r1)
    return values[..., r0:r1, :]


@dataclass(frozen=True, eq=False)
class StoredRaster:
    """A raster in a GeoTIFF, seen from cell ``offset`` (row, col) of the file, of ``shape``
    ((bands, rows, cols), or (rows, cols) for a one-band file) and logical ``dtype`` (values are
    cast to it on reading: float16 rasters are stored as float32, GeoTIFF has no float16).
    ``keep`` holds what must outlive every reader (the run's temporary folder)."""

    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    offset: tuple[int, int] = (0, 0)
    keep: Any = None

    @classmethod
    def open(cls, path: str | Path, *, dtype: Any = None, bands: bool = True, keep: Any = None) -> StoredRaster:
        """The whole file ``path`` (``bands`` False: a one-band file seen as (rows, cols))."""
        with rasterio.open(path) as src:
            shape = (src.count, src.height, src.width) if bands else (src.height, src.width)
            if not bands and src.count != 1:
                raise RasterError(f"{path}: {src.count} bands, expected 1")
            file_dtype = src.dtypes[0]
        return cls(Path(path), shape, np.dtype(dtype if dtype is not None else file_dtype), keep=keep)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def cropped(self, offset: tuple[int, int], shape: tuple[int, int]) -> StoredRaster:
        """The window of ``shape`` (rows, cols) starting at ``offset`` of this view."""
        r0, c0 = offset
        if r0 < 0 or c0 < 0 or r0 + shape[0] > self.shape[-2] or c0 + shape[1] > self.shape[-1]:
            raise RasterError(f"{self.path.name}: no window {shape} at {offset} in {self.shape[-2:]}")
        return replace(self, shape=(*self.shape[:-2], *shape), offset=(self.offset[0] + r0, self.offset[1] + c0))

    def read_rows(self, r0: int, r1: int, band: int | None = None) -> np.ndarray:
        """Rows r0:r1 of every band (or of ``band``, 0-based) as an array of the logical dtype."""
        rows, cols = self.shape[-2:]
        r0, r1 = max(0, r0), min(rows, r1)
        window = Window(self.offset[1], self.offset[0] + r0, cols, max(0, r1 - r0))
        with bounded_gdal_cache(), rasterio.open(self.path) as src:
            if band is not None:
                data = src.read(band + 1, window=window)
            else:
                data = src.read(window=window)
                if self.ndim == 2:
                    data = data[0]
        return data.astype(self.dtype, copy=False)

    def read(self, band: int | None = None) -> np.ndarray:
        """The whole raster (or one band) in memory."""
        return self.read_rows(0, self.shape[-2], band)

    def gather(self, band: int, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """Values of ``band`` at cells (row, col) (in bounds), reading only the strips that hold some."""
        row = np.asarray(row, dtype=np.int64)
        col = np.asarray(col, dtype=np.int64)
        out = np.empty(row.shape, dtype=self.dtype)
        for r0, r1 in row_strips(self.shape):
            sel = (row >= r0) & (row < r1)
            if sel.any():
                out[sel] = self.read_rows(r0, r1, band)[row[sel] - r0, col[sel]]
        return out

    def __getitem__(self, key: Any) -> np.ndarray:
        if self.ndim == 3 and isinstance(key, int | np.integer):
            return self.read(int(key))
        if (self.ndim == 3 and isinstance(key, tuple) and len(key) == 3 and isinstance(key[0], int | np.integer)
                and all(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in key[1:])):
            return self.gather(int(key[0]), key[1], key[2])
        return self.read()[key]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        values = self.read()
        return values if dtype is None else values.astype(dtype, copy=False)

    def astype(self, dtype: Any, copy: bool = True) -> np.ndarray:
        return self.read().astype(dtype, copy=copy)

    def __repr__(self) -> str:
        return f"StoredRaster({self.path.name}, shape={self.shape}, dtype={self.dtype}, offset={self.offset})"


@functools.cache
def _machine_key() -> str:
    """This machine and PID namespace, as a short key for the names of temporary folders: the host
    name, the boot id and the PID namespace (Linux), so that a process id in a folder's name is
    only ever judged on the machine, boot and namespace that made it."""
    parts = [socket.gethostname()]
    for path in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            parts.append(Path(path).read_text().strip() if "boot_id" in path else os.readlink(path))
        except OSError:
            parts.append("")
    host = re.sub(r"[^A-Za-z0-9.]", "_", parts[0])[:32] or "host"
    return f"{host}_{hashlib.sha1('|'.join(parts).encode()).hexdigest()[:8]}"


SCRATCH_KINDS = ("run", "scene")
"""Kinds of temporary folder (:func:`scratch_prefix`): a run's stored rasters, a cluster's scene."""
_SCRATCH_NAME = re.compile(rf"^citycov-(?:{'|'.join(SCRATCH_KINDS)})-"
                           r"(?P<machine>[A-Za-z0-9._]+)-(?P<pid>[0-9]+)-[A-Za-z0-9_]+$")


def scratch_prefix(kind: str) -> str:
    """The name prefix of a temporary folder of this process (``tempfile``'s random part follows):
    ``citycov-<kind>-<machine key>-<pid>-``, which :func:`remove_stale_scratch` recognises once
    the process has gone."""
    if kind not in SCRATCH_KINDS:
        raise ValueError(f"scratch kind {kind!r}: expected one of {SCRATCH_KINDS}")
    return f"citycov-{kind}-{_machine_key()}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return True


def remove_stale_scratch(parent: str | Path | None = None) -> list[Path]:
    """Remove the temporary folders that killed runs of this machine left in ``parent`` (the
    system's temporary folder when None): those named by :func:`scratch_prefix` with this
    machine's key and the id of a process that no longer exists.  A run that ends normally, or
    by an exception or Ctrl-C, removes its own; only SIGKILL, a crash of the interpreter or a
    power cut leaves one.  Folders of other machines (a ``scratch_dir`` shared by several), of
    live processes and of any other name are left alone; nothing is judged on a system without
    POSIX process ids.  Returns the folders removed."""
    if os.name != "posix":
        return []
    parent = Path(parent).expanduser() if parent is not None else Path(tempfile.gettempdir())
    machine = _machine_key()
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    for entry in entries:
        m = _SCRATCH_NAME.match(entry.name)
        if not m or m["machine"] != machine or _alive(int(m["pid"])):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            log.info("removed %s: the temporary folder of a run that was killed (process %s)", entry.path, m["pid"])
            removed.append(Path(entry.path))
    return removed


class Scratch:
    """One run's temporary folder for its stored rasters (in ``parent``, the system's temporary
    folder when None), removed when nothing refers to it any more: every
    :class:`StoredRaster` written there keeps it (``keep``), so the rasters stay readable for
    as long as the run's results are used (e.g. until the output files are written).  Folders that
    killed runs left in ``parent`` go first (:func:`remove_stale_scratch`)."""

    def __init__(self, parent: str | Path | None = None) -> None:
        if parent is not None:
            parent = Path(parent).expanduser()
            parent.mkdir(parents=True, exist_ok=True)
        remove_stale_scratch(parent)
        # ignore_cleanup_errors: the CLI's staging folder may have gone first (its temporary files)
        self._dir = tempfile.TemporaryDirectory(prefix=scratch_prefix("run"), dir=parent, ignore_cleanup_errors=True)
        self.path = Path(self._dir.name)
        self._count = 0

    def folder(self, name: str) -> Path:
        """A new, empty sub-folder (numbered in order of creation)."""
        self._count += 1
        path = self.path / f"{self._count:02d}-{name}"
        path.mkdir()
        return path
