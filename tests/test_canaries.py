"""The one-run audit (Steinke, Nasr & Jagielski 2023): canaries from R or crafted, each put into
the training set by a seeded fair coin saved with the split, left out of every other measurement;
`ganguard audit --canaries` turns each attack's guesses into an ε lower bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ganguard.audit import audit, candidates
from ganguard.data import load_dataset, load_run_data
from ganguard.data.split import add_canaries, canary_records, make_split
from ganguard.errors import GanguardError
from ganguard.metrics.epsilon import canary_audit, one_run_eps_lower_bound
from ganguard.runs import load_run
from ganguard.train import split_data, train


def test_canaries_from_r_leave_r_and_their_coins_are_seeded() -> None:
    ds = load_dataset("digits")
    split = make_split(ds, 64, 64, 128, 64, seed=3)
    with_canaries = add_canaries(split, 40, "reference", seed=3)
    assert np.array_equal(with_canaries.canaries, split.reference[:40])
    assert np.array_equal(with_canaries.reference, split.reference[40:])  # out of R
    assert with_canaries.n_canaries == 40 and 10 < with_canaries.canary_in.sum() < 30
    again = add_canaries(split, 40, "reference", seed=3)
    assert np.array_equal(again.canary_in, with_canaries.canary_in)
    assert np.array_equal(canary_records(with_canaries, ds), ds.x[split.reference[:40]])
    with pytest.raises(GanguardError, match="R holds 128"):
        add_canaries(split, 200, "reference", seed=3)


def test_crafted_canaries_are_out_of_distribution_and_reproducible() -> None:
    ds = load_dataset("digits")
    split = add_canaries(make_split(ds, 64, 64, 128, 64, seed=0), 20, "crafted", seed=0)
    records = canary_records(split, ds)
    assert records.shape == (20, *ds.shape) and len(split.canaries) == 0
    assert np.array_equal(records, canary_records(split, ds))
    assert records.min() >= -1 and records.max() <= 1 and records.std() > 0.5  # noise, no digit


def test_the_members_trained_on_are_s_and_the_canaries_whose_coin_came_up(tiny_config) -> None:
    tiny_config["train"]["canaries"] = 30
    from ganguard.config import config_from_dict

    data, ds = split_data(config_from_dict(tiny_config))
    split = data.split
    expected = np.concatenate([ds.x[split.members], ds.x[split.canaries[split.canary_in]]])
    assert np.array_equal(data.members.numpy(), expected)
    assert len(data.members) == 64 + int(split.canary_in.sum())
    # the monitor and the audit's candidates see S and H only
    canary_rows = {r.tobytes() for r in ds.x[split.canaries]}
    assert not canary_rows & {r.tobytes() for r in data.monitor.members.numpy()}
    assert not canary_rows & {r.tobytes() for r in data.reference.numpy()}


def test_the_split_json_keeps_the_coins_and_the_audit_guesses_them(tiny_config, tmp_path) -> None:
    tiny_config["train"]["canaries"] = 40
    run = train(tiny_config, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "split.json").read_text())["canaries"]
    assert saved["included"] == [int(c) for c in run.split.canary_in]
    assert load_run(tmp_path / "run").split == run.split
    result = audit(tmp_path / "run", attacks="logan_wb,ganleaks_fbb", k=300, canaries=True,
                   canary_guesses=10, plots=False)  # fmt: skip
    for name, r in result.attacks.items():
        c = r.canaries
        assert (c["canaries"], c["guesses"]) == (40, 10) and 0 <= c["correct"] <= 10, name
        assert c["value"] == pytest.approx(
            one_run_eps_lower_bound(40, 10, c["correct"], result.delta))
    ds = load_run_data(run.config.data)
    members, nonmembers = candidates(run, ds, None, 0)
    canary_rows = {r.tobytes() for r in canary_records(run.split, ds)}
    assert not canary_rows & {r.tobytes() for r in np.concatenate([members, nonmembers])}


def test_canary_audit_guesses_the_extremes_and_abstains_on_the_middle() -> None:
    scores = np.arange(10.0)  # canary i has score i
    included = np.array([0, 0, 1, 0, 1, 0, 1, 1, 1, 1], bool)
    out = canary_audit(scores, included, guesses=4, delta=0.0)
    # guesses: "in" for 9 and 8 (both in), "out" for 0 and 1 (both out): 4 of 4
    assert (out["guesses"], out["correct"]) == (4, 4)
    assert out["value"] == pytest.approx(one_run_eps_lower_bound(10, 4, 4, 0.0))
    assert canary_audit(-scores, included, guesses=4)["correct"] == 0
    assert canary_audit(scores, included)["guesses"] == 2  # a fifth of the canaries, at least 2


def test_canary_bad_inputs_are_one_line(gan_run, expect_cli_error, tiny_config, write_config,
                                        tmp_path: Path) -> None:  # fmt: skip
    line = expect_cli_error("audit", gan_run[0], "--canaries")
    assert "trained without canaries" in line
    tiny_config["train"]["canaries"] = 500
    assert "R holds 128" in expect_cli_error("train", write_config(tiny_config),
                                             "--out", tmp_path / "run")  # fmt: skip
    assert not (tmp_path / "run").exists()
    tiny_config["train"].update(canaries=10, canary_source="crafted")
    tiny_config["model"]["conditional"] = True
    assert "crafted canaries carry no class" in expect_cli_error(
        "train", write_config(tiny_config), "--out", tmp_path / "run")


@pytest.mark.parametrize(("method", "options"), [
    ("gan", {}), ("megan", {"lam": 5.0}), ("mimgan", {"beta": 0.5}),
    ("dpgan", {"target_epsilon": 5.0}), ("privgan", {}), ("pargan", {"k": 2}),
])  # fmt: skip
def test_every_method_trains_with_canaries_and_a_dp_run_s_bounds_stay_below_its_epsilon(
    method: str, options: dict, tiny_config: dict, tmp_path: Path
) -> None:
    tiny_config["train"].update(canaries=20, steps=10)
    tiny_config["method"] = {"name": method, **options}
    if method == "dpgan":
        tiny_config["model"]["spectral_norm"] = False
    train(tiny_config, tmp_path / "run")
    result = audit(tmp_path / "run", attacks="logan_wb,ganleaks_fbb", k=200, canaries=True,
                   plots=False)  # fmt: skip
    assert all(r.canaries["canaries"] == 20 for r in result.attacks.values())
    if method == "dpgan":
        accountant = result.accountant["epsilon"]
        assert 0 < accountant <= 5.0 and result.delta == result.accountant["delta"]
        n = 64 + int(load_run(tmp_path / "run").split.canary_in.sum())  # S and the canaries in
        assert result.delta == pytest.approx(1 / (10 * n))
        for r in result.attacks.values():
            assert r.metrics["eps_lower_bound"]["value"] <= accountant
            assert r.canaries["value"] <= accountant
    else:
        assert result.accountant is None
