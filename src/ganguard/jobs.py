"""Run a list of jobs, each in a folder of its own: one at a time, in local processes, or as Ray
tasks. A sweep's runs and an audit's shadow models both go through `run_jobs`.

`local` runs one job at a time, or `workers` processes with torch's threads split between them
(jobs on a GPU: each process owns one GPU, so `workers` is at most their count); `ray` makes each
job a Ray task asking for `cpus_per_job` CPUs (and `gpus_per_job` GPUs), run in a scratch folder
on its worker and sent back as an archive, so workers need no shared file system (they need ganguard
and the data sets installed). A job is a picklable function of the folder it works in, returning
a JSON-ready result.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ganguard.errors import GanguardError

Report = Callable[[dict[str, Any]], None]
Executor = Literal["local", "ray"]


@dataclass
class Job:
    """One unit of work: `fn(root / name)` does it in that folder and returns its result."""

    name: str
    fn: Callable[[Path], dict[str, Any]]


def run_jobs(jobs: list[Job], root: Path, executor: Executor = "local", workers: int = 1,
             address: str | None = None, cpus_per_job: int = 2,
             report: Report | None = None,
             gpus_per_job: float = 0) -> list[dict[str, Any]]:  # fmt: skip
    """Run every job in its folder under `root`; returns the results in the jobs' order. A job
    whose worker dies gives {"status": "failed", "name": ..., "error": ...}. `gpus_per_job` > 0:
    the jobs train on CUDA (locally one GPU per worker process, seen there as `cuda`)."""
    if workers < 1:
        raise GanguardError("--workers must be at least 1")
    if gpus_per_job < 0:
        raise GanguardError("gpus_per_job must not be negative")
    if executor not in ("local", "ray"):
        raise GanguardError(f"--executor must be local or ray, not {executor!r}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    report = report or (lambda result: None)
    results: dict[str, dict[str, Any]] = {}

    def done(name: str, result: dict[str, Any]) -> None:
        results[name] = result
        report(result)

    if executor == "local" and (workers == 1 or len(jobs) <= 1):
        for job in jobs:
            done(job.name, job.fn(root / job.name))
    elif executor == "local":
        _local_pool(jobs, root, workers, done, gpus_per_job > 0)
    else:
        _ray(jobs, root, address, cpus_per_job, done, gpus_per_job)
    return [results[job.name] for job in jobs]


def _init_worker(threads: int, gpus: Any = None) -> None:
    if gpus is not None:  # this process owns one GPU: set before CUDA starts in it
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpus.get())
    import torch

    torch.set_num_threads(threads)


def _local_pool(jobs: list[Job], root: Path, workers: int, done: Callable,
                on_gpus: bool = False) -> None:  # fmt: skip
    """`workers` processes, each with its share of the CPU cores as torch threads (and, for
    jobs on CUDA, a GPU of its own)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    gpus = None
    if on_gpus:
        from ganguard.devices import gpu_count

        if workers > gpu_count():
            raise GanguardError(f"--workers {workers}: on CUDA each worker takes a GPU of its "
                                f"own, and this machine has {gpu_count()}")  # fmt: skip
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        ids = visible.split(",") if visible else [str(i) for i in range(gpu_count())]
        gpus = context.Manager().Queue()
        for index in range(workers):
            gpus.put(ids[index])
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(threads, gpus)) as pool:  # fmt: skip
        futures = {pool.submit(job.fn, root / job.name): job for job in jobs}
        for future in as_completed(futures):
            done(futures[future].name, future.result())


def _run_packed(job: Job, threads: int) -> tuple[dict, bytes]:
    """A Ray task: the job in a scratch folder of its worker, returned as (result, tar.gz)."""
    _init_worker(threads)
    with tempfile.TemporaryDirectory(prefix="ganguard-job-") as scratch:
        result = job.fn(Path(scratch) / job.name)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(Path(scratch) / job.name, arcname=job.name)
    return result, buf.getvalue()


def _unpack(archive: bytes, root: Path, name: str) -> None:
    """Put a job's folder sent back by a Ray worker under `root` (whole, or not at all)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        shutil.rmtree(root / name, ignore_errors=True)
        os.replace(tmp / name, root / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ray(jobs: list[Job], root: Path, address: str | None, cpus: int, done: Callable,
         gpus: float = 0) -> None:  # fmt: skip
    try:
        import ray
    except ImportError:
        raise GanguardError(
            "--executor ray needs Ray: pip install 'ganguard[ray]' (or pip install ray)"
        ) from None
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
        task = ray.remote(num_cpus=cpus, num_gpus=gpus)(_run_packed)
        futures = {task.remote(job, cpus): job for job in jobs}
        remaining = list(futures)
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            job = futures[ready[0]]
            try:
                result, archive = ray.get(ready[0])
                _unpack(archive, root, job.name)
            except Exception as err:  # the task itself died (worker lost, ...)
                result = {"status": "failed", "name": job.name,
                          "error": f"ray task: {type(err).__name__}: {err}"}  # fmt: skip
            done(job.name, result)
    finally:
        if started_here:
            ray.shutdown()
