"""The privacy audit: build the attacker's threat model, run attacks, measure them (SPEC §5).

`audit(run_dir)` audits a run trained by ganguard (every threat model: discriminator, generator,
samples, R, a reference generator trained on R); `audit(samples=..., members=..., nonmembers=...,
reference=...)` audits any generator from its samples alone. Both return an `AuditResult` and
write the same JSON. Attacks are reached through their registry (`ganguard.attacks`): what an
attack needs decides whether it runs, and the audit builds only what the chosen attacks need.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganguard.attacks import RISK_ATTACKS, attack_class, choose_attacks
from ganguard.attacks.base import REFERENCE, REFERENCE_MODEL, SHADOWS, ThreatModel
from ganguard.audit_plots import save_roc_plot, save_score_histograms
from ganguard.config import config_from_dict
from ganguard.data import load_dataset, load_run_data
from ganguard.data.codec import encode_audit_tables
from ganguard.data.split import canary_records, check_split
from ganguard.data.tabular import is_table_path
from ganguard.devices import current_device, using
from ganguard.distances import nearest
from ganguard.errors import GanguardError
from ganguard.methods import Method
from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.metrics.epsilon import canary_audit
from ganguard.runs import (
    Run,
    checkpoint_step,
    latest_checkpoint,
    load_run,
    read_json,
    write_atomic,
)
from ganguard.shadows import (
    MANIFEST,
    SHADOW_DIR,
    ShadowSettings,
    existing_shadows,
    shadow_set,
    shadow_settings,
)
from ganguard.tables import interval, number, text
from ganguard.train import array_data, train

REFERENCE_MODEL_DIR = "reference_model"
AUDIT_FILE = "audit.json"


@dataclass
class AttackResult:
    name: str
    threat_model: list[str]  # what the attack was given
    settings: dict[str, Any]
    seconds: float
    metrics: dict[str, Any]  # attack_metrics(): auc, auc_ci, tpr_at_1pct_fpr, ...
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # e.g. "mean" for logan_wb
    # the one-run canary audit of this attack's scores (`--canaries`): its ε lower bound
    canaries: dict[str, Any] | None = None


@dataclass
class AuditResult:
    source: str
    n_members: int
    n_nonmembers: int
    seed: int
    attacks: dict[str, AttackResult]
    skipped: dict[str, str] = field(default_factory=dict)  # attack -> why it was not run
    delta: float | None = None  # the δ of every attack's ε lower bound
    # a DP run's (ε, δ) from its privacy accountant, beside which the ε lower bounds are read
    accountant: dict[str, float | None] | None = None
    # the shadow models of the shadow attacks: count, mode, steps, reused, seconds to make them
    shadows: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: Any, where: str = "audit") -> AuditResult:
        """An audit as `to_dict` wrote it (e.g. read back from audit.json)."""
        try:
            attacks = {name: AttackResult(**a) for name, a in raw["attacks"].items()}
            return cls(**{**raw, "attacks": attacks})
        except (KeyError, TypeError, AttributeError) as err:
            message = f"{where} is not a ganguard audit ({err!r}): rerun the audit"
            raise GanguardError(message) from None

    @classmethod
    def load(cls, path: str | Path) -> AuditResult:
        return cls.from_dict(read_json(Path(path)), str(path))

    def best(self) -> AttackResult | None:
        """The attack with the highest AUC (None when no attack has a finite one)."""
        scored = [r for r in self.attacks.values() if _finite(r.metrics.get("auc"))]
        return max(scored, key=lambda r: r.metrics["auc"], default=None)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


# -- running the attacks ---------------------------------------------------------------------------
def run_attacks(
    threat: ThreatModel,
    members: np.ndarray,
    nonmembers: np.ndarray,
    chosen: list[str],
    skipped: dict[str, str] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    source: str = "",
    n_boot: int = 200,
    delta: float | None = None,
    canaries: tuple[np.ndarray, np.ndarray] | None = None,
    canary_guesses: int | None = None,
) -> tuple[AuditResult, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Fit and score each chosen attack; returns the result and each attack's raw scores. `delta`
    is the δ of the ε lower bounds (default 1 / (10 · the number of members)); with `canaries`
    (their records and coins) each attack also scores them for the one-run audit."""
    candidates = np.concatenate([members, nonmembers])
    m = len(members)
    delta = 1.0 / (10 * m) if delta is None else delta
    measure = lambda s: attack_metrics(s[:m], s[m:], n_boot=n_boot, seed=threat.seed,  # noqa: E731
                                       delta=delta)  # fmt: skip
    results: dict[str, AttackResult] = {}
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in chosen:
        attack = attack_class(name)(**(settings or {}).get(name, {}))
        started = time.perf_counter()
        attack.fit(threat)
        s = np.asarray(attack.score(candidates), dtype=np.float64)
        extra = attack.extra_scores(candidates)
        seconds = time.perf_counter() - started
        one_run = None
        if canaries is not None:
            records, coins = canaries
            one_run = canary_audit(attack.score(records), coins, canary_guesses, delta)
        results[name] = AttackResult(
            name=name,
            threat_model=sorted(attack.needs),
            settings=json.loads(json.dumps(attack.settings, default=str)),
            seconds=round(seconds, 3),
            metrics=measure(s),
            extra={k: measure(np.asarray(v, dtype=np.float64)) for k, v in extra.items()},
            canaries=one_run,
        )
        scores[name] = (s[:m], s[m:])
    result = AuditResult(source, m, len(nonmembers), threat.seed, results, dict(skipped or {}),
                         delta)  # fmt: skip
    return result, scores


