"""Grids of runs: `ganguard sweep SWEEP.yaml` expands a base config, named variants and a grid of
config keys into runs; each is trained, audited and evaluated in its own directory under the sweep
folder, then everything is gathered into `results.csv`, `results.md` and a privacy–utility plot.

A sweep file::

    base: ../configs/demo.yaml         # a config file (relative to this file), or a mapping
    overrides: {train.steps: 3000}     # dotted keys applied to the base
    variants:                          # named settings, each a mapping of dotted keys
      gan: {method: {name: gan}}       # a mapping value replaces the whole section
      megan-fano-5: {method: {name: megan, mode: fano, lam: 5}}
    grid:                              # every combination, for every variant
      data.n_members: [500, 2000]
      seed: [0, 1, 2]
    curve_points: 5                    # SPEC §9: audit and evaluate 5 checkpoints along training
    attacks: default                   # at the end (curve points use `curve_attacks`)

Finished runs (`RUN/result.json` with status ok) are skipped on a rerun; a failed run records its
error there and the others go on; an interrupted run resumes from its last checkpoint. Executors:
`local` (one run at a time, or `workers` processes with torch's threads split between them) and
`ray` (each run a Ray task asking for `cpus_per_run` CPUs, run in a scratch folder on its worker
and sent back to the sweep folder as an archive, so workers need no shared file system).
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import json
import math
import os
import re
import shutil
import statistics
import tarfile
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganguard.config import Config, config_differences, config_from_dict, dotted_parent, load_config
from ganguard.errors import GanguardError
from ganguard.options import option_defaults
from ganguard.runs import read_run_config, write_atomic

RESULT_FILE = "result.json"
CURVE_DIR = "curve"
FAST_ATTACKS = ["logan_wb", "ganleaks_fbb", "montecarlo"]  # SPEC §9's attacks along training


class SweepSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str | dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"run": {}})
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    curve_points: int = Field(0, ge=0)  # checkpoints along training audited and evaluated
    curve_attacks: list[str] = Field(default_factory=lambda: list(FAST_ATTACKS))
    attacks: str | list[str] = "default"  # the audit at the end of each run
    audit_k: int = Field(20_000, ge=1)  # generated samples for the attacks
    n_per_class: int | None = Field(None, ge=1)  # members (= non-members) audited
    evaluate_n: int | None = Field(None, ge=2)  # generated samples for the utility metrics
    kid_subsets: int = Field(100, ge=1)
    cpus_per_run: int = Field(2, ge=1)  # the CPU request of each Ray task


@dataclass
class RunSpec:
    """One run of a sweep: its directory name, variant, grid values and full config."""

    name: str
    variant: str
    values: dict[str, Any]  # the grid's values for this run (dotted key -> value)
    config: dict[str, Any]

    @property
    def group(self) -> str:
        """The run's name without its seed: runs that differ only in seed are averaged."""
        rest = {k: v for k, v in self.values.items() if k != "seed"}
        return _run_name(self.variant, rest)


@dataclass
class Sweep:
    path: Path  # the sweep folder
    settings: SweepSettings
    runs: list[RunSpec] = field(default_factory=list)


