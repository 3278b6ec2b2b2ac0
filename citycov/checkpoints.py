"""Named checkpoints where a test can stop the process on an explicit event, never a sleep.

A test starts citycov with ``CITYCOV_CHECKPOINTS="publish.exchanged"`` (a comma-separated
list of checkpoint names, or ``*``) and ``CITYCOV_CHECKPOINT_FDS="W,R"``, two pipe ends inherited through
``pass_fds``.  When the process reaches a listed checkpoint it writes the name and a newline to
``W`` and blocks reading one byte from ``R``: the test, woken by that line, can then kill or
interrupt the process at exactly that point, or write a byte to let it go on.  Without the
variables :func:`checkpoint` costs one set lookup.

Checkpoints: ``step.<first word of the step>`` at the start of each step of
:func:`citycov.pipeline.runner.run` (``step.read``, ``step.population``, ``step.cellular``,
``step.ftth``, ``step.service``, ``step.broadcast``, ``step.uncertainty``, ``step.coverage``,
``step.verification``); ``engine.tile`` (each tile of the cellular engine); ``publish.staged``,
``publish.written``, ``publish.carried``, ``publish.exchanged``, ``publish.adopted`` and
``publish.removed`` (see :mod:`citycov.outputs.folder`).
"""

from __future__ import annotations

import os

_NAMES = frozenset(n.strip() for n in os.environ.get("CITYCOV_CHECKPOINTS", "").split(",") if n.strip())
_FDS = os.environ.get("CITYCOV_CHECKPOINT_FDS", "")


def checkpoint(name: str) -> None:
    """Report reaching ``name`` and wait for the test's answer, when a test asked for it."""
    if not _NAMES or (name not in _NAMES and "*" not in _NAMES):
        return
    write_fd, read_fd = (int(v) for v in _FDS.split(","))
    os.write(write_fd, f"{name}\n".encode())
    os.read(read_fd, 1)
