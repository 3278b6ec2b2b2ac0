"""Site tables: cellular sectors and WLAN access points (CSV with lon/lat, or any OGR point file)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.carriers import LTE_SCS_KHZ, NR_DEFAULT_SCS_KHZ, NR_SCS_KHZ, table_bandwidths_mhz, table_resource_blocks
from citycov.choices import TECHNOLOGIES
from citycov.errors import CitycovWarning, SiteTableError, raise_problems
from citycov.io._validate import TableChecker, text_values
from citycov.io.vector import read_vector

SECTOR_COLUMNS = {
    "site_id": "site identifier (text); sectors of one site share it",
    "sector_id": "sector identifier (text, unique)",
    "operator": "operator name (text)",
    "technology": "one of 3G, 4G, 5G",
    "freq_mhz": "downlink centre frequency, MHz (150..6000)",
    "bandwidth_mhz": "channel bandwidth, MHz (0.2..400); 4G: 1.4, 3, 5, 10, 15 or 20 (TS 36.101 Table 5.6-1); "
                     "5G: a bandwidth of TS 38.101-1 Table 5.3.2-1 at the subcarrier spacing (e.g. 100 at 30 kHz)",
    "height_m": "antenna height above ground, m (1..300)",
    "eirp_dbm": "total EIRP at boresight, dBm (0..90); or tx_power_dbm + antenna_gain_dbi - feeder_loss_db",
    "azimuth_deg": "boresight azimuth, degrees clockwise from north (0..360); blank = omni",
    "downtilt_deg": "total downtilt (mechanical + electrical), degrees, positive down (-20..45)",
    "h_beamwidth_deg": "horizontal half-power beamwidth, degrees (1..360)",
    "v_beamwidth_deg": "vertical half-power beamwidth, degrees (1..90)",
}
SECTOR_OPTIONAL = {
    "band": "band name (text), e.g. B3, n78",
    "tx_power_dbm": "transmitter power, dBm, when eirp_dbm is absent",
    "antenna_gain_dbi": "antenna boresight gain, dBi, when eirp_dbm is absent",
    "feeder_loss_db": "feeder and connector losses, dB (default 0)",
    "scs_khz": f"5G subcarrier spacing, kHz ({', '.join(map(str, NR_SCS_KHZ))}; blank = {NR_DEFAULT_SCS_KHZ}); "
               f"4G rows blank or {LTE_SCS_KHZ}",
    "antenna_pattern": "name of an antenna pattern file (its stem) in [inputs.antenna_patterns]; "
                       "blank = the 3GPP sector model of the beamwidth columns",
    "mcc": "mobile country code (3 digits); with mnc and cell_id, matches OpenCelliD cells by id",
    "mnc": "mobile network code (1..3 digits)",
    "cell_id": "global cell id as OpenCelliD's cell (LTE ECI = 256 x eNodeB id + cell, NR NCI, UMTS CID)",
}
LEGACY_TECHNOLOGIES = ("2G", "GSM", "GPRS", "EDGE", "CDMA", "CDMA2000", "1X", "IS-95")
"""Technologies of sector-table rows that are dropped and counted (the engine models 3G, 4G, 5G)."""
_ID_COLUMNS = {"mcc": 3, "mnc": 3, "cell_id": 12}
WLAN_COLUMNS = {
    "ap_id": "access-point identifier (text, unique)",
    "operator": "network operator (text)",
    "freq_mhz": "channel centre frequency, MHz (2400..7125)",
    "height_m": "antenna height above ground, m (0.5..100)",
    "eirp_dbm": "EIRP, dBm (0..36)",
}


def read_sectors(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                 lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate a cellular sector table.

    Every problem (missing column, non-number, out-of-range value, duplicate sector id) is
    listed once in a :class:`SiteTableError`, each with its CSV line numbers and the
    expected range.  Columns are documented in ``SECTOR_COLUMNS``.

    Returns
    -------
    GeoDataFrame of points in ``to_crs`` (or the file CRS) with numeric columns as float64,
    ``eirp_dbm`` filled from transmitter power, gain and losses where needed, and
    ``omni`` (bool) true where ``azimuth_deg`` is blank, and the optional ``antenna_pattern``
    as stripped text (``""`` where blank: the 3GPP sector model).
    """
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="sector")
    frame, check, dropped = _without_legacy_rows(frame, path)
    has_eirp = "eirp_dbm" in frame.columns
    required = [c for c in SECTOR_COLUMNS if c != "eirp_dbm" or has_eirp]
    if not has_eirp:
        required += ["tx_power_dbm", "antenna_gain_dbi"]
    check.require(required)
    check.geometry_types({"Point"})
    for col in ("site_id", "sector_id", "operator"):
        check.text(col)
    check.unique("sector_id")
    technology = check.choice("technology", TECHNOLOGIES)
    out = frame.copy()
    out["freq_mhz"] = check.numeric("freq_mhz", 150.0, 6000.0, unit="MHz")
    out["bandwidth_mhz"] = check.numeric("bandwidth_mhz", 0.2, 400.0, unit="MHz")
    if "scs_khz" in frame.columns:
        out["scs_khz"] = check.numeric("scs_khz", 15.0, 60.0, unit="kHz", allow_missing=True)
    _check_carriers(check, technology, out["bandwidth_mhz"].to_numpy(),
                    out["scs_khz"].to_numpy() if "scs_khz" in out.columns else np.full(len(out), np.nan))
    out["height_m"] = check.numeric("height_m", 1.0, 300.0, unit="m")
    if has_eirp:
        out["eirp_dbm"] = check.numeric("eirp_dbm", 0.0, 90.0, unit="dBm")
    else:
        power = check.numeric("tx_power_dbm", -10.0, 70.0, unit="dBm")
        gain = check.numeric("antenna_gain_dbi", -10.0, 30.0, unit="dBi")
        loss = (check.numeric("feeder_loss_db", 0.0, 20.0, unit="dB", allow_missing=True)
                if "feeder_loss_db" in frame.columns else np.zeros(len(frame)))
        out["eirp_dbm"] = power + gain - np.nan_to_num(loss, nan=0.0)
    out["azimuth_deg"] = check.numeric("azimuth_deg", 0.0, 360.0, unit="degrees", allow_missing=True)
    out["downtilt_deg"] = check.numeric("downtilt_deg", -20.0, 45.0, unit="degrees")
    out["h_beamwidth_deg"] = check.numeric("h_beamwidth_deg", 1.0, 360.0, unit="degrees")
    out["v_beamwidth_deg"] = check.numeric("v_beamwidth_deg", 1.0, 90.0, unit="degrees")
    for col, digits in _ID_COLUMNS.items():
        if col in frame.columns:
            out[col] = _id_values(check, col, digits)
    raise_problems(SiteTableError, str(path), check.problems)
    out["technology"] = out["technology"].astype(str).str.strip()
    for col in ("site_id", "sector_id", "operator"):
        out[col] = out[col].astype(str).str.strip()
    if "antenna_pattern" in out.columns:
        out["antenna_pattern"] = _name_text(out["antenna_pattern"])
    out["omni"] = ~np.isfinite(out["azimuth_deg"].to_numpy())
    if to_crs is not None:
        out = out.to_crs(to_crs)
    out.attrs["dropped"] = dropped
    return out


