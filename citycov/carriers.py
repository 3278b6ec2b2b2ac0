"""Carrier tables: the channel bandwidths of LTE and NR and their resource blocks.

Plain data that the sector reader (:mod:`citycov.io.sites`), the engine
(:mod:`citycov.engine.linkbudget`) and the accounting share: a 4G or 5G carrier has one of
these bandwidths, and its reference signal is one of its 12·N_RB subcarriers.

Examples
--------
>>> LTE_RESOURCE_BLOCKS[20.0], NR_RESOURCE_BLOCKS[(30, 100.0)]
(100, 273)
>>> table_bandwidths_mhz("5G", 60)[:3]
(10.0, 15.0, 20.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from citycov.errors import ModelError

LTE_SCS_KHZ = 15
"""LTE subcarrier spacing (kHz)."""
NR_SCS_KHZ = (15, 30, 60)
"""NR FR1 subcarrier spacings (kHz) of TS 38.101-1 Table 5.3.2-1."""
NR_DEFAULT_SCS_KHZ = 30
"""NR subcarrier spacing (kHz) where a sector table names none (the usual n78 spacing)."""

LTE_RESOURCE_BLOCKS: dict[float, int] = {1.4: 6, 3.0: 15, 5.0: 25, 10.0: 50, 15.0: 75, 20.0: 100}
"""LTE channel bandwidth (MHz) -> N_RB (TS 36.101 Table 5.6-1)."""

NR_RESOURCE_BLOCKS: dict[tuple[int, float], int] = {
    # (SCS kHz, channel bandwidth MHz) -> N_RB, TS 38.101-1 Table 5.3.2-1 (FR1).  The 35, 45
    # and 70 MHz columns were added in later releases.
    **{(15, b): n for b, n in {5.0: 25, 10.0: 52, 15.0: 79, 20.0: 106, 25.0: 133, 30.0: 160, 35.0: 188,
                               40.0: 216, 45.0: 242, 50.0: 270}.items()},
    **{(30, b): n for b, n in {5.0: 11, 10.0: 24, 15.0: 38, 20.0: 51, 25.0: 65, 30.0: 78, 35.0: 92, 40.0: 106,
                               45.0: 119, 50.0: 133, 60.0: 162, 70.0: 189, 80.0: 217, 90.0: 245,
                               100.0: 273}.items()},
    **{(60, b): n for b, n in {10.0: 11, 15.0: 18, 20.0: 24, 25.0: 31, 30.0: 38, 35.0: 44, 40.0: 51, 45.0: 58,
                               50.0: 65, 60.0: 79, 70.0: 93, 80.0: 107, 90.0: 121, 100.0: 135}.items()},
}
"""NR FR1 (SCS kHz, channel bandwidth MHz) -> N_RB (TS 38.101-1 Table 5.3.2-1)."""

TABLE_TECHNOLOGIES = ("4G", "5G")
"""Technologies whose bandwidth must be a table bandwidth (3G is any 3.84 Mchip/s-style carrier)."""


def table_key_mhz(bandwidth_mhz: float) -> float:
    """A bandwidth as a key of the tables: rounded to 1 kHz, so 1.4000000000000001 is 1.4."""
    return round(float(bandwidth_mhz), 3)


def table_bandwidths_mhz(technology: str, scs_khz: float | None = None) -> tuple[float, ...]:
    """The channel bandwidths (MHz, ascending) of ``technology`` ("4G" or "5G") at ``scs_khz``
    (5G: 30 kHz by default; 4G: 15 kHz only); empty for any other pair."""
    if technology == "4G":
        return tuple(sorted(LTE_RESOURCE_BLOCKS)) if scs_khz in (None, LTE_SCS_KHZ) else ()
    if technology == "5G":
        scs = NR_DEFAULT_SCS_KHZ if scs_khz is None else scs_khz
        return tuple(sorted(b for s, b in NR_RESOURCE_BLOCKS if s == scs))
    return ()


def carrier_arrays(technology: Any, bandwidth_mhz: Any, scs_khz: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-D arrays (technology object, bandwidth float64, SCS float64 with NaN = the default) of
    one carrier or of one per sector; ``None`` bandwidth or SCS is NaN."""
    tech = np.asarray(technology, dtype=object).reshape(-1)
    bw = np.broadcast_to(np.asarray(np.nan if bandwidth_mhz is None else bandwidth_mhz, dtype=np.float64),
                         tech.shape)
    scs = np.broadcast_to(np.asarray(np.nan if scs_khz is None else scs_khz, dtype=np.float64), tech.shape)
    return tech, bw, scs


