"""Checkpoints (SPEC §7): safetensors + JSON round trips, pruning, and never unpickling."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from ganguard.errors import GanguardError
from ganguard.runs import checkpoint_dirs, latest_checkpoint, load_checkpoint, save_checkpoint


def assert_equal_state(a: Any, b: Any, where: str = "state") -> None:
    """Equal values of equal types, recursively; tensors equal in dtype, shape and bits."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), where
        return
    if isinstance(a, tuple):  # JSON has no tuples: they come back as lists
        a = list(a)
    if isinstance(a, dict):  # an OrderedDict (state_dict) comes back as a dict, in order
        assert isinstance(b, dict), f"{where}: {type(b).__name__}"
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_equal_state(a[k], b[k], f"{where}[{k!r}]")
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def optimiser_state() -> tuple[torch.nn.Module, dict]:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.999))
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(5, 3)).pow(2).mean().backward()
        opt.step()
    return net, opt.state_dict()


def test_round_trip_of_nested_state(tmp_path: Path) -> None:
    net, opt_state = optimiser_state()
    gen = torch.Generator().manual_seed(7)
    torch.randn(3, generator=gen)
    state = {
        "modules": {"net": net.state_dict()},
        "optimizers": {"net": opt_state},  # int-keyed `state`, lists and tuples of floats
        "streams": {"latent": gen.get_state()},
        "shape": [1, 8, 8],
        "ints": 3,
        "float": 0.1 + 0.2,
        "tiny": 5e-324,
        "text": "step_ünïcode",
        "flags": [True, False, None],
        "int_keys": {0: torch.arange(3), 10: {"x": 1.5}, 2: [torch.tensor(2.5)]},
        "mixed": [1, 2.5, "a", torch.ones(2, 2, dtype=torch.float64)],
        "scalar": torch.tensor(4.0),
        "non_contiguous": torch.arange(12.0).reshape(3, 4).T,
        "dtypes": [torch.zeros(2, dtype=d) for d in (torch.int32, torch.uint8, torch.bool)],
        "empty": {},
    }
    path = save_checkpoint(tmp_path, 42, state)
    assert path == tmp_path / "checkpoints" / "step_0000042"
    assert sorted(p.name for p in path.iterdir()) == ["state.json", "weights.safetensors"]
    json.loads((path / "state.json").read_text())  # plain JSON

    step, loaded = load_checkpoint(path)
    assert step == 42
    assert_equal_state(state, loaded)

    # and the loaded state drives real objects again
    net2, _ = optimiser_state()
    net2.load_state_dict(loaded["modules"]["net"])
    for p, q in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(p, q)
    opt2 = torch.optim.Adam(net2.parameters())
    opt2.load_state_dict(loaded["optimizers"]["net"])
    assert_equal_state(opt_state, opt2.state_dict())
    gen2 = torch.Generator()
    gen2.set_state(loaded["streams"]["latent"])
    assert torch.equal(torch.randn(4, generator=gen), torch.randn(4, generator=gen2))


def test_round_trip_keeps_tensors_whose_key_paths_look_alike(tmp_path: Path) -> None:
    state = {"a/b": torch.ones(1), "a": {"b": torch.zeros(1)}, "k": {1: torch.ones(1),
             "1": torch.full((1,), 2.0)}}  # fmt: skip
    _, loaded = load_checkpoint(save_checkpoint(tmp_path, 1, state))
    assert_equal_state(state, loaded)


def test_keep_prunes_older_checkpoints(tmp_path: Path) -> None:
    for step in (5, 10, 15):
        save_checkpoint(tmp_path, step, {"w": torch.full((2,), float(step))}, keep=1)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step_0000015"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_0000015"
    assert torch.equal(load_checkpoint(latest_checkpoint(tmp_path))[1]["w"], torch.full((2,), 15.0))
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step_0000015"]  # no temp


def test_keep_two_and_keep_all(tmp_path: Path) -> None:
    for step in (1, 2, 3, 4):
        save_checkpoint(tmp_path / "two", step, {"s": step}, keep=2)
        save_checkpoint(tmp_path / "all", step, {"s": step}, keep=0)
    assert [p.name for p in checkpoint_dirs(tmp_path / "two")] == ["step_0000003", "step_0000004"]
    assert len(checkpoint_dirs(tmp_path / "all")) == 4
    assert latest_checkpoint(tmp_path / "none") is None


