"""DCR ratio: a record's distance to the closest synthetic record against its distance to the
closest reference record (the distance-to-closest-record test of synthetic-data privacy, read as
a per-record membership score).

score(v) = ln(min_r ‖v − r‖ / min_j ‖v − x̃_j‖): high when v lies closer to the generated samples
than to real non-members. The reference records calibrate each record: a typical record is close
to both, an outlier far from both, and only a record the generator reproduces is much closer to
the samples. Records flattened to vectors; distances by the one kernel of `ganguard.distances`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from ganguard.attacks.base import (
    REFERENCE,
    SAMPLES,
    Attack,
    AttackSettings,
    ThreatModel,
    as_records,
)
from ganguard.distances import nearest
from ganguard.errors import GanguardError

_TINY = 1e-12  # keeps the ratio finite for an exact copy (distance 0)


class DCRRatioSettings(AttackSettings):
    k: int = Field(20_000, ge=1)  # generated samples searched (the first k given)
    memory_mb: float = Field(256.0, gt=0)


class DCRRatio(Attack):
    name: ClassVar[str] = "dcr_ratio"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES, REFERENCE})
    description: ClassVar[str] = (
        "DCR ratio: ln of the distance to the closest reference record over the distance to the "
        "closest generated sample"
    )
    Settings = DCRRatioSettings

    def fit(self, threat: ThreatModel) -> DCRRatio:
        super().fit(threat)
        samples = as_records(threat.samples, "generated samples")
        if len(samples) == 0:
            raise GanguardError(f"attack {self.name}: no generated samples given")
        self._samples = torch.from_numpy(samples[: self.settings["k"]])
        reference = as_records(threat.reference, "reference records", samples.shape[1])
        if len(reference) == 0:
            raise GanguardError(f"attack {self.name}: no reference records given")
        self._reference = torch.from_numpy(reference)
        self.settings["k_used"] = len(self._samples)
        return self

    def distances(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance to the closest generated sample, to the closest reference record) of each
        candidate."""
        self.fitted("scoring")
        x = torch.from_numpy(as_records(candidates, "candidates", self._samples.shape[1]))
        memory = self.settings["memory_mb"]
        to_samples, _ = nearest(x, self._samples, memory_mb=memory)
        to_reference, _ = nearest(x, self._reference, memory_mb=memory)
        return (np.sqrt(to_samples.numpy().astype(np.float64)),
                np.sqrt(to_reference.numpy().astype(np.float64)))  # fmt: skip

    def score(self, candidates: np.ndarray) -> np.ndarray:
        to_samples, to_reference = self.distances(candidates)
        return np.log(to_reference + _TINY) - np.log(to_samples + _TINY)
