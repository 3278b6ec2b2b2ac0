"""Input specs: the ``[inputs]`` table of a scenario, one declared file per input.

Each input names its file (relative paths are relative to the scenario file), optionally its
CRS, whether it is synthetic, its format options (column names) and the free-text vintage and
note carried into every report.  :func:`parse_inputs` checks them for
:func:`citycov.config.load_scenario` (each path must be a regular file, or a folder for
``antenna_patterns``: never a FIFO or a device, which would hang a reader); the readers of
:mod:`citycov.io` then read the files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citycov.crs import GCJ02, parse_crs
from citycov.errors import CitycovError
from citycov.filekind import MISSING, path_problem
from citycov.presets.files import KeyReader

VECTOR_INPUTS = ("districts", "sectors", "wlan", "fibre_nodes", "fibre_routes", "premises", "villages", "claims",
                 "measurements", "opencellid", "broadcast")
RASTER_INPUTS = ("population", "terrain", "clutter")
TABLE_INPUTS = ("census", "household_sizes")
FOLDER_INPUTS = ("antenna_patterns",)
CLUTTER_LOSS_RANGE_DB = (-20.0, 80.0)
"""Accepted receiver-end loss per clutter class, dB (negative: less loss than the model's median)."""
REQUIRED_INPUTS = ("districts", "population", "terrain")
"""Also required: [inputs.sectors] or [inputs.opencellid] (or both: the tables are joined)."""


@dataclass(frozen=True)
class InputSpec:
    """One input file: ``path`` (absolute), declared ``crs`` (None: read from the file),
    whether the scenario declares it ``synthetic``, format ``options`` (column names), and the
    free-text ``vintage`` (data date/version) and ``note`` carried into every report."""

    name: str
    path: Path
    crs: Any = None
    synthetic: bool = False
    options: dict[str, str] = field(default_factory=dict)
    vintage: str = ""
    note: str = ""


@dataclass(frozen=True)
class ClutterInput(InputSpec):
    """``[inputs.clutter]``: a raster of integer clutter classes and ``loss_db``, the loss (dB)
    at the receiver per class code, added to every sector's path to a cell of that class."""

    loss_db: dict[int, float] = field(default_factory=dict)


INPUT_OPTIONS = {  # input -> its format options (column names)
    "census": {"id_column", "population_column"},
    "household_sizes": {"id_column", "size_column"},
    "premises": {"lon_column", "lat_column"},
    "villages": {"lon_column", "lat_column"},
    "districts": {"id_column", "name_column", "local_name_column", "name_zh_column"},
    "sectors": {"lon_column", "lat_column"},
    "wlan": {"lon_column", "lat_column"},
    "fibre_nodes": {"lon_column", "lat_column"},
    "broadcast": {"lon_column", "lat_column"},
    "fibre_routes": set(),
    "claims": set(),
    "measurements": set(),
    "opencellid": {"min_samples"},
    "population": {"units"},
    "terrain": set(),
    "clutter": set(),
    "antenna_patterns": set(),
}


def parse_inputs(r: KeyReader, table: dict, base: Path) -> dict[str, InputSpec]:
    """``[inputs]`` of a scenario: one :class:`InputSpec` per input, paths resolved against ``base``
    (the scenario's folder); every problem goes to ``r`` with its key path."""
    r.unknown(table, set(VECTOR_INPUTS + RASTER_INPUTS + TABLE_INPUTS + FOLDER_INPUTS), "[inputs]")
    for key in REQUIRED_INPUTS:
        if key not in table:
            r.problems.append(f"[inputs.{key}] is required")
    if "sectors" not in table and "opencellid" not in table:
        r.problems.append("[inputs.sectors] or [inputs.opencellid] is required (the cellular network)")
    specs: dict[str, InputSpec] = {}
    for key, entry in table.items():
        where = f"[inputs.{key}]"
        if key not in INPUT_OPTIONS:
            continue
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict):
            r.problems.append(f"{where} must be a table or a path string, got {entry!r}")
            continue
        allowed = {"path", "synthetic", "vintage", "note"} | INPUT_OPTIONS[key]
        if key in VECTOR_INPUTS or key == "clutter":
            allowed.add("crs")
        if key == "clutter":
            allowed.add("loss_db")
        r.unknown(entry, allowed, where)
        loss_db = _parse_clutter_losses(r, entry.get("loss_db"), where) if key == "clutter" else {}
        raw_path = entry.get("path")
        if not isinstance(raw_path, str) or not raw_path:
            r.problems.append(f"{where}.path must be a non-empty string")
            continue
        given = base / raw_path  # raw_path itself when absolute
        path = given.resolve() if not Path(raw_path).is_absolute() else given
        problem = path_problem(given, folder=key in FOLDER_INPUTS)  # a FIFO or device would hang a reader
        if problem == MISSING:
            r.problems.append(f"{where}.path: {'folder' if key in FOLDER_INPUTS else 'file'} not found: {path}")
        elif problem is not None:
            r.problems.append(f"{where}.path: {given} {problem}")
        crs = None
        if "crs" in entry:
            try:
                crs = parse_crs(entry["crs"], where=f"{where}.crs")
                if key == "clutter" and crs == GCJ02:
                    r.problems.append(f"{where}.crs cannot be gcj02: give the raster's EPSG code")
            except CitycovError as exc:
                r.problems.append(str(exc))
        synthetic = r.flag(entry, "synthetic", where, False)
        options = {k: v for k, v in entry.items() if k in INPUT_OPTIONS[key]}
        for k, v in options.items():
            if not isinstance(v, str):
                r.problems.append(f"{where}.{k} must be a column name (string), got {v!r}")
        vintage = r.string(entry, "vintage", where, "")
        note = r.string(entry, "note", where, "")
        if key == "clutter":
            specs[key] = ClutterInput(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                      vintage=vintage, note=note, loss_db=loss_db)
        else:
            specs[key] = InputSpec(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                   vintage=vintage, note=note)
    return specs


def _parse_clutter_losses(r: KeyReader, raw: Any, where: str) -> dict[int, float]:
    """``loss_db = { "<class code>" = <dB>, ... }``: integer class codes (TOML keys are text)
    to a loss in :data:`CLUTTER_LOSS_RANGE_DB`."""
    lo, hi = CLUTTER_LOSS_RANGE_DB
    if raw is None:
        r.problems.append(f'{where}.loss_db is required: a table of class code = loss in dB, e.g. '
                          f'loss_db = {{ "10" = 12.0, "50" = 18.0 }}')
        return {}
    if not isinstance(raw, dict) or not raw:
        r.problems.append(f"{where}.loss_db must be a non-empty table of class code = loss in dB, got {raw!r}")
        return {}
    out: dict[int, float] = {}
    bad_codes = []
    for code, value in raw.items():
        if not re.fullmatch(r"\s*[+-]?\d+\s*", code):
            bad_codes.append(code)
            continue
        key = int(code)
        if key in out:
            r.problems.append(f"{where}.loss_db: class {key} given twice")
            continue
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or not lo <= value <= hi:
            r.problems.append(f"{where}.loss_db.{code} must be a number in [{lo:g}, {hi:g}] dB, got {value!r}")
            continue
        out[key] = float(value)
    if bad_codes:
        r.problems.append(f"{where}.loss_db: class codes must be whole numbers (the raster's values), "
                          f"got {bad_codes}")
    return out
