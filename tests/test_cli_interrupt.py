"""Ctrl-C during the engine leaves no outputs: the run stops between tiles, and outputs
are staged and moved into place only when complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery as a terminal's Ctrl-C")
def test_ctrl_c_during_the_engine_leaves_no_outputs(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "citycov", "run", "--out", str(out), "--cell-m", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    seen = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        line = proc.stderr.readline()  # the step log goes to stderr, one line per step
        if not line:
            break
        seen.append(line)
        if "cellular and WLAN coverage" in line:
            break
    assert any("cellular and WLAN coverage" in s for s in seen), "".join(seen[-20:])
    time.sleep(3.0)  # inside the engine's tile loop
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted; nothing was written" in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-staging-")]
