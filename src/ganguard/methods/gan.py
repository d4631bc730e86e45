"""The non-saturating GAN of SPEC §3, with hooks where the defences change the objective."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganguard.methods.base import Method, spectral_norm_once
from ganguard.nets.mlp import record_logits
from ganguard.options import GANOptions


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """ℓ_D = E_S[softplus(-d(x))] + E_z[softplus(d(G(z)))], from logits."""
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(d_gen: torch.Tensor) -> torch.Tensor:
    """Non-saturating ℓ_G = E_z[softplus(-d(G(z)))]."""
    return F.softplus(-d_gen).mean()


class GAN(Method):
    """The non-saturating GAN; subclasses add `discriminator_penalty` / `generator_penalty`."""

    name = "gan"
    Options = GANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        self.generator, self.discriminator = self.build_networks()
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        t = self.config.train
        self.optimizers = {
            "generator": self.adam(self.generator, t.lr_g),
            "discriminator": self.adam(self.discriminator, t.lr_d),
        }

    def step(self) -> dict[str, float]:
        G, D = self.generator, self.discriminator
        # y_real / y_fake are None unless the run is conditional
        real, y_real = self.draw_labelled(self.members, self.member_labels, "members")
        y_fake = self.fake_labels()
        fake = G(self.latent(), y_fake)
        logs: dict[str, float] = {}

        with spectral_norm_once():
            h_real = D.features(self.d_input(real))
            d_real = D.head(h_real, y_real)
            d_fake = D(self.d_input(fake.detach()), y_fake)
            loss_d = discriminator_loss(d_real, d_fake)
            logs["loss_d"] = loss_d.item()
            loss_d = loss_d + self.discriminator_penalty(h_real, d_real, d_fake, logs)
        self.optimizers["discriminator"].zero_grad()
        loss_d.backward()
        self.optimizers["discriminator"].step()

        loss_g = generator_loss(D(self.d_input(fake), y_fake))
        logs["loss_g"] = loss_g.item()
        loss_g = loss_g + self.generator_penalty(fake, logs)
        self.optimizers["generator"].zero_grad()
        loss_g.backward()
        self.optimizers["generator"].step()
        return logs

    def discriminator_penalty(
        self, h_real: torch.Tensor, d_real: torch.Tensor, d_fake: torch.Tensor, logs: dict
    ) -> torch.Tensor | float:
        """Added to ℓ_D inside the step's spectral-norm context; the GAN adds nothing."""
        return 0.0

    def generator_penalty(self, fake: torch.Tensor, logs: dict) -> torch.Tensor | float:
        """Added to ℓ_G; the GAN adds nothing."""
        return 0.0

    def discriminator_logits(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return record_logits(self.discriminator, x, y)

    def generate(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, y)
