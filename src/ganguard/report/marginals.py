"""A table run's per-column marginals, generated against the members: a histogram pair for each
numeric column, a pair of frequency bars for each categorical one, in one PNG."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ganguard.plotting import figure_png, pyplot

MAX_LABELS = 12  # a categorical column shows its most frequent labels (in the members)


def marginals_png(generated: pd.DataFrame, real: pd.DataFrame, kinds: dict[str, str],
                  real_label: str = "members") -> bytes:  # fmt: skip
    """One small panel per column, generated (orange) over `real` (blue), as shares."""
    plt = pyplot()
    names = list(kinds)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        if kinds[name] == "categorical":
            shares = real[name].astype(str).value_counts(normalize=True)
            labels = list(shares.index[:MAX_LABELS])
            made = generated[name].astype(str).value_counts(normalize=True)
            at = np.arange(len(labels))
            ax.bar(at - 0.2, [shares.get(k, 0) for k in labels], 0.4, label=real_label)
            ax.bar(at + 0.2, [made.get(k, 0) for k in labels], 0.4, label="generated")
            ax.set_xticks(at, [k[:10] for k in labels], rotation=60, fontsize=6)
        else:
            a = pd.to_numeric(real[name], errors="coerce").dropna().to_numpy(float)
            b = pd.to_numeric(generated[name], errors="coerce").dropna().to_numpy(float)
            lo, hi = np.percentile(a, [0.5, 99.5]) if len(a) else (0.0, 1.0)
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
            ax.hist(a, bins, density=True, alpha=0.6, label=real_label)
            ax.hist(np.clip(b, lo, hi), bins, density=True, alpha=0.6, label="generated")
            ax.tick_params(labelsize=6)
        ax.set_title(name, fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return figure_png(fig, dpi=90)
