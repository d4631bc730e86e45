"""Tables: the encoding's speed, a 5 000-step run's, and every method on UCI Adult and breast
cancer, audited from the samples and the networks and measured for tabular utility.

Stage `speed`: encoding all 48 842 records of `adult` (the quantile transform ganguard uses,
against CTGAN's mode-specific normalisation, a variational Gaussian mixture of 10 modes per
numeric column, fitted on the same records), and a 5 000-step GAN run on 1 000 members.
Stage `methods`: `configs/demo-adult.yaml`'s networks, 5 000 steps, on adult with 1 000 members
(and 250: `adult-250`) and on breast-cancer with 300, per seed: the GAN; MEGAN's and MIMGAN's
defaults with R private and (adult, adult-250) R public, taken from adult's own test file;
DP-GAN at ε = 10 and 1; PrivGAN; PAR-GAN; and CTGAN (`pip install "ganguard[ctgan]"`),
trained on the same members and audited from its samples like any outside generator. Each is
audited with the
default attacks and the strong ones that need no shadow model (`dcr_ratio`, `gen_lra`; CTGAN
from its samples only) and measured with `ganguard evaluate` (train-on-synthetic AUC on T,
column shapes, pair trends, detection AUC).

    python benchmarks/tabular.py --stage speed
    python benchmarks/tabular.py --stage methods --seeds 0 [--only adult/gan,adult/megan]
    python benchmarks/tabular.py --stage methods --only adult-250/gan --with-shadows   # + LiRA
    python benchmarks/tabular.py --stage methods --tables   # the .md from the .json alone

Runs are kept in --work (a finished run is reused); figures go to
benchmarks/results/tabular_<stage>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from audit_rows import best_row, with_shadows

ROOT = Path(__file__).parents[1]
BASE = ROOT / "src" / "ganguard" / "configs" / "demo-adult.yaml"
COMMON = ["train.steps=5000", "train.progress=false", "train.log_every=1000",
          "train.checkpoint_every=5000"]  # fmt: skip
NO_SN = "model.spectral_norm=false"
DATA = {
    "adult": ["data.name=adult", "data.n_members=1000", "data.n_holdout=1000",
              "data.n_reference=3000", "data.n_test=2000"],
    # a quarter of the members: where the GAN's members leak once its encoding lets it
    # model adult's spikes (with 1 000 its best attack stayed at 0.59)
    "adult-250": ["data.name=adult", "data.n_members=250", "data.n_holdout=250",
                  "data.n_reference=3000", "data.n_test=2000"],
    "breast-cancer": ["data.name=breast-cancer", "data.n_members=300", "data.n_holdout=100",
                      "data.n_reference=100", "data.n_test=69"],
}  # fmt: skip
# R from adult's own test file, none of whose records is in the members' file
PUBLIC_R = ["data.name=adult-train", "data.reference_data=adult-test", "data.n_reference=10000"]
SETTINGS: dict[str, list[str]] = {
    "gan": ["method={name: gan}"],
    "megan": [],
    "megan-public": PUBLIC_R,
    "mimgan": ["method={name: mimgan}"],
    "mimgan-public": ["method={name: mimgan}", *PUBLIC_R],
    "dpgan-eps10": ["method={name: dpgan, target_epsilon: 10}", NO_SN],
    "dpgan-eps1": ["method={name: dpgan, target_epsilon: 1}", NO_SN],
    "privgan": ["method={name: privgan}"],
    "pargan": ["method={name: pargan}"],
    # breast-cancer, where the defaults stay above chance (dcr_ratio leads: the leak is in the
    # samples): MEGAN's term at 4 and 8 × its weight; MIMGAN's generator term at 10 × (β = 1),
    # and with its discriminator term at 4 × too
    "megan-l200": ["method={name: megan, lam: 200}"],
    "megan-l400": ["method={name: megan, lam: 400}"],
    "mimgan-b1": ["method={name: mimgan, beta: 1}"],
    "mimgan-b1-dlam200": ["method={name: mimgan, beta: 1, discriminator_lam: 200}"],
    "ctgan": [],  # trained by the ctgan package on the same members
}
# the default attacks and the strong ones without shadow models: every run has them, so the
# tables over seeds compare runs on these (`--with-shadows` runs the shadow attacks on top)
COMPARABLE = ("logan_wb", "logan_bb", "ganleaks_fbb", "montecarlo", "domias", "dcr_ratio",
              "gen_lra")  # fmt: skip
ATTACKS = ",".join(COMPARABLE)
SAMPLE_ATTACKS = "logan_bb,ganleaks_fbb,montecarlo,domias,dcr_ratio,gen_lra"


def rows_of(result: Any) -> list[dict[str, Any]]:  # noqa: ANN401 - an AuditResult
    out = []
    for attack, r in result.attacks.items():
        m = r.metrics
        out.append({"attack": attack, "auc": m["auc"], "auc_ci": m["auc_ci"],
                    "tpr_at_1pct_fpr": m["tpr_at_1pct_fpr"],
                    "tpr_at_0.1pct_fpr": m["tpr_at_0.1pct_fpr"],
                    "eps_lb": (m["eps_lower_bound"] or {}).get("value"),
                    "seconds": r.seconds})  # fmt: skip
    return out


def without_pairs(setting: dict[str, Any]) -> None:
    """Drop the per-pair trends from a setting's utility (hundreds of pairs per table: the
    committed JSON would grow past 2 MiB); each run's utility.json keeps them."""
    for part in (setting.get("utility") or {}).values():
        if isinstance(part, dict):
            part.pop("pair_trends_by_pair", None)


