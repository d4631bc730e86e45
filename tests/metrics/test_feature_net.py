"""The feature network: trained once on T, cached under GANGUARD_CACHE, loaded after."""

from __future__ import annotations

import numpy as np
import pytest

from ganguard.data import Dataset, load_dataset
from ganguard.errors import GanguardError
from ganguard.metrics.feature_net import FeatureNetSettings, cache_root, feature_network

WEIGHTS = "weights.safetensors"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANGUARD_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_trains_once_then_loads_from_the_cache(digits, cache):
    test = np.arange(300)
    first = feature_network(digits, test)
    assert first.trained and first.path.parent == cache / "feature_nets"
    assert first.info["arch"] == "mlp" and first.info["n_eval"] == 60
    assert first.accuracy > 0.8  # digits are easy even for 240 training records
    weights = first.path / WEIGHTS
    mtime = weights.stat().st_mtime_ns

    second = feature_network(digits, test)
    assert not second.trained and second.path == first.path
    assert weights.stat().st_mtime_ns == mtime
    assert second.info == first.info
    x = digits.x[300:340]
    f = second.features(x)
    assert f.shape == (40, 128) and f.dtype == np.float64
    np.testing.assert_array_equal(f, first.features(x))
    np.testing.assert_array_equal(second.eval_index, first.eval_index)
    assert set(second.eval_index) <= set(test)


def test_a_new_test_part_or_setting_is_a_new_entry(digits, cache):
    a = feature_network(digits, np.arange(100))
    b = feature_network(digits, np.arange(1, 101))
    c = feature_network(digits, np.arange(100), FeatureNetSettings(feature_dim=32))
    assert len({a.path, b.path, c.path}) == 3
    assert c.features(digits.x[:5]).shape == (5, 32)


def test_cache_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GANGUARD_CACHE", str(tmp_path / "elsewhere"))
    assert cache_root() == tmp_path / "elsewhere"
    monkeypatch.delenv("GANGUARD_CACHE")
    assert cache_root().parts[-2:] == (".cache", "ganguard")


def test_training_is_seeded(digits, tmp_path):
    one = feature_network(digits, np.arange(80), cache_dir=tmp_path / "one")
    two = feature_network(digits, np.arange(80), cache_dir=tmp_path / "two")
    assert two.trained
    assert (one.path / WEIGHTS).read_bytes() == (two.path / WEIGHTS).read_bytes()


def test_a_corrupt_entry_is_retrained(digits, cache):
    net = feature_network(digits, np.arange(60))
    (net.path / WEIGHTS).write_bytes(b"\x80\x04 not safetensors")
    again = feature_network(digits, np.arange(60))
    assert again.trained and again.accuracy == net.accuracy


def test_images_of_28_pixels_get_the_cnn(cache):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(30, 1, 28, 28)).astype(np.float32)
    ds = Dataset("noise", x, rng.integers(0, 3, size=30))
    net = feature_network(ds, np.arange(20), FeatureNetSettings(min_steps=5, epochs=1))
    assert net.info["arch"] == "cnn"
    assert net.features(x[:4]).shape == (4, 128)
    with pytest.raises(GanguardError, match="shape"):
        net.features(np.zeros((2, 1, 8, 8), dtype=np.float32))


def test_bad_inputs_are_clear_errors(digits, cache):
    unlabelled = Dataset("unlabelled", digits.x[:50])
    with pytest.raises(GanguardError, match="needs class labels"):
        feature_network(unlabelled, np.arange(50))
    with pytest.raises(GanguardError, match="n_test"):
        feature_network(digits, np.arange(5))
    with pytest.raises(GanguardError, match="arch"):
        feature_network(digits, np.arange(50), FeatureNetSettings(arch="resnet"))
    assert not cache.exists()  # nothing was cached on the way
