"""PAR-GAN (SPEC §3): k discriminators on k disjoint parts of S, one generator; the parts, the
isolation of each discriminator, bit-exact resume and sampling from a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
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

import ganguard.methods.pargan  # noqa: F401  (registers the method)
from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.methods.pargan import split_into_parts
from ganguard.train import train

# -- the parts of S ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(64, 5), (10, 3), (7, 7), (2, 2)])
def test_parts_are_a_deterministic_partition_of_near_equal_size(n: int, k: int) -> None:
    parts = split_into_parts(n, k, seed=3)
    assert len(parts) == k
    joined = torch.cat(parts)
    assert sorted(joined.tolist()) == list(range(n))  # disjoint and covering S
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    again = split_into_parts(n, k, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(parts, again, strict=True))
    if n > k:  # a shuffle, not contiguous blocks, and another seed gives other parts
        other = split_into_parts(n, k, seed=4)
        assert any(not torch.equal(a, b) for a, b in zip(parts, other, strict=True))


def test_a_method_splits_its_members_by_its_seed(tiny_config: dict) -> None:
    members = random_members()
    a = fresh_method(tiny_config, "pargan", members, k=4)
    assert sorted(torch.cat(a.part_indices).tolist()) == list(range(64))
    for idx, records in zip(a.part_indices, a.parts, strict=True):
        assert torch.equal(records, members[idx])
    b = fresh_method(tiny_config, "pargan", members, k=4)
    assert all(torch.equal(x, y) for x, y in zip(a.part_indices, b.part_indices, strict=True))
    tiny_config["seed"] = 1
    c = fresh_method(tiny_config, "pargan", members, k=4)
    assert any(not torch.equal(x, y) for x, y in zip(a.part_indices, c.part_indices, strict=True))


def test_fewer_members_than_parts_is_a_clear_error(tiny_config: dict, tmp_path: Path) -> None:
    config = with_method(tiny_config, "pargan", k=5)
    config["data"]["n_members"] = 4
    with pytest.raises(GanguardError, match="n_members"):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_options_are_validated(tiny_config: dict) -> None:
    assert config_from_dict(with_method(tiny_config, "pargan")).method.k == 5
    with pytest.raises(GanguardError, match="method.k"):
        config_from_dict(with_method(tiny_config, "pargan", k=1))


# -- each discriminator sees its own part only ------------------------------------------------


def test_each_discriminator_draws_only_from_its_part(tiny_config: dict) -> None:
    check_draws_from_own_parts(tiny_config, "pargan", k=3)


def test_a_discriminator_does_not_depend_on_the_other_parts(tiny_config: dict) -> None:
    members = random_members()
    a = fresh_method(tiny_config, "pargan", members, k=2)
    changed = members.clone()
    changed[a.part_indices[1]] = random_members(len(a.part_indices[1]), seed=9)
    b = fresh_method(tiny_config, "pargan", changed, k=2)
    a.step()  # the discriminators' update comes before the generator's
    b.step()
    d0a, d0b = a.modules["discriminator_0"].state_dict(), b.modules["discriminator_0"].state_dict()
    assert all(torch.equal(d0a[k], d0b[k]) for k in d0a), "D_0 saw a record of part 1"
    d1a, d1b = a.modules["discriminator_1"].state_dict(), b.modules["discriminator_1"].state_dict()
    assert any(not torch.equal(d1a[k], d1b[k]) for k in d1a), "D_1 did not see part 1"


# -- training, resume and sampling ------------------------------------------------------------


@pytest.fixture(scope="module")
def pargan_run(tmp_path_factory: pytest.TempPathFactory):
    """The tiny config trained 20 steps as a PAR-GAN with k = 5: (run directory, Run)."""
    from conftest import TINY

    out = tmp_path_factory.mktemp("pargan") / "run"
    return out, train(with_method(TINY, "pargan"), out)


def test_a_tiny_run_trains_every_network(pargan_run) -> None:
    run_dir, run = pargan_run
    method = run.method
    names = {"generator", *(f"discriminator_{i}" for i in range(5))}
    assert set(method.modules) == set(method.optimizers) == names
    # 64 members in 5 parts: smaller than the batch of 16, drawn with replacement
    assert [len(p) for p in method.parts] == [13, 13, 13, 13, 12]
    lines = metrics(run_dir)
    assert [line["step"] for line in lines] == [5, 10, 15, 20]
    assert {"loss_d", "loss_g", "auc_wb", "O"} <= set(lines[-1])
    assert all(np.isfinite(line["loss_d"]) and np.isfinite(line["loss_g"]) for line in lines)
    init = fresh_method(run.config.model_dump(), "pargan", random_members(), k=5)
    for name in names:  # 20 steps moved every network away from its initialisation
        before, after = init.modules[name].state_dict(), method.modules[name].state_dict()
        assert any(not torch.equal(before[k], after[k]) for k in before), name


def test_discriminators_are_initialised_apart(tiny_config: dict) -> None:
    method = fresh_method(tiny_config, "pargan", random_members(), k=3)
    w = [method.modules[f"discriminator_{i}"].state_dict() for i in range(3)]
    key = next(k for k in w[0] if k.endswith("weight") or k.endswith("original"))
    assert not torch.equal(w[0][key], w[1][key]) and not torch.equal(w[1][key], w[2][key])


def test_discriminator_logits_have_one_column_per_discriminator(pargan_run) -> None:
    _, run = pargan_run
    x = random_members(7)
    logits = run.method.score(x)
    assert logits.shape == (7, 5)
    for i in range(5):  # column i is discriminator i's logit
        with run.method.evaluating(), torch.no_grad():
            column = run.method.modules[f"discriminator_{i}"](x)
        assert torch.equal(logits[:, i], column)


def test_resume_is_bit_exact(pargan_run, tiny_config: dict, tmp_path: Path) -> None:
    run_dir, _ = pargan_run
    resumed = resumed_halfway(with_method(tiny_config, "pargan"), tmp_path / "resumed")
    assert resumed.step == 20
    a = assert_same_run(run_dir, tmp_path / "resumed")
    assert any(k.startswith("/method/modules/discriminator_4/") for k in a)
    assert any(k.startswith("/method/streams/members_4") for k in a)


def test_samples_from_a_run(pargan_run, run_cli, tmp_path: Path) -> None:
    check_sampling(*pargan_run, run_cli, tmp_path / "s.npz")
