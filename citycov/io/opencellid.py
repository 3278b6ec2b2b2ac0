"""OpenCelliD cell exports, from any country, turned into a sector table for the coverage engine.

An OpenCelliD CSV (the full ``cell_towers.csv`` with a header, or a per-country download such as
``208.csv`` without one) has the columns :data:`OCID_COLUMNS`:

``radio`` (GSM, UMTS, CDMA, LTE, NR), ``mcc``, ``net`` (MNC), ``area`` (LAC/TAC), ``cell`` (cell id:
UTRAN CID, E-UTRAN ECI, NR NCI), ``unit`` (PSC/PCI), ``lon``/``lat`` (WGS84), ``range`` (m),
``samples``, ``changeable`` (1 = position estimated from samples, 0 = exact from an operator),
``created`` and ``updated`` (Unix seconds) and ``averageSignal`` (dBm, often 0 = unknown).

**Positions are estimates of the cell, not of the mast**: the centroid of where phones heard the
cell, biased toward where people are (roads, dense blocks), often hundreds of metres from the
mast; ``range`` is the spread of those samples.  The format says nothing about power, height,
antennas or (in the plain export) frequency, so those come from:

* the **band**: a channel column when the export has one (``earfcn``, ``uarfcn``, ``nrarfcn`` /
  ``NR-ARFCN``, or a generic ``arfcn`` read per radio; :mod:`citycov.channels`), else the
  caller's per-operator ``bands`` table (``{"208-01": {"LTE": "B20"}}``), else the per-radio
  default;
* everything else: the per-radio defaults :data:`RADIO_DEFAULTS` (generic urban macro values,
  not measured; overridable per radio with ``defaults=``);
* the **antennas**: omnidirectional (``sectors=1``), or three sectors at azimuths 0/120/240
  degrees (``sectors=3``), a guess either way: a cell's real azimuth is unknown.

The returned frame's ``attrs`` record which defaults and which band sources were used, with
counts, so a report can say so (:func:`opencellid_note`).  GSM and CDMA cells are dropped and
counted (the engine models 3G, 4G and 5G only).

Operator names come from the MCC-MNC table of :mod:`citycov.io.operators` (China, Europe, the
Americas, Asia-Pacific, Africa, the Middle East), or the caller's ``operators`` overrides; an
unlisted pair is named ``"MCC-MNC"`` (e.g. ``"208-26"``) and counted.

Site ids: an LTE cell's eNodeB is ``ECI // 256`` and an NR cell's gNodeB is taken as
``NCI // 4096`` (a 24-bit gNB id, a common length; the NR gNB-id length is
operator-configurable, 22..32 bits); UMTS cells each get their own site id.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.channels import (
    band_centre_mhz,
    band_for_mhz,
    band_names,
    earfcn_carriers,
    nrarfcn_carriers,
    uarfcn_carriers,
)
from citycov.choices import OCID_DEFAULT_KEYS, OCID_SECTORS
from citycov.crs import WGS84
from citycov.errors import CitycovWarning, SiteTableError, raise_problems
from citycov.io._validate import TableChecker, read_csv_table
from citycov.io.operators import OPERATOR_TABLE, operator_names, parse_plmn, plmn_code

OCID_COLUMNS = ("radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples", "changeable",
                "created", "updated", "averageSignal")
RADIO_DEFAULTS: dict[str, dict[str, float | str | None]] = {
    # technology None: not modelled, the cells are dropped and counted
    "GSM": {"technology": None, "band": "GSM900", "freq_mhz": 947.5, "bandwidth_mhz": 0.2, "height_m": 30.0,
            "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 10.0, "sectors": 1,
            "h_beamwidth_deg": 65.0, "note": "not modelled (no 2G in the engine); listed for completeness"},
    "CDMA": {"technology": None, "band": "BC0", "freq_mhz": 880.0, "bandwidth_mhz": 1.25, "height_m": 30.0,
             "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 10.0, "sectors": 1,
             "h_beamwidth_deg": 65.0, "note": "not modelled (CDMA2000 1x/EV-DO is not broadband 3G here)"},
    "UMTS": {"technology": "3G", "band": "B1", "freq_mhz": 2140.0, "bandwidth_mhz": 5.0, "height_m": 30.0,
             "eirp_dbm": 58.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 7.0,
             "sectors": 1, "h_beamwidth_deg": 65.0,
             "note": "WCDMA band 1 (2100 MHz, the most common 3G band); 20 W (43 dBm) + 18 dBi panel - 3 dB feeder"},
    "LTE": {"technology": "4G", "band": "B3", "freq_mhz": 1850.0, "bandwidth_mhz": 20.0, "height_m": 30.0,
            "eirp_dbm": 60.0, "downtilt_deg": 4.0, "v_beamwidth_deg": 7.0,
            "sectors": 1, "h_beamwidth_deg": 65.0,
            "note": "LTE FDD band 3 (1800 MHz, the most widely deployed LTE band), 20 MHz; 40 W (46 dBm) "
                    "+ 17 dBi panel - 3 dB feeder"},
    "NR": {"technology": "5G", "band": "n78", "freq_mhz": 3500.0, "bandwidth_mhz": 100.0, "height_m": 30.0,
           "eirp_dbm": 75.0, "downtilt_deg": 6.0, "v_beamwidth_deg": 10.0,
           "sectors": 1, "h_beamwidth_deg": 65.0,
           "note": "NR TDD n78 (3.5 GHz, the most common 5G mid band), 100 MHz; 200 W AAU (53 dBm) + 25 dBi "
                   "beam gain - 3 dB; networks on n41, n28, n1 differ: set the band per operator"},
}
"""Per-radio defaults for what OpenCelliD lacks: generic urban macro values used worldwide (the
bands are common on every continent), not measured for any network.  ``sectors`` 1 is one
omnidirectional sector per cell (``azimuth_deg`` NaN, ``h_beamwidth_deg`` 360), which overstates
coverage behind real sectors; 3 is three sectors of ``h_beamwidth_deg`` at 0/120/240 degrees."""
OPERATORS = {key: name for key, (_, _, name) in OPERATOR_TABLE.items()}
"""(MCC, MNC) integers -> operator name (:data:`citycov.io.operators.OPERATOR_TABLE`)."""
RADIOS = tuple(RADIO_DEFAULTS)
_ID_DIGITS = {"mcc": 3, "net": 3, "area": 10, "cell": 12}
"""Longest id of each column: MCC 3 digits, MNC 2-3, LAC/TAC up to 32 bits, NR NCI 36 bits (11 digits)."""
_RECORDED_KEYS = ("technology", "band", "freq_mhz", "bandwidth_mhz", "height_m", "eirp_dbm", "downtilt_deg",
                  "v_beamwidth_deg", "h_beamwidth_deg", "sectors")
CHANNEL_COLUMNS = {"earfcn": ("LTE",), "uarfcn": ("UMTS",), "nrarfcn": ("NR",), "arfcn": ("UMTS", "LTE", "NR")}
"""Channel columns (names compared without case, ``-`` and ``_``: ``NR-ARFCN`` is ``nrarfcn``) and the
radios whose channel each holds; a generic ``arfcn`` is read per radio (EARFCN of LTE cells, ...)."""
_CARRIERS = {"LTE": earfcn_carriers, "UMTS": uarfcn_carriers, "NR": nrarfcn_carriers}
MAX_FREQ_MHZ = 6000.0
"""Highest downlink frequency the engine models (the sector table's limit); higher channels (FR2) fall back."""


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


def _merged_defaults(defaults: dict[str, dict[str, Any]] | None, sectors: int
                     ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """:data:`RADIO_DEFAULTS` with ``sectors`` for every radio and the caller's per-radio overrides
    (a band without a frequency takes the band's centre, a frequency without a band its band),
    and the problems found in them."""
    merged = {k: {**v, "sectors": sectors} for k, v in RADIO_DEFAULTS.items()}
    problems: list[str] = []
    if sectors not in OCID_SECTORS:
        problems.append(f"sectors: expected one of {list(OCID_SECTORS)} (1 omni, 3 at 0/120/240 degrees), "
                        f"got {sectors!r}")
    for radio, values in (defaults or {}).items():
        if radio not in merged:
            problems.append(f"defaults: unknown radio {radio!r}; expected one of {list(RADIOS)}")
            continue
        unknown = sorted(set(values) - set(OCID_DEFAULT_KEYS))
        if unknown:
            problems.append(f"defaults[{radio!r}]: unknown keys {unknown}; allowed: {list(OCID_DEFAULT_KEYS)}")
        given = {k: v for k, v in values.items() if k in OCID_DEFAULT_KEYS}
        if "band" in given and "freq_mhz" not in given:
            centre = band_centre_mhz(radio, str(given["band"]))
            if centre is None:
                problems.append(f"defaults[{radio!r}]: unknown band {given['band']!r}; expected one of "
                                f"{band_names(radio)} or give freq_mhz too")
            else:
                given["freq_mhz"] = centre
        elif "freq_mhz" in given and "band" not in given:
            given["band"] = band_for_mhz(radio, float(given["freq_mhz"]))
        if given.get("sectors", 1) not in OCID_SECTORS:
            problems.append(f"defaults[{radio!r}].sectors: expected one of {list(OCID_SECTORS)}, "
                            f"got {given['sectors']!r}")
        merged[radio].update(given)
    return merged, problems


def _band_table(bands: dict[str, dict[str, Any]] | None) -> tuple[dict[tuple[int, int, str], dict[str, Any]],
                                                                   list[str]]:
    """``{"MCC-MNC": {radio: band name | MHz | {band, freq_mhz, bandwidth_mhz}}}`` as
    ``(mcc, mnc, radio) -> {band, freq_mhz[, bandwidth_mhz]}``, and the problems found in it."""
    out: dict[tuple[int, int, str], dict[str, Any]] = {}
    problems: list[str] = []
    for code, per_radio in (bands or {}).items():
        plmn = parse_plmn(str(code))
        if plmn is None or not isinstance(per_radio, dict):
            problems.append(f'bands: expected "MCC-MNC" = {{ radio = band }} (e.g. "208-01" = {{ LTE = "B20" }}), '
                            f"got {code!r} = {per_radio!r}")
            continue
        for radio, value in per_radio.items():
            entry: dict[str, Any] | None = None
            if isinstance(value, str):
                entry = {"band": value}
            elif isinstance(value, int | float) and not isinstance(value, bool):
                entry = {"freq_mhz": value}
            elif isinstance(value, dict):
                entry = dict(value)
            if radio not in _CARRIERS or entry is None:
                problems.append(f"bands[{code!r}]: expected a radio of {list(_CARRIERS)} = a band name, a frequency "
                                f"in MHz or a table of band/freq_mhz/bandwidth_mhz, got {radio!r} = {value!r}")
                continue
            if "freq_mhz" not in entry:
                centre = band_centre_mhz(radio, str(entry.get("band", "")))
                if centre is None:
                    problems.append(f"bands[{code!r}][{radio!r}]: unknown band {entry.get('band')!r}; expected one "
                                    f"of {band_names(radio)} or a freq_mhz")
                    continue
                entry["freq_mhz"] = centre
            entry.setdefault("band", band_for_mhz(radio, float(entry["freq_mhz"])))
            out[(*plmn, radio)] = entry
    return out, problems


def _operator_overrides(operators: dict[str, str] | None) -> tuple[dict[tuple[int, int], str], list[str]]:
    out: dict[tuple[int, int], str] = {}
    problems: list[str] = []
    for code, name in (operators or {}).items():
        plmn = parse_plmn(str(code))
        if plmn is None or not isinstance(name, str) or not name.strip():
            problems.append(f'operators: expected "MCC-MNC" = name (e.g. "208-01" = "Orange"), got {code!r} = {name!r}')
        else:
            out[plmn] = name.strip()
    return out, problems


def _channel_columns(table: pd.DataFrame) -> dict[str, str]:
    """The export's channel columns: normalised name (:data:`CHANNEL_COLUMNS`) -> its column."""
    found: dict[str, str] = {}
    for col in table.columns:
        key = str(col).lower().replace("-", "").replace("_", "").strip()
        if key in CHANNEL_COLUMNS and key not in found:
            found[key] = str(col)
    return found


def _carriers(check: TableChecker, keep: np.ndarray, radio: np.ndarray, plmn: list[tuple[int, int]],
              merged: dict[str, dict[str, Any]], bands: dict[tuple[int, int, str], dict[str, Any]]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Counter]:
    """Band, frequency (MHz), bandwidth (MHz) and band source of each cell kept (``keep``, a
    mask of the table's rows; ``radio`` and ``plmn`` are of the kept cells): a channel column,
    else the ``bands`` table of its operator, else the radio's default; the sources counted
    (``"channel outside the tables"`` counts channels given but not in the tables, which fall back)."""
    n = len(radio)
    band = np.full(n, "", dtype=object)
    freq = np.full(n, np.nan)
    bandwidth = np.array([float(merged[r]["bandwidth_mhz"]) for r in radio]) if n else np.zeros(0)
    source = np.full(n, "", dtype=object)
    counts: Counter = Counter()
    for key, col in sorted(_channel_columns(check.frame).items(), key=lambda kv: kv[0] == "arfcn"):
        values = check.numeric(col, 0.0, 3_279_165.0, allow_missing=True)[keep]
        for r in CHANNEL_COLUMNS[key]:
            sel = (radio == r) & (source == "") & np.isfinite(values)
            if not sel.any():
                continue
            b, f = _CARRIERS[r](values[sel])
            ok = (b != "") & np.isfinite(f) & (f <= MAX_FREQ_MHZ) if r != "NR" else np.isfinite(f) & (f <= MAX_FREQ_MHZ)
            idx = np.flatnonzero(sel)
            band[idx[ok]], freq[idx[ok]] = b[ok], f[ok]
            source[idx[ok]] = f"channel column {col}"
            if (~ok).any():
                counts["channel outside the tables"] += int((~ok).sum())
            source[idx[~ok]] = "-"  # tried: not read again from a generic column
    source[source == "-"] = ""
    mcc, mnc = np.array([p[0] for p in plmn], dtype=np.int64), np.array([p[1] for p in plmn], dtype=np.int64)
    for (m, n_, r), entry in bands.items():
        sel = (source == "") & (radio == r) & (mcc == m) & (mnc == n_)
        band[sel], freq[sel] = entry["band"], float(entry["freq_mhz"])
        if "bandwidth_mhz" in entry:
            bandwidth[sel] = float(entry["bandwidth_mhz"])
        source[sel] = "scenario bands table"
    for r in sorted(set(radio[source == ""].tolist())):
        sel = (source == "") & (radio == r)
        band[sel], freq[sel] = merged[r]["band"], float(merged[r]["freq_mhz"])
        source[sel] = "default"
    counts.update(source.tolist())
    return band, freq, bandwidth, source, counts


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
                    defaults: dict[str, dict[str, Any]] | None = None,
                    min_samples: int = 1, operators: dict[str, str] | None = None,
                    bands: dict[str, dict[str, Any]] | None = None, sectors: int = 1) -> gpd.GeoDataFrame:
    """Read an OpenCelliD CSV as a sector table like :func:`citycov.io.read_sectors` returns.

    Parameters
    ----------
    path
        OpenCelliD CSV, with or without its header line; any extra channel column of
        :data:`CHANNEL_COLUMNS` sets the band and frequency of the cells that have one.
    crs
        The analysis CRS (projected, metres).
    defaults
        Per-radio overrides merged into :data:`RADIO_DEFAULTS` (keys of
        :data:`citycov.choices.OCID_DEFAULT_KEYS`, e.g. ``{"NR": {"band": "n41"}}``: a band
        alone takes its centre frequency; ``{"LTE": {"sectors": 3, "height_m": 25.0}}``).
    min_samples
        Cells with fewer crowd samples are dropped and counted.
    operators
        ``{"MCC-MNC": name}`` overriding or extending :mod:`citycov.io.operators`.
    bands
        ``{"MCC-MNC": {radio: band name | MHz | {band, freq_mhz, bandwidth_mhz}}}``: the band of
        an operator's cells where the export has no channel column.
    sectors
        1: one omnidirectional sector per cell; 3: three sectors at 0/120/240 degrees (a guess:
        OpenCelliD positions are cells, not masts, and carry no azimuth).  A radio's
        ``defaults`` may set its own.

    Returns
    -------
    GeoDataFrame of points in ``crs`` with the sector columns (``site_id``, ``sector_id``,
    ``operator``, ``technology``, ``band``, ``freq_mhz``, ``bandwidth_mhz``, ``height_m``,
    ``eirp_dbm``, ``azimuth_deg``, ``downtilt_deg``, ``h_beamwidth_deg``, ``v_beamwidth_deg``,
    ``omni``) plus ``radio``, ``mcc``, ``mnc``, ``area``, ``cell``, ``band_source``,
    ``range_m``, ``samples``, ``changeable`` and ``updated`` (UTC); one row per sector.
    ``attrs``: ``defaults`` (the per-radio values used), ``band_sources`` (cells per source),
    ``unnamed_operators`` (cells per unlisted ``"MCC-MNC"``), ``dropped`` (cells per reason),
    ``cells`` (cells kept) and ``source``.

    Raises
    ------
    SiteTableError
        Missing columns, unknown radio types, non-numeric ids or channels, lon/lat out of
        range, unknown defaults, bands or operators; every problem with its line numbers.

    Examples
    --------
    >>> sectors = read_opencellid("208.csv", crs=pyproj.CRS("EPSG:2154"))  # doctest: +SKIP
    >>> sectors.attrs["band_sources"]  # doctest: +SKIP
    {'channel column earfcn': 812, 'default': 40}
    """
    path = Path(path)
    table = _read_csv(path)
    merged, problems = _merged_defaults(defaults, sectors)
    band_table, band_problems = _band_table(bands)
    overrides, operator_problems = _operator_overrides(operators)
    check = TableChecker(table, path)
    check.problems.extend([*problems, *band_problems, *operator_problems])
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
    plmn_all = list(zip(table["mcc"].astype(int), table["net"].astype(int), strict=True))
    kept_rows = np.flatnonzero(keep)
    band, freq, bandwidth, band_source, sources = _carriers(
        check, keep, radio[keep], [plmn_all[i] for i in kept_rows], merged, band_table)
    raise_problems(SiteTableError, str(path), check.problems)  # non-numeric channels
    t = table.loc[keep].reset_index(drop=True)
    r = radio[keep]
    mcc, mnc = t["mcc"].to_numpy(dtype=object), t["net"].to_numpy(dtype=object)
    cell = t["cell"].astype("int64").to_numpy()
    site = np.where(r == "LTE", cell // 256, np.where(r == "NR", cell // 4096, cell))
    site_kind = np.where(r == "LTE", "L", np.where(r == "NR", "N", "U"))
    site_id = [f"{a}-{b}-{k}{s}" if k != "U" else f"{a}-{b}-{ar}-U{s}"
               for a, b, k, s, ar in zip(mcc, mnc, site_kind, site, t["area"], strict=True)]
    operator = operator_names(mcc, mnc, overrides=overrides)
    unnamed = Counter(plmn_code(a, b) for a, b in zip(mcc, mnc, strict=True)
                      if (int(a), int(b)) not in overrides and (int(a), int(b)) not in OPERATOR_TABLE)

    def per_radio(name: str) -> np.ndarray:
        return np.array([merged[x][name] for x in r])

    cells = pd.DataFrame({
        "site_id": site_id,
        "sector_id": key.loc[keep].to_numpy(),
        "operator": operator,
        "technology": tech[keep].astype(str),
        "band": band.astype(str),
        "freq_mhz": freq.astype(np.float64),
        "bandwidth_mhz": bandwidth.astype(np.float64),
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
        "band_source": band_source.astype(str),
        "range_m": range_m[keep],
        "samples": samples[keep],
        "changeable": (pd.to_numeric(t["changeable"], errors="coerce").to_numpy() if "changeable" in t.columns
                       else np.full(len(t), np.nan)),
        "updated": pd.to_datetime(updated[keep].reset_index(drop=True), unit="s", utc=True, errors="coerce"),
        "lon": lon[keep],
        "lat": lat[keep],
    })
    cells = _sectorised(cells, per_radio("sectors").astype(np.int64), per_radio("h_beamwidth_deg").astype(float))
    out = gpd.GeoDataFrame(cells.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(cells["lon"], cells["lat"]),
                           crs=WGS84).to_crs(crs)
    used = sorted(set(r))
    out.attrs["defaults"] = {x: {k: merged[x][k] for k in (*_RECORDED_KEYS, "note")} for x in used}
    out.attrs["defaults_used"] = bool(len(out))
    out.attrs["band_sources"] = dict(sorted(sources.items()))
    out.attrs["unnamed_operators"] = dict(unnamed.most_common())
    out.attrs["dropped"] = dropped
    out.attrs["cells"] = len(t)
    out.attrs["source"] = f"OpenCelliD export {path}"
    return out


SECTOR_AZIMUTHS_DEG = (0.0, 120.0, 240.0)
"""Azimuths of the three sectors of a cell when ``sectors = 3`` (a guess: OpenCelliD has none)."""


def _sectorised(cells: pd.DataFrame, sectors: np.ndarray, h_beamwidth_deg: np.ndarray) -> pd.DataFrame:
    """Cells with ``sectors`` 3 repeated at :data:`SECTOR_AZIMUTHS_DEG` (``sector_id`` suffixed
    ``-0``, ``-120``, ``-240``; ``h_beamwidth_deg`` of the radio, not omni); the others unchanged."""
    three = sectors == 3
    if not three.any():
        return cells
    parts = [cells.loc[~three]]
    for az in SECTOR_AZIMUTHS_DEG:
        part = cells.loc[three].copy()
        part["sector_id"] = part["sector_id"] + f"-{az:g}"
        part["azimuth_deg"] = az
        part["h_beamwidth_deg"] = h_beamwidth_deg[three]
        part["omni"] = False
        parts.append(part)
    out = pd.concat(parts)
    order = np.lexsort((out["azimuth_deg"].fillna(-1.0).to_numpy(), out.index.to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def opencellid_note(cells: gpd.GeoDataFrame) -> str:
    """One line for the provenance record of a :func:`read_opencellid` frame: that positions are
    crowd estimates, the antennas and per-radio defaults used (not measured), the band sources
    and unnamed operators with counts, and the cells dropped."""
    a = cells.attrs
    sectors = {d.get("sectors", 1) for d in a.get("defaults", {}).values()}
    antennas = ("omnidirectional (one sector per cell)" if sectors <= {1} else
                "3 sectors per cell at 0/120/240 degrees (a guess: OpenCelliD gives no azimuth)" if sectors == {3}
                else "omnidirectional or 3 sectors per cell, per radio")
    used = "; ".join(f"{radio}{' (' + str(d['sectors']) + ' sectors)' if d.get('sectors', 1) == 3 else ''}: "
                     f"{d['technology']} {d['band']} {d['freq_mhz']:g} MHz {d['bandwidth_mhz']:g} MHz wide, "
                     f"{d['height_m']:g} m, EIRP {d['eirp_dbm']:g} dBm, tilt {d['downtilt_deg']:g} deg"
                     for radio, d in a.get("defaults", {}).items())
    sources = ", ".join(f"{k} {v}" for k, v in a.get("band_sources", {}).items())
    unnamed = a.get("unnamed_operators", {})
    shown = ", ".join(f"{k} ({v})" for k, v in list(unnamed.items())[:5])
    dropped = ", ".join(f"{k} {v}" for k, v in a.get("dropped", {}).items() if v)
    return (f"{a.get('cells', len(cells))} cells from OpenCelliD positions (crowd estimates of the cell, not "
            f"the mast), {antennas}, with per-radio defaults, not measured ({used}); band from: {sources}"
            + (f"; {sum(unnamed.values())} cells of {len(unnamed)} unlisted MCC-MNC pairs kept as codes: {shown}"
               if unnamed else "")
            + (f"; dropped: {dropped}" if dropped else ""))
