"""benchmarks/null_rates.py: the at-chance rule on scores with no signal, counted as the audits
count it, and saved with its command."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCHMARK = "null_rates"  # the `bench` fixture (tests/conftest.py) imports it


def test_the_rates_are_the_at_chance_rule_counted_over_the_trials(bench: ModuleType) -> None:
    """Recounted here trial by trial from the same draws: the fractions agree, and the k-attack
    figure is (1 - p)^k."""
    from ganguard.metrics.attack_metrics import at_chance, attack_metrics

    got = bench.null_rates(100, trials=12, seed=3)
    rng = np.random.default_rng(3)
    refused = sum(not at_chance(attack_metrics(rng.normal(size=100), rng.normal(size=100), seed=t))
                  for t in range(12))  # fmt: skip
    assert got["not_at_chance"] == pytest.approx(refused / 12)
    p = got["not_at_chance"]
    assert got["every_of_k_at_chance_if_independent"]["8"] == pytest.approx((1 - p) ** 8)
    assert got["trials"] == 12 and got["n_members"] == got["n_nonmembers"] == 100


def test_the_interval_misses_half_about_one_time_in_twenty(bench: ModuleType) -> None:
    """A 95% interval on AUC 0.5 misses it in about 5% of null audits (over 200 trials, 1-10%:
    three binomial standard deviations), and a separated pair of distributions is not at
    chance."""
    from ganguard.metrics.attack_metrics import at_chance, attack_metrics

    got = bench.null_rates(100, trials=200, seed=0)
    assert 0.01 < got["interval_misses_half"] < 0.10
    rng = np.random.default_rng(0)
    assert not at_chance(attack_metrics(rng.normal(1.0, size=100), rng.normal(size=100)))


def test_the_command_writes_its_table_and_figures(bench: ModuleType, tmp_path: Path) -> None:
    assert bench.main(["--trials", "3", "--sizes", "100", "--out", str(tmp_path)]) == 0
    meta = json.loads((tmp_path / "null_rates.json").read_text())
    assert meta["command"] == (f"python benchmarks/null_rates.py --trials 3 --sizes 100 --out "
                               f"{tmp_path}")  # fmt: skip
    assert [r["n_members"] for r in meta["rows"]] == [100]
    assert "| 100 + 100 | 3 |" in (tmp_path / "null_rates.md").read_text()


def test_sizes_that_leave_tpr_at_1pct_unresolved_are_refused(bench: ModuleType,
                                                             tmp_path: Path) -> None:  # fmt: skip
    with pytest.raises(SystemExit) as refused:
        bench.main(["--sizes", "50", "--out", str(tmp_path)])
    assert refused.value.code == 2 and not list(tmp_path.iterdir())
