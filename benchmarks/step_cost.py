"""Cost of one training step of every method, as a ratio to the GAN's step.

    python benchmarks/step_cost.py [--steps 160] [--warmup 10] [--config configs/demo.yaml]
                                   [--batches 64,256] [--devices cpu,cuda]
    python benchmarks/step_cost.py --flops-only   # the arithmetic alone, into the saved JSON

Every method runs on the same networks and batch (the config's, with spectral normalisation off,
since Opacus cannot train a spectrally normalised discriminator) and on the same mnist-5k split;
the figure is the median over blocks of 16 consecutive steps of the wall time per step, `steps`
steps after `warmup` steps, at each batch size and on each device (blocks rather than single
steps: a term that ran on every k-th step only would be charged in full, not hidden by the
median).
Targets: MEGAN ≤ 1.25x, MIMGAN ≤ 1.5x, DP-GAN ≤ 4x at batch 64, PAR-GAN and PrivGAN as their
extra networks imply. Beside the times, each step's arithmetic at the first batch: the
floating-point operations of its matrix products (forward and backward; torch's
FlopCounterMode, which counts mm / addmm / bmm / convolutions and nothing elementwise), the same
on any device and however loaded the machine is. Prints a table and saves it as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from ganguard.config import config_from_dict, load_config
from ganguard.runs import build_method
from ganguard.train import TrainingData, split_data

# row -> (method, options): each method at its defaults (DP-GAN at σ = 1), MEGAN with its
# critic on the step's own batch (the default before 256), which shows what the larger one costs,
# and DP-GAN with per-sample clipping (the default before ghost clipping)
ROWS: dict[str, tuple[str, dict]] = {
    "gan": ("gan", {}),
    "megan": ("megan", {}),
    "megan-step-batch": ("megan", {"critic_batch": None}),
    "mimgan": ("mimgan", {}),
    "dpgan": ("dpgan", {"noise_multiplier": 1.0}),  # ghost clipping, the default
    "dpgan-per-sample": ("dpgan", {"noise_multiplier": 1.0, "clipping": "per_sample"}),
    "privgan": ("privgan", {}),
    "pargan": ("pargan", {}),
}


def prepared(config, data: TrainingData, warmup: int):  # noqa: ANN001, ANN201
    method = build_method(config, data.shape)
    method.attach_data(data.members, data.reference)
    for _ in range(warmup):
        method.step()
    return method


def flops_per_step(methods: dict, steps: int = 16) -> dict[str, float]:
    """Each method's floating-point operations per step, over `steps` consecutive steps (so that
    a term run on every k-th step, k dividing `steps`, is counted in full)."""
    from torch.utils.flop_counter import FlopCounterMode

    flops = {}
    for name, method in methods.items():
        with FlopCounterMode(display=False) as counter:
            for _ in range(steps):
                method.step()
        flops[name] = counter.get_total_flops() / steps
    return flops


def interleaved_medians(methods: dict, steps: int, block: int = 16) -> dict[str, float]:
    """Median over blocks of `block` consecutive steps of the seconds per step, the methods taking
    turns block by block so that drift in the machine's speed (other work, frequency changes) is
    shared rather than charged to whichever ran last. Blocks, not single steps: a term that ran
    on every k-th step (k dividing `block`) would then be charged in full, where the median of
    single steps would be a step without it."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(max(1, steps // block)):
        for name, method in methods.items():
            started = time.perf_counter()
            for _ in range(block):
                method.step()
            times[name].append((time.perf_counter() - started) / block)
    return {name: statistics.median(t) for name, t in times.items()}


DP_ROWS = ("gan", "dpgan", "dpgan-per-sample")  # measured again at the larger batches


def methods_of(base, data, rows: list[str], device: str, warmup: int) -> dict:  # noqa: ANN001
    methods = {}
    for row in rows:
        name, options = ROWS[row]
        config = config_from_dict({**base.to_dict(), "method": {"name": name, **options},
                                   "device": device})  # fmt: skip
        methods[row] = prepared(config, data, warmup)
    return methods


