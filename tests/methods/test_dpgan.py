"""DP-GAN (SPEC §3): DP-SGD on the discriminator through Opacus, its privacy accounting against
Opacus's own accountants, resume, and the refusals (over budget, spectral norm, bad options)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
from opacus.accountants import PRVAccountant, RDPAccountant
from opacus.accountants.utils import get_noise_multiplier

import ganguard.methods.dpgan  # noqa: F401  (registers the method)
from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.methods.dpgan import DPGAN
from ganguard.runs import build_method, latest_checkpoint, load_checkpoint
from ganguard.train import train

SIGMA = 1.0
N_MEMBERS, BATCH = 64, 16  # the tiny config: q = 1/4, δ = 1/640
Q, DELTA = BATCH / N_MEMBERS, 1 / (10 * N_MEMBERS)


def dp_config(tiny: dict, **method) -> dict:
    config = copy.deepcopy(tiny)
    config["model"]["spectral_norm"] = False
    config["method"] = {"name": "dpgan", **(method or {"noise_multiplier": SIGMA})}
    return config


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def checkpoint_tensors(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(latest_checkpoint(run_dir) / "weights.safetensors"))


def opacus_epsilon(steps: int, sigma: float = SIGMA, accountant=RDPAccountant) -> float:  # noqa: ANN001
    acc = accountant()
    for _ in range(steps):
        acc.step(noise_multiplier=sigma, sample_rate=Q)
    return acc.get_epsilon(delta=DELTA)


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny config trained 20 steps as DP-GAN with σ = 1: (run directory, Run)."""
    from conftest import TINY

    out = tmp_path_factory.mktemp("dpgan") / "run"
    return out, train(dp_config(TINY), out)


def method_for(config: dict, shape: tuple[int, ...] = (1, 8, 8), n: int = N_MEMBERS) -> DPGAN:
    method = build_method(config_from_dict(config), shape)
    method.attach_data(torch.rand(n, *shape) * 2 - 1, torch.empty(0, *shape))
    return method


# -- accounting -------------------------------------------------------------------------------


def test_epsilon_is_logged_at_every_line_and_matches_opacus(dp_run) -> None:
    run_dir, run = dp_run
    lines = metrics(run_dir)
    assert [line["step"] for line in lines] == [5, 10, 15, 20]
    eps = [line["epsilon"] for line in lines]
    assert all(a < b for a, b in zip(eps, eps[1:], strict=False)), eps
    for line in lines:
        assert line["delta"] == pytest.approx(DELTA, rel=1e-12)
        assert line["epsilon"] == pytest.approx(opacus_epsilon(line["step"]), abs=1e-6)
    # the final ε, against Opacus's own accountant stepped 20 times with σ = 1, q = 1/4
    want = opacus_epsilon(20)
    assert eps[-1] == pytest.approx(want, abs=1e-6)
    assert run.method.status()["epsilon"] == pytest.approx(want, abs=1e-6)
    # and in the checkpoint's JSON, with the accountant's history
    _, state = load_checkpoint(latest_checkpoint(run_dir))
    extra = state["method"]["extra"]
    assert extra["epsilon"] == pytest.approx(want, abs=1e-6)
    assert extra["history"] == [[SIGMA, Q, 20]]
    assert extra["accountant"] == "rdp"


def test_target_epsilon_is_spent_and_more_steps_are_refused(
    tiny_config: dict, tmp_path: Path
) -> None:
    config = dp_config(tiny_config, target_epsilon=4.0)
    out = tmp_path / "run"
    run = train(config, out)
    sigma = get_noise_multiplier(target_epsilon=4.0, target_delta=DELTA, sample_rate=Q, steps=20)
    assert run.method.dp_optimizer.noise_multiplier == sigma
    final = metrics(out)[-1]["epsilon"]
    assert final == pytest.approx(opacus_epsilon(20, sigma), abs=1e-6)
    assert 4.0 - 0.02 <= final <= 4.0

    # resuming with twice the steps would overspend: refused before any step is taken
    before = checkpoint_tensors(out)
    config["train"]["steps"] = 40
    with pytest.raises(GanguardError, match=r"would spend ε = [\d.]+ > target_epsilon = 4"):
        train(config, out, resume=True)
    assert latest_checkpoint(out).name == "step_0000020"
    after = checkpoint_tensors(out)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_prv_accountant_matches_opacus(tiny_config: dict) -> None:
    method = method_for(dp_config(tiny_config, noise_multiplier=SIGMA, accountant="prv"))
    for _ in range(3):
        method.step()
    assert method.status()["epsilon"] == pytest.approx(
        opacus_epsilon(3, accountant=PRVAccountant), abs=1e-6
    )


def test_zero_noise_has_no_finite_epsilon(tiny_config: dict) -> None:
    method = method_for(dp_config(tiny_config, noise_multiplier=0.0))
    assert method.status()["epsilon"] == 0.0
    method.step()
    assert method.status() == {"epsilon": None, "delta": DELTA}  # ε = ∞: JSON has no infinity


# -- resume -----------------------------------------------------------------------------------


def test_resume_continues_the_accountant_and_the_weights(
    dp_run, tiny_config: dict, tmp_path: Path
) -> None:
    run_dir, _ = dp_run
    config = dp_config(tiny_config)
    out = tmp_path / "resumed"
    config["train"]["steps"] = 10
    train(config, out)
    config["train"]["steps"] = 20
    resumed = train(config, out, resume=True)
    assert resumed.method.accountant.history == [(SIGMA, Q, 20)]

    a, b = checkpoint_tensors(run_dir), checkpoint_tensors(out)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    drop_time = lambda lines: [{k: v for k, v in x.items() if k != "time"} for x in lines]  # noqa: E731
    assert drop_time(metrics(out)) == drop_time(metrics(run_dir))
    assert metrics(out)[-1]["epsilon"] == pytest.approx(opacus_epsilon(20), abs=1e-6)


# -- the step ---------------------------------------------------------------------------------


def test_a_step_leaves_no_per_sample_gradients_on_the_discriminator(tiny_config: dict) -> None:
    method = method_for(dp_config(tiny_config))
    D = method.discriminator
    g_before = [p.detach().clone() for p in method.generator.parameters()]
    d_before = [p.detach().clone() for p in D.parameters()]
    method.step()
    for name, p in D.named_parameters():
        assert getattr(p, "grad_sample", None) is None, f"{name} keeps a grad_sample"
        assert p.grad is None, f"{name} keeps a gradient (from the G step?)"
        assert p.requires_grad
    assert any(not torch.equal(a, b) for a, b in zip(d_before, D.parameters(), strict=True))
    assert any(
        not torch.equal(a, b) for a, b in zip(g_before, method.generator.parameters(), strict=True)
    )
    # the checkpoint keys of D are the GAN's: the plain module, no `_module.` prefix
    gan_config = dp_config(tiny_config)
    gan_config["method"] = {"name": "gan"}
    gan = build_method(config_from_dict(gan_config), (1, 8, 8))
    assert D.state_dict().keys() == gan.modules["discriminator"].state_dict().keys()


@pytest.mark.parametrize("clipping", ["ghost", "per_sample"])
def test_the_generator_step_records_no_per_sample_gradients(tiny_config: dict,
                                                            clipping: str) -> None:  # fmt: skip
    """Per-sample gradients (or, with ghost clipping, their norms) may only come from the
    members' backward pass: count them."""
    method = method_for(dp_config(tiny_config, noise_multiplier=SIGMA, clipping=clipping))
    seen: list[int] = []
    dp = method.dp_optimizer
    original = dp.pre_step

    def counting_pre_step():  # noqa: ANN202
        if clipping == "ghost":
            seen.append(len(method.per_sample.per_sample_gradient_norms))
        else:
            seen.append(len(dp.grad_samples[0]))
        return original()

    dp.pre_step = counting_pre_step
    real_sizes: list[int] = []
    draw = method.poisson_batch

    def counting_draw() -> tuple[torch.Tensor, None]:
        batch, labels = draw()
        real_sizes.append(len(batch))
        return batch, labels

    method.poisson_batch = counting_draw
    for _ in range(3):
        method.step()
    assert seen == real_sizes  # exactly one per-sample gradient per member drawn, none for fakes


