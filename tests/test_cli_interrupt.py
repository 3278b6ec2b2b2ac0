"""Ctrl-C during the engine leaves no outputs: the run stops between tiles, and outputs are
staged and published only when complete.

The child starts with SIGINT at its default disposition (a shell that starts ``make test &``
in the background starts its children with SIGINT ignored), and the test interrupts it at an
explicit event inside the tile loop (:mod:`citycov.checkpoints`), never after a sleep.
"""

from __future__ import annotations

import os
import signal
import sys

import pytest

from tests.test_outputs_folder import ROOT, run_until, staging_left, tree

pytestmark = pytest.mark.slow


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery as a terminal's Ctrl-C")
def test_ctrl_c_during_the_engine_leaves_no_outputs(tmp_path):
    out = tmp_path / "out"
    proc = run_until("engine.tile", [sys.executable, "-m", "citycov", "run", "--out", str(out), "--cell-m", "100",
                                     "--no-progress"], cwd=ROOT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    os.close(proc._go_w)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted; nothing was written" in err
    assert "Traceback" not in err
    assert tree(out) == {}
    assert staging_left(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery as a terminal's Ctrl-C")
def test_ctrl_c_is_delivered_when_the_launcher_ignores_sigint(tmp_path):
    """As under ``make test &``: the parent ignores SIGINT, the child must still act on it."""
    out = tmp_path / "out"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = run_until("engine.tile", [sys.executable, "-m", "citycov", "run", "--out", str(out), "--cell-m",
                                         "1000", "--no-progress"], cwd=ROOT)
    finally:
        signal.signal(signal.SIGINT, previous)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    os.close(proc._go_w)
    assert proc.returncode == 130, err[-2000:]
    assert staging_left(tmp_path) == []
