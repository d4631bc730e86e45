"""The table that counts (issue 20, item 4): for each data set, number of members and network,
every method with its best setting over its seeds, from the committed results of the three
benchmarks that trained and audited them. Nothing is trained or audited here.

    python benchmarks/evidence_table.py      # writes results/evidence_table.md and .csv

Sources (all under benchmarks/results/): `privacy_utility_confirm.csv` with the strong audit of
the same runs in `privacy_utility_strong.json` (SPEC §3's MLP, 5 000 steps: mnist-5k with 500 and
2 000 members, fashion-mnist with 2 000), `strong_audit_methods.json` (the same MLP on 200
mnist-5k members, 4 000 steps: where the samples leak) and `tabular_methods.json` (adult,
breast-cancer). A method's setting is chosen on its runs' means as the screen chooses (SPEC §9):
of the settings run with the most seeds and audited with the most attacks, the lowest best-attack
AUC among those within the quality bar (FID ≤ 1.25 × the GAN's; for tables, TSTR AUC at least the
GAN's − 0.03), else the best quality among those at chance in some seed, else the lowest AUC; the
GAN enters at its best quality. A method with no run in a block gets a row that says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit_rows import QUALITY_FACTOR, best_row, most_found

RESULTS = Path(__file__).resolve().parent / "results"
TSTR_MARGIN = 0.03  # issue 21: a table's defence is at the GAN's quality within 0.03 TSTR AUC
# the rows of every block, in this order
ROLES = ("GAN", "GAN + augmentation", "MEGAN, R private", "MEGAN, R public", "MIMGAN, R private",
         "MIMGAN, R public", "DP-GAN, ε = 10", "DP-GAN, ε = 1", "PrivGAN", "PAR-GAN",
         "CTGAN")  # fmt: skip
MLP = "SPEC §3 MLP"
DCGAN = "shipped DCGAN"
# why a block has no run of a method, where there is a reason beyond "not run yet"
NOT_RUN = {
    ("breast-cancer", "MEGAN, R public"): "no public collection of this table",
    ("breast-cancer", "MIMGAN, R public"): "no public collection of this table",
}
DCGAN_NOT_RUN = "a GPU's work; none was lent (the DCGAN trial: benchmarks/README.md)"
# `train.augment` is DiffAugment, which acts on images: the GAN on a table has no such row to run
NO_TABLE_AUGMENTATION = "DiffAugment (`train.augment`) acts on images, not on tables"


def why_not_run(data: str, network: str, role: str) -> str:
    """The reason a block has no run of a role: a known one, or that none has run yet."""
    if network == "tabular MLP" and role == "GAN + augmentation":
        return NO_TABLE_AUGMENTATION
    return NOT_RUN.get((data, role), "no run of it in this block yet")


@dataclass
class Run:
    """One trained and audited run, as the table reads it."""

    data: str
    n: int
    network: str
    role: str
    setting: str
    seed: int
    rows: list[dict[str, Any]]  # one per attack: attack, auc, auc_ci, tpr_at_1pct_fpr, ...
    fid: float | None = None
    inception_fid: float | None = None
    recall: float | None = None
    tstr_auc: float | None = None
    epsilon: float | None = None
    train_s: float | None = None
    source: str = ""


def role(method: str, public: bool = False, augmented: bool = False,
         epsilon: float | None = None) -> str:  # fmt: skip
    """The row a run belongs to: its method, with R's origin for MEGAN and MIMGAN, the target ε
    for DP-GAN and whether the GAN trains on augmented members."""
    if method == "gan":
        return "GAN + augmentation" if augmented else "GAN"
    if method in ("megan", "mimgan"):
        return f"{method.upper()}, R {'public' if public else 'private'}"
    if method == "dpgan":
        if epsilon is None:
            raise ValueError("a DP-GAN run without a target ε")
        return f"DP-GAN, ε = {epsilon:g}"
    names = {"privgan": "PrivGAN", "pargan": "PAR-GAN", "ctgan": "CTGAN"}
    if method not in names:
        raise ValueError(f"unknown method {method!r}")
    return names[method]


def parsed_overrides(overrides: list[str]) -> dict[str, Any]:
    """`key=value` overrides (values in YAML) as a dict; the last of a key wins."""
    import yaml

    out = {}
    for item in overrides:
        key, _, value = item.partition("=")
        out[key.strip()] = yaml.safe_load(value)
    return out


def role_of_overrides(overrides: list[str], base_method: str = "megan") -> str:
    """The role of a run made by overriding a config whose method is `base_method`."""
    o = parsed_overrides(overrides)
    method = o.get("method") or {"name": base_method}
    return role(method["name"], public="data.reference_data" in o,
                augmented=bool(o.get("train.augment")), epsilon=method.get("target_epsilon"))


# -- the sources ---------------------------------------------------------------------------------
CSV_ATTACKS = ("logan_wb", "logan_bb", "ganleaks_fbb", "montecarlo", "domias")


def _float(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def csv_rows(line: dict[str, str]) -> list[dict[str, Any]]:
    """A confirm CSV line's five attacks as audited rows; the CSV keeps the interval of the best
    attack only, so the others have none (and no ε_lb)."""
    rows = []
    for a in CSV_ATTACKS:
        best = a == line["best_attack"]
        rows.append({"attack": a, "auc": float(line[f"auc_{a}"]),
                     "auc_ci": [float(line["best_auc_lo"]), float(line["best_auc_hi"])]
                     if best else None,
                     "tpr_at_1pct_fpr": _float(line[f"tpr1_{a}"]), "tpr_at_0.1pct_fpr": None,
                     "eps_lb": None})  # fmt: skip
    return rows


def from_privacy_utility(results: Path) -> list[Run]:
    """The confirm stage's runs, each with its strong audit where `--stage strong` ran on it."""
    from privacy_utility import load_spec, setting_changes

    spec = load_spec()
    strong = json.loads((results / "privacy_utility_strong.json").read_text())["runs"]
    runs = []
    with (results / "privacy_utility_confirm.csv").open() as f:
        for line in csv.DictReader(f):
            data_name, setting = line["variant"].split("_", 1)
            changes = setting_changes(spec, setting)
            method = changes["method"]
            audited = strong.get(line["run"])
            rows = audited["default"] + audited["strong"] if audited else csv_rows(line)
            runs.append(Run(
                data=line["dataset"], n=int(line["n"]), network=MLP,
                role=role(method["name"], changes.get("data.reference_data") == "public",
                          bool(changes.get("train.augment")), method.get("target_epsilon")),
                setting=setting, seed=int(line["seed"]), rows=rows, fid=_float(line["fid"]),
                inception_fid=_float(line["inception_fid"]), recall=_float(line["recall"]),
                epsilon=_float(line["epsilon"]), train_s=_float(line["train_seconds"]),
                source="privacy_utility_strong.json" if audited else
                "privacy_utility_confirm.csv"))  # fmt: skip
    return runs


