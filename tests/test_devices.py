"""Devices (SPEC §11): `auto | cpu | cuda[:k]`, refused before anything is written when not
here; same seed and device, same numbers; checkpoints that do not depend on the device. Tests
run on the CPU: a machine with CUDA is imitated where only the bookkeeping is checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from helpers import assert_same_run

from ganguard.config import config_from_dict
from ganguard.devices import current_device, job_device, resolve_device, using
from ganguard.errors import GanguardError


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that says it has two CUDA devices (nothing is put on them)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_cpu_without_cuda_and_the_first_gpu_with_it(no_gpu, monkeypatch) -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_where_there_is_none_is_refused(no_gpu, name: str) -> None:
    with pytest.raises(GanguardError, match="no CUDA device is available"):
        resolve_device(name)


def test_a_gpu_index_beyond_the_machine_is_refused(two_gpus) -> None:
    with pytest.raises(GanguardError, match="has 2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cuda:x", "CPU", "mps"])
def test_a_device_name_is_checked_by_the_config(name: str) -> None:
    with pytest.raises(GanguardError, match="config key device"):
        config_from_dict({"device": name})
    with pytest.raises(GanguardError, match="--device must be"):
        resolve_device(name)


def test_train_on_cuda_without_one_writes_nothing(no_gpu, tiny_config, write_config, tmp_path,
                                                  expect_cli_error) -> None:  # fmt: skip
    out = tmp_path / "run"
    line = expect_cli_error("train", write_config(tiny_config), "--out", out, "--device", "cuda")
    assert "no CUDA device" in line
    assert not out.exists()
    tiny_config["device"] = "cuda:0"  # the config key, too
    assert "no CUDA device" in expect_cli_error("train", write_config(tiny_config), "--out", out)
    assert not out.exists()


@pytest.mark.parametrize("command", ["sample", "audit", "evaluate"])
def test_commands_on_a_run_refuse_a_missing_gpu_before_writing(no_gpu, gan_run_copy, snapshot,
                                                               expect_cli_error, tmp_path,
                                                               command: str) -> None:  # fmt: skip
    before = snapshot(gan_run_copy)
    extra = ["--n", 5, "--out", tmp_path / "x.npz"] if command == "sample" else []
    line = expect_cli_error(command, gan_run_copy, *extra, "--device", "cuda")
    assert "no CUDA device" in line
    assert snapshot(gan_run_copy) == before
    assert not (tmp_path / "x.npz").exists()


def test_demo_refuses_a_missing_gpu_before_writing(no_gpu, tmp_path, expect_cli_error) -> None:
    out = tmp_path / "demo"
    assert "no CUDA device" in expect_cli_error("demo", "--fast", "--out", out, "--device", "cuda")
    assert not out.exists()


def test_same_seed_same_device_same_numbers(tiny_config, tmp_path) -> None:
    from ganguard.train import train

    tiny_config["device"] = "cpu"
    train(tiny_config, tmp_path / "a")
    tiny_config["device"] = "auto"  # the CPU here: the same run
    train(tiny_config, tmp_path / "b")
    assert_same_run(tmp_path / "a", tmp_path / "b")


def test_a_run_made_on_a_gpu_resumes_and_is_audited_on_the_cpu(tiny_config, tmp_path,
                                                                no_gpu) -> None:  # fmt: skip
    """A checkpoint holds CPU tensors whatever the device, and the device may change on resume:
    a run whose config says cuda (as one trained on a GPU) continues and samples here."""
    from safetensors import safe_open

    from ganguard.runs import latest_checkpoint, load_run
    from ganguard.train import train

    half = {**tiny_config, "train": {**tiny_config["train"], "steps": 10}}
    train(half, tmp_path / "run")
    with safe_open(str(latest_checkpoint(tmp_path / "run") / "weights.safetensors"), "pt") as f:
        assert {f.get_tensor(k).device.type for k in f.keys()} == {"cpu"}
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    saved["device"] = "cuda"
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    with pytest.raises(GanguardError, match="no CUDA device"):
        load_run(tmp_path / "run", device=None)  # its own device is not here
    run = load_run(tmp_path / "run", device="cpu")
    assert run.method.device == torch.device("cpu") and run.step == 10
    resumed = train({**tiny_config, "device": "cpu"}, tmp_path / "run", resume=True)
    train(tiny_config, tmp_path / "straight")
    assert resumed.step == 20
    assert_same_run(tmp_path / "straight", tmp_path / "run")


def test_the_kernels_give_the_same_answer_inside_a_device_context() -> None:
    from ganguard.distances import count_within, nearest

    rng = np.random.default_rng(0)
    q, s = rng.normal(size=(50, 16)), rng.normal(size=(300, 16))
    outside = nearest(q, s, k=3), count_within(q, s, 5.0)
    with using("cpu") as device:
        assert current_device() == device == torch.device("cpu")
        inside = nearest(q, s, k=3), count_within(q, s, 5.0)
    assert current_device() == torch.device("cpu")
    assert torch.equal(outside[0][0], inside[0][0]) and torch.equal(outside[0][1], inside[0][1])
    assert torch.equal(outside[1], inside[1])
    assert inside[1].device.type == "cpu"


def test_jobs_on_gpus_get_one_each(two_gpus) -> None:
    assert job_device("cpu", "local", 4) == ("cpu", 0.0)
    assert job_device("cuda:1", "local", 1) == ("cuda:1", 0.0)  # in this process, as given
    assert job_device("auto", "local", 2) == ("cuda", 1.0)  # each worker process owns a GPU
    assert job_device("cuda", "ray", 8) == ("cuda", 1.0)


def test_more_gpu_workers_than_gpus_is_refused(two_gpus, tmp_path) -> None:
    from ganguard.jobs import Job, run_jobs

    jobs = [Job(f"j{i}", lambda folder: {"status": "ok"}) for i in range(3)]
    with pytest.raises(GanguardError, match="--workers 3: on CUDA each worker takes a GPU"):
        run_jobs(jobs, tmp_path, "local", workers=3, gpus_per_job=1)


def test_a_finished_sweep_run_is_not_rerun_for_another_device(gan_run_copy) -> None:
    """Where a run trained does not change what it is: a sweep's finished run is kept when only
    the device differs, and refused when anything else does."""
    from ganguard.runs import read_run_config
    from ganguard.sweep.executors import _check_unchanged

    config = read_run_config(gan_run_copy)
    _check_unchanged(gan_run_copy, config.model_copy(update={"device": "cuda:1"}))
    other = config.to_dict()
    other["train"]["lr_g"] = 1e-3
    with pytest.raises(GanguardError, match="another train.lr_g"):
        _check_unchanged(gan_run_copy, config_from_dict(other))
