"""Calibrated attacks: the target's score minus the same attack's score on a reference model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from ganguard.attacks.base import SAMPLES, Attack, ThreatModel
from ganguard.attacks.calibrated import (
    DOMIASCal,
    GanLeaksFBBCal,
    MonteCarloCal,
    make_calibrated,
)
from ganguard.attacks.density import DOMIAS
from ganguard.attacks.distance import GanLeaksFBB
from ganguard.errors import GanguardError


def _records(points: list[list[float]]) -> np.ndarray:
    return np.asarray(points, dtype=np.float32).reshape(-1, 1, 1, 2)


def test_names_needs_and_one_class_per_base() -> None:
    assert make_calibrated(GanLeaksFBB) is GanLeaksFBBCal
    assert GanLeaksFBBCal.name == "ganleaks_fbb_cal"
    assert GanLeaksFBBCal.needs == {"samples", "reference_model"}
    assert MonteCarloCal.name == "montecarlo_cal"
    assert DOMIASCal.name == "domias_cal"
    assert DOMIASCal.needs == {"samples", "reference", "reference_model"}
    assert issubclass(GanLeaksFBBCal, Attack) and GanLeaksFBBCal.description
    assert GanLeaksFBBCal.__name__ == "GanLeaksFBBCal"


def test_settings_pass_through_to_both_attacks() -> None:
    attack = GanLeaksFBBCal(k=2)
    assert attack.settings == {"k": 2, "memory_mb": 256.0}
    assert attack.target.settings["k"] == attack.reference.settings["k"] == 2
    with pytest.raises(GanguardError):
        GanLeaksFBBCal(k=0)
    with pytest.raises(GanguardError):
        MonteCarloCal(nope=1)


def test_score_is_target_minus_reference() -> None:
    target = ThreatModel(samples=_records([[0, 0], [3, 0], [9, 9]]))
    reference = ThreatModel(samples=_records([[1, 0], [2, 2]]))
    threat = ThreatModel(samples=target.samples, reference_model=reference)
    candidates = _records([[0, 0], [1, 0], [2, 1], [5, 5]])
    attack = GanLeaksFBBCal(k=2).fit(threat)
    expected = GanLeaksFBB(k=2).fit(target).score(candidates) - GanLeaksFBB(k=2).fit(
        reference
    ).score(candidates)
    np.testing.assert_allclose(attack.score(candidates), expected)
    np.testing.assert_allclose(attack.score(candidates)[:2], [1.0, -1.0], atol=1e-5)
    # The target's settings, plus the values the reference attack chose differently.
    assert attack.settings == {"k": 2, "memory_mb": 256.0, "k_used": 2}
    attack = GanLeaksFBBCal().fit(threat)
    assert attack.settings["k_used"] == 3 and attack.settings["reference_k_used"] == 2


def test_needs_a_reference_model_that_gives_what_the_base_needs() -> None:
    samples = _records([[0, 0], [1, 0]])
    with pytest.raises(GanguardError, match="needs reference_model"):
        GanLeaksFBBCal().fit(ThreatModel(samples=samples))
    with pytest.raises(GanguardError, match="reference model gives no samples"):
        GanLeaksFBBCal().fit(ThreatModel(samples=samples, reference_model=ThreatModel()))


def test_domias_cal_borrows_the_reference_records() -> None:
    rng = np.random.default_rng(0)
    reference = _records(rng.normal(size=(80, 2)).tolist())
    ref_model = ThreatModel(samples=_records(rng.normal(size=(80, 2)).tolist()))
    threat = ThreatModel(
        samples=_records(rng.normal(0.5, 1, size=(80, 2)).tolist()),
        reference=reference,
        reference_model=ref_model,
    )
    attack = DOMIASCal(n_components=2).fit(threat)
    x = _records(rng.normal(size=(10, 2)).tolist())
    expected = DOMIAS(n_components=2).fit(threat).score(x) - DOMIAS(n_components=2).fit(
        ThreatModel(samples=ref_model.samples, reference=reference)
    ).score(x)
    np.testing.assert_allclose(attack.score(x), expected)


def test_montecarlo_cal_records_both_epsilons() -> None:
    rng = np.random.default_rng(1)
    threat = ThreatModel(
        samples=_records(rng.normal(size=(50, 2)).tolist()),
        reference_model=ThreatModel(samples=_records(rng.normal(size=(50, 2)).tolist())),
    )
    attack = MonteCarloCal(n_components=2).fit(threat)
    attack.score(_records(rng.normal(size=(10, 2)).tolist()))  # the radius is chosen when scoring
    assert attack.settings["epsilon_used"] > 0 and attack.settings["reference_epsilon_used"] > 0


class _Mean(Attack, register=False):
    """A toy attack: the mean of the samples' first value, plus a secondary score."""

    name: ClassVar[str] = "toy_mean"
    needs: ClassVar[frozenset[str]] = frozenset({SAMPLES})

    def score(self, candidates: np.ndarray) -> np.ndarray:
        return np.full(len(candidates), float(self.threat.samples.reshape(-1)[0]))

    def extra_scores(self, candidates: np.ndarray) -> dict[str, np.ndarray]:
        return {"twice": 2 * self.score(candidates)}


def test_any_attack_calibrates_with_its_extra_scores() -> None:
    cal = make_calibrated(_Mean)
    assert cal.name == "toy_mean_cal" and cal().settings == {}
    threat = ThreatModel(
        samples=np.full((3, 1, 1, 2), 5.0, np.float32),
        reference_model=ThreatModel(samples=np.full((3, 1, 1, 2), 2.0, np.float32)),
    )
    attack = cal().fit(threat)
    x = np.zeros((4, 1, 1, 2), np.float32)
    np.testing.assert_allclose(attack.score(x), [3.0] * 4)
    np.testing.assert_allclose(attack.extra_scores(x)["twice"], [6.0] * 4)
