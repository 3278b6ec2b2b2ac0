"""What each candidate site would newly cover: the candidate × cell matrix, from the engine.

For every candidate, the run's own engine (:func:`citycov.engine.cellular.cellular_coverage`,
without SINR) computes the candidate's sectors alone on a window of the run's engine grid
around the candidate, with the run's models, terrain, clutter loss, antenna patterns,
evaluated cells and ground heights from the DEM file (:func:`citycov.io.dem_points.require_ground`).
A cell is newly covered when it is not in the run's wireless mask and the candidate's level of
a broadband technology reaches that technology's threshold plus the shadow-fading margin of
the cell's environment (:func:`citycov.pipeline.coverage.coverage_masks`, called on the window).

The sectors keep the reach a full run gives them (:func:`citycov.engine.cellular.sector_reach_m`
under the reach limit, :func:`reach_caps`), so their ray fans are the full run's, ray for ray.
The window is smaller: the square around the candidate holding every cell within its
*coverage* reach (:func:`coverage_reach_m`: beyond it no level can reach a threshold), plus
:data:`WINDOW_MARGIN_CELLS`.  The window is convex and holds the candidate, so the ray samples
in front of every cell within the coverage reach lie in it, with their neighbours, and those
cells get the levels of a full run.
Only the window's cells within a cell more than the coverage reach are evaluated.  The cost is
per candidate (the cells within its coverage reach and the rays that reach them), never per
grid.

What a full run with the candidate added (``run(sc, additions=Additions(sectors=...))``)
shows, and this matrix does not:

* The reach limit (``[radio].reach_neighbours``) caps a sector's reach from the density of its
  carrier's sites.  The candidate's own cap is computed here as the full run computes it, with
  the candidate among the scenario's modelled sites (:func:`reach_caps`).  But a candidate on
  the carrier of existing sites (same operator, technology and frequency) also lowers the caps
  of its neighbours in a full run, which then lose cells far from them; the matrix counts only
  what the candidate adds.  A template operator of its own (``"planned"``) leaves every
  existing cap as it is.
* Candidates are evaluated one at a time: candidates chosen together on one carrier cap each
  other's reach in a full run.  The planner's full-engine check sees both effects.

The window is a slice of the engine grid, so the candidate's cell coordinates are a full
run's less a whole number of cells, computed in floating point: intermediate values may differ
from a full run's in their last bits, and a cell's coverage only if its level lies within such a
rounding of a threshold (the stored float32 levels of the tests' candidates are identical).

Candidates are evaluated in batches by worker processes (the engine's kernels hold the GIL, so
threads would take turns), each with ``cpu_count // workers`` Numba threads; the engine grid's
arrays go to them once, as memory-mapped files (copy on write: a read-only array would make
Numba compile the kernels again, for read-only arguments).  The workers are *spawned* (fork is
unsafe once GNU OpenMP, Numba's threading layer here, has started), so a script that calls
:func:`site_cover` with several workers needs the ``if __name__ == "__main__":`` guard.  Each
candidate's column depends on nothing else, so the result is the same whatever ``workers``.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pyproj
from affine import Affine
from scipy import sparse
from scipy.spatial import cKDTree
from tqdm import tqdm

from citycov.choices import ENV_CLASSES
from citycov.config import RadioConfig, Scenario
from citycov.engine.cellular import cellular_coverage, sector_reach_m
from citycov.engine.tiles import ReachLimit
from citycov.errors import ModelError, SiteTableError
from citycov.grid import GridSpec
from citycov.io.dem_points import require_ground
from citycov.pipeline.coverage import Coverage, coverage_masks
from citycov.pipeline.results import Results
from citycov.planning.problem import CellCover

ENGINE_COLUMNS = ("site_id", "sector_id", "operator", "technology", "freq_mhz", "bandwidth_mhz", "height_m",
                  "eirp_dbm", "azimuth_deg", "omni", "downtilt_deg", "h_beamwidth_deg", "v_beamwidth_deg")
"""Sector columns the engine reads (:func:`citycov.planning.candidates.candidate_sectors` gives them)."""
WINDOW_MARGIN_CELLS = 3
"""Cells of terrain kept beyond a candidate's coverage reach: a cell's nearest ray runs up to
half a ray spacing (at most half a cell) off the line to it, a sample lies up to one cell
beyond the cell's centre, and its bilinear interpolation reads the next cell."""
MAX_BATCH = 32
"""Candidates per task sent to a worker, at most."""
MIN_CANDIDATES_PER_WORKER = 50
"""``workers=None`` starts a worker per this many candidates at most (a worker takes about 3 s
to start: the import of citycov and the loading of the compiled kernels)."""


