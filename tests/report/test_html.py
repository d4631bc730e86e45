"""The HTML privacy report: every section, self-contained, a Markdown summary beside it, and one
clear error (with nothing written) for bad input."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ganguard.errors import GanguardError
from ganguard.report.curves import read_metrics, training_curves_png
from ganguard.report.html import members_at_risk, pick_fid, utility_sections, write_report

PNG = b"\x89PNG\r\n\x1a\n"
RUN_SECTIONS = ("config", "samples", "curves", "audit", "utility", "at-risk")


@pytest.fixture(scope="module")
def audited_run(gan_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny GAN run with a real (small) audit.json."""
    from ganguard.audit import audit

    run = tmp_path_factory.mktemp("audited") / "gan"
    shutil.copytree(gan_run[0], run)
    audit(run, k=500, settings={"logan_bb": {"steps": 20}})
    return run


def _images(page: str) -> list[bytes]:
    """Every <img>'s bytes; fails unless each one is a base64 PNG data: URI."""
    srcs = re.findall(r"<img[^>]*\ssrc=\"([^\"]*)\"", page)
    assert len(srcs) == page.count("<img")
    out = []
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        out.append(base64.b64decode(src.split(",", 1)[1], validate=True))
        assert out[-1].startswith(PNG)
    return out


def _self_contained(page: str) -> None:
    for ref in ("http://", "https://", "file://", "<script", "<link", "url("):
        assert ref not in page, ref


def test_report_of_one_run_without_audit(gan_run_copy: Path, tmp_path: Path) -> None:
    out = write_report([gan_run_copy], tmp_path / "report.html")
    assert out == tmp_path / "report.html"
    page = out.read_text()
    _self_contained(page)
    for section in RUN_SECTIONS:
        assert f'id="run-1-{section}"' in page
    assert 'id="privacy-utility"' not in page  # one run: no trade-off plot
    assert f"ganguard audit {gan_run_copy}" in page  # how to make the missing files
    assert f"ganguard evaluate {gan_run_copy}" in page
    # samples, curves, and 8 (member, nearest sample) pairs
    assert len(_images(page)) == 2 + 2 * 8
    assert "digits" in page and "spectral_norm=True" in page
    md = (tmp_path / "report.md").read_text()
    assert str(out.resolve()) in md
    assert re.search(r"^\| run_copy \| gan \| – \| 64 \| 20 \| \(no audit\) \|", md, re.M)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md", "run_copy"]


def test_report_with_audit(audited_run: Path, tmp_path: Path) -> None:
    audit = json.loads((audited_run / "audit.json").read_text())
    page = write_report([audited_run], tmp_path / "r.html").read_text()
    _self_contained(page)
    for name, a in audit["attacks"].items():
        assert f"<td>{name}</td><td>{a['metrics']['auc']:.3f}</td>" in page
    assert "ganguard audit" not in page
    assert len(_images(page)) == 3 + 2 * 8  # + the ROC curves
    best = max(audit["attacks"], key=lambda n: audit["attacks"][n]["metrics"]["auc"])
    row = next(ln for ln in (tmp_path / "r.md").read_text().splitlines() if "| gan |" in ln)
    assert f"| {best} | {audit['attacks'][best]['metrics']['auc']:.3f} [" in row


def test_report_of_several_runs_has_privacy_utility_plot(audited_run: Path, tmp_path: Path) -> None:
    runs = []
    floor = {"fid": 3.0, "kid": 0.001}
    evaluate_layout = {  # as `ganguard evaluate` writes it: sections beside settings
        "n_generated": 64,
        "floor_source": "reference",
        "feature_net": {"test_accuracy": 0.9},
        "generated": {"fid": 30.0, "precision": 0.6, "inception_fid": None},
        "floor": {**floor, "precision": 0.9, "inception_fid": None},
        "classification": {"train_on_synthetic": 0.71, "train_on_real": 0.88, "n_train": 64,
                           "n_test": 40},
    }  # fmt: skip
    for name, utility in [
        ("a", {"fid": 12.5, "kid": 0.02, "feature_net": "cnn", "floor": floor}),
        ("b", evaluate_layout),
        ("c", None),
    ]:
        shutil.copytree(audited_run, tmp_path / name)
        if utility is not None:
            (tmp_path / name / "utility.json").write_text(json.dumps(utility))
        runs.append(tmp_path / name)
    page = write_report(runs, tmp_path / "out" / "report.html").read_text()  # creates out/
    _self_contained(page)
    assert 'id="privacy-utility"' in page and 'alt="privacy–utility plot"' in page
    assert "Not plotted: c (no utility.json with an FID)" in page
    assert "<td>fid</td><td>12.500</td><td>3.000</td>" in page
    assert "<td>feature_net</td><td>cnn</td>" in page  # non-metric fields are shown as details
    assert "floor (reference vs holdout)" in page and "<td>feature_net.test_accuracy</td>" in page
    assert "<td>precision</td><td>0.600</td><td>0.900</td>" in page
    assert "<td>inception_fid</td>" not in page  # null on both sides
    assert "<td>64 generated samples (train on synthetic)</td><td>0.710</td>" in page
    assert page.count("train on synthetic") == 1  # only run b is conditional
    assert "ganguard evaluate" in page  # for run c
    for i in (1, 2, 3):
        assert f'id="run-{i}-at-risk"' in page
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.count("| gan |") == 3 and "| 12.500 |" in md and "| 30.000 |" in md


