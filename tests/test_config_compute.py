"""``[compute]``: defaults, every bad key reported at once with its key path, and the command
line's ``--workers`` / ``--scheduler`` / ``DASK_SCHEDULER_ADDRESS`` over the section."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from citycov.cli import compute_config
from citycov.config import load_scenario
from citycov.config.compute import ComputeConfig
from citycov.errors import ScenarioError
from tests.conftest import make_tiny


def _load(tmp_path: Path, section: str):
    return load_scenario(make_tiny(tmp_path / "s", extra=section).scenario)


def test_no_compute_section_runs_in_process(tmp_path: Path) -> None:
    compute = _load(tmp_path, "").compute
    assert compute == ComputeConfig()
    assert compute.in_process
    assert (compute.workers, compute.scheduler, compute.threads_per_worker, compute.memory_limit,
            compute.dashboard, compute.numba_threads, compute.max_in_flight) == (0, None, 1, "2GB", True, None, None)


def test_compute_keys_are_read(tmp_path: Path) -> None:
    compute = _load(tmp_path, """
    [compute]
    workers = 3
    threads_per_worker = 2
    numba_threads = 1
    memory_limit = "500MiB"
    dashboard = false
    max_in_flight = 7
    """).compute
    assert compute == ComputeConfig(workers=3, threads_per_worker=2, numba_threads=1, memory_limit="500MiB",
                                    dashboard=False, max_in_flight=7)
    assert not compute.in_process


def test_scheduler_and_no_memory_limit(tmp_path: Path) -> None:
    compute = _load(tmp_path, """
    [compute]
    scheduler = "tcp://10.0.0.5:8786"
    memory_limit = "none"
    scratch_dir = "/shared/citycov"
    """).compute
    assert compute.scheduler == "tcp://10.0.0.5:8786" and compute.workers == 0 and compute.memory_limit is None
    assert compute.scratch_dir == "/shared/citycov"
    assert not compute.in_process


def test_bad_values_are_listed_with_their_key_paths(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as err:
        _load(tmp_path, """
        [compute]
        workers = -1
        threads_per_worker = 0
        numba_threads = 1.5
        memory_limit = "lots"
        dashboard = "yes"
        max_in_flight = 0
        nodes = 4
        """)
    msg = str(err.value)
    assert "[compute].workers must be >= 0, got -1" in msg
    assert "[compute].threads_per_worker must be >= 1, got 0" in msg
    assert "[compute].numba_threads must be a whole number, got 1.5" in msg
    assert "[compute].memory_limit must be a size such as \"2GB\"" in msg and "'lots'" in msg
    assert "[compute].dashboard must be true or false, got 'yes'" in msg
    assert "[compute].max_in_flight must be >= 1, got 0" in msg
    assert "[compute]: unknown keys ['nodes']" in msg


def test_scheduler_and_workers_together_say_which_to_drop(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"\[compute\]: scheduler = 'tcp://h:8786' and workers = 2 are both "
                                            r"set; drop workers .* or drop scheduler"):
        _load(tmp_path, """
        [compute]
        scheduler = "tcp://h:8786"
        workers = 2
        """)


def test_worker_numba_threads_is_one_level_of_parallelism() -> None:
    # single-threaded workers share the cores among their Numba pools; multi-threaded ones get 1
    assert ComputeConfig(workers=2).worker_numba_threads(8) == 4
    assert ComputeConfig(workers=3).worker_numba_threads(8) == 2
    assert ComputeConfig(workers=16).worker_numba_threads(8) == 1
    assert ComputeConfig(workers=2, threads_per_worker=4).worker_numba_threads(8) == 1
    assert ComputeConfig(workers=2, numba_threads=3).worker_numba_threads(8) == 3


def test_in_flight_default_is_two_per_thread_plus_two() -> None:
    assert ComputeConfig(workers=2).in_flight(2) == 6
    assert ComputeConfig(workers=2, threads_per_worker=3).in_flight(6) == 14
    assert ComputeConfig(workers=2, max_in_flight=5).in_flight(6) == 5


BASE = ComputeConfig(workers=3, threads_per_worker=2)
REMOTE = ComputeConfig(scheduler="tcp://scenario:8786")


def test_no_option_and_no_variable_keep_the_section() -> None:
    assert compute_config(BASE, environ={}) is BASE
    assert compute_config(ComputeConfig(), environ={"DASK_SCHEDULER_ADDRESS": ""}) == ComputeConfig()


def test_workers_option_overrides_the_section() -> None:
    assert compute_config(BASE, workers=2, environ={}) == ComputeConfig(workers=2, threads_per_worker=2)
    assert compute_config(REMOTE, workers=2, environ={}) == ComputeConfig(workers=2)
    assert compute_config(BASE, workers=0, environ={}).in_process


def test_scheduler_option_overrides_the_section_and_the_variable() -> None:
    env = {"DASK_SCHEDULER_ADDRESS": "tcp://env:8786"}
    got = compute_config(BASE, scheduler="tcp://cli:8786", environ=env)
    assert got == ComputeConfig(scheduler="tcp://cli:8786", threads_per_worker=2)


def test_variable_names_the_scheduler_when_no_option_is_given() -> None:
    env = {"DASK_SCHEDULER_ADDRESS": " tcp://env:8786 "}
    assert compute_config(BASE, environ=env) == ComputeConfig(scheduler="tcp://env:8786", threads_per_worker=2)
    assert compute_config(BASE, workers=2, environ=env).scheduler is None  # --workers wins over the variable


def test_both_options_are_refused() -> None:
    with pytest.raises(click.UsageError, match="drop one"):
        compute_config(BASE, workers=2, scheduler="tcp://cli:8786", environ={})


def test_run_hands_the_chosen_compute_to_the_pipeline(tmp_path: Path, monkeypatch) -> None:
    """``citycov run --workers 2``: the scenario the pipeline receives carries the choice (the
    pipeline is stopped there with an error, exit 1)."""
    from click.testing import CliRunner

    from citycov import cli as cli_module
    from citycov.errors import CitycovError

    seen = []

    def fake_run(sc, **kwargs):
        seen.append(sc.compute)
        raise CitycovError("stop here")

    monkeypatch.setattr(cli_module.runner, "run", fake_run)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    scenario = make_tiny(tmp_path / "s", extra="[compute]\nthreads_per_worker = 1\n").scenario
    invoke = CliRunner().invoke
    result = invoke(cli_module.cli, ["run", str(scenario), "--out", str(tmp_path / "o1"), "--workers", "2"])
    assert result.exit_code == 1 and "stop here" in result.output
    result = invoke(cli_module.cli, ["run", str(scenario), "--out", str(tmp_path / "o2")])
    assert result.exit_code == 1
    result = invoke(cli_module.cli, ["run", str(scenario), "--out", str(tmp_path / "o3")],
                    env={"DASK_SCHEDULER_ADDRESS": "tcp://env:8786"})
    assert result.exit_code == 1
    assert seen == [ComputeConfig(workers=2), ComputeConfig(), ComputeConfig(scheduler="tcp://env:8786")]
    result = invoke(cli_module.cli, ["run", str(scenario), "--workers", "2", "--scheduler", "tcp://h:8786"])
    assert result.exit_code == 2 and "--workers and --scheduler are both given" in result.output
