"""Portable file names from names that come from input (preset names, chart keys, ...).

Every output file or folder whose name is built from a value read from input (a scenario, a
preset file, a saved output folder's ``targets.csv``) goes through :func:`file_names` (or
:func:`safe_file_stem` for one name), so no such value can name a path outside the output
folder: no ``/`` or ``\\``, no ``..``, no NUL, no name longer than the file system allows.

The original names stay recoverable: each writer keeps the original next to the file (the
``preset`` tag of ``broadcast_*.tif``, ``districts.json``'s ``provenance.services.rasters``), and
readers take the name from there, never from the file name.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterable

from citycov.errors import OutputNameError

SAFE_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
"""The POSIX portable file-name characters; every other character becomes ``_``."""
NAME_MAX_BYTES = 255
"""The longest file name (in bytes) of the common file systems (ext4, APFS, NTFS, ...)."""
TEMP_NAME_BYTES = 16
"""Room kept for the temporary names written beside a file before it is moved into place
(``.{name}.tmp.tif`` by the GeoTIFF writer, ``.{name}.XXXXXXXX`` by the atomic writes)."""
FILE_NAME_BYTES = NAME_MAX_BYTES - TEMP_NAME_BYTES
"""Default cap on ``prefix + stem + suffix`` (239 bytes)."""
HASH_CHARS = 8
"""Hex digits of the SHA-256 of the original name appended to a shortened or colliding stem."""
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                              *(f"LPT{i}" for i in range(1, 10))})


def name_hash(text: str) -> str:
    """The first :data:`HASH_CHARS` hex digits of the SHA-256 of ``text`` (UTF-8; lone
    surrogates, as from undecodable file names, are hashed as they are)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def _budget(prefix: str, suffix: str, max_bytes: int) -> int:
    for part, what in ((prefix, "prefix"), (suffix, "suffix")):
        if not set(part) <= SAFE_CHARS:
            raise ValueError(f"file-name {what} {part!r} has characters outside [A-Za-z0-9._-]")
    room = max_bytes - len(prefix) - len(suffix)
    if room < HASH_CHARS + 2:
        raise ValueError(f"max_bytes = {max_bytes} leaves no room for a stem between {prefix!r} and {suffix!r}")
    return room


def _clean(text: str, *, bare: bool) -> str:
    """Rules 1-3 of :func:`safe_file_stem` (no length cap)."""
    stem = "".join(c if c in SAFE_CHARS else "_" for c in text)
    if not stem:
        return "_"
    if stem[0] in ".-":
        stem = "_" + stem[1:]
    if stem[-1] == ".":
        stem = stem[:-1] + "_"
    if bare and stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    return stem


def _hashed(stem: str, text: str, room: int) -> str:
    """``stem`` cut to fit ``room`` bytes together with ``-`` and the hash of ``text``."""
    return f"{stem[:room - HASH_CHARS - 1]}-{name_hash(text)}"


def safe_file_stem(text: str, *, prefix: str = "", suffix: str = "", max_bytes: int = FILE_NAME_BYTES) -> str:
    """Map any string to a portable file stem, so that ``prefix + stem + suffix`` is one file
    name inside the folder it is joined to.

    The mapping:

    1. every character outside ``[A-Za-z0-9._-]`` becomes ``_``, one ``_`` per code point:
       ``/``, ``\\``, NUL and other control characters, spaces, ``:``, non-ASCII letters;
    2. the empty string becomes ``_``; a leading ``.`` or ``-`` becomes ``_`` (never ``.``,
       ``..``, a hidden file or an option-like name), and so does a trailing ``.``;
    3. without a prefix, a Windows device name (``CON``, ``NUL``, ``COM1``, ...) gets a leading ``_``;
    4. when ``prefix + stem + suffix`` would exceed ``max_bytes`` (default
       :data:`FILE_NAME_BYTES`, 255 less room for temporary names), the stem is cut and
       ``-`` plus the first 8 hex digits of the SHA-256 of the *original* text are appended,
       so two different long names stay different.

    The result is ASCII (bytes = characters).  Names already made only of ``[A-Za-z0-9_-]``
    (with ``.`` inside) and short enough map to themselves, so every shipped preset keeps its
    file name.  The mapping is not injective (``a/b`` and ``a_b`` give the same stem):
    callers writing several names into one folder use :func:`file_names`, which detects that.

    Examples
    --------
    >>> safe_file_stem("../../evil"), safe_file_stem("/etc/passwd"), safe_file_stem("a\\x00b")
    ('_._.._evil', '_etc_passwd', 'a_b')
    >>> safe_file_stem(""), safe_file_stem("."), safe_file_stem(".."), safe_file_stem("trunking-800")
    ('_', '_', '__', 'trunking-800')
    """
    if not isinstance(text, str):
        raise TypeError(f"safe_file_stem expects a str, got {type(text).__name__}")
    room = _budget(prefix, suffix, max_bytes)
    stem = _clean(text, bare=not prefix)
    return stem if len(stem) <= room else _hashed(stem, text, room)


def file_names(names: Iterable[str], *, prefix: str = "", suffix: str = "",
               max_bytes: int = FILE_NAME_BYTES) -> dict[str, str]:
    """Original name -> file name (``prefix + safe_file_stem(name) + suffix``) for names
    written side by side into one folder.

    Two different names whose file names are equal ignoring case (one file on a
    case-insensitive file system: ``a/b`` and ``a_b``, ``Dtv`` and ``dtv``) both get ``-``
    and the hash of their original name appended to the stem; the other names keep theirs.

    Raises
    ------
    OutputNameError
        Naming both originals, if two names still give the same file name after that
        (only for names crafted against the hash).
    """
    room = _budget(prefix, suffix, max_bytes)
    originals = list(dict.fromkeys(names))
    stems = {n: safe_file_stem(n, prefix=prefix, suffix=suffix, max_bytes=max_bytes) for n in originals}
    groups: dict[str, list[str]] = {}
    for n in originals:
        groups.setdefault(stems[n].casefold(), []).append(n)
    for members in groups.values():
        if len(members) > 1:
            for n in members:
                stems[n] = _hashed(_clean(n, bare=not prefix), n, room)
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for n in originals:
        name = f"{prefix}{stems[n]}{suffix}"
        if (other := seen.get(name.casefold())) is not None:
            raise OutputNameError(f"output names {other!r} and {n!r} both map to the file name {name!r}; "
                                  "rename one of them")
        seen[name.casefold()] = n
        out[n] = name
    return out
