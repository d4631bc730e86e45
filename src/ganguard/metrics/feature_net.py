"""The feature network of the utility metrics (SPEC §6): a small classifier trained on the test
part T of a data set, whose penultimate layer is the feature space of FID, KID and PRDC.

Inception-v3 features mean little for 28×28 digits, so each data set gets its own classifier:
a two-stage CNN for 28×28 and 32×32 images, an MLP for anything else. It is trained once per
(data fingerprint, T, architecture, settings), seeded, on 80% of T; its accuracy is measured on
the other 20%. The weights (safetensors) and a JSON of accuracy and settings are cached under
`$GANGUARD_CACHE` (default `~/.cache/ganguard`) in `feature_nets/`, written to a temporary folder
and renamed, so an interrupted training never leaves half an entry. Nothing here unpickles.

A data set without labels cannot train a classifier: that is a GanguardError (no fallback).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from ganguard.data import Dataset
from ganguard.devices import current_device
from ganguard.errors import GanguardError

FORMAT = "ganguard-feature-net-1"
WEIGHTS = "weights.safetensors"
INFO = "info.json"
CNN_SIDES = {(28, 28), (32, 32)}
MIN_TEST = 10  # fewer records than this cannot both train and measure a classifier


def cache_root() -> Path:
    """Where cached models live: `$GANGUARD_CACHE`, else `~/.cache/ganguard` (read per call, so a
    changed environment takes effect at once)."""
    env = os.environ.get("GANGUARD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganguard"


@dataclass(frozen=True)
class FeatureNetSettings:
    """How the feature network is built and trained; every field is part of the cache key."""

    arch: str = "auto"  # cnn | mlp | auto (cnn for 28x28 and 32x32 images)
    feature_dim: int = 128
    epochs: int = 10
    min_steps: int = 200  # more epochs when T is so small that 10 epochs are few steps
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    eval_fraction: float = 0.2  # share of T held out to measure the accuracy

    def resolved_arch(self, shape: tuple[int, ...]) -> str:
        if self.arch not in ("auto", "cnn", "mlp"):
            raise GanguardError(f"feature network arch must be auto, cnn or mlp, not {self.arch!r}")
        if self.arch != "auto":
            return self.arch
        return "cnn" if tuple(shape[1:]) in CNN_SIDES else "mlp"


class FeatureNet(nn.Module):
    """A classifier whose `features` (the ReLU output before the last layer) are the embedding."""

    def __init__(self, shape: tuple[int, ...], n_classes: int, arch: str, feature_dim: int):
        super().__init__()
        c, h, w = shape
        if arch == "cnn":
            # stride-2 convolutions instead of pooling: a quarter of the cost, the same accuracy
            self.body = nn.Sequential(
                nn.Conv2d(c, 32, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(64 * math.ceil(h / 4) * math.ceil(w / 4), feature_dim),
                nn.ReLU(),
            )
        else:
            self.body = nn.Sequential(
                nn.Flatten(),
                nn.Linear(c * h * w, 256),
                nn.ReLU(),
                nn.Linear(256, feature_dim),
                nn.ReLU(),
            )
        self.head = nn.Linear(feature_dim, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass
class FeatureNetwork:
    """A trained feature network with its record (`info`, as saved in the cache's JSON)."""

    net: FeatureNet
    info: dict[str, Any]
    path: Path  # the cache entry
    trained: bool  # True when this call trained it, False when it came from the cache
    eval_index: np.ndarray  # records of the data set (indices) held out to measure the accuracy

    @property
    def accuracy(self) -> float:
        return float(self.info["test_accuracy"])

    @torch.no_grad()
    def features(self, x: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Penultimate-layer features (float64, one row per record) of NCHW records in [-1, 1]."""
        x = np.asarray(x, dtype=np.float32)
        shape = tuple(self.info["shape"])
        if x.ndim != 4 or x.shape[1:] != shape:
            raise GanguardError(
                f"the feature network takes records of shape {shape}, not {x.shape[1:]}"
            )
        # trained on the CPU (one cached network for every machine), applied on the device
        device = current_device()
        self.net.eval().to(device)
        out = [
            self.net.features(torch.from_numpy(x[i : i + chunk]).to(device)).cpu()
            for i in range(0, len(x), chunk)
        ]
        if not out:
            return np.zeros((0, int(self.info["feature_dim"])))
        return torch.cat(out).double().numpy()


def _cache_key(ds: Dataset, test: np.ndarray, settings: FeatureNetSettings, arch: str) -> str:
    spec = {
        "format": FORMAT,
        "fingerprint": ds.fingerprint(),
        "test": hashlib.sha256(np.ascontiguousarray(test, dtype=np.int64)).hexdigest(),
        "shape": list(ds.shape),
        "settings": {**asdict(settings), "arch": arch},
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def _eval_split(test: np.ndarray, settings: FeatureNetSettings) -> tuple[np.ndarray, np.ndarray]:
    """(train, eval) indices: a seeded permutation of T, its first `eval_fraction` held out."""
    order = np.random.default_rng(settings.seed).permutation(test)
    n_eval = max(1, math.ceil(settings.eval_fraction * len(test)))
    return order[n_eval:], order[:n_eval]


def feature_network(
    ds: Dataset,
    test: np.ndarray,
    settings: FeatureNetSettings | None = None,
    cache_dir: str | Path | None = None,
) -> FeatureNetwork:
    """The feature network for records `test` (indices of T) of `ds`: loaded from the cache when
    it was trained before, else trained now and cached."""
    settings = settings or FeatureNetSettings()
    if ds.y is None:
        raise GanguardError(
            f"the feature network of the utility metrics needs class labels, and data set "
            f"{ds.name} has none"
        )
    test = np.asarray(test, dtype=np.int64)
    if len(test) < MIN_TEST:
        raise GanguardError(
            f"the feature network is trained on the test part T, which has {len(test)} records; "
            f"it needs at least {MIN_TEST} (raise data.n_test)"
        )
    if ds.y.min() < 0:
        raise GanguardError(f"data set {ds.name} has negative class labels")
    arch = settings.resolved_arch(ds.shape)
    key = _cache_key(ds, test, settings, arch)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    entry = root / "feature_nets" / f"{ds.name}-{key[:24]}"
    train_idx, eval_idx = _eval_split(test, settings)
    n_classes = int(ds.y.max()) + 1  # from the whole data set: T may miss a rare class

    loaded = _load(entry, ds.shape, n_classes)
    if loaded is not None:
        return FeatureNetwork(loaded[0], loaded[1], entry, False, eval_idx)

    started = time.perf_counter()
    net = train_classifier(
        ds.x[train_idx], ds.y[train_idx], ds.shape, n_classes, settings, arch
    )
    info = {
        "format": FORMAT,
        "dataset": ds.name,
        "fingerprint": ds.fingerprint(),
        "key": key,
        "shape": list(ds.shape),
        "arch": arch,
        "feature_dim": settings.feature_dim,
        "n_classes": n_classes,
        "n_train": len(train_idx),
        "n_eval": len(eval_idx),
        "epochs_run": _epochs(len(train_idx), settings),
        "test_accuracy": classifier_accuracy(net, ds.x[eval_idx], ds.y[eval_idx]),
        "settings": asdict(settings),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _save(entry, net, info)
    return FeatureNetwork(net, info, entry, True, eval_idx)


def train_classifier(
    x: np.ndarray,
    y: np.ndarray,
    shape: tuple[int, ...],
    n_classes: int,
    s: FeatureNetSettings,
    arch: str | None = None,
) -> FeatureNet:
    """A seeded classifier of the feature network's architecture trained on (x, y): the feature
    network itself (on T), and the train-on-synthetic / train-on-real classifiers of evaluate."""
    arch = arch or s.resolved_arch(shape)
    # seeded initialisation and shuffling that leave the process-wide torch RNG untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(s.seed)
        net = FeatureNet(shape, n_classes, arch, s.feature_dim)
    x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    y = torch.from_numpy(np.asarray(y, dtype=np.int64))
    gen = torch.Generator().manual_seed(s.seed)
    opt = torch.optim.Adam(net.parameters(), lr=s.lr)
    net.train()
    for _ in range(_epochs(len(x), s)):
        for batch in torch.randperm(len(x), generator=gen).split(s.batch_size):
            loss = F.cross_entropy(net(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


def _epochs(n_train: int, s: FeatureNetSettings) -> int:
    return max(s.epochs, math.ceil(s.min_steps / math.ceil(n_train / s.batch_size)))


@torch.no_grad()
def classifier_accuracy(net: FeatureNet, x: np.ndarray, y: np.ndarray) -> float:
    """Share of records of x whose predicted class is y."""
    net.eval()
    logits = net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return float((logits.argmax(1).numpy() == y).mean())


def _save(entry: Path, net: FeatureNet, info: dict[str, Any]) -> None:
    """Write the entry under a temporary name, then rename it into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f".tmp-{entry.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp / WEIGHTS))
        (tmp / INFO).write_text(json.dumps(info, indent=2) + "\n")
        shutil.rmtree(entry, ignore_errors=True)  # a corrupt entry that _load refused
        os.replace(tmp, entry)
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if _complete(entry):  # another process cached the same network meanwhile
            return
        raise GanguardError(f"cannot write the feature network to {entry}: {err}") from None


def _complete(entry: Path) -> bool:
    return (entry / WEIGHTS).is_file() and (entry / INFO).is_file()


def _load(
    entry: Path, shape: tuple[int, ...], n_classes: int
) -> tuple[FeatureNet, dict[str, Any]] | None:
    """A cached network, or None when there is none or it is unreadable (it is then retrained:
    a cache entry can always be rebuilt)."""
    if not _complete(entry):
        return None
    unreadable = (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError)
    with contextlib.suppress(*unreadable):
        info = json.loads((entry / INFO).read_text())
        if info.get("format") != FORMAT or tuple(info["shape"]) != tuple(shape):
            return None
        net = FeatureNet(shape, n_classes, info["arch"], int(info["feature_dim"]))
        net.load_state_dict(load_file(str(entry / WEIGHTS)))
        net.eval()
        return net, info
    return None
