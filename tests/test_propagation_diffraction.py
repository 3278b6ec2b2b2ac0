"""ITU-R P.526 diffraction: exact single knife edge, Fresnel integrals and multiple edges.

Expectations come from ``tests/data/reference/`` (copied unchanged from the shared reference
folder; see the README there) or from formulas written out here, never from citycov itself.
The eq. (31) rows of ``knife_edge_J_nu_p526.csv`` are covered by ``test_propagation.py``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from citycov.errors import ModelError
from citycov.propagation import (
    MULTI_EDGE_METHODS,
    knife_edge_loss_db,
    multi_knife_edge_loss_curved_db,
    multi_knife_edge_loss_db,
)
from citycov.propagation.diffraction import fresnel_cs

REFERENCE = Path(__file__).parent / "data" / "reference"
SPEED_OF_LIGHT_M_S = 299_792_458.0
EARTH_RADIUS_M = 6_371_000.0  # the mean earth radius the curved variant is documented to use
TOL_DB = 0.01  # formulas/ tolerance (shared reference README)
METHODS = ("deygout", "epstein_peterson", "bullington")
METHOD_COLUMNS = {
    "deygout": "L_deygout__db",
    "epstein_peterson": "L_epstein_peterson__db",
    "bullington": "L_bullington__db",
}


def _read(name: str) -> list[dict[str, str]]:
    with (REFERENCE / name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{name} is empty"
    return rows


def _rows(name: str) -> list[pytest.param]:
    return [pytest.param(row, id=f"{name.removesuffix('.csv')}-{i}")
            for i, row in enumerate(_read(name), start=2)]


def _log10(x: float) -> float:
    # Natural logarithms on purpose, so the expectation shares no code with the kernel.
    return math.log(x) / math.log(10.0)


def _j_eq31(nu: float) -> float:
    """P.526 eq. (31), written out: 6.9 + 20 log10(√((ν−0.1)²+1) + ν − 0.1) for ν > −0.78."""
    if nu <= -0.78:
        return 0.0
    t = nu - 0.1
    return 6.9 + 20.0 * _log10(math.sqrt(t * t + 1.0) + t)


def _profile(row: dict[str, str]) -> tuple[list[float], list[float]]:
    """The ``x:y x:y ...`` column (transmitter, edges, receiver; antenna heights at the ends)."""
    column = next(k for k in row if k.startswith("profile_x_m:y_m"))
    x, z = zip(*(map(float, point.split(":")) for point in row[column].split()), strict=True)
    return list(x), list(z)


MULTI_ROWS = _read("multi_knife_edge_synthetic.csv")


# --------------------------------------------------------------------------------------
# Exact single knife edge (Fresnel integrals)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", _rows("knife_edge_J_nu_p526.csv"))
def test_exact_knife_edge_matches_p526_reference(row):
    got = knife_edge_loss_db(float(row["nu"]), exact=True)
    assert got == pytest.approx(float(row["J_exact_fresnel__db"]), abs=TOL_DB)


@pytest.mark.parametrize("row", _rows("knife_edge_geometry_examples.csv"))
def test_exact_knife_edge_geometry_examples(row):
    lam = SPEED_OF_LIGHT_M_S / (float(row["f__mhz"]) * 1e6)
    d1, d2, h = float(row["d1__m"]), float(row["d2__m"]), float(row["h__m"])
    nu = h * math.sqrt(2 * (d1 + d2) / (lam * d1 * d2))  # P.526 eq. (26)
    assert nu == pytest.approx(float(row["nu"]), abs=1e-4)
    assert knife_edge_loss_db(nu, exact=True) == pytest.approx(float(row["J_exact__db"]), abs=TOL_DB)


def test_exact_knife_edge_at_grazing_is_6_db():
    # C(0) = S(0) = 0, so J(0) = −20 log10(√(1² + 0²)/2) = 20 log10 2 = 6.0206 dB, exactly.
    assert knife_edge_loss_db(0.0, exact=True) == pytest.approx(20 * _log10(2.0), abs=1e-12)
    assert knife_edge_loss_db(0.0, exact=True) == pytest.approx(6.0206, abs=1e-4)


@pytest.mark.parametrize("nu", [5.0, 8.0, 20.0, 50.0])
def test_exact_knife_edge_tends_to_its_asymptote_for_large_nu(nu):
    # Deep in the shadow C, S → 1/2 + O(1/ν) and the exact loss tends to 20 log10(π√2·ν)
    # (= 12.95 dB + 20 log10 ν); within 0.01 dB from ν = 5 on.
    exact = knife_edge_loss_db(nu, exact=True)
    assert exact == pytest.approx(20 * _log10(math.pi * math.sqrt(2.0) * nu), abs=0.01)


def test_exact_knife_edge_approaches_eq31_for_large_nu():
    # Eq. (31) is P.526's fit to the exact curve.  Their gap is not below 0.1 dB at ν = 5: the
    # shared reference itself lists 26.9362 (exact) against 26.8136 (eq. 31) there, 0.123 dB.
    # It peaks near ν = 5 (0.1226 dB) and then closes slowly (0.098 dB at ν = 10, 0.049 at 50)
    # towards 20 log10(π√2) − 6.9 − 20 log10 2 = 0.0327 dB, since eq. (31) → 6.9 + 20 log10(2ν).
    nu = np.array([5.0, 10.0, 20.0, 50.0, 200.0])
    gap = knife_edge_loss_db(nu, exact=True) - np.array([_j_eq31(v) for v in nu])
    assert np.all(gap > 0)
    assert np.all(np.diff(gap) < 0)
    assert gap[0] == pytest.approx(26.9362 - 26.8136, abs=2e-3)
    assert np.all(gap[1:] < 0.1)
    limit = 20 * _log10(math.pi * math.sqrt(2.0)) - 6.9 - 20 * _log10(2.0)
    assert gap[-1] == pytest.approx(limit, abs=0.005)


def test_exact_knife_edge_array_matches_scalars():
    nu = np.array([[-3.0, -0.5], [0.0, 2.4]])
    out = knife_edge_loss_db(nu, exact=True)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float64
    assert out.shape == (2, 2)
    for idx in np.ndindex(nu.shape):
        assert out[idx] == knife_edge_loss_db(float(nu[idx]), exact=True)


# --------------------------------------------------------------------------------------
# Fresnel integrals C(x) = ∫₀ˣ cos(πt²/2) dt, S(x) = ∫₀ˣ sin(πt²/2) dt
# --------------------------------------------------------------------------------------


def _fresnel_simpson(x: float, intervals_per_unit: int = 20_000) -> tuple[float, float]:
    """Composite Simpson on [0, x] with h ≤ 5e-5.

    The error bound is |x|·h⁴·max|f⁗|/180 with |f⁗| ≲ (π|x|)⁴ + lower terms, about 3e-13 at
    x = 10: three orders below the 1e-8 asked of the kernel.
    """
    n = max(2, 2 * math.ceil(abs(x) * intervals_per_unit / 2))
    t = np.linspace(0.0, x, n + 1)
    w = np.ones(n + 1)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    phase = 0.5 * np.pi * t * t
    h = x / n
    return float(h / 3 * np.sum(w * np.cos(phase))), float(h / 3 * np.sum(w * np.sin(phase)))


@pytest.mark.parametrize("x", [-5.0, -1.0, 0.0, 0.5, 1.0, 2.0, 3.4, 3.5, 3.6, 5.0, 10.0])
def test_fresnel_integrals_match_quadrature(x):
    # 3.4/3.5/3.6 straddle the switch from the power series to the asymptotic expansion.
    c, s = fresnel_cs(x)
    c_ref, s_ref = _fresnel_simpson(x)
    assert c == pytest.approx(c_ref, abs=1e-8)
    assert s == pytest.approx(s_ref, abs=1e-8)


def test_fresnel_integrals_known_values():
    # Abramowitz & Stegun Table 7.7: C(1) = 0.7798934004, S(1) = 0.4382591474.
    c, s = fresnel_cs(1.0)
    assert c == pytest.approx(0.7798934004, abs=1e-9)
    assert s == pytest.approx(0.4382591474, abs=1e-9)
    assert fresnel_cs(0.0) == (0.0, 0.0)


@pytest.mark.parametrize("x", [0.3, 1.0, 2.7, 3.5, 4.2, 7.0, 12.5])
def test_fresnel_integrals_are_odd(x):
    c, s = fresnel_cs(x)
    c_neg, s_neg = fresnel_cs(-x)
    assert c_neg == pytest.approx(-c, abs=1e-15)
    assert s_neg == pytest.approx(-s, abs=1e-15)


@pytest.mark.parametrize("x", [50.0, 137.3, 1000.0])
def test_fresnel_integrals_large_x(x):
    # C, S → 1/2; the leading asymptotic terms are C ≈ 1/2 + sin(πx²/2)/(πx) and
    # S ≈ 1/2 − cos(πx²/2)/(πx), with the next term of order 1/(π²x³) (< 1e-6 at x = 50).
    c, s = fresnel_cs(x)
    assert abs(c - 0.5) <= 1 / (math.pi * x) + 1e-6
    assert abs(s - 0.5) <= 1 / (math.pi * x) + 1e-6
    phase = 0.5 * math.pi * x * x
    assert c == pytest.approx(0.5 + math.sin(phase) / (math.pi * x), abs=1e-5)
    assert s == pytest.approx(0.5 - math.cos(phase) / (math.pi * x), abs=1e-5)
    if x >= 1000.0:
        assert c == pytest.approx(0.5, abs=1e-3)
        assert s == pytest.approx(0.5, abs=1e-3)


# --------------------------------------------------------------------------------------
# Multiple knife edges, flat earth
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", MULTI_ROWS, ids=[r["scenario"] for r in MULTI_ROWS])
def test_multi_knife_edge_matches_reference(row, method):
    x, z = _profile(row)
    got = multi_knife_edge_loss_db(x, z, float(row["f__mhz"]), method=method)
    assert got == pytest.approx(float(row[METHOD_COLUMNS[method]]), abs=TOL_DB)


@pytest.mark.parametrize("row", MULTI_ROWS, ids=[r["scenario"] for r in MULTI_ROWS])
def test_multi_knife_edge_method_ordering(row):
    # Deygout (principal edge + its sub-path edges) ≥ Epstein-Peterson ≥ Bullington (one edge)
    # on these profiles, as the reference columns show.
    x, z = _profile(row)
    f = float(row["f__mhz"])
    deygout, ep, bullington = (multi_knife_edge_loss_db(x, z, f, method=m) for m in METHODS)
    assert deygout >= ep - 1e-9
    assert ep >= bullington - 1e-9


def test_multi_knife_edge_hand_worked_single_edge():
    """One edge on a sloping path, worked by hand (P.526 eqs. 26 and 31).

    f = 300 MHz: λ = 299 792 458 / 3e8 = 0.999308 m.  Tx 10 m at x = 0, Rx 30 m at 8 km,
    edge 60 m at 3 km: the direct ray is at 10 + 20·3/8 = 17.5 m there, so h = 42.5 m,
    d1 = 3000 m, d2 = 5000 m;  ν = 42.5·√(2·8000 / (0.999308·3000·5000)) = 1.38852;
    J = 6.9 + 20 log10(√(1.28852² + 1) + 1.28852) = 6.9 + 20 log10(2.919566) = 16.2064 dB.
    """
    lam = SPEED_OF_LIGHT_M_S / 300e6
    h = 60.0 - (10.0 + (30.0 - 10.0) * 3000.0 / 8000.0)
    nu = h * math.sqrt(2 * (3000.0 + 5000.0) / (lam * 3000.0 * 5000.0))
    assert nu == pytest.approx(1.38852, abs=1e-5)
    expected = _j_eq31(nu)
    assert expected == pytest.approx(16.2064, abs=1e-4)  # the arithmetic in the docstring
    for method in METHODS:
        got = multi_knife_edge_loss_db([0.0, 3000.0, 8000.0], [10.0, 60.0, 30.0], 300.0, method=method)
        assert got == pytest.approx(expected, abs=1e-9), method


def test_single_edge_profiles_give_the_same_loss_for_every_method():
    # With one intermediate point every method reduces to that one knife edge.
    rng = np.random.default_rng(20240917)
    for _ in range(40):
        d = rng.uniform(500.0, 50_000.0)
        x1 = rng.uniform(0.05, 0.95) * d
        z = [rng.uniform(0.0, 200.0), rng.uniform(-50.0, 400.0), rng.uniform(0.0, 200.0)]
        f = rng.uniform(30.0, 6000.0)
        lam = SPEED_OF_LIGHT_M_S / (f * 1e6)
        h = z[1] - (z[0] + (z[2] - z[0]) * x1 / d)
        expected = _j_eq31(h * math.sqrt(2 * d / (lam * x1 * (d - x1))))
        losses = [multi_knife_edge_loss_db([0.0, x1, d], z, f, method=m) for m in METHODS]
        for method, loss in zip(METHODS, losses, strict=True):
            assert loss == pytest.approx(expected, abs=1e-6), (method, d, x1, z, f)


@pytest.mark.parametrize("method", METHODS)
def test_list_and_array_inputs_agree(method):
    row = next(r for r in MULTI_ROWS if r["scenario"] == "three_edges")
    x, z = _profile(row)
    f = float(row["f__mhz"])
    from_lists = multi_knife_edge_loss_db(x, z, f, method=method)
    from_arrays = multi_knife_edge_loss_db(np.array(x), np.array(z), f, method=method)
    from_ints = multi_knife_edge_loss_db(np.array(x, dtype=np.int64), np.array(z, dtype=np.int64), f, method=method)
    assert type(from_lists) is float
    assert from_lists == from_arrays == from_ints


@pytest.mark.parametrize("method", METHODS)
def test_line_of_sight_with_large_clearance_is_lossless(method):
    # Edges 100 m and 80 m below a 10 km ray at 1 GHz: ν ≈ −5, far below −0.78, so J = 0.
    x = [0.0, 3000.0, 5000.0, 7500.0, 10_000.0]
    z = [100.0, 10.0, 0.0, 20.0, 100.0]
    assert multi_knife_edge_loss_db(x, z, 1000.0, method=method) == 0.0
    # Two points only (no edge at all): no diffraction loss either.
    assert multi_knife_edge_loss_db([0.0, 10_000.0], [30.0, 10.0], 1000.0, method=method) == 0.0


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("step_m", [25.0, 100.0, 500.0])
def test_sampled_flat_line_of_sight_profile_is_lossless(method, step_m):
    """Flat ground sampled every ``step_m`` (as a DEM profile is), 200 m masts, 10 km, 900 MHz.

    Every ground sample lies 200 m below the direct ray, where the first Fresnel radius
    √(λ·d1·d2/d) is at most 28.9 m: ν = −200·√(2d/(λ·d1·d2)) ≤ −9.8 (mid-path), far below
    −0.78.  An unobstructed path has no diffraction loss, and the answer must not depend on
    how finely the flat ground is sampled.
    """
    x = np.arange(0.0, 10_000.0 + step_m / 2, step_m)
    z = np.zeros_like(x)
    z[0] = z[-1] = 200.0
    lam = SPEED_OF_LIGHT_M_S / 900e6
    d1, d2 = x[1:-1], x[-1] - x[1:-1]
    h = z[1:-1] - 200.0  # the direct ray is horizontal at 200 m
    assert np.all(h * np.sqrt(2 * (d1 + d2) / (lam * d1 * d2)) < -0.78)
    assert multi_knife_edge_loss_db(x, z, 900.0, method=method) == pytest.approx(0.0, abs=1e-9)


def test_inputs_are_not_modified():
    x = np.array([0.0, 4000.0, 7000.0, 10_000.0])
    z = np.array([30.0, 60.0, 60.0, 20.0])
    x0, z0 = x.copy(), z.copy()
    for method in METHODS:
        multi_knife_edge_loss_db(x, z, 150.0, method=method)
        multi_knife_edge_loss_curved_db(x, z, 150.0, method=method)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(z, z0)


# --------------------------------------------------------------------------------------
# Multiple knife edges, curved earth
# --------------------------------------------------------------------------------------


def _bulge(x: list[float], k: float) -> np.ndarray:
    xa = np.asarray(x, dtype=float)
    return xa * (xa[-1] - xa) / (2.0 * k * EARTH_RADIUS_M)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", MULTI_ROWS, ids=[r["scenario"] for r in MULTI_ROWS])
@pytest.mark.parametrize("k", [4.0 / 3.0, 1.0, 0.5, 99.0])
def test_curved_equals_flat_on_bulged_profile(row, method, k):
    x, z = _profile(row)
    f = float(row["f__mhz"])
    z_bulged = np.asarray(z) + _bulge(x, k)  # earth bulge x(d − x)/(2 k R), computed here
    expected = multi_knife_edge_loss_db(x, z_bulged, f, method=method)
    got = multi_knife_edge_loss_curved_db(x, z, f, method=method, k_factor=k)
    assert got == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", MULTI_ROWS, ids=[r["scenario"] for r in MULTI_ROWS])
def test_curved_with_large_k_tends_to_flat(row, method):
    """k = 99 (the largest the API allows) is nearly flat.

    Tolerance, a bound worked out per profile: the bulge is at most h_b = d²/(8kR)
    (0.029 m for d = 12 km); raising points by a concave bulge moves an edge's clearance over
    any chord by at most h_b, so its ν by at most h_b·√(2(d1+d2)/(λ d1 d2)) ≤ h_b·√(4/(λ g)),
    g the smallest spacing of the profile (the equivalent Bullington edge also lies at least
    g from both terminals); |dJ/dν| ≤ 20/ln 10 = 8.69 dB per unit ν and at most three edges
    add.  On these profiles (λ = 2 m, g ≥ 2 km) the bound is ≤ 0.024 dB; the differences
    scale as 1/k (about 0.46 dB at k = 4/3, so about 0.006 dB at k = 99).
    """
    x, z = _profile(row)
    f = float(row["f__mhz"])
    lam = SPEED_OF_LIGHT_M_S / (f * 1e6)
    xs = np.asarray(x)
    max_bulge = xs[-1] ** 2 / (8 * 99.0 * EARTH_RADIUS_M)
    min_gap = float(np.min(np.diff(xs)))
    tol = 3 * 20 / math.log(10) * max_bulge * math.sqrt(4 / (lam * min_gap))
    assert tol < 0.1  # the bound is itself small on these profiles
    flat = multi_knife_edge_loss_db(x, z, f, method=method)
    curved = multi_knife_edge_loss_curved_db(x, z, f, method=method, k_factor=99.0)
    assert curved == pytest.approx(flat, abs=tol)
    assert curved >= flat - 1e-9


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("row", MULTI_ROWS, ids=[r["scenario"] for r in MULTI_ROWS])
def test_curved_standard_atmosphere_loses_at_least_as_much_as_flat(row, method):
    # The bulge raises every intermediate point above the chord between any two others
    # (it is concave and zero at both terminals), so no edge gets less obstruction.
    x, z = _profile(row)
    f = float(row["f__mhz"])
    flat = multi_knife_edge_loss_db(x, z, f, method=method)
    curved = multi_knife_edge_loss_curved_db(x, z, f, method=method, k_factor=4.0 / 3.0)
    assert curved >= flat - 1e-9


def test_curved_default_k_is_four_thirds():
    row = MULTI_ROWS[0]
    x, z = _profile(row)
    f = float(row["f__mhz"])
    for method in METHODS:
        assert multi_knife_edge_loss_curved_db(x, z, f, method=method) == multi_knife_edge_loss_curved_db(
            x, z, f, method=method, k_factor=4.0 / 3.0
        )


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------

X_OK = [0.0, 4000.0, 7000.0, 10_000.0]
Z_OK = [30.0, 60.0, 60.0, 20.0]


def test_unknown_method():
    with pytest.raises(ModelError, match=r"unknown method 'vogler'.*bullington.*deygout.*epstein_peterson"):
        multi_knife_edge_loss_db(X_OK, Z_OK, 150.0, method="vogler")
    with pytest.raises(ModelError, match=r"unknown method 'Deygout'"):
        multi_knife_edge_loss_curved_db(X_OK, Z_OK, 150.0, method="Deygout")
    assert set(MULTI_EDGE_METHODS) == set(METHODS)


@pytest.mark.parametrize(
    "x",
    [
        pytest.param([10.0, 4000.0, 7000.0, 10_000.0], id="not-starting-at-0"),
        pytest.param([0.0, 7000.0, 4000.0, 10_000.0], id="decreasing"),
        pytest.param([0.0, 4000.0, 4000.0, 10_000.0], id="repeated"),
    ],
)
@pytest.mark.parametrize("curved", [False, True])
def test_x_must_start_at_0_and_increase(x, curved):
    call = multi_knife_edge_loss_curved_db if curved else multi_knife_edge_loss_db
    with pytest.raises(ModelError, match=r"x_m must start at 0 .*increase strictly"):
        call(x, Z_OK, 150.0, method="deygout")


@pytest.mark.parametrize(
    ("x", "z"),
    [
        pytest.param(X_OK, Z_OK[:-1], id="z-shorter"),
        pytest.param(X_OK[:-1], Z_OK, id="x-shorter"),
        pytest.param(np.array([X_OK, X_OK]), np.array([Z_OK, Z_OK]), id="2-D"),
        pytest.param([0.0], [10.0], id="one-point"),
    ],
)
def test_shapes_must_match(x, z):
    with pytest.raises(ModelError, match=r"x_m and z_m must be 1-D arrays of the same length >= 2"):
        multi_knife_edge_loss_db(x, z, 150.0, method="bullington")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_heights_are_refused(bad):
    with pytest.raises(ModelError, match=r"must be finite"):
        multi_knife_edge_loss_db(X_OK, [30.0, bad, 60.0, 20.0], 150.0, method="epstein_peterson")
    with pytest.raises(ModelError, match=r"must be finite"):
        multi_knife_edge_loss_db([0.0, bad, 7000.0, 10_000.0], Z_OK, 150.0, method="epstein_peterson")


@pytest.mark.parametrize("freq", [0.0, -150.0, math.nan])
def test_bad_frequency_is_refused(freq):
    with pytest.raises(ModelError, match=r"freq_mhz must be in"):
        multi_knife_edge_loss_db(X_OK, Z_OK, freq, method="deygout")


@pytest.mark.parametrize("k", [0.0, -1.0, 100.0, 1e9])
def test_k_factor_outside_0_100_is_refused(k):
    with pytest.raises(ModelError, match=r"k_factor must be in \(0, 100\)"):
        multi_knife_edge_loss_curved_db(X_OK, Z_OK, 150.0, method="deygout", k_factor=k)


@pytest.mark.parametrize("exact", [False, True])
def test_knife_edge_nan_is_refused(exact):
    with pytest.raises(ModelError, match=r"nu must be a number, got NaN"):
        knife_edge_loss_db(math.nan, exact=exact)
    with pytest.raises(ModelError, match=r"nu must be a number"):
        knife_edge_loss_db(np.array([0.0, np.nan]), exact=exact)


# --------------------------------------------------------------------------------------
# Sampled terrain: edges="hull" keeps only the upper-hull vertices as candidate edges


@pytest.mark.parametrize("method", METHODS)
def test_sampled_ridge_with_hull_edges_equals_single_edge(method):
    """A triangular ridge sampled every 50 m: its top is the only hull vertex between the
    terminals, so every method gives the single knife-edge loss of that top (worked by hand)."""
    x = np.arange(0.0, 10_000.0 + 25.0, 50.0)
    z = np.clip(60.0 - np.abs(x - 5000.0) * 0.02, 0.0, None)  # 60 m peak at 5 km, 3 km wide
    z[0] = z[-1] = 25.0
    lam = SPEED_OF_LIGHT_M_S / 150e6
    h = 60.0 - 25.0
    nu = h * math.sqrt(2 * 10_000.0 / (lam * 5000.0 * 5000.0))
    t = nu - 0.1
    expected = 6.9 + 20 * math.log10(math.sqrt(t * t + 1) + t)
    got = multi_knife_edge_loss_db(x, z, 150.0, method=method, edges="hull")
    assert got == pytest.approx(expected, abs=0.01)


def test_unknown_edge_selection():
    with pytest.raises(ModelError, match="edges must be one of"):
        multi_knife_edge_loss_db([0.0, 1.0, 2.0], [1.0, 2.0, 1.0], 900.0, method="deygout", edges="some")
