"""The coverage engine: sector tables and a DEM in, best-server level rasters out.

Per sector: EIRP of the reference signal + 3GPP antenna pattern − (empirical median loss
+ terrain diffraction loss).  The empirical model is chosen by band (``"auto"``):
Okumura-Hata for 150-1500 MHz, COST-231 Hata for 1500-2000 MHz and TR 38.901 (UMa in
urban classes, RMa elsewhere, NLOS) above 2000 MHz.  The environment class of each cell
(dense urban / urban / suburban / open) comes from the population density, because the
default has no clutter raster.

Fast terrain mode (default): terrain enters along radials from each site, one sample per
cell and one ray per perimeter cell (:mod:`citycov.engine._terrain_kernels`).  Each ray keeps its
obstacle set incrementally: the upper convex hull of the antenna and the samples, earth
curvature (k·R) folded in, stored persistently so that every cell joins the hull of the
samples before it without rescanning the profile.  From it the cell's diffraction loss is
Deygout (principal edge + one each side), Bullington's equivalent edge, or the single knife
edge at the running horizon (``radio.diffraction``).  The loss added to the empirical model is
that loss minus the same method's loss over smooth earth, floored at 0 (the delta of
P.1812's delta-Bullington): flat ground adds nothing, since the empirical models already
contain average ground.  Exact mode runs ITM (or P.1812) point to point: by default on the
prefix profiles of the same ray fan, each cell painted from its nearest ray sample
(``exact_geometry = "radial"``), or on each cell's own profile (``"cell"``).

Per carrier (operator, technology, frequency) the engine keeps the strongest levels and the
summed power per cell, which give SINR against the carrier's other sectors scaled by the
loading, the margin over the second-best sector, the overlap count, and, through the
attenuated Shannon bound of TR 36.942, downlink/uplink throughput and the speed tier.

Levels are the per-reference-signal received power: RSRP (4G, per resource element),
SS-RSRP (5G) and CPICH RSCP (3G).

With ``alt_model`` the same tile pass also gives the best levels under an alternative empirical
model (the uncertainty band's model variant, ``CellularResult.alt_best_dbm``): per cell the
geometry, obstacle edges, terrain excess and antenna gains serve both models
(:func:`citycov.engine._tile_kernels.tile_site_levels_alt`), so the variant costs a fraction of a second run and
equals it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.choices import DIFFRACTION_METHODS, ENGINE_MODES, ENV_CLASSES, EXACT_GEOMETRIES, EXACT_MODELS, TECHNOLOGIES
from citycov.config import RadioConfig
from citycov.crs import grid_north_offset_deg
from citycov.engine import _radio_kernels, _terrain_kernels, _tile_kernels, tile_tasks
from citycov.engine.exact import (
    CLUTTER_ENV,
    DEFAULT_ITM,
    DEFAULT_P1812,
    ItmParams,
    P1812Params,
    Transmitter,
    exact_geometry_note,
    exact_loss_window,
)
from citycov.engine.linkbudget import LinkParams, reference_signal_offset_db, uplink_budget_mbps
from citycov.engine.sectors import (
    Fan,
    PatternTables,
    Scene,
    SectorArrays,
    SmoothRay,
    TileState,
    inside_grid,
    pattern_tables,
    same_frequency,
    site_groups,
)
from citycov.engine.tiles import FanWorkspace, ReachLimit, fan_size, fan_wedge
from citycov.errors import ModelError, RasterError
from citycov.grid import GridSpec
from citycov.io.msi import AntennaPattern
from citycov.propagation.free_space import SPEED_OF_LIGHT_M_S
from citycov.stored import StoredRaster, remove_stale_scratch, row_strips, scratch_prefix, strip_of

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_000.0
TECH_INDEX = {t: i for i, t in enumerate(TECHNOLOGIES)}
MODEL_CODES = {"okumura_hata": _radio_kernels.MODEL_OKUMURA_HATA, "cost231_hata": _radio_kernels.MODEL_COST231,
               "tr38901": _radio_kernels.MODEL_TR38901}
MODEL_FREQ_MHZ = {"okumura_hata": (150.0, 1500.0), "cost231_hata": (1500.0, 2000.0),
                  "tr38901": (500.0, 100_000.0)}
"""3G: the pilot (CPICH) carries 10% of the cell power, the usual planning assumption."""


@dataclass(frozen=True)
class CellularResult:
    """Best-server rasters and the sector table they index.

    ``best_dbm``: float32 (3, rows, cols), one band per technology in ``TECHNOLOGIES``
    order, NaN where no sector reaches ``floor_dbm``.  ``best_sector``: int32, same shape,
    the row of ``sectors`` serving each cell, −1 for none.
    """

    best_dbm: np.ndarray
    best_sector: np.ndarray
    sectors: pd.DataFrame
    dropped_outside: int
    extrapolation: tuple[str, ...] = ()
    cover_bits: np.ndarray | None = None
    networks: tuple[tuple[str, str], ...] = ()
    """(operator, technology) of each bit of ``cover_bits``."""
    carriers: tuple[tuple[str, str, float], ...] = ()
    """(operator, technology, freq_mhz) of each carrier (the ``carrier`` column of ``sectors``)."""
    diffraction: str = RadioConfig.diffraction
    sinr_db: np.ndarray | None = None
    """float32 (3, rows, cols): SINR (dB) of the best carrier per technology, NaN = not served."""
    margin_db: np.ndarray | None = None
    """float16 (resolution 0.03 dB below 64 dB): serving minus second-best level on that
    carrier (+inf: one sector only)."""
    overlap: np.ndarray | None = None
    """int8: sectors of that carrier within ``overlap_db`` of the server (saturates at capacity)."""
    throughput_mbps: np.ndarray | None = None
    """float32: downlink Mbit/s of one user, attenuated Shannon (TR 36.942) × bandwidth."""
    speed_tier: np.ndarray | None = None
    """int8: class k of the highest speed tier met (FCC BDC 5/1, 7/1, 35/3 by default), 0 none, −1 not served."""
    serving_dbm: np.ndarray | None = None
    """float32: level of the serving sector on the carrier that gives the best download (the
    carrier of ``sinr_db`` and the speeds; ``best_dbm`` is the strongest over all carriers)."""
    notes: tuple[str, ...] = ()
    """What the engine did beyond the model itself (reach limit, study area, tiles), for the provenance."""
    serving_sector: np.ndarray | None = None
    """int16/int32: row of ``sectors`` of that serving sector, −1 none.  With ``sectors``'
    ``ref_signal_eirp_dbm`` and ``bandwidth_mhz`` it gives the coupling loss and bandwidth."""

    link: LinkParams | None = None
    """The link-budget parameters of the SINR and speed rasters (None: not computed)."""
    sector_ref_eirp_dbm: np.ndarray | None = None
    """Exact reference-signal EIRP per sector (``sectors`` holds it rounded to 0.01 dB)."""
    sector_bandwidth_mhz: np.ndarray | None = None
    """Bandwidth of each sector's carrier (its widest sector), MHz."""
    alt_best_dbm: np.ndarray | None = None
    """float32 (3, rows, cols), with ``alt_model``: ``best_dbm`` with every fast-mode sector's
    empirical model replaced by the alternative model (exact-mode sectors keep their level),
    computed in the same tile pass; equal to ``best_dbm`` of a run with ``radio.model = alt_model``.
    None: not computed."""

    @property
    def uplink_mbps(self) -> np.ndarray | None:
        """float32 (3, rows, cols): uplink Mbit/s of the serving carrier over the same coupling
        loss (UE power-limited link budget, :func:`uplink_budget_mbps`), NaN = not served;
        derived on access from ``serving_dbm`` and ``serving_sector`` (not stored)."""
        if self.serving_sector is None or self.link is None:
            return None
        out = np.full(self.serving_dbm.shape, np.nan, dtype=np.float32)
        for r0, r1 in row_strips(out.shape):
            sector = strip_of(self.serving_sector, r0, r1)
            served = sector >= 0
            idx = sector[served].astype(np.int64)
            out[:, r0:r1][served] = uplink_budget_mbps(
                self.sector_ref_eirp_dbm[idx] - strip_of(self.serving_dbm, r0, r1)[served],
                self.sector_bandwidth_mhz[idx], self.link)
        return out

    @property
    def stored(self) -> bool:
        """Whether the rasters are in files (:class:`citycov.stored.StoredRaster`), not in memory."""
        return isinstance(self.best_dbm, StoredRaster)

    def network_mask(self, operator: str | None, technology: str) -> np.ndarray:
        """Bool grid: covered (at the nominal threshold) by ``technology`` of ``operator``
        (``None``: any operator)."""
        bits = np.uint64(0)
        for k, (op, tech) in enumerate(self.networks):
            if tech == technology and (operator is None or op == operator):
                bits |= np.uint64(1) << np.uint64(k)
        out = np.zeros(self.cover_bits.shape, dtype=bool)
        for r0, r1 in row_strips(out.shape):
            out[r0:r1] = (strip_of(self.cover_bits, r0, r1) & bits) != 0
        return out



