"""The output folder (``--out``): checked before the run, never written over an input, published
whole by one atomic swap, and left whole by a kill at any step of publication.

Every case hashes the output folder and the inputs' folder before and after, and asserts they
are byte-identical after a refused or killed run.  Kills use the explicit checkpoints of
:mod:`citycov.checkpoints` (the process reports the step on a pipe and waits), never a sleep.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from citycov.errors import OutputFolderError
from citycov.outputs.folder import MANIFEST, STAGING_PREFIX, OutputFolder, remove_debris
from tests.conftest import make_tiny
from tests.test_cli import assert_one_line_error, run_cli

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("publish.staged", "publish.written", "publish.carried", "publish.exchanged", "publish.adopted",
         "publish.removed")


def tree(folder: Path) -> dict[str, str]:
    """Every entry below ``folder``: a file's SHA-256, ``dir``, or a link's target."""
    out = {}
    if not folder.exists():
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(folder))
            if p.is_symlink():
                out[rel] = "link->" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def fake_run(folder: OutputFolder, label: str) -> None:
    """A stand-in for write_outputs: every file a run always writes, with ``label`` inside."""
    for name in ("districts.csv", "districts.json", "report.md", "map.html", "coverage.tif"):
        (folder.staging / name).write_text(f"{label} {name}\n", encoding="utf-8")
    (folder.staging / "figures").mkdir()
    (folder.staging / "figures" / "target_a.png").write_text(label, encoding="utf-8")


def publish_fake(out: Path, label: str) -> Path:
    folder = OutputFolder.prepare(out)
    with folder:
        fake_run(folder, label)
        return folder.publish()


def staging_left(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(STAGING_PREFIX) or "-staging-" in p.name)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# ---- checks before any work -------------------------------------------------------------------

def test_parent_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputFolderError) as exc:
        OutputFolder.prepare(tmp_path / "f" / "out")
    assert one_line(exc).endswith(f"{tmp_path / 'f'} is a file, not a folder")
    assert (tmp_path / "f").read_text() == "x"


def test_parent_missing(tmp_path):
    with pytest.raises(OutputFolderError, match=r"its parent folder .*nope does not exist; create it first"):
        OutputFolder.prepare(tmp_path / "nope" / "out")
    assert not (tmp_path / "nope").exists()


def test_out_is_a_file(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputFolderError, match=r"out: is a file, not a folder"):
        OutputFolder.prepare(tmp_path / "out")


def test_dangling_symlink(tmp_path):
    (tmp_path / "out").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputFolderError, match=r"is a symbolic link to .*gone, which does not exist"):
        OutputFolder.prepare(tmp_path / "out")
    assert (tmp_path / "out").is_symlink() and not (tmp_path / "gone").exists()


def test_symlink_to_a_folder_publishes_into_the_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to("real")
    publish_fake(tmp_path / "out", "one")
    assert (tmp_path / "out").is_symlink()
    assert (tmp_path / "real" / "districts.csv").read_text() == "one districts.csv\n"


def test_proc_is_refused():
    if not Path("/proc/self/mountinfo").is_file():
        pytest.skip("no /proc on this machine")
    with pytest.raises(OutputFolderError, match=r"/proc is a proc file system, which cannot hold files"):
        OutputFolder.prepare("/proc/citycov-out")


def test_long_name_fits_because_the_staging_name_has_a_fixed_length(tmp_path):
    out = tmp_path / ("o" * 250)
    publish_fake(out, "one")
    assert (out / "report.md").is_file()
    assert staging_left(tmp_path) == []
    with pytest.raises(OutputFolderError, match=r"the name o{40}… is 256 bytes long; file systems allow 255"):
        OutputFolder.prepare(tmp_path / ("o" * 256))


def test_current_folder_and_home_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputFolderError, match=r"is the current folder or holds it"):
        OutputFolder.prepare(".")
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(OutputFolderError, match=r"is the current folder or holds it"):
        OutputFolder.prepare("..")


def test_entry_with_an_output_name_of_the_wrong_kind_keeps_the_earlier_run(tmp_path):
    out = tmp_path / "out"
    publish_fake(out, "one")
    (out / "map.html").unlink()
    (out / "map.html").mkdir()
    before = tree(out)
    with pytest.raises(OutputFolderError) as exc:
        OutputFolder.prepare(out)
    assert "holds entries with the names of outputs that are not what a run writes: map.html (a folder, " \
           "expected a file)" in one_line(exc)
    assert tree(out) == before and staging_left(tmp_path) == []


def test_the_users_own_file_with_an_output_name_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sectors.csv").write_text("my own table\n")
    with pytest.raises(OutputFolderError, match=r"holds sectors.csv that are not from a citycov run; a run would "
                                                 r"replace them\. .*--out .*out/out"):
        OutputFolder.prepare(out)
    publish_fake(tmp_path / "other", "one")
    (tmp_path / "other" / "services.csv").write_text("mine\n")
    with pytest.raises(OutputFolderError, match=r"holds services.csv that the earlier run there did not write"):
        OutputFolder.prepare(tmp_path / "other")


def test_a_folder_holding_an_input_is_refused(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "sectors.csv").write_text("id\n")
    with pytest.raises(OutputFolderError, match=r"holds .*inputs/sectors.csv, which this run reads; .*--out "):
        OutputFolder.prepare(inputs, reads=[inputs / "sectors.csv"])
    with pytest.raises(OutputFolderError, match=r"lies inside the input folder"):
        OutputFolder.prepare(inputs / "out", reads=[inputs])


# ---- the user's files, the earlier run, debris ----------------------------------------------------

def test_users_own_files_are_carried_untouched_and_the_earlier_run_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    publish_fake(out, "one")
    (out / "notes.txt").write_text("my notes\n")
    (out / "mine").mkdir()
    (out / "mine" / "a.csv").write_text("1,2\n")
    (out / "link").symlink_to("notes.txt")
    ino = (out / "notes.txt").stat().st_ino
    mtime = (out / "notes.txt").stat().st_mtime_ns
    folder = OutputFolder.prepare(out)
    with folder:
        (folder.staging / "report.md").write_text("two report.md\n")
        (folder.staging / "districts.json").write_text("{}")
        folder.publish()
    assert sorted(os.listdir(out)) == sorted([MANIFEST, "districts.json", "link", "mine", "notes.txt", "report.md"])
    assert (out / "notes.txt").read_text() == "my notes\n"
    assert (out / "notes.txt").stat().st_ino == ino and (out / "notes.txt").stat().st_mtime_ns == mtime
    assert (out / "mine" / "a.csv").read_text() == "1,2\n"
    assert os.readlink(out / "link") == "notes.txt"
    assert staging_left(tmp_path) == []


def test_a_failure_while_writing_leaves_the_earlier_run_and_no_staging(tmp_path):
    out = tmp_path / "out"
    publish_fake(out, "one")
    before = tree(out)
    def failing_write():
        with OutputFolder.prepare(out) as folder:
            fake_run(folder, "two")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match=r"disk full"):
        failing_write()
    assert tree(out) == before and staging_left(tmp_path) == []


def test_debris_of_killed_runs_is_removed_but_a_live_runs_staging_is_not(tmp_path):
    out = tmp_path / "out"
    live = OutputFolder.prepare(tmp_path / "other")  # holds its staging folder's lock
    dead = tmp_path / f"{STAGING_PREFIX}deadbeef"
    (dead / "figures").mkdir(parents=True)
    legacy = tmp_path / ".out-staging-abc123"
    legacy.mkdir()
    (legacy / "districts.csv").write_text("old")
    removed = remove_debris(out)
    assert sorted(p.name for p in removed) == sorted([dead.name, legacy.name])
    assert live.staging.is_dir()
    live.discard()
    assert staging_left(tmp_path) == []


def test_temporary_files_live_in_the_staging_folder(tmp_path):
    import tempfile

    folder = OutputFolder.prepare(tmp_path / "out")
    with folder, folder.temporary_files() as tmp:
        assert Path(tempfile.gettempdir()) == tmp and os.environ["CPL_TMPDIR"] == str(tmp)
        assert tmp.parent == folder.staging
    assert not tmp.exists()


# ---- SIGKILL at every step of publication -----------------------------------------------------------

KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from tests.test_outputs_folder import publish_fake
    publish_fake(Path(sys.argv[1]), sys.argv[2])
""")


