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
# Every attack, the default ones first (the order of tables and plots).
ATTACKS: dict[str, type[Attack]] = {
    **{name: Attack.registry[name] for name in DEFAULT_ATTACKS},
    **Attack.registry,
}
# The attack whose per-record score ranks the report's "members most at risk".
RISK_ATTACK = "ganleaks_fbb"


def attack_class(name: str) -> type[Attack]:
    try:
        return Attack.registry[name]
    except KeyError:
        known = ", ".join(attack_names())
        raise GanguardError(f"unknown attack {name!r} (known: {known})") from None


def attack_names() -> list[str]:
    """Every registered attack, the default ones first (also those registered since import)."""
    return list({**ATTACKS, **Attack.registry})


def choose_attacks(names: str | list[str] | None, available: set[str]) -> tuple[list[str], dict]:
    """The attacks to run, given what the threat model can give (`available`), and those
    skipped with why. `default` (or None) and `all`: those of the set the threat model allows; a
    named attack that it does not allow is an error."""
    if names is None or names == "default":
        wanted, strict = list(DEFAULT_ATTACKS), False
    elif names == "all":
        wanted, strict = attack_names(), False
    else:
        wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        wanted, strict = [n for n in wanted if n], True
        if not wanted:
            raise GanguardError("--attacks names no attack")
    run, skipped = [], {}
    for name in wanted:
        missing = sorted(attack_class(name).needs - available)
        if not missing:
            run.append(name)
        elif strict:
            raise GanguardError(f"attack {name} needs {' and '.join(missing)}, which is not given")
        else:
            skipped[name] = f"needs {' and '.join(missing)}"
    return run, skipped


__all__ = [
    "ATTACKS", "DEFAULT_ATTACKS", "RISK_ATTACK", "Attack", "Generator", "ThreatModel",
    "attack_class", "attack_names", "choose_attacks",
]  # fmt: skip
