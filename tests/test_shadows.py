"""Shadow models: the plan of who trains on what, training through the executors into
RUN_DIR/shadows/, reuse by a later audit, resuming an interrupted set, refusing a set made for
something else, and the strong attack set end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ganguard.audit import audit
from ganguard.errors import GanguardError
from ganguard.runs import load_run
from ganguard.shadows import MANIFEST, SHADOW_DIR, plan, shadow_reference, shadow_set

FAST = {"logan_bb": {"steps": 20}}


def test_online_each_candidate_in_half_of_the_shadows_each_shadow_n_records() -> None:
    reference = np.arange(300, dtype=np.float32).reshape(300, 1)
    candidates = np.arange(300, 400, dtype=np.float32).reshape(100, 1)
    population, inclusion = plan(80, reference, candidates, 8, "online", seed=0)
    assert len(population) == 400 and inclusion.shape == (8, 400)
    assert (inclusion[:, 300:].sum(axis=0) == 4).all()  # exactly half
    assert (inclusion.sum(axis=1) == 80).all()  # the run's n each
    again = plan(80, reference, candidates, 8, "online", seed=0)[1]
    assert np.array_equal(again, inclusion) and not np.array_equal(
        plan(80, reference, candidates, 8, "online", seed=1)[1], inclusion)


def test_offline_shadows_train_on_r_alone_and_r_must_hold_them() -> None:
    reference = np.zeros((100, 1), np.float32)
    population, inclusion = plan(60, reference, np.ones((40, 1), np.float32), 4, "offline", 0)
    assert len(population) == 100 and (inclusion.sum(axis=1) == 60).all()
    with pytest.raises(GanguardError, match="R holds 100"):
        plan(120, reference, np.ones((40, 1), np.float32), 4, "offline", 0)


def test_a_shadow_s_r_is_the_records_of_r_it_does_not_train_on() -> None:
    reference = np.arange(50, dtype=np.float32).reshape(50, 1)
    candidates = np.arange(50, 90, dtype=np.float32).reshape(40, 1)
    population, inclusion = plan(30, reference, candidates, 4, "online", seed=0)
    for row in inclusion:
        own_r = shadow_reference(row, reference)
        trained = population[row]
        assert not set(own_r.ravel()) & set(trained.ravel())
        assert set(own_r.ravel()) | set(trained[trained < 50].ravel()) == set(range(50))


@pytest.mark.parametrize(("method", "options"), [
    ("gan", {}), ("megan", {"lam": 5.0}), ("mimgan", {"beta": 0.5}),
    ("dpgan", {"noise_multiplier": 1.0}), ("privgan", {}), ("pargan", {"k": 2}),
])  # fmt: skip
def test_every_method_s_shadows_train_with_its_recipe(
    method: str, options: dict, tiny_config: dict, tmp_path: Path
) -> None:
    from ganguard.train import train

    tiny_config["data"].update(n_members=32, n_holdout=32, n_reference=96)
    tiny_config["train"]["steps"] = 5
    tiny_config["method"] = {"name": method, **options}
    if method == "dpgan":
        tiny_config["model"]["spectral_norm"] = False
    train(tiny_config, tmp_path / "run")
    result = audit(tmp_path / "run", attacks="lira_fbb", k=200, shadows={"count": 2},
                   plots=False)  # fmt: skip
    assert result.shadows["count"] == 2 and result.shadows["steps"] == 5
    for i in range(2):
        assert load_run(tmp_path / "run" / SHADOW_DIR / f"shadow_{i:02d}").config.method.name \
            == method  # fmt: skip


@pytest.fixture
def shadow_run(tiny_config: dict, tmp_path: Path) -> Path:
    from ganguard.train import train

    tiny_config["data"].update(n_members=32, n_holdout=32, n_reference=96)
    train(tiny_config, tmp_path / "run")
    return tmp_path / "run"


def test_shadows_train_once_are_reused_and_resume(shadow_run: Path) -> None:
    settings = {"count": 4, "steps": 10}
    result = audit(shadow_run, attacks="strong", k=300, settings=FAST, shadows=settings,
                   plots=False)  # fmt: skip
    assert set(result.attacks) == {"dcr_ratio", "gen_lra", "lira_wb", "lira_fbb", "lira_domias"}
    assert result.shadows == {"count": 4, "mode": "online", "steps": 10, "reused": False,
                              "seconds": result.shadows["seconds"]}  # fmt: skip
    root = shadow_run / SHADOW_DIR
    manifest = json.loads((root / MANIFEST).read_text())
    assert manifest["count"] == 4 and len(manifest["inclusion"]) == 4
    for i in range(4):
        shadow = load_run(root / f"shadow_{i:02d}")
        assert shadow.step == 10 and shadow.config.seed == 1 + i
    # a later audit reuses them: nothing is trained again
    stamps = {p: p.stat().st_mtime_ns for p in root.glob("shadow_*/metrics.jsonl")}
    again = audit(shadow_run, attacks="lira_fbb", k=300, shadows=settings, plots=False)
    assert again.shadows["reused"] is True
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert again.attacks["lira_fbb"].metrics == result.attacks["lira_fbb"].metrics
    # an interrupted set: one shadow missing is trained, the others are kept
    shutil.rmtree(root / "shadow_02")
    resumed = audit(shadow_run, attacks="lira_fbb", k=300, shadows=settings, plots=False)
    assert (root / "shadow_02" / "config.yaml").exists()
    assert resumed.attacks["lira_fbb"].metrics["auc"] == result.attacks["lira_fbb"].metrics["auc"]


def test_a_shadow_set_made_for_something_else_is_refused(shadow_run: Path) -> None:
    audit(shadow_run, attacks="lira_fbb", k=300, shadows={"count": 2, "steps": 5}, plots=False)
    manifest = (shadow_run / SHADOW_DIR / MANIFEST).read_bytes()
    for other, why in [({"count": 2, "steps": 6}, "train.steps differs"),
                       ({"count": 3, "steps": 5}, "count differs"),
                       ({"count": 2, "steps": 5, "mode": "offline"}, "mode differs")]:  # fmt: skip
        with pytest.raises(GanguardError, match=why):
            audit(shadow_run, attacks="lira_fbb", k=300, shadows=other, plots=False)
    with pytest.raises(GanguardError, match="another audit seed"):
        audit(shadow_run, attacks="lira_fbb", k=300, seed=1, shadows={"count": 2, "steps": 5},
              plots=False)  # fmt: skip
    assert (shadow_run / SHADOW_DIR / MANIFEST).read_bytes() == manifest  # nothing rewritten


def test_shadows_in_two_local_processes_give_the_same_models(shadow_run: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    import torch

    from ganguard.audit import candidates
    from ganguard.data import load_run_data

    other = tmp_path / "other"
    shutil.copytree(shadow_run, other)
    run = load_run(shadow_run)
    ds = load_run_data(run.config.data)
    reference, pool = ds.x[run.split.reference], np.concatenate(candidates(run, ds, None, 0))
    one = shadow_set(run, reference, pool, 100, 0, {"count": 2, "steps": 5})
    two = shadow_set(load_run(other), reference, pool, 100, 0,
                     {"count": 2, "steps": 5, "workers": 2})  # fmt: skip
    for i in range(2):
        a, b = one.view(i), two.view(i)
        assert torch.equal(torch.from_numpy(a.samples), torch.from_numpy(b.samples))


@pytest.mark.parametrize(("argv", "needle"), [
    (["--attacks", "lira_fbb", "--shadows", "1"], "shadow setting count"),
    (["--attacks", "lira_fbb", "--shadow-steps", "0"], "shadow setting steps"),
])  # fmt: skip
def test_bad_shadow_settings_are_one_line(shadow_run: Path, expect_cli_error, argv, needle):
    assert needle in expect_cli_error("audit", shadow_run, *argv)
    assert not (shadow_run / SHADOW_DIR).exists()


def test_a_shadow_attack_on_samples_alone_names_what_is_missing(expect_cli_error, write_npz,
                                                               tmp_path: Path) -> None:  # fmt: skip
    s, m, h = (write_npz(f"{n}.npz", n=20, side=8, seed=i) for i, n in enumerate("smh"))
    line = expect_cli_error("audit", "--samples", s, "--members", m, "--nonmembers", h,
                            "--attacks", "lira_fbb", "--out", tmp_path / "a.json")  # fmt: skip
    assert "attack lira_fbb needs shadows" in line
    line = expect_cli_error("audit", "--samples", s, "--members", m, "--nonmembers", h,
                            "--attacks", "dcr_ratio", "--out", tmp_path / "a.json")  # fmt: skip
    assert "attack dcr_ratio needs reference" in line
    assert not (tmp_path / "a.json").exists()


def test_a_run_without_r_skips_the_strong_set_with_why(tiny_config: dict, tmp_path: Path) -> None:
    from ganguard.train import train

    tiny_config["data"]["n_reference"] = 0
    train(tiny_config, tmp_path / "run")
    result = audit(tmp_path / "run", attacks="strong", k=300, plots=False)
    assert result.attacks == {}
    assert result.skipped["lira_fbb"] == "needs shadows"
    assert "reference" in result.skipped["gen_lra"]
