"""PAR-GAN, a baseline of SPEC §3: one generator against k discriminators, each trained on its own
disjoint part of the members S. No discriminator sees more than n / k records, so none can memorise
the whole training set; the generator's loss is the mean of the non-saturating losses.

`split_into_parts` is shared with PrivGAN, which splits S the same way.
"""

from __future__ import annotations

import torch

from ganguard.errors import GanguardError
from ganguard.methods.base import Method, derive_seed, spectral_norm_once
from ganguard.methods.gan import discriminator_loss, generator_loss
from ganguard.nets.mlp import record_logits
from ganguard.options import PARGANOptions


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


def parts_of(
    members: torch.Tensor, labels: torch.Tensor | None, part_indices: list[torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
    """The records of each part, and their labels (None each when `labels` is None)."""
    part_indices = [idx.to(members.device) for idx in part_indices]
    records = [members[idx] for idx in part_indices]
    return records, [None if labels is None else labels[idx] for idx in part_indices]


def update(optimizers: list[torch.optim.Optimizer], loss: torch.Tensor) -> None:
    """One backward of `loss` and a step of each optimiser. When each network's weights reach
    only its own term of a summed loss, this is each network's own update."""
    for o in optimizers:
        o.zero_grad()
    loss.backward()
    for o in optimizers:
        o.step()


class PARGAN(Method):
    name = "pargan"
    Options = PARGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        t = self.config.train
        # the generator is initialised as the GAN's is (same seed name)
        self.generator = self.build_generator("generator")
        self.discriminators = [
            self.build_discriminator(f"discriminator_{i}") for i in range(self.options.k)
        ]
        self.modules = {"generator": self.generator}
        self.optimizers = {"generator": self.adam(self.generator, t.lr_g)}
        for i, d in enumerate(self.discriminators):
            self.modules[f"discriminator_{i}"] = d
            self.optimizers[f"discriminator_{i}"] = self.adam(d, t.lr_d)
        self.part_indices: list[torch.Tensor] = []  # where each part's records sit in S
        self.parts: list[torch.Tensor] = []  # the records themselves
        self.part_labels: list[torch.Tensor | None] = []  # and their labels (conditional runs)

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor, *labels) -> None:  # noqa: ANN002
        super().attach_data(members, reference, *labels)
        self.part_indices = member_parts(members, self.options.k, self.config.seed, self.name)
        self.parts, self.part_labels = parts_of(members, self.member_labels, self.part_indices)

    def step(self) -> dict[str, float]:
        # each discriminator draws from its own part on its own stream (with replacement, so a
        # part smaller than the batch still gives full batches)
        reals = [
            self.draw_labelled(part, labels, f"members_{i}")
            for i, (part, labels) in enumerate(zip(self.parts, self.part_labels, strict=True))
        ]
        y_fake = self.fake_labels()
        fake = self.generator(self.latent(), y_fake)

        with spectral_norm_once():
            losses_d = [
                discriminator_loss(
                    d(self.d_input(real), y_real), d(self.d_input(fake.detach()), y_fake)
                )
                for d, (real, y_real) in zip(self.discriminators, reals, strict=True)
            ]
        # each discriminator's weights reach only its own loss: one backward of the sum
        loss_d = torch.stack(losses_d).sum()
        update([self.optimizers[f"discriminator_{i}"] for i in range(self.options.k)], loss_d)

        losses_g = [generator_loss(d(self.d_input(fake), y_fake)) for d in self.discriminators]
        loss_g = torch.stack(losses_g).mean()
        update([self.optimizers["generator"]], loss_g)
        return {"loss_d": loss_d.item() / self.options.k, "loss_g": loss_g.item()}

    def discriminator_logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([record_logits(d, x, y) for d in self.discriminators], dim=1)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, y)