def test_bad_input_writes_nothing(gan_run_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    out.write_text("old report")
    not_a_run = tmp_path / "empty"
    not_a_run.mkdir()
    for dirs in ([not_a_run], [gan_run_copy, tmp_path / "missing"], []):
        with pytest.raises(GanguardError) as err:
            write_report(dirs, out)
        assert "\n" not in str(err.value) and str(err.value)
    (gan_run_copy / "audit.json").write_text("{not json")
    with pytest.raises(GanguardError, match="audit.json"):
        write_report([gan_run_copy], out)
    with pytest.raises(GanguardError, match="Markdown"):
        write_report([gan_run_copy], tmp_path / "report.md")
    assert out.read_text() == "old report"
    assert not (tmp_path / "report.md").exists()


def test_members_at_risk_are_the_nearest_members(gan_run) -> None:
    from ganguard.data import load_dataset

    run = gan_run[1]
    ds = load_dataset(run.config.data.name, run.config.data.path)
    rows, medians = members_at_risk(run, ds, n_samples=300, top=5, seed=1)
    samples = run.method.sample(300, torch.Generator().manual_seed(1)).flatten(1)
    members = torch.from_numpy(ds.x[run.split.members]).flatten(1)
    brute = torch.cdist(members.double(), samples.double()).pow(2).min(1).values.numpy()
    assert [r.distance for r in rows] == pytest.approx(np.sort(brute)[:5], rel=1e-4)
    for r in rows:
        assert np.array_equal(r.member, ds.x[r.index]) and r.index in run.split.members
        nearest = ((samples.numpy() - r.sample.reshape(1, -1)) ** 2).sum(1).min()
        assert nearest == pytest.approx(0, abs=1e-6)  # the shown sample is one of the draws
    assert medians["members"] == pytest.approx(np.median(brute), rel=1e-4)
    assert "holdout" in medians


def test_utility_json_is_read_defensively() -> None:
    flat = {"fid": 1.0, "kid": 0.1, "note": "x", "floor": {"fid": 0.5}}
    assert utility_sections(flat) == ({"fid": 1.0, "kid": 0.1}, {"fid": 0.5}, {"note": "x"})
    # the layout of `ganguard evaluate`: sections beside settings
    nested = {"generated": {"classifier": {"fid": 2.0}}, "n": 5, "net": {"acc": 0.9}}
    gen, floor, details = utility_sections(nested)
    assert gen == {"classifier.fid": 2.0} and floor is None
    assert details == {"n": 5, "net.acc": 0.9}
    assert pick_fid({"inception.fid": 9.0, "classifier.fid": 2.0}) == ("classifier.fid", 2.0)
    assert pick_fid({"fid_inception": 9.0, "fid": 4.0}) == ("fid", 4.0)
    assert pick_fid({"kid": 0.1, "fid": "n/a"}) is None


def test_training_curves_from_a_partial_log(tmp_path: Path) -> None:
    lines = [{"step": s, "loss_d": 1.0, "loss_g": 0.7, "O": 0.1, "O_null": 0.05, "epsilon": s / 10}
             for s in (5, 10)]  # fmt: skip
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 15, "loss')
    assert read_metrics(path) == lines  # the half-written last line is skipped
    assert training_curves_png(lines).startswith(PNG)
    assert training_curves_png([{"step": 1}]) is None
