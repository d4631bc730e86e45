"""Shadow models for the per-record calibrated attacks (LiRA for generators, Carlini et al. 2022;
shadow-model attacks on synthetic data, Stadler et al. 2022).

The defender who audits a ganguard run knows its training recipe, so it can train K models with
that very config on records whose membership it decides: the population is R plus the audit's
candidates. Online (`mode: online`), each candidate is in the training set of exactly half of the
shadows (a seeded, balanced coin per candidate), the rest of each training set filled from R up to
the run's number of members; offline, the shadows train on records of R only. A shadow's own R
(MEGAN and MIMGAN train against R) is the records of R it does not train on. The attacks of
`attacks/lira.py` then read, for each candidate, how its statistic varies with its membership.

Shadows train through the executors of `ganguard.jobs` (one at a time, local processes or Ray),
each a run directory of its own under RUN_DIR/shadows/, with a manifest (`shadows.json`) that
records what they were made from: a later audit with the same run, candidates and shadow settings
reuses them, an interrupted set resumes, and a set made for anything else is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ganguard.attacks.base import Shadows, ThreatModel
from ganguard.config import DEVICE_PATTERN, config_from_dict, recipe_differences
from ganguard.devices import job_device
from ganguard.errors import GanguardError
from ganguard.jobs import Job, run_jobs
from ganguard.runs import Run, checkpoint_step, latest_checkpoint, load_run, read_json, write_json
from ganguard.train import array_data, train

SHADOW_DIR = "shadows"
MANIFEST = "shadows.json"
FORMAT = "ganguard-shadows-1"
DEFAULT_COUNT = {"online": 16, "offline": 8}


class ShadowSettings(BaseModel):
    """How the shadow models are made (`ganguard audit --shadows K --shadow-mode M ...`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    count: int | None = Field(None, ge=2)  # K; none: 16 online, 8 offline
    mode: Literal["online", "offline"] = "online"
    steps: int | None = Field(None, ge=1)  # training steps of each; none: the run's own
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1)  # local: shadows trained at a time
    address: str | None = None  # ray: the cluster
    cpus_per_job: int = Field(2, ge=1)  # ray: the CPUs of each shadow's task
    gpus_per_job: float = Field(1.0, ge=0)  # ray, on CUDA: the GPUs of each shadow's task
    device: str | None = Field(None, pattern=DEVICE_PATTERN)  # None: the audit's device

    @property
    def k(self) -> int:
        return DEFAULT_COUNT[self.mode] if self.count is None else self.count


def shadow_settings(raw: ShadowSettings | dict[str, Any] | None) -> ShadowSettings:
    if isinstance(raw, ShadowSettings):
        return raw
    try:
        return ShadowSettings(**(raw or {}))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise GanguardError(f"shadow setting {key}: {first['msg']}") from None


def _fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return f"sha256:{digest.hexdigest()}"


