"""Run configuration: YAML validated by pydantic, with `--set a.b=v` overrides.

Unknown keys and impossible values are errors that name the key. Method options are validated by
the options class of the chosen method (`ganguard.options`), so each method owns its keys. Nothing
here imports torch: a config is checked before anything heavy is loaded.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator

from ganguard.errors import GanguardError
from ganguard.options import MethodOptions, options_class


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Strict):
    name: str = "mnist-5k"
    path: str | None = None  # folder or file for data sets that are not installed packages
    seed: int = 0  # seeds the split only, so the same data roles survive a change of training seed
    n_members: int = Field(500, ge=1)
    n_holdout: int = Field(500, ge=0)
    n_reference: int = Field(3000, ge=0)
    n_test: int = Field(1000, ge=0)
    # R from another data set of the same kind (e.g. a public collection beside a small private
    # one): n_reference records drawn from it, leaving out any that also appear in data.name (so
    # no member can be in R), in data.name's class proportions when both are labelled. A larger
    # R is harder for D to memorise (README "Results")
    reference_data: str | None = None
    reference_path: str | None = None  # like data.path, for reference_data


class ModelConfig(Strict):
    arch: Literal["auto", "dcgan", "mlp"] = "auto"  # auto: dcgan for 28x28 / 32x32 images, else mlp
    z_dim: int = Field(64, ge=1)
    g_width: int = Field(64, ge=1)  # dcgan: channels of the last stage; mlp: hidden units
    d_width: int = Field(64, ge=1)
    depth: int = Field(2, ge=1)  # dcgan: up/down-sampling stages; mlp: hidden layers
    d_norm: Literal["none", "group"] = "none"  # never BatchNorm in D: DP-SGD needs per-sample ops
    spectral_norm: bool = True
    # class-conditional: label embedding in G, projection discriminator (needs labelled data)
    conditional: bool = False
    label_embed_dim: int = Field(16, ge=1)  # size of G's label embedding


class TrainConfig(Strict):
    steps: int = Field(2000, ge=1)
    batch_size: int = Field(64, ge=1)
    lr_g: float = Field(2e-4, gt=0)
    lr_d: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    log_every: int = Field(100, ge=1)
    n_log: int = Field(500, ge=2)  # records of S and of H scored at each log line
    checkpoint_every: int = Field(500, ge=1)
    keep_checkpoints: int = Field(1, ge=0)  # how many step checkpoints to keep; 0 keeps all
    progress: bool = True
    # DiffAugment policies applied to every discriminator input, real and generated, in every
    # method: any of translation, cutout
    augment: list[Literal["translation", "cutout"]] = []


class Config(Strict):
    seed: int = 0  # seeds initialisation, latent draws and batches
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    method: SerializeAsAny[MethodOptions] = MethodOptions()

    @field_validator("method", mode="before")
    @classmethod
    def _method_options(cls, value: Any) -> MethodOptions:
        if isinstance(value, MethodOptions):
            return value
        if not isinstance(value, dict):
            raise ValueError("must be a mapping with a `name`")
        options = options_class(value.get("name", "gan"))
        for key, why in options.removed.items():
            if key in value:
                raise GanguardError(f"config key method.{key}: {why}")
        try:
            return options.model_validate(value)
        except ValidationError as err:
            # Re-raised as our own error so the message keeps the full key, e.g. `method.lam`.
            raise GanguardError(_describe(err, prefix="method.")) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _describe(err: ValidationError, prefix: str = "") -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not str(p).startswith("function-"))
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"config key {prefix}{loc}: {msg}"


def _parse_value(text: str) -> Any:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 as text; a user means the number
        try:
            return float(value)
        except ValueError:
            pass
    return value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b=v` overrides (values parsed as YAML) to a nested dict, returning a copy."""
    raw = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise GanguardError(f"--set expects key=value, got {item!r}")
        node, last = dotted_parent(raw, key, "config key ")
        node[last] = _parse_value(text)
    return raw


def dotted_parent(raw: dict[str, Any], key: str, label: str) -> tuple[dict[str, Any], str]:
    """For a dotted key `a.b.c`: the dict that holds `c` (sections made as needed) and `c`.
    Errors read `<label><key>: <part> is not a section`."""
    parts = str(key).split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise GanguardError(f"{label}{key}: {part} is not a section")
        node = child
    return node, parts[-1]


def config_from_dict(raw: dict[str, Any]) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        raise GanguardError(_describe(err)) from None


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config (or the defaults when `path` is None) and apply overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise GanguardError(f"config file not found: {path}") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            first = str(err).strip().splitlines()[0]
            raise GanguardError(f"cannot read config {path}: {first}") from None
        if not isinstance(raw, dict):
            raise GanguardError(f"config {path} must be a YAML mapping")
    return config_from_dict(apply_overrides(raw, list(overrides)))


def config_differences(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two config dicts (a missing key is None)."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
