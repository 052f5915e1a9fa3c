"""Simulation-based inference (chapter 09): learn a likelihood ratio, a score or a posterior from simulations.

* :class:`RatioEstimator` — a classifier f(x, θ) on parameter–observation pairs whose logit is a log
  likelihood ratio (the likelihood-ratio trick; Plehn et al. [plehn2022modern], Eq. 6.58; PDG review
  [pdg2025ml], Eq. 41.13). Trained with :func:`hepcourse.losses.bce_loss` on events of p(x|θ) against
  events of a reference p(x|θ_ref) (CARL, Cranmer et al. 2015), its logit is log p(x|θ)/p(x|θ_ref);
  trained with :func:`nre_loss` on joint pairs (x, θ) against shuffled pairs (NRE, Hermans et al. 2020),
  it is log p(x|θ)/p(x) = log p(θ|x)/p(θ), so prior × exp(logit) is the posterior.
* Score regression (SALLY, Brehmer et al. 2018; Eqs. 6.66–6.67): any regression network trained with
  :func:`sally_loss` on the joint score t(x, z) learns its conditional mean, the score t(x|θ_ref).
* :class:`MixtureDensity` — a conditional density q(θ|x), a mixture of Gaussians whose weights, means and
  widths an MLP predicts from x (Bishop 1994), for neural posterior estimation (NPE, Papamakarios and
  Murray 2016) with :func:`npe_loss` = −⟨log q(θ|x)⟩ over simulated pairs. It has the interface of the
  conditional flows of :mod:`hepcourse.models.flows` (``log_prob(θ, context)``, ``sample(n, context)``),
  so either can be the posterior of :func:`npe_loss`.
* :func:`grid_posterior`, :func:`sample_grid` — a one-dimensional posterior from a ratio estimator, on a grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .mlp import ACTIVATIONS


def _mlp(widths: list[int], activation: str) -> nn.Sequential:
    """Linear → activation → … → Linear (no activation after the last layer)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def _column(t: torch.Tensor) -> torch.Tensor:
    """(B,) → (B, 1); (B, D) unchanged."""
    return t[:, None] if t.ndim == 1 else t


class _MLPConfig(ModelConfig):
    """What both configurations below share: a known ``activation``."""

    def check(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")


@dataclass
class RatioConfig(_MLPConfig):
    """Architecture of a :class:`RatioEstimator`."""

    x_dim: int = 1
    theta_dim: int = 1
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "silu"


class RatioEstimator(nn.Module):
    """f(x, θ): (B, x_dim), (B, theta_dim) or (B,) → a logit (B,), read as a log likelihood ratio.

    A classifier with output D = sigmoid(f) trained by binary cross-entropy to tell pairs of class 1
    from pairs of class 0 (equal numbers) reaches D = p₁/(p₁ + p₀), so f = log p₁(x, θ)/p₀(x, θ) (Eq. 6.58).
    """

    config_class = RatioConfig

    def __init__(self, cfg: RatioConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or RatioConfig(**kwargs)
        widths = [self.cfg.x_dim + self.cfg.theta_dim, *self.cfg.hidden, 1]
        self.net = _mlp(widths, self.cfg.activation)

    def forward(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([_column(x), _column(theta)], dim=1))[:, 0]    # (B,)


def nre_loss(model: nn.Module, batch) -> torch.Tensor:
    """Neural ratio estimation (Hermans et al. 2020) for :func:`hepcourse.train.fit`, on a batch ``(x, θ)`` of
    joint simulations: the binary cross-entropy of ``model(x, θ)`` (class 1, p(x, θ)) against
    ``model(x, θ')`` with θ' the θ of the next pair in the batch (class 0, p(x) p(θ)). Its minimiser is
    f(x, θ) = log p(x, θ)/(p(x) p(θ)) = log p(x|θ)/p(x). Shuffle the batches (θ' must be independent of x)."""
    x, theta = batch[0], batch[1]
    pos = model(x, theta)
    neg = model(x, torch.roll(theta, 1, dims=0))
    return 0.5 * (F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
                  + F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg)))


def sally_loss(model: nn.Module, batch) -> torch.Tensor:
    """Score regression (SALLY; Plehn et al. [plehn2022modern], Eqs. 6.66–6.67) for :func:`hepcourse.train.fit`,
    on a batch ``(x, t_joint)`` simulated at θ_ref: the mean squared error of ``model(x)`` against the joint
    score t(x, z|θ_ref) = ∂_θ log p(x, z|θ). The minimiser is E[t(x, z)|x] = t(x|θ_ref), the score."""
    x, t = batch[0], batch[1]
    return F.mse_loss(model(x).reshape(t.shape), t)


