#!/usr/bin/env python3
"""Propagation-library throughput, measured side by side in one process.

1. COST-231 Hata over 10⁷ distances: citycov's Numba kernel (one thread and ``prange`` on
   both cores) against the same formula in plain NumPy.
2. log10, where the engine spends its time: ``math.log10`` in a Numba loop, a fast log10
   (exponent extraction + a short atanh polynomial, no SVML needed) and ``np.log10``; with
   the fast log's worst error expressed in dB of Hata loss.

usage: python benchmarks/bench_propagation.py [--n 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
from numba import njit, prange

from citycov.propagation.hata import cost231_hata_db

LOG10_2 = math.log10(2.0)
INV_LN10 = 1.0 / math.log(10.0)


@njit(cache=True)
def hata_serial(d_km, out):
    for i in range(d_km.size):
        out[i] = cost231_hata_db(1800.0, 30.0, 1.5, d_km[i], 1)
    return out


@njit(cache=True, parallel=True)
def hata_parallel(d_km, out):
    for i in prange(d_km.size):
        out[i] = cost231_hata_db(1800.0, 30.0, 1.5, d_km[i], 1)
    return out


def hata_numpy(d_km):
    f, hb, hm = 1800.0, 30.0, 1.5
    a_hm = (1.1 * np.log10(f) - 0.7) * hm - (1.56 * np.log10(f) - 0.8)
    return 46.3 + 33.9 * np.log10(f) - 13.82 * np.log10(hb) - a_hm + (44.9 - 6.55 * np.log10(hb)) * np.log10(d_km)


@njit(cache=True)
def log10_math(x, out):
    for i in range(x.size):
        out[i] = math.log10(x[i])
    return out


@njit(cache=True, fastmath=True)
def log10_fast(x, out):
    """log10 for positive normal doubles, branch-free so LLVM can vectorise it.

    x = m·2^e with m in [1, 2); ln m = 2·atanh(s), s = (m−1)/(m+1) in [0, 1/3), odd series
    to s¹¹ (truncation < 2e-7 in ln m)."""
    bits = x.view(np.int64)
    mant = np.empty_like(bits)
    for i in range(x.size):
        mant[i] = (bits[i] & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    m = mant.view(np.float64)
    for i in range(x.size):
        e = ((bits[i] >> 52) & 0x7FF) - 1023
        s = (m[i] - 1.0) / (m[i] + 1.0)
        s2 = s * s
        poly = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0)))))
        out[i] = e * LOG10_2 + 2.0 * s * poly * INV_LN10
    return out


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    d = rng.uniform(1.0, 20.0, args.n)
    out = np.empty_like(d)
    hata_serial(d[:10], out[:10])
    hata_parallel(d[:10], out[:10])
    log10_math(d[:10], out[:10])
    log10_fast(d[:10], out[:10])
    ref = hata_numpy(d)
    assert np.allclose(hata_serial(d, out), ref, atol=1e-9)
    rows = [
        ("COST-231 Hata, NumPy", timed(lambda: hata_numpy(d), args.repeat)),
        ("COST-231 Hata, Numba kernel, 1 thread", timed(lambda: hata_serial(d, out), args.repeat)),
        ("COST-231 Hata, Numba kernel, prange", timed(lambda: hata_parallel(d, out), args.repeat)),
        ("log10, np.log10", timed(lambda: np.log10(d), args.repeat)),
        ("log10, math.log10 in Numba", timed(lambda: log10_math(d, out), args.repeat)),
        ("log10, fast (exponent + polynomial) in Numba", timed(lambda: log10_fast(d, out), args.repeat)),
    ]
    base = rows[0][1]
    print(f"n = {args.n:,} distances in 1-20 km, median of {args.repeat} runs")
    for name, t in rows:
        print(f"{name:48s} {t * 1e3:8.1f} ms  {args.n / t / 1e6:8.1f} M/s  {base / t:5.2f}x NumPy Hata")
    err = np.abs(log10_fast(d, out) - np.log10(d)).max()
    tiny = np.geomspace(1e-3, 1e3, 100_001)
    err = max(err, np.abs(log10_fast(tiny, np.empty_like(tiny)) - np.log10(tiny)).max())
    print(f"fast log10: max |error| {err:.2e} (decades) = {44.9 * err:.2e} dB of Hata distance term "
          f"(44.9·log10 d), {20 * err:.2e} dB of a 20·log10 term")
    t_math = rows[4][1]
    t_fast = rows[5][1]
    print(f"fast/math log10 speed ratio: {t_math / t_fast:.2f}x")
    public_throughput(args.repeat)


def public_throughput(repeat: int, n: int = 1_000_000) -> None:
    """Throughput of each public vectorised function (validation included) on 10⁶ inputs."""
    from citycov import propagation as P

    rng = np.random.default_rng(1)
    d_km = rng.uniform(1.0, 20.0, n)
    nu = rng.uniform(-3.0, 5.0, n)
    p = rng.uniform(1.0, 99.0, n)
    cases = {
        "free_space_loss_db": lambda: P.free_space_loss_db(900.0, d_km),
        "okumura_hata_loss_db": lambda: P.okumura_hata_loss_db(900.0, 30.0, 1.5, d_km, "urban_large"),
        "cost231_hata_loss_db": lambda: P.cost231_hata_loss_db(1800.0, 30.0, 1.5, d_km),
        "tr38901_loss_db (UMa NLOS)": lambda: P.tr38901_loss_db("UMa", 3.5, 25.0, 1.5, d_km * 250.0, False),
        "knife_edge_loss_db (eq. 31)": lambda: P.knife_edge_loss_db(nu),
        "knife_edge_loss_db (exact)": lambda: P.knife_edge_loss_db(nu, exact=True),
        "p2108_terrestrial_loss_db": lambda: P.p2108_terrestrial_loss_db(3.5, d_km, p),
        "p2109_building_entry_loss_db": lambda: P.p2109_building_entry_loss_db(3.5, 10.0, p, 1),
    }
    print(f"public functions on {n:,} inputs (median of {repeat}):")
    for name, fn in cases.items():
        fn()
        t = timed(fn, repeat)
        print(f"  {name:32s} {n / t / 1e6:8.1f} M/s")
    x = np.linspace(0.0, 10_000.0, 201)
    z = 20.0 + 30.0 * np.sin(x / 700.0) ** 2
    z[0] = z[-1] = 40.0
    for method in P.MULTI_EDGE_METHODS:
        P.multi_knife_edge_loss_db(x, z, 900.0, method=method)
        t = timed(lambda m=method: [P.multi_knife_edge_loss_db(x, z, 900.0, method=m) for _ in range(1000)], repeat)
        print(f"  multi_knife_edge_loss_db {method:16s} {1000 / t / 1e3:8.1f} k profiles/s (201 points)")


if __name__ == "__main__":
    main()