def run_until(step: str, argv: list[str], *, cwd: Path = ROOT, env: dict | None = None) -> subprocess.Popen:
    """Start ``argv`` with the checkpoint ``step`` armed; return once the process has reached it."""
    event_r, event_w = os.pipe()
    go_r, go_w = os.pipe()
    full_env = {**os.environ, **(env or {}), "CITYCOV_CHECKPOINTS": step,
                "CITYCOV_CHECKPOINT_FDS": f"{event_w},{go_r}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, pass_fds=(event_w, go_r), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(event_w)
    os.close(go_r)
    with os.fdopen(event_r, "r") as events:
        line = events.readline()  # blocks until the process reports the step (or exits)
    proc._go_w = go_w  # closed by the caller's kill helper
    if line.strip() != step:
        _, err = proc.communicate(timeout=600)
        os.close(go_w)
        pytest.fail(f"the process ended before {step}: rc {proc.returncode}\n{err[-3000:]}")
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=600)
    os.close(proc._go_w)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("step", STEPS)
def test_sigkill_at_each_publication_step_leaves_one_whole_run(tmp_path, step):
    out = tmp_path / "out"
    publish_fake(out, "one")
    (out / "notes.txt").write_text("mine\n")
    earlier = tree(out)
    proc = run_until(step, [sys.executable, "-c", KILL_SCRIPT, str(out), "two"])
    kill(proc)
    after = tree(out)
    if STEPS.index(step) < STEPS.index("publish.exchanged"):
        assert after == earlier
    else:
        assert set(after) == set(earlier)
        for name in ("districts.csv", "districts.json", "report.md", "map.html", "coverage.tif"):
            assert (out / name).read_text() == f"two {name}\n"
        assert (out / "figures" / "target_a.png").read_text() == "two"
        assert (out / "notes.txt").read_text() == "mine\n"
    # the next run removes what the killed one left and says so
    folder = OutputFolder.prepare(out)
    left = [p.name for p in folder.removed_debris]
    assert (left != []) == (step != "publish.removed")
    folder.discard()
    assert staging_left(tmp_path) == []


