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
from helpers import utility_result

from ganguard.audit import members_at_risk
from ganguard.errors import GanguardError
from ganguard.plotting import pyplot
from ganguard.report import write_report
from ganguard.report.curves import (
    TradeoffPoint,
    privacy_utility_figure,
    read_metrics,
    training_curves_figure,
)

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
    tstr = {"train_on_synthetic": 0.71, "train_on_real": 0.88, "n_train": 64, "n_test": 40}
    for name, utility in [("a", utility_result(12.5, 3.0)), ("b", utility_result(30.0, 3.0, tstr)),
                          ("c", None)]:  # fmt: skip
        shutil.copytree(audited_run, tmp_path / name)
        if utility is not None:
            (tmp_path / name / "utility.json").write_text(json.dumps(utility.to_dict()))
        runs.append(tmp_path / name)
    page = write_report(runs, tmp_path / "out" / "report.html").read_text()  # creates out/
    _self_contained(page)
    assert 'id="privacy-utility"' in page and 'alt="privacy–utility plot"' in page
    assert "Not plotted: c (no utility.json)" in page
    assert "<td>fid</td><td>12.500</td><td>3.000</td>" in page
    assert "floor (reference vs holdout)" in page
    assert "<td>precision</td><td>0.600</td><td>0.900</td>" in page
    assert "<td>inception_fid</td>" not in page  # null on both sides
    assert "<td>note</td><td>Inception-v3 FID not requested</td>" in page
    assert "<td>64 generated samples (train on synthetic)</td><td>0.710</td>" in page
    assert page.count("train on synthetic") == 1  # only run b is conditional
    assert "ganguard evaluate" in page  # for run c
    for i in (1, 2, 3):
        assert f'id="run-{i}-at-risk"' in page
    md = (tmp_path / "out" / "report.md").read_text()
    assert md.count("| gan |") == 3 and "| 12.500 |" in md and "| 30.000 |" in md


