"""The privacy audit: build the attacker's threat model, run attacks, measure them (SPEC §5).

`audit(run_dir)` audits a run trained by ganguard (every threat model: discriminator, generator,
samples, R); `audit(samples=..., members=..., nonmembers=..., reference=...)` audits any generator
from its samples alone. Both return an `AuditResult` and write the same JSON.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganguard.attacks import ATTACKS, DEFAULT_ATTACKS, attack_class
from ganguard.attacks.base import Generator, ThreatModel
from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.methods import Method
from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.runs import Run, checkpoint_step, latest_checkpoint, load_run, write_atomic
from ganguard.train import array_data, train

REFERENCE_MODEL_DIR = "reference_model"


@dataclass
class AttackResult:
    name: str
    threat_model: list[str]  # what the attack was given
    settings: dict[str, Any]
    seconds: float
    metrics: dict[str, Any]  # attack_metrics(): auc, auc_ci, tpr_at_1pct_fpr, ...
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. "mean" for logan_wb


@dataclass
class AuditResult:
    source: str
    n_members: int
    n_nonmembers: int
    seed: int
    attacks: dict[str, AttackResult]
    skipped: dict[str, str] = field(default_factory=dict)  # attack -> why it was not run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def best(self) -> AttackResult | None:
        return max(self.attacks.values(), key=lambda r: r.metrics["auc"], default=None)


# -- choosing attacks --------------------------------------------------------------------------
def resolve_attacks(names: str | list[str] | None, threat: ThreatModel) -> tuple[list[str], dict]:
    """The attacks to run and those skipped (with why). `all` = every attack the threat allows;
    a named attack that the threat model does not allow is an error."""
    if names is None or names == "default":
        wanted, strict = list(DEFAULT_ATTACKS), False
    elif names == "all":
        wanted, strict = list(ATTACKS), False
    else:
        wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        wanted, strict = [n for n in wanted if n], True
        if not wanted:
            raise GanguardError("--attacks names no attack")
    run, skipped = [], {}
    have = threat.available()
    for name in wanted:
        cls = attack_class(name)
        missing = sorted(cls.needs - have)
        if not missing:
            run.append(name)
        elif strict:
            raise GanguardError(f"attack {name} needs {' and '.join(missing)}, which is not given")
        else:
            skipped[name] = f"needs {' and '.join(missing)}"
    return run, skipped


def run_attacks(
    threat: ThreatModel,
    members: np.ndarray,
    nonmembers: np.ndarray,
    names: str | list[str] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    source: str = "",
    n_boot: int = 200,
) -> tuple[AuditResult, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Fit and score every chosen attack; returns the result and each attack's raw scores."""
    chosen, skipped = resolve_attacks(names, threat)
    candidates = np.concatenate([members, nonmembers])
    m = len(members)
    results: dict[str, AttackResult] = {}
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in chosen:
        attack = attack_class(name)(**(settings or {}).get(name, {}))
        started = time.perf_counter()
        attack.fit(threat)
        s = np.asarray(attack.score(candidates), dtype=np.float64)
        extra = attack.extra_scores(candidates)
        seconds = time.perf_counter() - started
        results[name] = AttackResult(
            name=name,
            threat_model=sorted(attack.needs),
            settings=_jsonable(attack.settings),
            seconds=round(seconds, 3),
            metrics=attack_metrics(s[:m], s[m:], n_boot=n_boot, seed=threat.seed),
            extra={
                k: attack_metrics(v[:m], v[m:], n_boot=n_boot, seed=threat.seed)
                for k, v in extra.items()
            },
        )
        scores[name] = (s[:m], s[m:])
    result = AuditResult(source, m, len(nonmembers), threat.seed, results, skipped)
    return result, scores


def _jsonable(settings: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings, default=str))


