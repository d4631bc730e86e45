"""Run directories, checkpoints, and opening a trained run.

A run directory holds `config.yaml` (the resolved config), `split.json` (which records of the data
set are S, H, R and T; `records.json`, a fingerprint, for a run trained on arrays), `metrics.jsonl`
(the training log), `checkpoints/` and, once measured, `audit.json` and `utility.json`.

A checkpoint is a folder `checkpoints/step_NNNNNNN/` holding `weights.safetensors` (every tensor:
network weights, optimiser moments, random-generator states) and `state.json` (everything else,
with the tensors' places marked). It is written under a temporary name and renamed, so a run killed
at any moment leaves either a whole checkpoint or none. Nothing here ever unpickles.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganguard.config import Config, config_differences, config_from_dict
from ganguard.data.split import Split, load_split
from ganguard.devices import resolve_device
from ganguard.errors import GanguardError
from ganguard.methods import Method, RandomStreams, method_class

CHECKPOINTS = "checkpoints"
WEIGHTS = "weights.safetensors"
STATE = "state.json"
RECORDS = "records.json"  # a run trained on arrays: their fingerprint, in place of split.json


# -- atomic writes -----------------------------------------------------------------------------
def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file under a temporary name in the same folder, then rename it into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise GanguardError(f"cannot write {path}: {err.strerror or err}") from None


def write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GanguardError(f"missing file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GanguardError(f"cannot read {path}: {err}") from None


# -- run configs -------------------------------------------------------------------------------
# Keys that may change when a run is resumed: they extend or re-time training, not its meaning.
RESUMABLE_CHANGES = {"train.steps", "train.log_every", "train.checkpoint_every", "train.progress",
                     "train.keep_checkpoints", "device"}  # fmt: skip


def read_run_config(run_dir: Path) -> Config:
    """The config a run directory was trained with (its config.yaml), validated."""
    path = Path(run_dir) / "config.yaml"
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise GanguardError(f"cannot read {path}: {err}") from None
    return config_from_dict(raw)


def unresumable_changes(run_dir: Path, config: Config) -> list[str]:
    """The config keys in which `config` differs from the run in `run_dir` that a resume may not
    change."""
    saved = read_run_config(run_dir).to_dict()
    return [k for k in config_differences(saved, config.to_dict()) if k not in RESUMABLE_CHANGES]


# -- nested state <-> (tensors, JSON) ----------------------------------------------------------

def _name(key: Any) -> str:
    """A readable, unambiguous name part: int keys get a '#', and '/', '#', '%' are escaped, so
    key 1 and key "1", or key "a/b" and a nested a -> b, never share a name."""
    if isinstance(key, int):
        return f"#{key}"
    return str(key).replace("%", "%25").replace("/", "%2F").replace("#", "%23")


def split_tensors(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested structure by a marker, collecting it into `tensors`."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu().contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        # keys keep their type (optimiser states are keyed by int)
        items = [[k, split_tensors(v, f"{prefix}/{_name(k)}", tensors)] for k, v in obj.items()]
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        return [split_tensors(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at {prefix}")


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        return {k: join_tensors(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


# -- checkpoints -------------------------------------------------------------------------------
def checkpoint_dirs(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))


def save_checkpoint(run_dir: Path, step: int, state: dict[str, Any], keep: int = 1) -> Path:
    """Write `state` (nested dicts of tensors and JSON values) as checkpoint `step`, atomically."""
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:07d}"
    tmp = root / f".tmp_step_{step:07d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tensors(state, "", tensors)
    # on the CPU, so that a run trained on one device resumes on any other
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS))
    write_json(tmp / STATE, {"format": "ganguard-checkpoint-1", "step": step, "state": skeleton})
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    if keep > 0:
        for old in checkpoint_dirs(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: Path) -> tuple[int, dict[str, Any]]:
    """Read a checkpoint folder without unpickling anything: safetensors and JSON only."""
    path = Path(path)
    meta = read_json(path / STATE)
    if not isinstance(meta, dict) or meta.get("format") != "ganguard-checkpoint-1":
        raise GanguardError(f"{path / STATE} is not a ganguard checkpoint state")
    try:
        tensors = load_file(str(path / WEIGHTS))
    except FileNotFoundError:
        raise GanguardError(f"missing checkpoint weights: {path / WEIGHTS}") from None
    except (SafetensorError, OSError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise GanguardError(
            f"{path / WEIGHTS} is not a safetensors file ({first}); refusing to load it"
        ) from None
    try:
        return int(meta["step"]), join_tensors(meta["state"], tensors)
    except (KeyError, TypeError, ValueError) as err:
        raise GanguardError(f"checkpoint {path} is inconsistent: {err!r}") from None


def checkpoint_step(path: Path) -> int:
    """The step of a checkpoint folder, from its name (`step_NNNNNNN`), without reading it."""
    return int(Path(path).name.split("_")[1])


def latest_checkpoint(run_dir: Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


# -- a method and its state ---------------------------------------------------------------------
def build_method(config: Config, shape: tuple[int, ...], n_classes: int = 0,
                 device: str | torch.device | None = None,
                 layout: list | None = None) -> Method:  # fmt: skip
    """The untrained method of `config` for records of `shape` (and `n_classes` classes), on
    `device` (default: the config's); `layout`: a table's record blocks (G's heads)."""
    cls = method_class(config.method.name)
    method = cls(config.method, config, shape, RandomStreams(config.seed), n_classes=n_classes,
                 layout=layout)  # fmt: skip
    return method.to(resolve_device(config.device if device is None else device))


def method_state(method: Method) -> dict[str, Any]:
    """Everything a checkpoint holds of a method: networks, optimisers, streams, extra state."""
    return {
        "modules": {k: m.state_dict() for k, m in method.modules.items()},
        "optimizers": {k: o.state_dict() for k, o in method.optimizers.items()},
        "streams": method.streams.state_dict(),
        "extra": method.extra_state(),
    }


def load_method_state(method: Method, state: dict[str, Any], weights_only: bool = False) -> None:
    """Restore `method_state` (only the networks when `weights_only`: enough to sample)."""
    try:
        for k, m in method.modules.items():
            m.load_state_dict(state["modules"][k])
        if not weights_only:
            for k, o in method.optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            method.streams.load_state_dict(state["streams"])
            method.load_extra_state(state.get("extra", {}))
    except (KeyError, RuntimeError, ValueError) as err:
        first = str(err).splitlines()[0]
        raise GanguardError(f"checkpoint does not fit this run's networks: {first}") from None


# -- opening a trained run ---------------------------------------------------------------------
@dataclass
class Run:
    """A run directory with its config, split (None for a run trained on arrays) and method."""

    path: Path | None
    config: Config
    split: Split | None
    method: Method
    step: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # the method's extra checkpoint state


def load_run(run_dir: str | Path, step: int | None = None,
             device: str | torch.device | None = "auto") -> Run:  # fmt: skip
    """Open a trained run for sampling or auditing: its config, split and last weights (or the
    weights of the checkpoint at `step`, when kept: see train.keep_checkpoints), on `device`
    (whatever device it was trained on; None: the one its config names)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise GanguardError(f"{run_dir} is not a run directory (no config.yaml)")
    config = read_run_config(run_dir)
    split = load_split(run_dir / "split.json") if (run_dir / "split.json").exists() else None
    if split is None and not (run_dir / RECORDS).exists():
        raise GanguardError(f"missing file: {run_dir / 'split.json'}")
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        raise GanguardError(f"{run_dir} has no checkpoint yet")
    if step is not None:
        kept = {checkpoint_step(d): d for d in checkpoint_dirs(run_dir)}
        if step not in kept:
            raise GanguardError(
                f"{run_dir} has no checkpoint at step {step} (kept: {sorted(kept)})"
            )
        checkpoint = kept[step]
    step, state = load_checkpoint(checkpoint)
    if "shape" not in state:
        raise GanguardError(f"checkpoint {checkpoint} does not record the data shape")
    method = build_method(config, tuple(state["shape"]), int(state.get("n_classes", 0)), device,
                          state.get("layout"))  # fmt: skip
    load_method_state(method, state["method"], weights_only=True)
    return Run(run_dir, config, split, method, step, state["method"].get("extra", {}))


# -- process-wide random states (saved so a resumed run continues them) ------------------------
def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's and python's process-wide generators (methods use their own streams,
    but anything that draws from these must not depend on the process)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def global_rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "python": [version, list(internal), gauss],
    }


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
