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
    # "Results"): fano, λ = 50, the critic on D's penultimate features
    lam: float = Field(50.0, ge=0)  # λ, the weight of the entropy term
    mode: Literal["fano", "entropy"] = "fano"
    entropy_on: Literal["members", "all"] = "members"  # entropy mode: members, or members + fakes
    critic_input: Literal["logit", "features"] = "features"  # fano mode: what c_ψ reads
    critic_hidden: int = Field(32, ge=1)
    critic_lr: float = Field(1e-3, gt=0)
    critic_steps: int = Field(1, ge=1)
    # fano mode: member and reference records per step that the critic and the penalty see;
    # None: the step's own member batch and as many reference records
    critic_batch: int | None = Field(None, ge=1)
    # fano mode: the share of the penalty's gradient that reaches D through the reference branch
    reference_gradient: float = Field(1.0, ge=0, le=1)


def binary_entropy_from_logit(d: torch.Tensor) -> torch.Tensor:
    """h(σ(d)) in nats, computed from the logit: σ(d)·softplus(-d) + σ(-d)·softplus(d)."""
    p = torch.sigmoid(d)
    return p * F.softplus(-d) + (1 - p) * F.softplus(d)


def membership_cross_entropy(
    critic: nn.Module, on_members: torch.Tensor, on_reference: torch.Tensor
) -> torch.Tensor:
    """CE_ψ: the critic's binary cross-entropy, members labelled 1 and reference records 0."""
    return 0.5 * (F.softplus(-critic(on_members)).mean() + F.softplus(critic(on_reference)).mean())


def scale_gradient(t: torch.Tensor, share: float) -> torch.Tensor:
    """t in the forward pass; share × its gradient in the backward pass."""
    return t if share == 1 else share * t + (1 - share) * t.detach()


def make_critic(n_in: int, hidden: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1), nn.Flatten(0),
    )  # fmt: skip


class FanoPenalty:
    """MEGAN's `fano` term on a method's discriminator: a membership critic c_ψ, trained each step
    to tell a member batch from a reference batch by what it reads of D (the logit, or D's
    penultimate features), and λ · max(ln 2 − CE_ψ, 0) for ℓ_D. MIMGAN uses it too, to protect
    the discriminator its own penalty cannot reach."""

    def __init__(self, method: GAN, lam: float, critic_input: str, hidden: int, lr: float,
                 steps: int, batch: int | None, reference_gradient: float) -> None:  # fmt: skip
        self.method, self.lam, self.critic_input = method, lam, critic_input
        self.steps, self.batch, self.reference_gradient = steps, batch, reference_gradient
        D = method.discriminator
        n_in = 1 if critic_input == "logit" else D.feature_dim
        self.critic = seeded_init(
            method.config.seed, "membership_critic", lambda: make_critic(n_in, hidden)
        )
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=(0.5, 0.999))

    def __call__(self, h_real: torch.Tensor, d_real: torch.Tensor, logs: dict) -> torch.Tensor:
        m, D = self.method, self.method.discriminator
        if self.batch is not None:  # a member batch of the critic's own size, own stream
            mem, y_mem = m.draw_labelled(m.members, m.member_labels, "critic_members", self.batch)
            h_real = D.features(m.d_input(mem))
            d_real = D.head(h_real, y_mem)
        ref, y_ref = m.draw_labelled(m.reference, m.reference_labels, "reference", len(h_real))
        h_ref = scale_gradient(D.features(m.d_input(ref)), self.reference_gradient)
        if self.critic_input == "logit":
            on_members, on_reference = d_real[:, None], D.head(h_ref, y_ref)[:, None]
        else:
            on_members, on_reference = h_real, h_ref
        for _ in range(self.steps):  # the critic learns on detached inputs
            ce = membership_cross_entropy(self.critic, on_members.detach(), on_reference.detach())
            self.optimizer.zero_grad()
            ce.backward()
            self.optimizer.step()
        ce = membership_cross_entropy(self.critic, on_members, on_reference)
        leak = torch.clamp(LN2 - ce, min=0.0)  # lower bound on I(M; Y) = ln 2 - H(M | Y)
        logs["critic_ce"] = ce.item()
        logs["mi_bound"] = leak.item()
        return self.lam * leak


class MEGAN(GAN):
    name = "megan"
    Options = MEGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        opt = self.options
        if opt.mode == "fano":
            self.fano = FanoPenalty(
                self, opt.lam, opt.critic_input, opt.critic_hidden, opt.critic_lr,
                opt.critic_steps, opt.critic_batch, opt.reference_gradient,
            )  # fmt: skip
            self.critic = self.fano.critic
            self.modules["critic"] = self.critic
            self.optimizers["critic"] = self.fano.optimizer

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
        return self.fano(h_real, d_real, logs)
