"""LOGAN (Hayes et al., 2019): membership inference from a discriminator's confidence.

- `logan_wb` (white box): the target's own discriminator logit d(v); with several discriminators
  (PAR-GAN, PrivGAN) the score is the maximum over them, the mean is reported beside it.
- `logan_bb` (black box): the attacker trains a GAN of its own on the target's generated samples;
  that GAN's discriminator learns what the target generator over-produces, which for an overfit
  target are records near its members. The score is the attacker discriminator's logit.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field

from ganguard.attacks.base import DISCRIMINATOR, SAMPLES, Attack, AttackSettings, ThreatModel
from ganguard.config import Config, config_from_dict, dotted_parent
from ganguard.errors import GanguardError
from ganguard.metrics.attack_metrics import white_box_scores
from ganguard.train import array_data, train


def _records(x: Any, what: str) -> np.ndarray:
    """`x` as a C-contiguous float32 array of records (n, ...), or a clear error."""
    arr = np.ascontiguousarray(x, dtype=np.float32)
    if arr.ndim < 2:
        raise GanguardError(f"{what}: expected an array of records (n, C, H, W), got {arr.shape}")
    return arr


class LoganWBSettings(AttackSettings):
    batch_size: int = Field(4096, ge=1)  # candidates per call of the discriminator


class LoganWB(Attack):
    """White-box LOGAN: the discriminator's logit d(v); max (and mean) over discriminators."""

    name = "logan_wb"
    needs = frozenset({DISCRIMINATOR})
    description = "white box: the target discriminator's logit d(v) (max over discriminators)"
    Settings = LoganWBSettings

    def logits(self, candidates: np.ndarray) -> np.ndarray:
        """The discriminator logits as (n, k) float64, k discriminators (k = 1 for one)."""
        self.fitted("scoring")
        x = _records(candidates, f"attack {self.name} candidates")
        step = self.settings["batch_size"]
        parts = []
        for i in range(0, len(x), step):
            chunk = x[i : i + step]
            out = np.asarray(self.threat.discriminator(chunk), dtype=np.float64)
            if out.ndim == 1:
                out = out[:, None]
            if out.ndim != 2 or out.shape[0] != len(chunk) or out.shape[1] < 1:
                raise GanguardError(
                    f"attack {self.name}: the discriminator returned shape {out.shape} for "
                    f"{len(chunk)} records; expected ({len(chunk)},) or ({len(chunk)}, k)"
                )
            parts.append(out)
        if not parts:
            return np.empty((0, 1))
        widths = {p.shape[1] for p in parts}
        if len(widths) != 1:
            raise GanguardError(f"attack {self.name}: inconsistent numbers of discriminators")
        return np.concatenate(parts)

    def score(self, candidates: np.ndarray) -> np.ndarray:
        return white_box_scores(self.logits(candidates))[0]

    def extra_scores(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        mean = white_box_scores(self.logits(candidates))[1]
        return {} if mean is None else {"mean": mean}


def _deep_update(base: dict[str, Any], overrides: dict[str, Any], where: str = "") -> None:
    """Merge `overrides` into `base` in place; keys may be nested dicts or dotted (`train.lr_d`)."""
    for key, value in overrides.items():
        node, last = dotted_parent(base, key, f"config_overrides: {where}")
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            _deep_update(node[last], value, f"{where}{key}.")
        else:
            node[last] = copy.deepcopy(value)


class LoganBBSettings(AttackSettings):
    """The attacker GAN. Its networks are the target's when the threat model gives the target's
    architecture (`model.*` of its config: no secret), else the ones set here; then
    `config_overrides` (any config keys, nested or dotted) on top."""

    steps: int = Field(1000, ge=1)
    batch_size: int = Field(64, ge=1)
    arch: Literal["auto", "dcgan", "mlp"] = "auto"
    d_width: int = Field(64, ge=1)
    g_width: int = Field(64, ge=1)
    depth: int = Field(2, ge=1)
    spectral_norm: bool = False
    seed: int | None = None  # None: the threat model's seed
    config_overrides: dict[str, Any] = Field(default_factory=dict)


class LoganBB(Attack):
    """Black-box LOGAN: an attacker GAN trained on the target's samples; its D's logit."""

    name = "logan_bb"
    needs = frozenset({SAMPLES})
    description = "black box: an attacker GAN trained on the generated samples; its D's logit"

    Settings = LoganBBSettings

    def __init__(self, **settings: Any):
        super().__init__(**settings)
        self.build_config(0)  # validate the settings now, not after the samples are loaded

    def build_config(self, seed: int, architecture: dict[str, Any] | None = None) -> Config:
        """The attacker GAN's configuration (a ganguard Config; no run directory is written):
        `architecture` (the target's `model` section) when given, else the settings' networks;
        unconditional, as the samples it learns from come without labels."""
        s = self.settings
        model = {k: s[k] for k in ("arch", "d_width", "g_width", "depth", "spectral_norm")}
        if architecture is not None:
            model = {**architecture, "conditional": False}
        raw: dict[str, Any] = {
            "seed": seed if s["seed"] is None else s["seed"],
            "model": model,
            "train": {"steps": s["steps"], "batch_size": s["batch_size"], "progress": False},
            "method": {"name": "gan"},
        }
        _deep_update(raw, s["config_overrides"])
        try:
            return config_from_dict(raw)
        except GanguardError as err:
            raise GanguardError(f"attack {self.name}: {err}") from None

    def fit(self, threat: ThreatModel) -> LoganBB:
        super().fit(threat)
        samples = _records(threat.samples, f"attack {self.name} samples")
        if len(samples) == 0:
            raise GanguardError(f"attack {self.name}: no generated samples given")
        if not np.isfinite(samples).all():
            raise GanguardError(f"attack {self.name}: the generated samples contain NaN or inf")
        self.shape = tuple(samples.shape[1:])
        self.config = self.build_config(threat.seed, threat.architecture)
        self.settings["model_used"] = self.config.model.model_dump()
        self.method = train(self.config, data=array_data(samples)).method
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        self.fitted("scoring")
        x = _records(candidates, f"attack {self.name} candidates")
        if tuple(x.shape[1:]) != self.shape:
            raise GanguardError(
                f"attack {self.name}: candidates have shape {tuple(x.shape[1:])}, "
                f"the samples {self.shape}"
            )
        # an attacker with several discriminators: the max, as the white-box attack takes
        out = white_box_scores(self.method.score(torch.from_numpy(x)).numpy())[0]
        if not np.isfinite(out).all():
            raise GanguardError(
                f"attack {self.name}: the attacker GAN diverged (non-finite logits)"
            )
        return out
