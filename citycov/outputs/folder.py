"""The output folder (``--out``): checked before any work, staged beside it, published whole.

A run never writes into ``--out`` piece by piece.  :meth:`OutputFolder.prepare` checks the
path before the engine starts and creates a **staging folder** beside it,
``<parent>/.citycov-staging-XXXXXXXX`` (a fixed-length name, so any legal ``--out`` name fits).
Every output and every temporary file of the run is written there.  :meth:`OutputFolder.publish`
then swaps the staging folder and ``--out`` with one ``renameat2(RENAME_EXCHANGE)`` (Linux ≥ 3.15
on ext4, XFS, Btrfs, tmpfs and most local file systems): at every instant ``--out`` is either
the complete earlier run or the complete new run.  The user's own entries in ``--out`` (anything
that is not an output of citycov) are carried into the new folder beforehand as hard links, so
they keep their content, inode and times; entries that appear while the swap happens are moved
across after it.  The earlier run, now in the staging folder, is deleted last.

A run killed at any step leaves ``--out`` whole and at most one staging folder beside it, which
the next run into the same parent folder removes (and says so).  Each staging folder is held
with ``flock`` by its run, so a live run's staging folder is never taken for debris.

Publication steps, each a :func:`citycov.checkpoints.checkpoint`: ``publish.staged`` (after the
checks), ``publish.written`` (outputs complete in staging), ``publish.carried`` (user entries
linked), ``publish.exchanged`` (the swap), ``publish.adopted`` (late entries moved) and
``publish.removed`` (the earlier run deleted).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import fnmatch
import json
import logging
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from citycov._version import __version__
from citycov.checkpoints import checkpoint
from citycov.errors import OutputFolderError
from citycov.outputs.saved import NETWORK_GPKG

log = logging.getLogger(__name__)

OUTPUT_FILES = ("districts.csv", "districts.json", "districts.geojson", "targets.csv", "networks.csv",
                "uncertainty.csv", "report.md", "rsrp_dbm.tif", "serving_sector.tif", "coverage.tif", "sectors.csv",
                "gaps.geojson", "gaps.gpkg", NETWORK_GPKG, "map.html", "report.html")
"""Written by every run."""
OUTPUT_FOLDERS = ("figures",)
CLAIM_FILES = ("claims_hexes.geojson", "claims_summary.csv", "challenged_areas.geojson")
PLAN_FILES = ("plan_sites.csv", "plan_sites.geojson", "plan_cabinets.csv", "plan_cabinets.geojson",
              "plan_summary.csv", "plan_curve.csv", "plan_solvers.csv")
"""Written by ``citycov plan`` (:mod:`citycov.outputs.plan`)."""
OPTIONAL_FILES = (*CLAIM_FILES, "calibration.json", "services.csv", "sinr_db.tif", "throughput_mbps.tif",
                  "speed_tier.tif", *PLAN_FILES)
"""Written when the scenario asks for them (claims, calibration, services, SINR and speed, a plan)."""
OUTPUT_PATTERNS = ("broadcast_*.tif",)
MANIFEST = ".citycov-run.json"
"""The list of a published run's entries, so the next run knows which entries are its own."""
STAGING_PREFIX = ".citycov-staging-"
LEGACY_STAGING = ".{name}-staging-"
"""Staging folders of citycov ≤ 0.9, which nothing removed when a run was killed."""
SPECIAL_FILE_SYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
    "configfs", "pstore", "bpf", "mqueue", "hugetlbfs", "fusectl", "binfmt_misc", "autofs", "efivarfs",
    "rpc_pipefs", "nsfs"})
"""Kernel file systems that hold no files of their own."""
NAME_MAX_BYTES = 255

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def is_output_name(name: str) -> bool:
    """True for the names a citycov run writes into ``--out``."""
    return (name in OUTPUT_FILES or name in OUTPUT_FOLDERS or name in OPTIONAL_FILES or name == MANIFEST
            or any(fnmatch.fnmatchcase(name, p) for p in OUTPUT_PATTERNS))