@pytest.mark.skipif(sys.platform != "linux", reason="mount namespaces and chattr are Linux features")
def test_read_only_file_system_is_refused(tmp_path):
    mnt = tmp_path / "ro"
    mnt.mkdir()
    code = ("from citycov.outputs.folder import OutputFolder; import sys\n"
            "try:\n OutputFolder.prepare(sys.argv[1])\nexcept Exception as e:\n print(e); sys.exit(1)")
    cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
           f'mount -t tmpfs -o ro tmpfs "{mnt}" || exit 77; exec "{sys.executable}" -c "$0" "{mnt}/out"', code]
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=600)
    if proc.returncode == 77 or "unshare failed" in proc.stderr or "Operation not permitted" in proc.stderr:
        pytest.skip(f"this machine refuses a private read-only mount: {proc.stderr.strip()}")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip() == f"--out {mnt}/out: {mnt} is mounted read-only"


@pytest.fixture
def immutable(tmp_path):
    """``chattr +i`` on a path (undone at the end); skips where the machine refuses it."""
    made = []

    def make(path: Path) -> Path:
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i is refused here: {proc.stderr.strip()}")
        made.append(path)
        return path

    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_unwritable_out_and_parent_are_refused(tmp_path, immutable):
    out = tmp_path / "p" / "out"
    out.parent.mkdir()
    publish_fake(out, "one")
    before = tree(out)
    immutable(out)
    with pytest.raises(OutputFolderError) as exc:
        OutputFolder.prepare(out)
    assert one_line(exc) == f"--out {out}: cannot write in it: operation not permitted (immutable or protected)"
    assert tree(out) == before and staging_left(out.parent) == []
    subprocess.run(["chattr", "-i", str(out)], check=True)
    immutable(out.parent)
    with pytest.raises(OutputFolderError) as exc:
        OutputFolder.prepare(out)
    assert one_line(exc) == (f"--out {out}: cannot create a folder in {out.parent}: operation not permitted "
                             "(immutable or protected)")
    assert tree(out) == before


