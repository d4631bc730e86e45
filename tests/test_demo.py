"""The demo's plumbing, on a few steps (its real timing and numbers are in the README)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import pytest

import ganguard.demo as demo
from ganguard.attacks import DEFAULT_ATTACKS
from ganguard.errors import GanguardError
from ganguard.evaluate import UtilityResult


@pytest.fixture
def tiny_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        demo,
        "FAST",
        ["train.steps=12", "train.log_every=6", "data.n_members=64", "data.n_holdout=64",
         "data.n_reference=256", "model.g_width=16", "model.d_width=16", "train.progress=false"],
    )  # fmt: skip
    # a lighter audit: fewer generated samples and a shorter attacker GAN
    monkeypatch.setattr(demo, "FAST_AUDIT", {"k": 2000, "settings": {"logan_bb": {"steps": 50}}})


def test_demo_configs_are_a_megan_and_its_gan_twin() -> None:
    configs = demo.demo_configs()
    assert [c.method.name for c in configs.values()] == ["gan", "megan"]
    gan, megan = configs["GAN"].to_dict(), configs["MEGAN"].to_dict()
    assert {k: v for k, v in gan.items() if k != "method"} == {
        k: v for k, v in megan.items() if k != "method"
    }
    assert configs["MEGAN"].data.name == "mnist-5k"


def test_fast_demo_trains_both_and_prints_one_table(
    tiny_demo: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    rows = demo.run_demo(out=tmp_path / "demo", fast=True)
    assert [r.name for r in rows] == ["GAN", "MEGAN"]
    out = capsys.readouterr().out
    table: dict[str, list[str]] = {}  # first word of a line -> the rest (AUC lines come first)
    for line in out.splitlines():
        if line.strip():
            table.setdefault(line.split()[0], line.split()[1:])
    for i, r in enumerate(rows):
        run_dir = tmp_path / "demo" / r.name.lower()
        assert r.steps == 12 and set(r.audit.attacks) == set(DEFAULT_ATTACKS)
        # what the table prints is what the run directory holds
        assert json.loads((run_dir / "audit.json").read_text()) == json.loads(
            json.dumps(r.audit.to_dict()))
        assert UtilityResult.load(run_dir / "utility.json") == r.utility
        for name in DEFAULT_ATTACKS:  # the AUC lines, then the TPR lines
            auc = f"{r.audit.attacks[name].metrics['auc']:.3f}"
            assert table[name][i] == auc, name
        assert matplotlib.image.imread(run_dir / "samples.png").shape[:2] == (233, 233)
    assert table["steps"] == ["12", "12"]
    assert "overfitting O" in out and "TPR at 1% FPR" in out
    page = (tmp_path / "demo" / "report.html").read_text()
    assert "1. gan: gan" in page and "2. megan: megan λ=50" in page and "report:" in out

    # a second demo reuses the finished runs instead of refusing or retraining them
    again = demo.run_demo(out=tmp_path / "demo", fast=True)
    auc = lambda rs: [(r.steps, r.audit.attacks["logan_wb"].metrics["auc"]) for r in rs]  # noqa: E731
    assert auc(again) == auc(rows)

    # runs made with other settings (an older ganguard's defaults) are named, and left as they are
    audit_before = (tmp_path / "demo" / "gan" / "audit.json").read_bytes()
    monkeypatch.setattr(demo, "FAST", [*demo.FAST, "model.d_width=8"])
    with pytest.raises(GanguardError, match=r"demo.gan holds a demo run made with other settings "
                                            r"\(model.d_width\): delete that folder or pass --out"):
        demo.run_demo(out=tmp_path / "demo", fast=True)
    assert (tmp_path / "demo" / "gan" / "audit.json").read_bytes() == audit_before
