"""A graph network on jet constituents: EdgeConv on k-nearest-neighbour graphs (ParticleNet-like).

Each particle is a node with features x_i. Its neighbours N_k(i) are the k nearest other real
particles, in the (η, φ) plane for the first block (distance Δη² + Δφ², φ wrapped) and in the
feature space of the previous block afterwards ("dynamic graph", Wang et al. 2019). An edge
convolution updates every node from its edges (Plehn et al. [plehn2022modern], Eqs. 2.53–2.55; Qu and Gouskos 2020),

    x_i' = mean_{j ∈ N_k(i)} h_θ(x_i, x_j − x_i)  +  W x_i,

with h_θ a small MLP on the concatenated edge features (ParticleNet's choice, the third line of
Eq. 2.54) and W x_i a linear shortcut. Eq. (2.55) is the special case of a linear h_θ. The mean
and the neighbour search treat every node alike, so permuting the particles permutes the node
outputs (equivariance), and the final mean over the real particles is invariant.

The node features enter standardised (:class:`hepcourse.models.layers.Standardise`); the first
graph uses the physical Δη, Δφ. Padded particles are never neighbours: their distance is +∞. A jet with n < k + 1 real particles
averages over its n − 1 neighbours (none at all for n = 1, then the message is zero).

ParticleNet (the paper-sized :meth:`EdgeConvConfig.paper`) has k = 16 and three blocks of
(64, 64, 64), (128, 128, 128), (256, 256, 256) channels, with batch normalisation; we leave batch
normalisation out (its statistics over a batch would mix padded particles in), and the CPU
default is k = 8 with blocks (32, 32), (64, 64).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..data.constituents import ANGLES, PARTICLE_INPUTS, PARTICLE_SHIFT_SCALE, wrap_phi
from .config import ModelConfig
from .layers import Standardise, layer_stack, masked_mean

__all__ = ["EdgeConvConfig", "EdgeConv", "EdgeConvNet", "knn", "pairwise_distance2", "eta_phi_distance2"]


def eta_phi_distance2(points: torch.Tensor) -> torch.Tensor:
    """ΔR²_ij = Δη² + Δφ² (φ wrapped into [−π, π)) of points (B, N, 2) = (η, φ): (B, N, N)."""
    deta = points[:, :, None, 0] - points[:, None, :, 0]
    dphi = wrap_phi(points[:, :, None, 1] - points[:, None, :, 1])
    return deta ** 2 + dphi ** 2


def pairwise_distance2(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances |x_i − x_j|² of x (B, N, D): (B, N, N)."""
    return ((x[:, :, None, :] - x[:, None, :, :]) ** 2).sum(-1)


