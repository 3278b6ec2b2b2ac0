"""Scenario files: TOML turned into frozen dataclasses, every problem reported at once.

This module holds the choice sets (one tuple per concept, imported wherever the choice is
checked), the section dataclasses and :func:`load_scenario`; :mod:`citycov.config.inputs` the
``[inputs]`` table.  Typed values come out of the TOML through the one key reader,
:class:`citycov.presets.files.KeyReader`.

A scenario names the inputs, the analysis grid, the radio parameters, the fibre rule, the
radio service presets, the claim verification and the targets.  Relative paths are relative to the
scenario file.  Unknown keys are errors (a typo must not silently fall back to a default).
Errors name the key path, e.g. ``gz.toml: [radio].rx_height_m must be > 0, got -5``.  Everything is
checked here, before any work: the radio service presets of ``[services]`` and the challenge
preset of ``[verification]`` are loaded and validated.  (What input files hold, such as the
antenna pattern names of the sector table, is checked by their readers.)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from citycov.choices import (
    BASEMAPS,
    BROADCAST_MODELS,
    DIFFRACTION_METHODS,
    ENGINE_MODES,
    EXACT_GEOMETRIES,
    EXACT_MODELS,
    FIBRE_RULES,
    INDOOR_BUILDING_CLASSES,
    RADIO_MODELS,
    REPORT_LANGS,
    TARGET_SCOPES,
    TECHNOLOGIES,
    UNCERTAINTY_STEPS,
    ZONAL_RULE_NAMES,
)
from citycov.config.compute import ComputeConfig, parse_compute
from citycov.config.inputs import InputSpec, parse_inputs
from citycov.config.plan import PlanConfig, parse_plan
from citycov.crs import GCJ02, parse_crs
from citycov.errors import CitycovError, InputFileError, ScenarioError
from citycov.filekind import MISSING, path_problem
from citycov.io._validate import decode_text
from citycov.presets.challenge import RULES, ChallengePreset, load_challenge_preset
from citycov.presets.files import KeyReader
from citycov.presets.radio import RadioPreset, load_preset

METRICS = {
    "wireless_population": "share of residents in cells with wireless broadband coverage",
    "ftth_households": "share of households passed by fibre (FTTH rule of [fibre])",
    "urban_area_3g": "share of the urban area (cells of at least [radio].env_density_per_km2.urban residents/km²) "
                     "covered by 3G or better",
    "village_broadband": "share of village and town points whose cell has wireless broadband or is passed by fibre",
}
METRIC_UNITS = {"wireless_population": "persons", "ftth_households": "households", "urban_area_3g": "km²",
                "village_broadband": "villages"}
SERVICE_METRICS = {"3G": ("rscp_dbm", "speed"), "4G": ("rsrp_dbm", "speed"), "5G": ("rsrp_dbm", "speed")}
"""Metrics the services step evaluates per cellular technology: the engine's levels are
reference-signal levels (3G CPICH RSCP, 4G RSRP, 5G SS-RSRP), and speeds come from its SINR."""


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
    exact_geometry: str = "radial"
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
    """``[households]``: one household size for every district, and where it comes from.

    No default: a scenario gives ``persons_per_household`` (with ``source``) or a per-district
    table, ``[inputs.household_sizes]`` (then ``persons_per_household`` is None)."""

    persons_per_household: float | None = None
    source: str = ""


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
    uncertainty_resolution: tuple[str, ...] = UNCERTAINTY_STEPS
    alternative_model: str = "tr38901"


@dataclass(frozen=True)
class ReportConfig:
    """How the map and report are rendered: language and basemap."""

    lang: str = "en"
    basemap: str = "none"


@dataclass(frozen=True)
class VerificationConfig:
    """Verification of operators' claims: the challenge preset (loaded and validated), the testing
    rule (one of :data:`citycov.presets.challenge.RULES`), validity date and calibration."""

    preset: ChallengePreset
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
    """``[services]``: the radio service presets evaluated after the base run,
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
    plan: PlanConfig = field(default_factory=PlanConfig)
    """``[plan]`` (read by ``citycov plan`` only; every key has a default)."""
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    """``[compute]``: where the tile tasks run (default: in this process; see
    :mod:`citycov.config.compute`)."""


