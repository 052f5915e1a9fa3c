"""A Lorentz-invariant tagger on Minkowski products, and a momentum-conserving projection layer.

**Invariant inputs.** A function of the four-momenta that depends on them only through the
Minkowski products d_ij = p_i · p_j is invariant under every Lorentz transformation Λ, since
(Λp_i) · (Λp_j) = p_i · p_j (seed 003, Eqs. 2.45–2.46 and Sec. 5.1; the learned metric of
Eq. 2.48 is the Minkowski one). :class:`LorentzInvariantNet` is a small network of that kind, in
the spirit of PELICAN (Bogatskiy et al. 2022), built like a deep set over pairs:

    h_i = Σ_j ψ(e_ij) / n,        e_ij = ( ln(1 + d_ij / μ²),  d_ij / m_J² ),
    f = F( Σ_i φ(h_i, ln(1 + p_i·P/μ²), p_i·P/m_J²) / n,  [ln(m_J²/μ²) − 9]/2 ),

with P = Σ_i p_i the jet momentum, m_J² = P·P = Σ_ij d_ij, n the number of real particles and
μ = 1 GeV. Every input of the networks ψ, φ, F is a Lorentz scalar, and the sums make f invariant
under permutations. (LorentzNet and PELICAN reach the top-tagging rejections of Table 3; this
small network is meant to show the construction, not to compete.) A Lorentz-invariant tagger
cannot see the beam axis: it loses, e.g., the jet's p_T and η, which are not invariants.

**Momentum-conserving projection** (seed 000, item A3). A network predicts per-particle weights
s_i (e.g. pile-up weights); the physical weights must conserve transverse momentum,
Σ_i w_i p⃗_T,i = 0. The closest weights to s (in the Euclidean norm) that satisfy the constraint
are the orthogonal projection onto the null space of P = (p_x,i; p_y,i), a 2 × N matrix:

    w* = argmin_{Pw = 0} |w − s|² = Π s,   Π = 1 − Pᵀ (P Pᵀ)⁻¹ P,

which is differentiable (∂w*/∂s = Π), so it can be the last layer of a network trained end to
end. Padded particles get w = 0 and stay out of P; ε·1 is added to P Pᵀ for stability.
The hard constraint forbids genuine missing momentum (neutrinos), and it does not keep w in [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..data.constituents import minkowski_products
from .deepsets import masked_mean, mlp

__all__ = ["LorentzConfig", "LorentzInvariantNet", "invariant_features", "momentum_projection", "boost",
           "random_lorentz"]

MU2 = 1.0
"""μ² = 1 GeV², the scale in the logarithms of the invariants."""
LOG_M2_CENTRE = 9.0
"""ln(m_J²/μ²) enters as (ln(m_J²/μ²) − 9)/2, of order one for jet masses of 30–250 GeV."""


def invariant_features(p4: torch.Tensor, mask: torch.Tensor):
    """The Lorentz scalars the network sees: pair features e_ij (B, N, N, 2), particle features
    (B, N, 2) and the jet's [ln(m_J²/μ²) − 9]/2 (B, 1). Zero where a padded particle is involved."""
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
class LorentzConfig:
    """A :class:`LorentzInvariantNet` (CPU-sized; :meth:`paper` is wider, not a published size)."""

    pair_hidden: tuple[int, ...] = (32, 32)
    particle_hidden: tuple[int, ...] = (64, 64)
    f_hidden: tuple[int, ...] = (64,)

    def __post_init__(self):
        self.pair_hidden, self.particle_hidden, self.f_hidden = (tuple(int(h) for h in t) for t in (
            self.pair_hidden, self.particle_hidden, self.f_hidden))

    @classmethod
    def paper(cls, **kwargs) -> "LorentzConfig":
        """Wider layers, about PELICAN's width (its 2→2 equivariant layers are not reproduced here)."""
        return cls(pair_hidden=(132, 132), particle_hidden=(132, 132), f_hidden=(132,), **kwargs)

    def to_dict(self) -> dict:
        return {k: list(v) for k, v in asdict(self).items()}


class LorentzInvariantNet(nn.Module):
    """``forward(x, p4, mask)``: p4 (B, N, 4) = (E, px, py, pz) in GeV → logits (B,); x is not used."""

    config_class = LorentzConfig

    def __init__(self, cfg: LorentzConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or LorentzConfig(**kwargs)
        self.psi = mlp([2, *cfg.pair_hidden])
        self.phi = mlp([cfg.pair_hidden[-1] + 2, *cfg.particle_hidden])
        self.F = mlp([cfg.particle_hidden[-1] + 1, *cfg.f_hidden, 1], final_activation=False)

    def forward(self, x: torch.Tensor | None, p4: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pair, part, log_m2 = invariant_features(p4, mask)
        psi = self.psi(pair)                                                   # (B, N, N, H)
        w = (mask[:, None, :]).to(psi.dtype)[..., None]                       # keys j
        h = (psi * w).sum(2) / mask.sum(1).clamp_min(1).to(psi.dtype)[:, None, None]    # (B, N, H)
        g = self.phi(torch.cat([h, part], dim=-1))                            # (B, N, H')
        return self.F(torch.cat([masked_mean(g, mask), log_m2], dim=-1))[:, 0]   # (B,)


def momentum_projection(scores: torch.Tensor, p_xy: torch.Tensor, mask: torch.Tensor | None = None,
                        eps: float = 1e-9) -> torch.Tensor:
    """w = Π s, Π = 1 − Pᵀ(P Pᵀ + ε1)⁻¹P: the weights closest to ``scores`` with Σ_i w_i p⃗_T,i = 0.

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


def boost(p4: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """The Lorentz boost with velocity β⃗ (|β| < 1) of four-momenta (..., 4) = (E, p⃗):

        E' = γ(E − β⃗·p⃗),   p⃗' = p⃗ + [(γ − 1)(β⃗·p⃗)/β² − γE] β⃗ .

    ``beta`` (3,) or broadcastable to (..., 3).
    """
    beta = torch.as_tensor(beta, dtype=p4.dtype, device=p4.device)
    b2 = (beta ** 2).sum(-1, keepdim=True)
    gamma = 1.0 / torch.sqrt(1.0 - b2)
    e, p = p4[..., :1], p4[..., 1:]
    bp = (beta * p).sum(-1, keepdim=True)
    coef = torch.where(b2 > 0, (gamma - 1.0) * bp / b2.clamp_min(1e-300), torch.zeros_like(bp))
    return torch.cat([gamma * (e - bp), p + (coef - gamma * e) * beta], dim=-1)


def random_lorentz(generator: torch.Generator, max_rapidity: float = 2.0, dtype=torch.float64) -> torch.Tensor:
    """A random proper orthochronous Lorentz transformation Λ (4 × 4, acting as p' = Λ p): a random
    rotation (QR of a Gaussian matrix) times a boost of random direction and rapidity ≤ max_rapidity."""
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=dtype))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    rot = torch.eye(4, dtype=dtype)
    rot[1:, 1:] = q
    n = torch.randn(3, generator=generator, dtype=dtype)
    y = max_rapidity * torch.rand((), generator=generator, dtype=dtype)
    beta = torch.tanh(y) * n / n.norm()
    lam = boost(torch.eye(4, dtype=dtype), beta).T              # columns: boosted basis vectors
    return lam @ rot
