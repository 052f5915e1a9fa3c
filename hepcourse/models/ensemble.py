"""Ensembles of networks: deep ensembles and repulsive ensembles (Plehn et al. [plehn2022modern], Sec. 1.2.5).

A *deep ensemble* (Lakshminarayanan et al. 2017) trains K copies of a network from independent
random initialisations; the spread of their predictions estimates the uncertainty of the network
itself (epistemic), which grows where there are no training data. :class:`Ensemble` holds the K
members as one module with batched weights (K, d_in, d_out), so that all members are trained
together in one pass; their parameters are disjoint, so summing their losses trains each one
independently (all members see the same mini-batches, which is the only difference from K separate
trainings).

A *repulsive ensemble* adds a force between the members so that, for a Gaussian kernel k, the
members sample the posterior p(θ | x_train) instead of all falling into the same minimum. In function
space, evaluated on the B events of a batch, the loss of member i is (Eq. 1.63)

    L_i = −(1/B) Σ_b log p(y_b | x_b, θ_i)  +  (1/N) Σ_j k(f_i, f̄_j) / Σ_j k̄(f_i, f_j)  +  θ_i² / (2 N σ_p²),
    k(f_i, f_j) = exp(−‖f_i − f_j‖² / h),   ‖f_i − f_j‖² = Σ_b |f_{θ_i}(x_b) − f_{θ_j}(x_b)|²   (Eq. 1.58),

where the bar marks a stop-gradient (the partners, and the normalising sum, are constants for the
gradient of member i) and N is the size of the training set. The gradient of the kernel term is
∇_θi log Σ_j k(f_i, f_j): the kernel-density estimate of the ensemble density of Eqs. (1.53–1.54).
:func:`repulsion` computes the middle term and :meth:`Ensemble.l2` the sum θ_i² of each member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .bayesian import predictive_moments
from .mlp import ACTIVATIONS, MLPConfig, init_weight_

__all__ = ["BatchedLinear", "EnsembleConfig", "Ensemble", "repulsion", "median_bandwidth", "predictive_moments"]


@dataclass
class EnsembleConfig(MLPConfig):
    """An :class:`Ensemble`: the architecture of each member (the fields of :class:`MLPConfig`) and their number."""

    k: int = 5                           # members

    def check(self) -> None:
        super().check()
        self.k = int(self.k)
        if self.k < 1:
            raise ValueError(f"an ensemble needs at least one member, got k = {self.k}")


class BatchedLinear(nn.Module):
    """K independent affine layers applied in one call: x (K, B, d_in) → (K, B, d_out).

    ``weight`` (K, d_in, d_out), ``bias`` (K, d_out); each member is initialised like a single
    layer with the scheme ``init`` (see :mod:`hepcourse.models.mlp`).
    """

    def __init__(self, k: int, d_in: int, d_out: int, init: str = "he"):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(k, d_in, d_out))
        self.bias = nn.Parameter(torch.empty(k, d_out))
        init_weight_(self.weight, self.bias, d_in, d_out, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight)   # (K, B, d_out)


class Ensemble(nn.Module):
    """K MLPs of architecture ``cfg`` with independent initialisations, evaluated together.

    ``Ensemble(EnsembleConfig(n_in=1, n_out=2, k=5))``, or ``Ensemble(member_cfg, k=5)`` with the
    :class:`MLPConfig` of one member. ``forward(x)``: x (B, n_in), the same events for every member, or
    (K, B, n_in) → (K, B, n_out). ``member(k)`` returns member k as a plain :class:`~hepcourse.models.mlp.MLP`
    (a copy).
    """

    config_class = EnsembleConfig
    batch_axis = 1                                      # outputs are (K, B, n_out): see hepcourse.train.predict

    def __init__(self, cfg: MLPConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = EnsembleConfig(**{**(cfg.to_dict() if cfg is not None else {}), **kwargs})
        widths = self.cfg.widths
        self.layers = nn.ModuleList(BatchedLinear(self.k, a, b, self.cfg.init) for a, b in zip(widths[:-1], widths[1:]))
        self.activation = ACTIVATIONS[self.cfg.activation]()

    @property
    def k(self) -> int:
        return self.cfg.k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.k, -1, -1)   # (K, B, n_in)
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))               # (K, B, width)
        return self.layers[-1](x)                        # (K, B, n_out)

    def l2(self) -> torch.Tensor:
        """Σ θ² over the weights and biases of each member: (K,)."""
        return sum((layer.weight ** 2).sum((1, 2)) + (layer.bias ** 2).sum(1) for layer in self.layers)

    def member(self, k: int):
        from .mlp import MLP

        net = MLP(MLPConfig(**{f: v for f, v in self.cfg.to_dict().items() if f != "k"}))
        with torch.no_grad():
            for single, batched in zip(net.layers, self.layers):
                single.weight.copy_(batched.weight[k].T)
                single.bias.copy_(batched.bias[k])
        return net


def median_bandwidth(d2: torch.Tensor) -> torch.Tensor:
    """Kernel width h = median of the squared distances between distinct members / log K.

    The median heuristic of Stein variational gradient descent (Liu and Wang 2016): for K members
    the typical kernel value between two of them is then 1/K. ``d2`` (K, K) → a scalar (no gradient).
    """
    k = d2.shape[0]
    off = d2.detach()[~torch.eye(k, dtype=torch.bool, device=d2.device)]
    return off.median().clamp_min(1e-12) / math.log(max(k, 2))


def repulsion(f: torch.Tensor, h: float | torch.Tensor | None = None) -> torch.Tensor:
    """The repulsive term of each member, Σ_j k(f_i, f̄_j) / Σ_j k̄(f_i, f_j) (Eq. 1.63): (K,).

    ``f`` (K, B) or (K, B, D): the members' outputs on one batch. The kernel is
    k = exp(−‖f_i − f_j‖²/h) with the squared distance summed over the batch (Eq. 1.58); ``h`` is
    the width (default :func:`median_bandwidth`). Member i's gradient comes only from its own output
    f_i: its partners f_j and the normalising sum are detached. The value is 1 ... K; its gradient
    pushes each member away from the others, most strongly from the closest.
    """
    f = f.reshape(f.shape[0], -1)                                   # (K, B·D)
    d2 = ((f.unsqueeze(1) - f.detach().unsqueeze(0)) ** 2).sum(-1)  # (K, K): gradient only through f_i
    h = median_bandwidth(d2) if h is None else torch.as_tensor(h, dtype=f.dtype, device=f.device)
    kernel = torch.exp(-d2 / h)                                     # (K, K)
    return kernel.sum(1) / kernel.detach().sum(1)
