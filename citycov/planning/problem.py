"""The covering problem every planner solves, as plain arrays (no geography).

Demand *units* are what targets count: a (cell, district) piece of the residents of an
uncovered cell, the households of a cell not passed by fibre, a village not yet covered.  Each
unit belongs to one *requirement* (a target on one area, e.g. wireless population in Conghua)
and brings ``unit_weight`` of it (persons, households, villages).  Candidate ``j`` costs
``cost[j]`` and covers the units ``i`` with ``cover[i, j]`` true.  A requirement ``k`` is met
when the covered weight of its units reaches ``need[k]``.

Capacitated candidates (fibre cabinets: ``capacity[j]`` finite, in ports) serve at most
``capacity[j]`` of load, a unit ``i`` placing ``unit_load[i]`` on the candidate that serves it
(households for FTTH units, 0 for villages and residents); a unit may be served in part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Requirement:
    """One target on one area: ``need`` more of ``unit`` must be covered (0: already met)."""

    metric: str
    """A metric of :data:`citycov.config.METRICS` (``wireless_population``, ...)."""
    area_id: str
    """A district id, or :data:`citycov.accounting.districts.CITY_ID`."""
    need: float
    unit: str
    """``persons``, ``households`` or ``villages``."""


@dataclass(frozen=True)
class CoverProblem:
    """A partial covering problem (see the module docstring).  Shapes: ``n`` units, ``m``
    candidates, ``r`` requirements."""

    cost: np.ndarray
    """(m,) float64 > 0."""
    cover: sparse.csc_array
    """(n, m) bool: candidate j covers unit i."""
    unit_weight: np.ndarray
    """(n,) float64 >= 0."""
    unit_requirement: np.ndarray
    """(n,) int64 in [0, r)."""
    requirements: tuple[Requirement, ...]
    capacity: np.ndarray | None = None
    """(m,) float64, ``inf`` for uncapacitated candidates; ``None``: all uncapacitated."""
    unit_load: np.ndarray | None = None
    """(n,) float64 >= 0, the load a unit places on a capacitated candidate serving it."""
    candidate_ids: tuple[str, ...] = ()
    """Optional names of the candidates (ties are broken by index, never by name)."""

    @property
    def need(self) -> np.ndarray:
        return np.array([r.need for r in self.requirements], dtype=np.float64)

    @property
    def n_units(self) -> int:
        return int(self.cover.shape[0])

    @property
    def n_candidates(self) -> int:
        return int(self.cover.shape[1])


@dataclass(frozen=True)
class Selection:
    """A chosen set of candidates and what it covers."""

    method: str
    """``greedy``, ``highs``, ``cp-sat`` or ``brute-force``."""
    chosen: np.ndarray
    """int64 candidate indices, in order of selection (greedy) or ascending (exact methods)."""
    cost: float
    covered: np.ndarray
    """(r,) covered weight per requirement (capped at nothing: the real coverage)."""
    feasible: bool
    """Every requirement's need is met."""
    status: str
    """Solver status in words (``optimal``, ``time limit``, ``infeasible: ...``, ``greedy``)."""
    time_s: float
    lower_bound: float = float("nan")
    """A proven lower bound on the minimum cost (LP relaxation or the MIP's dual bound)."""
    gains: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """(len(chosen), r) weight newly covered per requirement by each chosen candidate, in the
    order of ``chosen`` (greedy: marginal at the time of choice)."""


@dataclass(frozen=True)
class CellCover:
    """Which uncovered grid cells each candidate would newly cover (sites: wireless coverage;
    cabinets: passed by fibre), before the cells are split into demand units."""

    cells: np.ndarray
    """int64, sorted, unique: flat row-major indices on the analysis grid of the cells that at
    least one candidate newly covers."""
    cover: sparse.csc_array
    """(len(cells), n_candidates) bool."""
    pairs_evaluated: int = 0
    """Candidate × cell pairs evaluated to build it (for the throughput benchmark)."""
