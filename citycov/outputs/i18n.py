"""Labels of the map and the HTML report in English and Chinese.

Every visible label of ``map.html`` and ``report.html``, and the labels of ``report.md`` and
the district tables that are not fixed English column names (the local-name heading, the city
row's name), come from :data:`LABELS`, so ``--lang zh`` switches them all.  District names come
from the boundary data (``name`` and the optional second name ``name_local``).  Values are plain
text: callers HTML-escape them like any other string.
"""

from __future__ import annotations

from citycov.errors import ScenarioError

LANGS = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    "synthetic_banner": {"en": "SYNTHETIC DATA", "zh": "合成数据（非实测）"},
    "synthetic_note": {
        "en": "These inputs are synthetic stand-ins, not measured data: {inputs}. The figures show what the method "
              "gives on them; they are not official coverage statistics.",
        "zh": "以下输入为合成的替代数据，并非实测数据：{inputs}。图表仅展示方法在这些数据上的结果，不是官方覆盖统计。"},
    "run": {"en": "Run", "zh": "运行时间"},
    "not_recorded": {"en": "not recorded (reproducible run)", "zh": "未记录（可复现运行）"},
    "software": {"en": "Software", "zh": "软件"},
    "data": {"en": "Data", "zh": "数据"},
    "city": {"en": "City", "zh": "全市"},
    "city_total": {"en": "City total", "zh": "全市"},
    "local_name": {"en": "local name", "zh": "区"},
    "district": {"en": "District", "zh": "区"},
    "population": {"en": "Residents", "zh": "常住人口"},
    "households": {"en": "Households", "zh": "户数"},
    "target": {"en": "Target", "zh": "目标"},
    "value": {"en": "Value", "zh": "数值"},
    "band": {"en": "Uncertainty band", "zh": "不确定区间"},
    "gap": {"en": "Gap", "zh": "差距"},
    "result": {"en": "Result", "zh": "结果"},
    "verdict": {"en": "Verdict across the band", "zh": "区间内判定"},
    "pass": {"en": "PASS", "zh": "达标"},
    "fail": {"en": "FAIL", "zh": "未达标"},
    "no_data": {"en": "no data", "zh": "无数据"},
    "met across the band": {"en": "met across the band", "zh": "区间内均达标"},
    "missed across the band": {"en": "missed across the band", "zh": "区间内均未达标"},
    "undecided": {"en": "undecided", "zh": "未定"},
    "no residents": {"en": "no residents", "zh": "无常住人口"},
    "no households": {"en": "no households", "zh": "无住户"},
    "no urban area": {"en": "no urban area", "zh": "无城区"},
    "no villages": {"en": "no villages", "zh": "无村镇"},
    "meets_target": {"en": "meets target (outline)", "zh": "达标（边框）"},
    "below_target": {"en": "below target (outline)", "zh": "未达标（边框）"},
    "undefined_share": {"en": "no residents or households (outline)", "zh": "无常住人口或住户（边框）"},
    # layers
    "layer_wireless": {"en": "Districts: wireless broadband coverage %", "zh": "各区：无线宽带人口覆盖率 %"},
    "layer_ftth": {"en": "Districts: FTTH household coverage %", "zh": "各区：光纤到户覆盖率 %"},
    "layer_rsrp": {"en": "Signal level classes (best server)", "zh": "信号电平等级（最佳服务小区）"},
    "layer_covered": {"en": "Wireless broadband: covered / not covered", "zh": "无线宽带：覆盖 / 未覆盖"},
    "layer_server": {"en": "Best server (4G)", "zh": "最佳服务小区（4G）"},
    "layer_speed": {"en": "Speed tier (best technology, 50% loading)", "zh": "速率等级（最佳制式，50% 负载）"},
    "no_tier": {"en": "served, below every tier", "zh": "有信号，未达任何速率等级"},
    "layer_gaps": {"en": "Coverage gaps (ranked by residents)", "zh": "覆盖空白（按人口排序）"},
    "layer_sites": {"en": "Base-station sites", "zh": "基站站址"},
    "layer_wlan": {"en": "WLAN access points", "zh": "WLAN 接入点"},
    "layer_routes": {"en": "Fibre routes", "zh": "光缆路由"},
    "layer_nodes": {"en": "Fibre access nodes", "zh": "光纤接入节点"},
    "layer_outline": {"en": "City outline", "zh": "市界"},
    "layer_basemap": {"en": "OpenStreetMap (online)", "zh": "OpenStreetMap（需联网）"},
    # legends
    "legend": {"en": "Legend", "zh": "图例"},
    "covered": {"en": "covered", "zh": "已覆盖"},
    "not_covered": {"en": "not covered", "zh": "未覆盖"},
    "below_floor": {"en": "below", "zh": "低于"},
    "serving_sectors": {"en": "colour = serving sector (adjacent cells in different colours)",
                        "zh": "颜色表示服务小区（相邻小区颜色不同）"},
    "gap_rank": {"en": "Gap rank", "zh": "空白排名"},
    "area_km2": {"en": "Area (km²)", "zh": "面积（平方公里）"},
    "nearest_site_km": {"en": "Nearest site (km)", "zh": "最近站址（公里）"},
    "sector": {"en": "Sector", "zh": "扇区"},
    "site": {"en": "Site", "zh": "站址"},
    "operator": {"en": "Operator", "zh": "运营商"},
    "kind": {"en": "Kind", "zh": "类型"},
    "ports": {"en": "Ports", "zh": "端口"},
    "measure": {"en": "Measure distance", "zh": "测距"},
    "measure_hint": {"en": "click points; double-click to finish", "zh": "单击添加点，双击结束"},
    "fullscreen": {"en": "Full screen", "zh": "全屏"},
    "top_of": {"en": "top {n} of {total}", "zh": "前 {n} 个，共 {total} 个"},
    # verification of claims
    "layer_claims": {"en": "Claim verification (H3 hexagons)", "zh": "运营商覆盖声明核查（H3 六边形）"},
    "hex_challenged": {"en": "challenged by measurements", "zh": "经实测质疑"},
    "hex_tested": {"en": "tested, not challenged", "zh": "已测试，未被质疑"},
    "hex_not_modelled": {"en": "claimed, not in the model (untested)", "zh": "声明覆盖但模型未覆盖（未测试）"},
    "claims_title": {"en": "Verification of operator claims", "zh": "运营商覆盖声明核查"},
    "claims_layer": {"en": "Claimed service", "zh": "声明的业务"},
    "claims_intro": {
        "en": "Preset {preset} (version {version}); rule: {rule}; tests valid to {as_of}. {kept:,} of {read:,} "
              "test records used ({dropped:,} dropped as unusable).",
        "zh": "质疑规则预设 {preset}（版本 {version}）；判定规则：{rule}；测试有效截止 {as_of}。"
              "共 {read:,} 条测试记录，使用 {kept:,} 条（{dropped:,} 条因不可用而剔除）。"},
    "claimed_km2": {"en": "Claimed (km²)", "zh": "声明覆盖（平方公里）"},
    "claimed_not_modelled": {"en": "Claimed, not modelled", "zh": "声明覆盖但模型未覆盖"},
    "claimed_failed": {"en": "Claimed, failed by measurements", "zh": "声明覆盖但实测未达标"},
    "modelled_not_claimed": {"en": "Modelled, not claimed", "zh": "模型覆盖但未声明"},
    "hexagons_challenged": {"en": "Hexagons challenged", "zh": "被质疑六边形"},
    "calibration": {"en": "Model calibration (held-out, cross-validated by hexagon)",
                    "zh": "模型校准（按六边形交叉验证的留出数据）"},
    "rmse_before_after": {"en": "RMSE {before:.2f} dB → {after:.2f} dB; bias {bias_before:+.2f} dB → "
                                "{bias_after:+.2f} dB ({n:,} tests)",
                          "zh": "均方根误差 {before:.2f} dB → {after:.2f} dB；偏差 {bias_before:+.2f} dB → "
                                "{bias_after:+.2f} dB（{n:,} 条测试）"},
    # report
    "report_title": {"en": "Coverage report", "zh": "覆盖评估报告"},
    "summary": {"en": "Summary", "zh": "摘要"},
    "targets_city": {"en": "Targets (city)", "zh": "目标（全市）"},
    "targets_by_district": {"en": "Targets by district", "zh": "各区目标"},
    "targets_by_group": {"en": "Targets by group of districts", "zh": "各区组目标"},
    "group": {"en": "Group", "zh": "区组"},
    "charts": {"en": "Charts", "zh": "图表"},
    "top_gaps": {"en": "Largest coverage gaps", "zh": "最大覆盖空白"},
    "methods": {"en": "Methods", "zh": "方法"},
    "definitions": {"en": "Definitions", "zh": "定义"},
    "provenance": {"en": "Provenance", "zh": "数据来源与可追溯性"},
    "inputs": {"en": "Inputs", "zh": "输入数据"},
    "file": {"en": "File", "zh": "文件"},
    "vintage": {"en": "Vintage", "zh": "数据年份"},
    "synthetic": {"en": "Synthetic", "zh": "合成"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "warnings": {"en": "Warnings", "zh": "警告"},
    "target_line": {"en": "target {pct}", "zh": "目标 {pct}"},
    "coverage_pct": {"en": "coverage (%)", "zh": "覆盖率（%）"},
    "summary_line": {
        "en": "Wireless broadband reaches {wireless} of residents and FTTH passes {ftth} of households. "
              "{passed} of {total} target checks pass.",
        "zh": "无线宽带覆盖 {wireless} 的常住人口，光纤到户覆盖 {ftth} 的家庭。{total} 项目标检查中 {passed} 项达标。"},
    "metric_wireless_population": {"en": "Wireless broadband population coverage", "zh": "无线宽带人口覆盖率"},
    "metric_ftth_households": {"en": "FTTH household coverage", "zh": "光纤到户覆盖率"},
    "metric_urban_area_3g": {"en": "3G-or-better coverage of the urban area", "zh": "城区 3G 及以上覆盖率"},
    "metric_village_broadband": {"en": "Village broadband", "zh": "行政村宽带通达率"},
    "unit_persons": {"en": "persons", "zh": "人"},
    "unit_households": {"en": "households", "zh": "户"},
    "unit_km²": {"en": "km²", "zh": "平方公里"},
    "unit_villages": {"en": "villages", "zh": "个村"},
    # plan (citycov plan)
    "plan_title": {"en": "Plan: new sites and fibre cabinets", "zh": "规划方案：新建站址与光交箱"},
    "plan_intro": {
        "en": "The fewest new sites and cabinets (lowest cost) that bring the areas in scope to their targets. "
              "\"Planned\" is the selection's own estimate; \"after\" is the full coverage model rerun with "
              "the plan added.",
        "zh": "以最少的新建站址和光交箱（最低成本）使规划范围内各区达到目标。“规划预估”为选址模型自身的估算；"
              "“规划后”为加入规划后重新运行完整覆盖模型的结果。"},
    "plan_settings": {"en": "Settings", "zh": "规划设置"},
    "plan_setting": {"en": "Setting", "zh": "设置项"},
    "plan_metrics": {"en": "Metrics", "zh": "指标"},
    "plan_districts": {"en": "Districts", "zh": "规划范围"},
    "plan_scope_missing": {"en": "the areas that miss a target", "zh": "未达标的区域"},
    "plan_scope_all": {"en": "every district", "zh": "全部区"},
    "plan_budget": {"en": "Budget", "zh": "预算"},
    "plan_budget_minimum": {"en": "the lowest cost that meets every target in scope",
                            "zh": "满足范围内全部目标的最低成本"},
    "plan_budget_limit": {"en": "at most {budget} {unit}: the most coverage within it",
                          "zh": "不超过 {budget} {unit}：在此预算内覆盖最多"},
    "plan_selection": {"en": "Selection", "zh": "选址方法"},
    "plan_selection_ilp": {"en": "integer-program optimum (HiGHS)", "zh": "整数规划最优解（HiGHS）"},
    "plan_selection_greedy": {"en": "greedy (CELF)", "zh": "贪心算法（CELF）"},
    "plan_time_limit": {"en": "Time limit per solver call", "zh": "每次求解时限"},
    "plan_cost_unit": {"en": "Cost unit", "zh": "成本单位"},
    "plan_site_candidates": {"en": "Site candidates", "zh": "候选站址"},
    "plan_cabinet_candidates": {"en": "Cabinet candidates", "zh": "候选光交箱"},
    "plan_lattice": {"en": "hexagonal lattice, spacing {spacing} m", "zh": "六边形网格，间距 {spacing} 米"},
    "plan_candidate_file": {"en": "file {name}", "zh": "文件 {name}"},
    "plan_site_cost": {"en": "{cost} {unit} per site", "zh": "每站 {cost} {unit}"},
    "plan_cabinet_cost": {"en": "{cost} {unit} per cabinet of {ports} ports, plus {feeder} {unit} per km of feeder",
                          "zh": "每个光交箱（{ports} 端口）{cost} {unit}，另加馈线每公里 {feeder} {unit}"},
    "plan_template": {"en": "Site template", "zh": "新站模板"},
    "plan_template_text": {
        "en": "{technology} {band} {freq} MHz, {bandwidth} MHz wide, mast {height} m, EIRP {eirp} dBm, "
              "azimuths {azimuths}°, downtilt {tilt}°, beamwidth {hbw}°/{vbw}°, operator {operator}",
        "zh": "{technology} {band} {freq} MHz，带宽 {bandwidth} MHz，挂高 {height} 米，EIRP {eirp} dBm，"
              "方位角 {azimuths}°，下倾角 {tilt}°，波束宽度 {hbw}°/{vbw}°，运营商 {operator}"},
    "plan_before_after": {"en": "Before and after, by area and metric", "zh": "各区域各指标规划前后对比"},
    "plan_metric": {"en": "Metric", "zh": "指标"},
    "plan_before": {"en": "Before", "zh": "规划前"},
    "plan_planned": {"en": "Planned (estimate)", "zh": "规划预估"},
    "plan_after": {"en": "After (full model)", "zh": "规划后（完整模型复算）"},
    "plan_met": {"en": "Met", "zh": "是否达标"},
    "plan_sites": {"en": "Sites", "zh": "新建站址"},
    "plan_cabinets": {"en": "Cabinets", "zh": "新建光交箱"},
    "plan_cost": {"en": "Cost ({unit})", "zh": "成本（{unit}）"},
    "plan_solvers": {"en": "Solvers", "zh": "求解器"},
    "plan_instance": {"en": "Instance", "zh": "实例"},
    "plan_method": {"en": "Method", "zh": "方法"},
    "plan_method_greedy": {"en": "greedy (CELF)", "zh": "贪心算法（CELF）"},
    "plan_method_highs": {"en": "optimum (HiGHS)", "zh": "最优解（HiGHS）"},
    "plan_method_cp-sat": {"en": "cross-check (OR-Tools CP-SAT)", "zh": "交叉验证（OR-Tools CP-SAT）"},
    "plan_method_brute-force": {"en": "brute force", "zh": "穷举"},
    "plan_lower_bound": {"en": "Lower bound", "zh": "下界"},
    "plan_gap_pct": {"en": "Optimality gap", "zh": "最优性差距"},
    "plan_time_s": {"en": "Time (s)", "zh": "用时（秒）"},
    "plan_status": {"en": "Status", "zh": "状态"},
    "plan_cross_check": {"en": "CP-SAT cross-check", "zh": "CP-SAT 交叉验证"},
    "plan_cross_check_off": {"en": "not run ([plan].cross_check = false)",
                             "zh": "未运行（[plan].cross_check = false）"},
    "plan_cross_check_missing": {"en": "asked for, but the run recorded no CP-SAT result",
                                 "zh": "已要求，但运行结果中没有 CP-SAT 求解记录"},
    "plan_cross_check_agree": {"en": "{instance}: CP-SAT {other} against HiGHS {cost}: the same optimum",
                               "zh": "{instance}：CP-SAT {other}，HiGHS {cost}：最优值一致"},
    "plan_cross_check_differ": {"en": "{instance}: CP-SAT {other} against HiGHS {cost}: they differ",
                                "zh": "{instance}：CP-SAT {other}，HiGHS {cost}：两者不一致"},
    "plan_cross_check_alone": {"en": "{instance}: CP-SAT {other} ({status}); no HiGHS result to compare",
                               "zh": "{instance}：CP-SAT {other}（{status}）；无 HiGHS 结果可比较"},
    "plan_notes": {"en": "Notes", "zh": "说明"},
    "plan_curves": {"en": "Coverage against cumulative cost", "zh": "覆盖率随累计成本变化"},
    "plan_curve_x": {"en": "cumulative cost ({unit})", "zh": "累计成本（{unit}）"},
    "plan_curve_caption": {"en": "{metric}: coverage after each addition, by cumulative cost",
                           "zh": "{metric}：每新增一处后的覆盖率（按累计成本）"},
    "plan_no_additions": {"en": "none", "zh": "无"},
    "layer_plan_sites": {"en": "Planned sites", "zh": "规划新建站址"},
    "layer_plan_cabinets": {"en": "Planned cabinets", "zh": "规划新建光交箱"},
    "plan_site": {"en": "Planned site", "zh": "规划站址"},
    "plan_cabinet": {"en": "Planned cabinet", "zh": "规划光交箱"},
    "plan_rank": {"en": "Rank", "zh": "选址顺序"},
    "plan_id": {"en": "Id", "zh": "编号"},
    "plan_new_persons": {"en": "Residents newly covered", "zh": "新增覆盖人口"},
    "plan_new_households": {"en": "Households newly passed", "zh": "新增光纤覆盖户数"},
    "plan_cum_pct": {"en": "District coverage after it", "zh": "新增后该区覆盖率"},
}


