"""What a path given as an input is: checked before any work, so that no reader ever opens a
FIFO (it would wait for a writer) or a device (``/dev/zero`` never ends).

:func:`path_problem` follows symbolic links (a link to a regular file is that file) and
returns ``None`` for what was expected, else the phrase that completes ``"<path> ..."``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MISSING = "does not exist"
"""The phrase of :func:`path_problem` for a path that is not there (a plain missing path)."""


def kind_of(mode: int) -> str:
    """What ``st_mode`` says the path is, with its article: ``"a FIFO"``, ``"a folder"``..."""
    for test, text in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return text
    return f"a special file (mode {stat.filemode(mode)})"


def path_problem(path: str | Path, *, folder: bool = False) -> str | None:
    """``None`` when ``path`` is a regular file (a folder when ``folder``), else what it is.

    Returns
    -------
    str or None
        :data:`MISSING` (``"does not exist"``), ``"does not exist (a symbolic link to …)"``,
        ``"is a FIFO; expected a regular file"``, ``"is a character device; expected a
        regular file"``, ``"is a folder; expected a file"``, ``"is a regular file; expected a
        folder"``, or ``"cannot be examined: <reason>"``.

    Examples
    --------
    >>> path_problem("/dev/zero")
    'is a character device; expected a regular file'
    """
    try:
        mode = os.stat(path).st_mode  # follows symbolic links
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):
            return f"{MISSING} (a symbolic link to {os.readlink(path)}, which is missing)"
        return MISSING
    except OSError as exc:
        return f"cannot be examined: {exc.strerror or exc}"
    if folder:
        return None if stat.S_ISDIR(mode) else f"is {kind_of(mode)}; expected a folder"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder; expected a file"
    return f"is {kind_of(mode)}; expected a regular file"
