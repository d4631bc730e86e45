"""PrivGAN (SPEC §3): N generator–discriminator pairs on disjoint parts of S and a privacy
discriminator; the privacy term, the choice of generator per sample, bit-exact resume (across the
start of the privacy term) and sampling from a run."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import (
    assert_same_run,
    check_draws_from_own_parts,
    check_sampling,
    fresh_method,
    metrics,
    random_members,
    resumed_halfway,
    with_method,
)

import ganguard.methods.privgan  # noqa: F401  (registers the method)
from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.methods.base import split_latent
from ganguard.methods.privgan import privacy_loss
from ganguard.train import train


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- the privacy term -------------------------------------------------------------------------


def test_privacy_loss_matches_its_equation() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.5, -1.0], [0.0, 1.0]], dtype=torch.float64)
    origin = torch.tensor([0, 1, 0])
    p = torch.softmax(logits, 1)
    p_own = p[torch.arange(3), origin]
    # non-saturating: −ln(1 − D_p^i(x)); worked by hand for the first row, −ln(1 − σ(2))
    got = privacy_loss(logits, origin)
    assert torch.allclose(got, -torch.log(1 - p_own), rtol=1e-12)
    assert got[0].item() == pytest.approx(2.126928, abs=1e-6)
    # for N = 2 it is the authors' loss: cross-entropy towards the other generator's label
    assert torch.allclose(got, F.cross_entropy(logits, 1 - origin, reduction="none"))


def test_non_saturating_privacy_loss_for_three_generators_and_extreme_logits() -> None:
    logits = torch.tensor([[1.0, 2.0, -1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    origin = torch.tensor([1, 2])
    p = torch.softmax(logits, 1)
    want = torch.stack([-torch.log(p[0, 0] + p[0, 2]), -torch.log(p[1, 0] + p[1, 1])])
    assert torch.allclose(privacy_loss(logits, origin), want, rtol=1e-12)
    assert want[1].item() == pytest.approx(math.log(1.5), rel=1e-12)  # uniform D_p: −ln(2/3)
    # D_p sure of the right origin (1 − p would round to 0) or of a wrong one: still finite
    sure = torch.tensor([[100.0, -100.0], [-100.0, 100.0]], requires_grad=True)
    loss = privacy_loss(sure, torch.tensor([0, 0]))
    assert loss[0].item() == pytest.approx(200.0, rel=1e-6) and loss[1].item() < 1e-30
    loss.sum().backward()
    assert torch.isfinite(sure.grad).all()


@pytest.fixture(scope="module")
def privgan_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny config trained 20 steps as a PrivGAN with N = 2: (run directory, Run)."""
    from conftest import TINY

    out = tmp_path_factory.mktemp("privgan") / "run"
    return out, train(with_method(TINY, "privgan"), out)


def test_samples_come_from_every_generator_reproducibly(privgan_run) -> None:
    _, run = privgan_run
    method = run.method
    x = method.sample(200, torch.Generator().manual_seed(5))
    assert torch.equal(x, method.sample(200, torch.Generator().manual_seed(5)))
    assert not torch.equal(x, method.sample(200, torch.Generator().manual_seed(6)))

    # the latents sample() drew, and each sample made by the generator they choose
    z = torch.randn(200, method.z_dim, generator=torch.Generator().manual_seed(5))
    choice, z_in = split_latent(z, 2, column=0)
    counts = torch.bincount(choice, minlength=2).tolist()
    assert 70 <= counts[0] <= 130 and sum(counts) == 200, counts
    with method.evaluating(), torch.no_grad():
        # a sample depends on its own latent only, not on the chunk it is generated in (up to
        # the rounding of matrix products of another size)
        chunked = torch.cat([method.generate(c) for c in z.split(7)])
        assert torch.allclose(x, chunked, rtol=0, atol=1e-6)
        for i in range(2):
            mine = choice == i
            assert torch.equal(x[mine], method.modules[f"generator_{i}"](z_in[mine]))


def test_generate_passes_gradients_to_the_latents(privgan_run) -> None:
    """A white-box attack (GAN-Leaks) optimises z through `generate`."""
    _, run = privgan_run
    z = torch.randn(6, run.method.z_dim, generator=torch.Generator().manual_seed(0))
    z.requires_grad_(True)
    with run.method.evaluating():
        run.method.generate(z).pow(2).sum().backward()
    assert torch.isfinite(z.grad).all() and (z.grad.abs().sum(1) > 0).all()


# -- the parts and the pairs ------------------------------------------------------------------


def test_members_are_split_into_disjoint_deterministic_parts(tiny_config: dict) -> None:
    members = random_members()
    a = fresh_method(tiny_config, "privgan", members, n_pairs=3)
    assert sorted(torch.cat(a.part_indices).tolist()) == list(range(64))
    assert sorted(len(p) for p in a.parts) == [21, 21, 22]
    for idx, records in zip(a.part_indices, a.parts, strict=True):
        assert torch.equal(records, members[idx])
    b = fresh_method(tiny_config, "privgan", members, n_pairs=3)
    assert all(torch.equal(x, y) for x, y in zip(a.part_indices, b.part_indices, strict=True))


