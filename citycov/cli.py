"""Thin command-line layer: parse → load_scenario → pipeline.run → outputs.write_outputs;
``citycov map``/``citycov report`` re-render from a saved output folder.

Only :class:`~citycov.errors.CitycovError` is caught: the user sees one line on stderr and
exit code 1, no traceback.  Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import click

from citycov._version import __version__
from citycov.choices import BASEMAPS
from citycov.config import load_scenario, scenario_files
from citycov.config.compute import ComputeConfig
from citycov.errors import CitycovError
from citycov.outputs import maps, report_html
from citycov.outputs import write as outputs
from citycov.outputs.folder import OutputFolder
from citycov.outputs.i18n import LANGS
from citycov.outputs.reproducible import resolve as resolve_reproducible
from citycov.outputs.saved import load_saved_run
from citycov.pipeline import runner
from citycov.planning import planner
from citycov.preflight import InitPaths, check_scenario, init_scenario


@click.group()
@click.version_option(__version__, prog_name="citycov")
@click.option("-v", "--verbose", count=True, help="More log output (-v info is the default, -vv debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """citycov: wireless-city and broadband coverage against district targets."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    ctx.obj = {"quiet": quiet}


@cli.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of map.html and report.html (default: the scenario's [report].lang).")
@click.option("--cell-m", type=click.FloatRange(min=1.0, max=10_000.0), default=None,
              help="Analysis cell size in metres, overriding [grid].cell_m (recorded in the provenance).")
@click.option("--reproducible", is_flag=True,
              help="Write no run time or step timings, so that two runs give byte-identical files (the run's "
                   "time is SOURCE_DATE_EPOCH when set; setting SOURCE_DATE_EPOCH alone does the same).")
@click.option("--workers", type=click.IntRange(min=0, max=10_000), default=None,
              help="Run the tile tasks on a local Dask cluster of N worker processes (0: in this process), "
                   "overriding [compute].")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Run the tile tasks on the existing Dask scheduler at ADDRESS (e.g. tcp://10.0.0.5:8786), "
                   "overriding [compute]; default: $DASK_SCHEDULER_ADDRESS when set.")
@click.pass_context
def run(ctx: click.Context, scenario: Path | None, out_dir: Path, no_progress: bool, lang: str | None,
        cell_m: float | None, reproducible: bool, workers: int | None, scheduler: str | None) -> None:
    """Run SCENARIO (default: the embedded Guangzhou scenario) and write the report.

    \b
    Example:
        citycov run                       # Guangzhou default into out/
        citycov run my_city.toml --out results/
        citycov run --cell-m 100            # a quicker look at 100 m
        citycov run --reproducible          # byte-identical outputs, e.g. to publish their hashes
        citycov run --workers 2             # the tiles on a local Dask cluster of 2 processes
        citycov run --scheduler tcp://10.0.0.5:8786   # on an existing Dask cluster
    """
    t0 = time.perf_counter()
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler are both given: drop --workers to use the scheduler's "
                               "workers, or drop --scheduler to start a local cluster")

    def compute(sc):
        sc = replace(sc, compute=compute_config(sc.compute, workers=workers, scheduler=scheduler))
        results = runner.run(sc, progress=not (no_progress or ctx.obj["quiet"]))
        return results, results, None

    sc, results, paths = _compute_into(out_dir, scenario, cell_m, reproducible, lang, "run", compute)
    city = results.city
    click.echo(f"{sc.name}: wireless broadband {city['wireless_pct']:.2f}% of residents, "
               f"FTTH {city['ftth_pct']:.2f}% of households ({time.perf_counter() - t0:.1f} s)")
    if results.synthetic_inputs:
        click.echo(f"NOTE: synthetic inputs: {', '.join(results.synthetic_inputs)}")
    click.echo(f"report: {paths['report.html'].resolve()}")
    click.echo(f"map:    {paths['map.html'].resolve()}")
    click.echo(f"tables: {paths['districts.csv'].resolve()}")


@cli.command("plan")
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", default="out-plan", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of map.html and report.html (default: the scenario's [report].lang).")
@click.option("--cell-m", type=click.FloatRange(min=1.0, max=10_000.0), default=None,
              help="Analysis cell size in metres, overriding [grid].cell_m (recorded in the provenance).")
@click.option("--reproducible", is_flag=True, help="As citycov run --reproducible.")
@click.pass_context
def plan_cmd(ctx: click.Context, scenario: Path | None, out_dir: Path, no_progress: bool, lang: str | None,
             cell_m: float | None, reproducible: bool) -> None:
    """Plan the fewest-cost new sites and fibre cabinets that bring SCENARIO's targets ([plan]
    section; default: the embedded Guangzhou scenario) to their thresholds, check the plan with a
    full engine run, and write the plan beside that run's report.

    \b
    Example:
        citycov plan --cell-m 100 --out plan100/
        citycov plan my_city.toml --out plan/
    """
    t0 = time.perf_counter()

    def compute(sc):
        result = planner.plan_scenario(sc, progress=not (no_progress or ctx.obj["quiet"]))
        return result, result.after or result.base, result

    sc, result, paths = _compute_into(out_dir, scenario, cell_m, reproducible, lang, "plan", compute)
    unit = result.config.cost_unit
    click.echo(f"{sc.name}: plan of {len(result.sites)} site(s) and {len(result.cabinets)} cabinet(s), cost "
               f"{float(result.sites['cost'].sum() + result.cabinets['cost'].sum()):.4g} {unit} "
               f"({time.perf_counter() - t0:.1f} s)")
    for row in result.summary.itertuples():
        click.echo(f"  {row.metric} {row.district}: {row.before_pct:.2f}% -> {row.after_pct:.2f}% "
                   f"(target {100 * row.threshold:g}%, {'met' if row.met else 'MISSED'})")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.base.synthetic_inputs:
        click.echo(f"NOTE: synthetic inputs: {', '.join(result.base.synthetic_inputs)}")
    click.echo(f"report: {paths['report.html'].resolve()}")
    click.echo(f"plan:   {out_dir.resolve() / 'plan_summary.csv'}")


SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""The environment variable naming a Dask scheduler when neither ``--workers`` nor
``--scheduler`` is given (Dask's own name for it)."""


def compute_config(base: ComputeConfig, *, workers: int | None = None, scheduler: str | None = None,
                   environ: Mapping[str, str] | None = None) -> ComputeConfig:
    """The scenario's ``[compute]`` (``base``) with the command line's choice: ``--workers N``
    (a LocalCluster; 0: in this process), else ``--scheduler ADDRESS``, else the scheduler named
    by ``$DASK_SCHEDULER_ADDRESS`` (``environ``, default :data:`os.environ`) when set and not
    empty, else ``base`` unchanged.  Choosing one of workers / scheduler clears the other."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("--workers and --scheduler are both given; drop one")
    if scheduler is not None and not scheduler.strip():
        raise click.UsageError("--scheduler needs an address, e.g. tcp://10.0.0.5:8786")
    if workers is not None:
        return replace(base, workers=workers, scheduler=None)
    if scheduler is None:
        scheduler = ((os.environ if environ is None else environ).get(SCHEDULER_ENV) or "").strip() or None
    if scheduler is not None:
        return replace(base, workers=0, scheduler=scheduler.strip())
    return base


def _compute_into(out_dir: Path, scenario: Path | None, cell_m: float | None, reproducible: bool,
                  lang: str | None, what: str, compute):
    """Load the scenario, prepare ``out_dir`` (before any work), compute, and write the outputs
    staged and published whole; a CitycovError is one line and exit 1, Ctrl-C exit 130 with
    ``out_dir`` holding the earlier outputs or the complete new ones.

    ``compute(scenario)`` returns (what the command reports, the Results to write, the plan or None).
    Returns (scenario, what the command reports, the written paths)."""
    folder: OutputFolder | None = None
    try:
        mode = True if reproducible else None  # None: SOURCE_DATE_EPOCH decides
        resolve_reproducible(mode)  # a malformed SOURCE_DATE_EPOCH fails before any work
        sc = load_scenario(scenario)
        if cell_m is not None:
            sc = replace(sc, grid=replace(sc.grid, cell_m=cell_m))
        folder = OutputFolder.prepare(out_dir, reads=scenario_files(sc))  # before any work
        # the run's own temporary files (its stored rasters, a cluster's scene) go into the staging
        # folder too: a killed run leaves none in TMPDIR, and the next run removes them with it
        with folder, folder.temporary_files():
            reported, results, plan = compute(sc)
            paths = outputs.write_outputs(results, folder, lang=lang, reproducible=mode, plan=plan)
    except CitycovError as exc:
        click.echo(f"citycov: error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        # outputs are staged and published whole: --out keeps the earlier run, or has the new one
        if folder is not None and folder.published:
            click.echo(f"citycov: interrupted after {out_dir} received the complete new {what}", err=True)
        else:
            click.echo(f"citycov: interrupted; nothing was written to {out_dir}", err=True)
        sys.exit(130)
    return sc, reported, paths


CHECK_PROBLEMS_EXIT = 2
"""Exit code of ``citycov check`` (and ``init``) when the scenario is not usable."""


@cli.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--cell-m", type=click.FloatRange(min=1.0, max=10_000.0), default=None,
              help="Analysis cell size in metres, overriding [grid].cell_m (as citycov run --cell-m).")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Report language to check the district names for (default: the scenario's [report].lang).")
def check(scenario: Path | None, cell_m: float | None, lang: str | None) -> None:
    """Validate every input of SCENARIO (default: the embedded Guangzhou scenario) without running
    the engine, and show what a run would use: grid, inputs (path, CRS, size, extent), residents
    per district against the census, terrain under the study area and the sites, targets.

    Exit code 0 when the scenario is usable (warnings are printed), 2 with every problem listed.

    \b
    Example:
        citycov check my_city.toml
        citycov check my_city.toml --cell-m 30   # the grid of the final run
    """
    try:
        report = check_scenario(scenario, cell_m=cell_m, lang=lang)
    except CitycovError as exc:  # check_scenario lists input problems itself; this is a last resort
        click.echo(f"citycov: error: {exc}", err=True)
        sys.exit(CHECK_PROBLEMS_EXIT)
    click.echo(report.text())
    sys.exit(0 if report.usable else CHECK_PROBLEMS_EXIT)


@cli.command()
@click.option("--districts", required=True, type=click.Path(path_type=Path),
              help="District polygons (GeoPackage, Shapefile, GeoJSON) with their CRS.")
@click.option("--population", required=True, type=click.Path(path_type=Path),
              help="Population raster (GeoTIFF; e.g. WorldPop or GHS-POP counts).")
@click.option("--terrain", required=True, multiple=True,
              help="DEM: a GeoTIFF, a folder or glob of tiles; repeat for several files.")
@click.option("--sites", required=True, type=click.Path(path_type=Path),
              help="OpenCelliD export (CSV) or a sector table (CSV with lon/lat or x/y, or a point file).")
@click.option("--fibre-nodes", type=click.Path(path_type=Path), default=None,
              help="Fibre access nodes (points; line files become fibre routes).")
@click.option("--wlan", type=click.Path(path_type=Path), default=None, help="WLAN access points.")
@click.option("--name", default=None, help="Scenario name (default: the districts file's name).")
@click.option("--household-size", type=float, required=True,
              help="Persons per household of your census (households are counted in every district table).")
@click.option("--household-source", required=True, help="Where the household size comes from (e.g. \"INSEE RP2021\").")
@click.option("--out", "out", default="scenario.toml", show_default=True, type=click.Path(path_type=Path),
              help="Scenario file to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing scenario file.")
def init(districts: Path, population: Path, terrain: tuple[str, ...], sites: Path, fibre_nodes: Path | None,
         wlan: Path | None, name: str | None, household_size: float | None, household_source: str | None,
         out: Path, force: bool) -> None:
    """Inspect downloaded inputs and write a commented scenario TOML (detected CRSs, columns and
    units filled in, paths relative to it), then check it.

    Exit code 0 when the written scenario passes citycov check, 2 when it has problems (TODO
    lines to fill in), 1 when an input cannot be read or OUT exists (without --force).

    \b
    Example:
        citycov init --districts communes.gpkg --population fra_ppp_2020.tif \\
            --terrain srtm/ --sites 208.csv --out evreux.toml
        citycov run evreux.toml --cell-m 100
    """
    paths = InitPaths(districts=districts, population=population, terrain=tuple(terrain), sites=sites,
                      fibre_nodes=fibre_nodes, wlan=wlan)
    try:
        written, summary = init_scenario(paths, out, name=name, household_size=household_size,
                                         household_source=household_source, force=force)
    except CitycovError as exc:
        click.echo(f"citycov: error: {exc}", err=True)
        sys.exit(1)
    for line in summary:
        click.echo(line)
    click.echo(f"wrote {written}")
    report = check_scenario(written)
    click.echo(report.text())
    sys.exit(0 if report.usable else CHECK_PROBLEMS_EXIT)


def _rerender(kind: str, out_dir: Path, output: Path | None, lang: str | None, basemap: str | None) -> None:
    try:
        saved = load_saved_run(out_dir)
        if kind == "map":
            path = maps.write_map(saved, output or out_dir / "map.html", lang=lang, basemap=basemap)
        else:
            target = output or out_dir / "report.html"
            path = report_html.write_report(saved, target, lang=lang, figures_dir=target.parent / "figures")
    except CitycovError as exc:
        click.echo(f"citycov: error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{kind}: {path.resolve()}")


_OUT_ARG = click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
_OUTPUT_OPT = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help="File to write (default: inside OUT_DIR).")
_LANG_OPT = click.option("--lang", type=click.Choice(LANGS), default=None,
                         help="Language (default: the one the run was made with).")


@cli.command("map")
@_OUT_ARG
@_OUTPUT_OPT
@_LANG_OPT
@click.option("--basemap", type=click.Choice(BASEMAPS), default=None,
              help="'osm' adds online OpenStreetMap tiles; 'none' (offline) shows outlines on a plain background.")
def map_cmd(out_dir: Path, output: Path | None, lang: str | None, basemap: str | None) -> None:
    """Re-render map.html from the output folder OUT_DIR of an earlier run (no recomputation)."""
    _rerender("map", out_dir, output, lang, basemap)


@cli.command("report")
@_OUT_ARG
@_OUTPUT_OPT
@_LANG_OPT
def report_cmd(out_dir: Path, output: Path | None, lang: str | None) -> None:
    """Re-render report.html and its PNG figures from OUT_DIR of an earlier run (no recomputation)."""
    _rerender("report", out_dir, output, lang, None)


def main() -> None:
    """Console-script entry point."""
    cli()
