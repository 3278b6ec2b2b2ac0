"""Before a run: ``citycov check`` (every input validated, what the run would use, in seconds)
and ``citycov init`` (a commented scenario written from the files a user downloaded).

:func:`check_scenario` reads every input with the run's own readers but runs no engine;
:func:`init_scenario` inspects the files (:mod:`citycov.preflight.detect`) and writes the TOML
(:mod:`citycov.preflight.scaffold`).
"""

from citycov.preflight.check import CheckReport, check_scenario
from citycov.preflight.scaffold import InitPaths, init_scenario

__all__ = ["CheckReport", "InitPaths", "check_scenario", "init_scenario"]
