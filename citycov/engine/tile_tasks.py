"""The engine as independent tile tasks: a plan per tile, the work of one tile on its own terrain
window, and the sinks its results go to.

A run is split into square tiles (``[radio].tile_cells``).  Each tile's :class:`TilePlan` names
its window, the site groups whose reach touches it (for the base model and, with ``alt_model``, the
alternative) and the *terrain window* the task reads: the smallest box of the engine grid that
holds every ray sample of those sites' fans that the tile needs (:func:`terrain_window`), padded
for the bilinear reads.  :func:`engine_tile` runs one plan against the run's shared part
(:class:`EngineShared`: the sector arrays, groups, models and a :class:`SceneSource`, sent to the
workers once) and returns the tile's own rasters (:class:`TileOutput`); nothing in a task is the
size of the grid.  The task reads the scene (terrain, environment class, active cells, receiver
loss) through its source: :class:`ArrayScene` slices arrays in memory, :class:`RasterScene`
reads the window from tiled GeoTIFFs with rasterio (a worker on another machine reads the files
from a shared path).

The kernels see the terrain window as their whole scene: the sites' positions are shifted into
it, so a task's cost and memory do not depend on the grid's size.  The results do not depend on
how the tiles are scheduled (in-process, on one worker or many), because each tile is computed
by the same function from the same plan; they equal the whole-grid computation up to the last
bits of the ray positions (the shifted positions round differently; see the README's "Scaling
out").

Results go to a sink as they arrive, in any order: :class:`GridSink` assembles the whole-grid
rasters of :class:`citycov.engine.cellular.CellularResult` (the single-machine pipeline);
:class:`TiffSink` writes each tile into tiled GeoTIFFs, so that no process holds a whole-grid
raster (province and country runs).
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from affine import Affine
from rasterio.dtypes import _gdal_typename
from rasterio.windows import Window
from tqdm import tqdm

from citycov.checkpoints import checkpoint
from citycov.choices import TECHNOLOGIES
from citycov.engine.linkbudget import LinkParams, LinkRasters
from citycov.engine.sectors import Scene, bits_dtype, scene_arrays, tile_state
from citycov.engine.tiles import fan_size, fan_wedge, rect_distance, tile_windows
from citycov.errors import RasterError
from citycov.grid import GridSpec
from citycov.stored import bounded_gdal_cache

TERRAIN_PAD_CELLS = 3
"""Cells of terrain kept around the farthest ray sample a tile needs: the bilinear reads take the
next cell, and a window edge must never be where a whole-grid read would still see terrain."""

Window4 = tuple[int, int, int, int]
"""(row0, row1, col0, col1): rows row0 .. row1 − 1, columns col0 .. col1 − 1 of the engine grid."""


# ---------------------------------------------------------------- the scene a task reads
class SceneSource(Protocol):
    """Where the tasks read the engine grid's scene from, one window at a time."""

    shape: tuple[int, int]

    def window(self, win: Window4) -> Scene:
        """The scene over ``win`` (contiguous arrays of the window's shape; ``rx_loss_db`` (0, 0): none)."""

    def any_active(self, win: Window4) -> bool:
        """Whether some cell of ``win`` is to be evaluated."""


@dataclass(frozen=True)
class SceneConstants:
    cell_m: float
    h_rx_m: float
    earth_radius_m: float
    floor_dbm: float


