"""LOGAN white box (the target's discriminator) and black box (an attacker GAN on the samples)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ganguard.attacks.base import DISCRIMINATOR, SAMPLES, ThreatModel
from ganguard.attacks.logan import LoganBB, LoganWB
from ganguard.data import load_dataset
from ganguard.errors import GanguardError


def auc(members: np.ndarray, nonmembers: np.ndarray) -> float:
    labels = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    return float(roc_auc_score(labels, np.r_[members, nonmembers]))


# -- logan_wb ---------------------------------------------------------------------------------


def test_logan_wb_declares_its_threat_model() -> None:
    attack = LoganWB()
    assert attack.name == "logan_wb"
    assert attack.needs == frozenset({DISCRIMINATOR})
    assert attack.description
    assert attack.settings == {"batch_size": 4096}
    with pytest.raises(GanguardError, match="discriminator"):
        attack.fit(ThreatModel(samples=np.zeros((2, 1, 2, 2), np.float32)))


# An overfit GAN: 32 `digits` members, a wide MLP discriminator and a wide generator with high
# learning rates. Within a few hundred steps the generator reproduces members closely and the
# discriminator has to memorise them, so d(v) separates members from holdout (AUC 0.95-1.0 at
# 600 steps on data/training seeds 0, 1, 2). `digits` (8x8) keeps this at a few seconds; the same
# recipe on 28x28 `mnist-5k` needs far longer to separate as clearly.
OVERFIT = {
    "data": {"name": "digits", "n_members": 32, "n_holdout": 200, "n_reference": 0, "n_test": 0},
    "model": {"arch": "mlp", "g_width": 256, "d_width": 256, "depth": 2, "spectral_norm": False},
    "train": {
        "steps": 600,
        "batch_size": 32,
        "lr_d": 1e-3,
        "lr_g": 1e-3,
        "progress": False,
        "log_every": 100,
        "n_log": 32,
        "checkpoint_every": 100000,
    },
}


def test_logan_wb_separates_the_members_of_an_overfit_gan(tmp_path: Path) -> None:
    from ganguard.train import train

    run = train(OVERFIT, tmp_path / "run")
    ds = load_dataset("digits")
    members, holdout = ds.x[run.split.members], ds.x[run.split.holdout]
    threat = ThreatModel(discriminator=lambda x: run.method.score(torch.from_numpy(x)).numpy())
    attack = LoganWB().fit(threat)
    s_mem, s_hold = attack.score(members), attack.score(holdout)
    assert s_mem.shape == (32,) and s_hold.shape == (200,)
    # the score is the discriminator's logit itself
    direct = run.method.score(torch.from_numpy(members)).numpy()
    np.testing.assert_allclose(s_mem, direct, rtol=1e-6)
    assert attack.extra_scores(members) == {}  # one discriminator: no mean to report
    measured = auc(s_mem, s_hold)
    print(f"logan_wb AUC on the overfit GAN: {measured:.3f}")
    assert measured >= 0.9


def three_discriminators(x: np.ndarray) -> np.ndarray:
    flat = x.reshape(len(x), -1).astype(np.float64)
    return np.stack([flat.sum(1), -flat.sum(1), flat[:, 0] * 10.0], axis=1)


def test_logan_wb_takes_the_max_over_discriminators_and_reports_the_mean() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(50, 1, 3, 3)).astype(np.float32)
    logits = three_discriminators(x)
    attack = LoganWB(batch_size=7).fit(ThreatModel(discriminator=three_discriminators))
    np.testing.assert_allclose(attack.score(x), logits.max(1), rtol=1e-12)
    extra = attack.extra_scores(x)
    assert set(extra) == {"mean"}
    np.testing.assert_allclose(extra["mean"], logits.mean(1), rtol=1e-12)
    assert not np.allclose(extra["mean"], attack.score(x))


def test_logan_wb_accepts_one_column_and_rejects_a_wrong_shape() -> None:
    x = np.ones((4, 1, 2, 2), np.float32)
    column = LoganWB().fit(ThreatModel(discriminator=lambda v: np.arange(len(v))[:, None]))
    np.testing.assert_array_equal(column.score(x), [0, 1, 2, 3])
    short = LoganWB().fit(ThreatModel(discriminator=lambda v: np.zeros(len(v) - 1)))
    with pytest.raises(GanguardError, match="discriminator returned shape"):
        short.score(x)
    with pytest.raises(GanguardError, match="batch_size"):
        LoganWB(batch_size=0)


# -- logan_bb ---------------------------------------------------------------------------------


def test_logan_bb_records_its_settings_and_config() -> None:
    attack = LoganBB(steps=3, config_overrides={"train": {"lr_d": 1e-3}, "model.z_dim": 8})
    assert attack.name == "logan_bb"
    assert attack.needs == frozenset({SAMPLES})
    assert attack.settings == {
        "steps": 3,
        "batch_size": 64,
        "arch": "auto",
        "d_width": 64,
        "g_width": 64,
        "depth": 2,
        "spectral_norm": False,
        "seed": None,
        "config_overrides": {"train": {"lr_d": 1e-3}, "model.z_dim": 8},
    }
    config = attack.build_config(seed=5)
    assert config.seed == 5 and config.train.steps == 3 and config.train.lr_d == 1e-3
    assert config.model.z_dim == 8 and config.model.spectral_norm is False
    with pytest.raises(GanguardError, match="train.no_such_key"):
        LoganBB(config_overrides={"train": {"no_such_key": 1}})
    with pytest.raises(GanguardError, match="samples"):
        LoganBB(steps=1).fit(ThreatModel(discriminator=lambda v: v))


def test_logan_bb_is_deterministic_in_its_seed() -> None:
    rng = np.random.default_rng(0)
    samples = rng.uniform(-1, 1, size=(40, 1, 4, 4)).astype(np.float32)
    cands = rng.uniform(-1, 1, size=(10, 1, 4, 4)).astype(np.float32)
    kw = {"steps": 5, "batch_size": 8, "d_width": 8, "g_width": 8, "depth": 1}
    a = LoganBB(**kw).fit(ThreatModel(samples=samples, seed=1)).score(cands)
    b = LoganBB(**kw).fit(ThreatModel(samples=samples, seed=1)).score(cands)
    c = LoganBB(**kw, seed=2).fit(ThreatModel(samples=samples, seed=1)).score(cands)
    assert a.shape == (10,) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(GanguardError, match="shape"):
        LoganBB(**kw).fit(ThreatModel(samples=samples)).score(np.zeros((2, 1, 3, 3), np.float32))


def test_logan_bb_finds_members_that_the_samples_copy() -> None:
    """A "generator" that emits copies of 64 members: the attacker's discriminator memorises
    them (AUC 0.94-0.95 on seeds 0 and 1 with this setting)."""
    ds = load_dataset("digits")
    order = np.random.default_rng(0).permutation(len(ds.x))
    members, nonmembers = ds.x[order[:64]], ds.x[order[64:264]]
    samples = np.repeat(members, 4, axis=0)
    attack = LoganBB(
        steps=400,
        arch="mlp",
        d_width=256,
        g_width=256,
        config_overrides={"train": {"lr_d": 1e-3, "lr_g": 1e-3}},
    ).fit(ThreatModel(samples=samples, seed=0))
    measured = auc(attack.score(members), attack.score(nonmembers))
    print(f"logan_bb AUC on copies of the members: {measured:.3f}")
    assert measured >= 0.75
