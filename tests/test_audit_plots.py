"""Audit figures: the ROC curves and score histograms show what the metrics hold, and are written
whole (an existing figure is replaced only by a complete one)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from ganguard.audit_plots import (
    roc_figure,
    save_roc_plot,
    save_score_histograms,
    score_histograms_figure,
)
from ganguard.errors import GanguardError
from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.plotting import pyplot


def _scores(k: int, n: int = 150) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(k)
    return {f"attack_{i}": (rng.normal(0.5 * i, 1, n), rng.normal(0, 1, n)) for i in range(k)}


def _results(k: int) -> dict[str, dict]:
    return {name: attack_metrics(m, n, n_boot=0) for name, (m, n) in _scores(k).items()}


def test_the_roc_figure_draws_each_attack_s_curve_on_linear_and_log_axes() -> None:
    results = _results(3)
    fig = roc_figure(results, title="ROC")
    linear, log = fig.axes
    assert (linear.get_xscale(), log.get_xscale()) == ("linear", "log")
    for ax in (linear, log):
        drawn = {line.get_label(): line for line in ax.get_lines()}
        for name, m in results.items():
            line = drawn[f"{name} (AUC {m['auc']:.2f})"]
            assert np.array_equal(line.get_ydata(), m["roc"]["tpr"])
        assert "chance" in drawn
    # on the log axis an FPR below the lowest shown (1/150 non-members) is drawn at that value
    line = next(x for x in log.get_lines() if x.get_label().startswith("attack_0"))
    assert line.get_xdata().min() == pytest.approx(1 / 150)
    assert log.get_xlim() == pytest.approx((1 / 150, 1))
    pyplot().close(fig)


def test_the_histograms_show_members_against_non_members_per_attack() -> None:
    scores = _scores(3)
    fig = score_histograms_figure(scores)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == list(scores)
    for ax, (mem, non) in zip(shown, scores.values(), strict=True):
        members, nonmembers = ax.containers  # two bar sets: members, then non-members
        assert ax.get_legend_handles_labels()[1] == ["members", "non-members"]
        # density histograms: the bars of each integrate to one
        for bars in (members, nonmembers):
            area = sum(b.get_height() * b.get_width() for b in bars)
            assert area == pytest.approx(1.0)
        lo = min(mem.min(), non.min())
        assert members[0].get_x() == pytest.approx(lo)  # shared bins cover both sets
    pyplot().close(fig)


def test_files_are_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "roc.png"
    path.write_bytes(b"old")
    save_roc_plot(_results(3), path)
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 2 * image.shape[0] - 100  # two panels wide
    save_score_histograms(_scores(1), tmp_path / "hist.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.png", "roc.png"]  # no temp file


def test_degenerate_inputs_still_plot() -> None:
    # Perfect separation, identical scores and a single non-member all still plot.
    results = {
        "perfect": attack_metrics(np.arange(10, 20), np.arange(10), n_boot=0),
        "tied": attack_metrics(np.ones(5), np.ones(5), n_boot=0),
        "one": attack_metrics([1.0, 2.0], [0.0], n_boot=0),
    }
    fig = roc_figure(results)
    assert len(fig.axes[0].get_lines()) == 4  # three attacks and the chance line
    pyplot().close(fig)
    fig = score_histograms_figure({"tied": (np.ones(5), np.ones(5))})
    assert len(fig.axes[0].containers) == 2
    pyplot().close(fig)


def test_bad_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(GanguardError):
        save_roc_plot({}, tmp_path / "roc.png")
    with pytest.raises(GanguardError):
        save_score_histograms({}, tmp_path / "hist.png")
    with pytest.raises(GanguardError, match="NaN"):
        save_score_histograms({"a": (np.array([np.nan]), np.ones(3))}, tmp_path / "hist.png")
    assert not any(tmp_path.iterdir())