class ArrayScene:
    """The scene held in memory (the single-machine run): windows are copies of its slices."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.shape = scene.dem_m.shape

    def window(self, win: Window4) -> Scene:
        r0, r1, c0, c1 = win
        s = self.scene
        rx = s.rx_loss_db if s.rx_loss_db.size == 0 else np.ascontiguousarray(s.rx_loss_db[r0:r1, c0:c1])
        return s._replace(dem_m=np.ascontiguousarray(s.dem_m[r0:r1, c0:c1]),
                          env=np.ascontiguousarray(s.env[r0:r1, c0:c1]),
                          active=np.ascontiguousarray(s.active[r0:r1, c0:c1]), rx_loss_db=rx)

    def any_active(self, win: Window4) -> bool:
        r0, r1, c0, c1 = win
        return bool(self.scene.active[r0:r1, c0:c1].any())

    def active_count(self) -> int:
        return int(self.scene.active.sum())

    def to_files(self, folder: Path, grid: GridSpec, *, block: int = 512) -> RasterScene:
        """This scene written to tiled GeoTIFFs in ``folder`` (for workers that read windows)."""
        return RasterScene.write(folder, grid, self.scene, block=block)


SCENE_LAYERS = ("dem_m", "env", "active", "rx_loss_db")


@dataclass
class RasterScene:
    """The scene in tiled GeoTIFFs on the engine grid's lattice (one file per layer), read one
    window at a time with rasterio (every read goes through :meth:`_read`)."""

    paths: dict[str, str]
    shape: tuple[int, int]
    constants: SceneConstants

    @classmethod
    def write(cls, folder: Path, grid: GridSpec, scene: Scene, *, block: int = 512) -> RasterScene:
        """Write ``scene`` (whole-grid arrays) to ``folder`` block by block."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rows, cols = grid.shape
        paths = {}
        for name in SCENE_LAYERS:
            values = getattr(scene, name)
            if name == "rx_loss_db" and values.size == 0:
                continue
            path = folder / f"scene_{name}.tif"
            with open_tiled(path, grid, values.dtype) as dst:
                for r0, r1, c0, c1 in tile_windows(rows, cols, block):
                    dst.write(values[r0:r1, c0:c1], 1, window=Window(c0, r0, c1 - c0, r1 - r0))
            paths[name] = str(path)
        return cls(paths=paths, shape=(rows, cols), constants=SceneConstants(
            scene.cell_m, scene.h_rx_m, scene.earth_radius_m, scene.floor_dbm))

    def _read(self, name: str, win: Window4) -> np.ndarray:
        r0, r1, c0, c1 = win
        with rasterio.open(self.paths[name]) as src:
            if (src.height, src.width) != self.shape:
                raise RasterError(f"scene layer {self.paths[name]}: {src.height} x {src.width} cells, the engine "
                                  f"grid has {self.shape[0]} x {self.shape[1]}")
            return np.ascontiguousarray(src.read(1, window=Window(c0, r0, c1 - c0, r1 - r0)))

    def window(self, win: Window4) -> Scene:
        c = self.constants
        rx = self._read("rx_loss_db", win) if "rx_loss_db" in self.paths else np.zeros((0, 0), dtype=np.float32)
        return Scene(dem_m=self._read("dem_m", win), env=self._read("env", win).astype(np.int8, copy=False),
                     active=self._read("active", win).astype(np.uint8, copy=False), rx_loss_db=rx,
                     cell_m=c.cell_m, h_rx_m=c.h_rx_m, earth_radius_m=c.earth_radius_m, floor_dbm=c.floor_dbm)

    def any_active(self, win: Window4) -> bool:
        return bool(self._read("active", win).any())

    def active_count(self, block: int = 2048) -> int:
        return sum(int(np.count_nonzero(self._read("active", w))) for w in tile_windows(*self.shape, block))


SCRATCH_COMPRESSION = {"compress": "zstd", "zstd_level": 1}
"""Compression of the run's scratch rasters: ZSTD level 1 costs about a seventh of DEFLATE's
time to write (the main process writes every tile of an in-process run)."""


