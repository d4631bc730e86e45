"""The attack interface (the TAPAS shape): a threat model says what the attacker is given; an
attack declares what it needs and its settings, is fitted on a threat model, and scores
candidate records.

Scores: one float per candidate, higher = more likely a member. Records are float32 arrays of
shape (n, C, H, W) in [-1, 1], like the data sets.

Every attack class with a `name` of its own registers itself (`Attack.registry`), as methods do;
its settings are a pydantic model (`Settings`), validated when the attack is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, ValidationError
from sklearn.decomposition import PCA

from ganguard.errors import GanguardError

# What an attacker may be given; an attack lists what it needs in `needs`.
SAMPLES = "samples"  # generated samples (black box)
DISCRIMINATOR = "discriminator"  # white box: the discriminator(s)
GENERATOR = "generator"  # white box: the generator as a differentiable function of z
REFERENCE = "reference"  # non-member records from the same distribution (R)
REFERENCE_MODEL = "reference_model"  # the same view of a generator trained on R (calibration)
SHADOWS = "shadows"  # models trained with the target's recipe on records of known membership
KINDS = (SAMPLES, DISCRIMINATOR, GENERATOR, REFERENCE, REFERENCE_MODEL, SHADOWS)


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
    `architecture` is the target's network configuration (`model:` of its config), which is no
    secret: an attacker who trains models of its own may copy it.
    """

    samples: np.ndarray | None = None
    samples_z: np.ndarray | None = None
    discriminator: Callable[[np.ndarray], np.ndarray] | None = None  # logits (n,) or (n, k)
    generator: Generator | None = None
    reference: np.ndarray | None = None
    reference_model: ThreatModel | None = None
    shadows: Shadows | None = None
    architecture: dict[str, Any] | None = None
    seed: int = 0

    def available(self) -> set[str]:
        return {k for k in KINDS if getattr(self, k) is not None}

    @classmethod
    def of_method(cls, method: Any, n_samples: int, seed: int) -> ThreatModel:
        """What an attacker gets from a trained method: `n_samples` samples with their latents,
        and (white box) the generator and discriminator(s). Networks are put in eval mode.

        For a conditional run the generator is G as a function of z alone (`Method.from_latent`:
        the class is read from z) and the discriminator scores each candidate with its most
        member-like class (`Method.score` without labels): the attacker is not told the labels.
        """
        for module in method.modules.values():
            module.eval()
        z = torch.randn(n_samples, method.z_dim, generator=torch.Generator().manual_seed(seed))

        def generator(latent: torch.Tensor) -> torch.Tensor:
            """G on the method's device, for latents on any device (differentiable)."""
            return method.from_latent(latent.to(method.device)).to(latent.device)

        with torch.no_grad():
            samples = torch.cat([generator(c) for c in z.split(2048)]).numpy()
        return cls(
            samples=samples,
            samples_z=z.numpy(),
            discriminator=lambda x: method.score(torch.from_numpy(np.ascontiguousarray(x))).numpy(),
            generator=Generator(fn=generator, z_dim=method.z_dim),
            seed=seed,
        )


@dataclass
class Shadows:
    """Shadow models: `count` models trained with the target's recipe, shadow k on the records
    of `population` that `inclusion[k]` marks. `view(k)` is what the attacker gets from shadow
    k (as `ThreatModel.of_method` gives it, with the target's R), made on demand. `mode` is
    `online` (each candidate in about half of the shadows) or `offline` (in none)."""

    count: int
    population: np.ndarray
    inclusion: np.ndarray  # (count, len(population)) bool
    mode: str
    view: Callable[[int], ThreatModel]

    def index_of(self, candidates: np.ndarray) -> np.ndarray:
        """Each candidate's index in the population (-1 for a record not in it)."""
        rows = {r.tobytes(): i for i, r in enumerate(np.ascontiguousarray(self.population,
                                                                          np.float32))}  # fmt: skip
        flat = np.ascontiguousarray(candidates, dtype=np.float32)
        return np.array([rows.get(c.tobytes(), -1) for c in flat], dtype=np.int64)


