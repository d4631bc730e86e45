"""A loss term computed on every k-th step only, its gradient reused on the steps between.

The defences' terms (MEGAN's fano term on D, MIMGAN's leakage penalty on G) each cost about a
GAN step of their own. Computing one on every k-th step cuts that cost k-fold. How the steps
between get the term matters:

- weighting it k× on its own steps (StyleGAN2's lazy regularisation) hands Adam a gradient that
  spikes every k-th step; on MEGAN that cost FID (47/47/62 against 36/35/44 at k = 5,
  benchmarks/results/cheaper_defences.json);
- here the term's gradient in the network's parameters is kept and added on every step until the
  next one, so the optimiser sees the term at its usual size on each step, from a gradient at
  most k − 1 steps old.

The kept gradient enters the step's loss as the linear surrogate Σ_p ⟨p, g_p⟩ (g_p detached),
whose gradient in p is exactly g_p: the method's one backward pass applies it, with no hook in
the training loop.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


class ReusedGradient:
    """A term of one network's loss, computed on every `every`-th call (the first included)."""

    def __init__(self, module: nn.Module, every: int) -> None:
        """`module`: the network whose parameters the term's gradient is kept for."""
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.every = every
        self.calls = 0
        self.grads: list[torch.Tensor] = []
        self.logs: dict[str, float] = {}  # what the term logged when last computed

    def __call__(
        self, compute: Callable[[dict], torch.Tensor | float], logs: dict
    ) -> torch.Tensor | float:
        """The term for this step's loss: `compute(logs)` itself when every = 1, else the
        surrogate of its gradient (computed now when due, else the one kept)."""
        if self.every == 1:
            return compute(logs)
        if self.calls % self.every == 0:
            self.logs = {}
            term = compute(self.logs)
            self.grads = self.gradient(term)
        self.calls += 1
        logs.update(self.logs)
        return sum((p * g).sum() for p, g in zip(self.params, self.grads, strict=True))

    def gradient(self, term: torch.Tensor | float) -> list[torch.Tensor]:
        """d term / d p for every parameter (zero where the term does not reach it); the graph is
        kept, since the step's own loss may share it (the same D pass, the same G(z))."""
        if not isinstance(term, torch.Tensor) or not term.requires_grad:
            return [torch.zeros_like(p) for p in self.params]
        grads = torch.autograd.grad(term, self.params, retain_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if g is None else g.detach()
                for p, g in zip(self.params, grads, strict=True)]  # fmt: skip

    def state_dict(self) -> dict:
        """What a checkpoint keeps, so that a resumed run reuses the same gradient."""
        return {"calls": self.calls, "grads": list(self.grads), "logs": dict(self.logs)}

    def load_state_dict(self, state: dict) -> None:
        self.calls = int(state.get("calls", 0))
        device = self.params[0].device if self.params else None
        self.grads = [g.to(device) for g in state.get("grads", [])]
        self.logs = {k: float(v) for k, v in state.get("logs", {}).items()}