def table_resource_blocks(tech: np.ndarray, bw: np.ndarray, scs: np.ndarray) -> np.ndarray:
    """N_RB (int64) of each carrier of :func:`carrier_arrays`; 0 where the pair is not in the
    tables (an LTE SCS other than 15 kHz, a bandwidth the table lacks, 3G)."""
    lte = tech == "4G"
    spacing = np.where(lte, np.where(np.isnan(scs), LTE_SCS_KHZ, scs), np.where(np.isnan(scs), NR_DEFAULT_SCS_KHZ, scs))
    keys = [(t, s, table_key_mhz(b) if math.isfinite(b) else b)
            for t, s, b in zip(tech.tolist(), spacing.tolist(), bw.tolist(), strict=True)]
    found = {k: (LTE_RESOURCE_BLOCKS.get(k[2], 0) if k[0] == "4G" and k[1] == LTE_SCS_KHZ
                 else NR_RESOURCE_BLOCKS.get((k[1], k[2]), 0) if k[0] == "5G" else 0) for k in set(keys)}
    return np.array([found[k] for k in keys], dtype=np.int64).reshape(tech.shape)


def _values(values: np.ndarray) -> Any:
    shown = sorted(set(values.tolist()))
    return shown[0] if len(shown) == 1 else shown[:10]


def checked_resource_blocks(tech: np.ndarray, bw: np.ndarray, scs: np.ndarray, technologies: tuple[str, ...], *,
                            sector_ids: Any = None, where: str) -> np.ndarray:
    """:func:`table_resource_blocks` of ``technologies`` (3G: 0); one :class:`ModelError` listing
    every carrier not in the tables, with its value, its ``sector_ids`` and the allowed values."""
    ids = None if sector_ids is None else np.asarray(sector_ids).reshape(-1)

    def named(sel: np.ndarray) -> str:
        return "" if ids is None else f" (sectors {[str(i) for i in ids[sel][:10]]})"

    problems: list[str] = []
    if (sel := ~np.isin(tech, technologies)).any():
        problems.append(f"technology must be one of {list(technologies)}, got {_values(tech[sel])!r}{named(sel)}")
    lte, nr = tech == "4G", tech == "5G"
    if (bad_scs := lte & np.isfinite(scs) & (scs != LTE_SCS_KHZ)).any():
        problems.append(f"LTE uses {LTE_SCS_KHZ} kHz subcarriers, got scs_khz={_values(scs[bad_scs])}{named(bad_scs)}")
    n_rb = table_resource_blocks(tech, bw, scs)
    spacing = np.where(np.isnan(scs), NR_DEFAULT_SCS_KHZ, scs)
    for s in sorted(set(spacing[nr & (n_rb == 0)].tolist())):
        sel = nr & (n_rb == 0) & (spacing == s)
        valid = list(table_bandwidths_mhz("5G", s))
        hint = f"bandwidths at {s:g} kHz: {valid}" if valid else f"scs_khz must be one of {list(NR_SCS_KHZ)}"
        problems.append(f"no NR carrier of {_values(bw[sel])} MHz at {s:g} kHz (TS 38.101-1 Table 5.3.2-1); "
                        f"{hint}{named(sel)}")
    if (sel := lte & ~bad_scs & (n_rb == 0)).any():
        problems.append(f"LTE bandwidth_mhz must be one of {list(table_bandwidths_mhz('4G'))} (TS 36.101 Table 5.6-1), "
                        f"got {_values(bw[sel])}{named(sel)}")
    if problems:
        raise ModelError(f"{where}: " + "; ".join(problems))
    return n_rb


def resource_blocks(technology: Any, bandwidth_mhz: Any, *, scs_khz: Any = None,
                    sector_ids: Any = None) -> int | np.ndarray:
    """N_RB of 4G or 5G carriers of ``bandwidth_mhz`` (5G: at ``scs_khz``, 30 kHz by default).

    A technology and a bandwidth give an int; arrays (one entry per sector; ``scs_khz`` NaN =
    the default) give an int64 array.  A bandwidth that is not in the table raises
    :class:`~citycov.errors.ModelError` naming it (and its ``sector_ids``) and the allowed values.

    Examples
    --------
    >>> resource_blocks("4G", 20.0), resource_blocks("5G", 100.0, scs_khz=30)
    (100, 273)
    >>> resource_blocks(np.array(["4G", "5G"]), [1.4, 20.0], scs_khz=[np.nan, 15]).tolist()
    [6, 106]
    """
    tech, bw, scs = carrier_arrays(technology, bandwidth_mhz, scs_khz)
    n_rb = checked_resource_blocks(tech, bw, scs, TABLE_TECHNOLOGIES, sector_ids=sector_ids, where="resource_blocks")
    return int(n_rb[0]) if isinstance(technology, str) else n_rb.reshape(np.shape(technology))