def test_a_utility_json_of_another_layout_is_one_clear_error(gan_run_copy: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    """The report reads what `ganguard evaluate` writes; it does not guess at other layouts."""
    (gan_run_copy / "utility.json").write_text(json.dumps({"fid": 12.5, "kid": 0.02}))
    with pytest.raises(GanguardError, match="utility.json is not a ganguard utility evaluation"):
        write_report([gan_run_copy], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_the_privacy_utility_plot_has_a_panel_per_data_set_and_a_marker_per_setting() -> None:
    points = [TradeoffPoint("gan", "mnist-5k, n = 500", fid, auc)
              for fid, auc in ((40.0, 0.80), (50.0, 0.90), (60.0, 0.85))]  # fmt: skip
    points += [TradeoffPoint("megan λ=50", "mnist-5k, n = 500", 45.0, 0.52),
               TradeoffPoint("gan", "fashion-mnist, n = 2000", 25.0, 0.6)]  # fmt: skip
    fig = privacy_utility_figure(points)
    a, b = fig.axes
    assert (a.get_title(), b.get_title()) == ("mnist-5k, n = 500", "fashion-mnist, n = 2000")
    assert a.get_xscale() == b.get_xscale() == "log"
    gan = next(c for c in a.containers if c.get_label() == "gan")
    x, y = gan.lines[0].get_data()  # one marker at the mean over the three seeds
    assert list(x) == pytest.approx([50.0]) and list(y) == pytest.approx([0.85])
    yerr = gan.lines[2][1].get_segments()[0][:, 1]  # ± one std of the AUCs
    assert yerr == pytest.approx([0.80, 0.90])
    assert [t.get_text() for t in a.texts] == []  # no text label on any point
    chance = [line for line in a.get_lines() if line.get_label() == "attacker at chance"]
    assert chance and list(chance[0].get_ydata()) == [0.5, 0.5]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["attacker at chance", "gan", "megan λ=50"]  # each setting once
    pyplot().close(fig)


def test_figures_drawn_with_one_order_style_a_setting_alike() -> None:
    """With `order`, a setting keeps its colour and marker in a figure that lacks the settings
    before it; without, it takes the first style free."""
    def style(points: list, order: tuple = ()) -> tuple:
        fig = privacy_utility_figure(points, order=order)
        line = next(c for c in fig.axes[0].containers if c.get_label() == "megan").lines[0]
        got = (line.get_color(), line.get_marker())
        pyplot().close(fig)
        return got

    both = [TradeoffPoint("gan", "d, n = 1", 40.0, 0.8),
            TradeoffPoint("megan", "d, n = 1", 45.0, 0.5)]
    alone = both[1:]
    assert style(alone, ("gan", "megan")) == style(both, ("gan", "megan")) == style(both)
    assert style(alone) != style(both)


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


def test_members_at_risk_are_ranked_by_the_calibrated_score(gan_run) -> None:
    """With R and no shadow models: the DCR ratio, ln(distance to R / distance to the samples),
    not the raw distance, which favours the simplest records."""
    from ganguard.data import load_dataset

    run = gan_run[1]
    ds = load_dataset(run.config.data.name, run.config.data.path)
    risk = members_at_risk(run, ds, n_samples=300, top=5, seed=1)
    assert risk.attack == "dcr_ratio"
    flat = lambda x: torch.as_tensor(x).flatten(1).double()  # noqa: E731
    samples = run.method.sample(300, torch.Generator().manual_seed(1))
    members = ds.x[run.split.members]
    d_syn = torch.cdist(flat(members), flat(samples)).min(1).values.numpy()
    d_ref = torch.cdist(flat(members), flat(ds.x[run.split.reference])).min(1).values.numpy()
    brute = np.log(d_ref + 1e-12) - np.log(d_syn + 1e-12)
    assert [r.score for r in risk.top] == pytest.approx(np.sort(brute)[::-1][:5], rel=1e-4)
    for r in risk.top:
        i = run.split.members.tolist().index(r.index)
        assert np.array_equal(r.member, ds.x[r.index])
        assert (r.sample_distance, r.reference_distance) == pytest.approx((d_syn[i], d_ref[i]),
                                                                           rel=1e-4)  # fmt: skip
        gap = ((ds.x[r.index] - r.sample) ** 2).sum() ** 0.5  # the shown sample is the nearest
        assert float(gap) == pytest.approx(r.sample_distance, rel=1e-4)
    assert risk.median_members == pytest.approx(np.median(brute), rel=1e-4)
    assert risk.median_holdout is not None


def test_without_r_members_at_risk_fall_back_to_the_raw_distance(tiny_config, tmp_path) -> None:
    from ganguard.data import load_dataset
    from ganguard.train import train

    tiny_config["data"]["n_reference"] = 0
    run = train(tiny_config, tmp_path / "run")
    risk = members_at_risk(run, load_dataset("digits"), n_samples=200, top=3, seed=0)
    assert risk.attack == "ganleaks_fbb"
    assert all(r.reference_distance is None for r in risk.top)
    assert [-r.score for r in risk.top] == pytest.approx([r.sample_distance**2 for r in risk.top],
                                                         rel=1e-4)  # fmt: skip


def test_training_curves_from_a_partial_log(tmp_path: Path) -> None:
    lines = [{"step": s, "loss_d": 1.0, "loss_g": 0.7, "O": 0.1, "O_null": 0.05, "epsilon": s / 10}
             for s in (5, 10)]  # fmt: skip
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"step": 15, "loss')
    assert read_metrics(path) == lines  # the half-written last line is skipped
    fig = training_curves_figure(lines)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    # panels for what the log holds: losses, O and O_null, and DP-GAN's ε
    assert [ax.get_title() for ax in shown] == ["losses", "Bhattacharyya overfitting", "privacy"]
    eps = shown[2].get_lines()[0]
    assert list(eps.get_xdata()) == [5, 10] and list(eps.get_ydata()) == [0.5, 1.0]
    pyplot().close(fig)
    assert training_curves_figure([{"step": 1}]) is None


def test_a_tables_utility_is_plotted_on_a_linear_axis_in_a_panel_of_its_own() -> None:
    """A table's runs have no FID: their panel puts the train-on-synthetic AUC (higher is
    better) on a linear axis; an image data set beside it keeps its log FID axis."""
    from ganguard.report.curves import UTILITY_AXES, utility_axis

    tstr = utility_axis({"fid": None, "tstr_auc": 0.8, "column_shapes": 0.9})
    assert tstr is UTILITY_AXES[1] and utility_axis({"fid": None, "column_shapes": 0.9}).key \
        == "column_shapes" and utility_axis({"fid": None}) is None  # fmt: skip
    points = [TradeoffPoint("gan", "adult, n = 1000", u, a, tstr)
              for u, a in ((0.80, 0.62), (0.84, 0.64))]  # fmt: skip
    points.append(TradeoffPoint("gan", "mnist-5k, n = 500", 40.0, 0.7))
    fig = privacy_utility_figure(points)
    table, image = fig.axes
    assert (table.get_xscale(), image.get_xscale()) == ("linear", "log")
    assert table.get_xlabel() == "train-on-synthetic ROC AUC (higher is better)"
    assert image.get_xlabel() == "FID, log scale (lower is better)"
    gan = next(c for c in table.containers if c.get_label() == "gan")
    x, y = gan.lines[0].get_data()
    assert list(x) == pytest.approx([0.82]) and list(y) == pytest.approx([0.63])
    xerr = gan.lines[2][0].get_segments()[0][:, 0]  # ± one std, not clipped as on a log axis
    assert xerr == pytest.approx([0.82 - 0.0283, 0.82 + 0.0283], abs=1e-3)
    pyplot().close(fig)