def crop_result(result: CellularResult, offset: tuple[int, int], shape: tuple[int, int]) -> CellularResult:
    """``result`` with every raster cut to the window of ``shape`` (rows, cols) whose first cell
    is ``offset`` (row, col) of the engine's grid: the analysis grid inside a padded one.  The
    sector table and per-sector arrays are unchanged (a sector may serve no cell of the window)."""
    r0, c0 = offset
    rows, cols = shape
    cut = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if isinstance(value, StoredRaster):
            cut[f.name] = value.cropped(offset, shape)
        elif isinstance(value, np.ndarray) and value.ndim >= 2 and f.name not in ("sector_ref_eirp_dbm",
                                                                                  "sector_bandwidth_mhz"):
            if value.shape[-2] < r0 + rows or value.shape[-1] < c0 + cols:
                raise RasterError(f"crop_result: {f.name} of shape {value.shape} has no window {shape} at {offset}")
            cut[f.name] = np.ascontiguousarray(value[..., r0:r0 + rows, c0:c0 + cols])
    return replace(result, **cut)


def select_models(freq_mhz: np.ndarray, model: str, *, sector_ids: np.ndarray) -> np.ndarray:
    """Model code per sector; ``"auto"`` picks by band.  Refuses frequencies outside a forced model."""
    if model == "auto":
        return np.where(freq_mhz <= 1500.0, _radio_kernels.MODEL_OKUMURA_HATA,
                        np.where(freq_mhz <= 2000.0, _radio_kernels.MODEL_COST231,
                                 _radio_kernels.MODEL_TR38901)).astype(np.int64)
    if model not in MODEL_CODES:
        raise ModelError(f"unknown radio model {model!r}; expected one of {[*sorted(MODEL_CODES), 'auto']}")
    lo, hi = MODEL_FREQ_MHZ[model]
    bad = (freq_mhz < lo) | (freq_mhz > hi)
    if bad.any():
        raise ModelError(f"[radio].model = {model!r} covers {lo:g}-{hi:g} MHz but sectors "
                         f"{[str(s) for s in sector_ids[bad][:10]]} use {sorted(set(freq_mhz[bad].tolist()))[:5]} MHz; "
                         "use model = \"auto\"")
    return np.full(freq_mhz.shape, MODEL_CODES[model], dtype=np.int64)


def environment_classes(population: np.ndarray, grid: GridSpec, thresholds: dict[str, float]) -> np.ndarray:
    """Environment class per cell from residents per km²: 0 dense urban, 1 urban, 2 suburban, 3 open."""
    density = population / grid.cell_area_km2
    env = np.full(population.shape, 3, dtype=np.int64)
    env[density >= thresholds["suburban"]] = 2
    env[density >= thresholds["urban"]] = 1
    env[density >= thresholds["dense_urban"]] = 0
    return env


DIFFRACTION_CODES = dict(zip(DIFFRACTION_METHODS, (_terrain_kernels.DIFF_KNIFE_EDGE, _terrain_kernels.DIFF_DEYGOUT,
                                                   _terrain_kernels.DIFF_BULLINGTON), strict=True))
"""Kernel code of each of :data:`citycov.choices.DIFFRACTION_METHODS`, the terrain diffraction of
the fast mode: one knife edge at the running horizon, Deygout (principal edge + one each side)
or Bullington's equivalent edge, each on the ray's obstacle set."""
HULL_TOLERANCE = 1e-4
"""Default obstacle-set tolerance (slope, m/m): over smooth ground the earth's curvature makes
every sample a hull vertex; merging turns below 1e-4 keeps chains short (segments of ~1.7 km
over flat land) and moves the chain by at most ~4 cm there."""


