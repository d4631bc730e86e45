"""Layer helpers shared by the network families."""

from torch import nn


def spectral_normed(layer: nn.Module, on: bool) -> nn.Module:
    """Wrap `layer` in spectral normalisation (one power iteration per training forward) if `on`."""
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer
