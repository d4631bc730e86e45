"""The trainer (SPEC §2, §7): reproducibility, bit-exact resume (also after SIGKILL), the run
directory, refusals to overwrite or to resume on other data, and sampling from a run."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from ganguard.errors import GanguardError
from ganguard.runs import latest_checkpoint, load_run
from ganguard.train import train

LOG_KEYS = {"step", "loss_d", "loss_g", "d_members", "d_holdout", "O", "O_null", "auc_wb"}


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None, f"no checkpoint in {run_dir}"
    return load_file(str(checkpoint / "weights.safetensors"))


def assert_all_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"tensors differ: {differ[:5]}"


def network_keys(weights: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in weights if k.startswith("/method/modules/")]


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def without_time(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k != "time"} for line in lines]


# -- reproducibility --------------------------------------------------------------------------


def test_same_config_and_seed_give_the_same_bits(gan_run, tiny_config: dict, tmp_path: Path):
    run_dir, _ = gan_run
    # whatever the process-wide generators hold, a run depends on its config alone
    torch.manual_seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    torch.rand(3)
    again = train(tiny_config, tmp_path / "again")
    assert again.step == 20
    a, b = final_weights(run_dir), final_weights(tmp_path / "again")
    assert len(network_keys(a)) >= 8
    assert any(k.startswith("/method/optimizers/") for k in a)
    assert any(k.startswith("/method/streams/") for k in a)
    assert_all_equal(run_state(a), run_state(b))
    assert without_time(metrics(run_dir)) == without_time(metrics(tmp_path / "again"))


def test_another_seed_gives_other_weights(gan_run, tiny_config: dict, tmp_path: Path) -> None:
    run_dir, _ = gan_run
    tiny_config["seed"] = 1
    train(tiny_config, tmp_path / "seed1")
    a, b = final_weights(run_dir), final_weights(tmp_path / "seed1")
    for net in ("generator", "discriminator"):
        keys = [k for k in network_keys(a) if k.startswith(f"/method/modules/{net}/")]
        assert keys
        assert any(not torch.equal(a[k], b[k]) for k in keys), f"{net} identical across seeds"
    # the split depends on data.seed only, so the members are the same records
    assert (run_dir / "split.json").read_bytes() == (tmp_path / "seed1" / "split.json").read_bytes()


# -- resume -----------------------------------------------------------------------------------


def test_resume_in_process_is_bit_exact(gan_run, tiny_config: dict, tmp_path: Path) -> None:
    run_dir, straight = gan_run
    out = tmp_path / "resumed"
    tiny_config["train"]["steps"] = 10
    first = train(tiny_config, out)
    assert first.step == 10
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["step_0000010"]
    # what a kill after step 10 can leave: a log line past the checkpoint, a half-written one
    stale = {"step": 15, "loss_d": 99.0, "loss_g": 99.0}
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(stale) + "\n")
    partial = out / "checkpoints" / ".tmp_step_0000015"
    partial.mkdir()
    (partial / "weights.safetensors").write_bytes(b"\x00\x01")

    tiny_config["train"]["steps"] = 20
    resumed = train(tiny_config, out, resume=True)
    assert resumed.step == 20
    assert_all_equal(run_state(final_weights(run_dir)), run_state(final_weights(out)))
    for name, module in straight.method.modules.items():
        mine = resumed.method.modules[name].state_dict()
        for key, value in module.state_dict().items():
            assert torch.equal(value, mine[key]), f"{name}.{key}"
    assert without_time(metrics(out)) == without_time(metrics(run_dir))
    assert [line["step"] for line in metrics(out)] == [5, 10, 15, 20]


def test_a_resumed_runs_time_counts_on_from_its_checkpoint(
    tiny_config: dict, tmp_path: Path
) -> None:
    """`time` is the training seconds so far, so a benchmark reading the last line of a resumed
    run gets the whole run's time, not the last invocation's."""
    out = tmp_path / "run"
    tiny_config["train"]["steps"] = 10
    train(tiny_config, out)
    state_file = latest_checkpoint(out) / "state.json"
    meta = json.loads(state_file.read_text())
    entries = dict(meta["state"]["__dict__"])  # (the skeleton keeps a dict as its items)
    assert 0 < entries["seconds"] < 60.0
    entries["seconds"] = 1000.0  # as if the first ten steps had taken 1 000 s
    meta["state"]["__dict__"] = [[k, v] for k, v in entries.items()]
    state_file.write_text(json.dumps(meta))
    tiny_config["train"]["steps"] = 20
    train(tiny_config, out, resume=True)
    times = [line["time"] for line in metrics(out)]
    assert times[1] < 1000.0 < times[2] < times[3] < 1000.0 + 60.0  # steps 5, 10 | 15, 20
    meta = json.loads((latest_checkpoint(out) / "state.json").read_text())
    assert times[3] <= dict(meta["state"]["__dict__"])["seconds"] < 1000.0 + 60.0


def latest_step(run_dir: Path) -> int:
    checkpoint = latest_checkpoint(run_dir)
    return -1 if checkpoint is None else int(checkpoint.name.split("_")[1])


def run_state(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The method's part of a checkpoint: networks, optimiser moments, random streams."""
    return {k: v for k, v in weights.items() if k.startswith("/method/")}


