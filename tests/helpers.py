"""Helpers shared by test modules (pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from ganguard.runs import latest_checkpoint

SHAPE = (1, 8, 8)  # digits


def method_state(run_dir: Path) -> dict[str, torch.Tensor]:
    """The method's part of the last checkpoint: networks, optimiser moments, random streams."""
    weights = load_file(str(latest_checkpoint(run_dir) / "weights.safetensors"))
    return {k: v for k, v in weights.items() if k.startswith("/method/")}


def metrics(run_dir: Path) -> list[dict]:
    """metrics.jsonl without the wall-clock `time`, which differs between identical runs."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(ln).items() if k != "time"} for ln in lines]


def random_members(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def resumed_halfway(config: dict, out: Path):  # noqa: ANN201
    """Train `config` to half its steps, then `--resume` it to the end (as after a kill)."""
    from ganguard.train import train

    half = {**config, "train": {**config["train"], "steps": config["train"]["steps"] // 2}}
    train(half, out)
    return train(config, out, resume=True)


def assert_same_run(run_dir: Path, other: Path) -> dict[str, torch.Tensor]:
    """Two runs ended with equal method state, bit for bit, and logged the same lines."""
    a, b = method_state(run_dir), method_state(other)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert metrics(other) == metrics(run_dir)
    return a


def check_sampling(run_dir: Path, trained, run_cli, out: Path) -> None:  # noqa: ANN001
    """A reopened run samples like the trained one, and `ganguard sample` writes the same."""
    import numpy as np

    from ganguard.runs import load_run

    run = load_run(run_dir)
    x = run.method.sample(10, torch.Generator().manual_seed(3))
    assert x.shape == (10, *SHAPE)
    assert torch.isfinite(x).all() and x.abs().max() <= 1
    assert torch.equal(x, trained.method.sample(10, torch.Generator().manual_seed(3)))
    code, _, err = run_cli("sample", run_dir, "--n", 10, "--out", out)
    assert code == 0, err
    with np.load(out, allow_pickle=False) as npz:
        expected = run.method.sample(10, torch.Generator().manual_seed(0)).numpy()
        assert np.array_equal(npz["x"], expected)


def with_method(tiny: dict, name: str, **options) -> dict:  # noqa: ANN003
    """A copy of a config dict whose method is `name` with `options`."""
    import copy

    config = copy.deepcopy(tiny)
    config["method"] = {"name": name, **options}
    return config


def fresh_method(tiny: dict, name: str, members: torch.Tensor, **options):  # noqa: ANN003, ANN201
    """An untrained method of `tiny`'s networks, given `members` (and no R)."""
    from ganguard.config import config_from_dict
    from ganguard.runs import build_method

    config = config_from_dict(with_method(tiny, name, **options))
    method = build_method(config, SHAPE)
    method.attach_data(members, torch.empty(0, *SHAPE))
    return method


def check_draws_from_own_parts(tiny: dict, name: str, **options) -> None:  # noqa: ANN003
    """One step of a method with 3 parts of S: stream members_i draws only records of part i."""
    members = random_members()
    method = fresh_method(tiny, name, members, **options)
    seen: dict[str, torch.Tensor] = {}
    draw = method.draw_labelled

    def recording_draw(data, labels, stream, n=None):  # noqa: ANN001, ANN202
        batch = draw(data, labels, stream, n)
        seen[stream] = batch[0]
        return batch

    method.draw_labelled = recording_draw
    method.step()
    assert set(seen) == {"members_0", "members_1", "members_2"}
    flat = members.flatten(1)
    for i, idx in enumerate(method.part_indices):
        # every record of the batch is a record of part i
        matches = (seen[f"members_{i}"].flatten(1)[:, None] == flat[None]).all(2)
        assert matches.any(1).all()
        assert set(matches.float().argmax(1).tolist()) <= set(idx.tolist())


def utility_result(fid: float, floor_fid: float, classification: dict | None = None):  # noqa: ANN201
    """A utility evaluation as `ganguard evaluate` writes it (an `UtilityResult`), with chosen
    figures, for tests of what reads it."""
    from ganguard.evaluate import UtilityResult

    figures = {"fid": fid, "kid": 0.02, "kid_std": 0.001, "precision": 0.6, "recall": 0.5,
               "density": 0.4, "coverage": 0.3, "inception_fid": None}  # fmt: skip
    floor = {**figures, "fid": floor_fid, "precision": 0.9}
    return UtilityResult(
        run_dir="x", method="gan", dataset="digits", step=20, seed=0, n_generated=64,
        n_holdout=64, n_floor=64, floor_source="reference",
        feature_net={"arch": "mlp", "feature_dim": 128, "test_accuracy": 0.9},
        generated=figures, floor=floor, notes=["Inception-v3 FID not requested"],
        classification=classification, seconds=1.0, created="2026-12-01T00:00:00+00:00",
    )  # fmt: skip
