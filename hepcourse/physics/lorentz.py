"""Lorentz transformations of four-momenta (torch): boosts and random proper orthochronous transformations.

Four-momenta are (..., 4) = (E, p_x, p_y, p_z) in GeV with the metric diag(+1, −1, −1, −1). These are the
transformations under which a Lorentz-invariant tagger (:mod:`hepcourse.models.lorentz`) must not change
its output, and with which the tests and lecture 4.2 check that it does not.
"""

from __future__ import annotations

import torch

__all__ = ["boost", "random_lorentz"]


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
