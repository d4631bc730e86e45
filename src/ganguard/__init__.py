"""ganguard: train GANs that do not leak their training data, and audit any generator.

The Python API mirrors the command line: `ganguard.train(config, out)` trains a run directory,
`ganguard.load_run(run_dir)` opens one for sampling.
"""

from ganguard.config import Config, load_config
from ganguard.errors import GanguardError
from ganguard.train import Run, load_run, train

__all__ = ["Config", "GanguardError", "Run", "load_config", "load_run", "train"]
__version__ = "0.1.0"
