"""Toys with closed forms for generative models (chapter 07).

* :class:`CamelBack` — two Gaussians, the GANplification toy of Plehn et al. [plehn2022modern], Sec. 4.2.3
  (Fig. 41), with its exact CDF, true quantiles and a five-parameter maximum-likelihood fit;
  :func:`quantile_mse` (Eq. 4.45), its expectation for a sample and the amplification factor.
* :class:`BreitWigner` — the Breit–Wigner resonance in s = m²ₗₗ (Eq. 4.29), sampled flat or through the
  map s = m² + mΓ tan ρ that makes every weight equal (Eqs. 4.58–4.59), hit-or-miss unweighting (Eq. 4.56)
  and its efficiency ⟨w⟩/w_max (Eq. 4.57).
* :class:`SignedMixture` — a density N(0, 1) − c N(0, 0.5²) sampled with signed weights (Sec. 4.2.5).
* :class:`Subtraction` — p_{S+B} = 1/x + 0.1 and p_B = 1/x on [1, 10] (Eqs. 4.49–4.50).
* :class:`PPCA` — probabilistic PCA, the linear VAE whose evidence, posterior and ELBO are exact (Sec. 4.1).
* :func:`gaussian_ring` — eight narrow Gaussians on a circle, where mode collapse is easy to count.

Random numbers come from the ``numpy.random.Generator`` passed in; masses in GeV.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

# ------------------------------------------------------------------------------------ camel back


@dataclass(frozen=True)
class CamelBack:
    """p(x) = f N(x; μ₁, σ₁²) + (1 − f) N(x; μ₂, σ₂²): a two-humped density (default humps at ∓2, width 1)."""

    mu: tuple[float, float] = (-2.0, 2.0)
    sigma: tuple[float, float] = (1.0, 1.0)
    f: float = 0.5

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (self.f * stats.norm.pdf(x, self.mu[0], self.sigma[0])
                + (1 - self.f) * stats.norm.pdf(x, self.mu[1], self.sigma[1]))

    def cdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (self.f * stats.norm.cdf(x, self.mu[0], self.sigma[0])
                + (1 - self.f) * stats.norm.cdf(x, self.mu[1], self.sigma[1]))

    def ppf(self, q) -> np.ndarray:
        """The quantile function, by root finding on the exact CDF (to 1e-12)."""
        lo = min(self.mu) - 40 * max(self.sigma)
        hi = max(self.mu) + 40 * max(self.sigma)
        return np.array([optimize.brentq(lambda x: float(self.cdf(x)) - qi, lo, hi, xtol=1e-12)
                         for qi in np.atleast_1d(q)])

    def quantile_edges(self, n_q: int = 20) -> np.ndarray:
        """The n_q − 1 inner edges of n_q bins of equal true probability 1/n_q (the outer bins are open)."""
        return self.ppf(np.arange(1, n_q) / n_q)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` events (n,)."""
        first = rng.random(n) < self.f
        return np.where(first, rng.normal(self.mu[0], self.sigma[0], n), rng.normal(self.mu[1], self.sigma[1], n))

    @staticmethod
    def fit(x) -> "CamelBack":
        """The five-parameter maximum-likelihood fit (μ₁, μ₂, σ₁, σ₂, f) to the events ``x``, started from the
        halves below and above the median (so μ₁ < μ₂); L-BFGS-B on log σ and logit f."""
        x = np.sort(np.asarray(x, dtype=float).ravel())
        lo, hi = x[: len(x) // 2], x[len(x) // 2:]
        p0 = np.array([lo.mean(), hi.mean(), np.log(lo.std() + 1e-3), np.log(hi.std() + 1e-3), 0.0])

        def nll(p):
            lf1, lf2 = -np.logaddexp(0, -p[4]), -np.logaddexp(0, p[4])      # log f, log(1 − f)
            a = lf1 + stats.norm.logpdf(x, p[0], np.exp(p[2]))
            b = lf2 + stats.norm.logpdf(x, p[1], np.exp(p[3]))
            return -np.sum(np.logaddexp(a, b))

        p = optimize.minimize(nll, p0, method="L-BFGS-B",
                              bounds=[(None, None), (None, None), (-5, 3), (-5, 3), (-8, 8)]).x
        return CamelBack(mu=(float(p[0]), float(p[1])), sigma=(float(np.exp(p[2])), float(np.exp(p[3]))),
                         f=float(special.expit(p[4])))


def quantile_mse(samples, edges) -> float:
    """The quantile MSE of Plehn et al., Sec. 4.2.3, Eq. 4.45: with x_j the fraction of ``samples`` in the j-th
    of the n_q bins whose inner ``edges`` are the true quantiles (:meth:`CamelBack.quantile_edges`),

        MSE = 1/n_q Σ_j (x_j − 1/n_q)².
    """
    x = np.asarray(samples, dtype=float).ravel()
    counts = np.bincount(np.searchsorted(np.asarray(edges), x), minlength=len(edges) + 1)
    return float(np.mean((counts / len(x) - 1.0 / (len(edges) + 1)) ** 2))


def model_quantile_mse(cdf, edges) -> float:
    """Eq. 4.45 for a model with a known CDF, i.e. for infinitely many events drawn from it: x_j is the
    model's probability in bin j (the MSE of a fitted density, with no sampling noise on top)."""
    p = np.diff(np.r_[0.0, np.asarray(cdf(np.asarray(edges)), dtype=float), 1.0])
    return float(np.mean((p - 1.0 / len(p)) ** 2))


def expected_quantile_mse(n_q: int, n: float) -> float:
    """E[MSE] of a sample of n events from the true density: the bin fractions are multinomial with
    variance (1/n_q)(1 − 1/n_q)/n, so E[MSE] = (1 − 1/n_q)/(n_q n) (4.75e-4 for n_q = 20, n = 100)."""
    return (1.0 - 1.0 / n_q) / (n_q * n)


def amplification(mse: float, n_train: int, n_q: int = 20) -> float:
    """How many true events a model's quantile MSE is worth, per training event: the N with
    :func:`expected_quantile_mse` (n_q, N) = ``mse``, divided by ``n_train`` (Eqs. 4.46–4.47)."""
    return (1.0 - 1.0 / n_q) / (n_q * mse) / n_train


# ------------------------------------------------------------------------------------ Breit–Wigner


@dataclass(frozen=True)
class BreitWigner:
    """The Breit–Wigner resonance in s (Plehn et al., Sec. 4.2.2, Eq. 4.29): the squared propagator

        f(s) = 1 / ((s − m²)² + m²Γ²)      on  s_min ≤ s ≤ s_max,

    by default the Z boson (m = 91.1876 GeV, Γ = 2.4952 GeV) with 60 < m_ll < 120 GeV. Its integral is
    (ρ_max − ρ_min)/(mΓ) with ρ = arctan((s − m²)/(mΓ)).
    """

    m: float = 91.1876
    gamma: float = 2.4952
    m_min: float = 60.0
    m_max: float = 120.0

    @property
    def s_range(self) -> tuple[float, float]:
        return self.m_min**2, self.m_max**2

    @property
    def rho_range(self) -> tuple[float, float]:
        s0, s1 = self.s_range
        return tuple(float(np.arctan((s - self.m**2) / (self.m * self.gamma))) for s in (s0, s1))

    def f(self, s) -> np.ndarray:
        """The integrand f(s) in GeV⁻⁴."""
        s = np.asarray(s, dtype=float)
        return 1.0 / ((s - self.m**2) ** 2 + (self.m * self.gamma) ** 2)

    def integral(self) -> float:
        """∫ f ds over the range, exactly."""
        r0, r1 = self.rho_range
        return (r1 - r0) / (self.m * self.gamma)

    def bw_map(self, rho) -> np.ndarray:
        """s(ρ) = m² + mΓ tan ρ (Eq. 4.58): ρ uniform in :attr:`rho_range` gives s distributed as f."""
        return self.m**2 + self.m * self.gamma * np.tan(np.asarray(rho, dtype=float))

    def sample_flat(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(s, w)``: s uniform in the range, with weights w = f(s)·(s_max − s_min), so that ⟨w⟩ = ∫ f ds."""
        s0, s1 = self.s_range
        s = rng.uniform(s0, s1, n)
        return s, self.f(s) * (s1 - s0)

    def sample_mapped(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(s, w)``: ρ uniform, s = :meth:`bw_map` (ρ), w = f(s) (ds/dρ)(ρ_max − ρ_min) (Eq. 4.59). The
        Jacobian ds/dρ = ((s − m²)² + m²Γ²)/(mΓ) cancels f exactly: every weight is ∫ f ds."""
        r0, r1 = self.rho_range
        rho = rng.uniform(r0, r1, n)
        s = self.bw_map(rho)
        jac = self.m * self.gamma / np.cos(rho) ** 2
        return s, self.f(s) * jac * (r1 - r0)

    def flat_efficiency(self) -> float:
        """Exact unweighting efficiency ⟨w⟩/w_max of flat sampling: ∫f ds / ((s_max − s_min) f(m²))
        (0.0644 for the default Z window)."""
        s0, s1 = self.s_range
        return self.integral() / ((s1 - s0) * float(self.f(self.m**2)))


def hit_or_miss(x, w, rng: np.random.Generator, w_max: float | None = None):
    """Hit-or-miss unweighting (Plehn et al., Sec. 4.2.5, Eq. 4.56): keep event i if w_i / w_max > r_i,
    r_i ~ U(0, 1). Returns ``(x_kept, efficiency)``, the kept events (of unit weight) and the fraction
    kept, whose expectation is ⟨w⟩/w_max (Eq. 4.57). ``w_max`` defaults to the largest weight."""
    x, w = np.asarray(x), np.asarray(w, dtype=float)
    if np.any(w < 0):
        raise ValueError("hit-or-miss needs non-negative weights")
    w_max = float(w.max()) if w_max is None else float(w_max)
    keep = w / w_max > rng.random(len(w))
    return x[keep], float(keep.mean())


# ------------------------------------------------------------------------------------ signed weights


@dataclass(frozen=True)
class SignedMixture:
    """A target density with a negative part, p(x) = (N(x; 0, 1) − c N(x; 0, s²)) / (1 − c), positive
    everywhere for c < s < 1 (here c = 0.314, s = 0.5), as an NLO subtraction produces. It is sampled from the unsigned
    mixture q = (N(0, 1) + c N(0, s²)) / (1 + c) with weight +1 for the first component and −1 for the
    second, so that ⟨w g⟩_q / ⟨w⟩_q = ⟨g⟩_p for any g. A fraction c/(1 + c) (23.9%) of events carry
    negative weight; Var_p(x) = (1 − c s²)/(1 − c) = 1.3433.
    """

    c: float = 0.314
    s: float = 0.5

    def pdf(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return (stats.norm.pdf(x) - self.c * stats.norm.pdf(x, 0, self.s)) / (1 - self.c)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(x, w)``, weights ±1."""
        negative = rng.random(n) < self.c / (1 + self.c)
        x = np.where(negative, rng.normal(0, self.s, n), rng.normal(0, 1, n))
        return x, np.where(negative, -1.0, 1.0)

    @property
    def variance(self) -> float:
        return (1 - self.c * self.s**2) / (1 - self.c)

    @property
    def negative_fraction(self) -> float:
        return self.c / (1 + self.c)


def weighted_gauss_mle(x, w) -> tuple[float, float]:
    """The weighted maximum-likelihood Gaussian: μ = Σ w x / Σ w, σ² = Σ w (x − μ)² / Σ w (weights may be negative)."""
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    mu = np.sum(w * x) / np.sum(w)
    return float(mu), float(np.sqrt(np.sum(w * (x - mu) ** 2) / np.sum(w)))


# ------------------------------------------------------------------------------------ subtraction


@dataclass(frozen=True)
class Subtraction:
    """Plehn et al., Sec. 4.2.4, Eqs. 4.49–4.50, on 1 ≤ x ≤ 10: p_B ∝ 1/x and p_{S+B} ∝ 1/x + 0.1, so that
    the subtracted S is flat (0.1 per unit of x with this normalisation)."""

    x_min: float = 1.0
    x_max: float = 10.0
    c: float = 0.1

    def sample_background(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.x_min * (self.x_max / self.x_min) ** rng.random(n)

    def sample_signal_plus_background(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """1/x has weight ln(x_max/x_min) and the constant c (x_max − x_min) in the mixture."""
        a, b = np.log(self.x_max / self.x_min), self.c * (self.x_max - self.x_min)
        flat = rng.random(n) < b / (a + b)
        return np.where(flat, rng.uniform(self.x_min, self.x_max, n), self.sample_background(n, rng))


# ------------------------------------------------------------------------------------ PPCA


@dataclass
class PPCA:
    """Probabilistic PCA (Tipping and Bishop 1999): z ~ N(0, 1_d), x = W z + μ + σ ε, ε ~ N(0, 1_D), i.e. a
    VAE with a linear decoder (Plehn et al., Sec. 4.1, Eqs. 4.11–4.13). Everything is exact:

    * evidence  p(x) = N(x; μ, W Wᵀ + σ² 1);
    * posterior p(z|x) = N(M⁻¹ Wᵀ (x − μ), σ² M⁻¹), M = WᵀW + σ² 1_d;
    * ELBO of an encoder q(z|x) = N(m, S): E_q log p(x|z) − KL(q ‖ N(0, 1)) = log p(x) − KL(q ‖ p(z|x))
      (Eq. 4.12), so the gap is zero exactly for the true posterior.

    Default: D = 5, d = 2, σ = 0.1, W drawn once from N(0, 1) with ``seed``.
    """

    W: np.ndarray = field(default_factory=lambda: np.random.default_rng(7).normal(size=(5, 2)))
    mu: np.ndarray = field(default_factory=lambda: np.zeros(5))
    sigma: float = 0.1

    @property
    def covariance(self) -> np.ndarray:
        return self.W @ self.W.T + self.sigma**2 * np.eye(len(self.W))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.normal(size=(n, self.W.shape[1]))
        return z @ self.W.T + self.mu + self.sigma * rng.normal(size=(n, len(self.W)))

    def log_evidence(self, x) -> np.ndarray:
        return np.atleast_1d(stats.multivariate_normal(self.mu, self.covariance).logpdf(np.asarray(x)))

    def posterior(self, x) -> tuple[np.ndarray, np.ndarray]:
        """``(mean (N, d), covariance (d, d))`` of p(z|x)."""
        M = self.W.T @ self.W + self.sigma**2 * np.eye(self.W.shape[1])
        Minv = np.linalg.inv(M)
        return (np.atleast_2d(x) - self.mu) @ (Minv @ self.W.T).T, self.sigma**2 * Minv

    def elbo(self, x, enc_mean, enc_cov) -> np.ndarray:
        """The ELBO of Gaussian encoders N(m_i, S) (``enc_mean`` (N, d); ``enc_cov`` (d, d), shared), in
        closed form: E_q log N(x; Wz + μ, σ²) = −D/2 log 2πσ² − (|x − W m − μ|² + tr(W S Wᵀ))/2σ², and
        KL(N(m, S) ‖ N(0, 1)) = ½ (tr S + |m|² − d − log det S)."""
        x, m, S = np.atleast_2d(x), np.atleast_2d(enc_mean), np.asarray(enc_cov, dtype=float)
        D, d = self.W.shape
        resid = x - m @ self.W.T - self.mu
        rec = (-0.5 * D * np.log(2 * np.pi * self.sigma**2)
               - (np.sum(resid**2, 1) + np.trace(self.W @ S @ self.W.T)) / (2 * self.sigma**2))
        kl = 0.5 * (np.trace(S) + np.sum(m**2, 1) - d - np.linalg.slogdet(S)[1])
        return rec - kl


# ------------------------------------------------------------------------------------ mode collapse


def gaussian_ring(n: int, rng: np.random.Generator, k: int = 8, radius: float = 2.0,
                  sigma: float = 0.05) -> np.ndarray:
    """``n`` events (n, 2) from k equal Gaussians of width σ on a circle of ``radius``."""
    phi = 2 * np.pi * rng.integers(k, size=n) / k
    return np.c_[radius * np.cos(phi), radius * np.sin(phi)] + sigma * rng.normal(size=(n, 2))


def ring_modes(x, k: int = 8, radius: float = 2.0, sigma: float = 0.05, n_sigma: float = 3.0):
    """``(counts (k,), fraction_off)``: events within n_σ·σ of each of the k centres of :func:`gaussian_ring`, and
    the fraction of events near none. A collapsed generator fills few modes."""
    x = np.asarray(x, dtype=float)
    phi = 2 * np.pi * np.arange(k) / k
    centres = radius * np.c_[np.cos(phi), np.sin(phi)]                   # (k, 2)
    d = np.linalg.norm(x[:, None, :] - centres[None], axis=-1)            # (n, k)
    near = d < n_sigma * sigma
    return near.sum(0), float(1 - near.any(1).mean())


# ------------------------------------------------------------------------------------ Z → μμ


def z_to_mumu(n: int, rng: np.random.Generator, bw: BreitWigner | None = None, mean_pt: float = 10.0) -> np.ndarray:
    """``n`` Drell–Yan-like Z → μ⁺μ⁻ decays as the muons' momenta (n, 6) = (p_x, p_y, p_z) of μ⁺ then μ⁻ in GeV.

    The dimuon mass is drawn from the Breit–Wigner ``bw`` (default: the Z, 60 < m < 120 GeV, through
    :meth:`BreitWigner.sample_mapped`), the Z's transverse momentum from an exponential of mean ``mean_pt``,
    its rapidity from N(0, 0.5²) and its azimuth uniformly; the decay is isotropic in the Z rest frame and the
    muons massless. The mass is a narrow peak (Γ = 2.5 GeV) on momenta of tens of GeV: the case where a GAN
    needs an MMD term (Plehn et al., Sec. 4.2.2).
    """
    bw = bw or BreitWigner()
    s, _ = bw.sample_mapped(n, rng)
    m = np.sqrt(s)
    pt, y, phi = rng.exponential(mean_pt, n), rng.normal(0, 0.5, n), rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(m**2 + pt**2)
    P = np.c_[mt * np.cosh(y), pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y)]       # (n, 4) Z four-momentum
    cos_t, phi_d = rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    k = 0.5 * m[:, None] * np.c_[sin_t * np.cos(phi_d), sin_t * np.sin(phi_d), cos_t]    # (n, 3) rest frame
    mu = []
    for sign in (1.0, -1.0):
        p = sign * k                                                                      # (n, 3)
        e = 0.5 * m
        beta = P[:, 1:] / P[:, :1]                                                        # (n, 3) boost to the lab
        b2 = np.sum(beta**2, 1)
        gamma = 1 / np.sqrt(1 - b2)
        bp = np.sum(beta * p, 1)
        coef = (gamma - 1) * bp / np.where(b2 > 0, b2, 1) + gamma * e
        mu.append(p + coef[:, None] * beta)
    return np.concatenate(mu, axis=1)


def dimuon_mass(x):
    """The invariant mass of the two massless muons of :func:`z_to_mumu` events (n, 6), NumPy or torch."""
    lib = np if isinstance(x, np.ndarray) else __import__("torch")
    p1, p2 = x[:, :3], x[:, 3:]
    e1, e2 = lib.sqrt((p1**2).sum(1)), lib.sqrt((p2**2).sum(1))
    m2 = (e1 + e2) ** 2 - ((p1 + p2) ** 2).sum(1)
    return lib.sqrt(lib.clip(m2, 0, None)) if lib is np else lib.sqrt(m2.clamp_min(1e-6))
