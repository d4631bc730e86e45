"""GAN-Leaks white box (Chen et al., 2020): how well the generator can reconstruct a record.

score(v) = −min_z (‖v − G(z)‖² + λ_z ‖z‖²). The latent z is optimised per candidate (Adam or
L-BFGS), from `restarts` starting points: the latents of the generated samples nearest to v when
the threat model gives samples with their latents (the GAN-Leaks full-black-box matches), random
normals otherwise. The best objective seen over restarts and iterations is kept.

Candidates are optimised together, in batches: one (batch · restarts, z_dim) tensor whose loss is
the sum over rows, so each row's gradient is its own (and Adam, being elementwise, moves each row
exactly as if it were optimised alone). Gradients are taken with respect to z only; the target
generator's parameters are never given a gradient.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from ganguard.attacks.base import GENERATOR, Attack, AttackSettings, ThreatModel
from ganguard.devices import current_device, resolve_device
from ganguard.distances import nearest
from ganguard.errors import GanguardError

DEFAULT_LR = {"adam": 0.05, "lbfgs": 1.0}


class GanLeaksWBSettings(AttackSettings):
    optimizer: Literal["adam", "lbfgs"] = "adam"
    # None: adam 0.05, lbfgs 1.0 (with a strong-Wolfe line search); the value used is recorded
    lr: float | None = Field(None, gt=0)
    iterations: int = Field(200, ge=0)  # adam: steps; lbfgs: max_iter of its single .step()
    restarts: int = Field(3, ge=1)
    lambda_z: float = Field(0.001, ge=0)
    batch_size: int = Field(256, ge=1)  # candidates per optimisation batch (rows: × restarts)
    seed: int | None = None  # random restarts; None: the threat model's seed
    device: str | None = None  # where z is optimised; None: the audit's device

    @model_validator(mode="after")
    def _default_lr(self) -> GanLeaksWBSettings:
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        return self


class GanLeaksWB(Attack):
    """White-box GAN-Leaks: −min_z (‖v − G(z)‖² + λ_z‖z‖²), z optimised per candidate."""

    name = "ganleaks_wb"
    needs = frozenset({GENERATOR})
    description = (
        "white box: -min_z ||v - G(z)||^2 + lambda_z ||z||^2, z optimised per candidate "
        "(restarts seeded from the nearest generated samples when their latents are given)"
    )

    Settings = GanLeaksWBSettings

    def fit(self, threat: ThreatModel) -> GanLeaksWB:
        super().fit(threat)
        self.device = resolve_device(self.settings["device"]) if self.settings["device"] \
            else current_device()  # fmt: skip
        self.z_dim = int(threat.generator.z_dim)
        self._pool = self._pool_z = self._pool_sq = None
        if threat.samples is not None and threat.samples_z is not None:
            samples = np.asarray(threat.samples, dtype=np.float32)
            latents = np.asarray(threat.samples_z, dtype=np.float32)
            if latents.shape != (len(samples), self.z_dim):
                raise GanguardError(
                    f"attack {self.name}: samples_z has shape {latents.shape}; expected "
                    f"({len(samples)}, {self.z_dim}), one latent per generated sample"
                )
            if len(samples):
                self._pool = torch.from_numpy(samples.reshape(len(samples), -1)).to(self.device)
                self._pool_z = torch.from_numpy(latents).to(self.device)
                self._pool_sq = self._pool.pow(2).sum(1)
        self._cache = None
        return self

    # -- scoring ----------------------------------------------------------------------------
    def score(self, candidates: np.ndarray) -> np.ndarray:
        return self._run(candidates)[0]

    def extra_scores(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        """`reconstruction`: −‖v − G(z)‖² at the best z (the objective without the z prior)."""
        return {"reconstruction": self._run(candidates)[1]}

    def _run(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.fitted("scoring")
        x = np.ascontiguousarray(candidates, dtype=np.float32)
        if x.ndim < 2:
            raise GanguardError(
                f"attack {self.name}: candidates must be (n, C, H, W), got {x.shape}"
            )
        key = hashlib.sha256(repr(x.shape).encode() + x.tobytes()).hexdigest()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        s = self.settings
        seed = self.threat.seed if s["seed"] is None else s["seed"]
        rng = torch.Generator().manual_seed(int(seed))
        flat = torch.from_numpy(x.reshape(len(x), -1))
        objective = np.empty(len(x))
        distance = np.empty(len(x))
        for start in range(0, len(x), s["batch_size"]):
            target = flat[start : start + s["batch_size"]].to(self.device)
            z0 = self._starts(target, rng)
            rows = target.repeat_interleave(s["restarts"], 0)
            obj, dist = self._minimise(self.threat.generator.fn, rows, z0)
            obj, dist = obj.view(len(target), -1), dist.view(len(target), -1)
            best = obj.argmin(1, keepdim=True)
            objective[start : start + len(target)] = obj.gather(1, best).squeeze(1).cpu().numpy()
            distance[start : start + len(target)] = dist.gather(1, best).squeeze(1).cpu().numpy()
        if not (np.isfinite(objective).all() and np.isfinite(distance).all()):
            raise GanguardError(f"attack {self.name}: the generator gave non-finite outputs")
        self._cache = (key, -objective, -distance)
        return -objective, -distance

    def _starts(self, target: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """(len(target) · restarts, z_dim) starting latents, each candidate's `restarts` in a row:
        the latents of its nearest generated samples, then random normals if the pool is short."""
        r = self.settings["restarts"]
        z0 = torch.randn(len(target), r, self.z_dim, generator=rng).to(self.device)
        if self._pool is not None:
            with torch.no_grad():
                _, idx = nearest(target, self._pool, r, sample_norms=self._pool_sq)
                idx = idx.reshape(len(target), -1)
            z0[:, : idx.shape[1]] = self._pool_z[idx.to(self.device)]
        return z0.reshape(-1, self.z_dim)

    def _minimise(
        self, fn: Callable[[torch.Tensor], torch.Tensor], target: torch.Tensor, z0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per row, the lowest objective ‖target − G(z)‖² + λ‖z‖² seen, and its distance."""
        s = self.settings
        lam = s["lambda_z"]
        z = z0.detach().clone().requires_grad_(True)
        best_obj = torch.full((len(z),), math.inf, device=z.device)
        best_dist = torch.full((len(z),), math.inf, device=z.device)

        def evaluate() -> torch.Tensor:
            nonlocal best_obj, best_dist
            out = fn(z)
            if out[0].numel() != target.shape[1]:
                raise GanguardError(
                    f"attack {self.name}: the generator makes records of shape "
                    f"{tuple(out.shape[1:])}, which do not match the candidates' size"
                )
            dist = (out.reshape(len(z), -1) - target).pow(2).sum(1)
            obj = dist + lam * z.pow(2).sum(1)
            with torch.no_grad():
                better = obj < best_obj  # NaN never counts as better
                best_obj = torch.where(better, obj, best_obj)
                best_dist = torch.where(better, dist, best_dist)
            return obj.sum()

        def gradient() -> torch.Tensor:
            total = evaluate()
            if total.requires_grad:  # gradients for z only, never for G's parameters
                (z.grad,) = torch.autograd.grad(total, z)
            else:
                z.grad = torch.zeros_like(z)
            return total.detach()

        if s["iterations"] > 0 and s["optimizer"] == "adam":
            opt = torch.optim.Adam([z], lr=s["lr"])
            for _ in range(s["iterations"]):
                gradient()
                opt.step()
        elif s["iterations"] > 0:
            lbfgs = torch.optim.LBFGS(
                [z],
                lr=s["lr"],
                max_iter=s["iterations"],
                tolerance_grad=1e-9,
                tolerance_change=1e-12,
                line_search_fn="strong_wolfe",
            )
            lbfgs.step(gradient)
        with torch.no_grad():
            evaluate()  # the last iterate
        return best_obj, best_dist
