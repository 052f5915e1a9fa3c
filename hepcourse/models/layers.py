"""Building blocks shared by the network families: a stack of linear layers, pooling over the real
particles of a padded set, and a momentum-conserving projection layer.

* :func:`layer_stack` — ``Linear → ReLU → … → Linear``, the per-particle and per-pair networks Φ, ψ and the
  heads F of the set, graph, transformer and Lorentz taggers (:class:`hepcourse.models.mlp.MLP` is the
  stand-alone fully connected network of chapter 02, with its initialisations and activations);
* :func:`masked_sum`, :func:`masked_mean` — Σ_i over the real particles of a padded batch (B, N, D) → (B, D);
* :class:`Standardise` — (x − shift)/scale with fixed constants, built once as buffers that move with the model;
* :func:`momentum_projection` — the closest per-particle weights that conserve transverse momentum;
* :func:`time_features` — the time t ∈ [0, 1] of a diffusion or flow-matching network as Fourier features.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["layer_stack", "masked_sum", "masked_mean", "Standardise", "momentum_projection", "time_features"]


def layer_stack(widths: list[int], final_activation: bool = True) -> nn.Sequential:
    """Linear layers of ``widths`` (input first) with ReLU between them (and after the last one
    if ``final_activation``); applied to the last axis, so it maps (..., w_0) → (..., w_L)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def masked_sum(h: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_i w_i h_i over the real particles: h (B, N, D), mask (B, N), weight (B, N) or None → (B, D)."""
    w = mask.to(h.dtype) if weight is None else torch.where(mask, weight, torch.zeros_like(weight)).to(h.dtype)
    h = torch.where(mask[..., None], h, torch.zeros((), dtype=h.dtype, device=h.device))
    return torch.einsum("bn,bnd->bd", w, h)


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(1/n) Σ_i h_i over the n real particles of each jet: (B, N, D) → (B, D)."""
    return masked_sum(h, mask) / mask.sum(1, keepdim=True).clamp_min(1).to(h.dtype)


class Standardise(nn.Module):
    """(x − shift)/scale along the last axis, with fixed ``(shift, scale)`` pairs (one per column, e.g.
    :data:`hepcourse.data.constituents.PARTICLE_SHIFT_SCALE`), as :func:`hepcourse.data.constituents.standardise`.

    The constants are non-persistent float32 buffers: made once, moved by ``model.to(device)`` (also to
    Apple's MPS, which has no float64), and not part of the ``state_dict`` (they are not learned). A
    float64 input (a ``model.double()`` copy, for reference computations) is standardised with the
    exact float64 constants, as :func:`~hepcourse.data.constituents.standardise` does."""

    def __init__(self, shift_scale):
        super().__init__()
        self.shift_scale = tuple(tuple(float(v) for v in pair) for pair in shift_scale)
        c = torch.tensor(self.shift_scale, dtype=torch.float32)                 # (F, 2)
        self.register_buffer("shift", c[:, 0].clone(), persistent=False)
        self.register_buffer("scale", c[:, 1].clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float64:        # buffers cast by .double() hold float32-rounded constants
            c = torch.tensor(self.shift_scale, dtype=torch.float64, device=x.device)
            return (x - c[:, 0]) / c[:, 1]
        return (x - self.shift) / self.scale


def momentum_projection(scores: torch.Tensor, p_xy: torch.Tensor, mask: torch.Tensor | None = None,
                        eps: float = 1e-9) -> torch.Tensor:
    """w = Π s, Π = 1 − Pᵀ(P Pᵀ + ε1)⁻¹P: the weights closest to ``scores`` with Σ_i w_i p⃗_T,i = 0.

    A network predicts per-particle weights s_i (e.g. pile-up weights); physical weights conserve
    transverse momentum, Σ_i w_i p⃗_T,i = 0 (the applications text on symmetric architectures
    [apps_a_symmetry], item A3). The closest such weights in the Euclidean norm are the orthogonal
    projection onto the null space of P = (p_x,i; p_y,i), a 2 × N matrix,

        w* = argmin_{Pw = 0} |w − s|² = Π s,

    which is differentiable (∂w*/∂s = Π), so it can be the last layer of a network trained end to end.
    Padded particles get w = 0 and stay out of P; ε·1 is added to P Pᵀ for stability. The hard
    constraint forbids genuine missing momentum (neutrinos), and it does not keep w in [0, 1].

    scores (B, N), p_xy (B, N, 2) = (p_x, p_y), mask (B, N) → w (B, N), zero for padded particles.
    """
    if mask is not None:
        zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
        scores = torch.where(mask, scores, zero)
        p_xy = torch.where(mask[..., None], p_xy, zero)
    P = p_xy.transpose(1, 2)                                                   # (B, 2, N)
    gram = P @ p_xy + eps * torch.eye(2, dtype=P.dtype, device=P.device)       # (B, 2, 2)
    lam = torch.linalg.solve(gram, (P @ scores[..., None]))                    # (B, 2, 1)
    return scores - (p_xy @ lam)[..., 0]                                       # (B, N)


def time_features(t: torch.Tensor, n_freq: int = 4) -> torch.Tensor:
    """[t, sin(2^k π t), cos(2^k π t) for k < n_freq]: the time input of the networks of chapter 08 (denoising
    diffusion, flow matching), so that a small MLP can resolve fast changes in t. t (B,) or (B, 1) →
    (B, 1 + 2 n_freq)."""
    t = t.reshape(-1, 1)
    freqs = torch.pi * 2.0 ** torch.arange(n_freq, device=t.device, dtype=t.dtype)    # (n_freq,)
    return torch.cat([t, torch.sin(t * freqs), torch.cos(t * freqs)], dim=1)
