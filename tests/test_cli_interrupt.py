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


STAGES = ("step.read", "step.population", "step.cellular", "engine.tile", "step.ftth", "step.uncertainty",
          "step.coverage", "step.verification", "publish.staged", "publish.written", "publish.carried")


@pytest.fixture(scope="module")
def claims_scenario(tmp_path_factory):
    """The tiny scenario with claim verification (every step of the pipeline but the presets),
    and an earlier run in ``out`` to keep."""
    import citycov
    from tests.test_pipeline_claims import make_claims_tiny

    folder = tmp_path_factory.mktemp("interrupt")
    tiny = make_claims_tiny(folder / "t")
    out = folder / "out"
    citycov.write_outputs(citycov.run(citycov.load_scenario(tiny.scenario)), out)
    return tiny, out


@pytest.mark.parametrize("stage", STAGES)
def test_ctrl_c_at_every_stage_keeps_the_earlier_run(claims_scenario, stage):
    tiny, out = claims_scenario
    before = tree(out)
    proc = run_until(stage, [sys.executable, "-m", "citycov", "run", str(tiny.scenario), "--out", str(out),
                             "--no-progress"], cwd=ROOT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    os.close(proc._go_w)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("citycov:")] == [
        f"citycov: interrupted; nothing was written to {out}"]
    assert tree(out) == before
    assert staging_left(out.parent) == []


def test_ctrl_c_after_the_swap_says_the_new_run_is_in_place(claims_scenario):
    tiny, out = claims_scenario
    before = tree(out)
    proc = run_until("publish.exchanged", [sys.executable, "-m", "citycov", "run", str(tiny.scenario), "--out",
                                           str(out), "--no-progress"], cwd=ROOT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    os.close(proc._go_w)
    assert proc.returncode == 130, err[-2000:]
    assert f"citycov: interrupted after {out} received the complete new run" in err
    assert set(tree(out)) == set(before)  # the same entries, from the new run
    assert staging_left(out.parent) == []  # the earlier run, swapped aside, was removed on the way out
