"""A sweep's results gathered: `results.csv` (one row per run), `results.md` (the rows, then mean
± std over seeds of each setting) and `privacy_utility.png` (best attack AUC against FID, or a
table's train-on-synthetic AUC)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ganguard.errors import GanguardError
from ganguard.evaluate import TABLE_KEYS
from ganguard.metrics.utility import columns
from ganguard.runs import read_run_config, write_atomic
from ganguard.sweep.pipeline import RESULT_FILE, read_result, weights
from ganguard.tables import interval, markdown, number, plus_minus


def collect(sweep_dir: str | Path, order: Callable[[str], Any] | None = None
            ) -> list[dict[str, Any]]:  # fmt: skip
    """Every run's result.json under the sweep folder, sorted by `order` (a sort key on run
    names); by default in the order of the sweep's last invocation, then by name."""
    sweep_dir = Path(sweep_dir)
    results = [
        r for p in sorted((sweep_dir / "runs").glob(f"*/{RESULT_FILE}"))
        if (r := read_result(p)) is not None
    ]  # fmt: skip
    if order is None:
        meta = read_result(sweep_dir / "sweep.json")
        rank = {r["name"]: i for i, r in enumerate(meta["runs"] if meta else [])}
        order = lambda name: (rank.get(name, len(rank)), name)  # noqa: E731
    results.sort(key=lambda r: order(r.get("name", "")))
    return results


def aggregate(sweep_dir: str | Path, order: Callable[[str], Any] | None = None
              ) -> list[dict[str, Any]]:  # fmt: skip
    """Write results.csv, results.md and privacy_utility.png, the runs sorted as `collect`
    sorts them; returns the results."""
    from ganguard.report.curves import TradeoffPoint, privacy_utility_png

    sweep_dir = Path(sweep_dir)
    results = collect(sweep_dir, order)
    rows = [r["row"] for r in results if r.get("status") == "ok"]
    for row in rows:  # against today's defaults, which may have changed since the run
        row["weights"] = _current_weights(sweep_dir / "runs" / row["run"], row["weights"])
    write_atomic(sweep_dir / "results.csv", rows_csv(rows))
    failed = [r for r in results if r.get("status") != "ok"]
    write_atomic(sweep_dir / "results.md", results_markdown(rows, failed))
    points = [p for r in rows if (p := TradeoffPoint.from_row(r)) is not None]
    if points:
        write_atomic(sweep_dir / "privacy_utility.png", privacy_utility_png(points))
    return results


def _current_weights(run_dir: Path, recorded: str) -> str:
    try:
        return weights(read_run_config(run_dir))
    except GanguardError:
        return recorded


def rows_csv(rows: list[dict[str, Any]]) -> str:
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def utility_keys() -> list[str]:
    """Every utility column a row may hold: the image metrics', then a table's."""
    return [*columns(), *TABLE_KEYS]


def summary_keys(rows: list[dict[str, Any]]) -> list[str]:
    """The figures averaged over seeds: the best attack, every utility column any row holds a
    value of, ε and the training time."""
    utility = [c for c in utility_keys() if any(r.get(c) is not None for r in rows)]
    return ["best_auc", "best_tpr_at_1pct_fpr", *utility, "epsilon", "train_seconds"]


def group_means(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds of each group's summary figures, and their standard deviation over seeds
    under "sd" (apart: a figure may itself be named like a spread, `kid_std`, the KID estimate's
    own standard deviation, whose mean over seeds is not the KID's spread over seeds)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    out = []
    for group, members in groups.items():
        first = members[0]
        entry: dict[str, Any] = {"group": group, "seeds": len(members), "sd": {}}
        entry.update({k: first[k] for k in ("variant", "method", "weights", "n", "dataset")})
        for key in summary_keys(rows):
            values = [float(m[key]) for m in members if m.get(key) is not None]
            entry[key] = statistics.fmean(values) if values else None
            entry["sd"][key] = statistics.stdev(values) if len(values) > 1 else None
        out.append(entry)
    return out


def _digits(key: str) -> int:
    return {"fid": 1, "inception_fid": 1, "kid": 4, "kid_std": 4, "epsilon": 2,
            "train_seconds": 0}.get(key, 3)  # fmt: skip


def results_markdown(rows: list[dict[str, Any]], failed: list[dict[str, Any]]) -> str:
    attacks: list[str] = []
    for r in rows:
        attacks += [k[4:] for k in r if k.startswith("auc_") and k[4:] not in attacks]
    utility = [c for c in summary_keys(rows) if c in utility_keys() and c != "fid"]
    has_fid = any(r.get("fid") is not None for r in rows)  # tables have none
    head = ["run", "method", "weights", "n", "seed", "best attack", "best AUC [95%]",
            "TPR@1%FPR", *(f"AUC {a}" for a in attacks), *(["FID (floor)"] if has_fid else []),
            *utility, "ε", "train s"]  # fmt: skip
    body = []
    for r in rows:
        auc = f"{number(r['best_auc'])} {interval(r['best_auc_lo'], r['best_auc_hi'])}"
        fid = [f"{number(r.get('fid'), 1)} ({number(r.get('fid_floor'), 1)})"] if has_fid else []
        body.append([r["run"], r["method"], r["weights"] or "–", str(r["n"]), str(r["seed"]),
                     number(r["best_attack"]), auc, number(r["best_tpr_at_1pct_fpr"]),
                     *(number(r.get(f"auc_{a}")) for a in attacks), *fid,
                     *(number(r.get(c), _digits(c)) for c in utility),
                     number(r["epsilon"], 2), number(r["train_seconds"], 0)])  # fmt: skip
    lines = ["# Sweep results", "", "One row per run.", "", markdown(head, body), ""]
    means = group_means(rows)
    if any(m["seeds"] > 1 for m in means):
        keys = [k for k in summary_keys(rows) if k != "train_seconds"]

        head = ["group", "method", "weights", "n", "seeds", *keys]
        body = [[m["group"], m["method"], m["weights"] or "–", str(m["n"]), str(m["seeds"]),
                 *(plus_minus(m[k], m["sd"][k], _digits(k)) for k in keys)]
                for m in means]  # fmt: skip
        lines += ["## Mean ± std over seeds", "", markdown(head, body), ""]
    if failed:
        body = [[f.get("name", "?"), f.get("error", "?")] for f in failed]
        lines += ["## Failed runs", "", markdown(["run", "error"], body), ""]
    return "\n".join(lines)