def open_tiled(path: Path, grid: GridSpec, dtype: np.dtype, *, count: int = 1, nodata: float | None = None,
               compression: dict[str, Any] | None = None):
    """A tiled (256 x 256) GeoTIFF on ``grid`` for window writes, DEFLATE-compressed unless
    ``compression`` gives other creation options (e.g. :data:`SCRATCH_COMPRESSION`)."""
    options = {"compress": "deflate"} if compression is None else compression
    return rasterio.open(path, "w", driver="GTiff", width=grid.shape[1], height=grid.shape[0], count=count,
                         dtype=np.dtype(dtype).name, crs=grid.crs.to_wkt(), transform=grid.transform, tiled=True,
                         blockxsize=256, blockysize=256, nodata=nodata, BIGTIFF="IF_SAFER", SPARSE_OK=True,
                         **options)


def scene_source(dem_m: np.ndarray, env: np.ndarray, grid: GridSpec, *, active: np.ndarray | None,
                 rx_loss_db: np.ndarray | None, constants: SceneConstants) -> ArrayScene:
    """The in-memory scene of whole-grid arrays (checked against the grid's shape)."""
    return ArrayScene(scene_arrays(dem_m, env, grid.shape, active=active, rx_loss_db=rx_loss_db,
                                   cell_m=constants.cell_m, h_rx_m=constants.h_rx_m,
                                   earth_radius_m=constants.earth_radius_m, floor_dbm=constants.floor_dbm))


# ---------------------------------------------------------------- plans
@dataclass(frozen=True)
class TilePlan:
    """One tile's task: its window, the site groups that reach it and the terrain it reads."""

    index: int
    window: Window4
    groups: np.ndarray
    """int64, ascending: site groups whose reach under the base model touches the tile."""
    alt_groups: np.ndarray
    """int64, ascending: site groups whose reach under the alternative model touches it (empty: none)."""
    terrain: Window4
    """The window of the scene the task reads."""

    def describe(self) -> str:
        r0, r1, c0, c1 = self.window
        t0, t1, u0, u1 = self.terrain
        return (f"engine tile {self.index} (rows {r0}-{r1 - 1}, columns {c0}-{c1 - 1}; {self.groups.size} site "
                f"group(s); terrain window rows {t0}-{t1 - 1}, columns {u0}-{u1 - 1})")


def wedge_box(row0: float, col0: float, window: Window4, reach_cells: float) -> tuple[float, float, float, float]:
    """(row_min, row_max, col_min, col_max) holding every ray sample of the fan of a site at (row0,
    col0) reaching ``reach_cells`` that the tile ``window`` needs (:func:`citycov.engine.tiles.fan_wedge`):
    the wedge's rays (ray r at azimuth 2πr/n clockwise from north) sampled out to its last step.
    The box is that of the continuous arc between the wedge's first and last rays (the extremes of
    −cos and sin over the arc: its ends, and the compass points inside it), so it holds every ray."""
    n_rays, n_steps = fan_size(reach_cells)
    ray_lo, n_wedge, steps = fan_wedge(row0, col0, *window, n_rays, n_steps)
    if n_wedge >= n_rays:
        return row0 - steps, row0 + steps, col0 - steps, col0 + steps
    a = 2.0 * math.pi * ray_lo / n_rays
    span = 2.0 * math.pi * (n_wedge - 1) / n_rays

    def inside(angle: float) -> bool:
        return (angle - a) % (2.0 * math.pi) <= span

    b = a + span
    drow = (-math.cos(a), -math.cos(b))
    dcol = (math.sin(a), math.sin(b))
    drow_min = -1.0 if inside(0.0) else min(drow)
    drow_max = 1.0 if inside(math.pi) else max(drow)
    dcol_min = -1.0 if inside(1.5 * math.pi) else min(dcol)
    dcol_max = 1.0 if inside(0.5 * math.pi) else max(dcol)
    return (row0 + steps * min(0.0, drow_min), row0 + steps * max(0.0, drow_max),
            col0 + steps * min(0.0, dcol_min), col0 + steps * max(0.0, dcol_max))


