"""Antenna patterns: the 3GPP sector pattern (TR 36.814 / TR 38.901 Table 7.3-1).

Relative gain (dB, ≤ 0) towards a direction ``az_off_deg`` from boresight in azimuth and
``elev_deg`` below the horizon:

    A_H = −min(12·(φ/φ3dB)², A_m)
    A_V = −min(12·((θ − θ_tilt)/θ3dB)², SLA_V)
    A   = −min(−(A_H + A_V), A_m)

with A_m the front-to-back ratio.  Omni antennas have A_H = 0.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from citycov.errors import ModelError
from citycov.io.msi import N_ANGLES, AntennaPattern
from citycov.propagation.arrays import as_float_arrays, finish


@njit(cache=True, nogil=True)
def wrap_deg(angle_deg):
    """Wrap an angle to (−180, 180] degrees."""
    if -180.0 < angle_deg <= 180.0:
        return angle_deg
    if 180.0 < angle_deg <= 540.0:  # one turn off (the engine's azimuth differences): no division
        return angle_deg - 360.0
    if -540.0 < angle_deg <= -180.0:
        return angle_deg + 360.0
    a = (angle_deg + 180.0) % 360.0 - 180.0
    return 180.0 if a == -180.0 else a


@njit(cache=True, nogil=True)
def sector_gain_db(az_off_deg, elev_deg, tilt_deg, h_beamwidth_deg, v_beamwidth_deg, omni,
                   front_to_back_db, vertical_sidelobe_db):
    """3GPP relative gain in dB (0 at boresight) for one direction."""
    if omni:
        a_h = 0.0
    else:
        x = wrap_deg(az_off_deg) / h_beamwidth_deg
        a_h = -min(12.0 * x * x, front_to_back_db)
    y = (elev_deg - tilt_deg) / v_beamwidth_deg
    a_v = -min(12.0 * y * y, vertical_sidelobe_db)
    return -min(-(a_h + a_v), front_to_back_db)


@vectorize(["float64(float64, float64, float64, float64, float64, float64, float64, float64)"], cache=True)
def _sector_gain_ufunc(az, el, tilt, hbw, vbw, omni, fbr, sla):
    return sector_gain_db(az, el, tilt, hbw, vbw, omni != 0.0, fbr, sla)


def sector_pattern_db(az_off_deg, elev_deg, *, tilt_deg=0.0, h_beamwidth_deg=65.0, v_beamwidth_deg=10.0,
                      omni=False, front_to_back_db=30.0, vertical_sidelobe_db=30.0):
    """Relative gain (dB, 0 at boresight) of the 3GPP sector pattern; broadcasts like numpy.

    Examples
    --------
    >>> sector_pattern_db(32.5, 0.0)   # half the 65° beamwidth: −3 dB
    -3.0
    """
    arrays, scalar = as_float_arrays(az_off_deg, elev_deg, tilt_deg, h_beamwidth_deg, v_beamwidth_deg,
                                     np.asarray(omni, dtype=np.float64), front_to_back_db,
                                     vertical_sidelobe_db)
    return finish(_sector_gain_ufunc(*arrays), scalar)


def sector_pattern_msi(*, gain_dbi: float, h_beamwidth_deg: float = 65.0, v_beamwidth_deg: float = 10.0,
                       tilt_deg: float = 0.0, omni: bool = False, front_to_back_db: float = 30.0,
                       vertical_sidelobe_db: float = 30.0, freq_mhz: float | None = None,
                       name: str = "3GPP sector") -> AntennaPattern:
    """The 3GPP sector pattern of :mod:`citycov.engine.antenna` as MSI cuts.

    Horizontal cut: the pattern at the beam's elevation (``tilt_deg``), i.e. A_H alone.
    Vertical cut: the pattern in the boresight plane, front half (azimuth 0) for MSI angles
    270..90° and back half (azimuth 180°) for 90..270°, tilt included, so the exported file
    carries ``tilt_deg`` as electrical tilt.

    Examples
    --------
    >>> p = sector_pattern_msi(gain_dbi=17.0, tilt_deg=6.0)
    >>> float(p.v_loss_db[6]), float(p.h_loss_db[180])
    (0.0, 30.0)
    """
    problems = [f"{k} must be > 0, got {v}" for k, v in (("h_beamwidth_deg", h_beamwidth_deg),
                                                        ("v_beamwidth_deg", v_beamwidth_deg)) if not v > 0]
    problems += [f"{k} must be >= 0, got {v}" for k, v in (("front_to_back_db", front_to_back_db),
                                                          ("vertical_sidelobe_db", vertical_sidelobe_db)) if not v >= 0]
    if not math.isfinite(gain_dbi):
        problems.append(f"gain_dbi must be finite, got {gain_dbi}")
    if problems:
        raise ModelError("sector_pattern_msi: " + "; ".join(problems))
    kw = {"tilt_deg": tilt_deg, "h_beamwidth_deg": h_beamwidth_deg, "v_beamwidth_deg": v_beamwidth_deg,
          "omni": omni, "front_to_back_db": front_to_back_db, "vertical_sidelobe_db": vertical_sidelobe_db}
    angles = np.arange(N_ANGLES, dtype=np.float64)
    h = -np.asarray(sector_pattern_db(angles, np.full(N_ANGLES, tilt_deg), **kw), dtype=np.float64)
    rear = (angles > 90.0) & (angles < 270.0)
    v_az = np.where(rear, 180.0, 0.0)
    v_el = np.where(rear, 180.0 - angles, np.where(angles >= 270.0, angles - 360.0, angles))
    v = -np.asarray(sector_pattern_db(v_az, v_el, **kw), dtype=np.float64)
    h = h + 0.0  # normalise −0.0
    v = v + 0.0
    h.setflags(write=False)
    v.setflags(write=False)
    return AntennaPattern(
        name=name, gain_dbi=float(gain_dbi), h_loss_db=h, v_loss_db=v, freq_mhz=freq_mhz,
        h_beamwidth_deg=360.0 if omni else float(h_beamwidth_deg), v_beamwidth_deg=float(v_beamwidth_deg),
        front_to_back_db=float(front_to_back_db), electrical_tilt_deg=float(tilt_deg),
        metadata={"COMMENT": "3GPP TR 36.814 / TR 38.901 sector pattern exported by citycov"})
