"""Utility (sample-quality) metrics of a synthetic table against real tables (SPEC §10).

Four families, each a public function that `tabular_utility` composes:

- `tstr`: train on synthetic, test on real (the real test table T), next to train on real;
- `column_shapes`: per column, 1 − KS statistic (numeric) or 1 − total variation distance
  (categorical) of the marginals;
- `pair_trends`: per pair of columns, how well the synthetic table keeps their association
  (Pearson correlation for two numeric columns, Cramér's V otherwise);
- `detection_auc`: how well a classifier tells synthetic from real records (0.5: not at all).

Every figure is a plain float (or None where undefined), so the result goes to JSON as it is.
A column's kind is "continuous", "discrete" or "categorical"; discrete and continuous columns
are both "numeric" here.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ganguard.data.tabular import KINDS
from ganguard.errors import GanguardError

MAX_PAIR_COLUMNS = 40  # all pairs up to this many columns; beyond, a fixed sample of as many
MAX_PAIRS = MAX_PAIR_COLUMNS * (MAX_PAIR_COLUMNS - 1) // 2
PAIR_BINS = 10  # quantile bins of a numeric column paired with a categorical one
DETECTION_MAX = 5000  # records drawn from each table for the detection classifier
DETECTION_FOLDS = 5
MAX_CATEGORIES = 255  # HistGradientBoosting's limit on a categorical feature's cardinality


# --- checks and encoding ---------------------------------------------------------------------


def _check(tables: dict[str, pd.DataFrame], kinds: dict[str, str]) -> None:
    """Every table has exactly the columns of `kinds`, each of a known kind, and some rows."""
    bad = {c: k for c, k in kinds.items() if k not in KINDS}
    if bad:
        raise GanguardError(f"unknown column kinds {bad}; a kind is one of {list(KINDS)}")
    if not kinds:
        raise GanguardError("kinds names no columns")
    for name, table in tables.items():
        columns = list(table.columns)
        if len(set(columns)) != len(columns) or set(columns) != set(kinds):
            extra = sorted(map(str, set(columns) - set(kinds)))
            missing = sorted(map(str, set(kinds) - set(columns)))
            raise GanguardError(
                f"the {name} table's columns differ from kinds: extra {extra}, missing {missing}"
                + (", duplicated names" if len(set(columns)) != len(columns) else "")
            )
        if len(table) == 0:
            raise GanguardError(f"the {name} table has no rows")


def _numeric(table: pd.DataFrame, column: Any) -> np.ndarray:
    """A numeric column as float64, NaN where missing; text in it is bad input, not a bug."""
    try:
        values = pd.to_numeric(table[column], errors="raise")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as e:
        raise GanguardError(f"column {column!r} is numeric in kinds but holds {e}") from None


def _codes(tables: list[pd.DataFrame], column: Any) -> list[np.ndarray]:
    """A categorical column's integer codes in each table, from one category list shared by all
    of them (so a category seen in one table only still has one code everywhere); -1: missing."""
    joined = pd.concat([t[column].astype(object) for t in tables], ignore_index=True)
    codes, _ = pd.factorize(joined, use_na_sentinel=True)
    bounds = np.cumsum([0] + [len(t) for t in tables])
    return [codes[lo:hi] for lo, hi in itertools.pairwise(bounds)]


def _features(
    tables: list[pd.DataFrame], kinds: dict[str, str], columns: list[Any]
) -> tuple[list[np.ndarray], np.ndarray]:
    """The feature matrices of `tables` for the classifiers, and which columns are categorical.

    Categorical columns become shared ordinal codes (NaN where missing, which the classifier
    treats as a value of its own); one with more categories than the classifier can take as
    categorical goes in as its plain codes, a coarse but working numeric stand-in."""
    parts: list[list[np.ndarray]] = [[] for _ in tables]
    categorical = []
    for c in columns:
        if kinds[c] == "categorical":
            codes = _codes(tables, c)
            categorical.append(max(int(x.max(initial=-1)) for x in codes) < MAX_CATEGORIES)
            for part, x in zip(parts, codes, strict=True):
                part.append(np.where(x < 0, np.nan, x).astype(np.float64))
        else:
            categorical.append(False)
            for part, t in zip(parts, tables, strict=True):
                part.append(_numeric(t, c))
    return [np.column_stack(p) for p in parts], np.array(categorical, dtype=bool)


def _classifier(categorical: np.ndarray, seed: int) -> HistGradientBoostingClassifier:
    mask = categorical if categorical.any() else None
    return HistGradientBoostingClassifier(categorical_features=mask, random_state=seed)


# --- train on synthetic, test on real --------------------------------------------------------


def _fit_score(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    categorical: np.ndarray,
    n_classes: int,
    seed: int,
) -> tuple[float | None, float, str | None]:
    """(ROC AUC, accuracy, note) on the test table of a classifier fitted on (x, y)."""
    seen = np.unique(y)
    if len(seen) == 1:
        # No classifier fits one class; always predicting it is the honest stand-in.
        accuracy = float(np.mean(y_test == seen[0]))
        note = "one class of the target only: AUC 0.5, accuracy of always predicting it"
        return 0.5, accuracy, note
    model = _classifier(categorical, seed).fit(x, y)
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    # Probabilities over every class of the shared list, 0 for classes absent from training.
    proba = np.zeros((len(x_test), n_classes))
    proba[:, model.classes_] = model.predict_proba(x_test)
    present = np.unique(y_test)
    if len(present) < 2:
        return None, accuracy, "the test table holds one class of the target only: AUC undefined"
    if len(present) == 2:
        return float(roc_auc_score(y_test == present[1], proba[:, present[1]])), accuracy, None
    # Macro one-vs-rest over the classes the test table has; ovr wants rows summing to 1.
    sub = proba[:, present]
    sums = sub.sum(axis=1, keepdims=True)
    sub = np.where(sums > 0, sub / np.where(sums > 0, sums, 1.0), 1.0 / len(present))
    auc = roc_auc_score(y_test, sub, multi_class="ovr", average="macro", labels=present)
    return float(auc), accuracy, None


def tstr(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    kinds: dict[str, str],
    target: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Train-on-synthetic / test-on-real and train-on-real / test-on-real of a gradient-boosted
    classifier predicting `target` (categorical or discrete). Rows missing the target are left
    out. Keys: tstr_auc, tstr_accuracy, tstr_note, trtr_auc, trtr_accuracy, trtr_note (a note
    is None unless a figure needed a stand-in)."""
    tables = {"synthetic": synthetic, "train": train, "test": test}
    _check(tables, kinds)
    if target not in kinds:
        raise GanguardError(f"target {target!r} is not a column of the tables")
    if kinds[target] == "continuous":
        raise GanguardError(
            f"target {target!r} is continuous; TSTR needs a categorical or discrete target"
        )
    columns = [c for c in kinds if c != target]
    if not columns:
        raise GanguardError(f"the tables hold no feature column besides the target {target!r}")
    # The target's classes: one shared list over the three tables, as for categorical features.
    labels = _codes(list(tables.values()), target)
    n_classes = max(int(y.max(initial=-1)) for y in labels) + 1
    kept = [t[y >= 0] for t, y in zip(tables.values(), labels, strict=True)]
    labels = [y[y >= 0] for y in labels]
    for (name, _), y in zip(tables.items(), labels, strict=True):
        if len(y) == 0:
            raise GanguardError(f"the {name} table has no row with the target {target!r}")
    (xs, xr, xt), categorical = _features(kept, kinds, columns)
    ys, yr, yt = labels
    out: dict[str, Any] = {}
    for prefix, x, y in (("tstr", xs, ys), ("trtr", xr, yr)):
        auc, accuracy, note = _fit_score(x, y, xt, yt, categorical, n_classes, seed)
        out.update({f"{prefix}_auc": auc, f"{prefix}_accuracy": accuracy, f"{prefix}_note": note})
    return out