def from_strong_audit(results: Path) -> list[Run]:
    """Stage `methods` of strong_audit.py: configs/demo.yaml (MEGAN) overridden per setting."""
    figures = json.loads((results / "strong_audit_methods.json").read_text())
    runs = []
    for s in figures["settings"]:
        u = s.get("utility") or {}
        runs.append(Run(data="mnist-5k", n=s["members"], network=MLP,
                        role=role_of_overrides(s["overrides"]), setting=s["setting"],
                        seed=s.get("seed", 0), rows=s["rows"], fid=u.get("fid"),
                        recall=u.get("recall"),
                        epsilon=(s.get("accountant") or {}).get("epsilon"), train_s=s["train_s"],
                        source="strong_audit_methods.json"))  # fmt: skip
    return runs


def from_tabular(results: Path) -> list[Run]:
    """tabular.py's methods: configs/demo-adult.yaml (MEGAN) overridden per setting, and CTGAN."""
    figures = json.loads((results / "tabular_methods.json").read_text())
    runs = []
    for s in figures["settings"]:
        generated = (s.get("utility") or {}).get("generated") or {}
        data = s["data"].split("-250")[0]  # adult-250: adult's records, 250 members
        runs.append(Run(data=data, n=s["n_members"], network="tabular MLP",
                        role="CTGAN" if s["setting"] == "ctgan"
                        else role_of_overrides(s["overrides"]),
                        setting=s["setting"], seed=s["seed"], rows=s["rows"],
                        tstr_auc=generated.get("tstr_auc"),
                        epsilon=(s.get("accountant") or {}).get("epsilon"), train_s=s["train_s"],
                        source="tabular_methods.json"))  # fmt: skip
    return runs