def terrain_window(site_rc: Iterable[tuple[float, float, float]], window: Window4, shape: tuple[int, int],
                   pad: int = TERRAIN_PAD_CELLS) -> Window4:
    """The box of the grid (``shape``) holding the tile ``window`` and the wedge of every fan in
    ``site_rc`` ((row, col, reach in cells) of each site fan), grown by ``pad`` cells."""
    r_lo, r_hi, c_lo, c_hi = window[0], window[1] - 1, window[2], window[3] - 1
    for row0, col0, reach in site_rc:
        a, b, c, d = wedge_box(row0, col0, window, reach)
        r_lo, r_hi, c_lo, c_hi = min(r_lo, a), max(r_hi, b), min(c_lo, c), max(c_hi, d)
    rows, cols = shape
    return (max(0, int(math.floor(r_lo)) - pad), min(rows, int(math.ceil(r_hi)) + pad + 1),
            max(0, int(math.floor(c_lo)) - pad), min(cols, int(math.ceil(c_hi)) + pad + 1))


# ---------------------------------------------------------------- tile outputs and sinks
def sector_index_dtype(n_sectors: int) -> type:
    """The dtype of the serving-sector rasters: int16 below 32,000 sectors, else int32."""
    return np.int16 if n_sectors < 32_000 else np.int32


@dataclass
class TileOutput:
    """One tile's rasters (last two axes: the tile's window)."""

    index: int
    window: Window4
    best_dbm: np.ndarray
    best_sector: np.ndarray
    cover_bits: np.ndarray
    links: dict[str, np.ndarray] | None = None
    alt_best_dbm: np.ndarray | None = None


class Sink(Protocol):
    def put(self, out: TileOutput) -> None: ...


class GridSink:
    """Whole-grid rasters in memory, filled tile by tile (cells no task wrote keep the fill:
    NaN level, −1 sector, no cover bit, as for a tile no site reaches)."""

    def __init__(self, shape: tuple[int, int], *, index_dtype: type, n_networks: int, link: bool, alt: bool) -> None:
        n_tech = len(TECHNOLOGIES)
        self.best_dbm = np.full((n_tech, *shape), np.nan, dtype=np.float32)
        self.best_sector = np.full((n_tech, *shape), -1, dtype=index_dtype)
        self.cover_bits = np.zeros(shape, dtype=bits_dtype(n_networks))
        self.links = LinkRasters(n_tech, *shape, index_dtype) if link else None
        self.alt_best_dbm = np.full((n_tech, *shape), np.nan, dtype=np.float32) if alt else None

    def put(self, out: TileOutput) -> None:
        r0, r1, c0, c1 = out.window
        self.best_dbm[:, r0:r1, c0:c1] = out.best_dbm
        self.best_sector[:, r0:r1, c0:c1] = out.best_sector
        self.cover_bits[r0:r1, c0:c1] = out.cover_bits
        if self.links is not None and out.links is not None:
            for name, values in out.links.items():
                getattr(self.links, name)[:, r0:r1, c0:c1] = values
        if self.alt_best_dbm is not None and out.alt_best_dbm is not None:
            self.alt_best_dbm[:, r0:r1, c0:c1] = out.alt_best_dbm


