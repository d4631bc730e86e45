"""MIMGAN, the mutual-information-minimisation GAN of SPEC §3: the generator also minimises a
variational estimate Î of what a batch of its samples tells about whether a record was a member.

The attacker's view of a record v is relational only: its soft nearest-neighbour squared distance
δ(v, X̃) to the generator's batch X̃. A critic T_ω = f_ω(δ) learns to tell members from reference
records (R) by δ alone, so it cannot memorise who the members are, only measure leakage that the
generator controls. Î is the Donsker–Varadhan (or NWJ) lower bound on
KL(P_δ|member ‖ P_δ|non-member) with that critic.

Scale: φ divides each record's features by √(number of features), so ‖φ(v) − φ(x)‖² is the mean
squared difference per pixel (in [0, 4] for data in [-1, 1]) whatever the image size. On `digits`
and `mnist-5k` a record's nearest neighbour among 64 others is 0.07–0.4 away on that scale
(median 0.16–0.26), hence τ = 0.05: δ is close to the nearest distance yet smooth over neighbours
a few hundredths apart, so G's gradient reaches more than one sample.

Critic input: δ is standardised by the mean and standard deviation of the step's member and
reference batches together (detached). The same affine map is applied to both batches, so it
leaves the KL unchanged, and it keeps f_ω's input near unit scale whatever τ, the data or φ.

β = 0 gives exactly the GAN: the critic is built from its own seed, every batch it needs comes
from streams of its own, the generator is never run again, the discriminator (features:
discriminator) is only run in eval mode (no power iteration), and the penalty is multiplied by β.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Literal

import torch
from torch import nn

from ganguard.distances import squared_distances
from ganguard.errors import GanguardError
from ganguard.methods.base import seeded_init
from ganguard.methods.gan import GAN
from ganguard.methods.megan import FanoPenalty
from ganguard.nets.mlp import record_features
from ganguard.options import MEGANOptions, MIMGANOptions

Estimator = Literal["dv", "nwj"]


def soft_min_distance(v: torch.Tensor, x: torch.Tensor, tau: float) -> torch.Tensor:
    """δ(v_i, X) = −τ ln Σ_j exp(−‖v_i − x_j‖² / τ) for each row v_i: a soft minimum of the
    squared distances, within τ·ln|X| below the true minimum and equal to it as τ → 0."""
    return -tau * torch.logsumexp(-squared_distances(v, x) / tau, dim=1)


def log_mean_exp(t: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(t, dim=0) - math.log(len(t))


def bound_from_outputs(
    t_members: torch.Tensor, t_reference: torch.Tensor, estimator: Estimator
) -> torch.Tensor:
    """Î from the critic's outputs T on S and on R.

    DV: mean_S T − ln mean_R e^T;  NWJ: mean_S T − mean_R e^(T−1)."""
    if estimator == "dv":
        return t_members.mean() - log_mean_exp(t_reference)
    return t_members.mean() - torch.exp(t_reference - 1).mean()


def leakage_estimate(
    critic: nn.Module,
    delta_members: torch.Tensor,
    delta_reference: torch.Tensor,
    estimator: Estimator,
) -> torch.Tensor:
    """Î with critic T = critic(δ), on a member batch and a reference batch of δ values (n,)."""
    return bound_from_outputs(critic(delta_members), critic(delta_reference), estimator)


def critic_step(
    critic: nn.Module,
    optimizer: torch.optim.Optimizer,
    delta_members: torch.Tensor,
    delta_reference: torch.Tensor,
    estimator: Estimator,
) -> float:
    """One ascent step of the critic on Î (its inputs detached: only ω learns); returns Î as it
    was before the step."""
    t_members, t_reference = critic(delta_members.detach()), critic(delta_reference.detach())
    estimate = bound_from_outputs(t_members, t_reference, estimator)
    optimizer.zero_grad()
    (-estimate).backward()
    optimizer.step()
    return estimate.item()


def standardise(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a and b shifted and scaled by the (detached) mean and std of both together."""
    both = torch.cat([a, b]).detach()
    mean, std = both.mean(), both.std(unbiased=False) + 1e-6  # eps: all δ equal stays finite
    return (a - mean) / std, (b - mean) / std


class LeakageCritic(nn.Module):
    """f_ω: a small MLP from the scalar δ of each record to T."""

    def __init__(self, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(1, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, delta: torch.Tensor) -> torch.Tensor:
        return self.net(delta[:, None]).squeeze(1)


@contextlib.contextmanager
def eval_mode(module: nn.Module) -> Iterator[None]:
    """`module` in eval mode for the duration: spectral norm reuses its vectors, no update."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


class MIMGAN(GAN):
    name = "mimgan"
    Options = MIMGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        opt = self.options
        self.critic = seeded_init(
            self.config.seed, "mim_critic", lambda: LeakageCritic(opt.critic_hidden)
        )
        self.modules["mim_critic"] = self.critic
        self.optimizers["mim_critic"] = self.adam(self.critic, opt.critic_lr)
        self.fano = None
        if opt.discriminator_lam > 0:
            megan = MEGANOptions(critic_batch=opt.critic_batch)
            self.fano = FanoPenalty(self, opt.discriminator_lam, megan)
            self.fano.register("membership_critic")

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor, *labels) -> None:  # noqa: ANN002
        if len(reference) == 0:
            raise GanguardError(
                "method mimgan needs the reference part R (its critic compares members with "
                "reference records): set data.n_reference > 0"
            )
        super().attach_data(members, reference, *labels)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x), scaled so that squared distances are means over the features (see the top)."""
        if self.options.features == "discriminator":
            with eval_mode(self.discriminator):
                x = record_features(self.discriminator, x)
        x = x.flatten(1)
        return x / math.sqrt(x.shape[1])

    def leakage_inputs(self, generated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The critic's inputs on a fresh member batch and reference batch: the standardised
        δ(v, X̃) with X̃ = `generated` (the gradient reaches `generated` if it has one)."""
        members = self.draw(self.members, "mim_members")
        reference = self.draw(self.reference, "mim_reference")
        with torch.no_grad():
            phi_members, phi_reference = self.features(members), self.features(reference)
        phi_generated = self.features(generated)
        tau = self.options.tau
        return standardise(
            soft_min_distance(phi_members, phi_generated, tau),
            soft_min_distance(phi_reference, phi_generated, tau),
        )

    def update_critic(self, on_members: torch.Tensor, on_reference: torch.Tensor) -> float:
        """`critic_steps` ascent steps of the critic on Î; returns the last step's Î."""
        opt = self.options
        for _ in range(opt.critic_steps):
            mi = critic_step(
                self.critic, self.optimizers["mim_critic"], on_members, on_reference, opt.estimator
            )
        return mi

    def discriminator_penalty(self, h_real, d_real, d_fake, logs):  # noqa: ANN001, ANN201
        return 0.0 if self.fano is None else self.fano(h_real, d_real, logs)

    def generator_penalty(self, fake: torch.Tensor, logs: dict) -> torch.Tensor:
        opt = self.options
        on_members, on_reference = self.leakage_inputs(fake)
        self.update_critic(on_members, on_reference)  # detaches: the critic sees fake.detach()
        mi = leakage_estimate(self.critic, on_members, on_reference, opt.estimator)
        logs["mi"] = mi.item()
        return opt.beta * torch.clamp(mi, min=0.0)