@dataclass
class MixtureConfig(_MLPConfig):
    """Architecture of a :class:`MixtureDensity`."""

    dim: int = 1                         # dimension of θ
    context_dim: int = 1                 # dimension of x
    n_components: int = 5
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "silu"
    min_log_sigma: float = -7.0          # floor of the components' log widths, for stability


class MixtureDensity(nn.Module):
    """q(θ|x) = Σ_k π_k(x) N(θ; μ_k(x), diag σ_k(x)²): a mixture density network (Bishop 1994).

    An MLP maps the context x (B, context_dim) to the K mixture logits, K means (K, dim) and K log widths;
    ``log_prob(θ, x)`` (B,) is the log of the mixture density (log-sum-exp over components), and
    ``sample(n, x)`` draws n values of θ for one context x (context_dim,) → (n, dim), or for each of B
    contexts (B, context_dim) → (n, B, dim).
    """

    config_class = MixtureConfig

    def __init__(self, cfg: MixtureConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = cfg or MixtureConfig(**kwargs)
        c = self.cfg
        widths = [c.context_dim, *c.hidden, c.n_components * (1 + 2 * c.dim)]
        self.net = _mlp(widths, c.activation)

    def _params(self, context: torch.Tensor):
        c = self.cfg
        out = self.net(_column(context))                                   # (B, K (1 + 2 dim))
        logits = out[:, :c.n_components]                                    # (B, K)
        mu, log_sigma = out[:, c.n_components:].reshape(-1, c.n_components, 2, c.dim).unbind(2)   # (B, K, dim) each
        return torch.log_softmax(logits, dim=1), mu, log_sigma.clamp_min(c.min_log_sigma)

    def log_prob(self, theta: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        log_pi, mu, log_sigma = self._params(context)
        z = (_column(theta)[:, None, :] - mu) / log_sigma.exp()               # (B, K, dim)
        log_n = (-0.5 * z ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(-1)   # (B, K)
        return torch.logsumexp(log_pi + log_n, dim=1)                        # (B,)

    @torch.no_grad()
    def sample(self, n: int, context: torch.Tensor) -> torch.Tensor:
        single = context.ndim == 1 and self.cfg.context_dim > 1 or context.ndim == 0
        ctx = context.reshape(1, -1) if single else _column(context)        # (B, context_dim)
        log_pi, mu, log_sigma = self._params(ctx)
        k = torch.distributions.Categorical(logits=log_pi).sample((n,))      # (n, B)
        idx = k[..., None, None].expand(n, ctx.shape[0], 1, self.cfg.dim)
        m = torch.gather(mu.expand(n, *mu.shape), 2, idx)[:, :, 0]          # (n, B, dim)
        s = torch.gather(log_sigma.expand(n, *log_sigma.shape), 2, idx)[:, :, 0].exp()
        out = m + s * torch.randn_like(m)
        return out[:, 0] if single else out


def npe_loss(model: nn.Module, batch) -> torch.Tensor:
    """Neural posterior estimation (Papamakarios and Murray 2016) for :func:`hepcourse.train.fit`, on a batch
    ``(θ, x)`` of joint simulations: −⟨log q(θ|x)⟩. Minimised by q = p(θ|x) for every x the simulations
    cover (the expected KL divergence from the true posterior plus a constant). ``model`` is any
    conditional density with ``log_prob(θ, context)``: a :class:`MixtureDensity` or a conditional flow."""
    theta, x = batch[0], batch[1]
    return -model.log_prob(_column(theta), x).mean()


# ------------------------------------------------------------------------------------ 1D posteriors on a grid
@torch.no_grad()
def grid_posterior(model: nn.Module, x, grid, log_prior=None) -> np.ndarray:
    """Posterior density p(θ|x) ∝ p(θ) exp f(x, θ) of a ratio estimator on a 1D ``grid`` of θ (G,), for one
    observation x (x_dim,), normalised by the trapezoidal rule. ``log_prior`` (G,): default flat."""
    grid = np.asarray(grid, dtype=float)
    param = next(model.parameters())
    xs = torch.as_tensor(np.broadcast_to(np.asarray(x, dtype=float), (grid.size, np.size(x))).copy(),
                         dtype=param.dtype, device=param.device)
    logit = model(xs, torch.as_tensor(grid, dtype=param.dtype, device=param.device)).double().cpu().numpy()
    logp = logit + (0.0 if log_prior is None else np.asarray(log_prior, dtype=float))
    p = np.exp(logp - logp.max())
    return p / np.trapezoid(p, grid)


def sample_grid(grid, density, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws from a density tabulated on a 1D grid, by inverting its piecewise-linear CDF."""
    grid, density = np.asarray(grid, dtype=float), np.asarray(density, dtype=float)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    return np.interp(rng.uniform(0, cdf[-1], n), cdf, grid)
