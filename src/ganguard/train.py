"""The training loop: data, method, then step / log / checkpoint until `train.steps`.

Read top to bottom: everything a method does lives in its `step`; this file only prepares the run
directory, loops, logs and checkpoints.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from ganguard.config import Config, config_differences, config_from_dict, dump_config
from ganguard.data import Dataset, load_run_data
from ganguard.data.split import Split, check_split, load_split, make_split, save_split
from ganguard.errors import GanguardError
from ganguard.methods import Method, RandomStreams, method_class
from ganguard.metrics import overfitting
from ganguard.runs import (
    checkpoint_dirs,
    checkpoint_step,
    global_rng_state,
    latest_checkpoint,
    load_checkpoint,
    read_run_config,
    save_checkpoint,
    seed_everything,
    set_global_rng_state,
    write_atomic,
)

# Keys that may change when a run is resumed: they extend or re-time training, not its meaning.
RESUMABLE_CHANGES = {"train.steps", "train.log_every", "train.checkpoint_every", "train.progress",
                     "train.keep_checkpoints"}  # fmt: skip


def unresumable_changes(out: Path, config: Config) -> list[str]:
    """The config keys in which `config` differs from the run in `out` that a resume may not
    change."""
    saved = read_run_config(out).to_dict()
    return [k for k in config_differences(saved, config.to_dict()) if k not in RESUMABLE_CHANGES]


@dataclass
class Run:
    """A run directory with its config, split and (once trained) method."""

    path: Path
    config: Config
    split: Split
    method: Method
    step: int = 0


def load_data(config: Config) -> tuple[Dataset, Split]:
    d = config.data
    ds = load_run_data(d)
    appended = None if d.reference_data is None else len(ds) - d.n_reference
    split = make_split(ds, d.n_members, d.n_holdout, d.n_reference, d.n_test, d.seed, appended)
    return ds, split


def build_method(config: Config, shape: tuple[int, ...], n_classes: int = 0) -> Method:
    cls = method_class(config.method.name)
    return cls(config.method, config, shape, RandomStreams(config.seed), n_classes=n_classes)


def class_count(ds: Dataset) -> int:
    """Classes of a labelled data set (labels 0..K-1); 0 when it has no labels."""
    return 0 if ds.y is None else int(ds.y.max()) + 1


def attach_split(method: Method, ds: Dataset, split: Split) -> None:
    """Give a method S and R (with their labels when the run is conditional)."""
    parts = [split.members, split.reference]
    records = [torch.from_numpy(ds.x[idx]) for idx in parts]
    labels = [None if ds.y is None else torch.from_numpy(ds.y[idx]).long() for idx in parts]
    method.attach_data(*records, *labels)


def method_state(method: Method) -> dict[str, Any]:
    return {
        "modules": {k: m.state_dict() for k, m in method.modules.items()},
        "optimizers": {k: o.state_dict() for k, o in method.optimizers.items()},
        "streams": method.streams.state_dict(),
        "extra": method.extra_state(),
    }


def load_method_state(method: Method, state: dict[str, Any], weights_only: bool = False) -> None:
    try:
        for k, m in method.modules.items():
            m.load_state_dict(state["modules"][k])
        if not weights_only:
            for k, o in method.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            method.streams.load_state_dict(state["streams"])
            method.load_extra_state(state.get("extra", {}))
    except (KeyError, RuntimeError, ValueError) as err:
        first = str(err).splitlines()[0]
        raise GanguardError(f"checkpoint does not fit this run's networks: {first}") from None


def _prepare_run_dir(out: Path, config: Config, ds: Dataset, split: Split, resume: bool) -> None:
    """Create a new run directory, or check that an existing one is this run (for --resume)."""
    if out.exists() and not out.is_dir():
        raise GanguardError(f"--out {out} is a file, not a run directory")
    has_run = (out / "config.yaml").exists() or (out / "split.json").exists()
    if not resume:
        if has_run:
            raise GanguardError(
                f"{out} already holds a run: pass --resume to continue it, or choose another --out"
            )
        out.mkdir(parents=True, exist_ok=True)
        save_split(split, out / "split.json")
        write_atomic(out / "config.yaml", dump_config(config))
        return
    if not has_run:
        raise GanguardError(f"--resume: {out} holds no run (no config.yaml)")
    check_split(load_split(out / "split.json"), ds)  # refuses a directory made from other data
    changed = unresumable_changes(out, config)
    if changed:
        raise GanguardError(
            f"--resume: config key {changed[0]} differs from the run in {out}; "
            "only train.steps and the logging/checkpoint intervals may change"
        )
    # config.yaml is rewritten only once the resumed training has finished (see train()), so a
    # resume that a method refuses (e.g. DP-GAN past its budget) leaves the run as it was


class Monitor:
    """Scores fixed subsets of S and H with the discriminator: mean D(x), O, O_null, AUC."""

    def __init__(self, ds: Dataset, split: Split, n: int, seed: int, labelled: bool):
        rng = np.random.default_rng(seed)  # fixed subsets, independent of training randomness
        pick = lambda idx: np.sort(rng.permutation(idx)[: min(n, len(idx))])  # noqa: E731
        members, holdout = pick(split.members), pick(split.holdout)
        self.members = torch.from_numpy(ds.x[members])
        self.holdout = torch.from_numpy(ds.x[holdout])
        # a conditional run's d(x, y) is scored with each record's own label
        as_labels = lambda idx: torch.from_numpy(ds.y[idx]).long() if labelled else None  # noqa: E731
        self.member_labels, self.holdout_labels = as_labels(members), as_labels(holdout)

    def __call__(self, method: Method) -> dict[str, float]:
        if len(self.holdout) < 2:
            return {}
        s_mem = method.score(self.members, self.member_labels)
        s_hold = method.score(self.holdout, self.holdout_labels)
        if s_mem.ndim == 2:  # several discriminators: the white-box attacker takes the max
            s_mem, s_hold = s_mem.max(1).values, s_hold.max(1).values
        s_mem, s_hold = s_mem.numpy(), s_hold.numpy()
        if not (np.isfinite(s_mem).all() and np.isfinite(s_hold).all()):
            return {"d_members": math.nan, "d_holdout": math.nan}  # the trainer reports divergence
        o = overfitting(s_mem, s_hold, n_boot=0)
        labels = np.r_[np.ones(len(s_mem)), np.zeros(len(s_hold))]
        return {
            "d_members": float(torch.sigmoid(torch.from_numpy(s_mem)).mean()),
            "d_holdout": float(torch.sigmoid(torch.from_numpy(s_hold)).mean()),
            "O": o.O,
            "O_null": o.O_null,
            "auc_wb": float(roc_auc_score(labels, np.r_[s_mem, s_hold])),
        }


def _append_metrics(path: Path, line: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop lines logged after the checkpoint we continue from."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
    write_atomic(path, "".join(k + "\n" for k in keep))


def train(
    config: Config | dict,
    out: str | Path,
    resume: bool = False,
    progress: bool | None = None,
) -> Run:
    """Train `config` into the run directory `out` (continuing its last checkpoint if `resume`)."""
    config = config if isinstance(config, Config) else config_from_dict(config)
    out = Path(out)
    ds, split = load_data(config)
    method = build_method(config, ds.shape, class_count(ds))
    attach_split(method, ds, split)
    _prepare_run_dir(out, config, ds, split, resume)
    t = config.train

    seed_everything(config.seed)
    step = 0
    checkpoint = latest_checkpoint(out) if resume else None
    if checkpoint is not None:
        step, state = load_checkpoint(checkpoint)
        load_method_state(method, state["method"])
        set_global_rng_state(state["global_rng"])
    metrics_path = out / "metrics.jsonl"
    if resume:
        _truncate_metrics(metrics_path, step)
    elif metrics_path.exists():
        metrics_path.unlink()

    monitor = Monitor(ds, split, t.n_log, config.data.seed, method.conditional)
    show = t.progress if progress is None else progress
    bar = tqdm(total=t.steps, initial=step, disable=not show, desc=config.method.name, leave=False)
    sums: dict[str, float] = {}
    n_summed = 0
    started = time.perf_counter()
    while step < t.steps:
        logs = method.step()
        step += 1
        n_summed += 1
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v
        if step % t.log_every == 0 or step == t.steps:
            line = {"step": step, **{k: v / n_summed for k, v in sums.items()}}
            line.update(**method.status(), **monitor(method))
            line["time"] = time.perf_counter() - started
            if any(isinstance(v, float) and not math.isfinite(v) for v in line.values()):
                bar.close()
                raise GanguardError(f"training diverged at step {step}: {line}")
            _append_metrics(metrics_path, line)
            bar.set_postfix({k: f"{line[k]:.3g}" for k in ("loss_d", "loss_g", "O") if k in line})
            sums, n_summed = {}, 0
        if step % t.checkpoint_every == 0 or step == t.steps:
            state = {
                "shape": list(ds.shape),
                "n_classes": method.n_classes,
                "method": method_state(method),
                "global_rng": global_rng_state(),
            }
            save_checkpoint(out, step, state, keep=t.keep_checkpoints)
        bar.update(1)
    bar.close()
    if resume:
        write_atomic(out / "config.yaml", dump_config(config))

    from ganguard.report import save_sample_grid

    save_sample_grid(method, out / "samples.png", seed=config.seed)
    return Run(out, config, split, method, step)


def load_run(run_dir: str | Path, step: int | None = None) -> Run:
    """Open a trained run for sampling or auditing: its config, split and last weights (or the
    weights of the checkpoint at `step`, when kept: see train.keep_checkpoints)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise GanguardError(f"{run_dir} is not a run directory (no config.yaml)")
    config = read_run_config(run_dir)
    split = load_split(run_dir / "split.json")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise GanguardError(f"{run_dir} has no checkpoint yet")
    if step is not None:
        kept = {checkpoint_step(d): d for d in checkpoint_dirs(run_dir)}
        if step not in kept:
            raise GanguardError(
                f"{run_dir} has no checkpoint at step {step} (kept: {sorted(kept)})"
            )
        checkpoint = kept[step]
    step, state = load_checkpoint(checkpoint)
    shape = tuple(state["shape"]) if "shape" in state else None
    if shape is None:
        raise GanguardError(f"checkpoint {checkpoint} does not record the data shape")
    method = build_method(config, shape, int(state.get("n_classes", 0)))
    load_method_state(method, state["method"], weights_only=True)
    return Run(run_dir, config, split, method, step)