def test_resume_after_sigkill_is_bit_exact(
    tiny_config: dict, write_config, run_cli, tmp_path: Path
) -> None:
    steps = 300
    tiny_config["train"].update({"steps": steps, "checkpoint_every": 10, "log_every": 10})
    cfg = write_config(tiny_config)
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    log = tmp_path / "victim.txt"

    with open(log, "wb") as sink:
        victim = subprocess.Popen(
            [sys.executable, "-m", "ganguard.cli", "train", str(cfg), "--out", str(killed)],
            stdout=sink,
            stderr=sink,
        )
        try:
            deadline = time.monotonic() + 180
            while latest_step(killed) < 30:
                assert victim.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no checkpoint at step >= 30 in time"
                time.sleep(0.005)
            os.kill(victim.pid, signal.SIGKILL)
            assert victim.wait(timeout=60) == -signal.SIGKILL  # killed, not finished
        finally:
            if victim.poll() is None:
                victim.kill()
                victim.wait()
    at_kill = latest_step(killed)
    assert 30 <= at_kill < steps

    code, stdout, err = run_cli("train", cfg, "--out", killed, "--resume")
    assert code == 0, err
    assert f"for {steps} steps" in stdout
    train(tiny_config, reference)  # never interrupted

    assert latest_step(killed) == latest_step(reference) == steps
    resumed_weights, reference_weights = final_weights(killed), final_weights(reference)
    assert len(network_keys(resumed_weights)) >= 8
    assert resumed_weights.keys() == reference_weights.keys()
    assert_all_equal(resumed_weights, reference_weights)  # networks, optimisers, every RNG

    lines = metrics(killed)
    assert [line["step"] for line in lines] == list(range(10, steps + 1, 10))  # no duplicates
    for line in lines:
        assert LOG_KEYS <= set(line), line
    assert without_time(lines) == without_time(metrics(reference))
    for name in ("config.yaml", "split.json", "samples.png"):
        assert (killed / name).is_file()
    assert not [p for p in (killed / "checkpoints").iterdir() if p.name.startswith(".")]


def test_checkpoints_do_not_depend_on_the_process(tiny_config: dict, tmp_path: Path) -> None:
    tiny_config["train"].update(steps=2, log_every=2, checkpoint_every=2)
    for i in (1, 2):
        torch.manual_seed(i)
        train(tiny_config, tmp_path / f"run{i}")
    a, b = final_weights(tmp_path / "run1"), final_weights(tmp_path / "run2")
    assert_all_equal(a, b)  # networks, optimisers and every random state alike


# -- the run directory ------------------------------------------------------------------------


def test_run_directory_contents(gan_run) -> None:
    run_dir, run = gan_run
    for name in ("config.yaml", "split.json", "samples.png", "metrics.jsonl"):
        assert (run_dir / name).is_file(), name
    # the grid of 64 samples of 8x8 digits, 8 a row, one-pixel gaps: 8 · 9 + 1 pixels a side
    assert matplotlib.image.imread(run_dir / "samples.png").shape[:2] == (73, 73)
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_0000020"]
    assert sorted(p.name for p in (run_dir / "checkpoints" / "step_0000020").iterdir()) == [
        "state.json",
        "weights.safetensors",
    ]
    lines = metrics(run_dir)
    assert [line["step"] for line in lines] == [5, 10, 15, 20]
    for line in lines:
        assert LOG_KEYS <= set(line)
        assert 0 < line["d_members"] < 1 and np.isfinite(line["loss_d"])
    # the last line's monitor is the audit's white-box attack on the run's fixed subsets of S, H
    from ganguard.metrics.attack_metrics import attack_metrics
    from ganguard.train import split_data

    data, _ = split_data(run.config)
    m = data.monitor
    s_mem, s_hold = run.method.score(m.members).numpy(), run.method.score(m.holdout).numpy()
    assert (len(s_mem), len(s_hold)) == (32, 32)  # train.n_log of each
    want = attack_metrics(s_mem, s_hold, n_boot=0)
    assert lines[-1]["auc_wb"] == pytest.approx(want["auc"])
    assert lines[-1]["O"] == pytest.approx(want["bhattacharyya"]["O"])
    assert lines[-1]["O_null"] == pytest.approx(want["bhattacharyya"]["O_null"])
    split = json.loads((run_dir / "split.json").read_text())
    assert split["fingerprint"].startswith("sha256:")
    parts = [set(split[p]) for p in ("members", "holdout", "reference", "test")]
    assert [len(p) for p in parts] == [64, 64, 128, 64]
    assert len(set().union(*parts)) == 320  # disjoint
    assert run.config.train.steps == 20


