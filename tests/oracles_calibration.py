"""Test oracles for calibrations: read back ``calibration.json`` and apply the fitted line.

citycov writes calibrations (:meth:`citycov.verification.calibration.Calibration.save`) but never
reads or applies them; these helpers check that what it writes is complete and means what the
module docstring says.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from citycov.errors import CalibrationError, InputFileError
from citycov.verification.calibration import FORMAT, MIN_DISTANCE_KM, Calibration


def load_calibration(path: str | Path) -> Calibration:
    """Read a calibration written by :meth:`Calibration.save`; CalibrationError listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: calibration file not found")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CalibrationError(f"{path}: not valid JSON: {exc}") from exc
    problems = []
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else doc
        raise CalibrationError(f"{path}: format must be {FORMAT!r}, got {found!r}")
    for key in ("group_by", "offset_db", "slope_db_per_decade", "n_points"):
        if key not in doc:
            problems.append(f"{key} is required")
    if not problems:
        for key in ("offset_db", "slope_db_per_decade"):
            bad = [g for g, v in doc[key].items() if not isinstance(v, int | float) or not np.isfinite(v)]
            if bad:
                problems.append(f"{key}: not finite numbers for groups {bad}")
        if set(doc["offset_db"]) != set(doc["slope_db_per_decade"]):
            problems.append("offset_db and slope_db_per_decade name different groups")
    if problems:
        raise CalibrationError(f"{path}: " + "; ".join(problems))
    doc = dict(doc)
    doc.pop("format")
    doc["pooled_groups"] = tuple(doc.get("pooled_groups", ()))
    return Calibration(**doc)


def apply_calibration(cal: Calibration, modelled_dbm: np.ndarray, distance_km: np.ndarray,
                      group: np.ndarray) -> np.ndarray:
    """Calibrated levels: ``modelled_dbm`` + offset + slope · log10(d / reference) (a new array)."""
    group = np.asarray(group, dtype=object)
    d = np.maximum(np.asarray(distance_km, dtype=np.float64), MIN_DISTANCE_KM)
    unknown = sorted({str(g) for g in np.unique(group)} - set(cal.offset_db))
    if unknown:
        raise CalibrationError(f"groups {unknown} are not in the calibration; known: {sorted(cal.offset_db)}")
    offset = np.array([cal.offset_db[g] for g in group], dtype=np.float64) if len(group) else np.zeros(0)
    slope = np.array([cal.slope_db_per_decade[g] for g in group], dtype=np.float64) if len(group) else offset
    return np.asarray(modelled_dbm, dtype=np.float64) + offset + slope * np.log10(d / cal.reference_distance_km)
