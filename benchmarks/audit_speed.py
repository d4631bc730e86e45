"""Audit speed: the GAN-Leaks full-black-box distance step against the machine's matmul rate and
a plain `torch.cdist`, the whole default audit of an mnist-5k run with 1 000 members, and the
strong audit (the calibrated and shadow attacks, 16 online shadow models) of the demo's GAN.

    python benchmarks/audit_speed.py [--k 100000] [--candidates 2000] [--strong-steps 2000]
                                     [--shadow-steps N] [--workers 2] [--out benchmarks/results]

Prints a table and saves it as JSON. Targets: the fbb distance step within 1.2x of the time the
machine's matmul rate implies for its FLOPs; the default audit under 2 minutes and the strong
audit of a 500-member MLP run with 16 shadows under 10 minutes on 2 cores. `--strong-steps 0`
leaves the strong audit out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch


def timed(fn, repeats: int) -> float:  # noqa: ANN001
    """Median wall time of `fn()` over `repeats` runs, after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / timed(lambda: torch.mm(a, b), repeats) / 1e9


def fbb_distance(k: int, m: int, d: int, repeats: int) -> dict[str, float]:
    from ganguard.distances import nearest

    gen = torch.Generator().manual_seed(0)
    samples = torch.rand(k, d, generator=gen) * 2 - 1
    queries = torch.rand(m, d, generator=gen) * 2 - 1
    flops = 2 * k * m * d  # the v·x products dominate
    ours = timed(lambda: nearest(queries, samples), repeats)

    def plain() -> None:
        torch.cdist(queries, samples).min(dim=1)

    cdist = timed(plain, repeats)
    return {"flops": flops, "ours_s": ours, "cdist_s": cdist}


def default_audit(n_members: int) -> dict[str, float]:
    from ganguard.audit import audit
    from ganguard.config import load_config
    from ganguard.train import train

    config = load_config(
        Path(__file__).parents[1] / "configs" / "demo.yaml",
        [f"data.n_members={n_members}", "data.n_holdout=1000", "data.n_reference=2000",
         "data.n_test=1000", "train.steps=300", "train.progress=false"],
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        train(config, Path(tmp) / "run")
        started = time.perf_counter()
        result = audit(Path(tmp) / "run")
        total = time.perf_counter() - started
    per_attack = {name: r.seconds for name, r in result.attacks.items()}
    return {"total_s": total, **{f"{k}_s": v for k, v in per_attack.items()}}


def strong_audit(steps: int, shadow_steps: int | None, workers: int) -> dict[str, object]:
    """The demo's GAN (500 members, the MLP networks) trained `steps` steps, then audited with the
    strong set: 16 online shadows trained with its recipe (`shadow_steps` each), `workers` at a
    time."""
    from ganguard.audit import audit
    from ganguard.config import load_config
    from ganguard.train import train

    overrides = ["method={name: gan}", f"train.steps={steps}", "train.progress=false"]
    config = load_config(Path(__file__).parents[1] / "configs" / "demo.yaml", overrides)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        train(config, Path(tmp) / "run")
        trained = time.perf_counter() - started
        started = time.perf_counter()
        shadows = {"count": 16, "steps": shadow_steps, "workers": workers}
        result = audit(Path(tmp) / "run", attacks="strong", shadows=shadows, plots=False)
        total = time.perf_counter() - started
    return {"steps": steps, "train_s": trained, "total_s": total, "shadows": result.shadows,
            "per_attack_s": {n: r.seconds for n, r in result.attacks.items()},
            "auc": {n: r.metrics["auc"] for n, r in result.attacks.items()},
            "tpr_at_1pct_fpr": {n: r.metrics["tpr_at_1pct_fpr"] for n, r in result.attacks.items()},
            "workers": workers}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strong-steps", type=int, default=2000,
                        help="training steps of the strong audit's run (0: no strong audit)")
    parser.add_argument("--shadow-steps", type=int,
                        help="steps of each shadow (default: the run's)")
    parser.add_argument("--workers", type=int, default=2, help="shadows trained at a time")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    rate = matmul_rate()
    fbb = fbb_distance(args.k, args.candidates, 28 * 28, args.repeats)
    bound = fbb["flops"] / (rate * 1e9)  # seconds at the machine's matmul rate
    audit_times = default_audit(1000)
    figures = {
        "threads": torch.get_num_threads(),
        "matmul_gflops": rate,
        "fbb_k": args.k,
        "fbb_candidates": args.candidates,
        "fbb_gflop": fbb["flops"] / 1e9,
        "fbb_ours_s": fbb["ours_s"],
        "fbb_ours_gflops": fbb["flops"] / fbb["ours_s"] / 1e9,
        "fbb_cdist_s": fbb["cdist_s"],
        "fbb_cdist_gflops": fbb["flops"] / fbb["cdist_s"] / 1e9,
        "fbb_matmul_bound_s": bound,
        "fbb_ratio_to_matmul": fbb["ours_s"] / bound,
        "fbb_target_met": fbb["ours_s"] <= 1.2 * bound,
        "audit_default_s": audit_times["total_s"],
        "audit_target_met": audit_times["total_s"] < 120,
        "audit_per_attack_s": {k: v for k, v in audit_times.items() if k != "total_s"},
    }
    if args.strong_steps:
        strong = strong_audit(args.strong_steps, args.shadow_steps, args.workers)
        figures["strong"] = {**strong, "target_met": strong["total_s"] < 600}
    f = figures
    print(f"torch threads                      {f['threads']}")
    print(f"matmul 2048x2048                   {rate:8.1f} GFLOP/s")
    print(
        f"fbb distances: k={args.k} samples x {args.candidates} candidates x 784 "
        f"= {f['fbb_gflop']:.0f} GFLOP"
    )
    print(
        f"  ganguard distances.nearest      {f['fbb_ours_s']:8.2f} s "
        f"{f['fbb_ours_gflops']:6.1f} GFLOP/s = {f['fbb_ratio_to_matmul']:.2f}x the time "
        "at the matmul rate (target <= 1.2x)"
    )
    print(
        f"  torch.cdist + min                {f['fbb_cdist_s']:8.2f} s "
        f"{f['fbb_cdist_gflops']:6.1f} GFLOP/s"
    )
    print(
        f"default audit of an mnist-5k run, 1000 members vs 1000 holdout: "
        f"{f['audit_default_s']:.1f} s (target < 120 s)"
    )
    for name, seconds in f["audit_per_attack_s"].items():
        print(f"  {name:<32} {seconds:8.1f} s")
    if "strong" in f:
        st = f["strong"]
        print(f"strong audit of the demo's GAN ({st['steps']} steps, trained in "
              f"{st['train_s']:.0f} s): {st['total_s']:.0f} s (target < 600 s)")
        sh = st["shadows"]
        print(f"  {sh['count']} {sh['mode']} shadows of {sh['steps']} steps, {st['workers']} at a "
              f"time: {sh['seconds']:.0f} s")
        for name, seconds in st["per_attack_s"].items():
            print(f"  {name:<32} {seconds:8.1f} s   AUC {st['auc'][name]:.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit_speed.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out / 'audit_speed.json'}")


if __name__ == "__main__":
    main()
