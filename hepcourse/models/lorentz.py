"""A Lorentz-invariant tagger on Minkowski products.

A function of the four-momenta that depends on them only through the Minkowski products
d_ij = p_i · p_j is invariant under every Lorentz transformation Λ, since (Λp_i) · (Λp_j) = p_i · p_j
(Plehn et al. [plehn2022modern], Eqs. 2.45–2.46 and Sec. 5.1; the learned metric of Eq. 2.48 is the
Minkowski one). :class:`LorentzInvariantNet` is a small network of that kind, in the spirit of PELICAN
(Bogatskiy et al. 2022), built like a deep set over pairs:

    h_i = Σ_j ψ(e_ij) / n,        e_ij = ( ln(1 + d_ij / μ²),  d_ij / m_J² ),
    f = F( Σ_i φ(h_i, ln(1 + p_i·P/μ²), p_i·P/m_J²) / n,  [ln(m_J²/μ²) − 9]/2 ),

with P = Σ_i p_i the jet momentum, m_J² = P·P = Σ_ij d_ij, n the number of real particles and
μ = 1 GeV. Every input of the networks ψ, φ, F is a Lorentz scalar, and the sums make f invariant
under permutations. (LorentzNet and PELICAN reach the top-tagging rejections of Table 3; this
small network is meant to show the construction, not to compete.) A Lorentz-invariant tagger
cannot see the beam axis: it loses, e.g., the jet's p_T and η, which are not invariants.

The invariants are computed in float32 with autocast switched off, also when the network runs under
mixed precision: d_ij = E_i E_j − p⃗_i·p⃗_j of two nearly collinear particles is a small difference of
large numbers, which bfloat16 (8 bits of mantissa) would lose entirely. Lorentz transformations to test
the invariance are in :mod:`hepcourse.physics.lorentz`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..data.constituents import full_precision, minkowski_products
from .config import ModelConfig
from .layers import layer_stack, masked_mean

__all__ = ["LorentzConfig", "LorentzInvariantNet", "invariant_features"]

MU2 = 1.0
"""μ² = 1 GeV², the scale in the logarithms of the invariants."""
LOG_M2_CENTRE = 9.0
"""ln(m_J²/μ²) enters as (ln(m_J²/μ²) − 9)/2, of order one for jet masses of 30–250 GeV."""


def invariant_features(p4: torch.Tensor, mask: torch.Tensor):
    """The Lorentz scalars the network sees: pair features e_ij (B, N, N, 2), particle features
    (B, N, 2) and the jet's [ln(m_J²/μ²) − 9]/2 (B, 1). Zero where a padded particle is involved.

    Computed in (at least) float32 with autocast off (:func:`~hepcourse.data.constituents.full_precision`);
    the network casts them to its working precision afterwards."""
    with full_precision(p4) as p4:
        return _invariant_features(p4, mask)


def _invariant_features(p4: torch.Tensor, mask: torch.Tensor):
    d = minkowski_products(p4, mask)                                       # (B, N, N)
    m2 = d.sum(dim=(1, 2)).clamp_min(1e-6)                                 # (B,) = m_J²
    pair = torch.stack([torch.log1p(d.clamp_min(0) / MU2), d / m2[:, None, None]], dim=-1)
    pP = d.sum(dim=2)                                                      # (B, N): p_i · P
    part = torch.stack([torch.log1p(pP.clamp_min(0) / MU2), pP / m2[:, None]], dim=-1)
    pair_mask = (mask[:, :, None] & mask[:, None, :])[..., None]
    zero = torch.zeros((), dtype=p4.dtype, device=p4.device)
    return (torch.where(pair_mask, pair, zero), torch.where(mask[..., None], part, zero),
            (torch.log(m2 / MU2)[:, None] - LOG_M2_CENTRE) / 2)


@dataclass
class LorentzConfig(ModelConfig):
    """A :class:`LorentzInvariantNet` (CPU-sized; :meth:`paper` is wider, not a published size)."""

    pair_hidden: tuple[int, ...] = (32, 32)
    particle_hidden: tuple[int, ...] = (64, 64)
    f_hidden: tuple[int, ...] = (64,)

    @classmethod
    def paper(cls, **kwargs) -> "LorentzConfig":
        """Wider layers, about PELICAN's width (its 2→2 equivariant layers are not reproduced here)."""
        return cls(pair_hidden=(132, 132), particle_hidden=(132, 132), f_hidden=(132,), **kwargs)


class LorentzInvariantNet(nn.Module):
    """``forward(x, p4, mask)``: p4 (B, N, 4) = (E, px, py, pz) in GeV → logits (B,); x is not used."""

    config_class = LorentzConfig

    def __init__(self, cfg: LorentzConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or LorentzConfig(**kwargs)
        self.psi = layer_stack([2, *cfg.pair_hidden])
        self.phi = layer_stack([cfg.pair_hidden[-1] + 2, *cfg.particle_hidden])
        self.F = layer_stack([cfg.particle_hidden[-1] + 1, *cfg.f_hidden, 1], final_activation=False)

    def forward(self, x: torch.Tensor | None, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pair, part, log_m2 = invariant_features(p4, mask)
        psi = self.psi(pair)                                                   # (B, N, N, H)
        w = (mask[:, None, :]).to(psi.dtype)[..., None]                       # keys j
        h = (psi * w).sum(2) / mask.sum(1).clamp_min(1).to(psi.dtype)[:, None, None]    # (B, N, H)
        g = self.phi(torch.cat([h, part], dim=-1))                            # (B, N, H')
        return self.F(torch.cat([masked_mean(g, mask), log_m2], dim=-1))[:, 0]   # (B,)