# --- column shapes ---------------------------------------------------------------------------


def column_shapes(a: pd.DataFrame, b: pd.DataFrame, kinds: dict[str, str]) -> dict[str, Any]:
    """Per column, 1 − KS statistic of the non-missing values (numeric) or 1 − total variation
    distance of the category frequencies, missing counted as a category (categorical); 1 means
    equal marginals. Keys: column_shapes (the mean), column_shapes_by_column."""
    _check({"first": a, "second": b}, kinds)
    by_column: dict[Any, float] = {}
    for c, kind in kinds.items():
        if kind == "categorical":
            # Shared codes so that equal categories match; the -1 of missing is a category too.
            ca, cb = _codes([a, b], c)
            size = max(int(ca.max(initial=-1)), int(cb.max(initial=-1))) + 2
            pa = np.bincount(ca + 1, minlength=size) / len(ca)
            pb = np.bincount(cb + 1, minlength=size) / len(cb)
            by_column[c] = float(1.0 - 0.5 * np.abs(pa - pb).sum())
        else:
            xa, xb = _numeric(a, c), _numeric(b, c)
            xa, xb = xa[~np.isnan(xa)], xb[~np.isnan(xb)]
            if len(xa) == 0 or len(xb) == 0:  # KS needs values on both sides
                by_column[c] = 1.0 if len(xa) == len(xb) else 0.0
            else:
                by_column[c] = float(1.0 - ks_2samp(xa, xb).statistic)
    return {
        "column_shapes": float(np.mean(list(by_column.values()))),
        "column_shapes_by_column": by_column,
    }


