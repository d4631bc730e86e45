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
    name: str = Field("mnist-5k", description="the data set (`ganguard datasets` lists them)")
    path: str | None = Field(
        None, description="folder or file to read the data set from (data sets that are not "
        "installed packages: `npz`, `cifar10`, or another copy)")  # fmt: skip
    seed: int = Field(
        0, description="seeds the split only, so the data roles survive a change of `seed`")
    n_members: int = Field(500, ge=1, description="records of S, the members trained on")
    n_holdout: int = Field(500, ge=0, description="records of H, the audit's non-members")
    n_reference: int = Field(
        3000, ge=0, description="records of R, the non-members the defences (and the auditor) "
        "may use")  # fmt: skip
    n_test: int = Field(1000, ge=0, description="records of T, for the utility metrics")
    reference_data: str | None = Field(
        None, description="take R from this other data set of the same kind (a public "
        "collection beside the private one): `n_reference` records not in `data.name`, in its "
        "class proportions when both are labelled; none: R is cut from `data.name`")  # fmt: skip
    reference_path: str | None = Field(None, description="like `data.path`, for `reference_data`")
    columns: dict[str, Any] | None = Field(
        None, description="tables: column name -> kind (continuous, discrete or categorical), "
        "or {kind: K, missing: false} to refuse missing values; columns not named are inferred "
        "(`ganguard datasets --inspect FILE` prints what is)")  # fmt: skip
    target: str | None = Field(
        None, description="tables: the class column (categorical or discrete) that conditional "
        "runs and train-on-synthetic accuracy use; embedded tables name their own")  # fmt: skip


class ModelConfig(Strict):
    arch: Literal["auto", "dcgan", "mlp"] = Field(
        "auto", description="networks; auto: dcgan for 28x28 and 32x32 images, else mlp")
    z_dim: int = Field(64, ge=1, description="size of the latent z")
    g_width: int = Field(
        64, ge=1, description="generator width (dcgan: channels of its last stage; mlp: hidden "
        "units)")  # fmt: skip
    d_width: int = Field(64, ge=1, description="discriminator width, as g_width")
    depth: int = Field(
        2, ge=1, description="dcgan: up/down-sampling stages; mlp: hidden layers")
    d_norm: Literal["none", "group"] = Field(
        "none", description="normalisation in D (never BatchNorm: DP-SGD needs per-record "
        "computations)")  # fmt: skip
    spectral_norm: bool = Field(True, description="spectral normalisation of every layer of D")
    conditional: bool = Field(
        False, description="class-conditional: a label embedding in G and a projection "
        "discriminator (needs labelled data)")  # fmt: skip
    label_embed_dim: int = Field(16, ge=1, description="size of G's label embedding")
    pac: int = Field(
        1, ge=1, description="PacGAN packing (mlp): D reads `pac` records at once, so it can "
        "see a generator that collapses to a few records (CTGAN packs 10); train.batch_size "
        "(and MEGAN's critic_batch) must be multiples of it; not with dpgan or conditional "
        "runs")  # fmt: skip


class TrainConfig(Strict):
    steps: int = Field(2000, ge=1, description="training steps")
    batch_size: int = Field(
        64, ge=1, description="members per step (DP-GAN: the expected size of its Poisson batch)")
    lr_g: float = Field(2e-4, gt=0, description="the generator's Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, description="the discriminators' Adam learning rate")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam β1 of every network and critic")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam β2 of every network and critic")
    log_every: int = Field(100, ge=1, description="steps between lines of metrics.jsonl")
    n_log: int = Field(
        500, ge=2, description="records of S and of H the monitor scores at each log line")
    checkpoint_every: int = Field(500, ge=1, description="steps between checkpoints")
    keep_checkpoints: int = Field(
        1, ge=0, description="checkpoints kept (the latest); 0 keeps all")
    progress: bool = Field(True, description="show a progress bar")
    augment: list[Literal["translation", "cutout"]] = Field(
        default_factory=list, description="DiffAugment policies applied to every input of D, "
        "real and generated, in every method")  # fmt: skip
    canaries: int = Field(
        0, ge=0, description="canary records for the one-run audit (`ganguard audit "
        "--canaries`): each put into the training set by a seeded fair coin, left out of every "
        "other measurement")  # fmt: skip
    pretrain_on: str | None = Field(
        None, description="a public data set of the same kind (`ganguard datasets`): the run's "
        "generator and discriminators are first trained as the GAN on every record of it that "
        "is not in the private data set, for `train.pretrain_steps` steps (kept in "
        "RUN_DIR/pretrain/), then the method trains on S from those weights (DP-GAN: the public "
        "records cost none of its budget); none: from scratch")  # fmt: skip
    pretrain_path: str | None = Field(None, description="like `data.path`, for `pretrain_on`")
    pretrain_steps: int = Field(2000, ge=1, description="steps of the pre-training on pretrain_on")
    canary_source: Literal["reference", "crafted"] = Field(
        "reference", description="where the canaries come from: records taken out of R, or "
        "records crafted out of distribution (uniform noise)")  # fmt: skip


DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"  # as ganguard.devices, which imports torch


class Config(Strict):
    seed: int = Field(0, description="seeds initialisation, latent draws and batches")
    device: str = Field(
        "auto", pattern=DEVICE_PATTERN, description="where the run trains: auto (a CUDA device "
        "when there is one), cpu, cuda or cuda:K; a run trained on one device resumes, samples "
        "and is audited on any other")  # fmt: skip
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


def recipe_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """`config_differences` without `device`: where a run trains does not change what it is (a
    finished sweep run or a shadow set made on another device is still the same)."""
    return [k for k in config_differences(a, b) if k != "device"]


def dump_config(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)
