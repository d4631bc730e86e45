"""One run of a sweep: train (or resume), audit along training and at the end, evaluate, and
write the run's `result.json` with its table row.

Finished runs (`result.json` with status ok) are skipped on a rerun; a failed run records its
error there and the sweep goes on; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

from ganguard.audit import AuditResult, audit
from ganguard.config import Config
from ganguard.evaluate import TABLE_KEYS, UtilityResult, evaluate
from ganguard.metrics.utility import columns
from ganguard.options import option_defaults
from ganguard.runs import checkpoint_dirs, checkpoint_step, latest_checkpoint, write_atomic
from ganguard.sweep.spec import RunSpec, SweepSettings, run_config
from ganguard.train import train

RESULT_FILE = "result.json"
CURVE_DIR = "curve"


def read_result(path: Path) -> dict[str, Any] | None:
    """A run's result.json, or None when there is none (or it is unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run_one(spec: RunSpec, settings: SweepSettings, device: str | None,
            run_dir: Path) -> dict[str, Any]:  # fmt: skip
    """Train, audit (along training and at the end) and evaluate one run in `run_dir`, on
    `device` (None: its config's); its result.json (the argument order lets an executor hand
    the folder last)."""
    run_dir = Path(run_dir)
    result_path = run_dir / RESULT_FILE
    previous = read_result(result_path)
    if previous is not None and previous.get("status") == "ok":
        return previous
    started = time.perf_counter()
    try:
        result = _train_audit_evaluate(spec, run_dir, settings, device)
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


def _train_audit_evaluate(spec: RunSpec, run_dir: Path, s: SweepSettings,
                          device: str | None) -> dict[str, Any]:  # fmt: skip
    config = run_config(spec, s, device)
    steps = config.train.steps

    resume = (run_dir / "config.yaml").exists()
    latest = latest_checkpoint(run_dir) if resume else None
    t0 = time.perf_counter()
    if latest is None or checkpoint_step(latest) < steps:
        train(config, run_dir, resume=resume, progress=False)
    measured = time.perf_counter() - t0

    audit_args = {"k": s.audit_k, "n_per_class": s.n_per_class, "seed": 0,
                  "device": config.device}  # fmt: skip
    curve = []
    (run_dir / CURVE_DIR).mkdir(exist_ok=True)
    steps_kept = [checkpoint_step(d) for d in checkpoint_dirs(run_dir)]
    for step in steps_kept if s.curve_points else []:
        if step == steps:
            continue  # the end point gets the full audit below
        a = audit(run_dir, attacks=s.curve_attacks, step=step, plots=False,
                  out=run_dir / CURVE_DIR / f"audit_{step:07d}.json", **audit_args)  # fmt: skip
        u = evaluate(run_dir, n=s.evaluate_n, kid_subsets=s.kid_subsets, inception=False,
                     step=step, out=run_dir / CURVE_DIR / f"utility_{step:07d}.json",
                     device=config.device)  # fmt: skip
        curve.append(curve_point(step, a, u))
    a = audit(run_dir, attacks=s.attacks, **audit_args)
    u = evaluate(run_dir, n=s.evaluate_n, kid_subsets=s.kid_subsets, inception=False,
                 device=config.device)
    curve.append(curve_point(steps, a, u))
    return {
        "status": "ok",
        "name": spec.name,
        "variant": spec.variant,
        "group": spec.group,
        "values": spec.values,
        "row": table_row(spec, config, _last_logged(run_dir), a, u, measured),
        "curve": curve,
    }


def _last_logged(run_dir: Path) -> dict[str, Any]:
    """The last line of the run's metrics.jsonl ({} when there is none)."""
    path = run_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else {}


def curve_point(step: int, a: AuditResult, u: UtilityResult) -> dict[str, Any]:
    best = a.best()
    return {
        "step": step,
        "fid": u.generated["fid"],
        "fid_floor": u.floor["fid"],
        **{k: u.generated.get(k) for k in TABLE_KEYS if u.table is not None},
        "best_attack": best.name if best else None,
        "best_auc": best.metrics["auc"] if best else None,
        "best_auc_ci": list(best.metrics["auc_ci"]) if best else None,
        "auc": {n: r.metrics["auc"] for n, r in a.attacks.items()},
    }


def weights(config: Config) -> str:
    """The method's options that differ from today's defaults, as `key=value` pairs."""
    defaults = option_defaults(config.method.name)
    options = config.method.model_dump()
    return " ".join(f"{k}={v}" for k, v in options.items() if k != "name" and v != defaults[k])


def _options(config: Config) -> str:
    """Every option of the method, as `key=value` pairs: what ran, whatever the defaults."""
    return " ".join(f"{k}={v}" for k, v in config.method.model_dump().items() if k != "name")


def config_columns(config: Config) -> dict[str, Any]:
    """The row's columns that describe what was trained (the rest measure it)."""
    return {
        "method": config.method.name,
        "weights": weights(config),
        "options": _options(config),
        "spectral_norm": config.model.spectral_norm,
        "augment": "+".join(config.train.augment) or "none",
        "dataset": config.data.name,
        "n": config.data.n_members,
        "n_reference": config.data.n_reference,
        "seed": config.seed,
        "steps": config.train.steps,
    }


def table_row(spec: RunSpec, config: Config, last: dict[str, Any], a: AuditResult,
              u: UtilityResult, measured: float) -> dict[str, Any]:  # fmt: skip
    """The table row: what was trained, the best attack and every attack's AUC and TPR at 1%
    FPR, every utility column (and the floor's FID; for a table, its TABLE_KEYS), ε, and the
    training time (from the log's last line, or `measured` here when the log has none)."""
    best = a.best()
    m = best.metrics if best else {}
    row: dict[str, Any] = {
        "run": spec.name,
        "group": spec.group,
        "variant": spec.variant,
        **config_columns(config),
        "best_attack": best.name if best else None,
        "best_auc": m.get("auc"),
        "best_auc_lo": (m.get("auc_ci") or [None, None])[0],
        "best_auc_hi": (m.get("auc_ci") or [None, None])[1],
        "best_tpr_at_1pct_fpr": m.get("tpr_at_1pct_fpr"),
    }
    for name, r in a.attacks.items():
        row[f"auc_{name}"] = r.metrics["auc"]
        row[f"tpr1_{name}"] = r.metrics["tpr_at_1pct_fpr"]
    row.update({c: u.generated.get(c) for c in columns()})
    if u.table is not None:  # a table: its utility in place of the image metrics'
        row.update({k: u.generated.get(k) for k in TABLE_KEYS})
    row["fid_floor"] = u.floor["fid"]
    row["epsilon"] = last.get("epsilon")
    row["train_seconds"] = round(float(last.get("time", measured)), 1)
    return row
