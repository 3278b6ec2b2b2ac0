"""Helpers shared by the public wrappers: broadcasting, scalar-in/scalar-out, domain checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from citycov.errors import ModelError


def as_float_arrays(*values: Any) -> tuple[list[np.ndarray], bool]:
    """Broadcast inputs to float64 arrays; report whether every input was a scalar."""
    scalar = all(np.ndim(v) == 0 for v in values)
    arrays = np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in values])
    return [np.ascontiguousarray(a) for a in arrays], scalar


def finish(out: np.ndarray, scalar: bool) -> float | np.ndarray:
    return float(np.asarray(out).reshape(-1)[0]) if scalar else out


def check_range(name: str, values: np.ndarray, lo: float, hi: float, *, model: str,
                lo_open: bool = False) -> None:
    """Raise :class:`ModelError` when any value of ``name`` is NaN or outside [lo, hi]."""
    bad = ~np.isfinite(values) | (values > hi) | ((values <= lo) if lo_open else (values < lo))
    if bad.any():
        shown = np.unique(values[bad])[:5].tolist()
        bracket = "(" if lo_open else "["
        raise ModelError(f"{model}: {name} must be in {bracket}{lo}, {hi}], got {shown}")
