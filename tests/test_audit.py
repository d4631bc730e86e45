"""`ganguard audit` and `ganguard.audit`: run directories, samples-only audits, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ganguard
from ganguard.attacks import ATTACKS, DEFAULT_ATTACKS
from ganguard.errors import GanguardError

FAST = {"logan_bb": {"steps": 20}, "ganleaks_wb": {"iterations": 5, "restarts": 1},
        "ganleaks_wb_cal": {"iterations": 5, "restarts": 1}}  # fmt: skip


def test_audit_of_a_run_writes_json_and_plots(gan_run_copy: Path) -> None:
    import time

    import matplotlib.image
    import torch
    from sklearn.metrics import roc_auc_score

    from ganguard.audit import candidates
    from ganguard.data import load_run_data
    from ganguard.runs import load_run

    started = time.perf_counter()
    result = ganguard.audit(gan_run_copy, k=500, settings=FAST)
    wall = time.perf_counter() - started
    assert list(result.attacks) == list(DEFAULT_ATTACKS)
    assert result.n_members == result.n_nonmembers == 64
    saved = json.loads((gan_run_copy / "audit.json").read_text())
    assert saved == json.loads(json.dumps(result.to_dict()))
    for name, entry in saved["attacks"].items():
        m = entry["metrics"]
        for key in ("tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr", "balanced_accuracy",
                    "top_n_precision", "top_n_chance", "advantage", "bhattacharyya"):  # fmt: skip
            assert key in m, (name, key)
        assert m["tpr_at_0.1pct_fpr"] is None  # 64 non-members cannot resolve 0.1% FPR
        assert isinstance(entry["settings"], dict)
    # the attacks' times are measured inside the audit, so together they fit in its wall time
    assert 0 < sum(e["seconds"] for e in saved["attacks"].values()) < wall
    assert saved["attacks"]["ganleaks_fbb"]["settings"]["k_used"] == 500  # the k samples given
    # logan_wb's AUC is that of the discriminator's logits on the same candidates
    run = load_run(gan_run_copy)
    members, nonmembers = candidates(run, load_run_data(run.config.data), None, 0)
    logits = run.method.score(torch.from_numpy(np.concatenate([members, nonmembers]))).numpy()
    want = roc_auc_score(np.r_[np.ones(64), np.zeros(64)], logits)
    assert saved["attacks"]["logan_wb"]["metrics"]["auc"] == pytest.approx(want)
    # the ROC figure has two panels of 4.8 in at 100 dpi; the histograms one panel per attack
    assert matplotlib.image.imread(gan_run_copy / "audit_roc.png").shape[:2] == (480, 1100)
    histograms = matplotlib.image.imread(gan_run_copy / "audit_scores.png")
    assert histograms.shape[:2] == (2 * 340, 3 * 420)  # 5 attacks: 2 rows of 3 panels


def test_all_attacks_include_white_box_and_calibrated(gan_run_copy: Path) -> None:
    result = ganguard.audit(gan_run_copy, attacks="all", k=300, settings=FAST, plots=False)
    assert set(result.attacks) == set(ATTACKS)
    # the reference GAN is trained once and cached in the run directory
    assert (gan_run_copy / "reference_model" / "checkpoints").is_dir()


def _npz(path: Path, x: np.ndarray) -> Path:
    np.savez(path, x=x.astype(np.float32))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Member / non-member / reference / sample files cut from digits; samples = the members."""
    from ganguard.data import load_dataset

    x = load_dataset("digits").x
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    members, nonmembers, reference = x[order[:200]], x[order[200:400]], x[order[400:900]]
    return {
        "members": _npz(tmp_path / "m.npz", members),
        "nonmembers": _npz(tmp_path / "h.npz", nonmembers),
        "reference": _npz(tmp_path / "r.npz", reference),
        "samples": _npz(tmp_path / "s.npz", np.tile(members, (5, 1, 1, 1))),
    }


