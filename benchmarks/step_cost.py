"""Cost of one training step of every method, as a ratio to the GAN's step (issue 4).

    python benchmarks/step_cost.py [--steps 60] [--warmup 10] [--config configs/demo.yaml]

Every method runs on the same networks and batch (the config's, with spectral normalisation off,
since Opacus cannot train a spectrally normalised discriminator) and on the same mnist-5k split;
the figure is the median wall time of `steps` steps after `warmup` steps. Targets: MEGAN ≤ 1.05x,
MIMGAN ≤ 1.6x (one critic step per generator step), PAR-GAN and PrivGAN as their extra networks
imply, DP-GAN as Opacus allows. Prints a table and saves it as JSON.
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

# row -> (method, options): each method at its defaults (DP-GAN at σ = 1), and MEGAN with its
# critic on the step's own batch (the default before 256), which shows what the larger one costs
ROWS: dict[str, tuple[str, dict]] = {
    "gan": ("gan", {}),
    "megan": ("megan", {}),
    "megan-step-batch": ("megan", {"critic_batch": None}),
    "mimgan": ("mimgan", {}),
    "dpgan": ("dpgan", {"noise_multiplier": 1.0}),
    "privgan": ("privgan", {}),
    "pargan": ("pargan", {}),
}


def prepared(config, data: TrainingData, warmup: int):  # noqa: ANN001, ANN201
    method = build_method(config, data.shape)
    method.attach_data(data.members, data.reference)
    for _ in range(warmup):
        method.step()
    return method


def interleaved_medians(methods: dict, steps: int, rounds: int = 5) -> dict[str, float]:
    """Median seconds per step, the methods taking turns so that drift in the machine's speed
    (other work, frequency changes) is shared rather than charged to whichever ran last."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    per_round = max(1, steps // rounds)
    for _ in range(rounds):
        for name, method in methods.items():
            for _ in range(per_round):
                started = time.perf_counter()
                method.step()
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(Path(__file__).parents[1] / "configs/demo.yaml"))
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()

    base = load_config(args.config, ["model.spectral_norm=false", "train.progress=false"])
    data, _ = split_data(base)
    methods = {}
    for row, (name, options) in ROWS.items():
        config = config_from_dict({**base.to_dict(), "method": {"name": name, **options}})
        methods[row] = prepared(config, data, args.warmup)
    rows = interleaved_medians(methods, args.steps)
    gan = rows["gan"]
    print(f"{'method':<18}{'ms/step':>10}{'x GAN':>8}   (batch {base.train.batch_size}, "
          f"{base.model.arch} networks, {torch.get_num_threads()} threads)")  # fmt: skip
    for name, seconds in rows.items():
        print(f"{name:<18}{seconds * 1000:>10.2f}{seconds / gan:>8.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "config": args.config,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "seconds_per_step": rows,
        "ratio_to_gan": {k: v / gan for k, v in rows.items()},
        "options": {row: {"name": name, **options} for row, (name, options) in ROWS.items()},
    }
    (out / "step_cost.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out / 'step_cost.json'}")


if __name__ == "__main__":
    main()
