"""benchmarks/privacy_utility.yaml: every family and setting is well formed and expands into runs
whose configs validate, so a clean clone can rerun any slice of the committed table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from ganguard.config import config_from_dict, load_config
from ganguard.data import dataset_names
from ganguard.errors import GanguardError
from ganguard.options import MEGANOptions, MethodOptions, option_defaults
from ganguard.sweep import config_columns

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a benchmark file must not have any."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
        repeated = {k for k in keys if keys.count(k) > 1}
        assert not repeated, f"line {node.start_mark.line + 1}: repeated keys {repeated}"
        return super().construct_mapping(node, deep=deep)


BENCHMARK = "privacy_utility"  # the `bench` fixture (tests/conftest.py) imports it


def test_the_file_has_no_repeated_keys() -> None:
    yaml.load((BENCHMARKS / "privacy_utility.yaml").read_text(), Loader=_UniqueKeyLoader)


def test_every_family_maps_setting_names_to_config_changes(bench: ModuleType) -> None:
    spec = bench.load_spec()
    for family, settings in spec["families"].items():
        assert isinstance(settings, dict) and settings, family
        for name, changes in settings.items():
            assert isinstance(changes, dict) and "method" in changes, (family, name)
    names = list(bench.family_of(spec))
    assert len(names) == len(set(names)), "a setting name appears in two families"


def test_the_screen_expands_every_setting_into_a_valid_run(bench: ModuleType) -> None:
    spec = bench.load_spec()
    sweep = bench.stage_sweep(spec, "screen", None, None)  # validates every run's config
    assert {r.variant for r in sweep.runs} == set(bench.family_of(spec))
    public = {r.variant: r.config["data"].get("reference_data") for r in sweep.runs}
    assert public["megan-public-r20000"] == spec["public_reference"]["mnist-5k"]
    assert public["megan-fano-l50-sn-r3000-features"] is None


def test_public_collections_are_registered_data_sets(bench: ModuleType) -> None:
    spec = bench.load_spec()
    for data_name, public in spec["public_reference"].items():
        assert data_name in dataset_names()
        assert public is None or public in dataset_names()
    changes = {"method": {"name": "megan"}, "data.reference_data": "public"}
    assert "data.reference_data" not in bench.with_public_reference(changes, "fashion-mnist", spec)


def test_a_clean_clone_confirms_with_the_committed_choice(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench, "WORK", tmp_path)  # no screening runs here
    spec = bench.load_spec()
    sweep = bench.stage_sweep(spec, "confirm", ["megan", "megan-public"], [0],
                              ["mnist-5k-n2000"])  # fmt: skip
    data = {r.variant: r.config["data"] for r in sweep.runs}
    chosen = json.loads((BENCHMARKS / "results" / "privacy_utility_screen.json").read_text())
    chosen = chosen["chosen"]
    assert data[f"mnist-5k-n2000_{chosen['megan']}"]["n_reference"] == 1500  # what is left
    public = data[f"mnist-5k-n2000_{chosen['megan-public']}"]
    assert public["reference_data"] == "mnist-train" and public["n_reference"] == 20000
    assert {d["n_members"] for d in data.values()} == {2000}
    with pytest.raises(SystemExit, match="no screened setting of nope"):
        bench.stage_sweep(spec, "confirm", ["nope"], [0], None)
    # a family of one setting needs no screen: the confirm stage takes that setting
    spec["families"]["new-family"] = {"new-setting": {"method": {"name": "megan", "lam": 7}}}
    (run,) = bench.stage_sweep(spec, "confirm", ["new-family"], [0], ["mnist-5k-n500"]).runs
    assert run.name == "mnist-5k-n500_new-setting_seed0" and run.config["method"]["lam"] == 7


def test_the_committed_choice_has_one_setting_of_each_family(bench: ModuleType) -> None:
    """A setting moved into another family (say, by a bad edit) would change what the confirm
    stage runs for both."""
    spec = bench.load_spec()
    chosen = json.loads((BENCHMARKS / "results" / "privacy_utility_screen.json").read_text())
    chosen = chosen["chosen"]
    several = {f for f, settings in spec["families"].items() if len(settings) > 1}
    assert several <= set(chosen) <= set(spec["families"])  # one setting: chosen without a screen
    assert {f: bench.family_of(spec)[s] for f, s in chosen.items()} == {f: f for f in chosen}


def test_runs_are_ordered_by_the_file_whatever_ran_last(bench: ModuleType) -> None:
    spec = bench.load_spec()
    data = list(spec["confirm"]["data"])
    settings = list(bench.family_of(spec))
    confirm = [f"{data[1]}_{settings[0]}_seed0", f"{data[0]}_{settings[1]}_seed1",
               f"{data[0]}_{settings[1]}_seed0", f"{data[0]}_{settings[0]}_seed2",
               f"{data[0]}_{settings[0]}_seed10"]  # fmt: skip
    key = bench.run_order(spec)
    assert sorted(confirm, key=key) == [confirm[3], confirm[4], confirm[2], confirm[1], confirm[0]]
    screen = [f"{settings[2]}_seed0", f"{settings[0]}_seed1", f"{settings[0]}_seed0"]
    assert sorted(screen, key=key) == [screen[2], screen[1], screen[0]]


def test_the_private_reference_config_is_the_benchmarked_setting(bench: ModuleType) -> None:
    """configs/mnist-5k-mimgan-cutout.yaml is what the README's results say it is: the confirm
    stage's MIMGAN with cutout at mnist-5k n = 500, seed 0, key for key."""
    spec = bench.load_spec()
    chosen = json.loads((BENCHMARKS / "results" / "privacy_utility_screen.json").read_text())
    setting = chosen["chosen"]["mimgan-cutout"]
    changes = bench.confirm_changes(spec, "mnist-5k-n500", setting)
    (run,) = bench.variants_sweep(spec, "confirm", {setting: changes}, [0]).runs
    ready = load_config(BENCHMARKS.parent / "configs" / "mnist-5k-mimgan-cutout.yaml")
    assert ready == config_from_dict(run.config)


