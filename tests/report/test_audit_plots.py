"""Audit figures: ROC curves and score histograms are written as complete PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ganguard.errors import GanguardError
from ganguard.metrics.attack_metrics import attack_metrics
from ganguard.report.audit_plots import save_roc_plot, save_score_histograms

PNG = b"\x89PNG\r\n\x1a\n"


def _scores(k: int, n: int = 150) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(k)
    return {f"attack_{i}": (rng.normal(0.5 * i, 1, n), rng.normal(0, 1, n)) for i in range(k)}


def _results(k: int) -> dict[str, dict]:
    return {name: attack_metrics(m, n, n_boot=0) for name, (m, n) in _scores(k).items()}


def test_roc_plot_1_then_3_attacks(tmp_path: Path) -> None:
    path = tmp_path / "roc.png"
    path.write_bytes(b"old")
    save_roc_plot(_results(1), path, title="ROC")
    one = path.read_bytes()
    assert one.startswith(PNG)
    save_roc_plot(_results(3), path)  # replaces the existing figure by a complete new one
    three = path.read_bytes()
    assert three.startswith(PNG) and three != one
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]  # no temporary file left


def test_histograms_1_then_3_attacks(tmp_path: Path) -> None:
    path = tmp_path / "hist.png"
    path.write_bytes(b"old")
    save_score_histograms(_scores(1), path, title="scores")
    one = path.read_bytes()
    assert one.startswith(PNG)
    save_score_histograms(_scores(3), path)
    three = path.read_bytes()
    assert three.startswith(PNG) and three != one
    assert [p.name for p in tmp_path.iterdir()] == ["hist.png"]


def test_degenerate_inputs(tmp_path: Path) -> None:
    # Perfect separation, identical scores and a single non-member all still plot.
    results = {
        "perfect": attack_metrics(np.arange(10, 20), np.arange(10), n_boot=0),
        "tied": attack_metrics(np.ones(5), np.ones(5), n_boot=0),
        "one": attack_metrics([1.0, 2.0], [0.0], n_boot=0),
    }
    save_roc_plot(results, tmp_path / "roc.png")
    assert (tmp_path / "roc.png").read_bytes().startswith(PNG)
    save_score_histograms({"tied": (np.ones(5), np.ones(5))}, tmp_path / "hist.png")
    assert (tmp_path / "hist.png").read_bytes().startswith(PNG)


def test_bad_inputs_raise(tmp_path: Path) -> None:
    with pytest.raises(GanguardError):
        save_roc_plot({}, tmp_path / "roc.png")
    with pytest.raises(GanguardError):
        save_score_histograms({}, tmp_path / "hist.png")
    with pytest.raises(GanguardError, match="NaN"):
        save_score_histograms({"a": (np.array([np.nan]), np.ones(3))}, tmp_path / "hist.png")
    assert not any(tmp_path.iterdir())
