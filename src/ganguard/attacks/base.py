"""The attack interface (the TAPAS shape): a threat model says what the attacker is given; an
attack declares what it needs, is fitted on a threat model, and scores candidate records.

Scores: one float per candidate, higher = more likely a member. Records are float32 arrays of
shape (n, C, H, W) in [-1, 1], like the data sets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from ganguard.errors import GanguardError

# What an attacker may be given; an attack lists what it needs in `needs`.
SAMPLES = "samples"  # generated samples (black box)
DISCRIMINATOR = "discriminator"  # white box: the discriminator(s)
GENERATOR = "generator"  # white box: the generator as a differentiable function of z
REFERENCE = "reference"  # non-member records from the same distribution (R)
REFERENCE_MODEL = "reference_model"  # the same view of a generator trained on R (calibration)
KINDS = (SAMPLES, DISCRIMINATOR, GENERATOR, REFERENCE, REFERENCE_MODEL)


@dataclass
class Generator:
    """A white-box generator: `fn(z)` maps latents (n, z_dim) to records, differentiably."""

    fn: Callable[[torch.Tensor], torch.Tensor]
    z_dim: int


@dataclass
class ThreatModel:
    """Everything the attacker is given; None where it is not given.

    `samples_z` holds the latents of `samples` when they came from the white-box generator, so
    latent-optimisation attacks can start from the best matches. `reference_model` is the same
    view (samples, generator, ...) of a generator trained on R with the target's configuration.
    """

    samples: np.ndarray | None = None
    samples_z: np.ndarray | None = None
    discriminator: Callable[[np.ndarray], np.ndarray] | None = None  # logits (n,) or (n, k)
    generator: Generator | None = None
    reference: np.ndarray | None = None
    reference_model: ThreatModel | None = None
    seed: int = 0

    def available(self) -> set[str]:
        return {k for k in KINDS if getattr(self, k) is not None}


class Attack:
    """A membership inference attack: `fit` on a threat model, then `score` candidates."""

    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    description: ClassVar[str] = ""

    def __init__(self, **settings: Any):
        self.settings = settings

    @classmethod
    def allowed(cls, threat: ThreatModel) -> bool:
        return cls.needs <= threat.available()

    def fit(self, threat: ThreatModel) -> Attack:
        missing = sorted(self.needs - threat.available())
        if missing:
            raise GanguardError(f"attack {self.name} needs {' and '.join(missing)}, not given")
        self.threat = threat
        return self

    def score(self, candidates: np.ndarray) -> np.ndarray:
        """One membership score per candidate, higher = more likely a member."""
        raise NotImplementedError

    def extra_scores(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        """Secondary scores reported beside the main one (e.g. the mean over discriminators)."""
        return {}
