"""A sweep file, read and expanded into the runs it describes (one `RunSpec` each)."""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganguard.config import Config, config_from_dict, dotted_parent, load_config
from ganguard.errors import GanguardError

FAST_ATTACKS = ["logan_wb", "ganleaks_fbb", "montecarlo"]  # SPEC §9's attacks along training


class SweepSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base: str | dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"run": {}})
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    curve_points: int = Field(0, ge=0)  # checkpoints along training audited and evaluated
    curve_attacks: list[str] = Field(default_factory=lambda: list(FAST_ATTACKS))
    attacks: str | list[str] = "default"  # the audit at the end of each run
    audit_k: int = Field(20_000, ge=1)  # generated samples for the attacks
    n_per_class: int | None = Field(None, ge=1)  # members (= non-members) audited
    evaluate_n: int | None = Field(None, ge=2)  # generated samples for the utility metrics
    kid_subsets: int = Field(100, ge=1)
    cpus_per_run: int = Field(2, ge=1)  # the CPU request of each Ray task
    gpus_per_run: float = Field(1.0, ge=0)  # the GPU request of each Ray task, runs on CUDA


@dataclass
class RunSpec:
    """One run of a sweep: its directory name, variant, grid values and full config."""

    name: str
    variant: str
    values: dict[str, Any]  # the grid's values for this run (dotted key -> value)
    config: dict[str, Any]

    @property
    def group(self) -> str:
        """The run's name without its seed: runs that differ only in seed are averaged."""
        rest = {k: v for k, v in self.values.items() if k != "seed"}
        return _run_name(self.variant, rest)


@dataclass
class Sweep:
    path: Path  # the sweep folder
    settings: SweepSettings
    runs: list[RunSpec] = field(default_factory=list)


def load_sweep(path: str | Path, out: str | Path | None = None) -> Sweep:
    """Read SWEEP.yaml and expand it; the sweep folder is `out` (default sweeps/<file stem>)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GanguardError(f"sweep file not found: {path}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise GanguardError(f"cannot read sweep {path}: {str(err).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise GanguardError(f"sweep {path}: expected a mapping of sweep keys")
    if isinstance(raw.get("base"), str):
        base = Path(raw["base"])
        raw["base"] = str(base if base.is_absolute() else path.parent / base)
    settings = sweep_settings(raw)
    folder = Path(out) if out is not None else Path("sweeps") / path.stem
    return Sweep(folder, settings, expand(settings))


def sweep_settings(raw: dict[str, Any]) -> SweepSettings:
    try:
        return SweepSettings.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise GanguardError(f"sweep key {loc}: {msg}") from None


def expand(settings: SweepSettings) -> list[RunSpec]:
    """Every (variant, grid combination) as a validated RunSpec, in file order."""
    if isinstance(settings.base, str):
        base = load_config(settings.base).to_dict()
    else:
        base = copy.deepcopy(settings.base)
    base = _with(base, settings.overrides)
    for key, values in settings.grid.items():
        if not values:
            raise GanguardError(f"sweep key grid.{key}: give at least one value")
    keys = list(settings.grid)
    specs: list[RunSpec] = []
    for variant, changes in settings.variants.items():
        for combo in itertools.product(*(settings.grid[k] for k in keys)):
            values = dict(zip(keys, combo, strict=True))
            name = _run_name(variant, values)
            raw = _with(_with(base, changes), values)
            try:
                config = config_from_dict(raw).to_dict()
            except GanguardError as err:
                raise GanguardError(f"sweep run {name}: {err}") from None
            specs.append(RunSpec(name, variant, values, config))
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise GanguardError(f"sweep: two runs would share the directory {dup}; rename a variant")
    return specs


def run_config(spec: RunSpec, settings: SweepSettings, device: str | None = None) -> Config:
    """The config a sweep trains `spec` with: the run's own, plus the curve's checkpoints, on
    `device` when given."""
    raw = copy.deepcopy(spec.config)
    raw["train"]["progress"] = False
    if device is not None:
        raw["device"] = device
    if settings.curve_points:
        raw["train"]["checkpoint_every"] = max(1, raw["train"]["steps"] // settings.curve_points)
        raw["train"]["keep_checkpoints"] = 0  # the curve audits every kept checkpoint
    return config_from_dict(raw)


def _with(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of `raw` with dotted keys set; a mapping value replaces the whole section."""
    out = copy.deepcopy(raw)
    for key, value in changes.items():
        node, last = dotted_parent(out, key, "sweep key ")
        node[last] = copy.deepcopy(value)
    return out


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "-".join(_token(v) if k == "name" else f"{k}{_token(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "+".join(_token(v) for v in value) or "none"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"[^A-Za-z0-9._+-]", "", str(value))


def _run_name(variant: str, values: dict[str, Any]) -> str:
    parts = [_token(variant)] + [f"{k.split('.')[-1]}{_token(v)}" for k, v in values.items()]
    return "_".join(p for p in parts if p)
