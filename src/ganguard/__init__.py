"""ganguard: train GANs that do not leak their training data, and audit any generator.

The Python API mirrors the command line: `ganguard.train(config, out)` trains a run directory,
`ganguard.load_run(run_dir)` opens one for sampling, `ganguard.audit(run_dir)` or
`ganguard.audit(samples=..., members=..., nonmembers=...)` measures membership leakage, and
`ganguard.evaluate(run_dir)` measures sample quality.

The names that need torch are loaded when first used, so that `import ganguard.config` (checking
a config) stays light.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

from ganguard.config import Config, load_config
from ganguard.errors import GanguardError

__version__ = "0.1.0"

# API name -> the module that defines it
_LAZY = {
    "train": "ganguard.train",
    "Run": "ganguard.runs",
    "load_run": "ganguard.runs",
    "audit": "ganguard.audit",
    "AuditResult": "ganguard.audit",
    "evaluate": "ganguard.evaluate",
    "UtilityResult": "ganguard.evaluate",
}

__all__ = ["Config", "GanguardError", "load_config", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'ganguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """`ganguard.train`, `ganguard.audit` and `ganguard.evaluate` are the API functions, although
    modules of the same names exist: importing those modules must not rebind the names (Python
    sets a package's attribute to each submodule it loads)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == f"{self.__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
