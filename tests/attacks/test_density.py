"""DOMIAS: log density of the generated samples minus that of the reference records."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganguard.attacks.base import ThreatModel
from ganguard.attacks.density import DOMIAS
from ganguard.errors import GanguardError


def _records(points: np.ndarray) -> np.ndarray:
    """2-D points as records of shape (n, 1, 1, 2)."""
    return np.asarray(points, dtype=np.float32).reshape(-1, 1, 1, 2)


def _toy(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Reference records ~ N(0, I); generated samples crowd around (1.5, 0)."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(400, 2))
    generated = rng.normal(loc=(1.5, 0.0), scale=0.3, size=(400, 2))
    return _records(generated), _records(reference)


def test_domias_is_higher_where_generated_density_exceeds_reference_density() -> None:
    generated, reference = _toy()
    attack = DOMIAS(n_components=2).fit(ThreatModel(samples=generated, reference=reference))
    scores = attack.score(_records(np.array([[1.5, 0.0], [1.2, 0.2], [0.0, 0.0], [-1.5, 0.0]])))
    assert scores[0] > 0 and scores[1] > 0  # where the samples crowd
    assert scores[3] < scores[2] < 0  # where only the reference has mass
    assert np.all(np.isfinite(scores))


def test_domias_matches_a_gaussian_kde_log_ratio() -> None:
    """With n_components = d the PCA is a rotation: the score is the log ratio of two KDEs with
    kernel covariance h^2 * (data covariance), h = Scott's n^(-1/(d+4))."""
    generated, reference = _toy(1)
    g, r = generated.reshape(-1, 2).astype(float), reference.reshape(-1, 2).astype(float)
    candidates = np.array([[1.0, 0.5], [0.0, -1.0], [2.0, 0.0]])

    def log_kde(data: np.ndarray, x: np.ndarray) -> np.ndarray:
        n, d = data.shape
        h = n ** (-1 / (d + 4))
        cov = np.cov(data, rowvar=False) * h**2
        inv, (_, logdet) = np.linalg.inv(cov), np.linalg.slogdet(cov)
        diff = x[:, None, :] - data[None]
        quad = np.einsum("ijk,kl,ijl->ij", diff, inv, diff)
        log_k = -0.5 * quad - 0.5 * logdet - d / 2 * math.log(2 * math.pi)
        return np.logaddexp.reduce(log_k, axis=1) - math.log(n)

    attack = DOMIAS(n_components=2).fit(ThreatModel(samples=generated, reference=reference))
    expected = log_kde(g, candidates) - log_kde(r, candidates)
    np.testing.assert_allclose(attack.score(_records(candidates)), expected, rtol=1e-4, atol=1e-4)
    assert attack.settings["bandwidth_samples"] == pytest.approx(400 ** (-1 / 6))
    assert attack.settings["bandwidth_reference"] == pytest.approx(400 ** (-1 / 6))


def test_domias_settings_subsampling_and_determinism() -> None:
    generated, reference = _toy(2)
    threat = ThreatModel(samples=generated, reference=reference, seed=7)
    a = DOMIAS(n_components=2, max_fit=100, bandwidth=0.5).fit(threat)
    b = DOMIAS(n_components=2, max_fit=100, bandwidth=0.5).fit(threat)
    c = DOMIAS(n_components=2, max_fit=100, bandwidth=0.5).fit(
        ThreatModel(samples=generated, reference=reference, seed=8)
    )
    x = _records(np.random.default_rng(3).normal(size=(20, 2)))
    np.testing.assert_array_equal(a.score(x), b.score(x))
    assert not np.allclose(a.score(x), c.score(x))  # another seed, another subsample
    assert a.settings == {
        "n_components": 2,
        "bandwidth": 0.5,
        "max_fit": 100,
        "bandwidth_samples": 0.5,
        "bandwidth_reference": 0.5,
        "n_components_used": 2,
    }


def test_domias_class_attributes_and_bad_settings() -> None:
    assert DOMIAS.name == "domias" and DOMIAS.needs == {"samples", "reference"}
    assert DOMIAS().settings == {"n_components": 40, "bandwidth": "scott", "max_fit": 5000}
    for bad in ({"bandwidth": "silverman"}, {"bandwidth": 0}, {"max_fit": 0}, {"seed": 1}):
        with pytest.raises(GanguardError):
            DOMIAS(**bad)


def test_domias_needs_samples_and_reference() -> None:
    generated, reference = _toy()
    with pytest.raises(GanguardError, match="needs reference"):
        DOMIAS().fit(ThreatModel(samples=generated))
    with pytest.raises(GanguardError, match="needs samples"):
        DOMIAS().fit(ThreatModel(reference=reference))
    with pytest.raises(GanguardError):  # records of another size
        DOMIAS().fit(ThreatModel(samples=generated, reference=np.zeros((5, 1, 1, 3), np.float32)))


def test_the_pca_is_exact_up_to_its_size_and_seeded_beyond() -> None:
    """fit_pca spans the leading eigenvectors of the covariance (up to sign), with more records
    than values or fewer, where scikit-learn's `auto` would take a randomized solver for 3 000
    records of 784 values; past EXACT_PCA_MAX_VALUES it is seeded: one seed, one projection."""
    from ganguard.attacks.base import EXACT_PCA_MAX_VALUES, fit_pca

    rng = np.random.default_rng(0)
    scales = np.linspace(3.0, 0.5, 784)  # close variances: a randomized solver misses them
    for n in (3000, 300):
        x = (rng.normal(size=(n, 784)) * scales).astype(np.float32)
        pca = fit_pca(x, 40, seed=0)
        centred = x.astype(np.float64) - x.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        cosines = np.abs(np.sum(pca.components_ * vt[:40], axis=1))
        np.testing.assert_allclose(cosines, 1.0, atol=1e-6)
    wide = rng.normal(size=(50, EXACT_PCA_MAX_VALUES + 1))
    a, b, c = (fit_pca(wide, 5, seed=s).components_ for s in (1, 1, 2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_the_kde_is_exact_in_many_dimensions() -> None:
    """In DOMIAS's 40 dimensions the log density is scipy's exact gaussian_kde (kernel
    covariance h² × the data's), where a tree-pruned KDE (scikit-learn's) was tens of nats off."""
    from scipy import stats

    from ganguard.attacks.density import GaussianKDE, scott_factor

    rng = np.random.default_rng(0)
    mixing = np.eye(40) + rng.normal(size=(40, 40)) / 10  # correlated, well conditioned
    data = rng.normal(size=(3000, 40)) @ mixing
    queries = rng.normal(size=(50, 40)) @ mixing * 1.3  # some in the tails
    h = scott_factor(3000, 40)
    ours = GaussianKDE(data, h).log_density(queries)
    exact = stats.gaussian_kde(data.T, bw_method=h).logpdf(queries.T)
    np.testing.assert_allclose(ours, exact, rtol=0, atol=1e-3)  # the ridge: 1e-6 of the scale
