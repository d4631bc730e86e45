"""Shared fixtures: a tiny training config on `digits`, YAML writers, a CLI runner, one trained
run that read-only tests share, and `bench`, a benchmark script imported as a module."""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import yaml

# Tiny networks run far faster on one thread, above all on a machine whose cores are busy. Set
# before the test modules import torch, and inherited by the subprocesses the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Feature networks trained by tests go to a temporary cache, not the user's."""
    os.environ["GANGUARD_CACHE"] = str(tmp_path_factory.mktemp("ganguard-cache"))


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

TINY: dict[str, Any] = {
    "data": {"name": "digits", "n_members": 64, "n_holdout": 64, "n_reference": 128, "n_test": 64},
    "model": {"arch": "mlp", "z_dim": 8, "g_width": 16, "d_width": 16, "depth": 1},
    "train": {
        "steps": 20,
        "batch_size": 16,
        "log_every": 5,
        "checkpoint_every": 5,
        "n_log": 32,
        "progress": False,
    },
}


def _tiny() -> dict[str, Any]:
    return copy.deepcopy(TINY)


@pytest.fixture
def tiny_config() -> dict[str, Any]:
    """A fresh copy of the tiny digits config (20 steps of a 1-hidden-layer MLP GAN)."""
    return _tiny()


def write_yaml(config: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """write_config(cfg, name="cfg.yaml") -> the path of `cfg` written as YAML under tmp_path."""

    def _write(config: dict[str, Any], name: str = "cfg.yaml") -> Path:
        return write_yaml(config, tmp_path / name)

    return _write


@pytest.fixture
def write_npz(tmp_path: Path) -> Callable[..., Path]:
    """write_npz(name, n=300, side=28, seed=0) -> an .npz of random images in [-1, 1]."""

    def _write(name: str = "images.npz", n: int = 300, side: int = 28, seed: int = 0) -> Path:
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, size=(n, 1, side, side)).astype(np.float32)
        path = tmp_path / name
        np.savez(path, x=x)
        return path

    return _write


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny config trained 20 steps as a GAN: (run directory, Run). Do not modify: copy it."""
    from ganguard.train import train

    out = tmp_path_factory.mktemp("gan_run") / "run"
    run = train(_tiny(), out)
    return out, run


@pytest.fixture
def gan_run_copy(gan_run, tmp_path: Path) -> Path:
    """A private copy of the shared GAN run directory, free to be changed."""
    dest = tmp_path / "run_copy"
    shutil.copytree(gan_run[0], dest)
    return dest


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """run_cli(*argv) -> (exit code, stdout, stderr) of `ganguard argv...`, run in-process."""
    from ganguard.cli import main

    def _run(*argv: Any) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors exit from parse_args
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return _run


def check_one_line_error(code: int, err: str) -> str:
    """Exit code 2 and exactly one line on stderr, `ganguard: error: ...`, no traceback."""
    assert code == 2, f"exit code {code}, stderr: {err!r}"
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
    assert lines[0].startswith("ganguard: error: "), lines[0]
    return lines[0]


@pytest.fixture
def expect_cli_error(run_cli) -> Callable[..., str]:
    """expect_cli_error(*argv) runs the CLI and checks the one-line error; returns the line."""

    def _expect(*argv: Any) -> str:
        code, _, err = run_cli(*argv)
        return check_one_line_error(code, err)

    return _expect


def tree_snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `root` with its bytes and mtime (ns), to show nothing was rewritten."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(Path(root).rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[bytes, int]]]:
    return tree_snapshot


@pytest.fixture(scope="module")
def bench(request: pytest.FixtureRequest) -> ModuleType:
    """benchmarks/NAME.py as a module (the scripts are files, not modules of the package), NAME
    the test module's `BENCHMARK`."""
    name = request.module.BENCHMARK
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    if str(path.parent) not in sys.path:  # as when run: the scripts' own helpers beside them
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
