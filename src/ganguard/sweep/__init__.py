"""Grids of runs: `ganguard sweep SWEEP.yaml` expands a base config, named variants and a grid of
config keys into runs; each is trained, audited and evaluated in its own directory under the sweep
folder, then everything is gathered into `results.csv`, `results.md` and a privacy–utility plot.

A sweep file::

    base: ../configs/demo.yaml         # a config file (relative to this file), or a mapping
    overrides: {train.steps: 3000}     # dotted keys applied to the base
    variants:                          # named settings, each a mapping of dotted keys
      gan: {method: {name: gan}}       # a mapping value replaces the whole section
      megan-fano-5: {method: {name: megan, mode: fano, lam: 5}}
    grid:                              # every combination, for every variant
      data.n_members: [500, 2000]
      seed: [0, 1, 2]
    curve_points: 5                    # SPEC §9: audit and evaluate 5 checkpoints along training
    attacks: default                   # at the end (curve points use `curve_attacks`)

One job per module: `spec` reads and expands the file, `pipeline` trains, audits and evaluates one
run, `executors` run the pending runs (local processes or Ray), `tables` gathers the results.
"""

from ganguard.sweep.executors import run_sweep
from ganguard.sweep.pipeline import config_columns, run_one
from ganguard.sweep.spec import RunSpec, Sweep, SweepSettings, expand, load_sweep, sweep_settings
from ganguard.sweep.tables import aggregate, collect

__all__ = [
    "RunSpec", "Sweep", "SweepSettings", "aggregate", "collect", "config_columns", "expand",
    "load_sweep", "run_one", "run_sweep", "sweep_settings",
]  # fmt: skip
