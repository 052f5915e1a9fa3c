"""A toy with a neutrino-like transverse-momentum imbalance whose every denoiser is exact (chapter 08, item A13).

Three visible particles recoil against an invisible one, the "neutrino" ν (applications text, item A13):

    p₁ ~ N(μ₁, σ₁² I₂),  p₂ ~ N(μ₂, σ₂² I₂),  ν ~ N(0, σ_ν² I₂),  p₃ = −p₁ − p₂ − ν        (all in GeV),

so that p₁ + p₂ + p₃ + ν = 0 in every event. An event is the six numbers (p_x,1, p_y,1, …, p_y,3) of the
visible particles, and its missing transverse momentum is p_T^miss = |Σᵢ p_T,i| = |ν|. Everything is Gaussian,
hence in closed form:

* the events are N(μ, Σ) in six dimensions with Σ = C ⊗ I₂ (C the 3 × 3 covariance of the particles'
  x-components, the same for y) (:attr:`MissingPtToy.mean`, :meth:`MissingPtToy.cov`);
* p_T^miss is Rayleigh-distributed with scale σ_ν: mean σ_ν √(π/2), quantiles σ_ν √(−2 ln(1 − q));
* the 1D Wasserstein distance of two Rayleigh distributions is the mean distance of their quantiles,
  W₁ = √(π/2) |σ_a − σ_b| (:func:`rayleigh_w1`);
* for the DDPM noising x_t = √ᾱ x₀ + √(1 − ᾱ) ε of events standardised feature by feature, the exact
  denoiser E[x₀ | x_t] (Tweedie's formula for a Gaussian) is linear in x_t (:meth:`MissingPtToy.denoiser`),
  and the p_T^miss of its one-step estimates is again Rayleigh, with a scale below σ_ν
  (:meth:`MissingPtToy.onestep_ptmiss_scale`): a posterior mean is narrower than the data.

The point of the toy: p_T^miss is a small difference of large momenta (σ_ν = 10 GeV against particles of
15–25 GeV width), the kind of feature a generator that gets each particle right easily gets wrong.
Random numbers come from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def pt_miss(pxy):
    """p_T^miss = |Σᵢ p⃗_T,i| of events (…, 2N) = (p_x,1, p_y,1, …, p_x,N, p_y,N): NumPy or torch (then
    differentiable), shape (…,)."""
    s = pxy.reshape(*pxy.shape[:-1], -1, 2).sum(-2)                          # (…, 2)
    return (s ** 2).sum(-1) ** 0.5


def rayleigh_w1(scale_a: float, scale_b: float) -> float:
    """W₁ between two Rayleigh distributions (the p_T^miss of isotropic 2D Gaussians): both quantile
    functions are σ √(−2 ln(1 − q)), so W₁ = ∫₀¹ |σ_a − σ_b| √(−2 ln(1 − q)) dq = √(π/2) |σ_a − σ_b|."""
    return math.sqrt(math.pi / 2) * abs(scale_a - scale_b)


@dataclass(frozen=True)
class MissingPtToy:
    """Three visible particles and a neutrino in the transverse plane (module docstring); GeV."""

    mu1: tuple[float, float] = (40.0, 0.0)
    mu2: tuple[float, float] = (-20.0, 20.0)
    sigma1: float = 15.0
    sigma2: float = 15.0
    sigma_nu: float = 10.0

    @property
    def mean(self) -> np.ndarray:
        """μ (6,): (μ₁, μ₂, −μ₁ − μ₂)."""
        m1, m2 = np.asarray(self.mu1, dtype=float), np.asarray(self.mu2, dtype=float)
        return np.concatenate([m1, m2, -m1 - m2])

    def cov(self) -> np.ndarray:
        """Σ (6, 6) = C ⊗ I₂ with C = [[σ₁², 0, −σ₁²], [0, σ₂², −σ₂²], [−σ₁², −σ₂², σ₁² + σ₂² + σ_ν²]]."""
        s1, s2, sn = self.sigma1 ** 2, self.sigma2 ** 2, self.sigma_nu ** 2
        c = np.array([[s1, 0.0, -s1], [0.0, s2, -s2], [-s1, -s2, s1 + s2 + sn]])
        return np.kron(c, np.eye(2))

    @property
    def std(self) -> np.ndarray:
        """The width of each of the six features (6,), used to standardise them."""
        return np.sqrt(np.diag(self.cov()))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` events (n, 6): (p_x, p_y) of the three visible particles; p_T^miss = |ν| by construction."""
        p1 = np.asarray(self.mu1) + self.sigma1 * rng.standard_normal((n, 2))
        p2 = np.asarray(self.mu2) + self.sigma2 * rng.standard_normal((n, 2))
        nu = self.sigma_nu * rng.standard_normal((n, 2))
        return np.concatenate([p1, p2, -p1 - p2 - nu], axis=1)

    def ptmiss_mean(self) -> float:
        """E[p_T^miss] = σ_ν √(π/2) (Rayleigh)."""
        return self.sigma_nu * math.sqrt(math.pi / 2)

    def standardised_cov(self) -> np.ndarray:
        """R (6, 6): the covariance of the standardised features z = (x − μ)/std (their correlation matrix)."""
        d = self.std
        return self.cov() / np.outer(d, d)

    def denoiser(self, z_t, alpha_bar: float):
        """The exact E[z₀ | z_t] for standardised events z₀ ~ N(0, R) noised as z_t = √ᾱ z₀ + √(1 − ᾱ) ε:
        √ᾱ R (ᾱ R + (1 − ᾱ) I)⁻¹ z_t (Gaussian conditioning; the same as Tweedie's formula with the exact
        score). ``z_t`` (B, 6), NumPy or torch (float64 matrices, cast to the input's type)."""
        r = self.standardised_cov()
        k = math.sqrt(alpha_bar) * r @ np.linalg.inv(alpha_bar * r + (1 - alpha_bar) * np.eye(6))   # (6, 6)
        if isinstance(z_t, np.ndarray):
            return z_t @ k.T
        import torch
        return z_t @ torch.as_tensor(k.T, dtype=z_t.dtype, device=z_t.device)

    def onestep_ptmiss_scale(self, alpha_bar: float) -> float:
        """The Rayleigh scale of p_T^miss of the exact one-step estimates x̂₀ = μ + std · E[z₀ | z_t]: the
        sum Σᵢ p⃗_T,i of x̂₀ is an isotropic 2D Gaussian of mean 0 and variance u D K (ᾱ R + (1 − ᾱ) I) Kᵀ D uᵀ
        per component (u sums the x-components, D = diag(std), K the denoiser's matrix). Equal to σ_ν at
        ᾱ = 1 and falling to 0 as ᾱ → 0."""
        r, d = self.standardised_cov(), self.std
        k = math.sqrt(alpha_bar) * r @ np.linalg.inv(alpha_bar * r + (1 - alpha_bar) * np.eye(6))
        cov_hat = k @ (alpha_bar * r + (1 - alpha_bar) * np.eye(6)) @ k.T * np.outer(d, d)
        u = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0])
        return float(np.sqrt(u @ cov_hat @ u))
