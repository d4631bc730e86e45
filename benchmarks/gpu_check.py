"""The GPU check: every method trained, audited and evaluated on CUDA, and a CPU run of the same
seed beside a GPU run, compared against the stated tolerance (SPEC §11).

    python benchmarks/gpu_check.py [--steps 300] [--shadows 16] [--out benchmarks/results]

Each method trains `steps` steps on the demo's networks (configs/demo.yaml, 500 mnist-5k members;
DP-GAN without spectral normalisation, at ε = 10) on CUDA, is audited with the default set (and
the GAN with the strong set too: its shadow models on the GPU) and evaluated; the table gives
the step time, the audit's and the evaluation's seconds and the headline figures. Then the GAN is
trained on the CPU and on the GPU from the same seed and compared:

- after one step, every weight agrees within `--weight-tolerance` (default 1e-4, absolute): the
  two devices round differently, the computation is the same;
- after `steps` steps the runs have drifted apart as any two float computations of a GAN do,
  so what must agree is what is measured: the white-box AUC within `--auc-tolerance` (0.05) and
  the FID within `--fid-tolerance` (20%, relative).

The figures are saved to benchmarks/results/gpu_check.json. `--device cpu` runs the same check
with the CPU in the GPU's place (a test of the script; both sides then agree exactly).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).parents[1]
COMMON = ["data.n_members=500", "data.n_holdout=500", "data.n_reference=2000", "data.n_test=1000",
          "train.progress=false", "train.log_every=100"]  # fmt: skip
METHODS: dict[str, list[str]] = {
    "gan": ["method={name: gan}"],
    "megan": [],  # the demo's MEGAN
    "mimgan": ["method={name: mimgan}"],
    "dpgan": ["method={name: dpgan, target_epsilon: 10}", "model.spectral_norm=false"],
    "privgan": ["method={name: privgan}"],
    "pargan": ["method={name: pargan}"],
}


def config_for(method: str, steps: int, device: str, seed: int = 0):  # noqa: ANN201
    from ganguard.config import load_config

    overrides = [*COMMON, *METHODS[method], f"train.steps={steps}",
                 f"train.checkpoint_every={steps}", f"device={device}", f"seed={seed}"]  # fmt: skip
    return load_config(ROOT / "configs" / "demo.yaml", overrides)


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def method_row(method: str, steps: int, device: str, work: Path, shadows: int,
               tag: str = "") -> dict[str, Any]:  # fmt: skip
    """Train, audit and evaluate one method on `device`; its times and figures."""
    from ganguard.audit import audit
    from ganguard.evaluate import evaluate
    from ganguard.train import train

    run_dir = work / f"{method}-{device.replace(':', '')}{tag}"
    started = time.perf_counter()
    train(config_for(method, steps, device), run_dir)
    synchronize(device)
    trained = time.perf_counter() - started
    # the loop's own clock (logged with the last line): the step time without loading the data
    loop = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["time"]
    row: dict[str, Any] = {"method": method, "device": device, "steps": steps,
                           "train_s": round(trained, 2),
                           "ms_per_step": round(1000 * loop / steps, 2)}  # fmt: skip
    started = time.perf_counter()
    result = audit(run_dir, plots=False, device=device)
    row["audit_default_s"] = round(time.perf_counter() - started, 2)
    best = result.best()
    row["best_attack"], row["best_auc"] = best.name, best.metrics["auc"]
    if method == "gan" and shadows:
        started = time.perf_counter()
        strong = audit(run_dir, attacks="strong", plots=False, device=device,
                       out=run_dir / "audit_strong.json",
                       shadows={"count": shadows})  # fmt: skip
        row["audit_strong_s"] = round(time.perf_counter() - started, 2)
        row["strong"] = {name: {"auc": r.metrics["auc"], "tpr_at_1pct_fpr":
                                r.metrics["tpr_at_1pct_fpr"], "seconds": r.seconds}
                         for name, r in strong.attacks.items()}  # fmt: skip
        row["shadows"] = strong.shadows
    started = time.perf_counter()
    utility = evaluate(run_dir, inception=False, device=device)
    row["evaluate_s"] = round(time.perf_counter() - started, 2)
    row["fid"] = utility.generated["fid"]
    for key in ("auc", "tpr_at_1pct_fpr"):
        row[f"logan_wb_{key}"] = result.attacks["logan_wb"].metrics[key]
    print(f"  {method:8s} {device:7s} {row['ms_per_step']:7.2f} ms/step  audit "
          f"{row['audit_default_s']:6.1f} s  evaluate {row['evaluate_s']:5.1f} s  "
          f"best AUC {row['best_auc']:.3f} ({row['best_attack']})  FID {row['fid']:.1f}",
          flush=True)  # fmt: skip
    return row


def one_step_difference(device: str) -> float:
    """The largest absolute difference between any weight of the GAN after one step on the
    CPU and after the same step on `device` (same seed, same batch, same latents)."""
    from ganguard.runs import build_method
    from ganguard.train import split_data

    config = config_for("gan", 1, "cpu")
    data, _ = split_data(config)
    weights = []
    for where in ("cpu", device):
        method = build_method(config, data.shape, device=where)
        method.attach_data(data.members, data.reference)
        method.step()
        weights.append({f"{k}.{n}": p.detach().cpu() for k, m in method.modules.items()
                        for n, p in m.state_dict().items()})  # fmt: skip
    cpu, other = weights
    return max(float((cpu[k].double() - other[k].double()).abs().max()) for k in cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--shadows", type=int, default=16, help="shadows of the strong audit")
    parser.add_argument("--device", default="cuda", help="the device checked against the CPU")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--weight-tolerance", type=float, default=1e-4)
    parser.add_argument("--auc-tolerance", type=float, default=0.05)
    parser.add_argument("--fid-tolerance", type=float, default=0.20)
    parser.add_argument("--work", default=None, help="folder for the runs (default: a temporary)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    from ganguard.devices import describe_machine, resolve_device
    from ganguard.errors import GanguardError

    try:
        device = str(resolve_device(args.device))
    except GanguardError as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return 2
    work = Path(args.work or tempfile.mkdtemp(prefix="ganguard-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"gpu check on {describe_machine()}; runs in {work}", flush=True)
    started = time.perf_counter()
    rows = [method_row(m, args.steps, device, work, args.shadows)
            for m in args.methods.split(",")]  # fmt: skip

    print("CPU against the device, same seed:", flush=True)
    step_diff = one_step_difference(device)
    cpu_row = method_row("gan", args.steps, "cpu", work, 0, tag="-reference")
    dev_row = next(r for r in rows if r["method"] == "gan") if "gan" in args.methods.split(",") \
        else method_row("gan", args.steps, device, work, 0)  # fmt: skip
    auc_diff = abs(cpu_row["logan_wb_auc"] - dev_row["logan_wb_auc"])
    fid_diff = abs(cpu_row["fid"] - dev_row["fid"]) / cpu_row["fid"]
    agreement = {
        "one_step_max_weight_difference": step_diff,
        "logan_wb_auc_difference": auc_diff,
        "fid_relative_difference": fid_diff,
        "tolerance": {"weight": args.weight_tolerance, "auc": args.auc_tolerance,
                      "fid_relative": args.fid_tolerance},
        "within": bool(step_diff <= args.weight_tolerance and auc_diff <= args.auc_tolerance
                       and fid_diff <= args.fid_tolerance),
        "cpu_run": cpu_row,
    }  # fmt: skip
    print(f"  one step: max |Δw| = {step_diff:.2e} (≤ {args.weight_tolerance:g}); after "
          f"{args.steps} steps: |ΔAUC| = {auc_diff:.3f} (≤ {args.auc_tolerance:g}), FID "
          f"{cpu_row['fid']:.1f} vs {dev_row['fid']:.1f} ({100 * fid_diff:.0f}%, ≤ "
          f"{100 * args.fid_tolerance:.0f}%): {'within' if agreement['within'] else 'OUTSIDE'}"
          " the tolerance", flush=True)  # fmt: skip
    figures = {
        "command": "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:]),
        "machine": describe_machine(),
        "device": device,
        "seconds": round(time.perf_counter() - started, 1),
        "methods": rows,
        "cpu_vs_device": agreement,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "gpu_check.json" if device.startswith("cuda") else f"gpu_check_{device}.json"
    (out / name).write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out / name} ({figures['seconds']:.0f} s)")
    return 0 if agreement["within"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