def test_training_again_into_a_run_fails_and_changes_nothing(
    gan_run_copy: Path, tiny_config: dict, snapshot
) -> None:
    before = snapshot(gan_run_copy)
    with pytest.raises(GanguardError, match="resume"):
        train(tiny_config, gan_run_copy)
    assert snapshot(gan_run_copy) == before


@pytest.mark.parametrize(
    ("key", "change"),
    [("data.seed", lambda c: c["data"].update(seed=1)),
     ("seed", lambda c: c.update(seed=5)),
     ("model.d_width", lambda c: c["model"].update(d_width=32))],
)  # fmt: skip
def test_resume_with_a_changed_key_fails(
    key: str, change, gan_run_copy: Path, tiny_config: dict, snapshot  # noqa: ANN001
) -> None:
    before = snapshot(gan_run_copy)
    change(tiny_config)
    with pytest.raises(GanguardError) as info:
        train(tiny_config, gan_run_copy, resume=True)
    assert f"config key {key} " in str(info.value)
    assert snapshot(gan_run_copy) == before


def test_resume_without_a_run_fails(tiny_config: dict, tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="no run"):
        train(tiny_config, tmp_path / "nothing", resume=True)
    assert not (tmp_path / "nothing").exists()


def test_dcgan_on_an_npz_and_resume_on_other_data(
    write_npz, tmp_path: Path, snapshot
) -> None:
    data = write_npz("a.npz", n=300, side=28, seed=0)
    config = {
        "data": {"name": "npz", "path": str(data), "n_members": 64, "n_holdout": 64,
                 "n_reference": 64, "n_test": 64},
        "model": {"arch": "dcgan", "z_dim": 8, "g_width": 8, "d_width": 8, "depth": 2},
        "train": {"steps": 4, "batch_size": 16, "log_every": 2, "checkpoint_every": 2,
                  "n_log": 16, "progress": False},
    }  # fmt: skip
    out = tmp_path / "run"
    run = train(config, out)
    assert type(run.method.generator).__name__ == "DCGANGenerator"
    assert type(run.method.discriminator).__name__ == "DCGANDiscriminator"
    x = load_run(out).method.sample(5, torch.Generator().manual_seed(0))
    assert x.shape == (5, 1, 28, 28)
    assert x.abs().max() <= 1
    before = snapshot(out)

    # another file with other images
    other = write_npz("b.npz", n=300, side=28, seed=1)
    config["data"]["path"] = str(other)
    with pytest.raises(GanguardError, match="other data"):
        train(config, out, resume=True)
    # the same file name, but its content has changed
    config["data"]["path"] = str(data)
    shutil.copy(other, data)
    with pytest.raises(GanguardError, match="other data"):
        train(config, out, resume=True)
    assert snapshot(out) == before


