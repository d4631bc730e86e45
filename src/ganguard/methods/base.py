"""The base class every training method derives from, and the seeded random streams it draws from.

A method owns its networks and optimisers and does one training step at a time; the trainer only
loops, logs and checkpoints. Each kind of randomness (member batches, latent draws, reference
batches, initialisation of each network) has its own seeded stream, so a method that adds a critic
or a reference batch does not shift the GAN's draws: that is what lets λ = 0 reproduce the GAN bit
for bit.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganguard.config import Config, MethodOptions
from ganguard.nets import build_discriminator, build_generator


def derive_seed(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class RandomStreams:
    """Named, independently seeded torch generators whose states go into checkpoints."""

    def __init__(self, seed: int):
        self.seed = seed
        self._streams: dict[str, torch.Generator] = {}

    def __call__(self, name: str) -> torch.Generator:
        if name not in self._streams:
            self._streams[name] = torch.Generator().manual_seed(derive_seed(self.seed, name))
        return self._streams[name]

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: g.get_state() for name, g in self._streams.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, value in state.items():
            self(name).set_state(value)


def seeded_init(seed: int, name: str, build):  # noqa: ANN001, ANN201 - a constructor and its module
    """Build a module with its own seed, leaving the global torch RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, name))
        return build()


def spectral_norm_once():  # noqa: ANN201
    """Within this context every forward reuses one spectrally normalised weight per layer, so a
    discriminator step does a single power iteration however many batches it scores."""
    return parametrize.cached()


class Method:
    """One GAN training objective: networks, optimisers, one step, scores and samples."""

    name: ClassVar[str]
    Options: ClassVar[type[MethodOptions]]
    registry: ClassVar[dict[str, type[Method]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every method class with a `name` of its own registers itself (see methods/__init__)."""
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            Method.registry[cls.name] = cls

    def __init__(
        self,
        options: MethodOptions,
        config: Config,
        shape: tuple[int, ...],
        streams: RandomStreams,
    ):
        self.options = options
        self.config = config
        self.shape = tuple(shape)
        self.streams = streams
        self.members = torch.empty(0, *self.shape)
        self.reference = torch.empty(0, *self.shape)
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor) -> None:
        """Give the method its training data (S) and the reference part (R, possibly empty)."""
        self.members, self.reference = members, reference

    # -- what subclasses provide ------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """One training step; returns the losses to log."""
        raise NotImplementedError

    def discriminator_logits(self, x: torch.Tensor) -> torch.Tensor:
        """The white-box score d(x): shape (n,), or (n, k) for methods with k discriminators."""
        raise NotImplementedError

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def status(self) -> dict[str, float | None]:
        """Method-specific figures for each metrics.jsonl line (e.g. the ε spent so far)."""
        return {}

    def extra_state(self) -> dict[str, Any]:
        """State beyond networks, optimisers and streams (e.g. a privacy accountant), as nested
        dicts / lists of tensors and JSON values; saved in every checkpoint."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` returned, when a run is resumed."""

    @property
    def z_dim(self) -> int:
        return self.config.model.z_dim

    # -- shared helpers ---------------------------------------------------------------------
    def build_networks(self, prefix: str = "") -> tuple[nn.Module, nn.Module]:
        seed, cfg = self.config.seed, self.config.model
        g = seeded_init(seed, prefix + "generator", lambda: build_generator(cfg, self.shape))
        d = seeded_init(
            seed, prefix + "discriminator", lambda: build_discriminator(cfg, self.shape)
        )
        return g, d

    def adam(self, module: nn.Module, lr: float) -> torch.optim.Adam:
        t = self.config.train
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(t.beta1, t.beta2))

    def draw(self, data: torch.Tensor, stream: str, n: int | None = None) -> torch.Tensor:
        """A batch drawn uniformly with replacement from `data` on its own random stream."""
        n = n or self.config.train.batch_size
        idx = torch.randint(len(data), (n,), generator=self.streams(stream))
        return data[idx]

    def latent(self, n: int | None = None) -> torch.Tensor:
        n = n or self.config.train.batch_size
        return torch.randn(n, self.z_dim, generator=self.streams("latent"))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, chunk: int = 1024) -> torch.Tensor:
        """n samples in [-1, 1] (generators in eval mode: BatchNorm uses its running statistics)."""
        with self.evaluating():
            out = [
                self.generate(torch.randn(min(chunk, n - i), self.z_dim, generator=generator))
                for i in range(0, n, chunk)
            ]
        return torch.cat(out) if out else torch.empty(0, *self.shape)

    @torch.no_grad()
    def score(self, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """discriminator_logits in eval mode (no power iteration, no state change), chunked."""
        with self.evaluating():
            chunks = [x[i : i + chunk] for i in range(0, len(x), chunk)]
            return torch.cat([self.discriminator_logits(c) for c in chunks])

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Every network in eval mode for the duration, then back in the mode it was in."""
        modes = {k: m.training for k, m in self.modules.items()}
        for m in self.modules.values():
            m.eval()
        try:
            yield
        finally:
            for k, m in self.modules.items():
                m.train(modes[k])
