"""MEGAN, the maximum-entropy GAN of SPEC §3: D is trained so that its output keeps membership at
maximum entropy. λ = 0 gives exactly the GAN (the extra terms are multiplied by zero and every
random draw they need comes from streams of their own)."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ganguard.errors import GanguardError
from ganguard.methods.base import seeded_init
from ganguard.methods.gan import GAN
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


class FeatureBank:
    """The last `size` rows given to it, detached: what the critic read of D on earlier steps."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows: torch.Tensor | None = None

    def extended(self, fresh: torch.Tensor) -> torch.Tensor:
        """`fresh` (keeping its gradient) followed by the bank's rows."""
        return fresh if self.rows is None else torch.cat([fresh, self.rows])

    def push(self, fresh: torch.Tensor) -> None:
        """Add `fresh` (detached), dropping the oldest rows beyond `size`."""
        rows = fresh.detach() if self.rows is None else torch.cat([fresh.detach(), self.rows])
        self.rows = rows[: self.size] if self.size > 0 else None


class FanoPenalty:
    """MEGAN's `fano` term on a method's discriminator: a membership critic c_ψ, trained each step
    to tell a member batch from a reference batch by what it reads of D (the logit, or D's
    penultimate features), and λ · max(ln 2 − CE_ψ, 0) for ℓ_D. MIMGAN uses it too, to protect
    the discriminator its own penalty cannot reach.

    With `critic_refresh` set, the critic's batches of `critic_batch` records are mostly kept
    from earlier steps, as MoCo keeps its keys: the members are the step's own batch (D read it
    for ℓ_D already) and the features of the member batches before it; the reference records are
    `critic_refresh` fresh ones and the features of those drawn before. Only the fresh rows
    carry D's gradient. D then reads `critic_refresh` records more per step instead of
    2 · `critic_batch`, and the critic still sees `critic_batch` of each kind."""

    def __init__(self, method: GAN, lam: float, options: MEGANOptions) -> None:
        """λ = `lam`; the critic and its batches as `options` (MEGAN's fano options) say."""
        self.method, self.lam, self.options = method, lam, options
        n_in = 1 if options.critic_input == "logit" else method.discriminator.feature_dim
        hidden = options.critic_hidden
        self.critic = seeded_init(
            method.config.seed, "membership_critic", lambda: make_critic(n_in, hidden)
        )
        self.optimizer = method.adam(self.critic, options.critic_lr, foreach=True)
        banked = options.critic_batch is not None and options.critic_refresh is not None
        n, batch = options.critic_batch or 0, method.config.train.batch_size
        self.banks = None
        if banked:
            self.banks = (FeatureBank(max(0, n - batch)), FeatureBank(n - options.critic_refresh))

    def register(self, key: str) -> None:
        """Put the critic and its optimizer among the method's (so checkpoints hold them)."""
        self.method.modules[key], self.method.optimizers[key] = self.critic, self.optimizer

    def __call__(self, h_real: torch.Tensor, d_real: torch.Tensor, logs: dict) -> torch.Tensor:
        opt = self.options
        if self.banks is None:
            on_members, on_reference = self.fresh_batches(h_real, d_real)
        else:
            on_members, on_reference = self.banked_batches(h_real, d_real)
        ce = fano_cross_entropy(
            self.critic, self.optimizer, opt.critic_steps, on_members, on_reference
        )
        leak = torch.clamp(LN2 - ce, min=0.0)  # lower bound on I(M; Y) = ln 2 - H(M | Y)
        logs["critic_ce"] = ce.item()
        logs["mi_bound"] = leak.item()
        return self.lam * leak

    def read(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """What the critic reads of D's features h: the features, or the logit as a column."""
        D = self.method.discriminator
        return D.head(h, y)[:, None] if self.options.critic_input == "logit" else h

    def fresh_batches(
        self, h_real: torch.Tensor, d_real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A member batch (of `critic_batch` records, on its own stream; or the step's) and as
        many reference records, all read through D now."""
        m, D, opt = self.method, self.method.discriminator, self.options
        if opt.critic_batch is not None:
            n = opt.critic_batch
            mem, y_mem = m.draw_labelled(m.members, m.member_labels, "critic_members", n)
            h_real = D.features(m.d_input(mem))
            d_real = D.head(h_real, y_mem)
        ref, y_ref = m.draw_labelled(m.reference, m.reference_labels, "reference", len(h_real))
        on_members = d_real[:, None] if opt.critic_input == "logit" else h_real
        return on_members, self.read(D.features(m.d_input(ref)), y_ref)

    def banked_batches(
        self, h_real: torch.Tensor, d_real: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's members and `critic_refresh` fresh reference records, each followed by
        its bank; on the first step the banks are filled with records read through D now."""
        m, D, opt = self.method, self.method.discriminator, self.options
        members_bank, reference_bank = self.banks
        if reference_bank.rows is None and reference_bank.size > 0:
            with torch.no_grad():
                if members_bank.size > 0:
                    mem, y = m.draw_labelled(m.members, m.member_labels, "critic_members",
                                             members_bank.size)  # fmt: skip
                    members_bank.push(self.read(D.features(m.d_input(mem)), y))
                ref, y = m.draw_labelled(m.reference, m.reference_labels, "reference",
                                         reference_bank.size)  # fmt: skip
                reference_bank.push(self.read(D.features(m.d_input(ref)), y))
        ref, y_ref = m.draw_labelled(m.reference, m.reference_labels, "reference",
                                     opt.critic_refresh)  # fmt: skip
        fresh_members = d_real[:, None] if opt.critic_input == "logit" else h_real
        fresh_reference = self.read(D.features(m.d_input(ref)), y_ref)
        on_members = members_bank.extended(fresh_members)
        on_reference = reference_bank.extended(fresh_reference)
        members_bank.push(fresh_members)
        reference_bank.push(fresh_reference)
        return on_members, on_reference

    def state(self) -> dict[str, torch.Tensor]:
        """The banks' rows, for a checkpoint (none without banks)."""
        if self.banks is None:
            return {}
        names = ("members_bank", "reference_bank")
        return {k: b.rows for k, b in zip(names, self.banks, strict=True) if b.rows is not None}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        if self.banks is None:
            return
        for name, bank in zip(("members_bank", "reference_bank"), self.banks, strict=True):
            rows = state.get(name)
            bank.rows = None if rows is None else self.method.here(rows)


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

    def extra_state(self) -> dict[str, Any]:
        fano = self.fano.state() if self.options.mode == "fano" else {}
        return {**super().extra_state(), **({"fano": fano} if fano else {})}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        if self.options.mode == "fano":
            self.fano.load_state(state.get("fano", {}))

    def discriminator_penalty(self, h_real, d_real, d_fake, logs):  # noqa: ANN001, ANN201
        opt = self.options
        if opt.mode == "entropy":
            on = d_real if opt.entropy_on == "members" else torch.cat([d_real, d_fake])
            entropy = binary_entropy_from_logit(on).mean()
            logs["entropy"] = entropy.item()
            return -opt.lam * entropy
        return self.fano(h_real, d_real, logs)
