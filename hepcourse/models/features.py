"""An MLP on high-level jet features, with the standardisation of its inputs built in.

The taggers of chapter 05 read a few jet observables (mass in GeV, N-subjettiness ratios, the
constituent multiplicity), which differ by orders of magnitude. The network standardises them,
x̃_k = (x_k − μ_k)/σ_k with μ, σ fixed from the training sample and stored in the config, and then
applies an :class:`~hepcourse.models.mlp.MLP`; so a saved model takes the raw features, in the units
the data set stores them, and nothing outside it has to remember the constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .config import ModelConfig
from .layers import Standardise
from .mlp import MLP, MLPConfig

__all__ = ["FeatureMLPConfig", "FeatureMLP"]


@dataclass
class FeatureMLPConfig(ModelConfig):
    """A :class:`FeatureMLP`: the feature names (for the reader), their standardisation constants, the MLP."""

    features: tuple[str, ...] = ("m", "tau21", "tau32", "n_particles")
    shift: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)       # μ_k, in the features' units
    scale: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)       # σ_k
    hidden: tuple[int, ...] = (64, 64, 64)
    activation: str = "silu"

    def check(self) -> None:
        if not len(self.features) == len(self.shift) == len(self.scale):
            raise ValueError("features, shift and scale need one entry per feature")

    @classmethod
    def from_data(cls, x: np.ndarray, features: tuple[str, ...], **kwargs) -> "FeatureMLPConfig":
        """The config with μ and σ of the training features ``x`` (N, K)."""
        x = np.asarray(x, dtype=np.float64)
        return cls(features=tuple(features), shift=tuple(x.mean(0)), scale=tuple(x.std(0) + 1e-12), **kwargs)


class FeatureMLP(nn.Module):
    """logit = MLP((x − μ)/σ): raw features (B, K) → logits (B, 1)."""

    config_class = FeatureMLPConfig

    def __init__(self, cfg: FeatureMLPConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or FeatureMLPConfig(**kwargs)
        c = self.cfg
        self.standardise = Standardise(tuple(zip(c.shift, c.scale)))      # fixed constants, not in the state_dict
        self.net = MLP(MLPConfig(n_in=len(c.features), n_out=1, hidden=c.hidden, activation=c.activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardise(x))     # (B, K) -> (B, 1)
