"""Every registered attack: a name, a threat model made of known kinds, a description, settings
validated by its pydantic model with one-line errors, and a place in the attack sets."""

from __future__ import annotations

import pytest

from ganguard.attacks import ATTACKS, DEFAULT_ATTACKS, attack_class, choose_attacks
from ganguard.attacks.base import KINDS, SAMPLES, Attack, AttackSettings
from ganguard.errors import GanguardError


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_declares_its_threat_model_and_settings(name: str) -> None:
    cls = attack_class(name)
    assert cls.name == name and issubclass(cls, Attack) and cls.description
    assert cls.needs and cls.needs <= set(KINDS)
    assert issubclass(cls.Settings, AttackSettings)
    attack = cls()  # every setting has a default
    assert set(attack.settings) == set(cls.Settings.model_fields)
    with pytest.raises(GanguardError) as info:
        cls(no_such_setting=1)
    assert str(info.value) == f"attack {name}: unknown setting no_such_setting"


def test_the_sets_come_from_the_registry() -> None:
    assert list(ATTACKS)[: len(DEFAULT_ATTACKS)] == list(DEFAULT_ATTACKS)
    run, skipped = choose_attacks("all", {SAMPLES})
    assert set(run) | set(skipped) == set(ATTACKS)
    assert all(attack_class(n).needs == {SAMPLES} for n in run)
    with pytest.raises(GanguardError, match="unknown attack 'nope'"):
        choose_attacks("ganleaks_fbb,nope", {SAMPLES})


def test_an_attack_defined_elsewhere_registers_itself_and_a_name_is_taken_once() -> None:
    class Probe(Attack, register=False):
        name = "probe_attack"
        needs = frozenset({SAMPLES})

    assert "probe_attack" not in Attack.registry  # register=False keeps it out
    Attack.register(Probe)
    try:
        assert attack_class("probe_attack") is Probe
        assert "probe_attack" in choose_attacks("all", {SAMPLES})[0]

        class Other(Attack, register=False):
            name = "probe_attack"
            needs = frozenset({SAMPLES})

        with pytest.raises(TypeError, match="two attacks are called probe_attack"):
            Attack.register(Other)
    finally:
        del Attack.registry["probe_attack"]
