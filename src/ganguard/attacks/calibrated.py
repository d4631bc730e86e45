"""Calibrated attacks (GAN-Leaks "cal"): the target's score minus the same attack's score against
a reference generator, one trained on the reference records R with the target's configuration.

A record scores high when the target fits it better than a model that never saw it would, which
cancels out records that are simply easy (typical, simple) for any generator of the data.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar

import numpy as np

from ganguard.attacks.base import REFERENCE, REFERENCE_MODEL, Attack, ThreatModel
from ganguard.attacks.density import DOMIAS
from ganguard.attacks.distance import GanLeaksFBB, MonteCarlo
from ganguard.attacks.latent import GanLeaksWB
from ganguard.errors import GanguardError


@functools.cache
def make_calibrated(base: type[Attack]) -> type[Attack]:
    """The calibrated version of `base`: name `base.name + "_cal"`, needs `base.needs` plus
    `reference_model`; score = base score on the target - base score on the reference model.

    Settings pass through to both base attacks; after `fit`, `settings` holds the target
    attack's settings, plus `reference_<key>` for each value the reference attack chose
    differently (e.g. `reference_epsilon_used`). When the base attack needs reference records
    and the reference model's view has none, the target's R is used. One class per base (cached).
    """

    class Calibrated(Attack, register=False):
        name: ClassVar[str] = base.name + "_cal"
        needs: ClassVar[frozenset[str]] = frozenset(base.needs | {REFERENCE_MODEL})
        description: ClassVar[str] = (
            f"{base.name} calibrated: its score minus its score against a generator trained on R"
        )
        base_attack: ClassVar[type[Attack]] = base
        Settings = base.Settings

        def __init__(self, **settings: Any):
            super().__init__(**settings)  # validates the settings and fills in defaults
            self.target = base(**settings)
            self.reference = base(**settings)

        def fit(self, threat: ThreatModel) -> Attack:
            super().fit(threat)
            ref = threat.reference_model
            if not isinstance(ref, ThreatModel):
                raise GanguardError(
                    f"attack {self.name}: reference_model must be a ThreatModel, "
                    f"not {type(ref).__name__}"
                )
            if REFERENCE in base.needs and ref.reference is None:
                ref = dataclasses.replace(ref, reference=threat.reference)
            missing = sorted(base.needs - ref.available())
            if missing:
                raise GanguardError(
                    f"attack {self.name}: the reference model gives no {' and '.join(missing)}"
                )
            self.target.fit(threat)
            self.reference.fit(ref)
            self._merge_settings()
            return self

        def _merge_settings(self) -> None:
            """The target attack's settings, and those the reference attack chose otherwise
            (after fitting, and again after scoring: some attacks choose values then)."""
            settings = dict(self.target.settings)
            for key, value in self.reference.settings.items():
                if key not in settings or settings[key] != value:
                    settings["reference_" + key] = value
            self.settings = settings

        def score(self, candidates: np.ndarray) -> np.ndarray:
            target = np.asarray(self.target.score(candidates), dtype=np.float64)
            reference = np.asarray(self.reference.score(candidates), dtype=np.float64)
            self._merge_settings()
            return target - reference

        def extra_scores(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
            """The base attack's secondary scores, calibrated the same way."""
            target = self.target.extra_scores(candidates)
            reference = self.reference.extra_scores(candidates)
            return {
                key: np.asarray(target[key], dtype=np.float64)
                - np.asarray(reference[key], dtype=np.float64)
                for key in target
                if key in reference
            }

    Calibrated.__name__ = Calibrated.__qualname__ = base.__name__ + "Cal"
    Calibrated.__module__ = __name__
    Calibrated.__doc__ = (
        f"{base.__name__} calibrated against a reference generator trained on R "
        f"(score = target score - reference score)."
    )
    return Calibrated


# The calibrated attacks an audit can run: GAN-Leaks' own (Chen et al. 2020). The others can be
# made for a study, e.g. make_calibrated(MonteCarlo).
GanLeaksFBBCal = Attack.register(make_calibrated(GanLeaksFBB))
GanLeaksWBCal = Attack.register(make_calibrated(GanLeaksWB))
MonteCarloCal = make_calibrated(MonteCarlo)
DOMIASCal = make_calibrated(DOMIAS)
