"""train.pretrain_on: the run's networks first trained as the GAN on a public collection, then
the method on S from those weights (Bie et al. 2023 hold DP-GAN's records this way)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import method_state

from ganguard.config import config_from_dict
from ganguard.data import load_dataset
from ganguard.errors import GanguardError
from ganguard.runs import build_method
from ganguard.train import PRETRAIN, TrainingData, train


def public_npz(tmp_path: Path, n: int = 120, with_private: int = 0, side: int = 8) -> Path:
    """Random 8x8 images (and, first, `with_private` records of digits, the private set)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(n, 1, side, side)).astype(np.float32)
    if with_private:
        x = np.concatenate([load_dataset("digits").x[:with_private], x])
    path = tmp_path / "public.npz"
    np.savez(path, x=x)
    return path


def with_pretraining(tiny: dict, path: Path, steps: int = 6, **method) -> dict:  # noqa: ANN003
    config = copy.deepcopy(tiny)
    config["train"].update(pretrain_on="npz", pretrain_path=str(path), pretrain_steps=steps)
    if method:
        config["method"] = method
    return config


def test_the_run_starts_from_a_gan_trained_on_the_public_records(
    tiny_config: dict, tmp_path: Path
) -> None:
    """RUN_DIR/pretrain holds a GAN run of pretrain_steps on the public records that are not in
    the private data set, and it is the GAN one trains on those records by hand; the run then
    differs from one trained from scratch."""
    path = public_npz(tmp_path, with_private=10)
    config = with_pretraining(tiny_config, path)
    run = train(config, tmp_path / "run")
    pre = tmp_path / "run" / PRETRAIN
    assert (pre / "config.yaml").exists()
    public = np.load(path)["x"][10:]  # the 10 digits records are left out
    by_hand_config = copy.deepcopy(tiny_config)
    by_hand_config["train"]["steps"] = 6
    records = TrainingData(torch.from_numpy(public), torch.empty(0, 1, 8, 8))
    by_hand = train(by_hand_config, tmp_path / "by_hand", data=records)
    a, b = method_state(pre), method_state(tmp_path / "by_hand")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert by_hand.step == 6
    scratch = train(tiny_config, tmp_path / "scratch")
    g = lambda r: r.method.generator.state_dict()  # noqa: E731
    assert any(not torch.equal(g(run)[k], g(scratch)[k]) for k in g(run))


@pytest.mark.parametrize("name", ["gan", "megan", "privgan", "pargan", "dpgan"])
def test_every_generator_and_discriminator_starts_from_the_gan_s(
    name: str, tiny_config: dict
) -> None:
    options = {"dpgan": {"noise_multiplier": 1.0}}.get(name, {})
    tiny_config["model"]["spectral_norm"] = name != "dpgan"
    config = config_from_dict({**tiny_config, "method": {"name": name, **options}})
    gan_config = config_from_dict({**tiny_config, "seed": 7, "method": {"name": "gan"}})
    gan, method = build_method(gan_config, (1, 8, 8)), build_method(config, (1, 8, 8))
    untouched = {k: copy.deepcopy(m.state_dict()) for k, m in method.modules.items()
                 if k.split("_")[0] not in ("generator", "discriminator")}  # fmt: skip
    method.start_from(gan)
    loaded = 0
    for key, module in method.modules.items():
        role = key.split("_")[0]
        state = module.state_dict()
        if role in ("generator", "discriminator"):
            source = gan.modules[role].state_dict()
            assert all(torch.equal(state[k], source[k]) for k in source), key
            loaded += 1
        else:
            assert all(torch.equal(state[k], untouched[key][k]) for k in state), key
    assert loaded >= 2


def test_dp_gan_s_budget_is_not_spent_on_the_public_records(
    tiny_config: dict, tmp_path: Path
) -> None:
    """The accountant sees only the steps on S: the same ε as DP-GAN from scratch."""
    tiny_config["model"]["spectral_norm"] = False
    dp = {"name": "dpgan", "target_epsilon": 5.0}
    pre = train(with_pretraining(tiny_config, public_npz(tmp_path), **dp), tmp_path / "pre")
    tiny_config["method"] = dp
    scratch = train(tiny_config, tmp_path / "scratch")
    assert pre.method.epsilon() == pytest.approx(scratch.method.epsilon(), rel=1e-12)
    assert pre.method.dp_optimizer.noise_multiplier == scratch.method.dp_optimizer.noise_multiplier


def test_a_resumed_run_with_pretraining_equals_a_straight_one(
    tiny_config: dict, tmp_path: Path
) -> None:
    config = with_pretraining(tiny_config, public_npz(tmp_path), name="megan", lam=5.0)
    train(config, tmp_path / "straight")
    halves = copy.deepcopy(config)
    halves["train"]["steps"] = 10
    train(halves, tmp_path / "halves")
    train(config, tmp_path / "halves", resume=True)
    a, b = method_state(tmp_path / "straight"), method_state(tmp_path / "halves")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_stopped_after_its_pretraining_reuses_it(tiny_config: dict, tmp_path: Path) -> None:
    """Stopped after the pre-training, before the run's first checkpoint: --resume finds the
    finished pre-training (it is not trained again) and ends where the straight run does."""
    import shutil

    config = with_pretraining(tiny_config, public_npz(tmp_path))
    train(config, tmp_path / "straight")
    train(config, tmp_path / "stopped")
    shutil.rmtree(tmp_path / "stopped" / "checkpoints")  # as if stopped before the first one
    pre_metrics = (tmp_path / "stopped" / PRETRAIN / "metrics.jsonl").read_text()
    train(config, tmp_path / "stopped", resume=True)
    assert (tmp_path / "stopped" / PRETRAIN / "metrics.jsonl").read_text() == pre_metrics
    a, b = method_state(tmp_path / "straight"), method_state(tmp_path / "stopped")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown", "unknown data set 'nope'"),
        ("shape", "pre-training needs records of the same kind"),
        ("private", "every record of"),
        ("conditional", "no class labels"),
    ],
)
def test_each_bad_pretraining_is_one_line_exit_2_before_anything_is_written(
    case: str, message: str, tiny_config: dict, tmp_path: Path, run_cli, write_config
) -> None:
    config = with_pretraining(tiny_config, public_npz(tmp_path, side=28 if case == "shape" else 8))
    if case == "unknown":
        config["train"]["pretrain_on"] = "nope"
    if case == "private":
        config["train"].update(pretrain_on="digits", pretrain_path=None)
    if case == "conditional":
        config["model"]["conditional"] = True
    out = tmp_path / "run"
    code, _, err = run_cli("train", write_config(config), "--out", out)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()
    with pytest.raises(GanguardError, match=message.split("'")[0]):
        train(config, tmp_path / "api")
    assert not (tmp_path / "api").exists()
