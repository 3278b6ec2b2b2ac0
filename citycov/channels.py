"""Channel numbers to bands and downlink frequencies: EARFCN, NR-ARFCN and UARFCN.

Plain data and arithmetic from the 3GPP specifications, shared by the OpenCelliD reader
(:mod:`citycov.io.opencellid`) and the scenario's band tables:

* **EARFCN** (LTE), TS 36.101 Table 5.7.3-1: ``F_DL = F_DL_low + 0.1 (N_DL - N_Offs-DL)`` MHz,
  the band being the row whose ``N_DL`` range holds the number.
* **NR-ARFCN** (5G NR), TS 38.104 §5.4.2.1, the global frequency raster:
  ``F_REF = F_REF-Offs + ΔF_Global (N_REF - N_REF-Offs)`` with ΔF_Global 5 kHz below 3 GHz
  (N_REF 0..599999), 15 kHz from 3 to 24.25 GHz (600000..2016666) and 60 kHz above
  (2016667..3279165).  The band is the first band of :data:`NR_BANDS` (TS 38.101-1 Table 5.2-1)
  whose downlink range holds the frequency; where bands overlap the order names the one most
  deployed (n78 before n77, n1 before n66, n41 before n7 and n38).
* **UARFCN** (UMTS), TS 25.101 Table 5.2: ``F_DL = F_UARFCN-Offset + N_DL / 5`` MHz (offset 0
  for bands I, II, V; 1575 MHz for III, 1805 MHz for IV, 340 MHz for VIII), general channels only.

Examples
--------
>>> earfcn_carrier(1300), earfcn_carrier(6300), earfcn_carrier(3100)
(('B3', 1815.0), ('B20', 806.0), ('B7', 2655.0))
>>> nrarfcn_carrier(636666), nrarfcn_carrier(428000)
(('n78', 3549.99), ('n1', 2140.0))
>>> uarfcn_carrier(10700), uarfcn_carrier(3011)
(('B1', 2140.0), ('B8', 942.2))
"""

from __future__ import annotations

import numpy as np

EUTRA_BANDS: dict[int, tuple[float, int, int, int]] = {
    # band: (F_DL_low MHz, N_Offs-DL, first N_DL, last N_DL), TS 36.101 Table 5.7.3-1
    1: (2110.0, 0, 0, 599),
    2: (1930.0, 600, 600, 1199),
    3: (1805.0, 1200, 1200, 1949),
    4: (2110.0, 1950, 1950, 2399),
    5: (869.0, 2400, 2400, 2649),
    7: (2620.0, 2750, 2750, 3449),
    8: (925.0, 3450, 3450, 3799),
    12: (729.0, 5010, 5010, 5179),
    13: (746.0, 5180, 5180, 5279),
    14: (758.0, 5280, 5280, 5379),
    17: (734.0, 5730, 5730, 5849),
    18: (860.0, 5850, 5850, 5999),
    19: (875.0, 6000, 6000, 6149),
    20: (791.0, 6150, 6150, 6449),
    25: (1930.0, 8040, 8040, 8689),
    26: (859.0, 8690, 8690, 9039),
    28: (758.0, 9210, 9210, 9659),
    38: (2570.0, 37750, 37750, 38249),
    39: (1880.0, 38250, 38250, 38649),
    40: (2300.0, 38650, 38650, 39649),
    41: (2496.0, 39650, 39650, 41589),
    42: (3400.0, 41590, 41590, 43589),
    43: (3600.0, 43590, 43590, 45589),
    66: (2110.0, 66436, 66436, 67335),
    71: (617.0, 68586, 68586, 68935),
}
"""E-UTRA bands (TS 36.101 Table 5.7.3-1): downlink EARFCN ranges and offsets."""

