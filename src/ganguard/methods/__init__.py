"""Training methods, one class per file behind one registry.

A method is found by its config name (`method.name`); its `Options` class validates its keys.
Each method module registers its class when imported (`Method.__init_subclass__`); importing
them all here makes the registry complete.
"""

from __future__ import annotations

from ganguard.errors import GanguardError
from ganguard.methods import dpgan, gan, megan, mimgan, pargan, privgan  # noqa: F401  (registers)
from ganguard.methods.base import Method, RandomStreams

METHODS: dict[str, type[Method]] = Method.registry


def method_class(name: str) -> type[Method]:
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise GanguardError(
            f"config key method.name: unknown method {name!r} (known: {known})"
        ) from None


__all__ = ["METHODS", "Method", "RandomStreams", "method_class"]