def scenario_files(sc: Scenario) -> tuple[Path, ...]:
    """Every file and folder a run of ``sc`` reads: the scenario, its inputs (the antenna
    pattern folder included, every tile of a tiled raster) and the preset files of ``[services]``
    and ``[verification]``."""
    paths = [sc.source, *(f for spec in sc.inputs.values() for f in spec.files)]
    paths += [Path(p.origin) for p in sc.services.presets if p.origin]
    if sc.verification is not None and sc.verification.preset.origin:
        paths.append(Path(sc.verification.preset.origin))
    return tuple(dict.fromkeys(paths))


DEFAULT_CHALLENGE_PRESET = "fcc-2022"
DEFAULT_TARGETS = (
    Target("wireless_population", 0.80, "Wireless broadband population coverage ≥ 80%"),
    Target("ftth_households", 0.50, "FTTH household coverage ≥ 50%"),
)


def default_scenario_path() -> Path:
    """The embedded Guangzhou scenario (``data/guangzhou.toml`` of the source tree)."""
    here = Path(__file__).resolve().parents[2] / "data" / "guangzhou.toml"
    if here.is_file():
        return here
    packaged = resources.files("citycov") / "data" / "guangzhou.toml"
    return Path(str(packaged))


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read and validate a scenario TOML file (``None``: the embedded Guangzhou default).

    Raises
    ------
    InputFileError
        The file does not exist, cannot be read, or is not a regular file (a FIFO, a device,
        a folder); likewise an input path or a preset file path it names.
    ScenarioError
        Listing every invalid key and value, with its key path.

    Examples
    --------
    >>> sc = load_scenario()          # the embedded Guangzhou default
    >>> sc.grid.crs
    'auto'
    """
    scenario_path = Path(path) if path is not None else default_scenario_path()
    problem = path_problem(scenario_path)  # never open a FIFO or a device: the read would hang
    if problem == MISSING:
        raise InputFileError(f"{scenario_path}: scenario file not found")
    if problem is not None:
        raise InputFileError(f"scenario {scenario_path} {problem}")
    try:
        raw = scenario_path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{scenario_path}: cannot read: {exc}") from exc
    if not raw.strip():
        raise ScenarioError(f"{scenario_path}: is empty; expected a scenario TOML file (at least [inputs])")
    text = decode_text(raw, scenario_path, ScenarioError, what="a scenario TOML file")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{scenario_path}: not valid TOML: {' '.join(str(exc).split())}") from exc
    return _parse(doc, scenario_path.resolve())


def _parse(doc: dict, source: Path) -> Scenario:
    r = KeyReader()
    r.unknown(doc, {"name", "description", "setup", "inputs", "grid", "radio", "wlan", "fibre", "households",
                    "accounting", "targets", "report", "verification", "services", "broadcast", "plan", "compute"},
              "top level")
    name = r.string(doc, "name", "top level", source.stem)
    description = r.string(doc, "description", "top level", "")
    setup = r.string(doc, "setup", "top level", "").strip()

    inputs = parse_inputs(r, r.table(doc, "inputs"), source.parent)

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
    grid = GridConfig(crs=str(grid_crs),
                      cell_m=r.number(g, "cell_m", "[grid]", 100.0, lo=0.0, hi=10_000.0, lo_open=True))

    radio = _parse_radio(r, r.table(doc, "radio"))

    w = r.table(doc, "wlan")
    r.unknown(w, {"threshold_dbm", "path_loss_exponent", "rx_height_m", "max_range_m"}, "[wlan]")
    wlan = WlanConfig(
        threshold_dbm=r.number(w, "threshold_dbm", "[wlan]", -75.0, lo=-150.0, hi=0.0, lo_open=True),
        path_loss_exponent=r.number(w, "path_loss_exponent", "[wlan]", 3.0, lo=1.5, hi=6.0),
        rx_height_m=r.number(w, "rx_height_m", "[wlan]", 1.5, lo=0.0, hi=100.0, lo_open=True),
        max_range_m=r.number(w, "max_range_m", "[wlan]", 500.0, lo=0.0, hi=5000.0, lo_open=True),
    )

    f = r.table(doc, "fibre")
    r.unknown(f, {"rule", "drop_distance_m", "capacity_node_kinds"}, "[fibre]")
    kinds = f.get("capacity_node_kinds", ["cabinet", "splitter"])
    if not isinstance(kinds, list) or not kinds or not all(isinstance(k, str) for k in kinds):
        r.problems.append(f"[fibre].capacity_node_kinds must be a non-empty list of node kinds, got {kinds!r}")
        kinds = ["cabinet", "splitter"]
    fibre = FibreConfig(
        rule=r.string(f, "rule", "[fibre]", "drop_distance", choices=FIBRE_RULES),
        drop_distance_m=r.number(f, "drop_distance_m", "[fibre]", 300.0, lo=0.0, hi=5000.0, lo_open=True),
        capacity_node_kinds=tuple(kinds),
    )
    households = _parse_households(r, r.table(doc, "households"), inputs)
    accounting = _parse_accounting(r, r.table(doc, "accounting"))
    rep = r.table(doc, "report")
    r.unknown(rep, {"lang", "basemap"}, "[report]")
    report = ReportConfig(lang=r.string(rep, "lang", "[report]", "en", choices=REPORT_LANGS),
                          basemap=r.string(rep, "basemap", "[report]", "none", choices=BASEMAPS))

    verification = _parse_verification(r, doc, inputs, source.parent)
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

    plan = parse_plan(r, doc.get("plan", {}), source.parent)
    if not (isinstance(doc.get("plan"), dict) and "metrics" in doc["plan"]):  # default: the plannable targets
        named = {t.metric for t in targets}
        plan = replace(plan, metrics=tuple(m for m in plan.metrics if m in named))
    if "plan" in doc:
        _check_plan(r, plan, targets, inputs, fibre)

    compute = parse_compute(r, r.table(doc, "compute"))

    if setup and any(" not found: " in p for p in r.problems):  # inputs the scenario generates at first use
        r.problems.append(f"inputs are missing: make them once with `{setup}` (the scenario's setup command)")
    r.raise_problems(str(source))
    return Scenario(name=name, source=source, inputs=inputs, grid=grid, radio=radio, wlan=wlan,
                    fibre=fibre, targets=targets, description=description, households=households,
                    accounting=accounting, report=report, verification=verification, services=services,
                    broadcast=broadcast, plan=plan, compute=compute)


def _check_plan(r: KeyReader, plan: PlanConfig, targets: tuple[Target, ...], inputs: dict[str, InputSpec],
                fibre: FibreConfig) -> None:
    """``[plan].metrics`` must name targets of the scenario, with the inputs they need."""
    named = {t.metric for t in targets}
    for metric in plan.metrics:
        if metric not in named:
            r.problems.append(f"[plan].metrics: {metric!r} is not a target of this scenario ([[targets]] has "
                              f"{sorted(named)})")
    if "ftth_households" in plan.metrics and fibre.rule == "premises":
        r.problems.append("[plan].metrics: ftth_households cannot be planned under [fibre].rule = \"premises\" "
                          "(a premises table says which homes are ready; new cabinets change no row of it): "
                          "use the \"drop_distance\" or \"capacity\" rule, or drop the metric")


HOUSEHOLD_SIZE_OPTIONS = ("[households].persons_per_household (one size for every district, with "
                          "[households].source saying where it comes from)",
                          "[inputs.household_sizes] (a table of persons per household per district: "
                          "path, id_column, size_column)")


def _parse_households(r: KeyReader, t: dict, inputs: dict[str, InputSpec]) -> HouseholdConfig:
    """``[households]``: the household size is required (households are counted in every district
    table and by FTTH targets), from exactly one of :data:`HOUSEHOLD_SIZE_OPTIONS`; there is no
    default, since household sizes differ widely between countries and cities."""
    where = "[households]"
    r.unknown(t, {"persons_per_household", "source"}, where)
    size = r.number(t, "persons_per_household", where, None, lo=0.5, hi=20.0)
    source = r.string(t, "source", where, "").strip()
    table = "household_sizes" in inputs
    if "persons_per_household" in t and table:
        r.problems.append(f"household size given twice: {where}.persons_per_household and "
                          "[inputs.household_sizes]; give one")
    elif "persons_per_household" not in t and not table:
        r.problems.append("household size is required (households are counted in every district table and by "
                          "FTTH targets); give one of: " + "; or ".join(HOUSEHOLD_SIZE_OPTIONS))
    elif "persons_per_household" in t and not source:
        r.problems.append(f"{where}.source is required with persons_per_household: where the figure comes "
                          "from, e.g. \"2020 census, average household size\"")
    return HouseholdConfig(persons_per_household=size, source=source)


def _parse_accounting(r: KeyReader, t: dict) -> AccountingConfig:
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
    if not isinstance(steps, list) or any(s not in UNCERTAINTY_STEPS for s in steps):
        r.problems.append(f"{where}.uncertainty_resolution must be a list from {list(UNCERTAINTY_STEPS)}, "
                          f"got {steps!r}")
        steps = list(d.uncertainty_resolution)
    return AccountingConfig(
        zonal_rule=r.string(t, "zonal_rule", where, d.zonal_rule, choices=ZONAL_RULE_NAMES),
        rescale_to_census=flags["rescale_to_census"],
        cell_edge_probability=r.number(t, "cell_edge_probability", where, d.cell_edge_probability, lo=0.01, hi=0.999),
        shadow_sigma_db=sigma,
        uncertainty=flags["uncertainty"],
        uncertainty_resolution=tuple(steps),
        alternative_model=r.string(t, "alternative_model", where, d.alternative_model, choices=RADIO_MODELS),
    )


def _parse_broadcast(r: KeyReader, t: dict) -> BroadcastConfig:
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
        cell_m=r.number(t, "cell_m", where, d.cell_m, lo=0.0, hi=5000.0, lo_open=True),
        model=r.string(t, "model", where, d.model, choices=BROADCAST_MODELS),
        reach_km=reach,
        location_sigma_db=r.number(t, "location_sigma_db", where, d.location_sigma_db, lo=0.0, hi=20.0),
    )


def _parse_services(r: KeyReader, t: dict, base: Path, radio: RadioConfig) -> ServicesConfig:
    """``[services].presets``: shipped preset names or preset files (relative to the scenario),
    each loaded and checked against what the services step can evaluate."""
    where = "[services]"
    r.unknown(t, {"presets", "indoor_probability", "indoor_building_class"}, where)
    indoor_p = r.number(t, "indoor_probability", where, None, lo=0.0, hi=1.0, lo_open=True)
    if indoor_p is not None and indoor_p >= 1.0:
        r.problems.append(f"{where}.indoor_probability must be < 1, got {indoor_p}")
    indoor_class = r.string(t, "indoor_building_class", where, "traditional", choices=INDOOR_BUILDING_CLASSES)
    raw = t.get("presets", [])
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        r.problems.append(f"{where}.presets must be a list of preset names or .toml paths, got {raw!r}")
        return ServicesConfig()
    presets: list[RadioPreset] = []
    for entry in raw:
        try:
            preset = load_preset(_preset_target(entry, base))
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


def _parse_verification(r: KeyReader, doc: dict, inputs: dict[str, InputSpec], base: Path) -> VerificationConfig | None:
    """``[verification]``: needs ``[inputs.claims]`` and ``[inputs.measurements]`` (and vice versa);
    the challenge preset is loaded and validated here, before any work."""
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
    as_of = r.string(t, "as_of", where, "")
    if not as_of:
        r.problems.append(f"{where}.as_of is required: the date tests are judged on (ISO 8601, e.g. \"2024-06-30\")")
    else:
        try:
            date.fromisoformat(as_of[:10])
        except ValueError:
            r.problems.append(f"{where}.as_of must be an ISO 8601 date like \"2024-06-30\", got {as_of!r}")
    preset = None
    name = r.string(t, "preset", where, DEFAULT_CHALLENGE_PRESET)
    if name is not None:
        try:
            preset = load_challenge_preset(_preset_target(name, base))
        except CitycovError as exc:
            r.problems.append(f"{where}.preset: {exc}")
    return VerificationConfig(
        preset=preset, rule=r.string(t, "rule", where, "table", choices=tuple(RULES)), as_of=as_of,
        calibrate=r.flag(t, "calibrate", where, True), timezone=r.string(t, "timezone", where, "Asia/Shanghai"),
        max_accuracy_m=r.number(t, "max_accuracy_m", where, 50.0, lo=0.0, hi=10_000.0, lo_open=True))


def _preset_target(text: str, base: Path) -> str | Path:
    """A preset name as given, or a preset file's path (``.toml`` or with a slash) resolved against ``base``."""
    text = text.strip()
    if not (text.endswith(".toml") or "/" in text or "\\" in text):
        return text
    return (base / text).resolve() if not Path(text).is_absolute() else Path(text)


