"""LiRA for generators: the likelihood ratio on hand-made numbers, and the oracles of every shadow
attack on mnist-5k with oracle "generators" (a shadow that emits its own training records, or
noisy copies of them, and a discriminator that knows its training set), so no training is needed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from ganguard.attacks.base import Shadows, ThreatModel
from ganguard.attacks.lira import LiRADOMIAS, LiRAFBB, LiRAWB, likelihood_ratio
from ganguard.data import load_dataset
from ganguard.errors import GanguardError


def test_the_online_score_is_the_gaussian_likelihood_ratio() -> None:
    shadow = np.array([[1.0], [3.0], [10.0], [12.0]])  # in, in, out, out
    inside = np.array([[True], [True], [False], [False]])
    target = np.array([4.0])
    pooled = np.sqrt(((1 - 2) ** 2 + (3 - 2) ** 2) / 1)  # one record: its own spread, ddof 1
    want = stats.norm.logpdf(4, 2, pooled) - stats.norm.logpdf(4, 11, pooled)
    assert likelihood_ratio(target, shadow, inside)[0] == pytest.approx(want)
    # offline: no IN shadow; how far into the OUT distribution's upper tail the value lies
    out_only = likelihood_ratio(target, shadow[2:], inside[2:])
    assert out_only[0] == pytest.approx(-stats.norm.logsf((4 - 11) / np.sqrt(2)))


def test_global_variance_pools_the_records_per_record_does_not() -> None:
    rng = np.random.default_rng(0)
    inside = np.tile(np.array([[True], [False]]), (8, 3))  # 8 IN and 8 OUT per record
    shadow = np.where(inside, 1.0, 0.0) + rng.normal(0, [0.1, 1.0, 3.0], (16, 3))
    target = np.array([1.0, 1.0, 1.0])
    pooled = likelihood_ratio(target, shadow, inside)
    own = likelihood_ratio(target, shadow, inside, per_record=True)
    # per record, the noisy third record's ratio is small; pooled, the records are alike
    assert own[2] < own[0] and abs(pooled[0] - pooled[2]) < abs(own[0] - own[2])


N_SHADOWS = 8


@pytest.fixture(scope="module")
def world():
    """mnist-5k: 200 members, 200 holdout, R of 800; a population of R and the 400 candidates,
    each candidate in exactly half of 8 shadows, each shadow on 200 records."""
    x = load_dataset("mnist-5k").x
    order = np.random.default_rng(0).permutation(len(x))
    members, holdout, reference = x[order[:200]], x[order[200:400]], x[order[400:1200]]
    candidates = np.concatenate([members, holdout])
    population = np.concatenate([reference, candidates])
    rng = np.random.default_rng(1)
    inclusion = np.zeros((N_SHADOWS, len(population)), bool)
    for c in range(len(candidates)):
        inclusion[rng.permutation(N_SHADOWS)[: N_SHADOWS // 2], len(reference) + c] = True
    for i in range(N_SHADOWS):
        fill = 200 - inclusion[i].sum()
        inclusion[i, rng.permutation(len(reference))[:fill]] = True
    return members, candidates, reference, population, inclusion


def _memoriser(training: np.ndarray, noise: float, seed: int, reference: np.ndarray) -> ThreatModel:
    """An overfit model of `training`: its samples are (noisy) copies of its training records,
    its discriminator minus the distance to the nearest of them."""
    rng = np.random.default_rng(seed)
    samples = np.repeat(training, 5, axis=0)
    samples = (samples + rng.normal(0, noise, samples.shape)).astype(np.float32)
    flat = training.reshape(len(training), -1)

    def discriminator(v: np.ndarray) -> np.ndarray:
        d = ((v.reshape(len(v), 1, -1) - flat[None]) ** 2).sum(-1).min(1)
        return -np.sqrt(d)

    return ThreatModel(samples=samples, discriminator=discriminator, reference=reference, seed=0)


def _shadows(world, noise: float) -> Shadows:
    _, _, reference, population, inclusion = world
    views = lambda i: _memoriser(population[inclusion[i]], noise, i, reference)  # noqa: E731
    return Shadows(N_SHADOWS, population, inclusion, "online", views)


@pytest.mark.parametrize("cls", [LiRAWB, LiRAFBB, LiRADOMIAS], ids=lambda c: c.name)
@pytest.mark.parametrize("target_kind", ["members", "noisy copies", "fresh records"])
def test_shadow_attack_oracles(cls, target_kind: str, world) -> None:
    members, candidates, reference, _, _ = world
    noise = 0.1 if target_kind == "noisy copies" else 0.0
    if target_kind == "fresh records":
        fresh = load_dataset("mnist-5k").x[np.random.default_rng(0).permutation(5000)[2000:2200]]
        target = _memoriser(fresh, 0.0, 99, reference)
    else:
        target = _memoriser(members, noise, 99, reference)
    target.shadows = _shadows(world, noise)
    scores = cls().fit(target).score(candidates)
    labels = np.r_[np.ones(200), np.zeros(200)]
    auc = roc_auc_score(labels, scores)
    print(f"{cls.name} AUC on {target_kind}: {auc:.3f}")
    if target_kind == "fresh records":
        boot = np.random.default_rng(0)
        aucs = [roc_auc_score(labels[i], scores[i]) for i in
                (boot.integers(0, 400, 400) for _ in range(200))]  # fmt: skip
        assert np.percentile(aucs, 2.5) <= 0.5 <= np.percentile(aucs, 97.5)
    else:
        assert auc >= 0.99


def test_a_shadow_attack_needs_shadows_and_two_of_them(world) -> None:
    members, _, reference, population, inclusion = world
    with pytest.raises(GanguardError, match="needs shadows"):
        LiRAFBB().fit(_memoriser(members, 0.0, 0, reference))
    threat = _memoriser(members, 0.0, 0, reference)
    threat.shadows = Shadows(1, population, inclusion[:1], "online", lambda i: threat)
    with pytest.raises(GanguardError, match="at least 2 shadow models"):
        LiRAFBB().fit(threat)
