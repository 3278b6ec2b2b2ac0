"""Input specs: the ``[inputs]`` table of a scenario, one declared file per input.

Each input names its file (relative paths are relative to the scenario file), optionally its
CRS, whether it is synthetic, its format options (column names) and the free-text vintage and
note carried into every report.  A raster input (terrain, population, clutter) may also name
several tiles: a folder, a list, a glob or a ``/vsizip/`` path (:mod:`citycov.tilepaths`).
:func:`parse_inputs` checks them for
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

from citycov.carriers import table_bandwidths_mhz
from citycov.channels import band_centre_mhz, band_names
from citycov.choices import OCID_DEFAULT_KEYS, OCID_JOINS, OCID_RADIOS, OCID_SECTORS
from citycov.crs import GCJ02, parse_crs
from citycov.errors import CitycovError
from citycov.filekind import MISSING, path_problem
from citycov.presets.files import KeyReader
from citycov.tilepaths import resolve_raster_path, tile_file

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
    tiles: tuple[str, ...] = ()
    """The raster tiles ``path`` stands for (a folder, list or glob of tiles, a zip archive, a
    ``/vsizip/`` path: :func:`citycov.tilepaths.resolve_raster_path`), absolute files or ``/vsi…``
    paths; ``()`` for one plain file."""

    @property
    def source(self) -> Path | tuple[str, ...]:
        """What a raster reader opens: :attr:`tiles` when there are any, else :attr:`path`."""
        return self.tiles or self.path

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file and folder this input reads: :attr:`path` (when it exists: not for a
        glob) and the file of each tile (the archive of a ``/vsizip/`` tile)."""
        if not self.tiles:
            return (self.path,)
        found = [self.path] if self.path.exists() else []
        return tuple(dict.fromkeys([*found, *(tile_file(t) for t in self.tiles)]))