def _parse_radio(r: KeyReader, t: dict) -> RadioConfig:
    where = "[radio]"
    r.unknown(t, {"model", "rx_height_m", "k_factor", "floor_dbm", "max_range_km", "threshold_dbm",
                  "broadband_technologies", "front_to_back_db", "vertical_sidelobe_db",
                  "env_density_per_km2", "diffraction", "sinr", "cell_loading", "noise_figure_db",
                  "reach_neighbours", "reach_factor", "reach_min_km", "tile_cells", "study_margin_m", "mode",
                  "exact_model", "exact_geometry", "exact_clutter_percent"}, where)
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
    floor = r.number(t, "floor_dbm", where, d.floor_dbm, lo=-200.0, hi=0.0, lo_open=True)
    if any(floor > v for v in thresholds.values()):
        r.problems.append(f"{where}.floor_dbm ({floor}) must be at or below every threshold_dbm {thresholds}")
    return RadioConfig(
        model=r.string(t, "model", where, d.model, choices=RADIO_MODELS),
        rx_height_m=r.number(t, "rx_height_m", where, d.rx_height_m, lo=0.0, hi=10.0, lo_open=True),
        k_factor=r.number(t, "k_factor", where, d.k_factor, lo=0.0, hi=100.0, lo_open=True),
        floor_dbm=floor,
        max_range_km=r.number(t, "max_range_km", where, d.max_range_km, lo=0.0, hi=100.0, lo_open=True),
        threshold_dbm=thresholds,
        broadband_technologies=tuple(techs),
        front_to_back_db=r.number(t, "front_to_back_db", where, d.front_to_back_db, lo=0.0, hi=80.0),
        vertical_sidelobe_db=r.number(t, "vertical_sidelobe_db", where, d.vertical_sidelobe_db, lo=0.0, hi=80.0),
        env_density_per_km2=env,
        diffraction=r.string(t, "diffraction", where, d.diffraction, choices=DIFFRACTION_METHODS),
        sinr=sinr,
        cell_loading=r.number(t, "cell_loading", where, d.cell_loading, lo=0.0, hi=1.0, lo_open=True),
        noise_figure_db=r.number(t, "noise_figure_db", where, d.noise_figure_db, lo=0.0, hi=30.0),
        reach_neighbours=r.number(t, "reach_neighbours", where, d.reach_neighbours, lo=0, hi=100, integer=True),
        reach_factor=r.number(t, "reach_factor", where, d.reach_factor, lo=1.0, hi=100.0),
        reach_min_km=r.number(t, "reach_min_km", where, d.reach_min_km, lo=0.0, hi=100.0, lo_open=True),
        tile_cells=r.number(t, "tile_cells", where, d.tile_cells, lo=16, hi=65536, integer=True),
        study_margin_m=(r.number(t, "study_margin_m", where, 0.0, lo=0.0, hi=1e6)
                        if "study_margin_m" in t else None),
        mode=_parse_modes(r, t.get("mode", "fast"), where),
        exact_model=r.string(t, "exact_model", where, d.exact_model, choices=EXACT_MODELS),
        exact_geometry=r.string(t, "exact_geometry", where, d.exact_geometry, choices=EXACT_GEOMETRIES),
        exact_clutter_percent=(r.number(t, "exact_clutter_percent", where, 50.0, lo=0.0, hi=100.0, lo_open=True)
                               if "exact_clutter_percent" in t else None),
    )


def _parse_modes(r: KeyReader, raw: Any, where: str) -> dict[str, str]:
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


def _parse_targets(r: KeyReader, raw: Any) -> tuple[Target, ...]:
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
        metric = r.string(t, "metric", where, "", choices=tuple(METRICS))
        threshold = r.number(t, "threshold", where, 0.0, lo=0.0, hi=1.0, lo_open=True)
        label = r.string(t, "label", where, f"{metric} ≥ {threshold:.0%}")
        scope = r.string(t, "scope", where, "districts", choices=TARGET_SCOPES)
        out.append(Target(metric=metric, threshold=threshold, label=label, scope=scope))
    return tuple(out)