def all_runs(results: Path = RESULTS) -> list[Run]:
    return from_privacy_utility(results) + from_strong_audit(results) + from_tabular(results)


# -- one row per method ----------------------------------------------------------------------
def common_attacks(runs: list[Run]) -> set[str]:
    """The attacks every run of `runs` was audited with (seeds compare on these)."""
    return set.intersection(*({r["attack"] for r in run.rows} for run in runs))


def best_of(run: Run, among: set[str]) -> dict[str, Any]:
    return best_row({"rows": run.rows}, tuple(sorted(among)))


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def quality(runs: list[Run]) -> float | None:
    """The setting's mean quality, higher is better: −FID for images, TSTR AUC for tables."""
    return _mean([run_quality(r) for r in runs])


def quality_bar(gan: list[Run] | None) -> float | None:
    """The quality a defence must reach in the block (on `quality`'s scale): 1.25 × the GAN's
    mean FID, or the GAN's mean TSTR AUC − 0.03; None without a GAN."""
    q = quality(gan) if gan else None
    if q is None:
        return None
    return q * QUALITY_FACTOR if gan[0].fid is not None else q - TSTR_MARGIN


def run_quality(run: Run) -> float | None:
    return -run.fid if run.fid is not None else run.tstr_auc


def at_chance(row: dict[str, Any]) -> bool | None:
    """The benchmarks' rule (interval holds 0.5, TPR@1%FPR ≤ 2%); None without an interval."""
    from ganguard.metrics.attack_metrics import at_chance as rule

    return None if row.get("auc_ci") is None else rule(row)


def choose_setting(settings: dict[str, list[Run]], bar: float | None, is_gan: bool) -> str:
    """The setting a method enters the table with (the module's text says how)."""
    most = max((len(rs), len(common_attacks(rs))) for rs in settings.values())
    tier = {k: rs for k, rs in settings.items() if (len(rs), len(common_attacks(rs))) == most}

    def auc(k: str) -> float:
        rs = tier[k]
        return statistics.fmean(best_of(r, common_attacks(rs))["auc"] for r in rs)

    def q(k: str) -> float:
        v = quality(tier[k])
        return -float("inf") if v is None else v

    if is_gan:
        return max(tier, key=q)
    good = [k for k in tier if bar is not None and q(k) >= bar]
    if good:
        return min(good, key=lambda k: (auc(k), -q(k)))
    private = [k for k in tier if any(at_chance(best_of(r, common_attacks(tier[k])))
                                      for r in tier[k])]  # fmt: skip
    if private:
        return max(private, key=q)
    return min(tier, key=auc)


def method_row(runs: list[Run], bar: float | None) -> dict[str, Any]:
    """The figures of one method's chosen setting over its seeds."""
    runs = sorted(runs, key=lambda r: r.seed)
    among = common_attacks(runs)
    bests = [best_of(r, among) for r in runs]
    chance = [at_chance(b) for b in bests]
    every = [None if any(at_chance(m) is None for m in r.rows if m["attack"] in among)
             else all(at_chance(m) for m in r.rows if m["attack"] in among) for r in runs]
    worst = max(range(len(runs)), key=lambda i: bests[i]["auc"])
    rows = [m for r in runs for m in r.rows if m["attack"] in among]
    found = most_found(rows)
    extra = [(r.seed, m) for r in runs for m in r.rows if m["attack"] not in among]
    beyond = max(extra, key=lambda e: e[1]["auc"]) if extra else None
    bounds = [m["eps_lb"] for m in rows if m.get("eps_lb") is not None]
    qualities = [run_quality(r) for r in runs]
    matched_q = [b["auc"] for b, q in zip(bests, qualities, strict=True)
                 if bar is not None and q is not None and q >= bar]  # fmt: skip
    matched_p = [r for r, c in zip(runs, chance, strict=True) if c]
    return {
        "seeds": [r.seed for r in runs], "n_attacks": len(among),
        "leaders": Counter(b["attack"] for b in bests).most_common(),
        "auc": [b["auc"] for b in bests], "worst": bests[worst], "worst_seed": runs[worst].seed,
        "at_chance": chance, "every_at_chance": every,
        "tpr1": [b["tpr_at_1pct_fpr"] for b in bests],
        "tpr01": [b.get("tpr_at_0.1pct_fpr") for b in bests],
        "most_found": found, "eps_lb": max(bounds) if bounds else None,
        "beyond": beyond, "fid": [r.fid for r in runs],
        "inception_fid": [r.inception_fid for r in runs], "recall": [r.recall for r in runs],
        "tstr_auc": [r.tstr_auc for r in runs], "epsilon": [r.epsilon for r in runs],
        "train_s": [r.train_s for r in runs], "matched_quality": matched_q,
        "matched_privacy": [run_quality(r) for r in matched_p], "source": runs[0].source,
    }  # fmt: skip


