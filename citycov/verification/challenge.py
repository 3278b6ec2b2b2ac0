"""Coverage challenges on the H3 grid: do speed tests refute an operator's claimed coverage?

The engine follows the FCC Broadband Data Collection mobile challenge process; its thresholds
come from a *challenge preset* (:mod:`citycov.presets.challenge`), never from code.  For each
claimed service (a claim *layer*: operator, technology, environment, speed tier; see
:func:`citycov.io.claims.claim_layers`):

1. **Classify** (:func:`classify_tests`).  Each test of the layer's operator and environment that
   lies inside the layer's claim polygons is *negative* when its download is below the claimed
   ``min_down_mbps`` or its upload below ``min_up_mbps`` (or, with
   ``lower_technology_is_negative``, when it ran on a lower technology than claimed), otherwise
   *positive*.  It is *counted* only when its local start time lies in ``local_hours`` and it is
   at most ``validity_days`` old on ``as_of`` (and not after it).  Its resolution-9 H3 cell (the
   *point-hex*) and that cell's resolution-8 parent are recorded.
2. **Evaluate** (:func:`evaluate_challenges`) each resolution-8 hexagon with counted tests:

   * geographic: at least ``min_children`` of its 7 point-hexes hold a (negative, with
     ``geographic_tests = "negative"``) test; ``accessible_children`` may lower this for
     hexagons with fewer reachable point-hexes;
   * temporal: at least two negative tests ``min_hours_apart`` apart (by time of day, or by
     timestamp);
   * testing: with ``n <= small_sample_max_tests`` tests at least ``small_sample_min_negatives``
     negatives; above, at least ``ceil(share(n) * n)`` from the ``negative_share`` table
     (``rule="table"``); or, ``rule="binomial"``, ``P(X >= negatives) < alpha`` for
     ``X ~ Binomial(n, 1 - cell_edge_probability)``, the one-sided test that the failure rate
     exceeds what the claimed cell-edge probability allows.

   A hexagon meeting all three is *challenged*.
3. **Roll up**: a resolution-7 hexagon is challenged when at least ``parent_min_children`` of
   its 7 resolution-8 children are, and likewise resolution 6 from 7 (``rollup_resolutions``).

H3 cells are handled as 64-bit integers: point-hexes come from one ``h3.latlng_to_cell`` per test
(h3 4.x has no vectorised call; about 1 µs each), and every parent and child position is derived
with integer bit operations on the H3 index layout (:func:`cell_parents`, :func:`child_positions`),
which is exact.  Aggregation is one sort and ``reduceat`` per figure, so 10⁶ tests classify and
evaluate in a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import h3
import h3.api.numpy_int as h3i
import numpy as np
import pandas as pd
import shapely
from scipy.stats import binom

from citycov.errors import ChallengeError
from citycov.io.claims import TECHNOLOGY_RANK, claim_layers
from citycov.presets.challenge import RULES, ChallengePreset

STATUS = ("counted", "outside_hours", "too_old", "after_as_of")
"""Status codes of classified tests (index = code)."""
_H3_RES_SHIFT = 52
_H3_DIGIT_BITS = 3
_H3_MAX_RES = 15
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


# --------------------------------------------------------------------------------------------- H3 integers
def latlng_cells(lat_deg: np.ndarray, lon_deg: np.ndarray, resolution: int) -> np.ndarray:
    """H3 cells (int64) of points in WGS84 degrees, one ``h3.latlng_to_cell`` each.

    Examples
    --------
    >>> int(latlng_cells(np.array([23.1291]), np.array([113.2644]), 9)[0]) == h3.str_to_int(
    ...     h3.latlng_to_cell(23.1291, 113.2644, 9))
    True
    """
    lat = np.asarray(lat_deg, dtype=np.float64).tolist()
    lon = np.asarray(lon_deg, dtype=np.float64).tolist()
    to_cell = h3i.latlng_to_cell
    return np.fromiter((to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)), dtype=np.int64,
                       count=len(lat))


def cell_parents(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Parents at ``resolution`` of H3 cells (int64) of a finer resolution, by bit operations.

    Sets the index's resolution field and marks the digits below ``resolution`` unused (7),
    which is exactly what ``h3.cell_to_parent`` does.
    """
    c = np.asarray(cells, dtype=np.int64)
    res_mask = np.int64(0xF) << np.int64(_H3_RES_SHIFT)
    unused = np.int64((1 << (_H3_DIGIT_BITS * (_H3_MAX_RES - resolution))) - 1)
    return (c & ~res_mask) | (np.int64(resolution) << np.int64(_H3_RES_SHIFT)) | unused