NR_RASTER: tuple[tuple[int, int, float, float], ...] = (
    # (first N_REF, last N_REF, ΔF_Global kHz, F_REF-Offs MHz); N_REF-Offs is the first N_REF
    (0, 599_999, 5.0, 0.0),
    (600_000, 2_016_666, 15.0, 3000.0),
    (2_016_667, 3_279_165, 60.0, 24250.08),
)
"""The NR global frequency raster (TS 38.104 Table 5.4.2.1-1)."""

NR_BANDS: dict[str, tuple[float, float]] = {
    # downlink range (MHz), TS 38.101-1 Table 5.2-1; order = which name wins where bands overlap
    "n1": (2110.0, 2170.0), "n3": (1805.0, 1880.0), "n5": (869.0, 894.0), "n8": (925.0, 960.0),
    "n20": (791.0, 821.0), "n28": (758.0, 803.0), "n71": (617.0, 652.0), "n41": (2496.0, 2690.0),
    "n7": (2620.0, 2690.0), "n38": (2570.0, 2620.0), "n40": (2300.0, 2400.0), "n66": (2110.0, 2200.0),
    "n78": (3300.0, 3800.0), "n77": (3300.0, 4200.0), "n79": (4400.0, 5000.0),
}
"""NR FR1 bands (TS 38.101-1 Table 5.2-1): downlink range in MHz."""

UTRA_BANDS: dict[int, tuple[float, int, int]] = {
    # band: (F_UARFCN-Offset MHz, first N_DL, last N_DL), TS 25.101 Table 5.2 (general channels)
    1: (0.0, 10562, 10838),
    2: (0.0, 9662, 9938),
    3: (1575.0, 1162, 1513),
    4: (1805.0, 1537, 1738),
    5: (0.0, 4357, 4458),
    8: (340.0, 2937, 3088),
}
"""UTRA FDD bands (TS 25.101 Table 5.2): downlink UARFCN ranges and frequency offsets."""


