"""`ganguard demo`: a GAN and a MEGAN on the embedded mnist-5k, trained and compared."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from ganguard.config import Config, apply_overrides, config_from_dict
from ganguard.data import load_dataset
from ganguard.metrics import overfitting
from ganguard.train import Run, train

# --fast: a first look, same models, fewer steps and a smaller member set.
FAST = ["train.steps=1000", "train.log_every=250", "data.n_members=200", "data.n_holdout=200"]


def demo_configs(fast: bool = False) -> dict[str, Config]:
    """The demo's two runs: the shipped `demo.yaml` (a MEGAN) and its twin with the plain GAN."""
    import yaml

    raw = yaml.safe_load(resources.files("ganguard").joinpath("configs/demo.yaml").read_text())
    raw = apply_overrides(raw, FAST if fast else [])
    gan = config_from_dict({**raw, "method": {"name": "gan"}})
    return {"GAN": gan, "MEGAN": config_from_dict(raw)}


@dataclass
class Row:
    name: str
    steps: int
    seconds: float
    O: float  # noqa: E741
    O_null: float
    O_interval: tuple[float, float]
    auc: float


def white_box_row(name: str, run: Run) -> Row:
    """O and the white-box AUC of the discriminator's logit on all members vs all holdout."""
    ds = load_dataset(run.config.data.name, run.config.data.path)
    members = run.method.score(torch.from_numpy(ds.x[run.split.members])).numpy()
    holdout = run.method.score(torch.from_numpy(ds.x[run.split.holdout])).numpy()
    o = overfitting(members, holdout, seed=run.config.seed)
    labels = np.r_[np.ones(len(members)), np.zeros(len(holdout))]
    auc = float(roc_auc_score(labels, np.r_[members, holdout]))
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    seconds = json.loads(lines[-1])["time"] if lines else float("nan")
    return Row(name, run.step, seconds, o.O, o.O_null, (o.ci_low, o.ci_high), auc)


def format_table(rows: list[Row]) -> str:
    head = f"{'':<28}" + "".join(f"{r.name:>14}" for r in rows)
    lines = [head, "-" * len(head)]
    cells = {
        "steps": [f"{r.steps}" for r in rows],
        "training time (s)": [f"{r.seconds:.0f}" for r in rows],
        "overfitting O": [f"{r.O:.3f}" for r in rows],
        "  O 95% interval": [f"{r.O_interval[0]:.2f}-{r.O_interval[1]:.2f}" for r in rows],
        "  O_null (chance level)": [f"{r.O_null:.3f}" for r in rows],
        "white-box AUC (logan_wb)": [f"{r.auc:.3f}" for r in rows],
    }
    for label, values in cells.items():
        lines.append(f"{label:<28}" + "".join(f"{v:>14}" for v in values))
    return "\n".join(lines)


def run_demo(out: Path = Path("runs/demo"), fast: bool = False) -> list[Row]:
    out = Path(str(out) + "-fast") if fast and out == Path("runs/demo") else Path(out)
    configs = demo_configs(fast)
    some = next(iter(configs.values()))
    d = some.data
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    say(
        f"ganguard demo: a GAN and a MEGAN on {d.name}, {d.n_members} members, "
        f"{some.train.steps} steps each; runs in {out}/"
    )
    rows = []
    for name, config in configs.items():
        path = out / name.lower()
        resume = (path / "config.yaml").exists()  # a finished demo run is reused, not retrained
        m = config.method
        extra = ", ".join(f"{k}={getattr(m, k)}" for k in sorted(m.model_fields_set - {"name"}))
        say(f"[{name}] {'continuing' if resume else 'training'} {m.name} ({extra or 'plain'})")
        started = time.perf_counter()
        run = train(config, path, resume=resume, progress=True)
        say(f"[{name}] done in {time.perf_counter() - started:.0f} s; scoring members vs holdout")
        rows.append(white_box_row(name, run))
    print()
    print(format_table(rows))
    print(
        "\nO: Bhattacharyya overfitting of the discriminator's logit on members vs holdout "
        "(0 = indistinguishable);\nAUC: white-box membership attack with that logit "
        "(0.5 = chance). Lower is more private."
    )
    return rows
