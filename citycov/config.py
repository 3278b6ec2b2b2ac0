"""Scenario files: TOML turned into frozen dataclasses, every problem reported at once.

A scenario names the inputs, the analysis grid, the radio parameters, the fibre rule, the
service definitions (radio presets) and the targets.  Relative paths are relative to the
scenario file.  Unknown keys are errors (a typo must not silently fall back to a default).
Errors name the key path, e.g. ``gz.toml: [radio].rx_height_m must be > 0, got -5``.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from citycov.crs import GCJ02, parse_crs
from citycov.errors import CitycovError, InputFileError, ScenarioError
from citycov.presets.radio import RadioPreset, load_preset

TECHNOLOGIES = ("3G", "4G", "5G")
METRICS = {
    "wireless_population": "share of residents in cells with wireless broadband coverage",
    "ftth_households": "share of households passed by fibre (FTTH rule of [fibre])",
    "urban_area_3g": "share of the urban area (cells of at least [radio].env_density_per_km2.urban residents/km²) "
                     "covered by 3G or better",
    "village_broadband": "share of village and town points whose cell has wireless broadband or is passed by fibre",
}
METRIC_UNITS = {"wireless_population": "persons", "ftth_households": "households", "urban_area_3g": "km²",
                "village_broadband": "villages"}
TARGET_SCOPES = ("districts", "city")
FIBRE_RULES = ("drop_distance", "premises", "capacity")
REPORT_LANGS = ("en", "zh")
DIFFRACTION_METHODS = ("knife_edge", "deygout", "bullington")
ENGINE_MODES = ("fast", "exact")
EXACT_MODELS = ("itm", "p1812")
BROADCAST_MODELS = ("preset", "p1812", "itm")
BASEMAPS = ("none", "osm")
ZONAL_RULE_NAMES = ("fraction", "centroid", "all_touched")
RADIO_MODELS = ("auto", "okumura_hata", "cost231_hata", "tr38901")
VECTOR_INPUTS = ("districts", "sectors", "wlan", "fibre_nodes", "fibre_routes", "premises", "villages", "claims",
                 "measurements", "opencellid", "broadcast")
RASTER_INPUTS = ("population", "terrain", "clutter")
TABLE_INPUTS = ("census", "household_sizes")
FOLDER_INPUTS = ("antenna_patterns",)
CLUTTER_LOSS_RANGE_DB = (-20.0, 80.0)
"""Accepted receiver-end loss per clutter class, dB (negative: less loss than the model's median)."""
SERVICE_METRICS = {"3G": ("rscp_dbm", "speed"), "4G": ("rsrp_dbm", "speed"), "5G": ("rsrp_dbm", "speed")}
"""Metrics the services step evaluates per cellular technology: the engine's levels are
reference-signal levels (3G CPICH RSCP, 4G RSRP, 5G SS-RSRP), and speeds come from its SINR."""
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


@dataclass(frozen=True)
class GridConfig:
    crs: str = "auto"
    cell_m: float = 100.0


@dataclass(frozen=True)
class RadioConfig:
    model: str = "auto"
    rx_height_m: float = 1.5
    k_factor: float = 4.0 / 3.0
    floor_dbm: float = -125.0
    max_range_km: float = 20.0
    threshold_dbm: dict[str, float] = field(
        default_factory=lambda: {"3G": -100.0, "4G": -105.0, "5G": -105.0}
    )
    broadband_technologies: tuple[str, ...] = ("3G", "4G", "5G")
    front_to_back_db: float = 30.0
    vertical_sidelobe_db: float = 30.0
    env_density_per_km2: dict[str, float] = field(
        default_factory=lambda: {"dense_urban": 15000.0, "urban": 4000.0, "suburban": 100.0}
    )
    diffraction: str = "knife_edge"
    sinr: bool = True
    cell_loading: float = 0.5
    noise_figure_db: float = 7.0
    reach_neighbours: int = 0
    reach_factor: float = 3.0
    reach_min_km: float = 3.0
    tile_cells: int = 512
    study_margin_m: float | None = None
    mode: dict[str, str] = field(default_factory=lambda: {"3G": "fast", "4G": "fast", "5G": "fast"})
    exact_model: str = "itm"
    exact_clutter_percent: float | None = None


@dataclass(frozen=True)
class WlanConfig:
    threshold_dbm: float = -75.0
    path_loss_exponent: float = 3.0
    rx_height_m: float = 1.5
    max_range_m: float = 500.0


@dataclass(frozen=True)
class FibreConfig:
    rule: str = "drop_distance"
    drop_distance_m: float = 300.0
    capacity_node_kinds: tuple[str, ...] = ("cabinet", "splitter")


@dataclass(frozen=True)
class HouseholdConfig:
    persons_per_household: float = 2.38


@dataclass(frozen=True)
class AccountingConfig:
    """How people are counted: zonal rule, census rescaling, cell-edge probability and the
    variants of the uncertainty band."""

    zonal_rule: str = "fraction"
    rescale_to_census: bool = False
    cell_edge_probability: float = 0.5
    shadow_sigma_db: dict[str, float] = field(
        default_factory=lambda: {"dense_urban": 6.0, "urban": 6.0, "suburban": 8.0, "open": 8.0})
    uncertainty: bool = True
    uncertainty_resolution: tuple[str, ...] = ("coarser", "finer")
    alternative_model: str = "tr38901"


@dataclass(frozen=True)
class ReportConfig:
    """How the map and report are rendered: language and basemap."""

    lang: str = "en"
    basemap: str = "none"


@dataclass(frozen=True)
class VerificationConfig:
    """Verification of operators' claims: challenge preset, rule, validity date, calibration."""

    preset: str = "fcc-2022"
    rule: str = "table"
    as_of: str = ""
    calibrate: bool = True
    timezone: str = "Asia/Shanghai"
    max_accuracy_m: float = 50.0


@dataclass(frozen=True)
class BroadcastConfig:
    """``[broadcast]``: how the broadcast step evaluates the trunking and DTV presets of
    ``[services]`` from ``[inputs.broadcast]``: on its own grid of ``cell_m``, with the
    preset's model (``"preset"``, P.1812 when the preset names none) or the one named,
    each transmitter out to ``reach_km[service]``, and the location variability
    ``location_sigma_db`` of the cell-edge margin (5.5 dB: ITU-R P.1546/P.1812 at UHF)."""

    cell_m: float = 200.0
    model: str = "preset"
    reach_km: dict[str, float] = field(default_factory=lambda: {"dtv": 60.0, "trunking": 30.0})
    location_sigma_db: float = 5.5


@dataclass(frozen=True)
class ServicesConfig:
    """``[services]``: the radio presets (service definitions) evaluated after the base run,
    loaded and validated (see :mod:`citycov.presets.radio`)."""

    presets: tuple[RadioPreset, ...] = ()
    indoor_probability: float | None = None
    """With a value, every cellular preset is also evaluated indoors: ITU-R P.2109 building
    entry loss not exceeded in that share of buildings, at the serving frequency, horizontal
    incidence (environment ``indoor_p2109``)."""
    indoor_building_class: str = "traditional"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.presets]