@dataclass(frozen=True)
class EngineScene:
    """The run's engine grid and the arrays every candidate's window is cut from."""

    grid: GridSpec
    """The engine grid (the analysis grid, padded when modelled sites lie beyond it)."""
    offset: tuple[int, int]
    """(row, col) of the analysis grid's first cell in :attr:`grid`."""
    shape: tuple[int, int]
    """The analysis grid's shape."""
    dem_m: np.ndarray
    env: np.ndarray
    """int8 environment class (3, open, in the pad)."""
    active: np.ndarray
    """bool: cells the run evaluates (False in the pad)."""
    rx_loss_db: np.ndarray | None
    open_cells: np.ndarray
    """bool: analysis cells not in the run's wireless mask (False in the pad)."""
    ground_from_dem_file: bool
    """Sites' ground heights come from the DEM file (else interpolated from :attr:`dem_m`)."""


class _WindowLayers(NamedTuple):
    """The two fields of :class:`citycov.pipeline.layers.Layers` that
    :func:`citycov.pipeline.coverage.coverage_masks` reads, on a window."""

    grid: GridSpec
    env: np.ndarray


class _Task(NamedTuple):
    """One candidate: its column, its sector rows, their ground heights and reach caps, and the
    window (row0, row1, col0, col1) of the engine grid it runs on."""

    column: int
    sectors: gpd.GeoDataFrame
    ground_m: np.ndarray | None
    cap_m: np.ndarray
    window: tuple[int, int, int, int]
    row_f: float
    col_f: float
    reach_cells: float
    """The sectors' reach, in cells (the longest)."""
    cover_cells: float
    """The sectors' coverage reach (:func:`coverage_reach_m`), in cells (the longest)."""


def engine_scene(base: Results) -> EngineScene:
    """The engine grid and arrays of ``base``'s run, as :func:`citycov.pipeline.coverage.engine_coverage`
    builds them, and the cells not yet covered."""
    ctx = _context(base)
    layers = ctx.layers
    area = layers.area
    active = np.ones(layers.grid.shape, dtype=bool) if layers.active is None else layers.active
    open_cells = ~np.asarray(ctx.masks["wireless"], dtype=bool)
    env = np.asarray(layers.env).astype(np.int8)
    if area is None or not area.padded:
        return EngineScene(grid=layers.grid if area is None else area.grid, offset=(0, 0), shape=layers.grid.shape,
                           dem_m=layers.dem, env=env, active=active, rx_loss_db=layers.rx_loss_db,
                           open_cells=open_cells, ground_from_dem_file=area is not None)
    return EngineScene(grid=area.grid, offset=area.offset, shape=area.shape, dem_m=layers.engine_dem,
                       env=area.pad(env, 3), active=area.pad(active, False),
                       rx_loss_db=area.pad(layers.rx_loss_db, np.nan), open_cells=area.pad(open_cells, False),
                       ground_from_dem_file=True)


def _context(base: Results) -> Any:
    if base.context is None:
        raise ModelError("site_cover: the base results hold no run context; run the scenario with "
                         "run(scenario, keep_context=True)")
    return base.context


def modelled_sectors(base: Results) -> gpd.GeoDataFrame:
    """The sectors ``base``'s engine modelled (those the reach limit counts)."""
    ctx = _context(base)
    area = ctx.layers.area
    if area is not None:
        return area.sectors
    sectors = ctx.inputs.sectors
    grid = ctx.layers.grid
    row, col = grid.rowcol(sectors.geometry.x.to_numpy(), sectors.geometry.y.to_numpy())
    return sectors.loc[grid.contains(row, col)].reset_index(drop=True)


