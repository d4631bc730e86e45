"""Figures of the HTML report, rendered to PNG bytes in memory (the report embeds them).

Training curves from `metrics.jsonl`, the audit's ROC curves (drawn by `save_roc_plot`, so the
report and `audit_roc.png` show the same figure), the privacy–utility plot across runs, and
single records as small images.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.errors import GanguardError
from ganguard.plotting import figure_png, image_png, pyplot
from ganguard.report.audit_plots import save_roc_plot

# metrics.jsonl keys drawn as privacy curves, with their labels, when a method logs them.
PRIVACY_KEYS = {
    "mi": "MIMGAN Î (nats)",
    "epsilon": "DP-GAN ε spent",
    "mi_bound": "MEGAN fano bound ln 2 − CE (nats)",
}


def record_png(record: np.ndarray) -> bytes:
    """One record (CHW, or flat) in [-1, 1] as a PNG; flat records become a one-row image."""
    x = np.asarray(record, dtype=np.float32)
    if x.ndim == 3 and x.shape[0] == 1:
        x = x[0]
    elif x.ndim == 3:
        x = x.transpose(1, 2, 0)
    else:
        x = x.reshape(1, -1)
    return image_png(np.clip((x + 1) / 2, 0, 1))


# -- training curves ---------------------------------------------------------------------------
def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The lines of a metrics.jsonl. A line that is not a JSON object (a run killed while writing
    its last line) is skipped: the curves up to it are still worth showing."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise GanguardError(f"cannot read {path}: {err.strerror or err}") from None
    lines = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict) and isinstance(line.get("step"), (int, float)):
            lines.append(line)
    return lines


def _series(lines: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of the lines that hold a finite number under `key`."""
    pts = [
        (float(ln["step"]), float(v))
        for ln in lines
        if isinstance(v := ln.get(key), (int, float))
        and not isinstance(v, bool)
        and math.isfinite(v)
    ]
    arr = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def training_curves_png(lines: list[dict[str, Any]], title: str = "") -> bytes | None:
    """Panels for what the log holds: losses; mean D(x) on members vs holdout; O and O_null;
    the monitor's white-box AUC; the method's privacy quantity. None when nothing to draw."""
    keys = {k for ln in lines for k in ln}
    losses = sorted(k for k in keys if k.startswith("loss"))
    panels = [
        ("losses", losses, "loss"),
        ("mean D(x)", [k for k in ("d_members", "d_holdout") if k in keys], "D(x)"),
        ("Bhattacharyya overfitting", [k for k in ("O", "O_null") if k in keys], "O = 1 − BC"),
        ("white-box AUC (monitor)", [k for k in ("auc_wb",) if k in keys], "AUC"),
        ("privacy", [k for k in PRIVACY_KEYS if k in keys], ""),
    ]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    names = {"d_members": "members", "d_holdout": "holdout", **PRIVACY_KEYS}
    plt = pyplot()
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.2 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (name, series, ylabel) in zip(flat, panels, strict=False):
        for key in series:
            steps, values = _series(lines, key)
            marker = "." if len(steps) < 30 else None  # few log lines: show where they are
            ax.plot(steps, values, marker=marker, label=names.get(key, key))
        if name == "white-box AUC (monitor)":
            ax.axhline(0.5, color="k", ls="--", lw=0.8, label="chance")
        ax.set(title=name, xlabel="step", ylabel=ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in flat[len(panels) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return figure_png(fig, dpi=90)


# -- audit -------------------------------------------------------------------------------------
def roc_png(attacks: dict[str, dict[str, Any]], title: str = "") -> bytes | None:
    """ROC curves (linear and log FPR) of the attacks whose metrics hold ROC points."""
    results = {
        name: m
        for name, m in attacks.items()
        if isinstance(m, dict) and isinstance(m.get("roc"), dict) and "fpr" in m["roc"]
    }
    if not results:
        return None
    with tempfile.TemporaryDirectory() as tmp:  # save_roc_plot writes files; we want bytes
        path = Path(tmp) / "roc.png"
        save_roc_plot(results, path, title=title)
        return path.read_bytes()


# -- across runs -------------------------------------------------------------------------------
@dataclass
class TradeoffPoint:
    label: str
    fid: float
    auc: float
    auc_ci: tuple[float, float] | None = None


def privacy_utility_png(points: list[TradeoffPoint], fid_name: str = "FID") -> bytes:
    """Best attack AUC (with its interval) against FID, one labelled point per run: lower left is
    better on both axes, and AUC 0.5 is an attacker at chance."""
    if not points:
        raise GanguardError("no run has both an audit and a utility evaluation")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    for p in points:
        yerr = None
        if p.auc_ci is not None:
            yerr = [[max(p.auc - p.auc_ci[0], 0)], [max(p.auc_ci[1] - p.auc, 0)]]
        ax.errorbar([p.fid], [p.auc], yerr=yerr, fmt="o", capsize=3)
        ax.annotate(p.label, (p.fid, p.auc), textcoords="offset points", xytext=(5, 5),
                    fontsize="small")  # fmt: skip
    ax.axhline(0.5, color="k", ls="--", lw=0.8, label="attacker at chance")
    ax.set(xlabel=f"{fid_name} (lower is better)", ylabel="best attack AUC (lower is better)",
           title="privacy–utility")  # fmt: skip
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return figure_png(fig, dpi=90)
