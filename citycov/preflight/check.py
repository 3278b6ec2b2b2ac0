"""``citycov check``: every input of a scenario read and validated, no engine run.

Each input is read with the run's own reader, so a file the check accepts is one the run
accepts; every problem is collected (one per input at most, since a reader lists all of its
file's problems at once) instead of stopping at the first.  What the run would use is shown:
the analysis CRS and grid, each input's path, CRS, size, extent and whether it lies in the
study area, residents per district against the census, whether the terrain covers the study
area and every site that can reach a district, and the inputs each target needs.

It stays fast on a city: the population raster is summed per district in its own CRS (the
exact overlap the run reports, :func:`citycov.accounting.population.source_district_totals`)
instead of being moved onto the grid, and no zonal weights are built.  The sites' reach is the
engine's own (:func:`citycov.engine.cellular.sector_reach_m`).
"""

from __future__ import annotations

import os
import time
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from rasterio.warp import transform_bounds

from citycov.accounting import population as pop_mod
from citycov.config import Scenario, load_scenario
from citycov.config.inputs import InputSpec
from citycov.crs import WGS84
from citycov.engine.cellular import sector_reach_m
from citycov.errors import CitycovError, CitycovWarning, CRSError
from citycov.grid import GridSpec
from citycov.io import Districts, read_dem, read_fibre_nodes, read_fibre_routes, read_sectors, read_wlan
from citycov.io.antenna_patterns import check_pattern_names, read_pattern_folder
from citycov.io.broadcast import read_transmitters
from citycov.io.claims import read_claims
from citycov.io.clutter import read_clutter
from citycov.io.district_tables import read_district_values
from citycov.io.fibre import read_premises
from citycov.io.measurements import read_measurements
from citycov.io.opencellid import read_opencellid
from citycov.io.raster import RasterLayer, _cell_area_km2, check_population_values, open_raster
from citycov.io.vector import CSV_SUFFIXES, check_extent, shown_crs
from citycov.io.villages import check_within_districts, read_villages
from citycov.pipeline.inputs import read_study_districts
from citycov.pipeline.layers import build_grid

T = TypeVar("T")
TODO_MARK = "TODO"
"""A line of the scenario holding this word is a problem: ``citycov init`` writes it where only
the user can fill in a value (a CRS it could not infer, a column it could not find)."""
SITE_INPUTS = ("sectors", "opencellid")
POINT_READERS: dict[str, Callable[..., gpd.GeoDataFrame]] = {
    "wlan": read_wlan, "fibre_nodes": read_fibre_nodes, "premises": read_premises, "villages": read_villages,
    "broadcast": read_transmitters,
}
CENSUS_RATIO_RANGE = (0.5, 2.0)
"""Residents of the raster over the census figure outside this range: the wrong ``units`` or
raster, most likely."""
SHOWN_DISTRICTS = 40
"""Districts listed one per line in the population section; beyond, the largest differences."""


@dataclass
class CheckReport:
    """What ``citycov check`` found: titled sections of what the run would use, then every
    warning (usable, but worth reading) and every problem (the run would fail or mislead)."""

    source: Path | None
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def usable(self) -> bool:
        """No problem found: ``citycov run`` can use the scenario (exit code 0 of ``check``)."""
        return not self.problems

    def text(self) -> str:
        """The report as printed by ``citycov check``."""
        out: list[str] = []
        for title, lines in self.sections:
            out.append(f"{title}:")
            out += [f"  {line}" for line in lines]
        if self.warnings:
            out.append(f"warnings ({len(self.warnings)}):")
            out += [f"  - {w}" for w in self.warnings]
        if self.problems:
            out.append(f"problems ({len(self.problems)}):")
            out += [f"  - {p}" for p in self.problems]
            out.append(f"check: NOT USABLE: {len(self.problems)} problem(s) to fix before citycov run "
                       f"({self.seconds:.1f} s)")
        else:
            out.append(f"check: usable, {len(self.warnings)} warning(s) ({self.seconds:.1f} s)")
        return "\n".join(out)


