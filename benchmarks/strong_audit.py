"""The strong auditor where members leak, and its ε lower bounds beside DP-GAN's accountant.

Stage `leak`: the demo's networks (SPEC §3's MLP GAN, spectral normalisation in D) on few
mnist-5k members trained long, as a GAN and with MEGAN's and MIMGAN's defaults, each audited with
every attack (`all`: the default five and the strong set, with online shadow models trained with
the run's own recipe). Stage `dp`: a GAN and DP-GAN at ε = 1 and ε = 10 on the same networks
(without spectral normalisation, which Opacus cannot train) with canaries, audited with every
attack that needs no shadow model and with the one-run canary audit. Stage `methods`: the leak
stage's setting (where the GAN's samples-only attacks pass AUC 0.75) with every method — the GAN,
its augmentation baseline, MEGAN's and MIMGAN's defaults with R private and R public, DP-GAN at
ε = 10 and 1 (the committed default and the best tuned setting, pre-trained on the public
collection), PrivGAN and PAR-GAN — per seed, audited with the default five and the strong attacks
that need no shadow model (`dcr_ratio`, `gen_lra`, `ganleaks_fbb_cal`, whose reference GAN is
trained on R with the run's recipe) and evaluated (FID, recall).

    python benchmarks/strong_audit.py --stage leak
    python benchmarks/strong_audit.py --stage dp
    python benchmarks/strong_audit.py --stage methods --seeds 0,1,2
    python benchmarks/strong_audit.py --stage methods --only megan-public --with-shadows  # + LiRA
    python benchmarks/strong_audit.py --stage methods --tables   # the .md from the .json alone

Runs are kept in --work (a run already trained, or a shadow set already made, is reused), the
figures saved to benchmarks/results/strong_audit_<stage>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from audit_rows import QUALITY_FACTOR, best_row, with_shadows

ROOT = Path(__file__).parents[1]
COMMON = ["data.n_members=200", "data.n_holdout=200", "data.n_reference=3000",
          "train.progress=false", "train.log_every=1000", "train.checkpoint_every=1000"]
NO_SN = "model.spectral_norm=false"
PUBLIC_R = ["data.reference_data=mnist-train", "data.n_reference=20000"]
# DP-GAN's best setting of the tuned screen (benchmarks/README.md, issue 20), with a batch that
# 200 members allow: pre-trained on the public collection, gentle fine-tuning, 5 D steps per G step
DP_TUNED = ["train.pretrain_on=mnist-train", "train.pretrain_steps=2000", "train.batch_size=100",
            "train.lr_d=5e-5", "train.lr_g=5e-5", NO_SN]
# name -> the overrides of configs/demo.yaml that make the setting
STAGES: dict[str, dict[str, list[str]]] = {
    "leak": {
        "gan": ["method={name: gan}"],
        "megan": [],  # the demo's MEGAN: fano, λ = 50, critic on D's features
        "mimgan": ["method={name: mimgan}"],
    },
    "dp": {
        "gan-nosn": ["method={name: gan}", NO_SN],
        "dpgan-eps10": ["method={name: dpgan, target_epsilon: 10}", NO_SN],
        "dpgan-eps1": ["method={name: dpgan, target_epsilon: 1}", NO_SN],
    },
    "methods": {
        "gan": ["method={name: gan}"],
        "gan-aug": ["method={name: gan}", "train.augment=[translation, cutout]"],
        "megan": [],
        "megan-public": PUBLIC_R,
        "mimgan": ["method={name: mimgan}"],
        "mimgan-public": ["method={name: mimgan}", *PUBLIC_R],
        "dpgan-eps10": ["method={name: dpgan, target_epsilon: 10}", NO_SN],
        # 400 G steps of 5 D steps: the screen's 2 000 DP-SGD steps at sampling rate 0.5
        "dpgan-eps10-tuned": ["method={name: dpgan, target_epsilon: 10, d_steps: 5}", *DP_TUNED,
                              "train.steps=400"],
        "dpgan-eps1-tuned": ["method={name: dpgan, target_epsilon: 1, d_steps: 5}", *DP_TUNED,
                             "train.steps=400"],
        "privgan": ["method={name: privgan}"],
        "pargan": ["method={name: pargan}"],
    },
}  # fmt: skip
# the methods stage's attacks: the default five and the strong ones without shadow models; every
# run has them, so the tables over seeds and methods compare runs on these (`--with-shadows`
# runs every attack on top, reported beside them)
COMPARABLE = ("logan_wb", "logan_bb", "ganleaks_fbb", "montecarlo", "domias", "dcr_ratio",
              "gen_lra", "ganleaks_fbb_cal")  # fmt: skip
METHODS_ATTACKS = ",".join(COMPARABLE)


def run_setting(name: str, overrides: list[str], work: Path, attacks: str,
                audit_options: dict[str, Any], utility: bool = False,
                ) -> dict[str, Any]:  # fmt: skip
    from ganguard.audit import audit
    from ganguard.config import load_config
    from ganguard.evaluate import evaluate
    from ganguard.runs import latest_checkpoint
    from ganguard.train import train

    config = load_config(ROOT / "configs" / "demo.yaml", COMMON + overrides)
    run_dir = work / name
    if latest_checkpoint(run_dir) is None or not (run_dir / "done").exists():
        train(config, run_dir, resume=(run_dir / "config.yaml").exists(), progress=False)
        (run_dir / "done").write_text("")
    # the training loop's own clock, logged with the last metrics line (also for a reused run)
    last = (run_dir / "metrics.jsonl").read_text().splitlines()[-1]
    trained = json.loads(last)["time"]
    result = audit(run_dir, attacks=attacks, plots=False, **audit_options)
    rows = []
    for attack, r in result.attacks.items():
        m = r.metrics
        eps = m["eps_lower_bound"] or {}
        rows.append({
            "setting": name, "attack": attack, "auc": m["auc"], "auc_ci": m["auc_ci"],
            "tpr_at_1pct_fpr": m["tpr_at_1pct_fpr"], "tpr_at_0.1pct_fpr": m["tpr_at_0.1pct_fpr"],
            "tpr_at_zero_fpr": tpr_at_zero_fpr(m["roc"]),
            "eps_lb": eps.get("value"),
            "eps_lb_counts": {k: v for k, v in eps.items() if k != "value"},
            "canary_eps_lb": (r.canaries or {}).get("value"),
            "canary_correct": (r.canaries or {}).get("correct"),
            "canary_guesses": (r.canaries or {}).get("guesses"),
            "seconds": r.seconds,
        })  # fmt: skip
    quality = None
    if utility:
        u = evaluate(run_dir, n=config.data.n_holdout, inception=False)
        quality = {"fid": u.generated["fid"], "recall": u.generated["recall"],
                   "precision": u.generated["precision"], "fid_floor": u.floor["fid"],
                   "n_generated": u.n_generated}  # fmt: skip
    return {"setting": name, "overrides": overrides, "train_s": trained, "rows": rows,
            "skipped": result.skipped, "shadows": result.shadows, "delta": result.delta,
            "accountant": result.accountant, "members": config.data.n_members,
            "steps": config.train.steps, "seed": config.seed, "utility": quality}  # fmt: skip


def tpr_at_zero_fpr(roc: dict[str, list[float]]) -> float:
    """The share of members an attack finds before its first false positive: the strictest rate
    that a few hundred non-members resolve (TPR at 0.1% FPR needs 1 000)."""
    return max(t for f, t in zip(roc["fpr"], roc["tpr"], strict=True) if f == 0)


def markdown(figures: dict[str, Any]) -> str:
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    head = ["setting", "attack", "AUC", "TPR@1%FPR", "TPR@0.1%FPR", "TPR@0FPR", "ε_lb",
            "canary ε_lb (v/r)", "time s"]  # fmt: skip
    rows = []
    for s in figures["settings"]:
        for r in s["rows"]:
            canary = "–" if r["canary_eps_lb"] is None else \
                f"{number(r['canary_eps_lb'])} ({r['canary_correct']}/{r['canary_guesses']})"
            rows.append([label(s), r["attack"], number(r["auc"]), number(r["tpr_at_1pct_fpr"]),
                         number(r["tpr_at_0.1pct_fpr"]), number(r.get("tpr_at_zero_fpr")),
                         number(r["eps_lb"]), canary,
                         number(r["seconds"], 1)])  # fmt: skip
    lines = [f"# strong audit, stage {figures['stage']}", ""]
    if figures["stage"] == "methods":
        lines += ["Each setting over its seeds (mean ± sd; at chance: the best attack's interval "
                  "holds 0.5 and its TPR@1%FPR ≤ 2%):", "", over_seeds(figures), "",
                  matched(figures), "",
                  "The runs audited with every attack, shadow models included (`--with-shadows`), "
                  "against the attacks every run has:", "",
                  with_shadows(figures, COMPARABLE) or "none yet", "",
                  "Each run's best attack (highest AUC) and its figures; every attack below.", "",
                  summary(figures), ""]  # fmt: skip
    lines += [table(head, rows), ""]
    for s in figures["settings"]:
        acc = s["accountant"] or {}
        sh = s["shadows"]
        lines.append(
            f"- {label(s)}: {s['members']} members, {s['steps']} steps, trained in "
            f"{s['train_s']:.0f} s; δ = {number(s['delta'], 3)}"
            + (f"; accountant ε = {number(acc['epsilon'], 3)}" if acc.get("epsilon") else "")
            + (f"; {sh['count']} {sh['mode']} shadows of {sh['steps']} steps ("
               + (f"trained in {sh['seconds']:.0f} s" if not sh["reused"] else
                  f"reused, trained in {sh['trained_s']:.0f} s" if sh.get("trained_s") else
                  "reused") + ")"
               if sh else "")
            + ("; skipped: " + ", ".join(s["skipped"]) if s["skipped"] else "")
            + f"; `{s['command']}` on {s['machine']}"
        )  # fmt: skip
    return "\n".join(lines) + "\n"


def label(setting: dict[str, Any]) -> str:
    seed = setting.get("seed")
    return setting["setting"] if seed is None else f"{setting['setting']} (seed {seed})"


def samples_only(attack: str) -> bool:
    """Whether the attack reads the generator's samples only (with R, a reference GAN trained on
    R, or shadow models of the recipe: what anyone given the released samples can do), not its
    networks."""
    from ganguard.attacks import attack_class
    from ganguard.attacks.base import DISCRIMINATOR, GENERATOR

    return not attack_class(attack).needs & {DISCRIMINATOR, GENERATOR}


def summary(figures: dict[str, Any]) -> str:
    """One line per run: its best attack by AUC with the interval and TPRs, its best attack from
    the samples alone, the largest ε lower bound of any attack, FID and recall against H, the
    accountant's ε, the training time."""
    from ganguard.tables import markdown as table
    from ganguard.tables import number

    head = ["setting", "seed", "best attack", "AUC [95% CI]", "TPR@1%FPR", "TPR@0.1%FPR",
            "best samples-only (AUC)", "max ε_lb", "FID", "recall", "ε (DP)",
            "train s"]  # fmt: skip
    rows = []
    for s in figures["settings"]:
        best = best_row(s)
        lo, hi = best["auc_ci"]
        blind = [r for r in s["rows"] if samples_only(r["attack"])]
        outside = max(blind, key=lambda r: r["auc"]) if blind else None
        bounds = [r["eps_lb"] for r in s["rows"] if r["eps_lb"] is not None]
        u = s.get("utility") or {}
        eps = (s.get("accountant") or {}).get("epsilon")
        rows.append([s["setting"], str(s.get("seed", 0)), best["attack"],
                     f"{number(best['auc'])} [{number(lo)}, {number(hi)}]",
                     number(best["tpr_at_1pct_fpr"]), number(best["tpr_at_0.1pct_fpr"]),
                     f"{outside['attack']} ({number(outside['auc'])})" if outside else "–",
                     number(max(bounds)) if bounds else "–", number(u.get("fid"), 1),
                     number(u.get("recall")), number(eps, 2) if eps else "–",
                     number(s["train_s"], 0)])  # fmt: skip
    return table(head, rows)


