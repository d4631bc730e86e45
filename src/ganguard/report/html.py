"""The privacy report as one self-contained HTML page, rendered from `RunSummary`s (what
ganguard wrote into each run directory: see `summary.py`). It computes nothing of its own.

Every image is a PNG embedded as a data: URI and the style sheet is inline, so the file can be
mailed or archived and opened anywhere, with no network and no script. Per run: the config, the
samples, the training curves, the audit (table and ROC curves), the utility table and the members
most at risk. Across runs: the privacy–utility plot.
"""

from __future__ import annotations

import base64
import datetime
import html

from ganguard.audit import epsilon_note
from ganguard.evaluate import TABLE_KEYS
from ganguard.metrics.utility import columns
from ganguard.report.curves import privacy_utility_png, record_png, roc_png, training_curves_png
from ganguard.report.summary import OVERVIEW_HEAD, RunSummary, overview_rows, tradeoff_points
from ganguard.tables import html_table, interval, number

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
table.rows td { font-size: 0.8em; white-space: nowrap; }
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str, cls: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    cls_attr = f' class="{cls}"' if cls else ""
    return f'<img{cls_attr} alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _note(text: str) -> str:
    return f'<p class="note">{text}</p>'


def _config_html(s: RunSummary) -> str:
    c = s.config
    options = {k: v for k, v in c.method.model_dump().items() if k != "name"}
    m = c.model
    steps = f"{s.step}" if s.step == c.train.steps else f"{s.step} of {c.train.steps} (unfinished)"
    rows = [
        ["data set", c.data.name + (f" ({c.data.path})" if c.data.path else "")],
        ["members n", str(c.data.n_members)],
        ["holdout / reference / test", f"{c.data.n_holdout} / {c.data.n_reference} / "
                                       f"{c.data.n_test}"],
        ["method", c.method.name],
        ["method options", ", ".join(f"{k}={v}" for k, v in options.items()) or "–"],
        ["model", f"{m.arch}, z_dim={m.z_dim}, g_width={m.g_width}, d_width={m.d_width}, "
                  f"depth={m.depth}, d_norm={m.d_norm}, spectral_norm={m.spectral_norm}"],
        ["steps (batch size)", f"{steps} ({c.train.batch_size})"],
        ["seed / data seed", f"{c.seed} / {c.data.seed}"],
    ]  # fmt: skip
    return html_table(["setting", "value"], rows, cls="kv")


def _audit_html(s: RunSummary) -> str:
    if s.audit is None:
        return _note(
            f"No audit yet (no audit.json). Make one with <code>ganguard audit {_e(s.path)}</code>."
        )
    rows = []
    for name, a in s.audit.attacks.items():
        m = a.metrics
        rows.append([name, m["auc"], interval(*(m["auc_ci"] or [None, None])),
                     m["tpr_at_1pct_fpr"], m["tpr_at_0.1pct_fpr"], m["advantage"],
                     (m["bhattacharyya"] or {}).get("O"),
                     (m.get("eps_lower_bound") or {}).get("value"),
                     number(a.seconds, 1)])  # fmt: skip
    head = ["attack", "AUC", "95% interval", "TPR@1%FPR", "TPR@0.1%FPR", "advantage", "O",
            "ε lower bound", "time s"]  # fmt: skip
    if any(a.canaries for a in s.audit.attacks.values()):
        head.insert(-1, "canary ε lower bound (correct / guesses)")
        for row, a in zip(rows, s.audit.attacks.values(), strict=True):
            c = a.canaries
            row.insert(-1, "–" if c is None else
                       f"{number(c['value'])} ({c['correct']} / {c['guesses']})")  # fmt: skip
    parts = [
        f"<p>{s.audit.n_members} members against {s.audit.n_nonmembers} non-members (holdout); "
        "AUC 0.5 is chance. TPR at a false positive rate is “–” when there are too few "
        "non-members to resolve it.</p>",
        html_table(head, rows),
        f"<p>{_e(epsilon_note(s.audit))}.</p>",
    ]
    if s.audit.skipped:
        parts.append("<p>Not run: " + "; ".join(
            f"{_e(k)} ({_e(v)})" for k, v in s.audit.skipped.items()) + ".</p>")  # fmt: skip
    roc = roc_png({n: a.metrics for n, a in s.audit.attacks.items()}, title=s.name)
    if roc is not None:
        parts.append(_img(roc, f"ROC curves of the attacks on {s.name}"))
    return "".join(parts)


