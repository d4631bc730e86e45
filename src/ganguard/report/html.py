"""The privacy report: one self-contained HTML file for one or several runs, and a Markdown summary.

Every image is a PNG embedded as a data: URI and the style sheet is inline, so the file can be
mailed or archived and opened anywhere, with no network and no script. Per run: the config, the
samples, the training curves, the audit (table and ROC curves), the utility table and the members
most at risk (computed here: the members nearest to the generator's samples). Across runs: the
privacy–utility plot. Everything is computed before anything is written, so bad input leaves no
report (and no earlier one overwritten) behind.
"""

from __future__ import annotations

import base64
import datetime
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganguard.errors import GanguardError
from ganguard.report.curves import (
    TradeoffPoint,
    privacy_utility_png,
    read_metrics,
    record_png,
    roc_png,
    training_curves_png,
)
from ganguard.runs import read_json, write_atomic

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The main weight of each method: (option, symbol) pairs, first present wins.
WEIGHTS: dict[str, list[tuple[str, str]]] = {
    "megan": [("lam", "λ")],
    "mimgan": [("beta", "β")],
    "dpgan": [("target_epsilon", "ε"), ("noise_multiplier", "σ")],
    "privgan": [("privacy_ratio", "ratio")],
    "pargan": [("k", "k")],
}

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; }
section.run { border-top: 1px solid #bbb; margin-top: 2.5em; }
table { border-collapse: collapse; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child, table.kv td { text-align: left; }
td:has(> img) { text-align: center; }
th { background: #f0f0f0; }
img { max-width: 100%; }
img.record { width: 72px; image-rendering: pixelated; border: 1px solid #999; }
img.grid { width: 360px; image-rendering: pixelated; }
p.note { color: #7a4a00; background: #fff6e5; padding: 0.4em 0.7em;
         border-left: 3px solid #e0a030; }
code { background: #f4f4f4; padding: 0 0.2em; }
.path { color: #666; font-size: 0.9em; }
"""


# -- what the report shows of one run ----------------------------------------------------------
@dataclass
class AtRisk:
    index: int  # index of the member in the data set
    member: np.ndarray
    sample: np.ndarray
    distance: float  # squared L2 distance to the nearest generated sample


@dataclass
class RunSummary:
    path: Path
    config: Any
    step: int
    samples_png: bytes | None
    metrics: list[dict[str, Any]] | None
    audit: dict[str, Any] | None
    utility: dict[str, Any] | None
    at_risk: list[AtRisk]
    distance_medians: dict[str, float] = field(default_factory=dict)
    n_samples: int = 0

    @property
    def name(self) -> str:
        return self.path.name or str(self.path)

    @property
    def method(self) -> str:
        return self.config.method.name

    @property
    def weight(self) -> str:
        """The method's main weight, e.g. 'λ=5' ('' for the GAN)."""
        options = self.config.method
        for key, symbol in WEIGHTS.get(self.method, []):
            value = getattr(options, key, None)
            if value is not None:
                return f"{symbol}={value:g}" if isinstance(value, float) else f"{symbol}={value}"
        return ""

    @property
    def label(self) -> str:
        return f"{self.method} {self.weight}".strip()

    def best_attack(self) -> tuple[str, dict[str, Any]] | None:
        attacks = (self.audit or {}).get("attacks", {})
        scored = [(n, a["metrics"]) for n, a in attacks.items() if _num(a["metrics"].get("auc"))]
        return max(scored, key=lambda t: t[1]["auc"], default=None)

    def fid(self) -> tuple[str, float] | None:
        return pick_fid(utility_sections(self.utility)[0]) if self.utility else None


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _read_optional_json(path: Path, what: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    data = read_json(path)
    if not isinstance(data, dict):
        raise GanguardError(f"{path} is not a JSON object; is it a ganguard {what}?")
    return data


def _check_audit(audit: dict[str, Any], path: Path) -> dict[str, Any]:
    attacks = audit.get("attacks")
    ok = isinstance(attacks, dict) and all(
        isinstance(a, dict) and isinstance(a.get("metrics"), dict) for a in attacks.values()
    )
    if not ok:
        raise GanguardError(f"{path} has no attacks table; rerun `ganguard audit {path.parent}`")
    return audit


# -- utility.json, read defensively: its producer may add sections -----------------------------
def _flatten(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif _num(v) or isinstance(v, (str, bool)) or v is None:
            out[key] = v
    return out


def utility_sections(
    utility: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """(generated, floor, details) as flat {dotted key: value}. `ganguard evaluate` writes
    `generated` and `floor` sections beside its settings; a flat file's numbers count as the
    generated figures. Details are the rest (settings, sizes, notes)."""
    floor = _flatten(utility["floor"]) if isinstance(utility.get("floor"), dict) else None
    if isinstance(utility.get("generated"), dict):
        generated = _flatten(utility["generated"])
        details = _flatten({k: v for k, v in utility.items() if k not in ("generated", "floor")})
    else:
        flat = _flatten({k: v for k, v in utility.items() if k != "floor"})
        generated = {k: v for k, v in flat.items() if _num(v)}
        details = {k: v for k, v in flat.items() if not _num(v)}
    return generated, floor, details


def pick_fid(generated: dict[str, Any]) -> tuple[str, float] | None:
    """The FID to plot: `fid` itself, else a domain (non-Inception) FID, else any FID."""
    fids = {k: v for k, v in generated.items() if "fid" in k.lower() and _num(v)}
    last = lambda k: k.lower().rsplit(".", 1)[-1]  # noqa: E731
    for ok in (
        lambda k: k.lower() == "fid",
        lambda k: last(k) == "fid" and "inception" not in k.lower(),
        lambda k: "inception" not in k.lower(),
        lambda k: True,
    ):
        for k, v in fids.items():
            if ok(k):
                return k, float(v)
    return None


# -- computing a run's summary -----------------------------------------------------------------
def members_at_risk(run: Any, ds: Any, n_samples: int, top: int, seed: int) -> tuple:
    """The members nearest to the generator's samples, i.e. with the highest GAN-Leaks score
    −min_j ‖v − x̃_j‖²; also the median nearest-sample distance of members and holdout records, so a
    reader can tell whether the top members stand out from non-members."""
    from ganguard.distances import nearest

    samples = run.method.sample(n_samples, torch.Generator().manual_seed(seed))
    members = torch.from_numpy(ds.x[run.split.members])
    dist, index = nearest(members, samples)
    dist, index = dist.numpy(), index.numpy()
    order = np.argsort(dist, kind="stable")[:top]
    rows = [
        AtRisk(int(run.split.members[i]), ds.x[run.split.members[i]],
               samples[index[i]].numpy(), float(dist[i]))
        for i in order
    ]  # fmt: skip
    medians = {"members": float(np.median(dist))}
    if len(run.split.holdout):
        hold, _ = nearest(torch.from_numpy(ds.x[run.split.holdout]), samples)
        medians["holdout"] = float(np.median(hold.numpy()))
    return rows, medians


def summarize_run(
    run_dir: Path, n_samples: int = 5000, top: int = 8, seed: int = 0, datasets: dict | None = None
) -> RunSummary:
    """Everything the report shows of one run (raises GanguardError on a bad run directory)."""
    from ganguard.data import load_run_data
    from ganguard.data.split import check_split
    from ganguard.plotting import save_sample_grid
    from ganguard.runs import load_run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanguardError(f"{run_dir} is not a run directory (no such folder)")
    run = load_run(run_dir)
    d = run.config.data
    datasets = {} if datasets is None else datasets  # one load per data set for several runs
    # R appended from another data set depends on the split's size and seed too
    key = (d.name, d.path) if d.reference_data is None else d.model_dump_json()
    if key not in datasets:
        datasets[key] = load_run_data(d)
    ds = datasets[key]
    check_split(run.split, ds)

    samples_png = None
    grid = run_dir / "samples.png"
    if grid.is_file() and grid.read_bytes()[:8] == PNG_MAGIC:
        samples_png = grid.read_bytes()
    else:  # drawn the way training draws it, so the report still shows the samples
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            save_sample_grid(run.method, Path(tmp) / "samples.png", seed=run.config.seed)
            samples_png = (Path(tmp) / "samples.png").read_bytes()

    metrics_path = run_dir / "metrics.jsonl"
    metrics = read_metrics(metrics_path) if metrics_path.exists() else None
    audit = _read_optional_json(run_dir / "audit.json", "audit")
    if audit is not None:
        _check_audit(audit, run_dir / "audit.json")
    utility = _read_optional_json(run_dir / "utility.json", "utility evaluation")
    at_risk, medians = members_at_risk(run, ds, n_samples, top, seed)
    return RunSummary(run_dir, run.config, run.step, samples_png, metrics, audit, utility,
                      at_risk, medians, n_samples)  # fmt: skip


# -- HTML --------------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<img{cls_attr} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    return f"{v:.{digits}g}" if abs(v) >= 1000 or (v != 0 and abs(v) < 1e-3) else f"{v:.{digits}f}"


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table from already escaped cells."""
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    cls_attr = f' class="{cls}"' if cls else ""
    return f"<table{cls_attr}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _config_html(s: RunSummary) -> str:
    c = s.config
    options = {k: v for k, v in c.method.model_dump().items() if k != "name"}
    m = c.model
    steps = f"{s.step}" if s.step == c.train.steps else f"{s.step} of {c.train.steps} (unfinished)"
    rows = [
        ["data set", _e(c.data.name + (f" ({c.data.path})" if c.data.path else ""))],
        ["members n", _e(c.data.n_members)],
        ["holdout / reference / test", _e(f"{c.data.n_holdout} / {c.data.n_reference} / "
                                           f"{c.data.n_test}")],  # fmt: skip
        ["method", _e(c.method.name)],
        ["method options", _e(", ".join(f"{k}={v}" for k, v in options.items()) or "–")],
        ["model", _e(f"{m.arch}, z_dim={m.z_dim}, g_width={m.g_width}, d_width={m.d_width}, "
                     f"depth={m.depth}, d_norm={m.d_norm}, spectral_norm={m.spectral_norm}")],
        ["steps (batch size)", _e(f"{steps} ({c.train.batch_size})")],
        ["seed / data seed", _e(f"{c.seed} / {c.data.seed}")],
    ]  # fmt: skip
    return _table(["setting", "value"], rows, cls="kv")


def _audit_html(s: RunSummary) -> str:
    if s.audit is None:
        return _note(
            f"No audit yet (no audit.json). Make one with <code>ganguard audit {_e(s.path)}</code>."
        )
    attacks = s.audit["attacks"]
    rows = []
    for name, a in attacks.items():
        m = a["metrics"]
        ci = m.get("auc_ci")
        ci_txt = f"{_fmt(ci[0])}–{_fmt(ci[1])}" if isinstance(ci, list) and len(ci) == 2 else "–"
        bhatt = m.get("bhattacharyya") if isinstance(m.get("bhattacharyya"), dict) else {}
        rows.append([_e(name), _fmt(m.get("auc")), ci_txt, _fmt(m.get("tpr_at_1pct_fpr")),
                     _fmt(m.get("tpr_at_0.1pct_fpr")), _fmt(m.get("advantage")),
                     _fmt(bhatt.get("O")), _fmt(a.get("seconds"), 1)])  # fmt: skip
    head = ["attack", "AUC", "95% interval", "TPR@1%FPR", "TPR@0.1%FPR", "advantage", "O",
            "time s"]  # fmt: skip
    parts = [
        f"<p>{_e(s.audit.get('n_members', '?'))} members against "
        f"{_e(s.audit.get('n_nonmembers', '?'))} non-members (holdout); AUC 0.5 is chance. "
        "TPR at a false positive rate is “–” when there are too few non-members to resolve it.</p>",
        _table(head, rows),
    ]
    skipped = s.audit.get("skipped") or {}
    if isinstance(skipped, dict) and skipped:
        parts.append("<p>Not run: " + "; ".join(f"{_e(k)} ({_e(v)})" for k, v in skipped.items())
                     + ".</p>")  # fmt: skip
    roc = roc_png({n: a["metrics"] for n, a in attacks.items()}, title=s.name)
    if roc is not None:
        parts.append(_img(roc, f"ROC curves of the attacks on {s.name}"))
    return "".join(parts)


def _utility_html(s: RunSummary) -> str:
    if s.utility is None:
        return _note(
            "No utility evaluation yet (no utility.json). Make one with "
            f"<code>ganguard evaluate {_e(s.path)}</code>."
        )
    generated, floor, details = utility_sections(s.utility)
    keys = list(generated) + [k for k in (floor or {}) if k not in generated]
    # a metric that is null on both sides (e.g. Inception FID without its package) is left out
    keys = [k for k in keys if _num(generated.get(k)) or _num((floor or {}).get(k))]
    if not keys:
        parts = [_note("utility.json holds no numeric metric.")]
    elif floor is None:
        rows = [[_e(k), _fmt(generated.get(k))] for k in keys]
        parts = [_table(["metric", "generated vs holdout"], rows),
                 "<p>No real-vs-real floor in utility.json.</p>"]  # fmt: skip
    else:
        source = details.get("floor_source")
        floor_head = f"floor ({_e(source)} vs holdout)" if isinstance(source, str) else "floor"
        rows = [[_e(k), _fmt(generated.get(k)), _fmt(floor.get(k))] for k in keys]
        parts = [_table(["metric", "generated vs holdout", floor_head], rows),
                 "<p>The floor is the same comparison for real records that the generator never "
                 "saw: the best a generator can do at this sample size.</p>"]  # fmt: skip
    c = s.utility.get("classification")
    if isinstance(c, dict) and _num(c.get("train_on_synthetic")) and _num(c.get("train_on_real")):
        rows = [[f"{_e(c.get('n_train', ''))} generated samples (train on synthetic)",
                 _fmt(c["train_on_synthetic"])],
                [f"the {_e(c.get('n_train', ''))} members (train on real)",
                 _fmt(c["train_on_real"])]]  # fmt: skip
        parts.append(_table(["classifier trained on", "accuracy on held-out T"], rows)
                     + "<p>A conditional generator is useful for a downstream classifier when "
                       "the first accuracy approaches the second.</p>")  # fmt: skip
    if details:
        rows = [[_e(k), _e(_fmt(v))] for k, v in details.items()]
        parts.append("<details><summary>evaluation details</summary>"
                     + _table(["field", "value"], rows, cls="kv") + "</details>")  # fmt: skip
    return "".join(parts)


def _at_risk_html(s: RunSummary) -> str:
    rows = [
        [str(rank), _e(r.index), _img(record_png(r.member), f"member {r.index}", "record"),
         _img(record_png(r.sample), f"sample nearest to member {r.index}", "record"),
         _fmt(r.distance, 4)]
        for rank, r in enumerate(s.at_risk, 1)
    ]  # fmt: skip
    med = s.distance_medians
    context = f"median over all members {_fmt(med['members'], 4)}"
    if "holdout" in med:
        context += f", over holdout (non-member) records {_fmt(med['holdout'], 4)}"
    return (
        f"<p>The members whose nearest of {s.n_samples} generated samples is closest (the "
        "GAN-Leaks score −min<sub>j</sub> ‖v − x̃<sub>j</sub>‖², squared distance on the data "
        "in [−1, 1]). "
        f"Nearest-sample distance: {context}. Members far below the holdout median are the ones "
        "the generator reproduces.</p>"
        + _table(["rank", "record", "member", "nearest sample", "distance²"], rows)
    )


def _run_html(i: int, s: RunSummary) -> str:
    rid = f"run-{i}"
    curves = None
    if s.metrics:
        curves = training_curves_png(s.metrics, title=s.name)
    curves_html = (
        _img(curves, f"training curves of {s.name}") if curves is not None
        else _note("No training log (metrics.jsonl) to draw.")
    )  # fmt: skip
    samples_html = _img(s.samples_png, f"samples of {s.name}", "grid") if s.samples_png else ""
    return f"""
<section class="run" id="{rid}">
<h2>{i}. {_e(s.name)}: {_e(s.label)}</h2>
<p class="path">{_e(s.path.resolve())}</p>
<h3 id="{rid}-config">Configuration</h3>
{_config_html(s)}
<h3 id="{rid}-samples">Samples</h3>
{samples_html}
<h3 id="{rid}-curves">Training curves</h3>
{curves_html}
<h3 id="{rid}-audit">Membership-inference audit</h3>
{_audit_html(s)}
<h3 id="{rid}-utility">Utility</h3>
{_utility_html(s)}
<h3 id="{rid}-at-risk">Members most at risk</h3>
{_at_risk_html(s)}
</section>"""


def overview_rows(runs: list[RunSummary]) -> list[list[str]]:
    """One plain-text row per run: run, method, weight, n, steps, best attack, AUC, TPR@1%, FID."""
    rows = []
    for s in runs:
        best = s.best_attack()
        fid = s.fid()
        auc = "–"
        if best is not None:
            ci = best[1].get("auc_ci")
            auc = _fmt(best[1]["auc"])
            if isinstance(ci, list) and len(ci) == 2:
                auc += f" [{_fmt(ci[0])}, {_fmt(ci[1])}]"
        rows.append([s.name, s.method, s.weight or "–", str(s.config.data.n_members), str(s.step),
                     best[0] if best else "(no audit)", auc,
                     _fmt(best[1].get("tpr_at_1pct_fpr")) if best else "–",
                     _fmt(fid[1]) if fid else "–"])  # fmt: skip
    return rows


OVERVIEW_HEAD = ["run", "method", "weight", "n", "steps", "best attack", "AUC [95% CI]",
                 "TPR@1%FPR", "FID"]  # fmt: skip


def _tradeoff_html(runs: list[RunSummary]) -> str:
    points, missing = [], []
    fid_names = set()
    labels = [s.label for s in runs]
    for s in runs:
        best, fid = s.best_attack(), s.fid()
        if best is None or fid is None:
            wants = (("audit.json", best), ("utility.json with an FID", fid))
            lacks = [what for what, have in wants if not have]
            missing.append(f"{_e(s.name)} (no {' and no '.join(lacks)})")
            continue
        label = s.label if labels.count(s.label) == 1 else f"{s.label} ({s.name})"
        ci = best[1].get("auc_ci")
        ci = tuple(ci) if isinstance(ci, list) and len(ci) == 2 and all(map(_num, ci)) else None
        points.append(TradeoffPoint(label, fid[1], float(best[1]["auc"]), ci))
        fid_names.add(fid[0])
    parts = ["<p>Best attack AUC (with its 95% interval) against FID, one point per run: lower "
             "left is better on both; AUC 0.5 means the best attack is at chance.</p>"]  # fmt: skip
    if points:
        name = fid_names.pop() if len(fid_names) == 1 else "FID"
        parts.append(_img(privacy_utility_png(points, name), "privacy–utility plot"))
    else:
        parts.append(_note("No run has both an audit and a utility evaluation to plot."))
    if missing:
        parts.append(_note("Not plotted: " + "; ".join(missing) + "."))
    return "".join(parts)


def render_html(runs: list[RunSummary]) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    toc = "".join(f'<li><a href="#run-{i}">{_e(s.name)}: {_e(s.label)}</a></li>'
                  for i, s in enumerate(runs, 1))  # fmt: skip
    overview = _table(OVERVIEW_HEAD, [[_e(c) for c in r] for r in overview_rows(runs)])
    tradeoff = ""
    if len(runs) > 1:
        tradeoff = f'<h2 id="privacy-utility">Privacy–utility</h2>{_tradeoff_html(runs)}'
    body = "".join(_run_html(i, s) for i, s in enumerate(runs, 1))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ganguard privacy report</title>
<style>{CSS}</style>
</head>
<body>
<h1>ganguard privacy report</h1>
<p>{len(runs)} run(s), made {now}. Membership-inference attacks try to tell the training records
(members) from records the model never saw; an AUC of 0.5 means they cannot.</p>
<h2 id="overview">Overview</h2>
{overview}
<ul>{toc}</ul>
{tradeoff}
{body}
</body>
</html>
"""


def render_markdown(runs: list[RunSummary], html_path: Path) -> str:
    cell = lambda c: c.replace("|", "\\|")  # noqa: E731
    lines = [
        "# ganguard privacy report",
        "",
        "| " + " | ".join(OVERVIEW_HEAD) + " |",
        "|" + "---|" * len(OVERVIEW_HEAD),
        *("| " + " | ".join(cell(c) for c in r) + " |" for r in overview_rows(runs)),
        "",
        f"Full report: {html_path}",
        "",
    ]
    return "\n".join(lines)


def write_report(
    run_dirs: list[Path] | list[str],
    out: Path | str,
    n_samples: int = 5000,
    n_at_risk: int = 8,
    seed: int = 0,
) -> Path:
    """Write the HTML privacy report of `run_dirs` to `out` and a Markdown summary beside it
    (`out.with_suffix('.md')`); returns `out`. Raises GanguardError, writing nothing, on bad
    input."""
    out = Path(out)
    if not run_dirs:
        raise GanguardError("report: give at least one run directory")
    if out.suffix.lower() == ".md":
        raise GanguardError(f"report: --out {out} would collide with the Markdown summary; "
                            "use an .html name")  # fmt: skip
    if out.is_dir():
        raise GanguardError(f"report: --out {out} is a folder; give a file such as report.html")
    if n_samples < 1 or n_at_risk < 1:
        raise GanguardError("report: n_samples and n_at_risk must be at least 1")
    datasets: dict = {}
    runs = [summarize_run(Path(d), n_samples, n_at_risk, seed, datasets) for d in run_dirs]
    page = render_html(runs)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GanguardError(f"report: cannot create {out.parent}: {err.strerror or err}") from None
    write_atomic(out, page)
    write_atomic(out.with_suffix(".md"), render_markdown(runs, out.resolve()))
    return out
