"""Exception hierarchy: one root error, each subclass also a builtin (rasterio's pattern).

The CLI catches :class:`CitycovError` only and prints its message on one line;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CitycovError(Exception):
    """Root of every error citycov raises on purpose."""


class ScenarioError(CitycovError, ValueError):
    """The scenario file is missing, malformed or has invalid values."""


class InputFileError(CitycovError, OSError):
    """An input file is missing or cannot be read."""


class SiteTableError(CitycovError, ValueError):
    """A sector, WLAN access-point or fibre table has invalid rows or columns."""


class BoundaryError(CitycovError, ValueError):
    """District boundaries are invalid."""


class RasterError(CitycovError, ValueError):
    """A raster input (DEM, population) is invalid or does not cover the study area."""


class CRSError(CitycovError, ValueError):
    """A coordinate reference system is missing, unknown or inconsistent."""


class GridError(CitycovError, ValueError):
    """The analysis grid cannot be built as requested."""


class ModelError(CitycovError, ValueError):
    """A propagation model was asked for outside its declared domain."""


class ItmError(ModelError):
    """An input outside ITM's domain; ``code`` is NTIA's return code (1000-1022), or None for a
    malformed profile, which NTIA's interface does not check."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


class P1812Error(ModelError):
    """Input outside the domain of ITU-R P.1812-6 (names the argument, value and valid range)."""


class P2108Error(ModelError):
    """An input outside P.2108's domain; ``code`` is NTIA's return code (48, 49, 50)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ClaimTableError(CitycovError, ValueError):
    """A claim polygon file has invalid rows, columns or geometries."""


class MeasurementTableError(CitycovError, ValueError):
    """A measurement table cannot be used at all (missing columns, unreadable file)."""


class ChallengeError(CitycovError, ValueError):
    """Tests or claims given to the challenge engine cannot be evaluated."""


class CalibrationError(CitycovError, ValueError):
    """Measurements cannot be used to calibrate, or a calibration file is invalid."""


class AssetError(CitycovError, RuntimeError):
    """An HTML asset cannot be inlined from the installed packages."""


class OutputNameError(CitycovError, ValueError):
    """Two names from input would be written as the same output file."""


class CitycovWarning(UserWarning):
    """A recoverable, counted problem (for example rows dropped or a model extrapolated)."""


def raise_problems(error_cls: type[CitycovError], source: str, problems: list[str]) -> None:
    """Raise ``error_cls`` once, listing every problem found in ``source``.

    Does nothing when ``problems`` is empty.
    """
    if problems:
        raise error_cls(f"{source}: " + "; ".join(problems))


class OutputFolderError(CitycovError, OSError):
    """The output folder (``--out``) cannot receive a run: it is unusable, holds an input of the
    run, or holds entries that a run would replace but did not write."""


class ComputeError(CitycovError, RuntimeError):
    """A tile task failed (in this process or on a Dask worker): the message names the tile and
    its inputs (the plan's ``describe()``) and the original exception's type and text, which is
    kept as ``__cause__``."""