# -- reading and expanding -----------------------------------------------------------------------
def load_sweep(path: str | Path, out: str | Path | None = None) -> Sweep:
    """Read SWEEP.yaml and expand it; the sweep folder is `out` (default sweeps/<file stem>)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GanguardError(f"sweep file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise GanguardError(f"cannot read sweep {path}: {str(err).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise GanguardError(f"sweep {path}: expected a mapping of sweep keys")
    if isinstance(raw.get("base"), str):
        base = Path(raw["base"])
        raw["base"] = str(base if base.is_absolute() else path.parent / base)
    settings = sweep_settings(raw)
    folder = Path(out) if out is not None else Path("sweeps") / path.stem
    return Sweep(folder, settings, expand(settings))


def sweep_settings(raw: dict[str, Any]) -> SweepSettings:
    try:
        return SweepSettings.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise GanguardError(f"sweep key {loc}: {msg}") from None


def expand(settings: SweepSettings) -> list[RunSpec]:
    """Every (variant, grid combination) as a validated RunSpec, in file order."""
    if isinstance(settings.base, str):
        base = load_config(settings.base).to_dict()
    else:
        base = copy.deepcopy(settings.base)
    base = _with(base, settings.overrides)
    for key, values in settings.grid.items():
        if not values:
            raise GanguardError(f"sweep key grid.{key}: give at least one value")
    keys = list(settings.grid)
    specs: list[RunSpec] = []
    for variant, changes in settings.variants.items():
        for combo in itertools.product(*(settings.grid[k] for k in keys)):
            values = dict(zip(keys, combo, strict=True))
            name = _run_name(variant, values)
            raw = _with(_with(base, changes), values)
            try:
                config = config_from_dict(raw).to_dict()
            except GanguardError as err:
                raise GanguardError(f"sweep run {name}: {err}") from None
            specs.append(RunSpec(name, variant, values, config))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise GanguardError(f"sweep: two runs would share the directory {dup}; rename a variant")
    return specs


def _with(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `raw` with dotted keys set; a mapping value replaces the whole section."""
    out = copy.deepcopy(raw)
    for key, value in changes.items():
        node, last = dotted_parent(out, key, "sweep key ")
        node[last] = copy.deepcopy(value)
    return out


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "-".join(_token(v) if k == "name" else f"{k}{_token(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "+".join(_token(v) for v in value) or "none"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"[^A-Za-z0-9._+-]", "", str(value))


def _run_name(variant: str, values: dict[str, Any]) -> str:
    parts = [_token(variant)] + [f"{k.split('.')[-1]}{_token(v)}" for k, v in values.items()]
    return "_".join(p for p in parts if p)


# -- one run ----------------------------------------------------------------------------------
def run_one(spec: RunSpec, sweep_dir: Path, settings: SweepSettings) -> dict[str, Any]:
    """Train, audit (along training and at the end) and evaluate one run; its result.json."""
    run_dir = Path(sweep_dir) / "runs" / spec.name
    result_path = run_dir / RESULT_FILE
    previous = _read_result(result_path)
    if previous is not None and previous.get("status") == "ok":
        return previous
    started = time.perf_counter()
    try:
        result = _train_audit_evaluate(spec, run_dir, settings)
    except Exception as err:  # a failed run is recorded and the sweep goes on
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        result = {
            "status": "failed",
            "name": spec.name,
            "variant": spec.variant,
            "group": spec.group,
            "values": spec.values,
            "error": f"{type(err).__name__}: {message}",
            "traceback": traceback.format_exc(),
        }
    result["seconds"] = round(time.perf_counter() - started, 1)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(result_path, json.dumps(result, indent=2, default=str) + "\n")
    return result


def _run_config(spec: RunSpec, s: SweepSettings) -> Config:
    """The config a sweep trains `spec` with: the run's own, plus the curve's checkpoints."""
    raw = copy.deepcopy(spec.config)
    raw["train"]["progress"] = False
    if s.curve_points:
        raw["train"]["checkpoint_every"] = max(1, raw["train"]["steps"] // s.curve_points)
        raw["train"]["keep_checkpoints"] = 0  # the curve audits every kept checkpoint
    return config_from_dict(raw)


def _train_audit_evaluate(spec: RunSpec, run_dir: Path, s: SweepSettings) -> dict[str, Any]:
    from ganguard.audit import audit
    from ganguard.evaluate import evaluate
    from ganguard.runs import checkpoint_dirs, checkpoint_step, latest_checkpoint
    from ganguard.train import train

    config = _run_config(spec, s)
    steps = config.train.steps

    resume = (run_dir / "config.yaml").exists()
    latest = latest_checkpoint(run_dir) if resume else None
    t0 = time.perf_counter()
    if latest is None or checkpoint_step(latest) < steps:
        train(config, run_dir, resume=resume, progress=False)
    measured = time.perf_counter() - t0

    audit_args = {"k": s.audit_k, "n_per_class": s.n_per_class, "seed": 0}
    curve = []
    (run_dir / CURVE_DIR).mkdir(exist_ok=True)
    steps_kept = [checkpoint_step(d) for d in checkpoint_dirs(run_dir)]
    for step in steps_kept if s.curve_points else []:
        if step == steps:
            continue  # the end point gets the full audit below
        a = audit(run_dir, attacks=s.curve_attacks, step=step, plots=False,
                  out=run_dir / CURVE_DIR / f"audit_{step:07d}.json", **audit_args)  # fmt: skip
        u = evaluate(run_dir, n=s.evaluate_n, kid_subsets=s.kid_subsets, inception=False,
                     step=step, out=run_dir / CURVE_DIR / f"utility_{step:07d}.json")  # fmt: skip
        curve.append(_curve_point(step, a, u))
    a = audit(run_dir, attacks=s.attacks, **audit_args)
    u = evaluate(run_dir, n=s.evaluate_n, kid_subsets=s.kid_subsets, inception=False)
    curve.append(_curve_point(steps, a, u))
    return {
        "status": "ok",
        "name": spec.name,
        "variant": spec.variant,
        "group": spec.group,
        "values": spec.values,
        "row": _row(spec, config, _last_logged(run_dir), a, u, measured),
        "curve": curve,
    }


def _last_logged(run_dir: Path) -> dict[str, Any]:
    """The last line of the run's metrics.jsonl ({} when there is none)."""
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else {}


def _best(audit_result) -> tuple[str, Any] | None:  # noqa: ANN001
    finite = {n: r for n, r in audit_result.attacks.items() if math.isfinite(r.metrics["auc"])}
    if not finite:
        return None
    return max(finite.items(), key=lambda item: item[1].metrics["auc"])


def _curve_point(step: int, a, u) -> dict[str, Any]:  # noqa: ANN001
    best = _best(a)
    return {
        "step": step,
        "fid": u.generated["fid"],
        "fid_floor": u.floor["fid"],
        "best_attack": best[0] if best else None,
        "best_auc": best[1].metrics["auc"] if best else None,
        "best_auc_ci": list(best[1].metrics["auc_ci"]) if best else None,
        "auc": {n: r.metrics["auc"] for n, r in a.attacks.items()},
    }


def _weights(config) -> str:  # noqa: ANN001
    """The method's options that differ from today's defaults, as `key=value` pairs."""
    defaults = option_defaults(config.method.name)
    options = config.method.model_dump()
    return " ".join(f"{k}={v}" for k, v in options.items() if k != "name" and v != defaults[k])


def _options(config) -> str:  # noqa: ANN001
    """Every option of the method, as `key=value` pairs: what ran, whatever the defaults."""
    return " ".join(f"{k}={v}" for k, v in config.method.model_dump().items() if k != "name")


def config_columns(config) -> dict[str, Any]:  # noqa: ANN001
    """The row's columns that describe what was trained (the rest measure it)."""
    return {
        "method": config.method.name,
        "weights": _weights(config),
        "options": _options(config),
        "spectral_norm": config.model.spectral_norm,
        "augment": "+".join(config.train.augment) or "none",
        "dataset": config.data.name,
        "n": config.data.n_members,
        "n_reference": config.data.n_reference,
        "seed": config.seed,
        "steps": config.train.steps,
    }


def _row(spec: RunSpec, config, last: dict[str, Any], a, u, measured: float) -> dict[str, Any]:  # noqa: ANN001, E501
    """The table row; `last` is the last metrics.jsonl line (ε, and the training time since the
    last start), `measured` the training time seen here when the log has none."""
    best = _best(a)
    row: dict[str, Any] = {
        "run": spec.name,
        "group": spec.group,
        "variant": spec.variant,
        **config_columns(config),
        "best_attack": best[0] if best else None,
        "best_auc": best[1].metrics["auc"] if best else None,
        "best_auc_lo": best[1].metrics["auc_ci"][0] if best else None,
        "best_auc_hi": best[1].metrics["auc_ci"][1] if best else None,
        "best_tpr_at_1pct_fpr": best[1].metrics["tpr_at_1pct_fpr"] if best else None,
    }
    for name, r in a.attacks.items():
        row[f"auc_{name}"] = r.metrics["auc"]
        row[f"tpr1_{name}"] = r.metrics["tpr_at_1pct_fpr"]
    row.update(
        fid=u.generated["fid"],
        fid_floor=u.floor["fid"],
        kid=u.generated["kid"],
        precision=u.generated["precision"],
        recall=u.generated["recall"],
        epsilon=last.get("epsilon"),
        train_seconds=round(float(last.get("time", measured)), 1),
    )
    return row


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


# -- executors --------------------------------------------------------------------------------
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
            _check_unchanged(sweep.path / "runs" / spec.name, _run_config(spec, sweep.settings))
    sweep.path.mkdir(parents=True, exist_ok=True)
    write_atomic(sweep.path / "sweep.json", json.dumps(
        {"settings": sweep.settings.model_dump(), "runs": [asdict(s) for s in sweep.runs]},
        indent=2, default=str) + "\n")  # fmt: skip
    pending = [s for s in sweep.runs if s.name not in finished]
    report = report or (lambda result: None)
    for spec in sweep.runs:
        if spec.name in finished:
            report({**_read_result(_result_path(sweep.path, spec)), "skipped": True})
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
    result = _read_result(_result_path(sweep_dir, spec))
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


# -- aggregation ------------------------------------------------------------------------------
SUMMARY = ["best_auc", "best_tpr_at_1pct_fpr", "fid", "kid", "precision", "recall", "epsilon",
           "train_seconds"]  # fmt: skip


def collect(sweep_dir: str | Path, order: Callable[[str], Any] | None = None
            ) -> list[dict[str, Any]]:  # fmt: skip
    """Every run's result.json under the sweep folder, sorted by `order` (a sort key on run
    names); by default in the order of the sweep's last invocation, then by name."""
    sweep_dir = Path(sweep_dir)
    results = [
        r for p in sorted((sweep_dir / "runs").glob(f"*/{RESULT_FILE}"))
        if (r := _read_result(p)) is not None
    ]  # fmt: skip
    if order is None:
        meta = _read_result(sweep_dir / "sweep.json")
        rank = {r["name"]: i for i, r in enumerate(meta["runs"] if meta else [])}
        order = lambda name: (rank.get(name, len(rank)), name)  # noqa: E731
    results.sort(key=lambda r: order(r.get("name", "")))
    return results


def aggregate(sweep_dir: str | Path, order: Callable[[str], Any] | None = None
              ) -> list[dict[str, Any]]:  # fmt: skip
    """Write results.csv, results.md and privacy_utility.png, the runs sorted as `collect`
    sorts them; returns the results."""
    sweep_dir = Path(sweep_dir)
    results = collect(sweep_dir, order)
    rows = [r["row"] for r in results if r.get("status") == "ok"]
    for row in rows:  # against today's defaults, which may have changed since the run
        row["weights"] = _current_weights(sweep_dir / "runs" / row["run"], row["weights"])
    write_atomic(sweep_dir / "results.csv", rows_csv(rows))
    failed = [r for r in results if r.get("status") != "ok"]
    write_atomic(sweep_dir / "results.md", results_markdown(rows, failed))
    if rows:
        from ganguard.report.curves import TradeoffPoint, privacy_utility_png

        points = [
            TradeoffPoint(r["run"], r["fid"], r["best_auc"], (r["best_auc_lo"], r["best_auc_hi"]))
            for r in rows
            if r.get("fid") is not None and r.get("best_auc") is not None
        ]
        if points:
            write_atomic(sweep_dir / "privacy_utility.png", privacy_utility_png(points))
    return results


def _current_weights(run_dir: Path, recorded: str) -> str:
    try:
        return _weights(read_run_config(run_dir))
    except GanguardError:
        return recorded


def rows_csv(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _table(head: list[str], rows: Iterable[list[str]]) -> list[str]:
    line = lambda cells: "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"  # noqa: E731
    return [line(head), "|" + "---|" * len(head), *(line(r) for r in rows)]


def group_means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over seeds of each group's SUMMARY figures."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    out = []
    for group, members in groups.items():
        first = members[0]
        entry: dict[str, Any] = {"group": group, "seeds": len(members)}
        entry.update({k: first[k] for k in ("variant", "method", "weights", "n", "dataset")})
        for key in SUMMARY:
            values = [float(m[key]) for m in members if m.get(key) is not None]
            entry[key] = statistics.fmean(values) if values else None
            entry[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
        out.append(entry)
    return out


def results_markdown(rows: list[dict[str, Any]], failed: list[dict[str, Any]]) -> str:
    attacks: list[str] = []
    for r in rows:
        attacks += [k[4:] for k in r if k.startswith("auc_") and k[4:] not in attacks]
    head = ["run", "method", "weights", "n", "seed", "best attack", "best AUC [95%]",
            "TPR@1%FPR", *(f"AUC {a}" for a in attacks), "FID (floor)", "KID", "precision",
            "recall", "ε", "train s"]  # fmt: skip
    body = []
    for r in rows:
        ci = f"{_fmt(r['best_auc'])} [{_fmt(r['best_auc_lo'])}, {_fmt(r['best_auc_hi'])}]"
        body.append([r["run"], r["method"], r["weights"] or "–", str(r["n"]), str(r["seed"]),
                     _fmt(r["best_attack"]), ci, _fmt(r["best_tpr_at_1pct_fpr"]),
                     *(_fmt(r.get(f"auc_{a}")) for a in attacks),
                     f"{_fmt(r['fid'], 1)} ({_fmt(r['fid_floor'], 1)})", _fmt(r["kid"], 4),
                     _fmt(r["precision"]), _fmt(r["recall"]), _fmt(r["epsilon"], 2),
                     _fmt(r["train_seconds"], 0)])  # fmt: skip
    lines = ["# Sweep results", "", "One row per run.", "", *_table(head, body), ""]
    means = group_means(rows)
    if any(m["seeds"] > 1 for m in means):
        pm = lambda m, k, d=3: _fmt(m[k], d) + ("" if m[f"{k}_std"] is None else f" ± {_fmt(m[f'{k}_std'], d)}")  # noqa: E731, E501
        lines += ["## Mean ± std over seeds", "",
                  *_table(["group", "method", "weights", "n", "seeds", "best AUC",
                           "TPR@1%FPR", "FID", "precision", "recall", "ε"],
                          ([m["group"], m["method"], m["weights"] or "–", str(m["n"]),
                            str(m["seeds"]), pm(m, "best_auc"), pm(m, "best_tpr_at_1pct_fpr"),
                            pm(m, "fid", 1), pm(m, "precision"), pm(m, "recall"),
                            pm(m, "epsilon", 2)] for m in means)), ""]  # fmt: skip
    if failed:
        lines += ["## Failed runs", "", *_table(["run", "error"],
                  ([f.get("name", "?"), f.get("error", "?")] for f in failed)), ""]  # fmt: skip
    return "\n".join(lines)
