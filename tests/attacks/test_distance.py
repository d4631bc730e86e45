"""GAN-Leaks full black box and the Monte Carlo attack."""

from __future__ import annotations

import numpy as np
import pytest

from ganguard.attacks.base import ThreatModel
from ganguard.attacks.distance import GanLeaksFBB, MonteCarlo
from ganguard.errors import GanguardError


def _records(points: list[list[float]]) -> np.ndarray:
    """2-D points as records of shape (n, 1, 1, 2)."""
    return np.asarray(points, dtype=np.float32).reshape(-1, 1, 1, 2)


# ----------------------------------------------------------------------------- ganleaks_fbb


def test_fbb_score_is_minus_min_squared_distance_on_a_2d_toy() -> None:
    samples = _records([[0, 0], [1, 0], [0, 2]])
    candidates = _records([[0.5, 0], [1, 1], [5, 5], [0, 2]])
    attack = GanLeaksFBB().fit(ThreatModel(samples=samples))
    scores = attack.score(candidates)
    np.testing.assert_allclose(scores, [-0.25, -1.0, -34.0, 0.0], atol=1e-5)
    assert attack.nearest_index is not None
    assert attack.nearest_index[1:].tolist() == [1, 2, 2]  # (0.5, 0): a tie, either is nearest
    assert attack.settings == {"k": 20_000, "memory_mb": 256.0, "k_used": 3}


def test_fbb_uses_the_first_k_samples() -> None:
    samples = _records([[0, 0], [10, 0], [1, 1]])
    attack = GanLeaksFBB(k=2, memory_mb=1e-5).fit(ThreatModel(samples=samples))
    assert attack.settings["k_used"] == 2
    np.testing.assert_allclose(attack.score(_records([[1, 1]])), [-2.0], atol=1e-5)


def test_fbb_class_attributes_and_settings() -> None:
    assert GanLeaksFBB.name == "ganleaks_fbb" and GanLeaksFBB.needs == {"samples"}
    assert GanLeaksFBB.description
    assert GanLeaksFBB(k=5).settings == {"k": 5, "memory_mb": 256.0}
    for bad in ({"k": 0}, {"k": 2.5}, {"k": "10"}, {"memory_mb": -1}, {"kk": 3}):
        with pytest.raises(GanguardError):
            GanLeaksFBB(**bad)


def test_fbb_needs_samples_and_matching_candidates() -> None:
    with pytest.raises(GanguardError, match="needs samples"):
        GanLeaksFBB().fit(ThreatModel(reference=_records([[0, 0]])))
    attack = GanLeaksFBB().fit(ThreatModel(samples=_records([[0, 0]])))
    with pytest.raises(GanguardError):
        attack.score(np.zeros((2, 1, 1, 3), dtype=np.float32))


# ----------------------------------------------------------------------------- montecarlo


def test_montecarlo_counts_within_a_given_epsilon() -> None:
    # Ten samples on a line, 1 apart; n_components=2 keeps distances (a rotation).
    samples = _records([[i, 0] for i in range(10)])
    attack = MonteCarlo(n_components=2, epsilon=1.2).fit(ThreatModel(samples=samples))
    scores = attack.score(_records([[0, 0], [4.5, 0], [4, 1], [4, 0], [100, 0]]))
    # (0,0): 0, 1.  (4.5,0): 4, 5.  (4,1): 4 (3 and 5 at 1.41).  (4,0): 3, 4, 5.  far: none.
    np.testing.assert_allclose(scores, [0.2, 0.2, 0.1, 0.3, 0.0])
    assert attack.settings["epsilon_used"] == 1.2
    assert attack.settings["n_components_used"] == 2


def test_montecarlo_median_epsilon_is_the_median_nearest_other_sample_distance() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 2))
    attack = MonteCarlo(n_components=2).fit(ThreatModel(samples=_records(points.tolist())))
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert attack.settings["epsilon_used"] == pytest.approx(np.median(d.min(1)), rel=1e-5)
    # The share within epsilon, checked by brute force on fresh points.
    fresh = rng.normal(size=(15, 2))
    dist = np.linalg.norm(fresh[:, None] - points[None], axis=-1)
    expected = (dist <= attack.settings["epsilon_used"]).mean(1)
    np.testing.assert_allclose(attack.score(_records(fresh.tolist())), expected)


def test_montecarlo_copies_give_epsilon_zero_and_count_exact_matches() -> None:
    records = np.random.default_rng(1).uniform(-1, 1, size=(50, 1, 4, 4)).astype(np.float32)
    samples = np.concatenate([records, records])  # a generator that copies its records
    attack = MonteCarlo(n_components=8).fit(ThreatModel(samples=samples, seed=3))
    assert attack.settings["epsilon_used"] == 0.0
    fresh = np.random.default_rng(2).uniform(-1, 1, size=(5, 1, 4, 4)).astype(np.float32)
    scores = attack.score(np.concatenate([records[:5], fresh]))
    np.testing.assert_allclose(scores, [0.02] * 5 + [0.0] * 5)


def test_montecarlo_settings_and_needs() -> None:
    assert MonteCarlo.name == "montecarlo" and MonteCarlo.needs == {"samples"}
    assert MonteCarlo().settings == {"n_components": 40, "epsilon": "median", "memory_mb": 256.0}
    for bad in ({"epsilon": "mean"}, {"epsilon": -1.0}, {"n_components": 0}):
        with pytest.raises(GanguardError):
            MonteCarlo(**bad)
    with pytest.raises(GanguardError, match="needs samples"):
        MonteCarlo().fit(ThreatModel())
    with pytest.raises(GanguardError):
        MonteCarlo().fit(ThreatModel(samples=_records([[0, 0]])))  # one sample: no neighbour
