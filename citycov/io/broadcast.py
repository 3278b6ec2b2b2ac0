"""Broadcast and trunking transmitter tables (CSV with lon/lat, or any OGR point file).

One row per transmitter: a digital TV (DTMB) multiplex or an 800 MHz digital trunking (PDT /
TETRA) base station.  Power is given either as e.r.p. in watts (``erp_w``, relative to a
half-wave dipole, the broadcasters' unit) or as e.i.r.p. in dBm (``eirp_dbm``);
EIRP(dBm) = 10·log10(ERP(W) · 1000) + 2.15, the dipole's 2.15 dBi.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from citycov.errors import SiteTableError, raise_problems
from citycov.io._validate import TableChecker, blank_cells
from citycov.io.vector import read_vector

SERVICES = ("dtv", "trunking")
"""``dtv``: digital terrestrial television (DTMB); ``trunking``: 800 MHz digital trunked radio."""
POLARISATIONS = ("h", "v")
DEFAULT_POLARISATION = {"dtv": "h", "trunking": "v"}
"""Polarisation of a row whose ``polarisation`` is blank: horizontal for DTV, vertical for trunking."""
DIPOLE_GAIN_DBI = 2.15
"""Gain of a half-wave dipole over isotropic: EIRP = ERP + 2.15 dB."""
ERP_W_RANGE = (0.01, 1_000_000.0)
EIRP_DBM_RANGE = (10.0 * np.log10(ERP_W_RANGE[0] * 1000.0) + DIPOLE_GAIN_DBI,
                  10.0 * np.log10(ERP_W_RANGE[1] * 1000.0) + DIPOLE_GAIN_DBI)
"""The same powers as e.i.r.p.: 12.15..92.15 dBm."""

TRANSMITTER_COLUMNS = {
    "tx_id": "transmitter identifier (text, unique)",
    "service": f"one of {list(SERVICES)}",
    "operator": "operator or network name (text)",
    "freq_mhz": "carrier centre frequency, MHz (30..3000)",
    "height_m": "antenna centre height above ground, m (1..600)",
}
POWER_COLUMNS = {
    "erp_w": f"e.r.p. at the main beam, W ({ERP_W_RANGE[0]:g}..{ERP_W_RANGE[1]:g})",
    "eirp_dbm": f"e.i.r.p. at the main beam, dBm ({EIRP_DBM_RANGE[0]:.2f}..{EIRP_DBM_RANGE[1]:.2f})",
}
"""Exactly one of the two per row (a table may carry both columns)."""
TRANSMITTER_OPTIONAL = {
    "azimuth_deg": "main-beam azimuth, degrees clockwise from true north (0..360); blank = omni",
    "h_beamwidth_deg": "horizontal half-power beamwidth, degrees (1..360); required where azimuth_deg is set, "
                       "and only there",
    "v_beamwidth_deg": "vertical half-power beamwidth, degrees (1..90); blank = no vertical pattern "
                       "(a null-filled broadcast array: the e.r.p. applies at every elevation)",
    "downtilt_deg": "beam tilt, degrees, positive down (-20..45); needs v_beamwidth_deg",
    "polarisation": "h or v; blank = h for dtv, v for trunking",
}


def read_transmitters(path: str | Path, *, crs: Any = None, to_crs: pyproj.CRS | None = None,
                      lon_column: str = "lon", lat_column: str = "lat") -> gpd.GeoDataFrame:
    """Read and validate a broadcast / trunking transmitter table.

    Columns are documented in ``TRANSMITTER_COLUMNS``, ``POWER_COLUMNS`` and
    ``TRANSMITTER_OPTIONAL``; other columns are kept as they are.  Every problem (missing
    column, non-number, out-of-range value, unknown service or polarisation, duplicate id,
    power given twice or not at all, beam columns that contradict each other) is listed once
    in a :class:`SiteTableError`, each with its CSV line numbers (or feature numbers) and what
    was expected.

    Parameters
    ----------
    path
        CSV with ``lon_column`` / ``lat_column`` (then ``crs`` is required, e.g. ``"EPSG:4326"``
        or ``"gcj02"``) or any OGR point file.
    crs
        Declared CRS of the coordinates (see :func:`citycov.io.read_vector`).
    to_crs
        Projected CRS of the analysis (metres); ``None`` keeps the file's CRS.

    Returns
    -------
    GeoDataFrame of points in ``to_crs`` (or the file CRS), a copy, with text columns
    stripped, numeric columns as float64 (NaN where an optional value is blank),
    ``eirp_dbm`` filled from ``erp_w`` where needed, ``polarisation`` filled with the
    service's default and ``omni`` (bool) true where ``azimuth_deg`` is blank.

    Examples
    --------
    >>> tx = read_transmitters("data/sites/guangzhou_broadcast_synthetic.csv", crs="EPSG:4326")
    >>> tx.loc[tx["tx_id"] == "DTV-01", ["eirp_dbm", "height_m", "polarisation"]].to_numpy().tolist()
    [[72.15, 450.0, 'h']]
    """
    frame = read_vector(path, crs=crs, lon_column=lon_column, lat_column=lat_column, what="transmitter")
    check = TableChecker(frame, path)
    check.require(list(TRANSMITTER_COLUMNS))
    has_power = [c for c in POWER_COLUMNS if c in frame.columns]
    if not has_power:
        check.problems.append(f"missing power column: give erp_w (e.r.p., W) or eirp_dbm (e.i.r.p., dBm) "
                              f"(found {list(frame.columns)})")
    check.geometry_types({"Point"})
    for col in ("tx_id", "operator"):
        check.text(col)
    check.unique("tx_id")
    service = check.choice("service", SERVICES)
    out = frame.copy()
    out["freq_mhz"] = check.numeric("freq_mhz", 30.0, 3000.0, unit="MHz")
    out["height_m"] = check.numeric("height_m", 1.0, 600.0, unit="m")

    n = len(frame)
    erp_w = (check.numeric("erp_w", *ERP_W_RANGE, unit="W", allow_missing=True)
             if "erp_w" in frame.columns else np.full(n, np.nan))
    eirp = (check.numeric("eirp_dbm", *EIRP_DBM_RANGE, unit="dBm", allow_missing=True)
            if "eirp_dbm" in frame.columns else np.full(n, np.nan))
    if has_power:
        given_erp = _given(frame, "erp_w")
        given_eirp = _given(frame, "eirp_dbm")
        both = given_erp & given_eirp
        if both.any():
            check.problems.append(f"erp_w and eirp_dbm both given at {check.rows(both)}; "
                                  "expected exactly one power per row")
        neither = ~given_erp & ~given_eirp
        if neither.any():
            check.problems.append(f"no power at {check.rows(neither)}: expected erp_w (W) "
                                  f"or eirp_dbm (dBm)")
    with np.errstate(divide="ignore", invalid="ignore"):
        from_erp = 10.0 * np.log10(erp_w * 1000.0) + DIPOLE_GAIN_DBI
    out["eirp_dbm"] = np.where(np.isfinite(eirp), eirp, from_erp)

    azimuth = check.numeric("azimuth_deg", 0.0, 360.0, unit="degrees", allow_missing=True)
    hbw = check.numeric("h_beamwidth_deg", 1.0, 360.0, unit="degrees", allow_missing=True)
    vbw = check.numeric("v_beamwidth_deg", 1.0, 90.0, unit="degrees", allow_missing=True)
    tilt = check.numeric("downtilt_deg", -20.0, 45.0, unit="degrees", allow_missing=True)
    directional = _given(frame, "azimuth_deg")
    has_hbw = _given(frame, "h_beamwidth_deg")
    need_hbw = directional & ~has_hbw
    if need_hbw.any():
        check.problems.append(f"h_beamwidth_deg: missing at {check.rows(need_hbw)}, where azimuth_deg is "
                              "set (a directional antenna needs its beamwidth)")
    stray_hbw = ~directional & has_hbw
    if stray_hbw.any():
        check.problems.append(f"h_beamwidth_deg: given at {check.rows(stray_hbw)}, where azimuth_deg is "
                              "blank (omni); give the azimuth or leave the beamwidth blank")
    stray_tilt = _given(frame, "downtilt_deg") & ~_given(frame, "v_beamwidth_deg")
    if stray_tilt.any():
        check.problems.append(f"downtilt_deg: given at {check.rows(stray_tilt)} without v_beamwidth_deg; "
                              "a tilt needs a vertical pattern (give v_beamwidth_deg, 1..90 degrees)")

    pol = np.array([""] * n, dtype=object)
    if "polarisation" in frame.columns:
        pol = frame["polarisation"].astype("string").fillna("").str.strip().to_numpy(dtype=object)
        bad = (pol != "") & ~np.isin(pol, POLARISATIONS)
        if bad.any():
            shown = sorted({str(p) for p in pol[bad][:10]})
            check.problems.append(f"polarisation: expected one of {list(POLARISATIONS)} or blank at "
                                  f"{check.rows(bad)} (found {shown})")
    raise_problems(SiteTableError, str(path), check.problems)

    out["service"] = service
    out["polarisation"] = [p if p else DEFAULT_POLARISATION[s] for p, s in zip(pol, service, strict=True)]
    out["azimuth_deg"] = azimuth
    out["h_beamwidth_deg"] = hbw
    out["v_beamwidth_deg"] = vbw
    out["downtilt_deg"] = tilt
    if "erp_w" in frame.columns:
        out["erp_w"] = erp_w
    for col in ("tx_id", "operator"):
        out[col] = out[col].astype(str).str.strip()
    out["omni"] = ~directional
    if to_crs is not None:
        out = out.to_crs(to_crs)
    return out


def _given(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Bool per row: ``column`` exists and is not blank."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return ~blank_cells(frame[column])
