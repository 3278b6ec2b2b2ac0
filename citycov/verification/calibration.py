"""Calibrating the coverage model to drive-test measurements.

The residual of each measurement, ``measured RSRP − modelled RSRP`` (dB), is fitted per group
(the measurement environment, or the model's environment/clutter class) as a straight line in
the log of the distance to the serving sector::

    residual ≈ offset_db + slope_db_per_decade · log10(distance_km / reference_distance_km)

so ``offset_db`` corrects the level and ``slope_db_per_decade`` the model's distance exponent
(a slope of −10 dB/decade is one unit of path-loss exponent).  The fit is robust: Huber loss
(``scipy.optimize.least_squares(loss="huber")``) with the transition at 1.345 robust standard
deviations (MAD), so interference spikes and indoor outliers do not drag the line.  Groups with
fewer than ``min_points`` measurements use the pooled fit of all groups, and say so.

Honest assessment comes from cross-validation by place: measurements are split into folds by
their resolution-8 H3 hexagon (all measurements of a hexagon in one fold, like scikit-learn's
``GroupKFold``), each fold is predicted from a fit on the others, and RMSE and bias of the
held-out residuals are reported before and after calibration.

A :class:`Calibration` is plain data, saved as JSON with its provenance (``calibration.json`` of
a run's outputs): ``offset_db[group] + slope_db_per_decade[group] · log10(d / reference)`` is
the correction to add to the modelled level.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from citycov._version import __version__
from citycov.engine.cellular import TECH_INDEX, CellularResult
from citycov.errors import CalibrationError, CitycovWarning
from citycov.grid import GridSpec
from citycov.verification.challenge import cell_parents, latlng_cells

POOLED = "*"
"""Group name of the pooled fit (all groups together)."""
MIN_DISTANCE_KM = 0.01
"""Distances below 10 m are clipped: log10 of the distance must stay finite."""
HUBER_K = 1.345
"""Huber transition in robust standard deviations (95 % efficiency under normal errors)."""
FORMAT = "citycov-calibration/1"


@dataclass(frozen=True)
class Calibration:
    """A fitted correction per group; see the module docstring for the model.

    ``offset_db`` and ``slope_db_per_decade`` map group name → value and include the pooled
    fit under :data:`POOLED`; ``n_points`` the measurements per group; ``pooled_groups`` the
    groups that had too few points and use the pooled line; ``cv`` the cross-validation
    summary; ``provenance`` free-form plain data (technology, operator, sources, …).
    """

    group_by: str
    offset_db: dict[str, float]
    slope_db_per_decade: dict[str, float]
    n_points: dict[str, int]
    pooled_groups: tuple[str, ...] = ()
    reference_distance_km: float = 1.0
    f_scale_db: float = 0.0
    cv: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self), "pooled_groups": list(self.pooled_groups)}

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON (UTF-8, sorted keys) and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        return path


def group_folds(groups: np.ndarray, n_folds: int, *, seed: int = 0) -> np.ndarray:
    """Fold number (0..n_folds-1) per sample, every group wholly in one fold.

    Groups are shuffled with ``seed`` (ties), then placed largest first into the fold with the
    fewest samples so far, which balances the folds as scikit-learn's ``GroupKFold`` does.
    """
    uniq, inverse, counts = np.unique(np.asarray(groups), return_inverse=True, return_counts=True)
    if len(uniq) < n_folds:
        raise CalibrationError(f"{len(uniq)} groups (hexagons) cannot make {n_folds} folds; "
                               "use fewer folds or more widely spread measurements")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    load = np.zeros(n_folds, dtype=np.int64)
    fold_of = np.empty(len(uniq), dtype=np.int64)
    for g in order:
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += counts[g]
    return fold_of[inverse]


def _robust_sigma(r: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(r - np.median(r)))) if len(r) else 0.0


def _fit_line(residual: np.ndarray, logd: np.ndarray, f_scale: float) -> tuple[float, float]:
    """Huber fit of residual = a + b·logd; returns (a, b)."""
    design = np.column_stack([np.ones_like(logd), logd])
    start, *_ = np.linalg.lstsq(design, residual, rcond=None)
    if np.ptp(logd) < 1e-9:  # one distance: only the offset is identifiable
        sol = least_squares(lambda p: p[0] - residual, x0=[start[0]], loss="huber", f_scale=f_scale)
        return float(sol.x[0]), 0.0
    sol = least_squares(lambda p: p[0] + p[1] * logd - residual, x0=start, loss="huber", f_scale=f_scale)
    return float(sol.x[0]), float(sol.x[1])


def _fit_groups(residual: np.ndarray, logd: np.ndarray, group: np.ndarray, *, min_points: int,
                f_scale: float) -> tuple[dict[str, float], dict[str, float], dict[str, int], tuple[str, ...]]:
    offset, slope, count = {}, {}, {}
    a, b = _fit_line(residual, logd, f_scale)
    offset[POOLED], slope[POOLED], count[POOLED] = a, b, len(residual)
    pooled = []
    for g in sorted({str(v) for v in group}):
        sel = group == g
        count[g] = int(sel.sum())
        if count[g] < min_points:
            offset[g], slope[g] = a, b
            pooled.append(g)
        else:
            offset[g], slope[g] = _fit_line(residual[sel], logd[sel], f_scale)
    return offset, slope, count, tuple(pooled)


def _stats(err: np.ndarray) -> dict[str, float]:
    return {"rmse_db": float(np.sqrt(np.mean(err ** 2))) if len(err) else float("nan"),
            "bias_db": float(np.mean(err)) if len(err) else float("nan"), "n": int(len(err))}


def fit_calibration(measured_dbm: np.ndarray, modelled_dbm: np.ndarray, distance_km: np.ndarray,
                    group: np.ndarray, *, lat_deg: np.ndarray, lon_deg: np.ndarray, group_by: str = "environment",
                    n_folds: int = 5, seed: int = 2009, min_points: int = 20, f_scale_db: float | None = None,
                    reference_distance_km: float = 1.0, cv_resolution: int = 8,
                    provenance: dict[str, Any] | None = None) -> Calibration:
    """Fit offset and slope per group robustly and cross-validate by H3 hexagon.

    Parameters
    ----------
    measured_dbm, modelled_dbm
        Measured and modelled level per measurement (dBm).  Rows where either is not finite
        are dropped and counted (a warning says how many; ``provenance["dropped_nonfinite"]``).
    distance_km
        Distance to the serving sector (km, clipped below at :data:`MIN_DISTANCE_KM`).
    group
        Group label per measurement (e.g. ``"outdoor_stationary"`` or an environment class).
    lat_deg, lon_deg
        WGS84 position, used only to split folds by resolution-``cv_resolution`` hexagon.
    min_points
        Groups with fewer measurements use the pooled fit (listed in ``pooled_groups``).
    f_scale_db
        Huber transition in dB; default :data:`HUBER_K` × the MAD standard deviation of the
        residuals (at least 0.5 dB).

    Returns
    -------
    Calibration
        Fitted on all measurements; ``cv`` holds the held-out RMSE and bias before and after,
        overall, per fold and per group.

    Raises
    ------
    CalibrationError
        Arrays of different lengths, too few usable measurements, or too few hexagons for
        ``n_folds``.

    Examples
    --------
    >>> cal = fit_calibration(meas, model, dist, env, lat_deg=lat, lon_deg=lon)  # doctest: +SKIP
    >>> cal.cv["after"]["rmse_db"] < cal.cv["before"]["rmse_db"]  # doctest: +SKIP
    True
    """
    arrays = {"measured_dbm": measured_dbm, "modelled_dbm": modelled_dbm, "distance_km": distance_km,
              "group": group, "lat_deg": lat_deg, "lon_deg": lon_deg}
    lengths = {k: len(np.asarray(v)) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise CalibrationError(f"arrays must have one length, got {lengths}")
    meas = np.asarray(measured_dbm, dtype=np.float64)
    model = np.asarray(modelled_dbm, dtype=np.float64)
    dist = np.asarray(distance_km, dtype=np.float64)
    lat = np.asarray(lat_deg, dtype=np.float64)
    lon = np.asarray(lon_deg, dtype=np.float64)
    ok = np.isfinite(meas) & np.isfinite(model) & np.isfinite(dist) & np.isfinite(lat) & np.isfinite(lon)
    dropped = int((~ok).sum())
    if dropped:
        warnings.warn(f"{dropped} of {len(ok)} measurements without a finite measured or modelled level, distance "
                      "or position were not used for calibration", CitycovWarning, stacklevel=2)
    if ok.sum() < max(min_points, 2 * n_folds):
        raise CalibrationError(f"{int(ok.sum())} usable measurements; need at least {max(min_points, 2 * n_folds)}")
    residual = (meas - model)[ok]
    logd = np.log10(np.maximum(dist[ok], MIN_DISTANCE_KM) / reference_distance_km)
    grp = np.array([str(g) for g in np.asarray(group, dtype=object)[ok]], dtype=object)
    f_scale = f_scale_db if f_scale_db is not None else max(0.5, HUBER_K * _robust_sigma(residual))
    offset, slope, count, pooled = _fit_groups(residual, logd, grp, min_points=min_points, f_scale=f_scale)

    hexes = cell_parents(latlng_cells(lat[ok], lon[ok], 9), cv_resolution) if cv_resolution < 9 else \
        latlng_cells(lat[ok], lon[ok], cv_resolution)
    folds = group_folds(hexes, n_folds, seed=seed)
    before = residual.copy()
    after = np.empty_like(residual)
    per_fold = []
    for f in range(n_folds):
        test = folds == f
        o, s, _, _ = _fit_groups(residual[~test], logd[~test], grp[~test], min_points=min_points, f_scale=f_scale)
        predicted = np.array([o.get(g, o[POOLED]) + s.get(g, s[POOLED]) * x for g, x in zip(grp[test], logd[test],
                                                                                          strict=True)])
        after[test] = residual[test] - predicted
        per_fold.append({"fold": f, "hexagons": int(len(np.unique(hexes[test]))),
                         "before": _stats(before[test]), "after": _stats(after[test])})
    per_group = {g: {"before": _stats(before[grp == g]), "after": _stats(after[grp == g])} for g in sorted(set(grp))}
    cv = {"n_folds": n_folds, "split": f"H3 resolution {cv_resolution} hexagons", "seed": seed,
          "before": _stats(before), "after": _stats(after), "folds": per_fold, "groups": per_group}
    prov = {"created_utc": datetime.now(UTC).isoformat(timespec="seconds"), "citycov": __version__,
            "measurements_used": int(ok.sum()), "dropped_nonfinite": dropped, "loss": "huber",
            "model": "residual = offset_db + slope_db_per_decade * log10(distance_km / reference_distance_km)",
            **(provenance or {})}
    return Calibration(group_by=group_by, offset_db=offset, slope_db_per_decade=slope, n_points=count,
                       pooled_groups=pooled, reference_distance_km=reference_distance_km, f_scale_db=float(f_scale),
                       cv=cv, provenance=prov)


def sample_model(result: CellularResult, sectors: gpd.GeoDataFrame, grid: GridSpec, tests: gpd.GeoDataFrame, *,
                 technology: str) -> pd.DataFrame:
    """Modelled level, serving sector and distance at each test point (tests and sectors in ``grid.crs``).

    Returns a frame aligned with ``tests`` with ``modelled_dbm`` (best server of ``technology``
    in the test's grid cell; NaN outside the grid or uncovered), ``sector_id``,
    ``sector_operator`` (the best server may belong to another operator than the test: compare
    before fitting) and ``distance_km`` (test point to the serving sector).
    """
    if technology not in TECH_INDEX:
        raise CalibrationError(f"unknown technology {technology!r}; expected one of {sorted(TECH_INDEX)}")
    x, y = tests.geometry.x.to_numpy(), tests.geometry.y.to_numpy()
    row, col = grid.rowcol(x, y)
    inside = grid.contains(row, col)
    band = TECH_INDEX[technology]
    level = np.full(len(tests), np.nan)
    serving = np.full(len(tests), -1, dtype=np.int64)
    level[inside] = result.best_dbm[band, row[inside], col[inside]]
    serving[inside] = result.best_sector[band, row[inside], col[inside]]
    pos = sectors.set_index("sector_id").geometry
    table = result.sectors
    has = serving >= 0
    ids = np.full(len(tests), None, dtype=object)
    ids[has] = table["sector_id"].to_numpy()[serving[has]]
    ops = np.full(len(tests), None, dtype=object)
    ops[has] = table["operator"].to_numpy()[serving[has]]
    dist = np.full(len(tests), np.nan)
    if has.any():
        sp = pos.reindex(ids[has])
        dist[has] = np.hypot(sp.x.to_numpy() - x[has], sp.y.to_numpy() - y[has]) / 1000.0
    return pd.DataFrame({"modelled_dbm": level, "sector_id": ids, "sector_operator": ops, "distance_km": dist},
                        index=tests.index)