Block = tuple[str, int, str]  # data set, members, network


def blocks(runs: list[Run]) -> dict[Block, dict[str, dict[str, list[Run]]]]:
    """(data, n, network) -> role -> setting -> its runs (`block_order` orders the entries)."""
    out: dict[Block, dict[str, dict[str, list[Run]]]] = {}
    for r in runs:
        out.setdefault((r.data, r.n, r.network), {}).setdefault(r.role, {}) \
            .setdefault(r.setting, []).append(r)
    return out


NETWORKS = (MLP, DCGAN, "tabular MLP")
DATA = ("mnist-5k", "fashion-mnist", "adult", "breast-cancer")


def block_order(e: dict[str, Any]) -> tuple:
    """Images before tables, the MLP before the DCGAN, mnist-5k first, fewer members first."""
    rank = lambda seq, x: seq.index(x) if x in seq else len(seq)  # noqa: E731
    return rank(NETWORKS, e["network"]), rank(DATA, e["data"]), e["data"], e["n"]


def table(runs: list[Run]) -> list[dict[str, Any]]:
    """One entry per block and role (every role of ROLES that the block's kind has): the chosen
    setting's figures, or `not_run` with the reason."""
    entries = []
    for (data, n, network), roles in blocks(runs).items():
        gan = roles.get("GAN")
        bar = quality_bar(gan[choose_setting(gan, None, True)] if gan else None)
        tabular = network == "tabular MLP"
        for name in ROLES:
            base = {"data": data, "n": n, "network": network, "role": name, "bar": bar}
            if name == "CTGAN" and not tabular:
                continue
            if name not in roles:
                entries.append({**base, "not_run": why_not_run(data, network, name)})
                continue
            chosen = choose_setting(roles[name], bar, name == "GAN")
            entries.append({**base, "setting": chosen, "tried": len(roles[name]),
                            "runs": roles[name][chosen],
                            **method_row(roles[name][chosen], bar)})  # fmt: skip
    for data, n in (("mnist-5k", 200), ("mnist-5k", 500)):
        entries += [{"data": data, "n": n, "network": DCGAN, "role": name, "bar": None,
                     "not_run": DCGAN_NOT_RUN} for name in ROLES if name != "CTGAN"]
    return sorted(entries, key=block_order)  # stable: the roles keep ROLES' order


# -- writing ---------------------------------------------------------------------------------
def _count(flags: list[bool | None]) -> str:
    if any(f is None for f in flags):
        return "–"
    return f"{sum(flags)}/{len(flags)}"


