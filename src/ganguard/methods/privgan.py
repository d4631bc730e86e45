"""PrivGAN (Mukherjee et al., 2021), a baseline of SPEC §3: N generator–discriminator pairs, pair i
trained as a GAN on part i of the members S only, plus a privacy discriminator D_p that learns
which generator made a sample. Each generator is also trained to fool D_p, so that no generator's
samples are recognisably those of its own part; samples come from a uniformly chosen generator.

Free choices, each documented where it is made:
- D_p is the run's discriminator network with its 1-logit layer swapped for an N-way linear one
  (spectrally normalised like the rest when `model.spectral_norm`); it only ever sees generated
  samples, never a record of S.
- The generators' privacy term: the non-saturating form of the authors' code (`privacy_loss`).
- D_p is trained from the first step, at train.lr_d, and its term enters the generators' loss at
  once. The paper's code instead pre-trains D_p on the real parts, lets the generators fight that
  frozen D_p, and starts training D_p after `dp_delay` epochs (half of training in their
  experiments).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganguard.config import ModelConfig
from ganguard.methods.base import Method, seeded_init, spectral_norm_once, split_latent
from ganguard.methods.gan import discriminator_loss, generator_loss
from ganguard.methods.pargan import member_parts, parts_of, update
from ganguard.nets import build_discriminator
from ganguard.nets.layers import spectral_normed
from ganguard.nets.mlp import record_logits
from ganguard.options import PrivGANOptions


class PrivacyDiscriminator(nn.Module):
    """D_p: the run's discriminator network with an N-way head, giving (n, N) logits."""

    def __init__(self, cfg: ModelConfig, shape: tuple[int, ...], n_classes: int):
        super().__init__()
        # D_p tells generators apart whatever the class: it stays unconditional
        self.net = build_discriminator(cfg, shape, conditional=False, packed=False)
        self.net.out = spectral_normed(
            nn.Linear(self.net.feature_dim, n_classes), cfg.spectral_norm
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.out(self.net.features(x))


def privacy_loss(logits: torch.Tensor, origin: torch.Tensor) -> torch.Tensor:
    """Per sample, what its generator minimises to fool D_p (`origin`: which generator made it):
    −ln(1 − D_p^i(x)), zero once D_p gives the true origin no weight.

    The paper's equation, ln D_p^i(x) = −CE, has no lower bound (a generator can push D_p to be
    sure of a wrong origin) and a vanishing gradient while D_p is sure of the right one. For N = 2
    the form used here is exactly the authors' code (cross-entropy towards the other generator's
    label); for N > 2 their code draws one random wrong label per sample, this is its
    deterministic counterpart.
    """
    log_p = F.log_softmax(logits, dim=1)
    own = F.one_hot(origin, logits.shape[1]).bool()
    return -log_p.masked_fill(own, float("-inf")).logsumexp(dim=1)


class PrivGAN(Method):
    name = "privgan"
    Options = PrivGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        seed, cfg, t, opt = self.config.seed, self.config.model, self.config.train, self.options
        n = opt.n_pairs
        self.generators = [self.build_generator(f"generator_{i}") for i in range(n)]
        self.discriminators = [self.build_discriminator(f"discriminator_{i}") for i in range(n)]
        self.privacy_discriminator = seeded_init(
            seed, "privacy_discriminator", lambda: PrivacyDiscriminator(cfg, self.shape, n)
        )
        for i in range(n):
            self.modules[f"generator_{i}"] = self.generators[i]
            self.modules[f"discriminator_{i}"] = self.discriminators[i]
            self.optimizers[f"generator_{i}"] = self.adam(self.generators[i], t.lr_g)
            self.optimizers[f"discriminator_{i}"] = self.adam(self.discriminators[i], t.lr_d)
        self.modules["privacy_discriminator"] = self.privacy_discriminator
        self.optimizers["privacy_discriminator"] = self.adam(self.privacy_discriminator, t.lr_d)
        self.part_indices: list[torch.Tensor] = []  # where each part's records sit in S
        self.parts: list[torch.Tensor] = []  # the records themselves
        self.part_labels: list[torch.Tensor | None] = []  # and their labels (conditional runs)

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor, *labels) -> None:  # noqa: ANN002
        super().attach_data(members, reference, *labels)
        self.part_indices = member_parts(members, self.options.n_pairs, self.config.seed, self.name)
        self.parts, self.part_labels = parts_of(members, self.member_labels, self.part_indices)

    def step(self) -> dict[str, float]:
        n, opt = self.options.n_pairs, self.options
        # pair i sees only part i, on its own stream (with replacement: a small part still works)
        reals = [
            self.draw_labelled(part, labels, f"members_{i}")
            for i, (part, labels) in enumerate(zip(self.parts, self.part_labels, strict=True))
        ]
        y_fake = self.fake_labels()  # the same labels for every generator (None: unconditional)
        fakes = [g(self.latent(), y_fake) for g in self.generators]
        pairs = list(zip(self.discriminators, reals, fakes, strict=True))

        # each discriminator's weights reach only its own loss: one backward of the sum
        with spectral_norm_once():
            loss_d = sum(
                discriminator_loss(
                    d(self.d_input(real), y_real), d(self.d_input(fake.detach()), y_fake)
                )
                for d, (real, y_real), fake in pairs
            )
        update([self.optimizers[f"discriminator_{i}"] for i in range(n)], loss_d)

        # D_p learns which generator made each sample
        generated = torch.cat(fakes)
        origin = torch.arange(n, device=generated.device).repeat_interleave(len(fakes[0]))
        with spectral_norm_once():
            loss_dp = F.cross_entropy(self.privacy_discriminator(generated.detach()), origin)
        update([self.optimizers["privacy_discriminator"]], loss_dp)

        # each generator: its GAN loss, plus fooling D_p; G_i's weights reach only its own terms
        loss_gan = sum(generator_loss(d(self.d_input(fake), y_fake)) for d, _, fake in pairs)
        loss_g = loss_gan
        if opt.privacy_ratio > 0:  # a zero weight skips the term: it cannot even add 0 · ∞
            per_sample = privacy_loss(self.privacy_discriminator(generated), origin)
            loss_g = loss_g + opt.privacy_ratio * per_sample.view(n, -1).mean(1).sum()
        update([self.optimizers[f"generator_{i}"] for i in range(n)], loss_g)

        return {
            "loss_d": loss_d.item() / n,
            "loss_g": loss_gan.item() / n,
            "loss_dp": loss_dp.item(),
        }

    def discriminator_logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.stack([record_logits(d, x, y) for d in self.discriminators], dim=1)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Which generator makes each row is read from z's first coordinate (`split_latent`)."""
        choice, z = split_latent(z, self.options.n_pairs, column=0)
        out = z.new_empty(len(z), *self.shape)
        for i, g in enumerate(self.generators):
            rows = (choice == i).nonzero().squeeze(1)
            if len(rows):
                y_rows = None if y is None else y[rows]
                out = out.index_put((rows,), g(z[rows], y_rows))  # out of place: grads reach z
        return out
