"""A sweep's pending runs, through the executors of `ganguard.jobs`: finished runs are skipped
(while the sweep file still describes them), the others trained, audited and evaluated
(`pipeline.run_one`), then everything is gathered (`tables.aggregate`)."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ganguard.config import Config, recipe_differences
from ganguard.devices import job_device
from ganguard.errors import GanguardError
from ganguard.jobs import Executor, Job, Report, run_jobs
from ganguard.runs import read_run_config, write_atomic
from ganguard.sweep.pipeline import RESULT_FILE, read_result, run_one
from ganguard.sweep.spec import Sweep, run_config
from ganguard.sweep.tables import aggregate


def run_sweep(
    sweep: Sweep,
    executor: Executor = "local",
    workers: int = 1,
    address: str | None = None,
    report: Report | None = None,
    device: str | None = None,
) -> list[dict[str, Any]]:
    """Run every unfinished run of `sweep`, then aggregate; returns every run's result. Runs
    train on `device` (None: each on its config's); on CUDA the local executor gives each
    worker a GPU of its own and Ray asks `gpus_per_run` per task."""
    if workers < 1:
        raise GanguardError("--workers must be at least 1")
    wanted = device or (sweep.runs[0].config.get("device", "auto") if sweep.runs else "cpu")
    job_dev, gpus = job_device(wanted, executor, workers)
    if gpus and executor == "ray":
        gpus = sweep.settings.gpus_per_run
    device = job_dev if (device is not None or gpus) else None
    runs = sweep.path / "runs"
    finished = {s.name for s in sweep.runs if _finished(runs / s.name)}
    for spec in sweep.runs:
        if spec.name in finished:
            _check_unchanged(runs / spec.name, run_config(spec, sweep.settings))
    sweep.path.mkdir(parents=True, exist_ok=True)
    write_atomic(sweep.path / "sweep.json", json.dumps(
        {"settings": sweep.settings.model_dump(), "runs": [asdict(s) for s in sweep.runs]},
        indent=2, default=str) + "\n")  # fmt: skip
    report = report or (lambda result: None)
    for spec in sweep.runs:
        if spec.name in finished:
            report({**read_result(runs / spec.name / RESULT_FILE), "skipped": True})
    specs = {s.name: s for s in sweep.runs if s.name not in finished}

    def record(result: dict[str, Any]) -> None:
        """A run whose task died has no result.json yet: write its failure there."""
        spec = specs[result["name"]]
        if result.get("status") != "ok" and read_result(runs / spec.name / RESULT_FILE) is None:
            result = {**result, "variant": spec.variant, "group": spec.group,
                      "values": spec.values}  # fmt: skip
            (runs / spec.name).mkdir(parents=True, exist_ok=True)
            write_atomic(runs / spec.name / RESULT_FILE, json.dumps(result, indent=2) + "\n")
        report(result)

    jobs = [Job(s.name, functools.partial(run_one, s, sweep.settings, device))
            for s in specs.values()]  # fmt: skip
    run_jobs(jobs, runs, executor, workers, address, sweep.settings.cpus_per_run, record, gpus)
    return aggregate(sweep.path)


def _finished(run_dir: Path) -> bool:
    result = read_result(run_dir / RESULT_FILE)
    return result is not None and result.get("status") == "ok"


def _check_unchanged(run_dir: Path, config: Config) -> None:
    """A finished run is skipped only while the sweep file still describes it: an edited
    variant, grid or default would otherwise leave stale results under the new name."""
    changed = recipe_differences(read_run_config(run_dir).to_dict(), config.to_dict())
    if changed:
        raise GanguardError(
            f"sweep: {run_dir} was run with another {changed[0]} than the sweep file now gives; "
            "remove that run directory or rename the variant"
        )