def check_lang(lang: str) -> str:
    """Return ``lang`` when supported, else raise :class:`ScenarioError` naming the choices."""
    if lang not in LANGS:
        raise ScenarioError(f"language must be one of {list(LANGS)}, got {lang!r}")
    return lang


def text(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``, formatted with ``values``."""
    entry = LABELS[key]
    return entry[lang].format(**values) if values else entry[lang]


def metric_label(metric: str, lang: str) -> str:
    key = f"metric_{metric}"
    return text(key, lang) if key in LABELS else metric


def unit_label(unit: str, lang: str) -> str:
    key = f"unit_{unit}"
    return text(key, lang) if key in LABELS else unit


EMPTY_VERDICTS = ("no residents", "no households", "no urban area", "no villages")
"""An empty denominator: the share is undefined (citycov.accounting.targets.EMPTY_VERDICTS)."""
VERDICTS = ("met across the band", "missed across the band", "undecided", *EMPTY_VERDICTS)


def verdict_label(verdict: object, lang: str) -> str:
    """A target's verdict across its uncertainty band in ``lang`` ("" when there is none)."""
    verdict = verdict if isinstance(verdict, str) else ""
    return text(verdict, lang) if verdict in VERDICTS else verdict


def pct_label(value: object) -> str:
    """A percentage for display, two decimals; "-" when missing."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    return f"{v:.2f}%" if v == v else "-"


def district_name(name: str, name_local: object, lang: str) -> str:
    """The district's name in ``lang``: ``name``, or with ``zh`` the local (second) name when it
    has one; the other one when the first is blank."""
    first, second = (name_local, name) if lang == "zh" else (name, name_local)
    return str(first) if isinstance(first, str) and first.strip() else str(second)


def area_name(area_id: str, names: object, lang: str) -> str:
    """The display name of an area of a district table (indexed by ``area_id``, with ``name``
    and optionally ``name_local``): the city row is labelled in ``lang``; an unknown id is
    shown as itself."""
    if area_id == "city":
        return text("city_total", lang)
    if area_id not in names.index:  # type: ignore[attr-defined]
        return str(area_id)
    row = names.loc[area_id]  # type: ignore[attr-defined]
    return district_name(row["name"], row.get("name_local", ""), lang)


def outcome(passed: object, verdict: object) -> str:
    """``pass``, ``fail`` or ``none`` for a target result: ``none`` (shown as "-", neutral) when
    the area's denominator is empty (a verdict such as "no residents"), whatever ``passed`` says."""
    if isinstance(verdict, str) and verdict in EMPTY_VERDICTS:
        return "none"
    if passed is None or (isinstance(passed, float) and passed != passed):  # missing: not passed
        return "fail"
    return "pass" if bool(passed) else "fail"


def outcome_label(outcome_key: str, lang: str) -> str:
    """The result column's text for :func:`outcome`: PASS / FAIL, or "-"."""
    return "-" if outcome_key == "none" else text(outcome_key, lang)


def run_time(stamp: object, lang: str) -> str:
    """When the run started, for display: ``<ISO time> UTC``, or "not recorded" (a reproducible
    run writes no time)."""
    return f"{stamp} UTC" if isinstance(stamp, str) and stamp else text("not_recorded", lang)