# ε of the tiny config at σ = 1 (q = 1/4, δ = 1/640) at each logged step, and the σ chosen for
# target_epsilon = 3 with the ε it spends: the values ganguard logged before ghost clipping
# existed (per-sample clipping, Opacus 1.6), which the clipping mode must not change
LOGGED_EPSILON = [3.27346593641863, 4.423641718715609, 5.352632642435586, 6.174502141762839]
SIGMA_FOR_3, EPSILON_FOR_3 = 1.5478515625, 2.9974377665176304


@pytest.mark.parametrize("clipping", ["ghost", "per_sample"])
def test_epsilon_is_the_value_logged_before_ghost_clipping(tiny_config: dict, tmp_path: Path,
                                                          clipping: str) -> None:  # fmt: skip
    run = train(dp_config(tiny_config, noise_multiplier=SIGMA, clipping=clipping), tmp_path / "a")
    assert [line["epsilon"] for line in metrics(tmp_path / "a")] == LOGGED_EPSILON
    assert run.method.accountant.history == [(SIGMA, Q, 20)]
    run = train(dp_config(tiny_config, target_epsilon=3.0, clipping=clipping), tmp_path / "b")
    assert run.method.dp_optimizer.noise_multiplier == SIGMA_FOR_3
    assert metrics(tmp_path / "b")[-1]["epsilon"] == EPSILON_FOR_3


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_ghost_clipping_gives_the_clipped_sum_of_per_sample_clipping(
    tiny_config: dict, arch: str
) -> None:
    """Σ_i min(1, C/‖g_i‖) g_i, with a C small enough that every record is clipped: the same
    sum, to float rounding, whichever way the norms were found."""
    sums = {}
    for clipping in ("ghost", "per_sample"):
        config = dp_config(tiny_config, noise_multiplier=0.0, clipping=clipping, max_grad_norm=0.01)
        shape = (1, 8, 8)
        if arch == "dcgan":
            config["model"].update(arch="dcgan", d_norm="group", depth=2, d_width=8, g_width=8)
            shape = (1, 28, 28)
        torch.manual_seed(0)  # the same members for both
        method = method_for(config, shape=shape, n=32)
        captured = []
        add_noise = method.dp_optimizer.add_noise

        def capture(dp=method.dp_optimizer, add_noise=add_noise, captured=captured) -> None:  # noqa: ANN001
            captured.append([p.summed_grad.clone() for p in dp.params])
            add_noise()

        method.dp_optimizer.add_noise = capture
        method.step()
        sums[clipping] = captured[0]
    for ghost, per_sample in zip(sums["ghost"], sums["per_sample"], strict=True):
        assert per_sample.abs().max() > 0
        torch.testing.assert_close(ghost, per_sample, rtol=1e-4, atol=1e-6)
    total = torch.cat([g.flatten() for g in sums["ghost"]]).norm()
    assert total <= 0.01 * 32 * 1.0001  # a sum of at most 32 vectors of norm ≤ C


@pytest.mark.parametrize("clipping", ["ghost", "per_sample"])
def test_poisson_batches_vary_in_size_and_may_be_empty(tiny_config: dict, clipping: str) -> None:
    method = method_for(dp_config(tiny_config, noise_multiplier=SIGMA, clipping=clipping))
    sizes = [len(method.poisson_batch()[0]) for _ in range(400)]
    assert len(set(sizes)) > 5
    assert sum(sizes) / len(sizes) == pytest.approx(BATCH, rel=0.1)

    method.poisson_batch = lambda: (method.members[:0], None)
    d_before = [p.detach().clone() for p in method.discriminator.parameters()]
    logs = method.step()
    assert all(math.isfinite(v) for v in logs.values()), logs
    # the noise (and the generated half) still move D, and the step is still accounted
    assert any(
        not torch.equal(a, b)
        for a, b in zip(d_before, method.discriminator.parameters(), strict=True)
    )
    assert method.accountant.history == [(SIGMA, Q, 1)]


def test_a_conv_discriminator_with_group_norm_is_supported(tiny_config: dict) -> None:
    config = dp_config(tiny_config)
    config["model"].update(arch="dcgan", d_norm="group", depth=2, d_width=8, g_width=8)
    method = method_for(config, shape=(1, 28, 28), n=32)
    logs = method.step()
    assert all(math.isfinite(v) for v in logs.values())


# -- refusals ---------------------------------------------------------------------------------


def test_spectral_norm_is_refused(tiny_config: dict, tmp_path: Path) -> None:
    config = dp_config(tiny_config)
    config["model"]["spectral_norm"] = True
    with pytest.raises(GanguardError, match="model.spectral_norm=false"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_batch_larger_than_the_members_is_refused(tiny_config: dict, tmp_path: Path) -> None:
    config = dp_config(tiny_config)
    config["train"]["batch_size"] = N_MEMBERS + 1
    with pytest.raises(GanguardError, match="train.batch_size"):
        train(config, tmp_path / "run")


@pytest.mark.parametrize(
    ("method", "key"),
    [
        ({"target_epsilon": 1.0, "noise_multiplier": 1.0}, "method.noise_multiplier"),
        ({}, "method.target_epsilon"),
        ({"target_epsilon": 0.0}, "method.target_epsilon"),
        ({"noise_multiplier": -1.0}, "method.noise_multiplier"),
        ({"noise_multiplier": 1.0, "delta": 1.5}, "method.delta"),
        ({"noise_multiplier": 1.0, "accountant": "gdp"}, "method.accountant"),
    ],
    ids=["both", "neither", "zero-budget", "negative-noise", "delta", "accountant"],
)
def test_bad_noise_options_are_config_errors(method: dict, key: str, tiny_config: dict) -> None:
    config = dp_config(tiny_config)
    config["method"] = {"name": "dpgan", **method}
    with pytest.raises(GanguardError, match=rf"config key {key}"):
        config_from_dict(config)


# -- several discriminator steps per generator step (d_steps) ---------------------------------


def test_d_steps_spends_the_budget_over_every_discriminator_step(
    tiny_config: dict, tmp_path: Path
) -> None:
    """d_steps = 3: 3 DP-SGD steps of D per step of G, each counted; σ is chosen for
    train.steps x 3 of them, and the run ends at its target; more steps are refused."""
    config = dp_config(tiny_config, target_epsilon=4.0, d_steps=3)
    out = tmp_path / "run"
    run = train(config, out)
    sigma = get_noise_multiplier(target_epsilon=4.0, target_delta=DELTA, sample_rate=Q, steps=60)
    assert run.method.dp_optimizer.noise_multiplier == sigma
    assert run.method.accountant.history == [(sigma, Q, 60)]
    final = metrics(out)[-1]["epsilon"]
    assert final == pytest.approx(opacus_epsilon(60, sigma), abs=1e-6)
    assert 4.0 - 0.02 <= final <= 4.0
    config["train"]["steps"] = 21
    with pytest.raises(GanguardError, match=r"training to step 21 would spend .* train.steps ≤ 20"):
        train(config, out, resume=True)


def test_d_steps_updates_d_that_many_times_and_g_once(tiny_config: dict) -> None:
    method = method_for(dp_config(tiny_config, noise_multiplier=SIGMA, d_steps=4))
    counts = {"discriminator": 0, "generator": 0}
    method.dp_optimizer.original_optimizer.register_step_post_hook(
        lambda *_: counts.__setitem__("discriminator", counts["discriminator"] + 1))
    method.optimizers["generator"].register_step_post_hook(
        lambda *_: counts.__setitem__("generator", counts["generator"] + 1))
    logs = method.step()
    assert counts == {"discriminator": 4, "generator": 1}
    assert method.steps_taken == 4 and set(logs) == {"loss_d", "loss_g"}


def test_d_steps_resumes_bit_exact(tiny_config: dict, tmp_path: Path) -> None:
    config = dp_config(tiny_config, noise_multiplier=SIGMA, d_steps=2)
    train(config, tmp_path / "straight")
    halves = copy.deepcopy(config)
    halves["train"]["steps"] = 10
    train(halves, tmp_path / "halves")
    resumed = train(config, tmp_path / "halves", resume=True)
    assert resumed.method.accountant.history == [(SIGMA, Q, 40)]
    a, b = checkpoint_tensors(tmp_path / "straight"), checkpoint_tensors(tmp_path / "halves")
    assert a.keys() == b.keys() and [k for k in a if not torch.equal(a[k], b[k])] == []
