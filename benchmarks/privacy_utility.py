"""The privacy–utility benchmark (issue 6; protocol of SPEC §9), in two stages.

    python benchmarks/privacy_utility.py --stage screen  [--workers N] [--executor ray ...]
    python benchmarks/privacy_utility.py --stage confirm [--families gan-sn,megan,...] [--seeds 0,1]
    python benchmarks/privacy_utility.py --stage strong [--families ...] [--data ...] [--seeds ...]
    python benchmarks/privacy_utility.py --stage tables
    python benchmarks/privacy_utility.py --stage plots

`screen` runs every setting of `benchmarks/privacy_utility.yaml` on mnist-5k with 500 members and
one seed; `confirm` runs the best setting of each family (chosen from the screen, below) on every
data set and member-set size of the file's `confirm.data` with its seeds; `tables` rebuilds the
committed results from whatever has finished; `plots` redraws the end-point plots from the
committed tables (no runs needed); `strong` re-audits the finished confirm runs of a slice with
the strong attacks that need no shadow model (`STRONG_NO_SHADOWS`) and sets them beside the
default five in benchmarks/results/privacy_utility_strong.{json,md}. Screen and confirm are each
a `ganguard sweep` in runs/benchmarks/<stage>/ (resumable: rerun the command to finish or extend
it), and write their CSV, Markdown table and plots to benchmarks/results/ with the command and
the wall time.

Choosing the best setting of a family (SPEC §9, on the screen's end points): the quality bar is
1.25 × the best GAN FID (the `gan` and `gan-sn` families); among a family's settings that meet it,
the one with the lowest best-attack AUC; if none meets it, the lowest FID among those whose best
attack's 95% interval contains 0.5; else the lowest best-attack AUC. On a data set with no public
collection beside it (`public_reference` null), a family whose best setting pre-trains on the
public collection runs, there, its best setting by the same rule among those that do not.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from audit_rows import QUALITY_FACTOR, attack_cell, best_row, most_found

from ganguard.config import config_from_dict
from ganguard.errors import GanguardError
from ganguard.sweep import Sweep, SweepSettings, aggregate, collect, expand, run_sweep
from ganguard.sweep.pipeline import weights
from ganguard.sweep.tables import results_markdown, rows_csv
from ganguard.tables import markdown, number, plus_minus

HERE = Path(__file__).resolve().parent
SPEC_FILE = HERE / "privacy_utility.yaml"
RESULTS = HERE / "results"
WORK = Path("runs") / "benchmarks"
GAN_FAMILIES = ("gan", "gan-sn")


def load_spec(path: Path = SPEC_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def family_of(spec: dict[str, Any]) -> dict[str, str]:
    """setting name -> family."""
    return {name: fam for fam, settings in spec["families"].items() for name in settings}


def run_order(spec: dict[str, Any]) -> Callable[[str], tuple]:
    """A sort key on run names (`[data_]setting_seedN`): the file's order of confirm data sets,
    then of settings, then the seed, so the committed tables come out in the same order whatever
    slice ran last."""
    data_rank = {d: i for i, d in enumerate(spec["confirm"]["data"])}
    setting_rank = {s: i for i, s in enumerate(family_of(spec))}

    def key(name: str) -> tuple:
        *variant, seed = name.split("_")
        data, setting = variant if len(variant) == 2 else ("", "_".join(variant))
        number = seed.removeprefix("seed")
        return (data_rank.get(data, len(data_rank)), data,
                setting_rank.get(setting, len(setting_rank)), setting,
                int(number) if number.isdigit() else -1, name)  # fmt: skip

    return key


def stage_sweep(spec: dict[str, Any], stage: str, families: list[str] | None,
                seeds: list[int] | None, data: list[str] | None = None) -> Sweep:  # fmt: skip
    if stage == "screen":
        variants = {name: screen_changes(spec, name) for f, fam in spec["families"].items()
                    if not families or f in families for name in fam}  # fmt: skip
        return variants_sweep(spec, stage, variants, seeds or spec["screen"]["seeds"])
    chosen = choose_best(spec)
    if families:  # a family of one setting needs no screen to choose it
        chosen |= {f: next(iter(spec["families"][f])) for f in families
                   if f not in chosen and len(spec["families"].get(f, ())) == 1}  # fmt: skip
        unknown = [f for f in families if f not in chosen]
        if unknown:
            raise SystemExit(f"no screened setting of {', '.join(unknown)}: run --stage "
                             f"screen --families {','.join(unknown)} first")  # fmt: skip
        chosen = {f: chosen[f] for f in families}
    variants, screened = {}, None
    for data_name, keys in spec["confirm"]["data"].items():
        if data and data_name not in data:
            continue
        for family, setting in chosen.items():
            if not runs_on(spec, keys["data.name"], setting):
                if screened is None:  # read once, only where a setting cannot run
                    screened = with_committed("screen", spec, collect(WORK / "screen"))
                setting = best_runnable(spec, family, keys["data.name"], screened)
                if setting is None:
                    print(f"{data_name}: no setting of {family} runs there", flush=True)
                    continue
            variants[f"{data_name}_{setting}"] = confirm_changes(spec, data_name, setting)
    return variants_sweep(spec, stage, variants, seeds or spec["confirm"]["seeds"])


def best_runnable(spec: dict[str, Any], family: str, data_set: str,
                  screened: list[dict[str, Any]]) -> str | None:  # fmt: skip
    """`family`'s best setting by the screen's rule on `screened` (the screening runs) among
    those that run on `data_set`; None if none does (or none was screened)."""
    runnable = [s for s in spec["families"][family] if runs_on(spec, data_set, s)]
    if len(runnable) == 1:
        return runnable[0]
    results = [r for r in screened if r.get("variant") in runnable
               or family_of(spec).get(r.get("variant")) in GAN_FAMILIES]  # fmt: skip
    return choose_best(spec, results).get(family)


def variants_sweep(spec: dict[str, Any], stage: str, variants: dict[str, Any],
                   seeds: list[int]) -> Sweep:  # fmt: skip
    """The stage's sweep of `variants` (name -> config changes) on the file's base, per seed."""
    settings = {"base": spec["base"], **spec["sweep"], "variants": variants,
                "grid": {"seed": seeds}}  # fmt: skip
    parsed = SweepSettings.model_validate(settings)
    return Sweep(WORK / stage, parsed, expand(parsed))


def setting_changes(spec: dict[str, Any], setting: str) -> dict[str, Any]:
    """The config changes of `setting`, its method's options laid over the file's pinned
    `method_options` for that method."""
    changes = dict(spec["families"][family_of(spec)[setting]][setting])
    method = changes["method"]
    changes["method"] = {"name": method["name"], **spec["method_options"][method["name"]],
                         **method}  # fmt: skip
    return changes


def screen_changes(spec: dict[str, Any], setting: str) -> dict[str, Any]:
    """The config changes of `setting` in the screen (on the base's data set)."""
    return with_public_reference(setting_changes(spec, setting), spec["base"]["data"]["name"], spec)


def confirm_changes(spec: dict[str, Any], data_name: str, setting: str) -> dict[str, Any]:
    """The config changes of `setting` on the entry `data_name` of the file's `confirm.data`."""
    data_keys = spec["confirm"]["data"][data_name]
    keys = {k: v for k, v in data_keys.items() if k != "max_reference"}
    changes = {**setting_changes(spec, setting), **keys}
    changes = with_public_reference(changes, keys["data.name"], spec)
    cap = data_keys.get("max_reference")
    if cap is not None and "data.reference_data" not in changes:
        wanted = changes.get("data.n_reference", spec["base"]["data"]["n_reference"])
        changes["data.n_reference"] = min(wanted, cap)
    return changes


def with_public_reference(changes: dict[str, Any], data_name: str,
                          spec: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """A setting's `data.reference_data: public` and `train.pretrain_on: public` are the public
    collection the file's `public_reference` names for `data_name` (null there: R from
    `data_name` itself; pre-training there is refused, see `runs_on`)."""
    public = spec.get("public_reference", {}).get(data_name)
    changes = dict(changes)
    if changes.get("data.reference_data") == "public":
        if public is None:
            del changes["data.reference_data"]
        else:
            changes["data.reference_data"] = public
    if changes.get("train.pretrain_on") == "public":
        if public is None:
            raise GanguardError(f"setting pre-trains on a public collection; {data_name} has none "
                                "in the file's public_reference")  # fmt: skip
        changes["train.pretrain_on"] = public
    return changes


def runs_on(spec: dict[str, Any], data_name: str, setting: str) -> bool:
    """Whether `setting` can run on `data_name`: not one that pre-trains on the public
    collection of a data set that has none (its own records are the private data)."""
    pretrains = setting_changes(spec, setting).get("train.pretrain_on") == "public"
    return not pretrains or spec.get("public_reference", {}).get(data_name) is not None


# -- choosing and comparing ---------------------------------------------------------------------
def _ci_contains_half(row: dict[str, Any]) -> bool:
    return row["best_auc_lo"] <= 0.5 <= row["best_auc_hi"]


def choose_best(spec: dict[str, Any],
                results: list[dict[str, Any]] | None = None) -> dict[str, str]:  # fmt: skip
    """family -> its best setting on the screen's end points (see the module's text): of
    `results`, default the screening runs here and the committed ones they do not replace."""
    if results is None:
        local = collect(WORK / "screen")
        if not local:
            return committed_choice()
        results = with_committed("screen", spec, local)
    rows = [r["row"] for r in results if r.get("status") == "ok"]
    fam = family_of(spec)
    gan_fids = [r["fid"] for r in rows if fam.get(r["variant"]) in GAN_FAMILIES]
    bar = QUALITY_FACTOR * min(gan_fids) if gan_fids else math.inf
    chosen = {}
    for family, settings in spec["families"].items():
        mine = [r for r in rows if r["variant"] in settings]
        if not mine:
            continue
        good = [r for r in mine if r["fid"] <= bar]
        private = [r for r in mine if _ci_contains_half(r)]
        if good:
            best = min(good, key=lambda r: (r["best_auc"], r["fid"]))
        elif private:
            best = min(private, key=lambda r: r["fid"])
        else:
            best = min(mine, key=lambda r: r["best_auc"])
        chosen[family] = best["variant"]
    return chosen


def committed_choice() -> dict[str, str]:
    """Without screening runs here (a clean clone), the choice the committed screen made, so
    that any slice of the confirm stage can be rerun without the whole screen first."""
    path = RESULTS / "privacy_utility_screen.json"
    chosen = json.loads(path.read_text()).get("chosen") if path.exists() else None
    if not chosen:
        raise SystemExit("no finished screening runs and no committed choice: run --stage screen")
    print(f"no screening runs in {WORK / 'screen'}: the settings chosen in {path}", flush=True)
    return chosen


def curve_points(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in result.get("curve", []) if p.get("fid") is not None]


def matched(results: list[dict[str, Any]], fam: dict[str, str], data_order: list[str],
            bars: dict[str, float] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Per (data, setting): SPEC §9's matched quality (the lowest best-attack AUC over the
    checkpoints with FID ≤ 1.25 × the best GAN FID of that data set) and matched privacy (the
    lowest FID over the checkpoints whose best attack's interval contains 0.5), mean ± std over
    seeds; a seed with no such checkpoint counts as missing. `bars`: the quality bar of a data
    set whose GAN runs have no curve here (committed rows: their curves were not kept). A
    setting whose curves predate the checkpoints' intervals gets matched quality only (its
    matched privacy None, `n_privacy` None)."""
    by_data: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        if r.get("status") == "ok":
            by_data.setdefault(r["variant"].split("_")[0], []).append(r)
    table = []
    rank = {d: i for i, d in enumerate(data_order)}
    for data, runs in sorted(by_data.items(), key=lambda item: rank.get(item[0], len(rank))):
        setting = lambda r: r["variant"].split("_", 1)[1]  # noqa: E731
        gan_fids = [p["fid"] for r in runs if fam.get(setting(r)) in GAN_FAMILIES
                    for p in curve_points(r)]  # fmt: skip
        bar = QUALITY_FACTOR * min(gan_fids) if gan_fids else (bars or {}).get(data, math.inf)
        settings: dict[str, list[dict[str, Any]]] = {}  # a family's settings apart
        for r in runs:
            settings.setdefault(setting(r), []).append(r)
        for name, members in settings.items():
            family = fam.get(name, name)
            auc_q, fid_p = [], []
            for r in members:
                ok = [p["best_auc"] for p in curve_points(r) if p["fid"] <= bar]
                if ok:
                    auc_q.append(min(ok))
                priv = [p["fid"] for p in curve_points(r) if "best_auc_ci" in p
                        and p["best_auc_ci"][0] <= 0.5 <= p["best_auc_ci"][1]]  # fmt: skip
                if priv:
                    fid_p.append(min(priv))
            intervals = all("best_auc_ci" in p for r in members for p in curve_points(r))
            table.append({"data": data, "family": family, "setting": name,
                          "seeds": len(members), "fid_bar": bar,
                          "auc_at_matched_quality": _mean_std(auc_q), "n_quality": len(auc_q),
                          "fid_at_matched_privacy": _mean_std(fid_p) if intervals else None,
                          "n_privacy": len(fid_p) if intervals else None})  # fmt: skip
    return table


def _mean_std(values: list[float]) -> tuple[float, float] | None:
    if not values:
        return None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def _pm(v: tuple[float, float] | None, digits: int = 3) -> str:
    """A (mean, std) pair of `_mean_std` as the one mean ± sd formatter writes it."""
    return "–" if v is None else plus_minus(*v, digits)


def frontier_png(results: list[dict[str, Any]], fam: dict[str, str], title: str) -> bytes:
    """FID against best-attack AUC along training: one panel per data set and n, one line per
    run through its checkpoints, coloured by family (the legend names each once)."""
    from ganguard.plotting import figure_png, pyplot
    from ganguard.report.curves import fid_auc_panels, setting_style

    ok = [r for r in results if r.get("status") == "ok" and curve_points(r)]
    panel = lambda r: f"{r['row']['dataset']}, n = {r['row']['n']}"  # noqa: E731
    panels = list(dict.fromkeys(panel(r) for r in ok))
    family = lambda r: fam.get(r["variant"].split("_", 1)[-1], r["variant"])  # noqa: E731
    families = list(dict.fromkeys(family(r) for r in ok))
    plt = pyplot()
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(5.2 * max(1, len(panels)), 4.4),
                             sharey=True, squeeze=False)  # fmt: skip
    for ax, name in zip(axes[0], panels, strict=False):
        for r in (r for r in ok if panel(r) == name):
            style = setting_style(families.index(family(r)))
            pts = curve_points(r)
            ax.plot([p["fid"] for p in pts], [p["best_auc"] for p in pts], lw=1, ms=3,
                    alpha=0.75, label=family(r), **style)  # fmt: skip
        ax.set(title=name, xlabel="FID (feature network), log scale")
    fid_auc_panels(fig, axes[0], 5.2 * max(1, len(panels)))
    fig.suptitle(title)
    fig.tight_layout()
    return figure_png(fig, dpi=110, tight=True)


def endpoints_png(rows: list[dict[str, Any]], fam: dict[str, str], stage: str) -> bytes:
    """The end points: one panel per data set and n, one marker per setting, mean ± std over
    seeds. A setting is named by its family when it is the only one of its family there."""
    from ganguard.report.curves import TradeoffPoint, privacy_utility_png

    setting = lambda r: r["variant"].split("_", 1)[-1] if stage == "confirm" else r["variant"]  # noqa: E731
    per_family: dict[str, set[str]] = {}
    for r in rows:
        per_family.setdefault(fam.get(setting(r), setting(r)), set()).add(setting(r))
    points = []
    for r in rows:
        family = fam.get(setting(r), setting(r))
        label = family if len(per_family[family]) == 1 else setting(r)
        panel = f"{r['dataset']}, n = {r['n']}"
        points.append(TradeoffPoint(label, panel, float(r["fid"]), float(r["best_auc"])))
    return privacy_utility_png(points, "FID (feature network)")


def committed_rows(stage: str) -> list[dict[str, Any]]:
    """The rows of a committed results table (benchmarks/results/privacy_utility_STAGE.csv)."""
    with open(RESULTS / f"privacy_utility_{stage}.csv") as f:
        return list(csv.DictReader(f))


def typed(value: str) -> Any:
    """A committed CSV cell back as what the row held: None, a bool, an int, a float or text."""
    if value == "":
        return None
    if value in ("True", "False"):
        return value == "True"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def with_committed(stage: str, spec: dict[str, Any],
                   results: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """`results` (the runs finished on this machine) and every committed row of the stage that
    they do not replace, in the file's order: rerunning a slice on a clean clone updates the
    committed tables rather than cutting them down to the slice. A committed row gets its curve
    from the committed JSON and `weights` against today's defaults (its options as the file
    gives them, which pin what it ran)."""
    path = RESULTS / f"privacy_utility_{stage}.csv"
    if not path.exists():
        return results
    meta_path = RESULTS / f"privacy_utility_{stage}.json"
    curves = json.loads(meta_path.read_text()).get("curves", {}) if meta_path.exists() else {}
    here = {r.get("name") for r in results}
    kept = []
    for row in committed_rows(stage):
        if row["run"] in here:
            continue
        row = {k: typed(v) for k, v in row.items()}
        row["weights"] = todays_weights(spec, stage, row)
        kept.append({"status": "ok", "name": row["run"], "variant": row["variant"], "row": row,
                     "curve": curves.get(row["run"], [])})  # fmt: skip
    key = run_order(spec)
    return sorted(results + kept, key=lambda r: key(r.get("name", "")))


def todays_weights(spec: dict[str, Any], stage: str, row: dict[str, Any]) -> str | None:
    """A committed row's options that differ from today's defaults (its recorded `weights` if
    the file no longer has its setting)."""
    group = row["group"]
    try:
        if stage == "screen":
            changes = screen_changes(spec, group)
        else:
            changes = confirm_changes(spec, *group.split("_", 1))
        (run,) = variants_sweep(spec, stage, {group: changes}, [int(row["seed"])]).runs
        return weights(config_from_dict(run.config)) or None
    except (KeyError, TypeError, ValueError, GanguardError):
        return row["weights"]


# -- writing the committed results ---------------------------------------------------------------
def write_results(stage: str, spec: dict[str, Any], command: str, seconds: float | None,
                  workers: int = 1) -> None:  # fmt: skip
    folder = WORK / stage
    results = with_committed(stage, spec, aggregate(folder, run_order(spec)))
    fam = family_of(spec)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"privacy_utility_{stage}"
    rows = [r["row"] for r in results if r.get("status") == "ok"]
    failed = [r for r in results if r.get("status") != "ok"]
    Path(f"{stem}.csv").write_text(rows_csv(rows))
    Path(f"{stem}.md").write_text(results_markdown(rows, failed))
    if rows:
        Path(f"{stem}_endpoints.png").write_bytes(endpoints_png(rows, fam, stage))
    # the committed plot stays unless every run's curve is here (older rows kept none)
    if all(curve_points(r) for r in results if r.get("status") == "ok"):
        png = frontier_png(results, fam, f"{stage}: along training")
        Path(f"{stem}_curves.png").write_bytes(png)

    meta_path = Path(f"{stem}.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"invocations": []}
    if seconds is not None:
        finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        meta["invocations"].append(
            {"command": command, "wall_seconds": round(seconds, 1), "finished": finished,
             "machine": f"{os.cpu_count()} CPUs", "workers": workers}  # fmt: skip
        )
    ok = [r for r in results if r.get("status") == "ok"]
    meta["runs_ok"] = len(ok)
    # each run's curve, so that the plots can be redrawn from the committed files alone
    meta["curves"] = {r["name"]: [{k: p[k] for k in ("step", "fid", "best_auc", "best_auc_ci")
                                   if k in p} for p in curve_points(r)]
                      for r in ok if curve_points(r)}  # fmt: skip
    meta["runs_failed"] = len(results) - len(ok)
    meta["train_seconds"] = round(sum(r["row"]["train_seconds"] for r in ok), 1)
    meta["run_seconds"] = round(sum(r.get("seconds", 0) for r in ok), 1)
    if stage == "screen":
        meta["chosen"] = choose_best(spec, results)
    else:  # every setting against today's bar; committed runs whose curves predate their
        # intervals keep their committed matched privacy
        bars = {m["data"]: m["fid_bar"] for m in meta.get("matched", [])}
        before = {(m["data"], m["setting"]): m for m in meta.get("matched", [])}
        computed = matched([r for r in results if curve_points(r)], fam,
                           list(spec["confirm"]["data"]), bars)  # fmt: skip
        for m in computed:
            if m["n_privacy"] is None and (m["data"], m["setting"]) in before:
                old = before[(m["data"], m["setting"])]
                m["fid_at_matched_privacy"] = old["fid_at_matched_privacy"]
                m["n_privacy"] = old["n_privacy"]
        done = {(m["data"], m["setting"]) for m in computed}
        data_rank = {d: i for i, d in enumerate(spec["confirm"]["data"])}
        setting_rank = {s: i for i, s in enumerate(fam)}
        kept = [m for m in meta.get("matched", []) if (m["data"], m["setting"]) not in done]
        meta["matched"] = sorted(
            computed + kept,
            key=lambda m: (data_rank.get(m["data"], len(data_rank)),
                           setting_rank.get(m["setting"], len(setting_rank))),
        )  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")

    if stage == "confirm":
        lines = ["# Matched quality and matched privacy (SPEC §9)", "",
                 "Per data set and family, mean ± std over seeds: the lowest best-attack AUC over "
                 "the checkpoints with FID ≤ 1.25 × the best GAN FID of that data set, and the "
                 "lowest FID over the checkpoints whose best attack's 95% interval contains 0.5 "
                 "(k/n: seeds that had such a checkpoint).", ""]  # fmt: skip
        head = ["data", "family", "setting", "seeds", "FID bar", "AUC at matched quality",
                "FID at matched privacy"]  # fmt: skip
        body = [[m["data"], m["family"], m["setting"], str(m["seeds"]), number(m["fid_bar"], 1),
                 f"{_pm(m['auc_at_matched_quality'])} ({m['n_quality']}/{m['seeds']})",
                 f"{_pm(m['fid_at_matched_privacy'], 1)} ({m['n_privacy']}/{m['seeds']})"
                 if m["n_privacy"] is not None else "– (curves without intervals)"]
                for m in meta["matched"]]  # fmt: skip
        lines.append(markdown(head, body))
        Path(f"{stem}_matched.md").write_text("\n".join(lines) + "\n")


# -- the strong auditor on finished confirm runs (--stage strong) ------------------------------
# SPEC §5.1's attacks that need no shadow model; ganleaks_fbb_cal's reference GAN is trained on the
# run's R with the run's recipe and kept in the run
STRONG_NO_SHADOWS = ("dcr_ratio", "gen_lra", "ganleaks_fbb_cal")
STRONG_FILE = "audit_strong.json"  # beside the run's audit.json, which the tables read


def audited_rows(audited: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per attack of an audit's JSON: AUC and its interval, TPR at 1% and 0.1% FPR, ε_lb."""
    rows = []
    for name, attack in audited["attacks"].items():
        m = attack["metrics"]
        rows.append({"attack": name, "auc": m["auc"], "auc_ci": m["auc_ci"],
                     "tpr_at_1pct_fpr": m["tpr_at_1pct_fpr"],
                     "tpr_at_0.1pct_fpr": m["tpr_at_0.1pct_fpr"],
                     "eps_lb": (m.get("eps_lower_bound") or {}).get("value")})  # fmt: skip
    return rows


def strong_audit(spec: dict[str, Any], families: list[str] | None, seeds: list[int] | None,
                 data: list[str] | None) -> dict[str, dict[str, Any]]:  # fmt: skip
    """run name -> its default rows (its audit.json, left as it is) and strong rows, for each
    finished confirm run of the slice; a run re-audited before (its audit_strong.json) is read
    back, not audited again."""
    from ganguard.audit import audit

    sweep = stage_sweep(spec, "confirm", families, seeds, data)
    fam = family_of(spec)
    figures = {}
    for run in sweep.runs:
        run_dir = sweep.path / "runs" / run.name
        if not (run_dir / "audit.json").exists():
            print(f"  not run  {run.name}: --stage confirm trains and audits it first", flush=True)
            continue
        if not (run_dir / STRONG_FILE).exists():
            audit(run_dir, attacks=list(STRONG_NO_SHADOWS), k=spec["sweep"]["audit_k"],
                  plots=False, out=run_dir / STRONG_FILE)  # fmt: skip
        data_name, setting = run.variant.split("_", 1)
        strong = json.loads((run_dir / STRONG_FILE).read_text())
        figures[run.name] = {
            "data": data_name, "family": fam[setting], "setting": setting,
            "seed": run.config["seed"],
            "default": audited_rows(json.loads((run_dir / "audit.json").read_text())),
            "strong": audited_rows(strong),  # and the strong attacks' own seconds:
            "seconds": round(sum(a["seconds"] for a in strong["attacks"].values()), 1),
        }  # fmt: skip
        print(f"  audited  {run.name}", flush=True)
    return figures


def strong_markdown(runs: dict[str, dict[str, Any]], order: Callable[[str], tuple]) -> str:
    """Per setting (mean ± std over its runs) and per run: the best of the default five, the best
    strong attack, and the best of all, counted at chance as the goal counts it (the interval
    holds 0.5 and TPR@1%FPR ≤ 0.02)."""
    from ganguard.metrics.attack_metrics import at_chance

    best = lambda rows: best_row({"rows": rows})  # noqa: E731
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else None  # noqa: E731
    every = lambda r: r["default"] + r["strong"]  # noqa: E731  a run's rows, all eight attacks
    names = sorted(runs, key=order)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name in names:
        r = runs[name]
        groups.setdefault((r["data"], r["setting"]), []).append(r)
    summary = []
    for (data_name, setting), group in groups.items():
        rows = [m for r in group for m in every(r)]
        bests = [best(every(r)) for r in group]
        aucs = [b["auc"] for b in bests]
        tprs = [b["tpr_at_1pct_fpr"] for b in bests]
        leaders = sorted({b["attack"] for b in bests})
        summary.append([data_name, f"`{setting}`", str(len(group)),
                        plus_minus(statistics.mean(aucs), sd(aucs)),
                        f"{sum(at_chance(b) for b in bests)}/{len(group)}",
                        f"{sum(all(map(at_chance, every(r))) for r in group)}/{len(group)}",
                        plus_minus(statistics.mean(tprs), sd(tprs)),
                        number(most_found(rows)["tpr_at_1pct_fpr"]),
                        number(max(m["eps_lb"] or 0.0 for m in rows), 2),
                        ", ".join(f"`{a}`" for a in leaders)])  # fmt: skip
    per_run = []
    for name in names:
        r = runs[name]
        top, most = best(every(r)), most_found(every(r))
        per_run.append([name, attack_cell(best(r["default"])), attack_cell(best(r["strong"])),
                        attack_cell(top), "yes" if at_chance(top) else "no",
                        "yes" if all(map(at_chance, every(r))) else "no",
                        f"`{most['attack']}` {number(most['tpr_at_1pct_fpr'])}",
                        number(top["eps_lb"], 2)])  # fmt: skip
    lines = ["# The strong auditor on the confirm stage's runs", "",
             f"Each run's default audit (the five attacks of the confirm tables) beside "
             f"{', '.join(f'`{a}`' for a in STRONG_NO_SHADOWS)} (`--stage strong`). At chance: "
             "the best attack's 95% interval holds 0.5 and it finds at most 2% of the members "
             "at 1% FPR. Every attack at chance: each of the default five and the strong ones "
             "is, the stricter count of a reviewer who takes any attack's finding (an attack "
             "with no signal fails the rule in 10–25% of audits at 1 000 to 200 members, "
             "`benchmarks/null_rates.py`, so one of eight fails it often); most found: the "
             "highest TPR@1%FPR of any attack, the best by AUC or not; max ε_lb: the largest ε "
             "lower bound of any attack in any run of the setting (SPEC §5.1).", "",
             markdown(["data", "setting", "runs", "best of every attack", "at chance",
                       "every attack at chance", "TPR@1%FPR", "most found at 1% FPR",
                       "max ε_lb", "attacks that lead"], summary), "",
             markdown(["run", "best of the default five", "best strong attack",
                       "best of every attack", "at chance", "every attack at chance",
                       "most found at 1% FPR", "its ε_lb"], per_run)]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_strong(spec: dict[str, Any], figures: dict[str, dict[str, Any]], command: str,
                 seconds: float) -> None:  # fmt: skip
    """Merge `figures` into the committed privacy_utility_strong.json (a run audited here
    replaces its committed entry) and rewrite its Markdown."""
    path = RESULTS / "privacy_utility_strong.json"
    meta = json.loads(path.read_text()) if path.exists() else {"invocations": [], "runs": {}}
    meta["runs"].update(figures)
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    meta["invocations"].append({"command": command, "wall_seconds": round(seconds, 1),
                                "finished": finished, "machine": f"{os.cpu_count()} CPUs"})
    meta["attacks"] = list(STRONG_NO_SHADOWS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(meta, indent=2) + "\n")
    path.with_suffix(".md").write_text(strong_markdown(meta["runs"], run_order(spec)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["screen", "confirm", "strong", "tables", "plots"],
                        required=True)  # fmt: skip
    parser.add_argument("--families", help="only these families (comma-separated)")
    parser.add_argument("--seeds", help="override the stage's seeds (comma-separated)")
    parser.add_argument("--data", help="confirm: only these entries of confirm.data")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--address")
    parser.add_argument("--spec", type=Path, default=SPEC_FILE)
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    command = "python benchmarks/privacy_utility.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))  # noqa: E501
    if args.stage == "plots":  # the plots, from the committed tables alone
        for stage in ("screen", "confirm"):
            rows = committed_rows(stage)
            png = endpoints_png(rows, family_of(spec), stage)
            (RESULTS / f"privacy_utility_{stage}_endpoints.png").write_bytes(png)
            curves = json.loads((RESULTS / f"privacy_utility_{stage}.json").read_text())
            curves = curves.get("curves")  # kept since the tables of 2026-12-01 only
            if curves:
                results = [{"status": "ok", "name": r["run"], "variant": r["variant"],
                            "row": r, "curve": curves[r["run"]]}
                           for r in rows if r["run"] in curves]  # fmt: skip
                png = frontier_png(results, family_of(spec), f"{stage}: along training")
                (RESULTS / f"privacy_utility_{stage}_curves.png").write_bytes(png)
        return 0
    if args.stage == "tables":
        for stage in ("screen", "confirm"):
            if (WORK / stage / "runs").is_dir():
                write_results(stage, spec, command, None)
        strong = RESULTS / "privacy_utility_strong.json"
        if strong.exists():  # its table, from the committed figures alone
            runs = json.loads(strong.read_text())["runs"]
            strong.with_suffix(".md").write_text(strong_markdown(runs, run_order(spec)))
        return 0
    families = args.families.split(",") if args.families else None
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    data = args.data.split(",") if args.data else None
    if args.stage == "strong":
        started = time.perf_counter()
        try:
            figures = strong_audit(spec, families, seeds, data)
        except GanguardError as error:  # e.g. a run the audit refuses
            print(f"error: {error}", file=sys.stderr)
            return 2
        if figures:
            write_strong(spec, figures, command, time.perf_counter() - started)
        return 0
    sweep = stage_sweep(spec, args.stage, families, seeds, data)
    print(f"{args.stage}: {len(sweep.runs)} runs in {sweep.path}", flush=True)

    def report(result: dict[str, Any]) -> None:
        row = result.get("row") or {}
        state = "skipped" if result.get("skipped") else result.get("status")
        print(f"  {state:8s} {result.get('name')}: AUC {row.get('best_auc')} FID {row.get('fid')} "
              f"{result.get('error', '')}", flush=True)  # fmt: skip

    started = time.perf_counter()
    try:
        run_sweep(sweep, args.executor, args.workers, args.address, report)
    except GanguardError as error:  # e.g. a finished run the file no longer describes
        print(f"error: {error}", file=sys.stderr)
        return 2
    write_results(args.stage, spec, command, time.perf_counter() - started, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