def test_resaving_a_step_replaces_it(tmp_path: Path) -> None:
    save_checkpoint(tmp_path, 3, {"w": torch.zeros(2)})
    save_checkpoint(tmp_path, 3, {"w": torch.ones(2)})
    assert torch.equal(load_checkpoint(latest_checkpoint(tmp_path))[1]["w"], torch.ones(2))


# -- a checkpoint is never unpickled ----------------------------------------------------------


class Evil:
    """Unpickling this creates the sentinel file: proof that code ran."""

    def __init__(self, sentinel: Path):
        self.sentinel = Path(sentinel)

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.sentinel,))


def plant_pickle(checkpoint: Path, sentinel: Path, kind: str) -> None:
    """Replace the checkpoint's weights by a pickle (plain, or torch.save's zip) that would touch
    `sentinel` when loaded; first show on a copy that loading it really would run the code."""
    weights = checkpoint / "weights.safetensors"
    probe_sentinel = sentinel.with_name(sentinel.name + ".probe")
    probe = checkpoint.parent / "probe.bin"
    for target, flag in ((probe, probe_sentinel), (weights, sentinel)):
        if kind == "pickle":
            with open(target, "wb") as f:
                pickle.dump({"w": Evil(flag)}, f)
        else:
            torch.save({"w": Evil(flag)}, target)
    # positive control: an ordinary unpickling of the same bytes does run the payload
    if kind == "pickle":
        with open(probe, "rb") as f:
            pickle.load(f)  # noqa: S301 - deliberately, on our own file
    else:
        torch.load(probe, weights_only=False)
    assert probe_sentinel.exists()
    probe.unlink()
    probe_sentinel.unlink()


def make_checkpoint(root: Path) -> Path:
    return save_checkpoint(root, 1, {"w": torch.ones(3), "n": 1})


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_load_checkpoint_refuses_a_pickle(tmp_path: Path, kind: str) -> None:
    checkpoint = make_checkpoint(tmp_path / "run")
    sentinel = tmp_path / "SENTINEL"
    plant_pickle(checkpoint, sentinel, kind)
    with pytest.raises(GanguardError, match="safetensors"):
        load_checkpoint(checkpoint)
    assert not sentinel.exists()


def test_load_checkpoint_refuses_a_state_that_is_not_json(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path / "run")
    sentinel = tmp_path / "SENTINEL"
    with open(checkpoint / "state.json", "wb") as f:
        pickle.dump(Evil(sentinel), f)
    with pytest.raises(GanguardError):
        load_checkpoint(checkpoint)
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: (c / "weights.safetensors").unlink(), "missing"),
        (lambda c: (c / "state.json").unlink(), "missing"),
        (lambda c: (c / "state.json").write_text('{"format": "other"}'), "not a ganguard"),
        (lambda c: (c / "weights.safetensors").write_bytes(b"\x00" * 5), "safetensors"),
    ],
    ids=["no-weights", "no-state", "foreign-state", "truncated-weights"],
)
def test_broken_checkpoints_are_clear_errors(tmp_path: Path, change, match: str) -> None:  # noqa: ANN001
    checkpoint = make_checkpoint(tmp_path / "run")
    change(checkpoint)
    with pytest.raises(GanguardError, match=match):
        load_checkpoint(checkpoint)


def test_state_pointing_at_a_missing_tensor_is_an_error(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path / "run")
    meta = json.loads((checkpoint / "state.json").read_text())
    meta["state"]["__dict__"].append(["extra", {"__tensor__": "/nowhere"}])
    (checkpoint / "state.json").write_text(json.dumps(meta))
    with pytest.raises(GanguardError, match="inconsistent"):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_cli_refuses_a_pickled_checkpoint(
    kind: str, gan_run_copy: Path, tmp_path: Path, expect_cli_error, snapshot
) -> None:
    run = gan_run_copy
    checkpoint = latest_checkpoint(run)
    assert checkpoint is not None
    load_file(str(checkpoint / "weights.safetensors"))  # a real run, valid before we plant
    sentinel = tmp_path / "SENTINEL"
    plant_pickle(checkpoint, sentinel, kind)
    before = snapshot(run / "checkpoints")
    metrics = (run / "metrics.jsonl").read_bytes()

    out = tmp_path / "x.npz"
    line = expect_cli_error("sample", run, "--n", 4, "--out", out)
    assert "safetensors" in line
    assert not out.exists()
    assert not sentinel.exists()

    line = expect_cli_error("train", run / "config.yaml", "--out", run, "--resume")
    assert "safetensors" in line
    assert not sentinel.exists()
    assert snapshot(run / "checkpoints") == before
    assert (run / "metrics.jsonl").read_bytes() == metrics
