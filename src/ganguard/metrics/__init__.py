"""Metrics: the Bhattacharyya overfitting measure (and, later, the audit and utility metrics)."""

from ganguard.metrics.bhattacharyya import (
    Overfitting,
    accuracy_bounds,
    bhattacharyya_coefficient,
    overfitting,
)

__all__ = ["Overfitting", "accuracy_bounds", "bhattacharyya_coefficient", "overfitting"]
