"""benchmarks/gpu_check.py: its settings make valid configs for every method, and where no GPU
is it says so in one line and exits 2 without writing anything."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


def _module():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["gan", "megan", "mimgan", "dpgan", "privgan", "pargan"])
def test_every_method_of_the_check_has_a_valid_config(method: str) -> None:
    config = _module().config_for(method, 300, "cuda")
    assert config.method.name == method and config.device == "cuda"
    assert config.train.steps == 300 and config.data.n_members == 500


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_the_check_stops_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        done.stderr.strip()] and "no CUDA device" in done.stderr  # fmt: skip
    assert not (tmp_path / "out").exists()