def test_reference_from_another_data_set(write_npz, tiny_config: dict, tmp_path: Path) -> None:
    """data.reference_data: MEGAN's R, the audit's R and the split all take R from the other data
    set; the members and holdout stay those of the plain split; a changed R file is other data."""
    from ganguard.audit import audit
    from ganguard.data import load_dataset

    private = write_npz("private.npz", n=300, side=8)
    public = write_npz("public.npz", n=200, side=8, seed=1)
    config = tiny_config
    config["data"].update({"name": "npz", "path": str(private), "reference_data": "npz",
                           "reference_path": str(public), "n_reference": 150})
    config["method"] = {"name": "megan", "lam": 5}
    out = tmp_path / "run"
    run = train(config, out)
    public_records = {r.tobytes() for r in load_dataset("npz", public).x}
    assert len(run.split.reference) == 150
    assert all(r.numpy().tobytes() in public_records for r in run.method.reference)
    plain = dict(config, data=dict(config["data"], reference_data=None, n_reference=0),
                 method={"name": "gan"})
    plain_run = train(plain, tmp_path / "plain")
    assert np.array_equal(run.split.members, plain_run.split.members)
    assert np.array_equal(run.split.holdout, plain_run.split.holdout)
    report = audit(out, attacks=["logan_wb", "domias"], k=64, progress=False)  # DOMIAS reads R
    assert set(report.attacks) == {"logan_wb", "domias"} and not report.skipped

    shutil.copy(write_npz("other.npz", n=200, side=8, seed=2), public)
    with pytest.raises(GanguardError, match="other data"):
        train(config, out, resume=True)


# -- sampling from a run ----------------------------------------------------------------------


def test_load_run_samples(gan_run) -> None:
    run_dir, trained = gan_run
    run = load_run(run_dir)
    assert run.step == 20
    for name, module in trained.method.modules.items():
        for key, value in module.state_dict().items():
            assert torch.equal(value, run.method.modules[name].state_dict()[key])
    x = run.method.sample(10, torch.Generator().manual_seed(3))
    assert x.shape == (10, 1, 8, 8)
    assert torch.isfinite(x).all() and x.abs().max() <= 1
    y = run.method.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(x, y)
    assert not torch.equal(x, run.method.sample(10, torch.Generator().manual_seed(4)))
    assert torch.equal(x, trained.method.sample(10, torch.Generator().manual_seed(3)))


def test_cli_sample_writes_an_npz(gan_run, run_cli, tmp_path: Path) -> None:
    run_dir, _ = gan_run
    out = tmp_path / "s.npz"
    code, stdout, err = run_cli("sample", run_dir, "--n", 10, "--out", out)
    assert code == 0, err
    assert "10 samples" in stdout
    with np.load(out, allow_pickle=False) as npz:
        assert npz.files == ["x"]
        x = npz["x"]
    assert x.shape == (10, 1, 8, 8) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= -1 and x.max() <= 1
    assert x.std() > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_load_run_on_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="not a run"):
        load_run(tmp_path)


def test_divergence_is_a_clear_error(tiny_config: dict, tmp_path: Path) -> None:
    tiny_config["model"]["spectral_norm"] = False
    tiny_config["train"].update(lr_d=1e30, lr_g=1e30)
    with pytest.raises(GanguardError, match="diverged"):
        train(tiny_config, tmp_path / "run")


# -- training on arrays: the attacker and reference GANs of the audit -------------------------


def test_a_run_on_arrays_resumes_bit_exact_and_refuses_other_records(
    tiny_config: dict, tmp_path: Path
) -> None:
    from helpers import random_members

    from ganguard.train import array_data

    records = random_members(48).numpy()
    straight = train(tiny_config, tmp_path / "straight", data=array_data(records))
    assert straight.split is None and (tmp_path / "straight" / "records.json").is_file()
    assert not (tmp_path / "straight" / "split.json").exists()
    assert "auc_wb" not in metrics(tmp_path / "straight")[-1]  # no holdout to monitor
    half = {**tiny_config, "train": {**tiny_config["train"], "steps": 10}}
    train(half, tmp_path / "halves", data=array_data(records))
    train(tiny_config, tmp_path / "halves", resume=True, data=array_data(records))
    assert_all_equal(final_weights(tmp_path / "straight"), final_weights(tmp_path / "halves"))
    assert load_run(tmp_path / "halves").step == 20
    with pytest.raises(GanguardError, match="trained on other records"):
        train(tiny_config, tmp_path / "halves", resume=True, data=array_data(records[:-1]))


def test_without_a_run_directory_nothing_is_written(
    tiny_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers import random_members

    from ganguard.train import array_data

    monkeypatch.chdir(tmp_path)
    records = random_members(48).numpy()
    run = train(tiny_config, data=array_data(records))
    assert run.path is None and run.step == 20 and list(tmp_path.iterdir()) == []
    kept = train(tiny_config, tmp_path / "kept", data=array_data(records))
    assert_all_equal(
        {k: v for k, v in run.method.generator.state_dict().items()},
        {k: v for k, v in kept.method.generator.state_dict().items()},
    )
