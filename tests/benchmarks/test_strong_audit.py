"""benchmarks/strong_audit.py: every setting of every stage validates as a config (a typo in an
override would only show hours into a run), and the methods stage's summary reads each run's best
attack, its largest ε lower bound and its quality correctly."""

from __future__ import annotations

from types import ModuleType

from ganguard.config import load_config

BENCHMARK = "strong_audit"  # the `bench` fixture (tests/conftest.py) imports it


def test_every_setting_of_every_stage_is_a_valid_config(bench: ModuleType) -> None:
    demo = bench.ROOT / "configs" / "demo.yaml"
    for stage, settings in bench.STAGES.items():
        for name, overrides in settings.items():
            config = load_config(demo, [*bench.COMMON, "train.steps=4000", *overrides])
            assert config.data.n_members == 200, (stage, name)
            if name.startswith("dpgan"):
                assert config.method.name == "dpgan" and not config.model.spectral_norm


def test_the_methods_stage_runs_each_method_where_the_leak_stage_found_leaks(bench) -> None:  # noqa: ANN001
    demo = bench.ROOT / "configs" / "demo.yaml"
    methods = {load_config(demo, [*bench.COMMON, *o]).method.name
               for o in bench.STAGES["methods"].values()}  # fmt: skip
    assert methods == {"gan", "megan", "mimgan", "dpgan", "privgan", "pargan"}
    public = load_config(demo, [*bench.COMMON, *bench.STAGES["methods"]["megan-public"]])
    assert public.data.reference_data == "mnist-train"
    tuned = load_config(demo, ["train.steps=4000", *bench.STAGES["methods"]["dpgan-eps1-tuned"]])
    assert tuned.train.steps == 400  # the row's own steps come after the stage's and win
    assert tuned.method.target_epsilon == 1 and tuned.method.d_steps == 5


def measured(setting: str, seed: int | None, aucs: dict[str, float], bounds: dict) -> dict:
    rows = [{"attack": a, "auc": auc, "auc_ci": [auc - 0.05, auc + 0.05],
             "tpr_at_1pct_fpr": auc / 10, "tpr_at_0.1pct_fpr": None, "eps_lb": bounds.get(a)}
            for a, auc in aucs.items()]  # fmt: skip
    s = {"setting": setting, "rows": rows, "train_s": 81.4, "accountant": None,
         "utility": {"fid": 36.25, "recall": 0.8}}  # fmt: skip
    if seed is not None:
        s["seed"] = seed
    return s


def test_the_summary_takes_the_best_attack_and_the_largest_bound(bench) -> None:  # noqa: ANN001
    s = measured("gan", 2, {"logan_wb": 0.61, "lira_fbb": 0.896, "gen_lra": 0.7},
                 {"logan_wb": 1.9, "lira_fbb": 0.4, "gen_lra": None})  # fmt: skip
    text = bench.summary({"stage": "methods", "settings": [s]})
    row = text.splitlines()[2].split("|")[1:-1]
    assert [c.strip() for c in row] == ["gan", "2", "lira_fbb", "0.896 [0.846, 0.946]", "0.090",
                                        "–", "lira_fbb (0.896)", "1.900", "36.2", "0.800", "–",
                                        "81"]  # fmt: skip


def test_samples_only_attacks_are_those_that_need_no_network(bench) -> None:  # noqa: ANN001
    every = ("logan_wb", "logan_bb", "ganleaks_fbb", "ganleaks_wb", "montecarlo", "domias",
             "dcr_ratio", "gen_lra", "ganleaks_fbb_cal", "ganleaks_wb_cal", "lira_wb", "lira_fbb",
             "lira_domias")  # fmt: skip
    blind = {a for a in every if bench.samples_only(a)}
    assert blind == {"logan_bb", "ganleaks_fbb", "montecarlo", "domias", "dcr_ratio", "gen_lra",
                     "ganleaks_fbb_cal", "lira_fbb", "lira_domias"}  # fmt: skip


def test_a_setting_measured_before_seeds_were_recorded_counts_as_seed_0(bench) -> None:  # noqa: ANN001
    old, new = measured("gan", None, {"a": 0.5}, {}), measured("gan", 1, {"a": 0.5}, {})
    assert bench.identity(old) == ("gan", 0) and bench.identity(new) == ("gan", 1)
    assert bench.label(old) == "gan" and bench.label(new) == "gan (seed 1)"
