"""MEGAN (SPEC §3): the entropy and membership-critic terms; λ = 0 gives the GAN bit for bit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.methods.megan import (
    LN2,
    binary_entropy_from_logit,
    membership_cross_entropy,
)
from ganguard.train import train


def test_binary_entropy_matches_its_definition() -> None:
    d = torch.linspace(-20, 20, 161, dtype=torch.float64)
    p = 1.0 / (1.0 + torch.exp(-d))
    q = 1.0 / (1.0 + torch.exp(d))  # 1 - p, without the cancellation
    want = -p * torch.log(p) - q * torch.log(q)
    got = binary_entropy_from_logit(d)
    assert got.dtype == torch.float64
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-14)
    assert binary_entropy_from_logit(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(
        math.log(2), abs=1e-15
    )
    # the maximum is at d = 0 and h is symmetric
    assert got.argmax().item() == 80
    assert torch.allclose(got, got.flip(0))


def test_binary_entropy_is_finite_and_tiny_for_extreme_logits() -> None:
    d = torch.tensor([-100.0, 100.0, -1000.0, 1000.0], requires_grad=True)
    h = binary_entropy_from_logit(d)
    assert torch.isfinite(h).all()
    assert (h >= 0).all() and (h < 1e-30).all()
    h.sum().backward()
    assert torch.isfinite(d.grad).all()


class Constant(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x))


def fano_penalty(ce: torch.Tensor) -> torch.Tensor:
    return torch.clamp(LN2 - ce, min=0.0)


def test_membership_cross_entropy_of_an_uninformed_critic_is_ln2() -> None:
    members = torch.randn(7, 1)
    reference = torch.randn(5, 1)
    ce = membership_cross_entropy(Constant(), members, reference)
    assert ce.item() == pytest.approx(math.log(2), abs=1e-7)
    assert fano_penalty(ce).item() == 0.0


def test_membership_cross_entropy_of_a_separating_critic_is_near_zero() -> None:
    critic = nn.Sequential(nn.Linear(1, 1), nn.Flatten(0))
    with torch.no_grad():
        critic[0].weight.fill_(50.0)
        critic[0].bias.zero_()
    members = torch.ones(6, 1)
    reference = -torch.ones(4, 1)
    ce = membership_cross_entropy(critic, members, reference)
    assert ce.item() < 1e-12
    assert fano_penalty(ce).item() == pytest.approx(math.log(2), abs=1e-6)
    # a critic that is sure the other way round pays the full cross-entropy
    ce_wrong = membership_cross_entropy(critic, reference, members)
    assert ce_wrong.item() == pytest.approx(50.0, rel=1e-6)
    assert fano_penalty(ce_wrong).item() == 0.0


def test_membership_cross_entropy_is_the_balanced_bce() -> None:
    critic = nn.Sequential(nn.Linear(1, 1), nn.Flatten(0)).double()
    with torch.no_grad():
        critic[0].weight.fill_(1.5)
        critic[0].bias.fill_(-0.25)
    members = torch.tensor([[0.3], [-1.0], [2.0]], dtype=torch.float64)
    reference = torch.tensor([[0.1], [-2.0]], dtype=torch.float64)
    a = [1.5 * v - 0.25 for v in (0.3, -1.0, 2.0)]
    b = [1.5 * v - 0.25 for v in (0.1, -2.0)]
    on_members = sum(-math.log(1 / (1 + math.exp(-v))) for v in a) / 3
    on_reference = sum(-math.log(1 - 1 / (1 + math.exp(-v))) for v in b) / 2
    want = 0.5 * (on_members + on_reference)
    assert membership_cross_entropy(critic, members, reference).item() == pytest.approx(
        want, rel=1e-12
    )


# -- λ = 0 is the GAN, bit for bit ------------------------------------------------------------


def weights(run) -> dict[str, dict[str, torch.Tensor]]:  # noqa: ANN001
    return {
        name: run.method.modules[name].state_dict() for name in ("generator", "discriminator")
    }


def assert_same_weights(a: dict, b: dict) -> None:
    for name in a:
        assert a[name].keys() == b[name].keys()
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key} differs"


def differing(a: dict, b: dict, name: str) -> list[str]:
    return [k for k in a[name] if not torch.equal(a[name][k], b[name][k])]


MEGAN_LAM0 = {
    "fano": {"name": "megan", "lam": 0.0, "mode": "fano", "critic_input": "logit"},
    "fano_features": {"name": "megan", "lam": 0.0, "mode": "fano", "critic_input": "features",
                      "critic_steps": 2},  # fmt: skip
    "entropy_members": {"name": "megan", "lam": 0.0, "mode": "entropy", "entropy_on": "members"},
    "entropy_all": {"name": "megan", "lam": 0.0, "mode": "entropy", "entropy_on": "all"},
    "fano_own_batch": {"name": "megan", "lam": 0.0, "mode": "fano", "critic_batch": 48},
    "fano_step_batch": {"name": "megan", "lam": 0.0, "mode": "fano", "critic_batch": None},
}


@pytest.mark.parametrize("variant", list(MEGAN_LAM0))
def test_megan_with_lambda_zero_is_the_gan_bit_for_bit(
    variant: str, gan_run, tiny_config: dict, tmp_path: Path
) -> None:
    _, gan = gan_run
    tiny_config["method"] = MEGAN_LAM0[variant]
    megan = train(tiny_config, tmp_path / "megan")
    assert type(megan.method).__name__ == "MEGAN"
    assert megan.step == gan.step == 20
    assert_same_weights(weights(gan), weights(megan))


@pytest.mark.parametrize(
    "method",
    [
        {"name": "megan", "lam": 5.0, "mode": "fano"},
        {"name": "megan", "lam": 5.0, "mode": "entropy", "entropy_on": "all"},
    ],
    ids=["fano", "entropy"],
)
def test_megan_with_positive_lambda_changes_the_discriminator(
    method: dict, gan_run, tiny_config: dict, tmp_path: Path
) -> None:
    """So the λ = 0 comparison above is not vacuous: the term does reach D's weights."""
    _, gan = gan_run
    tiny_config["method"] = method
    megan = train(tiny_config, tmp_path / "megan")
    a, b = weights(gan), weights(megan)
    assert differing(a, b, "discriminator"), "λ = 5 left every discriminator weight unchanged"


