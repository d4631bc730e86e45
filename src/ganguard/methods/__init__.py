"""Training methods, one class per file behind one registry.

A method is found by its config name (`method.name`): the class of that name in
`ganguard.methods.<name>`, imported when first asked for, so that a run of one method never loads
what another needs (DP-GAN's Opacus above all). Its options are validated by the options class of
the same name in `ganguard.options`. Each method class registers itself when its module is
imported (`Method.__init_subclass__`), so a method defined outside this package works too once
its module is imported.
"""

from __future__ import annotations

import importlib

from ganguard.errors import GanguardError
from ganguard.methods.base import Method, RandomStreams
from ganguard.options import options_class


def method_class(name: str) -> type[Method]:
    """The method class called `name` (an unknown name is a GanguardError that lists the known)."""
    if name not in Method.registry:
        options_class(name)  # refuses an unknown name
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    if name not in Method.registry:
        raise GanguardError(
            f"method {name} has options but no method class: import the module that defines it"
        )
    return Method.registry[name]


__all__ = ["Method", "RandomStreams", "method_class"]