class AttackSettings(BaseModel):
    """An attack's settings: every one declared with its default; unknown names are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"] if not str(p).startswith(("literal[", "float")))
    if first["type"] == "extra_forbidden":
        return f"unknown setting {key}"
    return f"setting {key}: {first['msg']}"


class Attack:
    """A membership inference attack: `fit` on a threat model, then `score` candidates.

    Subclasses set `name`, `needs` (the threat-model kinds they need), `description` and
    `Settings`, and implement `fit` (calling this one first) and `score`. `settings` holds the
    validated settings as a dict; `fit` may add the values it chose (e.g. `k_used`), so the audit
    records the complete configuration.
    """

    name: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    description: ClassVar[str] = ""
    Settings: ClassVar[type[AttackSettings]] = AttackSettings
    registry: ClassVar[dict[str, type[Attack]]] = {}

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        """A class with a `name` of its own registers itself, unless `register=False`."""
        super().__init_subclass__(**kwargs)
        if register and "name" in cls.__dict__:
            Attack.register(cls)

    @staticmethod
    def register(cls: type[Attack]) -> type[Attack]:
        known = Attack.registry.get(cls.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"two attacks are called {cls.name}: {known} and {cls}")
        Attack.registry[cls.name] = cls
        return cls

    def __init__(self, **settings: Any):
        try:
            self.options = self.Settings(**settings)
        except ValidationError as err:
            raise GanguardError(f"attack {self.name}: {_describe(err)}") from None
        self.settings: dict[str, Any] = self.options.model_dump()

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

    def fitted(self, what: str) -> None:
        """Refuse to score before `fit`."""
        if not hasattr(self, "threat"):
            raise GanguardError(f"attack {self.name}: call fit(threat) before {what}")


# -- helpers the attacks share -------------------------------------------------------------------
def as_records(x: Any, what: str, dim: int | None = None) -> np.ndarray:
    """`x` as a C-contiguous float32 matrix (n, d), one flattened record a row.

    Raises GanguardError when `x` is not an array of records, or its records do not have `dim`
    values (the size of the records the attack was fitted on).
    """
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise GanguardError(f"{what}: not a numeric array ({exc})") from None
    if arr.ndim < 2:
        raise GanguardError(f"{what}: expected records of shape (n, C, H, W), got {arr.shape}")
    arr = np.ascontiguousarray(arr.reshape(arr.shape[0], -1))
    if dim is not None and arr.shape[1] != dim:
        raise GanguardError(
            f"{what}: records have {arr.shape[1]} values each, the generated samples {dim}"
        )
    return arr


EXACT_PCA_MAX_VALUES = 2000  # records of more values get a seeded randomized PCA (speed)


def fit_pca(x: np.ndarray, n_components: int, seed: int) -> PCA:
    """A PCA of the records `x` (n, d), fitted so that the projection, and every attack that
    reads it, does not depend on scikit-learn's version (its `auto` solver is randomized for
    some shapes, e.g. 3 000 records of 784 values, and changed in version 1.5): with at most
    EXACT_PCA_MAX_VALUES values per record, the exact eigenvectors of the covariance, in float64
    (under a second for 20 000 MNIST images; their components agree with the full SVD's up to
    sign, which no distance or kernel density reads); with more, where an exact PCA costs tens
    of seconds a fit, the randomized solver with every setting pinned and `seed`."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] <= EXACT_PCA_MAX_VALUES:
        return PCA(n_components=n_components, svd_solver="covariance_eigh").fit(x)
    return PCA(n_components=n_components, svd_solver="randomized", iterated_power=7,
               n_oversamples=10, power_iteration_normalizer="QR", random_state=seed).fit(x)


def pca_project(pca: PCA, x: np.ndarray, rows: int = 4096) -> np.ndarray:
    """`pca.transform(x)` in float64 (n, k), in blocks of `rows` records.

    In float64 the coordinates of a record do not depend on the batch it is projected in, so a
    candidate equal to a generated sample lands exactly on it.
    """
    mean = pca.mean_.astype(np.float64)
    comp_t = pca.components_.astype(np.float64).T
    out = np.empty((x.shape[0], comp_t.shape[1]), dtype=np.float64)
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows].astype(np.float64) - mean
        out[start : start + rows] = block @ comp_t
    return out
