"""Metrics: of the attacks (`attack_metrics`, with the Bhattacharyya overfitting measure) and of
sample quality (one file per utility metric behind the registry of `utility.py`).

Importing this package imports every module in it, so that each utility metric registers itself:
a new metric is one new file here. An import error in one of them is raised, never hidden.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