def _engine_modes(mode: Mapping[str, str], tech: np.ndarray, sector_ids: np.ndarray,
                  exact_sectors: Collection[str] | None) -> np.ndarray:
    """Bool per sector: evaluated in exact (ITM) mode."""
    per_tech = {t: "fast" for t in TECHNOLOGIES} | dict(mode)
    bad = {t: m for t, m in per_tech.items() if m not in ENGINE_MODES or t not in TECHNOLOGIES}
    if bad:
        raise ModelError(f"mode: expected one of {list(ENGINE_MODES)} per technology in {list(TECHNOLOGIES)}, "
                         f"got {bad}")
    exact = np.array([per_tech[t] == "exact" for t in tech], dtype=bool)
    if exact_sectors:
        wanted = {str(s) for s in exact_sectors}
        known = {str(s) for s in sector_ids}
        missing = sorted(wanted - known)
        if missing:
            raise ModelError(f"exact_sectors: unknown sector ids {missing[:10]}")
        exact |= np.isin(sector_ids.astype(str), list(wanted))
    return exact


def cellular_coverage(sectors: gpd.GeoDataFrame, dem_m: np.ndarray, env: np.ndarray, grid: GridSpec,
                      radio: RadioConfig, *, link: LinkParams | None = LinkParams(),
                      active: np.ndarray | None = None, rx_loss_db: np.ndarray | None = None,
                      patterns: Mapping[str, AntennaPattern] | None = None,
                      exact_sectors: Collection[str] | None = None, itm: ItmParams = DEFAULT_ITM,
                      p1812: P1812Params = DEFAULT_P1812, hull_tolerance: float = HULL_TOLERANCE,
                      z_ground_m: np.ndarray | None = None, reach_cap_m: np.ndarray | None = None,
                      alt_model: str | None = None, progress: bool = False, runner: Any = None,
                      scene_folder: Path | None = None, store: Path | None = None,
                      keep: Any = None) -> CellularResult:
    """Best-server reference-signal level, SINR and speed per technology over ``grid``.

    Parameters
    ----------
    sectors
        Validated sectors (``citycov.io.read_sectors``) in ``grid.crs``.
    dem_m
        Terrain on the grid (float32 metres, NaN = no data; those cells stay uncovered).
    env
        Environment class per cell (int, 0..3), see :func:`environment_classes`.
    radio
        The engine's configuration, read from here only: receiver height, floor, thresholds,
        antenna caps, the empirical model, ``mode`` per technology (``"fast"``: empirical model
        + terrain diffraction along radials; ``"exact"``: point to point on each cell's own
        profile; technologies not named stay fast), ``diffraction`` (fast mode, one of
        :data:`citycov.choices.DIFFRACTION_METHODS`), ``exact_model`` (``"itm"`` or ``"p1812"``),
        ``exact_geometry`` (``"radial"``: the model on the prefix profiles of the fast mode's ray
        fan, each cell from its nearest ray sample; ``"cell"``: each cell's own profile, the
        reference; :func:`citycov.engine.exact.exact_loss_window`),
        ``exact_clutter_percent`` (exact mode: ITU-R P.2108 §3.2 terrestrial clutter loss not
        exceeded at this percentage of locations, at receivers in the dense urban, urban and
        suburban classes, 0.5-67 GHz; ``None``: none; the fast mode's empirical models already
        hold clutter), ``tile_cells`` (side of the square tiles the grid is processed in: per
        tile only the sites whose reach touches it run, on the wedge of their ray fan that
        covers it, and the per-carrier state exists for that tile only; results do not depend
        on it) and the reach limit (``reach_neighbours`` > 0: each sector's reach capped from
        the density of its carrier's sites, :class:`citycov.engine.tiles.ReachLimit`).
    hull_tolerance
        Fast mode: obstacle-set vertices where the terrain turns by less than this slope
        (m/m) are dropped (0: the exact upper hull, as the propagation library builds it).
    exact_sectors
        Sector ids evaluated in exact mode whatever ``mode`` says (broadcast, trunking, checks).
    itm, p1812
        Parameters of the exact mode's model.
    link
        SINR/throughput parameters; ``None`` skips the carrier rasters (faster, less memory).
    active
        Bool grid of the cells to evaluate (default: all); the others stay unserved, but
        their terrain still shapes the rays (for example the study area and a margin).
    rx_loss_db
        Optional float grid of a loss at the receiver added to every sector (clutter).
    patterns
        Antenna patterns by name (:func:`citycov.io.msi.read_msi`) for sectors whose
        ``antenna_pattern`` column names one; the others use the 3GPP sector model.
    z_ground_m
        float64 ground height (m) under each row of ``sectors``, read from the DEM file
        (:func:`citycov.io.dem_points.sample_dem`), so that a site's height does not depend on the
        grid; ``None``: interpolated from ``dem_m`` between the cell centres (a site in the
        grid's outer half cell then has none).  NaN under a sector on the grid is an error.
    reach_cap_m
        float64 per row of ``sectors``: a cap (m) on each sector's reach, applied after the
        reach limit; for a run over part of a network (the planner's per-candidate windows,
        :mod:`citycov.planning.site_matrix`) it carries the cap the reach limit gives the sector
        among sites that are not in ``sectors``.  ``None``: none.
    alt_model
        An alternative empirical model (one of ``MODEL_CODES`` or ``"auto"``) evaluated in the same
        tile pass for ``alt_best_dbm`` (the uncertainty band's model variant): the terrain, ray fans,
        obstacle sets and antenna gains are those of the base run; each fast-mode sector's median loss
        and reach are those of a run with ``radio.model = alt_model``, so the result equals that run's
        ``best_dbm``.  ``None``: not computed.  A model that does not cover a sector's frequency
        raises :class:`ModelError`, as that run would.
    progress
        Show a progress bar over tiles.
    runner
        Where the tile tasks run (:func:`citycov.compute.cluster.open_runner`: in this process or
        on a Dask cluster); ``None``: in this process.  The results do not depend on it.
    store
        A folder: each tile task writes its rasters there itself (one small GeoTIFF per tile and
        raster, mosaicked by one VRT per raster: :class:`citycov.engine.tile_tasks.TileFiles`; on a
        cluster the folder must be on a path every worker writes) and the result holds them as
        :class:`citycov.stored.StoredRaster` (read strip by strip), so that no whole-grid raster is
        held in memory; ``keep``: an object the rasters keep alive (the folder's owner).  None:
        the rasters are arrays in memory.
    scene_folder
        With a cluster runner: the folder in which the scene is written (in a temporary folder of
        its own, removed at the end) for the workers' window reads: a path every worker reads at
        the same path; default: the system's temporary folder, enough for a local cluster.

    Returns
    -------
    CellularResult
        Level and serving sector per technology; with ``link``, per technology also the SINR,
        margin over the second-best sector of the serving carrier, overlap count, down/up
        throughput and speed-tier class of the best carrier (highest download) at each cell.
        A carrier is (operator, technology, freq_mhz); its sectors interfere with each other.
    """
    method = _check_options(radio)
    source = tile_tasks.scene_source(dem_m, env, grid, active=active, rx_loss_db=rx_loss_db,
                                     constants=_scene_constants(grid, radio))
    run = _prepare(sectors, source, grid, radio, patterns=patterns, exact_sectors=exact_sectors,
                   z_ground_m=z_ground_m, reach_cap_m=reach_cap_m, alt_model=alt_model)
    if store is not None:
        files = tile_tasks.TileFiles(str(store), grid, tile_tasks.layer_specs(
            index_dtype=_index_dtype(run), n_networks=len(run.networks), link=link is not None,
            alt=run.alt is not None))
        mosaic = tile_tasks.VrtSink(files)
        _run_engine(run, source, radio, method, hull_tolerance, itm, p1812, link, mosaic, runner=runner,
                    scene_folder=scene_folder, grid=grid, progress=progress, files=files)
        return _stored_result(run, radio, link, mosaic.finish(), keep=keep)
    sink = tile_tasks.GridSink(grid.shape, index_dtype=_index_dtype(run), n_networks=len(run.networks),
                               link=link is not None, alt=run.alt is not None)
    _run_engine(run, source, radio, method, hull_tolerance, itm, p1812, link, sink, runner=runner,
                scene_folder=scene_folder, grid=grid, progress=progress)
    return _result(run, radio, link, sink)


