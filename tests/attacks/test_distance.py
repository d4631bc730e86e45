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


@pytest.mark.parametrize("radius_from", ["candidates", "reference"])
def test_montecarlo_radius_is_a_percentile_of_the_nearest_sample_distances(radius_from) -> None:
    rng = np.random.default_rng(0)
    points, fresh, reference = rng.normal(size=(60, 2)), rng.normal(size=(15, 2)), rng.normal(
        size=(40, 2))  # fmt: skip
    threat = ThreatModel(samples=_records(points.tolist()), reference=_records(reference.tolist()))
    attack = MonteCarlo(n_components=2, percentile=30, radius_from=radius_from).fit(threat)
    scores = attack.score(_records(fresh.tolist()))
    source = fresh if radius_from == "candidates" else reference
    nearest = np.linalg.norm(source[:, None] - points[None], axis=-1).min(1)
    assert attack.settings["epsilon_used"] == pytest.approx(np.percentile(nearest, 30), rel=1e-5)
    # the share within epsilon, checked by brute force
    dist = np.linalg.norm(fresh[:, None] - points[None], axis=-1)
    expected = (dist <= attack.settings["epsilon_used"]).mean(1)
    np.testing.assert_allclose(scores, expected)


def test_montecarlo_finds_members_that_the_samples_copy_with_noise() -> None:
    """The samples cluster around their members: a radius read from distances among the samples
    would collapse to the noise's scale and count no member; the percentile of the candidates'
    distances does not."""
    rng = np.random.default_rng(1)
    members = rng.uniform(-1, 1, size=(50, 1, 4, 4)).astype(np.float32)
    fresh = rng.uniform(-1, 1, size=(50, 1, 4, 4)).astype(np.float32)
    samples = np.repeat(members, 4, axis=0) + rng.normal(0, 0.1, (200, 1, 4, 4)).astype(np.float32)
    attack = MonteCarlo(n_components=8).fit(ThreatModel(samples=samples, seed=3))
    scores = attack.score(np.concatenate([members, fresh]))
    assert scores[:50].min() > scores[50:].max()  # every member above every non-member
    with pytest.raises(GanguardError, match="radius_from reference needs the reference"):
        MonteCarlo(radius_from="reference").fit(ThreatModel(samples=samples))


def test_montecarlo_settings_and_needs() -> None:
    assert MonteCarlo.name == "montecarlo" and MonteCarlo.needs == {"samples"}
    assert MonteCarlo().settings == {"n_components": 40, "epsilon": "percentile",
                                     "percentile": 50.0, "radius_from": "candidates",
                                     "memory_mb": 256.0}  # fmt: skip
    for bad in ({"epsilon": "median"}, {"epsilon": -1.0}, {"n_components": 0},
                {"percentile": 0}, {"percentile": 101.0}, {"radius_from": "samples"}):  # fmt: skip
        with pytest.raises(GanguardError):
            MonteCarlo(**bad)
    with pytest.raises(GanguardError, match="needs samples"):
        MonteCarlo().fit(ThreatModel())
    with pytest.raises(GanguardError):
        MonteCarlo().fit(ThreatModel(samples=_records([[0, 0]])))  # one sample