def child_positions(cells: np.ndarray, resolution: int) -> np.ndarray:
    """Digit (0..6) of H3 cells at ``resolution``: which of its parent's 7 children each cell lies in."""
    shift = np.int64(_H3_DIGIT_BITS * (_H3_MAX_RES - resolution))
    return (np.asarray(cells, dtype=np.int64) >> shift) & np.int64(7)


def hexagon_frame(cells: np.ndarray, *, crs: Any = None) -> gpd.GeoDataFrame:
    """Polygons of H3 cells (int64) with column ``cell`` (hex string) and ``resolution``, in ``crs``
    (default WGS84)."""
    polys = []
    for c in np.asarray(cells, dtype=np.int64).tolist():
        ring = h3i.cell_to_boundary(c)
        polys.append(shapely.Polygon([(lng, lat) for lat, lng in ring]))
    frame = gpd.GeoDataFrame({"cell": [h3.int_to_str(c) for c in np.asarray(cells).tolist()],
                              "resolution": [h3i.get_resolution(c) for c in np.asarray(cells).tolist()]},
                             geometry=polys, crs="EPSG:4326")
    return frame if crs is None else frame.to_crs(crs)


# --------------------------------------------------------------------------------------------- classify
@dataclass(frozen=True)
class ClassifiedTests:
    """One row per (test, claim layer) for every test inside a layer's claim polygons.

    Arrays, all of one length: ``test`` (row of the tests frame), ``layer`` (row of ``layers``),
    ``cell_child`` and ``cell`` (H3 int64 at the child and challenge resolutions), ``negative``
    (bool), ``status`` (int8 index into :data:`STATUS`), ``time_of_day_s`` (local seconds since
    midnight) and ``time_s`` (Unix seconds).  ``layers`` is :func:`citycov.io.claims.claim_layers`.
    """

    test: np.ndarray
    layer: np.ndarray
    cell_child: np.ndarray
    cell: np.ndarray
    negative: np.ndarray
    status: np.ndarray
    time_of_day_s: np.ndarray
    time_s: np.ndarray
    layers: pd.DataFrame
    preset: ChallengePreset
    as_of: pd.Timestamp
    n_tests: int
    n_outside_claims: int

    def table(self) -> pd.DataFrame:
        """The rows as a DataFrame (H3 cells as hex strings are left to :func:`h3.int_to_str`)."""
        return pd.DataFrame({"test": self.test, "layer": self.layer, "cell_child": self.cell_child,
                             "cell": self.cell, "negative": self.negative,
                             "status": pd.Categorical.from_codes(self.status, STATUS),
                             "time_of_day_s": self.time_of_day_s})

    def status_counts(self) -> pd.Series:
        """Rows per status, every status listed."""
        return pd.Series(np.bincount(self.status, minlength=len(STATUS)), index=list(STATUS), name="rows")


_TEST_COLUMNS = ("timestamp", "lon", "lat", "operator", "technology", "environment", "download_mbps", "upload_mbps")


def _as_of(as_of: Any, tz: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz) if tz is not None else stamp.tz_localize("UTC")
    return stamp