def _stored_result(run: _Run, radio: RadioConfig, link: LinkParams | None, paths: Mapping[str, Path], *,
                   keep: Any) -> CellularResult:
    """The result of a run whose rasters went to files (``paths`` by field name): each raster a
    :class:`~citycov.stored.StoredRaster` of its in-memory dtype (``keep``: the folder's owner)."""
    dtypes = {"best_dbm": np.float32, "best_sector": _index_dtype(run), "alt_best_dbm": np.float32,
              "margin_db": np.float16}
    rasters = {name: StoredRaster.open(path, dtype=dtypes.get(name), bands=name != "cover_bits", keep=keep)
               for name, path in paths.items()}
    return replace(_result(run, radio, link, None), link=link, **rasters)


def engine_to_files(sectors: gpd.GeoDataFrame, source: tile_tasks.RasterScene, grid: GridSpec, radio: RadioConfig,
                    folder: Path, *, z_ground_m: np.ndarray, link: LinkParams | None = None,
                    patterns: Mapping[str, AntennaPattern] | None = None,
                    exact_sectors: Collection[str] | None = None, itm: ItmParams = DEFAULT_ITM,
                    p1812: P1812Params = DEFAULT_P1812, hull_tolerance: float = HULL_TOLERANCE,
                    reach_cap_m: np.ndarray | None = None, alt_model: str | None = None, runner: Any = None,
                    progress: bool = False) -> tuple[pd.DataFrame, dict[str, Path]]:
    """:func:`cellular_coverage` out of core: the scene read window by window from ``source`` (tiled
    GeoTIFFs on ``grid``), each tile's rasters written into tiled GeoTIFFs in ``folder`` as it
    finishes (:class:`citycov.engine.tile_tasks.TiffSink`), so that no process holds a whole-grid
    raster.  ``z_ground_m`` (ground height under each sector, from the DEM file) is required: the
    sites' heights are not interpolated from a grid this path never loads.

    Returns the sector table the rasters index (as ``CellularResult.sectors``) and the path of
    each raster by the name of its ``CellularResult`` field."""
    method = _check_options(radio)
    if tuple(source.shape) != tuple(grid.shape):
        raise RasterError(f"scene files are {source.shape[0]} x {source.shape[1]} cells, the grid "
                          f"{grid.shape[0]} x {grid.shape[1]}")
    run = _prepare(sectors, source, grid, radio, patterns=patterns, exact_sectors=exact_sectors,
                   z_ground_m=z_ground_m, reach_cap_m=reach_cap_m, alt_model=alt_model)
    with tile_tasks.TiffSink(folder, grid, index_dtype=_index_dtype(run), n_networks=len(run.networks),
                             link=link is not None, alt=run.alt is not None) as sink:
        _run_engine(run, source, radio, method, hull_tolerance, itm, p1812, link, sink, runner=runner,
                    scene_folder=None, grid=grid, progress=progress)
    return _result(run, radio, link, None).sectors, dict(sink.paths)


def _scene_constants(grid: GridSpec, radio: RadioConfig) -> tile_tasks.SceneConstants:
    return tile_tasks.SceneConstants(cell_m=grid.cell_m, h_rx_m=radio.rx_height_m,
                                     earth_radius_m=radio.k_factor * EARTH_RADIUS_M, floor_dbm=radio.floor_dbm)


def _index_dtype(run: _Run) -> type:
    return tile_tasks.sector_index_dtype(len(run.table))


class _Modes:
    """Makes a process's (fast, exact) mode objects for the tile tasks (picklable: plain settings)."""

    def __init__(self, method: int, hull_tolerance: float, radio: RadioConfig, itm: ItmParams,
                 p1812: P1812Params) -> None:
        self.args = (method, hull_tolerance, radio, itm, p1812)

    def __call__(self) -> tuple[_FastMode, _ExactMode]:
        method, hull_tolerance, radio, itm, p1812 = self.args
        return _FastMode(method, hull_tolerance), _ExactMode(radio, itm, p1812)


