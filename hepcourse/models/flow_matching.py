"""Conditional flow matching (CFM): a velocity field v_θ(x, t | c) whose ODE carries noise to data.

Plehn et al. [plehn2022modern], Sec. 4.4.2 (Lipman et al. 2023; Liu et al. 2023). Time runs from data
(t = 0) to the standard normal latent r (t = 1) along straight lines (Eq. 4.142),

    x(t | x₀) = (1 − t) x₀ + t r,   i.e.  p(x, t | x₀) = N(x; (1 − t) x₀, t²)

(the second argument of the book's N(x; (1 − t) x₀, t) is the standard deviation: the variance is t²), with
the conditional velocity v(x, t | x₀) = r − x₀ (Eq. 4.144). The network regresses it (Eq. 4.151),

    L_CFM = ⟨ |v_θ((1 − t) x₀ + t r, t) − (r − x₀)|² ⟩_{t ~ U(0,1), x₀ ~ data, r ~ N(0, 1)},

whose minimiser is the marginal velocity v(x, t) = E[r − x₀ | x(t) = x] (Eq. 4.146). Samples follow from
x₀ = r − ∫₀¹ v dt (Eq. 4.154), integrated by :mod:`hepcourse.ode` from t = 1 down to 0; the likelihood from
log p(x₀) = log N(x(1); 0, 1) + ∫₀¹ ∇·v dt (Eq. 4.156), integrated from 0 up to 1.

For data N(m, s²) the marginal velocity is known exactly (:func:`gaussian_velocity`):
v(x, t) = −m + [t − (1 − t) s²] / [(1 − t)² s² + t²] · (x − (1 − t) m), and ∫₀¹ ∂ₓv dt = −ln s.

:func:`cfm_loss` takes the mean over events *and* features (the convention of ``torchcfm``), i.e. Eq. 4.151
divided by the dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .. import ode
from .config import ModelConfig
from .layers import time_features
from .mlp import MLP, MLPConfig


@dataclass
class CFMConfig(ModelConfig):
    """Every hyperparameter of a :class:`CFM` velocity network."""

    dim: int = 2                          # features of x
    context_dim: int = 0                  # features of the condition c
    hidden: tuple[int, ...] = (64, 64)    # hidden widths of the MLP on (x, time features, c)
    n_freq: int = 4                       # Fourier features of t (hepcourse.models.layers.time_features)
    activation: str = "silu"



class CFM(nn.Module):
    """The velocity network v_θ(x, t | c): ``model(x, t, context)`` → (B, dim)."""

    config_class = CFMConfig

    def __init__(self, cfg: CFMConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or CFMConfig(**kwargs)
        self.net = MLP(MLPConfig(n_in=cfg.dim + 1 + 2 * cfg.n_freq + cfg.context_dim, n_out=cfg.dim,
                                 hidden=cfg.hidden, activation=cfg.activation))

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(x.shape[0])
        parts = [x, time_features(t, self.cfg.n_freq)]
        if self.cfg.context_dim:
            if context is None:
                raise ValueError(f"this CFM is conditional: give a context with {self.cfg.context_dim} features")
            parts.append(context)
        return self.net(torch.cat(parts, dim=1))                              # (B, dim)

    def velocity(self, context: torch.Tensor | None = None) -> ode.VelocityFn:
        """v(x, t) with the context bound, for :mod:`hepcourse.ode`."""
        return lambda x, t: self(x, t, context)

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, n_steps: int = 20, method: str = "rk4",
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (n, dim): r ~ N(0, 1) carried from t = 1 to t = 0 (Eq. 4.154). ``context`` (n, C)."""
        param = next(self.parameters())
        r = torch.randn(n, self.cfg.dim, generator=generator, device=param.device, dtype=param.dtype)
        return ode.odeint(self.velocity(context), r, 1.0, 0.0, n_steps, method)

    def log_prob(self, x: torch.Tensor, context: torch.Tensor | None = None, n_steps: int = 20,
                 method: str = "rk4") -> torch.Tensor:
        """log p(x | c) (B,) by the divergence integral (Eq. 4.156)."""
        return log_prob(self.velocity(context), x, n_steps, method)


def conditional_path(x0: torch.Tensor, r: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x(t | x₀) = (1 − t) x₀ + t r (Eq. 4.142); t (B,) or (B, 1)."""
    t = t.reshape(-1, 1)
    return (1.0 - t) * x0 + t * r


def conditional_velocity(x0: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """v(x, t | x₀) = r − x₀ (Eq. 4.144), the regression target of :func:`cfm_loss`."""
    return r - x0


def cfm_loss(model: CFM, x0: torch.Tensor, context: torch.Tensor | None = None, r: torch.Tensor | None = None,
             t: torch.Tensor | None = None) -> torch.Tensor:
    """L_CFM of Eq. 4.151, averaged over events and features; r ~ N(0, 1) and t ~ U(0, 1) are drawn unless
    given (give them to compare two implementations on the same noise)."""
    r = torch.randn_like(x0) if r is None else r
    t = torch.rand(x0.shape[0], dtype=x0.dtype, device=x0.device) if t is None else t.reshape(-1)
    xt = conditional_path(x0, r, t)
    return (model(xt, t, context) - conditional_velocity(x0, r)).pow(2).mean()


def cfm_batch_loss(model: CFM, batch) -> torch.Tensor:
    """:func:`cfm_loss` as a ``loss_fn`` for :func:`hepcourse.train.fit`: the batch is ``(x,)`` or ``(x, c)``."""
    x, *rest = batch if isinstance(batch, (tuple, list)) else (batch,)
    return cfm_loss(model, x, rest[0] if rest else None)


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor, m: float = 0.0, s: float = 1.0) -> torch.Tensor:
    """The exact marginal velocity (Eq. 4.146) for data N(m, s²) in each dimension and latent N(0, 1):
    v(x, t) = −m + [t − (1 − t) s²] / [(1 − t)² s² + t²] · (x − (1 − t) m)."""
    t = t.reshape(-1, *([1] * (x.dim() - 1))) if torch.is_tensor(t) and t.dim() else t
    var = (1 - t) ** 2 * s ** 2 + t ** 2
    return -m + (t - (1 - t) * s ** 2) / var * (x - (1 - t) * m)


def log_prob(v: ode.VelocityFn, x: torch.Tensor, n_steps: int = 20, method: str = "rk4") -> torch.Tensor:
    """log p(x) = log N(x(1); 0, 1) + ∫₀¹ ∇·v dt for the flow dx/dt = v(x, t) started at x(0) = x (Eq. 4.156)."""
    z, div_integral = ode.odeint_with_divergence(v, x, 0.0, 1.0, n_steps, method)
    return -0.5 * (z.pow(2).sum(dim=1) + x.shape[1] * math.log(2 * math.pi)) + div_integral
