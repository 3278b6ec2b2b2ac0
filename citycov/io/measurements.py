"""Speed and drive tests: one record per test, from a lon/lat CSV or a point GeoPackage.

=================  ==========================================================================================
column             meaning
=================  ==========================================================================================
``timestamp``      start of the test, local time (``2024-05-01 08:30:00``; an explicit offset such as
                   ``+08:00`` or ``Z`` is honoured, a naive time is taken in ``tz``)
``lon``, ``lat``   position, degrees (WGS84 by default; ``source_crs="gcj02"`` for Chinese app exports).
                   A GeoPackage gives the position as its point geometry instead.
``accuracy_m``     horizontal accuracy reported by the device, m (0..``max_accuracy_m``)
``technology``     network technology of the test: 3G/4G/5G (aliases as in :mod:`citycov.io.claims`)
``operator``       operator name (matched to the claims' ``operator``)
``download_mbps``  download throughput, Mbit/s (0..10000; 0 is a valid failed test)
``upload_mbps``    upload throughput, Mbit/s (0..10000)
``latency_ms``     round-trip latency, ms (0..60000)
``environment``    ``outdoor``/``outdoor_stationary`` or ``in-vehicle``/``in_vehicle`` (also BDC 0/1)
``rsrp_dbm``       optional: RSRP / SS-RSRP / RSCP of the serving cell, dBm (-156..-31; blank allowed)
``rsrq_db``        optional: RSRQ, dB (-43..20; blank allowed)
``sinr_db``        optional: SINR, dB (-23..40; blank allowed)
=================  ==========================================================================================

A missing required column is an error (:class:`MeasurementTableError`).  A record with an
unusable value is *dropped and counted*, never used: :data:`DROP_REASONS` lists the checks in
the order applied; a record is counted once under the first check it fails (``dropped``) and
under every check it fails (``flagged``), and the counts come back with the kept tests in a
:class:`MeasurementSet`.  A :class:`~citycov.errors.CitycovWarning` says how many were dropped.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.crs import WGS84, gcj02_to_wgs84, is_gcj02, parse_crs
from citycov.errors import CitycovWarning, CRSError, InputFileError, MeasurementTableError, raise_problems
from citycov.io._validate import CSV_SUFFIXES, blank_cells, frame_lines, numbers, read_csv_table, read_ogr, rows_text
from citycov.io.claims import ENVIRONMENT_ALIASES, TECHNOLOGY_ALIASES, normalise_environment, normalise_technology

MEASUREMENT_COLUMNS = {
    "timestamp": "local start time of the test",
    "lon": "longitude, degrees (CSV only)",
    "lat": "latitude, degrees (CSV only)",
    "accuracy_m": "horizontal accuracy, m",
    "technology": "3G/4G/5G",
    "operator": "operator name",
    "download_mbps": "download throughput, Mbit/s",
    "upload_mbps": "upload throughput, Mbit/s",
    "latency_ms": "round-trip latency, ms",
    "environment": "outdoor or in-vehicle",
}
MEASUREMENT_OPTIONAL = {"rsrp_dbm": (-156.0, -31.0), "rsrq_db": (-43.0, 20.0), "sinr_db": (-23.0, 40.0)}
"""Optional signal columns and their accepted ranges (3GPP TS 36.133 / 38.133 reporting ranges)."""
SPEED_RANGE_MBPS = (0.0, 10_000.0)
LATENCY_RANGE_MS = (0.0, 60_000.0)
DEFAULT_MAX_ACCURACY_M = 50.0
"""Default accuracy limit: a quarter of a resolution-9 H3 hexagon's edge (about 174 m) would be
43 m; 50 m keeps the usual GNSS fixes and drops network-located ones (hundreds of metres)."""
DROP_REASONS = {
    "timestamp": "timestamp missing, not a date-time or outside 1990..2099",
    "coordinates": "position missing, not numbers or outside -180..180 / -90..90 degrees",
    "accuracy": "accuracy_m missing, negative or above max_accuracy_m",
    "technology": f"technology not one of {sorted(TECHNOLOGY_ALIASES)}",
    "operator": "operator missing",
    "environment": f"environment not one of {sorted(ENVIRONMENT_ALIASES)}",
    "download": "download_mbps missing, negative or above 10000 Mbit/s",
    "upload": "upload_mbps missing, negative or above 10000 Mbit/s",
    "latency": "latency_ms missing, negative or above 60000 ms",
    "rsrp": "rsrp_dbm not a number or outside -156..-31 dBm (blank is allowed)",
    "rsrq": "rsrq_db not a number or outside -43..20 dB (blank is allowed)",
    "sinr": "sinr_db not a number or outside -23..40 dB (blank is allowed)",
}
_OFFSET_RE = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class MeasurementSet:
    """Tests kept after validation, and what was dropped.

    ``tests``: GeoDataFrame of points in the analysis CRS, index 0..k-1, with ``record``
    (0-based row of the file), ``timestamp`` (tz-aware, in ``tz``), ``lon``/``lat`` (WGS84
    degrees), the columns of the module docstring as float64 / normalised text, and the
    optional signal columns (NaN where blank).  ``drops``: one row per check of
    :data:`DROP_REASONS` with ``reason``, ``description``, ``dropped`` (first failing check)
    and ``flagged`` (any failing check).
    """

    tests: gpd.GeoDataFrame
    drops: pd.DataFrame
    source: str
    n_read: int
    tz: str

    @property
    def n_kept(self) -> int:
        return len(self.tests)

    @property
    def n_dropped(self) -> int:
        return int(self.drops["dropped"].sum())


def parse_local_times(values: pd.Series, tz: str) -> pd.Series:
    """Parse timestamps to tz-aware times in ``tz``; NaT where missing, unparsable or outside
    :data:`TIME_RANGE` (far-off dates are typing errors, and beyond 1677..2262 pandas cannot
    hold them at all).

    Naive times are local times in ``tz`` (NaT if they do not exist there); times with an
    offset (``+08:00``, ``Z``) are converted to ``tz``.
    """
    out = pd.Series(pd.NaT, index=values.index, dtype=f"datetime64[ns, {tz}]")
    if pd.api.types.is_datetime64_any_dtype(values):
        aware = getattr(values.dt, "tz", None) is not None
        inside = _in_time_range(values, aware)
        if inside.any():
            part = values[inside].astype("datetime64[ns, UTC]" if aware else "datetime64[ns]")
            out[inside] = (part.dt.tz_convert(tz) if aware
                           else part.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT"))
        return out
    text = values.astype("string").str.strip()
    has_offset = text.str.contains(_OFFSET_RE, na=False).to_numpy()
    present = text.notna().to_numpy() & (text.fillna("") != "").to_numpy()
    for aware in (False, True):
        sel = present & (has_offset == aware)
        if not sel.any():
            continue
        part = text[sel]
        parsed = _to_datetime(part, "ISO8601", aware)
        retry = parsed.isna().to_numpy()
        if retry.any():
            parsed = parsed.copy()
            parsed[retry] = _to_datetime(part[retry], "mixed", aware)
        inside = _in_time_range(parsed, aware)
        parsed = parsed.where(inside).astype("datetime64[ns, UTC]" if aware else "datetime64[ns]")
        if aware:
            out[sel] = parsed.dt.tz_convert(tz)
        else:
            out[sel] = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return out


TIME_RANGE = ("1990-01-01", "2100-01-01")
"""Test times accepted: from the first GSM networks to the end of the century (end excluded)."""


def _in_time_range(times: pd.Series, aware: bool) -> np.ndarray:
    lo, hi = (pd.Timestamp(t, tz="UTC" if aware else None) for t in TIME_RANGE)
    return (times.notna() & (times >= lo) & (times < hi)).to_numpy(dtype=bool)


def _to_datetime(text: pd.Series, fmt: str, aware: bool) -> pd.Series:
    """``pd.to_datetime`` with NaT for what it cannot parse or hold, value by value if it must."""
    try:
        return pd.to_datetime(text, errors="coerce", format=fmt, utc=aware)
    except (ValueError, OverflowError, TypeError, pd.errors.OutOfBoundsDatetime):
        parsed = []
        for value in text:
            try:
                parsed.append(pd.to_datetime(value, errors="coerce", format=fmt, utc=aware))
            except (ValueError, OverflowError, TypeError, pd.errors.OutOfBoundsDatetime):
                parsed.append(pd.NaT)
        return pd.Series(pd.to_datetime(pd.Series(parsed, dtype=object), utc=aware, errors="coerce").to_numpy(),
                         index=text.index)


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray | None, np.ndarray | None, Any]:
    """The attribute table, and lon/lat from a point geometry (None for CSV) with its CRS; both
    through the front door (:mod:`citycov.io._validate`): empty, header-only, undecodable or
    malformed files are a :class:`MeasurementTableError` naming the line."""
    if path.suffix.lower() in CSV_SUFFIXES:
        return read_csv_table(path, error_cls=MeasurementTableError, what="test record"), None, None, None
    frame = read_ogr(path, error_cls=MeasurementTableError, what="test record")
    geom = frame.geometry
    is_point = (geom.geom_type == "Point").to_numpy() & ~geom.is_empty.to_numpy()
    x = np.where(is_point, geom.x.where(is_point), np.nan)
    y = np.where(is_point, geom.y.where(is_point), np.nan)
    return pd.DataFrame(frame.drop(columns=geom.name)), x, y, frame.crs


def _bad_numeric(values: np.ndarray, lo: float, hi: float, *, allow_missing: bool,
                 blank: np.ndarray | None = None) -> np.ndarray:
    """Bad values: outside lo..hi, infinite, and NaN unless ``allow_missing`` (then only NaN
    cells that were not ``blank``: text where a number belongs)."""
    finite = np.isfinite(values)
    out = (finite & ((values < lo) | (values > hi))) | np.isinf(values)
    if not allow_missing:
        return out | ~finite
    return out if blank is None else out | (np.isnan(values) & ~blank)


def _blank(table: pd.DataFrame, column: str) -> np.ndarray:
    return blank_cells(table[column]) if column in table.columns else np.ones(len(table), dtype=bool)


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table.columns:
        return np.full(len(table), np.nan)
    return numbers(table[column])


def read_measurements(path: str | Path, *, crs: pyproj.CRS, tz: str = "Asia/Shanghai",
                      source_crs: Any = "EPSG:4326",
                      max_accuracy_m: float = DEFAULT_MAX_ACCURACY_M) -> MeasurementSet:
    """Read speed/drive tests, drop and count unusable records, reproject the rest.

    Parameters
    ----------
    path
        CSV with ``lon``/``lat`` columns, or a point GeoPackage (or other OGR point file).
    crs
        The analysis CRS (projected, metres) of the returned points.
    tz
        IANA time zone of naive local timestamps (and of the returned ``timestamp``).
    source_crs
        CRS of the CSV's lon/lat (default WGS84; ``"gcj02"`` is converted on read).  For a
        vector file, the file's own CRS wins and this applies only when it states none.
    max_accuracy_m
        Records with ``accuracy_m`` above this are dropped (reason ``accuracy``).

    Returns
    -------
    MeasurementSet
        The kept tests and the drop counts per reason.

    Raises
    ------
    MeasurementTableError
        Missing required columns (all listed), unknown ``tz`` or unreadable CSV.
    CRSError
        Unknown ``source_crs``, or a vector file with no CRS and none declared.

    Examples
    --------
    >>> ms = read_measurements("tests.csv", crs=pyproj.CRS("EPSG:32649"))  # doctest: +SKIP
    >>> ms.drops.set_index("reason")["dropped"]  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found")
    try:
        pd.Timestamp("2000-01-01").tz_localize(tz)
    except (KeyError, ValueError, TypeError) as exc:
        raise MeasurementTableError(f"{path}: unknown time zone tz={tz!r}; expected an IANA name such as "
                                    "'Asia/Shanghai'") from exc
    table, gx, gy, file_crs = _read_table(path)
    is_csv = gx is None
    required = [c for c in MEASUREMENT_COLUMNS if is_csv or c not in ("lon", "lat")]
    missing = [c for c in required if c not in table.columns]
    problems = []
    if missing:
        problems.append(f"missing columns {missing} (found {list(table.columns)})")
    if not (np.isfinite(max_accuracy_m) and max_accuracy_m > 0):
        problems.append(f"max_accuracy_m must be a positive number of metres, got {max_accuracy_m!r}")
    raise_problems(MeasurementTableError, str(path), problems)

    n = len(table)
    lines = frame_lines(table)
    if is_csv:
        declared = parse_crs(source_crs, where=f"{path}: source_crs")
        x, y = _numbers(table, "lon"), _numbers(table, "lat")
    else:
        declared = file_crs if file_crs is not None else parse_crs(source_crs, where=f"{path}: source_crs")
        if declared is None:
            raise CRSError(f"{path}: no CRS; declare source_crs")
        x, y = gx, gy
    lon, lat = _to_wgs84(x, y, declared)

    timestamp = parse_local_times(table["timestamp"], tz)
    technology = normalise_technology(table["technology"])
    environment = normalise_environment(table["environment"])
    operator = table["operator"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    accuracy = _numbers(table, "accuracy_m")
    down, up = _numbers(table, "download_mbps"), _numbers(table, "upload_mbps")
    latency = _numbers(table, "latency_ms")
    signal = {c: _numbers(table, c) for c in MEASUREMENT_OPTIONAL}

    fails = {
        "timestamp": timestamp.isna().to_numpy(),
        "coordinates": ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)),
        "accuracy": _bad_numeric(accuracy, 0.0, max_accuracy_m, allow_missing=False),
        "technology": technology == "",
        "operator": operator == "",
        "environment": environment == "",
        "download": _bad_numeric(down, *SPEED_RANGE_MBPS, allow_missing=False),
        "upload": _bad_numeric(up, *SPEED_RANGE_MBPS, allow_missing=False),
        "latency": _bad_numeric(latency, *LATENCY_RANGE_MS, allow_missing=False),
        "rsrp": _bad_numeric(signal["rsrp_dbm"], *MEASUREMENT_OPTIONAL["rsrp_dbm"], allow_missing=True,
                             blank=_blank(table, "rsrp_dbm")),
        "rsrq": _bad_numeric(signal["rsrq_db"], *MEASUREMENT_OPTIONAL["rsrq_db"], allow_missing=True,
                             blank=_blank(table, "rsrq_db")),
        "sinr": _bad_numeric(signal["sinr_db"], *MEASUREMENT_OPTIONAL["sinr_db"], allow_missing=True,
                             blank=_blank(table, "sinr_db")),
    }
    taken = np.zeros(n, dtype=bool)
    rows = []
    for reason, bad in fails.items():
        first = bad & ~taken
        taken |= bad
        rows.append({"reason": reason, "description": DROP_REASONS[reason], "dropped": int(first.sum()),
                     "flagged": int(bad.sum())})
    drops = pd.DataFrame(rows)
    keep = ~taken
    if taken.any():
        detail = ", ".join(f"{r['reason']} {r['dropped']}" for r in rows if r["dropped"])
        where = rows_text(path, taken, 5, lines=lines)
        if keep.any():
            warnings.warn(f"{path}: {int(taken.sum())} of {n} test records dropped ({detail}) at {where}; "
                          "see MeasurementSet.drops", CitycovWarning, stacklevel=2)
        else:
            raise MeasurementTableError(f"{path}: all {n} test records are unusable ({detail}) at {where}; "
                                        "expected at least one valid record (reasons: "
                                        + "; ".join(DROP_REASONS[r["reason"]] for r in rows if r["dropped"]) + ")")
    columns = {
        "record": np.flatnonzero(keep),
        "timestamp": timestamp[keep].reset_index(drop=True),
        "lon": lon[keep], "lat": lat[keep],
        "accuracy_m": accuracy[keep],
        "technology": technology[keep].astype(str),
        "operator": operator[keep].astype(str),
        "environment": environment[keep].astype(str),
        "download_mbps": down[keep], "upload_mbps": up[keep], "latency_ms": latency[keep],
        **{c: v[keep] for c, v in signal.items()},
    }
    tests = gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(lon[keep], lat[keep]), crs=WGS84).to_crs(crs)
    tests.attrs["source"] = str(path)
    return MeasurementSet(tests=tests, drops=drops, source=str(path), n_read=n, tz=tz)


def _to_wgs84(x: np.ndarray, y: np.ndarray, declared: Any) -> tuple[np.ndarray, np.ndarray]:
    """lon/lat in WGS84 from coordinates in ``declared`` (NaN stays NaN; out-of-range stays for counting)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if is_gcj02(declared):
        ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
        lon, lat = x.copy(), y.copy()
        if ok.any():
            lon[ok], lat[ok] = gcj02_to_wgs84(x[ok], y[ok])
        return lon, lat
    crs = pyproj.CRS.from_user_input(declared)
    if crs.equals(WGS84):
        return x, y
    lon, lat = pyproj.Transformer.from_crs(crs, WGS84, always_xy=True).transform(x, y)
    lon, lat = np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    lon[~np.isfinite(lon)] = np.nan
    lat[~np.isfinite(lat)] = np.nan
    return lon, lat
