#!/usr/bin/env python3
"""ITM point-to-point throughput, citycov against itmlogic, measured side by side in one process.

One synthetic 40 km profile at 30 m spacing (1333 intervals, 1334 points: rolling hills plus
noise, seeded), 900 MHz, 30 m / 1.5 m antennas, continental temperate, mobile mode (mdvar 12),
50 % time/location/situation. Rows:

1. ``itm_p2p``: citycov's public function (validation, kernel, frozen result dataclass);
2. ``itm_p2p_loss_db`` called from Python (Numba dispatch per call);
3. ``itm_p2p_loss_db`` inside an ``@njit`` loop, as the radio engine calls it per cell;
4. itmlogic (pure-Python port of ITM 1.2.2), driven as its ``scripts/p2p.py`` does: ``qlrps`` →
   ``qlrpfl`` → ``avar`` on a fresh ``prop`` dict per call.

The two models are different releases (ITM 1.4 vs 1.2.2, whose constants differ slightly), so the
losses are printed too. Writes ``benchmarks/results/itm.json``.

usage: python benchmarks/bench_itm.py [--seconds 2.0]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit

from citycov.propagation.itm import itm_p2p, itm_p2p_loss_db

N_INTERVALS = 1333
SPACING_M = 30.0
PARAMS = dict(climate=5, n0=301.0, freq_mhz=900.0, pol=1, epsilon=15.0, sigma=0.005, mdvar=12)
H_TX_M, H_RX_M = 30.0, 1.5
TLS = dict(time=50.0, location=50.0, situation=50.0)
RESULTS = Path(__file__).parent / "results" / "itm.json"


def synthetic_profile(seed: int = 0) -> np.ndarray:
    """PFL array of rolling hills (60 m, ~7 km wavelength) plus 3 m noise on a 250 m base."""
    rng = np.random.default_rng(seed)
    x = np.arange(N_INTERVALS + 1) * SPACING_M
    z = 250.0 + 60.0 * np.sin(2 * np.pi * x / 7000.0) ** 2 + 25.0 * np.sin(2 * np.pi * x / 2300.0 + 1.0)
    z += rng.normal(0.0, 3.0, z.size)
    return np.concatenate([[N_INTERVALS, SPACING_M], z])


@njit(cache=True)
def kernel_loop(pfl, reps, h_tx, h_rx, climate, n0, f, pol, eps, sigma, mdvar, t, loc, sit):
    acc = 0.0
    for _ in range(reps):
        acc += itm_p2p_loss_db(pfl, h_tx, h_rx, climate, n0, f, pol, eps, sigma, mdvar, t, loc, sit)
    return acc / reps


def rate(fn, seconds: float) -> tuple[float, int]:
    """Calls per second of ``fn()`` over about ``seconds`` (after one warm-up call)."""
    fn()
    n = 0
    t0 = time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt, n


def itmlogic_p2p_loss_db(pfl: np.ndarray) -> float | None:
    """One itmlogic point-to-point prediction (median), or None when itmlogic is not installed."""
    try:
        from itmlogic.misc.qerfi import qerfi
        from itmlogic.preparatory_subroutines.qlrpfl import qlrpfl
        from itmlogic.preparatory_subroutines.qlrps import qlrps
        from itmlogic.statistics.avar import avar
    except ImportError:
        return None
    n = int(pfl[0])
    elev = pfl[2:].tolist()
    p10 = int(0.1 * n)
    zsys = float(np.mean(pfl[2 + p10: n - p10 + 3]))  # same system elevation as NTIA v1.4
    prop = {
        "hg": [H_TX_M, H_RX_M], "fmhz": PARAMS["freq_mhz"], "eps": PARAMS["epsilon"], "sgm": PARAMS["sigma"],
        "klim": PARAMS["climate"], "ens0": PARAMS["n0"], "ipol": PARAMS["pol"], "lvar": 5, "gma": 157e-9,
        "kwx": 0, "klimx": 0, "mdvarx": PARAMS["mdvar"], "pfl": [n, float(pfl[1]), *elev],
    }
    prop["wn"], prop["gme"], prop["ens"], prop["zgnd"] = qlrps(prop["fmhz"], zsys, prop["ens0"], prop["ipol"],
                                                               prop["eps"], prop["sgm"])
    prop = qlrpfl(prop)
    fs = 32.45 + 20.0 * math.log10(prop["fmhz"]) + 20.0 * math.log10(prop["dist"] / 1000.0)
    z = qerfi([0.5])[0]
    a, _ = avar(z, 0, z, prop)
    return fs + a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time spent on each row")
    args = ap.parse_args()
    pfl = synthetic_profile()
    p = PARAMS
    scalars = (H_TX_M, H_RX_M, p["climate"], p["n0"], p["freq_mhz"], p["pol"], p["epsilon"], p["sigma"], p["mdvar"],
               TLS["time"], TLS["location"], TLS["situation"])
    reps = 2000

    ours = itm_p2p(pfl, H_TX_M, H_RX_M, **p, **TLS)
    loss_kernel = itm_p2p_loss_db(pfl, *scalars)
    assert loss_kernel == ours.loss_db
    kernel_loop(pfl, 2, *scalars)

    rows = []
    r, n = rate(lambda: itm_p2p(pfl, H_TX_M, H_RX_M, **p, **TLS), args.seconds)
    rows.append(("citycov itm_p2p (public, validated)", r, n, ours.loss_db))
    r, n = rate(lambda: itm_p2p_loss_db(pfl, *scalars), args.seconds)
    rows.append(("citycov itm_p2p_loss_db from Python", r, n, loss_kernel))
    r, n = rate(lambda: kernel_loop(pfl, reps, *scalars), args.seconds)
    rows.append(("citycov itm_p2p_loss_db in @njit loop", r * reps, n * reps, loss_kernel))
    loss_itmlogic = itmlogic_p2p_loss_db(pfl)
    if loss_itmlogic is not None:
        r, n = rate(lambda: itmlogic_p2p_loss_db(pfl), args.seconds)
        rows.append(("itmlogic (pure Python, ITM 1.2.2)", r, n, loss_itmlogic))

    base = rows[-1][1] if loss_itmlogic is not None else None
    print(f"ITM point-to-point, {N_INTERVALS + 1} points at {SPACING_M:g} m ({N_INTERVALS * SPACING_M / 1e3:.2f} km), "
          f"{p['freq_mhz']:g} MHz, mode {ours.mode}, Δh {ours.delta_h_m:.1f} m")
    print(f"{'implementation':42s} {'calls/s':>12s} {'µs/call':>10s} {'loss dB':>9s} {'vs itmlogic':>12s}")
    for name, r, _, loss in rows:
        ratio = f"{r / base:10.0f}x" if base else "-"
        print(f"{name:42s} {r:12,.0f} {1e6 / r:10.2f} {loss:9.2f} {ratio:>12s}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "ITM point-to-point, one profile",
        "profile": {"n_intervals": N_INTERVALS, "spacing_m": SPACING_M, "points": N_INTERVALS + 1},
        "params": {**p, "h_tx_m": H_TX_M, "h_rx_m": H_RX_M, **TLS},
        "rows": [{"name": name, "calls_per_s": r, "us_per_call": 1e6 / r, "calls_timed": n, "loss_db": loss,
                  "ratio_vs_itmlogic": (r / base if base else None)} for name, r, n, loss in rows],
        "python": platform.python_version(), "numba": numba.__version__, "machine": platform.machine(),
    }, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
