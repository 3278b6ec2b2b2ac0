"""``citycov plan`` end to end on tiny scenarios: the full-engine check meets the targets the
plan was made for, the plan is reproducible, and what cannot be met is said."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import citycov
from citycov.errors import ScenarioError
from citycov.planning.planner import plan, plan_scenario
from tests.conftest import X0, Y0, make_tiny, sector_row

WIRELESS = '[[targets]]\nmetric = "wireless_population"\nthreshold = 0.5\nlabel = "wireless"\n'
FTTH = '[[targets]]\nmetric = "ftth_households"\nthreshold = 0.5\nlabel = "ftth"\n'
NO_BAND = "[accounting]\nuncertainty = false\n"
PLAN = """
[plan]
time_limit_s = 60
cost_unit = "test units"
[plan.sites]
spacing_m = 1500
margin_m = 1000
min_gap_persons = 0
cost = 1.0
[plan.sites.template]
operator = "Planned"
freq_mhz = 900
band = "B8"
height_m = 30
[plan.cabinets]
spacing_m = 600
ports = 1000
cost = 0.1
feeder_cost_per_km = 0.05
"""


def _tiny(tmp_path: Path, *, targets: str = WIRELESS, plan_text: str = PLAN, name: str = "t"):
    return make_tiny(tmp_path / name, side_m=8000.0, sectors=[sector_row(x=X0 + 2000.0, y=Y0 + 2000.0)],
                     radio='threshold_dbm = { "4G" = -92 }\n', extra=NO_BAND + plan_text, targets=targets)


@pytest.fixture(scope="module")
def wireless_plan(tmp_path_factory):
    tiny = _tiny(tmp_path_factory.mktemp("plan"))
    return plan_scenario(citycov.load_scenario(tiny.scenario))


def test_the_full_engine_check_meets_the_wireless_target(wireless_plan) -> None:
    p = wireless_plan
    before = p.base.table.loc["1", "wireless_pct"]
    assert before < 50.0  # the base run misses the target: there is something to plan
    row = p.summary.set_index(["metric", "area_id"]).loc[("wireless_population", "1")]
    assert row["met"] and row["after_pct"] >= 50.0
    # "after" is the full engine's figure, the after run's own table, not the matrix
    assert row["after_pct"] == pytest.approx(p.after.table.loc["1", "wireless_pct"], rel=1e-12)
    assert row["before_pct"] == pytest.approx(before, rel=1e-12)
    planned_ids = set(p.sites["candidate_id"])
    assert planned_ids and planned_ids <= set(p.after.sectors["site_id"].astype(str))
    assert len(p.sites) == row["sites"]


def test_greedy_and_optimum_bound_each_other(wireless_plan) -> None:
    s = wireless_plan.solvers.set_index("method")
    assert s.loc["highs", "status"] == "optimal"
    assert s.loc["highs", "lower_bound"] <= s.loc["highs", "cost"] + 1e-9
    assert s.loc["greedy", "cost"] >= s.loc["highs", "cost"] - 1e-9
    if "cp-sat" in s.index and s.loc["cp-sat", "status"] == "optimal":
        assert s.loc["cp-sat", "cost"] == pytest.approx(s.loc["highs", "cost"], rel=1e-9)


def test_ranks_and_cumulative_shares_grow(wireless_plan) -> None:
    sites = wireless_plan.sites
    assert list(sites["rank"]) == list(range(1, len(sites) + 1))
    planned = sites[sites["source"] != "continuation"]
    assert np.all(np.diff(planned["cum_pct"].to_numpy()) >= -1e-9)
    assert (planned["new_persons"] > 0).all()
    curve = wireless_plan.curve
    assert curve[curve["step"] == 0]["pct"].iloc[0] == pytest.approx(wireless_plan.base.table.loc["1", "wireless_pct"])


def test_the_plan_is_reproducible(tmp_path: Path, wireless_plan) -> None:
    again = plan_scenario(citycov.load_scenario(_tiny(tmp_path).scenario))
    pd.testing.assert_frame_equal(pd.DataFrame(again.sites.drop(columns="geometry")),
                                  pd.DataFrame(wireless_plan.sites.drop(columns="geometry")))
    assert list(again.sites.geometry.x) == list(wireless_plan.sites.geometry.x)


def test_cabinets_bring_ftth_to_its_target(tmp_path: Path) -> None:
    tiny = _tiny(tmp_path, targets=FTTH)
    p = plan_scenario(citycov.load_scenario(tiny.scenario))
    row = p.summary.set_index(["metric", "area_id"]).loc[("ftth_households", "1")]
    assert row["before_pct"] < 50.0 and row["met"] and row["after_pct"] >= 50.0
    assert len(p.cabinets) == row["cabinets"] > 0 and len(p.sites) == 0
    assert (p.cabinets["feeder_m"] > 0).all()
    # cost = cabinet + feeder, as configured
    expected = 0.1 + p.cabinets["feeder_m"] / 1000.0 * 0.05
    np.testing.assert_allclose(p.cabinets["cost"], expected, rtol=1e-12)


def test_an_unreachable_target_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "u"
    folder.mkdir()
    pd.DataFrame({"candidate_id": ["ONLY"], "x": [X0 + 7500.0], "y": [Y0 + 7500.0]}).to_csv(
        folder / "cands.csv", index=False)
    text = PLAN.replace("[plan.sites]\n", f'[plan.sites]\ncandidates = "{folder / "cands.csv"}"\ncrs = "EPSG:32649"\n')
    tiny = _tiny(tmp_path, plan_text=text, targets=WIRELESS.replace("0.5", "0.95"))
    p = plan_scenario(citycov.load_scenario(tiny.scenario))
    notes = " ".join(p.notes)
    assert "cannot reach its target" in notes and "at most" in notes and "% at best" in notes
    row = p.summary.iloc[0]
    assert not row["met"]


def test_nothing_to_build_when_every_target_is_met(tmp_path: Path) -> None:
    tiny = _tiny(tmp_path, targets=WIRELESS.replace("0.5", "0.01"))
    p = plan_scenario(citycov.load_scenario(tiny.scenario))
    assert len(p.sites) == 0 and len(p.cabinets) == 0 and p.after is None
    assert "already met" in " ".join(p.notes)


def test_unknown_district_in_plan_is_an_error(tmp_path: Path) -> None:
    tiny = _tiny(tmp_path, plan_text=PLAN.replace("[plan]\n", '[plan]\ndistricts = ["999"]\n'))
    base = citycov.run(citycov.load_scenario(tiny.scenario), keep_context=True)
    with pytest.raises(ScenarioError, match=r"\[plan\].districts: unknown district ids \['999'\]"):
        plan(base)


def test_plan_needs_the_run_context(tmp_path: Path) -> None:
    base = citycov.run(citycov.load_scenario(_tiny(tmp_path).scenario))
    with pytest.raises(ScenarioError, match="keep_context=True"):
        plan(base)


def test_cli_plan_writes_the_plan_beside_the_after_run(tmp_path: Path) -> None:
    import subprocess
    import sys

    tiny = _tiny(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "citycov", "-q", "plan", str(tiny.scenario), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "plan of" in proc.stdout and "wireless_population" in proc.stdout and "met" in proc.stdout
    for name in ("plan_sites.csv", "plan_sites.geojson", "plan_cabinets.csv", "plan_summary.csv",
                 "plan_curve.csv", "plan_solvers.csv", "report.html", "map.html", "districts.csv"):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "plan_summary.csv")
    after = pd.read_csv(out / "districts.csv", dtype={"area_id": str}).set_index("area_id")
    # the folder's district table is the after run's: the plan's after figure is its figure
    row = summary[(summary["metric"] == "wireless_population") & (summary["area_id"].astype(str) == "1")].iloc[0]
    assert row["after_pct"] == pytest.approx(after.loc["1", "wireless_pct"], abs=0.006)  # both CSVs round
    assert "Plan" in (out / "report.html").read_text(encoding="utf-8")


def test_cli_plan_bad_plan_section_is_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    tiny = _tiny(tmp_path, plan_text=PLAN.replace("spacing_m = 1500", "spacing_m = -1"))
    proc = subprocess.run([sys.executable, "-m", "citycov", "plan", str(tiny.scenario), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "[plan.sites].spacing_m must be >= 10.0, got -1" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_an_area_already_at_its_target_buys_nothing(tmp_path: Path) -> None:
    """districts = "all" puts a district that meets its target in scope: its need is 0."""
    tiny = _tiny(tmp_path, targets=WIRELESS.replace("0.5", "0.05"),
                 plan_text=PLAN.replace("[plan]\n", '[plan]\ndistricts = "all"\n'))
    p = plan_scenario(citycov.load_scenario(tiny.scenario))
    assert p.base.table.loc["1", "wireless_pct"] >= 5.0
    assert len(p.sites) == 0 and len(p.cabinets) == 0
    assert p.solvers.set_index("method").loc["highs", "cost"] == 0.0


def test_a_mip_stopped_without_a_bound_falls_back_to_the_lp_bound(monkeypatch) -> None:
    """The hand-worked instance of citycov.planning.solve.lp_bound: LP bound 31/7."""
    from dataclasses import replace as dc_replace

    from scipy import sparse

    from citycov.config.plan import PlanConfig
    from citycov.planning import planner as planner_mod
    from citycov.planning import solve
    from citycov.planning.problem import CoverProblem, Requirement

    cover = sparse.csc_array(np.array([[1, 0, 1], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    problem = CoverProblem(np.array([3.0, 4, 4]), cover, np.array([4.0, 3, 2, 5, 1]), np.zeros(5, dtype=np.int64),
                           (Requirement("wireless_population", "D0", 11.0, "persons"),))
    real = solve.solve_cover_mip

    def stopped(p, **kw):  # what HiGHS returns when its time limit comes before any dual bound
        return dc_replace(real(p, **kw), status="time limit (gap inf %)", lower_bound=0.0)

    monkeypatch.setattr(solve, "solve_cover_mip", stopped)
    out = planner_mod._select(problem, PlanConfig(cross_check=False))
    assert out["lp"].lower_bound == pytest.approx(31 / 7, rel=1e-9)
    assert out["highs"].lower_bound == pytest.approx(31 / 7, rel=1e-9)
    assert out["highs"].cost == pytest.approx(7.0)