def has_public_r(data: str) -> bool:
    """Adult (any number of members) has a public R: its own test file; breast-cancer none."""
    return data.split("-")[0] == "adult"


def config_for(data: str, name: str, seed: int) -> Any:  # noqa: ANN401 - a Config
    from ganguard.config import load_config

    overrides = [*COMMON, *DATA[data], *SETTINGS[name], f"seed={seed}"]
    if name.endswith("-public") and not has_public_r(data):
        raise SystemExit(f"{data}/{name}: no public R for {data}")
    return load_config(BASE, overrides), overrides


def run_ganguard(data: str, name: str, seed: int, work: Path,
                 shadows: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Train (or reuse) the run, audit it (with `shadows`, a ShadowSettings dict: every attack,
    the shadow attacks included) and evaluate it."""
    from ganguard.audit import audit
    from ganguard.evaluate import evaluate
    from ganguard.train import train

    config, overrides = config_for(data, name, seed)
    run_dir = work / f"{data}_{name}_seed{seed}"
    if not (run_dir / "done").exists():
        train(config, run_dir, resume=(run_dir / "config.yaml").exists(), progress=False)
        (run_dir / "done").write_text("")
    trained = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])["time"]
    attacks = "default,strong" if shadows else ATTACKS
    result = audit(run_dir, attacks=attacks, plots=False, shadows=shadows)
    utility = evaluate(run_dir)
    return {"train_s": trained, "overrides": overrides, "rows": rows_of(result),
            "accountant": result.accountant, "utility": utility.table,
            "n_members": config.data.n_members, "attacks": attacks,
            "shadows": result.shadows}  # fmt: skip


def run_ctgan(data: str, seed: int, work: Path) -> dict[str, Any]:
    """CTGAN (its package's defaults, 300 epochs) on the run's members, audited from its samples
    against the run's holdout and reference, evaluated like a ganguard run's samples."""
    try:
        from ctgan import CTGAN
    except ImportError:
        raise SystemExit('the ctgan row needs: pip install "ganguard[ctgan]"') from None
    import torch

    from ganguard.audit import audit
    from ganguard.data import load_dataset
    from ganguard.data.split import run_split
    from ganguard.data.tabular import frame_from_matrix
    from ganguard.metrics.tabular_utility import tabular_utility

    config, overrides = config_for(data, "gan", seed)
    ds = load_dataset(config.data.name)
    split = run_split(ds, config.data)
    frame = lambda idx: frame_from_matrix(ds.x[idx, 0, 0], ds.schema)  # noqa: E731
    members, holdout = frame(split.members), frame(split.holdout)
    reference, test = frame(split.reference), frame(split.test)
    out = work / f"{data}_ctgan_seed{seed}"
    out.mkdir(parents=True, exist_ok=True)
    samples_file = out / "samples.csv"
    started = time.perf_counter()
    if not samples_file.exists():
        torch.manual_seed(seed)
        model = CTGAN(epochs=300, verbose=False)
        discrete = [c.name for c in ds.schema.columns if c.kind != "continuous"]
        model.fit(members, discrete_columns=discrete)
        model.sample(20_000).to_csv(samples_file, index=False)
        (out / "train_s").write_text(str(time.perf_counter() - started))
    samples = __import__("pandas").read_csv(samples_file)
    whole = {c: members[c].dtype for c in members if members[c].dtype.kind in "iu"}
    samples = samples.astype(whole)
    result = audit(samples=samples, members=members.iloc[: len(holdout)], nonmembers=holdout,
                   reference=reference, attacks=SAMPLE_ATTACKS, plots=False,
                   out=out / "audit.json")  # fmt: skip
    s = ds.schema
    utility = {"generated": tabular_utility(samples.iloc[:2000], members, test, s.kinds, s.target,
                                            seed),
               "floor": tabular_utility(holdout.iloc[:2000], members, test, s.kinds, s.target,
                                        seed)}  # fmt: skip
    return {"train_s": float((out / "train_s").read_text()), "overrides": ["ctgan: epochs=300"],
            "rows": rows_of(result), "accountant": None, "utility": utility,
            "n_members": len(members)}  # fmt: skip


def speed(out: Path, work: Path) -> dict[str, Any]:
    from sklearn.mixture import BayesianGaussianMixture

    from ganguard.data import load_dataset
    from ganguard.data.codec import TableCodec
    from ganguard.train import train

    started = time.perf_counter()
    ds = load_dataset("adult")
    read = time.perf_counter() - started
    matrix = ds.x[:, 0, 0]
    started = time.perf_counter()
    codec = TableCodec.fit(ds.schema, matrix)
    encoded = codec.encode(matrix)
    quantile = time.perf_counter() - started
    numeric = [j for j, c in enumerate(ds.schema.columns) if c.kind != "categorical"]
    started = time.perf_counter()
    for j in numeric:  # CTGAN's ClusterBasedNormalizer: 10 modes, weight prior 0.001
        bgm = BayesianGaussianMixture(n_components=10, weight_concentration_prior=0.001,
                                      max_iter=100, random_state=0)  # fmt: skip
        bgm.fit(matrix[:, j][:, None].astype(float))
    mixture = time.perf_counter() - started
    config, _ = config_for("adult", "gan", 0)
    run_dir = work / "speed_gan"
    started = time.perf_counter()
    train(config, run_dir, resume=(run_dir / "config.yaml").exists(), progress=False)
    run_s = time.perf_counter() - started
    return {"records": len(ds), "columns": len(ds.schema.columns), "width": encoded.shape[1],
            "read_s": read, "quantile_fit_and_encode_s": quantile,
            "mixture_fit_s": mixture, "numeric_columns": len(numeric),
            "gan_5000_steps_s": run_s, "gan_config": str(BASE.relative_to(ROOT)) + " "
            + " ".join(COMMON + DATA["adult"] + SETTINGS["gan"])}  # fmt: skip


def markdown(figures: dict[str, Any]) -> str:
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    if figures["stage"] == "speed":
        s = figures["speed"]
        return table(["figure", "value"], [
            ["records, columns -> encoded width",
             f"{s['records']}, {s['columns']} -> {s['width']}"],
            ["reading the table (s)", number(s["read_s"], 2)],
            ["quantile transform: fit and encode (s)",
             number(s["quantile_fit_and_encode_s"], 2)],
            [f"variational mixture, {s['numeric_columns']} columns: fit only (s)",
             number(s["mixture_fit_s"], 1)],
            ["GAN, 5 000 steps on 1 000 members (s)", number(s["gan_5000_steps_s"], 0)],
        ]) + f"\n{figures['machine']}\n"  # fmt: skip
    lead = ("Each row over its seeds (mean ± sd; at chance: the best attack's interval holds 0.5 "
            "and its TPR@1%FPR ≤ 2%); each run below.")
    head = ["data", "setting", "seed", "best attack", "AUC [95% CI]", "TPR@1%FPR", "max ε_lb",
            "TSTR AUC", "TRTR AUC", "shapes", "pairs", "detection", "ε (DP)", "train s"]
    rows = []
    for s in figures["settings"]:
        best = best_row(s)
        lo, hi = best["auc_ci"]
        g = (s.get("utility") or {}).get("generated") or {}
        eps = (s.get("accountant") or {}).get("epsilon")
        bounds = [r["eps_lb"] for r in s["rows"] if r["eps_lb"] is not None]
        rows.append([s["data"], s["setting"], str(s["seed"]), best["attack"],
                     f"{number(best['auc'])} [{number(lo)}, {number(hi)}]",
                     number(best["tpr_at_1pct_fpr"]), number(max(bounds)) if bounds else "–",
                     number(g.get("tstr_auc")), number(g.get("trtr_auc")),
                     number(g.get("column_shapes")), number(g.get("pair_trends")),
                     number(g.get("detection_auc")), number(eps, 2) if eps else "–",
                     number(s["train_s"], 0)])  # fmt: skip
    shadowed = with_shadows(figures, COMPARABLE, keys=("data", "setting"))
    shadowed = ("\n\nThe runs audited with the shadow attacks too (`--with-shadows`), against the "
                f"attacks every run has:\n\n{shadowed}") if shadowed else ""
    return f"{lead}\n\n{over_seeds(figures)}{shadowed}\n\n{table(head, rows)}\n"


def over_seeds(figures: dict[str, Any]) -> str:
    """One line per data set and setting: the attack that was best in most seeds (how often),
    the best attack's AUC per seed and mean ± sd, the seeds at chance, TPR@1%FPR, and the
    utility figures, DP's ε and the training time as mean ± sd; the attacks of COMPARABLE only,
    which every run has, so that seeds and settings compare."""
    from collections import Counter

    from ganguard.metrics.attack_metrics import at_chance
    from ganguard.tables import markdown as table
    from ganguard.tables import mean_sd, number

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for s in figures["settings"]:
        groups.setdefault((s["data"], s["setting"]), []).append(s)
    head = ["data", "setting", "seeds", "best attack (seeds)", "AUC per seed", "AUC",
            "at chance", "TPR@1%FPR", "TSTR AUC", "shapes", "pairs", "detection", "ε (DP)",
            "train s"]  # fmt: skip
    rows = []
    for (data, name), runs in groups.items():
        runs = sorted(runs, key=lambda s: s["seed"])
        best = [best_row(s, COMPARABLE) for s in runs]
        named = Counter(r["attack"] for r in best).most_common()
        g = [(s.get("utility") or {}).get("generated") or {} for s in runs]
        eps = [(s.get("accountant") or {}).get("epsilon") for s in runs]
        rows.append([data, name, "/".join(str(s["seed"]) for s in runs),
                     ", ".join(f"{a} ({k})" for a, k in named),
                     " / ".join(number(r["auc"]) for r in best),
                     mean_sd([r["auc"] for r in best]),
                     f"{sum(at_chance(r) for r in best)} of {len(best)}",
                     mean_sd([r["tpr_at_1pct_fpr"] for r in best]),
                     *(mean_sd([x.get(k) for x in g]) for k in
                       ("tstr_auc", "column_shapes", "pair_trends", "detection_auc")),
                     mean_sd(eps, 2), mean_sd([s["train_s"] for s in runs], 0)])  # fmt: skip
    return table(head, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["speed", "methods"], required=True)
    parser.add_argument("--only", help="comma-separated DATA/SETTING (default: all)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ganguard-tabular"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--with-shadows", action="store_true",
                        help="methods: the shadow attacks too (not ctgan: an outside generator)")
    parser.add_argument("--shadows", type=int, default=16, help="online shadow models")
    parser.add_argument("--workers", type=int, default=2, help="shadows trained at a time")
    parser.add_argument("--tables", action="store_true",
                        help="methods: only rewrite the .md from the .json (nothing runs)")
    args = parser.parse_args()
    from ganguard.devices import describe_machine

    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"tabular_{args.stage}"
    if args.stage == "speed":
        figures = {"stage": "speed", "speed": speed(out, work), "machine": describe_machine(),
                   "command": "python benchmarks/tabular.py --stage speed"}  # fmt: skip
        Path(f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
        Path(f"{stem}.md").write_text(markdown(figures))
        print(markdown(figures))
        return
    done = json.loads(Path(f"{stem}.json").read_text())["settings"] \
        if Path(f"{stem}.json").exists() else []  # fmt: skip
    figures: dict[str, Any] = {"stage": "methods", "settings": done}
    if args.tables:
        Path(f"{stem}.md").write_text(markdown(figures))
        return
    wanted = [(d, n) for d in DATA for n in SETTINGS
              if not (n.endswith("-public") and not has_public_r(d))]  # fmt: skip
    if args.only:
        wanted = [w for w in wanted if "/".join(w) in args.only.split(",")]
    for seed in (int(s) for s in args.seeds.split(",")):
        for data, name in wanted:
            print(f"{data}/{name} seed {seed}", flush=True)
            started = time.perf_counter()
            command = f"python benchmarks/tabular.py --stage methods --only {data}/{name} " \
                      f"--seeds {seed}"  # fmt: skip
            shadows = None
            if args.with_shadows and name != "ctgan":
                shadows = {"count": args.shadows, "workers": args.workers}
                command += f" --with-shadows --shadows {args.shadows} --workers {args.workers}"
            measured = run_ctgan(data, seed, work) if name == "ctgan" else \
                run_ganguard(data, name, seed, work, shadows)  # fmt: skip
            measured.update(data=data, setting=name, seed=seed, machine=describe_machine(),
                            wall_s=time.perf_counter() - started, command=command)
            key = (data, name, seed)
            figures["settings"] = [s for s in figures["settings"]
                                   if (s["data"], s["setting"], s["seed"]) != key] + [measured]
            order = [f"{d}/{n}" for d in DATA for n in SETTINGS]
            figures["settings"].sort(key=lambda s: (order.index(f"{s['data']}/{s['setting']}"),
                                                    s["seed"]))  # fmt: skip
            for s in figures["settings"]:
                without_pairs(s)
            Path(f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
            Path(f"{stem}.md").write_text(markdown(figures))
            print(markdown(figures), flush=True)


if __name__ == "__main__":
    main()