@dataclass(frozen=True)
class Target:
    metric: str
    threshold: float
    label: str
    scope: str = "districts"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.  ``source`` is the scenario file; every path is absolute."""

    name: str
    source: Path
    inputs: dict[str, InputSpec]
    grid: GridConfig
    radio: RadioConfig
    wlan: WlanConfig
    fibre: FibreConfig
    targets: tuple[Target, ...]
    description: str = ""
    households: HouseholdConfig = field(default_factory=HouseholdConfig)
    accounting: AccountingConfig = field(default_factory=AccountingConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    verification: VerificationConfig | None = None
    services: ServicesConfig = field(default_factory=ServicesConfig)
    broadcast: BroadcastConfig = field(default_factory=BroadcastConfig)


DEFAULT_TARGETS = (
    Target("wireless_population", 0.80, "Wireless broadband population coverage ≥ 80%"),
    Target("ftth_households", 0.50, "FTTH household coverage ≥ 50%"),
)


def default_scenario_path() -> Path:
    """The embedded Guangzhou scenario (``data/guangzhou.toml`` of the source tree)."""
    here = Path(__file__).resolve().parent.parent / "data" / "guangzhou.toml"
    if here.is_file():
        return here
    packaged = resources.files("citycov") / "data" / "guangzhou.toml"
    return Path(str(packaged))


class _Reader:
    """Collects problems while pulling typed values out of a TOML table."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def table(self, doc: dict, key: str) -> dict:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            self.problems.append(f"[{key}] must be a table, got {type(value).__name__}")
            return {}
        return value

    def unknown(self, table: dict, allowed: set[str], where: str) -> None:
        extra = sorted(set(table) - allowed)
        if extra:
            self.problems.append(f"{where}: unknown keys {extra}; allowed: {sorted(allowed)}")

    def number(self, table: dict, key: str, default: float, where: str, *, lo: float | None = None,
               hi: float | None = None, strict_lo: bool = True) -> float:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.problems.append(f"{where}.{key} must be a number, got {value!r}")
            return default
        if lo is not None and (value <= lo if strict_lo else value < lo):
            self.problems.append(f"{where}.{key} must be {'>' if strict_lo else '>='} {lo}, got {value}")
        if hi is not None and value > hi:
            self.problems.append(f"{where}.{key} must be <= {hi}, got {value}")
        return float(value)

    def integer(self, table: dict, key: str, default: int, where: str, *, lo: int, hi: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.problems.append(f"{where}.{key} must be a whole number in [{lo}, {hi}], got {value!r}")
            return default
        return value

    def class_table(self, table: dict, key: str, defaults: dict[str, float], where: str, *, lo: float,
                    hi: float | None = None, strict_lo: bool = False, item: str = "class") -> dict[str, float]:
        """A TOML table of class name -> number (e.g. ``{"4G" = -105}``), defaults for missing
        classes; unknown classes and bad numbers become problems naming the key path."""
        out = dict(defaults)
        raw = table.get(key, {})
        if not isinstance(raw, dict):
            self.problems.append(f"{where}.{key} must be a table of class = number, got {raw!r}")
            return out
        for name in raw:
            if name not in out:
                self.problems.append(f"{where}.{key}: unknown {item} {name!r}; expected {sorted(out)}")
            else:
                out[name] = self.number(raw, name, out[name], f"{where}.{key}", lo=lo, hi=hi, strict_lo=strict_lo)
        return out

    def string(self, table: dict, key: str, default: str, where: str,
               choices: tuple[str, ...] | None = None) -> str:
        value = table.get(key, default)
        if not isinstance(value, str):
            self.problems.append(f"{where}.{key} must be a string, got {value!r}")
            return default
        if choices is not None and value not in choices:
            self.problems.append(f"{where}.{key} must be one of {list(choices)}, got {value!r}")
        return value


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario TOML file (``None``: the embedded Guangzhou default).

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    ScenarioError
        Listing every invalid key and value, with its key path.

    Examples
    --------
    >>> sc = load_scenario()          # the embedded Guangzhou default
    >>> sc.grid.crs
    'auto'
    """
    scenario_path = Path(path) if path is not None else default_scenario_path()
    if not scenario_path.is_file():
        raise InputFileError(f"{scenario_path}: scenario file not found")
    try:
        doc = tomllib.loads(scenario_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{scenario_path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{scenario_path}: cannot read: {exc}") from exc
    return _parse(doc, scenario_path.resolve())


def _parse(doc: dict, source: Path) -> Scenario:
    r = _Reader(str(source))
    r.unknown(doc, {"name", "description", "inputs", "grid", "radio", "wlan", "fibre", "households", "accounting",
                    "targets", "report", "verification", "services", "broadcast"}, "top level")
    name = r.string(doc, "name", source.stem, "top level")
    description = r.string(doc, "description", "", "top level")

    inputs = _parse_inputs(r, r.table(doc, "inputs"), source.parent)

    g = r.table(doc, "grid")
    r.unknown(g, {"crs", "cell_m"}, "[grid]")
    grid_crs = g.get("crs", "auto")
    if grid_crs != "auto":
        try:
            crs = parse_crs(grid_crs, where=f"{source}: [grid].crs")
            if crs == GCJ02:
                r.problems.append("[grid].crs cannot be gcj02: the analysis grid needs a projected CRS")
        except CitycovError as exc:
            r.problems.append(str(exc).split(": ", 1)[-1] + " ([grid].crs)")
    grid = GridConfig(crs=str(grid_crs), cell_m=r.number(g, "cell_m", 100.0, "[grid]", lo=0.0, hi=10_000.0))

    radio = _parse_radio(r, r.table(doc, "radio"))

    w = r.table(doc, "wlan")
    r.unknown(w, {"threshold_dbm", "path_loss_exponent", "rx_height_m", "max_range_m"}, "[wlan]")
    wlan = WlanConfig(
        threshold_dbm=r.number(w, "threshold_dbm", -75.0, "[wlan]", lo=-150.0, hi=0.0),
        path_loss_exponent=r.number(w, "path_loss_exponent", 3.0, "[wlan]", lo=1.5, hi=6.0, strict_lo=False),
        rx_height_m=r.number(w, "rx_height_m", 1.5, "[wlan]", lo=0.0, hi=100.0),
        max_range_m=r.number(w, "max_range_m", 500.0, "[wlan]", lo=0.0, hi=5000.0),
    )

    f = r.table(doc, "fibre")
    r.unknown(f, {"rule", "drop_distance_m", "capacity_node_kinds"}, "[fibre]")
    kinds = f.get("capacity_node_kinds", ["cabinet", "splitter"])
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        r.problems.append(f"[fibre].capacity_node_kinds must be a non-empty list of node kinds, got {kinds!r}")
        kinds = ["cabinet", "splitter"]
    fibre = FibreConfig(
        rule=r.string(f, "rule", "drop_distance", "[fibre]", FIBRE_RULES),
        drop_distance_m=r.number(f, "drop_distance_m", 300.0, "[fibre]", lo=0.0, hi=5000.0),
        capacity_node_kinds=tuple(kinds),
    )
    hh = r.table(doc, "households")
    r.unknown(hh, {"persons_per_household"}, "[households]")
    households = HouseholdConfig(
        persons_per_household=r.number(hh, "persons_per_household", 2.38, "[households]", lo=0.5, hi=20.0,
                                       strict_lo=False))
    accounting = _parse_accounting(r, r.table(doc, "accounting"))
    rep = r.table(doc, "report")
    r.unknown(rep, {"lang", "basemap"}, "[report]")
    report = ReportConfig(lang=r.string(rep, "lang", "en", "[report]", REPORT_LANGS),
                          basemap=r.string(rep, "basemap", "none", "[report]", BASEMAPS))

    verification = _parse_verification(r, doc, inputs)
    services = _parse_services(r, r.table(doc, "services"), source.parent, radio)
    broadcast = _parse_broadcast(r, r.table(doc, "broadcast"))
    wanted = sorted({p.technology for p in services.presets if p.technology in ("dtv", "trunking")})
    if wanted and "broadcast" not in inputs:
        r.problems.append(f"[services].presets include {wanted} services, which need [inputs.broadcast] "
                          "(the transmitters)")

    targets = _parse_targets(r, doc.get("targets"))
    uses_ftth = any(t.metric in ("ftth_households", "village_broadband") for t in targets)
    if fibre.rule == "premises":
        if "premises" not in inputs:
            r.problems.append("[fibre].rule = \"premises\" needs [inputs.premises]")
    elif fibre.rule == "capacity":
        if "fibre_nodes" not in inputs:
            r.problems.append("[fibre].rule = \"capacity\" needs [inputs.fibre_nodes] (with ports)")
    elif uses_ftth and not ("fibre_nodes" in inputs or "fibre_routes" in inputs):
        r.problems.append("a ftth_households target needs [inputs.fibre_nodes] or [inputs.fibre_routes]")
    if any(t.metric == "village_broadband" for t in targets) and "villages" not in inputs:
        r.problems.append("a village_broadband target needs [inputs.villages]")
    if accounting.rescale_to_census and "census" not in inputs:
        r.problems.append("[accounting].rescale_to_census = true needs [inputs.census]")

    if r.problems:
        raise ScenarioError(f"{source}: " + "; ".join(r.problems))
    return Scenario(name=name, source=source, inputs=inputs, grid=grid, radio=radio, wlan=wlan,
                    fibre=fibre, targets=targets, description=description, households=households,
                    accounting=accounting, report=report, verification=verification, services=services,
                    broadcast=broadcast)


def _parse_accounting(r: _Reader, t: dict) -> AccountingConfig:
    where = "[accounting]"
    d = AccountingConfig()
    r.unknown(t, {"zonal_rule", "rescale_to_census", "cell_edge_probability", "shadow_sigma_db", "uncertainty",
                  "uncertainty_resolution", "alternative_model"}, where)
    flags = {}
    for key in ("rescale_to_census", "uncertainty"):
        value = t.get(key, getattr(d, key))
        if not isinstance(value, bool):
            r.problems.append(f"{where}.{key} must be true or false, got {value!r}")
            value = getattr(d, key)
        flags[key] = value
    sigma = r.class_table(t, "shadow_sigma_db", d.shadow_sigma_db, where, lo=0.0, hi=20.0)
    steps = t.get("uncertainty_resolution", list(d.uncertainty_resolution))
    if not isinstance(steps, list) or any(s not in ("coarser", "finer") for s in steps):
        r.problems.append(f"{where}.uncertainty_resolution must be a list from ['coarser', 'finer'], got {steps!r}")
        steps = list(d.uncertainty_resolution)
    return AccountingConfig(
        zonal_rule=r.string(t, "zonal_rule", d.zonal_rule, where, ZONAL_RULE_NAMES),
        rescale_to_census=flags["rescale_to_census"],
        cell_edge_probability=r.number(t, "cell_edge_probability", d.cell_edge_probability, where, lo=0.01,
                                       hi=0.999, strict_lo=False),
        shadow_sigma_db=sigma,
        uncertainty=flags["uncertainty"],
        uncertainty_resolution=tuple(steps),
        alternative_model=r.string(t, "alternative_model", d.alternative_model, where, RADIO_MODELS),
    )


_INPUT_OPTIONS = {
    "census": {"id_column", "population_column"},
    "household_sizes": {"id_column", "size_column"},
    "premises": {"lon_column", "lat_column"},
    "villages": {"lon_column", "lat_column"},
    "districts": {"id_column", "name_column", "name_zh_column"},
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


def _parse_inputs(r: _Reader, table: dict, base: Path) -> dict[str, InputSpec]:
    r.unknown(table, set(VECTOR_INPUTS + RASTER_INPUTS + TABLE_INPUTS + FOLDER_INPUTS), "[inputs]")
    for key in REQUIRED_INPUTS:
        if key not in table:
            r.problems.append(f"[inputs.{key}] is required")
    if "sectors" not in table and "opencellid" not in table:
        r.problems.append("[inputs.sectors] or [inputs.opencellid] is required (the cellular network)")
    specs: dict[str, InputSpec] = {}
    for key, entry in table.items():
        where = f"[inputs.{key}]"
        if key not in _INPUT_OPTIONS:
            continue
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict):
            r.problems.append(f"{where} must be a table or a path string, got {entry!r}")
            continue
        allowed = {"path", "synthetic", "vintage", "note"} | _INPUT_OPTIONS[key]
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
        path = (base / raw_path).resolve() if not Path(raw_path).is_absolute() else Path(raw_path)
        if key in FOLDER_INPUTS:
            if not path.is_dir():
                r.problems.append(f"{where}.path: folder not found: {path}")
        elif not path.exists():
            r.problems.append(f"{where}.path: file not found: {path}")
        crs = None
        if "crs" in entry:
            try:
                crs = parse_crs(entry["crs"], where=f"{where}.crs")
                if key == "clutter" and crs == GCJ02:
                    r.problems.append(f"{where}.crs cannot be gcj02: give the raster's EPSG code")
            except CitycovError as exc:
                r.problems.append(str(exc))
        synthetic = entry.get("synthetic", False)
        if not isinstance(synthetic, bool):
            r.problems.append(f"{where}.synthetic must be true or false, got {synthetic!r}")
            synthetic = False
        options = {k: v for k, v in entry.items() if k in _INPUT_OPTIONS[key]}
        for k, v in options.items():
            if not isinstance(v, str):
                r.problems.append(f"{where}.{k} must be a column name (string), got {v!r}")
        vintage = r.string(entry, "vintage", "", where)
        note = r.string(entry, "note", "", where)
        if key == "clutter":
            specs[key] = ClutterInput(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                      vintage=vintage, note=note, loss_db=loss_db)
        else:
            specs[key] = InputSpec(name=key, path=path, crs=crs, synthetic=synthetic, options=options,
                                   vintage=vintage, note=note)
    return specs


def _parse_clutter_losses(r: _Reader, raw: Any, where: str) -> dict[int, float]:
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


def _parse_broadcast(r: _Reader, t: dict) -> BroadcastConfig:
    where = "[broadcast]"
    d = BroadcastConfig()
    r.unknown(t, {"cell_m", "model", "reach_km", "location_sigma_db"}, where)
    reach = dict(d.reach_km)
    raw = t.get("reach_km", {})
    if not isinstance(raw, dict):
        r.problems.append(f"{where}.reach_km must be a table {{ dtv = km, trunking = km }}, got {raw!r}")
        raw = {}
    for key, value in raw.items():
        if key not in reach:
            r.problems.append(f"{where}.reach_km: unknown service {key!r}; expected {sorted(reach)}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 < value <= 300.0:
            r.problems.append(f"{where}.reach_km.{key} must be a number in (0, 300] km, got {value!r}")
        else:
            reach[key] = float(value)
    return BroadcastConfig(
        cell_m=r.number(t, "cell_m", d.cell_m, where, lo=0.0, hi=5000.0),
        model=r.string(t, "model", d.model, where, BROADCAST_MODELS),
        reach_km=reach,
        location_sigma_db=r.number(t, "location_sigma_db", d.location_sigma_db, where, lo=0.0, hi=20.0,
                                   strict_lo=False),
    )


def _parse_services(r: _Reader, t: dict, base: Path, radio: RadioConfig) -> ServicesConfig:
    """``[services].presets``: shipped preset names or preset files (relative to the scenario),
    each loaded and checked against what the services step can evaluate."""
    where = "[services]"
    r.unknown(t, {"presets", "indoor_probability", "indoor_building_class"}, where)
    indoor_p = (r.number(t, "indoor_probability", 0.5, where, lo=0.0, hi=1.0) if "indoor_probability" in t
                else None)
    if indoor_p is not None and indoor_p >= 1.0:
        r.problems.append(f"{where}.indoor_probability must be < 1, got {indoor_p}")
    indoor_class = r.string(t, "indoor_building_class", "traditional", where, ("traditional", "thermally_efficient"))
    raw = t.get("presets", [])
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        r.problems.append(f"{where}.presets must be a list of preset names or .toml paths, got {raw!r}")
        return ServicesConfig()
    presets: list[RadioPreset] = []
    for entry in raw:
        text = entry.strip()
        is_path = text.endswith(".toml") or "/" in text or "\\" in text
        target: str | Path = ((base / text).resolve() if not Path(text).is_absolute() else Path(text)) if is_path \
            else text
        try:
            preset = load_preset(target)
        except CitycovError as exc:
            r.problems.append(f"{where}.presets: {exc}")
            continue
        presets.append(preset)
    seen: set[str] = set()
    for preset in presets:
        at = f"{where}.presets: {preset.name!r}"
        if preset.name in seen:
            r.problems.append(f"{at} is listed twice")
        seen.add(preset.name)
        if preset.technology not in SERVICE_METRICS:
            continue  # trunking / dtv: field-strength services, evaluated by the broadcast step
        allowed = SERVICE_METRICS[preset.technology]
        if preset.metric not in allowed:
            r.problems.append(f"{at} ({preset.technology}) has metric {preset.metric!r}; the engine's "
                              f"{preset.technology} rasters support {list(allowed)}")
        if preset.metric == "speed" and not radio.sinr:
            r.problems.append(f"{at} (metric 'speed') needs [radio].sinr = true (SINR and serving rasters)")
        if preset.freq_mhz is not None:
            r.problems.append(f"{at} restricts freq_mhz to {list(preset.freq_mhz)}; the services step evaluates "
                              "every carrier of the technology and cannot apply a band restriction")
    return ServicesConfig(presets=tuple(presets), indoor_probability=indoor_p, indoor_building_class=indoor_class)


def _parse_verification(r: _Reader, doc: dict, inputs: dict[str, InputSpec]) -> VerificationConfig | None:
    """``[verification]``: needs ``[inputs.claims]`` and ``[inputs.measurements]`` (and vice versa)."""
    where = "[verification]"
    has_inputs = [k for k in ("claims", "measurements") if k in inputs]
    if "verification" not in doc:
        if has_inputs:
            r.problems.append(f"[inputs.{has_inputs[0]}] needs a [verification] section (preset, as_of)")
        return None
    t = r.table(doc, "verification")
    r.unknown(t, {"preset", "rule", "as_of", "calibrate", "timezone", "max_accuracy_m"}, where)
    for k in ("claims", "measurements"):
        if k not in inputs:
            r.problems.append(f"{where} needs [inputs.{k}]")
    as_of = r.string(t, "as_of", "", where)
    if not as_of:
        r.problems.append(f"{where}.as_of is required: the date tests are judged on (ISO 8601, e.g. \"2024-06-30\")")
    else:
        try:
            date.fromisoformat(as_of[:10])
        except ValueError:
            r.problems.append(f"{where}.as_of must be an ISO 8601 date like \"2024-06-30\", got {as_of!r}")
    calibrate = t.get("calibrate", True)
    if not isinstance(calibrate, bool):
        r.problems.append(f"{where}.calibrate must be true or false, got {calibrate!r}")
        calibrate = True
    return VerificationConfig(
        preset=r.string(t, "preset", "fcc-2022", where), rule=r.string(t, "rule", "table", where,
                                                                       ("table", "binomial")),
        as_of=as_of, calibrate=calibrate, timezone=r.string(t, "timezone", "Asia/Shanghai", where),
        max_accuracy_m=r.number(t, "max_accuracy_m", 50.0, where, lo=0.0, hi=10_000.0))


def _parse_radio(r: _Reader, t: dict) -> RadioConfig:
    where = "[radio]"
    r.unknown(t, {"model", "rx_height_m", "k_factor", "floor_dbm", "max_range_km", "threshold_dbm",
                  "broadband_technologies", "front_to_back_db", "vertical_sidelobe_db",
                  "env_density_per_km2", "diffraction", "sinr", "cell_loading", "noise_figure_db",
                  "reach_neighbours", "reach_factor", "reach_min_km", "tile_cells", "study_margin_m", "mode",
                  "exact_model", "exact_clutter_percent"}, where)
    sinr = t.get("sinr", True)
    if not isinstance(sinr, bool):
        r.problems.append(f"{where}.sinr must be true or false, got {sinr!r}")
        sinr = True
    d = RadioConfig()
    thresholds = r.class_table(t, "threshold_dbm", d.threshold_dbm, where, lo=-160.0, hi=0.0, item="technology")
    techs = t.get("broadband_technologies", list(d.broadband_technologies))
    if not isinstance(techs, list) or not techs or any(x not in TECHNOLOGIES for x in techs):
        r.problems.append(f"{where}.broadband_technologies must be a non-empty list from {list(TECHNOLOGIES)}, "
                          f"got {techs!r}")
        techs = list(d.broadband_technologies)
    env = r.class_table(t, "env_density_per_km2", d.env_density_per_km2, where, lo=0.0)
    if not env["dense_urban"] >= env["urban"] >= env["suburban"]:
        r.problems.append(f"{where}.env_density_per_km2 must satisfy dense_urban >= urban >= suburban, got {env}")
    floor = r.number(t, "floor_dbm", d.floor_dbm, where, lo=-200.0, hi=0.0)
    if any(floor > v for v in thresholds.values()):
        r.problems.append(f"{where}.floor_dbm ({floor}) must be at or below every threshold_dbm {thresholds}")
    return RadioConfig(
        model=r.string(t, "model", d.model, where, RADIO_MODELS),
        rx_height_m=r.number(t, "rx_height_m", d.rx_height_m, where, lo=0.0, hi=10.0),
        k_factor=r.number(t, "k_factor", d.k_factor, where, lo=0.0, hi=100.0),
        floor_dbm=floor,
        max_range_km=r.number(t, "max_range_km", d.max_range_km, where, lo=0.0, hi=100.0),
        threshold_dbm=thresholds,
        broadband_technologies=tuple(techs),
        front_to_back_db=r.number(t, "front_to_back_db", d.front_to_back_db, where, lo=0.0, hi=80.0,
                                  strict_lo=False),
        vertical_sidelobe_db=r.number(t, "vertical_sidelobe_db", d.vertical_sidelobe_db, where, lo=0.0,
                                      hi=80.0, strict_lo=False),
        env_density_per_km2=env,
        diffraction=r.string(t, "diffraction", d.diffraction, where, DIFFRACTION_METHODS),
        sinr=sinr,
        cell_loading=r.number(t, "cell_loading", d.cell_loading, where, lo=0.0, hi=1.0),
        noise_figure_db=r.number(t, "noise_figure_db", d.noise_figure_db, where, lo=0.0, hi=30.0,
                                 strict_lo=False),
        reach_neighbours=r.integer(t, "reach_neighbours", d.reach_neighbours, where, lo=0, hi=100),
        reach_factor=r.number(t, "reach_factor", d.reach_factor, where, lo=1.0, hi=100.0, strict_lo=False),
        reach_min_km=r.number(t, "reach_min_km", d.reach_min_km, where, lo=0.0, hi=100.0),
        tile_cells=r.integer(t, "tile_cells", d.tile_cells, where, lo=16, hi=65536),
        study_margin_m=(r.number(t, "study_margin_m", 0.0, where, lo=0.0, hi=1e6, strict_lo=False)
                        if "study_margin_m" in t else None),
        mode=_parse_modes(r, t.get("mode", "fast"), where),
        exact_model=r.string(t, "exact_model", d.exact_model, where, EXACT_MODELS),
        exact_clutter_percent=(r.number(t, "exact_clutter_percent", 50.0, where, lo=0.0, hi=100.0)
                               if "exact_clutter_percent" in t else None),
    )


def _parse_modes(r: _Reader, raw: Any, where: str) -> dict[str, str]:
    """``mode``: "fast" / "exact" for every technology, or a table per technology (others fast)."""
    modes = {t: "fast" for t in TECHNOLOGIES}
    if isinstance(raw, str):
        raw = {t: raw for t in TECHNOLOGIES}
    if not isinstance(raw, dict):
        r.problems.append(f"{where}.mode must be \"fast\", \"exact\" or a table per technology, got {raw!r}")
        return modes
    for tech, value in raw.items():
        if tech not in TECHNOLOGIES or value not in ENGINE_MODES:
            r.problems.append(f"{where}.mode: expected technology in {list(TECHNOLOGIES)} -> one of "
                              f"{list(ENGINE_MODES)}, got {tech!r} = {value!r}")
            continue
        modes[tech] = value
    return modes


def _parse_targets(r: _Reader, raw: Any) -> tuple[Target, ...]:
    if raw is None:
        return DEFAULT_TARGETS
    if not isinstance(raw, list) or not raw:
        r.problems.append("[[targets]] must be a non-empty array of tables")
        return DEFAULT_TARGETS
    out = []
    for i, t in enumerate(raw):
        where = f"[[targets]][{i}]"
        if not isinstance(t, dict):
            r.problems.append(f"{where} must be a table")
            continue
        r.unknown(t, {"metric", "threshold", "label", "scope"}, where)
        metric = r.string(t, "metric", "", where, tuple(METRICS))
        threshold = r.number(t, "threshold", 0.0, where, lo=0.0, hi=1.0)
        label = r.string(t, "label", f"{metric} ≥ {threshold:.0%}", where)
        scope = r.string(t, "scope", "districts", where, TARGET_SCOPES)
        out.append(Target(metric=metric, threshold=threshold, label=label, scope=scope))
    return tuple(out)
