"""The training loop: data, method, then step / log / checkpoint until `train.steps`.

Every model ganguard trains goes through `train`: a run from a config (its data set split into
S, H, R and T), and the models the audit trains on arrays (the attacker GAN of `logan_bb`, the
reference GAN of the calibrated attacks), given as `TrainingData`. Everything a method does lives
in its `step`; this file only prepares the run directory, loops, logs and checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from ganguard.config import Config, config_from_dict, dump_config
from ganguard.data import load_dataset, load_run_data
from ganguard.data.dataset import records_not_in
from ganguard.data.split import (
    Split,
    add_canaries,
    canary_records,
    check_split,
    load_split,
    run_split,
    save_split,
)
from ganguard.errors import GanguardError
from ganguard.methods import Method
from ganguard.metrics.attack_metrics import attack_metrics, white_box_scores
from ganguard.plotting import save_sample_grid
from ganguard.runs import (
    RECORDS,
    Run,
    build_method,
    global_rng_state,
    latest_checkpoint,
    load_checkpoint,
    load_method_state,
    method_state,
    read_json,
    save_checkpoint,
    seed_everything,
    set_global_rng_state,
    unresumable_changes,
    write_atomic,
    write_json,
)


# -- what a method trains on ---------------------------------------------------------------------
@dataclass
class TrainingData:
    """The members S and reference records R a method is given (with their labels when the run
    is conditional), and where they came from: a split of a data set, or arrays."""

    members: torch.Tensor
    reference: torch.Tensor
    member_labels: torch.Tensor | None = None
    reference_labels: torch.Tensor | None = None
    n_classes: int = 0
    split: Split | None = None  # None: arrays, identified by `fingerprint`
    monitor: Monitor | None = None  # fixed subsets of S and H scored at each log line
    layout: list | None = None  # a table's record blocks (TableCodec.layout), for G's heads

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.members.shape[1:])

    def fingerprint(self) -> str:
        """SHA-256 of the records S and R (for a run trained on arrays)."""
        digest = hashlib.sha256()
        for t in (self.members, self.reference):
            digest.update(np.ascontiguousarray(t.numpy()).tobytes())
        return f"sha256:{digest.hexdigest()}"


def split_data(config: Config) -> tuple[TrainingData, Any]:
    """A run's data: its data set split by `config.data` (S, H, R, T), and the data set."""
    d = config.data
    ds = load_run_data(d)
    split = run_split(ds, d)
    t = config.train
    split = add_canaries(split, t.canaries, t.canary_source, d.seed)
    conditional = config.model.conditional
    if conditional and split.canary_source == "crafted" and split.n_canaries:
        raise GanguardError("config key train.canary_source: crafted canaries carry no class "
                            "label, which a conditional run needs: use reference")  # fmt: skip
    labels = (lambda idx: torch.from_numpy(ds.y[idx]).long()) if ds.y is not None else None
    # the members trained on: S, and the canaries whose coin came up
    trained = split.canaries[split.canary_in] if split.canary_source == "reference" else []
    member_index = np.concatenate([split.members, trained]).astype(np.int64)
    canaries = canary_records(split, ds)[split.canary_in]
    data = TrainingData(
        members=torch.from_numpy(np.concatenate([ds.x[split.members], canaries])),
        reference=torch.from_numpy(ds.x[split.reference]),
        member_labels=labels(member_index) if labels and conditional else None,
        reference_labels=labels(split.reference) if labels and conditional else None,
        n_classes=0 if ds.y is None else int(ds.y.max()) + 1,
        split=split,
        monitor=Monitor(ds, split, config.train.n_log, d.seed, conditional),
        layout=None if ds.codec is None else ds.codec.layout,
    )
    return data, ds


def array_data(members: np.ndarray, reference: np.ndarray | None = None,
               layout: list | None = None) -> TrainingData:  # fmt: skip
    """Training data from arrays of records (no labels, no holdout to monitor); `layout`: the
    blocks of a table's encoded records (a run's own, for models made with its recipe)."""
    x = torch.from_numpy(np.ascontiguousarray(members, dtype=np.float32))
    r = np.empty((0, *x.shape[1:]), np.float32) if reference is None else reference
    return TrainingData(x, torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32)),
                        layout=layout)  # fmt: skip


