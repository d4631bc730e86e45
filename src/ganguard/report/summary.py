"""What the report shows of one run, gathered from what ganguard wrote into its directory: the
config, the sample grid, the training log, the audit (`AuditResult`), the utility evaluation
(`UtilityResult`) and the members most at risk (scored by the attacks, `audit.members_at_risk`).
Nothing here measures anything of its own."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganguard.audit import AUDIT_FILE, AttackResult, AuditResult, RiskSummary, members_at_risk
from ganguard.config import Config
from ganguard.data import load_run_data
from ganguard.data.split import check_split
from ganguard.data.tabular import frame_from_matrix
from ganguard.errors import GanguardError
from ganguard.evaluate import UTILITY_FILE, UtilityResult
from ganguard.plotting import save_sample_grid
from ganguard.report.curves import TradeoffPoint, read_metrics, utility_axis
from ganguard.report.marginals import marginals_png
from ganguard.runs import load_run
from ganguard.tables import interval, number

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The main weight of each method, as the report names a run: (option, symbol), first present wins.
WEIGHTS: dict[str, list[tuple[str, str]]] = {
    "megan": [("lam", "λ")],
    "mimgan": [("beta", "β")],
    "dpgan": [("target_epsilon", "ε"), ("noise_multiplier", "σ")],
    "privgan": [("privacy_ratio", "ratio")],
    "pargan": [("k", "k")],
}


@dataclass
class TableView:
    """A table run's samples as the report shows them: decoded rows, the per-column marginals
    against the members, and the records of the members most at risk with their nearest
    samples, decoded."""

    sample_rows: pd.DataFrame
    marginals_png: bytes
    at_risk_members: pd.DataFrame
    at_risk_samples: pd.DataFrame


@dataclass
class RunSummary:
    path: Path
    config: Config
    step: int
    samples_png: bytes
    metrics: list[dict[str, Any]] | None  # metrics.jsonl
    audit: AuditResult | None
    utility: UtilityResult | None
    risk: RiskSummary
    table: TableView | None = None  # a run on a table: what stands in for the sample grid


    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    @property
    def method(self) -> str:
        return self.config.method.name

    @property
    def weight(self) -> str:
        """The method's main weight, e.g. 'λ=5' ('' for the GAN)."""
        options = self.config.method
        for key, symbol in WEIGHTS.get(self.method, []):
            value = getattr(options, key, None)
            if value is not None:
                return f"{symbol}={value:g}" if isinstance(value, float) else f"{symbol}={value}"
        return ""

    @property
    def label(self) -> str:
        return f"{self.method} {self.weight}".strip()

    def best(self) -> AttackResult | None:
        return None if self.audit is None else self.audit.best()


def summarize_run(
    run_dir: Path, n_samples: int = 5000, top: int = 8, seed: int = 0, datasets: dict | None = None
) -> RunSummary:
    """Everything the report shows of one run (raises GanguardError on a bad run directory)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanguardError(f"{run_dir} is not a run directory (no such folder)")
    run = load_run(run_dir)
    if run.split is None:
        raise GanguardError(f"{run_dir} was trained on arrays, not on a data set's split")
    d = run.config.data
    datasets = {} if datasets is None else datasets  # one load per data set for several runs
    # R appended from another data set depends on the split's size and seed too
    key = (d.name, d.path) if d.reference_data is None else d.model_dump_json()
    if key not in datasets:
        datasets[key] = load_run_data(d)
    ds = datasets[key]
    check_split(run.split, ds, run.method.layout)

    grid = run_dir / "samples.png"
    if ds.is_table:
        samples_png = b""  # shown as decoded rows and marginals instead (TableView)
    elif grid.is_file() and grid.read_bytes()[:8] == PNG_MAGIC:
        samples_png = grid.read_bytes()
    else:  # drawn the way training draws it, so the report still shows the samples
        with tempfile.TemporaryDirectory() as tmp:
            save_sample_grid(run.method, Path(tmp) / "samples.png", seed=run.config.seed)
            samples_png = (Path(tmp) / "samples.png").read_bytes()

    metrics_path = run_dir / "metrics.jsonl"
    metrics = read_metrics(metrics_path) if metrics_path.exists() else None
    audit = AuditResult.load(run_dir / AUDIT_FILE) if (run_dir / AUDIT_FILE).exists() else None
    utility_path = run_dir / UTILITY_FILE
    utility = UtilityResult.load(utility_path) if utility_path.exists() else None
    risk = members_at_risk(run, ds, n_samples, top, seed)
    table = table_view(run, ds, risk, n_samples, seed) if ds.is_table else None
    return RunSummary(run_dir, run.config, run.step, samples_png, metrics, audit, utility, risk,
                      table)  # fmt: skip


def table_view(run: Any, ds: Any, risk: RiskSummary, n: int, seed: int) -> TableView:  # noqa: ANN401
    """Decoded samples and records of a table run (see TableView)."""
    import torch

    x = run.method.sample(n, torch.Generator().manual_seed(seed)).numpy()
    generated = ds.codec.to_frame(x)
    members = frame_from_matrix(ds.canonical[run.split.members], ds.schema)
    decode = lambda records: ds.codec.to_frame(np.stack(records))  # noqa: E731
    return TableView(generated.head(10), marginals_png(generated, members, ds.schema.kinds),
                     decode([a.member for a in risk.top]), decode([a.sample for a in risk.top]))


def tradeoff_points(runs: list[RunSummary]) -> tuple[list[TradeoffPoint], list[str]]:
    """The privacy–utility plot's points: one per run with an audit and a utility evaluation,
    runs that differ only in seed sharing a setting; and the runs left out, with why."""
    groups: dict[str, list[RunSummary]] = {}
    for s in runs:
        config = s.config.to_dict()
        config.pop("seed")
        groups.setdefault(repr(config), []).append(s)
    labels = [members[0].label for members in groups.values()]
    points, missing = [], []
    for members in groups.values():
        label = members[0].label
        if labels.count(label) > 1:  # two settings of one method and weight: say which
            label = f"{label} ({members[0].name})"
        for s in members:
            best = s.best()
            if best is None or s.utility is None:
                lacks = [what for what, have in (("audit.json", best), ("utility.json", s.utility))
                         if not have]  # fmt: skip
                missing.append(f"{s.name} (no {' and no '.join(lacks)})")
                continue
            axis = utility_axis(s.utility.generated)
            if axis is None:
                missing.append(f"{s.name} (its utility.json has no FID or table utility)")
                continue
            panel = f"{s.config.data.name}, n = {s.config.data.n_members}"
            points.append(TradeoffPoint(label, panel, float(s.utility.generated[axis.key]),
                                        best.metrics["auc"], axis))  # fmt: skip
    return points, missing


OVERVIEW_HEAD = ["run", "method", "weight", "n", "steps", "best attack", "AUC [95% CI]",
                 "TPR@1%FPR", "FID"]  # fmt: skip


def overview_rows(runs: list[RunSummary]) -> list[list[Any]]:
    """One row per run: run, method, weight, n, steps, best attack, AUC, TPR@1%, FID."""
    rows = []
    for s in runs:
        best = s.best()
        m = best.metrics if best else {}
        auc = "–"
        if best is not None:
            auc = f"{number(m['auc'])} {interval(*(m['auc_ci'] or [None, None]))}"
        fid = None if s.utility is None else s.utility.generated["fid"]
        rows.append([s.name, s.method, s.weight or "–", str(s.config.data.n_members), str(s.step),
                     best.name if best else "(no audit)", auc, m.get("tpr_at_1pct_fpr"),
                     fid])  # fmt: skip
    return rows
