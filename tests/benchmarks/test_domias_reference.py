"""benchmarks/domias_reference.py: the reference DOMIAS formula finds members a generator copies,
is at chance on fresh records, and says when scipy refuses a singular covariance."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

BENCHMARK = "domias_reference"  # the `bench` fixture (tests/conftest.py) imports it


def test_the_reference_formula_on_copies_fresh_records_and_a_singular_table(
        bench: ModuleType) -> None:  # fmt: skip
    rng = np.random.default_rng(0)
    members, holdout = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    reference = rng.normal(size=(1000, 3))
    copies = np.repeat(members, 20, axis=0) + rng.normal(scale=0.01, size=(1000, 3))
    # Scott's rule on 1 000 samples in 3 dimensions gives kernels of std 0.37: wide, yet a
    # member's own 20 copies still stand out (0.93 here; 0.5 at chance)
    assert bench.reference_domias(copies, reference, members, holdout) > 0.9
    fresh = rng.normal(size=(1000, 3))
    assert bench.reference_domias(fresh, reference, members, holdout) == pytest.approx(0.5,
                                                                                         abs=0.07)
    # a constant column (as MEGAN's `capital-loss` on adult) makes the covariance exactly
    # singular; a one-hot block's is singular too, but rounding lets Cholesky pass on some draws
    constant = np.c_[rng.normal(size=(1000, 2)), np.zeros(1000)]
    refused = bench.reference_domias(constant, reference, members, holdout)
    assert isinstance(refused, str) and refused.startswith("scipy refused")


def test_a_missing_label_is_a_category_of_its_own(bench: ModuleType) -> None:
    import pandas as pd

    from ganguard.data.tabular import infer_schema

    frame = pd.DataFrame({"a": [1.5, 2.5, 3.5, 4.5], "c": ["x", None, "y", "x"]})
    matrix = bench.canonical(frame, infer_schema(frame))
    assert matrix.tolist() == [[1.5, 0.0], [2.5, -1.0], [3.5, 1.0], [4.5, 0.0]]
