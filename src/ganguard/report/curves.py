"""Figures of the HTML report, rendered to PNG bytes in memory (the report embeds them).

Training curves from `metrics.jsonl`, the audit's ROC curves (drawn by `roc_figure`, so the
report and `audit_roc.png` show the same figure), the privacy–utility plot across runs, and
single records as small images.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganguard.audit_plots import roc_figure
from ganguard.errors import GanguardError
from ganguard.plotting import figure_png, image_png, pyplot

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
    """`training_curves_figure` as PNG bytes (None when nothing to draw)."""
    fig = training_curves_figure(lines, title)
    return None if fig is None else figure_png(fig, dpi=90)


def training_curves_figure(lines: list[dict[str, Any]], title: str = "") -> Any:
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
    return fig


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
    return figure_png(roc_figure(results, title=title))


# -- across runs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class UtilityAxis:
    """The utility figure a privacy–utility plot puts on its x axis, and how to draw it."""

    key: str  # the figure's name in a utility evaluation's `generated` (and a sweep's row)
    label: str
    log: bool
    lower_is_better: bool


FID_AXIS = UtilityAxis("fid", "FID", log=True, lower_is_better=True)
# tables have no FID: train-on-synthetic AUC where the table has a target, else column shapes
UTILITY_AXES = (FID_AXIS,
                UtilityAxis("tstr_auc", "train-on-synthetic ROC AUC", False, False),
                UtilityAxis("column_shapes", "column shapes", False, False))  # fmt: skip


def utility_axis(figures: dict[str, Any]) -> UtilityAxis | None:
    """The first of FID, train-on-synthetic AUC and column shapes that `figures` holds."""
    return next((a for a in UTILITY_AXES if figures.get(a.key) is not None), None)


@dataclass
class TradeoffPoint:
    """One run's end point: its setting (runs of one setting, differing only in seed, are drawn
    as one marker), its panel (data set and number of members) and its utility figure (FID for
    images; what `utility_axis` picks for tables)."""

    setting: str
    panel: str
    utility: float
    auc: float
    axis: UtilityAxis = FID_AXIS

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TradeoffPoint | None:
        """From a sweep's table row (None when it has no audit or no utility figure)."""
        axis = utility_axis(row)
        if axis is None or row.get("best_auc") is None:
            return None
        panel = f"{row['dataset']}, n = {row['n']}"
        return cls(row["group"], panel, float(row[axis.key]), float(row["best_auc"]), axis)


# markers and colours that tell up to 40 settings apart in print and for colour-blind readers
_MARKERS = "osD^vP*Xph<>"


def setting_style(i: int) -> dict[str, Any]:
    """The i-th setting's colour and marker: 20 colours (the dark shades first), 12 markers, and
    from the 21st setting on hollow markers, so no two settings of a plot look alike."""
    colours = pyplot().get_cmap("tab20").colors
    style = {"color": colours[(2 * i) % 20 + (i // 10) % 2], "marker": _MARKERS[i % len(_MARKERS)]}
    if i >= 20:
        style["markerfacecolor"] = "white"
    return style


def log_axis(ax: Any) -> None:
    """A log x axis labelled at 1, 2 and 5 times the powers of ten, in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def fid_auc_panels(fig: Any, axes: Any, width: float, log_x: list[bool] | None = None) -> None:
    """What every utility-against-AUC figure has: a log x axis (FID; `log_x` says per panel),
    the line of an attacker at chance, a grid, the AUC label, and one legend below the panels
    naming each entry once."""
    for i, ax in enumerate(axes):
        ax.axhline(0.5, color="k", ls="--", lw=0.8, label="attacker at chance")
        if log_x is None or log_x[i]:
            log_axis(ax)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("best attack AUC (0.5 = chance)")
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    longest = max(len(label) for label in handles)  # legend columns as wide as the labels
    per_row = max(1, int(width // (0.065 * longest + 0.6)))
    fig.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
               fontsize="small", ncol=min(per_row, len(handles)), frameon=False)  # fmt: skip


def privacy_utility_png(points: list[TradeoffPoint], fid_name: str = "FID",
                        order: Sequence[str] = ()) -> bytes:  # fmt: skip
    """`privacy_utility_figure` as PNG bytes."""
    return figure_png(privacy_utility_figure(points, fid_name, order), dpi=110, tight=True)


def privacy_utility_figure(points: list[TradeoffPoint], fid_name: str = "FID",
                           order: Sequence[str] = ()) -> Any:  # fmt: skip
    """Best attack AUC against utility: one panel per data set and n, one marker per setting at
    the mean over its seeds with ± one standard deviation on both axes, the attacker at chance
    as a line, and a legend (no text on the points). FID on a log axis (lower is better); a
    table's figure on a linear one (higher is better). `fid_name` labels the FID axis. The
    settings take their colours and markers in `order` (then as they come), so that figures
    drawn with the same `order` style a setting alike."""
    if not points:
        raise GanguardError("no run has both an audit and a utility evaluation")
    plt = pyplot()
    # a panel per data set and n and per utility figure, so that no panel mixes two scales
    panels = list(dict.fromkeys((p.panel, p.axis) for p in points))
    settings = list(dict.fromkeys([*order, *(p.setting for p in points)]))
    panel_width = 4.8 if len(panels) > 1 else 6.4
    fig, axes = plt.subplots(1, len(panels), figsize=(panel_width * len(panels), 4.2),
                             sharey=True, squeeze=False)  # fmt: skip
    seeds = set()
    for ax, (panel, axis) in zip(axes[0], panels, strict=True):
        for i, setting in enumerate(settings):
            mine = [p for p in points if (p.panel, p.axis, p.setting) == (panel, axis, setting)]
            if not mine:
                continue
            seeds.add(len(mine))
            x, auc = (np.array([getattr(p, k) for p in mine]) for k in ("utility", "auc"))
            spread = lambda v: float(v.std(ddof=1)) if len(v) > 1 else 0.0  # noqa: E731
            f, a, df, da = x.mean(), auc.mean(), spread(x), spread(auc)
            low = min(df, 0.5 * f) if axis.log else df  # a log axis cannot show a bar below 0
            ax.errorbar([f], [a], xerr=[[low], [df]], yerr=[[da], [da]], ls="none", capsize=2,
                        ms=6, label=setting, **setting_style(i))  # fmt: skip
        label = fid_name if axis.key == "fid" else axis.label
        scale = ", log scale" if axis.log else ""
        better = "lower" if axis.lower_is_better else "higher"
        ax.set(title=panel, xlabel=f"{label}{scale} ({better} is better)")
    fid_auc_panels(fig, axes[0], panel_width * len(panels), [a.log for _, a in panels])
    if seeds == {1}:
        fig.suptitle("privacy–utility: one run per setting")
    else:
        over = f"{seeds.pop()} seeds" if len(seeds) == 1 else "its seeds"
        fig.suptitle(f"privacy–utility: each setting at its mean over {over}, ± one std")
    fig.tight_layout()
    return fig