class Monitor:
    """Scores fixed subsets of S and H with the discriminator at each log line: mean D(x), and
    the white-box attack's AUC and Bhattacharyya O, O_null (the audit's metrics)."""

    def __init__(self, ds: Any, split: Split, n: int, seed: int, labelled: bool):
        rng = np.random.default_rng(seed)  # fixed subsets, independent of training randomness
        pick = lambda idx: np.sort(rng.permutation(idx)[: min(n, len(idx))])  # noqa: E731
        members, holdout = pick(split.members), pick(split.holdout)
        self.members = torch.from_numpy(ds.x[members])
        self.holdout = torch.from_numpy(ds.x[holdout])
        # a conditional run's d(x, y) is scored with each record's own label
        labelled = labelled and ds.y is not None  # (without labels the method refuses the run)
        as_labels = lambda idx: torch.from_numpy(ds.y[idx]).long() if labelled else None  # noqa: E731
        self.member_labels, self.holdout_labels = as_labels(members), as_labels(holdout)

    def __call__(self, method: Method) -> dict[str, float]:
        if len(self.holdout) < 2:
            return {}
        s_mem, _ = white_box_scores(method.score(self.members, self.member_labels).numpy())
        s_hold, _ = white_box_scores(method.score(self.holdout, self.holdout_labels).numpy())
        if not (np.isfinite(s_mem).all() and np.isfinite(s_hold).all()):
            return {"d_members": math.nan, "d_holdout": math.nan}  # the trainer reports divergence
        m = attack_metrics(s_mem, s_hold, n_boot=0)
        sigmoid = lambda s: float(torch.sigmoid(torch.from_numpy(s)).mean())  # noqa: E731
        return {
            "d_members": sigmoid(s_mem),
            "d_holdout": sigmoid(s_hold),
            "O": m["bhattacharyya"]["O"],
            "O_null": m["bhattacharyya"]["O_null"],
            "auc_wb": m["auc"],
        }


# -- pre-training on a public collection (train.pretrain_on) --------------------------------------
PRETRAIN = "pretrain"  # the pre-training's own run directory, inside the run's


def pretraining_data(config: Config, data: TrainingData, ds: Any) -> TrainingData | None:
    """The records `train.pretrain_on` gives the pre-training: every record of that data set
    that is not a record of the private data set (the run's whole data set; for a run on
    arrays, its S and R), with their labels when the run is conditional. A table's are encoded
    by the run's own encoding (so G's heads fit them). None without it."""
    t = config.train
    if t.pretrain_on is None:
        return None
    table = ds is not None and ds.is_table
    if table:  # read with the run's column kinds, compared and encoded as the run's records
        public = load_dataset(t.pretrain_on, t.pretrain_path, config.data.columns,
                              config.data.target)  # fmt: skip
        if not public.is_table or public.schema.to_json() != ds.schema.to_json():
            raise GanguardError(
                f"config key train.pretrain_on: {public.name} is not a table with the columns "
                f"and labels of {ds.name}: pre-training needs records of the same kind"
            )
        keep = records_not_in(public.x[:, 0, 0], ds.canonical)
    else:
        public = load_dataset(t.pretrain_on, t.pretrain_path)
        if public.shape != data.shape:
            raise GanguardError(
                f"config key train.pretrain_on: {public.name} has records of shape "
                f"{public.shape}, the run's are {data.shape}: pre-training needs records of the "
                "same kind"
            )
        private = ds.x if ds is not None else torch.cat([data.members, data.reference]).numpy()
        keep = records_not_in(public.x, private)
    if len(keep) == 0:
        raise GanguardError(
            f"config key train.pretrain_on: every record of {public.name} is in the private "
            "data set; pre-train on a public collection beside it"
        )
    labels = None
    if config.model.conditional:
        if public.y is None or data.n_classes == 0:
            raise GanguardError(
                f"config key train.pretrain_on: {public.name} has no class labels, which a "
                "conditional run's pre-training needs"
            )
        labels = torch.from_numpy(public.y[keep]).long()
        if int(labels.max()) >= data.n_classes:
            raise GanguardError(
                f"config key train.pretrain_on: {public.name} has class labels up to "
                f"{int(labels.max())}, the run's data set {data.n_classes - 1}"
            )
    records = ds.codec.encode(public.x[keep, 0, 0])[:, None, None, :] if table else public.x[keep]
    x = torch.from_numpy(np.ascontiguousarray(records, dtype=np.float32))
    return TrainingData(x, torch.empty(0, *x.shape[1:]), labels,
                        None if labels is None else torch.empty(0, dtype=torch.long),
                        n_classes=data.n_classes, layout=data.layout)  # fmt: skip


