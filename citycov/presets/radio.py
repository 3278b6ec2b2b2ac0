"""Radio service presets: the coverage definitions of regulators and services, as data files.

A radio service preset is a TOML file (shipped ones in ``citycov/presets/data/radio/``) defining a
service: what is measured (``metric``: a level threshold or a speed tier), with which
probability and loading, for which receiver, and in which environments.  Every preset
cites its ``source``; :meth:`RadioPreset.as_provenance` carries the citation, version and
file hash into reports.  Unknown keys are errors, as in scenario files.

Keys
----
Top level: ``name``, ``version``, ``source``, ``description`` (strings, required);
``technology`` (one of :data:`PRESET_TECHNOLOGIES`); ``metric`` (one of :data:`METRICS`);
``threshold`` (unit of the metric; required unless metric = "speed");
``min_down_mbps`` / ``min_up_mbps`` (required when metric = "speed"); ``rx_height_m``;
optional ``cell_edge_probability`` (0..1, exclusive), ``cell_loading`` (0..1),
``time_percent`` (0..100, exclusive), ``max_cell_m``, ``freq_mhz = [lo, hi]``, ``model``
(one of :data:`PRESET_MODELS`), ``notes``.  Tables ``[environments.<name>]`` (at least
one): ``extra_loss_db`` (≥ 0, required), optional ``extra_sigma_db`` (≥ 0) and ``note``.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from citycov.choices import EXACT_MODELS, RADIO_MODELS, TECHNOLOGIES
from citycov.errors import ScenarioError
from citycov.presets.files import KeyReader, read_preset_file, shipped_names

PRESET_TECHNOLOGIES = (*TECHNOLOGIES, "trunking", "dtv")
METRICS = {
    "speed": "Mbit/s (min_down_mbps / min_up_mbps)",
    "rsrp_dbm": "dBm per resource element (4G RSRP, 5G SS-RSRP)",
    "rscp_dbm": "dBm (3G CPICH RSCP)",
    "rx_level_dbm": "dBm at the receiver input",
    "field_strength_dbuv_m": "dBµV/m",
}
THRESHOLD_RANGE = {"rsrp_dbm": (-160.0, 0.0), "rscp_dbm": (-160.0, 0.0), "rx_level_dbm": (-160.0, 0.0),
                   "field_strength_dbuv_m": (-20.0, 150.0)}
PRESET_MODELS = (*RADIO_MODELS, *EXACT_MODELS)
_TOP_KEYS = {"name", "version", "source", "description", "technology", "metric", "threshold", "min_down_mbps",
             "min_up_mbps", "cell_edge_probability", "cell_loading", "time_percent", "rx_height_m", "max_cell_m",
             "freq_mhz", "model", "notes", "environments"}
_ENV_KEYS = {"extra_loss_db", "extra_sigma_db", "note"}
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""A radio preset's (and environment's) name, matched whole: a user's preset file naming
``../x``, ``a/b`` or anything with NUL or a control character is refused at load."""


@dataclass(frozen=True)
class PresetEnvironment:
    """A reception environment: loss added to the outdoor level (dB) and the standard deviation
    it adds to the shadowing (dB, combined as √(σ² + σ_env²))."""

    name: str
    extra_loss_db: float
    extra_sigma_db: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class RadioPreset:
    """A validated radio service preset (see the module docstring for the meaning of each field)."""

    name: str
    version: str
    source: str
    description: str
    technology: str
    metric: str
    rx_height_m: float
    environments: tuple[PresetEnvironment, ...]
    threshold: float | None = None
    min_down_mbps: float | None = None
    min_up_mbps: float | None = None
    cell_edge_probability: float | None = None
    cell_loading: float | None = None
    time_percent: float | None = None
    max_cell_m: float | None = None
    freq_mhz: tuple[float, float] | None = None
    model: str | None = None
    notes: str = ""
    origin: str = ""
    sha256: str = ""

    @property
    def threshold_unit(self) -> str:
        """Unit of ``threshold`` (or of the speeds for metric "speed")."""
        return METRICS[self.metric]

    def environment(self, name: str) -> PresetEnvironment:
        """The environment called ``name``; ScenarioError listing the choices otherwise."""
        for env in self.environments:
            if env.name == name:
                return env
        raise ScenarioError(f"preset {self.name!r}: unknown environment {name!r}; "
                            f"expected one of {[e.name for e in self.environments]}")

    def as_provenance(self) -> dict[str, Any]:
        """Plain-data record for reports: citation, version, file and hash, every parameter."""
        params = asdict(self)
        for key in ("name", "version", "source", "origin", "sha256"):
            params.pop(key)
        params["environments"] = [asdict(e) for e in self.environments]
        params["freq_mhz"] = list(self.freq_mhz) if self.freq_mhz is not None else None
        return {"preset": self.name, "version": self.version, "source": self.source, "file": self.origin,
                "sha256": self.sha256, "parameters": params}


def list_presets() -> list[str]:
    """Names of the presets shipped with citycov, sorted.

    Examples
    --------
    >>> "fcc-bdc-4g-5-1" in list_presets()
    True
    """
    return shipped_names("radio")


