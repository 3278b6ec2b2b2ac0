"""Toy tasks for tests/test_compute_cluster.py, in a module of their own so that Dask workers
import only this (not the test module and its fixtures) to unpickle them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TilePlan:
    """Tile ``index`` covers ``values[index * size:(index + 1) * size]`` of the shared array."""

    index: int
    size: int

    def describe(self) -> str:
        return f"tile {self.index} (values {self.index * self.size}..{(self.index + 1) * self.size - 1})"


class Shared:
    """The large object every task reads; with ``counter`` set, each pickling appends a line to
    that file (whichever process pickles it), so a test can count how often it was sent."""

    def __init__(self, values: np.ndarray, counter: str | None = None) -> None:
        self.values = values
        self.counter = counter

    def __reduce__(self):
        if self.counter is not None:
            with open(self.counter, "a") as f:
                f.write(f"{os.getpid()}\n")
        return (Shared, (self.values, self.counter))


def tile_stats(plan: TilePlan, shared: Shared) -> tuple[float, float, int]:
    """(sum, sum of squares, count) of the plan's slice: deterministic, order-independent pieces
    of the whole array's statistics."""
    part = shared.values[plan.index * plan.size:(plan.index + 1) * plan.size]
    return float(part.sum()), float(np.dot(part, part)), int(part.size)


def fail_on_three(plan: TilePlan, shared: Shared) -> tuple[float, float, int]:
    if plan.index == 3:
        raise ValueError("DEM window out of bounds")
    return tile_stats(plan, shared)


def killable(plan: TilePlan, shared: Shared) -> tuple[float, float, int]:
    """Tile 0 reports its worker (Variable "victim"), sets Event "started" and waits for Event
    "killed": the test kills that worker meanwhile, and the rescheduled copy finds "killed" set."""
    if plan.index == 0:
        from distributed import Event, Variable, get_worker

        Variable("victim").set(get_worker().address)
        Event("started").set()
        if not Event("killed").wait(timeout=600):  # a guard against a hang, not a timing
            raise RuntimeError("the test never set 'killed'")
    return tile_stats(plan, shared)


def wait_for_go(plan: TilePlan, shared: Shared) -> tuple[float, float, int]:
    """Tile 0 returns at once; the others wait for Event "go" (the test sets it when done)."""
    if plan.index != 0:
        from distributed import Event

        if not Event("go").wait(timeout=600):  # a guard against a hang, not a timing
            raise RuntimeError("the test never set 'go'")
    return tile_stats(plan, shared)


def numba_threads_in_task(plan: TilePlan, shared: Shared) -> tuple[int, int]:
    """(numba.config.NUMBA_NUM_THREADS, numba.get_num_threads()) in the task's thread."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS), int(numba.get_num_threads())


def numba_config_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


@dataclass(frozen=True)
class RecordWarm:
    """A warm callable that appends this process's id to ``path``."""

    path: str

    def __call__(self) -> None:
        with Path(self.path).open("a") as f:
            f.write(f"{os.getpid()}\n")
