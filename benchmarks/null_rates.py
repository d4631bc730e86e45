"""How often an attack with no signal at all is counted "not at chance": the false-alarm rate of
the benchmarks' at-chance rule (the AUC's 95% bootstrap interval holds 0.5 and TPR@1%FPR ≤ 0.02,
`ganguard.metrics.attack_metrics.at_chance`) at the audits' sizes, and what it makes of "every
attack at chance" when a run is audited with several attacks.

    python benchmarks/null_rates.py [--trials 500] [--sizes 200,500,1000] [--seed 0]
                                    [--out benchmarks/results]

Each trial scores n members and n non-members with independent draws of one distribution (a
true AUC of 0.5) and measures them with `attack_metrics`, as an audit does. Prints a table and
saves results/null_rates.{json,md}. The rate for k attacks assumes they are independent; real
attacks on one run are correlated, so it is the bound a reviewer's "every attack" count starts
from, not its exact chance.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ATTACKS_IN_A_STRONG_RUN = 8  # the default five and the three strong attacks without shadows


def null_rates(n: int, trials: int, seed: int) -> dict[str, Any]:
    """The fractions of `trials` null audits of n members and n non-members whose interval
    misses 0.5, whose TPR@1%FPR exceeds the bar, and that `at_chance` refuses."""
    from ganguard.metrics.attack_metrics import CHANCE_TPR_AT_1PCT_FPR, at_chance, attack_metrics

    rng = np.random.default_rng(seed)
    misses = above = refused = 0
    tprs = []
    for trial in range(trials):
        m = attack_metrics(rng.normal(size=n), rng.normal(size=n), seed=trial)
        lo, hi = m["auc_ci"]
        misses += not lo <= 0.5 <= hi
        above += m["tpr_at_1pct_fpr"] > CHANCE_TPR_AT_1PCT_FPR
        refused += not at_chance(m)
        tprs.append(m["tpr_at_1pct_fpr"])
    p = refused / trials
    return {"n_members": n, "n_nonmembers": n, "trials": trials,
            "interval_misses_half": misses / trials, "tpr_above_bar": above / trials,
            "not_at_chance": p, "tpr_at_1pct_fpr_mean": float(np.mean(tprs)),
            "tpr_at_1pct_fpr_p95": float(np.quantile(tprs, 0.95)),
            "every_of_k_at_chance_if_independent": {
                str(k): (1 - p) ** k for k in range(1, ATTACKS_IN_A_STRONG_RUN + 1)}}  # fmt: skip


def markdown_table(rows: list[dict[str, Any]], command: str) -> str:
    from ganguard.tables import markdown, number

    k = str(ATTACKS_IN_A_STRONG_RUN)
    body = [[f"{r['n_members']} + {r['n_nonmembers']}", str(r["trials"]),
             number(r["interval_misses_half"]), number(r["tpr_above_bar"]),
             number(r["not_at_chance"]), number(r["tpr_at_1pct_fpr_mean"]),
             number(r["tpr_at_1pct_fpr_p95"]),
             number(r["every_of_k_at_chance_if_independent"][k])] for r in rows]  # fmt: skip
    head = ["members + non-members", "trials", "interval misses 0.5", "TPR@1%FPR > 0.02",
            "not at chance", "mean TPR@1%FPR", "95th percentile",
            f"all {k} at chance (independent)"]
    return "\n".join(["# The at-chance rule on attacks with no signal", "", f"`{command}`", "",
                      markdown(head, body), ""])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--sizes", default="200,500,1000", help="members (= non-members) per audit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    from ganguard.metrics.attack_metrics import min_nonmembers_for

    least = min_nonmembers_for(0.01)  # fewer leave TPR@1%FPR unresolved
    if args.trials < 1 or min(sizes) < least:
        parser.error(f"--trials must be at least 1 and every size at least {least}")
    given = sys.argv[1:] if argv is None else argv
    command = "python benchmarks/null_rates.py " + " ".join(shlex.quote(a) for a in given)
    started = time.perf_counter()
    rows = []
    for n in sizes:
        rows.append(null_rates(n, args.trials, args.seed))
        r = rows[-1]
        print(f"{n} + {n}: interval misses 0.5 {r['interval_misses_half']:.3f}, TPR@1%FPR > 0.02 "
              f"{r['tpr_above_bar']:.3f}, not at chance {r['not_at_chance']:.3f}", flush=True)
    seconds = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"command": command.strip(), "wall_seconds": round(seconds, 1),
            "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs", "rows": rows}  # fmt: skip
    (args.out / "null_rates.json").write_text(json.dumps(meta, indent=2) + "\n")
    (args.out / "null_rates.md").write_text(markdown_table(rows, meta["command"]))
    print(markdown_table(rows, meta["command"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
