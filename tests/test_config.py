"""Config validation (SPEC §7): defaults, unknown keys named in full, overrides, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganguard.config import (
    Config,
    apply_overrides,
    config_from_dict,
    dump_config,
    load_config,
)
from ganguard.errors import GanguardError


def test_defaults_validate() -> None:
    config = load_config(None)
    assert isinstance(config, Config)
    assert config == config_from_dict({})
    assert config.method.name == "gan"
    assert config.train.steps == 2000 and config.train.batch_size == 64
    assert config.data.name == "mnist-5k"
    assert config.model.spectral_norm is True


READY = sorted((Path(__file__).parents[1] / "src" / "ganguard" / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", READY, ids=lambda p: p.stem)
def test_every_ready_config_validates(path: Path) -> None:
    """The files in configs/ carry no stale key, and their data sets are the ones they name."""
    config = load_config(path)
    named = {"fashion": "fashion-mnist", "demo-adult": "adult"}
    want = next((v for k, v in named.items() if path.stem.startswith(k)), "mnist-5k")
    assert config.data.name == want
    assert (config.data.reference_data == "mnist-train") == path.stem.endswith("-public")


def test_tiny_config_round_trips_through_yaml(tiny_config: dict, write_config) -> None:
    tiny_config["method"] = {"name": "megan", "lam": 2.5, "mode": "entropy"}
    config = load_config(write_config(tiny_config))
    assert config.train.steps == 20 and config.data.n_members == 64
    assert config.method.lam == 2.5 and config.method.mode == "entropy"
    # the resolved config keeps every option of the method (not only MethodOptions.name)
    dumped = write_config(config.to_dict(), "resolved.yaml")
    assert "critic_hidden" in dumped.read_text()
    assert load_config(dumped) == config
    assert "lam: 2.5" in dump_config(config)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"bogus": 1}, "bogus"),
        ({"train": {"stepz": 10}}, "train.stepz"),
        ({"model": {"widht": 3}}, "model.widht"),
        ({"method": {"name": "megan", "lamda": 1.0}}, "method.lamda"),
        ({"method": {"name": "gan", "lam": 1.0}}, "method.lam"),  # the GAN has no λ
    ],
)
def test_unknown_keys_are_errors_that_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(GanguardError) as info:
        config_from_dict(raw)
    message = str(info.value)
    assert key in message
    assert "unknown" in message


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"method": {"name": "megan", "lam": -1}}, "method.lam"),
        ({"method": {"name": "megan", "mode": "maximal"}}, "method.mode"),
        ({"train": {"steps": 0}}, "train.steps"),
        ({"train": {"steps": "many"}}, "train.steps"),
        ({"data": {"n_members": -5}}, "data.n_members"),
        ({"model": {"arch": "resnet"}}, "model.arch"),
    ],
)
def test_impossible_values_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(GanguardError, match=key.replace(".", r"\.")):
        config_from_dict(raw)


def test_negative_lambda_from_an_override_names_method_lam(tiny_config: dict, write_config) -> None:
    path = write_config(tiny_config)
    with pytest.raises(GanguardError, match=r"method\.lam"):
        load_config(path, ["method.name=megan", "method.lam=-1"])


def test_overrides_parse_yaml_values() -> None:
    raw = {"train": {"steps": 5}, "model": {"spectral_norm": True}}
    out = apply_overrides(
        raw,
        [
            "train.steps=10",
            "model.spectral_norm=false",
            "train.lr_d=1e-3",
            "method.name=megan",
            "method.lam=0.5",
            "data.path=/tmp/a=b.npz",
        ],
    )
    assert out["train"]["steps"] == 10 and type(out["train"]["steps"]) is int
    assert out["model"]["spectral_norm"] is False
    assert out["method"] == {"name": "megan", "lam": 0.5}
    assert out["data"]["path"] == "/tmp/a=b.npz"  # split on the first "=" only
    assert raw == {"train": {"steps": 5}, "model": {"spectral_norm": True}}  # not mutated

    config = config_from_dict(out)
    assert config.train.steps == 10 and config.model.spectral_norm is False
    assert config.method.lam == 0.5
    assert config.train.lr_d == pytest.approx(1e-3)  # PyYAML reads "1e-3" as text; still a float


def test_overrides_apply_on_top_of_the_file(tiny_config: dict, write_config) -> None:
    config = load_config(write_config(tiny_config), ["train.steps=7", "seed=3"])
    assert config.train.steps == 7 and config.seed == 3
    assert config.train.batch_size == 16  # untouched keys keep the file's values


@pytest.mark.parametrize("bad", ["train.steps", "=3", "train.steps.deeper=1"])
def test_malformed_overrides_are_errors(bad: str) -> None:
    with pytest.raises(GanguardError):
        config_from_dict(apply_overrides({"train": {"steps": 5}}, [bad]))


def test_unknown_method_name() -> None:
    with pytest.raises(GanguardError, match="nope") as info:
        config_from_dict({"method": {"name": "nope"}})
    assert "method.name" in str(info.value)
    assert "megan" in str(info.value)  # lists the known methods


@pytest.mark.parametrize("text", ["- a\n- b\n", "42\n", "just a string\n"])
def test_a_config_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    with pytest.raises(GanguardError, match="mapping"):
        load_config(path)


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("train: {steps: [1, 2\n")
    with pytest.raises(GanguardError, match="cfg.yaml"):
        load_config(path)


def test_a_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(GanguardError, match="not found") as info:
        load_config(path)
    assert "nowhere.yaml" in str(info.value)


def test_an_empty_config_file_gives_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path) == load_config(None)