def _run_engine(run: _Run, source: Any, radio: RadioConfig, method: int, hull_tolerance: float, itm: ItmParams,
                p1812: P1812Params, link: LinkParams | None, sink: Any, *, runner: Any, scene_folder: Path | None,
                grid: GridSpec, progress: bool, files: tile_tasks.TileFiles | None = None) -> None:
    """Plan the tiles and run them (:mod:`citycov.engine.tile_tasks`): in this process, or on
    ``runner``'s workers, which read the scene from files (``source`` itself when it is a
    :class:`~citycov.engine.tile_tasks.RasterScene`, else written first to a temporary folder in
    ``scene_folder``, the system's when None)."""
    groups = site_groups(run.table, run.height, run.freq)
    plans = tile_tasks.tile_plans(run, groups, source, radio.tile_cells)
    shared_run = replace(run, scene=None)
    if runner is not None and runner.compute.in_process:
        runner = None  # this process's own loop: a task's error keeps its class, each tile is a checkpoint
    with ExitStack() as stack:
        if runner is not None and not isinstance(source, tile_tasks.RasterScene):
            if scene_folder is not None:
                Path(scene_folder).mkdir(parents=True, exist_ok=True)
            remove_stale_scratch(scene_folder)
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix=scratch_prefix("scene"), dir=scene_folder))
            source = source.to_files(Path(folder), grid)
        shared = tile_tasks.EngineShared(run=shared_run, groups=groups, source=source,
                                         modes=_Modes(method, hull_tolerance, radio, itm, p1812), link=link,
                                         files=files)
        tile_tasks.run_tiles(plans, shared, sink, runner=runner, progress=progress)


def _check_options(radio: RadioConfig) -> int:
    """The kernel code of ``radio.diffraction``, after checking the engine's choices in ``radio``."""
    if radio.diffraction not in DIFFRACTION_CODES:
        raise ModelError(f"diffraction: unknown method {radio.diffraction!r}; expected one of "
                         f"{sorted(DIFFRACTION_CODES)}")
    pct = radio.exact_clutter_percent
    if pct is not None and not 0.0 < pct < 100.0:
        raise ModelError(f"exact_clutter_percent must be in (0, 100), got {pct}")
    if radio.exact_model not in EXACT_MODELS:
        raise ModelError(f"exact_model: unknown model {radio.exact_model!r}; expected one of {list(EXACT_MODELS)}")
    if radio.exact_geometry not in EXACT_GEOMETRIES:
        raise ModelError(f"exact_geometry: unknown geometry {radio.exact_geometry!r}; expected one of "
                         f"{list(EXACT_GEOMETRIES)}")
    return DIFFRACTION_CODES[radio.diffraction]


@dataclass
class _Run:
    """One engine run: the sectors on the grid, their arrays for the kernels and the output rasters."""

    table: pd.DataFrame
    dropped_outside: int
    tech: np.ndarray
    freq: np.ndarray
    height: np.ndarray
    bandwidth: np.ndarray
    exact: np.ndarray
    models: np.ndarray
    ref_eirp: np.ndarray
    reach_m: np.ndarray
    row_f: np.ndarray
    col_f: np.ndarray
    z_ground: np.ndarray
    site_lat: np.ndarray
    networks: tuple[tuple[str, str], ...]
    carriers: tuple[tuple[str, str, float], ...]
    carrier_of: np.ndarray
    carrier_bw: np.ndarray
    arrays: SectorArrays
    patterns: PatternTables
    scene: Scene | None
    """The whole scene (the single-machine run), or None: the tile tasks read their windows."""
    cell_m: float
    notes: list[str]
    extrapolation: tuple[str, ...]
    alt: _Alternative | None = None


@dataclass
class _Alternative:
    """The alternative model of a run (``alt_model``): the sector arrays with its models and reach
    (carrier slots −1: levels only)."""

    model: str
    arrays: SectorArrays


class _Budget(NamedTuple):
    """Per sector: what the reach and the kernels need from the sector table and ``[radio]``."""

    ids: np.ndarray
    tech: np.ndarray
    freq: np.ndarray
    height: np.ndarray
    bandwidth: np.ndarray
    exact: np.ndarray
    models: np.ndarray
    ref_eirp: np.ndarray
    reach_m: np.ndarray


def _budget(table: pd.DataFrame, radio: RadioConfig, exact_sectors: Collection[str] | None) -> _Budget:
    """Models, reference-signal EIRP and reach (before any reach limit) of each sector."""
    n = len(table)
    ids = table["sector_id"].to_numpy()
    tech = table["technology"].to_numpy()
    freq = table["freq_mhz"].to_numpy(dtype=np.float64)
    height = table["height_m"].to_numpy(dtype=np.float64)
    bandwidth = table["bandwidth_mhz"].to_numpy(dtype=np.float64)
    exact = _engine_modes(radio.mode, tech, ids, exact_sectors)
    if radio.exact_clutter_percent is not None:
        out_of_range = exact & ((freq < 500.0) | (freq > 67_000.0))
        if out_of_range.any():
            raise ModelError(f"P.2108 clutter loss covers 0.5-67 GHz; exact-mode sectors "
                             f"{[str(v) for v in ids[out_of_range][:5]]} use "
                             f"{sorted(set(freq[out_of_range].tolist()))[:5]} MHz")
    models = select_models(freq, radio.model, sector_ids=ids)
    scs_khz = table["scs_khz"].to_numpy(dtype=np.float64) if "scs_khz" in table.columns else None
    ref_eirp = table["eirp_dbm"].to_numpy(dtype=np.float64) + reference_signal_offset_db(
        tech, bandwidth, scs_khz=scs_khz, sector_ids=ids)
    reach_m = np.array([
        [1000.0 * _radio_kernels.reach_km(models[i], freq[i], height[i], radio.rx_height_m,
                                          ref_eirp[i] - radio.floor_dbm, radio.max_range_km, e)
         for e in range(len(ENV_CLASSES))]
        for i in range(n)]).reshape(n, len(ENV_CLASSES))
    if exact.any():  # ITM is never below free space by more than the 6 dB of a ground reflection
        fs_km = 10.0 ** ((ref_eirp - radio.floor_dbm + 6.0 - 32.4478 - 20.0 * np.log10(freq)) / 20.0)
        reach_m[exact] = 1000.0 * np.minimum(fs_km[exact], radio.max_range_km)[:, None]
    return _Budget(ids, tech, freq, height, bandwidth, exact, models, ref_eirp, reach_m)


def sector_reach_m(sectors: pd.DataFrame, radio: RadioConfig, *,
                   exact_sectors: Collection[str] | None = None) -> np.ndarray:
    """float64 per sector: the farthest distance (m) at which the engine computes it, the largest
    over the environment classes: where the model's loss reaches the budget down to
    ``radio.floor_dbm`` (exact mode: free space + 6 dB), at most ``radio.max_range_km``, before
    the co-channel reach limit (:class:`citycov.engine.tiles.ReachLimit`), which can only shorten it.
    A sector farther than this from every evaluated cell adds nothing to the run."""
    return _budget(sectors, radio, exact_sectors).reach_m.max(axis=1, initial=0.0)


