"""Antenna pattern files in the MSI / Planet format, and the 2-D gain lookup over their two cuts.

An MSI file is plain text: header lines ``KEYWORD value`` (NAME, MAKE, FREQUENCY, H_WIDTH,
V_WIDTH, FRONT_TO_BACK, GAIN, TILT, POLARIZATION, COMMENT, vendor keys), then two blocks
``HORIZONTAL n`` and ``VERTICAL n`` of ``n`` lines ``angle loss``.  Losses are dB below the
maximum gain, written as positive numbers.  GAIN is in dBd unless followed by ``dBi``
(the Planet convention; a bare number is read as dBd with a warning).

Angle conventions (those of the format):

* horizontal cut: azimuth clockwise from boresight, 0..359°;
* vertical cut: 0° is the horizon in front, angles grow *downwards*: 90° nadir, 180° the
  horizon behind, 270° zenith.  An electrical downtilt shows as the minimum loss at the
  tilt angle.  Elevations in citycov are likewise positive below the horizon.

2-D gain from the two cuts
--------------------------
:func:`pattern_gain_db` combines the cuts the way the 3GPP sector model combines its
horizontal and vertical patterns (TR 36.814 Table A.2.1.1-2, TR 38.901 Table 7.3-1):

    A(φ, θ) = −min(A_H(φ) + A_V(θ − tilt), A_m)

with A_H and A_V the file's losses linearly interpolated between 1° samples (wrapping at
360°), the vertical cut read at the receiver's elevation θ minus the extra (mechanical)
downtilt ``tilt_deg`` (an approximation that is exact in the boresight plane), and
A_m = ``max_loss_db``, by default the deepest loss in either cut.  The gain towards the
receiver is ``gain_dbi + A``.  For a pattern exported from the 3GPP model
(:func:`citycov.engine.antenna.sector_pattern_msi`) this reproduces :func:`citycov.engine.antenna.sector_pattern_db`
up to the linear-interpolation error between whole degrees.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from citycov.errors import CitycovWarning, InputFileError, ModelError

N_ANGLES = 360
DBD_TO_DBI = 2.15
NUMERIC_KEYS = ("H_WIDTH", "V_WIDTH", "FRONT_TO_BACK", "ELECTRICAL_TILT")
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_GAIN_RE = re.compile(rf"^({_NUMBER})\s*(dbi|dbd)?$", re.IGNORECASE)
_FREQ_RE = re.compile(rf"^({_NUMBER})\s*(mhz|ghz|khz|hz)?$", re.IGNORECASE)
_FREQ_SCALE_MHZ = {"hz": 1e-6, "khz": 1e-3, "mhz": 1.0, "ghz": 1e3}


@dataclass(frozen=True, eq=False)
class AntennaPattern:
    """An antenna pattern as two cuts at 1° steps.

    gain_dbi
        Maximum gain (dBi).
    h_loss_db, v_loss_db
        float64 (360,), read-only: loss (dB ≥ 0) below ``gain_dbi`` at azimuth ``i``° clockwise
        from boresight, and at ``i``° below the front horizon (see the module docstring).
    metadata
        Every header line as found, keyword (upper case) -> raw value.
    """

    name: str
    gain_dbi: float
    h_loss_db: np.ndarray
    v_loss_db: np.ndarray
    freq_mhz: float | None = None
    h_beamwidth_deg: float | None = None
    v_beamwidth_deg: float | None = None
    front_to_back_db: float | None = None
    electrical_tilt_deg: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    source: str = "<memory>"

    @property
    def max_loss_db(self) -> float:
        """Deepest loss in either cut: the default cap A_m of the 2-D combination."""
        return float(max(self.h_loss_db.max(), self.v_loss_db.max()))

    def gain_towards(self, rel_azimuth_deg: Any, rel_elevation_deg: Any, *, tilt_deg: float = 0.0,
                     max_loss_db: float | None = None) -> float | np.ndarray:
        """Gain (dBi) towards directions relative to boresight (azimuth clockwise, elevation
        positive below the horizon, degrees); broadcasts like numpy.

        Examples
        --------
        >>> from citycov.engine.antenna import sector_pattern_msi
        >>> p = sector_pattern_msi(gain_dbi=17.0, h_beamwidth_deg=64.0)
        >>> round(p.gain_towards(32.0, 0.0), 6)       # half the beamwidth: −3 dB
        14.0
        """
        cap = self.max_loss_db if max_loss_db is None else float(max_loss_db)
        if not (math.isfinite(tilt_deg) and math.isfinite(cap) and cap >= 0.0):
            raise ModelError(f"gain_towards: tilt_deg must be finite and max_loss_db >= 0, got {tilt_deg}, {cap}")
        az, el = np.broadcast_arrays(np.asarray(rel_azimuth_deg, dtype=np.float64),
                                     np.asarray(rel_elevation_deg, dtype=np.float64))
        out = np.empty(az.shape)
        pattern_gain_grid(self.h_loss_db, self.v_loss_db, self.gain_dbi, np.ascontiguousarray(az).reshape(-1),
                          np.ascontiguousarray(el).reshape(-1), float(tilt_deg), cap, out.reshape(-1))
        return float(out) if out.ndim == 0 else out


# --------------------------------------------------------------------------------------------
# kernels


@njit(cache=True, nogil=True)
def cut_loss_db(cut_db, angle_deg):
    """Loss of a cut sampled at ``360 / cut_db.size``° steps from 0°, linearly interpolated
    at ``angle_deg`` (any value; wraps at 360°)."""
    n = cut_db.size
    step = 360.0 / n
    a = (angle_deg % 360.0) / step
    i0 = int(math.floor(a))
    f = a - i0
    i0 = i0 % n
    i1 = (i0 + 1) % n
    return cut_db[i0] * (1.0 - f) + cut_db[i1] * f


@njit(cache=True, nogil=True)
def pattern_gain_db(h_loss, v_loss, gain_dbi, rel_azimuth_deg, rel_elevation_deg, tilt_deg, max_loss_db):
    """Gain (dBi) towards one direction: gain_dbi − min(A_H(φ) + A_V(θ − tilt), A_m).

    ``rel_azimuth_deg`` clockwise from boresight, ``rel_elevation_deg`` below the horizon,
    ``tilt_deg`` extra (mechanical) downtilt, ``max_loss_db`` the cap A_m.  NaN in, NaN out.
    """
    if math.isnan(rel_azimuth_deg) or math.isnan(rel_elevation_deg):
        return np.nan
    a_h = cut_loss_db(h_loss, rel_azimuth_deg)
    a_v = cut_loss_db(v_loss, rel_elevation_deg - tilt_deg)
    return gain_dbi - min(a_h + a_v, max_loss_db)


@njit(cache=True)
def pattern_gain_grid(h_loss, v_loss, gain_dbi, rel_azimuth_deg, rel_elevation_deg, tilt_deg, max_loss_db, out):
    """:func:`pattern_gain_db` over 1-D arrays of directions, into ``out``."""
    for i in range(rel_azimuth_deg.size):
        out[i] = pattern_gain_db(h_loss, v_loss, gain_dbi, rel_azimuth_deg[i], rel_elevation_deg[i], tilt_deg,
                                 max_loss_db)
    return out


# --------------------------------------------------------------------------------------------
# reading


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # vendor files often carry a degree sign in latin-1


def _to_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def read_msi(path: str | Path) -> AntennaPattern:
    """Read an MSI / Planet antenna pattern file.

    Parameters
    ----------
    path
        The ``.msi`` / ``.pln`` / ``.txt`` file.

    Returns
    -------
    AntennaPattern
        Cuts resampled to 1° steps if the file uses another spacing (periodic linear
        interpolation); gain converted to dBi.

    Raises
    ------
    InputFileError
        The file is missing or unreadable, or its content is invalid; the message names the
        file and lists every problem with its line number.

    Examples
    --------
    >>> import tempfile, os
    >>> from citycov.engine.antenna import sector_pattern_msi
    >>> path = os.path.join(tempfile.mkdtemp(), "sector.msi")
    >>> write_msi(sector_pattern_msi(gain_dbi=17.0), path)
    >>> read_msi(path).gain_dbi
    17.0
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: antenna pattern file not found")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{p}: cannot read: {exc}") from exc
    if not raw.strip():
        raise InputFileError(f"{p}: is empty; expected an MSI / Planet antenna pattern (GAIN, HORIZONTAL 360 "
                             "and VERTICAL 360 blocks)")
    if b"\x00" in raw:
        line = raw.count(b"\n", 0, raw.index(b"\x00")) + 1
        raise InputFileError(f"{p}: line {line}: NUL byte (binary data); expected an MSI / Planet antenna pattern "
                             "as text")
    return parse_msi(_decode(raw), source=str(p))


