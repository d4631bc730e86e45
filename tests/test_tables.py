"""The one table formatter (ganguard/tables.py): numbers, intervals and mean ± sd."""

from __future__ import annotations

import math

from ganguard.tables import interval, mean_sd, number, plus_minus


def test_numbers_read_the_same_everywhere() -> None:
    assert number(0.12345) == "0.123" and number(36.25, 1) == "36.2"
    assert number(1971.4, 1) == "1971"  # large ones whole
    assert number(0.0004) == "0.0004"  # tiny ones in the g format, not as 0.000
    assert number(None) == number(math.nan) == number(math.inf) == "–"
    assert number(7) == "7" and number("logan_wb") == "logan_wb"
    assert interval(0.51, 0.61) == "[0.510, 0.610]" and interval(None, 0.6) == "–"


def test_mean_sd_is_the_mean_and_the_sample_sd_in_the_means_decimals() -> None:
    assert mean_sd([0.54, 0.56, 0.52]) == "0.540 ± 0.020"  # sample sd: sqrt(0.0008 / 2)
    assert mean_sd([80.0, 70.0, 90.0], 1) == "80.0 ± 10.0"
    assert mean_sd([0.9895, 0.9905]) == "0.990 ± 0.001"  # a tiny sd stays in 3 decimals
    assert mean_sd([0.5, None]) == "0.500"  # one value: no spread to show
    assert mean_sd([]) == mean_sd([None]) == "–"


def test_plus_minus_of_a_mean_without_sd_is_the_mean_alone() -> None:
    assert plus_minus(0.25, 0.0125) == "0.250 ± 0.013"
    assert plus_minus(0.25, None) == "0.250"
    assert plus_minus(None, 0.1) == "–"
