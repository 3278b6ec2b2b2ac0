"""OpenCelliD cell exports turned into a sector table for the coverage engine.

An OpenCelliD CSV (the full ``cell_towers.csv`` with a header, or a per-country download such as
``460.csv`` without one) has the columns :data:`OCID_COLUMNS`:

``radio`` (GSM, UMTS, CDMA, LTE, NR), ``mcc``, ``net`` (MNC), ``area`` (LAC/TAC), ``cell`` (cell id:
UTRAN CID, E-UTRAN ECI, NR NCI), ``unit`` (PSC/PCI), ``lon``/``lat`` (WGS84, an estimated position
of the *cell*, not of the mast), ``range`` (m, the spread of the crowd samples), ``samples``,
``changeable`` (1 = position estimated from samples, 0 = exact from an operator), ``created``
and ``updated`` (Unix seconds) and ``averageSignal`` (dBm, often 0 = unknown).

The format says nothing about frequency, power, height or antennas.  Those come from the
per-radio defaults of :data:`RADIO_DEFAULTS` (typical Chinese urban macro values, documented
per row), every sector is treated as omnidirectional (``azimuth_deg`` blank), and the returned
frame's ``attrs["defaults"]`` records that they were used and which values, so a report can
say so.  GSM and CDMA cells are dropped and counted (the engine models 3G, 4G and 5G only).

Operator names come from the MCC/MNC table :data:`OPERATORS` (mainland China, MCC 460, as
assigned by MIIT); an unlisted pair is named ``"MCC-MNC"`` (e.g. ``"454-00"``).

Site ids: an LTE cell's eNodeB is ``ECI // 256`` and an NR cell's gNodeB is taken as
``NCI // 4096`` (a 24-bit gNB id, the length the Chinese operators use; the NR gNB-id length
is operator-configurable, 22..32 bits); UMTS cells each get their own site id.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.crs import WGS84
from citycov.errors import CitycovWarning, SiteTableError, raise_problems
from citycov.io._validate import TableChecker, read_csv_table

OCID_COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
                "created", "updated", "averageSignal")
RADIO_DEFAULTS: dict[str, dict[str, float | str | None]] = {
    # technology None: not modelled, the cells are dropped and counted
    "GSM": {"technology": None, "band": "GSM900", "freq_mhz": 947.5, "bandwidth_mhz": 0.2, "height_m": 30.0,
            "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 10.0,
            "note": "not modelled (no 2G in the engine); listed for completeness"},
    "CDMA": {"technology": None, "band": "BC0", "freq_mhz": 880.0, "bandwidth_mhz": 1.25, "height_m": 30.0,
             "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 10.0,
             "note": "not modelled (CDMA2000 1x/EV-DO is not broadband 3G here)"},
    "UMTS": {"technology": "3G", "band": "B1", "freq_mhz": 2140.0, "bandwidth_mhz": 5.0, "height_m": 30.0,
             "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 7.0,
             "note": "WCDMA band 1 (China Unicom); 20 W (43 dBm) + 18 dBi panel - 3 dB feeder"},
    "LTE": {"technology": "4G", "band": "B3", "freq_mhz": 1850.0, "bandwidth_mhz": 20.0, "height_m": 30.0,
            "eirp_dbm": 60.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 7.0,
            "note": "LTE FDD band 3, 20 MHz; 40 W (46 dBm) + 17 dBi panel - 3 dB feeder"},
    "NR": {"technology": "5G", "band": "n78", "freq_mhz": 3500.0, "bandwidth_mhz": 100.0, "height_m": 30.0,
           "eirp_dbm": 75.0, "downtilt_deg": 6.0, "v_beamwidth_deg": 10.0,
           "note": "NR TDD n78, 100 MHz (China Telecom/Unicom shared); 200 W AAU (53 dBm) + 25 dBi beam gain "
                   "- 3 dB; China Mobile's n41 (2.6 GHz) differs: pass defaults= to change"},
}
"""Per-radio defaults for what OpenCelliD lacks.  Every cell is omnidirectional
(``azimuth_deg`` NaN, ``h_beamwidth_deg`` 360), which overstates coverage behind real sectors."""
OPERATORS = {
    ("460", "00"): "China Mobile", ("460", "02"): "China Mobile", ("460", "04"): "China Mobile",
    ("460", "07"): "China Mobile", ("460", "08"): "China Mobile",
    ("460", "01"): "China Unicom", ("460", "06"): "China Unicom", ("460", "09"): "China Unicom",
    ("460", "03"): "China Telecom", ("460", "05"): "China Telecom", ("460", "11"): "China Telecom",
    ("460", "15"): "China Broadnet",
}
RADIOS = tuple(RADIO_DEFAULTS)
_ID_DIGITS = {"mcc": 3, "net": 3, "area": 10, "cell": 12}
"""Longest id of each column: MCC 3 digits, MNC 2-3, LAC/TAC up to 32 bits, NR NCI 36 bits (11 digits)."""
_DEFAULT_KEYS = ("technology", "band", "freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm", "downtilt_deg",
                 "v_beamwidth_deg")


def _read_csv(path: Path) -> pd.DataFrame:
    """The export through the front door (:func:`citycov.io._validate.read_csv_table`), with its
    header line or, when the first line does not name ``radio``, the columns :data:`OCID_COLUMNS`."""
    try:
        with open(path, "rb") as fh:
            first = fh.read(4096).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    except OSError:
        first = ""  # the front door names the problem
    header = "radio" in first.lower()
    return read_csv_table(path, error_cls=SiteTableError, what="cell", header=header,
                          names=None if header else list(OCID_COLUMNS),
                          dtype={"mcc": str, "net": str, "area": str, "cell": str, "radio": str})


def _merged_defaults(defaults: dict[str, dict[str, float | str | None]] | None
                     ) -> tuple[dict[str, dict[str, float | str | None]], list[str]]:
    """:data:`RADIO_DEFAULTS` with the caller's per-radio overrides, and the problems found in them."""
    merged = {k: dict(v) for k, v in RADIO_DEFAULTS.items()}
    problems: list[str] = []
    for radio, values in (defaults or {}).items():
        if radio not in merged:
            problems.append(f"defaults: unknown radio {radio!r}; expected one of {list(RADIOS)}")
            continue
        unknown = sorted(set(values) - set(_DEFAULT_KEYS))
        if unknown:
            problems.append(f"defaults[{radio!r}]: unknown keys {unknown}; allowed: {list(_DEFAULT_KEYS)}")
        merged[radio].update({k: v for k, v in values.items() if k in _DEFAULT_KEYS})
    return merged, problems