def test_samples_only_audit_on_a_copying_generator(files, run_cli, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    code, stdout, err = run_cli(
        "audit", "--samples", files["samples"], "--members", files["members"],
        "--nonmembers", files["nonmembers"], "--reference", files["reference"], "--out", out,
    )  # fmt: skip
    assert code == 0, err
    saved = json.loads(out.read_text())
    # only the samples-only attacks run: no discriminator or generator was given
    assert set(saved["attacks"]) == {"logan_bb", "ganleaks_fbb", "montecarlo", "domias"}
    assert saved["attacks"]["ganleaks_fbb"]["metrics"]["auc"] >= 0.99
    assert "logan_wb" in saved["skipped"]
    assert "ganleaks_fbb" in stdout
    import matplotlib.image

    assert matplotlib.image.imread(tmp_path / "audit_roc.png").shape[:2] == (480, 1100)


def test_named_white_box_attack_on_samples_is_an_error(files, expect_cli_error, tmp_path) -> None:
    line = expect_cli_error(
        "audit", "--samples", files["samples"], "--members", files["members"],
        "--nonmembers", files["nonmembers"], "--attacks", "logan_wb", "--out", tmp_path / "a.json",
    )  # fmt: skip
    assert "logan_wb" in line and "discriminator" in line


@pytest.mark.parametrize(
    "case, needle",
    [
        ("shape", "shape"),
        ("empty", "empty"),
        ("nan", "NaN"),
        ("needs_reference", "reference"),
        ("unknown_attack", "unknown attack"),
        ("missing_file", "nothere"),
        ("members_twice", "200 of its 200 records are also in --members"),
    ],
)
def test_bad_inputs_give_one_line_and_exit_2(
    case: str, needle: str, files, expect_cli_error, tmp_path: Path
) -> None:
    args = {k: files[k] for k in ("samples", "members", "nonmembers")}
    attacks = "default"
    if case == "shape":
        args["samples"] = _npz(tmp_path / "wide.npz", np.zeros((10, 1, 8, 9)))
    elif case == "empty":
        args["members"] = _npz(tmp_path / "empty.npz", np.zeros((0, 1, 8, 8)))
    elif case == "nan":
        bad = np.zeros((10, 1, 8, 8))
        bad[3, 0, 2, 2] = np.nan
        args["nonmembers"] = _npz(tmp_path / "nan.npz", bad)
    elif case == "needs_reference":
        attacks = "domias"
    elif case == "unknown_attack":
        attacks = "ganleaks_fbb,telepathy"
    elif case == "missing_file":
        args["members"] = tmp_path / "nothere.npz"
    elif case == "members_twice":  # the wrong file given twice
        args["nonmembers"] = args["members"]
    out = tmp_path / "audit.json"
    argv = ["audit", "--attacks", attacks, "--out", out]
    for k, v in args.items():
        argv += [f"--{k}", v]
    line = expect_cli_error(*argv)
    assert needle in line
    assert not out.exists()  # nothing written


def test_audit_of_a_folder_that_is_not_a_run(expect_cli_error, tmp_path: Path) -> None:
    assert "not a run directory" in expect_cli_error("audit", tmp_path)


def test_api_refuses_a_run_and_samples_together(gan_run_copy: Path, files) -> None:
    with pytest.raises(GanguardError):
        ganguard.audit(gan_run_copy, samples=files["samples"])



def test_the_reference_gan_is_a_run_directory_that_resumes(
    gan_run_copy: Path, tmp_path: Path
) -> None:
    """The calibrated attacks' reference GAN trains through the one training loop, into
    RUN_DIR/reference_model/: killed halfway, the next audit finishes it, bit for bit."""
    import torch

    from ganguard.audit import reference_method
    from ganguard.data import load_run_data
    from ganguard.runs import load_run
    from ganguard.train import array_data, train

    run = load_run(gan_run_copy)
    reference = load_run_data(run.config.data).x[run.split.reference]
    whole = reference_method(run, reference)
    cache = gan_run_copy / "reference_model"
    assert (cache / "config.yaml").is_file() and (cache / "records.json").is_file()
    config = load_run(cache).config
    assert config.method.name == "gan" and config.train.steps == run.config.train.steps

    # an interrupted reference GAN: the same config stopped at half its steps
    other = tmp_path / "other"
    shutil.copytree(gan_run_copy, other, ignore=shutil.ignore_patterns("reference_model"))
    half = config.to_dict()
    half["train"]["steps"] //= 2
    train(half, other / "reference_model", data=array_data(reference))
    resumed = reference_method(load_run(other), reference)
    for (name, a), b in zip(whole.generator.state_dict().items(),
                            resumed.generator.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), name
    # a finished one is reused, not trained again
    before = (cache / "metrics.jsonl").stat().st_mtime_ns
    reference_method(run, reference)
    assert (cache / "metrics.jsonl").stat().st_mtime_ns == before