def test_megan_fano_needs_reference_records(tiny_config: dict, tmp_path: Path) -> None:
    tiny_config["data"]["n_reference"] = 0
    tiny_config["method"] = {"name": "megan", "lam": 1.0, "mode": "fano"}
    with pytest.raises(GanguardError, match="n_reference"):
        train(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_defaults_are_the_benchmarks_setting_and_null_keeps_the_step_batch() -> None:
    opt = config_from_dict({"method": {"name": "megan"}}).method
    assert (opt.mode, opt.lam, opt.critic_input) == ("fano", 50.0, "features")
    assert opt.critic_batch == 256
    # the benchmark's older settings pin null (the step's own batch) to stay what they ran
    pinned = config_from_dict({"method": {"name": "megan", "critic_batch": None}}).method
    assert pinned.critic_batch is None


def test_the_critic_sees_a_batch_of_its_own_size(tiny_config: dict, tmp_path: Path) -> None:
    tiny_config["method"] = {"name": "megan", "lam": 5.0, "critic_batch": 48}
    tiny_config["train"]["steps"] = 1
    method = train(tiny_config, tmp_path / "run").method
    seen: list[tuple[int, ...]] = []
    method.fano.critic.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
    method.step()
    feature_dim = method.discriminator.feature_dim
    assert seen and set(seen) == {(48, feature_dim)}  # members and reference records alike


@pytest.mark.parametrize("key", ["reference_gradient", "unseen_reference_lam"])
def test_a_removed_option_is_one_line_that_says_so(key: str) -> None:
    with pytest.raises(GanguardError, match=rf"^config key method\.{key}: removed: ") as info:
        config_from_dict({"method": {"name": "megan", key: 0.5}})
    assert "\n" not in str(info.value)