# -- threat models ---------------------------------------------------------------------------------
def reference_method(run: Run, reference: np.ndarray, progress: bool = False) -> Method:
    """A GAN with the run's networks and training settings, trained on R: the reference
    generator of the calibrated attacks. Trained once and kept in RUN_DIR/reference_model/ (a run
    directory of its own: an interrupted training resumes, a finished one is reused)."""
    raw = run.config.to_dict()
    # unconditional: it is trained on R's records alone, and only its samples and d(x) are read
    raw["model"] = {**raw["model"], "conditional": False}
    raw["train"] = {**raw["train"], "keep_checkpoints": 1, "progress": progress}
    raw["device"] = str(current_device())
    config = config_from_dict({**raw, "method": {"name": "gan"}})
    cache = run.path / REFERENCE_MODEL_DIR
    resume = (cache / "config.yaml").exists()
    done = latest_checkpoint(cache) if resume else None
    if done is not None and checkpoint_step(done) == config.train.steps:
        return load_run(cache, device=current_device()).method
    return train(config, cache, resume=resume,
                 data=array_data(reference, layout=run.method.layout)).method  # fmt: skip


# -- the audit -------------------------------------------------------------------------------------
def audit(
    run_dir: str | Path | None = None,
    *,
    samples: str | Path | np.ndarray | pd.DataFrame | None = None,
    members: str | Path | np.ndarray | pd.DataFrame | None = None,
    nonmembers: str | Path | np.ndarray | pd.DataFrame | None = None,
    reference: str | Path | np.ndarray | pd.DataFrame | None = None,
    attacks: str | list[str] | None = None,
    n_per_class: int | None = None,
    k: int = 20_000,
    seed: int = 0,
    out: str | Path | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    plots: bool = True,
    progress: bool = False,
    step: int | None = None,
    shadows: ShadowSettings | dict[str, Any] | None = None,
    canaries: bool = False,
    canary_guesses: int | None = None,
    device: str | None = "auto",
) -> AuditResult:
    """Audit a run directory (its last checkpoint, or the kept checkpoint at `step`), or any
    generator from its samples (arrays or .npz files; or tables: DataFrames, .csv or .parquet
    files with the members' columns, encoded as `ganguard.data.codec.encode_audit_tables`
    says); writes the JSON to `out` (default RUN_DIR/audit.json) with an
    ROC plot and score histograms beside it.

    `k` generated samples are given to the attacks (drawn from a run; the first k of `samples`).
    `settings` maps an attack's name to its settings (see `docs/audit.md`); `shadows` says how
    the shadow models of the shadow attacks are made (`ganguard.shadows.ShadowSettings`).
    `canaries` adds the one-run audit of a run trained with `train.canaries` (each attack
    guesses `canary_guesses` of the canaries' coins). The run's networks, the distance kernels
    and the shadow models (unless `shadows` names a device) use `device`."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise GanguardError(f"--k must be a positive integer, got {k!r}")
    with using(device):
        return _audit(run_dir, samples, members, nonmembers, reference, attacks, n_per_class, k,
                      seed, out, settings, plots, progress, step, shadows, canaries,
                      canary_guesses)  # fmt: skip


def _audit(run_dir, samples, members, nonmembers, reference, attacks, n_per_class, k, seed,  # noqa: ANN001, ANN202
           out, settings, plots, progress, step, shadows, canaries, canary_guesses):  # fmt: skip
    if run_dir is not None:
        if any(v is not None for v in (samples, members, nonmembers, reference)):
            raise GanguardError("give a run directory or samples/members/nonmembers, not both")
        result, scores, out = _audit_run(
            Path(run_dir), attacks, n_per_class, k, seed, out, settings, progress, step, shadows,
            canaries, canary_guesses,
        )
    else:
        if samples is None or members is None or nonmembers is None:
            raise GanguardError("a samples-only audit needs --samples, --members and --nonmembers")
        if canaries:
            raise GanguardError("--canaries audits a run trained with train.canaries, not samples")
        if out is None and not isinstance(samples, np.ndarray | pd.DataFrame):
            out = Path(samples).with_name(Path(samples).stem + "_audit.json")
        threat, mem, non = _samples_threat(samples, members, nonmembers, reference, k, seed)
        chosen, skipped = choose_attacks(attacks, threat.available())
        source = "arrays" if isinstance(samples, np.ndarray | pd.DataFrame) else str(samples)
        result, scores = run_attacks(threat, mem, non, chosen, skipped, settings, source)
    if out is not None:
        out = Path(out)
        write_atomic(out, json.dumps(result.to_dict(), indent=2) + "\n")
        if plots and result.attacks:
            stem = out.with_suffix("")
            metrics = {n: r.metrics for n, r in result.attacks.items()}
            save_roc_plot(metrics, Path(f"{stem}_roc.png"))
            save_score_histograms(scores, Path(f"{stem}_scores.png"))
    return result


def _load_records(value: str | Path | np.ndarray, what: str) -> np.ndarray:
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


def _is_table(value: Any) -> bool:
    return isinstance(value, pd.DataFrame) or (
        isinstance(value, str | Path) and is_table_path(value))  # fmt: skip


def _samples_threat(samples, members, nonmembers, reference, k, seed):  # noqa: ANN001, ANN202
    given = [v for v in (samples, members, nonmembers, reference) if v is not None]
    if any(_is_table(v) for v in given):
        if not all(_is_table(v) for v in given):
            raise GanguardError("--samples, --members, --nonmembers and --reference must all "
                                "be tables (.csv, .parquet) or all arrays (.npz)")  # fmt: skip
        s, mem, non, ref = encode_audit_tables(samples, members, nonmembers, reference)
        _check_nonmembers_are_not_members(mem, non)
        return ThreatModel(samples=s[:k], reference=ref, seed=seed), mem, non
    s = _load_records(samples, "--samples")
    mem = _load_records(members, "--members")
    non = _load_records(nonmembers, "--nonmembers")
    ref = None if reference is None else _load_records(reference, "--reference")
    for what, x in (("--samples", s), ("--nonmembers", non), ("--reference", ref)):
        if x is not None and x.shape[1:] != mem.shape[1:]:
            raise GanguardError(
                f"{what} records have shape {x.shape[1:]}, the members {mem.shape[1:]}"
            )
    _check_nonmembers_are_not_members(mem, non)
    return ThreatModel(samples=s[:k], reference=ref, seed=seed), mem, non


def _check_nonmembers_are_not_members(members: np.ndarray, nonmembers: np.ndarray) -> None:
    """Refuse non-members most of which are members: the wrong file given twice. A few records
    in both are a population's duplicates (adult holds some) and are kept."""
    seen = {row.tobytes() for row in np.ascontiguousarray(members).reshape(len(members), -1)}
    flat = np.ascontiguousarray(nonmembers).reshape(len(nonmembers), -1)
    shared = sum(row.tobytes() in seen for row in flat)
    if 2 * shared > len(nonmembers):
        raise GanguardError(f"--nonmembers: {shared} of its {len(nonmembers)} records are also "
                            "in --members; the audit needs records the generator was not "
                            "trained on")  # fmt: skip