def pretrain(method: Method, config: Config, public: TrainingData, out: Path | None,
             progress: bool | None) -> None:  # fmt: skip
    """Train the run's networks as the GAN on `public` for `train.pretrain_steps` steps (into
    `out`, resumed there if begun), then start `method` from the weights."""
    raw = config.to_dict()
    raw["method"] = {"name": "gan"}
    raw["train"].update(steps=config.train.pretrain_steps, pretrain_on=None, pretrain_path=None,
                        canaries=0)  # fmt: skip
    begun = out is not None and (out / "config.yaml").exists()
    gan = train(config_from_dict(raw), out, resume=begun, progress=progress, data=public)
    method.start_from(gan.method)


# -- the run directory ---------------------------------------------------------------------------
def refuse_existing_run(out: Path, has_run: bool) -> None:
    """A new run never writes into a directory that holds one."""
    if has_run:
        raise GanguardError(
            f"{out} already holds a run: pass --resume to continue it, or choose another --out"
        )


def _prepare_run_dir(out: Path, config: Config, data: TrainingData, ds: Any, resume: bool) -> None:
    """Create a new run directory, or check that an existing one is this run (for --resume)."""
    if out.exists() and not out.is_dir():
        raise GanguardError(f"--out {out} is a file, not a run directory")
    has_run = (out / "config.yaml").exists() or (out / "split.json").exists()
    if not resume:
        refuse_existing_run(out, has_run)
        out.mkdir(parents=True, exist_ok=True)
        if data.split is not None:
            save_split(data.split, out / "split.json")
            if ds is not None and ds.codec is not None:
                ds.codec.save(out)  # to decode samples into the table's columns
        else:
            write_json(out / RECORDS, {"fingerprint": data.fingerprint()})
        write_atomic(out / "config.yaml", dump_config(config))
        return
    if not has_run:
        raise GanguardError(f"--resume: {out} holds no run (no config.yaml)")
    if data.split is not None:
        check_split(load_split(out / "split.json"), ds)  # refuses a directory made from other data
    elif read_json(out / RECORDS).get("fingerprint") != data.fingerprint():
        raise GanguardError(f"--resume: {out} was trained on other records")
    changed = unresumable_changes(out, config)
    if changed:
        raise GanguardError(
            f"--resume: config key {changed[0]} differs from the run in {out}; "
            "only train.steps and the logging/checkpoint intervals may change"
        )
    # config.yaml is rewritten only once the resumed training has finished (see train()), so a
    # resume that a method refuses (e.g. DP-GAN past its budget) leaves the run as it was


