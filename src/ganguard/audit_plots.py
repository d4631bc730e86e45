"""Audit figures: ROC curves of the attacks and their score histograms (members vs non-members).

PNGs are rendered into memory and written with `write_atomic`, so an existing figure is replaced
only by a complete one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.errors import GanguardError
from ganguard.plotting import figure_png, pyplot
from ganguard.runs import write_atomic

# Lowest FPR shown on the log-scaled ROC panel (raised to 1/n_nonmembers when fewer records).
MIN_LOG_FPR = 1e-3


def save_roc_plot(results: dict[str, dict], path: Path, title: str = "") -> None:
    """`roc_figure` written to `path` as a PNG."""
    write_atomic(Path(path), figure_png(roc_figure(results, title)))


def save_score_histograms(
    scores: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str = ""
) -> None:
    """`score_histograms_figure` written to `path` as a PNG."""
    write_atomic(Path(path), figure_png(score_histograms_figure(scores, title)))


def roc_figure(results: dict[str, dict], title: str = "") -> Any:
    """ROC curves of several attacks: linear axes left, log-scaled FPR right (low-FPR region).

    `results` maps attack name -> the dict returned by `attack_metrics` (its `roc`, `auc` and
    `n_nonmembers` are used).
    """
    if not results:
        raise GanguardError("no attack results to plot")
    n_nonmembers = [int(r.get("n_nonmembers") or 0) for r in results.values()]
    lo = max(MIN_LOG_FPR, 1.0 / max(max(n_nonmembers), 1))
    if lo >= 1.0:  # a single non-member: nothing to show below FPR = 1
        lo = 0.1

    plt = pyplot()
    fig, (ax_lin, ax_log) = plt.subplots(1, 2, figsize=(11, 4.8))
    for name, res in results.items():
        fpr = np.asarray(res["roc"]["fpr"], dtype=np.float64)
        tpr = np.asarray(res["roc"]["tpr"], dtype=np.float64)
        auc = res.get("auc")
        label = f"{name} (AUC {auc:.2f})" if auc is not None else name
        (line,) = ax_lin.plot(fpr, tpr, lw=1.5, label=label)
        # Log axis: FPR below `lo` (0 included) is drawn at `lo`; a TPR reached at FPR <= lo is
        # indeed available at FPR = lo, so the curve stays truthful.
        ax_log.plot(np.maximum(fpr, lo), tpr, lw=1.5, color=line.get_color(), label=label)

    ax_lin.plot([0, 1], [0, 1], "k--", lw=0.8, label="chance")
    ax_lin.set(
        xlim=(0, 1),
        ylim=(0, 1.01),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC",
    )
    ax_lin.set_aspect("equal")

    grid = np.logspace(math.log10(lo), 0, 200)
    ax_log.plot(grid, grid, "k--", lw=0.8, label="chance")
    ax_log.set_xscale("log")
    ax_log.set(
        xlim=(lo, 1),
        ylim=(0, 1.01),
        xlabel="false positive rate (log)",
        ylabel="true positive rate",
        title="ROC, low-FPR region",
    )

    for ax in (ax_lin, ax_log):
        ax.grid(alpha=0.3)
    ax_lin.legend(loc="lower right", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _shared_bins(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both = np.concatenate([a, b])
    lo, hi = float(both.min()), float(both.max())
    if hi <= lo:  # every score equal: one bin around the value
        lo, hi = lo - 0.5, hi + 0.5
    n_bins = min(60, max(10, math.ceil(2 * min(len(a), len(b)) ** (1 / 3))))  # Rice rule, clipped
    return np.linspace(lo, hi, n_bins + 1)


def score_histograms_figure(
    scores: dict[str, tuple[np.ndarray, np.ndarray]], title: str = ""
) -> Any:
    """One panel per attack: overlaid density histograms of member and non-member scores."""
    if not scores:
        raise GanguardError("no attack scores to plot")
    clean: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (mem, non) in scores.items():
        m = np.asarray(mem, dtype=np.float64).ravel()
        n = np.asarray(non, dtype=np.float64).ravel()
        if m.size == 0 or n.size == 0:
            raise GanguardError(f"attack {name!r}: empty member or non-member scores")
        if not (np.isfinite(m).all() and np.isfinite(n).all()):
            raise GanguardError(f"attack {name!r}: scores contain NaN or inf")
        clean[name] = (m, n)

    k = len(clean)
    cols = min(3, k)
    rows = math.ceil(k / cols)
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    flat = axes.ravel()
    for ax, (name, (m, n)) in zip(flat, clean.items(), strict=False):
        bins = _shared_bins(m, n)
        ax.hist(m, bins=bins, density=True, alpha=0.5, label="members")
        ax.hist(n, bins=bins, density=True, alpha=0.5, label="non-members")
        ax.set(title=name, xlabel="score", ylabel="density")
        ax.legend(fontsize="small")
    for ax in flat[k:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
