"""Atomic file writes: write beside the destination, then ``os.replace`` (atomic on one file
system), so a reader never sees a half-written file and a failure leaves the old one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_bytes_atomic(path: str | Path, content: bytes) -> Path:
    """Write ``content`` to ``path`` atomically, with the usual (umask) permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, content: str) -> Path:
    """Write UTF-8 ``content`` to ``path`` atomically."""
    return write_bytes_atomic(path, content.encode("utf-8"))