def check_scenario(path: str | Path | None = None, *, cell_m: float | None = None,
                   lang: str | None = None) -> CheckReport:
    """Validate every input of the scenario at ``path`` (None: the embedded default) without
    running the engine.

    Parameters
    ----------
    cell_m
        Analysis cell size (m) overriding ``[grid].cell_m``, as ``citycov run --cell-m``.
    lang
        Report language overriding ``[report].lang`` (which district name column is shown).

    Returns
    -------
    CheckReport
        Never raises :class:`CitycovError` for a bad input: every one is listed in
        ``problems``.

    Examples
    --------
    >>> report = check_scenario("my_city.toml", cell_m=100)  # doctest: +SKIP
    >>> report.usable, report.problems  # doctest: +SKIP
    (True, [])
    """
    t0 = time.perf_counter()
    report = CheckReport(source=Path(path) if path is not None else None)
    try:
        sc = load_scenario(path)
    except CitycovError as exc:
        report.problems += _split_problems(str(exc))
        if path is not None:
            report.problems += todo_lines(Path(path))
        report.seconds = time.perf_counter() - t0
        return report
    report.source = sc.source
    report.problems += todo_lines(sc.source)
    if cell_m is not None:
        sc = replace(sc, grid=replace(sc.grid, cell_m=cell_m))
    _Checker(sc, report, lang=lang or sc.report.lang).run()
    report.seconds = time.perf_counter() - t0
    return report


def todo_lines(path: Path) -> list[str]:
    """One problem per line of the scenario file holding :data:`TODO_MARK`."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [f"{path}:{i}: {line.strip()}" for i, line in enumerate(text.splitlines(), 1) if TODO_MARK in line]


def sample_elevation_m(path: Path, x: np.ndarray, y: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Elevation (m, float64) of the DEM at ``path`` at the points (x, y) of ``crs``: the value of
    the DEM cell holding each point, NaN where the point is off the DEM or on nodata.

    A minimal sampler for the check; the engine's DEM point sampler replaces it once merged."""
    out = np.full(len(x), np.nan)
    if not len(x):
        return out
    with open_raster(path) as src:
        if src.crs is None:
            raise CRSError(f"{path}: DEM has no CRS; expected a georeferenced GeoTIFF (e.g. EPSG:4326 SRTM)")
        tx, ty = pyproj.Transformer.from_crs(crs, src.crs, always_xy=True).transform(x, y)
        inv = ~src.transform
        tx, ty = np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)
        col_f, row_f = inv.a * tx + inv.b * ty + inv.c, inv.d * tx + inv.e * ty + inv.f
        rows, cols = np.floor(row_f), np.floor(col_f)
        on = np.isfinite(rows) & np.isfinite(cols) & (rows >= 0) & (rows < src.height) & (cols >= 0) & (
            cols < src.width)
        if not on.any():
            return out
        r, c = rows[on].astype(np.int64), cols[on].astype(np.int64)
        r0, c0 = int(r.min()), int(c.min())
        from rasterio.windows import Window

        block = src.read(1, window=Window(c0, r0, int(c.max()) - c0 + 1, int(r.max()) - r0 + 1), masked=True)
        values = block.astype(np.float64).filled(np.nan)[r - r0, c - c0]
        out[on] = np.where(np.isfinite(values), values, np.nan)
    return out


def _split_problems(message: str) -> list[str]:
    """The problems of one error message ("source: p1; p2; ..."), one string each."""
    head, sep, rest = message.partition(": ")
    if not sep or "; " not in rest:
        return [message]
    return [f"{head}: {part}" for part in rest.split("; ")]


def _fmt_bounds(bounds: Any, digits: int = 4) -> str:
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return f"lon {minx:.{digits}f}..{maxx:.{digits}f}, lat {miny:.{digits}f}..{maxy:.{digits}f}"


def _crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_string()
    return code if code.startswith("EPSG:") and crs.name in code else f"{code} ({crs.name})"


