"""Training methods, one class per file behind one registry.

A method is found by its config name (`method.name`); its `Options` class validates its keys.
"""

from __future__ import annotations

from ganguard.errors import GanguardError
from ganguard.methods.base import Method, RandomStreams
from ganguard.methods.gan import GAN
from ganguard.methods.megan import MEGAN

METHODS: dict[str, type[Method]] = {cls.name: cls for cls in (GAN, MEGAN)}


def method_class(name: str) -> type[Method]:
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise GanguardError(
            f"config key method.name: unknown method {name!r} (known: {known})"
        ) from None


__all__ = ["METHODS", "Method", "RandomStreams", "method_class"]
