"""``citycov init``: a commented scenario TOML written from the files a user downloaded.

Every input is inspected (:mod:`citycov.preflight.detect`); the scenario names them by paths
relative to itself, with the CRSs, columns and units found and a comment on how each was
decided.  Where only the user can decide (a CRS that cannot be inferred, a missing column), a
``TODO`` comment is written, which :func:`citycov.preflight.check.check_scenario` reports as a
problem until it is replaced.  The file loads with :func:`citycov.config.load_scenario`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citycov.errors import ScenarioError
from citycov.filekind import MISSING, path_problem
from citycov.preflight.detect import (
    Detected,
    detect_districts,
    detect_points,
    detect_population,
    detect_sites,
    detect_terrain,
)

WIRELESS_TARGET = 0.80
FTTH_TARGET = 0.50
DEFAULT_CELL_M = 100.0


@dataclass(frozen=True)
class InitPaths:
    """The files ``citycov init`` inspects (as the user gave them: relative to the working folder)."""

    districts: Path
    population: Path
    terrain: tuple[str, ...]
    sites: Path
    fibre_nodes: Path | None = None
    wlan: Path | None = None


def toml_value(value: Any) -> str:
    r"""``value`` (str, bool, int, float or a list of them) as a TOML value.

    Examples
    --------
    >>> toml_value(["dem/a.tif", "dem/b.tif"])
    '["dem/a.tif", "dem/b.tif"]'
    >>> print(toml_value('Saint-Lô "centre"'))
    "Saint-Lô \"centre\""
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScenarioError(f"cannot write the non-finite number {value!r} to a scenario")
        return repr(value)
    if isinstance(value, str):  # a JSON string is a TOML basic string, bar DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _relative(path: str, base: Path) -> str:
    """``path`` relative to ``base`` with forward slashes; GDAL virtual paths (/vsizip/...) as given."""
    if path.startswith("/vsi"):
        return path
    return Path(os.path.relpath(Path(path).absolute(), base.absolute())).as_posix()


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def comment(self, *texts: str) -> None:
        self.lines += [f"# {t}" for t in texts]

    def key(self, key: str, value: Any, comment: str = "") -> None:
        text = f"{key} = {toml_value(value)}"
        self.lines.append(f"{text:<40} # {comment}" if comment else text)

    def blank(self) -> None:
        self.lines.append("")

    def table(self, header: str) -> None:
        self.lines.append(header)

    def input(self, d: Detected, base: Path) -> None:
        self.table(f"[inputs.{d.name}]")
        self.comment(*d.notes)
        self.comment(*(f"TODO: {t}" for t in d.todos))
        for key, value in d.keys.items():
            if key == "path":
                value = [_relative(v, base) for v in value] if isinstance(value, list) else _relative(value, base)
                self.key(key, value, d.comments.get(key, "relative to this file"))
            else:
                self.key(key, value, d.comments.get(key, ""))
        self.blank()


def init_scenario(paths: InitPaths, out: Path, *, name: str | None = None, household_size: float | None = None,
                  household_source: str | None = None, force: bool = False) -> tuple[Path, list[str]]:
    """Inspect the inputs of ``paths`` and write a commented scenario to ``out``.

    Returns
    -------
    The scenario's path and one line per input on what was detected.

    Raises
    ------
    ScenarioError
        ``out`` exists and ``force`` is false; a household size without its source (or the
        reverse) or outside 0.5..20.
    CitycovError
        An input cannot be read (the reader's own error, naming the file).
    """
    out = Path(out)
    problem = path_problem(out)
    if problem != MISSING and not force:
        raise ScenarioError(f"{out}: exists; citycov init never overwrites a scenario: pass --force, or choose "
                            "another --out")
    if problem not in (MISSING, None):
        raise ScenarioError(f"{out}: {problem}; expected a scenario file path")
    if (household_size is None) != (household_source is None):
        raise ScenarioError("--household-size and --household-source go together: the persons per household and "
                            "where the figure comes from (e.g. \"INSEE RP2021\")")
    if household_size is not None and not 0.5 <= household_size <= 20.0:
        raise ScenarioError(f"--household-size must be 0.5..20 persons per household, got {household_size:g}")
    districts = detect_districts(paths.districts)
    detected = [districts, detect_population(paths.population), detect_terrain(list(paths.terrain)),
                detect_sites(paths.sites, near=districts)]
    if paths.wlan is not None:
        detected.append(detect_points("wlan", paths.wlan, near=districts))
    if paths.fibre_nodes is not None:
        detected.append(detect_points("fibre_nodes", paths.fibre_nodes, near=districts))
    base = out.parent
    text = render(detected, name=name or paths.districts.stem, household_size=household_size,
                  household_source=household_source, base=base)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    summary = [f"{d.name}: " + "; ".join([*(f"{k} = {v}" for k, v in d.keys.items() if k != "path"), *d.notes[:1],
                                          *(f"TODO: {t}" for t in d.todos)]) for d in detected]
    return out, summary


