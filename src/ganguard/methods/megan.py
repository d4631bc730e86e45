"""MEGAN, the maximum-entropy GAN of SPEC §3: D is trained so that its output keeps membership at
maximum entropy. λ = 0 gives exactly the GAN (the extra terms are multiplied by zero and every
random draw they need comes from streams of their own)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganguard.errors import GanguardError
from ganguard.methods.base import seeded_init
from ganguard.methods.gan import GAN
from ganguard.nets.mlp import records_per_row
from ganguard.options import MEGANOptions

LN2 = math.log(2.0)


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


class FanoPenalty:
    """MEGAN's `fano` term on a method's discriminator: a membership critic c_ψ, trained each step
    to tell a member batch from a reference batch by what it reads of D (the logit, or D's
    penultimate features), and λ · max(ln 2 − CE_ψ, 0) for ℓ_D. MIMGAN uses it too, to protect
    the discriminator its own penalty cannot reach."""

    def __init__(self, method: GAN, lam: float, options: MEGANOptions) -> None:
        """λ = `lam`; the critic and its batches as `options` (MEGAN's fano options) say."""
        self.method, self.lam, self.options = method, lam, options
        pac = method.config.model.pac
        if options.critic_batch is not None and options.critic_batch % pac:
            raise GanguardError(
                f"config key method.critic_batch ({options.critic_batch}) must be a multiple of "
                f"model.pac ({pac}): D reads the critic's batches in packs"
            )
        n_in = 1 if options.critic_input == "logit" else method.discriminator.feature_dim
        hidden = options.critic_hidden
        self.critic = seeded_init(
            method.config.seed, "membership_critic", lambda: make_critic(n_in, hidden)
        )
        self.optimizer = method.adam(self.critic, options.critic_lr)

    def register(self, key: str) -> None:
        """Put the critic and its optimizer among the method's (so checkpoints hold them)."""
        self.method.modules[key], self.method.optimizers[key] = self.critic, self.optimizer

    def __call__(self, h_real: torch.Tensor, d_real: torch.Tensor, logs: dict) -> torch.Tensor:
        m, D, opt = self.method, self.method.discriminator, self.options
        if opt.critic_batch is not None:  # a member batch of the critic's own size, own stream
            n = opt.critic_batch
            mem, y_mem = m.draw_labelled(m.members, m.member_labels, "critic_members", n)
            h_real = D.features(m.d_input(mem))
            d_real = D.head(h_real, y_mem)
        n_members = len(h_real) * records_per_row(D)  # a packed D has a row per pac records
        ref, y_ref = m.draw_labelled(m.reference, m.reference_labels, "reference", n_members)
        h_ref = D.features(m.d_input(ref))
        if opt.critic_input == "logit":
            on_members, on_reference = d_real[:, None], D.head(h_ref, y_ref)[:, None]
        else:
            on_members, on_reference = h_real, h_ref
        ce = fano_cross_entropy(
            self.critic, self.optimizer, opt.critic_steps, on_members, on_reference
        )
        leak = torch.clamp(LN2 - ce, min=0.0)  # lower bound on I(M; Y) = ln 2 - H(M | Y)
        logs["critic_ce"] = ce.item()
        logs["mi_bound"] = leak.item()
        return self.lam * leak


def fano_cross_entropy(critic: nn.Module, optimizer: torch.optim.Optimizer, steps: int,
                       on_a: torch.Tensor, on_b: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """`steps` updates of the critic on detached inputs (a labelled 1, b labelled 0), then its
    cross-entropy CE on the inputs as given (differentiable in them): ln 2 − CE lower-bounds the
    information that what the critic reads carries about which set a record came from."""
    for _ in range(steps):
        ce = membership_cross_entropy(critic, on_a.detach(), on_b.detach())
        optimizer.zero_grad()
        ce.backward()
        optimizer.step()
    return membership_cross_entropy(critic, on_a, on_b)


class MEGAN(GAN):
    name = "megan"
    Options = MEGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        opt = self.options
        if opt.mode == "fano":
            self.fano = FanoPenalty(self, opt.lam, opt)
            self.fano.register("critic")

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
