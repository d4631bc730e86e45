"""MIMGAN (SPEC §3): the soft nearest-neighbour distance, the DV / NWJ bounds, a critic that
finds leakage when there is some and none when there is none, and β = 0 giving the GAN bit for
bit."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import ganguard.methods.mimgan  # noqa: F401  (registers the method before configs name it)
from ganguard.config import config_from_dict
from ganguard.data import load_dataset
from ganguard.data.split import make_split
from ganguard.errors import GanguardError
from ganguard.methods import RandomStreams
from ganguard.methods.mimgan import (
    MIMGAN,
    leakage_estimate,
    soft_min_distance,
)
from ganguard.runs import latest_checkpoint
from ganguard.train import train

# -- δ: the soft nearest-neighbour squared distance ---------------------------------------------


def test_soft_min_distance_matches_the_formula_on_a_hand_made_case() -> None:
    v = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    # squared distances: row 0 -> 1, 4, 2; row 1 -> 1, 2, 0
    tau = 0.5
    want = [
        -tau * math.log(math.exp(-1 / tau) + math.exp(-4 / tau) + math.exp(-2 / tau)),
        -tau * math.log(math.exp(-1 / tau) + math.exp(-2 / tau) + math.exp(0.0)),
    ]
    got = soft_min_distance(v, x, tau)
    assert got.shape == (2,)
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    # images are flattened: the same records as 1x1x2 images give the same δ
    assert torch.equal(soft_min_distance(v.view(2, 1, 1, 2), x.view(3, 1, 1, 2), tau), got)


def test_soft_min_distance_tends_to_the_true_minimum_as_tau_goes_to_zero() -> None:
    g = torch.Generator().manual_seed(0)
    v = torch.rand(20, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    x = torch.rand(30, 1, 8, 8, generator=g, dtype=torch.float64) * 2 - 1
    true_min = torch.cdist(v.flatten(1), x.flatten(1)).pow(2).min(1).values
    gaps = []
    for tau in (10.0, 1.0, 0.1, 1e-3, 1e-6):
        delta = soft_min_distance(v, x, tau)
        # a soft minimum: below the true one by at most τ·ln|X|
        assert (delta <= true_min + 1e-9).all()
        assert (delta >= true_min - tau * math.log(len(x)) - 1e-9).all()
        gaps.append((true_min - delta).max().item())
    assert gaps == sorted(gaps, reverse=True)
    assert gaps[-1] < 1e-5


def test_soft_min_distance_of_a_copied_record_is_zero_and_differentiable() -> None:
    x = torch.tensor([[0.5, -0.5], [3.0, 3.0]], requires_grad=True)
    delta = soft_min_distance(x[:1].detach(), x, tau=0.01)
    assert delta.item() == pytest.approx(0.0, abs=1e-6)
    delta.sum().backward()
    assert torch.isfinite(x.grad).all()


# -- Î: the Donsker–Varadhan and NWJ bounds ------------------------------------------------------


class Affine(nn.Module):
    """A hand-made critic T(δ) = a·δ + b."""

    def __init__(self, a: float, b: float):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        return self.a * delta + self.b


DELTA_S = [0.1, -0.4, 0.7]
DELTA_R = [1.2, 0.3, -0.2, 0.9]


def t(values: list[float], a: float, b: float) -> list[float]:
    return [a * v + b for v in values]


@pytest.mark.parametrize("a,b", [(2.0, 0.5), (-1.5, 0.0), (0.0, 3.0)])
def test_dv_and_nwj_estimates_equal_their_formulas(a: float, b: float) -> None:
    critic = Affine(a, b)
    s = torch.tensor(DELTA_S, dtype=torch.float64)
    r = torch.tensor(DELTA_R, dtype=torch.float64)
    t_s, t_r = t(DELTA_S, a, b), t(DELTA_R, a, b)
    mean_s = sum(t_s) / len(t_s)
    dv = mean_s - math.log(sum(math.exp(v) for v in t_r) / len(t_r))
    nwj = mean_s - sum(math.exp(v - 1) for v in t_r) / len(t_r)
    assert leakage_estimate(critic, s, r, "dv").item() == pytest.approx(dv, rel=1e-12, abs=1e-15)
    assert leakage_estimate(critic, s, r, "nwj").item() == pytest.approx(nwj, rel=1e-12)


def test_a_constant_critic_measures_no_leakage() -> None:
    s, r = torch.tensor(DELTA_S), torch.tensor(DELTA_R)
    # DV ignores a constant shift of T; NWJ is tight at T ≡ 1
    assert leakage_estimate(Affine(0.0, 7.0), s, r, "dv").item() == pytest.approx(0.0, abs=1e-6)
    assert leakage_estimate(Affine(0.0, 1.0), s, r, "nwj").item() == pytest.approx(0.0, abs=1e-7)


def test_dv_is_finite_for_large_critic_outputs() -> None:
    s, r = torch.tensor(DELTA_S), torch.tensor(DELTA_R)
    est = leakage_estimate(Affine(1000.0, 0.0), s, r, "dv")  # e^1200 overflows float32
    want = 1000 * sum(DELTA_S) / 3 - (1000 * 1.2 - math.log(4))  # the largest term dominates
    assert est.item() == pytest.approx(want, rel=1e-5)


# -- the critic finds leakage, and only leakage ------------------------------------------------


def digits_mimgan() -> tuple[MIMGAN, dict[str, torch.Tensor]]:
    """An untrained MIMGAN on `digits` (64 members, critic batches of 64) and the data parts."""
    config = config_from_dict(
        {
            "data": {
                "name": "digits",
                "n_members": 64,
                "n_holdout": 64,
                "n_reference": 512,
                "n_test": 512,
            },
            "model": {"arch": "mlp", "z_dim": 8, "g_width": 16, "d_width": 16, "depth": 1},
            "train": {"batch_size": 64},
            "method": {"name": "mimgan"},
        }
    )
    d = config.data
    ds = load_dataset(d.name)
    split = make_split(ds, d.n_members, d.n_holdout, d.n_reference, d.n_test, d.seed)
    x = torch.from_numpy(ds.x)
    parts = {"members": x[split.members], "reference": x[split.reference], "test": x[split.test]}
    method = MIMGAN(config.method, config, ds.shape, RandomStreams(config.seed))
    method.attach_data(parts["members"], parts["reference"])
    return method, parts


def held_out_estimate(method: MIMGAN, generated: torch.Tensor, n: int = 50) -> float:
    """Î of the current critic averaged over n member / reference batches it was not trained on."""
    with torch.no_grad():
        values = [
            leakage_estimate(method.critic, *method.leakage_inputs(generated), "dv").item()
            for _ in range(n)
        ]
    return sum(values) / n


def critic_run(pool: str, steps: int = 300) -> tuple[float, float]:
    """Train the critic against a FIXED "generator" whose batches X̃ are drawn from `pool` (the
    members, or fresh test records); returns Î averaged over the last 100 critic steps and over
    50 batches the critic was not trained on."""
    method, parts = digits_mimgan()
    source = parts[pool]
    g = torch.Generator().manual_seed(1)

    def generated() -> torch.Tensor:
        return source[torch.randint(len(source), (64,), generator=g)]

    trained = [method.update_critic(*method.leakage_inputs(generated())) for _ in range(steps)]
    held_out = sum(held_out_estimate(method, generated(), n=1) for _ in range(50)) / 50
    return sum(trained[-100:]) / 100, held_out


def test_the_critic_finds_a_generator_that_copies_members() -> None:
    trained, held_out = critic_run("members")
    print(f"copying generator: Î = {trained:.3f} (training batches), {held_out:.3f} (new batches)")
    assert trained > 0.3
    assert held_out > 0.3


def test_the_critic_finds_nothing_in_a_generator_of_fresh_records() -> None:
    trained, held_out = critic_run("test")
    print(f"fresh generator: Î = {trained:.4f} (training batches), {held_out:.4f} (new batches)")
    assert abs(trained) < 0.05
    assert abs(held_out) < 0.05


def test_the_penalty_gradient_moves_samples_to_leak_less() -> None:
    """Against a trained (then fixed) critic, descending Î moves near-copies of the members so
    that the critic sees less leakage: the gradient reaches X̃ through δ, with the right sign."""
    method, parts = digits_mimgan()
    noise = torch.randn(64, *parts["members"].shape[1:], generator=torch.Generator().manual_seed(2))
    near_copies = (parts["members"] + 0.3 * noise).clamp(-1, 1)
    for _ in range(200):
        method.update_critic(*method.leakage_inputs(near_copies))
    before = held_out_estimate(method, near_copies)
    assert before > 0.3
    samples = near_copies.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([samples], lr=0.02)
    for _ in range(10):
        mi = leakage_estimate(method.critic, *method.leakage_inputs(samples), "dv")
        optimizer.zero_grad()
        mi.backward()
        optimizer.step()
    after = held_out_estimate(method, samples.detach())
    print(f"near copies: Î = {before:.3f} before, {after:.3f} after 10 descent steps on X̃")
    assert after < before - 0.3


# -- training: β = 0 is the GAN bit for bit ------------------------------------------------------


def weights(run) -> dict[str, dict[str, torch.Tensor]]:  # noqa: ANN001
    return {n: run.method.modules[n].state_dict() for n in ("generator", "discriminator")}


def differing(a: dict, b: dict, name: str) -> list[str]:
    assert a[name].keys() == b[name].keys()
    return [k for k in a[name] if not torch.equal(a[name][k], b[name][k])]


BETA0 = {
    "pixels": {"features": "pixels"},
    "discriminator": {"features": "discriminator"},
    # every other option at a non-default value, so none of them can reach G or D either
    "nwj": {"features": "discriminator", "estimator": "nwj", "critic_steps": 3, "tau": 2.0},
    "dv": {"critic_steps": 2, "critic_hidden": 8, "critic_lr": 1e-2},
}


@pytest.mark.parametrize("variant", list(BETA0))
def test_mimgan_with_beta_zero_is_the_gan_bit_for_bit(
    variant: str, gan_run, tiny_config: dict, tmp_path: Path
) -> None:
    """With the discriminator term off too (its default is on: see the test below)."""
    _, gan = gan_run
    tiny_config["method"] = {"name": "mimgan", "beta": 0.0, "discriminator_lam": 0.0,
                             **BETA0[variant]}  # fmt: skip
    mim = train(tiny_config, tmp_path / "mim")
    assert type(mim.method).__name__ == "MIMGAN"
    assert mim.step == gan.step == 20
    a, b = weights(gan), weights(mim)
    for name in ("generator", "discriminator"):
        assert not differing(a, b, name), f"{name} differs from the GAN's"


MIM_ON = {"name": "mimgan", "beta": 5.0}


def test_mimgan_with_beta_zero_and_a_discriminator_term_is_megan_bit_for_bit(
    tiny_config: dict, tmp_path: Path
) -> None:
    """discriminator_lam adds exactly MEGAN's fano term (its defaults) to ℓ_D."""
    tiny_config["method"] = {"name": "mimgan", "beta": 0.0, "discriminator_lam": 5.0}
    mim = train(tiny_config, tmp_path / "mim")
    tiny_config["method"] = {"name": "megan", "lam": 5.0}
    megan = train(tiny_config, tmp_path / "megan")
    a, b = weights(mim), weights(megan)
    for name in ("generator", "discriminator"):
        assert not differing(a, b, name), f"{name} differs from MEGAN's"
    assert "membership_critic" in mim.method.modules


def test_the_discriminator_term_s_critic_sees_its_own_batch_size(
    tiny_config: dict, tmp_path: Path
) -> None:
    tiny_config["method"] = {"name": "mimgan", "discriminator_lam": 5.0, "critic_batch": 40}
    tiny_config["train"]["steps"] = 1
    method = train(tiny_config, tmp_path / "run").method
    seen: list[tuple[int, ...]] = []
    method.fano.critic.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
    method.step()
    assert seen and set(seen) == {(40, method.discriminator.feature_dim)}


def test_mimgan_with_positive_beta_changes_the_generator_and_logs_mi(
    gan_run, tiny_config: dict, tmp_path: Path
) -> None:
    """So the β = 0 comparison is not vacuous: the penalty does reach G."""
    _, gan = gan_run
    tiny_config["method"] = dict(MIM_ON)
    mim = train(tiny_config, tmp_path / "mim")
    assert differing(weights(gan), weights(mim), "generator")
    lines = [json.loads(s) for s in (tmp_path / "mim" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [5, 10, 15, 20]
    assert all(math.isfinite(line["mi"]) for line in lines)


def test_mimgan_resumes_bit_exact_with_its_critics(
    tiny_config: dict, tmp_path: Path
) -> None:
    tiny_config["method"] = dict(MIM_ON)
    train(tiny_config, tmp_path / "straight")
    halves = copy.deepcopy(tiny_config)
    halves["train"]["steps"] = 10
    train(halves, tmp_path / "halves")
    resumed = train(tiny_config, tmp_path / "halves", resume=True)
    assert resumed.step == 20
    a = load_file(str(latest_checkpoint(tmp_path / "straight") / "weights.safetensors"))
    b = load_file(str(latest_checkpoint(tmp_path / "halves") / "weights.safetensors"))
    assert any(k.startswith("/method/modules/mim_critic/") for k in a)
    assert any(k.startswith("/method/modules/membership_critic/") for k in a)
    assert a.keys() == b.keys()
    assert not [k for k in a if k.startswith("/method/") and not torch.equal(a[k], b[k])]


# -- options and errors -------------------------------------------------------------------------


def test_options_have_documented_defaults_and_are_validated() -> None:
    opt = config_from_dict({"method": {"name": "mimgan"}}).method
    assert (opt.beta, opt.tau, opt.estimator, opt.critic_steps, opt.features) == (
        0.1, 0.05, "dv", 1, "pixels",
    )  # fmt: skip
    assert (opt.critic_hidden, opt.critic_lr) == (32, 1e-3)
    assert opt.discriminator_lam == 50.0 and opt.critic_batch == 256
    for key, bad in [("tau", 0), ("beta", -1), ("estimator", "js"), ("critic_steps", 0),
                     ("critic_batch", 0), ("unknown", 1)]:  # fmt: skip
        with pytest.raises(GanguardError, match=f"method.{key}"):
            config_from_dict({"method": {"name": "mimgan", key: bad}})


@pytest.mark.parametrize("key", ["penalty", "mine_ema", "n_critic_batch",
                                 "discriminator_critic_batch"])  # fmt: skip
def test_a_removed_option_is_one_line_that_says_so(key: str) -> None:
    with pytest.raises(GanguardError) as info:
        config_from_dict({"method": {"name": "mimgan", key: 1}})
    message = str(info.value)
    assert message.startswith(f"config key method.{key}: ") and "\n" not in message
    why = "renamed to method.critic_batch" if key.startswith("discriminator") else "removed: "
    assert why in message


def test_mimgan_needs_reference_records(tiny_config: dict, tmp_path: Path) -> None:
    tiny_config["data"]["n_reference"] = 0
    tiny_config["method"] = {"name": "mimgan"}
    with pytest.raises(GanguardError, match="n_reference"):
        train(tiny_config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