def render(detected: list[Detected], *, name: str, household_size: float | None, household_source: str | None,
           base: Path) -> str:
    """The scenario TOML of the detected inputs (paths relative to ``base``, the scenario's folder)."""
    w = _Writer()
    w.comment("citycov scenario written by `citycov init`.  Every key has a comment; README.md lists them all.",
              "Paths are relative to this file.  `citycov check <this file>` validates every input in seconds",
              "(it lists every line marked as still to do); `citycov run <this file>` runs it.")
    w.key("name", name, "shown in reports")
    w.key("description", "", "free text shown in reports")
    w.blank()
    for d in detected:
        w.input(d, base)
    w.table("[grid]")
    w.key("crs", "auto", "analysis CRS: the UTM zone of the districts; or an EPSG code in metres")
    w.key("cell_m", DEFAULT_CELL_M, "cell size, m: 100 for a first look, 30 for the final run")
    w.blank()
    w.table("[radio]")
    w.key("model", "auto", "propagation model by band: Okumura-Hata / COST-231 Hata / TR 38.901")
    w.key("study_margin_m", 1000.0, "evaluate the districts and 1 km around them (terrain beyond still counts)")
    w.blank()
    w.table("[accounting]")
    w.key("zonal_rule", "fraction", "each cell counted by the share of its area in each district")
    w.key("uncertainty", True, "the uncertainty band (reruns the engine; false is quicker)")
    w.key("uncertainty_resolution", ["coarser"], "a run at double the cell size (\"finer\" costs 4x the run)")
    w.blank()
    w.table("[report]")
    w.key("lang", "en", "language of map.html and report.html (\"zh\": Chinese)")
    w.key("basemap", "none", "\"osm\" adds online OpenStreetMap tiles; \"none\" works offline")
    w.blank()
    names = {d.name for d in detected}
    fibre = names & {"fibre_nodes", "fibre_routes"}
    if household_size is not None:
        w.table("[households]")
        w.key("persons_per_household", float(household_size), "persons per household, from your census")
        w.key("source", str(household_source), "where the household size comes from (printed in every report)")
        w.blank()
    w.comment("Targets: each has a metric, a threshold (0-1), a label and a scope (\"districts\": every district",
              "and the city; \"city\": the city only).")
    w.table("[[targets]]")
    w.key("metric", "wireless_population", "share of residents with wireless broadband (3G/4G/5G or WLAN)")
    w.key("threshold", WIRELESS_TARGET, "80 %")
    w.key("label", f"Wireless broadband population coverage ≥ {WIRELESS_TARGET:.0%}", "shown in reports")
    w.key("scope", "districts", "every district and the city")
    if fibre and household_size is not None:
        w.blank()
        w.table("[[targets]]")
        w.key("metric", "ftth_households", "share of households passed by fibre ([fibre].rule, 300 m drop)")
        w.key("threshold", FTTH_TARGET, "50 %")
        w.key("label", f"FTTH household coverage ≥ {FTTH_TARGET:.0%}", "shown in reports")
        w.key("scope", "districts", "every district and the city")
    elif fibre:
        w.comment("No FTTH target: households = residents / persons per household, and no household size was",
                  "given.  Rerun init with --household-size N --household-source TEXT (your census), or add",
                  "[households] persons_per_household and a [[targets]] with metric = \"ftth_households\".")
    return "\n".join(w.lines).rstrip() + "\n"


__all__ = ["InitPaths", "init_scenario", "render", "toml_value"]
