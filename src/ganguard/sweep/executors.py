"""The executors of a sweep: `local` (one run at a time, or `workers` processes with torch's
threads split between them) and `ray` (each run a Ray task asking for `cpus_per_run` CPUs, run in
a scratch folder on its worker and sent back to the sweep folder as an archive, so workers need no
shared file system). Each runs the pending runs through `pipeline.run_one`."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from ganguard.config import Config, config_differences
from ganguard.errors import GanguardError
from ganguard.runs import read_run_config, write_atomic
from ganguard.sweep.pipeline import RESULT_FILE, read_result, run_one
from ganguard.sweep.spec import RunSpec, Sweep, SweepSettings, run_config
from ganguard.sweep.tables import aggregate

Report = Callable[[dict[str, Any]], None]


def run_sweep(
    sweep: Sweep,
    executor: Literal["local", "ray"] = "local",
    workers: int = 1,
    address: str | None = None,
    report: Report | None = None,
) -> list[dict[str, Any]]:
    """Run every unfinished run of `sweep`, then aggregate; returns every run's result."""
    if workers < 1:
        raise GanguardError("--workers must be at least 1")
    finished = {s.name for s in sweep.runs if _finished(sweep.path, s)}
    for spec in sweep.runs:
        if spec.name in finished:
            _check_unchanged(sweep.path / "runs" / spec.name, run_config(spec, sweep.settings))
    sweep.path.mkdir(parents=True, exist_ok=True)
    write_atomic(sweep.path / "sweep.json", json.dumps(
        {"settings": sweep.settings.model_dump(), "runs": [asdict(s) for s in sweep.runs]},
        indent=2, default=str) + "\n")  # fmt: skip
    pending = [s for s in sweep.runs if s.name not in finished]
    report = report or (lambda result: None)
    for spec in sweep.runs:
        if spec.name in finished:
            report({**read_result(_result_path(sweep.path, spec)), "skipped": True})
    if executor == "local" and workers == 1:
        for spec in pending:
            report(run_one(spec, sweep.path, sweep.settings))
    elif executor == "local":
        _local_pool(pending, sweep, workers, report)
    elif executor == "ray":
        _ray(pending, sweep, address, report)
    else:
        raise GanguardError(f"--executor must be local or ray, not {executor!r}")
    return aggregate(sweep.path)


def _result_path(sweep_dir: Path, spec: RunSpec) -> Path:
    return Path(sweep_dir) / "runs" / spec.name / RESULT_FILE


def _finished(sweep_dir: Path, spec: RunSpec) -> bool:
    result = read_result(_result_path(sweep_dir, spec))
    return result is not None and result.get("status") == "ok"


def _check_unchanged(run_dir: Path, config: Config) -> None:
    """A finished run is skipped only while the sweep file still describes it: an edited
    variant, grid or default would otherwise leave stale results under the new name."""
    changed = config_differences(read_run_config(run_dir).to_dict(), config.to_dict())
    if changed:
        raise GanguardError(
            f"sweep: {run_dir} was run with another {changed[0]} than the sweep file now gives; "
            "remove that run directory or rename the variant"
        )


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _local_pool(pending: list[RunSpec], sweep: Sweep, workers: int, report: Report) -> None:
    """`workers` processes, each with its share of the CPU cores as torch threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(threads,)) as pool:  # fmt: skip
        futures = [pool.submit(run_one, spec, sweep.path, sweep.settings) for spec in pending]
        for future in as_completed(futures):
            report(future.result())


def _run_packed(spec: RunSpec, settings: SweepSettings, threads: int) -> tuple[dict, bytes]:
    """A Ray task: the run in a scratch folder of its worker, returned as (result, tar.gz)."""
    _init_worker(threads)
    with tempfile.TemporaryDirectory(prefix="ganguard-sweep-") as scratch:
        result = run_one(spec, Path(scratch), settings)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(Path(scratch) / "runs" / spec.name, arcname=spec.name)
    return result, buf.getvalue()


def _unpack(archive: bytes, sweep_dir: Path, name: str) -> None:
    """Put a run sent back by a Ray worker into the sweep folder (whole, or not at all)."""
    runs = Path(sweep_dir) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=runs))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(runs / name, ignore_errors=True)
        os.replace(tmp / name, runs / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ray(pending: list[RunSpec], sweep: Sweep, address: str | None, report: Report) -> None:
    try:
        import ray
    except ImportError:
        raise GanguardError(
            "--executor ray needs Ray: pip install 'ganguard[ray]' (or pip install ray)"
        ) from None
    cpus = sweep.settings.cpus_per_run
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address not in (None, "local"):
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise GanguardError(f"--executor ray: cannot reach Ray at {address}: {err}") from None
    try:
        task = ray.remote(num_cpus=cpus)(_run_packed)
        futures = {task.remote(spec, sweep.settings, cpus): spec for spec in pending}
        remaining = list(futures)
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            spec = futures[ready[0]]
            try:
                result, archive = ray.get(ready[0])
                _unpack(archive, sweep.path, spec.name)
            except Exception as err:  # the task itself died (worker lost, ...)
                result = {"status": "failed", "name": spec.name, "variant": spec.variant,
                          "group": spec.group, "values": spec.values,
                          "error": f"ray task: {type(err).__name__}: {err}"}  # fmt: skip
                run_dir = sweep.path / "runs" / spec.name
                run_dir.mkdir(parents=True, exist_ok=True)
                write_atomic(run_dir / RESULT_FILE, json.dumps(result, indent=2) + "\n")
            report(result)
    finally:
        if started_here:
            ray.shutdown()
