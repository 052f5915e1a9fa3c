"""The multilayer perceptron (MLP): the fully connected network of Plehn et al. [plehn2022modern], Sec. 1.2.3.

Each layer is an affine map followed by a non-linearity (Eqs. 1.30–1.33),

    x^(n) = a(W^(n) x^(n−1) + b^(n)),   n = 1 … L−1,    f_θ(x) = W^(L) x^(L−1) + b^(L),

with no activation after the last layer: a classifier's output is a logit z (s = sigmoid(z) is
applied in the loss, Eq. 2.9), a regression network's output is the prediction itself (or the
pair μ, log σ for a heteroscedastic loss).

Initialisation (PDG review Sec. 41.9.7, with its errata corrected): biases start at zero and the
weights of a layer with d_in inputs and d_out outputs are drawn from N(0, σ_w²) with

* ``"he"``      σ_w² = 2 / d_in            (He et al. 2015; for ReLU, which zeroes half of its input),
* ``"glorot"``  σ_w² = 2 / (d_in + d_out)  (Glorot and Bengio 2010; for tanh and sigmoid),
* ``"lecun"``   σ_w² = 1 / d_in            (LeCun et al. 1998),
* ``"torch"``   PyTorch's default for ``nn.Linear``: weights and biases uniform in ±1/√d_in
                (variance 1/(3 d_in)),
* ``"small"``   σ_w = 0.01 whatever the width: the naive choice, which makes the signal of a deep
                network vanish layer by layer.

(The PDG text gives σ² = 0.5/d for He and calls 1/d "Glorot/Xavier"; the correct values are above.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from .config import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid,
               "leaky_relu": nn.LeakyReLU}
INITS = ("he", "glorot", "lecun", "torch", "small")


@dataclass
class MLPConfig(ModelConfig):
    """Architecture of an :class:`MLP` (and of each member of an ensemble or a Bayesian MLP)."""

    n_in: int = 2
    n_out: int = 1
    hidden: tuple[int, ...] = (64, 64)   # widths of the hidden layers; () is a linear model
    activation: str = "relu"             # a key of ACTIVATIONS
    dropout: float = 0.0                 # dropout probability after each hidden activation
    init: str = "he"                     # one of INITS (see the module docstring)

    def check(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")

    @property
    def widths(self) -> list[int]:
        """[n_in, *hidden, n_out]: the width of every layer, input and output included."""
        return [self.n_in, *self.hidden, self.n_out]


def init_weight_(weight: torch.Tensor, bias: torch.Tensor | None, fan_in: int, fan_out: int, scheme: str) -> None:
    """Initialise ``weight`` (any shape, e.g. (d_out, d_in) or (K, d_in, d_out)) and ``bias`` in place."""
    with torch.no_grad():
        if scheme == "torch":
            bound = 1.0 / math.sqrt(fan_in)
            weight.uniform_(-bound, bound)
            if bias is not None:
                bias.uniform_(-bound, bound)
            return
        std = {"he": math.sqrt(2.0 / fan_in), "glorot": math.sqrt(2.0 / (fan_in + fan_out)),
               "lecun": math.sqrt(1.0 / fan_in), "small": 0.01}[scheme]
        weight.normal_(0.0, std)
        if bias is not None:
            bias.zero_()


class MLP(nn.Module):
    """A fully connected network: x (B, n_in) → f_θ(x) (B, n_out).

    ``cfg.hidden = (64, 64)`` gives Linear(n_in, 64) → a → Linear(64, 64) → a → Linear(64, n_out).
    ``forward(x, return_hidden=True)`` also returns the post-activation outputs of every hidden
    layer, for looking at activation statistics.
    """

    config_class = MLPConfig

    def __init__(self, cfg: MLPConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or MLPConfig(**kwargs)
        widths = self.cfg.widths
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.activation = ACTIVATIONS[self.cfg.activation]()
        self.dropout = nn.Dropout(self.cfg.dropout) if self.cfg.dropout > 0 else nn.Identity()
        for layer in self.layers:
            init_weight_(layer.weight, layer.bias, layer.in_features, layer.out_features, self.cfg.init)

    def forward(self, x: torch.Tensor, return_hidden: bool = False):
        hidden = []
        for layer in self.layers[:-1]:
            x = self.dropout(self.activation(layer(x)))   # (B, width)
            hidden.append(x)
        out = self.layers[-1](x)                            # (B, n_out)
        return (out, hidden) if return_hidden else out

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
