"""What the benchmarks' tables read from a run's audited rows (dicts with `attack`, `auc`,
`auc_ci`, `tpr_at_1pct_fpr`, as `benchmarks/strong_audit.py` and `benchmarks/tabular.py` save
them): the best attack, among a set or of all, the one that finds the most members at 1% FPR,
and the table of the runs audited with shadow models."""

from __future__ import annotations

from typing import Any

QUALITY_FACTOR = 1.25  # SPEC §9: matched quality is an FID no worse than 1.25 × the best GAN's


def best_row(setting: dict[str, Any], among: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The run's best attack: the highest AUC (of the attacks `among`; None: of all it ran)."""
    rows = [r for r in setting["rows"] if among is None or r["attack"] in among]
    return max(rows, key=lambda r: r["auc"])


def most_found(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The audited row that finds the most members at 1% FPR (a TPR too few non-members leave
    unresolved, None, ranks first: it counts against the run)."""
    return max(rows, key=lambda r: (r["tpr_at_1pct_fpr"] is None, r["tpr_at_1pct_fpr"] or 0.0))


def attack_cell(r: dict[str, Any]) -> str:
    """An audited row as a table cell: `attack` AUC [interval], TPR at 1% FPR."""
    from ganguard.tables import number

    lo, hi = r["auc_ci"]
    return (f"`{r['attack']}` {number(r['auc'])} [{number(lo)}, {number(hi)}], "
            f"TPR {number(r['tpr_at_1pct_fpr'])}")


def shadow_attack(attack: str) -> bool:
    """Whether the attack needs shadow models of the run's recipe."""
    from ganguard.attacks import attack_class
    from ganguard.attacks.base import SHADOWS

    return SHADOWS in attack_class(attack).needs


def with_shadows(figures: dict[str, Any], comparable: tuple[str, ...],
                 keys: tuple[str, ...] = ("setting",)) -> str:  # fmt: skip
    """The runs audited with shadow models (`--with-shadows`), one line each (named by `keys` and
    the seed): the best of every attack they ran beside the best of the attacks every run has
    (`comparable`) and the best shadow attack, each with its interval, TPR@1%FPR and whether it
    is at chance."""
    from ganguard.metrics.attack_metrics import at_chance
    from ganguard.tables import markdown as table

    rows = []
    for s in figures["settings"]:
        shadowed = [r for r in s["rows"] if shadow_attack(r["attack"])]
        if not shadowed:
            continue
        every, common = best_row(s), best_row(s, comparable)
        best_shadow = max(shadowed, key=lambda r: r["auc"])
        rows.append([*(s[k] for k in keys), str(s.get("seed", 0)), attack_cell(common),
                     "yes" if at_chance(common) else "no", attack_cell(best_shadow),
                     attack_cell(every),
                     "yes" if at_chance(every) else "no",
                     f"{s['shadows']['count']} {s['shadows']['mode']}"])  # fmt: skip
    if not rows:
        return ""
    head = [*keys, "seed", "best of the attacks every run has", "at chance",
            "best shadow attack", "best of every attack", "at chance", "shadows"]
    return table(head, rows)
