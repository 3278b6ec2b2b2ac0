"""citycov: wireless-city and broadband-infrastructure coverage analyser.

Entry points: :func:`load_scenario` reads a TOML scenario, :func:`run` computes the
results, :func:`write_outputs` writes the report, tables, rasters and map atomically, and
:func:`plan` chooses the new sites and cabinets that meet the targets (``citycov plan``).
"""

from citycov._version import __version__
from citycov.config import Scenario, load_scenario
from citycov.errors import CitycovError, CitycovWarning
from citycov.outputs.write import write_outputs
from citycov.pipeline.results import Results
from citycov.pipeline.runner import run
from citycov.planning.planner import plan

__all__ = [
    "CitycovError",
    "CitycovWarning",
    "Results",
    "Scenario",
    "__version__",
    "load_scenario",
    "plan",
    "run",
    "write_outputs",
]