@dataclass(frozen=True)
class ClutterInput(InputSpec):
    """``[inputs.clutter]``: a raster of integer clutter classes and ``loss_db``, the loss (dB)
    at the receiver per class code, added to every sector's path to a cell of that class."""

    loss_db: dict[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenCelliDInput(InputSpec):
    """``[inputs.opencellid]``: an OpenCelliD export and what it lacks (:mod:`citycov.io.opencellid`).

    ``operators`` maps ``"MCC-MNC"`` to a name; ``bands`` maps ``"MCC-MNC"`` to ``{radio: band
    name, freq_mhz or a table of band/freq_mhz/bandwidth_mhz}``; ``defaults`` maps a radio to
    overrides of the built-in per-radio defaults; ``sectors`` is 1 (omni) or 3; ``join`` is how
    the cells join ``[inputs.sectors]`` (None: ``fill`` when both are given)."""

    min_samples: int = 1
    operators: dict[str, str] = field(default_factory=dict)
    bands: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    sectors: int = 1
    join: str = "fill"
    match_distance_m: float = 500.0


OPENCELLID_KEYS = {"min_samples", "operators", "bands", "defaults", "sectors", "join", "match_distance_m"}
"""Keys of ``[inputs.opencellid]`` besides path, crs, synthetic, vintage and note."""
_PLMN_RE = re.compile(r"\d{3}-\d{1,3}")
_DEFAULT_RANGES = {"freq_mhz": (150.0, 6000.0), "height_m": (1.0, 300.0), "eirp_dbm": (0.0, 90.0),
                   "downtilt_deg": (-20.0, 45.0), "v_beamwidth_deg": (1.0, 90.0), "h_beamwidth_deg": (1.0, 360.0),
                   "bandwidth_mhz": (0.2, 400.0)}

INPUT_OPTIONS = {  # input -> its format options (column names)
    "census": {"id_column", "population_column"},
    "household_sizes": {"id_column", "size_column"},
    "premises": {"lon_column", "lat_column"},
    "villages": {"lon_column", "lat_column"},
    "districts": {"id_column", "name_column", "local_name_column", "name_zh_column", "group_column",
                  "group_name_column", "group_local_name_column"},
    "sectors": {"lon_column", "lat_column"},
    "wlan": {"lon_column", "lat_column"},
    "fibre_nodes": {"lon_column", "lat_column"},
    "broadcast": {"lon_column", "lat_column"},
    "fibre_routes": set(),
    "claims": set(),
    "measurements": set(),
    "opencellid": set(),
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
        if key == "opencellid":
            allowed |= OPENCELLID_KEYS
        r.unknown(entry, allowed, where)
        loss_db = _parse_clutter_losses(r, entry.get("loss_db"), where) if key == "clutter" else {}
        raw_path = entry.get("path")
        tiles: tuple[str, ...] = ()
        if key in RASTER_INPUTS:  # a file, folder, list or glob of tiles, or a /vsizip/ path
            found, tiles, tile_problems = resolve_raster_path(raw_path, base, where=f"{where}.path")
            r.problems.extend(tile_problems)
            if found is None:
                continue
            path = found
        elif not isinstance(raw_path, str) or not raw_path:
            r.problems.append(f"{where}.path must be a non-empty string")
            continue
        else:
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
        if key == "districts":
            _check_group_options(r, options, where)
        vintage = r.string(entry, "vintage", where, "")
        note = r.string(entry, "note", where, "")
        if key == "clutter":
            specs[key] = ClutterInput(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                      vintage=vintage, note=note, tiles=tiles, loss_db=loss_db)
        elif key == "opencellid":
            specs[key] = OpenCelliDInput(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                         vintage=vintage, note=note, **_parse_opencellid(r, entry, where))
        else:
            specs[key] = InputSpec(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                   vintage=vintage, note=note, tiles=tiles)
    return specs


def _check_group_options(r: KeyReader, options: dict[str, Any], where: str) -> None:
    """``group_column`` (each district's group: an area of whole districts, reported between the
    districts and the total) and its name columns: the names need the id column, and the group
    ids cannot be the district ids."""
    names = [k for k in ("group_name_column", "group_local_name_column") if k in options]
    if names and "group_column" not in options:
        r.problems.append(f"{where}: {' and '.join(names)} given without group_column (the column of each "
                          "district's group id)")
    group = options.get("group_column")
    if group is not None and group == options.get("id_column", "adcode"):
        r.problems.append(f"{where}.group_column {group!r} is the id column: a group is an area of several "
                          "districts, with an id of its own")


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


def _parse_opencellid(r: KeyReader, entry: dict, where: str) -> dict[str, Any]:
    """The OpenCelliD keys of ``[inputs.opencellid]`` (:class:`OpenCelliDInput`), every problem to ``r``."""
    out: dict[str, Any] = {}
    samples = entry.get("min_samples", 1)
    if isinstance(samples, str) and samples.strip().isdigit():  # older scenarios wrote it as text
        samples = int(samples)
    out["min_samples"] = r.number({"min_samples": samples}, "min_samples", where, 1, lo=0, integer=True)
    out["sectors"] = r.number(entry, "sectors", where, 1, integer=True)
    if out["sectors"] not in OCID_SECTORS:
        r.problems.append(f"{where}.sectors must be one of {list(OCID_SECTORS)} (1 omni, 3 at 0/120/240 "
                          f"degrees), got {out['sectors']!r}")
        out["sectors"] = 1
    out["join"] = r.string(entry, "join", where, "fill", choices=OCID_JOINS)
    out["match_distance_m"] = r.number(entry, "match_distance_m", where, 500.0, lo=0.0, hi=20_000.0, lo_open=True)
    operators = entry.get("operators", {})
    out["operators"] = {}
    if not isinstance(operators, dict):
        r.problems.append(f'{where}.operators must be a table of "MCC-MNC" = name, e.g. '
                          f'operators = {{ "208-01" = "Orange" }}, got {operators!r}')
    else:
        for code, name in operators.items():
            if not _PLMN_RE.fullmatch(code):
                r.problems.append(f'{where}.operators: key {code!r} must be "MCC-MNC" (3 digits, a hyphen, '
                                  f'1 to 3 digits), e.g. "208-01"')
            elif not isinstance(name, str) or not name.strip():
                r.problems.append(f"{where}.operators.{code} must be a non-empty name, got {name!r}")
            else:
                out["operators"][code] = name.strip()
    out["defaults"] = {}
    defaults = entry.get("defaults", {})
    if not isinstance(defaults, dict):
        r.problems.append(f"{where}.defaults must be a table of radio = {{ key = value }}, got {defaults!r}")
        defaults = {}
    for radio, values in defaults.items():
        w = f"{where}.defaults.{radio}"
        if radio not in OCID_RADIOS:
            r.problems.append(f"{where}.defaults: unknown radio {radio!r}; expected one of {list(OCID_RADIOS)}")
        elif not isinstance(values, dict):
            r.problems.append(f"{w} must be a table, got {values!r}")
        else:
            r.unknown(values, set(OCID_DEFAULT_KEYS), w)
            out["defaults"][radio] = _carrier_values(r, values, radio, w, with_site_keys=True)
    out["bands"] = {}
    bands = entry.get("bands", {})
    if not isinstance(bands, dict):
        r.problems.append(f'{where}.bands must be a table of "MCC-MNC" = {{ radio = band }}, got {bands!r}')
        bands = {}
    for code, per_radio in bands.items():
        w = f"{where}.bands.{code}"
        if not _PLMN_RE.fullmatch(code):
            r.problems.append(f'{where}.bands: key {code!r} must be "MCC-MNC", e.g. "208-01"')
            continue
        if not isinstance(per_radio, dict):
            r.problems.append(f'{w} must be a table of radio = band, e.g. {{ LTE = "B20" }}, got {per_radio!r}')
            continue
        out["bands"][code] = {}
        for radio, value in per_radio.items():
            if radio not in OCID_RADIOS:
                r.problems.append(f"{w}: unknown radio {radio!r}; expected one of {list(OCID_RADIOS)}")
                continue
            if isinstance(value, str):
                value = {"band": value}
            elif isinstance(value, int | float) and not isinstance(value, bool):
                value = {"freq_mhz": value}
            elif not isinstance(value, dict):
                r.problems.append(f'{w}.{radio} must be a band name ("B20"), a frequency in MHz or a table of '
                                  f"band/freq_mhz/bandwidth_mhz, got {value!r}")
                continue
            r.unknown(value, {"band", "freq_mhz", "bandwidth_mhz"}, f"{w}.{radio}")
            out["bands"][code][radio] = _carrier_values(r, value, radio, f"{w}.{radio}", with_site_keys=False)
    return out


def _carrier_values(r: KeyReader, values: dict, radio: str, where: str, *, with_site_keys: bool) -> dict[str, Any]:
    """Checked per-radio values: a known band name, numbers in range, a table bandwidth (4G/5G)."""
    out: dict[str, Any] = {}
    if "band" in values:
        band = values["band"]
        if not isinstance(band, str) or band_centre_mhz(radio, band) is None:
            r.problems.append(f"{where}.band: unknown {radio} band {band!r}; expected one of {band_names(radio)}")
        else:
            out["band"] = band.strip()
    keys = [k for k in _DEFAULT_RANGES if k != "h_beamwidth_deg" or with_site_keys]
    if not with_site_keys:
        keys = ["freq_mhz", "bandwidth_mhz"]
    for k in keys:
        if k in values:
            lo, hi = _DEFAULT_RANGES[k]
            value = r.number(values, k, where, None, lo=lo, hi=hi)
            if value is not None:
                out[k] = value
    tech = {"LTE": "4G", "NR": "5G"}.get(radio)
    if tech and "bandwidth_mhz" in out and round(out["bandwidth_mhz"], 3) not in table_bandwidths_mhz(tech):
        r.problems.append(f"{where}.bandwidth_mhz: {out['bandwidth_mhz']:g} MHz is not a {radio} channel bandwidth; "
                          f"expected one of {list(table_bandwidths_mhz(tech))}")
        del out["bandwidth_mhz"]
    if with_site_keys and "sectors" in values:
        sectors = r.number(values, "sectors", where, None, integer=True)
        if sectors is not None and sectors not in OCID_SECTORS:
            r.problems.append(f"{where}.sectors must be one of {list(OCID_SECTORS)}, got {sectors}")
        elif sectors is not None:
            out["sectors"] = sectors
    return out