def earfcn_carriers(earfcn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band names (``"B3"``; ``""`` where no band of :data:`EUTRA_BANDS` holds the number) and
    downlink frequencies (MHz, float64; NaN there) of LTE downlink EARFCNs (any numeric array)."""
    n = np.asarray(earfcn, dtype=np.float64)
    band = np.full(n.shape, "", dtype=object)
    freq = np.full(n.shape, np.nan)
    for b, (f_low, offs, first, last) in EUTRA_BANDS.items():
        sel = (n >= first) & (n <= last) & (n == np.round(n))
        band[sel] = f"B{b}"
        freq[sel] = np.round(f_low + 0.1 * (n[sel] - offs), 3)
    return band, freq


def nrarfcn_mhz(nrarfcn: np.ndarray) -> np.ndarray:
    """Frequencies (MHz, float64; NaN outside 0..3279165) of NR-ARFCNs on the global raster."""
    n = np.asarray(nrarfcn, dtype=np.float64)
    freq = np.full(n.shape, np.nan)
    for first, last, step_khz, f_offs in NR_RASTER:
        sel = (n >= first) & (n <= last) & (n == np.round(n))
        freq[sel] = np.round(f_offs + step_khz / 1000.0 * (n[sel] - first), 3)
    return freq


def nr_band_names(freq_mhz: np.ndarray) -> np.ndarray:
    """The NR band (``"n78"``; ``""`` where none of :data:`NR_BANDS` holds it) of downlink frequencies."""
    f = np.asarray(freq_mhz, dtype=np.float64)
    band = np.full(f.shape, "", dtype=object)
    for name, (lo, hi) in reversed(NR_BANDS.items()):  # the first listed band wins: written last
        band[(f >= lo) & (f <= hi)] = name
    return band


def nrarfcn_carriers(nrarfcn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NR band names and downlink frequencies (MHz) of NR-ARFCNs (see :func:`nrarfcn_mhz`)."""
    freq = nrarfcn_mhz(nrarfcn)
    return nr_band_names(freq), freq


def uarfcn_carriers(uarfcn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band names (``"B1"``; ``""`` where no band of :data:`UTRA_BANDS` holds the number) and
    downlink frequencies (MHz; NaN there) of UMTS downlink UARFCNs."""
    n = np.asarray(uarfcn, dtype=np.float64)
    band = np.full(n.shape, "", dtype=object)
    freq = np.full(n.shape, np.nan)
    for b, (offset, first, last) in UTRA_BANDS.items():
        sel = (n >= first) & (n <= last) & (n == np.round(n))
        band[sel] = f"B{b}"
        freq[sel] = np.round(offset + n[sel] / 5.0, 3)
    return band, freq


def _one(pair: tuple[np.ndarray, np.ndarray]) -> tuple[str, float]:
    return str(pair[0].reshape(-1)[0]), float(pair[1].reshape(-1)[0])


def earfcn_carrier(earfcn: int) -> tuple[str, float]:
    """(band, downlink MHz) of one EARFCN; ``("", nan)`` outside the table."""
    return _one(earfcn_carriers(np.array([earfcn])))


def nrarfcn_carrier(nrarfcn: int) -> tuple[str, float]:
    """(band, downlink MHz) of one NR-ARFCN."""
    return _one(nrarfcn_carriers(np.array([nrarfcn])))


def uarfcn_carrier(uarfcn: int) -> tuple[str, float]:
    """(band, downlink MHz) of one UARFCN; ``("", nan)`` outside the table."""
    return _one(uarfcn_carriers(np.array([uarfcn])))


def band_centre_mhz(radio: str, band: str) -> float | None:
    """The centre of the downlink range of a band name (``"B20"`` of LTE, ``"B1"`` of UMTS,
    ``"n78"`` of NR), in MHz; None for a band these tables do not hold.

    Examples
    --------
    >>> band_centre_mhz("LTE", "B20"), band_centre_mhz("UMTS", "B1"), band_centre_mhz("NR", "n78")
    (806.0, 2140.0, 3550.0)
    """
    name = band.strip()
    if radio == "NR":
        lo_hi = NR_BANDS.get(name.lower())
        return None if lo_hi is None else round((lo_hi[0] + lo_hi[1]) / 2.0, 3)
    if name[:1].upper() != "B" or not name[1:].isdigit():
        return None
    b = int(name[1:])
    if radio == "LTE" and b in EUTRA_BANDS:
        f_low, offs, _, last = EUTRA_BANDS[b]
        return round(f_low + 0.1 * (last + 1 - offs) / 2.0, 3)
    if radio == "UMTS" and b in UTRA_BANDS:
        offset, first, last = UTRA_BANDS[b]
        return round(offset + (first + last) / 10.0, 3)
    return None


def band_for_mhz(radio: str, freq_mhz: float) -> str:
    """The first band of the tables whose downlink range holds ``freq_mhz`` (``""`` when none).

    Examples
    --------
    >>> band_for_mhz("LTE", 806.0), band_for_mhz("UMTS", 942.5), band_for_mhz("NR", 3500.0)
    ('B20', 'B8', 'n78')
    """
    f = float(freq_mhz)
    if radio == "NR":
        return str(nr_band_names(np.array([f]))[0])
    if radio == "LTE":
        for b, (f_low, offs, _, last) in EUTRA_BANDS.items():
            if f_low <= f <= f_low + 0.1 * (last - offs):
                return f"B{b}"
    if radio == "UMTS":
        for b, (offset, first, last) in UTRA_BANDS.items():
            if offset + first / 5.0 <= f <= offset + last / 5.0:
                return f"B{b}"
    return ""


def band_names(radio: str) -> list[str]:
    """The band names :func:`band_centre_mhz` knows for ``radio`` (LTE, UMTS or NR)."""
    if radio == "NR":
        return list(NR_BANDS)
    return [f"B{b}" for b in (EUTRA_BANDS if radio == "LTE" else UTRA_BANDS if radio == "UMTS" else {})]
