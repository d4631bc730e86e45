"""Membership inference attacks (SPEC §5), one file each behind one registry.

Each attack class registers itself (see `base.py` for the interface); importing this package
imports every module in it, so a new attack is one new file here. An import error in one of them
is raised, never hidden. The audit only ever reaches attacks through this registry and the sets
below: it names none of them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ganguard.attacks.base import Attack, Generator, ThreatModel
from ganguard.errors import GanguardError

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# What `ganguard audit` runs by default: every attack of SPEC §5 except the costly ones (latent
# optimisation, and the calibrated attacks that need a reference GAN trained on R).
DEFAULT_ATTACKS = ("logan_wb", "logan_bb", "ganleaks_fbb", "montecarlo", "domias")
# The strong auditor (SPEC §5.1): the per-record calibrated attacks, by R and by shadow models.
STRONG_ATTACKS = ("dcr_ratio", "gen_lra", "lira_wb", "lira_fbb", "lira_domias")
# Every attack, the default ones first (the order of tables and plots).
ATTACKS: dict[str, type[Attack]] = {
    **{name: Attack.registry[name] for name in DEFAULT_ATTACKS},
    **Attack.registry,
}
# The attacks whose per-record score ranks the report's "members most at risk", best first: the
# first whose needs the run meets is used (shadows only when the run has them already).
RISK_ATTACKS = ("lira_fbb", "dcr_ratio", "ganleaks_fbb")


def attack_class(name: str) -> type[Attack]:
    try:
        return Attack.registry[name]
    except KeyError:
        known = ", ".join(attack_names())
        raise GanguardError(f"unknown attack {name!r} (known: {known})") from None


def attack_names() -> list[str]:
    """Every registered attack, the default ones first (also those registered since import)."""
    return list({**ATTACKS, **Attack.registry})


def attack_sets() -> dict[str, list[str]]:
    """The named sets `--attacks` takes beside attack names."""
    return {"default": list(DEFAULT_ATTACKS), "strong": list(STRONG_ATTACKS),
            "all": attack_names()}  # fmt: skip


def choose_attacks(names: str | list[str] | None, available: set[str]) -> tuple[list[str], dict]:
    """The attacks to run, given what the threat model can give (`available`), and those skipped
    with why. `names`: attack names and set names (`default`, `strong`, `all`), comma-separated
    or a list; None is `default`. An attack of a set that the threat model does not allow is
    skipped; a named one is an error."""
    tokens = ["default"] if names is None else (
        names.split(",") if isinstance(names, str) else list(names))  # fmt: skip
    tokens = [t.strip() for t in tokens if t.strip()]
    if not tokens:
        raise GanguardError("--attacks names no attack")
    sets = attack_sets()
    wanted: dict[str, bool] = {}  # attack -> named (strict) rather than from a set
    for token in tokens:
        for name in sets.get(token, [token]):
            attack_class(name)  # refuses an unknown name
            wanted[name] = wanted.get(name, False) or token not in sets
    run, skipped = [], {}
    for name, strict in wanted.items():
        missing = sorted(attack_class(name).needs - available)
        if not missing:
            run.append(name)
        elif strict:
            raise GanguardError(f"attack {name} needs {' and '.join(missing)}, which is not given")
        else:
            skipped[name] = f"needs {' and '.join(missing)}"
    return run, skipped


__all__ = [
    "ATTACKS", "DEFAULT_ATTACKS", "RISK_ATTACKS", "STRONG_ATTACKS", "Attack", "Generator",
    "ThreatModel", "attack_class", "attack_names", "attack_sets", "choose_attacks",
]  # fmt: skip