# --- column-pair trends ----------------------------------------------------------------------


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation over the rows where both are present; 0 where it is undefined (a
    constant column, fewer than two rows) rather than NaN."""
    keep = ~(np.isnan(x) | np.isnan(y))
    if keep.sum() < 2:
        return 0.0
    x, y = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    denom = np.sqrt((x @ x) * (y @ y))
    return float(np.clip((x @ y) / denom, -1.0, 1.0)) if denom > 0 else 0.0


def _cramers_v(x: np.ndarray, y: np.ndarray) -> float:
    """Cramér's V of two code arrays, the plain formula sqrt(χ² / (n (min(r, c) − 1))) without
    bias correction; 0 where a side holds a single value."""
    _, x = np.unique(x, return_inverse=True)
    _, y = np.unique(y, return_inverse=True)
    r, c = int(x.max(initial=-1)) + 1, int(y.max(initial=-1)) + 1
    if min(r, c) < 2:
        return 0.0
    table = np.bincount(x * c + y, minlength=r * c).reshape(r, c).astype(np.float64)
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(min(1.0, np.sqrt(chi2 / (n * (min(r, c) - 1)))))


def _binned(xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a numeric column's quantile bins, with edges from both tables together so that
    a bin means the same in each; missing values get a bin of their own."""
    both = np.concatenate([xa, xb])
    both = both[~np.isnan(both)]
    if len(both) == 0:
        return np.zeros(len(xa), dtype=np.int64), np.zeros(len(xb), dtype=np.int64)
    edges = np.unique(np.quantile(both, np.linspace(0, 1, PAIR_BINS + 1)[1:-1]))
    out = []
    for x in (xa, xb):
        codes = np.searchsorted(edges, x, side="right")
        out.append(np.where(np.isnan(x), len(edges) + 1, codes))
    return out[0], out[1]