def _carrier_keys(table: Any) -> list[tuple[str, str, float]]:
    return [(str(o), str(t), float(f)) for o, t, f in zip(table["operator"].to_numpy(), table["technology"].to_numpy(),
                                                          table["freq_mhz"].to_numpy(dtype=np.float64), strict=True)]


def reach_caps(sectors: gpd.GeoDataFrame, existing: gpd.GeoDataFrame, radio: RadioConfig) -> np.ndarray:
    """float64 per row of ``sectors``: the reach cap (m) that a run's reach limit
    (:class:`citycov.engine.tiles.ReachLimit`, ``[radio].reach_neighbours``) gives the sector
    when its site alone is added to the ``existing`` modelled sectors; +inf where there is none.

    The cap of a site depends only on its ``neighbours`` nearest other sites of its carrier
    (operator, technology, frequency), so it is computed by the reach limit itself on the site
    and those neighbours among ``existing``."""
    out = np.full(len(sectors), np.inf)
    if not radio.reach_neighbours or not len(sectors):
        return out
    limit = ReachLimit(radio.reach_neighbours, radio.reach_factor, radio.reach_min_km)
    keys = _carrier_keys(existing)
    by_key: dict[tuple[str, str, float], list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    ex_x = existing.geometry.x.to_numpy()
    ex_y = existing.geometry.y.to_numpy()
    ex_site = existing["site_id"].to_numpy().astype(str)
    trees: dict[tuple[str, str, float], tuple[cKDTree, np.ndarray, np.ndarray, np.ndarray]] = {}
    x = sectors.geometry.x.to_numpy()
    y = sectors.geometry.y.to_numpy()
    site = sectors["site_id"].to_numpy().astype(str)
    done: dict[tuple[str, tuple[str, str, float]], float] = {}
    for i, key in enumerate(_carrier_keys(sectors)):
        if (site[i], key) in done:
            out[i] = done[(site[i], key)]
            continue
        if key in by_key:
            if key not in trees:
                sel = np.asarray(by_key[key], dtype=np.int64)
                ids, first = np.unique(ex_site[sel], return_index=True)  # as ReachLimit.limit_m picks them
                px, py = ex_x[sel][first], ex_y[sel][first]
                trees[key] = (cKDTree(np.column_stack([px, py])), px, py, ids)
            tree, px, py, ids = trees[key]
            k = min(limit.neighbours, ids.size)
            _, near = tree.query([x[i], y[i]], k=k)
            near = np.atleast_1d(near)
            cap = limit.limit_m(np.concatenate([[x[i]], px[near]]), np.concatenate([[y[i]], py[near]]),
                                np.zeros(k + 1, dtype=np.int64), np.concatenate([[site[i]], ids[near]]))[0]
        else:
            cap = np.inf  # the site is alone on its carrier
        done[(site[i], key)] = out[i] = cap
    return out


def coverage_reach_m(sectors: gpd.GeoDataFrame, scenario: Scenario, *, rx_gain_db: float = 0.0) -> np.ndarray:
    """float64 per sector: the farthest distance (m) at which its level can still cover a cell.

    A level is the reference-signal EIRP less the antenna's attenuation (>= 0), the model's
    median loss, the terrain's excess loss (>= 0) and the receiver's clutter loss (at least
    ``-rx_gain_db``).  A cell is covered when the level reaches its technology's threshold plus
    the cell's shadow-fading margin z·σ (:func:`citycov.pipeline.coverage.coverage_masks`), and
    the engine keeps no level below ``[radio].floor_dbm``.  So this is the engine's own reach
    (:func:`citycov.engine.cellular.sector_reach_m`) computed with the floor raised to the
    sector's threshold plus the smallest margin over the environment classes, less
    ``rx_gain_db`` (never below the run's floor); 0 for technologies outside
    ``[radio].broadband_technologies``."""
    radio = scenario.radio
    z = NormalDist().inv_cdf(scenario.accounting.cell_edge_probability)
    margin = min(z * scenario.accounting.shadow_sigma_db[name] for name in ENV_CLASSES)
    tech = sectors["technology"].astype(str).to_numpy()
    out = np.zeros(len(sectors))
    for t in np.unique(tech):
        if t not in radio.broadband_technologies:
            continue
        sel = tech == t
        floor = max(radio.threshold_dbm[t] + margin - rx_gain_db, radio.floor_dbm)
        out[sel] = sector_reach_m(sectors.iloc[np.flatnonzero(sel)], replace(radio, floor_dbm=floor))
    return out


def _rx_gain_db(scene: EngineScene) -> float:
    """The largest gain (a negative clutter loss) at an evaluated cell, 0 when there is none."""
    if scene.rx_loss_db is None:
        return 0.0
    values = scene.rx_loss_db[scene.active]
    values = values[np.isfinite(values)]
    return max(0.0, -float(values.min())) if values.size else 0.0


def _check_sectors(sectors: gpd.GeoDataFrame, ids: list[str], grid: GridSpec, existing_sites: set[str]) -> None:
    problems = []
    missing = [c for c in ENGINE_COLUMNS if c not in sectors.columns]
    if missing:
        problems.append(f"missing columns {missing} (expected the rows of candidate_sectors)")
    if sectors.crs is None or not pyproj.CRS(sectors.crs).equals(grid.crs):
        problems.append(f"sectors are in {sectors.crs}, expected the run's CRS {grid.crs.to_string()}")
    dup = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if dup:
        problems.append(f"candidate_ids repeated: {dup[:10]}")
    if not missing:
        site = sectors["site_id"].astype(str)
        unknown = sorted(set(site) - set(ids))
        if unknown:
            problems.append(f"sectors of sites not in candidate_ids: {unknown[:10]}")
        present = set(site)
        empty = [i for i in ids if i not in present]
        if empty:
            problems.append(f"candidates without sectors: {empty[:10]}")
        clash = sorted(set(ids) & existing_sites)
        if clash:
            problems.append(f"candidate ids that are site ids of the scenario: {clash[:10]}")
        if sectors["sector_id"].astype(str).duplicated().any():
            problems.append("sector_id values repeated: "
                            f"{sorted(set(sectors['sector_id'].astype(str)[sectors['sector_id'].astype(str).duplicated()]))[:10]}")
        x, y = sectors.geometry.x.to_numpy(), sectors.geometry.y.to_numpy()
        off = ~np.isfinite(x) | ~np.isfinite(y)
        if off.any():
            problems.append(f"sectors without a position: {sorted(set(site[off]))[:10]}")
    if problems:
        raise SiteTableError("site_cover: " + "; ".join(problems))


def site_cover(sectors: gpd.GeoDataFrame, candidate_ids: Sequence[str], base: Results, *,
               workers: int | None = None, progress: bool = False) -> CellCover:
    """The cells of ``base``'s analysis grid that each candidate would newly cover.

    Parameters
    ----------
    sectors
        The candidates' sector rows (:func:`citycov.planning.candidates.candidate_sectors`) in the
        run's CRS, ``site_id`` naming the candidate.
    candidate_ids
        The candidates, in the order of the matrix's columns (each with at least one sector).
    base
        The scenario's run, made with ``run(scenario, keep_context=True)``.
    workers
        Worker processes (``None``: one per CPU, or this process alone for fewer than
        :data:`MIN_CANDIDATES_PER_WORKER` candidates per CPU, as starting a worker takes
        seconds; 1: this process, the engine's kernels using every Numba thread).  The result
        does not depend on it.
    progress
        Show a progress bar over the candidates.

    Returns
    -------
    CellCover
        ``cells``: the flat row-major indices of the analysis-grid cells some candidate newly
        covers (see the module docstring); ``cover[i, j]``: candidate ``j`` covers
        ``cells[i]``; ``pairs_evaluated``: the candidate × cell pairs computed (per candidate,
        the cells the run evaluates within its reach and within one cell more than its
        coverage reach).

    Raises
    ------
    ModelError
        ``base`` holds no run context.
    SiteTableError
        Sectors that do not match ``candidate_ids`` or the run's CRS, or candidate ids that are
        site ids of the scenario.
    RasterError
        The DEM has no data under a candidate.

    Examples
    --------
    >>> base = run(scenario, keep_context=True)                        # doctest: +SKIP
    >>> sites = lattice_sites(grid=base.grid, gaps=base.gaps, ...)      # doctest: +SKIP
    >>> cover = site_cover(candidate_sectors(sites, crs=base.grid.crs), sites["candidate_id"], base)  # doctest: +SKIP
    """
    ctx = _context(base)
    scenario = base.scenario
    radio = scenario.radio
    ids = [str(c) for c in candidate_ids]
    existing = modelled_sectors(base)
    scene = engine_scene(base)
    _check_sectors(sectors, ids, scene.grid, set(ctx.inputs.sectors["site_id"].astype(str)))
    n = len(ids)
    if not n:
        return CellCover(cells=np.zeros(0, dtype=np.int64), cover=sparse.csc_array((0, 0), dtype=bool))
    table = sectors.reset_index(drop=True)
    x, y = table.geometry.x.to_numpy(), table.geometry.y.to_numpy()
    ground = (require_ground(scenario.inputs["terrain"].source, x, y, crs=scene.grid.crs,
                             ids=table["sector_id"].to_numpy(), what="candidate sectors")
              if scene.ground_from_dem_file else None)
    caps = reach_caps(table, existing, radio)
    reach = np.minimum(sector_reach_m(table, radio), caps)
    cover_reach = np.minimum(coverage_reach_m(table, scenario, rx_gain_db=_rx_gain_db(scene)), reach)
    row_f, col_f = scene.grid.fractional_rowcol(x, y)
    site = table["site_id"].astype(str).to_numpy()
    rows_of: dict[str, list[int]] = {}
    for i, s in enumerate(site):
        rows_of.setdefault(s, []).append(i)
    tasks = []
    g_rows, g_cols = scene.grid.shape
    for j, cid in enumerate(ids):
        idx = np.asarray(rows_of[cid], dtype=np.int64)
        reach_cells = float(reach[idx].max()) / scene.grid.cell_m
        cover_cells = float(cover_reach[idx].max()) / scene.grid.cell_m
        half = math.ceil(cover_cells) + WINDOW_MARGIN_CELLS
        r, c = float(row_f[idx[0]]), float(col_f[idx[0]])
        window = (max(0, math.floor(r) - half), min(g_rows, math.ceil(r) + half + 1),
                  max(0, math.floor(c) - half), min(g_cols, math.ceil(c) + half + 1))
        tasks.append(_Task(j, table.iloc[idx].reset_index(drop=True), None if ground is None else ground[idx],
                           caps[idx], window, r, c, reach_cells, cover_cells))
    patterns = ctx.inputs.patterns
    results = _run_tasks(tasks, scene, scenario, patterns, workers=workers, progress=progress)
    columns = [cells for cells, _ in results]
    pairs = sum(p for _, p in results)
    every = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
    cells = np.unique(every)
    row_idx = np.concatenate([np.searchsorted(cells, col) for col in columns]) if columns else np.zeros(0, np.int64)
    col_idx = np.repeat(np.arange(n, dtype=np.int64), [len(col) for col in columns])
    cover = sparse.csc_array((np.ones(row_idx.size, dtype=bool), (row_idx, col_idx)), shape=(cells.size, n))
    cover.sort_indices()
    return CellCover(cells=cells.astype(np.int64), cover=cover, pairs_evaluated=int(pairs))


def _evaluate(task: _Task, scene: EngineScene, scenario: Scenario, patterns: Any) -> tuple[np.ndarray, int]:
    """The analysis-grid cells (flat, sorted) that the candidate of ``task`` newly covers, and
    the cells evaluated: the run's evaluated cells within its reach and within a cell more than
    its coverage reach."""
    r0, r1, c0, c1 = task.window
    grid = GridSpec(crs=scene.grid.crs, transform=scene.grid.transform @ Affine.translation(c0, r0),
                    shape=(r1 - r0, c1 - c0))
    win = (slice(r0, r1), slice(c0, c1))
    env = np.asarray(scene.env[win])
    dr = np.arange(r0, r1, dtype=np.float64) - task.row_f
    dc = np.arange(c0, c1, dtype=np.float64) - task.col_f
    d2 = dr[:, None] ** 2 + dc[None, :] ** 2
    # only the cells within the coverage reach (and a cell more) can be covered: the others of
    # the window are not evaluated (their terrain still shapes the rays)
    active = np.asarray(scene.active[win]) & (d2 <= (task.cover_cells + 1.0) ** 2)
    radio = replace(scenario.radio, reach_neighbours=0, tile_cells=max(16, r1 - r0, c1 - c0))
    cell = cellular_coverage(task.sectors, np.asarray(scene.dem_m[win]), env, grid, radio, link=None, active=active,
                             rx_loss_db=None if scene.rx_loss_db is None else np.asarray(scene.rx_loss_db[win]),
                             patterns=patterns, z_ground_m=task.ground_m, reach_cap_m=task.cap_m)
    masks = coverage_masks(scenario, _WindowLayers(grid, env),
                           Coverage(cell=cell, wlan_dbm=np.full(grid.shape, np.nan, dtype=np.float32)),
                           cell_edge_probability=scenario.accounting.cell_edge_probability)
    rows, cols = np.nonzero(masks["cellular"] & np.asarray(scene.open_cells[win]))
    flat = (rows + (r0 - scene.offset[0])).astype(np.int64) * scene.shape[1] + (cols + (c0 - scene.offset[1]))
    return flat, int(np.count_nonzero(active & (d2 <= task.reach_cells ** 2)))


# -- workers --------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _spill(scene: EngineScene, folder: Path) -> dict[str, str | None]:
    """Write the scene's arrays to ``folder`` as ``.npy`` files (mapped by the workers)."""
    paths: dict[str, str | None] = {}
    for name in ("dem_m", "env", "active", "rx_loss_db", "open_cells"):
        values = getattr(scene, name)
        if values is None:
            paths[name] = None
            continue
        path = folder / f"{name}.npy"
        np.save(path, np.ascontiguousarray(values))
        paths[name] = str(path)
    return paths


def _init_worker(paths: dict[str, str | None], meta: EngineScene, scenario: Scenario, patterns: Any,
                 threads: int) -> None:
    import numba

    numba.set_num_threads(threads)
    arrays = {name: None if p is None else np.load(p, mmap_mode="c") for name, p in paths.items()}
    _WORKER.update(scene=replace(meta, **arrays), scenario=scenario, patterns=patterns)


def _evaluate_batch(batch: list[_Task]) -> list[tuple[np.ndarray, int]]:
    return [_evaluate(t, _WORKER["scene"], _WORKER["scenario"], _WORKER["patterns"]) for t in batch]


def default_workers() -> int:
    """One worker per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _run_tasks(tasks: list[_Task], scene: EngineScene, scenario: Scenario, patterns: Any, *, workers: int | None,
               progress: bool) -> list[tuple[np.ndarray, int]]:
    """Each task's result, in task order."""
    cpus = default_workers()
    if workers is None:
        workers = max(1, min(cpus, len(tasks) // MIN_CANDIDATES_PER_WORKER))
    elif int(workers) < 1:
        raise ModelError(f"site_cover: workers must be >= 1 or None, got {workers}")
    workers = min(int(workers), len(tasks))
    bar = tqdm(total=len(tasks), desc="candidate sites", unit="site", disable=not progress, mininterval=1.0)
    with bar:
        if workers == 1:
            out = []
            for task in tasks:
                out.append(_evaluate(task, scene, scenario, patterns))
                bar.update(1)
            return out
        size = max(1, min(MAX_BATCH, math.ceil(len(tasks) / (4 * workers))))
        batches = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        meta = replace(scene, dem_m=None, env=None, active=None, rx_loss_db=None, open_cells=None)
        with tempfile.TemporaryDirectory(prefix="citycov-sites-") as tmp:
            paths = _spill(scene, Path(tmp))
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_init_worker,
                                     initargs=(paths, meta, scenario, patterns, max(1, cpus // workers))) as pool:
                out = []
                for result in pool.map(_evaluate_batch, batches):
                    out.extend(result)
                    bar.update(len(result))
        return out
