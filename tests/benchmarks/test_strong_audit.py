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


def run(setting: str, seed: int, auc: float, ci: tuple[float, float], tpr: float,
        fid: float | None) -> dict:  # fmt: skip
    """A measured run whose best attack is logan_wb (AUC `auc`), beside gen_lra 0.1 lower."""
    same = {"tpr_at_0.1pct_fpr": None, "tpr_at_zero_fpr": 0.0, "canary_eps_lb": None,
            "seconds": 1.0}  # fmt: skip
    rows = [{"attack": "logan_wb", "auc": auc, "auc_ci": list(ci), "tpr_at_1pct_fpr": tpr,
             "eps_lb": 0.5, **same},
            {"attack": "gen_lra", "auc": auc - 0.1, "auc_ci": [0.4, 0.6], "tpr_at_1pct_fpr": 0.0,
             "eps_lb": None, **same}]  # fmt: skip
    return {"setting": setting, "seed": seed, "rows": rows, "train_s": 100.0 + seed,
            "accountant": None, "utility": None if fid is None else {"fid": fid, "recall": 0.9},
            "members": 200, "steps": 4000, "shadows": None, "delta": 5e-4, "skipped": [],
            "command": "python benchmarks/strong_audit.py --stage methods", "machine": "a test"}


def cells(text: str, setting: str) -> list[str]:
    line = next(s for s in text.splitlines() if s.startswith(f"| {setting} |"))
    return [c.strip() for c in line.split("|")[1:-1]]


def test_over_seeds_gives_mean_and_sd_and_counts_the_seeds_at_chance(bench) -> None:  # noqa: ANN001
    figures = {"stage": "methods", "settings": [
        run("megan", 1, 0.56, (0.51, 0.61), 0.01, 80.0),
        run("megan", 0, 0.54, (0.49, 0.59), 0.01, 70.0),   # at chance
        run("megan", 2, 0.52, (0.47, 0.57), 0.03, 90.0),   # holds 0.5, but finds 3% at 1% FPR
    ]}  # fmt: skip
    row = cells(bench.over_seeds(figures), "megan")
    assert row[:6] == ["megan", "0/1/2", "logan_wb (3)", "0.540 / 0.560 / 0.520",
                       "0.540 ± 0.020", "1 of 3"]  # fmt: skip
    assert row[9] == "0.440 ± 0.020"  # the best samples-only attack: gen_lra's 0.44 / 0.46 / 0.42
    assert row[10] == "80.0 ± 10.0" and row[13] == "101 ± 1"


def test_matched_quality_and_privacy_use_the_gans_best_fid_and_the_seeds_at_chance(bench) -> None:  # noqa: ANN001
    figures = {"stage": "methods", "settings": [
        run("gan", 0, 0.95, (0.93, 0.97), 0.6, 80.0),
        run("gan", 1, 0.96, (0.94, 0.98), 0.6, 100.0),
        run("megan", 0, 0.54, (0.49, 0.59), 0.01, 99.0),   # FID under 1.25 x 80 = 100, at chance
        run("megan", 1, 0.58, (0.53, 0.63), 0.01, 101.0),  # over the bar, not at chance
        run("dpgan", 0, 0.51, (0.46, 0.56), 0.0, None),    # no FID: in neither
    ]}  # fmt: skip
    text = bench.matched(figures)
    assert "FID ≤ 100.0" in text
    assert cells(text, "gan")[1:] == ["0.955 ± 0.007 (2 of 2)", "– (0 of 2)"]
    assert cells(text, "megan")[1:] == ["0.540 (1 of 2)", "99.0 (1 of 2)"]
    assert cells(text, "dpgan")[1:] == ["– (0 of 1)", "– (0 of 1)"]


def test_the_tables_of_the_methods_stage_are_the_md_and_a_plot_of_the_runs_with_an_fid(
    bench, tmp_path  # noqa: ANN001
) -> None:
    runs = [run("gan", 0, 0.95, (0.93, 0.97), 0.6, 80.0),
            run("dpgan", 0, 0.51, (0.46, 0.56), 0.0, None)]
    bench.write_tables(tmp_path / "strong_audit_methods", {"stage": "methods", "settings": runs})
    text = (tmp_path / "strong_audit_methods.md").read_text()
    assert text.index("Each setting over its seeds") < text.index("Matched quality")
    assert (tmp_path / "strong_audit_methods.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.setting for p in bench.methods_points(runs)] == ["gan"]  # dpgan: no FID


def shadowed(run_: dict, auc: float, tpr: float) -> dict:
    """`run_` audited with every attack: a shadow attack (lira_fbb) at `auc` on top."""
    extra = {**run_["rows"][0], "attack": "lira_fbb", "auc": auc,
             "auc_ci": [auc - 0.05, auc + 0.05], "tpr_at_1pct_fpr": tpr, "eps_lb": 1.5}
    return {**run_, "rows": [*run_["rows"], extra], "attacks": "all",
            "shadows": {"count": 16, "mode": "online", "steps": 4000, "reused": False,
                        "seconds": 900.0}}  # fmt: skip


def test_tables_over_seeds_compare_the_attacks_every_run_has(bench) -> None:  # noqa: ANN001
    from audit_rows import shadow_attack  # beside the script, on the path the fixture sets

    import ganguard.attacks as attacks

    assert bench.COMPARABLE[:5] == attacks.DEFAULT_ATTACKS
    assert not any(shadow_attack(a) for a in bench.COMPARABLE)
    plain = [run("megan", 0, 0.54, (0.49, 0.59), 0.01, 70.0),
             run("megan", 1, 0.56, (0.51, 0.61), 0.01, 80.0)]
    with_lira = [shadowed(plain[0], 0.70, 0.2), plain[1]]  # seed 0's shadows find members
    for text in (bench.over_seeds, bench.matched):
        assert text({"stage": "methods", "settings": with_lira}) == \
            text({"stage": "methods", "settings": plain})  # fmt: skip
    assert [p.auc for p in bench.methods_points(with_lira)] == [0.54, 0.56]


def test_the_shadow_table_sets_the_best_of_every_attack_beside_the_comparable_best(bench) -> None:  # noqa: ANN001
    figures = {"stage": "methods", "settings": [
        shadowed(run("megan", 0, 0.54, (0.49, 0.59), 0.01, 70.0), 0.70, 0.2),
        run("megan", 1, 0.56, (0.51, 0.61), 0.01, 80.0),  # no shadows: not in the table
    ]}  # fmt: skip
    text = bench.with_shadows(figures, bench.COMPARABLE)
    assert len([line for line in text.splitlines() if line.startswith("| megan")]) == 1
    assert cells(text, "megan") == [
        "megan", "0", "`logan_wb` 0.540 [0.490, 0.590], TPR 0.010", "yes",
        "`lira_fbb` 0.700 [0.650, 0.750], TPR 0.200", "`lira_fbb` 0.700 [0.650, 0.750], TPR 0.200",
        "no", "16 online"]  # fmt: skip
    rest = {"stage": "methods", "settings": figures["settings"][1:]}
    assert bench.with_shadows(rest, bench.COMPARABLE) == ""
    assert "none yet" not in bench.markdown(figures)
