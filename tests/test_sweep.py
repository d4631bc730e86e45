"""`ganguard sweep`: expansion of a grid into runs, the local and Ray executors, skipping finished
runs, recording failed ones, and the aggregated tables."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.image
import pytest
import yaml
from conftest import TINY

from ganguard.errors import GanguardError
from ganguard.sweep import collect, expand, load_sweep, run_sweep, sweep_settings

FAST = {"curve_points": 2, "audit_k": 300, "kid_subsets": 3,
        "attacks": "logan_wb,ganleaks_fbb,montecarlo"}  # fmt: skip


def _sweep_file(tmp_path: Path, **changes) -> Path:  # noqa: ANN003
    raw = {
        "base": TINY,
        "variants": {"gan": {"method": {"name": "gan"}},
                     "megan": {"method": {"name": "megan", "lam": 2.0}}},
        "grid": {"seed": [0, 1]},
        **FAST,
        **changes,
    }  # fmt: skip
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_expand_crosses_variants_with_the_grid() -> None:
    settings = sweep_settings({
        "base": TINY,
        "overrides": {"train.steps": 30},
        "variants": {"gan": {"method": {"name": "gan"}},
                     "megan": {"method": {"name": "megan", "lam": 5.0, "mode": "entropy"}}},
        "grid": {"data.n_members": [64, 100], "seed": [0, 1, 2]},
    })  # fmt: skip
    specs = expand(settings)
    assert len(specs) == 2 * 2 * 3
    assert specs[0].name == "gan_n_members64_seed0"
    assert specs[-1].name == "megan_n_members100_seed2"
    megan = specs[-1].config
    assert megan["method"]["lam"] == 5.0 and megan["method"]["mode"] == "entropy"
    assert megan["data"]["n_members"] == 100 and megan["seed"] == 2
    assert megan["train"]["steps"] == 30 and megan["model"]["d_width"] == 16
    # a mapping replaces its section: no MEGAN option leaks into the GAN's method section
    assert specs[0].config["method"] == {"name": "gan"}
    # runs that differ only in seed form one group, averaged in the table
    assert {s.group for s in specs if s.variant == "gan"} == {"gan_n_members64", "gan_n_members100"}


def test_sweep_files_with_errors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="sweep key colour: unknown key"):
        sweep_settings({"colour": 1})
    with pytest.raises(GanguardError, match="sweep run gan_seed0: config key method.lam"):
        expand(sweep_settings({"base": TINY, "variants": {"gan": {"method.lam": 1}},
                               "grid": {"seed": [0]}}))  # fmt: skip
    with pytest.raises(GanguardError, match="share the directory"):
        expand(sweep_settings({"base": TINY, "variants": {"a b": {}, "ab": {}}}))
    with pytest.raises(GanguardError, match="sweep file not found"):
        load_sweep(tmp_path / "missing.yaml")


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory):
    """A 2 × 2 sweep plus a variant that cannot run, run one at a time."""
    root = tmp_path_factory.mktemp("sweep")
    path = _sweep_file(root, variants={
        "gan": {"method": {"name": "gan"}},
        "megan": {"method": {"name": "megan", "lam": 2.0}},
        "broken": {"method": {"name": "pargan", "k": 100}},  # more parts than members
    })  # fmt: skip
    sweep = load_sweep(path, root / "out")
    return sweep, run_sweep(sweep)


def test_every_run_is_trained_audited_and_evaluated(finished_sweep) -> None:
    sweep, results = finished_sweep
    ok = [r for r in results if r["status"] == "ok"]
    assert [r["name"] for r in ok] == ["gan_seed0", "gan_seed1", "megan_seed0", "megan_seed1"]
    for r in ok:
        run_dir = sweep.path / "runs" / r["name"]
        for name in ("audit.json", "utility.json", "metrics.jsonl", "samples.png"):
            assert (run_dir / name).is_file(), name
        # SPEC §9: the checkpoint half-way is audited with the fast attacks and evaluated
        assert [p["step"] for p in r["curve"]] == [10, 20]
        assert (run_dir / "curve" / "audit_0000010.json").is_file()
        assert set(r["curve"][0]["auc"]) == {"logan_wb", "ganleaks_fbb", "montecarlo"}
        audit = json.loads((run_dir / "audit.json").read_text())
        row = r["row"]
        aucs = {n: a["metrics"]["auc"] for n, a in audit["attacks"].items()}
        assert row["best_auc"] == max(aucs.values()) and row["auc_logan_wb"] == aucs["logan_wb"]
        utility = json.loads((run_dir / "utility.json").read_text())
        assert row["fid"] == utility["generated"]["fid"]
    assert ok[2]["row"]["weights"] == "lam=2.0" and ok[0]["row"]["weights"] == ""


def test_a_failed_run_is_recorded_and_the_others_go_on(finished_sweep) -> None:
    sweep, results = finished_sweep
    failed = [r for r in results if r["status"] != "ok"]
    assert [r["name"] for r in failed] == ["broken_seed0", "broken_seed1"]
    assert "100 parts of S need at least 100 members" in failed[0]["error"]
    md = (sweep.path / "results.md").read_text()
    assert "## Failed runs" in md and "broken_seed0" in md


def test_results_tables_and_plot(finished_sweep) -> None:
    sweep, results = finished_sweep
    with open(sweep.path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["run"] for r in rows] == ["gan_seed0", "gan_seed1", "megan_seed0", "megan_seed1"]
    for column in ("method", "weights", "n", "seed", "auc_logan_wb", "tpr1_ganleaks_fbb",
                   "best_auc", "fid", "kid", "precision", "recall", "epsilon", "train_seconds"):
        assert column in rows[0], column  # fmt: skip
    md = (sweep.path / "results.md").read_text()
    assert "## Mean ± std over seeds" in md
    gan = [r["row"] for r in results if r.get("group") == "gan" and r["status"] == "ok"]
    mean = (gan[0]["best_auc"] + gan[1]["best_auc"]) / 2
    assert f"| gan | gan | – | 64 | 2 | {mean:.3f} ± " in md
    # one panel (digits, n = 64): its height, at 110 dpi, is the 4.2 in figure's plus the legend
    image = matplotlib.image.imread(sweep.path / "privacy_utility.png")
    assert 4.2 * 110 < image.shape[0] < 8 * 110 and image.shape[1] > 4 * 110


def test_collect_orders_by_the_last_invocation_or_by_a_given_key(tmp_path: Path) -> None:
    for name in ("a_seed1", "b_seed0", "a_seed0"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "result.json").write_text(json.dumps({"name": name}))
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": [{"name": "b_seed0"}]}))
    names = lambda results: [r["name"] for r in results]  # noqa: E731
    assert names(collect(tmp_path)) == ["b_seed0", "a_seed0", "a_seed1"]  # then by name
    by_seed = lambda name: (name[-1], name)  # noqa: E731
    assert names(collect(tmp_path, by_seed)) == ["a_seed0", "b_seed0", "a_seed1"]


def test_a_rerun_skips_finished_runs_and_retries_failed_ones(finished_sweep) -> None:
    sweep, _ = finished_sweep
    result = sweep.path / "runs" / "gan_seed0" / "result.json"
    before = result.stat().st_mtime_ns
    seen = []
    results = run_sweep(sweep, report=seen.append)
    assert result.stat().st_mtime_ns == before
    skipped = sorted(r["name"] for r in seen if r.get("skipped"))
    assert skipped == ["gan_seed0", "gan_seed1", "megan_seed0", "megan_seed1"]
    retried = [r["name"] for r in seen if not r.get("skipped")]
    assert retried == ["broken_seed0", "broken_seed1"]
    assert len(results) == 6


def test_a_finished_run_the_sweep_file_no_longer_describes_is_refused(finished_sweep) -> None:
    sweep, _ = finished_sweep
    edited = load_sweep(_sweep_file(sweep.path.parent / "edited", variants={
        "gan": {"method": {"name": "gan"}},
        "megan": {"method": {"name": "megan", "lam": 3.0}},  # was 2.0 when it ran
    }), sweep.path)  # fmt: skip
    before = {p: p.read_bytes() for p in (sweep.path / "sweep.json",
                                          sweep.path / "runs" / "megan_seed0" / "result.json")}
    with pytest.raises(GanguardError, match="megan_seed0 was run with another method.lam than "
                                            "the sweep file now gives"):  # fmt: skip
        run_sweep(edited)
    assert {p: p.read_bytes() for p in before} == before  # nothing rewritten


def test_an_interrupted_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    from ganguard.train import train

    sweep = load_sweep(_sweep_file(tmp_path, variants={"gan": {}}, grid={"seed": [0]}),
                       tmp_path / "out")  # fmt: skip
    spec = sweep.runs[0]
    half = {**spec.config, "train": {**spec.config["train"], "steps": 10,
                                     "checkpoint_every": 10, "keep_checkpoints": 0,
                                     "progress": False}}  # fmt: skip
    run_dir = sweep.path / "runs" / spec.name
    train(half, run_dir)  # as if the sweep had been killed half-way
    (result,) = run_sweep(sweep)
    assert result["status"] == "ok" and [p["step"] for p in result["curve"]] == [10, 20]
    straight = load_sweep(_sweep_file(tmp_path, variants={"gan": {}}, grid={"seed": [0]}),
                          tmp_path / "straight")  # fmt: skip
    (other,) = run_sweep(straight)
    assert result["row"]["best_auc"] == other["row"]["best_auc"]
    assert result["row"]["fid"] == other["row"]["fid"]


def test_workers_run_in_parallel_processes_with_the_same_results(finished_sweep, tmp_path):
    sweep, results = finished_sweep
    parallel = load_sweep(_sweep_file(tmp_path), tmp_path / "parallel")
    got = run_sweep(parallel, workers=2)
    by_name = {r["name"]: r["row"] for r in results if r["status"] == "ok"}
    for r in got:
        assert r["status"] == "ok"
        expected = by_name[r["name"]]
        assert r["row"]["fid"] == pytest.approx(expected["fid"], rel=1e-3)
        assert r["row"]["best_auc"] == pytest.approx(expected["best_auc"], abs=0.02)


def test_the_ray_executor_on_a_local_ray_instance(finished_sweep, tmp_path):
    pytest.importorskip("ray")
    sweep, results = finished_sweep
    on_ray = load_sweep(_sweep_file(tmp_path, cpus_per_run=1), tmp_path / "ray")
    got = run_sweep(on_ray, executor="ray")
    assert sorted(r["name"] for r in got) == ["gan_seed0", "gan_seed1", "megan_seed0",
                                              "megan_seed1"]  # fmt: skip
    by_name = {r["name"]: r["row"] for r in results if r["status"] == "ok"}
    for r in got:
        assert r["status"] == "ok"
        run_dir = on_ray.path / "runs" / r["name"]  # gathered back from the worker
        assert (run_dir / "audit.json").is_file() and (run_dir / "checkpoints").is_dir()
        assert r["row"]["fid"] == pytest.approx(by_name[r["name"]]["fid"], rel=1e-3)
    assert "megan_seed1" in (on_ray.path / "results.md").read_text()


def test_sweep_cli(tmp_path: Path, run_cli, expect_cli_error) -> None:
    path = _sweep_file(tmp_path, variants={"gan": {}}, grid={"seed": [0]})
    code, out, err = run_cli("sweep", path, "--out", tmp_path / "cli", "--dry-run")
    assert code == 0, err
    assert "1 runs" in out and "gan_seed0" in out and not (tmp_path / "cli" / "runs").exists()
    code, out, err = run_cli("sweep", path, "--out", tmp_path / "cli")
    assert code == 0, err
    assert "done gan_seed0: best AUC" in out and "1 runs ok, 0 failed" in out
    assert "unknown key" in expect_cli_error("sweep", _sweep_file(tmp_path / "bad", colour=1))
    assert "--workers" in expect_cli_error("sweep", path, "--workers", 0)


def test_weights_name_the_options_that_differ_from_the_defaults() -> None:
    from ganguard.config import config_from_dict
    from ganguard.sweep.pipeline import weights as _weights

    # DP-GAN's options cannot be built without a noise source: defaults come from the fields
    dp = config_from_dict({"model": {"spectral_norm": False},
                           "method": {"name": "dpgan", "target_epsilon": 10}})  # fmt: skip
    assert _weights(dp) == "target_epsilon=10.0"
    megan = config_from_dict({"method": {"name": "megan", "lam": 5, "critic_input": "logit"}})
    assert _weights(megan) == "lam=5.0 critic_input=logit"
    assert _weights(config_from_dict({"method": {"name": "gan"}})) == ""


def test_the_mean_table_gives_each_figure_its_spread_over_seeds_not_a_like_named_figure() -> None:
    """KID comes with `kid_std`, the estimate's own standard deviation: the KID column's ± is
    the KIDs' spread over the seeds, and `kid_std`'s column is that figure's mean ± its spread."""
    from ganguard.sweep.tables import group_means, results_markdown

    def row(seed: int, kid: float, kid_std: float) -> dict[str, object]:
        return {"run": f"gan_seed{seed}", "group": "gan", "variant": "gan", "method": "gan",
                "weights": None, "n": 64, "dataset": "digits", "seed": seed,
                "best_attack": "logan_wb", "best_auc": 0.6, "best_auc_lo": 0.55,
                "best_auc_hi": 0.65, "best_tpr_at_1pct_fpr": 0.01, "auc_logan_wb": 0.6,
                "fid": 40.0, "kid": kid, "kid_std": kid_std, "epsilon": None,
                "train_seconds": 10.0}  # fmt: skip

    rows = [row(0, 0.010, 0.002), row(1, 0.030, 0.004)]
    (means,) = group_means(rows)
    assert means["kid"] == pytest.approx(0.02) and means["kid_std"] == pytest.approx(0.003)
    assert means["sd"]["kid"] == pytest.approx(0.0141421, rel=1e-5)  # stdev of 0.01 and 0.03
    assert means["sd"]["kid_std"] == pytest.approx(0.0014142, rel=1e-4)
    md = results_markdown(rows, [])
    assert "| 0.0200 ± 0.0141 | 0.0030 ± 0.0014 |" in md