def _is_temp_debris(name: str) -> bool:
    """Temporary files that an interrupted atomic write of an output leaves (``.map.html.k3j2``)."""
    if not name.startswith("."):
        return False
    rest = name[1:]
    return any(rest.startswith(f"{n}.") for n in (*OUTPUT_FILES, *OPTIONAL_FILES))


def _fail(path: Path, problem: str) -> OutputFolderError:
    return OutputFolderError(f"--out {path}: {problem}")


def _mount_of(path: Path) -> tuple[str, str, bool] | None:
    """``(mount point, file system type, read-only)`` of the mount holding ``path``, from
    ``/proc/self/mountinfo``; None where that file cannot be read."""
    try:
        lines = Path("/proc/self/mountinfo").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best: tuple[str, str, bool] | None = None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 6 or not tail:
            continue
        point = fields[4].encode().decode("unicode_escape")  # \040 etc.
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):
            best = (point, tail[0], "ro" in fields[5].split(","))
    return best


def _resolved(out: Path) -> Path:
    """``out`` as an absolute path, through a link to a folder; checks the name and the parent."""
    if "\x00" in str(out):
        raise _fail(Path(str(out).replace("\x00", "\\0")), "the path contains a NUL byte")
    path = Path(os.path.abspath(out))
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX_BYTES:
            raise _fail(path, f"the name {part[:40]}… is {size} bytes long; file systems allow {NAME_MAX_BYTES}")
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            raise _fail(path, f"is a symbolic link to {os.readlink(path)}, which does not exist")
        if not target.is_dir():
            raise _fail(path, f"is a symbolic link to {target}, which is not a folder")
        path = target
    if path == Path(path.anchor):
        raise _fail(path, "is the root of the file system; give a folder for the outputs")
    parent = path.parent
    probe = parent
    while not probe.exists() and not probe.is_symlink():
        probe = probe.parent
    if probe != parent:
        if probe.is_dir():
            raise _fail(path, f"its parent folder {parent} does not exist; create it first")
        raise _fail(path, f"{probe} is a file, not a folder")
    if not parent.is_dir():
        raise _fail(path, f"{parent} is a file, not a folder")
    if path.exists() and not path.is_dir():
        raise _fail(path, "is a file, not a folder")
    return path


def _check_place(path: Path) -> None:
    """The file system and the folder's relation to the working folder and the home folder."""
    mount = _mount_of(path.parent)
    if mount is not None:
        point, fstype, read_only = mount
        if fstype in SPECIAL_FILE_SYSTEMS:
            raise _fail(path, f"{point} is a {fstype} file system, which cannot hold files")
        if read_only:
            raise _fail(path, f"{point} is mounted read-only")
    if not path.exists():
        return
    if os.path.ismount(path):
        raise _fail(path, "is a mount point, which a run cannot replace by renaming; use a subfolder, "
                          f"e.g. --out {path / 'out'}")
    cwd = Path(os.path.realpath(os.getcwd()))
    if cwd == path or path in cwd.parents:
        raise _fail(path, "is the current folder or holds it; a run replaces --out as a whole: use a "
                          f"subfolder, e.g. --out {path / 'out'}")
    home = Path(os.path.realpath(Path.home()))
    if home == path or path in home.parents:
        raise _fail(path, f"is or holds the home folder; use a subfolder, e.g. --out {path / 'out'}")


def _check_inputs(path: Path, reads: Iterable[Path]) -> None:
    """Refuse an ``--out`` that holds a file the run reads (or lies inside an input folder)."""
    real = Path(os.path.realpath(path))
    for item in reads:
        r = Path(os.path.realpath(item))
        if r == real or real in r.parents:
            raise _fail(path, f"holds {r}, which this run reads; outputs could replace it. Write the outputs "
                              f"to a new subfolder, e.g. --out {path / 'out'}")
        if r.is_dir() and r in real.parents:
            raise _fail(path, f"lies inside the input folder {r}; choose a folder outside it")


