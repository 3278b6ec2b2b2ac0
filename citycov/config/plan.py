"""``[plan]``: what ``citycov plan`` must bring to its targets, from which candidates, at what cost.

Example (the keys and their defaults; costs are in ``cost_unit``)::

    [plan]
    metrics = ["wireless_population", "ftth_households", "village_broadband"]  # default: those of [[targets]]
    districts = "missing"      # "missing" (the areas that miss a target), "all", or a list of district ids
    budget = "minimum"         # or a number: the most covered within this cost (max-coverage form)
    selection = "ilp"          # which selection is the plan: "ilp" (HiGHS optimum) or "greedy" (CELF)
    time_limit_s = 120         # per solver call
    cross_check = true         # solve the integer program again with OR-Tools CP-SAT and compare
    cost_unit = "million CNY"
    max_rounds = 3             # full-engine checks; a target missed there continues the greedy

    [plan.sites]
    candidates = "lattice"     # or a CSV/GeoJSON of candidate positions (path relative to the scenario)
    crs = "EPSG:4326"          # of a candidate CSV (lon/lat or x/y)
    spacing_m = 1000           # lattice: distance between neighbouring candidates (hexagonal)
    margin_m = 2000            # lattice: around the gap polygons
    max_slope_deg = 20         # lattice: no candidate on steeper terrain
    min_gap_persons = 50       # lattice: gap polygons with fewer residents get no candidates
    cost = 1.0                 # per site (a candidate file's cost column overrides it)

    [plan.sites.template]      # every candidate's sectors (a candidate file's columns override it)
    technology = "4G"
    operator = "planned"
    band = "B3"
    freq_mhz = 1842.5
    bandwidth_mhz = 20
    height_m = 30
    eirp_dbm = 61
    azimuth_deg = [0, 120, 240]
    downtilt_deg = 3
    h_beamwidth_deg = 65
    v_beamwidth_deg = 7

    [plan.cabinets]
    candidates = "lattice"     # or a CSV/GeoJSON of cabinet positions
    crs = "EPSG:4326"
    spacing_m = 300
    ports = 288                # households one cabinet can serve
    cost = 0.15                # per cabinet
    feeder_cost_per_km = 0.08  # per km of feeder to the nearest existing node or route
    route_factor = 1.4         # feeder length = straight line × this
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citycov.choices import TECHNOLOGIES
from citycov.crs import parse_crs
from citycov.errors import CitycovError
from citycov.presets.files import KeyReader

PLAN_METRICS = ("wireless_population", "ftth_households", "village_broadband")
"""Targets the planner can bring up: new sites raise wireless coverage, new cabinets FTTH, and
either raises village broadband."""
PLAN_SELECTIONS = ("ilp", "greedy")
DISTRICT_SCOPES = ("missing", "all")


@dataclass(frozen=True)
class SiteTemplate:
    """The sectors every new site gets (a candidate file's columns override them per site)."""

    technology: str = "4G"
    operator: str = "planned"
    band: str = "B3"
    freq_mhz: float = 1842.5
    bandwidth_mhz: float = 20.0
    height_m: float = 30.0
    eirp_dbm: float = 61.0
    azimuth_deg: tuple[float, ...] = (0.0, 120.0, 240.0)
    downtilt_deg: float = 3.0
    h_beamwidth_deg: float = 65.0
    v_beamwidth_deg: float = 7.0


@dataclass(frozen=True)
class SiteCandidates:
    """Where new sites may go: ``path`` (a file) or ``None`` (a hexagonal lattice)."""

    path: Path | None = None
    crs: str = "EPSG:4326"
    spacing_m: float = 1000.0
    margin_m: float = 2000.0
    max_slope_deg: float = 20.0
    min_gap_persons: float = 50.0
    cost: float = 1.0
    template: SiteTemplate = field(default_factory=SiteTemplate)


@dataclass(frozen=True)
class CabinetCandidates:
    """Where new fibre cabinets may go: ``path`` (a file) or ``None`` (a lattice over the
    households not passed)."""

    path: Path | None = None
    crs: str = "EPSG:4326"
    spacing_m: float = 300.0
    ports: int = 288
    cost: float = 0.15
    feeder_cost_per_km: float = 0.08
    route_factor: float = 1.4


@dataclass(frozen=True)
class PlanConfig:
    metrics: tuple[str, ...] = PLAN_METRICS
    districts: str | tuple[str, ...] = "missing"
    budget: float | None = None
    """``None``: the minimum cost that meets every target in scope; a number: the most covered
    (each requirement's shortfall closed, weighted equally) within that cost."""
    selection: str = "ilp"
    time_limit_s: float = 120.0
    cross_check: bool = True
    cost_unit: str = "cost units"
    max_rounds: int = 3
    sites: SiteCandidates = field(default_factory=SiteCandidates)
    cabinets: CabinetCandidates = field(default_factory=CabinetCandidates)


_PLAN_KEYS = {"metrics", "districts", "budget", "selection", "time_limit_s", "cross_check", "cost_unit",
              "max_rounds", "sites", "cabinets"}
_SITE_KEYS = {"candidates", "crs", "spacing_m", "margin_m", "max_slope_deg", "min_gap_persons", "cost", "template"}
_CABINET_KEYS = {"candidates", "crs", "spacing_m", "ports", "cost", "feeder_cost_per_km", "route_factor"}


def parse_plan(r: KeyReader, t: Any, base: Path) -> PlanConfig:
    """``[plan]`` of a scenario (``{}``: every default).  Problems go to ``r``, with key paths."""
    where = "[plan]"
    d = PlanConfig()
    if not isinstance(t, dict):
        r.problems.append(f"{where} must be a table, got {type(t).__name__}")
        return d
    r.unknown(t, _PLAN_KEYS, where)
    metrics = t.get("metrics", list(d.metrics))
    if (not isinstance(metrics, list) or not metrics or len(set(map(str, metrics))) != len(metrics)
            or any(m not in PLAN_METRICS for m in metrics)):
        r.problems.append(f"{where}.metrics must be a non-empty list without repeats from {list(PLAN_METRICS)}, "
                          f"got {metrics!r}")
        metrics = list(d.metrics)
    districts: str | tuple[str, ...] = d.districts
    raw = t.get("districts", d.districts)
    if isinstance(raw, str) and raw in DISTRICT_SCOPES:
        districts = raw
    elif isinstance(raw, list) and raw and all(isinstance(x, str | int) and not isinstance(x, bool) for x in raw):
        districts = tuple(str(x) for x in raw)
    else:
        r.problems.append(f"{where}.districts must be \"missing\", \"all\" or a non-empty list of district ids, "
                          f"got {raw!r}")
    budget = None
    raw = t.get("budget", "minimum")
    if isinstance(raw, str) and raw != "minimum":
        r.problems.append(f"{where}.budget must be \"minimum\" or a number > 0, got {raw!r}")
    elif raw != "minimum":
        budget = r.number(t, "budget", where, None, lo=0.0, lo_open=True)
    return PlanConfig(
        metrics=tuple(metrics),
        districts=districts,
        budget=budget,
        selection=r.string(t, "selection", where, d.selection, choices=PLAN_SELECTIONS),
        time_limit_s=r.number(t, "time_limit_s", where, d.time_limit_s, lo=0.0, hi=86400.0, lo_open=True),
        cross_check=r.flag(t, "cross_check", where, d.cross_check),
        cost_unit=r.string(t, "cost_unit", where, d.cost_unit, required=False) or d.cost_unit,
        max_rounds=r.number(t, "max_rounds", where, d.max_rounds, lo=1, hi=20, integer=True),
        sites=_parse_sites(r, t.get("sites", {}), base),
        cabinets=_parse_cabinets(r, t.get("cabinets", {}), base),
    )


def _candidates_path(r: KeyReader, t: dict, where: str, base: Path) -> Path | None:
    raw = t.get("candidates", "lattice")
    if raw == "lattice":
        return None
    if not isinstance(raw, str) or not raw.strip():
        r.problems.append(f"{where}.candidates must be \"lattice\" or the path of a CSV/GeoJSON file, got {raw!r}")
        return None
    path = (base / raw).resolve()
    if not path.is_file():
        r.problems.append(f"{where}.candidates: file not found: {path}")
        return None
    return path


def _crs(r: KeyReader, t: dict, where: str, default: str) -> str:
    value = r.string(t, "crs", where, default)
    try:
        parse_crs(value, where=f"{where}.crs")
    except CitycovError as exc:
        r.problems.append(str(exc))
        return default
    return value


def _parse_sites(r: KeyReader, t: Any, base: Path) -> SiteCandidates:
    where = "[plan.sites]"
    d = SiteCandidates()
    if not isinstance(t, dict):
        r.problems.append(f"{where} must be a table, got {type(t).__name__}")
        return d
    r.unknown(t, _SITE_KEYS, where)
    return SiteCandidates(
        path=_candidates_path(r, t, where, base),
        crs=_crs(r, t, where, d.crs),
        spacing_m=r.number(t, "spacing_m", where, d.spacing_m, lo=10.0, hi=100_000.0),
        margin_m=r.number(t, "margin_m", where, d.margin_m, lo=0.0, hi=100_000.0),
        max_slope_deg=r.number(t, "max_slope_deg", where, d.max_slope_deg, lo=0.0, hi=90.0, lo_open=True),
        min_gap_persons=r.number(t, "min_gap_persons", where, d.min_gap_persons, lo=0.0),
        cost=r.number(t, "cost", where, d.cost, lo=0.0, lo_open=True),
        template=_parse_template(r, t.get("template", {})),
    )


def _parse_template(r: KeyReader, t: Any) -> SiteTemplate:
    where = "[plan.sites.template]"
    d = SiteTemplate()
    if not isinstance(t, dict):
        r.problems.append(f"{where} must be a table, got {type(t).__name__}")
        return d
    r.unknown(t, set(SiteTemplate.__dataclass_fields__), where)
    azimuths = t.get("azimuth_deg", list(d.azimuth_deg))
    if (not isinstance(azimuths, list) or not 1 <= len(azimuths) <= 12
            or any(isinstance(a, bool) or not isinstance(a, int | float) or not 0.0 <= a < 360.0 for a in azimuths)):
        r.problems.append(f"{where}.azimuth_deg must be a list of 1 to 12 bearings in [0, 360), got {azimuths!r}")
        azimuths = list(d.azimuth_deg)
    return SiteTemplate(
        technology=r.string(t, "technology", where, d.technology, choices=TECHNOLOGIES),
        operator=r.string(t, "operator", where, d.operator, required=False) or d.operator,
        band=r.string(t, "band", where, d.band),
        freq_mhz=r.number(t, "freq_mhz", where, d.freq_mhz, lo=30.0, hi=100_000.0),
        bandwidth_mhz=r.number(t, "bandwidth_mhz", where, d.bandwidth_mhz, lo=0.0, hi=400.0, lo_open=True),
        height_m=r.number(t, "height_m", where, d.height_m, lo=1.0, hi=500.0),
        eirp_dbm=r.number(t, "eirp_dbm", where, d.eirp_dbm, lo=0.0, hi=100.0),
        azimuth_deg=tuple(float(a) for a in azimuths),
        downtilt_deg=r.number(t, "downtilt_deg", where, d.downtilt_deg, lo=-10.0, hi=30.0),
        h_beamwidth_deg=r.number(t, "h_beamwidth_deg", where, d.h_beamwidth_deg, lo=1.0, hi=360.0),
        v_beamwidth_deg=r.number(t, "v_beamwidth_deg", where, d.v_beamwidth_deg, lo=1.0, hi=180.0),
    )


def _parse_cabinets(r: KeyReader, t: Any, base: Path) -> CabinetCandidates:
    where = "[plan.cabinets]"
    d = CabinetCandidates()
    if not isinstance(t, dict):
        r.problems.append(f"{where} must be a table, got {type(t).__name__}")
        return d
    r.unknown(t, _CABINET_KEYS, where)
    return CabinetCandidates(
        path=_candidates_path(r, t, where, base),
        crs=_crs(r, t, where, d.crs),
        spacing_m=r.number(t, "spacing_m", where, d.spacing_m, lo=10.0, hi=100_000.0),
        ports=r.number(t, "ports", where, d.ports, lo=1, hi=100_000, integer=True),
        cost=r.number(t, "cost", where, d.cost, lo=0.0, lo_open=True),
        feeder_cost_per_km=r.number(t, "feeder_cost_per_km", where, d.feeder_cost_per_km, lo=0.0),
        route_factor=r.number(t, "route_factor", where, d.route_factor, lo=1.0, hi=10.0),
    )
