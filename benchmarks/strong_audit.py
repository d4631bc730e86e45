"""The strong auditor where members leak, and its ε lower bounds beside DP-GAN's accountant.

Stage `leak`: the demo's networks (SPEC §3's MLP GAN, spectral normalisation in D) on few
mnist-5k members trained long, as a GAN and with MEGAN's and MIMGAN's defaults, each audited with
every attack (`all`: the default five and the strong set, with online shadow models trained with
the run's own recipe). Stage `dp`: a GAN and DP-GAN at ε = 1 and ε = 10 on the same networks
(without spectral normalisation, which Opacus cannot train) with canaries, audited with every
attack that needs no shadow model and with the one-run canary audit.

    python benchmarks/strong_audit.py --stage leak
    python benchmarks/strong_audit.py --stage dp

Runs are kept in --work (a run already trained, or a shadow set already made, is reused), the
figures saved to benchmarks/results/strong_audit_<stage>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
COMMON = ["data.n_members=200", "data.n_holdout=200", "data.n_reference=3000",
          "train.progress=false", "train.log_every=1000", "train.checkpoint_every=1000"]
NO_SN = "model.spectral_norm=false"
# name -> the overrides of configs/demo.yaml that make the setting
STAGES: dict[str, dict[str, list[str]]] = {
    "leak": {
        "gan": ["method={name: gan}"],
        "megan": [],  # the demo's MEGAN: fano, λ = 50, critic on D's features
        "mimgan": ["method={name: mimgan}"],
    },
    "dp": {
        "gan-nosn": ["method={name: gan}", NO_SN],
        "dpgan-eps10": ["method={name: dpgan, target_epsilon: 10}", NO_SN],
        "dpgan-eps1": ["method={name: dpgan, target_epsilon: 1}", NO_SN],
    },
}  # fmt: skip


def run_setting(name: str, overrides: list[str], work: Path, attacks: str,
                audit_options: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    from ganguard.audit import audit
    from ganguard.config import load_config
    from ganguard.runs import latest_checkpoint
    from ganguard.train import train

    config = load_config(ROOT / "configs" / "demo.yaml", COMMON + overrides)
    run_dir = work / name
    if latest_checkpoint(run_dir) is None or not (run_dir / "done").exists():
        train(config, run_dir, resume=(run_dir / "config.yaml").exists(), progress=False)
        (run_dir / "done").write_text("")
    # the training loop's own clock, logged with the last metrics line (also for a reused run)
    last = (run_dir / "metrics.jsonl").read_text().splitlines()[-1]
    trained = json.loads(last)["time"]
    result = audit(run_dir, attacks=attacks, plots=False, **audit_options)
    rows = []
    for attack, r in result.attacks.items():
        m = r.metrics
        eps = m["eps_lower_bound"] or {}
        rows.append({
            "setting": name, "attack": attack, "auc": m["auc"], "auc_ci": m["auc_ci"],
            "tpr_at_1pct_fpr": m["tpr_at_1pct_fpr"], "tpr_at_0.1pct_fpr": m["tpr_at_0.1pct_fpr"],
            "tpr_at_zero_fpr": tpr_at_zero_fpr(m["roc"]),
            "eps_lb": eps.get("value"),
            "eps_lb_counts": {k: v for k, v in eps.items() if k != "value"},
            "canary_eps_lb": (r.canaries or {}).get("value"),
            "canary_correct": (r.canaries or {}).get("correct"),
            "canary_guesses": (r.canaries or {}).get("guesses"),
            "seconds": r.seconds,
        })  # fmt: skip
    return {"setting": name, "overrides": overrides, "train_s": trained, "rows": rows,
            "skipped": result.skipped, "shadows": result.shadows, "delta": result.delta,
            "accountant": result.accountant, "members": config.data.n_members,
            "steps": config.train.steps}  # fmt: skip


def tpr_at_zero_fpr(roc: dict[str, list[float]]) -> float:
    """The share of members an attack finds before its first false positive: the strictest rate
    that a few hundred non-members resolve (TPR at 0.1% FPR needs 1 000)."""
    return max(t for f, t in zip(roc["fpr"], roc["tpr"], strict=True) if f == 0)


def markdown(figures: dict[str, Any]) -> str:
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    head = ["setting", "attack", "AUC", "TPR@1%FPR", "TPR@0.1%FPR", "TPR@0FPR", "ε_lb",
            "canary ε_lb (v/r)", "time s"]  # fmt: skip
    rows = []
    for s in figures["settings"]:
        for r in s["rows"]:
            canary = "–" if r["canary_eps_lb"] is None else \
                f"{number(r['canary_eps_lb'])} ({r['canary_correct']}/{r['canary_guesses']})"
            rows.append([s["setting"], r["attack"], number(r["auc"]), number(r["tpr_at_1pct_fpr"]),
                         number(r["tpr_at_0.1pct_fpr"]), number(r.get("tpr_at_zero_fpr")),
                         number(r["eps_lb"]), canary,
                         number(r["seconds"], 1)])  # fmt: skip
    lines = [f"# strong audit, stage {figures['stage']}", "", table(head, rows), ""]
    for s in figures["settings"]:
        acc = s["accountant"] or {}
        sh = s["shadows"]
        lines.append(
            f"- {s['setting']}: {s['members']} members, {s['steps']} steps, trained in "
            f"{s['train_s']:.0f} s; δ = {number(s['delta'], 3)}"
            + (f"; accountant ε = {number(acc['epsilon'], 3)}" if acc.get("epsilon") else "")
            + (f"; {sh['count']} {sh['mode']} shadows of {sh['steps']} steps ("
               + (f"trained in {sh['seconds']:.0f} s" if not sh["reused"] else
                  f"reused, trained in {sh['trained_s']:.0f} s" if sh.get("trained_s") else
                  "reused") + ")"
               if sh else "")
            + ("; skipped: " + ", ".join(s["skipped"]) if s["skipped"] else "")
            + f"; `{s['command']}` on {s['machine']}"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def machine() -> str:
    """The CPU's model, its core count, Python's and torch's versions, the GPU if any."""
    import torch

    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() \
            else []:  # fmt: skip
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=sorted(STAGES), required=True)
    parser.add_argument("--steps", type=int, help="training steps (default: leak 4000, dp 2000)")
    parser.add_argument("--shadows", type=int, default=16, help="online shadow models (leak)")
    parser.add_argument("--workers", type=int, default=2, help="shadows trained at a time")
    parser.add_argument("--canaries", type=int, default=100, help="canaries of the dp stage")
    parser.add_argument("--only", help="comma-separated settings of the stage (default: all)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ganguard-strong"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    steps = args.steps or {"leak": 4000, "dp": 2000}[args.stage]
    settings = STAGES[args.stage]
    if args.only:
        settings = {k: v for k, v in settings.items() if k in args.only.split(",")}
    work = Path(args.work) / args.stage
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"strong_audit_{args.stage}"
    # settings measured by earlier invocations (--only) are kept, a re-measured one replaced
    done = json.loads(Path(f"{stem}.json").read_text())["settings"] \
        if Path(f"{stem}.json").exists() else []  # fmt: skip
    figures: dict[str, Any] = {"stage": args.stage, "settings": done}
    for name, overrides in settings.items():
        overrides = [*overrides, f"train.steps={steps}"]
        command = f"python benchmarks/strong_audit.py --stage {args.stage} --only {name}"
        if args.steps:
            command += f" --steps {args.steps}"
        if args.stage == "leak":
            attacks = "all"
            options = {"shadows": {"count": args.shadows, "workers": args.workers}}
            command += f" --shadows {args.shadows} --workers {args.workers}"
        else:
            attacks = "default,dcr_ratio,gen_lra"
            overrides += [f"train.canaries={args.canaries}", "train.canary_source=crafted"]
            options = {"canaries": True}
            command += f" --canaries {args.canaries}"
        print(f"{name}: {' '.join(overrides)}", flush=True)
        measured = run_setting(name, overrides, work, attacks, options)
        measured.update(command=command, machine=machine())
        before = next((s for s in done if s["setting"] == name), None)
        sh, old = measured["shadows"], (before or {}).get("shadows")
        if sh and sh["reused"] and old:  # keep what training the reused shadows took
            sh["trained_s"] = old.get("trained_s", None if old["reused"] else old["seconds"])
        figures["settings"] = [s for s in figures["settings"] if s["setting"] != name]
        figures["settings"].append(measured)
        order = list(STAGES[args.stage])
        figures["settings"].sort(key=lambda s: order.index(s["setting"]))
        Path(f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
        Path(f"{stem}.md").write_text(markdown(figures))
        print(markdown(figures), flush=True)


if __name__ == "__main__":
    main()