class TiffSink:
    """Each tile written into tiled GeoTIFFs in ``folder`` as it arrives: ``best_dbm.tif`` (one band
    per technology, NaN none), ``best_sector.tif`` (−1 none), ``cover_bits.tif``, and with the link
    rasters and the alternative model theirs (``margin_db`` as float32: GeoTIFF has no float16).
    Cells of tiles no task wrote read as the fill value (the files are sparse).  ``close`` must be
    called (a context manager)."""

    def __init__(self, folder: Path, grid: GridSpec, *, index_dtype: type, n_networks: int, link: bool,
                 alt: bool, compression: dict[str, Any] | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        layers = layer_specs(index_dtype=index_dtype, n_networks=n_networks, link=link, alt=alt)
        self.paths = {name: self.folder / f"{name}.tif" for name in layers}
        self.files = {name: open_tiled(self.paths[name], grid, dtype, count=count, nodata=fill,
                                       compression=compression)
                      for name, (dtype, count, fill) in layers.items()}
        self.written = 0

    def put(self, out: TileOutput) -> None:
        r0, r1, c0, c1 = out.window
        win = Window(c0, r0, c1 - c0, r1 - r0)
        values = tile_values(out)
        for name, dst in self.files.items():
            if name in values:
                dst.write(values[name].astype(dst.dtypes[0], copy=False), window=win)
        self.written += 1

    def close(self) -> None:
        for dst in self.files.values():
            dst.close()

    def __enter__(self) -> TiffSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def layer_specs(*, index_dtype: type, n_networks: int, link: bool,
                alt: bool) -> dict[str, tuple[np.dtype, int, float | int]]:
    """The engine's rasters by the name of their ``CellularResult`` field: (file dtype, bands,
    fill of a cell no task wrote).  ``margin_db`` is stored as float32 (GeoTIFF has no float16)."""
    n_tech = len(TECHNOLOGIES)
    layers: dict[str, tuple[np.dtype, int, float | int]] = {
        "best_dbm": (np.dtype(np.float32), n_tech, float("nan")),
        "best_sector": (np.dtype(index_dtype), n_tech, -1),
        "cover_bits": (np.dtype(bits_dtype(n_networks)), 1, 0)}
    if link:
        probe = LinkRasters(n_tech, 1, 1, index_dtype)
        for name, values in probe.finish(LinkParams()).items():
            fill = values.flat[0]
            dtype = np.dtype(np.float32) if values.dtype == np.float16 else values.dtype
            layers[name] = (dtype, n_tech, float(fill) if values.dtype.kind == "f" else int(fill))
    if alt:
        layers["alt_best_dbm"] = (np.dtype(np.float32), n_tech, float("nan"))
    return layers


def tile_values(out: TileOutput) -> dict[str, np.ndarray]:
    """A tile's rasters by field name, each (bands, rows, cols)."""
    return {"best_dbm": out.best_dbm, "best_sector": out.best_sector, "cover_bits": out.cover_bits[None],
            **(out.links or {}), **({"alt_best_dbm": out.alt_best_dbm} if out.alt_best_dbm is not None else {})}


@dataclass(frozen=True)
class WrittenTile:
    """What a task that wrote its own files returns: which tile, and the files by raster name."""

    index: int
    window: Window4
    paths: dict[str, str]


@dataclass(frozen=True)
class TileFiles:
    """Tile tasks write their rasters themselves: one small GeoTIFF per tile and raster in
    ``folder`` (a path every worker writes at the same place), so that only a few bytes per tile
    travel back to the main process; :class:`VrtSink` mosaics them with one GDAL VRT per raster."""

    folder: str
    grid: GridSpec
    layers: dict[str, tuple[np.dtype, int, float | int]]

    def write(self, out: TileOutput) -> WrittenTile:
        r0, r1, c0, c1 = out.window
        t = self.grid.transform
        tile_grid = GridSpec(crs=self.grid.crs, transform=t @ Affine.translation(c0, r0), shape=(r1 - r0, c1 - c0))
        values = tile_values(out)
        paths = {}
        for name, (dtype, count, fill) in self.layers.items():
            if name not in values:
                continue
            path = Path(self.folder) / f"{name}-{out.index:06d}.tif"
            with bounded_gdal_cache(), open_tiled(path, tile_grid, dtype, count=count, nodata=fill,
                                                  compression=SCRATCH_COMPRESSION) as dst:
                dst.write(values[name].astype(dtype, copy=False))
            paths[name] = path.name
        return WrittenTile(out.index, out.window, paths)


class VrtSink:
    """The tiles written by the tasks (:class:`WrittenTile`), mosaicked at :meth:`finish` into one
    VRT per raster on the whole grid (cells of no tile read as the fill: the VRT's nodata)."""

    def __init__(self, files: TileFiles) -> None:
        self.files = files
        self.tiles: list[WrittenTile] = []

    def put(self, written: WrittenTile) -> None:
        self.tiles.append(written)

    def finish(self) -> dict[str, Path]:
        folder = Path(self.files.folder)
        grid = self.files.grid
        rows, cols = grid.shape
        tiles = sorted(self.tiles, key=lambda w: w.index)
        paths = {}
        for name, (dtype, count, fill) in self.files.layers.items():
            gdal_type = _gdal_typename(np.dtype(dtype).name)
            nodata = "nan" if isinstance(fill, float) and np.isnan(fill) else repr(fill)
            lines = [f'<VRTDataset rasterXSize="{cols}" rasterYSize="{rows}">',
                     f"  <SRS>{escape(grid.crs.to_wkt())}</SRS>",
                     f"  <GeoTransform>{', '.join(repr(v) for v in grid.transform.to_gdal())}</GeoTransform>"]
            for band in range(1, count + 1):
                lines.append(f'  <VRTRasterBand dataType="{gdal_type}" band="{band}">')
                lines.append(f"    <NoDataValue>{nodata}</NoDataValue>")
                for w in tiles:
                    if name not in w.paths:
                        continue
                    r0, r1, c0, c1 = w.window
                    lines += ["    <SimpleSource>",
                              f'      <SourceFilename relativeToVRT="1">{escape(w.paths[name])}</SourceFilename>',
                              f"      <SourceBand>{band}</SourceBand>",
                              f'      <SrcRect xOff="0" yOff="0" xSize="{c1 - c0}" ySize="{r1 - r0}"/>',
                              f'      <DstRect xOff="{c0}" yOff="{r0}" xSize="{c1 - c0}" ySize="{r1 - r0}"/>',
                              "    </SimpleSource>"]
                lines.append("  </VRTRasterBand>")
            lines.append("</VRTDataset>")
            path = folder / f"{name}.vrt"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            paths[name] = path
        return paths


# ---------------------------------------------------------------- the task
@dataclass
class EngineShared:
    """What every tile task of one run needs, sent to each worker once: the prepared run
    (sector arrays, models, reach; no whole-grid raster), the site groups and the scene source."""

    run: Any
    """:class:`citycov.engine.cellular._Run` without its scene."""
    groups: list[np.ndarray]
    source: SceneSource
    modes: Any
    """Factory of the per-process (fast, exact) mode objects: ``modes() -> (_FastMode, _ExactMode)``."""
    link: LinkParams | None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    files: TileFiles | None = None
    """Where each task writes its own rasters (:func:`engine_tile_to_files`); None: they are returned."""


_LOCAL = threading.local()


def _modes_for(shared: EngineShared) -> tuple[Any, Any]:
    """The (fast, exact) mode objects of this run in this thread: their ray workspace and smooth-ray
    cache are reused from tile to tile, never shared between threads."""
    cache = getattr(_LOCAL, "modes", None)
    if cache is None or cache[0] != shared.token:
        _LOCAL.modes = cache = (shared.token, shared.modes())
    return cache[1]


def engine_tile(plan: TilePlan, shared: EngineShared) -> TileOutput:
    """Run one tile: read its terrain window, evaluate the site groups of the plan in ascending
    order (the order of a whole-grid run, which decides ties between equal levels) and return the
    tile's rasters."""
    from citycov.engine.cellular import TECH_INDEX  # the engine module imports this one

    fast, exact = _modes_for(shared)
    run, groups = shared.run, shared.groups
    t0, _t1, u0, _u1 = plan.terrain
    r0, r1, c0, c1 = plan.window
    th, tw = r1 - r0, c1 - c0
    local = replace(run, scene=shared.source.window(plan.terrain), row_f=run.row_f - t0, col_f=run.col_f - u0)
    window = (r0 - t0, r1 - t0, c0 - u0, c1 - u0)
    n_tech = len(TECHNOLOGIES)
    index_dtype = sector_index_dtype(len(run.table))
    best_dbm = np.full((n_tech, th, tw), np.nan, dtype=np.float32)
    best_sector = np.full((n_tech, th, tw), -1, dtype=index_dtype)
    cover_bits = np.zeros((th, tw), dtype=bits_dtype(len(run.networks)))
    link = shared.link
    near = set(plan.groups.tolist())
    near_alt = set(plan.alt_groups.tolist())
    present, s_slot, tile = tile_state(run.carrier_of, len(run.carriers), [groups[g] for g in plan.groups],
                                       window, best_dbm, best_sector, cover_bits,
                                       capacity=link.capacity if link is not None and near else None)
    alt_tile = None
    alt_best = None
    if run.alt is not None:
        alt_best = np.full((n_tech, th, tw), np.nan, dtype=np.float32)
        alt_tile = tile_state(run.carrier_of, 0, [], window, alt_best, np.full((n_tech, th, tw), -1, index_dtype),
                              np.zeros((th, tw), dtype=bits_dtype(len(run.networks))), capacity=None)[2]
    for g in sorted(near | near_alt):
        idx = groups[g]
        fast_idx, ex_idx = idx[~run.exact[idx]], idx[run.exact[idx]]
        if g in near and g in near_alt:
            fast.band_levels(local, int(g), idx[0], fast_idx, s_slot, window, tile, alt_tile)
        elif g in near:
            fast.site_levels(local, int(g), idx[0], fast_idx, s_slot, window, tile)
        else:
            fast.alt_levels(local, int(g), idx[0], fast_idx, window, alt_tile)
        if g in near:  # exact-mode sectors keep their level in the alternative (their reach is the same)
            exact.site_levels(local, idx[0], ex_idx, s_slot, window, tile, alt_tile)
    links = None
    if link is not None:
        rasters = LinkRasters(n_tech, th, tw, index_dtype)
        for slot, c in enumerate(present):
            _op, t, _f = run.carriers[c]
            rasters.add_carrier(TECH_INDEX[t], tile.car_top[slot], tile.car_idx[slot], tile.car_sum[slot], link, t,
                                float(run.carrier_bw[c]), run.ref_eirp)
        links = rasters.finish(link)
    return TileOutput(index=plan.index, window=plan.window, best_dbm=best_dbm, best_sector=best_sector,
                      cover_bits=cover_bits, links=links, alt_best_dbm=alt_best)


def tile_plans(run: Any, groups: Sequence[np.ndarray], source: SceneSource, tile_cells: int) -> list[TilePlan]:
    """The plan of every tile that some site reaches and that has a cell to evaluate (the others
    keep the fill values: a pad around the study area, or beyond every site's reach), the
    costliest first: the estimate is, per site group that reaches the tile, the smaller of the
    tile's area and the group's reach disc, summed."""
    cell_m = float(run.cell_m)
    g_first = np.array([g[0] for g in groups], dtype=np.int64)
    g_row, g_col = run.row_f[g_first], run.col_f[g_first]
    g_reach = np.array([run.reach_m[g].max() / cell_m for g in groups])
    alt = run.alt
    g_reach_alt = np.array([alt.arrays.reach_m[g].max() / cell_m for g in groups]) if alt is not None else None
    fans = [_group_fans(run, g, cell_m) for g in groups]
    plans = []
    cost = []
    for window in tile_windows(*source.shape, tile_cells):
        dist = rect_distance(g_row, g_col, *window)
        near = np.flatnonzero(dist <= g_reach)
        near_alt = np.flatnonzero(dist <= g_reach_alt) if alt is not None else np.zeros(0, dtype=np.int64)
        if not (near.size or near_alt.size) or not source.any_active(window):
            continue
        site_rc = [(g_row[g], g_col[g], reach) for g in np.union1d(near, near_alt) for reach in fans[g]]
        plans.append(TilePlan(index=len(plans), window=window, groups=near, alt_groups=near_alt,
                              terrain=terrain_window(site_rc, window, source.shape)))
        area = (window[1] - window[0]) * (window[3] - window[2])
        reach = np.maximum(g_reach[near], g_reach_alt[near] if alt is not None else 0.0)
        cost.append(float(np.minimum(area, math.pi * reach ** 2).sum()))
    # the costliest first (longest processing time first): on a cluster the last tiles to finish are
    # then short ones, so the workers end together; the results do not depend on the order
    order = np.argsort(-np.asarray(cost), kind="stable")
    return [plans[i] for i in order]


def _group_fans(run: Any, idx: np.ndarray, cell_m: float) -> list[float]:
    """The reach (cells) of every ray fan the kernels may build for a site group: the fast mode's
    (base and alternative model), and the exact mode's per frequency."""
    exact = run.exact[idx]
    reach = []
    if (~exact).any():
        reach.append(float(run.reach_m[idx[~exact]].max()) / cell_m)
        if run.alt is not None:
            reach.append(float(run.alt.arrays.reach_m[idx[~exact]].max()) / cell_m)
    for f in np.unique(run.freq[idx[exact]]):
        sub = idx[exact & (run.freq[idx] == f)]
        reach.append(float(run.reach_m[sub, 0].max()) / cell_m)
    return sorted(set(reach))


def engine_tile_to_files(plan: TilePlan, shared: EngineShared) -> WrittenTile:
    """:func:`engine_tile`, its rasters written by the task itself into ``shared.files``."""
    return shared.files.write(engine_tile(plan, shared))


def run_tiles(plans: Sequence[TilePlan], shared: EngineShared, sink: Sink, *, runner: Any = None,
              progress: bool = False) -> None:
    """Every plan through :func:`engine_tile` (:func:`engine_tile_to_files` when ``shared.files``
    is set), its result into ``sink``: on ``runner`` (a :class:`citycov.compute.cluster.TaskRunner`),
    else in this process."""
    task = engine_tile if shared.files is None else engine_tile_to_files
    if runner is not None:
        def put(_plan: TilePlan, out: TileOutput | WrittenTile) -> None:
            sink.put(out)
            checkpoint("engine.tile")

        runner.map(task, plans, shared=shared, on_result=put, desc="engine tiles")
        return
    for plan in tqdm(plans, desc="cellular tiles", unit="tile", disable=not progress, mininterval=1.0):
        checkpoint("engine.tile")
        sink.put(task(plan, shared))



def warm_kernels() -> None:
    """Load (or compile, once per machine: ``cache=True``) the kernels of a default engine run, on a
    tiny scene: a worker runs it when it starts, so that no tile task waits for Numba."""
    import geopandas as gpd
    import pyproj
    import shapely
    from affine import Affine

    from citycov.config import RadioConfig
    from citycov.engine.cellular import cellular_coverage

    n, cell_m = 24, 100.0
    grid = GridSpec(crs=pyproj.CRS.from_epsg(32650), transform=Affine(cell_m, 0.0, 0.0, 0.0, -cell_m, n * cell_m),
                    shape=(n, n))
    sectors = gpd.GeoDataFrame(
        {"sector_id": ["w"], "site_id": ["w"], "operator": ["w"], "technology": ["4G"], "freq_mhz": [1800.0],
         "bandwidth_mhz": [20.0], "eirp_dbm": [58.0], "height_m": [30.0], "azimuth_deg": [0.0], "omni": [False],
         "downtilt_deg": [3.0], "h_beamwidth_deg": [65.0], "v_beamwidth_deg": [10.0]},
        geometry=[shapely.Point(n * cell_m / 2, n * cell_m / 2)], crs=grid.crs)
    dem = np.full((n, n), 10.0, dtype=np.float32)
    dem[:, n // 2 + 4] = 60.0
    cellular_coverage(sectors, dem, np.full((n, n), 2, dtype=np.int8), grid, RadioConfig(max_range_km=1.0),
                      link=LinkParams())
