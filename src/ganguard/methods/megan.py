"""MEGAN, the maximum-entropy GAN of SPEC §3: D is trained so that its output keeps membership at
maximum entropy. λ = 0 gives exactly the GAN (the extra terms are multiplied by zero and every
random draw they need comes from streams of their own)."""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from ganguard.config import MethodOptions
from ganguard.errors import GanguardError
from ganguard.methods.base import seeded_init
from ganguard.methods.gan import GAN

LN2 = math.log(2.0)


class MEGANOptions(MethodOptions):
    name: Literal["megan"] = "megan"
    # Defaults: the benchmark's best setting (benchmarks/privacy_utility.yaml's screen, README
    # "Results"): fano, λ = 20, the critic on D's penultimate features
    lam: float = Field(20.0, ge=0)  # λ, the weight of the entropy term
    mode: Literal["fano", "entropy"] = "fano"
    entropy_on: Literal["members", "all"] = "members"  # entropy mode: members, or members + fakes
    critic_input: Literal["logit", "features"] = "features"  # fano mode: what c_ψ reads
    critic_hidden: int = Field(32, ge=1)
    critic_lr: float = Field(1e-3, gt=0)
    critic_steps: int = Field(1, ge=1)


def binary_entropy_from_logit(d: torch.Tensor) -> torch.Tensor:
    """h(σ(d)) in nats, computed from the logit: σ(d)·softplus(-d) + σ(-d)·softplus(d)."""
    p = torch.sigmoid(d)
    return p * F.softplus(-d) + (1 - p) * F.softplus(d)


def membership_cross_entropy(
    critic: nn.Module, on_members: torch.Tensor, on_reference: torch.Tensor
) -> torch.Tensor:
    """CE_ψ: the critic's binary cross-entropy, members labelled 1 and reference records 0."""
    return 0.5 * (F.softplus(-critic(on_members)).mean() + F.softplus(critic(on_reference)).mean())


def make_critic(n_in: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1), nn.Flatten(0),
    )  # fmt: skip


class MEGAN(GAN):
    name = "megan"
    Options = MEGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        opt = self.options
        if opt.mode == "fano":
            n_in = 1 if opt.critic_input == "logit" else self.discriminator.feature_dim
            self.critic = seeded_init(
                self.config.seed, "membership_critic", lambda: make_critic(n_in, opt.critic_hidden)
            )
            self.modules["critic"] = self.critic
            self.optimizers["critic"] = torch.optim.Adam(
                self.critic.parameters(), lr=opt.critic_lr, betas=(0.5, 0.999)
            )

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor, *labels) -> None:  # noqa: ANN002
        if self.options.mode == "fano" and len(reference) == 0:
            raise GanguardError(
                "method megan (mode fano) needs the reference part R: set data.n_reference > 0"
            )
        super().attach_data(members, reference, *labels)

    def discriminator_penalty(self, h_real, d_real, d_fake, logs):  # noqa: ANN001, ANN201
        opt = self.options
        if opt.mode == "entropy":
            on = d_real if opt.entropy_on == "members" else torch.cat([d_real, d_fake])
            entropy = binary_entropy_from_logit(on).mean()
            logs["entropy"] = entropy.item()
            return -opt.lam * entropy

        # fano: what the critic reads of a member batch and of a reference batch
        D = self.discriminator
        ref, y_ref = self.draw_labelled(self.reference, self.reference_labels, "reference")
        h_ref = D.features(self.d_input(ref))
        if opt.critic_input == "logit":
            on_members, on_reference = d_real[:, None], D.head(h_ref, y_ref)[:, None]
        else:
            on_members, on_reference = h_real, h_ref
        for _ in range(opt.critic_steps):  # the critic learns on detached inputs
            ce = membership_cross_entropy(self.critic, on_members.detach(), on_reference.detach())
            self.optimizers["critic"].zero_grad()
            ce.backward()
            self.optimizers["critic"].step()
        ce = membership_cross_entropy(self.critic, on_members, on_reference)
        leak = torch.clamp(LN2 - ce, min=0.0)  # lower bound on I(M; Y) = ln 2 - H(M | Y)
        logs["critic_ce"] = ce.item()
        logs["mi_bound"] = leak.item()
        return opt.lam * leak