def knn(dist2: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest neighbours of each node from squared distances (B, N, N).

    A node is not its own neighbour, and padded nodes are nobody's neighbour. Returns ``idx``
    (B, N, k), the neighbours' indices, and ``valid`` (B, N, k), False where a jet has fewer than
    k + 1 real particles (those slots point at a padded or repeated node and must be ignored).
    """
    n = dist2.shape[-1]
    k_eff = min(k, n)
    eye = torch.eye(n, dtype=torch.bool, device=dist2.device)
    d = dist2.masked_fill(~mask[:, None, :] | eye, float("inf"))        # (B, N, N)
    d_k, idx = torch.topk(d, k_eff, dim=-1, largest=False)               # (B, N, k)
    valid = torch.isfinite(d_k)
    if k_eff < k:                                                       # fewer slots than k: pad as invalid
        pad = k - k_eff
        idx = torch.cat([idx, idx[..., :1].expand(-1, -1, pad)], dim=-1)
        valid = torch.cat([valid, torch.zeros_like(valid[..., :1]).expand(-1, -1, pad)], dim=-1)
    return idx, valid


def gather_neighbours(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x_j for the neighbours j = idx[b, i, :]: x (B, N, D), idx (B, N, k) → (B, N, k, D)."""
    b, n, k = idx.shape
    # rows of x flattened to (B·N, D): whole rows are copied at once, where torch.gather with an index expanded
    # over D looks up every number on its own (7 times slower on a CPU)
    rows = (idx + x.shape[1] * torch.arange(b, device=idx.device)[:, None, None]).reshape(-1)    # (B·N·k,)
    return x.reshape(b * x.shape[1], -1).index_select(0, rows).reshape(b, n, k, x.shape[-1])


class EdgeConv(nn.Module):
    """x_i' = mean over valid neighbours of h_θ([x_i, x_j − x_i]) + W x_i, then ReLU.

    The first linear layer of h_θ acts on the edge feature [x_i, x_j − x_i]; with its weight split as
    [A | B] that is (A − B) x_i + B x_j + b, so it is applied once per particle and the result gathered,
    k times fewer multiplications than once per edge (the same numbers up to float rounding; the
    edge-by-edge form is Eq. (2) of lecture 4.2)."""

    def __init__(self, d_in: int, channels: tuple[int, ...]):
        super().__init__()
        self.h = layer_stack([2 * d_in, *channels])
        self.shortcut = nn.Linear(d_in, channels[-1], bias=False)

    def forward(self, x: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        first, d = self.h[0], x.shape[-1]
        a, b = first.weight[:, :d], first.weight[:, d:]
        own = F.linear(x, a - b, first.bias)                              # (B, N, C1): (A − B) x_i + b
        neighbour = gather_neighbours(F.linear(x, b), idx)                # (B, N, k, C1): B x_j
        messages = self.h[1:](own[:, :, None, :] + neighbour)            # (B, N, k, C)
        w = valid.to(x.dtype)
        agg = (messages * w[..., None]).sum(2) / w.sum(2, keepdim=True).clamp_min(1)   # (B, N, C)
        return torch.relu(agg + self.shortcut(x))


@dataclass
class EdgeConvConfig(ModelConfig):
    """An :class:`EdgeConvNet`. CPU-sized defaults; :meth:`paper` is ParticleNet's size."""

    n_in: int = len(PARTICLE_INPUTS)
    k: int = 8
    blocks: tuple[tuple[int, ...], ...] = ((32, 32), (64, 64))
    head: tuple[int, ...] = (64,)
    dynamic: bool = True           # recompute the graph in feature space after the first block

    @classmethod
    def paper(cls, **kwargs) -> "EdgeConvConfig":
        """ParticleNet (Qu and Gouskos 2020): k = 16, blocks (64,)*3, (128,)*3, (256,)*3, head 256."""
        return cls(k=16, blocks=((64, 64, 64), (128, 128, 128), (256, 256, 256)), head=(256,), **kwargs)


class EdgeConvNet(nn.Module):
    """EdgeConv blocks on a (dynamic) k-NN graph, a mean over the real particles, an MLP head.

    ``forward(x, p4, mask)``: x (B, N, n_in) with the columns of :data:`PARTICLE_INPUTS` (the
    first graph uses its ``deta``, ``dphi``), mask (B, N) → logits (B,); p4 is not used.
    """

    config_class = EdgeConvConfig

    def __init__(self, cfg: EdgeConvConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or EdgeConvConfig(**kwargs)
        c = self.cfg
        self.angles = list(ANGLES)                                 # Δη, Δφ: the first graph
        widths = [c.n_in] + [b[-1] for b in c.blocks]
        self.standardise = Standardise(PARTICLE_SHIFT_SCALE[:c.n_in])
        self.convs = nn.ModuleList(EdgeConv(d, b) for d, b in zip(widths[:-1], c.blocks))
        self.head = layer_stack([widths[-1], *c.head, 1], final_activation=False)

    def forward(self, x: torch.Tensor, p4: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask
        keep = mask[..., None]
        dist2 = eta_phi_distance2(torch.where(keep, x, 0.0)[..., self.angles])      # (B, N, N), physical ΔR²
        h = torch.where(keep, self.standardise(x), 0.0)                                # (B, N, F)
        for i, conv in enumerate(self.convs):
            if i > 0 and self.cfg.dynamic:
                dist2 = pairwise_distance2(h)
            idx, valid = knn(dist2, mask, self.cfg.k)
            h = conv(h, idx, valid)                                                  # (B, N, C)
            h = torch.where(keep, h, torch.zeros((), dtype=h.dtype, device=h.device))
        return self.head(masked_mean(h, mask))[:, 0]                                 # (B,)
