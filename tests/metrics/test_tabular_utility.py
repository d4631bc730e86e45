"""Utility metrics of a synthetic table (SPEC §10) against cases with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association, crosstab

from ganguard.errors import GanguardError
from ganguard.metrics.tabular_utility import (
    column_shapes,
    detection_auc,
    pair_trends,
    tabular_utility,
    tstr,
)

KINDS = {
    "x": "continuous",
    "w": "continuous",
    "n": "discrete",
    "c": "categorical",
    "y": "categorical",
}


def table(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """x, w strongly correlated (ρ = 0.9); n discrete; c categorical; y depends on x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    w = 0.9 * (x - shift) + math.sqrt(1 - 0.81) * rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    y = np.where(x - shift + 0.3 * rng.normal(size=n) > 0, "yes", "no")
    return pd.DataFrame({"x": x, "w": w, "n": rng.poisson(3, n), "c": c, "y": y})


def pair(result: dict, a: str, b: str) -> float:
    (score,) = [p["score"] for p in result["pair_trends_by_pair"] if {p["a"], p["b"]} == {a, b}]
    return score


def test_identical_tables_give_shapes_and_pair_trends_of_exactly_one() -> None:
    a = table(300, 0)
    shapes, trends = column_shapes(a, a.copy(), KINDS), pair_trends(a, a.copy(), KINDS)
    assert shapes["column_shapes"] == 1.0
    assert set(shapes["column_shapes_by_column"].values()) == {1.0}
    assert trends["pair_trends"] == 1.0
    assert len(trends["pair_trends_by_pair"]) == 10  # every pair of 5 columns
    assert {p["score"] for p in trends["pair_trends_by_pair"]} == {1.0}


def test_a_fresh_sample_of_the_same_distribution_scores_near_one_and_is_not_detected() -> None:
    a, b = table(400, 0), table(400, 1)
    shapes = column_shapes(a, b, KINDS)
    assert shapes["column_shapes"] > 0.9
    assert min(shapes["column_shapes_by_column"].values()) > 0.85
    assert pair_trends(a, b, KINDS)["pair_trends"] > 0.9
    assert abs(detection_auc(a, b, KINDS, seed=0) - 0.5) < 0.12


def test_a_column_shifted_by_six_sd_has_shape_near_zero_and_is_detected() -> None:
    a, b = table(400, 0), table(400, 1)
    b["x"] += 6.0
    by_column = column_shapes(a, b, KINDS)["column_shapes_by_column"]
    assert by_column["x"] < 0.05
    assert by_column["w"] > 0.85  # the other columns are untouched
    assert detection_auc(a, b, KINDS, seed=0) > 0.95


def test_shuffling_a_correlated_column_lowers_its_pair_trend_by_half_the_correlation() -> None:
    a = table(400, 0)
    b = a.copy()
    b["w"] = np.random.default_rng(5).permutation(b["w"].to_numpy())
    rho_a = np.corrcoef(a["x"], a["w"])[0, 1]
    rho_b = np.corrcoef(b["x"], b["w"])[0, 1]
    assert rho_a > 0.85
    score = pair(pair_trends(a, b, KINDS), "x", "w")
    assert score == pytest.approx(1 - abs(rho_a - rho_b) / 2, abs=1e-12)
    assert abs(score - (1 - rho_a / 2)) < 0.06
    assert pair(pair_trends(a, b, KINDS), "x", "n") == pytest.approx(1.0, abs=0.06)


def test_a_pair_with_a_categorical_column_compares_cramers_v() -> None:
    rng = np.random.default_rng(0)
    kinds = {"c": "categorical", "d": "categorical"}
    c = rng.choice(["a", "b", "c"], 500)
    d_linked = np.where(rng.random(500) < 0.7, c, rng.choice(["a", "b", "c"], 500))
    a = pd.DataFrame({"c": c, "d": d_linked})
    b = pd.DataFrame({"c": c, "d": rng.permutation(d_linked)})
    v = [association(crosstab(t["c"], t["d"]).count, method="cramer") for t in (a, b)]
    assert v[0] > 0.5
    assert pair(pair_trends(a, b, kinds), "c", "d") == pytest.approx(1 - abs(v[0] - v[1]))


def test_breaking_a_numeric_categorical_link_lowers_its_pair_trend() -> None:
    a = table(400, 0)
    b = a.copy()
    b["y"] = np.random.default_rng(1).permutation(b["y"].to_numpy())
    trends = pair_trends(a, b, KINDS)
    assert pair(trends, "x", "y") < 0.5  # y depends strongly on x in a, not at all in b
    assert pair(trends, "x", "w") == 1.0


def test_constant_columns_give_zero_association_rather_than_nan() -> None:
    a = table(200, 0).assign(x=1.0, c="a")
    b = table(200, 1)
    trends = pair_trends(a, b, KINDS)
    scores = [p["score"] for p in trends["pair_trends_by_pair"]]
    assert not any(math.isnan(s) for s in scores)
    rho_b = np.corrcoef(b["x"], b["w"])[0, 1]
    assert pair(trends, "x", "w") == pytest.approx(1 - abs(rho_b) / 2)  # ρ of a constant is 0
    assert pair(pair_trends(a, a, KINDS), "x", "c") == 1.0


def test_categorical_shape_is_one_minus_total_variation_with_missing_as_a_category() -> None:
    kinds = {"c": "categorical"}
    a = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + [None] * 20})
    b = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 40 + ["z"] * 10})
    # |Δ|: a 0, b 0.1, missing 0.2, z 0.1 -> TVD 0.2
    assert column_shapes(a, b, kinds)["column_shapes"] == pytest.approx(0.8)


