"""GAN-Leaks white box: latent optimisation against toy differentiable generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganguard.attacks.base import GENERATOR, Generator, ThreatModel
from ganguard.attacks.latent import GanLeaksWB
from ganguard.errors import GanguardError

LAMBDA = 1e-3


def toy_generator(z_dim: int = 4, seed: int = 0) -> Generator:
    """A fixed random linear map z -> 16 values, tanh, shaped as 1x4x4 records."""
    w = torch.randn(16, z_dim, generator=torch.Generator().manual_seed(seed)) / 2
    return Generator(lambda z: torch.tanh(z @ w.T).view(len(z), 1, 4, 4), z_dim)


def wiggly_generator(seed: int = 1) -> Generator:
    """sin(4 W z), z_dim 2: many local minima, so one random start usually lands in a wrong one."""
    w = torch.randn(16, 2, generator=torch.Generator().manual_seed(seed))
    return Generator(lambda z: torch.sin(4 * z @ w.T).view(len(z), 1, 4, 4), 2)


def on_manifold(gen: Generator, n: int, seed: int) -> tuple[np.ndarray, torch.Tensor]:
    z = torch.randn(n, gen.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return gen.fn(z).numpy(), z


def test_settings_have_their_defaults() -> None:
    attack = GanLeaksWB()
    assert attack.name == "ganleaks_wb"
    assert attack.needs == frozenset({GENERATOR})
    assert attack.settings == {
        "optimizer": "adam",
        "lr": 0.05,
        "iterations": 200,
        "restarts": 3,
        "lambda_z": 0.001,
        "batch_size": 256,
        "seed": None,
        "device": None,
    }
    assert GanLeaksWB(optimizer="lbfgs").settings["lr"] == 1.0
    for bad in ({"optimizer": "sgd"}, {"restarts": 0}, {"lr": -1.0}, {"batch_size": 0}):
        with pytest.raises(GanguardError, match="ganleaks_wb"):
            GanLeaksWB(**bad)
    with pytest.raises(GanguardError, match="generator"):
        attack.fit(ThreatModel(samples=np.zeros((2, 1, 4, 4), np.float32)))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_records_the_generator_makes_score_near_the_latent_prior(optimizer: str) -> None:
    gen = toy_generator()
    made, z_star = on_manifold(gen, 10, seed=1)
    noise = np.random.default_rng(0).uniform(-1, 1, size=(10, 1, 4, 4)).astype(np.float32)
    attack = GanLeaksWB(optimizer=optimizer, lambda_z=LAMBDA).fit(ThreatModel(generator=gen))
    s_made, s_noise = attack.score(made), attack.score(noise)
    prior = -LAMBDA * z_star.pow(2).sum(1).numpy()
    # min_z <= the objective at z*: the score is at least -λ‖z*‖², and ≈ it (the distance ≈ 0)
    assert np.all(s_made >= prior - 1e-5)
    np.testing.assert_allclose(s_made, prior, atol=2e-4)
    assert np.all(attack.extra_scores(made)["reconstruction"] > -2e-4)
    assert s_made.min() > s_noise.max() + 0.5
    assert np.all(s_noise <= attack.extra_scores(noise)["reconstruction"])


def test_restarts_seeded_from_the_samples_latents_beat_random_ones() -> None:
    gen = wiggly_generator()
    made, z_star = on_manifold(gen, 20, seed=2)
    near = z_star + 0.05 * torch.randn(20, 2, generator=torch.Generator().manual_seed(3))
    pool_z = torch.cat([torch.randn(500, 2, generator=torch.Generator().manual_seed(4)), near])
    with torch.no_grad():
        pool = gen.fn(pool_z).numpy()
    prior = -LAMBDA * z_star.pow(2).sum(1).numpy()
    kw = {"restarts": 1, "iterations": 150, "lambda_z": LAMBDA}
    seeded = GanLeaksWB(**kw).fit(
        ThreatModel(generator=gen, samples=pool, samples_z=pool_z.numpy())
    )
    unseeded = GanLeaksWB(**kw).fit(ThreatModel(generator=gen))
    s_seeded, s_random = seeded.score(made), unseeded.score(made)
    np.testing.assert_allclose(s_seeded, prior, atol=1e-3)  # every candidate found
    missed = s_random < prior - 0.1  # random starts stuck in a local minimum
    assert missed.sum() >= 10
    assert np.all(s_seeded >= s_random - 1e-4)


def test_batches_do_not_change_the_scores_and_short_pools_are_filled() -> None:
    gen = toy_generator()
    made, _ = on_manifold(gen, 9, seed=5)
    pool, pool_z = on_manifold(gen, 40, seed=6)
    threat = ThreatModel(generator=gen, samples=pool, samples_z=pool_z.numpy())
    whole = GanLeaksWB(iterations=30).fit(threat).score(made)
    batched = GanLeaksWB(iterations=30, batch_size=2).fit(threat).score(made)
    np.testing.assert_allclose(whole, batched, rtol=1e-4, atol=1e-6)
    # two generated samples for three restarts: the third start is random
    short = ThreatModel(generator=gen, samples=pool[:2], samples_z=pool_z[:2].numpy())
    assert np.isfinite(GanLeaksWB(iterations=5).fit(short).score(made)).all()
    with pytest.raises(GanguardError, match="samples_z"):
        GanLeaksWB().fit(ThreatModel(generator=gen, samples=pool, samples_z=pool_z[:3].numpy()))


def test_no_gradient_reaches_the_generator_and_iterations_zero_scores_the_start() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh())
    gen = Generator(lambda z: net(z).view(len(z), 1, 4, 4), 3)
    made, _ = on_manifold(gen, 5, seed=7)
    GanLeaksWB(iterations=10).fit(ThreatModel(generator=gen)).score(made)
    GanLeaksWB(optimizer="lbfgs", iterations=10).fit(ThreatModel(generator=gen)).score(made)
    assert all(p.grad is None for p in net.parameters())
    # with no iterations, the score is the best start: here the generated sample itself
    pool, pool_z = on_manifold(gen, 30, seed=7)
    threat = ThreatModel(generator=gen, samples=pool, samples_z=pool_z.numpy())
    start = GanLeaksWB(iterations=0, restarts=1).fit(threat).score(pool[:5])
    np.testing.assert_allclose(start, -LAMBDA * pool_z[:5].pow(2).sum(1).numpy(), rtol=1e-5)
    with pytest.raises(GanguardError, match="do not match"):
        GanLeaksWB(iterations=1).fit(ThreatModel(generator=gen)).score(
            np.zeros((2, 1, 3, 3), np.float32)
        )