def _append_metrics(path: Path, line: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(line) + "\n")


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop lines logged after the checkpoint we continue from."""
    if not path.exists():
        return
    keep = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
    write_atomic(path, "".join(k + "\n" for k in keep))


def _table_run(config: Config, frame: pd.DataFrame, out: str | Path | None,
               resume: bool) -> Config:  # fmt: skip
    """A run on a DataFrame: the table is kept in the run directory (RUN_DIR/table.parquet, so
    that the audit, evaluation and a resume read the same records) and the config names it."""
    from ganguard.data.table_sources import table_dataset
    from ganguard.data.tabular import as_frame, write_table

    if out is None:
        raise GanguardError("training on a DataFrame needs a run directory (out)")
    frame = as_frame(frame, "training")  # its column names as text, as a file's would be
    path = (Path(out) / "table.parquet").resolve()
    raw = config.to_dict()
    raw["data"].update(name="csv", path=str(path))
    config = config_from_dict(raw)
    d = config.data
    run_split(table_dataset("csv", frame, d.columns, d.target), d)  # bad input: nothing written
    if not resume:
        refuse_existing_run(out, (Path(out) / "config.yaml").exists())
        Path(out).mkdir(parents=True, exist_ok=True)
        write_table(frame, path)
    return config


# -- the loop --------------------------------------------------------------------------------------
def train(
    config: Config | dict,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
    data: TrainingData | pd.DataFrame | None = None,
) -> Run:
    """Train `config` into the run directory `out` (continuing its last checkpoint if `resume`).

    The data are the split of `config.data`'s data set, unless `data` gives them (then
    `config.data` is not read), or unless `data` is a table (a DataFrame: kept in the run
    directory as `table.parquet`, split and encoded as `config.data` says). Without `out`
    nothing is written: the trained method is returned.
    """
    config = config if isinstance(config, Config) else config_from_dict(config)
    if isinstance(data, pd.DataFrame):
        config, data = _table_run(config, data, out, resume), None
    ds = None
    if data is None:
        data, ds = split_data(config)
    public = pretraining_data(config, data, ds)  # before anything is written: it may refuse
    method = build_method(config, data.shape, data.n_classes, layout=data.layout)
    method.attach_data(data.members, data.reference, data.member_labels, data.reference_labels)
    out = None if out is None else Path(out)
    if out is not None:
        _prepare_run_dir(out, config, data, ds, resume)
    t = config.train

    seed_everything(config.seed)
    step, seconds_before = 0, 0.0  # training seconds of earlier invocations (a resumed run)
    checkpoint = latest_checkpoint(out) if out is not None and resume else None
    if checkpoint is not None:
        step, state = load_checkpoint(checkpoint)
        seconds_before = float(state.get("seconds", 0.0))  # (absent from older checkpoints)
        load_method_state(method, state["method"])
        set_global_rng_state(state["global_rng"])
    elif public is not None:
        pretrain(method, config, public, None if out is None else out / PRETRAIN, progress)
        seed_everything(config.seed)  # the run itself starts as it would without
    metrics_path = None if out is None else out / "metrics.jsonl"
    if metrics_path is not None and resume:
        _truncate_metrics(metrics_path, step)
    elif metrics_path is not None and metrics_path.exists():
        metrics_path.unlink()

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
            line.update(**method.status(), **(data.monitor(method) if data.monitor else {}))
            line["time"] = seconds_before + time.perf_counter() - started
            if any(isinstance(v, float) and not math.isfinite(v) for v in line.values()):
                bar.close()
                raise GanguardError(f"training diverged at step {step}: {line}")
            if metrics_path is not None:
                _append_metrics(metrics_path, line)
            bar.set_postfix({k: f"{line[k]:.3g}" for k in ("loss_d", "loss_g", "O") if k in line})
            sums, n_summed = {}, 0
        if out is not None and (step % t.checkpoint_every == 0 or step == t.steps):
            state = {
                "shape": list(data.shape),
                "n_classes": method.n_classes,
                "layout": method.layout,
                "method": method_state(method),
                "global_rng": global_rng_state(),
                "seconds": seconds_before + time.perf_counter() - started,
            }
            save_checkpoint(out, step, state, keep=t.keep_checkpoints)
        bar.update(1)
    bar.close()
    if out is not None:
        if resume:
            write_atomic(out / "config.yaml", dump_config(config))
        if method.layout is None:  # a table's samples are shown decoded (ganguard report)
            save_sample_grid(method, out / "samples.png", seed=config.seed)
    return Run(out, config, data.split, method, step)