def load_preset(name_or_path: str | Path) -> RadioPreset:
    """Load a shipped preset by name, or any preset file by path (a ``.toml`` or existing file).

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    ScenarioError
        Unknown preset name (the message lists the shipped ones), invalid TOML, or invalid
        keys and values (all of them, with their key paths).

    Examples
    --------
    >>> p = load_preset("fcc-bdc-4g-5-1")
    >>> p.cell_edge_probability, p.min_down_mbps, [e.name for e in p.environments]
    (0.9, 5.0, ['outdoor_stationary', 'in_vehicle'])
    """
    found = read_preset_file(name_or_path, folder="radio", kind="preset")
    preset = _parse(found.doc, source=str(found.path), origin=str(found.path.resolve()), sha256=found.sha256)
    found.check_name(preset.name)
    return preset


def _parse(doc: dict, *, source: str, origin: str, sha256: str) -> RadioPreset:
    c = KeyReader(ranges="interval")
    c.unknown(doc, _TOP_KEYS)
    name = c.string(doc, "name", "", None, required=True)
    if name is not None and not _NAME_RE.fullmatch(name):
        c.problems.append(f"name must be lower-case letters, digits, '-' and '_', got {name!r}")
    version = c.string(doc, "version", "", None, required=True)
    cite = c.string(doc, "source", "", None, required=True)
    description = c.string(doc, "description", "", None, required=True)
    technology = c.string(doc, "technology", "", None, required=True, choices=PRESET_TECHNOLOGIES)
    metric = c.string(doc, "metric", "", None, required=True, choices=tuple(METRICS))
    threshold = down = up = None
    if metric == "speed":
        down = c.number(doc, "min_down_mbps", "", None, required=True, lo=0.0, lo_open=True)
        up = c.number(doc, "min_up_mbps", "", None, required=True, lo=0.0, lo_open=True)
        if "threshold" in doc:
            c.problems.append("threshold is not used with metric = 'speed' (give min_down_mbps and min_up_mbps)")
    elif metric is not None:
        lo, hi = THRESHOLD_RANGE[metric]
        threshold = c.number(doc, "threshold", "", None, required=True, lo=lo, hi=hi)
        for key in ("min_down_mbps", "min_up_mbps"):
            if key in doc:
                c.problems.append(f"{key} is only used with metric = 'speed', not {metric!r}")
    probability = c.number(doc, "cell_edge_probability", "", None, lo=0.0, hi=1.0, lo_open=True,
                           hi_open=True)
    loading = c.number(doc, "cell_loading", "", None, lo=0.0, hi=1.0)
    time_percent = c.number(doc, "time_percent", "", None, lo=0.0, hi=100.0, lo_open=True, hi_open=True)
    rx_height = c.number(doc, "rx_height_m", "", None, required=True, lo=0.0, hi=1000.0, lo_open=True)
    max_cell = c.number(doc, "max_cell_m", "", None, lo=0.0, lo_open=True)
    model = c.string(doc, "model", "", None, choices=PRESET_MODELS)
    notes = c.string(doc, "notes", "", "") or ""
    freq = None
    if "freq_mhz" in doc:
        value = doc["freq_mhz"]
        ok = (isinstance(value, list) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
              and 0 < value[0] <= value[1])
        if ok:
            freq = (float(value[0]), float(value[1]))
        else:
            c.problems.append(f"freq_mhz must be [lo, hi] with 0 < lo <= hi (MHz), got {value!r}")
    environments = _parse_environments(c, doc.get("environments"))
    c.raise_problems(source)
    return RadioPreset(name=name, version=version, source=cite, description=description, technology=technology,
                       metric=metric, rx_height_m=rx_height, environments=environments, threshold=threshold,
                       min_down_mbps=down, min_up_mbps=up, cell_edge_probability=probability, cell_loading=loading,
                       time_percent=time_percent, max_cell_m=max_cell, freq_mhz=freq, model=model, notes=notes,
                       origin=origin, sha256=sha256)


def _parse_environments(c: KeyReader, raw: Any) -> tuple[PresetEnvironment, ...]:
    if raw is None:
        c.problems.append("[environments] is required: at least one [environments.<name>] table")
        return ()
    if not isinstance(raw, dict) or not raw:
        c.problems.append(f"[environments] must hold at least one [environments.<name>] table, got {raw!r}")
        return ()
    out = []
    for env_name, table in raw.items():
        where = f"[environments.{env_name}]"
        if not _NAME_RE.fullmatch(env_name):
            c.problems.append(f"environment name {env_name!r} must be lower-case letters, digits, '-' and '_'")
        if not isinstance(table, dict):
            c.problems.append(f"[environments.{env_name}] must be a table, got {table!r}")
            continue
        c.unknown(table, _ENV_KEYS, where)
        loss = c.number(table, "extra_loss_db", where, None, required=True, lo=0.0, hi=100.0)
        sigma = c.number(table, "extra_sigma_db", where, None, lo=0.0, hi=30.0)
        note = c.string(table, "note", where, "") or ""
        if loss is not None:
            out.append(PresetEnvironment(env_name, loss, 0.0 if sigma is None else sigma, note))
    return tuple(out)
