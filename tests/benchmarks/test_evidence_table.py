"""benchmarks/evidence_table.py: the table that counts, read from the committed results; each
method's setting chosen by the screen's rule, its figures recounted from the runs."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = "evidence_table"  # the `bench` fixture (tests/conftest.py) imports it
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _row(attack: str, auc: float, lo: float, hi: float, tpr: float,
         eps: float | None = 0.0) -> dict:  # fmt: skip
    return {"attack": attack, "auc": auc, "auc_ci": [lo, hi], "tpr_at_1pct_fpr": tpr,
            "tpr_at_0.1pct_fpr": None, "eps_lb": eps}  # fmt: skip


def _run(bench: ModuleType, role: str, setting: str, seed: int, auc: float, fid: float,
         extra: list[dict] | None = None) -> object:  # fmt: skip
    """A run whose best attack `a` has AUC `auc` (interval ±0.03) and a weaker `b`."""
    rows = [_row("a", auc, auc - 0.03, auc + 0.03, 0.01 if auc < 0.53 else 0.05, 0.1 * seed),
            _row("b", 0.5, 0.47, 0.53, 0.03)] + (extra or [])  # fmt: skip
    return bench.Run(data="d", n=100, network=bench.MLP, role=role, setting=setting, seed=seed,
                     rows=rows, fid=fid, train_s=10.0)  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), [
    (("gan",), "GAN"), (("gan", False, True), "GAN + augmentation"),
    (("megan",), "MEGAN, R private"), (("mimgan", True), "MIMGAN, R public"),
    (("dpgan", False, False, 10), "DP-GAN, ε = 10"),
    (("dpgan", False, False, 1.0), "DP-GAN, ε = 1"),
    (("pargan",), "PAR-GAN"), (("ctgan",), "CTGAN"),
])  # fmt: skip
def test_each_method_has_its_row(bench: ModuleType, args: tuple, expected: str) -> None:
    assert bench.role(*args) == expected


def test_a_role_is_read_from_the_overrides_of_a_megan_config(bench: ModuleType) -> None:
    assert bench.role_of_overrides(["train.steps=4000"]) == "MEGAN, R private"
    assert bench.role_of_overrides(["method={name: mimgan}", "data.reference_data=mnist-train"]) \
        == "MIMGAN, R public"
    assert bench.role_of_overrides(["method={name: dpgan, target_epsilon: 1, d_steps: 5}"]) \
        == "DP-GAN, ε = 1"
    assert bench.role_of_overrides(["method={name: gan}", "train.augment=[cutout]"]) \
        == "GAN + augmentation"
    with pytest.raises(ValueError, match="target ε"):
        bench.role("dpgan")
    with pytest.raises(ValueError, match="unknown method"):
        bench.role("vae")


def test_the_setting_within_the_quality_bar_with_the_lowest_auc_is_chosen(
        bench: ModuleType) -> None:  # fmt: skip
    """Of two settings within the bar the more private wins; a more private one beyond the bar
    does not; without any setting within it, the best quality among those at chance."""
    settings = {
        "good": [_run(bench, "MEGAN, R private", "good", s, 0.56, 40.0) for s in range(3)],
        "better": [_run(bench, "MEGAN, R private", "better", s, 0.54, 45.0) for s in range(3)],
        "blurred": [_run(bench, "MEGAN, R private", "blurred", s, 0.50, 90.0) for s in range(3)],
    }
    bar = -50.0  # FID ≤ 50, on `quality`'s scale
    assert bench.choose_setting(settings, bar, is_gan=False) == "better"
    assert bench.choose_setting(settings, -30.0, is_gan=False) == "blurred"  # the one at chance
    assert bench.choose_setting(settings, None, is_gan=True) == "good"  # the GAN: best quality


def test_settings_with_fewer_seeds_do_not_compete(bench: ModuleType) -> None:
    settings = {
        "one-seed": [_run(bench, "MEGAN, R private", "one-seed", 0, 0.50, 30.0)],
        "three": [_run(bench, "MEGAN, R private", "three", s, 0.56, 40.0) for s in range(3)],
    }
    assert bench.choose_setting(settings, -50.0, is_gan=False) == "three"


def test_the_bar_is_the_gans_mean_fid_or_its_tstr_auc_less_the_margin(bench: ModuleType) -> None:
    gan = [_run(bench, "GAN", "gan", s, 0.8, fid) for s, fid in enumerate((40.0, 50.0, 60.0))]
    assert bench.quality_bar(gan) == pytest.approx(-1.25 * 50.0)
    table = [bench.Run(data="t", n=10, network="tabular MLP", role="GAN", setting="gan", seed=s,
                       rows=[], tstr_auc=v) for s, v in enumerate((0.80, 0.84))]  # fmt: skip
    assert bench.quality_bar(table) == pytest.approx(0.82 - 0.03)
    assert bench.quality_bar(None) is None


def test_a_methods_figures_are_recounted_from_its_runs(bench: ModuleType) -> None:
    """Seeds compare on the attacks all of them ran; an attack only one seed ran is reported
    beside them, not as the best; the worst seed's interval, the at-chance counts, the most
    found and the largest ε lower bound are those of the rows."""
    shadow = _row("lira", 0.70, 0.65, 0.75, 0.2)
    runs = [_run(bench, "MEGAN, R private", "m", 0, 0.52, 40.0, extra=[shadow]),
            _run(bench, "MEGAN, R private", "m", 1, 0.58, 44.0),
            _run(bench, "MEGAN, R private", "m", 2, 0.51, 42.0)]  # fmt: skip
    got = bench.method_row(runs, bar=-50.0)
    assert got["n_attacks"] == 2 and got["leaders"] == [("a", 3)]
    assert got["auc"] == [0.52, 0.58, 0.51]
    assert got["worst_seed"] == 1 and got["worst"]["auc_ci"] == pytest.approx([0.55, 0.61])
    assert got["at_chance"] == [True, False, True]
    # seed 0 and 2: a at chance, b's TPR 3% > 2%: not every attack is
    assert got["every_at_chance"] == [False, False, False]
    assert got["most_found"]["tpr_at_1pct_fpr"] == 0.05
    assert got["eps_lb"] == pytest.approx(0.2)
    assert got["beyond"] == (0, shadow)
    assert got["matched_quality"] == [0.52, 0.58, 0.51]  # all three within FID 50
    assert got["matched_privacy"] == [-40.0, -42.0]  # the seeds at chance


def test_a_run_known_only_by_its_best_interval_has_no_every_attack_count(
        bench: ModuleType) -> None:  # fmt: skip
    line = {"best_attack": "domias", "best_auc_lo": "0.49", "best_auc_hi": "0.56",
            **{f"auc_{a}": "0.51" for a in bench.CSV_ATTACKS}, "auc_domias": "0.525",
            **{f"tpr1_{a}": "0.01" for a in bench.CSV_ATTACKS}}  # fmt: skip
    rows = bench.csv_rows(line)
    run = bench.Run(data="d", n=1, network=bench.MLP, role="GAN", setting="g", seed=0, rows=rows)
    got = bench.method_row([run], bar=None)
    assert got["worst"]["attack"] == "domias" and got["at_chance"] == [True]
    assert got["every_at_chance"] == [None]
    assert bench.cells({**got, "role": "GAN", "setting": "g", "tried": 1})[7] == "–"


def test_every_block_has_every_method_and_says_which_did_not_run(bench: ModuleType) -> None:
    entries = bench.table(bench.all_runs(RESULTS))
    keys = {(e["data"], e["n"], e["network"]) for e in entries}
    for key in keys:
        roles = [e["role"] for e in entries if (e["data"], e["n"], e["network"]) == key]
        tabular = key[2] == "tabular MLP"
        assert roles == [r for r in bench.ROLES if tabular or r != "CTGAN"]
    gan = next(e for e in entries if (e["data"], e["n"], e["role"]) == ("mnist-5k", 500, "GAN")
               and e["network"] == bench.MLP)  # fmt: skip
    assert gan["setting"] == "gan-sn" and len(gan["seeds"]) == 3
    dcgan = [e for e in entries if e["network"] == bench.DCGAN]
    assert dcgan and all("not_run" in e for e in dcgan)
    # tables have no augmentation to run, and their rows say so rather than "not run yet"
    augmented = [e for e in entries if e["network"] == "tabular MLP"
                 and e["role"] == "GAN + augmentation"]  # fmt: skip
    assert augmented and all(e["not_run"] == bench.NO_TABLE_AUGMENTATION for e in augmented)


def test_the_committed_table_is_what_the_committed_results_give(
        bench: ModuleType, tmp_path: Path) -> None:  # fmt: skip
    """Rebuilt from the committed results, the table is the committed one, word for word."""
    assert bench.main(["--out", str(tmp_path / "t")]) == 0
    assert (tmp_path / "t.md").read_text() == (RESULTS / "evidence_table.md").read_text()
    assert (tmp_path / "t.csv").read_text() == (RESULTS / "evidence_table.csv").read_text()
