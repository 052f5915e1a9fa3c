"""Toys of chapter 09 (inference and unfolding) whose likelihoods, ratios, scores and posteriors are exact.

* :class:`LatentGauss` — a simulator with a latent variable (Plehn et al. [plehn2022modern], Sec. 6.3.1):
  z ~ N(θ, 1), x = z + N(0, σ²). The marginal likelihood, the likelihood ratio, the joint and
  marginal scores, the Fisher information and, for a uniform prior and ``n_obs`` measurements, the
  posterior (a truncated normal) are all closed forms, so NRE, score regression and NPE can be
  compared with the exact answer.
* :class:`UnfoldGauss` — paired particle-level / detector-level events for unfolding (Sec. 6.1,
  6.2.1): x_p ~ N(μ, s²), x_r = x_p + N(0, σ_d²), with "simulation" and "data" differing in (μ, s).
  The posterior p(x_p | x_r) under a Gaussian prior, and so the prior bias of generative unfolding
  and its removal by iteration, are closed forms.
* :class:`WBFScore` — a weak-boson-fusion-like density tilted by a CP-odd coupling whose score at the
  Standard Model is the fitted formula of Sec. 6.3.3, Eq. 6.89, exactly (leading form ∝ p_T,1 p_T,2 sin Δφ):
  the target of the symbolic regression of a learned score.

All random numbers come from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class LatentGauss:
    """z ~ N(θ, 1), x = z + N(0, σ²): a detector (σ) smears a latent, "parton-level" z whose density
    depends on the parameter θ (Plehn et al. [plehn2022modern], Eqs. 6.59–6.67; PDG review Sec. 41.6).

    Per measurement, with s² = 1 + σ² the variance of x:

        p(x|θ) = N(x; θ, s²),   log r(x|θ) = log p(x|θ)/p(x|θ_ref) = [2(θ − θ_ref) x − (θ² − θ_ref²)] / (2 s²),
        joint score  t(x, z|θ) = ∂_θ log p(x, z|θ) = z − θ,   marginal score  t(x|θ) = E[t(x, z)|x] = (x − θ)/s²,

    the Fisher information per measurement is I = 1/s², so no unbiased estimator of θ from N
    measurements has a variance below the Cramér–Rao bound s²/N (the sample mean reaches it).

    For inference, θ ~ U(``low``, ``high``) and one observation is ``n_obs`` measurements
    x = (x_1 … x_n). The posterior is a normal of mean x̄ and width s/√n truncated to the prior's range.
    """

    sigma: float = 0.5
    n_obs: int = 5
    low: float = -2.0
    high: float = 2.0

    @property
    def s2(self) -> float:
        """Variance of one measurement x given θ: 1 + σ²."""
        return 1.0 + self.sigma ** 2

    # ---------------------------------------------------------------------------- simulation
    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """θ (n,) from the uniform prior."""
        return rng.uniform(self.low, self.high, size=n)

    def simulate(self, theta, rng: np.random.Generator, n_obs: int | None = None, return_latent: bool = False):
        """x (B, n_obs) for each θ of ``theta`` (B,) [and the latent z (B, n_obs)]."""
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        n_obs = self.n_obs if n_obs is None else n_obs
        z = theta[:, None] + rng.normal(size=(theta.size, n_obs))          # (B, n_obs)
        x = z + self.sigma * rng.normal(size=z.shape)                       # (B, n_obs)
        return (x, z) if return_latent else x

    def sample_joint(self, n: int, rng: np.random.Generator):
        """(θ, x): θ (n,) from the prior, x (n, n_obs) simulated at each θ."""
        theta = self.sample_prior(n, rng)
        return theta, self.simulate(theta, rng)

    # ---------------------------------------------------------------------------- exact densities
    def log_likelihood(self, x, theta) -> np.ndarray:
        """log p(x|θ) summed over the last axis of ``x`` (B, n) — or per value for x of shape (B,)."""
        x = np.asarray(x, dtype=float)
        theta = np.asarray(theta, dtype=float)
        if x.ndim >= 2:
            return stats.norm.logpdf(x, theta[..., None], np.sqrt(self.s2)).sum(-1)
        return stats.norm.logpdf(x, theta, np.sqrt(self.s2))

    def log_ratio(self, x, theta, theta_ref: float = 0.0) -> np.ndarray:
        """Exact log p(x|θ)/p(x|θ_ref) of single measurements x (broadcast with θ)."""
        x, theta = np.asarray(x, dtype=float), np.asarray(theta, dtype=float)
        return (2 * (theta - theta_ref) * x - (theta ** 2 - theta_ref ** 2)) / (2 * self.s2)

    def joint_log_ratio(self, z, theta, theta_ref: float = 0.0) -> np.ndarray:
        """log p(z|θ)/p(z|θ_ref) = (θ − θ_ref) z − (θ² − θ_ref²)/2: computable from the simulator's latent
        z; its conditional mean over z given x is the ratio itself (Eq. 6.61)."""
        z, theta = np.asarray(z, dtype=float), np.asarray(theta, dtype=float)
        return (theta - theta_ref) * z - 0.5 * (theta ** 2 - theta_ref ** 2)

    def joint_score(self, z, theta) -> np.ndarray:
        """t(x, z|θ) = z − θ (Eq. 6.66)."""
        return np.asarray(z, dtype=float) - np.asarray(theta, dtype=float)

    def score(self, x, theta) -> np.ndarray:
        """The marginal score t(x|θ) = (x − θ)/(1 + σ²) = E[z − θ | x] (Eq. 6.67)."""
        return (np.asarray(x, dtype=float) - np.asarray(theta, dtype=float)) / self.s2

    def fisher_information(self, n: int = 1) -> float:
        """I = n/(1 + σ²) for n measurements."""
        return n / self.s2

    def cramer_rao(self, n: int = 1) -> float:
        """The smallest variance of an unbiased estimator of θ from n measurements: (1 + σ²)/n."""
        return self.s2 / n

    # ---------------------------------------------------------------------------- exact posterior
    def posterior(self, x):
        """The exact posterior p(θ|x) for observations x (B, n_obs) or one (n_obs,): a frozen
        ``scipy.stats.truncnorm`` (vectorised over B) of mean x̄ and width √((1+σ²)/n) on [low, high]."""
        x = np.asarray(x, dtype=float)
        mean = x.mean(-1)
        scale = np.sqrt(self.s2 / x.shape[-1])
        return stats.truncnorm((self.low - mean) / scale, (self.high - mean) / scale, loc=mean, scale=scale)

    def log_posterior(self, theta, x) -> np.ndarray:
        """log p(θ|x): θ broadcast against the observations' batch shape."""
        return self.posterior(x).logpdf(theta)

    def log_ratio_to_evidence(self, x, theta) -> np.ndarray:
        """log p(x|θ)/p(x) = log p(θ|x) − log p(θ): what a neural ratio estimator learns (inside the prior)."""
        return self.log_posterior(theta, x) + np.log(self.high - self.low)

    def sample_posterior(self, x, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of θ from the exact posterior of each observation: (B, n), or (n,) for one observation (n_obs,)."""
        x = np.asarray(x, dtype=float)
        x2 = x[None] if x.ndim == 1 else x                                   # (B, n_obs)
        mean = x2.mean(-1, keepdims=True)                                    # (B, 1)
        scale = np.sqrt(self.s2 / x2.shape[-1])
        post = stats.truncnorm((self.low - mean) / scale, (self.high - mean) / scale, loc=mean, scale=scale)
        out = post.ppf(rng.uniform(size=(x2.shape[0], n)))                   # (B, n)
        return out[0] if x.ndim == 1 else out


LATENT_GAUSS = LatentGauss()


def latent_gauss(theta, rng: np.random.Generator, sigma: float = 0.5, n_obs: int = 1):
    """Single measurements at each θ: ``(x, z)``, each (B, n_obs) — the toy of the likelihood-ratio trick."""
    return LatentGauss(sigma=sigma, n_obs=n_obs).simulate(theta, rng, return_latent=True)


@dataclass(frozen=True)
class UnfoldGauss:
    """Paired events for unfolding: particle level x_p ~ N(μ, s²), detector level x_r = x_p + N(0, σ_d²).

    "Simulation" has (μ, s) = (``mu_sim``, ``s_sim``) = (0, 1), "data" (``mu_data``, ``s_data``) = (0.3, 1.2);
    the detector is the same for both (σ_d = 0.5). Under a particle-level prior N(μ, s²) Bayes' theorem
    (Plehn et al. [plehn2022modern], Eq. 6.7) gives the exact unfolding posterior

        x_p | x_r ~ N(k x_r + (1 − k) μ,  k σ_d²),   k = s²/(s² + σ_d²)

    (N(0.8 x_r + 0.2 μ, 0.2) for s = 1). A generative unfolding trained on simulation applies the
    simulation's posterior to data, which is biased towards the simulation's prior (Eqs. 6.23–6.24):
    :meth:`unfolded_moments` gives mean 0.24 and width 1.132 instead of the truth (0.3, 1.2);
    retraining on the reweighted simulation (Eqs. 6.25–6.26) iterates towards the truth
    (:meth:`iterated_moments`).
    """

    mu_sim: float = 0.0
    s_sim: float = 1.0
    mu_data: float = 0.3
    s_data: float = 1.2
    s_det: float = 0.5

    def sample(self, n: int, rng: np.random.Generator, which: str = "sim"):
        """``(x_p, x_r)``, each (n,), of the simulation (``which="sim"``) or of the data (``"data"``)."""
        if which not in ("sim", "data"):
            raise ValueError(f"which must be 'sim' or 'data', got {which!r}")
        mu, s = (self.mu_sim, self.s_sim) if which == "sim" else (self.mu_data, self.s_data)
        xp = rng.normal(mu, s, size=n)
        return xp, xp + rng.normal(0.0, self.s_det, size=n)

    def posterior_moments(self, x_r, mu: float | None = None, s: float | None = None):
        """Mean and standard deviation of x_p | x_r under the prior N(μ, s²) (default: the simulation's)."""
        mu = self.mu_sim if mu is None else mu
        s = self.s_sim if s is None else s
        k = s ** 2 / (s ** 2 + self.s_det ** 2)
        return k * np.asarray(x_r, dtype=float) + (1 - k) * mu, np.sqrt(k) * self.s_det

    def unfolded_moments(self, mu: float | None = None, s: float | None = None) -> tuple[float, float]:
        """(mean, std) of the data unfolded with the posterior of the prior N(μ, s²) (default: the
        simulation's): k μ_data + (1 − k) μ and √(k²(s_data² + σ_d²) + k σ_d²)."""
        mu = self.mu_sim if mu is None else mu
        s = self.s_sim if s is None else s
        k = s ** 2 / (s ** 2 + self.s_det ** 2)
        var = k ** 2 * (self.s_data ** 2 + self.s_det ** 2) + k * self.s_det ** 2
        return float(k * self.mu_data + (1 - k) * mu), float(np.sqrt(var))

    def iterated_moments(self, n_iter: int) -> list[tuple[float, float]]:
        """(mean, std) of the unfolded data after 0 … n_iter reweight-and-retrain iterations: each uses the
        previous unfolded Gaussian as the prior. Converges to (μ_data, s_data)."""
        out = [(self.mu_sim, self.s_sim)]
        for _ in range(n_iter + 1):
            out.append(self.unfolded_moments(*out[-1]))
        return out[1:]


UNFOLD_GAUSS = UnfoldGauss()


def unfold_gauss(n: int, rng: np.random.Generator):
    """``n`` simulated and ``n`` data pairs of :data:`UNFOLD_GAUSS`: ``(xp_sim, xr_sim, xp_data, xr_data)``."""
    xp_sim, xr_sim = UNFOLD_GAUSS.sample(n, rng, "sim")
    xp_data, xr_data = UNFOLD_GAUSS.sample(n, rng, "data")
    return xp_sim, xr_sim, xp_data, xr_data


@dataclass(frozen=True)
class WBFScore:
    """A weak-boson-fusion-like toy whose score is the fitted CP score of Plehn et al. [plehn2022modern],
    Sec. 6.3.3, Eq. 6.89, exactly.

    Observables (Eq. 6.88): x_{p,j} = p_{T,j}/m_H of the two tagging jets (x1 ≥ x2: the larger and
    the smaller of two Gamma(``shape``, ``scale``) draws), the signed azimuthal angle Δφ ~ U(−π, π) and
    the rapidity difference Δη ~ U(``deta_low``, ``deta_high``) = U(3.5, 8). A CP-odd coupling θ
    (f_WW̃ of Eq. 6.85) tilts this Standard-Model density p₀:

        p(x|θ) ∝ p₀(x) exp(θ t(x)),   t(x) = −x1 (x2 + c)(a − b Δη) sin(Δφ + d)             (Eq. 6.89)

    with (a, b, c, d) = (1.086, 0.10241, 0.24165, 0.00662). Since Δφ is uniform over a whole period,
    E₀[t] = 0, so the score at the Standard Model, ∂_θ log p(x|θ)|_{θ=0} = t(x) − E₀[t], is t(x) itself:
    the optimal observable for small θ. Its leading form is ∝ p_{T,1} p_{T,2} sin Δφ (Eq. 6.87).

    :meth:`joint_score` adds zero-mean noise, the stand-in for a joint score that depends on unobserved
    (parton-level) variables: its regression on x (SALLY, Eq. 6.67) returns t(x).
    """

    a: float = 1.086
    b: float = 0.10241
    c: float = 0.24165
    d: float = 0.00662
    shape: float = 2.0
    scale: float = 0.35
    deta_low: float = 3.5
    deta_high: float = 8.0

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """x (n, 4): columns x1, x2, Δφ, Δη of the Standard-Model density p₀."""
        pt = np.sort(rng.gamma(self.shape, self.scale, size=(n, 2)), axis=1)[:, ::-1]   # (n, 2), x1 ≥ x2
        dphi = rng.uniform(-np.pi, np.pi, size=n)
        deta = rng.uniform(self.deta_low, self.deta_high, size=n)
        return np.column_stack([pt, dphi, deta])

    def score(self, x) -> np.ndarray:
        """The exact score t(x) at θ = 0 (Eq. 6.89), x (n, 4) → (n,)."""
        x = np.asarray(x, dtype=float)
        x1, x2, dphi, deta = x.T
        return -x1 * (x2 + self.c) * (self.a - self.b * deta) * np.sin(dphi + self.d)

    def joint_score(self, x, rng: np.random.Generator, noise: float = 0.5) -> np.ndarray:
        """t(x) plus Gaussian noise of ``noise`` times the standard deviation of t over p₀ (n,)."""
        t = self.score(x)
        return t + noise * self.score_std() * rng.normal(size=t.shape)

    def score_std(self) -> float:
        """The standard deviation of t under p₀ in closed form: E[t²] = E[x1²(x2 + c)²] E[(a − bΔη)²] E[sin²] with
        E[sin²(Δφ + d)] = 1/2 and E[x1²(x2 + c)²] by quadrature over the order statistics of the two Gamma draws."""
        from scipy import integrate

        k, th = self.shape, self.scale
        g = stats.gamma(k, scale=th)
        g2 = stats.gamma(k + 2, scale=th)       # v² Gamma(v; k, θ) = k (k + 1) θ² Gamma(v; k + 2, θ)

        def inner(u):          # u = the smaller draw, the larger v > u with density 2 f(u) f(v): ∫_u^∞ v² f(v) dv
            return 2 * g.pdf(u) * (u + self.c) ** 2 * k * (k + 1) * th ** 2 * g2.sf(u)

        e_pt = integrate.quad(inner, 0, np.inf, epsabs=1e-13, epsrel=1e-11)[0]
        lo, hi = self.deta_low, self.deta_high
        e_eta = ((self.a - self.b * lo) ** 3 - (self.a - self.b * hi) ** 3) / (3 * self.b * (hi - lo))
        return float(np.sqrt(e_pt * e_eta * 0.5))


WBF_SCORE = WBFScore()


def wbf_score(n: int, rng: np.random.Generator, noise: float = 0.0):
    """``n`` events of :data:`WBF_SCORE`: ``(x, t)`` with x (n, 4) = (x1, x2, Δφ, Δη) and the score t (n,),
    exact for ``noise=0`` (Eq. 6.89), else the noisy joint score."""
    x = WBF_SCORE.sample(n, rng)
    return x, (WBF_SCORE.score(x) if noise == 0 else WBF_SCORE.joint_score(x, rng, noise))