def by_setting(figures: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The runs of each setting, in the file's order, seeds ascending."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in figures["settings"]:
        groups.setdefault(s["setting"], []).append(s)
    return {k: sorted(v, key=lambda s: s.get("seed", 0)) for k, v in groups.items()}


def over_seeds(figures: dict[str, Any]) -> str:
    """One line per setting: the attack that was best in most seeds (how often), the best
    attack's AUC per seed and mean ± sd, how many seeds are at chance, the TPRs, the largest
    ε lower bound, the best samples-only attack, FID and recall, DP's ε, training time; of the
    attacks every run has (COMPARABLE), so that seeds and settings compare."""
    from collections import Counter

    from ganguard.metrics.attack_metrics import at_chance
    from ganguard.tables import markdown as table
    from ganguard.tables import mean_sd, number

    head = ["setting", "seeds", "best attack (seeds)", "AUC per seed", "AUC", "at chance",
            "TPR@1%FPR", "TPR@0.1%FPR", "max ε_lb", "best samples-only AUC", "FID", "recall",
            "ε (DP)", "train s"]  # fmt: skip
    rows = []
    for name, runs in by_setting(figures).items():
        best = [best_row(s, COMPARABLE) for s in runs]
        names = Counter(r["attack"] for r in best).most_common()
        common = [[r for r in s["rows"] if r["attack"] in COMPARABLE] for s in runs]
        blind = [max((r["auc"] for r in rs if samples_only(r["attack"])), default=None)
                 for rs in common]  # fmt: skip
        bounds = [max((r["eps_lb"] for r in rs if r["eps_lb"] is not None), default=None)
                  for rs in common]  # fmt: skip
        u = [s.get("utility") or {} for s in runs]
        eps = [(s.get("accountant") or {}).get("epsilon") for s in runs]
        rows.append([name, "/".join(str(s.get("seed", 0)) for s in runs),
                     ", ".join(f"{a} ({n})" for a, n in names),
                     " / ".join(number(r["auc"]) for r in best),
                     mean_sd([r["auc"] for r in best]),
                     f"{sum(at_chance(r) for r in best)} of {len(best)}",
                     mean_sd([r["tpr_at_1pct_fpr"] for r in best]),
                     mean_sd([r["tpr_at_0.1pct_fpr"] for r in best]),
                     mean_sd(bounds, 2), mean_sd(blind),
                     mean_sd([x.get("fid") for x in u], 1), mean_sd([x.get("recall") for x in u]),
                     mean_sd(eps, 2), mean_sd([s["train_s"] for s in runs], 0)])  # fmt: skip
    return table(head, rows)


def matched(figures: dict[str, Any]) -> str:
    """SPEC §9's comparisons on the runs' end points: matched quality, the best attack's AUC of
    the seeds whose FID is at most 1.25 × the GAN's best; matched privacy, the FID of the seeds
    whose best attack is at chance (`at_chance`). mean ± sd, and how many seeds qualify."""
    from ganguard.metrics.attack_metrics import at_chance
    from ganguard.tables import markdown as table
    from ganguard.tables import mean_sd, number

    groups = by_setting(figures)
    gan = [(s.get("utility") or {}).get("fid") for s in groups.get("gan", [])]
    gan = [f for f in gan if f is not None]
    bar = QUALITY_FACTOR * min(gan) if gan else None
    rows = []
    for name, runs in groups.items():
        fids = [(s.get("utility") or {}).get("fid") for s in runs]
        quality = [best_row(s, COMPARABLE)["auc"] for s, f in zip(runs, fids, strict=True)
                   if bar is not None and f is not None and f <= bar]  # fmt: skip
        privacy = [f for s, f in zip(runs, fids, strict=True)
                   if f is not None and at_chance(best_row(s, COMPARABLE))]  # fmt: skip
        rows.append([name, f"{mean_sd(quality)} ({len(quality)} of {len(runs)})",
                     f"{mean_sd(privacy, 1)} ({len(privacy)} of {len(runs)})"])  # fmt: skip
    lead = (f"Matched quality: FID ≤ {number(bar, 1)} (1.25 × the GAN's best, "
            f"{number(min(gan), 1)}); matched privacy: the best attack at chance."
            if bar is not None else "Matched quality: no GAN run with an FID here.")
    return lead + "\n\n" + table(["setting", "best attack's AUC at matched quality",
                                   "FID at matched privacy"], rows)  # fmt: skip


def methods_points(settings: list[dict[str, Any]]) -> list[Any]:
    """Each run with an FID as a point of the privacy–utility plot (best attack AUC, FID)."""
    from ganguard.report.curves import TradeoffPoint

    return [TradeoffPoint(s["setting"], f"mnist-5k, n = {s['members']}, the demo's MLP",
                          s["utility"]["fid"], best_row(s, COMPARABLE)["auc"])
            for s in settings if (s.get("utility") or {}).get("fid") is not None]  # fmt: skip


def methods_png(figures: dict[str, Any]) -> bytes:
    """Best attack AUC against FID, each setting at its mean over seeds ± one sd (the library's
    privacy–utility plot)."""
    from ganguard.report.curves import privacy_utility_png

    points = methods_points(figures["settings"])
    return privacy_utility_png(points, fid_name="domain FID (n samples against H)")


def write_tables(stem: Path, figures: dict[str, Any]) -> None:
    """The stage's .md (and, for stage methods, its privacy–utility .png) from `figures`."""
    Path(f"{stem}.md").write_text(markdown(figures))
    if figures["stage"] == "methods":
        Path(f"{stem}.png").write_bytes(methods_png(figures))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=sorted(STAGES), required=True)
    parser.add_argument("--steps", type=int,
                        help="training steps (default: leak and methods 4000, dp 2000)")
    parser.add_argument("--shadows", type=int, default=16,
                        help="online shadow models (leak; methods with --with-shadows)")
    parser.add_argument("--with-shadows", action="store_true",
                        help="methods: audit with every attack, the shadow attacks included")
    parser.add_argument("--workers", type=int, default=2, help="shadows trained at a time")
    parser.add_argument("--canaries", type=int, default=100, help="canaries of the dp stage")
    parser.add_argument("--only", help="comma-separated settings of the stage (default: all)")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (default: 0)")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "ganguard-strong"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--tables", action="store_true",
                        help="only rewrite the stage's .md from its .json (nothing runs)")
    args = parser.parse_args()
    from ganguard.devices import describe_machine

    steps = args.steps or {"leak": 4000, "methods": 4000, "dp": 2000}[args.stage]
    settings = STAGES[args.stage]
    if args.only:
        settings = {k: v for k, v in settings.items() if k in args.only.split(",")}
    work = Path(args.work) / args.stage
    work.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"strong_audit_{args.stage}"
    # settings measured by earlier invocations (--only) are kept, a re-measured one replaced
    done = json.loads(Path(f"{stem}.json").read_text())["settings"] \
        if Path(f"{stem}.json").exists() else []  # fmt: skip
    figures: dict[str, Any] = {"stage": args.stage, "settings": done}
    if args.tables:
        write_tables(stem, figures)
        return
    seeds = [int(x) for x in args.seeds.split(",")]
    for seed in seeds:
        for name, overrides in settings.items():
            # the row's own train.steps (DP-GAN's tuned rows) comes later and wins
            overrides = [f"train.steps={steps}", *overrides, f"seed={seed}"]
            command = f"python benchmarks/strong_audit.py --stage {args.stage} --only {name}"
            command += f" --seeds {seed}" if seed != 0 else ""
            if args.steps:
                command += f" --steps {args.steps}"
            utility = False
            if args.stage == "leak":
                attacks = "all"
                options = {"shadows": {"count": args.shadows, "workers": args.workers}}
                command += f" --shadows {args.shadows} --workers {args.workers}"
            elif args.stage == "methods" and args.with_shadows:
                attacks, utility = "all", True
                options = {"shadows": {"count": args.shadows, "workers": args.workers}}
                command += f" --with-shadows --shadows {args.shadows} --workers {args.workers}"
            elif args.stage == "methods":
                attacks, options, utility = METHODS_ATTACKS, {}, True
            else:
                attacks = "default,dcr_ratio,gen_lra"
                overrides += [f"train.canaries={args.canaries}", "train.canary_source=crafted"]
                options = {"canaries": True}
                command += f" --canaries {args.canaries}"
            print(f"{name} seed {seed}: {' '.join(overrides)}", flush=True)
            run_name = name if seed == 0 else f"{name}_seed{seed}"
            measured = run_setting(run_name, overrides, work, attacks, options, utility)
            measured.update(setting=name, command=command, machine=describe_machine(),
                            attacks=attacks)
            key = (name, seed)
            before = next((s for s in done if identity(s) == key), None)
            sh, old = measured["shadows"], (before or {}).get("shadows")
            if sh and sh["reused"] and old:  # keep what training the reused shadows took
                sh["trained_s"] = old.get("trained_s", None if old["reused"] else old["seconds"])
            figures["settings"] = [s for s in figures["settings"] if identity(s) != key]
            figures["settings"].append(measured)
            order = list(STAGES[args.stage])
            figures["settings"].sort(key=lambda s: (order.index(s["setting"]), identity(s)[1]))
            Path(f"{stem}.json").write_text(json.dumps(figures, indent=2) + "\n")
            write_tables(stem, figures)
            print(markdown(figures), flush=True)


def identity(setting: dict[str, Any]) -> tuple[str, int]:
    """A measured setting's row and seed (rows measured before seeds were recorded: seed 0)."""
    return setting["setting"], setting.get("seed", 0)


if __name__ == "__main__":
    main()
