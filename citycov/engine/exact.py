"""Parameters of the exact mode: ITM and ITU-R P.1812 point to point on each cell's own profile.

The cellular engine (:func:`citycov.engine.cellular.cellular_coverage`, ``mode = "exact"``) and
the broadcast step (:func:`citycov.engine.broadcast.broadcast_coverage`) both run the kernels of
:mod:`citycov.engine._exact_kernels` with these parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Transmitter(NamedTuple):
    """One transmitter of the exact-mode kernels (:mod:`citycov.engine._exact_kernels`): grid
    position (continuous row, column), cell size, antenna heights above ground and frequency."""

    row0: float
    col0: float
    cell_m: float
    h_tx_m: float
    h_rx_m: float
    freq_mhz: float


class ItmKernelParams(NamedTuple):
    """:class:`ItmParams` as the kernel takes them (plain numbers, fixed types)."""

    climate: int
    n0: float
    pol: int
    epsilon: float
    sigma: float
    mdvar: int
    time: float
    location: float
    situation: float


class P1812KernelParams(NamedTuple):
    """:class:`P1812Params` as the kernel takes them (plain numbers, fixed types)."""

    time_percent: float
    location_percent: float
    delta_n: float
    n0: float
    pol: int
    zone: int
    clutter_height_m: float


@dataclass(frozen=True)
class ItmParams:
    """ITM point-to-point parameters of the exact mode (see :func:`citycov.propagation.itm.itm_p2p`)."""

    climate: int = 5
    n0: float = 301.0
    pol: int = 1
    epsilon: float = 15.0
    sigma: float = 0.005
    mdvar: int = 12
    time: float = 50.0
    location: float = 50.0
    situation: float = 50.0

    def kernel_params(self, *, pol: int | None = None) -> ItmKernelParams:
        """The parameters for :func:`citycov.engine._exact_kernels.itm_loss_grid` (``pol`` overrides ``self.pol``)."""
        return ItmKernelParams(int(self.climate), float(self.n0), int(self.pol if pol is None else pol),
                               float(self.epsilon), float(self.sigma), int(self.mdvar), float(self.time),
                               float(self.location), float(self.situation))


@dataclass(frozen=True)
class P1812Params:
    """ITU-R P.1812-6 parameters of the exact mode (see :func:`citycov.propagation.p1812.p1812`).

    ``pol``: 1 horizontal, 2 vertical (P.1812's codes); ``zone``: 1 sea, 3 coastal land, 4
    inland on every profile point; ``clutter_height_m``: representative clutter height on
    every intermediate point (0: open ground).  The path latitude is the site's."""

    time_percent: float = 50.0
    location_percent: float = 50.0
    delta_n: float = 45.0
    n0: float = 325.0
    pol: int = 2
    zone: int = 4
    clutter_height_m: float = 0.0

    def kernel_params(self, *, pol: int | None = None) -> P1812KernelParams:
        """The parameters for :func:`citycov.engine._exact_kernels.p1812_loss_grid` (``pol`` overrides ``self.pol``)."""
        return P1812KernelParams(float(self.time_percent), float(self.location_percent), float(self.delta_n),
                                 float(self.n0), int(self.pol if pol is None else pol), int(self.zone),
                                 float(self.clutter_height_m))


DEFAULT_ITM = ItmParams()
DEFAULT_P1812 = P1812Params()
CLUTTER_ENV = np.array([True, True, True, False])
"""Environment classes whose receivers stand in clutter for P.2108 in the exact mode (dense
urban, urban, suburban; not open)."""
