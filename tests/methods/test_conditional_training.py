"""Class-conditional training (`model.conditional: true`) for every method: labels reach G and
the projection discriminator, samples of a chosen class, resumes, scores and errors."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers import SHAPE, assert_same_run, resumed_halfway, with_method

from ganguard.runs import load_run
from ganguard.train import train

OPTIONS = {
    "gan": {},
    "megan": {"mode": "fano", "lam": 1.0},
    "mimgan": {"beta": 1.0},
    "dpgan": {"noise_multiplier": 1.0},
    "privgan": {"n_pairs": 2},
    "pargan": {"k": 2},
}


def conditional(tiny: dict, name: str) -> dict:
    config = with_method(tiny, name, **OPTIONS[name])
    config["model"]["conditional"] = True
    if name == "dpgan":  # Opacus cannot see through spectral normalisation
        config["model"]["spectral_norm"] = False
    return config


@pytest.fixture(scope="module")
def conditional_runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from conftest import TINY

    root = tmp_path_factory.mktemp("conditional")
    return {name: train(conditional(copy.deepcopy(TINY), name), root / name) for name in OPTIONS}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_every_method_trains_conditionally_and_samples_a_chosen_class(conditional_runs, name):
    run = conditional_runs[name]
    method = run.method
    assert method.conditional and method.n_classes == 10  # digits
    lines = (run.path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 4 and '"auc_wb"' in lines[-1]

    x, y = method.sample_labelled(200, torch.Generator().manual_seed(1))
    assert x.shape == (200, *SHAPE) and torch.isfinite(x).all()
    assert y.min() >= 0 and y.max() <= 9 and len(y.unique()) == 10  # uniform over the classes
    sevens, labels = method.sample_labelled(20, torch.Generator().manual_seed(1), label=7)
    assert (labels == 7).all()
    # the same latents with another class give other samples: the label reaches G
    threes = method.sample(20, torch.Generator().manual_seed(1), label=3)
    assert not torch.allclose(sevens, threes)

    # a reopened run gives the same samples
    again = load_run(run.path).method
    assert torch.equal(again.sample(20, torch.Generator().manual_seed(1), label=7), sevens)


@pytest.mark.parametrize("name", ["gan", "pargan"])
def test_scores_without_labels_take_the_most_member_like_class(conditional_runs, name):
    method = conditional_runs[name].method
    x = torch.rand(12, *SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    per_class = torch.stack(
        [method.score(x, torch.full((12,), c, dtype=torch.long)) for c in range(10)]
    )
    assert torch.equal(method.score(x), per_class.max(0).values)
    y = torch.arange(12) % 10
    own = method.score(x, y)
    assert torch.equal(own, per_class[y, torch.arange(12)])


def test_the_white_box_generator_is_a_differentiable_map_of_z(conditional_runs):
    method = conditional_runs["gan"].method
    z = torch.randn(8, method.z_dim, generator=torch.Generator().manual_seed(0))
    with method.evaluating():
        x = method.from_latent(z)
        z_in, y = method.label_latent(z)
        assert torch.equal(x, method.generate(z_in, y))
        z.requires_grad_(True)
        method.from_latent(z).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["gan", "megan", "dpgan"])
def test_a_resumed_conditional_run_equals_an_uninterrupted_one(tiny_config, tmp_path, name):
    config = conditional(tiny_config, name)
    straight = train(config, tmp_path / "straight")
    resumed = resumed_halfway(config, tmp_path / "resumed")
    assert resumed.step == straight.step == 20
    assert_same_run(tmp_path / "straight", tmp_path / "resumed")


def test_unconditional_runs_ignore_labels(gan_run):
    run_dir, run = gan_run
    assert not run.method.conditional
    x, y = run.method.sample_labelled(5, torch.Generator().manual_seed(0))
    assert y is None and x.shape == (5, *SHAPE)


def test_sample_cli_writes_the_classes(
    conditional_runs, run_cli, expect_cli_error, gan_run, tmp_path
):
    run_dir = conditional_runs["megan"].path
    code, out, err = run_cli("sample", run_dir, "--n", 6, "--label", 4, "--out", tmp_path / "s.npz")
    assert code == 0, err
    assert "of class 4" in out
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:
        assert npz["x"].shape == (6, *SHAPE) and npz["y"].tolist() == [4] * 6
    code, _, err = run_cli("sample", run_dir, "--n", 50, "--out", tmp_path / "all.npz")
    assert code == 0, err
    with np.load(tmp_path / "all.npz", allow_pickle=False) as npz:
        assert len(set(npz["y"].tolist())) > 5

    assert "0..9" in expect_cli_error(
        "sample", run_dir, "--n", 2, "--label", 10, "--out", tmp_path / "bad.npz"
    )
    assert "conditional" in expect_cli_error(
        "sample", gan_run[0], "--n", 2, "--label", 1, "--out", tmp_path / "bad.npz"
    )
    assert not (tmp_path / "bad.npz").exists()


def test_conditional_training_on_unlabelled_data_is_refused(tiny_config, tmp_path, write_config,
                                                            expect_cli_error):  # fmt: skip
    x = np.random.default_rng(0).uniform(-1, 1, (400, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "unlabelled.npz", x=x)
    config = conditional(tiny_config, "gan")
    config["data"] = {**config["data"], "name": "npz", "path": str(tmp_path / "unlabelled.npz")}
    line = expect_cli_error("train", write_config(config), "--out", tmp_path / "run")
    assert "class labels" in line
    assert not (tmp_path / "run").exists()  # refused before anything is written
