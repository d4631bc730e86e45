"""`ganguard demo`: a GAN and a MEGAN on the embedded mnist-5k (or, `--data adult`, on the
embedded UCI Adult table), trained and compared."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ganguard.attacks import DEFAULT_ATTACKS
from ganguard.audit import AuditResult, audit
from ganguard.config import Config, apply_overrides, config_from_dict
from ganguard.devices import resolve_device
from ganguard.errors import GanguardError
from ganguard.evaluate import TABLE_KEYS, UtilityResult, evaluate
from ganguard.report import write_report
from ganguard.runs import Run, unresumable_changes
from ganguard.tables import number, text
from ganguard.train import train

# --fast: a first look, same models, fewer steps and a smaller member set.
FAST = ["train.steps=800", "train.log_every=200", "data.n_members=200", "data.n_holdout=200"]
# --fast: a lighter audit too (fewer generated samples, a shorter attacker GAN)
FAST_AUDIT = {"k": 2000, "settings": {"logan_bb": {"steps": 100}}}


DEMO_CONFIGS = {"mnist-5k": "configs/demo.yaml", "adult": "configs/demo-adult.yaml"}


def demo_configs(fast: bool = False, data: str = "mnist-5k") -> dict[str, Config]:
    """The demo's two runs: the shipped `demo.yaml` (a MEGAN; `demo-adult.yaml` for the table)
    and its twin with the plain GAN."""
    import yaml

    if data not in DEMO_CONFIGS:
        raise GanguardError(f"--data {data}: the demo runs on {' or '.join(DEMO_CONFIGS)}")
    text_ = resources.files("ganguard").joinpath(DEMO_CONFIGS[data]).read_text()
    raw = yaml.safe_load(text_)
    raw = apply_overrides(raw, FAST if fast else [])
    gan = config_from_dict({**raw, "method": {"name": "gan"}})
    return {"GAN": gan, "MEGAN": config_from_dict(raw)}


@dataclass
class Row:
    name: str
    steps: int
    train_seconds: float
    audit: AuditResult
    utility: UtilityResult


def demo_row(name: str, run: Run, fast: bool = False, device: str = "auto") -> Row:
    """Audit a demo run with the default attacks (members vs holdout, all of each)."""
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    seconds = json.loads(lines[-1])["time"] if lines else float("nan")
    result = audit(run.path, device=device, **(FAST_AUDIT if fast else {}))
    # no Inception-v3 FID, even where its package is installed: minutes on a CPU
    return Row(name, run.step, seconds, result,
               evaluate(run.path, inception=False, device=device))  # fmt: skip


def format_table(rows: list[Row]) -> str:
    """The demo's table: one column per run, one line per figure."""
    wb = [r.audit.attacks["logan_wb"].metrics["bhattacharyya"] for r in rows]
    lines: list[list[object]] = [
        ["steps", *(str(r.steps) for r in rows)],
        ["training time (s)", *(number(r.train_seconds, 0) for r in rows)],
        ["audit time (s)", *(number(sum(a.seconds for a in r.audit.attacks.values()), 0)
                             for r in rows)],
        ["overfitting O of d(x)", *(b["O"] for b in wb)],
        ["  95% interval", *(f"{b['ci_low']:.2f}-{b['ci_high']:.2f}" for b in wb)],
        ["  O_null (chance level)", *(b["O_null"] for b in wb)],
    ]  # fmt: skip
    if rows[0].utility.table is None:
        lines += [["FID (lower is better)", *(number(r.utility.generated["fid"], 1) for r in rows)],
                  ["  floor, real vs real", *(number(r.utility.floor["fid"], 1) for r in rows)]]
    else:
        lines += [[label.split(" (")[0], *(number(r.utility.generated[key]) for r in rows)]
                  for key, label in TABLE_KEYS.items()]
        lines.append(["  train-on-real AUC", *(number(r.utility.table["generated"]["trtr_auc"])
                                               for r in rows)])
    lines.append(["AUC (0.5 = chance)", *("" for _ in rows)])  # fmt: skip
    names = list(rows[0].audit.attacks)
    lines += [[f"  {n}", *(r.audit.attacks[n].metrics["auc"] for r in rows)] for n in names]
    lines.append(["TPR at 1% FPR (0.01 = chance)", *("" for _ in rows)])
    lines += [[f"  {n}", *(r.audit.attacks[n].metrics["tpr_at_1pct_fpr"] for r in rows)]
              for n in names]  # fmt: skip
    return text(["", *(r.name for r in rows)], lines)


def run_demo(out: Path = Path("runs/demo"), fast: bool = False, device: str = "auto",
             data: str = "mnist-5k") -> list[Row]:  # fmt: skip
    if out == Path("runs/demo"):
        out = Path(f"runs/demo{'' if data == 'mnist-5k' else '-' + data}{'-fast' if fast else ''}")
    resolve_device(device)  # a device that is not here: refused before anything is written
    configs = {name: c.model_copy(update={"device": device})
               for name, c in demo_configs(fast, data).items()}  # fmt: skip
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
        changed = unresumable_changes(path, config) if resume else []
        if changed:  # e.g. made by an older ganguard whose defaults differed
            raise GanguardError(
                f"{path} holds a demo run made with other settings ({changed[0]}): "
                "delete that folder or pass --out DIR"
            )
        m = config.method
        extra = ", ".join(f"{k}={getattr(m, k)}" for k in sorted(m.model_fields_set - {"name"}))
        say(f"[{name}] {'continuing' if resume else 'training'} {m.name} ({extra or 'plain'})")
        started = time.perf_counter()
        run = train(config, path, resume=resume, progress=True)
        say(
            f"[{name}] trained in {time.perf_counter() - started:.0f} s; auditing it with "
            f"{', '.join(DEFAULT_ATTACKS)}, then measuring sample quality"
        )
        rows.append(demo_row(name, run, fast, device))
    print()
    print(format_table(rows))
    print(
        f"\n{rows[0].audit.n_members} members vs {rows[0].audit.n_nonmembers} holdout records. "
        "O: Bhattacharyya overfitting of the discriminator's logit (0 = indistinguishable).\n"
        "Lower is more private. Full results: audit.json, audit_roc.png and audit_scores.png in "
        f"{out}/gan and {out}/megan."
    )
    say("writing the report")
    report = write_report(
        [out / row.name.lower() for row in rows],
        out / "report.html",
        n_samples=2000 if fast else 5000,
    )
    print(f"\nreport: {report} (summary: {report.with_suffix('.md')})")
    return rows