def _without_legacy_rows(frame: gpd.GeoDataFrame, path: str | Path
                         ) -> tuple[gpd.GeoDataFrame, TableChecker, dict[str, int]]:
    """The rows whose technology is not 2G or CDMA (:data:`LEGACY_TECHNOLOGIES`, any case), a
    checker naming the file's own lines, and the dropped count; one warning naming the rows.
    A table of 2G/CDMA rows only is an error."""
    full = TableChecker(frame, path)
    if "technology" not in frame.columns:
        return frame, full, {"2G/CDMA technology": 0}
    values = text_values(frame["technology"])
    legacy = np.isin(np.char.upper(values.astype(str)), LEGACY_TECHNOLOGIES)
    if not legacy.any():
        return frame, full, {"2G/CDMA technology": 0}
    found = sorted(set(values[legacy].tolist()))
    if legacy.all():
        raise SiteTableError(f"{path}: all {len(frame)} sectors are 2G/CDMA (technology {found}), which the engine "
                             f"does not model; expected at least one row of {list(TECHNOLOGIES)}")
    warnings.warn(f"{path}: {int(legacy.sum())} of {len(frame)} sectors dropped: technology {found} is not "
                  f"modelled (3G, 4G and 5G only) at {full.rows(legacy, 5)}", CitycovWarning, stacklevel=3)
    kept = frame.loc[~legacy].reset_index(drop=True)
    kept.attrs = {k: v for k, v in frame.attrs.items() if k != "lines"}
    check = TableChecker(kept, path, source_rows=np.flatnonzero(~legacy), source_lines=full.lines)
    return kept, check, {"2G/CDMA technology": int(legacy.sum())}


