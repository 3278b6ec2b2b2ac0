"""Reproducible outputs: with ``citycov run --reproducible``, or the environment variable
``SOURCE_DATE_EPOCH`` (https://reproducible-builds.org/specs/source-date-epoch/), two runs of
the same scenario write byte-identical files, so the hash of a result can be published.

A run's outputs hold no time, random id or temporary path except these, which this module
fixes (see :func:`scrub`, :func:`gdal_dates`):

* ``run_started_utc`` (``districts.json`` provenance, ``report.md``, ``report.html``, ``map.html``)
  and the calibration's ``created_utc`` (``calibration.json``, ``districts.json``): the
  ``SOURCE_DATE_EPOCH`` time in UTC, or none (``null``) when only ``--reproducible`` is given;
* the step timings ``timings_s`` and every ``runtime_s`` (broadcast presets): left out;
* ``gpkg_contents.last_change`` of the GeoPackages: GDAL's ``OGR_CURRENT_DATE``, set to the
  same time (1970-01-01 without ``SOURCE_DATE_EPOCH``) while the outputs are written.

The provenance names the scenario and its inputs by absolute path, so identical bytes need the
inputs at the same place (as a rerun of the same scenario file has them).

Always deterministic, with or without this mode: the tables, the GeoJSON, the rasters (GDAL
writes no TIFF date), the PNG figures (no date, no software chunk), the element ids of
``map.html`` (numbered, not random) and the run manifest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyogrio

from citycov.errors import ScenarioError

ENV = "SOURCE_DATE_EPOCH"
STAMP_KEYS = frozenset({"run_started_utc", "created_utc"})
"""Provenance keys holding the time of the run: the epoch's time, or None."""
ELAPSED_KEYS = frozenset({"timings_s", "runtime_s"})
"""Provenance keys holding how long something took: left out."""


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as an integer, None when unset or empty.

    Raises
    ------
    ScenarioError
        When it is set to anything but a non-negative integer (seconds since 1970-01-01 UTC).
    """
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ScenarioError(f"{ENV} must be a non-negative integer (seconds since 1970-01-01 UTC), got {raw!r}")
    try:
        datetime.fromtimestamp(int(raw), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ScenarioError(f"{ENV} = {raw} is out of range ({exc})") from exc
    return int(raw)


@dataclass(frozen=True)
class Reproducible:
    """The reproducible mode of one write; ``epoch`` from ``SOURCE_DATE_EPOCH`` (None: unset)."""

    epoch: int | None = None

    @property
    def stamp(self) -> str | None:
        """The time written for the run (ISO 8601, UTC, as a normal run writes it), or None."""
        if self.epoch is None:
            return None
        return datetime.fromtimestamp(self.epoch, UTC).isoformat(timespec="seconds")

    @property
    def gdal_date(self) -> str:
        """``OGR_CURRENT_DATE`` for GDAL's GeoPackage driver."""
        return datetime.fromtimestamp(self.epoch or 0, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def resolve(reproducible: bool | None) -> Reproducible | None:
    """The mode for ``reproducible`` (None: on exactly when ``SOURCE_DATE_EPOCH`` is set);
    None when off.  Raises :class:`ScenarioError` for a malformed ``SOURCE_DATE_EPOCH``
    (unless ``reproducible`` is False, which ignores it)."""
    if reproducible is False:
        return None
    epoch = source_date_epoch()
    if reproducible is None and epoch is None:
        return None
    return Reproducible(epoch)


def scrub(value: Any, mode: Reproducible) -> Any:
    """A copy of the plain data ``value`` (a provenance record) with every :data:`STAMP_KEYS`
    value set to the mode's time and every :data:`ELAPSED_KEYS` entry left out."""
    if isinstance(value, dict):
        return {k: (mode.stamp if k in STAMP_KEYS else scrub(v, mode)) for k, v in value.items()
                if k not in ELAPSED_KEYS}
    if isinstance(value, list | tuple):
        return [scrub(v, mode) for v in value]
    return value


@contextlib.contextmanager
def gdal_dates(mode: Reproducible | None) -> Iterator[None]:
    """Within the block, GDAL writes the mode's time as "now" (``OGR_CURRENT_DATE``: the
    GeoPackage's ``gpkg_contents.last_change``); nothing changes when ``mode`` is None."""
    if mode is None:
        yield
        return
    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": mode.gdal_date})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})