class _Checker:
    """One check: the scenario, what is known so far (analysis CRS, districts, grid) and the report."""

    def __init__(self, sc: Scenario, report: CheckReport, *, lang: str) -> None:
        self.sc = sc
        self.report = report
        self.lang = lang
        self.crs: pyproj.CRS | None = None
        self.districts: Districts | None = None
        self.grid: GridSpec | None = None
        self.index: np.ndarray | None = None
        self.failed: set[str] = set()
        self.sector_tables: list[gpd.GeoDataFrame] = []
        self.site_reach: tuple[np.ndarray, np.ndarray] | None = None  # (sector row in reach, x/y table)
        self.input_lines: list[str] = []

    # -- plumbing ------------------------------------------------------------------------------

    def attempt(self, name: str, fn: Callable[[], T]) -> T | None:
        """``fn()``; a :class:`CitycovError` becomes a problem of input ``name`` (None returned),
        and every :class:`CitycovWarning` a warning."""
        label = f"[inputs.{name}]" if name in self.sc.inputs else name
        value = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = fn()
            except CitycovError as exc:
                self.report.problems.append(f"{label}: {exc}")
                self.failed.add(name)
        for w in caught:
            if issubclass(w.category, CitycovWarning):
                self.report.warnings.append(f"{label}: {w.message}")
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return value

    def shown(self, path: Path) -> str:
        """``path`` relative to the scenario's folder (as the scenario names it), else absolute."""
        rel = os.path.relpath(path, self.sc.source.parent)
        return rel if not rel.startswith(f"..{os.sep}..") else str(path)

    @property
    def study(self) -> tuple[float, float, float, float] | None:
        return self.grid.bounds if self.grid is not None else None

    # -- the check ----------------------------------------------------------------------------

    def run(self) -> None:
        sc = self.sc
        lines = [f"{sc.source} ({sc.name})"]
        d_spec = sc.inputs["districts"]
        name_col = (d_spec.options.get("name_zh_column", "name") if self.lang == "zh"
                    else d_spec.options.get("name_column", "name_en"))
        lines.append(f"report language {self.lang}: district names from column {name_col!r}")
        self.report.sections.append(("scenario", lines))
        self.check_districts()
        self.check_grid()
        self.report.sections.append(("inputs", self.input_lines))
        self.check_population()
        self.check_terrain()
        if "clutter" in sc.inputs:
            self.check_clutter()
        if "sectors" in sc.inputs:
            self.check_sectors()
        if "opencellid" in sc.inputs:
            self.check_opencellid()
        if "antenna_patterns" in sc.inputs:
            self.check_patterns()
        for name, reader in POINT_READERS.items():
            if name in sc.inputs:
                self.check_vector(name, reader)
        if "fibre_routes" in sc.inputs:
            self.check_vector("fibre_routes", read_fibre_routes, columns=False)
        if sc.verification is not None:
            self.check_claims()
        self.check_sites()
        self.check_targets()

    def check_districts(self) -> None:
        spec = self.sc.inputs["districts"]
        districts = self.attempt("districts", lambda: read_study_districts(self.sc))
        lines = [f"districts: {self.shown(spec.path)}", f"  CRS {self.crs_label(spec)}"]
        if districts is not None:
            self.districts = districts
            self.crs = pyproj.CRS(districts.frame.crs)
            frame = districts.frame
            lines.append(f"  {len(frame)} districts: " + ", ".join(
                f"{i} {n}" for i, n in zip(frame["district_id"][:8], frame["name"][:8], strict=True))
                + (", ..." if len(frame) > 8 else ""))
            lines.append(f"  extent {_fmt_bounds(frame.to_crs(WGS84).total_bounds)}")
        self.input_lines += lines

    def check_grid(self) -> None:
        if self.districts is None:
            self.report.sections.append(("analysis grid", ["not built: the districts could not be read"]))
            return
        sc = self.sc
        grid = self.attempt("[grid]", lambda: build_grid(self.districts, cell_m=sc.grid.cell_m))
        how = "[grid].crs" if sc.grid.crs != "auto" else "auto: the UTM zone of the districts"
        lines = [f"CRS {_crs_name(self.crs)} ({how})"]
        if grid is not None:
            self.grid = grid
            self.index = pop_mod.district_index(self.districts, grid)
            rows, cols = grid.shape
            minx, miny, maxx, maxy = grid.bounds
            inside = int((self.index >= 0).sum())
            lines += [f"{grid.cell_m:g} m cells, {rows:,} rows x {cols:,} columns = {rows * cols:,} cells "
                      f"({inside:,} in the districts, {inside * grid.cell_area_km2:,.1f} km²)",
                      f"bounds x {minx:,.0f}..{maxx:,.0f}, y {miny:,.0f}..{maxy:,.0f} m "
                      f"({_fmt_bounds(transform_bounds(self.crs, WGS84, *grid.bounds))}): the study area"]
            if sc.radio.study_margin_m is not None:
                lines.append(f"the engine evaluates the districts and {sc.radio.study_margin_m:g} m around them")
        self.report.sections.append(("analysis grid", lines))

    def crs_label(self, spec: InputSpec) -> str:
        if spec.name == "opencellid":
            return "EPSG:4326 (WGS 84) (the OpenCelliD format)"
        if isinstance(spec.crs, str):
            return f"{spec.crs} (declared; converted to WGS84 on read)"
        if spec.crs is not None:
            return f"{_crs_name(spec.crs)} (declared)"
        if spec.path.suffix.lower() in CSV_SUFFIXES:
            return "none declared (a CSV needs crs)"
        crs, _ = shown_crs(spec.path, None)
        return f"{_crs_name(crs)} (from the file)" if crs is not None else "none in the file"

    def vector_lines(self, name: str, frame: gpd.GeoDataFrame, count: str) -> list[str]:
        """Path, CRS, size, extent and study-area lines of a vector input read into the analysis CRS."""
        spec = self.sc.inputs[name]
        lines = [f"{name}: {self.shown(spec.path)}", f"  CRS {self.crs_label(spec)}; {count}"]
        if len(frame):
            lines.append(f"  extent {_fmt_bounds(frame.to_crs(WGS84).total_bounds)}")
        if self.study is not None and frame.crs is not None and pyproj.CRS(frame.crs).equals(self.crs):
            outside = self.attempt(name, lambda: check_extent(frame, self.study, source=spec.path,
                                                              declared=spec.crs))
            if outside is not None:
                lines.append("  all inside the study area" if outside == 0
                             else f"  {outside:,} of {len(frame):,} outside the study area")
        return lines

    def check_vector(self, name: str, reader: Callable[..., gpd.GeoDataFrame], *, columns: bool = True) -> None:
        spec = self.sc.inputs[name]
        kwargs = dict(spec.options) if columns else {}
        frame = self.attempt(name, lambda: reader(spec.path, crs=spec.crs, to_crs=self.crs, **kwargs))
        if frame is None:
            self.input_lines += [f"{name}: {self.shown(spec.path)}", "  not usable (see problems)"]
            return
        self.input_lines += self.vector_lines(name, frame, f"{len(frame):,} features")
        if name == "villages" and self.districts is not None:
            self.attempt(name, lambda: check_within_districts(frame, self.districts.frame, source=spec.path))

    def check_sectors(self) -> None:
        spec = self.sc.inputs["sectors"]
        frame = self.attempt("sectors", lambda: read_sectors(spec.path, crs=spec.crs, to_crs=self.crs,
                                                             **spec.options))
        if frame is None:
            self.input_lines += [f"sectors: {self.shown(spec.path)}", "  not usable (see problems)"]
            return
        self.sector_tables.append(frame)
        self.input_lines += self.site_lines("sectors", frame)

    def check_opencellid(self) -> None:
        spec = self.sc.inputs["opencellid"]
        min_samples = int(spec.options.get("min_samples", "1"))
        cells = self.attempt("opencellid", lambda: read_opencellid(spec.path, crs=self.crs or WGS84,
                                                                   min_samples=min_samples))
        if cells is None:
            self.input_lines += [f"opencellid: {self.shown(spec.path)}", "  not usable (see problems)"]
            return
        lines = self.site_lines("opencellid", cells)
        defaults = cells.attrs.get("defaults", {})
        lines.append("  per-radio defaults (the format has no frequency, power or height): " + "; ".join(
            f"{radio} {d['technology']} {d['freq_mhz']:g} MHz {d['height_m']:g} m EIRP {d['eirp_dbm']:g} dBm"
            for radio, d in defaults.items()))
        self.sector_tables.append(cells)
        self.input_lines += lines

    def site_lines(self, name: str, frame: gpd.GeoDataFrame) -> list[str]:
        techs = ", ".join(f"{t} {n:,}" for t, n in frame["technology"].value_counts().sort_index().items())
        ops = frame["operator"].value_counts()
        shown_ops = ", ".join(f"{o} ({n:,})" for o, n in ops.head(6).items()) + (", ..." if len(ops) > 6 else "")
        lines = [f"{name}: {self.shown(self.sc.inputs[name].path)}",
                 f"  CRS {self.crs_label(self.sc.inputs[name])}; {len(frame):,} sectors at "
                 f"{frame['site_id'].nunique():,} sites ({techs}); operators {shown_ops}"]
        if len(frame):
            lines.append(f"  extent {_fmt_bounds(frame.to_crs(WGS84).total_bounds)}")
        return lines

    def check_patterns(self) -> None:
        spec = self.sc.inputs["antenna_patterns"]
        found = self.attempt("antenna_patterns", lambda: read_pattern_folder(spec.path))
        lines = [f"antenna_patterns: {self.shown(spec.path)}"]
        if found is not None:
            lines.append(f"  {len(found.patterns)} patterns")
            if "sectors" in self.sc.inputs and self.sector_tables and "sectors" not in self.failed:
                self.attempt("sectors", lambda: check_pattern_names(self.sector_tables[0], found.patterns,
                                                                    source=str(self.sc.inputs["sectors"].path)))
        self.input_lines += lines

    def check_claims(self) -> None:
        v = self.sc.verification
        c_spec, m_spec = self.sc.inputs["claims"], self.sc.inputs["measurements"]
        if self.crs is None:
            self.input_lines += ["claims, measurements: not checked (no analysis CRS: the districts failed)"]
            return
        claims = self.attempt("claims", lambda: read_claims(c_spec.path, crs=self.crs, source_crs=c_spec.crs))
        if claims is not None:
            self.input_lines += self.vector_lines("claims", claims, f"{len(claims):,} claim polygons")
        tests = self.attempt("measurements", lambda: read_measurements(
            m_spec.path, crs=self.crs, tz=v.timezone, source_crs=m_spec.crs or "EPSG:4326",
            max_accuracy_m=v.max_accuracy_m))
        if tests is not None:
            self.input_lines += self.vector_lines("measurements", tests.tests,
                                                  f"{tests.n_read:,} records, {len(tests.tests):,} kept")

    # -- rasters ------------------------------------------------------------------------------

    def raster_lines(self, name: str) -> list[str]:
        """Path, CRS, size, nodata and extent lines of a raster input, and how much of the study
        area's extent it covers."""
        spec = self.sc.inputs[name]
        lines = [f"{name}: {self.shown(spec.path)}"]

        def describe() -> None:
            with open_raster(spec.source, require_data=False) as src:
                if src.crs is None:
                    lines.append("  no CRS in the file")
                    return
                crs = pyproj.CRS(src.crs)
                unit = "°" if crs.is_geographic else " m"
                lines.append(f"  CRS {_crs_name(crs)} (from the file); {src.height:,} x {src.width:,} cells of "
                             f"{abs(src.transform.a):.6g}{unit} x {abs(src.transform.e):.6g}{unit}; "
                             f"nodata {src.nodata!r}; {src.dtypes[0]}")
                lines.append(f"  extent {_fmt_bounds(transform_bounds(src.crs, WGS84, *src.bounds, densify_pts=21))}")
                if self.study is not None:
                    b = transform_bounds(src.crs, self.crs, *src.bounds, densify_pts=21)
                    s = self.study
                    w = max(0.0, min(b[2], s[2]) - max(b[0], s[0]))
                    h = max(0.0, min(b[3], s[3]) - max(b[1], s[1]))
                    share = w * h / ((s[2] - s[0]) * (s[3] - s[1]))
                    lines.append("  covers the study area's extent" if share >= 1.0 - 1e-9 else
                                 f"  covers {share:.1%} of the study area's extent")

        self.attempt(name, describe)
        return lines

    def check_population(self) -> None:
        spec = self.sc.inputs["population"]
        units = spec.options.get("units", "count")
        lines = self.raster_lines("population")
        lines.append(f"  units {units!r} ({'persons per km²' if units == 'per_km2' else 'persons per cell'})")
        self.input_lines += lines
        if "population" in self.failed:
            return

        def read() -> RasterLayer:
            with open_raster(spec.source) as src:
                if src.crs is None:
                    raise CRSError(f"{spec.path}: population raster has no CRS")
                data = src.read(1, masked=True).astype(np.float64)
                raw = data.filled(np.nan)
                data_cells = ~np.ma.getmaskarray(data)
                area_km2 = _cell_area_km2(src)
                check_population_values(spec.path, raw, data_cells, area_km2, units=units)
                counts = np.where(data_cells & np.isfinite(raw), raw, 0.0)
                if units == "per_km2":
                    counts = counts * area_km2
                return RasterLayer(values=np.zeros((0, 0), np.float32), record=None, synthetic=False,  # type: ignore[arg-type]
                                   input_total=float(counts.sum()), source_counts=counts,
                                   source_transform=src.transform, source_crs=src.crs)

        layer = self.attempt("population", read)
        if layer is None:
            return
        self.input_lines.append(f"  total {layer.input_total:,.0f} persons")
        if self.districts is None:
            return
        totals = self.attempt("population", lambda: pop_mod.source_district_totals(layer, self.districts))
        if totals is None:
            return
        self.population_section(totals, layer.input_total or 0.0)

    def population_section(self, totals: np.ndarray, input_total: float) -> None:
        frame = self.districts.frame
        census = None
        if "census" in self.sc.inputs:
            c = self.sc.inputs["census"]
            census = self.attempt("census", lambda: read_district_values(
                c.path, self.districts.ids, id_column=c.options.get("id_column", "district_id"),
                value_column=c.options.get("population_column", "population"), lo=0.0, hi=1e9, lo_open=True))
        if "household_sizes" in self.sc.inputs:
            h = self.sc.inputs["household_sizes"]
            self.attempt("household_sizes", lambda: read_district_values(
                h.path, self.districts.ids, id_column=h.options.get("id_column", "district_id"),
                value_column=h.options.get("size_column", "persons_per_household"), lo=0.5, hi=20.0))
        inside = float(np.nansum(totals))
        lines = [f"exact overlap in the raster's own CRS (as the run reports it): {inside:,.0f} of "
                 f"{input_total:,.0f} persons inside the districts"]
        rows = list(range(len(frame)))
        if census is not None:
            ratio = totals / census
            lines[0] += f"; census {census.sum():,.0f} ({inside / census.sum() - 1:+.1%})"
            if len(rows) > SHOWN_DISTRICTS:
                rows = sorted(rows, key=lambda i: -abs(np.log(max(ratio[i], 1e-12))))[:SHOWN_DISTRICTS]
            lo, hi = CENSUS_RATIO_RANGE
            odd = [frame["district_id"].iloc[i] for i in range(len(frame)) if not lo <= ratio[i] <= hi]
            if odd:
                self.report.warnings.append(
                    f"[inputs.population]: residents differ from [inputs.census] by more than a factor "
                    f"{hi:g} in districts {odd[:10]}: the wrong units ([inputs.population].units) or raster?")
            if self.sc.accounting.rescale_to_census:
                lines.append("[accounting].rescale_to_census = true: each district is scaled to its census figure")
        elif len(rows) > SHOWN_DISTRICTS:
            rows = rows[:SHOWN_DISTRICTS]
        for i in rows:
            text = f"{frame['district_id'].iloc[i]} {frame['name'].iloc[i]}: {totals[i]:,.0f}"
            if census is not None:
                text += f" (census {census[i]:,.0f}, {totals[i] / census[i] - 1:+.1%})"
            lines.append(text)
        if len(rows) < len(frame):
            lines.append(f"... {len(frame) - len(rows)} more districts")
        empty = [frame["district_id"].iloc[i] for i in range(len(frame)) if not totals[i] >= 1e-6]
        if inside <= 0:
            self.report.problems.append("[inputs.population]: no residents inside any district: the raster "
                                        "does not cover the districts (wrong file or CRS?)")
        elif empty:
            self.report.warnings.append(f"[inputs.population]: {len(empty)} districts have no residents "
                                        f"(their verdict is 'no residents'): {empty[:10]}")
        self.report.sections.append(("population per district", lines))

    def check_terrain(self) -> None:
        spec = self.sc.inputs["terrain"]
        lines = self.raster_lines("terrain")
        self.input_lines += lines
        if "terrain" in self.failed or self.grid is None:
            return
        dem = self.attempt("terrain", lambda: read_dem(spec.source, self.grid, study_mask=self.index >= 0))
        section = []
        if dem is not None:
            study = dem.values[self.index >= 0]
            section.append(f"covers all {study.size:,} district cells of the grid; elevation "
                           f"{np.nanmin(study):,.0f}..{np.nanmax(study):,.0f} m")
        self.report.sections.append(("terrain", section or ["does not cover the study area (see problems)"]))

    def check_clutter(self) -> None:
        spec = self.sc.inputs["clutter"]
        lines = self.raster_lines("clutter")
        if self.grid is not None and "clutter" not in self.failed:
            layer = self.attempt("clutter", lambda: read_clutter(spec.source, self.grid, loss_db=spec.loss_db,
                                                                 study_mask=self.index >= 0, crs=spec.crs))
            if layer is not None:
                lines.append("  classes on the grid (cells): " + ", ".join(
                    f"{k}: {v:,}" for k, v in sorted(layer.class_cells.items())))
        self.input_lines += lines

    # -- sites --------------------------------------------------------------------------------

    def check_sites(self) -> None:
        if not self.sector_tables or self.districts is None or self.grid is None:
            return
        frames = [t[["site_id", "sector_id", "operator", "technology", "freq_mhz", "bandwidth_mhz", "height_m",
                     "eirp_dbm", *(["scs_khz"] if "scs_khz" in t.columns else []), "geometry"]]
                  for t in self.sector_tables]
        table = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=self.crs)
        x, y = table.geometry.x.to_numpy(), table.geometry.y.to_numpy()
        union = self.districts.frame.union_all()
        shapely.prepare(union)
        in_districts = shapely.contains_xy(union, x, y)
        row, col = self.grid.rowcol(x, y)
        on_grid = self.grid.contains(row, col)
        reach = self.attempt("sectors" if "sectors" in self.sc.inputs else "opencellid",
                             lambda: sector_reach_m(table, self.sc.radio))
        n = len(table)
        lines = [f"{n:,} sectors at {table['site_id'].nunique():,} sites: {int(in_districts.sum()):,} in the "
                 f"districts, {int((~in_districts & on_grid).sum()):,} outside them on the grid, "
                 f"{int((~on_grid).sum()):,} outside the grid"]
        if reach is not None:
            dist = np.zeros(n)
            out = ~in_districts
            if out.any():
                dist[out] = shapely.distance(union, shapely.points(x[out], y[out]))
            can = dist <= reach
            lines.append(f"{int(can.sum()):,} can reach a district (their reach, up to {reach.max() / 1000:.1f} km, "
                         f"before [radio].reach_neighbours: the distance at which the model's loss meets "
                         f"[radio].floor_dbm = {self.sc.radio.floor_dbm:g} dBm); {int((~can).sum()):,} cannot "
                         "and change nothing")
            if (~on_grid & can).any():
                lines.append(f"{int((~on_grid & can).sum()):,} sectors outside the grid can reach a district")
            if not can.any():
                self.report.problems.append("sites: no sector can reach any district: wrong CRS or coordinate "
                                            "columns (lon_column/lat_column) of the site table?")
            elif (~can).sum() > n / 2:
                self.report.warnings.append(f"sites: {int((~can).sum()):,} of {n:,} sectors cannot reach any "
                                            "district (a national site table? fine, they are ignored)")
            lines += self.site_terrain(table, x, y, can)
        self.report.sections.append(("sites", lines))

    def site_terrain(self, table: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, can: np.ndarray) -> list[str]:
        """Lines on the DEM under the sectors that can reach a district; a problem for those without."""
        if "terrain" in self.failed or not can.any():
            return []
        spec = self.sc.inputs["terrain"]
        z = self.attempt("terrain", lambda: sample_elevation_m(spec.source, x[can], y[can], self.crs))
        if z is None:
            return []
        missing = ~np.isfinite(z)
        if missing.any():
            ids = table["sector_id"].to_numpy()[can][missing]
            lon, lat = pyproj.Transformer.from_crs(self.crs, WGS84, always_xy=True).transform(
                x[can][missing][0], y[can][missing][0])
            self.report.problems.append(
                f"[inputs.terrain]: {spec.path}: no elevation under {int(missing.sum()):,} sectors that can reach a "
                f"district ({[str(i) for i in ids[:10]]}, the first at lon {lon:.5f}, lat {lat:.5f}); the DEM must "
                "cover every site (add the neighbouring tiles)")
            return [f"terrain under {int(missing.sum()):,} of {int(can.sum()):,} sectors within reach: missing"]
        return [f"terrain under all {int(can.sum()):,} sectors within reach: {np.min(z):,.0f}..{np.max(z):,.0f} m"]

    # -- targets ------------------------------------------------------------------------------

    def check_targets(self) -> None:
        sc = self.sc
        sites = [k for k in SITE_INPUTS if k in sc.inputs]
        fibre = {"premises": ["premises"], "capacity": ["fibre_nodes"]}.get(
            sc.fibre.rule, [k for k in ("fibre_nodes", "fibre_routes") if k in sc.inputs] or ["fibre_nodes"])
        radio = ["terrain", *sites] + (["wlan"] if "wlan" in sc.inputs else [])
        needs = {"wireless_population": ["districts", "population", *radio],
                 "urban_area_3g": ["districts", "population", "terrain", *sites],
                 "ftth_households": ["districts", "population", *fibre],
                 "village_broadband": ["districts", "population", "villages", *radio,
                                       *[k for k in ("fibre_nodes", "fibre_routes") if k in sc.inputs]]}
        lines = []
        for t in sc.targets:
            wanted = list(dict.fromkeys(needs.get(t.metric, [])))
            bad = [k for k in wanted if k in self.failed or k not in sc.inputs]
            status = "ok" if not bad else f"NOT USABLE: {', '.join(bad)}"
            lines.append(f"{t.label} [{t.metric} >= {t.threshold:.0%}, {t.scope}]: needs {', '.join(wanted)}: {status}")
        if any(t.metric == "ftth_households" for t in sc.targets) and "household_sizes" not in sc.inputs:
            given = "persons_per_household" in _raw_table(sc.source, "households")
            size = sc.households.persons_per_household
            lines.append(f"households = residents / {size:g} persons per household"
                         + ("" if given else " (the default: not set in [households])"))
            if not given:
                self.report.warnings.append(
                    f"[households].persons_per_household is not set: the FTTH target divides residents by the "
                    f"default {size:g}; set your census household size (or [inputs.household_sizes])")
        self.report.sections.append(("targets", lines))


def _raw_table(path: Path, key: str) -> dict:
    """Top-level table ``key`` of the TOML file (already validated by load_scenario)."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    value = doc.get(key, {})
    return value if isinstance(value, dict) else {}


__all__ = ["CheckReport", "check_scenario", "sample_elevation_m", "todo_lines"]
