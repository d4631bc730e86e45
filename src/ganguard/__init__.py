"""ganguard: train GANs that do not leak their training data, and audit any generator.

The Python API mirrors the command line: `ganguard.train(config, out)` trains a run directory,
`ganguard.load_run(run_dir)` opens one for sampling, `ganguard.audit(run_dir)` or
`ganguard.audit(samples=..., members=..., nonmembers=...)` measures membership leakage.
"""

from ganguard.audit import AuditResult, audit
from ganguard.config import Config, load_config
from ganguard.errors import GanguardError
from ganguard.evaluate import UtilityResult, evaluate
from ganguard.train import Run, load_run, train

__all__ = [
    "AuditResult", "Config", "GanguardError", "Run", "UtilityResult", "audit", "evaluate",
    "load_config", "load_run", "train",
]  # fmt: skip
__version__ = "0.1.0"
