"""benchmarks/audit_rows.py: the best attack of a run's rows, among a set or of all, and which
attacks need shadow models."""

from __future__ import annotations

from types import ModuleType

BENCHMARK = "audit_rows"  # the `bench` fixture (tests/conftest.py) imports it


def test_the_best_row_is_the_highest_auc_among_the_attacks_named(bench: ModuleType) -> None:
    run = {"rows": [{"attack": "logan_wb", "auc": 0.6}, {"attack": "lira_fbb", "auc": 0.9},
                    {"attack": "gen_lra", "auc": 0.7}]}  # fmt: skip
    assert bench.best_row(run)["attack"] == "lira_fbb"
    assert bench.best_row(run, ("logan_wb", "gen_lra"))["attack"] == "gen_lra"
    assert bench.best_row(run, ("logan_wb",))["auc"] == 0.6


def test_shadow_attacks_are_the_lira_family(bench: ModuleType) -> None:
    import ganguard.attacks as attacks

    shadowed = {a for a in attacks.attack_names() if bench.shadow_attack(a)}
    assert shadowed == {"lira_wb", "lira_fbb", "lira_domias"}