def _prepare(sectors: gpd.GeoDataFrame, source: tile_tasks.SceneSource, grid: GridSpec, radio: RadioConfig, *,
             patterns: Mapping[str, AntennaPattern] | None, exact_sectors: Collection[str] | None,
             z_ground_m: np.ndarray | None = None, reach_cap_m: np.ndarray | None = None,
             alt_model: str | None = None) -> _Run:
    """Check the sectors against the grid and the options, and build the arrays of the kernels."""
    x = sectors.geometry.x.to_numpy()
    y = sectors.geometry.y.to_numpy()
    if z_ground_m is not None and np.shape(z_ground_m) != (len(sectors),):
        raise ModelError(f"z_ground_m: one ground height per sector expected ({len(sectors)}), "
                         f"got shape {np.shape(z_ground_m)}")
    if reach_cap_m is not None and np.shape(reach_cap_m) != (len(sectors),):
        raise ModelError(f"reach_cap_m: one cap per sector expected ({len(sectors)}), "
                         f"got shape {np.shape(reach_cap_m)}")
    inside = inside_grid(grid, x, y, "sectors", sectors["sector_id"].to_numpy())
    table = sectors.loc[inside].reset_index(drop=True)
    x, y = x[inside], y[inside]
    n = len(table)
    ids, tech, freq, height, bandwidth, exact, models, ref_eirp, reach_m = _budget(table, radio, exact_sectors)
    north = grid_north_offset_deg(x, y, grid.crs) if n else np.zeros(0)
    site_lat = (np.asarray(pyproj.Transformer.from_crs(grid.crs, 4326, always_xy=True).transform(x, y)[1])
                if n else np.zeros(0))
    row_f, col_f = grid.fractional_rowcol(x, y)
    if z_ground_m is not None:  # read from the DEM file by the caller (citycov.io.dem_points)
        z_ground = np.asarray(z_ground_m, dtype=np.float64)[inside]
    elif isinstance(source, tile_tasks.ArrayScene):  # interpolated from the grid: only between the cell centres
        z_ground = np.array([_radio_kernels.bilinear(source.scene.dem_m, row_f[i], col_f[i]) for i in range(n)])
    else:
        raise ModelError("z_ground_m: the ground height under each sector is required when the scene is read "
                         "from files (citycov.io.dem_points.sample_dem)")
    if np.isnan(z_ground).any():
        raise RasterError(f"terrain: no elevation under sectors {[str(b) for b in ids[np.isnan(z_ground)][:10]]}; "
                          "the DEM must cover every site" + ("" if z_ground_m is not None else
                                                            " (interpolated between the grid's cell centres)"))
    operators = table["operator"].to_numpy()
    networks = tuple(sorted({(str(o), str(t)) for o, t in zip(operators, tech, strict=True)}))
    if len(networks) > 64:
        raise ModelError(f"{len(networks)} operator x technology networks; at most 64 are supported")
    bit_of = {net: k for k, net in enumerate(networks)}
    carrier_keys = [(str(o), str(t), float(f)) for o, t, f in zip(operators, tech, freq, strict=True)]
    carriers = tuple(sorted(set(carrier_keys), key=lambda c: (TECH_INDEX[c[1]], c[0], c[2])))
    carrier_of = np.array([carriers.index(c) for c in carrier_keys], dtype=np.int64) if n else np.zeros(0, np.int64)
    notes = [f"tiles of {radio.tile_cells} x {radio.tile_cells} cells"]
    n_active = source.active_count()
    if n_active < grid.shape[0] * grid.shape[1]:
        notes.append(f"evaluated {n_active:,} of {grid.shape[0] * grid.shape[1]:,} cells (study area)")
    # the alternative model's budget, as a run with radio.model = alt_model computes it (same errors)
    alt_budget = _budget(table, replace(radio, model=alt_model), exact_sectors) if alt_model is not None else None
    alt_reach_m = alt_budget.reach_m if alt_budget is not None else None
    if radio.reach_neighbours and n:
        limit = ReachLimit(radio.reach_neighbours, radio.reach_factor, radio.reach_min_km)
        cap = limit.limit_m(x, y, carrier_of, table["site_id"].to_numpy())
        reach_m, note = limit.apply(reach_m, x, y, carrier_of, table["site_id"].to_numpy(), cap_m=cap)
        notes.append(note)
        if alt_reach_m is not None:
            alt_reach_m = np.minimum(alt_reach_m, cap[:, None])
    if reach_cap_m is not None:
        reach_m = np.minimum(reach_m, np.asarray(reach_cap_m, dtype=np.float64)[inside][:, None])
        if alt_reach_m is not None:
            alt_reach_m = np.minimum(alt_reach_m, np.asarray(reach_cap_m, dtype=np.float64)[inside][:, None])
    if exact.any():
        notes.append(exact_geometry_note(radio.exact_model, radio.exact_geometry, int(exact.sum())))
    extrapolation = model_extrapolation(models[~exact], height[~exact], reach_m[~exact])
    for text in extrapolation:
        log.info("model extrapolation: %s", text)
    s_pattern, pattern_arrays = pattern_tables(table, patterns, front_to_back_db=radio.front_to_back_db,
                                               vertical_sidelobe_db=radio.vertical_sidelobe_db)
    arrays = SectorArrays(
        index=np.arange(n, dtype=np.int64), model=models, freq_mhz=freq, height_m=height, ref_eirp_dbm=ref_eirp,
        azimuth_deg=np.nan_to_num(table["azimuth_deg"].to_numpy(dtype=np.float64), nan=0.0) + north,
        omni=table["omni"].to_numpy(dtype=np.bool_), tilt_deg=table["downtilt_deg"].to_numpy(dtype=np.float64),
        hbw_deg=table["h_beamwidth_deg"].to_numpy(dtype=np.float64),
        vbw_deg=table["v_beamwidth_deg"].to_numpy(dtype=np.float64), pattern=s_pattern, reach_m=reach_m,
        tech=np.array([TECH_INDEX[t] for t in tech], dtype=np.int64), slot=np.full(n, -1, dtype=np.int64),
        bit=np.array([bit_of[(str(o), str(t))] for o, t in zip(operators, tech, strict=True)], dtype=np.int64),
        threshold_dbm=np.array([radio.threshold_dbm[t] for t in tech], dtype=np.float64))
    alt = None
    if alt_budget is not None:
        alt = _Alternative(model=alt_model, arrays=arrays._replace(model=alt_budget.models, reach_m=alt_reach_m))
    return _Run(
        table=table, dropped_outside=int((~inside).sum()), tech=tech, freq=freq, height=height, bandwidth=bandwidth,
        exact=exact, models=models, ref_eirp=ref_eirp, reach_m=reach_m, row_f=row_f, col_f=col_f,
        z_ground=z_ground, site_lat=site_lat, networks=networks, carriers=carriers, carrier_of=carrier_of,
        carrier_bw=np.array([float(bandwidth[carrier_of == c].max()) for c in range(len(carriers))]),
        arrays=arrays, patterns=pattern_arrays,
        scene=source.scene if isinstance(source, tile_tasks.ArrayScene) else None, cell_m=grid.cell_m, notes=notes,
        extrapolation=extrapolation, alt=alt)


