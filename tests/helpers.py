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
