"""A folder of antenna pattern files (MSI / Planet: ``.msi``, ``.pln``, ``.txt``), read by name.

The name of a pattern is its file stem (``KATHREIN_80010622_1800.msi`` -> ``KATHREIN_80010622_1800``);
a sector table names it in its ``antenna_pattern`` column.  Every file is parsed by
:func:`citycov.io.msi.read_msi`; the problems of all files are reported in one error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from citycov.errors import CitycovError, InputFileError, ScenarioError, SiteTableError
from citycov.io.msi import AntennaPattern, read_msi
from citycov.provenance import InputRecord, record_for

PATTERN_SUFFIXES = (".msi", ".pln", ".txt")


@dataclass(frozen=True)
class PatternSet:
    """Patterns by name (file stem) and the record (path, SHA-256) of each file."""

    patterns: dict[str, AntennaPattern]
    records: tuple[InputRecord, ...]


def read_pattern_folder(folder: str | Path, *, synthetic: bool = False, vintage: str = "",
                        note: str = "") -> PatternSet:
    """Read every ``.msi`` / ``.pln`` / ``.txt`` file of ``folder`` (not its subfolders).

    Returns
    -------
    PatternSet
        ``patterns``: file stem -> :class:`~citycov.io.msi.AntennaPattern`; ``records``:
        one :class:`~citycov.provenance.InputRecord` per file, named ``antenna_pattern:<stem>``.

    Raises
    ------
    InputFileError
        The folder is missing or holds no pattern file, two files share a stem, or files do
        not parse (every problem of every file, each naming the file and line).

    Examples
    --------
    >>> found = read_pattern_folder("data/antennas")            # doctest: +SKIP
    >>> sorted(found.patterns)                                   # doctest: +SKIP
    ['panel_65deg_17dbi']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: antenna pattern folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PATTERN_SUFFIXES)
    if not files:
        raise InputFileError(f"{folder}: no antenna pattern files ({', '.join(PATTERN_SUFFIXES)}) in the folder")
    problems: list[str] = []
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(p.stem, []).append(p)
    for stem, paths in by_stem.items():
        if len(paths) > 1:
            problems.append(f"pattern name {stem!r} is given by several files {[p.name for p in paths]}")
    patterns: dict[str, AntennaPattern] = {}
    records: list[InputRecord] = []
    for p in files:
        try:
            pattern = read_msi(p)
        except CitycovError as exc:
            problems.append(str(exc))
            continue
        patterns[p.stem] = pattern
        text = (f"gain {pattern.gain_dbi:g} dBi"
                + (f", {pattern.freq_mhz:g} MHz" if pattern.freq_mhz is not None else "")
                + (f", NAME {pattern.metadata['NAME']}" if pattern.metadata.get("NAME") else ""))
        records.append(record_for(f"antenna_pattern:{p.stem}", p, crs="-", synthetic=synthetic, vintage=vintage,
                                  notes=(text, *((note,) if note else ()))))
    if problems:
        raise InputFileError(f"{folder}: " + "; ".join(problems))
    return PatternSet(patterns=patterns, records=tuple(records))


def pattern_names(sectors: pd.DataFrame) -> np.ndarray:
    """Per sector the pattern it names (``""``: the 3GPP model), from the ``antenna_pattern`` column."""
    if "antenna_pattern" not in sectors.columns:
        return np.full(len(sectors), "", dtype=object)
    return sectors["antenna_pattern"].astype("string").fillna("").str.strip().to_numpy(dtype=object)


def check_pattern_names(sectors: pd.DataFrame, patterns: Mapping[str, AntennaPattern] | None, *,
                        source: str, folder_key: str = "[inputs.antenna_patterns]") -> None:
    """Every pattern a sector names must be in ``patterns``.

    Raises
    ------
    ScenarioError
        Sectors name patterns but ``patterns`` is ``None`` (the scenario gives no folder).
    SiteTableError
        Sectors name patterns that have no file; the message names the sectors.
    """
    names = pattern_names(sectors)
    used = names != ""
    if not used.any():
        return
    ids = sectors["sector_id"].astype(str).to_numpy()
    if patterns is None:
        raise ScenarioError(f"{source}: {int(used.sum())} sectors name an antenna_pattern "
                             f"({_ids(ids[used])}) but the scenario has no {folder_key} folder")
    missing = sorted({str(n) for n in names[used]} - set(patterns))
    if missing:
        bad = np.isin(names, missing)
        raise SiteTableError(f"{source}: antenna_pattern names without a file in {folder_key}: {missing[:10]} "
                             f"(sectors {_ids(ids[bad])}); files found: {sorted(patterns)[:20]}")


def _ids(values: Iterable[str]) -> str:
    values = list(values)
    shown = ", ".join(values[:10])
    return shown + (f" and {len(values) - 10} more" if len(values) > 10 else "")
