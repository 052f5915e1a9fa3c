"""Denoising diffusion probabilistic models (DDPM): closed-form forward process, the posterior, ε-prediction.

Plehn et al. [plehn2022modern], Sec. 4.4.1 (Ho et al. 2020). Here in the usual notation, α_t = 1 − β_t and
ᾱ_t = Π_{i≤t} α_i; the book's β̄_t is 1 − ᾱ_t. Steps t = 1 … T, with ᾱ_0 = 1 (arrays are indexed by t,
entry 0 standing for "no noise").

* Forward step (Eq. 4.126): q(x_t | x_{t−1}) = N(√α_t x_{t−1}, β_t); in closed form (Eq. 4.127)
  q(x_t | x₀) = N(√ᾱ_t x₀, 1 − ᾱ_t), i.e. x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε (:func:`forward_marginal`).
* Posterior (Eq. 4.129, **corrected**): q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t) with

      μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x₀ + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
      β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t                                           (:func:`posterior`).

  The book prints the coefficient of x_t as √(1 − β̄_t) (·) instead of √(1 − β_t) β̄_{t−1}/β̄_t.
* ε-parameterisation (Eq. 4.137, **corrected**): with x₀ = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t,

      μ̃_t = (x_t − β_t / √(1 − ᾱ_t) · ε) / √α_t                                         (:func:`mu_from_eps`);

  the book prints β_t/√β_t in place of β_t/√(1 − ᾱ_t) (in its notation β_t/√β̄_t). For x_t = 0.7,
  ε = 0.3, t = 500 of the 1000-step linear schedule 10⁻⁴ … 2·10⁻²: 0.700 (correct) against 0.673 (printed).
* Loss (Eqs. 4.135–4.136 with the usual weights dropped): ⟨|ε − ε_θ(x_t, t)|²⟩ over t ~ U{1..T}, x₀, ε.
* Sampling: x_T ~ N(0, 1), then x_{t−1} = μ̃_t(x_t, ε_θ) + √β̃_t z for t = T … 1. :func:`respace` keeps
  a subset of the steps (Nichol and Dhariwal 2021): β'_k = 1 − ᾱ_{τ_k}/ᾱ_{τ_{k−1}}, so fewer steps can be
  sampled with the same network.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .layers import time_features
from .mlp import MLP, MLPConfig


# ------------------------------------------------------------------------------ schedule and closed forms
@dataclass
class Schedule:
    """A noise schedule: ``betas`` (T + 1,) with β_0 = 0, ``alpha_bar`` (T + 1,) with ᾱ_0 = 1, and ``times``
    (T + 1,), the network's time index of each step (equal to 0 … T unless respaced)."""

    betas: torch.Tensor
    alpha_bar: torch.Tensor
    times: torch.Tensor

    @property
    def T(self) -> int:
        return len(self.betas) - 1


def linear_schedule(T: int = 1000, beta_1: float = 1e-4, beta_T: float = 2e-2, dtype=torch.float64) -> Schedule:
    """β_t linear from ``beta_1`` to ``beta_T`` (Ho et al. 2020; Plehn et al. quote β_t ∼ 2·10⁻² (t − 1)/T)."""
    betas = torch.cat([torch.zeros(1, dtype=dtype), torch.linspace(beta_1, beta_T, T, dtype=dtype)])
    return Schedule(betas, torch.cumprod(1.0 - betas, dim=0), torch.arange(T + 1, dtype=dtype))


def respace(schedule: Schedule, n_steps: int) -> Schedule:
    """A schedule of ``n_steps`` steps at evenly spaced times τ_1 < … < τ_n = T of ``schedule``, with the
    same ᾱ at those times (so the same network applies) and β'_k = 1 − ᾱ_{τ_k}/ᾱ_{τ_{k−1}}."""
    T = schedule.T
    if not 1 <= n_steps <= T:
        raise ValueError(f"n_steps must lie in [1, {T}], got {n_steps}")
    tau = torch.unique(torch.round(torch.linspace(0, T, n_steps + 1, dtype=torch.float64)).long())
    alpha_bar = schedule.alpha_bar[tau]
    betas = torch.cat([torch.zeros(1, dtype=alpha_bar.dtype), 1.0 - alpha_bar[1:] / alpha_bar[:-1]])
    return Schedule(betas, alpha_bar, schedule.times[tau])