def parse_msi(text: str, *, source: str = "<memory>") -> AntennaPattern:
    """Parse the text of an MSI file (see :func:`read_msi`); ``source`` names it in errors."""
    problems: list[str] = []
    header: dict[str, str] = {}
    header_line: dict[str, int] = {}
    blocks: dict[str, list[tuple[int, float, float]]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        stripped = lines[i].strip()
        i += 1
        if not stripped:
            continue
        parts = stripped.split(None, 1)
        key = parts[0].upper()
        rest = parts[1].strip() if len(parts) > 1 else ""
        if key in ("HORIZONTAL", "VERTICAL"):
            count = _to_float(rest.split()[0]) if rest else None
            if count is None or count != int(count) or count < 2:
                problems.append(f"line {lineno}: {key} must be followed by the number of points, got {rest!r}")
                continue
            if key in blocks:
                problems.append(f"line {lineno}: second {key} block")
            points: list[tuple[int, float, float]] = []
            n_rows = 0
            while n_rows < int(count) and i < len(lines):
                row = lines[i].strip()
                if not row:
                    i += 1
                    continue
                cols = row.split()
                angle = _to_float(cols[0])
                if angle is None:
                    break  # a keyword: the block ended early
                i += 1
                n_rows += 1
                loss = _to_float(cols[1]) if len(cols) > 1 else None
                if len(cols) != 2 or loss is None:
                    problems.append(f"line {i}: {key} data must be 'angle loss_db', got {row!r}")
                elif not 0.0 <= angle < 360.0:
                    problems.append(f"line {i}: {key} angle must be in [0, 360), got {angle:g}")
                elif loss < 0.0:
                    problems.append(f"line {i}: {key} loss must be >= 0 dB (MSI losses are written without a "
                                    f"minus sign), got {loss:g}")
                else:
                    points.append((i, angle, loss))
            if n_rows < int(count):
                problems.append(f"line {lineno}: {key} declares {int(count)} points, found {n_rows}")
            blocks[key] = points
            continue
        if _to_float(key) is not None:
            problems.append(f"line {lineno}: data line {stripped!r} outside a HORIZONTAL/VERTICAL block")
            continue
        if key in header:
            problems.append(f"line {lineno}: {key} repeated (first on line {header_line[key]})")
        header[key] = rest
        header_line[key] = lineno

    cuts = {k: _resample(k, pts, problems) for k, pts in blocks.items()}
    for key in ("HORIZONTAL", "VERTICAL"):
        if key not in blocks:
            problems.append(f"no {key} block")

    gain_dbi = None
    if "GAIN" not in header:
        problems.append("no GAIN line")
    else:
        m = _GAIN_RE.match(header["GAIN"])
        if m is None:
            problems.append(f"line {header_line['GAIN']}: GAIN must be a number with optional dBi/dBd, "
                            f"got {header['GAIN']!r}")
        else:
            gain_dbi = float(m.group(1))
            unit = (m.group(2) or "").lower()
            if unit != "dbi":
                gain_dbi += DBD_TO_DBI
            if not unit:
                warnings.warn(f"{source}: line {header_line['GAIN']}: GAIN {header['GAIN']!r} has no unit; read as "
                              "dBd (the MSI convention)", CitycovWarning, stacklevel=2)
    freq_mhz = None
    if header.get("FREQUENCY"):
        m = _FREQ_RE.match(header["FREQUENCY"])
        if m is None or float(m.group(1)) <= 0:
            problems.append(f"line {header_line['FREQUENCY']}: FREQUENCY must be a positive number with optional "
                            f"unit (MHz default), got {header['FREQUENCY']!r}")
        else:
            freq_mhz = float(m.group(1)) * _FREQ_SCALE_MHZ[(m.group(2) or "mhz").lower()]
    numbers: dict[str, float | None] = {}
    for key in NUMERIC_KEYS:
        numbers[key] = None
        if header.get(key):
            value = _to_float(header[key].split()[0])
            if value is None:
                problems.append(f"line {header_line[key]}: {key} must be a number, got {header[key]!r}")
            numbers[key] = value
    tilt_text = header.get("TILT", "")
    electrical = numbers["ELECTRICAL_TILT"]
    if electrical is None and tilt_text and _to_float(tilt_text.split()[0]) is not None:
        electrical = _to_float(tilt_text.split()[0])  # some vendors write the tilt value on TILT
    if problems:
        raise InputFileError(f"{source}: " + "; ".join(problems))
    return AntennaPattern(
        name=header.get("NAME") or Path(source).stem, gain_dbi=float(gain_dbi),
        h_loss_db=cuts["HORIZONTAL"], v_loss_db=cuts["VERTICAL"], freq_mhz=freq_mhz,
        h_beamwidth_deg=numbers["H_WIDTH"], v_beamwidth_deg=numbers["V_WIDTH"],
        front_to_back_db=numbers["FRONT_TO_BACK"], electrical_tilt_deg=electrical, metadata=dict(header),
        source=source)


def _resample(key: str, points: list[tuple[int, float, float]], problems: list[str]) -> np.ndarray:
    """Cut values at 0..359° from (line, angle, loss) points; duplicates are problems."""
    seen: dict[float, int] = {}
    for lineno, angle, _ in points:
        if angle in seen:
            problems.append(f"line {lineno}: {key} angle {angle:g} repeated (first on line {seen[angle]})")
        seen[angle] = lineno
    if len(seen) < 2:
        return np.zeros(N_ANGLES)
    angles = np.array([a for _, a, _ in points])
    losses = np.array([v for _, _, v in points])
    order = np.argsort(angles, kind="stable")
    grid = np.arange(N_ANGLES, dtype=np.float64)
    if np.array_equal(angles[order], grid):
        out = losses[order].astype(np.float64)
    else:
        out = np.interp(grid, angles[order], losses[order], period=360.0)
    out.setflags(write=False)
    return out


# --------------------------------------------------------------------------------------------
# writing and the 3GPP export


def format_msi(pattern: AntennaPattern, *, decimals: int = 4) -> str:
    """MSI text of ``pattern`` (gain written in dBi, losses with ``decimals`` decimals)."""
    lines = [f"NAME {pattern.name}"]
    if pattern.freq_mhz is not None:
        lines.append(f"FREQUENCY {pattern.freq_mhz:g}")
    for key, value in (("H_WIDTH", pattern.h_beamwidth_deg), ("V_WIDTH", pattern.v_beamwidth_deg),
                       ("FRONT_TO_BACK", pattern.front_to_back_db)):
        if value is not None:
            lines.append(f"{key} {value:g}")
    lines.append(f"GAIN {pattern.gain_dbi:g} dBi")
    if pattern.electrical_tilt_deg is not None:
        lines.append("TILT ELECTRICAL")
        lines.append(f"ELECTRICAL_TILT {pattern.electrical_tilt_deg:g}")
    comment = pattern.metadata.get("COMMENT")
    if comment:
        lines.append(f"COMMENT {comment}")
    for key, cut in (("HORIZONTAL", pattern.h_loss_db), ("VERTICAL", pattern.v_loss_db)):
        lines.append(f"{key} {N_ANGLES}")
        lines.extend(f"{a} {abs(float(v)):.{decimals}f}" for a, v in enumerate(cut))
    return "\n".join(lines) + "\n"


def write_msi(pattern: AntennaPattern, path: str | Path, *, decimals: int = 4) -> None:
    """Write ``pattern`` as an MSI file (UTF-8, gain in dBi)."""
    p = Path(path)
    try:
        p.write_text(format_msi(pattern, decimals=decimals), encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"{p}: cannot write: {exc}") from exc
