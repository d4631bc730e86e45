"""Where tensors live: `auto | cpu | cuda[:k]` resolved to a torch device, and the device the
distance kernels use while a command runs.

A run's networks and data sit on its method's device (`Method.to`); everything that leaves a
method (samples, scores, checkpoints) comes back to the CPU, so a run trained on a GPU is resumed,
sampled or audited on a CPU. The random streams stay on the CPU too: a run draws the same batches
and latents on every device, and differs across devices only by floating-point rounding.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator

import torch

from ganguard.config import DEVICE_PATTERN
from ganguard.errors import GanguardError

_current: contextvars.ContextVar[torch.device | None] = contextvars.ContextVar(
    "ganguard_device", default=None
)


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The torch device `name` means: `auto` is the first CUDA device when there is one, else the
    CPU. A CUDA device that is not here is an error (before anything is written)."""
    if isinstance(name, torch.device):
        name = str(name)
    name = "auto" if name is None else str(name)
    if not re.fullmatch(DEVICE_PATTERN, name):
        raise GanguardError(f"--device must be auto, cpu, cuda or cuda:K, not {name!r}")
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise GanguardError(
            f"--device {name}: no CUDA device is available here (torch {torch.__version__}); "
            "use --device cpu or auto"
        )
    index = int(name.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise GanguardError(f"--device {name}: this machine has {count} CUDA device(s)")
    return torch.device("cuda", index)


def gpu_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def job_device(device: str | None, executor: str, workers: int) -> tuple[str, float]:
    """The device each job (a sweep's run, an audit's shadow model) trains on, and the GPUs it
    asks its executor for: jobs run in this process use the device as given; jobs in worker
    processes or Ray tasks on CUDA each get a GPU of their own, which they see as `cuda`."""
    resolved = resolve_device(device)
    if resolved.type == "cpu":
        return "cpu", 0.0
    if executor == "local" and workers == 1:
        return str(resolved), 0.0
    return "cuda", 1.0


def current_device() -> torch.device:
    """The device of the command running now (`using`), the CPU outside one."""
    return _current.get() or torch.device("cpu")


@contextlib.contextmanager
def using(device: str | torch.device | None) -> Iterator[torch.device]:
    """Within this context the distance kernels and the metrics compute on `device`."""
    resolved = resolve_device(device)
    token = _current.set(resolved)
    try:
        yield resolved
    finally:
        _current.reset(token)


def describe_machine() -> str:
    """The machine in words, for figures that name where they were measured: the CPU's model and
    core count, the GPU if any, Python's and torch's versions."""
    import os
    import platform
    from pathlib import Path

    cpu = platform.machine()
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {gpu}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")  # fmt: skip
