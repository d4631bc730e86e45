"""Every registered utility metric returns exactly its columns, and the columns are what
evaluate, the sweep's tables and the report show."""

from __future__ import annotations

import numpy as np
import pytest

from ganguard.errors import GanguardError
from ganguard.metrics.utility import UTILITY_METRICS, Comparison, columns, compare, register


def _comparison() -> Comparison:
    rng = np.random.default_rng(0)
    real = rng.normal(0, 1, (60, 1, 4, 4)).astype(np.float32)
    fake = rng.normal(0.5, 1, (60, 1, 4, 4)).astype(np.float32)
    flat = lambda x: x.reshape(len(x), -1).astype(np.float64)  # noqa: E731
    return Comparison(real, fake, flat, kid_subsets=3, inception=False)


@pytest.mark.parametrize("name", list(UTILITY_METRICS))
def test_every_metric_returns_its_columns(name: str) -> None:
    metric = UTILITY_METRICS[name]
    figures = metric.compute(_comparison())
    assert set(figures) == set(metric.columns)
    assert all(v is None or np.isfinite(v) for v in figures.values())


def test_columns_are_every_metric_s_in_order() -> None:
    assert columns()[:2] == ["fid", "kid"]
    assert {"precision", "recall", "density", "coverage", "inception_fid"} <= set(columns())
    assert list(compare(_comparison())) == columns()


def test_a_metric_that_returns_other_columns_is_refused() -> None:
    @register("broken_metric", columns=("a",))
    def broken(c: Comparison) -> dict:
        return {"b": 1.0}

    try:
        assert "a" in columns()
        with pytest.raises(GanguardError, match="broken_metric returned"):
            compare(_comparison())
    finally:
        del UTILITY_METRICS["broken_metric"]