def _frame_html(frame) -> str:  # noqa: ANN001 - a DataFrame
    rows = [["" if v is None or v != v else str(v) for v in row] for row in frame.itertuples(
        index=False)]  # fmt: skip
    table = html_table([str(c) for c in frame.columns], rows, cls="rows")
    return f'<div style="overflow-x: auto">{table}</div>'


def _samples_html(s: RunSummary) -> str:
    if s.table is None:
        return _img(s.samples_png, f"samples of {s.name}", "grid")
    t = s.table
    return (f"<p>The first {len(t.sample_rows)} generated records, decoded into the table's "
            "columns:</p>" + _frame_html(t.sample_rows)
            + "<p>Each column's distribution in the generated records against the members:</p>"
            + _img(t.marginals_png, f"column marginals of {s.name}"))  # fmt: skip


def _utility_html(s: RunSummary) -> str:
    u = s.utility
    if u is None:
        return _note(
            "No utility evaluation yet (no utility.json). Make one with "
            f"<code>ganguard evaluate {_e(s.path)}</code>."
        )
    if u.table is not None:
        g = u.table["generated"]
        rows = [[label, u.generated.get(k), u.floor.get(k)] for k, label in TABLE_KEYS.items()]
        rows.append(["train-on-real ROC AUC on T (the members)", g.get("trtr_auc"),
                     u.table["floor"].get("trtr_auc")])  # fmt: skip
        return (html_table(["metric", "generated", "floor (holdout records in their place)"],
                           rows)
                + f"<p>{u.n_generated} generated records against the members S and the test "
                  "part T; the floor is the same comparison for real records the generator never "
                  "saw.</p>")  # fmt: skip
    # a metric that is null on both sides (e.g. Inception FID without its package) is left out
    keys = [k for k in columns() if u.generated.get(k) is not None or u.floor.get(k) is not None]
    rows = [[k, u.generated.get(k), u.floor.get(k)] for k in keys]
    parts = [html_table(["metric", "generated vs holdout", f"floor ({u.floor_source} vs holdout)"],
                        rows),
             f"<p>{u.n_generated} generated samples and {u.n_floor} real records ({u.floor_source}"
             f") against the {u.n_holdout} holdout records. The floor is the same comparison for "
             "real records the generator never saw: the best a generator can do at this sample "
             "size.</p>"]  # fmt: skip
    c = u.classification
    if c is not None:
        rows = [[f"{c['n_train']} generated samples (train on synthetic)", c["train_on_synthetic"]],
                [f"the {c['n_train']} members (train on real)", c["train_on_real"]]]  # fmt: skip
        parts.append(html_table(["classifier trained on", "accuracy on held-out T"], rows)
                     + "<p>A conditional generator is useful for a downstream classifier when "
                       "the first accuracy approaches the second.</p>")  # fmt: skip
    net = u.feature_net
    details = [["feature network", f"{net.get('arch')}, {net.get('feature_dim')} features"],
               ["its test accuracy", net.get("test_accuracy")], ["seed", str(u.seed)],
               ["checkpoint step", str(u.step)], *(["note", n] for n in u.notes)]  # fmt: skip
    parts.append("<details><summary>evaluation details</summary>"
                 + html_table(["field", "value"], details, cls="kv") + "</details>")  # fmt: skip
    return "".join(parts)


def _at_risk_table_html(s: RunSummary) -> str:
    """A table run's members most at risk: each member's row above its nearest sample's."""
    r, t = s.risk, s.table
    rows = []
    for n, a in enumerate(r.top):
        member = [str(v) for v in t.at_risk_members.iloc[n]]
        nearest = [str(v) for v in t.at_risk_samples.iloc[n]]
        rows.append([f"{n + 1}: member {a.index}", number(a.score, 3), *member])
        rows.append(["  its nearest sample", number(a.sample_distance, 3), *nearest])
    head = ["rank, record", "score / distance", *map(str, t.at_risk_members.columns)]
    return (f"<p>The members most likely to be found, ranked by <code>{_e(r.attack)}</code> "
            f"against {r.n_samples} generated records, each above its nearest generated record "
            "(distance on the encoding, every column of diameter 1).</p>"
            + f'<div style="overflow-x: auto">{html_table(head, rows, cls="rows")}</div>')


def _at_risk_html(s: RunSummary) -> str:
    if s.table is not None:
        return _at_risk_table_html(s)
    r = s.risk
    has_reference = any(a.reference_distance is not None for a in r.top)
    rows = [
        [str(rank), _e(a.index), _img(record_png(a.member), f"member {a.index}", "record"),
         _img(record_png(a.sample), f"sample nearest to member {a.index}", "record"),
         _e(number(a.score, 3)), _e(number(a.sample_distance, 3)),
         *([_e(number(a.reference_distance, 3))] if has_reference else [])]
        for rank, a in enumerate(r.top, 1)
    ]  # fmt: skip
    context = f"median over the members ranked {number(r.median_members, 3)}"
    if r.median_holdout is not None:
        context += f", over the holdout (non-member) records {number(r.median_holdout, 3)}"
    why = {"lira_fbb": "the likelihood ratio of its nearest-sample distance under the run's "
                       "shadow models",
           "dcr_ratio": "how much closer it is to the generated samples than to the reference "
                        "records R",
           "ganleaks_fbb": "its distance to the nearest generated sample (the run has no R to "
                           "calibrate it by)"}.get(r.attack, "its score")  # fmt: skip
    head = ["rank", "record", "member", "nearest sample", "score", "distance to the sample",
            *(["distance to R"] if has_reference else [])]  # fmt: skip
    return (
        f"<p>The members most likely to be found, ranked by <code>{_e(r.attack)}</code>: "
        f"{_e(why)}, against {r.n_samples} generated samples. Each is shown beside its nearest "
        f"generated sample. Score: {context}. A member whose score stands far above the holdout "
        "median is one the generator reproduces; a calibrated score does not rank a member high "
        "for being simple (close to many records), only for being reproduced.</p>"
        + html_table(head, rows, raw=True)
    )


def _run_html(i: int, s: RunSummary) -> str:
    rid = f"run-{i}"
    curves = training_curves_png(s.metrics, title=s.name) if s.metrics else None
    curves_html = (
        _img(curves, f"training curves of {s.name}") if curves is not None
        else _note("No training log (metrics.jsonl) to draw.")
    )  # fmt: skip
    return f"""
<section class="run" id="{rid}">
<h2>{i}. {_e(s.name)}: {_e(s.label)}</h2>
<p class="path">{_e(s.path.resolve())}</p>
<h3 id="{rid}-config">Configuration</h3>
{_config_html(s)}
<h3 id="{rid}-samples">Samples</h3>
{_samples_html(s)}
<h3 id="{rid}-curves">Training curves</h3>
{curves_html}
<h3 id="{rid}-audit">Membership-inference audit</h3>
{_audit_html(s)}
<h3 id="{rid}-utility">Utility</h3>
{_utility_html(s)}
<h3 id="{rid}-at-risk">Members most at risk</h3>
{_at_risk_html(s)}
</section>"""


def _tradeoff_html(runs: list[RunSummary]) -> str:
    points, missing = tradeoff_points(runs)
    parts = ["<p>Best attack AUC against utility, one panel per data set and number of "
             "members, one marker per setting at its mean over seeds (± one standard deviation): "
             "FID (feature network) for images, lower left best; for tables the train-on-"
             "synthetic ROC AUC on T (column shapes where the table has no target), lower right "
             "best. AUC 0.5 means the best attack is at chance.</p>"]  # fmt: skip
    if points:
        parts.append(_img(privacy_utility_png(points), "privacy–utility plot"))
    else:
        parts.append(_note("No run has both an audit and a utility evaluation to plot."))
    if missing:
        parts.append(_note("Not plotted: " + "; ".join(_e(m) for m in missing) + "."))
    return "".join(parts)


def render_html(runs: list[RunSummary]) -> str:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    toc = "".join(f'<li><a href="#run-{i}">{_e(s.name)}: {_e(s.label)}</a></li>'
                  for i, s in enumerate(runs, 1))  # fmt: skip
    overview = html_table(OVERVIEW_HEAD, overview_rows(runs))
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
