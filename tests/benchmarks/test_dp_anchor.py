"""benchmarks/dp_anchor.py: its rows validate as configs of 60 000 conditional members, the DP row
at ε = 10 without spectral normalisation, and its table puts the published figures beside them."""

from __future__ import annotations

from types import ModuleType

from ganguard.config import load_config

BENCHMARK = "dp_anchor"  # the `bench` fixture (tests/conftest.py) imports it


def test_the_rows_are_conditional_runs_on_60000_members(bench: ModuleType) -> None:
    for name, overrides in bench.ROWS.items():
        config = load_config(bench.ROOT / "configs" / "demo.yaml",
                             [*bench.DATA, *bench.RECIPE, *overrides])  # fmt: skip
        assert config.data.name == "mnist" and config.data.n_members == 60_000, name
        assert config.model.conditional and not config.model.spectral_norm, name
    dp = load_config(bench.ROOT / "configs" / "demo.yaml",
                     [*bench.DATA, *bench.RECIPE, *bench.ROWS["dpgan-eps10"]])  # fmt: skip
    assert dp.method.name == "dpgan" and dp.method.target_epsilon == 10


def test_the_table_has_each_run_and_the_published_rows(bench: ModuleType) -> None:
    row = {"setting": "dpgan-eps10", "epsilon": 9.998, "steps": 2000, "batch": 600,
           "inception_fid": 61.25, "fid": 80.0, "recall": 0.4, "accuracy_synthetic": 0.812,
           "accuracy_real": 0.985, "train_s": 512.3, "members": 60000, "delta": 1.7e-6,
           "n_generated": 1000, "inception_fid_floor": 2.5, "fid_floor": 1.0,
           "n_accuracy_test": 2500, "evaluate_s": 300.0, "command": "c",
           "machine": "m"}  # fmt: skip
    lines = bench.markdown({"settings": [row]}).splitlines()
    cells = [c.strip() for c in lines[4].split("|")[1:-1]]
    assert cells == ["dpgan-eps10", "10.00", "2000 × 600", "61.2", "80.0", "0.400", "0.812",
                     "0.985", "512"]  # fmt: skip
    assert lines[5].startswith("| DP-GAN (DPImageBench) | 10 | – | 30.3 |")
    assert "0.927" in lines[5]
