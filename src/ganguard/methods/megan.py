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
from ganguard.methods.base import derive_seed, seeded_init
from ganguard.methods.gan import GAN

LN2 = math.log(2.0)


class MEGANOptions(MethodOptions):
    name: Literal["megan"] = "megan"
    # Defaults: the benchmark's best setting (benchmarks/privacy_utility.yaml, README "Results"):
    # fano, λ = 50, the critic on D's penultimate features, 256 members and reference records
    # per critic step (with R from a public collection, what brought every seed to chance)
    lam: float = Field(50.0, ge=0)  # λ, the weight of the entropy term
    mode: Literal["fano", "entropy"] = "fano"
    entropy_on: Literal["members", "all"] = "members"  # entropy mode: members, or members + fakes
    critic_input: Literal["logit", "features"] = "features"  # fano mode: what c_ψ reads
    critic_hidden: int = Field(32, ge=1)
    critic_lr: float = Field(1e-3, gt=0)
    critic_steps: int = Field(1, ge=1)
    # fano mode: member and reference records per step that the critic and the penalty see,
    # members drawn on a stream of their own; None: the step's own member batch and as many
    # reference records (the default before 256, which the benchmark's older settings pin)
    critic_batch: int | None = Field(256, ge=1)
    # fano mode: the share of the penalty's gradient that reaches D through the reference branch
    reference_gradient: float = Field(1.0, ge=0, le=1)
    # fano mode: weight of a second term that keeps the reference records the penalty trains on
    # (half of R) indistinguishable to D from the other half, which no gradient ever reaches: the
    # penalty moves R towards the members, so D would memorise R too; 0: off, all of R is used
    unseen_reference_lam: float = Field(0.0, ge=0)


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

    def __init__(self, method: GAN, lam: float, options: MEGANOptions) -> None:
        """λ = `lam`; the critic and its batches as `options` (MEGAN's fano options) say."""
        self.method, self.lam, self.options = method, lam, options
        n_in = 1 if options.critic_input == "logit" else method.discriminator.feature_dim
        hidden, lr = options.critic_hidden, options.critic_lr
        self.critic = seeded_init(
            method.config.seed, "membership_critic", lambda: make_critic(n_in, hidden)
        )
        self.optimizer = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=(0.5, 0.999))
        self.unseen_critic, self.unseen_optimizer = None, None
        if options.unseen_reference_lam > 0:
            self.unseen_critic = seeded_init(
                method.config.seed, "unseen_reference_critic", lambda: make_critic(n_in, hidden)
            )
            self.unseen_optimizer = torch.optim.Adam(
                self.unseen_critic.parameters(), lr=lr, betas=(0.5, 0.999)
            )
        self._parts: tuple | None = None

    def reference_parts(self) -> tuple[tuple | None, tuple | None]:
        """(records, labels) of the half of R the penalty trains on and of the unseen half, cut
        once by a seeded split (the same on every resume); (None, None), all of R, when that
        term is off."""
        if self.options.unseen_reference_lam == 0:
            return None, None
        if self._parts is None:
            m = self.method
            g = torch.Generator().manual_seed(derive_seed(m.config.seed, "unseen_split"))
            perm = torch.randperm(len(m.reference), generator=g)
            halves = perm[: len(perm) // 2], perm[len(perm) // 2 :]
            labels = m.reference_labels
            self._parts = tuple(
                (m.reference[h], None if labels is None else labels[h]) for h in halves
            )
        return self._parts

    def register(self, key: str) -> None:
        """Put the critics and their optimizers among the method's (so checkpoints hold them)."""
        m = self.method
        m.modules[key], m.optimizers[key] = self.critic, self.optimizer
        if self.unseen_critic is not None:
            m.modules["unseen_critic"] = self.unseen_critic
            m.optimizers["unseen_critic"] = self.unseen_optimizer

    def reads(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """What a critic reads of D on a batch whose features are h."""
        if self.options.critic_input == "logit":
            return self.method.discriminator.head(h, y)[:, None]
        return h

    def __call__(self, h_real: torch.Tensor, d_real: torch.Tensor, logs: dict) -> torch.Tensor:
        m, D, opt = self.method, self.method.discriminator, self.options
        if opt.critic_batch is not None:  # a member batch of the critic's own size, own stream
            n = opt.critic_batch
            mem, y_mem = m.draw_labelled(m.members, m.member_labels, "critic_members", n)
            h_real = D.features(m.d_input(mem))
            d_real = D.head(h_real, y_mem)
        trained, unseen = self.reference_parts()
        ref, y_ref = draw_part(m, trained, "reference", len(h_real))
        h_ref = scale_gradient(D.features(m.d_input(ref)), opt.reference_gradient)
        on_members = d_real[:, None] if opt.critic_input == "logit" else h_real
        on_reference = self.reads(h_ref, y_ref)
        steps = opt.critic_steps
        ce = fano_cross_entropy(self.critic, self.optimizer, steps, on_members, on_reference)
        leak = torch.clamp(LN2 - ce, min=0.0)  # lower bound on I(M; Y) = ln 2 - H(M | Y)
        logs["critic_ce"] = ce.item()
        logs["mi_bound"] = leak.item()
        penalty = self.lam * leak
        if unseen is not None:  # R the penalty trains on against R that no gradient reaches
            far, y_far = draw_part(m, unseen, "unseen_reference", len(h_real))
            with torch.no_grad():
                on_unseen = self.reads(D.features(m.d_input(far)), y_far)
            ce = fano_cross_entropy(
                self.unseen_critic, self.unseen_optimizer, steps, on_reference, on_unseen
            )
            drift = torch.clamp(LN2 - ce, min=0.0)
            logs["reference_drift"] = drift.item()
            penalty = penalty + opt.unseen_reference_lam * drift
        return penalty


def draw_part(method: GAN, part: tuple | None, stream: str, n: int) -> tuple:
    """A batch of (records, labels) from `part` (None: all of R), on its own stream."""
    records, labels = part if part is not None else (method.reference, method.reference_labels)
    return method.draw_labelled(records, labels, stream, n)


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