def test_fewer_members_than_pairs_is_a_clear_error(tiny_config: dict, tmp_path: Path) -> None:
    config = with_method(tiny_config, "privgan", n_pairs=3)
    config["data"]["n_members"] = 2
    with pytest.raises(GanguardError, match="n_members"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_options_and_their_defaults(tiny_config: dict) -> None:
    opt = config_from_dict(with_method(tiny_config, "privgan")).method
    assert (opt.n_pairs, opt.privacy_ratio) == (2, 1.0)
    for bad in ({"n_pairs": 1}, {"privacy_ratio": -1}):
        with pytest.raises(GanguardError, match="method."):
            config_from_dict(with_method(tiny_config, "privgan", **bad))
    lr = lambda m: m.optimizers["privacy_discriminator"].param_groups[0]["lr"]  # noqa: E731
    tiny_config["train"]["lr_d"] = 3e-4
    assert lr(fresh_method(tiny_config, "privgan", random_members())) == 3e-4  # D_p's is lr_d


@pytest.mark.parametrize("key", ["privacy_start", "dp_lr", "privacy_loss"])
def test_a_removed_option_is_one_line_that_says_so(key: str, tiny_config: dict) -> None:
    with pytest.raises(GanguardError, match=rf"^config key method\.{key}: removed: ") as info:
        config_from_dict(with_method(tiny_config, "privgan", **{key: 1}))
    assert "\n" not in str(info.value)


def test_a_pair_does_not_depend_on_the_other_parts(tiny_config: dict) -> None:
    members = random_members()
    a = fresh_method(tiny_config, "privgan", members)
    changed = members.clone()
    changed[a.part_indices[1]] = random_members(len(a.part_indices[1]), seed=9)
    b = fresh_method(tiny_config, "privgan", changed)
    a.step()  # one step: D_p has only seen samples of generators not yet trained on any part
    b.step()
    for name in ("discriminator_0", "generator_0"):
        assert same(a.modules[name].state_dict(), b.modules[name].state_dict()), name
    assert not same(
        a.modules["discriminator_1"].state_dict(), b.modules["discriminator_1"].state_dict()
    )


def test_each_discriminator_draws_only_from_its_part(tiny_config: dict) -> None:
    check_draws_from_own_parts(tiny_config, "privgan", n_pairs=3)


# -- training, resume and sampling ------------------------------------------------------------


def test_a_tiny_run_trains_every_network(privgan_run) -> None:
    run_dir, run = privgan_run
    method = run.method
    names = {"generator_0", "generator_1", "discriminator_0", "discriminator_1"}
    names |= {"privacy_discriminator"}
    assert set(method.modules) == set(method.optimizers) == names
    lines = metrics(run_dir)
    assert [line["step"] for line in lines] == [5, 10, 15, 20]
    for line in lines:
        assert {"loss_d", "loss_g", "loss_dp", "auc_wb"} <= set(line)
        # D_p's cross-entropy starts near ln 2: it cannot yet tell two fresh generators apart
        assert 0 < line["loss_dp"] < 2 * math.log(2)
    assert method.score(random_members(7)).shape == (7, 2)


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_privacy_ratio_zero_leaves_the_term_out(ratio: float, tiny_config: dict) -> None:
    """A D_p whose logits are NaN: with a zero weight not even 0 · NaN reaches the generators;
    with weight 1 it does (so the first case is not vacuous)."""
    method = fresh_method(tiny_config, "privgan", random_members(), privacy_ratio=ratio)
    method.privacy_discriminator.register_forward_hook(lambda m, i, out: out * float("nan"))
    method.step()
    finite = [all(torch.isfinite(p).all() for p in method.modules[f"generator_{i}"].parameters())
              for i in range(2)]  # fmt: skip
    assert finite == ([True, True] if ratio == 0 else [False, False])


def test_the_privacy_term_reaches_the_generators(tiny_config: dict, tmp_path: Path) -> None:
    off = train(with_method(tiny_config, "privgan", privacy_ratio=0.0), tmp_path / "off")
    on = train(with_method(tiny_config, "privgan"), tmp_path / "on")
    for name in ("generator_0", "generator_1"):
        assert not same(off.method.modules[name].state_dict(), on.method.modules[name].state_dict())


def test_resume_is_bit_exact(privgan_run, tiny_config: dict, tmp_path: Path) -> None:
    run_dir, _ = privgan_run
    out = tmp_path / "resumed"
    resumed = resumed_halfway(with_method(tiny_config, "privgan"), out)
    assert resumed.step == 20
    a = assert_same_run(run_dir, out)
    assert any(k.startswith("/method/modules/privacy_discriminator/") for k in a)


def test_samples_from_a_run(privgan_run, run_cli, tmp_path: Path) -> None:
    check_sampling(*privgan_run, run_cli, tmp_path / "s.npz")
