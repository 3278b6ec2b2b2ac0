"""Preset files: TOML files shipped in ``citycov/presets/data/<folder>/`` and found by name, or any
preset file given by path.  Radio presets (:mod:`citycov.presets.radio`) and challenge presets
(:mod:`citycov.verification.challenge`) are read through here; each module parses its own keys.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from citycov.errors import InputFileError, ScenarioError

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


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
        A path that does not exist or cannot be read.
    """
    text = str(name_or_path)
    by_name = not isinstance(name_or_path, Path) and not text.endswith(".toml") and not Path(text).is_file()
    if by_name:
        path = shipped_folder(folder) / f"{text}.toml"
        if not NAME_RE.match(text) or not path.is_file():
            raise ScenarioError(f"unknown {kind} {text!r}; shipped presets: {shipped_names(folder)} "
                                "(or give the path of a .toml preset file)")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InputFileError(f"{path}: {kind} file not found")
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read: {exc}") from exc
    return PresetFile(path=path, doc=doc, sha256=hashlib.sha256(raw).hexdigest(),
                      requested_name=text if by_name else None)