def _at(a: torch.Tensor, t, like: torch.Tensor) -> torch.Tensor:
    """a[t] shaped to broadcast against ``like`` (B, D): t is an int or a (B,) tensor of step indices."""
    v = a.to(like.device)[torch.as_tensor(t, device=like.device)].to(like.dtype)
    return v.reshape(-1, *([1] * (like.dim() - 1))) if v.dim() else v


def forward_marginal(x0: torch.Tensor, t, schedule: Schedule, noise: torch.Tensor | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q(x_t | x₀) = N(√ᾱ_t x₀, 1 − ᾱ_t) (Eq. 4.127): returns (x_t, mean, variance); x_t uses ``noise``
    (standard normal, drawn unless given)."""
    ab = _at(schedule.alpha_bar, t, x0)
    mean, var = ab.sqrt() * x0, (1.0 - ab) * torch.ones_like(x0)
    noise = torch.randn_like(x0) if noise is None else noise
    return mean + var.sqrt() * noise, mean, var


def posterior(x_t: torch.Tensor, x0: torch.Tensor, t, schedule: Schedule) -> tuple[torch.Tensor, torch.Tensor]:
    """q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t), the corrected Eq. 4.129 (module docstring): (mean, variance)."""
    beta, ab, ab_prev = (_at(a, t, x_t) for a in (schedule.betas, schedule.alpha_bar,
                                                   torch.cat([schedule.alpha_bar[:1], schedule.alpha_bar[:-1]])))
    mean = (ab_prev.sqrt() * beta * x0 + (1.0 - beta).sqrt() * (1.0 - ab_prev) * x_t) / (1.0 - ab)
    var = (1.0 - ab_prev) / (1.0 - ab) * beta * torch.ones_like(x_t)
    return mean, var


def mu_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t, schedule: Schedule) -> torch.Tensor:
    """μ̃_t = (x_t − β_t/√(1 − ᾱ_t) ε)/√(1 − β_t), the corrected Eq. 4.137."""
    beta, ab = _at(schedule.betas, t, x_t), _at(schedule.alpha_bar, t, x_t)
    return (x_t - beta / (1.0 - ab).sqrt() * eps) / (1.0 - beta).sqrt()


def gaussian_eps(x_t: torch.Tensor, t, schedule: Schedule, m: float = 0.0, s: float = 1.0) -> torch.Tensor:
    """The exact ε-prediction E[ε | x_t] for data N(m, s²) in each dimension:
    √(1 − ᾱ_t) (x_t − √ᾱ_t m) / (ᾱ_t s² + 1 − ᾱ_t)."""
    ab = _at(schedule.alpha_bar, t, x_t)
    return (1.0 - ab).sqrt() * (x_t - ab.sqrt() * m) / (ab * s ** 2 + 1.0 - ab)


# ------------------------------------------------------------------------------ the model
@dataclass
class DDPMConfig(ModelConfig):
    """Every hyperparameter of a :class:`DDPM`."""

    dim: int = 2
    context_dim: int = 0
    T: int = 200                          # diffusion steps
    beta_1: float = 1e-4
    beta_T: float = 2e-2
    hidden: tuple[int, ...] = (64, 64)    # the ε-network, an MLP on (x_t, time features of t/T, c)
    n_freq: int = 4
    activation: str = "silu"



class DDPM(nn.Module):
    """The ε-network ε_θ(x_t, t | c) with its schedule: ``model(x_t, t, context)`` → ε̂ (B, dim), t the
    integer step (B,); :meth:`loss`, :meth:`sample`."""

    config_class = DDPMConfig

    def __init__(self, cfg: DDPMConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg = cfg or DDPMConfig(**kwargs)
        self.schedule = linear_schedule(cfg.T, cfg.beta_1, cfg.beta_T)
        self.net = MLP(MLPConfig(n_in=cfg.dim + 1 + 2 * cfg.n_freq + cfg.context_dim, n_out=cfg.dim,
                                 hidden=cfg.hidden, activation=cfg.activation))

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device).expand(x_t.shape[0]) / self.cfg.T
        parts = [x_t, time_features(t, self.cfg.n_freq)]
        if self.cfg.context_dim:
            parts.append(context)
        return self.net(torch.cat(parts, dim=1))                               # (B, dim)

    def loss(self, x0: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """⟨|ε − ε_θ(x_t, t)|²⟩ (mean over events and features), t ~ U{1 … T}."""
        t = torch.randint(1, self.cfg.T + 1, (x0.shape[0],), device=x0.device)
        x_t, _, _ = forward_marginal(x0, t, self.schedule, noise=(eps := torch.randn_like(x0)))
        return (self(x_t, t, context) - eps).pow(2).mean()

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor | None = None, n_steps: int | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples (n, dim) by ancestral sampling over all T steps, or ``n_steps`` respaced ones."""
        param = next(self.parameters())

        def eps_fn(x, t_net):
            return self(x, t_net, context)

        return sample(eps_fn, n, self.cfg.dim, self.schedule, n_steps, generator, param.device, param.dtype)


