"""The non-saturating GAN objective of SPEC §3, against the equations computed independently."""

from __future__ import annotations

import math

import pytest
import torch

from ganguard.config import config_from_dict
from ganguard.methods import RandomStreams
from ganguard.methods.gan import GAN, discriminator_loss, generator_loss


def neg_log_sigmoid(x: float) -> float:
    """-ln σ(x) in float64, written from the definition σ(x) = 1 / (1 + e^-x)."""
    return -math.log(1.0 / (1.0 + math.exp(-x)))


def neg_log_one_minus_sigmoid(x: float) -> float:
    """-ln(1 - σ(x)) in float64."""
    return -math.log(1.0 - 1.0 / (1.0 + math.exp(-x)))


D_REAL = [2.0, -1.0, 0.5]
D_FAKE = [-3.0, 1.0]


def expected_loss_d(d_real: list[float], d_fake: list[float]) -> float:
    real = sum(neg_log_sigmoid(v) for v in d_real) / len(d_real)
    fake = sum(neg_log_one_minus_sigmoid(v) for v in d_fake) / len(d_fake)
    return real + fake


def expected_loss_g(d_gen: list[float]) -> float:
    return sum(neg_log_sigmoid(v) for v in d_gen) / len(d_gen)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_discriminator_loss_matches_the_equation(dtype: torch.dtype) -> None:
    got = discriminator_loss(torch.tensor(D_REAL, dtype=dtype), torch.tensor(D_FAKE, dtype=dtype))
    want = expected_loss_d(D_REAL, D_FAKE)
    assert want == pytest.approx(1.31901, abs=1e-5)  # worked by hand: 0.63809 + 0.68092
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert got.item() == pytest.approx(want, rel=tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_generator_loss_matches_the_non_saturating_equation(dtype: torch.dtype) -> None:
    got = generator_loss(torch.tensor(D_FAKE, dtype=dtype))
    want = expected_loss_g(D_FAKE)
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    assert got.item() == pytest.approx(want, rel=tol)
    # non-saturating, not the minimax form E[ln(1 - D(G(z)))]
    minimax = -sum(neg_log_one_minus_sigmoid(v) for v in D_FAKE) / len(D_FAKE)
    assert got.item() != pytest.approx(minimax, rel=1e-3)


def test_discriminator_loss_rewards_a_correct_discriminator() -> None:
    good = discriminator_loss(torch.tensor([5.0, 5.0]), torch.tensor([-5.0, -5.0]))
    bad = discriminator_loss(torch.tensor([-5.0, -5.0]), torch.tensor([5.0, 5.0]))
    assert good.item() < 0.02 < 10.0 < bad.item()


def test_losses_are_finite_for_extreme_logits() -> None:
    """±100 overflows σ-then-log in float32 (σ(-100) ≈ 4e-44); softplus stays exact."""
    d_real = torch.tensor([-100.0, 100.0], requires_grad=True)
    d_fake = torch.tensor([100.0, -100.0], requires_grad=True)
    loss_d = discriminator_loss(d_real, d_fake)
    # -ln σ(-100) = 100 + ln(1 + e^-100) ≈ 100 and -ln σ(100) ≈ 0, averaged over 2, twice
    assert loss_d.item() == pytest.approx(100.0, rel=1e-6)
    loss_d.backward()
    # d/dx softplus(-x) = -σ(-x), d/dx softplus(x) = σ(x); each averaged over 2 records
    assert torch.allclose(d_real.grad, torch.tensor([-0.5, 0.0]), atol=1e-6)
    assert torch.allclose(d_fake.grad, torch.tensor([0.5, 0.0]), atol=1e-6)

    d_gen = torch.tensor([-100.0, 100.0], requires_grad=True)
    loss_g = generator_loss(d_gen)
    assert loss_g.item() == pytest.approx(50.0, rel=1e-6)
    loss_g.backward()
    assert torch.isfinite(d_gen.grad).all()
    assert torch.allclose(d_gen.grad, torch.tensor([-0.5, 0.0]), atol=1e-6)

    # the naive form is not finite here, so the test does tell the two apart
    naive = -torch.log(1 - torch.sigmoid(torch.tensor([100.0])))
    assert not torch.isfinite(naive).all()


def test_a_gan_step_changes_both_networks(tiny_config: dict) -> None:
    config = config_from_dict(tiny_config)
    shape = (1, 8, 8)
    gan = GAN(config.method, config, shape, RandomStreams(config.seed))
    members = torch.rand(64, *shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    gan.attach_data(members, torch.empty(0, *shape))
    before = {
        name: {k: v.detach().clone() for k, v in module.named_parameters()}
        for name, module in gan.modules.items()
    }
    assert set(before) == {"generator", "discriminator"}

    logs = gan.step()

    assert math.isfinite(logs["loss_d"]) and math.isfinite(logs["loss_g"])
    for name, module in gan.modules.items():
        params = dict(module.named_parameters())
        assert params, name
        unchanged = [k for k, v in params.items() if torch.equal(v.detach(), before[name][k])]
        assert not unchanged, f"{name}: parameters {unchanged} did not change"