class _FastMode:
    """Fast mode: empirical model + terrain diffraction along the site's ray fan, on the wedge a tile needs."""

    def __init__(self, method: int, hull_tolerance: float) -> None:
        self.method = method
        self.hull_tolerance = hull_tolerance
        self.work = FanWorkspace()
        self.smooth: dict[tuple[int, int], SmoothRay] = {}

    def site_levels(self, run: _Run, g: int, i0: int, fast: np.ndarray, s_slot: np.ndarray,
                    window: tuple[int, int, int, int], tile: TileState, alt_model: np.ndarray | None = None,
                    alt_best_dbm: np.ndarray | None = None, *, arrays: SectorArrays | None = None) -> None:
        """Levels of the fast-mode sectors ``fast`` of site group ``g`` (first sector ``i0``) over the tile.

        ``arrays``: the sector arrays to evaluate (default ``run.arrays``; the alternative model's
        for its own pass), whose reach sizes the fan.  With ``alt_model`` (int64 per sector of
        ``run.arrays``: an empirical model code of :mod:`citycov.engine._radio_kernels`, −1 none) the
        same pass also keeps, per technology, the best level of each sector under that model in
        ``alt_best_dbm`` (float32 (n_tech, th, tw), the tile's window, NaN = none;
        :func:`citycov.engine._tile_kernels.tile_site_levels_alt`)."""
        if not fast.size:
            return
        arrays = run.arrays if arrays is None else arrays
        scene = run.scene
        z_tx = run.z_ground[i0] + run.height[i0]
        n_rays, n_steps = fan_size(float(arrays.reach_m[fast].max()) / scene.cell_m)
        ray_lo, n_wedge, steps = fan_wedge(run.row_f[i0], run.col_f[i0], *window, n_rays, n_steps)
        zr, prev, top, hz = self.work.views(steps + 1, n_wedge)
        if self.method == _terrain_kernels.DIFF_KNIFE_EDGE:  # the running horizon is all it reads
            hs = zr.view(np.float32).reshape(steps + 1, n_wedge, 2)  # (slope, sample) pairs in zr's buffer
            _terrain_kernels.horizon_wedge_into(scene.dem_m, run.row_f[i0], run.col_f[i0], z_tx, scene.cell_m, n_rays,
                                                ray_lo, scene.earth_radius_m, hs)
            fan = Fan(zr[:0], prev[:0], top[:0], hz[:0], ray_lo, n_rays, hs)
        else:
            _terrain_kernels.ray_wedge_into(scene.dem_m, run.row_f[i0], run.col_f[i0], z_tx, scene.cell_m, n_rays,
                                            ray_lo, scene.earth_radius_m, self.hull_tolerance, zr, prev, top, hz)
            fan = Fan(zr, prev, top, hz, ray_lo, n_rays)
        smooth = self._smooth(run, g, i0, fast, n_steps)
        sectors = arrays.take(fast, s_slot)
        if alt_model is None:
            _tile_kernels.tile_site_levels(scene, run.row_f[i0], run.col_f[i0], z_tx, self.method, fan, smooth,
                                           sectors, run.patterns, tile)
        else:
            _tile_kernels.tile_site_levels_alt(scene, run.row_f[i0], run.col_f[i0], z_tx, self.method, fan, smooth,
                                               sectors, run.patterns, tile,
                                               np.ascontiguousarray(alt_model[fast], dtype=np.int64), alt_best_dbm)

    # ---- the alternative model (uncertainty band) ----
    def band_levels(self, run: _Run, g: int, i0: int, fast: np.ndarray, s_slot: np.ndarray,
                    window: tuple[int, int, int, int], tile: TileState, alt_tile: TileState) -> None:
        """:meth:`site_levels` into ``tile`` and :meth:`alt_levels` into ``alt_tile``: in one fused
        cell pass (:func:`citycov.engine._tile_kernels.tile_site_levels_alt`) when the alternative
        model leaves every sector's reach as it is (same fan, same cells reached: the reach limit
        usually decides both), else one pass after the other."""
        if not fast.size:
            return
        alt = run.alt.arrays
        if np.array_equal(run.reach_m[fast], alt.reach_m[fast]):  # the tile task's rasters are the tile's own
            self.site_levels(run, g, i0, fast, s_slot, window, tile, alt_model=alt.model,
                             alt_best_dbm=alt_tile.best_dbm)
        else:
            self.site_levels(run, g, i0, fast, s_slot, window, tile)
            self.alt_levels(run, g, i0, fast, window, alt_tile)

    def alt_levels(self, run: _Run, g: int, i0: int, fast: np.ndarray, window: tuple[int, int, int, int],
                   alt_tile: TileState) -> None:
        """Levels of the fast-mode sectors ``fast`` of site group ``g`` (first sector ``i0``) under the
        alternative model (``run.alt``) into the levels-only ``alt_tile``, on the fan of the
        alternative's reach: a second pass, for a site whose alternative reach differs (or that only
        the alternative's reach brings to the tile)."""
        alt = run.alt.arrays
        self.site_levels(run, g, i0, fast, alt.slot, window, alt_tile, arrays=alt)

    def _smooth(self, run: _Run, g: int, i0: int, fast: np.ndarray, n_steps: int) -> SmoothRay:
        """The smooth-earth ray of site group ``g`` (first sector ``i0``) over ``n_steps`` and its
        loss per sector of ``fast``: the entry :meth:`site_levels` caches (or makes it, the same way)."""
        scene = run.scene
        key = (g, n_steps)
        if key not in self.smooth:
            if len(self.smooth) > 256:
                self.smooth.clear()
            zs_prev_top_hz = _terrain_kernels.smooth_ray(run.height[i0], scene.cell_m, n_steps, scene.earth_radius_m,
                                                         self.hull_tolerance)
            self.smooth[key] = SmoothRay(*zs_prev_top_hz, _terrain_kernels.smooth_earth_loss_db(
                *zs_prev_top_hz, scene.h_rx_m, scene.cell_m, scene.earth_radius_m, self.method,
                1.0 / np.sqrt(SPEED_OF_LIGHT_M_S / (run.freq[fast] * 1e6))))
        return self.smooth[key]