@torch.no_grad()
def sample(eps_fn, n: int, dim: int, schedule: Schedule, n_steps: int | None = None,
           generator: torch.Generator | None = None, device=None, dtype=torch.float32) -> torch.Tensor:
    """Ancestral sampling with any ε-predictor ``eps_fn(x_t, t)`` (t the step of the full schedule, (B,)):
    x_T ~ N(0, 1); x_{t−1} = μ̃_t(x_t, ε) + √β̃_t z over the (respaced, if ``n_steps``) schedule."""
    sched = respace(schedule, n_steps) if n_steps is not None else schedule
    x = torch.randn(n, dim, generator=generator, device=device, dtype=dtype)
    for k in range(sched.T, 0, -1):
        t_net = torch.full((n,), float(sched.times[k]), device=x.device, dtype=x.dtype)
        eps = eps_fn(x, t_net)
        mean = mu_from_eps(x, eps, k, sched)
        _, var = posterior(x, x, k, sched)                                       # β̃_k (the mean is not used)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) if k > 1 else 0.0
        x = mean + var.sqrt() * noise
    return x


def ddpm_loss(model: DDPM, batch) -> torch.Tensor:
    """:meth:`DDPM.loss` as a ``loss_fn`` for :func:`hepcourse.train.fit`: the batch is ``(x,)`` or ``(x, c)``."""
    x, *rest = batch if isinstance(batch, (tuple, list)) else (batch,)
    return model.loss(x, rest[0] if rest else None)


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t, schedule: Schedule) -> torch.Tensor:
    """The one-step estimate x̂₀ = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t (Eq. 4.127 solved for x₀). With the exact
    ε = E[ε | x_t] it is the posterior mean E[x₀ | x_t] (Tweedie's formula), narrower than the data."""
    ab = _at(schedule.alpha_bar, t, x_t)
    return (x_t - (1.0 - ab).sqrt() * eps) / ab.sqrt()


def penalised_ddpm_loss(model: DDPM, batch, feature, lam: float, t_max: int | None = None) -> torch.Tensor:
    """The DDPM loss plus a physics penalty (applications text, item A13), a ``loss_fn`` for
    :func:`hepcourse.train.fit` (bind ``feature``, ``lam``, ``t_max`` with ``functools.partial``):

        L = ⟨|ε − ε_θ(x_t, t)|²⟩_{t ~ U{1..T}} + λ W₁( f(x̂₀), f(x₀) )_{t' ~ U{1..t_max}},

    x̂₀ the one-step estimates of :func:`x0_from_eps` from the network's ε_θ at a second noising of the same
    batch, at steps t' ≤ ``t_max`` (default T); f = ``feature`` a differentiable map of a batch (B, dim) to one
    number per event (B,); W₁ by sorting (:func:`hepcourse.metrics.w1_sorted`) against the batch's true f(x₀).
    With λ = 0 it is :meth:`DDPM.loss` (the same random numbers drawn in the same order)."""
    from ..metrics import w1_sorted

    x0, *rest = batch if isinstance(batch, (tuple, list)) else (batch,)
    context = rest[0] if rest else None
    t = torch.randint(1, model.cfg.T + 1, (x0.shape[0],), device=x0.device)
    x_t, _, _ = forward_marginal(x0, t, model.schedule, noise=(eps := torch.randn_like(x0)))
    loss = (model(x_t, t, context) - eps).pow(2).mean()
    if lam:
        t2 = torch.randint(1, (t_max or model.cfg.T) + 1, (x0.shape[0],), device=x0.device)
        x_t2, _, _ = forward_marginal(x0, t2, model.schedule)
        x0_hat = x0_from_eps(x_t2, model(x_t2, t2, context), t2, model.schedule)        # (B, dim)
        loss = loss + lam * w1_sorted(feature(x0_hat), feature(x0))
    return loss