def measure(base, data, rows: list[str], device: str, steps: int, warmup: int) -> dict[str, float]:  # noqa: ANN001
    return interleaved_medians(methods_of(base, data, rows, device, warmup), steps)


def arithmetic(config: str, batch: int, warmup: int) -> dict:
    """The `flops` entry of the JSON: every row's operations per step at `batch`, on the CPU."""
    base = load_config(config, ["model.spectral_norm=false", "train.progress=false",
                                f"train.batch_size={batch}"])  # fmt: skip
    data, _ = split_data(base)
    flops = flops_per_step(methods_of(base, data, list(ROWS), "cpu", warmup))
    print(f"{'method':<18}{'MFLOP/step':>12}{'x GAN':>8}   (batch {batch}, matrix products)")
    for name, f in flops.items():
        print(f"{name:<18}{f / 1e6:>12.1f}{f / flops['gan']:>8.2f}")
    return {"batch": batch, "per_step": flops,
            "ratio_to_gan": {k: v / flops["gan"] for k, v in flops.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(Path(__file__).parents[1] / "configs/demo.yaml"))
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batches", default="64,256",
                        help="batch sizes; the first for every method, the others for the GAN "
                             "and DP-GAN (DP-SGD gains from larger batches)")  # fmt: skip
    parser.add_argument("--devices", help="comma-separated (default: cpu, and cuda when present)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--flops-only", action="store_true",
                        help="count the operations only, into the saved JSON's `flops` entry "
                             "(its timings kept)")  # fmt: skip
    args = parser.parse_args()
    out = Path(args.out)
    batches = [int(b) for b in args.batches.split(",")]
    if args.flops_only:
        saved = out / "step_cost.json"
        figures = json.loads(saved.read_text()) if saved.exists() else {}
        figures["flops"] = arithmetic(args.config, batches[0], args.warmup)
        out.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"saved {saved}")
        return

    devices = args.devices.split(",") if args.devices else \
        ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]  # fmt: skip
    figures: dict = {"config": args.config, "steps": args.steps, "warmup": args.warmup,
                     "threads": torch.get_num_threads(), "devices": {},
                     "options": {row: {"name": name, **options}
                                 for row, (name, options) in ROWS.items()}}  # fmt: skip
    for device in devices:
        where = torch.cuda.get_device_name() if device.startswith("cuda") else \
            f"CPU, {torch.get_num_threads()} threads"  # fmt: skip
        per_batch = {}
        for i, batch in enumerate(batches):
            base = load_config(args.config, ["model.spectral_norm=false", "train.progress=false",
                                             f"train.batch_size={batch}"])  # fmt: skip
            data, _ = split_data(base)
            rows = measure(base, data, list(ROWS) if i == 0 else list(DP_ROWS), device,
                           args.steps, args.warmup)  # fmt: skip
            gan = rows["gan"]
            print(f"{'method':<18}{'ms/step':>10}{'x GAN':>8}   (batch {batch}, "
                  f"{base.model.arch} networks, {device}: {where})")  # fmt: skip
            for name, seconds in rows.items():
                print(f"{name:<18}{seconds * 1000:>10.2f}{seconds / gan:>8.2f}")
            ratios = {k: v / gan for k, v in rows.items()}
            per_batch[str(batch)] = {"seconds_per_step": rows, "ratio_to_gan": ratios}
        figures["devices"][device] = {"name": where, "batches": per_batch}
    first = figures["devices"][devices[0]]["batches"][str(batches[0])]
    figures["seconds_per_step"], figures["ratio_to_gan"] = first["seconds_per_step"], \
        first["ratio_to_gan"]  # the headline: the first device at the first batch  # fmt: skip
    figures["flops"] = arithmetic(args.config, batches[0], args.warmup)
    out.mkdir(parents=True, exist_ok=True)
    (out / "step_cost.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out / 'step_cost.json'}")


if __name__ == "__main__":
    main()
