"""Where the engine's tasks run: in this process, on a local Dask cluster, or on an existing Dask
scheduler (:mod:`citycov.compute.cluster`)."""

from citycov.compute.cluster import TaskRunner, open_runner

__all__ = ["TaskRunner", "open_runner"]