def candidates(run: Run, ds: Any, n_per_class: int | None, seed: int) -> tuple:
    """The audit's members and non-members: m of each (default min(|S|, |H|, 1000)), drawn from
    S and H with `seed`, in data-set order."""
    s_idx, h_idx = run.split.members, run.split.holdout
    m = n_per_class or min(len(s_idx), len(h_idx), 1000)
    if m < 1 or m > min(len(s_idx), len(h_idx)):
        raise GanguardError(
            f"n_per_class = {m} but the run has {len(s_idx)} members and {len(h_idx)} holdout"
        )
    rng = np.random.default_rng(seed)
    members = ds.x[np.sort(rng.choice(s_idx, m, replace=False))]
    return members, ds.x[np.sort(rng.choice(h_idx, m, replace=False))]


def _audit_run(run_dir, attacks, n_per_class, k, seed, out, settings, progress, step,  # noqa: ANN001, ANN202
               shadows, canaries, canary_guesses):  # fmt: skip
    run = load_run(run_dir, step, current_device())
    if run.split is None:
        raise GanguardError(f"{run_dir} was trained on arrays, not a data set: audit its samples")
    if canaries and run.split.n_canaries == 0:
        raise GanguardError(f"--canaries: {run_dir} was trained without canaries "
                            "(train.canaries: 0); train with --set train.canaries=M")  # fmt: skip
    m = run.split.n_canaries
    if canaries and canary_guesses is not None and not 1 <= canary_guesses <= m:
        raise GanguardError(f"--canary-guesses must be between 1 and the {m} canaries, "
                            f"got {canary_guesses}")  # fmt: skip
    ds = load_run_data(run.config.data)
    check_split(run.split, ds, run.method.layout)
    members, nonmembers = candidates(run, ds, n_per_class, seed)
    threat = ThreatModel.of_method(run.method, k, seed)
    threat.architecture = run.config.model.model_dump()
    available = threat.available()
    if len(run.split.reference):
        threat.reference = ds.x[run.split.reference]
        # the reference GAN and the shadow models are made on demand
        available |= {REFERENCE, REFERENCE_MODEL, SHADOWS}
    chosen, skipped = choose_attacks(attacks, available)
    needed = set().union(*(attack_class(name).needs for name in chosen))
    if REFERENCE_MODEL in needed:
        ref = reference_method(run, threat.reference, progress)
        threat.reference_model = ThreatModel.of_method(ref, k, seed + 1)
    shadow_info = None
    if SHADOWS in needed:
        started, reused = time.perf_counter(), existing_shadows(run) is not None
        settings_ = shadow_settings(shadows)
        if settings_.device is None:
            settings_ = settings_.model_copy(update={"device": str(current_device())})
        threat.shadows = shadow_set(run, threat.reference, np.concatenate([members, nonmembers]),
                                    k, seed, settings_, progress)  # fmt: skip
        made = read_json(run.path / SHADOW_DIR / MANIFEST)
        shadow_info = {"count": made["count"], "mode": made["mode"],
                       "steps": made["config"]["train"]["steps"], "reused": reused,
                       "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    # δ: a DP run's own (its accountant's), else 1 / (10 n) as DP-GAN's default, n = |S|
    delta = run.extra.get("delta") or 1.0 / (10 * len(run.split.members))
    one_run = (canary_records(run.split, ds), run.split.canary_in) if canaries else None
    result, scores = run_attacks(
        threat, members, nonmembers, chosen, skipped, settings, str(run_dir), delta=delta,
        canaries=one_run, canary_guesses=canary_guesses,
    )
    if "epsilon" in run.extra:  # a DP run: its accountant's (ε, δ) at the audited checkpoint
        result.accountant = {"epsilon": run.extra["epsilon"], "delta": run.extra.get("delta")}
    result.shadows = shadow_info
    return result, scores, Path(out) if out is not None else run.path / AUDIT_FILE


# -- who is at risk --------------------------------------------------------------------------------
@dataclass
class AtRisk:
    index: int  # the member's index in the data set
    member: np.ndarray
    sample: np.ndarray  # the generated sample nearest to it
    score: float  # the ranking attack's membership score
    sample_distance: float  # to that nearest generated sample
    reference_distance: float | None  # to the nearest record of R (None without R)


@dataclass
class RiskSummary:
    attack: str  # the attack whose per-record score ranked the members
    n_samples: int
    top: list[AtRisk]
    median_members: float  # median score over the members ranked
    median_holdout: float | None  # and over the holdout records (non-members)


def members_at_risk(run: Run, ds: Any, n_samples: int = 5000, top: int = 8,
                    seed: int = 0) -> RiskSummary:  # fmt: skip
    """The members most likely to be found, ranked by the best calibrated per-record score the
    run allows (`ganguard.attacks.RISK_ATTACKS`, first usable: a shadow attack's likelihood
    ratio when the run's shadow models exist, else the DCR ratio against R, else the raw
    nearest-sample distance), against `n_samples` generated samples; each with its nearest
    sample and its distances to the samples and to R, and the median score of the members and
    of the holdout records, to tell whether the top stand out."""
    threat = ThreatModel.of_method(run.method, n_samples, seed)
    members, holdout = ds.x[run.split.members], ds.x[run.split.holdout]
    member_index = run.split.members
    reference = ds.x[run.split.reference] if len(run.split.reference) else None
    threat.reference = reference
    manifest = existing_shadows(run) if reference is not None else None
    if manifest is not None:
        try:  # scored against the shadows of the audit they were made for: its candidates
            mem, non = candidates(run, ds, None, manifest["seed"])
            threat.shadows = shadow_set(run, reference, np.concatenate([mem, non]), n_samples,
                                        manifest["seed"], {"mode": manifest["mode"],
                                                           "count": manifest["count"]})  # fmt: skip
            index = {r.tobytes(): i for i, r in zip(member_index, members, strict=True)}
            member_index = np.array([index[r.tobytes()] for r in mem], dtype=np.int64)
            members, holdout = mem, non
        except GanguardError:
            threat.shadows = None  # made with other settings: rank without them
    name = next(n for n in RISK_ATTACKS if attack_class(n).needs <= threat.available())
    attack = attack_class(name)().fit(threat)
    scores = np.asarray(attack.score(members), dtype=np.float64)
    order = np.argsort(-scores, kind="stable")[:top]
    to_sample, nearest_sample = (t.numpy() for t in nearest(members[order], threat.samples))
    to_reference = None if reference is None else nearest(members[order], reference)[0].numpy()
    rows = [AtRisk(int(member_index[i]), members[i], threat.samples[int(j)], float(scores[i]),
                   float(np.sqrt(to_sample[n])),
                   None if to_reference is None else float(np.sqrt(to_reference[n])))
            for n, (i, j) in enumerate(zip(order, nearest_sample, strict=True))]  # fmt: skip
    median_holdout = float(np.median(attack.score(holdout))) if len(holdout) else None
    return RiskSummary(name, n_samples, rows, float(np.median(scores)), median_holdout)


def format_audit_table(result: AuditResult) -> str:
    head = ["attack", "AUC", "95% interval", "TPR@1%FPR", "TPR@0.1%FPR", "advantage", "O",
            "ε_lb", "time s"]  # fmt: skip
    rows = []
    for name, r in result.attacks.items():
        m = r.metrics
        rows.append([name, m["auc"], interval(*(m["auc_ci"] or (None, None))),
                     m["tpr_at_1pct_fpr"], m["tpr_at_0.1pct_fpr"], m["advantage"],
                     (m["bhattacharyya"] or {}).get("O"), (m["eps_lower_bound"] or {}).get("value"),
                     number(r.seconds, 1)])  # fmt: skip
    if any(r.canaries for r in result.attacks.values()):
        head.insert(-1, "canary ε_lb (v/r)")
        for row, r in zip(rows, result.attacks.values(), strict=True):
            c = r.canaries
            row.insert(-1, "–" if c is None else
                       f"{number(c['value'])} ({c['correct']}/{c['guesses']})")  # fmt: skip
    lines = [text(head, rows)]
    lines += [f"{name}  skipped: {why}" for name, why in result.skipped.items()]
    lines.append(epsilon_note(result))
    return "\n".join(lines)


def epsilon_note(result: AuditResult) -> str:
    """What the ε lower bounds are, (for a DP run) the accountant's ε beside them, and the
    shadow models the shadow attacks used."""
    note = (f"ε_lb: the ε a training run must exceed for the attack to succeed as it did "
            f"(95% confidence, δ = {number(result.delta, 3)})")  # fmt: skip
    if result.accountant and result.accountant.get("epsilon") is not None:
        note += f"; the accountant's ε = {number(result.accountant['epsilon'], 3)}"
    s = result.shadows
    if s:
        how = "reused" if s["reused"] else f"trained in {number(s['seconds'], 0)} s"
        note += f"; {s['count']} {s['mode']} shadow models of {s['steps']} steps, {how}"
    return note