def _earlier_run(path: Path) -> set[str] | None:
    """The entries of the earlier citycov run in ``path``: from its manifest, or, for runs of
    citycov ≤ 0.9 (no manifest), the output names present when ``districts.json`` is citycov's.
    None when ``path`` holds no citycov run."""
    manifest = path / MANIFEST
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
            return {str(n) for n in doc["entries"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _fail(path, f"{MANIFEST} is not a citycov run manifest ({exc}); remove it or choose "
                              "another folder") from exc
    legacy = path / "districts.json"
    if legacy.is_file() and not legacy.is_symlink():
        try:
            doc = json.loads(legacy.read_text(encoding="utf-8"))
            if "citycov" in doc["provenance"]["software"]:
                return {e.name for e in os.scandir(path) if is_output_name(e.name)}
        except (OSError, ValueError, KeyError, TypeError):
            return None
    return None


def _check_entries(path: Path) -> set[str]:
    """Entries of ``path`` with an output's name must be the earlier run's, of the right kind;
    user entries must be on ``--out``'s file system (they are carried over as hard links).
    Returns the earlier run's entries (empty when there is none)."""
    if not path.exists():
        return set()
    earlier = _earlier_run(path)
    owned = earlier or set()
    wrong_kind, foreign, elsewhere = [], [], []
    device = path.stat().st_dev
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        name = entry.name
        if name == MANIFEST or _is_temp_debris(name):
            continue
        if is_output_name(name):
            want_dir = name in OUTPUT_FOLDERS
            ok_kind = (entry.is_dir(follow_symlinks=False) if want_dir else entry.is_file(follow_symlinks=False))
            if not ok_kind:
                wrong_kind.append(f"{name} (a {_kind(entry)}, expected a {'folder' if want_dir else 'file'})")
            elif name not in owned:
                foreign.append(name)
            continue
        for sub in _walk(Path(entry.path)):
            if sub.lstat().st_dev != device:
                elsewhere.append(str(sub))
                break
    if wrong_kind:
        raise _fail(path, "holds entries with the names of outputs that are not what a run writes: "
                          + ", ".join(wrong_kind) + "; rename or remove them, or choose another folder")
    if foreign:
        what = "that the earlier run there did not write" if earlier is not None else "that are not from a citycov run"
        raise _fail(path, f"holds {', '.join(foreign)} {what}; a run would replace them. Move them, or write the "
                          f"outputs to a new subfolder, e.g. --out {path / 'out'}")
    if elsewhere:
        raise _fail(path, f"holds {elsewhere[0]} on another file system; a run carries your own files into the new "
                          "folder as hard links, which cannot cross file systems: move it out of --out")
    return owned


def _kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "symbolic link"
    if entry.is_dir():
        return "folder"
    if entry.is_file():
        return "file"
    return "special file"


def _walk(root: Path) -> Iterable[Path]:
    """``root`` and, for a real folder, everything below it (links are not followed)."""
    yield root
    if root.is_dir() and not root.is_symlink():
        for dirpath, dirnames, filenames in os.walk(root):
            for name in (*dirnames, *filenames):
                yield Path(dirpath) / name


def _lock(path: Path) -> int | None:
    """An fd on folder ``path`` holding an exclusive ``flock``; None if another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_debris(out: Path) -> list[Path]:
    """Remove the staging folders that killed runs left beside ``out`` (none held by a live run);
    return what was removed."""
    parent = out.parent
    removed = []
    legacy = LEGACY_STAGING.format(name=out.name)
    try:
        candidates = [e for e in os.scandir(parent) if e.is_dir(follow_symlinks=False)
                      and (e.name.startswith(STAGING_PREFIX) or e.name.startswith(legacy))]
    except OSError:
        return []
    for entry in candidates:
        fd = _lock(Path(entry.path))
        if fd is None:
            continue
        try:
            if os.path.samestat(os.fstat(fd), os.lstat(entry.path)):
                shutil.rmtree(entry.path)
                removed.append(Path(entry.path))
        except OSError as exc:
            log.warning("could not remove the leftover staging folder %s: %s", entry.path, exc)
        finally:
            os.close(fd)
    for path in removed:
        log.warning("removed %s, the staging folder of an interrupted run", path)
    return removed


def _make_staging(path: Path) -> tuple[Path, int]:
    """Create and lock ``<parent>/.citycov-staging-XXXXXXXX``."""
    for _ in range(100):
        staging = path.parent / f"{STAGING_PREFIX}{secrets.token_hex(4)}"
        try:
            os.mkdir(staging, 0o777)
        except FileExistsError:
            continue
        except OSError as exc:
            raise _fail(path, f"cannot create a folder in {path.parent}: {_reason(exc)}") from exc
        fd = _lock(staging)
        if fd is not None and os.path.samestat(os.fstat(fd), os.lstat(staging)):
            return staging, fd
        if fd is not None:
            os.close(fd)
    raise _fail(path, f"cannot create a staging folder in {path.parent}")


def _reason(exc: OSError) -> str:
    return {errno.EACCES: "permission denied", errno.EPERM: "operation not permitted (immutable or protected)",
            errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "disk quota exceeded", errno.ENAMETOOLONG: "name too long"}.get(
        exc.errno or 0, exc.strerror or str(exc))


def _probe_writable(path: Path) -> None:
    """Create and remove one file in ``path``: proves that the run may change that folder."""
    probe = path / f"{STAGING_PREFIX}probe-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise _fail(path, f"cannot write in it: {_reason(exc)}") from exc
    os.unlink(probe)


def _exchange(a: Path, b: Path) -> None:
    """Swap the entries ``a`` and ``b`` atomically (``renameat2(RENAME_EXCHANGE)``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        fn = libc.renameat2
    except AttributeError as exc:
        raise OSError(errno.ENOSYS, "renameat2 is not available (glibc < 2.28)") from exc
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a), None, str(b))


def _link_tree(src: Path, dst: Path) -> None:
    """Recreate ``src`` at ``dst``: folders as folders, links as links, everything else as hard links."""
    st = src.lstat()
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(dst)
        for entry in os.scandir(src):
            _link_tree(Path(entry.path), dst / entry.name)
        shutil.copystat(src, dst, follow_symlinks=False)
    else:
        os.link(src, dst, follow_symlinks=False)


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to the device before it is published."""
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OutputFolder:
    """A checked ``--out`` and its locked staging folder.  Write the outputs into
    :attr:`staging`, then :meth:`publish`; :meth:`discard` (or leaving a ``with`` block by an
    exception) removes the staging folder and leaves ``--out`` as it was."""

    def __init__(self, path: Path, staging: Path, lock_fd: int, earlier: set[str], removed: list[Path]):
        self.path = path
        self.staging = staging
        self.removed_debris = removed
        self.published = False
        """True once ``--out`` holds the new run (from the swap on)."""
        self._lock_fd: int | None = lock_fd
        self._earlier = earlier

    @classmethod
    def prepare(cls, out: str | Path, *, reads: Iterable[str | Path] = ()) -> OutputFolder:
        """Check ``out`` (raising :class:`~citycov.errors.OutputFolderError` with one line naming
        the path and the problem), remove debris of killed runs beside it and create the
        staging folder.  ``reads``: every file and folder the run reads, none of which may lie
        in ``out``."""
        path = _resolved(Path(out))
        _check_place(path)
        _check_inputs(path, [Path(p) for p in reads])
        earlier = _check_entries(path)
        removed = remove_debris(path)
        staging, fd = _make_staging(path)
        folder = cls(path, staging, fd, earlier, removed)
        try:
            if path.exists():
                _probe_writable(path)
            checkpoint("publish.staged")
        except BaseException:
            folder.discard()
            raise
        return folder

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Remove the staging folder, unless the run was published; ``--out`` stays as it was."""
        if self.published or self._lock_fd is None:
            self._unlock()
            return
        shutil.rmtree(self.staging, ignore_errors=True)
        self._unlock()

    def publish(self) -> Path:
        """Make the staged run ``--out`` in one atomic swap (see the module docstring)."""
        if self._lock_fd is None or self.published:
            raise RuntimeError("publish: this output folder was already published or discarded")
        path, staging = self.path, self.staging
        entries = sorted(e.name for e in os.scandir(staging))
        doc = {"software": f"citycov {__version__}", "entries": entries}
        (staging / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        _fsync_tree(staging)
        checkpoint("publish.written")
        if not path.exists():
            try:
                os.rename(staging, path)  # ENOTEMPTY/EEXIST if a folder appeared meanwhile: nothing lost
            except OSError as exc:
                raise _fail(path, f"cannot publish the run: {_reason(exc)}") from exc
            self.published = True
            self._unlock()
            _fsync_dir(path.parent)
            checkpoint("publish.exchanged")
            return path
        old_fd = _lock(path)
        if old_fd is None:
            raise _fail(path, "another citycov run is publishing into it")
        kept: list[str] = []
        try:
            carried = self._carry(path, staging)
            _fsync_dir(staging)
            checkpoint("publish.carried")
            try:
                _exchange(staging, path)
            except OSError as exc:
                raise _fail(path, f"cannot publish the run by an atomic swap: {_reason(exc)}") from exc
            self.published = True
            _fsync_dir(path.parent)
            checkpoint("publish.exchanged")
            kept = self._adopt_late(staging, path, carried)  # the staging name now holds the earlier run
            checkpoint("publish.adopted")
            if kept:
                log.warning("the earlier run is kept in %s because it holds %s", staging, ", ".join(kept))
            else:
                shutil.rmtree(staging)
            checkpoint("publish.removed")
        finally:
            if self.published and not kept and staging.exists():
                shutil.rmtree(staging, ignore_errors=True)  # interrupted after the swap: the earlier run goes
            os.close(old_fd)
            if self.published:
                self._unlock()
        return path

    def _user_entries(self, folder: Path) -> list[os.DirEntry]:
        return [e for e in os.scandir(folder) if e.name != MANIFEST and e.name not in self._earlier
                and not _is_temp_debris(e.name)]

    def _carry(self, path: Path, staging: Path) -> set[str]:
        """Hard-link the user's own entries of ``path`` into ``staging``; return their names."""
        carried = set()
        for entry in self._user_entries(path):
            if (staging / entry.name).exists() or (staging / entry.name).is_symlink():
                raise _fail(path, f"holds {entry.name}, which is also an output of this run; move it away")
            try:
                _link_tree(Path(entry.path), staging / entry.name)
            except OSError as exc:
                raise _fail(path, f"cannot carry your {entry.name} into the new run ({_reason(exc)}); "
                                  "move it out of --out. The earlier run is unchanged") from exc
            carried.add(entry.name)
        return carried

    def _adopt_late(self, old: Path, path: Path, carried: set[str]) -> list[str]:
        """Move across entries that the user created in ``--out`` while the run was carrying;
        return the names that could not move (their name is taken), which keep ``old``."""
        kept = []
        for entry in self._user_entries(old):
            if entry.name in carried:
                continue
            target = path / entry.name
            if target.exists() or target.is_symlink():
                kept.append(entry.name)
                continue
            os.rename(entry.path, target)
        return kept

    @contextlib.contextmanager
    def temporary_files(self) -> Iterator[Path]:
        """Point Python's and GDAL's temporary files into the staging folder for the block, so a
        killed run leaves none in ``TMPDIR``; yields that folder (removed at the end)."""
        tmp = self.staging / ".tmp"
        tmp.mkdir(exist_ok=True)
        saved = {k: os.environ.get(k) for k in ("TMPDIR", "CPL_TMPDIR")}
        saved_tempdir = tempfile.tempdir
        os.environ["TMPDIR"] = os.environ["CPL_TMPDIR"] = str(tmp)
        tempfile.tempdir = str(tmp)
        try:
            yield tmp
        finally:
            tempfile.tempdir = saved_tempdir
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            shutil.rmtree(tmp, ignore_errors=True)
