"""The one reader of citycov's TOML files: preset files found by name or path, and their keys.

Preset files are TOML files shipped in ``citycov/presets/data/<folder>/`` and found by name,
or any preset file given by path (:func:`read_preset_file`).  Radio service presets
(:mod:`citycov.presets.radio`), challenge presets (:mod:`citycov.presets.challenge`) and
scenario files (:mod:`citycov.config`) pull their typed values through one :class:`KeyReader`,
which collects every problem with its key path (``[radio].rx_height_m``) and raises once.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from citycov.errors import InputFileError, ScenarioError, raise_problems
from citycov.filekind import MISSING, path_problem

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
"""A shipped preset's (and a challenge preset's) name, matched whole (``fullmatch``): no path
separator, NUL, control character or trailing newline can pass, so such a name is itself a
safe file stem (:func:`citycov.outputs.names.safe_file_stem` maps it to itself)."""
RANGE_STYLES = ("bound", "interval")
"""How :class:`KeyReader` words a value out of range: ``"bound"`` names the bound that failed
(``must be <= 1.0, got 1.5``, scenario files), ``"interval"`` the whole interval
(``must be in [0, 1], got 1.5``, preset files)."""


def key_path(where: str, key: str) -> str:
    """``[radio]`` + ``rx_height_m`` -> ``[radio].rx_height_m``; an empty ``where`` is the top level."""
    return f"{where}.{key}" if where else key


class KeyReader:
    """Typed values out of TOML tables, collecting every problem with its key path.

    A missing key gives ``default`` (or, with ``required=True``, the problem "is required"); an
    invalid value gives ``default`` and a problem naming the key path, the value found and what
    was expected.  :meth:`raise_problems` raises one :class:`~citycov.errors.ScenarioError`
    listing them all.

    Examples
    --------
    >>> r = KeyReader()
    >>> r.number({"cell_m": -5}, "cell_m", "[grid]", 100.0, lo=0.0, lo_open=True)
    100.0
    >>> r.string({"lang": "fr"}, "lang", "[report]", "en", choices=("en", "zh"))
    'en'
    >>> print("; ".join(r.problems))
    [grid].cell_m must be > 0.0, got -5; [report].lang must be one of ['en', 'zh'], got 'fr'
    """

    def __init__(self, *, ranges: str = "bound") -> None:
        if ranges not in RANGE_STYLES:
            raise ValueError(f"ranges must be one of {list(RANGE_STYLES)}, got {ranges!r}")
        self.ranges = ranges
        self.problems: list[str] = []

    def raise_problems(self, source: str) -> None:
        """Raise one ScenarioError listing every problem found in ``source`` (nothing when none)."""
        raise_problems(ScenarioError, source, self.problems)

    def table(self, doc: dict, key: str) -> dict:
        """The top-level table ``[key]`` of ``doc`` (``{}`` when absent)."""
        value = doc.get(key, {})
        if not isinstance(value, dict):
            self.problems.append(f"[{key}] must be a table, got {type(value).__name__}")
            return {}
        return value

    def unknown(self, table: dict, allowed: set[str], where: str = "") -> None:
        """A problem listing the keys of ``table`` not in ``allowed``."""
        extra = sorted(set(table) - allowed)
        if extra:
            self.problems.append(f"{where + ': ' if where else ''}unknown keys {extra}; allowed: {sorted(allowed)}")

    def _missing(self, table: dict, key: str, where: str, required: bool) -> bool:
        if key in table:
            return False
        if required:
            self.problems.append(f"{key_path(where, key)} is required")
        return True

    def number(self, table: dict, key: str, where: str = "", default: Any = None, *, required: bool = False,
               lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False,
               integer: bool = False) -> Any:
        """A finite number (an int with ``integer=True``) in the range ``lo``..``hi``, as float (int)."""
        if self._missing(table, key, where, required):
            return default
        value = table[key]
        path = key_path(where, key)
        kinds = int if integer else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            self.problems.append(f"{path} must be {'a whole number' if integer else 'a number'}, got {value!r}")
            return default
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            self.problems.append(f"{path} must be {self._range(value, lo, hi, lo_open, hi_open)}, got {value}")
            return default
        return int(value) if integer else float(value)

    def _range(self, value: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
        if self.ranges == "bound":
            if lo is not None and (value <= lo if lo_open else value < lo):
                return f"{'>' if lo_open else '>='} {lo}"
            return f"{'<' if hi_open else '<='} {hi}"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        return f"in {'(' if lo_open else '['}{lo_s}, {hi_s}{')' if hi_open else ']'}"

    def string(self, table: dict, key: str, where: str = "", default: Any = None, *, required: bool = False,
               choices: tuple[str, ...] | None = None) -> Any:
        """A string (non-empty when ``required``), one of ``choices`` when given."""
        if self._missing(table, key, where, required):
            return default
        value = table[key]
        path = key_path(where, key)
        if not isinstance(value, str) or (required and not value.strip()):
            self.problems.append(f"{path} must be a {'non-empty ' if required else ''}string, got {value!r}")
            return default
        if choices is not None and value not in choices:
            self.problems.append(f"{path} must be one of {list(choices)}, got {value!r}")
            return default
        return value

    def flag(self, table: dict, key: str, where: str = "", default: Any = None, *, required: bool = False) -> Any:
        """``true`` or ``false``."""
        if self._missing(table, key, where, required):
            return default
        value = table[key]
        if not isinstance(value, bool):
            self.problems.append(f"{key_path(where, key)} must be true or false, got {value!r}")
            return default
        return value

    def class_table(self, table: dict, key: str, defaults: dict[str, float], where: str, *, lo: float,
                    hi: float | None = None, lo_open: bool = False, item: str = "class") -> dict[str, float]:
        """A table of class name -> number (e.g. ``{"4G" = -105}``), ``defaults`` for missing
        classes; unknown classes and bad numbers become problems naming the key path."""
        out = dict(defaults)
        raw = table.get(key, {})
        if not isinstance(raw, dict):
            self.problems.append(f"{where}.{key} must be a table of class = number, got {raw!r}")
            return out
        for name in raw:
            if name not in out:
                self.problems.append(f"{where}.{key}: unknown {item} {name!r}; expected {sorted(out)}")
            else:
                out[name] = self.number(raw, name, f"{where}.{key}", out[name], lo=lo, hi=hi, lo_open=lo_open)
        return out


@dataclass(frozen=True)
class PresetFile:
    """A preset file as read: its path, TOML document, SHA-256 and the name it was asked by."""

    path: Path
    doc: dict[str, Any]
    sha256: str
    requested_name: str | None

    def check_name(self, name: str | None) -> None:
        """A preset found by name must carry that name."""
        if self.requested_name is not None and name != self.requested_name:
            raise ScenarioError(f"{self.path}: name = {name!r} must match the file name {self.requested_name!r}")


def shipped_folder(folder: str) -> Path:
    return Path(str(resources.files("citycov.presets").joinpath("data", folder)))


def shipped_names(folder: str) -> list[str]:
    """Names of the presets shipped in ``citycov/presets/data/<folder>/``, sorted."""
    directory = shipped_folder(folder)
    return sorted(p.stem for p in directory.glob("*.toml")) if directory.is_dir() else []


def read_preset_file(name_or_path: str | Path, *, folder: str, kind: str) -> PresetFile:
    """Find and read a preset: a shipped name (``folder``) or the path of a ``.toml`` file.

    Raises
    ------
    ScenarioError
        Unknown name (the message lists the shipped ones) or invalid TOML.
    InputFileError
        A path that does not exist, cannot be read or is not a regular file (a FIFO, a
        device, a folder).
    """
    text = str(name_or_path)
    by_name = not isinstance(name_or_path, Path) and not text.endswith(".toml") and not Path(text).is_file()
    if by_name:
        path = shipped_folder(folder) / f"{text}.toml"
        if not NAME_RE.fullmatch(text) or not path.is_file():
            raise ScenarioError(f"unknown {kind} {text!r}; shipped presets: {shipped_names(folder)} "
                                "(or give the path of a .toml preset file)")
    else:
        path = Path(name_or_path)
        problem = path_problem(path)  # never open a FIFO or a device: the read would hang
        if problem == MISSING:
            raise InputFileError(f"{path}: {kind} file not found")
        if problem is not None:
            raise InputFileError(f"{kind} {path} {problem}")
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read: {exc}") from exc
    return PresetFile(path=path, doc=doc, sha256=hashlib.sha256(raw).hexdigest(),
                      requested_name=text if by_name else None)