def pair_trends(
    a: pd.DataFrame, b: pd.DataFrame, kinds: dict[str, str], seed: int = 0
) -> dict[str, Any]:
    """Per pair of columns, 1 − |Δ Pearson correlation| / 2 for two numeric columns and
    1 − |Δ Cramér's V| for a pair with a categorical column (the numeric one in quantile bins);
    1 means the pair's association is kept. All pairs up to 40 columns, else a fixed random
    sample (by `seed`) of 780 pairs. Keys: pair_trends (the mean, None with one column),
    pair_trends_by_pair (a list of {"a", "b", "score"})."""
    _check({"first": a, "second": b}, kinds)
    columns = list(kinds)
    pairs = list(itertools.combinations(columns, 2))
    if len(pairs) > MAX_PAIRS:
        rng = np.random.default_rng(seed)
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), MAX_PAIRS, replace=False))]
    numeric = {c: (_numeric(a, c), _numeric(b, c)) for c in columns if kinds[c] != "categorical"}
    # Every column's codes for Cramér's V: the categories themselves, or the numeric's bins.
    codes = {}
    for c in columns:
        if kinds[c] == "categorical":
            ca, cb = _codes([a, b], c)
            codes[c] = (ca, cb)  # -1, missing, is a code like any other here
        else:
            codes[c] = _binned(*numeric[c])
    by_pair = []
    for p, q in pairs:
        if p in numeric and q in numeric:
            ra, rb = (_pearson(numeric[p][i], numeric[q][i]) for i in (0, 1))
            score = 1.0 - abs(ra - rb) / 2
        else:
            va, vb = (_cramers_v(codes[p][i], codes[q][i]) for i in (0, 1))
            score = 1.0 - abs(va - vb)
        by_pair.append({"a": p, "b": q, "score": float(score)})
    mean = float(np.mean([s["score"] for s in by_pair])) if by_pair else None
    return {"pair_trends": mean, "pair_trends_by_pair": by_pair}


# --- detection -------------------------------------------------------------------------------


def detection_auc(a: pd.DataFrame, b: pd.DataFrame, kinds: dict[str, str], seed: int = 0) -> float:
    """Cross-validated ROC AUC of a gradient-boosted classifier telling `a`'s records from
    `b`'s, on a balanced sample of min(len(a), len(b), 5 000) records from each, over 5
    stratified folds (fewer when there are fewer records): 0.5 means indistinguishable, 1.0
    trivially told apart."""
    _check({"first": a, "second": b}, kinds)
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b), DETECTION_MAX)
    if n < 2:
        raise GanguardError(f"detection needs at least 2 records per table, got {len(a)}, {len(b)}")
    a = a.iloc[np.sort(rng.choice(len(a), n, replace=False))]
    b = b.iloc[np.sort(rng.choice(len(b), n, replace=False))]
    (xa, xb), categorical = _features([a, b], kinds, list(kinds))
    x, y = np.vstack([xa, xb]), np.repeat([1, 0], n)
    folds = StratifiedKFold(min(DETECTION_FOLDS, n), shuffle=True, random_state=seed)
    scores = cross_val_score(_classifier(categorical, seed), x, y, cv=folds, scoring="roc_auc")
    return float(np.mean(scores))


# --- all of them -----------------------------------------------------------------------------


def tabular_utility(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    test: pd.DataFrame,
    kinds: dict[str, str],
    target: str | None,
    seed: int = 0,
) -> dict[str, Any]:
    """kinds: column name -> "continuous" | "discrete" | "categorical" for every column of the
    tables (all three tables have exactly these columns). target: the column the TSTR classifier
    predicts (categorical or discrete), or None (then no TSTR fields).

    Shapes, pair trends and detection compare the synthetic table with the real training table.
    Keys: tstr_auc, tstr_accuracy, tstr_note, trtr_auc, trtr_accuracy, trtr_note (with a
    target), column_shapes, column_shapes_by_column, pair_trends, pair_trends_by_pair,
    detection_auc, n_synthetic, n_train, n_test."""
    _check({"synthetic": synthetic, "train": train, "test": test}, kinds)
    out: dict[str, Any] = {}
    if target is not None:
        out.update(tstr(synthetic, train, test, kinds, target, seed))
    out.update(column_shapes(synthetic, train, kinds))
    out.update(pair_trends(synthetic, train, kinds, seed))
    out["detection_auc"] = detection_auc(synthetic, train, kinds, seed)
    out.update({"n_synthetic": len(synthetic), "n_train": len(train), "n_test": len(test)})
    return out
