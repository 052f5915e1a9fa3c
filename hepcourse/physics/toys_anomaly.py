"""Toys with exact densities for anomaly detection (chapter 06).

* Mixed samples (classification without labels, CWoLa; Plehn et al. [plehn2022modern], Sec. 3.1,
  Eqs. 3.1–3.3): two samples with signal fractions f₁ ≠ f₂, p_i = f_i p_S + (1 − f_i) p_B. The ratio of
  the mixtures is a monotonic function of the signal-to-background ratio r = p_S/p_B,

      p₁/p₂ = (f₁ r + 1 − f₁) / (f₂ r + 1 − f₂),    d(p₁/p₂)/dr = (f₁ − f₂) / (f₂ r + 1 − f₂)²,

  so a classifier between the two samples is optimal for signal against background, and the algebra
  inverts (:func:`mixed_ratio`, :func:`ratio_from_mixed`, :func:`pure_from_mixed`); it fails at f₁ = f₂.
  :func:`mixed_samples` draws them from a :class:`~hepcourse.physics.toys.GaussianToy`.
* :class:`SubspaceToy`: events on a k-dimensional linear subspace of R^n plus isotropic noise, with the
  exact covariance eigenvalues, so a linear autoencoder's error is known (the sum of the discarded
  eigenvalues: 6σ² for k = 2 in n = 8), and nested subspaces show the complexity bias.
* :class:`BumpToy`: a resonance in a "mass" m on a falling background with two more features x, one of them
  correlated with m in the background; every density is closed form, so the supervised optimum and the
  idealized anomaly detector are exact (the bump hunt of Plehn et al., Sec. 6.3.2, in miniature).

Conventions as in :mod:`hepcourse.physics.toys`: arrays (N, D), labels 1 signal / 0 background, all
randomness from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .toys import GAUSS_2D, GaussianToy

__all__ = ["mixed_ratio", "ratio_from_mixed", "pure_from_mixed", "mixed_samples", "SubspaceToy", "SUBSPACE",
           "BumpToy", "BUMP", "CWOLA_QUADRATIC_AUC"]

CWOLA_QUADRATIC_AUC = 0.8335
"""AUC on pure signal vs background of a logistic regression on (x₁, x₂, x₁², x₁x₂, x₂²) trained between
mixed samples of :data:`~hepcourse.physics.toys.GAUSS_2D` with f₁ = 0.8, f₂ = 0.2, 2·10⁴ events each
(the exact likelihood ratio reaches 0.8365)."""


def _check_fractions(f1, f2) -> None:
    if np.any(np.isclose(f1, f2, rtol=0.0, atol=1e-12)):
        raise ValueError("f1 = f2: the two mixed samples have the same composition and carry no information "
                         "about signal vs background (Eq. 3.3)")


def mixed_ratio(r, f1: float, f2: float):
    """p₁/p₂ = (f₁ r + 1 − f₁)/(f₂ r + 1 − f₂) of two mixtures, given r = p_S/p_B (Eq. 3.1)."""
    r = np.asarray(r, dtype=float)
    return (f1 * r + 1.0 - f1) / (f2 * r + 1.0 - f2)


def ratio_from_mixed(r12, f1: float, f2: float):
    """r = p_S/p_B from r₁₂ = p₁/p₂ (Eq. 3.2): r = [(1 − f₂) r₁₂ − (1 − f₁)] / (f₁ − f₂ r₁₂).
    Raises for f₁ = f₂."""
    _check_fractions(f1, f2)
    r12 = np.asarray(r12, dtype=float)
    return ((1.0 - f2) * r12 - (1.0 - f1)) / (f1 - f2 * r12)


def pure_from_mixed(p1, p2, f1: float, f2: float):
    """(p_S, p_B) from the mixture densities p₁, p₂ (the 2×2 system of Eq. 3.1, determinant f₁ − f₂):

        p_S = [(1 − f₂) p₁ − (1 − f₁) p₂] / (f₁ − f₂),   p_B = (f₁ p₂ − f₂ p₁) / (f₁ − f₂).
    """
    _check_fractions(f1, f2)
    p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
    return ((1.0 - f2) * p1 - (1.0 - f1) * p2) / (f1 - f2), (f1 * p2 - f2 * p1) / (f1 - f2)


def mixed_samples(n: int, f1: float, f2: float, rng: np.random.Generator, toy: GaussianToy = GAUSS_2D):
    """Two mixed samples of ``n`` events each, with signal fractions ``f1`` and ``f2`` (binomial counts).

    Returns ``x`` (2n, D), ``m`` (2n,) the sample label (1 for sample 1, 0 for sample 2: all that a
    CWoLa classifier sees) and ``y`` (2n,) the hidden truth (1 signal, 0 background)."""
    xs, ys, ms = [], [], []
    for label, f in ((1, f1), (0, f2)):
        n_s = rng.binomial(n, f)
        x, y = toy.sample(n_s, n - n_s, rng)
        xs.append(x), ys.append(y), ms.append(np.full(n, label))
    return np.concatenate(xs), np.concatenate(ms), np.concatenate(ys)


@dataclass(frozen=True)
class SubspaceToy:
    """Events x = A z + σ ε in R^n: z ∈ R^k with independent N(0, s_j²) components, A the first k columns
    of a fixed orthonormal basis (so the subspaces of k = 1, 2, … are nested), ε ∼ N(0, 1_n).

    The covariance A diag(s²) Aᵀ + σ² 1 has eigenvalues s_j² + σ² (j ≤ k) and σ² (n − k times). A linear
    autoencoder with m ≤ k latent dimensions trained on these events converges to PCA; its mean
    per-event error |x − x̂|² is the sum of the n − m smallest eigenvalues (:meth:`linear_ae_error`):
    (n − k) σ² for m = k, e.g. 6σ² = 0.015 for n = 8, k = 2, σ = 0.05.
    """

    n: int = 8
    scales: tuple[float, ...] = (1.0, 0.6, 0.4)
    sigma: float = 0.05
    basis_seed: int = 6

    def basis(self) -> np.ndarray:
        """The orthonormal basis (n, n); its first k columns span the k-dimensional subspace."""
        q, r = np.linalg.qr(np.random.default_rng(self.basis_seed).standard_normal((self.n, self.n)))
        return q * np.sign(np.diag(r))

    def sample(self, n_events: int, k: int, rng: np.random.Generator) -> np.ndarray:
        """``n_events`` events (N, n) on the k-dimensional subspace plus noise."""
        if not 1 <= k <= len(self.scales):
            raise ValueError(f"k must lie in 1..{len(self.scales)}")
        z = rng.standard_normal((n_events, k)) * np.asarray(self.scales[:k])
        return z @ self.basis()[:, :k].T + self.sigma * rng.standard_normal((n_events, self.n))

    def covariance(self, k: int) -> np.ndarray:
        a = self.basis()[:, :k]
        return a @ np.diag(np.asarray(self.scales[:k]) ** 2) @ a.T + self.sigma ** 2 * np.eye(self.n)

    def eigenvalues(self, k: int) -> np.ndarray:
        """Eigenvalues of the covariance of the k-dimensional events, descending (n,)."""
        return np.sort(np.r_[np.asarray(self.scales[:k]) ** 2 + self.sigma ** 2, np.full(self.n - k, self.sigma ** 2)])[::-1]

    def linear_ae_error(self, m: int, k: int) -> float:
        """Mean |x − x̂|² of the optimal linear autoencoder with m latent dimensions on k-dimensional events:
        the sum of the n − m smallest eigenvalues."""
        return float(self.eigenvalues(k)[m:].sum())

    def cross_error(self, m: int, k_train: int, k_test: int) -> float:
        """Mean error of the PCA autoencoder with m latent dimensions fitted on k_train-dimensional events,
        applied to k_test-dimensional ones (nested subspaces, m ≤ k_train): the variance of the test events
        outside the first m basis directions, Σ_{m<j≤k_test} s_j² + (n − m) σ²."""
        s2 = np.asarray(self.scales[:k_test]) ** 2
        return float(s2[m:].sum() + (self.n - m) * self.sigma ** 2)


SUBSPACE = SubspaceToy()


@dataclass(frozen=True)
class BumpToy:
    """A resonance on a falling spectrum, with two features x = (x₁, x₂):

        background:  m ∈ [2.5, 4.5] with density ∝ e^(−m/0.5),  x₁|m ∼ N(0.5 m, 0.3²),  x₂ ∼ N(0, 1);
        signal:      m ∼ N(3.5, 0.05²),                         x₁ ∼ N(2.5, 0.1²),    x₂ ∼ N(2, 0.3²).

    The signal region SR = [3.3, 3.7] holds 11.3 % of the background; the side bands are the rest of
    [2.5, 4.5]. x₁ follows m in the background (so a classifier between SR and side bands learns m, not
    the signal), x₂ does not. Every density is closed form: :meth:`log_likelihood_ratio` is the supervised
    optimum; :meth:`sr_log_likelihood_ratio` the optimum on x alone within the SR (the background's
    x-density there by quadrature over m), which the idealized anomaly detector (SR data against true SR
    background) approaches.
    """

    m_low: float = 2.5
    m_high: float = 4.5
    slope: float = 0.5
    x1_slope: float = 0.5
    x1_sigma: float = 0.3
    m_signal: float = 3.5
    m_width: float = 0.05
    x_signal: tuple[float, float] = (2.5, 2.0)
    x_signal_sigma: tuple[float, float] = (0.1, 0.3)
    sr: tuple[float, float] = (3.3, 3.7)

    def _m_background(self):
        return stats.truncexpon(b=(self.m_high - self.m_low) / self.slope, loc=self.m_low, scale=self.slope)

    def sample_background(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``m`` (n,) and ``x`` (n, 2) of background events."""
        m = self._m_background().rvs(n, random_state=rng)
        x = np.stack([rng.normal(self.x1_slope * m, self.x1_sigma), rng.standard_normal(n)], axis=1)
        return m, x

    def sample_signal(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``m`` (n,) and ``x`` (n, 2) of signal events."""
        m = rng.normal(self.m_signal, self.m_width, n)
        x = rng.normal(self.x_signal, self.x_signal_sigma, (n, 2))
        return m, x

    def sample(self, n_background: int, n_signal: int, rng: np.random.Generator):
        """``m`` (N,), ``x`` (N, 2), ``y`` (N,): signal first, then background."""
        ms, xs = self.sample_signal(n_signal, rng)
        mb, xb = self.sample_background(n_background, rng)
        return np.r_[ms, mb], np.concatenate([xs, xb]), np.r_[np.ones(n_signal, dtype=int), np.zeros(n_background, dtype=int)]

    def in_sr(self, m) -> np.ndarray:
        m = np.asarray(m, dtype=float)
        return (m >= self.sr[0]) & (m < self.sr[1])

    @property
    def background_sr_fraction(self) -> float:
        """The fraction of the background in the SR (0.1132)."""
        d = self._m_background()
        return float(d.cdf(self.sr[1]) - d.cdf(self.sr[0]))

    @property
    def signal_sr_fraction(self) -> float:
        """The fraction of the signal in the SR (±4 widths: 0.99994)."""
        z = (np.asarray(self.sr) - self.m_signal) / self.m_width
        return float(stats.norm.cdf(z[1]) - stats.norm.cdf(z[0]))

    def log_pdf_background(self, m, x) -> np.ndarray:
        m, x = np.asarray(m, dtype=float), np.asarray(x, dtype=float).reshape(-1, 2)
        return (self._m_background().logpdf(m) + stats.norm.logpdf(x[:, 0], self.x1_slope * m, self.x1_sigma)
                + stats.norm.logpdf(x[:, 1]))

    def log_pdf_signal(self, m, x) -> np.ndarray:
        m, x = np.asarray(m, dtype=float), np.asarray(x, dtype=float).reshape(-1, 2)
        return (stats.norm.logpdf(m, self.m_signal, self.m_width)
                + stats.norm.logpdf(x, self.x_signal, self.x_signal_sigma).sum(1))

    def log_likelihood_ratio(self, m, x) -> np.ndarray:
        """log p_S(m, x) − log p_B(m, x): the supervised optimum, using m as well."""
        return self.log_pdf_signal(m, x) - self.log_pdf_background(m, x)

    def sr_log_pdf_background_x(self, x, n_grid: int = 401) -> np.ndarray:
        """log p_B(x | m ∈ SR) = log ∫_SR p_B(m) p_B(x|m) dm / ∫_SR p_B(m) dm, by Simpson's rule over m
        (exact to ~1e-10 with the default grid: the integrand is smooth on the 0.4 wide SR)."""
        from scipy.integrate import simpson

        x = np.asarray(x, dtype=float).reshape(-1, 2)
        grid = np.linspace(*self.sr, n_grid)
        w = self._m_background().pdf(grid)
        dens = stats.norm.pdf(x[:, :1], self.x1_slope * grid[None, :], self.x1_sigma)      # (N, grid)
        p_x1 = simpson(dens * w, x=grid, axis=1) / simpson(w, x=grid)
        return np.log(p_x1) + stats.norm.logpdf(x[:, 1])

    def sr_log_likelihood_ratio(self, x) -> np.ndarray:
        """log p_S(x) − log p_B(x | m ∈ SR): the best classifier on x alone within the SR."""
        x = np.asarray(x, dtype=float).reshape(-1, 2)
        return stats.norm.logpdf(x, self.x_signal, self.x_signal_sigma).sum(1) - self.sr_log_pdf_background_x(x)

    def background_x1_mean(self, m) -> np.ndarray:
        """E[x₁ | m] of the background: 0.5 m (what a conditional density fitted in the side bands must
        interpolate into the SR)."""
        return self.x1_slope * np.asarray(m, dtype=float)


BUMP = BumpToy()
