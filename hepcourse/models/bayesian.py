"""Bayesian neural networks by variational inference (Plehn et al. [plehn2022modern], Secs. 1.2.6 and 1.3.1).

Each weight θ has a Gaussian distribution q(θ) = N(μ_q, σ_q²) instead of one value; training
minimises the negative evidence lower bound (ELBO), Eq. (1.75),

    L_BNN = −∫ dθ q(θ) log p(x_train | θ) + D_KL[q(θ), p(θ)],

with a Gaussian prior p(θ) = N(0, σ_p²) whose KL divergence has the closed form of Eq. (1.78)
(:func:`hepcourse.losses.gaussian_kl`). The first term is estimated by sampling θ = μ_q + σ_q ε with
ε ~ N(0, 1), the *reparameterisation trick*: the sample is a differentiable function of μ_q and σ_q,
so gradients reach both (Blundell et al. 2015, "Bayes by backprop"). Per training event the loss is

    mean over the batch of −log p(y | x, θ)  +  D_KL / N_train      (:func:`elbo`).

Predictions average over weight samples: with K samples of (μ_k, σ_k) at a point x,
:func:`predictive_moments` splits the predictive variance into σ_stat² (the spread of the means,
the epistemic part, Eq. 1.88) and σ_syst² (the mean learned variance, the aleatoric part, Eq. 1.89).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..losses import gaussian_kl
from .mlp import ACTIVATIONS, MLPConfig


@dataclass
class BayesianConfig(MLPConfig):
    """A :class:`BayesianMLP`: the architecture (the fields of :class:`MLPConfig`; ``dropout`` and ``init`` are
    not used), the width σ_p of the Gaussian prior N(0, σ_p²) of every weight, and the width σ_q at which the
    variational posteriors start."""

    prior_sigma: float = 1.0
    init_sigma: float = 1e-3

    def check(self) -> None:
        super().check()
        self.prior_sigma, self.init_sigma = float(self.prior_sigma), float(self.init_sigma)
        if self.prior_sigma <= 0 or self.init_sigma <= 0:
            raise ValueError(f"prior_sigma and init_sigma must be positive, got {self.prior_sigma}, {self.init_sigma}")


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class BayesLinear(nn.Module):
    """An affine layer y = x Wᵀ + b with independent Gaussian weights and biases.

    Variational parameters: means ``weight_mu`` (n_out, n_in), ``bias_mu`` (n_out,) and widths
    σ_q = softplus(ρ) (``weight_rho``, ``bias_rho``), softplus keeping σ_q > 0. Prior N(0, σ_p²).
    ``forward`` draws a fresh ε ~ N(0, 1) for every call (one weight sample per batch) when
    ``sample`` is true, and uses the means otherwise.
    """

    def __init__(self, n_in: int, n_out: int, prior_sigma: float = 1.0, init_sigma: float = 1e-3):
        super().__init__()
        self.n_in, self.n_out, self.prior_sigma = n_in, n_out, float(prior_sigma)
        self.weight_mu = nn.Parameter(torch.randn(n_out, n_in) * math.sqrt(2.0 / n_in))   # He initialisation
        self.bias_mu = nn.Parameter(torch.zeros(n_out))
        rho = _softplus_inverse(init_sigma)
        self.weight_rho = nn.Parameter(torch.full((n_out, n_in), rho))
        self.bias_rho = nn.Parameter(torch.full((n_out,), rho))

    @property
    def weight_sigma(self) -> torch.Tensor:
        return F.softplus(self.weight_rho)

    @property
    def bias_sigma(self) -> torch.Tensor:
        return F.softplus(self.bias_rho)

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        if not sample:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.randn_like(self.weight_mu)   # (n_out, n_in)
        bias = self.bias_mu + self.bias_sigma * torch.randn_like(self.bias_mu)           # (n_out,)
        return F.linear(x, weight, bias)                                                 # (B, n_out)

    def kl(self) -> torch.Tensor:
        """D_KL[q ‖ p] summed over all weights and biases of the layer (Eq. 1.78)."""
        return (gaussian_kl(self.weight_mu, self.weight_sigma, 0.0, self.prior_sigma).sum()
                + gaussian_kl(self.bias_mu, self.bias_sigma, 0.0, self.prior_sigma).sum())


class BayesianMLP(nn.Module):
    """An :class:`~hepcourse.models.mlp.MLP` whose layers are :class:`BayesLinear`: x (B, n_in) → (B, n_out).

    ``BayesianMLP(BayesianConfig(n_in=1, n_out=2, prior_sigma=1.0))``, or ``BayesianMLP(mlp_cfg, prior_sigma=...)``.
    Each call of ``forward`` (with ``sample=True``) uses one draw of all weights; ``sample_predictions``
    stacks ``n`` draws: (n, B, n_out). ``cfg.dropout`` and ``cfg.init`` are ignored (the weight
    means start with He initialisation, the widths at ``init_sigma``).
    """

    config_class = BayesianConfig

    def __init__(self, cfg: MLPConfig | None = None, **kwargs):
        super().__init__()
        self.cfg = BayesianConfig(**{**(cfg.to_dict() if cfg is not None else {}), **kwargs})
        widths = self.cfg.widths
        self.layers = nn.ModuleList(BayesLinear(a, b, self.cfg.prior_sigma, self.cfg.init_sigma)
                                    for a, b in zip(widths[:-1], widths[1:]))
        self.activation = ACTIVATIONS[self.cfg.activation]()

    @property
    def prior_sigma(self) -> float:
        return self.cfg.prior_sigma

    @property
    def init_sigma(self) -> float:
        return self.cfg.init_sigma

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.activation(layer(x, sample))   # (B, width)
        return self.layers[-1](x, sample)            # (B, n_out)

    def kl(self) -> torch.Tensor:
        """D_KL[q(θ) ‖ p(θ)] of all layers."""
        return sum(layer.kl() for layer in self.layers)

    @torch.no_grad()
    def sample_predictions(self, x: torch.Tensor, n: int = 50) -> torch.Tensor:
        """``n`` forward passes with independent weight samples: (n, B, n_out)."""
        return torch.stack([self(x, sample=True) for _ in range(n)])


def elbo(nll_mean: torch.Tensor, kl: torch.Tensor, n_train: int) -> torch.Tensor:
    """The BNN loss per training event: mean NLL of the batch + D_KL / N_train (Eq. 1.75 divided by N_train)."""
    return nll_mean + kl / n_train


def predictive_moments(mu: torch.Tensor, sigma: torch.Tensor | None = None):
    """Mean and uncertainties of a prediction sampled K times (weight samples or ensemble members).

    ``mu`` (K, N): the K predicted means at N points; ``sigma`` (K, N): the predicted standard
    deviations (heteroscedastic outputs), or None. Returns ``(mean, sigma_stat, sigma_syst,
    sigma_tot)``, each (N,), with (Plehn et al. [plehn2022modern], Eqs. 1.84–1.89)

        mean = ⟨μ_k⟩,  σ_stat² = ⟨(μ_k − mean)²⟩,  σ_syst² = ⟨σ_k²⟩,  σ_tot² = σ_stat² + σ_syst²,

    averages over k taken with weight 1/K (σ_stat is the population standard deviation). σ_tot² is
    the variance of the mixture of the K Gaussians N(μ_k, σ_k²). Works on tensors and NumPy arrays.
    """
    mean = mu.mean(0)
    sigma_stat = ((mu - mean) ** 2).mean(0) ** 0.5
    sigma_syst = (sigma ** 2).mean(0) ** 0.5 if sigma is not None else 0.0 * mean
    sigma_tot = (sigma_stat ** 2 + sigma_syst ** 2) ** 0.5
    return mean, sigma_stat, sigma_syst, sigma_tot