def plan(n: int, reference: np.ndarray, candidates: np.ndarray, k: int, mode: str,
         seed: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(population, inclusion): the records shadows may train on (R, then the candidates when
    online) and which of them each of the k shadows trains on, n records each."""
    rng = np.random.default_rng(seed)
    n_ref = len(reference)
    population = reference if mode == "offline" else np.concatenate([reference, candidates])
    inclusion = np.zeros((k, len(population)), dtype=bool)
    if mode == "online":
        # each candidate in exactly half of the shadows (k even), or in k // 2 or k // 2 + 1
        for c in range(len(candidates)):
            inclusion[rng.permutation(k)[: k // 2 + (c % 2) * (k % 2)], n_ref + c] = True
    for i in range(k):
        chosen = np.flatnonzero(inclusion[i, n_ref:]) + n_ref
        if len(chosen) > n:  # more candidates than a training set holds: a random n of them
            inclusion[i, rng.permutation(chosen)[n:]] = False
        missing = n - int(inclusion[i].sum())
        if missing > n_ref:
            raise GanguardError(
                f"shadow models train on {n} records each (the run's members), but R holds "
                f"{n_ref}: raise data.n_reference, or audit fewer candidates"
            )
        if missing > 0:
            inclusion[i, rng.permutation(n_ref)[:missing]] = True
    return population, inclusion


def shadow_config(run: Run, settings: ShadowSettings, i: int,
                  device: str = "cpu") -> dict[str, Any]:  # fmt: skip
    """Shadow i's config: the run's recipe, unconditional (it trains on records without labels),
    its own seed, `settings.steps` steps when given, one checkpoint kept, on `device`."""
    raw = run.config.to_dict()
    raw["seed"] = run.config.seed + 1 + i
    raw["device"] = device
    raw["model"] = {**raw["model"], "conditional": False}
    raw["train"] = {**raw["train"], "progress": False, "keep_checkpoints": 1}
    if settings.steps is not None:
        raw["train"]["steps"] = settings.steps
    return config_from_dict(raw).to_dict()


def train_shadow(config: dict[str, Any], records: np.ndarray, reference: np.ndarray,
                 folder: Path, layout: list | None = None) -> dict[str, Any]:  # fmt: skip
    """A job: train (or finish) one shadow model in `folder` on `records`, with `reference` as
    its R (a method such as MEGAN trains against it, as the run did against its own); `layout`:
    a table run's record blocks, so the shadow's generator has the run's heads."""
    config = config_from_dict(config)
    resume = (folder / "config.yaml").exists()
    last = latest_checkpoint(folder) if resume else None
    if last is None or checkpoint_step(last) < config.train.steps:
        try:
            train(config, folder, resume=resume, progress=False,
                  data=array_data(records, reference, layout))  # fmt: skip
        except GanguardError as err:
            return {"status": "failed", "name": folder.name, "error": str(err)}
    return {"status": "ok", "name": folder.name}


def shadow_reference(inclusion: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """A shadow's R: the records of R it does not train on, disjoint from its members as the
    run's R is from S."""
    return reference[~inclusion[: len(reference)]]


def shadow_set(run: Run, reference: np.ndarray, candidates: np.ndarray, n_samples: int,
               seed: int, settings: ShadowSettings | dict | None = None,
               progress: bool = False) -> Shadows:  # fmt: skip
    """The run's shadow models for these candidates: reused from RUN_DIR/shadows/ when its
    manifest says they were made for exactly this, else trained (or finished) there first."""
    settings = shadow_settings(settings)
    k, n = settings.k, len(run.split.members)
    if len(reference) == 0:
        raise GanguardError("shadow models train on records of R: the run has none "
                            "(data.n_reference = 0)")  # fmt: skip
    population, inclusion = plan(n, reference, candidates, k, settings.mode, seed)
    device, gpus = job_device(settings.device, settings.executor, settings.workers)
    configs = [shadow_config(run, settings, i, device) for i in range(k)]
    manifest = {
        "format": FORMAT, "mode": settings.mode, "count": k, "seed": seed,
        "config": configs[0], "population": _fingerprint(population),
        "inclusion": ["".join("1" if b else "0" for b in row) for row in inclusion],
    }  # fmt: skip
    root = run.path / SHADOW_DIR
    _check_or_write(root, manifest)
    jobs = [Job(f"shadow_{i:02d}",
                functools.partial(train_shadow, configs[i], population[inclusion[i]],
                                  shadow_reference(inclusion[i], reference),
                                  layout=run.method.layout))
            for i in range(k)]  # fmt: skip
    report = (lambda r: print(f"  shadow {r['name']}: {r['status']}", flush=True)) if progress \
        else None  # fmt: skip
    if gpus and settings.executor == "ray":
        gpus = settings.gpus_per_job
    results = run_jobs(jobs, root, settings.executor, settings.workers, settings.address,
                       settings.cpus_per_job, report, gpus)  # fmt: skip
    failed = [r for r in results if r.get("status") != "ok"]
    if failed:
        raise GanguardError(f"shadow {failed[0]['name']} failed: {failed[0].get('error')}")

    loaded: dict[int, Any] = {}

    def view(i: int) -> ThreatModel:
        if i not in loaded:
            loaded[i] = load_run(root / jobs[i].name, device=settings.device).method
        threat = ThreatModel.of_method(loaded[i], n_samples, seed + 2 + i)
        threat.reference = reference
        return threat

    return Shadows(k, population, inclusion, settings.mode, view)


def _check_or_write(root: Path, manifest: dict[str, Any]) -> None:
    """Refuse a shadow folder made for another run, other candidates or other settings."""
    path = root / MANIFEST
    if not path.exists():
        root.mkdir(parents=True, exist_ok=True)
        write_json(path, manifest)
        return
    found = read_json(path)
    if not isinstance(found, dict) or found.get("format") != FORMAT:
        raise GanguardError(f"{path} is not a ganguard shadow manifest: delete {root}")
    for key in ("mode", "count", "seed", "population", "inclusion"):
        if found.get(key) != manifest[key]:
            what = {"population": "candidates or R", "inclusion": "candidates or R",
                    "seed": "audit seed"}.get(key, f"shadow {key}")  # fmt: skip
            raise GanguardError(
                f"{root} holds shadows made for another {what} ({key} differs): delete it, or "
                "audit with the settings they were made with"
            )
    try:  # through today's config model, so that a key added since reads as its default
        made_with = config_from_dict(found.get("config") or {}).to_dict()
    except GanguardError:
        made_with = found.get("config") or {}
    changed = recipe_differences(made_with, manifest["config"])
    if changed:
        raise GanguardError(
            f"{root} holds shadows trained with another config ({changed[0]} differs): "
            "delete it to train them again"
        )


def existing_shadows(run: Run) -> dict[str, Any] | None:
    """The manifest of the run's shadow models when every one of them is trained, else None."""
    path = run.path / SHADOW_DIR / MANIFEST
    if not path.exists():
        return None
    manifest = json.loads(path.read_text())
    steps = manifest["config"]["train"]["steps"]
    for i in range(manifest["count"]):
        last = latest_checkpoint(run.path / SHADOW_DIR / f"shadow_{i:02d}")
        if last is None or checkpoint_step(last) < steps:
            return None
    return manifest
