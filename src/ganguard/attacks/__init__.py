"""Membership inference attacks (SPEC §5), one registry; see `base.py` for the interface."""

from __future__ import annotations

from ganguard.attacks.base import Attack, Generator, ThreatModel
from ganguard.attacks.calibrated import make_calibrated
from ganguard.attacks.density import DOMIAS
from ganguard.attacks.distance import GanLeaksFBB, MonteCarlo
from ganguard.attacks.latent import GanLeaksWB
from ganguard.attacks.logan import LoganBB, LoganWB
from ganguard.errors import GanguardError

_BASE: tuple[type[Attack], ...] = (LoganWB, LoganBB, GanLeaksFBB, GanLeaksWB, MonteCarlo, DOMIAS)
ATTACKS: dict[str, type[Attack]] = {cls.name: cls for cls in _BASE}
for _cls in (GanLeaksFBB, GanLeaksWB):
    _cal = make_calibrated(_cls)
    ATTACKS[_cal.name] = _cal

# What `ganguard audit` runs by default: every attack of SPEC §5 except the costly ones
# (latent optimisation, and the calibrated attacks that need a reference GAN trained on R).
DEFAULT_ATTACKS = ("logan_wb", "logan_bb", "ganleaks_fbb", "montecarlo", "domias")


def attack_class(name: str) -> type[Attack]:
    try:
        return ATTACKS[name]
    except KeyError:
        known = ", ".join(ATTACKS)
        raise GanguardError(f"unknown attack {name!r} (known: {known})") from None


__all__ = ["ATTACKS", "DEFAULT_ATTACKS", "Attack", "Generator", "ThreatModel", "attack_class"]