def classify_tests(tests: pd.DataFrame, claims: gpd.GeoDataFrame, preset: ChallengePreset, *,
                   as_of: Any) -> ClassifiedTests:
    """Match tests to the claim layers containing them and classify each negative or positive.

    Parameters
    ----------
    tests
        Validated tests (``MeasurementSet.tests``): a GeoDataFrame of points in the claims' CRS
        with the columns ``timestamp`` (tz-aware local time), ``lon``, ``lat`` (WGS84),
        ``operator``, ``technology``, ``environment``, ``download_mbps``, ``upload_mbps``.
    claims
        Validated claim polygons (:func:`citycov.io.claims.read_claims`) in the same CRS.
    preset
        The challenge thresholds.
    as_of
        Date (or time) the challenge is evaluated at; tests older than ``validity_days`` or later
        than it are not counted.  A naive value is in the tests' time zone.

    Raises
    ------
    ChallengeError
        Missing columns, a naive ``timestamp`` column, or tests and claims in different CRSs.
    """
    problems = []
    missing = [c for c in _TEST_COLUMNS if c not in tests.columns]
    if missing:
        problems.append(f"tests: missing columns {missing} (read them with read_measurements)")
    if isinstance(tests, gpd.GeoDataFrame) and tests.crs is not None and claims.crs is not None \
            and not tests.crs.equals(claims.crs):
        problems.append(f"tests are in {tests.crs.to_string()} but claims in {claims.crs.to_string()}; "
                        "read both with the same crs=")
    if not missing and getattr(tests["timestamp"].dt, "tz", None) is None:
        problems.append("tests: timestamp must be time-zone aware (read_measurements makes it so)")
    if problems:
        raise ChallengeError("; ".join(problems))
    tz = tests["timestamp"].dt.tz
    stamp = _as_of(as_of, tz)
    layers = claim_layers(claims)
    x = tests.geometry.x.to_numpy() if isinstance(tests, gpd.GeoDataFrame) else None
    y = tests.geometry.y.to_numpy() if isinstance(tests, gpd.GeoDataFrame) else None
    if x is None:
        raise ChallengeError("tests must be a GeoDataFrame of points in the claims' CRS")
    operator = tests["operator"].to_numpy(dtype=object)
    environment = tests["environment"].to_numpy(dtype=object)
    tech_rank = tests["technology"].map(TECHNOLOGY_RANK).to_numpy(dtype=np.float64)
    down = tests["download_mbps"].to_numpy(dtype=np.float64)
    up = tests["upload_mbps"].to_numpy(dtype=np.float64)

    idx_parts, layer_parts, neg_parts = [], [], []
    in_any = np.zeros(len(tests), dtype=bool)
    geoms = claims.geometry.to_numpy()
    for row in layers.itertuples(index=False):
        candidates = np.flatnonzero((operator == row.operator) & (environment == row.environment))
        if not len(candidates):
            continue
        area = shapely.union_all(geoms[list(row.features)])
        shapely.prepare(area)
        inside = candidates[shapely.contains_xy(area, x[candidates], y[candidates])]
        in_any[inside] = True
        rank = TECHNOLOGY_RANK[row.technology]
        lower = tech_rank[inside] < rank
        if not preset.lower_technology_is_negative:
            inside, lower = inside[~lower], lower[~lower]
        negative = (down[inside] < row.min_down_mbps) | (up[inside] < row.min_up_mbps) | lower
        idx_parts.append(inside)
        layer_parts.append(np.full(len(inside), row.layer, dtype=np.int64))
        neg_parts.append(negative)
    test = np.concatenate(idx_parts) if idx_parts else np.zeros(0, dtype=np.int64)
    layer = np.concatenate(layer_parts) if layer_parts else np.zeros(0, dtype=np.int64)
    negative = np.concatenate(neg_parts) if neg_parts else np.zeros(0, dtype=bool)

    unique_tests, back = np.unique(test, return_inverse=True)
    lat = tests["lat"].to_numpy(dtype=np.float64)[unique_tests]
    lon = tests["lon"].to_numpy(dtype=np.float64)[unique_tests]
    child = latlng_cells(lat, lon, preset.child_resolution)[back]
    cell = cell_parents(child, preset.resolution)

    ts = tests["timestamp"].iloc[test] if len(test) else tests["timestamp"].iloc[:0]
    utc_ns = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    local_ns = ts.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    time_s = utc_ns // 1_000_000_000
    tod = (local_ns // 1_000_000_000) % 86_400
    start_s, end_s = preset.local_hours[0] * 3600.0, preset.local_hours[1] * 3600.0
    age_s = stamp.value // 1_000_000_000 - time_s
    status = np.zeros(len(test), dtype=np.int8)
    status[(tod < start_s) | (tod >= end_s)] = STATUS.index("outside_hours")
    status[age_s > preset.validity_days * 86_400.0] = STATUS.index("too_old")
    status[age_s < 0] = STATUS.index("after_as_of")
    return ClassifiedTests(test=test, layer=layer, cell_child=child, cell=cell, negative=negative, status=status,
                           time_of_day_s=tod.astype(np.int64), time_s=time_s, layers=layers, preset=preset,
                           as_of=stamp, n_tests=len(tests), n_outside_claims=int((~in_any).sum()))


# --------------------------------------------------------------------------------------------- evaluate
@dataclass(frozen=True)
class ChallengeResult:
    """Verdicts per claim layer and hexagon.

    ``hexagons``: one row per (layer, resolution-``preset.resolution`` cell) with counted tests:
    ``layer``, ``cell`` (H3 int64), ``n_tests``, ``n_negative``, ``children_tested``,
    ``children_negative``, ``children_required``, ``negative_span_h``, ``min_negatives`` (the
    table rule), ``p_value`` (binomial tail), ``geographic_ok``, ``temporal_ok``,
    ``testing_ok`` (under ``rule``) and ``challenged``.  ``rollup``: one row per (layer,
    resolution, parent cell) with any challenged child: ``children_challenged`` and
    ``challenged``.
    """

    hexagons: pd.DataFrame
    rollup: pd.DataFrame
    layers: pd.DataFrame
    preset: ChallengePreset
    rule: str
    as_of: pd.Timestamp
    status_counts: pd.Series = field(default_factory=pd.Series)

    def challenged_cells(self, layer: int, resolution: int | None = None) -> np.ndarray:
        """Challenged H3 cells (int64) of ``layer`` at ``resolution`` (default the challenge resolution)."""
        res = self.preset.resolution if resolution is None else resolution
        if res == self.preset.resolution:
            h = self.hexagons
            return h.loc[(h["layer"] == layer) & h["challenged"], "cell"].to_numpy(dtype=np.int64)
        r = self.rollup
        return r.loc[(r["layer"] == layer) & (r["resolution"] == res) & r["challenged"], "cell"].to_numpy(np.int64)

    def is_challenged(self, cells: np.ndarray, layer: int) -> np.ndarray:
        """Bool per H3 cell at the challenge resolution: challenged itself or through a rolled-up parent."""
        cells = np.asarray(cells, dtype=np.int64)
        out = np.isin(cells, self.challenged_cells(layer))
        for res in self.preset.rollup_resolutions:
            out |= np.isin(cell_parents(cells, res), self.challenged_cells(layer, res))
        return out

    def is_tested(self, cells: np.ndarray, layer: int) -> np.ndarray:
        """Bool per H3 cell at the challenge resolution: holds counted tests of ``layer``."""
        h = self.hexagons
        return np.isin(np.asarray(cells, dtype=np.int64), h.loc[h["layer"] == layer, "cell"].to_numpy(np.int64))


def _group_starts(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order sorting by ``keys`` (last key primary) and the start of each run of equal keys."""
    order = np.lexsort(keys)
    n = len(order)
    if n == 0:
        return order, np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        s = k[order]
        change[1:] |= s[1:] != s[:-1]
    return order, np.flatnonzero(change)


def evaluate_challenges(classified: ClassifiedTests, *, rule: str = "table",
                        accessible_children: pd.Series | None = None) -> ChallengeResult:
    """Apply the geographic, temporal and testing thresholds, then roll up to coarser hexagons.

    Parameters
    ----------
    classified
        Output of :func:`classify_tests`.
    rule
        Testing threshold: ``"table"`` (the preset's table) or ``"binomial"``; see :data:`RULES`.
    accessible_children
        Optional number of reachable child point-hexes per challenge-resolution cell (index: H3
        int64); the geographic threshold becomes ``min(min_children, accessible)`` there.

    Examples
    --------
    >>> result = evaluate_challenges(classify_tests(tests, claims, preset, as_of="2024-06-30"))  # doctest: +SKIP
    >>> result.hexagons.query("challenged")  # doctest: +SKIP
    """
    if rule not in RULES:
        raise ChallengeError(f"unknown rule {rule!r}; expected one of {sorted(RULES)}")
    p = classified.preset
    counted = classified.status == 0
    layer = classified.layer[counted]
    cell = classified.cell[counted]
    neg = classified.negative[counted]
    digit = child_positions(classified.cell_child[counted], p.child_resolution)
    t = (classified.time_of_day_s if p.temporal_basis == "time_of_day" else classified.time_s)[counted]
    t = t.astype(np.float64)

    order, starts = _group_starts(cell, layer)
    neg_s = neg[order]
    bits = np.left_shift(np.int64(1), digit[order])
    n_tests = np.diff(np.append(starts, len(order)))
    if len(order):
        n_neg = np.add.reduceat(neg_s.astype(np.int64), starts)
        tested_bits = np.bitwise_or.reduceat(bits, starts)
        neg_bits = np.bitwise_or.reduceat(np.where(neg_s, bits, 0), starts)
        t_s = t[order]
        t_min = np.minimum.reduceat(np.where(neg_s, t_s, np.inf), starts)
        t_max = np.maximum.reduceat(np.where(neg_s, t_s, -np.inf), starts)
    else:
        n_neg = tested_bits = neg_bits = np.zeros(0, dtype=np.int64)
        t_min = t_max = np.zeros(0)
    span_h = np.where(n_neg >= 2, (t_max - t_min) / 3600.0, 0.0)
    hex_layer = layer[order][starts]
    hex_cell = cell[order][starts]
    children_tested = _POPCOUNT8[tested_bits & 0xFF]
    children_negative = _POPCOUNT8[neg_bits & 0xFF]
    required = np.full(len(starts), p.min_children, dtype=np.int64)
    if accessible_children is not None:
        acc = accessible_children.reindex(hex_cell).to_numpy(dtype=np.float64)
        required = np.where(np.isfinite(acc), np.minimum(required, acc), required).astype(np.int64)
    geo_count = children_negative if p.geographic_tests == "negative" else children_tested
    geographic_ok = geo_count >= required
    temporal_ok = (n_neg >= p.min_negatives_apart) & (span_h >= p.min_hours_apart - 1e-9)
    min_neg = p.min_negatives(n_tests)
    p_value = binom.sf(n_neg - 1, n_tests, 1.0 - p.cell_edge_probability)
    testing_ok = (n_neg >= min_neg) if rule == "table" else (p_value < p.alpha)
    challenged = geographic_ok & temporal_ok & testing_ok
    hexagons = pd.DataFrame({
        "layer": hex_layer, "cell": hex_cell, "n_tests": n_tests, "n_negative": n_neg,
        "children_tested": children_tested, "children_negative": children_negative, "children_required": required,
        "negative_span_h": span_h, "min_negatives": min_neg, "p_value": p_value, "geographic_ok": geographic_ok,
        "temporal_ok": temporal_ok, "testing_ok": testing_ok, "challenged": challenged,
    })
    rollup = _rollup(hex_layer[challenged], hex_cell[challenged], p)
    return ChallengeResult(hexagons=hexagons, rollup=rollup, layers=classified.layers, preset=p, rule=rule,
                           as_of=classified.as_of, status_counts=classified.status_counts())


def _rollup(layer: np.ndarray, cells: np.ndarray, p: ChallengePreset) -> pd.DataFrame:
    frames = []
    for res in p.rollup_resolutions:
        parents = cell_parents(cells, res)
        order, starts = _group_starts(parents, layer)
        count = np.diff(np.append(starts, len(order)))
        par_layer, par_cell = layer[order][starts], parents[order][starts]
        challenged = count >= p.parent_min_children
        frames.append(pd.DataFrame({"layer": par_layer, "resolution": res, "cell": par_cell,
                                    "children_challenged": count, "challenged": challenged}))
        layer, cells = par_layer[challenged], par_cell[challenged]
    if not frames:
        return pd.DataFrame(columns=["layer", "resolution", "cell", "children_challenged", "challenged"])
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------- binomial
def binomial_min_negatives(n_tests: np.ndarray, *, failure_rate: float, alpha: float) -> np.ndarray:
    """Smallest number of negatives k with ``P(X >= k) < alpha``, ``X ~ Binomial(n, failure_rate)``.

    ``n + 1`` (impossible) where even ``k = n`` is not significant.

    Examples
    --------
    >>> binomial_min_negatives(np.array([20]), failure_rate=0.1, alpha=0.05).tolist()
    [5]
    """
    n = np.asarray(n_tests, dtype=np.int64)
    out = np.empty(n.shape, dtype=np.int64)
    for i, ni in np.ndenumerate(n):
        k = np.arange(ni + 1)
        significant = np.flatnonzero(binom.sf(k - 1, ni, failure_rate) < alpha)
        out[i] = int(significant[0]) if len(significant) else ni + 1
    return out


def compare_binomial_with_table(preset: ChallengePreset, *, n_max: int = 100,
                                cell_edge_probability: float | None = None,
                                alpha: float | None = None) -> pd.DataFrame:
    """How closely the binomial rule reproduces the preset's testing threshold, for n = 1..``n_max``.

    Returns one row per n: ``table_min_negatives``, ``binomial_min_negatives``, ``difference``
    (binomial − table) and ``table_p_value`` (the binomial tail at the table's threshold, i.e.
    the false-challenge rate the table implies for a claim that exactly meets its cell-edge
    probability).  ``attrs`` holds a summary: rows that agree, the largest absolute
    difference, the range of implied p-values for n above the small-sample cut-off, and the
    parameters used.

    Examples
    --------
    >>> from citycov.presets.challenge import load_challenge_preset
    >>> table = compare_binomial_with_table(load_challenge_preset("fcc-2022"), n_max=20)
    >>> int(table.loc[table["n"] == 20, "binomial_min_negatives"].iloc[0])
    5
    """
    p_edge = preset.cell_edge_probability if cell_edge_probability is None else cell_edge_probability
    a = preset.alpha if alpha is None else alpha
    n = np.arange(1, n_max + 1)
    table_min = preset.min_negatives(n)
    binom_min = binomial_min_negatives(n, failure_rate=1.0 - p_edge, alpha=a)
    p_table = binom.sf(table_min - 1, n, 1.0 - p_edge)
    out = pd.DataFrame({"n": n, "table_min_negatives": table_min, "binomial_min_negatives": binom_min,
                        "difference": binom_min - table_min, "table_p_value": p_table})
    large = out["n"] > preset.small_sample_max_tests
    out.attrs["summary"] = {
        "cell_edge_probability": p_edge, "alpha": a, "n_max": n_max,
        "rows_agreeing": int((out["difference"] == 0).sum()), "rows": int(len(out)),
        "max_abs_difference": int(out["difference"].abs().max()),
        "table_p_value_range_above_small_sample": (
            [float(out.loc[large, "table_p_value"].min()), float(out.loc[large, "table_p_value"].max())]
            if large.any() else None),
        "possible_from_n": int(n[np.argmax(table_min <= n)]) if (table_min <= n).any() else None,
    }
    out.attrs["summary"].update(_best_alpha(n[large.to_numpy()], table_min[large.to_numpy()], 1.0 - p_edge))
    return out


def _best_alpha(n: np.ndarray, table_min: np.ndarray, failure_rate: float) -> dict[str, Any]:
    """The alpha (on a log grid 1e-4..0.2) whose binomial thresholds agree with the most table rows."""
    if not len(n):
        return {"best_alpha": None, "best_alpha_rows_agreeing": 0}
    k = np.arange(int(n.max()) + 2)
    tail = binom.sf(k[None, :] - 1, n[:, None], failure_rate)  # P(X >= k), rows n
    grid = np.geomspace(1e-4, 0.2, 400)
    agree = []
    for a in grid:
        significant = tail < a
        first = np.where(significant.any(axis=1), significant.argmax(axis=1), n + 1)
        agree.append(int((first == table_min).sum()))
    best = int(np.argmax(agree))
    return {"best_alpha": float(grid[best]), "best_alpha_rows_agreeing": agree[best],
            "best_alpha_rows": int(len(n))}