def test_missing_values_in_a_continuous_column_are_left_out_of_its_ks() -> None:
    a, b = table(300, 0), table(300, 0)
    b.loc[::3, "x"] = np.nan
    shape = column_shapes(a, b, KINDS)["column_shapes_by_column"]["x"]
    assert shape > 0.9  # the rest of the same values: no shift
    assert not math.isnan(pair_trends(a, b, KINDS)["pair_trends"])


def test_tstr_on_the_train_table_itself_equals_trtr() -> None:
    train, test = table(300, 0), table(300, 1)
    out = tstr(train.copy(), train, test, KINDS, "y", seed=3)
    assert out["tstr_auc"] == out["trtr_auc"]
    assert out["tstr_accuracy"] == out["trtr_accuracy"]
    assert out["trtr_auc"] > 0.85
    assert out["tstr_note"] is None


def test_a_noise_target_gives_chance_tstr_while_trtr_is_high() -> None:
    train, test = table(400, 0), table(400, 1)
    synthetic = table(400, 2)
    synthetic["y"] = np.random.default_rng(9).choice(["yes", "no"], 400)
    out = tstr(synthetic, train, test, KINDS, "y", seed=0)
    assert out["trtr_auc"] > 0.85
    assert abs(out["tstr_auc"] - 0.5) < 0.1
    assert out["tstr_accuracy"] < out["trtr_accuracy"] - 0.2


def test_a_single_class_synthetic_target_gives_auc_one_half_with_a_note() -> None:
    train, test = table(300, 0), table(300, 1)
    synthetic = train.assign(y="yes")
    out = tstr(synthetic, train, test, KINDS, "y", seed=0)
    assert out["tstr_auc"] == 0.5
    assert out["tstr_accuracy"] == pytest.approx(float(np.mean(test["y"] == "yes")))
    assert "one class" in out["tstr_note"]
    assert out["trtr_note"] is None


def test_a_multiclass_discrete_target_gives_a_macro_ovr_auc() -> None:
    def three(seed: int) -> pd.DataFrame:
        t = table(300, seed)
        return t.assign(n=np.digitize(t["x"], [-0.5, 0.5]))  # classes 0, 1, 2 set by x

    train, test = three(0), three(1)
    out = tstr(train, train, test, KINDS, "n", seed=0)
    assert out["trtr_auc"] > 0.9
    synthetic = train.assign(n=np.random.default_rng(2).permutation(train["n"].to_numpy()))
    assert abs(tstr(synthetic, train, test, KINDS, "n", seed=0)["tstr_auc"] - 0.5) < 0.12


def test_nan_and_categories_or_classes_unseen_in_training_do_not_crash() -> None:
    train, test, synthetic = table(200, 0), table(200, 1), table(200, 2)
    for t in (train, test, synthetic):
        t.loc[::7, "x"] = np.nan
        t.loc[::11, "c"] = None
    test.loc[:20, "c"] = "never seen"
    test.loc[:5, "y"] = "maybe"  # a target class no training table has
    synthetic["c"] = synthetic["c"].astype("category")  # pandas category dtype too
    out = tabular_utility(synthetic, train, test, KINDS, "y", seed=0)
    for key in ("tstr_auc", "trtr_auc", "column_shapes", "pair_trends", "detection_auc"):
        assert not math.isnan(out[key]), key
    # macro over yes, no (well told apart) and maybe (no model can score it: chance)
    assert out["trtr_auc"] > 0.7


def test_tabular_utility_is_plain_json_with_every_key() -> None:
    train, test, synthetic = table(200, 0), table(200, 1), table(150, 2)
    out = tabular_utility(synthetic, train, test, KINDS, "y", seed=0)
    assert set(out) == {
        "tstr_auc", "tstr_accuracy", "tstr_note", "trtr_auc", "trtr_accuracy", "trtr_note",
        "column_shapes", "column_shapes_by_column", "pair_trends", "pair_trends_by_pair",
        "detection_auc", "n_synthetic", "n_train", "n_test",
    }  # fmt: skip
    assert json.loads(json.dumps(out)) == out
    assert type(out["detection_auc"]) is float and type(out["tstr_auc"]) is float
    assert all(type(v) is float for v in out["column_shapes_by_column"].values())
    assert (out["n_synthetic"], out["n_train"], out["n_test"]) == (150, 200, 200)
    assert out == tabular_utility(synthetic, train, test, KINDS, "y", seed=0)  # seeded
    no_target = tabular_utility(synthetic, train, test, KINDS, None, seed=0)
    assert not any(k.startswith(("tstr", "trtr")) for k in no_target)


@pytest.mark.parametrize(
    "change, target, message",
    [
        (lambda t: t.drop(columns="w"), "y", "columns differ"),
        (lambda t: t.assign(extra=1), "y", "columns differ"),
        (lambda t: t, "missing", "not a column"),
        (lambda t: t, "x", "continuous"),
        (lambda t: t.iloc[:0], "y", "no rows"),
    ],
)
def test_bad_inputs_raise_ganguard_error(change, target, message) -> None:  # noqa: ANN001
    train, test = table(50, 0), table(50, 1)
    with pytest.raises(GanguardError, match=message):
        tabular_utility(change(table(50, 2)), train, test, KINDS, target)


def test_an_unknown_kind_or_text_in_a_numeric_column_raises_ganguard_error() -> None:
    a = table(50, 0)
    with pytest.raises(GanguardError, match="unknown column kinds"):
        column_shapes(a, a, {**KINDS, "c": "text"})
    with pytest.raises(GanguardError, match="numeric"):
        column_shapes(a, a.assign(x="abc"), KINDS)