def cells(e: dict[str, Any]) -> list[str]:
    """An entry's Markdown cells, in HEAD's order."""
    from ganguard.tables import mean_sd, number

    if "not_run" in e:
        return [e["role"], f"not run: {e['not_run']}", *["–"] * (len(HEAD) - 2)]
    w = e["worst"]
    lo, hi = w["auc_ci"] if w.get("auc_ci") else (None, None)
    beyond = e["beyond"]
    mf = e["most_found"]
    return [
        e["role"], f"`{e['setting']}` (of {e['tried']})",
        f"{len(e['seeds'])}; {e['n_attacks']}",
        ", ".join(f"`{a}` ({k})" for a, k in e["leaders"]),
        mean_sd(e["auc"]),
        f"{number(w['auc'])} [{number(lo)}, {number(hi)}] (seed {e['worst_seed']})",
        _count(e["at_chance"]), _count(e["every_at_chance"]), mean_sd(e["tpr1"]),
        mean_sd(e["tpr01"]), f"`{mf['attack']}` {number(mf['tpr_at_1pct_fpr'])}",
        number(e["eps_lb"], 2),
        f"`{beyond[1]['attack']}` {number(beyond[1]['auc'])} (seed {beyond[0]})" if beyond
        else "–",
        mean_sd(e["fid"], 1), mean_sd(e["inception_fid"], 1), mean_sd(e["recall"]),
        mean_sd(e["tstr_auc"]), mean_sd(e["epsilon"], 2), mean_sd(e["train_s"], 0),
    ]  # fmt: skip


HEAD = ["method", "setting (of those run)", "seeds; attacks", "best attack (seeds it led)",
        "best AUC", "worst seed [95%]", "at chance", "every attack at chance", "TPR@1%FPR",
        "TPR@0.1%FPR", "most found at 1% FPR", "max ε_lb", "beyond these attacks",
        "FID", "Inception FID", "recall", "TSTR AUC", "ε", "train s"]  # fmt: skip


def matched_cells(e: dict[str, Any]) -> list[str]:
    from ganguard.tables import mean_sd

    if "not_run" in e:
        return [e["role"], "–", "–"]
    n = len(e["seeds"])
    sign = -1.0 if e["fid"][0] is not None else 1.0  # back from `quality`'s scale
    return [e["role"], f"{mean_sd(e['matched_quality'])} ({len(e['matched_quality'])}/{n})",
            f"{mean_sd([sign * q for q in e['matched_privacy']], 3 if sign > 0 else 1)} "
            f"({len(e['matched_privacy'])}/{n})"]  # fmt: skip


LEAD = """# The table that counts

Every method with its best setting, for each data set, number of members and network; written by
`python benchmarks/evidence_table.py` from the committed results (what each source's command and
machine were: benchmarks/README.md). Best attack: of the attacks every seed of the setting was
audited with (`seeds; attacks`), the one with the highest AUC, per seed; its AUC mean ± sd; the
worst seed's 95% interval. At chance: that attack's interval holds 0.5 and TPR@1%FPR ≤ 2%; every
attack at chance: each of them is (– where the source kept only the best attack's interval: the
confirm CSV's runs, audited with the default five only). TPR@0.1%FPR: – where fewer than 1 000
non-members leave it unresolved. Most found: the highest TPR@1%FPR of any of these attacks in any
seed; max ε_lb: the largest ε lower bound (SPEC §5.1). Beyond these attacks: the best of the
attacks only some seeds ran (the shadow attacks, seed 0). FID: domain FID of the benchmark's
samples against H (not comparable across blocks); TSTR AUC: train on synthetic, test on real
(tables); ε: the accountant's (DP-GAN). A setting is chosen as `benchmarks/evidence_table.py`
says (the screen's rule on the seeds' means); `of those run`: how many settings of that method the
block has. The DP-GAN anchor on 60 000 MNIST digits (Inception FID, train-on-synthetic accuracy;
one seed, not audited) is in `dp_anchor.md`.
"""


def markdown_text(entries: list[dict[str, Any]]) -> str:
    from ganguard.tables import markdown, number

    lines = [LEAD]
    keys = list(dict.fromkeys((e["data"], e["n"], e["network"]) for e in entries))
    for key in keys:
        mine = [e for e in entries if (e["data"], e["n"], e["network"]) == key]
        data, n, network = key
        lines += [f"## {data}, {n} members, {network}", "",
                  markdown(HEAD, [cells(e) for e in mine]), ""]  # fmt: skip
        bar = mine[0]["bar"]
        if bar is None:
            continue
        fid = any("fid" in e and e["fid"][0] is not None for e in mine)
        what = (f"FID ≤ {number(-bar, 1)} (1.25 × the GAN's mean)" if fid else
                f"TSTR AUC ≥ {number(bar)} (the GAN's mean − 0.03)")
        lines += [f"Matched quality: the best attack's AUC of the seeds with {what}; matched "
                  f"privacy: the {'FID' if fid else 'TSTR AUC'} of the seeds at chance "
                  "(SPEC §9, on the runs' end points).", "",
                  markdown(["method", "AUC at matched quality (seeds)",
                            f"{'FID' if fid else 'TSTR AUC'} at matched privacy (seeds)"],
                           [matched_cells(e) for e in mine]), ""]  # fmt: skip
    return "\n".join(lines)