# ---- end to end through the CLI -----------------------------------------------------------------------

def test_cli_refuses_the_inputs_folder_before_computing(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    before = tree(tiny.folder)
    proc = run_cli("run", str(tiny.scenario), "--out", str(tiny.folder))
    line = assert_one_line_error(proc, f"--out {tiny.folder}: holds ", "which this run reads",
                                 f"--out {tiny.folder / 'out'}")
    assert "cellular" not in proc.stderr, "the check must come before the engine"
    assert tree(tiny.folder) == before, line


def test_cli_unusable_out_fails_before_computing_and_keeps_the_earlier_run(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    out = tmp_path / "out"
    assert run_cli("-q", "run", str(tiny.scenario), "--out", str(out), "--no-progress").returncode == 0
    (out / "mine.txt").write_text("mine")
    shutil.rmtree(out / "figures")
    (out / "figures").write_text("not a folder")
    before = tree(out)
    proc = run_cli("run", str(tiny.scenario), "--out", str(out))
    assert_one_line_error(proc, "figures (a file, expected a folder)")
    assert "cellular" not in proc.stderr
    assert tree(out) == before and staging_left(tmp_path) == []


def test_cli_sigkill_while_publishing_then_rerun(tmp_path):
    tiny = make_tiny(tmp_path / "t")
    out = tmp_path / "out"
    assert run_cli("-q", "run", str(tiny.scenario), "--out", str(out), "--no-progress").returncode == 0
    earlier = tree(out)
    spare_tmp = tmp_path / "tmpdir"
    spare_tmp.mkdir()
    proc = run_until("publish.carried", [sys.executable, "-m", "citycov", "-q", "run", str(tiny.scenario),
                                         "--out", str(out), "--no-progress"], env={"TMPDIR": str(spare_tmp)})
    assert len(staging_left(tmp_path)) == 1
    kill(proc)
    assert tree(out) == earlier
    assert list(spare_tmp.iterdir()) == []
    proc = run_cli("run", str(tiny.scenario), "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "the staging folder of an interrupted run" in proc.stderr
    assert staging_left(tmp_path) == []
    assert set(tree(out)) == set(earlier)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name over 255 bytes
        return False


def _bad_outs(tmp_path: Path) -> dict:
    """Each unusable --out of the issue, built in its own folder; returns name -> (out, message)."""
    cases = {}
    (tmp_path / "pf").mkdir()
    (tmp_path / "pf" / "file").write_text("x")
    cases["parent is a file"] = (tmp_path / "pf" / "file" / "out", "is a file, not a folder")
    (tmp_path / "pm").mkdir()
    cases["parent missing"] = (tmp_path / "pm" / "a" / "out", "does not exist; create it first")
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "out").symlink_to(tmp_path / "dl" / "gone")
    cases["dangling link"] = (tmp_path / "dl" / "out", "which does not exist")
    cases["proc"] = (Path("/proc/citycov-out"), "is a proc file system")
    cases["name too long"] = (tmp_path / ("n" * 256), "is 256 bytes long; file systems allow 255")
    return cases


@pytest.mark.parametrize("case", ["parent is a file", "parent missing", "dangling link", "proc", "name too long",
                                  "immutable out"])
def test_cli_unusable_out_is_one_line_before_computing(tmp_path, case, immutable):
    tiny = make_tiny(tmp_path / "t")
    inputs_before = tree(tiny.folder)
    if case == "immutable out":
        out = tmp_path / "io" / "out"
        out.mkdir(parents=True)
        (out / "mine.txt").write_text("mine")
        immutable(out)
        message = "cannot write in it: operation not permitted"
    else:
        out, message = _bad_outs(tmp_path)[case]
    out_before = tree(out) if _is_dir(out) else None
    proc = run_cli("run", str(tiny.scenario), "--out", str(out))
    line = assert_one_line_error(proc, f"--out {os.path.abspath(out)}", message)
    assert "cellular" not in proc.stderr, line
    assert tree(tiny.folder) == inputs_before
    assert (tree(out) if _is_dir(out) else None) == out_before
    if out.parent.is_dir() and out.parent != Path("/proc"):
        assert staging_left(out.parent) == []