# -- threat models -----------------------------------------------------------------------------
def generator_view(method, n_samples: int, seed: int) -> ThreatModel:  # noqa: ANN001
    """What an attacker gets from a trained method: samples with their latents, and (white box)
    the generator and discriminator(s). Networks are put in eval mode for the audit.

    For a conditional run the generator is G as a function of z alone (`Method.from_latent`: the
    class is read from z) and the discriminator scores each candidate with its most member-like
    class (`Method.score` without labels): the attacker is not told the candidates' labels."""
    for module in method.modules.values():
        module.eval()
    z = torch.randn(n_samples, method.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = torch.cat([method.from_latent(c) for c in z.split(2048)]).numpy()
    return ThreatModel(
        samples=samples,
        samples_z=z.numpy(),
        discriminator=lambda x: method.score(torch.from_numpy(np.ascontiguousarray(x))).numpy(),
        generator=Generator(fn=method.from_latent, z_dim=method.z_dim),
        seed=seed,
    )


def _needs_reference_model(names: str | list[str] | None) -> bool:
    if names == "all":
        return True
    if names is None or names == "default":
        return any(n.endswith("_cal") for n in DEFAULT_ATTACKS)
    listed = names.split(",") if isinstance(names, str) else names
    return any(n.strip().endswith("_cal") for n in listed)


def reference_method(run: Run, reference: np.ndarray, progress: bool = False) -> Method:
    """A GAN with the run's networks and training settings, trained on R: the reference
    generator of the calibrated attacks. Trained once and kept in RUN_DIR/reference_model/ (a run
    directory of its own: an interrupted training resumes, a finished one is reused)."""
    raw = run.config.to_dict()
    # unconditional: it is trained on R's records alone, and only its samples and d(x) are read
    raw["model"] = {**raw["model"], "conditional": False}
    raw["train"] = {**raw["train"], "keep_checkpoints": 1, "progress": progress}
    config = config_from_dict({**raw, "method": {"name": "gan"}})
    cache = run.path / REFERENCE_MODEL_DIR
    resume = (cache / "config.yaml").exists()
    done = latest_checkpoint(cache) if resume else None
    if done is not None and checkpoint_step(done) == config.train.steps:
        return load_run(cache).method
    return train(config, cache, resume=resume, data=array_data(reference)).method


def audit(
    run_dir: str | Path | None = None,
    *,
    samples: str | Path | np.ndarray | None = None,
    members: str | Path | np.ndarray | None = None,
    nonmembers: str | Path | np.ndarray | None = None,
    reference: str | Path | np.ndarray | None = None,
    attacks: str | list[str] | None = None,
    n_per_class: int | None = None,
    k: int = 20_000,
    seed: int = 0,
    out: str | Path | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    plots: bool = True,
    progress: bool = False,
    step: int | None = None,
) -> AuditResult:
    """Audit a run directory (its last checkpoint, or the kept checkpoint at `step`), or any
    generator from its samples; writes the JSON to `out` (default RUN_DIR/audit.json) with an
    ROC plot and score histograms beside it."""
    if run_dir is not None:
        if any(v is not None for v in (samples, members, nonmembers, reference)):
            raise GanguardError("give a run directory or samples/members/nonmembers, not both")
        result, scores, out = _audit_run(
            Path(run_dir), attacks, n_per_class, k, seed, out, settings, progress, step
        )
    else:
        if samples is None or members is None or nonmembers is None:
            raise GanguardError("a samples-only audit needs --samples, --members and --nonmembers")
        if out is None and not isinstance(samples, np.ndarray):
            out = Path(samples).with_name(Path(samples).stem + "_audit.json")
        threat, mem, non = _samples_threat(samples, members, nonmembers, reference, seed)
        source = str(samples) if not isinstance(samples, np.ndarray) else "arrays"
        result, scores = run_attacks(threat, mem, non, attacks, _with_k(settings, k), source)
    if out is not None:
        out = Path(out)
        write_atomic(out, json.dumps(result.to_dict(), indent=2) + "\n")
        if plots and result.attacks:
            from ganguard.report.audit_plots import save_roc_plot, save_score_histograms

            stem = out.with_suffix("")
            metrics = {n: r.metrics for n, r in result.attacks.items()}
            save_roc_plot(metrics, Path(f"{stem}_roc.png"))
            save_score_histograms(scores, Path(f"{stem}_scores.png"))
    return result


def _with_k(settings: dict | None, k: int) -> dict[str, dict[str, Any]]:
    settings = {name: dict(v) for name, v in (settings or {}).items()}
    for name in ("ganleaks_fbb", "ganleaks_fbb_cal"):
        settings.setdefault(name, {}).setdefault("k", k)
    return settings


def _load_records(value: str | Path | np.ndarray, what: str) -> np.ndarray:
    from ganguard.data import load_dataset

    if isinstance(value, np.ndarray):
        x = value.astype(np.float32)
        if not np.isfinite(x).all():
            raise GanguardError(f"{what} contains NaN or infinite values")
        if len(x) == 0:
            raise GanguardError(f"{what} is empty")
        return x
    try:
        return load_dataset("npz", str(value)).x
    except GanguardError as err:
        raise GanguardError(f"{what}: {err}") from None


def _samples_threat(samples, members, nonmembers, reference, seed):  # noqa: ANN001, ANN202
    s = _load_records(samples, "--samples")
    mem = _load_records(members, "--members")
    non = _load_records(nonmembers, "--nonmembers")
    ref = None if reference is None else _load_records(reference, "--reference")
    for what, x in (("--samples", s), ("--nonmembers", non), ("--reference", ref)):
        if x is not None and x.shape[1:] != mem.shape[1:]:
            raise GanguardError(
                f"{what} records have shape {x.shape[1:]}, the members {mem.shape[1:]}"
            )
    return ThreatModel(samples=s, reference=ref, seed=seed), mem, non


def _audit_run(run_dir, attacks, n_per_class, k, seed, out, settings, progress, step):  # noqa: ANN001, ANN202
    from ganguard.data import load_run_data
    from ganguard.data.split import check_split

    run = load_run(run_dir, step)
    ds = load_run_data(run.config.data)
    check_split(run.split, ds)
    s_idx, h_idx = run.split.members, run.split.holdout
    m = n_per_class or min(len(s_idx), len(h_idx), 1000)
    if m < 1 or m > min(len(s_idx), len(h_idx)):
        raise GanguardError(
            f"n_per_class = {m} but the run has {len(s_idx)} members and {len(h_idx)} holdout"
        )
    rng = np.random.default_rng(seed)
    members = ds.x[np.sort(rng.choice(s_idx, m, replace=False))]
    nonmembers = ds.x[np.sort(rng.choice(h_idx, m, replace=False))]
    threat = generator_view(run.method, k, seed)
    if len(run.split.reference):
        threat.reference = ds.x[run.split.reference]
        if _needs_reference_model(attacks):
            ref = reference_method(run, threat.reference, progress)
            threat.reference_model = generator_view(ref, k, seed + 1)
    settings = _with_k(settings, k)
    # the black-box attacker GAN gets the target's networks: the architecture is not a secret;
    # it is unconditional, as the samples it learns from come without labels
    model = {**run.config.model.model_dump(), "conditional": False}
    settings.setdefault("logan_bb", {}).setdefault(
        "config_overrides", {"model": model, "seed": seed}
    )
    result, scores = run_attacks(threat, members, nonmembers, attacks, settings, str(run_dir))
    return result, scores, Path(out) if out is not None else run.path / "audit.json"


def format_audit_table(result: AuditResult) -> str:
    head = f"{'attack':<20}{'AUC':>7}{'95% interval':>16}{'TPR@1%FPR':>11}{'TPR@0.1%':>10}"
    head += f"{'adv.':>7}{'O':>7}{'time s':>8}"
    lines = [head, "-" * len(head)]
    fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
    for name, r in result.attacks.items():
        mt = r.metrics
        lo, hi = mt["auc_ci"]
        lines.append(
            f"{name:<20}{mt['auc']:>7.3f}{f'{lo:.3f}-{hi:.3f}':>16}"
            f"{fmt(mt['tpr_at_1pct_fpr']):>11}{fmt(mt['tpr_at_0.1pct_fpr']):>10}"
            f"{mt['advantage']:>7.3f}{mt['bhattacharyya']['O']:>7.3f}{r.seconds:>8.1f}"
        )
    for name, why in result.skipped.items():
        lines.append(f"{name:<20} skipped: {why}")
    return "\n".join(lines)
