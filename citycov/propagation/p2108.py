"""ITU-R P.2108 clutter loss: §3.1 height-gain terminal correction, §3.2 terrestrial statistical model.

§3.2 (0.5-67 GHz, d ≥ 0.25 km, 0 < p < 100 % of locations):
    Ll = −2·log10(10^(−5·log10 f − 12.5) + 10^(−16.5))
    Ls = 32.98 + 23.9·log10 d + 3·log10 f
    σcb = √((σl²·10^(−0.2 Ll) + σs²·10^(−0.2 Ls)) / (10^(−0.2 Ll) + 10^(−0.2 Ls))),  σl = 4, σs = 6
    Lctt(d) = −5·log10(10^(−0.2 Ll) + 10^(−0.2 Ls)) − σcb·Q⁻¹(p/100)
    and the loss may not exceed its value at 2 km (eq. 6): L = min(Lctt(d), Lctt(2 km)).
§3.1 (0.03-3 GHz, one end of an urban/suburban path):
    h ≥ R: Ah = 0
    knife-edge classes (suburban, urban, trees/forest, dense urban):
        Ah = J(ν) − 6.03, ν = Kν·√(hdif·θclut), hdif = R − h, θclut = atan(hdif / ws) (degrees),
        Kν = 0.342·√f
    height-gain classes (water/sea, open/rural): Ah = −Kh2·log10(h / R), Kh2 = 21.8 + 6.2·log10 f
Error codes follow NTIA's p2108: 48 frequency, 49 distance, 50 percentage out of range.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, vectorize

from citycov.errors import ModelError, P2108Error
from citycov.propagation.arrays import as_float_arrays, finish
from citycov.propagation.diffraction import knife_edge_db
from citycov.propagation.stats import inverse_normal_cdf

P2108_FREQ_GHZ = (0.5, 67.0)
P2108_MIN_DIST_KM = 0.25
P2108_HG_FREQ_GHZ = (0.03, 3.0)
CLUTTER_TYPES = {"water_sea": 1, "open_rural": 2, "suburban": 3, "urban": 4, "trees_forest": 5, "dense_urban": 6}
"""§3.1 clutter types (Table 3); 1-2 use the height-gain model, 3-6 the knife-edge model."""
DEFAULT_CLUTTER_HEIGHT_M = {"water_sea": 10.0, "open_rural": 10.0, "suburban": 10.0, "urban": 15.0,
                            "trees_forest": 15.0, "dense_urban": 20.0}


@njit(cache=True, nogil=True)
def _terrestrial_clutter_at_db(freq_ghz, dist_km, p):
    ll = -2.0 * math.log10(10.0 ** (-5.0 * math.log10(freq_ghz) - 12.5) + 10.0 ** (-16.5))
    ls = 32.98 + 23.9 * math.log10(dist_km) + 3.0 * math.log10(freq_ghz)
    wl = 10.0 ** (-0.2 * ll)
    ws = 10.0 ** (-0.2 * ls)
    sigma_cb = math.sqrt((16.0 * wl + 36.0 * ws) / (wl + ws))
    # Q⁻¹(p/100) = −Φ⁻¹(p/100)
    return -5.0 * math.log10(wl + ws) + sigma_cb * inverse_normal_cdf(p / 100.0)


@njit(cache=True, nogil=True)
def terrestrial_clutter_db(freq_ghz, dist_km, p):
    """§3.2 clutter loss (dB) not exceeded for ``p`` % of locations, capped at its 2 km value."""
    return min(_terrestrial_clutter_at_db(freq_ghz, dist_km, p), _terrestrial_clutter_at_db(freq_ghz, 2.0, p))


@njit(cache=True, nogil=True)
def height_gain_db(freq_ghz, h_m, street_width_m, clutter_height_m, clutter_code):
    """§3.1 height-gain terminal correction Ah (dB) for a terminal at ``h_m`` in clutter of
    height ``clutter_height_m``."""
    if h_m >= clutter_height_m:
        return 0.0
    if clutter_code <= 2:
        return -(21.8 + 6.2 * math.log10(freq_ghz)) * math.log10(h_m / clutter_height_m)
    h_dif = clutter_height_m - h_m
    theta_deg = math.degrees(math.atan(h_dif / street_width_m))
    nu = 0.342 * math.sqrt(freq_ghz) * math.sqrt(h_dif * theta_deg)
    return knife_edge_db(nu) - 6.03


@vectorize(["float64(float64, float64, float64)"], cache=True)
def _terrestrial_ufunc(f, d, p):
    return terrestrial_clutter_db(f, d, p)


@vectorize(["float64(float64, float64, float64, float64, int64)"], cache=True)
def _height_gain_ufunc(f, h, ws, r, code):
    return height_gain_db(f, h, ws, r, code)


def _out_of_range(name: str, values: np.ndarray, bad: np.ndarray, valid: str, code: int) -> None:
    if bad.any():
        shown = np.unique(values[bad])[:5].tolist()
        raise P2108Error(f"P.2108: {name} must be {valid}, got {shown} (NTIA return code {code})", code)


def p2108_terrestrial_loss_db(freq_ghz, dist_km, p):
    """ITU-R P.2108 §3.2 terrestrial statistical clutter loss (dB), one end of the path.

    Parameters
    ----------
    freq_ghz
        Frequency, GHz, 0.5-67.
    dist_km
        Path length, km, ≥ 0.25.
    p
        Percentage of locations for which the loss is not exceeded, 0 < p < 100.

    Raises
    ------
    P2108Error
        (a :class:`ModelError`) naming the argument, value and range, with NTIA's code.

    Examples
    --------
    >>> round(p2108_terrestrial_loss_db(0.5, 0.25, 50.0), 1)
    17.4
    """
    (f, d, pp), scalar = as_float_arrays(freq_ghz, dist_km, p)
    _out_of_range("freq_ghz", f, ~((f >= P2108_FREQ_GHZ[0]) & (f <= P2108_FREQ_GHZ[1])), "in [0.5, 67] GHz", 48)
    _out_of_range("dist_km", d, ~(d >= P2108_MIN_DIST_KM), ">= 0.25 km", 49)
    _out_of_range("p", pp, ~((pp > 0.0) & (pp < 100.0)), "in (0, 100) %", 50)
    return finish(_terrestrial_ufunc(f, d, pp), scalar)


def p2108_height_gain_db(freq_ghz, h_m, street_width_m, clutter_height_m, clutter_type):
    """ITU-R P.2108 §3.1 height-gain terminal correction Ah (dB, added to the path loss).

    Parameters
    ----------
    freq_ghz
        0.03-3 GHz.
    h_m
        Terminal antenna height above ground, m (> 0).
    street_width_m
        Street width, m (> 0; the Recommendation's default is 27 m).
    clutter_height_m
        Representative clutter height R, m (> 0); ``DEFAULT_CLUTTER_HEIGHT_M`` lists Table 3's defaults.
    clutter_type
        One of ``CLUTTER_TYPES``: water_sea and open_rural use the height-gain model,
        suburban, urban, trees_forest and dense_urban the knife-edge model.

    Examples
    --------
    >>> p2108_height_gain_db(1.0, 20.0, 27.0, 15.0, "urban")
    0.0
    """
    if clutter_type not in CLUTTER_TYPES:
        raise ModelError(f"P.2108: unknown clutter_type {clutter_type!r}; expected one of {sorted(CLUTTER_TYPES)}")
    (f, h, ws, r), scalar = as_float_arrays(freq_ghz, h_m, street_width_m, clutter_height_m)
    lo, hi = P2108_HG_FREQ_GHZ
    _out_of_range("freq_ghz", f, ~((f >= lo) & (f <= hi)), "in [0.03, 3] GHz for §3.1", 48)
    for name, arr in (("h_m", h), ("street_width_m", ws), ("clutter_height_m", r)):
        if not (arr > 0.0).all():
            raise ModelError(f"P.2108: {name} must be > 0 m, got {np.unique(arr[~(arr > 0.0)])[:5].tolist()}")
    code = np.full(f.shape, CLUTTER_TYPES[clutter_type], dtype=np.int64)
    return finish(_height_gain_ufunc(f, h, ws, r, code), scalar)