class _ExactMode:
    """Exact mode: ITM or P.1812 point to point, per run of one frequency, in the geometry of
    ``radio.exact_geometry`` (:func:`citycov.engine.exact.exact_loss_window`: the prefixes of the
    fan's rays, or each cell's own profile)."""

    def __init__(self, radio: RadioConfig, itm: ItmParams, p1812: P1812Params) -> None:
        self.radio = radio
        self.itm = itm.kernel_params()
        self.p1812 = p1812.kernel_params()

    def site_levels(self, run: _Run, i0: int, ex: np.ndarray, s_slot: np.ndarray,
                    window: tuple[int, int, int, int], tile: TileState, alt_tile: TileState | None = None) -> None:
        """Levels of the exact-mode sectors ``ex`` of one site group (first sector ``i0``) over the tile
        (and, unchanged, over the levels-only ``alt_tile`` of the alternative model when given)."""
        scene, radio = run.scene, self.radio
        tr0, tr1, tc0, tc1 = window
        z_tx = run.z_ground[i0] + run.height[i0]
        for sub in same_frequency(ex, run.freq):
            loss = np.full((tr1 - tr0, tc1 - tc0), np.nan)
            sub_reach = float(run.reach_m[sub, 0].max()) / scene.cell_m
            tx = Transmitter(run.row_f[i0], run.col_f[i0], scene.cell_m, run.height[i0], scene.h_rx_m,
                             run.freq[sub[0]])
            exact_loss_window(scene.dem_m, tx, self.itm if radio.exact_model == "itm" else self.p1812,
                              model=radio.exact_model, geometry=radio.exact_geometry, reach_cells=sub_reach,
                              win_row0=tr0, win_col0=tc0, out_loss_db=loss, lat_deg=float(run.site_lat[i0]),
                              active=scene.active)
            if radio.exact_clutter_percent is not None:
                _tile_kernels.add_clutter_p2108(loss, scene.env, run.row_f[i0], run.col_f[i0], tr0, tc0, scene.cell_m,
                                                run.freq[sub[0]] / 1000.0, float(radio.exact_clutter_percent),
                                                CLUTTER_ENV)
            _tile_kernels.tile_levels_from_loss(loss, scene, run.row_f[i0], run.col_f[i0], z_tx,
                                                run.arrays.take(sub, s_slot), run.patterns, tile)
            if alt_tile is not None:
                _tile_kernels.tile_levels_from_loss(loss, scene, run.row_f[i0], run.col_f[i0], z_tx,
                                                    run.alt.arrays.take(sub, run.alt.arrays.slot), run.patterns,
                                                    alt_tile)


def _result(run: _Run, radio: RadioConfig, link: LinkParams | None, sink: tile_tasks.GridSink | None) -> CellularResult:
    """The result of a finished run: the rasters of ``sink`` and the sector table they index
    (``sink`` None: the table alone, with empty rasters; the rasters were written to files)."""
    n = len(run.table)
    names = {v: k for k, v in MODEL_CODES.items()}
    out_table = pd.DataFrame({
        "sector_index": np.arange(n), "sector_id": run.table["sector_id"].to_numpy(),
        "site_id": run.table["site_id"].to_numpy(), "operator": run.table["operator"].to_numpy(),
        "technology": run.tech, "freq_mhz": run.freq, "bandwidth_mhz": run.bandwidth,
        "model": [radio.exact_model if run.exact[i] else names[m] for i, m in enumerate(run.models)],
        "carrier": run.carrier_of,
        "ref_signal_eirp_dbm": np.round(run.ref_eirp, 2),
        "reach_urban_km": np.round(run.reach_m[:, 1] / 1000.0, 3),
        "reach_open_km": np.round(run.reach_m[:, 3] / 1000.0, 3),
        "ground_m": np.round(run.z_ground, 1),
    })
    links = sink.links if sink is not None else None
    extra = links.finish(link) if links is not None else {}
    empty = np.zeros((len(TECHNOLOGIES), 0, 0), dtype=np.float32)
    return CellularResult(best_dbm=sink.best_dbm if sink is not None else empty,
                          best_sector=sink.best_sector if sink is not None else empty.astype(np.int16),
                          sectors=out_table, dropped_outside=run.dropped_outside, extrapolation=run.extrapolation,
                          cover_bits=sink.cover_bits if sink is not None else None, networks=run.networks,
                          carriers=run.carriers, diffraction=radio.diffraction, notes=tuple(run.notes),
                          link=link if links is not None else None, sector_ref_eirp_dbm=run.ref_eirp,
                          sector_bandwidth_mhz=run.carrier_bw[run.carrier_of] if n else np.zeros(0),
                          alt_best_dbm=sink.alt_best_dbm if sink is not None else None, **extra)


def model_extrapolation(models: np.ndarray, height_m: np.ndarray, reach_m: np.ndarray) -> tuple[str, ...]:
    """Describe where the engine evaluates models outside their published domain.

    The engine opts into extrapolation explicitly (it calls the kernels, not the checked
    public functions); this text goes into every report's provenance.
    """
    notes = []
    hata = models != _radio_kernels.MODEL_TR38901
    if hata.any():
        notes.append(f"Okumura-Hata/COST-231 ({int(hata.sum())} sectors) are evaluated below their 1 km minimum "
                     "distance for the cells next to each mast")
        low = hata & ((height_m < 30.0) | (height_m > 200.0))
        if low.any():
            notes.append(f"{int(low.sum())} Hata-family sectors have antenna heights outside Hata's 30-200 m "
                         f"domain ({height_m[low].min():g}-{height_m[low].max():g} m); the formula is extrapolated")
    tr = models == _radio_kernels.MODEL_TR38901
    if tr.any():
        far = tr & (reach_m.max(axis=1) > 5000.0)
        beyond = f", and {int(far.sum())} of them beyond the 5 km NLOS maximum" if far.any() else ""
        notes.append(f"TR 38.901 ({int(tr.sum())} sectors) is evaluated below its 10 m minimum distance next to "
                     f"each mast{beyond}")
    return tuple(notes)