def _committed_rows(stage: str) -> list[dict[str, str]]:
    text = (BENCHMARKS / "results" / f"privacy_utility_{stage}.csv").read_text()
    return list(csv.DictReader(text.splitlines()))


def test_the_file_pins_every_option_of_every_method(bench: ModuleType) -> None:
    """So that a method's default may change without changing what a setting means."""
    spec = bench.load_spec()
    for name, pinned in spec["method_options"].items():
        assert set(pinned) == set(option_defaults(name)) - {"name"}, name
    used = {changes["method"]["name"] for fam in spec["families"].values()
            for changes in fam.values()}  # fmt: skip
    assert used <= set(spec["method_options"])


def test_a_changed_default_does_not_change_a_setting(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = bench.load_spec()
    setting = "megan-fano-l20-sn-r3000-features"
    before = config_from_dict(bench.screen_changes(spec, setting)).method

    class NewDefaults(MEGANOptions):  # as if a later ganguard changed MEGAN's defaults
        critic_hidden: int = 7
        critic_batch: int | None = 64

    monkeypatch.setitem(MethodOptions.registry, "megan", NewDefaults)
    assert config_from_dict({"method": {"name": "megan"}}).method.critic_hidden == 7
    after = config_from_dict(bench.screen_changes(spec, setting)).method
    assert after.model_dump() == before.model_dump()


# method options added after the committed rows ran, with the value that does what they did
ADDED_SINCE = ("clipping=per_sample", "d_steps=1")


@pytest.mark.parametrize("stage", ["screen", "confirm"])
def test_every_committed_row_is_what_the_file_gives_today(bench: ModuleType, stage: str) -> None:
    """The file still trains what each committed row measured, option for option (`options`
    lists every method option a run had). `weights` is left out: it says which options differ
    from today's defaults, so it moves when a default does."""
    spec = bench.load_spec()
    rows = _committed_rows(stage)
    assert rows
    stale = []
    for row in rows:
        group = row["group"]
        if stage == "screen":
            changes = bench.screen_changes(spec, group)
        else:
            changes = bench.confirm_changes(spec, *group.split("_", 1))
        (run,) = bench.variants_sweep(spec, stage, {group: changes}, [int(row["seed"])]).runs
        given = {k: str(v) for k, v in config_columns(config_from_dict(run.config)).items()
                 if k != "weights"}  # fmt: skip
        for option in ADDED_SINCE:  # options added after the rows ran, pinned to what they did
            if option.split("=")[0] + "=" not in row["options"]:  # (a row from since has it)
                given["options"] = given["options"].replace(f" {option}", "")
        stale += [f"{row['run']}: {k} {row[k]!r} -> {v!r}" for k, v in given.items()
                  if v != row[k]]  # fmt: skip
    assert not stale, "\n".join(stale)


def test_a_refused_sweep_is_a_one_line_error_and_exit_2(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def refuse(*args: object, **kwargs: object) -> None:
        raise GanguardError("sweep: runs/x was run with another method.lam than the file gives")

    monkeypatch.setattr(bench, "WORK", tmp_path / "work")
    monkeypatch.setattr(bench, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(bench, "run_sweep", refuse)
    assert bench.main(["--stage", "screen", "--families", "gan"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: sweep: runs/x was run with another")
    assert not (tmp_path / "results").exists()  # nothing written


@pytest.mark.parametrize("stage", ["screen", "confirm"])
def test_a_slice_rerun_keeps_the_committed_rows_it_does_not_replace(
    bench: ModuleType, stage: str
) -> None:
    """Rebuilding the tables from a slice (a clean clone has no other runs) writes every committed
    row back cell for cell, except `weights`, which follows today's defaults; a run of the slice
    replaces the committed row of the same name."""
    spec = bench.load_spec()
    committed = _committed_rows(stage)
    merged = bench.with_committed(stage, spec, [])
    assert [r["name"] for r in merged] == [r["run"] for r in committed]
    text = bench.rows_csv([r["row"] for r in merged])
    rebuilt = list(csv.DictReader(text.splitlines()))
    assert [list(r) for r in rebuilt] == [list(r) for r in committed]
    changed = [(r["run"], k) for r, c in zip(rebuilt, committed, strict=True) for k in r
               if k != "weights" and r[k] != c[k]]  # fmt: skip
    assert not changed
    first = committed[0]
    fresh = {"status": "ok", "name": first["run"], "variant": first["variant"],
             "row": {**first, "fid": 1.0}, "curve": []}  # fmt: skip
    merged = bench.with_committed(stage, spec, [fresh])
    assert len(merged) == len(committed) and merged[0] is fresh


def test_committed_weights_follow_today_s_defaults(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a default moves, a committed row that ran the old value says so in `weights`."""
    spec = bench.load_spec()
    row = "mnist-5k-n500_megan-public-r20000-cb256_seed0"
    assert {r["name"]: r["row"] for r in bench.with_committed("confirm", spec, [])}[row][
        "weights"] is None  # it ran MEGAN's defaults

    class NewDefaults(MEGANOptions):  # as if a later ganguard changed MEGAN's critic_hidden
        critic_hidden: int = 7

    monkeypatch.setitem(MethodOptions.registry, "megan", NewDefaults)
    rows = {r["name"]: r["row"] for r in bench.with_committed("confirm", spec, [])}
    assert rows[row]["weights"] == "critic_hidden=32"


def test_rebuilding_the_tables_from_a_slice_keeps_every_committed_figure(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--stage tables` with no runs here (a clean clone, or a slice's runs only) writes the
    committed rows, matched entries and choice back as they were."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(BENCHMARKS / "results", results)
    (tmp_path / "work" / "confirm" / "runs").mkdir(parents=True)
    monkeypatch.setattr(bench, "RESULTS", results)
    monkeypatch.setattr(bench, "WORK", tmp_path / "work")
    bench.write_results("confirm", bench.load_spec(), "test", None)
    before = json.loads((BENCHMARKS / "results" / "privacy_utility_confirm.json").read_text())
    after = json.loads((results / "privacy_utility_confirm.json").read_text())
    assert after["matched"] == before["matched"] and after["runs_ok"] == before["runs_ok"]
    assert after["invocations"] == before["invocations"]
    committed = _committed_rows("confirm")
    rebuilt = list(csv.DictReader((results / "privacy_utility_confirm.csv").read_text()
                                  .splitlines()))  # fmt: skip
    assert [r["run"] for r in rebuilt] == [r["run"] for r in committed]
    assert all(a["fid"] == b["fid"] and a["best_auc"] == b["best_auc"]
               for a, b in zip(rebuilt, committed, strict=True))  # fmt: skip


def _attack(attack: str, auc: float, lo: float, hi: float, tpr: float,
            eps_lb: float = 0.0) -> dict[str, object]:  # fmt: skip
    return {"attack": attack, "auc": auc, "auc_ci": [lo, hi], "tpr_at_1pct_fpr": tpr,
            "tpr_at_0.1pct_fpr": None, "eps_lb": eps_lb}  # fmt: skip


def test_the_strong_table_counts_the_best_of_every_attack_as_the_goal_does(
    bench: ModuleType,
) -> None:
    """The best of the default and strong attacks leads; at chance needs the interval to hold 0.5
    and TPR@1%FPR <= 0.02, so a strong attack that finds 3% of the members at 1% FPR counts."""
    spec = bench.load_spec()
    setting = "megan-fano-l50-sn-r3000-features-cb256"
    run = lambda seed, default, strong: {  # noqa: E731
        "data": "mnist-5k-n500", "family": "megan-cb256", "setting": setting, "seed": seed,
        "default": default, "strong": strong}  # fmt: skip
    runs = {
        f"mnist-5k-n500_{setting}_seed2": run(2, [_attack("logan_wb", 0.51, 0.47, 0.55, 0.01)],
                                              [_attack("gen_lra", 0.50, 0.46, 0.54, 0.01)]),
        f"mnist-5k-n500_{setting}_seed0": run(
            0, [_attack("logan_wb", 0.56, 0.52, 0.59, 0.01)],
            [_attack("ganleaks_fbb_cal", 0.53, 0.49, 0.57, 0.03)]),
        f"mnist-5k-n500_{setting}_seed1": run(1, [_attack("domias", 0.51, 0.47, 0.55, 0.01)],
                                              [_attack("dcr_ratio", 0.52, 0.48, 0.56, 0.03)]),
    }  # fmt: skip
    text = bench.strong_markdown(runs, bench.run_order(spec))
    lines = text.splitlines()
    summary = next(line for line in lines if line.startswith("| mnist-5k-n500 |"))
    # best of all: 0.56, 0.52, 0.51; every attack at chance only in seed 2; 3% found at most
    assert "| 3 | 0.530 ± 0.026 | 1/3 | 1/3 | 0.017 ± 0.012 | 0.030 | 0.00 |" in summary
    assert summary.endswith("| `dcr_ratio`, `logan_wb` |")  # gen_lra led in no run
    per_run = [line for line in lines if line.startswith(f"| mnist-5k-n500_{setting}_seed")]
    assert [line.split(" | ")[0][-1] for line in per_run] == ["0", "1", "2"]  # the file's order
    assert [line.split(" | ")[4] for line in per_run] == ["no", "no", "yes"]
    assert [line.split(" | ")[5] for line in per_run] == ["no", "no", "yes"]
    assert "`logan_wb` 0.560 [0.520, 0.590], TPR 0.010" in per_run[0]
    # seed 1's best by AUC (dcr_ratio 0.52) is the one that finds 3%, seed 0's is not
    assert [line.split(" | ")[6] for line in per_run] == [
        "`ganleaks_fbb_cal` 0.030", "`dcr_ratio` 0.030", "`logan_wb` 0.010"]


def test_every_attack_at_chance_counts_a_weaker_attack_that_finds_members(
    bench: ModuleType,
) -> None:
    """The best attack by AUC is at chance, a weaker one finds 4.6% at 1% FPR: the goal's count
    says at chance, the stricter one does not, and the 4.6% is reported beside it."""
    spec = bench.load_spec()
    setting = "megan-public-r20000-cb256"
    runs = {f"mnist-5k-n500_{setting}_seed1": {
        "data": "mnist-5k-n500", "family": "megan-public", "setting": setting, "seed": 1,
        "default": [_attack("logan_bb", 0.524, 0.493, 0.559, 0.010)],
        "strong": [_attack("ganleaks_fbb_cal", 0.509, 0.475, 0.540, 0.046, eps_lb=0.37)]}}
    lines = bench.strong_markdown(runs, bench.run_order(spec)).splitlines()
    summary = next(line for line in lines if line.startswith("| mnist-5k-n500 |"))
    assert "| 1/1 | 0/1 | 0.010 | 0.046 | 0.37 |" in summary  # ε_lb of the weaker attack
    per_run = next(line for line in lines if line.startswith(f"| mnist-5k-n500_{setting}"))
    assert per_run.split(" | ")[4:7] == ["yes", "no", "`ganleaks_fbb_cal` 0.046"]


def test_the_strong_stage_on_a_clean_clone_names_what_is_not_run(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def written(*args: object) -> None:
        raise AssertionError("nothing was audited, so nothing may be written")

    monkeypatch.setattr(bench, "WORK", tmp_path / "work")  # no runs here
    monkeypatch.setattr(bench, "write_strong", written)
    assert bench.main(["--stage", "strong", "--families", "megan-cb256", "--data",
                       "mnist-5k-n500", "--seeds", "0"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "not run  mnist-5k-n500_megan-fano-l50-sn-r3000-features-cb256_seed0" in out


def test_a_refused_strong_audit_is_a_one_line_error_and_exit_2(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def refuse(*args: object, **kwargs: object) -> None:
        raise GanguardError("runs/x: the run has no reference records R")

    def written(*args: object) -> None:
        raise AssertionError("a refused audit writes nothing")

    monkeypatch.setattr(bench, "strong_audit", refuse)
    monkeypatch.setattr(bench, "write_strong", written)
    assert bench.main(["--stage", "strong", "--families", "megan-cb256"]) == 2
    err = capsys.readouterr().err
    assert err == "error: runs/x: the run has no reference records R\n"


def test_matched_quality_uses_one_bar_for_every_setting_of_a_data_set(bench: ModuleType) -> None:
    """The bar is 1.25 × the best GAN checkpoint of the data set, for settings whose curves
    predate the checkpoints' intervals too: those get matched quality against today's bar and
    no matched privacy (None), which the committed entry then supplies."""
    fam = {"gan-sn": "gan-sn", "old": "megan", "new": "megan"}

    def result(setting: str, seed: int, points: list[tuple[float, float, bool | None]]):
        curve = []
        for fid, auc, at_chance in points:
            p = {"step": len(curve) + 1, "fid": fid, "best_auc": auc}
            if at_chance is not None:
                p["best_auc_ci"] = [0.48, 0.52] if at_chance else [0.52, 0.58]
            curve.append(p)
        return {"status": "ok", "variant": f"mnist-5k-n500_{setting}", "curve": curve}

    results = [result("gan-sn", 0, [(60.0, 0.9, False), (40.0, 0.8, False)]),
               result("old", 0, [(52.0, 0.55, None), (48.0, 0.56, None)]),
               result("new", 0, [(70.0, 0.51, True), (49.0, 0.54, False)])]  # fmt: skip
    table = {m["setting"]: m for m in bench.matched(results, fam, ["mnist-5k-n500"])}
    assert {m["fid_bar"] for m in table.values()} == {50.0}
    assert table["old"]["auc_at_matched_quality"][0] == pytest.approx(0.56)  # FID 52 is above
    assert table["old"]["n_privacy"] is None and table["old"]["fid_at_matched_privacy"] is None
    assert table["new"]["auc_at_matched_quality"][0] == pytest.approx(0.54)
    assert table["new"]["fid_at_matched_privacy"][0] == pytest.approx(70.0)
    assert table["new"]["n_privacy"] == 1


def test_pre_training_takes_the_data_sets_public_collection_or_does_not_run(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train.pretrain_on: public` is mnist-train for mnist-5k; fashion-mnist has no public
    collection beside it, so there a family whose chosen setting pre-trains runs its best
    setting among those that do not (the screen's rule), and one with none of them is left out."""
    monkeypatch.setattr(bench, "WORK", tmp_path)
    spec = bench.load_spec()
    chosen = json.loads((BENCHMARKS / "results" / "privacy_utility_screen.json").read_text())
    chosen = chosen["chosen"]["dpgan-tuned-eps10"]
    assert spec["families"]["dpgan-tuned-eps10"][chosen]["train.pretrain_on"] == "public"
    families = ["dpgan-tuned-eps10", "dpgan-tuned-eps1", "megan-pre"]
    data = ["mnist-5k-n500", "fashion-mnist-n2000"]
    sweep = bench.stage_sweep(spec, "confirm", families, [0], data)
    pretrain = {r.variant: r.config["train"].get("pretrain_on") for r in sweep.runs}
    assert pretrain[f"mnist-5k-n500_{chosen}"] == "mnist-train"
    fashion = {v.split("_", 1)[1]: p for v, p in pretrain.items() if v.startswith("fashion")}
    assert set(fashion.values()) == {None} and len(fashion) == 2  # megan-pre: none runs there
    assert {bench.family_of(spec)[s] for s in fashion} == {"dpgan-tuned-eps10", "dpgan-tuned-eps1"}
    # the screen's rule on the family's runnable rows: none meets the bar, the lowest FID at chance
    rows = [r for r in bench.with_committed("screen", spec, [])
            if r["variant"] in spec["families"]["dpgan-tuned-eps10"]
            and bench.runs_on(spec, "fashion-mnist", r["variant"])]  # fmt: skip
    at_chance = [r["row"] for r in rows
                 if r["row"]["best_auc_lo"] <= 0.5 <= r["row"]["best_auc_hi"]]  # fmt: skip
    expected = min(at_chance, key=lambda r: r["fid"])["variant"]
    assert expected in fashion
    with pytest.raises(GanguardError, match="fashion-mnist has none"):
        bench.with_public_reference({"train.pretrain_on": "public"}, "fashion-mnist", spec)