def _id_values(check: TableChecker, column: str, digits: int) -> pd.Series:
    """An optional id column (``mcc``, ``mnc``, ``cell_id``) as nullable Int64: blank allowed,
    anything else a non-negative integer of at most ``digits`` digits."""
    text = pd.Series(_name_text(check.frame[column]), index=check.frame.index)
    bad = np.flatnonzero(((text != "") & ~text.str.fullmatch(rf"\d{{1,{digits}}}")).to_numpy(dtype=bool))
    if len(bad):
        check.problems.append(f"{column}: expected a non-negative integer of at most {digits} digits (or blank) at "
                              f"{check.rows(bad)} (found {sorted({str(text.iloc[i]) for i in bad[:3]})})")
    return pd.to_numeric(text.where(text.str.fullmatch(r"\d+"), None), errors="coerce").astype("Int64")


def _check_carriers(check: TableChecker, technology: np.ndarray, bandwidth_mhz: np.ndarray,
                    scs_khz: np.ndarray) -> None:
    """4G/5G rows must name a carrier of the resource-block tables (:mod:`citycov.carriers`):
    their bandwidth at their subcarrier spacing (5G: ``scs_khz``, 30 kHz where blank)."""
    lte, nr = technology == "4G", technology == "5G"
    bad_scs = np.isfinite(scs_khz) & ((lte & (scs_khz != LTE_SCS_KHZ)) | (nr & ~np.isin(scs_khz, NR_SCS_KHZ)))
    if (rows := np.flatnonzero(bad_scs)).size:
        check.problems.append(f"scs_khz: expected {LTE_SCS_KHZ} (or blank) for 4G and one of {list(NR_SCS_KHZ)} "
                              f"(or blank) for 5G at {check.rows(rows)} "
                              f"(found {sorted(set(scs_khz[rows].tolist()))[:5]})")
    spacing = np.where(lte, LTE_SCS_KHZ, np.where(np.isnan(scs_khz), NR_DEFAULT_SCS_KHZ, scs_khz))
    off_table = ((lte | nr) & np.isfinite(bandwidth_mhz) & ~bad_scs
                 & (table_resource_blocks(technology, bandwidth_mhz, scs_khz) == 0))
    for tech, s in sorted(set(zip(technology[off_table].tolist(), spacing[off_table].tolist(), strict=True))):
        rows = np.flatnonzero(off_table & (technology == tech) & (spacing == s))
        table = "TS 36.101 Table 5.6-1" if tech == "4G" else f"TS 38.101-1 Table 5.3.2-1 at {s:g} kHz"
        check.problems.append(f"bandwidth_mhz: not a {tech} channel bandwidth of {table} at "
                              f"{check.rows(rows)} (found {sorted(set(bandwidth_mhz[rows].tolist()))[:5]}; "
                              f"allowed {list(table_bandwidths_mhz(tech, s))})")


def _name_text(column: pd.Series) -> np.ndarray:
    """A name column as stripped text, ``""`` where blank; a CSV column of numeric names
    (read as numbers, floats when some are blank) gives ``"742215"``, not ``"742215.0"``."""
    if pd.api.types.is_float_dtype(column):
        return np.array(["" if not np.isfinite(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
                         for v in column.to_numpy(dtype=np.float64)], dtype=object)
    return column.astype("string").fillna("").str.strip().to_numpy(dtype=object)


def read_wlan(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
              lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate a WLAN access-point table (columns in ``WLAN_COLUMNS``)."""
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="access point")
    check = TableChecker(frame, path)
    check.require(list(WLAN_COLUMNS))
    check.geometry_types({"Point"})
    check.text("ap_id")
    check.unique("ap_id")
    out = frame.copy()
    out["freq_mhz"] = check.numeric("freq_mhz", 2400.0, 7125.0, unit="MHz")
    out["height_m"] = check.numeric("height_m", 0.5, 100.0, unit="m")
    out["eirp_dbm"] = check.numeric("eirp_dbm", 0.0, 36.0, unit="dBm")
    raise_problems(SiteTableError, str(path), check.problems)
    out["ap_id"] = out["ap_id"].astype(str).str.strip()
    if to_crs is not None:
        out = out.to_crs(to_crs)
    return out
