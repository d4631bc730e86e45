"""benchmarks/tabular.py: each row validates as a run on the table it names (R public only on
adult and adult-250, from adult's own test file; DP-GAN without spectral normalisation), and its
table shows each run's best attack and utility."""

from __future__ import annotations

from types import ModuleType

import pytest

BENCHMARK = "tabular"  # the `bench` fixture (tests/conftest.py) imports it


def test_every_row_is_a_run_on_its_table(bench: ModuleType) -> None:
    for data in bench.DATA:
        for name in bench.SETTINGS:
            if name.endswith("-public") and data == "breast-cancer":
                with pytest.raises(SystemExit, match="no public R"):
                    bench.config_for(data, name, 0)
                continue
            config, _ = bench.config_for(data, name, 0)
            table = data.split("-")[0]  # adult-250 is adult with fewer members
            assert config.train.steps == 5000 and config.data.name.startswith(table), name
            if name.endswith("-public"):
                assert (config.data.name, config.data.reference_data) == ("adult-train",
                                                                          "adult-test")
                # R public changes where R comes from, not how many members there are
                private, _ = bench.config_for(data, name.removesuffix("-public"), 0)
                assert config.data.n_members == private.data.n_members, (data, name)
            if name.startswith("dpgan"):
                assert not config.model.spectral_norm and config.method.target_epsilon in (1, 10)
    # the breast-cancer settings are the defaults with only what their names say changed
    megan, _ = bench.config_for("breast-cancer", "megan", 0)
    for name, lam in [("megan-l200", 200.0), ("megan-l400", 400.0)]:
        louder, _ = bench.config_for("breast-cancer", name, 0)
        assert louder.method.model_dump() == {**megan.method.model_dump(), "lam": lam}, name
    mimgan, _ = bench.config_for("breast-cancer", "mimgan", 0)
    for name, changed in [("mimgan-b1", {"beta": 1.0}),
                          ("mimgan-b1-dlam200", {"beta": 1.0, "discriminator_lam": 200.0})]:
        config, _ = bench.config_for("breast-cancer", name, 0)
        assert config.method.model_dump() == {**mimgan.method.model_dump(), **changed}, name


def test_the_table_names_the_best_attack_and_the_utility(bench: ModuleType) -> None:
    rows = [{"attack": "logan_wb", "auc": 0.62, "auc_ci": [0.6, 0.64], "tpr_at_1pct_fpr": 0.057,
             "eps_lb": 0.157},
            {"attack": "domias", "auc": 0.53, "auc_ci": [0.5, 0.55], "tpr_at_1pct_fpr": 0.01,
             "eps_lb": None}]  # fmt: skip
    utility = {"generated": {"tstr_auc": 0.82, "trtr_auc": 0.89, "column_shapes": 0.9,
                             "pair_trends": 0.945, "detection_auc": 0.907}}  # fmt: skip
    setting = {"data": "adult", "setting": "gan", "seed": 0, "rows": rows, "utility": utility,
               "accountant": None, "train_s": 84.2}  # fmt: skip
    text = bench.markdown({"stage": "methods", "settings": [setting]})
    line = [s for s in text.splitlines() if s.startswith("| adult | gan | 0 |")][-1]  # per run
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells == ["adult", "gan", "0", "logan_wb", "0.620 [0.600, 0.640]", "0.057", "0.157",
                     "0.820", "0.890", "0.900", "0.945", "0.907", "–", "84"]  # fmt: skip


def test_the_committed_json_keeps_the_utility_but_not_every_pair(bench: ModuleType) -> None:
    setting = {"utility": {"generated": {"pair_trends": 0.93, "pair_trends_by_pair": {"a|b": 1},
                                         "column_shapes_by_column": {"a": 0.9}},
                           "floor": {"pair_trends_by_pair": {}}}}  # fmt: skip
    bench.without_pairs(setting)
    assert setting["utility"] == {"generated": {"pair_trends": 0.93,
                                                "column_shapes_by_column": {"a": 0.9}},
                                  "floor": {}}  # fmt: skip


def test_each_row_over_its_seeds_counts_the_seeds_at_chance(bench: ModuleType) -> None:
    def run(seed: int, auc: float, ci: list[float], tpr: float, tstr: float) -> dict:
        rows = [{"attack": "dcr_ratio", "auc": auc, "auc_ci": ci, "tpr_at_1pct_fpr": tpr,
                 "eps_lb": None}]  # fmt: skip
        return {"data": "adult", "setting": "megan", "seed": seed, "rows": rows,
                "utility": {"generated": {"tstr_auc": tstr}}, "accountant": None,
                "train_s": 100.0 + 10 * seed}  # fmt: skip

    settings = [run(2, 0.52, [0.49, 0.55], 0.03, 0.80),  # holds 0.5, finds 3% at 1% FPR
                run(0, 0.51, [0.48, 0.54], 0.01, 0.82),  # at chance
                run(1, 0.57, [0.54, 0.60], 0.01, 0.84)]  # fmt: skip
    line = bench.over_seeds({"stage": "methods", "settings": settings}).splitlines()[2]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells == ["adult", "megan", "0/1/2", "dcr_ratio (3)", "0.510 / 0.570 / 0.520",
                     "0.533 ± 0.032", "1 of 3", "0.017 ± 0.012", "0.820 ± 0.020", "–", "–",
                     "–", "–", "110 ± 10"]  # fmt: skip


def test_shadow_attacks_stay_out_of_the_seeds_table_and_get_their_own(bench: ModuleType) -> None:
    def run(seed: int, shadows: bool) -> dict:
        rows = [{"attack": "dcr_ratio", "auc": 0.52, "auc_ci": [0.49, 0.55],
                 "tpr_at_1pct_fpr": 0.01, "eps_lb": None}]  # fmt: skip
        if shadows:  # the shadows find what the others do not
            rows.append({"attack": "lira_fbb", "auc": 0.71, "auc_ci": [0.66, 0.76],
                         "tpr_at_1pct_fpr": 0.12, "eps_lb": 1.1})  # fmt: skip
        return {"data": "adult-250", "setting": "gan", "seed": seed, "rows": rows,
                "utility": {"generated": {}}, "accountant": None, "train_s": 70.0,
                "shadows": {"count": 16, "mode": "online"} if shadows else None}  # fmt: skip

    plain = {"stage": "methods", "settings": [run(0, False), run(1, False)]}
    mixed = {"stage": "methods", "settings": [run(0, True), run(1, False)]}
    assert bench.over_seeds(mixed) == bench.over_seeds(plain)
    text = bench.markdown(mixed)
    assert "--with-shadows" not in bench.markdown(plain)
    shadow_line = next(line for line in text.splitlines() if "lira_fbb` 0.710" in line)
    assert shadow_line.startswith("| adult-250 | gan | 0 | `dcr_ratio` 0.520")
    assert shadow_line.rstrip().endswith("| no | 16 online |")
    own = "| adult-250 | gan | 0 | lira_fbb |"
    per_run = next(line for line in text.splitlines() if line.startswith(own))
    assert "0.710 [0.660, 0.760]" in per_run  # each run's own line: the best of all it ran