def _kept_cells(check: TableChecker, radio: np.ndarray, unsupported: np.ndarray, samples: np.ndarray,
                min_samples: int, key: pd.Series, updated: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    """Cells kept (bool per row) and the dropped counts per reason; one warning counting the drops.

    Dropped: radios the engine does not model, cells with fewer than ``min_samples`` samples,
    and duplicate cell ids (the most recently ``updated`` is kept).  Every cell dropped is an
    error (:class:`SiteTableError`): no sector would be left."""
    path = check.path
    few = ~unsupported & np.isfinite(samples) & (samples < min_samples)
    order = np.lexsort((-updated.fillna(-np.inf).to_numpy(),))
    dup = np.zeros(len(key), dtype=bool)
    dup[order] = key.iloc[order].duplicated(keep="first").to_numpy()
    dup &= ~unsupported & ~few
    dropped = {"unsupported_radio": int(unsupported.sum()), "few_samples": int(few.sum()),
               "duplicate_cell": int(dup.sum())}
    keep = ~(unsupported | few | dup)
    if (~keep).any():
        radios = sorted(set(radio[unsupported]))
        text = (f"{dropped['unsupported_radio']} of radio {radios} (not modelled), {dropped['few_samples']} with "
                f"samples < {min_samples}, {dropped['duplicate_cell']} duplicate cell ids (the most recently "
                f"updated kept) at {check.rows(~keep, 5)}")
        if not keep.any():
            raise SiteTableError(f"{path}: all {len(key)} cells dropped: {text}; expected at least one UMTS, LTE "
                                 f"or NR cell with samples >= {min_samples}")
        warnings.warn(f"{path}: {int((~keep).sum())} of {len(key)} cells dropped: {text}", CitycovWarning,
                      stacklevel=3)
    return keep, dropped


def read_opencellid(path: str | Path, *, crs: pyproj.CRS,
                    defaults: dict[str, dict[str, float | str | None]] | None = None,
                    min_samples: int = 1) -> gpd.GeoDataFrame:
    """Read an OpenCelliD CSV as a sector table like :func:`citycov.io.read_sectors` returns.

    Parameters
    ----------
    path
        OpenCelliD CSV, with or without its header line.
    crs
        The analysis CRS (projected, metres).
    defaults
        Per-radio overrides merged into :data:`RADIO_DEFAULTS` (e.g.
        ``{"NR": {"freq_mhz": 2600.0, "band": "n41"}}``).
    min_samples
        Cells with fewer crowd samples are dropped and counted.

    Returns
    -------
    GeoDataFrame of points in ``crs`` with the sector columns (``site_id``, ``sector_id``,
    ``operator``, ``technology``, ``band``, ``freq_mhz``, ``bandwidth_mhz``, ``height_m``,
    ``eirp_dbm``, ``azimuth_deg`` (NaN), ``downtilt_deg``, ``h_beamwidth_deg`` (360),
    ``v_beamwidth_deg``, ``omni`` (True)) plus ``radio``, ``mcc``, ``mnc``, ``area``, ``cell``,
    ``range_m``, ``samples``, ``changeable`` and ``updated`` (UTC).  ``attrs["defaults"]``
    records the defaults applied and ``attrs["dropped"]`` the dropped counts per reason.

    Raises
    ------
    SiteTableError
        Missing columns, unknown radio types, non-numeric ids, lon/lat out of range; every
        problem with its line numbers.

    Examples
    --------
    >>> sectors = read_opencellid("460.csv", crs=pyproj.CRS("EPSG:32649"))  # doctest: +SKIP
    >>> sectors.attrs["defaults"]["LTE"]["freq_mhz"]  # doctest: +SKIP
    1850.0
    """
    path = Path(path)
    table = _read_csv(path)
    merged, problems = _merged_defaults(defaults)
    check = TableChecker(table, path)
    check.problems.extend(problems)
    if not check.require(["radio", "mcc", "net", "area", "cell", "lon", "lat"]):
        raise_problems(SiteTableError, str(path), check.problems)
    radio = check.choice("radio", RADIOS)
    lon = check.numeric("lon", -180.0, 180.0, unit="degrees")
    lat = check.numeric("lat", -90.0, 90.0, unit="degrees")
    for col in ("mcc", "net", "area", "cell"):
        text = table[col].astype("string").fillna("").str.strip().str.replace(r"\.0+$", "", regex=True)
        digits = _ID_DIGITS[col]
        bad = np.flatnonzero(~text.str.fullmatch(rf"\d{{1,{digits}}}").fillna(False).to_numpy(dtype=bool))
        if len(bad):
            check.problems.append(f"{col}: expected a non-negative integer at {check.rows(bad)} "
                                  f"(found {sorted({str(table[col].iloc[i]) for i in bad[:3]})}; "
                                  f"at most {digits} digits)")
        table[col] = text
    samples = (check.numeric("samples", 0, 1e12, allow_missing=True) if "samples" in table.columns
               else np.full(len(table), np.nan))
    range_m = (check.numeric("range", 0, 1e8, unit="m", allow_missing=True) if "range" in table.columns
               else np.full(len(table), np.nan))
    raise_problems(SiteTableError, str(path), check.problems)

    tech = np.array([merged[r]["technology"] or "" for r in radio], dtype=object)
    key = (table["radio"].str.strip() + "-" + table["mcc"] + "-" + table["net"] + "-" + table["area"] + "-"
           + table["cell"])
    updated = (pd.to_numeric(table["updated"], errors="coerce") if "updated" in table.columns
               else pd.Series(np.nan, index=table.index))
    keep, dropped = _kept_cells(check, radio, tech == "", samples, min_samples, key, updated)
    t = table.loc[keep].reset_index(drop=True)
    r = radio[keep]
    mcc, mnc = t["mcc"].to_numpy(dtype=object), t["net"].to_numpy(dtype=object)
    cell = t["cell"].astype("int64").to_numpy()
    site = np.where(r == "LTE", cell // 256, np.where(r == "NR", cell // 4096, cell))
    site_kind = np.where(r == "LTE", "L", np.where(r == "NR", "N", "U"))
    site_id = [f"{a}-{b}-{k}{s}" if k != "U" else f"{a}-{b}-{ar}-U{s}"
               for a, b, k, s, ar in zip(mcc, mnc, site_kind, site, t["area"], strict=True)]

    def per_radio(name: str) -> np.ndarray:
        return np.array([merged[x][name] for x in r])

    out = gpd.GeoDataFrame(
        {
            "site_id": site_id,
            "sector_id": key.loc[keep].to_numpy(),
            "operator": [OPERATORS.get((a, b.zfill(2)), f"{a}-{b.zfill(2)}") for a, b in zip(mcc, mnc, strict=True)],
            "technology": tech[keep].astype(str),
            "band": per_radio("band").astype(str),
            "freq_mhz": per_radio("freq_mhz").astype(np.float64),
            "bandwidth_mhz": per_radio("bandwidth_mhz").astype(np.float64),
            "height_m": per_radio("height_m").astype(np.float64),
            "eirp_dbm": per_radio("eirp_dbm").astype(np.float64),
            "azimuth_deg": np.full(len(t), np.nan),
            "downtilt_deg": per_radio("downtilt_deg").astype(np.float64),
            "h_beamwidth_deg": np.full(len(t), 360.0),
            "v_beamwidth_deg": per_radio("v_beamwidth_deg").astype(np.float64),
            "omni": np.ones(len(t), dtype=bool),
            "radio": r.astype(str),
            "mcc": mcc.astype(str),
            "mnc": mnc.astype(str),
            "area": t["area"].to_numpy(dtype=str),
            "cell": cell,
            "range_m": range_m[keep],
            "samples": samples[keep],
            "changeable": (pd.to_numeric(t["changeable"], errors="coerce").to_numpy() if "changeable" in t.columns
                           else np.full(len(t), np.nan)),
            "updated": pd.to_datetime(updated[keep].reset_index(drop=True), unit="s", utc=True, errors="coerce"),
        },
        geometry=gpd.points_from_xy(lon[keep], lat[keep]),
        crs=WGS84,
    ).to_crs(crs)
    used = sorted(set(r))
    out.attrs["defaults"] = {x: {k: merged[x][k] for k in (*_DEFAULT_KEYS, "note")} for x in used}
    out.attrs["defaults_used"] = bool(len(out))
    out.attrs["dropped"] = dropped
    out.attrs["source"] = f"OpenCelliD export {path}"
    return out