def csv_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat line per entry (means over seeds), for a DataFrame."""
    out = []
    for e in entries:
        line = {k: e[k] for k in ("data", "n", "network", "role")}
        if "not_run" in e:
            out.append({**line, "not_run": e["not_run"]})
            continue
        w = e["worst"]
        out.append({**line, "setting": e["setting"], "seeds": len(e["seeds"]),
                    "attacks": e["n_attacks"], "best_attack": e["leaders"][0][0],
                    "best_auc": _mean(e["auc"]), "worst_auc": w["auc"],
                    "worst_auc_lo": (w.get("auc_ci") or [None])[0],
                    "worst_auc_hi": (w.get("auc_ci") or [None, None])[1],
                    "at_chance": _count(e["at_chance"]),
                    "every_attack_at_chance": _count(e["every_at_chance"]),
                    "tpr_at_1pct_fpr": _mean(e["tpr1"]), "tpr_at_0.1pct_fpr": _mean(e["tpr01"]),
                    "most_found_at_1pct_fpr": e["most_found"]["tpr_at_1pct_fpr"],
                    "max_eps_lb": e["eps_lb"], "fid": _mean(e["fid"]),
                    "inception_fid": _mean(e["inception_fid"]), "recall": _mean(e["recall"]),
                    "tstr_auc": _mean(e["tstr_auc"]), "epsilon": _mean(e["epsilon"]),
                    "train_s": _mean(e["train_s"]), "source": e["source"]})  # fmt: skip
    return out


def points(entries: list[dict[str, Any]], tables: bool) -> list[Any]:
    """Each chosen setting's runs as points of the library's privacy–utility plot: the best
    attack's AUC (of the attacks every seed ran) against FID, or TSTR AUC for tables; a panel per
    block, a marker per method."""
    from ganguard.report.curves import FID_AXIS, UTILITY_AXES, TradeoffPoint

    tstr = next(a for a in UTILITY_AXES if a.key == "tstr_auc")
    out = []
    for e in entries:
        if "not_run" in e or (e["network"] == "tabular MLP") != tables:
            continue
        panel = f"{e['data']}, n = {e['n']}"
        for run, auc in zip(e["runs"], e["auc"], strict=True):
            value, axis = (run.tstr_auc, tstr) if tables else (run.fid, FID_AXIS)
            if value is not None:
                out.append(TradeoffPoint(e["role"], panel, value, auc, axis))
    return out


def write(entries: list[dict[str, Any]], stem: Path) -> None:
    """The .md, the .csv and the two plots (images, tables) of `entries`."""
    import pandas as pd

    from ganguard.report.curves import privacy_utility_png

    Path(f"{stem}.md").write_text(markdown_text(entries))
    pd.DataFrame(csv_lines(entries)).to_csv(f"{stem}.csv", index=False)
    for kind, tables in (("images", False), ("tables", True)):
        found = points(entries, tables)
        if found:
            Path(f"{stem}_{kind}.png").write_bytes(
                privacy_utility_png(found, fid_name="domain FID (samples against H)", order=ROLES))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="where the sources are read (default: benchmarks/results)")
    parser.add_argument("--out", type=Path, default=None,
                        help="stem of the .md and .csv written (default: RESULTS/evidence_table)")
    args = parser.parse_args(argv)
    entries = table(all_runs(args.results))
    stem = args.out or args.results / "evidence_table"
    write(entries, stem)
    print(f"{stem}.md, {stem}.csv: {sum('not_run' not in e for e in entries)} methods with runs, "
          f"{sum('not_run' in e for e in entries)} not run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
