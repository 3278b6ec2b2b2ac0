"""Challenge engine: one hand-built hexagon per threshold, roll-up, the binomial rule, H3 integer ops."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from citycov.errors import ChallengeError, ScenarioError
from citycov.presets.challenge import list_challenge_presets, load_challenge_preset
from citycov.verification.challenge import (
    STATUS,
    binomial_min_negatives,
    cell_parents,
    child_positions,
    classify_tests,
    compare_binomial_with_table,
    evaluate_challenges,
    hexagon_frame,
    latlng_cells,
)

UTM49 = pyproj.CRS.from_epsg(32649)
TZ = "Asia/Shanghai"
AS_OF = "2024-06-30"
DAY = "2024-06-01"
HEX8 = h3.latlng_to_cell(23.13, 113.26, 8)
CHILDREN = sorted(h3.cell_to_children(HEX8, 9))
OP = "Demo Mobile"


@pytest.fixture(scope="module")
def preset():
    return load_challenge_preset("fcc-2022")


def _tests(rows: list[tuple[str, str, float, float]], *, technology: str = "4G", operator: str = OP,
           environment: str = "outdoor_stationary") -> gpd.GeoDataFrame:
    """rows: (res-9 cell, local time "YYYY-MM-DD HH:MM", download, upload); one test at each cell centre."""
    lat, lon = np.array([h3.cell_to_latlng(c) for c, *_ in rows]).T
    x, y = pyproj.Transformer.from_crs(4326, UTM49, always_xy=True).transform(lon, lat)
    stamp = pd.DatetimeIndex(pd.to_datetime([t for _, t, _, _ in rows])).tz_localize(TZ)
    return gpd.GeoDataFrame({"timestamp": stamp, "lon": lon, "lat": lat, "operator": operator,
                             "technology": technology, "environment": environment,
                             "download_mbps": [d for *_, d, _ in rows], "upload_mbps": [u for *_, u in rows]},
                            geometry=gpd.points_from_xy(x, y), crs=UTM49)


def _claims(*, down: float = 5.0, up: float = 1.0, technology: str = "4G") -> gpd.GeoDataFrame:
    lat, lon = h3.cell_to_latlng(HEX8)
    x, y = pyproj.Transformer.from_crs(4326, UTM49, always_xy=True).transform(lon, lat)
    return gpd.GeoDataFrame({"providerid": ["DM"], "operator": [OP], "technology": [technology],
                             "min_down_mbps": [down], "min_up_mbps": [up], "environment": ["outdoor_stationary"]},
                            geometry=[shapely.box(x - 20_000, y - 20_000, x + 20_000, y + 20_000)], crs=UTM49)


NEG = (1.0, 0.5)
POS = (50.0, 10.0)


def _hexagon_rows(neg_children: list[int], neg_hours: list[str], *, n_tests: int = 20, day: str = DAY,
                  parent_children: list[str] | None = None) -> list[tuple[str, str, float, float]]:
    """``n_tests`` tests: negatives in children ``neg_children`` at ``neg_hours``, the rest positive at 10:00,
    spread over all seven children."""
    kids = parent_children or CHILDREN
    rows = [(kids[c], f"{day} {hh}", *NEG) for c, hh in zip(neg_children, neg_hours, strict=True)]
    for i in range(n_tests - len(rows)):
        rows.append((kids[i % 7], f"{day} 10:00", *POS))
    return rows


def _one_hexagon(preset, rows, **kwargs):
    result = evaluate_challenges(classify_tests(_tests(rows), _claims(), preset, as_of=AS_OF), **kwargs)
    h = result.hexagons.set_index("cell")
    return h.loc[h3.str_to_int(HEX8)], result


BASE_CHILDREN = [0, 1, 2, 3, 0]
BASE_HOURS = ["08:00", "13:00", "09:00", "09:30", "10:30"]  # 08:00 and 13:00: five hours apart


def test_five_negatives_in_four_children_five_hours_apart_is_challenged(preset):
    row, result = _one_hexagon(preset, _hexagon_rows(BASE_CHILDREN, BASE_HOURS))
    assert (row["n_tests"], row["n_negative"], row["children_negative"], row["children_tested"]) == (20, 5, 4, 7)
    assert row["negative_span_h"] == pytest.approx(5.0)
    assert row["geographic_ok"] and row["temporal_ok"] and row["testing_ok"]
    assert row["challenged"]
    assert result.challenged_cells(0).tolist() == [h3.str_to_int(HEX8)]


def test_four_negatives_fail_the_testing_threshold(preset):
    row, _ = _one_hexagon(preset, _hexagon_rows(BASE_CHILDREN[:4], BASE_HOURS[:4]))
    assert row["n_negative"] == 4 and row["min_negatives"] == 5
    assert row["geographic_ok"] and row["temporal_ok"] and not row["testing_ok"]
    assert not row["challenged"]


def test_negatives_in_only_three_children_fail_the_geographic_threshold(preset):
    row, _ = _one_hexagon(preset, _hexagon_rows([0, 1, 2, 0, 1], BASE_HOURS))
    assert row["children_negative"] == 3 and row["children_tested"] == 7
    assert not row["geographic_ok"] and row["temporal_ok"] and row["testing_ok"]
    assert not row["challenged"]


def test_negatives_only_three_hours_apart_fail_the_temporal_threshold(preset):
    row, _ = _one_hexagon(preset, _hexagon_rows(BASE_CHILDREN, ["08:00", "11:00", "09:00", "09:30", "10:30"]))
    assert row["negative_span_h"] == pytest.approx(3.0)
    assert row["geographic_ok"] and not row["temporal_ok"] and row["testing_ok"]
    assert not row["challenged"]


def test_time_of_day_not_date_decides_the_separation(preset):
    """Negatives at 08:00 on two days are 24 h apart in time but 0 h apart in time of day."""
    rows = _hexagon_rows(BASE_CHILDREN, ["08:00"] * 5)
    rows[1] = (rows[1][0], "2024-06-02 08:00", *NEG)
    row, _ = _one_hexagon(preset, rows)
    assert not row["temporal_ok"]


@pytest.mark.parametrize(("where", "stamp", "status"), [
    ("hour", f"{DAY} 05:59", "outside_hours"),
    ("hour", f"{DAY} 22:00", "outside_hours"),
    ("age", "2023-06-30 13:00", "too_old"),  # dated 366 days before as_of (leap year): 365.5 days old
    ("future", "2024-07-01 13:00", "after_as_of"),
])
def test_excluded_tests_are_not_counted(preset, where, stamp, status):
    rows = _hexagon_rows(BASE_CHILDREN, BASE_HOURS)
    rows[1] = (rows[1][0], stamp, *NEG)  # the 13:00 negative moves out of the window
    classified = classify_tests(_tests(rows), _claims(), preset, as_of=AS_OF)
    assert classified.status_counts()[status] == 1
    assert STATUS[classified.status[classified.test == 1][0]] == status
    row, _ = _one_hexagon(preset, rows)
    assert row["n_tests"] == 19 and row["n_negative"] == 4 and not row["challenged"]


def test_window_edges_and_validity_edge_are_counted(preset):
    rows = _hexagon_rows(BASE_CHILDREN, ["06:00", "21:59", "09:00", "09:30", "10:30"])
    rows[2] = (rows[2][0], "2023-07-01 09:00", *NEG)  # 365 days before as_of
    row, _ = _one_hexagon(preset, rows)
    assert row["n_tests"] == 20 and row["challenged"]
    assert row["negative_span_h"] == pytest.approx(15 + 59 / 60)


def test_parent_challenged_when_four_of_seven_children_are(preset):
    parent7 = h3.cell_to_parent(HEX8, 7)
    siblings = sorted(h3.cell_to_children(parent7, 8))
    claims = _claims()

    def run(n_challenged: int):
        rows = []
        for s in siblings[:n_challenged]:
            rows += _hexagon_rows(BASE_CHILDREN, BASE_HOURS, parent_children=sorted(h3.cell_to_children(s, 9)))
        return evaluate_challenges(classify_tests(_tests(rows), claims, preset, as_of=AS_OF))

    four = run(4)
    assert four.hexagons["challenged"].sum() == 4
    assert four.challenged_cells(0, 7).tolist() == [h3.str_to_int(parent7)]
    r7 = four.rollup[four.rollup["resolution"] == 7].iloc[0]
    assert r7["children_challenged"] == 4 and r7["challenged"]
    r6 = four.rollup[four.rollup["resolution"] == 6].iloc[0]
    assert r6["children_challenged"] == 1 and not r6["challenged"]
    # an untested sibling is challenged through its parent
    untested = h3.str_to_int(siblings[6])
    assert four.is_challenged(np.array([untested]), 0).tolist() == [True]
    assert four.is_tested(np.array([untested]), 0).tolist() == [False]

    three = run(3)
    assert three.hexagons["challenged"].sum() == 3
    assert len(three.challenged_cells(0, 7)) == 0
    assert three.is_challenged(np.array([untested]), 0).tolist() == [False]


def _binomial_tail(k: int, n: int, q: float) -> float:
    """P(X >= k) for X ~ Binomial(n, q), summed term by term (independent of scipy)."""
    return math.fsum(math.comb(n, j) * q ** j * (1 - q) ** (n - j) for j in range(k, n + 1))


def test_binomial_rule_matches_an_independent_binomial_tail(preset):
    q = 1.0 - preset.cell_edge_probability
    for negatives in (3, 4, 5):
        row, _ = _one_hexagon(preset, _hexagon_rows(BASE_CHILDREN[:negatives], BASE_HOURS[:negatives]),
                              rule="binomial")
        tail = _binomial_tail(negatives, 20, q)
        assert row["p_value"] == pytest.approx(tail, rel=1e-9)
        assert row["testing_ok"] == (tail < preset.alpha)
    # P(X >= 4 | 20, 0.1) = 0.133 > 0.05 and P(X >= 5) = 0.043 < 0.05
    assert _binomial_tail(4, 20, q) > 0.05 > _binomial_tail(5, 20, q)


def test_binomial_min_negatives_against_brute_force():
    n = np.arange(1, 61)
    got = binomial_min_negatives(n, failure_rate=0.1, alpha=0.05)
    for ni, k in zip(n, got, strict=True):
        expected = next((j for j in range(ni + 1) if _binomial_tail(j, ni, 0.1) < 0.05), ni + 1)
        assert k == expected


def test_binomial_comparison_with_the_fcc_table(preset):
    table = compare_binomial_with_table(preset, n_max=100)
    assert len(table) == 100
    at20 = table.set_index("n").loc[20]
    assert at20["table_min_negatives"] == 5 and at20["binomial_min_negatives"] == 5
    summary = table.attrs["summary"]
    assert summary["rows"] == 100 and 0 < summary["rows_agreeing"] <= 100
    # the table is never laxer than the binomial rule at alpha = 0.05 (it implies alpha <= 0.05 above 20 tests)
    assert (table.loc[table["n"] > 20, "difference"] <= 0).all()
    lo, hi = summary["table_p_value_range_above_small_sample"]
    assert 0 < lo <= hi < 0.05
    assert 0 < summary["best_alpha"] < 0.05


def test_table_rule_thresholds(preset):
    assert preset.min_negatives(np.array([1, 20, 21, 29, 30, 45, 46, 100, 1000])).tolist() == \
        [5, 5, 6, 7, 7, 10, 10, 16, 160]


def test_lower_technology_counts_negative_and_other_operators_are_ignored(preset):
    rows = _hexagon_rows([], [], n_tests=3)
    fast_3g = _tests(rows, technology="3G")
    classified = classify_tests(fast_3g, _claims(), preset, as_of=AS_OF)
    assert classified.negative.all()
    other = classify_tests(_tests(rows, operator="Other"), _claims(), preset, as_of=AS_OF)
    assert len(other.test) == 0 and other.n_outside_claims == 3
    fast_5g = classify_tests(_tests(rows, technology="5G"), _claims(), preset, as_of=AS_OF)
    assert not fast_5g.negative.any()


def test_speed_tier_boundaries_are_inclusive(preset):
    rows = [(CHILDREN[0], f"{DAY} 10:00", 5.0, 1.0), (CHILDREN[0], f"{DAY} 10:00", 4.99, 1.0),
            (CHILDREN[0], f"{DAY} 10:00", 5.0, 0.99)]
    classified = classify_tests(_tests(rows), _claims(), preset, as_of=AS_OF)
    assert classified.negative[np.argsort(classified.test)].tolist() == [False, True, True]


def test_accessible_children_lower_the_geographic_threshold(preset):
    rows = _hexagon_rows([0, 1, 2, 0, 1], BASE_HOURS)
    access = pd.Series([3], index=[h3.str_to_int(HEX8)])
    row, _ = _one_hexagon(preset, rows, accessible_children=access)
    assert row["children_required"] == 3 and row["challenged"]


def test_unknown_rule_and_naive_timestamps_are_refused(preset):
    classified = classify_tests(_tests(_hexagon_rows([], [], n_tests=2)), _claims(), preset, as_of=AS_OF)
    with pytest.raises(ChallengeError, match="unknown rule 'majority'"):
        evaluate_challenges(classified, rule="majority")
    naive = _tests(_hexagon_rows([], [], n_tests=2))
    naive["timestamp"] = naive["timestamp"].dt.tz_localize(None)
    with pytest.raises(ChallengeError, match="time-zone aware"):
        classify_tests(naive, _claims(), preset, as_of=AS_OF)


def test_h3_integer_parents_and_positions_match_h3():
    rng = np.random.default_rng(7)
    lat, lon = 22.5 + rng.random(500) * 1.5, 112.9 + rng.random(500) * 1.5
    cells = latlng_cells(lat, lon, 9)
    assert [h3.int_to_str(int(c)) for c in cells[:20]] == [h3.latlng_to_cell(a, b, 9) for a, b in
                                                           zip(lat[:20], lon[:20], strict=True)]
    for res in (8, 7, 6, 0):
        expected = [h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res)) for c in cells]
        assert cell_parents(cells, res).tolist() == expected
    pos = child_positions(cells, 9)
    for c, p in zip(cells[:50], pos[:50], strict=True):
        parent = h3.cell_to_parent(h3.int_to_str(int(c)), 8)
        assert h3.cell_to_child_pos(h3.int_to_str(int(c)), 8) == p
        assert h3.int_to_str(int(c)) in h3.cell_to_children(parent, 9)


def test_hexagon_frame_polygons_contain_their_centres():
    frame = hexagon_frame(np.array([h3.str_to_int(HEX8)]))
    lat, lon = h3.cell_to_latlng(HEX8)
    assert frame.geometry.iloc[0].contains(shapely.Point(lon, lat))
    assert frame["cell"].iloc[0] == HEX8 and frame["resolution"].iloc[0] == 8


def test_shipped_preset_is_listed_and_cites_its_source(preset):
    assert "fcc-2022" in list_challenge_presets()
    assert "DA 22-241" in preset.source and "could NOT all be checked" in preset.notes
    record = preset.as_provenance()
    assert record["sha256"] and record["parameters"]["min_children"] == 4


def test_preset_errors_list_every_problem(tmp_path: Path):
    text = Path(load_challenge_preset("fcc-2022").origin).read_text(encoding="utf-8")
    bad = "colour = 'red'\n" + text
    for old, new in (("\nmin_children = 4", "\nmin_children = 9"), ("min_hours_apart = 4.0", "min_hours_apart = -1"),
                     ('temporal_basis = "time_of_day"', 'temporal_basis = "weekday"'),
                     ("min_tests = 30", "min_tests = 31")):
        bad = bad.replace(old, new)
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_challenge_preset(path)
    message = str(info.value)
    for fragment in ("min_children must be in [1, 7], got 9", "min_hours_apart must be in [0, 24], got -1",
                     "temporal_basis must be one of ['time_of_day', 'timestamp']",
                     "negative_share[1].min_tests must be 30",
                     "unknown keys ['colour']"):
        assert fragment in message
    with pytest.raises(ScenarioError, match="unknown challenge preset 'fcc-1999'"):
        load_challenge_preset("fcc-1999")
