"""DP-GAN, the baseline of SPEC §3: DP-SGD on the discriminator through Opacus.

Each step samples the members by Poisson sampling (every record independently with probability
q = train.batch_size / n), clips the per-sample gradients of D's loss on those records to
`max_grad_norm`, adds Gaussian noise and records the step in a privacy accountant. The generator
only ever sees D, so it inherits D's (ε, δ) guarantee.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from opacus import GradSampleModule
from opacus.accountants import create_accountant
from opacus.accountants.utils import get_noise_multiplier
from opacus.grad_sample.grad_sample_module_fast_gradient_clipping import (
    GradSampleModuleFastGradientClipping,
)
from opacus.optimizers import DPOptimizer
from opacus.optimizers.optimizer_fast_gradient_clipping import DPOptimizerFastGradientClipping
from opacus.utils.fast_gradient_clipping_utils import DPTensorFastGradientClipping
from opacus.validators import ModuleValidator
from torch.nn.utils import parametrize

from ganguard.errors import GanguardError
from ganguard.methods.gan import GAN, generator_loss
from ganguard.nets.mlp import records_per_row
from ganguard.options import DPGANOptions

# One accountant entry: (noise multiplier, sample rate, number of steps), as Opacus keeps them.
History = list[tuple[float, float, int]]


class DPGAN(GAN):
    """The GAN with a differentially private discriminator (DP-SGD, Poisson sampling)."""

    name = "dpgan"
    Options = DPGANOptions

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003 - same signature as Method
        super().__init__(*args, **kwargs)
        check_supported(self.discriminator, self.config.model.spectral_norm)
        # Hooks on D's layers compute per-sample gradients (`per_sample`) or only their norms
        # (`ghost`); self.discriminator stays the plain module, so its state_dict keys (and
        # checkpoints) are the GAN's, without `_module.`. The losses are sums over records
        # ("sum"): an empty Poisson batch then gives a zero loss instead of the NaN of an empty
        # mean.
        self.ghost = self.options.clipping == "ghost"
        if self.ghost:
            self.per_sample = GradSampleModuleFastGradientClipping(
                self.discriminator, loss_reduction="sum",
                max_grad_norm=self.options.max_grad_norm, use_ghost_clipping=True,
            )  # fmt: skip
        else:
            self.per_sample = GradSampleModule(self.discriminator, loss_reduction="sum")
        optimizer = GhostNoiseOnCPU if self.ghost else NoiseOnCPU
        self.dp_optimizer = optimizer(
            self.optimizers["discriminator"],
            noise_multiplier=0.0,  # set in attach_data, once n (hence q and δ) is known
            max_grad_norm=self.options.max_grad_norm,
            expected_batch_size=self.config.train.batch_size,  # = q·n, the DP-SGD average
            generator=self.streams("dp_noise"),
        )
        self.optimizers["discriminator"] = self.dp_optimizer  # its state_dict is Adam's
        self.accountant = create_accountant(self.options.accountant)
        self.sample_rate = math.nan
        self.delta = math.nan
        self.calibrated_steps: int | None = None  # the run length σ was chosen for
        self.cleared_steps = 0  # steps known to stay within target_epsilon

    def attach_data(self, members: torch.Tensor, reference: torch.Tensor, *labels) -> None:  # noqa: ANN002
        super().attach_data(members, reference, *labels)
        opt, n, batch = self.options, len(members), self.config.train.batch_size
        if batch > n:
            raise GanguardError(
                f"config key train.batch_size: DP-GAN samples each member with probability "
                f"batch_size / n, so it cannot exceed data.n_members ({batch} > {n})"
            )
        self.sample_rate = batch / n
        self.delta = opt.delta if opt.delta is not None else 1.0 / (10 * n)
        if opt.noise_multiplier is not None:
            self.dp_optimizer.noise_multiplier = float(opt.noise_multiplier)
            return
        steps = self.planned_steps
        try:
            with warnings.catch_warnings():
                # the search tries huge σ, for which Opacus advises more RDP orders: no concern
                warnings.filterwarnings("ignore", message="Optimal order is the largest alpha")
                sigma = get_noise_multiplier(
                    target_epsilon=opt.target_epsilon,
                    target_delta=self.delta,
                    sample_rate=self.sample_rate,
                    steps=steps,
                    accountant=opt.accountant,
                )
        except ValueError as err:  # Opacus gives up above σ = 10^6
            raise GanguardError(
                f"config key method.target_epsilon: {opt.target_epsilon:g} cannot be reached in "
                f"{steps} steps with δ = {self.delta:.3g} and q = {self.sample_rate:.3g} ({err})"
            ) from None
        self.dp_optimizer.noise_multiplier = float(sigma)
        self.calibrated_steps = self.cleared_steps = steps

    # -- the step -------------------------------------------------------------------------------
    def step(self) -> dict[str, float]:
        """`d_steps` DP-SGD steps of D, each on a Poisson batch of its own and counted by the
        accountant, then one step of G on the last D step's samples (Bie et al. 2023: more D
        steps per G step is what a DP-GAN needs most)."""
        loss_d, k = 0.0, self.options.d_steps
        for i in range(k):
            self.refuse_beyond_budget()
            fake, y_fake, loss = self.discriminator_step(for_generator=i == k - 1)
            loss_d += loss / k
        D = self.discriminator
        # The G step reads D but must neither record per-sample gradients nor touch D's grads.
        with self.hooks_off(), frozen(D):
            loss_g = generator_loss(D(self.d_input(fake), y_fake))
            self.optimizers["generator"].zero_grad()
            loss_g.backward()
        self.optimizers["generator"].step()
        return {"loss_d": loss_d, "loss_g": loss_g.item()}

    def discriminator_step(
        self, for_generator: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None, float]:
        """One DP-SGD step of D; returns the generated batch it used (with G's graph when
        `for_generator`: the G step reads it), its labels, and ℓ_D."""
        G, D, dp = self.generator, self.discriminator, self.dp_optimizer
        real, y_real = self.poisson_batch()
        y_fake = self.fake_labels()
        with torch.set_grad_enabled(for_generator):
            fake = G(self.latent(), y_fake)
        batch = self.config.train.batch_size

        # Only the members' half is private: its per-sample gradients are clipped, summed and
        # noised. The generated half is computed from G and D, themselves DP outputs of earlier
        # steps, so its plain gradient is added after the noise (post-processing) and is neither
        # clipped nor noised. (Opacus's DCGAN example instead runs both halves through the
        # per-sample hooks, so each real record's gradient is clipped together with that of one
        # generated sample; that needs equal batch sizes, which Poisson sampling does not give.)
        dp.zero_grad(set_to_none=True)
        per_record = F.softplus(-D(self.d_input(real), y_real))
        loss_real = per_record.detach().sum()
        with quiet_hook_warning():
            if self.ghost:  # a backward for the norms, a second for Σ min(1, C/‖g_i‖) g_i
                DPTensorFastGradientClipping(self.per_sample, dp, per_record, "sum").backward()
            else:
                per_record.sum().backward()
        dp.pre_step()  # (clip,) sum, add N(0, σ²C²), divide by the expected batch size
        self.accountant.step(noise_multiplier=dp.noise_multiplier, sample_rate=self.sample_rate)
        with self.hooks_off():
            loss_fake = F.softplus(D(self.d_input(fake.detach()), y_fake)).mean()
            loss_fake.backward()  # adds to the noised gradient
        dp.original_optimizer.step()
        dp.zero_grad(set_to_none=True)  # no per-sample gradients outlive the D step
        # E[Σ_B softplus(-d)] = q·n·E_S[softplus(-d)]: the objective DP-SGD follows, never NaN
        return fake, y_fake, loss_real.item() / batch + loss_fake.item()

    def poisson_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each member independently with probability q: the sampling Opacus's accountants
        assume. The batch has a random size, possibly zero. With the labels (conditional)."""
        keep = torch.rand(len(self.members), generator=self.streams("members")) < self.sample_rate
        keep = keep.to(self.members.device)
        labels = None if self.member_labels is None else self.member_labels[keep]
        return self.members[keep], labels

    @contextlib.contextmanager
    def hooks_off(self) -> Iterator[None]:
        self.per_sample.disable_hooks()
        try:
            with quiet_hook_warning():
                yield
        finally:
            self.per_sample.enable_hooks()

    # -- privacy accounting ---------------------------------------------------------------------
    @property
    def planned_steps(self) -> int:
        """The DP-SGD steps the run plans: train.steps generator steps of `d_steps` each."""
        return self.config.train.steps * self.options.d_steps

    @property
    def steps_taken(self) -> int:
        """DP-SGD steps of D taken so far (the accountant's count)."""
        return sum(steps for _, _, steps in self.accountant.history)

    def epsilon(self, history: History | None = None) -> float:
        """ε spent by `history` (default: the steps taken) at this run's δ."""
        history = self.accountant.history if history is None else history
        if not history:
            return 0.0
        if any(sigma == 0 for sigma, _, _ in history):
            return math.inf  # no noise, no guarantee (and the accountants divide by σ)
        accountant = create_accountant(self.options.accountant)
        accountant.history = list(history)
        return float(accountant.get_epsilon(delta=self.delta))

    def history_after(self, more_steps: int) -> History:
        """The accountant's history once `more_steps` further steps at the current σ and q."""
        history = list(self.accountant.history)
        entry = (self.dp_optimizer.noise_multiplier, self.sample_rate)
        if history and history[-1][:2] == entry:
            history[-1] = (*entry, history[-1][2] + more_steps)
        else:
            history.append((*entry, more_steps))
        return history

    def refuse_beyond_budget(self) -> None:
        """With a target ε: before a step past the run length σ was chosen for, check that the
        whole run (to train.steps) stays within the budget, so an over-long resumed run is
        refused before it spends anything, not halfway."""
        target = self.options.target_epsilon
        if target is None or self.steps_taken < self.cleared_steps:
            return
        total = max(self.planned_steps, self.steps_taken + 1)
        eps = self.epsilon(self.history_after(total - self.steps_taken))
        if eps > target:
            k = self.options.d_steps
            raise GanguardError(
                f"method dpgan: training to step {math.ceil(total / k)} would spend ε = "
                f"{eps:.4g} > target_epsilon = {target:g} (δ = {self.delta:.3g}); the noise "
                f"multiplier {self.dp_optimizer.noise_multiplier:.4g} was chosen for "
                f"{self.calibrated_steps // k} steps: keep train.steps ≤ "
                f"{self.calibrated_steps // k}, or start a new run with a larger budget"
            )
        self.cleared_steps = total

    def status(self) -> dict[str, float | None]:
        eps = self.epsilon()
        return {"epsilon": eps if math.isfinite(eps) else None, "delta": self.delta}

    def extra_state(self) -> dict[str, Any]:
        return {
            "accountant": self.accountant.mechanism(),
            "history": [list(entry) for entry in self.accountant.history],
            "noise_multiplier": self.dp_optimizer.noise_multiplier,
            "calibrated_steps": self.calibrated_steps,
            "sample_rate": self.sample_rate,
            **self.status(),  # ε and δ, for whoever reads the checkpoint
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "history" not in state:
            raise GanguardError(
                "checkpoint holds no privacy accountant: cannot continue a dpgan run's ε"
            )
        history = [(float(s), float(q), int(n)) for s, q, n in state["history"]]
        self.accountant.load_state_dict({"history": history, "mechanism": state["accountant"]})
        # The run keeps the σ it started with, even when train.steps grew since: the budget
        # check then refuses what the original σ cannot pay for.
        self.dp_optimizer.noise_multiplier = float(state["noise_multiplier"])
        self.calibrated_steps = state["calibrated_steps"]
        self.cleared_steps = self.calibrated_steps or 0


class CPUNoise:
    """A mixin for Opacus's DP optimizers: the Gaussian noise drawn from the run's CPU stream
    whatever device the discriminator is on (Opacus draws it on the gradient's device, which a
    CPU generator cannot do): the same noise on every device, and on the CPU exactly Opacus's."""

    def add_noise(self) -> None:
        if all(p.summed_grad.device.type == "cpu" for p in self.params):
            return super().add_noise()
        std = self.noise_multiplier * self.max_grad_norm
        for p in self.params:
            g = p.summed_grad
            noise = torch.normal(mean=0, std=std, size=g.shape, generator=self.generator,
                                 dtype=g.dtype) if std > 0 else torch.zeros(g.shape, dtype=g.dtype)
            p.grad = (g + noise.to(g.device)).view_as(p)


class NoiseOnCPU(CPUNoise, DPOptimizer):
    """DP-SGD on materialised per-sample gradients, noise from the CPU stream."""


class GhostNoiseOnCPU(CPUNoise, DPOptimizerFastGradientClipping):
    """DP-SGD on gradients already clipped by ghost clipping, noise from the CPU stream."""


def check_supported(discriminator: torch.nn.Module, spectral_norm: bool) -> None:
    """Refuse a discriminator Opacus cannot compute per-sample gradients for, or whose
    gradients are not per record."""
    if records_per_row(discriminator) > 1:
        raise GanguardError(
            "method dpgan: a packed discriminator's gradients are per pack, not per record, and "
            "Poisson batches have any size: set model.pac=1"
        )
    if spectral_norm or any(parametrize.is_parametrized(m) for m in discriminator.modules()):
        raise GanguardError(
            "method dpgan: Opacus cannot compute per-sample gradients through spectral "
            "normalisation: set model.spectral_norm=false"
        )
    problems = ModuleValidator.validate(discriminator, strict=False)
    if problems:
        raise GanguardError(
            f"method dpgan: the discriminator has a layer Opacus does not support ({problems[0]}):"
            " set model.spectral_norm=false and model.d_norm to group or none"
        )


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


@contextlib.contextmanager
def quiet_hook_warning() -> Iterator[None]:
    """Opacus's backward hooks sit on D's first layer, whose input (data) needs no gradient;
    torch warns that the hook then fires on the outputs, which is what Opacus expects."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield
