"""``[plan]``: defaults, every bad key reported at once with its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from citycov.config import load_scenario
from citycov.config.plan import PlanConfig
from citycov.errors import ScenarioError
from tests.conftest import make_tiny

TARGETS = """
[[targets]]
metric = "wireless_population"
threshold = 0.8
label = "wireless"

[[targets]]
metric = "ftth_households"
threshold = 0.5
label = "ftth"
"""


def _scenario(tmp_path: Path, plan: str, targets: str = TARGETS) -> Path:
    return make_tiny(tmp_path / "s", extra=plan, targets=targets).scenario


def test_no_plan_section_gives_the_defaults(tmp_path: Path) -> None:
    sc = load_scenario(_scenario(tmp_path, ""))
    assert sc.plan == PlanConfig(metrics=("wireless_population", "ftth_households"))


def test_plan_keys_are_read(tmp_path: Path) -> None:
    (tmp_path / "cands.csv").parent.mkdir(parents=True, exist_ok=True)
    plan = """
    [plan]
    metrics = ["wireless_population"]
    districts = ["440101"]
    budget = 12.5
    selection = "greedy"
    time_limit_s = 30
    cross_check = false
    cost_unit = "million EUR"
    max_rounds = 2
    [plan.sites]
    spacing_m = 500
    cost = 2.0
    [plan.sites.template]
    technology = "5G"
    freq_mhz = 3500
    azimuth_deg = [30, 150, 270]
    [plan.cabinets]
    ports = 144
    route_factor = 1.2
    """
    sc = load_scenario(_scenario(tmp_path, plan))
    p = sc.plan
    assert p.metrics == ("wireless_population",)
    assert p.districts == ("440101",)
    assert p.budget == 12.5 and p.selection == "greedy" and p.time_limit_s == 30.0
    assert p.cross_check is False and p.cost_unit == "million EUR" and p.max_rounds == 2
    assert p.sites.spacing_m == 500.0 and p.sites.cost == 2.0 and p.sites.path is None
    assert p.sites.template.technology == "5G" and p.sites.template.freq_mhz == 3500.0
    assert p.sites.template.azimuth_deg == (30.0, 150.0, 270.0)
    assert p.cabinets.ports == 144 and p.cabinets.route_factor == 1.2


def test_every_bad_plan_key_is_listed_at_once(tmp_path: Path) -> None:
    plan = """
    [plan]
    metrics = ["wireless_population", "urban_area_3g"]
    districts = 7
    budget = -3
    selection = "best"
    max_rounds = 0
    colour = "red"
    [plan.sites]
    candidates = "nowhere.csv"
    spacing_m = 0
    [plan.sites.template]
    technology = "6G"
    azimuth_deg = [0, 400]
    height = 30
    [plan.cabinets]
    ports = 2.5
    route_factor = 0.5
    """
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario(tmp_path, plan))
    text = str(info.value)
    for expected in ("[plan].metrics must be a non-empty list", "[plan].districts must be",
                     "[plan].budget must be > 0.0, got -3", "[plan].selection must be one of ['ilp', 'greedy']",
                     "[plan].max_rounds must be >= 1, got 0", "[plan]: unknown keys ['colour']",
                     "[plan.sites].candidates: file not found", "[plan.sites].spacing_m must be >= 10.0, got 0",
                     "[plan.sites.template].technology must be one of", "[plan.sites.template].azimuth_deg must be",
                     "[plan.sites.template]: unknown keys ['height']", "[plan.cabinets].ports must be a whole number",
                     "[plan.cabinets].route_factor must be >= 1.0, got 0.5"):
        assert expected in text, expected


def test_plan_metric_must_be_a_target_of_the_scenario(tmp_path: Path) -> None:
    targets = TARGETS.split("[[targets]]\nmetric = \"ftth")[0]
    with pytest.raises(ScenarioError, match="'ftth_households' is not a target of this scenario"):
        load_scenario(_scenario(tmp_path, "[plan]\nmetrics = [\"ftth_households\"]\n", targets=targets))


def test_budget_must_be_minimum_or_a_number(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"\[plan\].budget must be \"minimum\" or a number > 0, got 'lots'"):
        load_scenario(_scenario(tmp_path, "[plan]\nbudget = \"lots\"\n"))
