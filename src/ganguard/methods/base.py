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

from ganguard.config import Config
from ganguard.errors import GanguardError
from ganguard.methods.augment import augment, check_augmentable
from ganguard.nets import build_discriminator, build_generator
from ganguard.options import MethodOptions

_EDGE = 1e-12  # keeps Φ⁻¹ finite at the edges of a class's share of the latent space


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


def split_latent(z: torch.Tensor, n: int, column: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A uniform choice among n (a class, or one of n generators) read from one coordinate of z,
    and the latent with that coordinate renewed.

    u = Φ(z_c) is uniform on (0, 1), so c = ⌊n·u⌋ is a uniform choice, and u' = n·u − c is again
    uniform and independent of c; z_c is replaced by Φ⁻¹(u'). So given the choice the latent is
    still N(0, I), a sample is a function of its own latent alone (the same z give the same
    samples however they are chunked), and within one choice's share of the latent space the map
    is smooth, so a white-box attack can still optimise z by gradient.
    """
    u = torch.special.ndtr(z[:, column].double()) * n
    choice = u.floor().clamp(0, n - 1)
    renewed = torch.special.ndtri((u - choice).clamp(_EDGE, 1 - _EDGE)).to(z.dtype)
    z = z.clone()
    z[:, column] = renewed
    return choice.long(), z


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
        """Every method class with a `name` of its own registers itself (see methods/__init__);
        its `Options` are the options class of the same name (`ganguard.options`)."""
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            Method.registry[cls.name] = cls

    def __init__(
        self,
        options: MethodOptions,
        config: Config,
        shape: tuple[int, ...],
        streams: RandomStreams,
        n_classes: int = 0,
        layout: list | None = None,
    ):
        self.options = options
        self.layout = layout  # a table's record blocks: the generator's heads
        self.config = config
        self.shape = tuple(shape)
        self.streams = streams
        self.conditional = config.model.conditional
        self.n_classes = n_classes if self.conditional else 0
        if self.conditional and n_classes < 1:
            raise GanguardError("model.conditional needs a data set with class labels")
        if self.conditional and config.model.z_dim < 2:
            raise GanguardError("model.conditional needs model.z_dim >= 2")
        check_augmentable(config.train.augment, self.shape)
        if config.model.pac > 1 and config.train.batch_size % config.model.pac:
            raise GanguardError(
                f"config key model.pac: train.batch_size ({config.train.batch_size}) must be a "
                f"multiple of it ({config.model.pac}): D reads the batch in packs"
            )
        self.members = torch.empty(0, *self.shape)
        self.reference = torch.empty(0, *self.shape)
        self.member_labels: torch.Tensor | None = None  # class labels, conditional runs only
        self.reference_labels: torch.Tensor | None = None
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.device = torch.device("cpu")

    def to(self, device: torch.device) -> Method:
        """Move the networks (and their optimisers' state: Adam keeps it beside each parameter)
        and the attached data to `device`. The random streams stay on the CPU, so a run draws
        the same batches and latents on every device."""
        self.device = torch.device(device)
        for module in self.modules.values():
            module.to(self.device)  # in place: the optimisers keep their parameters
        for opt in self.optimizers.values():
            for state in opt.state.values():
                for key, value in state.items():
                    if isinstance(value, torch.Tensor) and key != "step":
                        state[key] = value.to(self.device)
        self.members, self.reference = self.here(self.members), self.here(self.reference)
        self.member_labels = self.here(self.member_labels)
        self.reference_labels = self.here(self.reference_labels)
        return self  # (built, then moved, then given its data: see runs.build_method and train)

    def here(self, t: torch.Tensor | None) -> torch.Tensor | None:
        """`t` on the method's device (None stays None)."""
        return None if t is None else t.to(self.device)

    def attach_data(
        self,
        members: torch.Tensor,
        reference: torch.Tensor,
        member_labels: torch.Tensor | None = None,
        reference_labels: torch.Tensor | None = None,
    ) -> None:
        """Give the method its training data (S) and the reference part (R, possibly empty), with
        their class labels when the run is conditional."""
        if self.conditional and (member_labels is None or reference_labels is None):
            raise GanguardError("a conditional run needs the class labels of S and R")
        self.members, self.reference = self.here(members), self.here(reference)
        if self.conditional:
            self.member_labels = self.here(member_labels)
            self.reference_labels = self.here(reference_labels)

    def start_from(self, gan: Method) -> None:
        """Start from a trained GAN's weights (`train.pretrain_on`): every generator of this
        method from the GAN's generator, every discriminator from its discriminator. Critics and
        other networks keep their initialisation, and the optimisers start afresh."""
        for key, module in self.modules.items():
            role = key.split("_")[0]  # generator, generator_1, discriminator_0, ...
            if role in ("generator", "discriminator"):
                module.load_state_dict(gan.modules[role].state_dict())

    # -- what subclasses provide ------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """One training step; returns the losses to log."""
        raise NotImplementedError

    def discriminator_logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The white-box score d(x) (d(x, y) when conditional): shape (n,), or (n, k) for methods
        with k discriminators."""
        raise NotImplementedError

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """G(z), or G(z, y) for labels y when conditional."""
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
        return self.build_generator(prefix + "generator"), self.build_discriminator(
            prefix + "discriminator"
        )

    def build_generator(self, name: str) -> nn.Module:
        """The run's generator (conditional when the run is), initialised from seed `name`."""
        cfg, k = self.config.model, self.n_classes
        return seeded_init(self.config.seed, name,
                           lambda: build_generator(cfg, self.shape, k, self.layout))  # fmt: skip

    def build_discriminator(self, name: str) -> nn.Module:
        cfg, k = self.config.model, self.n_classes
        return seeded_init(
            self.config.seed, name, lambda: build_discriminator(cfg, self.shape, k)
        )

    def adam(self, module: nn.Module, lr: float) -> torch.optim.Adam:
        t = self.config.train
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(t.beta1, t.beta2))

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees of a training batch: `train.augment` applied, if any."""
        policies = self.config.train.augment
        return augment(x, policies, self.streams("augment")) if policies else x

    def draw(self, data: torch.Tensor, stream: str, n: int | None = None) -> torch.Tensor:
        """A batch drawn uniformly with replacement from `data` on its own random stream."""
        return self.draw_labelled(data, None, stream, n)[0]

    def draw_labelled(
        self, data: torch.Tensor, labels: torch.Tensor | None, stream: str, n: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`draw`, with the drawn records' labels (None when `labels` is None)."""
        n = n or self.config.train.batch_size
        idx = torch.randint(len(data), (n,), generator=self.streams(stream)).to(data.device)
        return data[idx], None if labels is None else labels[idx]

    def latent(self, n: int | None = None) -> torch.Tensor:
        n = n or self.config.train.batch_size
        return torch.randn(n, self.z_dim, generator=self.streams("latent")).to(self.device)

    def fake_labels(self, n: int | None = None) -> torch.Tensor | None:
        """Uniform class labels for a generated batch (own stream); None when unconditional, so
        an unconditional run draws exactly what it drew before conditioning existed."""
        if not self.conditional:
            return None
        n = n or self.config.train.batch_size
        labels = torch.randint(self.n_classes, (n,), generator=self.streams("fake_labels"))
        return labels.to(self.device)

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """A sample as a function of its latent alone, as outsiders (sampling, white-box attacks)
        see the generator: for a conditional run the label is read from z's last coordinate
        (uniform over the classes, see `split_latent`), so G stays a differentiable map of z."""
        if not self.conditional:
            return self.generate(z)
        return self.generate(*self.label_latent(z))

    def label_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z with its label coordinate renewed, the class it encodes): conditional runs."""
        labels, z = split_latent(z, self.n_classes, column=-1)
        return z, labels

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator, chunk: int = 1024, label: int | None = None
    ) -> torch.Tensor:
        """n samples in [-1, 1] (generators in eval mode: BatchNorm uses its running statistics);
        all of class `label` when given (conditional runs only)."""
        return self.sample_labelled(n, generator, chunk, label)[0]

    @torch.no_grad()
    def sample_labelled(
        self, n: int, generator: torch.Generator, chunk: int = 1024, label: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`sample`, with each sample's class (None for an unconditional run). Without `label`
        the classes are uniform, read from the latents as `from_latent` does."""
        if label is not None:
            if not self.conditional:
                raise GanguardError("--label needs a conditional run (model.conditional: true)")
            if not 0 <= label < self.n_classes:
                raise GanguardError(
                    f"--label must be a class in 0..{self.n_classes - 1}, got {label}"
                )
        xs, ys = [], []
        with self.evaluating():
            for i in range(0, n, chunk):
                z = torch.randn(min(chunk, n - i), self.z_dim, generator=generator)
                z = z.to(self.device)
                if not self.conditional:
                    xs.append(self.generate(z).cpu())
                    continue
                z, y = self.label_latent(z)
                if label is not None:
                    y = torch.full_like(y, label)
                xs.append(self.generate(z, y).cpu())
                ys.append(y.cpu())
        x = torch.cat(xs) if xs else torch.empty(0, *self.shape)
        if not self.conditional:
            return x, None
        return x, torch.cat(ys) if ys else torch.empty(0, dtype=torch.long)

    @torch.no_grad()
    def score(
        self, x: torch.Tensor, y: torch.Tensor | None = None, chunk: int = 1024
    ) -> torch.Tensor:
        """discriminator_logits in eval mode (no power iteration, no state change), chunked.

        A conditional run scored without labels gives, per record, its highest score over the
        classes: a white-box attacker who does not know a record's label tries them all."""
        with self.evaluating():
            out = []
            for i in range(0, len(x), chunk):
                rows = x[i : i + chunk].to(self.device)
                if not self.conditional:
                    out.append(self.discriminator_logits(rows))
                elif y is not None:
                    out.append(self.discriminator_logits(rows, y[i : i + chunk].to(self.device)))
                else:
                    per_class = [
                        self.discriminator_logits(
                            rows, torch.full((len(rows),), c, device=self.device))
                        for c in range(self.n_classes)
                    ]  # fmt: skip
                    out.append(torch.stack(per_class).max(0).values)
            return torch.cat(out).cpu()

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
