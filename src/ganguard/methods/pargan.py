"""PAR-GAN, a baseline of SPEC §3: one generator against k discriminators, each trained on its own
disjoint part of the members S. No discriminator sees more than n / k records, so none can memorise
the whole training set; the generator's loss is the mean of the non-saturating losses.

`split_into_parts` is shared with PrivGAN, which splits S the same way.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field

from ganguard.config import MethodOptions
from ganguard.errors import GanguardError
from ganguard.methods.base import Method, derive_seed, seeded_init, spectral_norm_once
from ganguard.methods.gan import discriminator_loss, generator_loss
from ganguard.nets import build_discriminator, build_generator


def split_into_parts(n: int, k: int, seed: int) -> list[torch.Tensor]:
    """Indices 0..n-1 in a seeded random order, cut into k disjoint parts of near-equal size
    (sizes differ by at most one); each part sorted."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return [part.sort().values for part in torch.tensor_split(order, k)]


def member_parts(members: torch.Tensor, k: int, seed: int, method: str) -> list[torch.Tensor]:
    """The indices of S's k parts for `method`, from the run's seed (not the batch streams, so
    the parts are the same at every resume and do not shift any draw)."""
    if len(members) < k:
        raise GanguardError(
            f"method {method}: {k} parts of S need at least {k} members "
            f"(data.n_members = {len(members)})"
        )
    return split_into_parts(len(members), k, derive_seed(seed, "member_parts"))


def update(optimizers: list[torch.optim.Optimizer], loss: torch.Tensor) -> None:
    """One backward of `loss` and a step of each optimiser. When each network's weights reach
    only its own term of a summed loss, this is each network's own update."""
    for o in optimizers:
        o.zero_grad()
    loss.backward()
    for o in optimizers:
        o.step()


class PARGANOptions(MethodOptions):
    name: Literal["pargan"] = "pargan"
    k: int = Field(5, ge=2)  # discriminators, and parts of S


class PARGAN(Method):
    name = "pargan"
    Options = PARGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        seed, cfg, t = self.config.seed, self.config.model, self.config.train
        # the generator is initialised as the GAN's is (same seed name)
        self.generator = seeded_init(seed, "generator", lambda: build_generator(cfg, self.shape))
        self.discriminators = [
            seeded_init(seed, f"discriminator_{i}", lambda: build_discriminator(cfg, self.shape))
            for i in range(self.options.k)
        ]
        self.modules = {"generator": self.generator}
        self.optimizers = {"generator": self.adam(self.generator, t.lr_g)}
        for i, d in enumerate(self.discriminators):
            self.modules[f"discriminator_{i}"] = d
            self.optimizers[f"discriminator_{i}"] = self.adam(d, t.lr_d)
        self.part_indices: list[torch.Tensor] = []  # where each part's records sit in S
        self.parts: list[torch.Tensor] = []  # the records themselves

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor) -> None:
        super().attach_data(members, reference)
        self.part_indices = member_parts(members, self.options.k, self.config.seed, self.name)
        self.parts = [members[idx] for idx in self.part_indices]

    def step(self) -> dict[str, float]:
        # each discriminator draws from its own part on its own stream (with replacement, so a
        # part smaller than the batch still gives full batches)
        reals = [self.draw(part, f"members_{i}") for i, part in enumerate(self.parts)]
        fake = self.generator(self.latent())

        with spectral_norm_once():
            losses_d = [
                discriminator_loss(d(real), d(fake.detach()))
                for d, real in zip(self.discriminators, reals, strict=True)
            ]
        # each discriminator's weights reach only its own loss: one backward of the sum
        loss_d = torch.stack(losses_d).sum()
        update([self.optimizers[f"discriminator_{i}"] for i in range(self.options.k)], loss_d)

        loss_g = torch.stack([generator_loss(d(fake)) for d in self.discriminators]).mean()
        update([self.optimizers["generator"]], loss_g)
        return {"loss_d": loss_d.item() / self.options.k, "loss_g": loss_g.item()}

    def discriminator_logits(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([d(x) for d in self.discriminators], dim=1)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)
