"""The members / holdout / reference / test split: disjoint, deterministic, saved and checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ganguard.data import Dataset
from ganguard.data.split import Split, check_split, load_split, make_split, save_split
from ganguard.errors import GanguardError


def toy(n: int = 100, seed: int = 0, name: str = "toy") -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset(name, rng.uniform(-1, 1, (n, 1, 2, 2)), rng.integers(0, 10, n))


def test_disjoint_and_sized() -> None:
    split = make_split(toy(), 40, 20, 15, 10, seed=3)
    parts = [split.members, split.holdout, split.reference, split.test]
    assert [len(p) for p in parts] == [40, 20, 15, 10]
    assert all(p.dtype == np.int64 for p in parts)
    every = np.concatenate(parts)
    assert len(np.unique(every)) == len(every) == 85
    assert every.min() >= 0 and every.max() < 100
    assert split.seed == 3 and split.dataset == "toy"
    assert split.fingerprint == toy().fingerprint()


def test_empty_parts_allowed() -> None:
    split = make_split(toy(), 100, 0, 0, 0, seed=0)
    assert len(split.members) == 100
    assert len(split.holdout) == len(split.reference) == len(split.test) == 0
    check_split(split, toy())


def test_deterministic() -> None:
    a = make_split(toy(), 30, 30, 20, 20, seed=7)
    b = make_split(toy(), 30, 30, 20, 20, seed=7)
    c = make_split(toy(), 30, 30, 20, 20, seed=8)
    assert a == b
    assert not np.array_equal(a.members, c.members)
    assert a != c


def test_json_round_trip(tmp_path: Path) -> None:
    split = make_split(toy(), 10, 5, 0, 5, seed=1)
    assert Split.from_json(json.loads(json.dumps(split.to_json()))) == split
    path = tmp_path / "split.json"
    save_split(split, path)
    assert not path.with_suffix(".tmp").exists()
    loaded = load_split(path)
    assert loaded == split and loaded.reference.dtype == np.int64
    check_split(loaded, toy())


def test_fingerprint_mismatch() -> None:
    split = make_split(toy(), 10, 10, 10, 10, seed=0)
    with pytest.raises(GanguardError, match="was made from other data \\(fingerprint sha256:"):
        check_split(split, toy(seed=1))


def test_oversize() -> None:
    expected = (
        "data.n_members \\+ data.n_holdout \\+ data.n_reference \\+ data.n_test = 101 "
        "exceeds the 100 records of toy"
    )
    with pytest.raises(GanguardError, match=expected):
        make_split(toy(), 50, 30, 20, 1, seed=0)


@pytest.mark.parametrize(
    ("sizes", "message"),
    [((0, 1, 1, 1), "n_members must be at least 1"), ((5, -1, 0, 0), "n_holdout must be")],
)
def test_bad_sizes(sizes: tuple, message: str) -> None:
    with pytest.raises(GanguardError, match=message):
        make_split(toy(), *sizes, seed=0)


def test_index_out_of_range() -> None:
    ds = toy()
    split = make_split(ds, 10, 0, 0, 0, seed=0)
    bad = Split.from_json({**split.to_json(), "members": [0, 1, 100]})
    with pytest.raises(GanguardError, match="indices outside 0..99"):
        check_split(bad, ds)
    overlap = Split.from_json({**split.to_json(), "holdout": [int(split.members[0])]})
    with pytest.raises(GanguardError, match="overlap"):
        check_split(overlap, ds)


def test_load_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(GanguardError, match="split.json does not exist"):
        load_split(tmp_path / "split.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GanguardError, match="bad.json is not valid JSON"):
        load_split(tmp_path / "bad.json")
    (tmp_path / "partial.json").write_text(json.dumps({"seed": 1}))
    with pytest.raises(GanguardError, match="partial.json: the split lacks dataset"):
        load_split(tmp_path / "partial.json")


def test_reference_from_another_data_set() -> None:
    """R comes from the other data set only, never holds a record of the private one (even one
    the other data set shares), and the other parts are those of the plain split."""
    from ganguard.data.dataset import append_reference

    private, public = toy(100), toy(60, seed=1)
    shared = public.x.copy()
    shared[:10] = private.x[:10]  # the public collection contains 10 private records
    public = Dataset("public", shared)  # no labels: a plain seeded draw
    joined = append_reference(private, public, 45, seed=3)
    assert len(joined) == 145 and joined.name == "toy+public"
    split = make_split(joined, 40, 20, 45, 10, seed=3, reference_from=100)
    check_split(split, joined)
    assert np.array_equal(split.reference, np.arange(100, 145))
    private_records = {r.tobytes() for r in private.x}
    assert not any(r.tobytes() in private_records for r in joined.x[split.reference])
    plain = make_split(private, 40, 20, 0, 10, seed=3)
    for part in ("members", "holdout", "test"):
        assert np.array_equal(getattr(split, part), getattr(plain, part))
    again = append_reference(private, public, 45, seed=3)
    assert again.fingerprint() == joined.fingerprint()  # the same seed draws the same R


def test_reference_data_errors() -> None:
    from ganguard.data.dataset import append_reference

    private = toy(100)
    with pytest.raises(GanguardError, match="same kind"):
        append_reference(private, Dataset("wide", np.zeros((5, 1, 3, 3))), 2, seed=0)
    with pytest.raises(GanguardError, match="only 50 records that are not in toy"):
        append_reference(private, Dataset("small", private.x[:50] + 0.5), 51, seed=0)
    with pytest.raises(GanguardError, match="exceeds the 100 records of toy"):
        make_split(append_reference(private, toy(60, 1), 30, 0), 90, 20, 30, 0, 0, 100)


def test_reference_keeps_the_class_proportions_of_the_private_data() -> None:
    """With labels on both sides R has the private data's class proportions (a critic must not
    tell S from R by them); a class the other data set lacks is a clear error."""
    from ganguard.data.dataset import append_reference, proportional_counts

    rng = np.random.default_rng(0)
    private = Dataset("private", rng.uniform(-1, 1, (100, 1, 2, 2)), np.repeat([0, 1], [80, 20]))
    public = Dataset("public", rng.uniform(-1, 1, (400, 1, 2, 2)), np.repeat([0, 1], [200, 200]))
    joined = append_reference(private, public, 50, seed=1)
    assert np.bincount(joined.y[100:]).tolist() == [40, 10]
    assert proportional_counts(np.array([1, 1, 1]), 4).tolist() == [2, 1, 1]
    unlabelled = Dataset("public", public.x)
    assert append_reference(private, unlabelled, 50, seed=1).y is None
    with pytest.raises(GanguardError, match="needs 20 records of class 1"):
        append_reference(private, Dataset("public", public.x, np.repeat([0, 1], [390, 10])), 100, 1)
