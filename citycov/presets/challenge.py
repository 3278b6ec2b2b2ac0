"""Challenge presets: the thresholds of a coverage challenge process, as data files.

A challenge preset (shipped ones in ``citycov/presets/data/challenge/``, ``fcc-2022`` by
default) holds every threshold the H3 challenge engine (:mod:`citycov.verification.challenge`)
applies; the engine has none of its own.  Every preset cites its ``source``;
:meth:`ChallengePreset.as_provenance` carries the citation, version and file hash into reports.
Files are read by the one preset-file reader (:mod:`citycov.presets.files`); unknown keys are
errors, as in scenario files.

Keys
----
Top level: ``name``, ``version``, ``source``, ``description`` (strings, required), ``notes``;
``resolution`` (H3, 1..14) and ``child_resolution`` (= resolution + 1); ``rollup_resolutions``
(distinct, decreasing, below ``resolution``); ``min_children`` (1..7) and ``geographic_tests``
(one of :data:`GEOGRAPHIC_TESTS`); ``min_negatives_apart`` (2), ``min_hours_apart`` (0..24 h)
and ``temporal_basis`` (one of :data:`TEMPORAL_BASES`); ``local_hours = [start, end]``;
``validity_days``; ``small_sample_max_tests`` and ``small_sample_min_negatives``;
``parent_min_children`` (1..7); ``lower_technology_is_negative`` (true/false).  Tables
``[[negative_share]]`` (``min_tests``, ``max_tests`` except the last, ``share``), following on
from ``small_sample_max_tests + 1`` without gaps, and ``[binomial]`` (``cell_edge_probability``
and ``alpha``, both in (0, 1)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citycov.presets.files import NAME_RE, KeyReader, read_preset_file, shipped_names

RULES = {"table": "the preset's testing threshold (five negatives, then the negative-share table)",
         "binomial": "one-sided binomial test at the preset's cell-edge probability and alpha"}
"""Testing rules of the challenge engine (``[verification].rule``)."""
GEOGRAPHIC_TESTS = ("negative", "any")
TEMPORAL_BASES = ("time_of_day", "timestamp")
_TOP_KEYS = {"name", "version", "source", "description", "notes", "resolution", "child_resolution",
             "rollup_resolutions", "min_children", "geographic_tests", "min_negatives_apart", "min_hours_apart",
             "temporal_basis", "local_hours", "validity_days", "small_sample_max_tests",
             "small_sample_min_negatives", "parent_min_children", "lower_technology_is_negative", "negative_share",
             "binomial"}
_BAND_KEYS = {"min_tests", "max_tests", "share"}


@dataclass(frozen=True)
class ShareBand:
    """Minimum share of negative tests for ``min_tests <= n <= max_tests`` (``max_tests`` None: no upper end)."""

    min_tests: int
    max_tests: int | None
    share: float


@dataclass(frozen=True)
class ChallengePreset:
    """A validated challenge preset (keys explained in the module docstring and the shipped file)."""

    name: str
    version: str
    source: str
    description: str
    resolution: int
    child_resolution: int
    rollup_resolutions: tuple[int, ...]
    min_children: int
    geographic_tests: str
    min_negatives_apart: int
    min_hours_apart: float
    temporal_basis: str
    local_hours: tuple[float, float]
    validity_days: float
    small_sample_max_tests: int
    small_sample_min_negatives: int
    parent_min_children: int
    lower_technology_is_negative: bool
    negative_share: tuple[ShareBand, ...]
    cell_edge_probability: float
    alpha: float
    notes: str = ""
    origin: str = ""
    sha256: str = ""

    def min_negatives(self, n_tests: np.ndarray) -> np.ndarray:
        """Negatives the table rule requires for ``n_tests`` tests (int64, same shape).

        Up to ``small_sample_max_tests``: ``small_sample_min_negatives``; above:
        ``ceil(share · n)`` with the share of the band holding ``n``.

        Examples
        --------
        >>> p = load_challenge_preset("fcc-2022")
        >>> p.min_negatives(np.array([4, 20, 21, 100])).tolist()
        [5, 5, 6, 16]
        """
        n = np.asarray(n_tests, dtype=np.int64)
        out = np.full(n.shape, self.small_sample_min_negatives, dtype=np.int64)
        for band in self.negative_share:
            hi = np.iinfo(np.int64).max if band.max_tests is None else band.max_tests
            sel = (n >= band.min_tests) & (n <= hi)
            out[sel] = np.ceil(band.share * n[sel] - 1e-9).astype(np.int64)
        return out

    def as_provenance(self) -> dict[str, Any]:
        """Plain-data record for reports: citation, version, file hash and every threshold."""
        return {"preset": self.name, "version": self.version, "source": self.source, "file": self.origin,
                "sha256": self.sha256, "notes": self.notes,
                "parameters": {k: getattr(self, k) for k in (
                    "resolution", "child_resolution", "rollup_resolutions", "min_children", "geographic_tests",
                    "min_negatives_apart", "min_hours_apart", "temporal_basis", "local_hours", "validity_days",
                    "small_sample_max_tests", "small_sample_min_negatives", "parent_min_children",
                    "lower_technology_is_negative", "cell_edge_probability", "alpha")}
                | {"negative_share": [vars(b) for b in self.negative_share]}}


def list_challenge_presets() -> list[str]:
    """Names of the challenge presets shipped with citycov, sorted.

    Examples
    --------
    >>> "fcc-2022" in list_challenge_presets()
    True
    """
    return shipped_names("challenge")


def load_challenge_preset(name_or_path: str | Path) -> ChallengePreset:
    """Load a shipped challenge preset by name, or any preset file by path.

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    ScenarioError
        Unknown preset name (the message lists the shipped ones), invalid TOML, or invalid keys
        and values (all of them, with their key paths).

    Examples
    --------
    >>> p = load_challenge_preset("fcc-2022")
    >>> p.resolution, p.min_children, p.min_hours_apart, p.local_hours
    (8, 4, 4.0, (6.0, 22.0))
    """
    found = read_preset_file(name_or_path, folder="challenge", kind="challenge preset")
    preset = _parse_preset(found.doc, source=str(found.path), origin=str(found.path.resolve()), sha256=found.sha256)
    found.check_name(preset.name)
    return preset


def _parse_preset(doc: dict, *, source: str, origin: str, sha256: str) -> ChallengePreset:
    r = KeyReader(ranges="interval")
    r.unknown(doc, _TOP_KEYS)
    name = r.string(doc, "name", "", "", required=True)
    if name and not NAME_RE.fullmatch(name):
        r.problems.append(f"name must be lower-case letters, digits, '.', '-' and '_', got {name!r}")
    res = r.number(doc, "resolution", "", math.nan, required=True, lo=1, hi=14, integer=True)
    child = r.number(doc, "child_resolution", "", math.nan, required=True, lo=1, hi=15, integer=True)
    if not math.isnan(res) and not math.isnan(child) and child != res + 1:
        r.problems.append(f"child_resolution must be resolution + 1 = {res + 1}, got {child}")
    rollup = doc.get("rollup_resolutions", [])
    ok = isinstance(rollup, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in rollup)
    if not ok or (not math.isnan(res) and [*rollup] != sorted(set(rollup), reverse=True)) or \
            (ok and rollup and not math.isnan(res) and (rollup[0] >= res or rollup[-1] < 0)):
        r.problems.append(f"rollup_resolutions must be distinct decreasing integers below resolution, got {rollup!r}")
        rollup = []
    local = doc.get("local_hours")
    if not (isinstance(local, list) and len(local) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in local)
            and 0 <= local[0] < local[1] <= 24):
        r.problems.append(f"local_hours must be [start, end] with 0 <= start < end <= 24 (hours), got {local!r}")
        local = [math.nan, math.nan]
    bands = _parse_bands(r, doc.get("negative_share"), doc.get("small_sample_max_tests"))
    binomial = doc.get("binomial", {})
    if not isinstance(binomial, dict) or sorted(binomial) != ["alpha", "cell_edge_probability"]:
        r.problems.append(f"[binomial] must hold exactly cell_edge_probability and alpha, got {binomial!r}")
        binomial = {}
    p_edge, alpha = (r.number(binomial, key, "[binomial]", math.nan, required=True, lo=0, hi=1, lo_open=True,
                              hi_open=True) if binomial else math.nan for key in ("cell_edge_probability", "alpha"))
    preset = dict(
        name=name, version=r.string(doc, "version", "", "", required=True),
        source=r.string(doc, "source", "", "", required=True),
        description=r.string(doc, "description", "", "", required=True), notes=r.string(doc, "notes", "", ""),
        resolution=res, child_resolution=child, rollup_resolutions=tuple(rollup),
        min_children=r.number(doc, "min_children", "", 0, required=True, lo=1, hi=7, integer=True),
        geographic_tests=r.string(doc, "geographic_tests", "", "", required=True, choices=GEOGRAPHIC_TESTS),
        min_negatives_apart=r.number(doc, "min_negatives_apart", "", 0, required=True, lo=2, hi=2, integer=True),
        min_hours_apart=r.number(doc, "min_hours_apart", "", math.nan, required=True, lo=0, hi=24),
        temporal_basis=r.string(doc, "temporal_basis", "", "", required=True, choices=TEMPORAL_BASES),
        local_hours=(float(local[0]), float(local[1])),
        validity_days=r.number(doc, "validity_days", "", math.nan, required=True, lo=0, hi=36500, lo_open=True),
        small_sample_max_tests=r.number(doc, "small_sample_max_tests", "", 0, required=True, lo=1, hi=10_000,
                                        integer=True),
        small_sample_min_negatives=r.number(doc, "small_sample_min_negatives", "", 0, required=True, lo=1,
                                            hi=10_000, integer=True),
        parent_min_children=r.number(doc, "parent_min_children", "", 0, required=True, lo=1, hi=7, integer=True),
        lower_technology_is_negative=r.flag(doc, "lower_technology_is_negative", "", False, required=True),
        negative_share=bands, cell_edge_probability=p_edge, alpha=alpha,
    )
    r.raise_problems(source)
    return ChallengePreset(**preset, origin=origin, sha256=sha256)


def _parse_bands(r: KeyReader, raw: Any, small_max: Any) -> tuple[ShareBand, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(b, dict) for b in raw):
        r.problems.append("[[negative_share]] must be a non-empty array of tables {min_tests, max_tests, share}")
        return ()
    bands = []
    for i, table in enumerate(raw):
        where = f"negative_share[{i}]"
        r.unknown(table, _BAND_KEYS, where)
        before = len(r.problems)
        lo = r.number(table, "min_tests", where, 0, required=True, lo=1, hi=1e9, integer=True)
        hi = r.number(table, "max_tests", where, None, lo=1, hi=1e9, integer=True)
        share = r.number(table, "share", where, math.nan, required=True, lo=0, hi=1, lo_open=True)
        if len(r.problems) == before:
            bands.append(ShareBand(lo, hi, share))
    if len(bands) == len(raw):
        expected = small_max + 1 if isinstance(small_max, int) else None
        for i, band in enumerate(bands):
            if band.max_tests is not None and band.max_tests < band.min_tests:
                r.problems.append(f"negative_share[{i}]: max_tests {band.max_tests} < min_tests {band.min_tests}")
            if expected is not None and band.min_tests != expected:
                r.problems.append(f"negative_share[{i}].min_tests must be {expected} (bands must follow on without "
                                  f"gaps from small_sample_max_tests + 1), got {band.min_tests}")
            expected = None if band.max_tests is None else band.max_tests + 1
        if bands[-1].max_tests is not None:
            r.problems.append("the last negative_share band must have no max_tests (it covers every larger count)")
    return tuple(bands)
