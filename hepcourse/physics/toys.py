"""Toy signal and background models whose densities are known exactly.

On a toy, the Neyman–Pearson lemma (Plehn et al. [plehn2022modern], Sec. 1.1.4) gives the best possible classifier:
the likelihood ratio r(x) = p(x|S) / p(x|B). Every learned classifier of the course can be
compared with it, and every metric has a closed form to check against.

Conventions: ``sample`` returns ``(x, y)`` with ``x`` of shape (N, D) and labels ``y`` = 1 for
signal, 0 for background, signal first; all random numbers come from the ``numpy.random.Generator``
passed in, so a seed fixes the sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class GaussianToy:
    """Signal x ~ N(μ_S, Σ_S) and background x ~ N(μ_B, Σ_B) in D dimensions.

    The log-likelihood ratio is quadratic in x,
        log r(x) = log N(x; μ_S, Σ_S) − log N(x; μ_B, Σ_B),
    and linear when Σ_S = Σ_B (then a straight cut on a linear combination is optimal).
    """

    mu_s: tuple[float, ...]
    cov_s: tuple[tuple[float, ...], ...]
    mu_b: tuple[float, ...]
    cov_b: tuple[tuple[float, ...], ...]

    @property
    def dim(self) -> int:
        return len(self.mu_s)

    @property
    def signal(self):
        return stats.multivariate_normal(np.array(self.mu_s), np.array(self.cov_s))

    @property
    def background(self):
        return stats.multivariate_normal(np.array(self.mu_b), np.array(self.cov_b))

    def sample(self, n_signal: int, n_background: int, rng: np.random.Generator):
        """Draw ``n_signal`` signal and ``n_background`` background events: ``x`` (N, D), ``y`` (N,)."""
        xs = rng.multivariate_normal(self.mu_s, self.cov_s, size=n_signal)
        xb = rng.multivariate_normal(self.mu_b, self.cov_b, size=n_background)
        x = np.concatenate([xs, xb]).reshape(-1, self.dim)
        y = np.concatenate([np.ones(n_signal, dtype=int), np.zeros(n_background, dtype=int)])
        return x, y

    def _as_points(self, x) -> np.ndarray:
        return np.asarray(x, dtype=float).reshape(-1, self.dim)

    def log_pdf_signal(self, x) -> np.ndarray:
        return np.atleast_1d(self.signal.logpdf(self._as_points(x)))

    def log_pdf_background(self, x) -> np.ndarray:
        return np.atleast_1d(self.background.logpdf(self._as_points(x)))

    def log_likelihood_ratio(self, x) -> np.ndarray:
        """log r(x) = log p(x|S) − log p(x|B), shape (N,)."""
        return self.log_pdf_signal(x) - self.log_pdf_background(x)

    def signal_probability(self, x, signal_fraction: float = 0.5) -> np.ndarray:
        """p(S|x) = f r / (f r + 1 − f): what a perfect classifier trained with signal fraction f outputs."""
        logit = self.log_likelihood_ratio(x) + np.log(signal_fraction / (1.0 - signal_fraction))
        return 1.0 / (1.0 + np.exp(-logit))

    def linear_score_performance(self, w, eps_s):
        """Exact ``(AUC, 1/ε_B at each eps_s)`` of the cut t = wᵀx > c on this toy.

        t is Gaussian in each class, with mean wᵀμ and variance wᵀΣw. With Δ = wᵀ(μ_S − μ_B),
        σ_S² = wᵀΣ_S w and σ_B² = wᵀΣ_B w (Φ the standard normal cumulative distribution):
            AUC = Φ(Δ / √(σ_S² + σ_B²)),   ε_B(ε_S) = 1 − Φ((Δ + σ_S Φ⁻¹(1 − ε_S)) / σ_B).
        (Lecture ch01/01_likelihood_ratio, Eq. 5: the binormal ROC curve.)
        E.g. on ``GAUSS_2D``: AUC = Φ(1/√3) = 0.7181 for w = (1, 0), Φ(2/√7) = 0.7752 for w = (1, 1).
        """
        w = np.asarray(w, dtype=float)
        delta = w @ (np.asarray(self.mu_s) - np.asarray(self.mu_b))
        sig_s, sig_b = np.sqrt(w @ np.asarray(self.cov_s) @ w), np.sqrt(w @ np.asarray(self.cov_b) @ w)
        auc = float(stats.norm.cdf(delta / np.hypot(sig_s, sig_b)))
        eps_b = stats.norm.sf((delta + sig_s * stats.norm.ppf(1.0 - np.asarray(eps_s, dtype=float))) / sig_b)
        return auc, 1.0 / eps_b


GAUSS_1D = GaussianToy(mu_s=(1.0,), cov_s=((1.0,),), mu_b=(-1.0,), cov_b=((1.0,),))
"""Signal N(+1, 1) vs background N(−1, 1): every metric has a closed form (see ``gauss1d_*``)."""

GAUSS_2D = GaussianToy(mu_s=(1.0, 1.0), cov_s=((1.0, 0.5), (0.5, 1.0)),
                       mu_b=(0.0, 0.0), cov_b=((2.0, 0.0), (0.0, 2.0)))
"""Correlated signal N((1,1), [[1,½],[½,1]]) vs broad background N(0, 2·1): quadratic log r, optimal AUC ≈ 0.8365."""


def gauss1d_separation(toy: GaussianToy = GAUSS_1D) -> float:
    """d' = |μ_S − μ_B| / σ for a 1D Gaussian toy with equal widths."""
    (sigma2_s,), = toy.cov_s
    (sigma2_b,), = toy.cov_b
    if not np.isclose(sigma2_s, sigma2_b):
        raise ValueError("closed forms need equal signal and background widths")
    return abs(toy.mu_s[0] - toy.mu_b[0]) / np.sqrt(sigma2_s)


def gauss1d_auc(toy: GaussianToy = GAUSS_1D) -> float:
    """AUC = Φ(d'/√2) for a cut on x (the optimal classifier when the widths are equal)."""
    return float(stats.norm.cdf(gauss1d_separation(toy) / np.sqrt(2.0)))


def gauss1d_eps_b(eps_s, toy: GaussianToy = GAUSS_1D):
    """ε_B(ε_S) = 1 − Φ(d' + Φ⁻¹(1 − ε_S)) for a cut x > t, with t set by ε_S."""
    return stats.norm.sf(gauss1d_separation(toy) + stats.norm.ppf(1.0 - np.asarray(eps_s, dtype=float)))


@dataclass(frozen=True)
class LinearDensities:
    """One observable O ∈ [0, 1] with linear densities, Plehn et al. [plehn2022modern], Eq. (1.8).

    ``background="flat"``:    s(O) = A·O,  b(O) = B          (p = ½ at O = B/A);
    ``background="falling"``: s(O) = A·O,  b(O) = A·(1 − O)  (p = ½ at O = ½).
    ``A`` and ``B`` are expected event counts per unit O; the normalised densities are
    f_S = 2O and f_B = 1 (flat) or 2(1 − O) (falling), and the expected totals A/2 and B (or A/2).
    """

    A: float = 2.0
    B: float = 1.0
    background: str = "flat"

    def __post_init__(self):
        if self.background not in {"flat", "falling"}:
            raise ValueError("background must be 'flat' or 'falling'")

    @property
    def n_signal_per_unit(self) -> float:
        return self.A / 2.0

    @property
    def n_background_per_unit(self) -> float:
        return self.B if self.background == "flat" else self.A / 2.0

    def sample(self, n: int, rng: np.random.Generator):
        """``n`` events in total, split between S and B in the ratio of their expected counts."""
        f_s = self.n_signal_per_unit / (self.n_signal_per_unit + self.n_background_per_unit)
        n_s = int(round(n * f_s))
        o_s = np.sqrt(rng.uniform(size=n_s))  # inverse CDF of f_S = 2O
        u = rng.uniform(size=n - n_s)
        o_b = u if self.background == "flat" else 1.0 - np.sqrt(u)  # f_B = 2(1−O)
        x = np.concatenate([o_s, o_b])
        y = np.concatenate([np.ones(n_s, dtype=int), np.zeros(n - n_s, dtype=int)])
        return x, y

    def bayes_split(self) -> float:
        """The O where p(S|O) = s/(s+b) = ½, Eq. (1.9): B/A (flat) or ½ (falling)."""
        return self.B / self.A if self.background == "flat" else 0.5


@dataclass(frozen=True)
class RegressionToy:
    """Noisy data around a known function: y = μ(x) + σ(x) ε with ε ~ N(0, 1) and

        μ(x) = sin(2πx),   σ(x) = σ₀ + σ₁ x,

    x drawn uniformly on the union of the intervals ``support`` (the training support). Both μ(x)
    and σ(x) are exact, so a network's learned mean, learned width and predicted intervals can be
    checked against the truth (Plehn et al. [plehn2022modern], Secs. 1.2.4 and 1.3.1). ``sample`` returns ``x`` of shape
    (N, 1) and ``y`` of shape (N,). All quantities are dimensionless.
    """

    support: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    sigma0: float = 0.05
    sigma1: float = 0.2

    def mean(self, x) -> np.ndarray:
        """μ(x) = sin(2πx), same shape as ``x``."""
        return np.sin(2.0 * np.pi * np.asarray(x, dtype=float))

    def sigma(self, x) -> np.ndarray:
        """σ(x) = σ₀ + σ₁ x, the standard deviation of y at x (same shape as ``x``)."""
        return self.sigma0 + self.sigma1 * np.asarray(x, dtype=float)

    def in_support(self, x) -> np.ndarray:
        """True where x lies inside the training support."""
        x = np.asarray(x, dtype=float)
        return np.any([(x >= lo) & (x <= hi) for lo, hi in self.support], axis=0)

    def sample_x(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points uniform on the support: shape (n,)."""
        lengths = np.array([hi - lo for lo, hi in self.support])
        which = rng.choice(len(lengths), size=n, p=lengths / lengths.sum())
        lo = np.array([s[0] for s in self.support])[which]
        return lo + lengths[which] * rng.uniform(size=n)

    def sample(self, n: int, rng: np.random.Generator):
        """``n`` pairs: ``x`` (n, 1) uniform on the support, ``y`` (n,) = μ(x) + σ(x) ε."""
        x = self.sample_x(n, rng)
        y = self.mean(x) + self.sigma(x) * rng.standard_normal(n)
        return x.reshape(-1, 1), y

    def log_likelihood(self, x, y) -> np.ndarray:
        """log N(y; μ(x), σ(x)²) of each pair, shape (N,): the best any regression model can reach."""
        x = np.asarray(x, dtype=float).ravel()
        return stats.norm.logpdf(np.asarray(y, dtype=float).ravel(), self.mean(x), self.sigma(x))


HETERO_SINE = RegressionToy(support=((0.0, 1.0),), sigma0=0.05, sigma1=0.2)
"""x ~ U(0, 1), y = sin 2πx + (0.05 + 0.2x) ε: heteroscedastic noise, five times larger at x = 1 than at 0."""

GAP_REGRESSION = RegressionToy(support=((0.0, 0.35), (0.65, 1.0)), sigma0=0.1, sigma1=0.0)
"""y = sin 2πx + 0.1 ε with no training points in the gap 0.35 < x < 0.65: where a network has
seen no data, its uncertainty should grow (and outside [0, 1] as well)."""


def hetero_sine(n: int, rng: np.random.Generator):
    """``n`` events of :data:`HETERO_SINE`: ``x`` (n, 1), ``y`` (n,)."""
    return HETERO_SINE.sample(n, rng)


def gap_regression(n: int, rng: np.random.Generator):
    """``n`` events of :data:`GAP_REGRESSION`: ``x`` (n, 1), ``y`` (n,)."""
    return GAP_REGRESSION.sample(n, rng)


@dataclass(frozen=True)
class PileupEvents:
    """Toy events of :func:`pileup_events`, padded to a common number of particles N.

    ``pxy`` (B, N, 2): transverse momenta (p_x, p_y) in GeV, zero in padded slots; ``hard`` (B, N):
    True for hard-scatter particles, the weights w* = 1 that a perfect pile-up remover returns
    (0 for pile-up and padding); ``mask`` (B, N): True for real particles; ``neutrino`` (B, 2): the
    neutrino's (p_x, p_y) in GeV, zero in events without one. By construction
    Σ_hard p⃗_T = −p⃗_T(ν): the true weights satisfy P w* = −p⃗_T(ν).
    """

    pxy: np.ndarray
    hard: np.ndarray
    mask: np.ndarray
    neutrino: np.ndarray


def pileup_events(n_events: int, rng: np.random.Generator, n_hard: int = 12, mean_pileup: float = 20.0,
                  pt_hard: float = 30.0, pt_pileup: float = 2.0, neutrino_fraction: float = 0.0,
                  pt_neutrino: float = 40.0) -> PileupEvents:
    """Events whose hard scatter balances in the transverse plane, plus pile-up (item A3 of the
    applications text on symmetric architectures; transverse-momentum balance Σ_i p⃗_T,i = 0).

    Each event has ``n_hard`` hard-scatter particles with p_T ~ Exp(``pt_hard``) at uniform φ, shifted
    by a common vector so that they balance, Σ p⃗_T = 0 exactly, or, in a fraction
    ``neutrino_fraction`` of the events, balance an invisible neutrino with p_T ~ Exp(``pt_neutrino``)
    (then Σ_visible hard p⃗_T = −p⃗_T(ν)); and Poisson(``mean_pileup``) pile-up particles with
    p_T ~ Exp(``pt_pileup``) at uniform φ, which balance nothing. All momenta in GeV.
    """
    def vectors(pt, phi):
        return np.stack([pt * np.cos(phi), pt * np.sin(phi)], axis=-1)

    hard = vectors(rng.exponential(pt_hard, (n_events, n_hard)), rng.uniform(-np.pi, np.pi, (n_events, n_hard)))
    has_nu = rng.uniform(size=n_events) < neutrino_fraction
    nu = vectors(rng.exponential(pt_neutrino, n_events), rng.uniform(-np.pi, np.pi, n_events)) * has_nu[:, None]
    hard = hard - (hard.sum(1, keepdims=True) + nu[:, None, :]) / n_hard        # Σ_hard p = −p(ν)
    n_pu = rng.poisson(mean_pileup, n_events)
    n_max = n_hard + int(n_pu.max(initial=0))
    pu = vectors(rng.exponential(pt_pileup, (n_events, n_max - n_hard)),
                 rng.uniform(-np.pi, np.pi, (n_events, n_max - n_hard)))
    mask = np.arange(n_max)[None, :] < (n_hard + n_pu)[:, None]
    pxy = np.concatenate([hard, pu], axis=1) * mask[..., None]
    is_hard = np.zeros((n_events, n_max), dtype=bool)
    is_hard[:, :n_hard] = True
    return PileupEvents(pxy=pxy, hard=is_hard, mask=mask, neutrino=nu)


# ------------------------------------------------------------------------------------------------
# Chapter 05: systematics, decorrelation and parameterized networks. Each toy has an exact density,
# so the best classifier under each constraint (nominal, pivotal, decorrelated, parameterized) is
# known and a trained network can be compared with it.


@dataclass(frozen=True)
class PivotToy:
    """Two features with a nuisance parameter z that shifts the signal (Louppe, Kagan, Cranmer 2017):

        signal:      x₁ ~ N(+1, 1),  x₂ ~ N(1 + z, 1),
        background:  x₁ ~ N(−1, 1),  x₂ ~ N(0, 1),        z ~ N(0, σ_z²) (σ_z = 1).

    At fixed z the log-likelihood ratio is linear, log r = 2x₁ + (1+z)x₂ − (1+z)²/2; at the nominal
    z = 0 the best classifier reaches AUC = Φ(|Δμ|/√2) = Φ(√(5/2)) = 0.9431. A classifier f is
    *pivotal* when the distribution of f on signal does not depend on z; that holds only if f does
    not depend on x₂ at all (a Gaussian location family is complete), so the best pivotal classifier
    cuts on x₁ alone: AUC = Φ(√2) = 0.9214, whatever z is. ``sample`` returns ``(x, y, z)`` with
    ``x`` (N, 2); background events get a z as well (drawn from the same prior; it changes nothing).
    """

    z_sigma: float = 1.0

    def sample(self, n_signal: int, n_background: int, rng: np.random.Generator, z=None):
        """``x`` (N, 2), ``y`` (N,), ``z`` (N,): z drawn from N(0, σ_z²), or fixed to ``z`` if given."""
        n = n_signal + n_background
        zz = rng.normal(0.0, self.z_sigma, n) if z is None else np.full(n, float(z))
        y = np.concatenate([np.ones(n_signal, dtype=int), np.zeros(n_background, dtype=int)])
        x = rng.standard_normal((n, 2))
        x[:, 0] += np.where(y == 1, 1.0, -1.0)
        x[:, 1] += np.where(y == 1, 1.0 + zz, 0.0)
        return x, y, zz

    def log_likelihood_ratio(self, x, z=0.0) -> np.ndarray:
        """log p(x|S, z) − log p(x|B), shape (N,)."""
        x = np.asarray(x, dtype=float).reshape(-1, 2)
        return 2.0 * x[:, 0] + (1.0 + z) * x[:, 1] - 0.5 * (1.0 + z) ** 2

    @property
    def nominal_auc(self) -> float:
        """AUC of the likelihood ratio at z = 0: Φ(√(5/2)) = 0.9431."""
        return float(stats.norm.cdf(np.sqrt(2.5)))

    @property
    def pivotal_auc(self) -> float:
        """AUC of the best pivotal classifier (a cut on x₁) at any z: Φ(√2) = 0.9214."""
        return float(stats.norm.cdf(np.sqrt(2.0)))


PIVOT = PivotToy()


def pivot(n: int, rng: np.random.Generator, z=None):
    """``n`` signal and ``n`` background events of :data:`PIVOT`: ``(x, y, z)``."""
    return PIVOT.sample(n, n, rng, z)


@dataclass(frozen=True)
class SculptToy:
    """A "jet mass" m that a classifier can sculpt, and two more features:

        background:  m ~ U(0, 1),        x₁ = m + N(0, 0.3²),   x₂ ~ N(0, 1),
        signal:      m ~ N(0.5, 0.05²),  x₁ ~ N(0.5, 0.3²),     x₂ ~ N(1.5, 1),

    ``x`` = (m, x₁, x₂), shape (N, 3). Cutting on the exact likelihood ratio keeps background near
    m = 0.5 and so sculpts a peak into the background mass distribution. A classifier whose output is
    independent of m on background can use neither m nor x₁ (both carry m), so the best fully
    decorrelated classifier cuts on x₂ alone: AUC = Φ(1.5/√2) = 0.8556.
    """

    sigma_x1: float = 0.3
    mass_peak: float = 0.5
    mass_width: float = 0.05
    x2_shift: float = 1.5

    def sample(self, n_signal: int, n_background: int, rng: np.random.Generator):
        """``x`` (N, 3) = (m, x₁, x₂) and ``y`` (N,), signal first."""
        ms = rng.normal(self.mass_peak, self.mass_width, n_signal)
        xs = np.stack([ms, rng.normal(self.mass_peak, self.sigma_x1, n_signal),
                       rng.normal(self.x2_shift, 1.0, n_signal)], axis=1)
        mb = rng.uniform(0.0, 1.0, n_background)
        xb = np.stack([mb, mb + rng.normal(0.0, self.sigma_x1, n_background), rng.standard_normal(n_background)], axis=1)
        y = np.concatenate([np.ones(n_signal, dtype=int), np.zeros(n_background, dtype=int)])
        return np.concatenate([xs, xb]), y

    def log_likelihood_ratio(self, x) -> np.ndarray:
        """log p(x|S) − log p(x|B), shape (N,); +∞ where m lies outside the background's [0, 1]."""
        m, x1, x2 = np.asarray(x, dtype=float).reshape(-1, 3).T
        log_s = (stats.norm.logpdf(m, self.mass_peak, self.mass_width) + stats.norm.logpdf(x1, self.mass_peak, self.sigma_x1)
                 + stats.norm.logpdf(x2, self.x2_shift, 1.0))
        inside = (m >= 0.0) & (m <= 1.0)
        log_b = stats.norm.logpdf(x1, np.clip(m, 0, 1), self.sigma_x1) + stats.norm.logpdf(x2)
        return np.where(inside, log_s - log_b, np.inf)

    @property
    def decorrelated_auc(self) -> float:
        """AUC of the best classifier independent of m on background (a cut on x₂): Φ(1.5/√2) = 0.8556."""
        return float(stats.norm.cdf(self.x2_shift / np.sqrt(2.0)))

    def log_ratio_given_mass(self, m) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of log r(x) over background events at fixed mass m ∈ [0, 1].

        At fixed m the log-ratio is linear in x₁ and x₂: with σ = σ_x₁ and d the shift of x₂,
        log r = log N(m; 0.5, 0.05²) + (0.5 − m)(2x₁ − m − 0.5)/(2σ²) + d x₂ − d²/2, and on background
        x₁ ~ N(m, σ²), x₂ ~ N(0, 1), so log r | m is Gaussian with
        mean log N(m; 0.5, 0.05²) − (m − 0.5)²/(2σ²) − d²/2 and variance (0.5 − m)²/σ² + d².
        """
        m = np.asarray(m, dtype=float)
        s2, d = self.sigma_x1 ** 2, self.x2_shift
        mean = stats.norm.logpdf(m, self.mass_peak, self.mass_width) - (m - self.mass_peak) ** 2 / (2 * s2) - d ** 2 / 2
        return mean, np.sqrt((self.mass_peak - m) ** 2 / s2 + d ** 2)

    def background_pass_probability(self, m, cut: float) -> np.ndarray:
        """P(log r > cut | m, background) = Φ((mean(m) − cut)/sd(m)), exact (see :meth:`log_ratio_given_mass`)."""
        mean, sd = self.log_ratio_given_mass(m)
        return stats.norm.sf((cut - mean) / sd)

    def background_efficiency(self, cut: float, n_grid: int = 4001) -> float:
        """ε_B of the cut log r > cut: ∫₀¹ P(pass | m) dm (m is uniform on background), Simpson's rule on the
        smooth integrand (relative error < 1e-8 with the default grid)."""
        from scipy.integrate import simpson
        grid = np.linspace(0.0, 1.0, n_grid)
        return float(simpson(self.background_pass_probability(grid, cut), x=grid))

    def cut_for_background_efficiency(self, eps_b: float) -> float:
        """The threshold on log r that keeps the fraction ``eps_b`` of the background."""
        from scipy.optimize import brentq
        return float(brentq(lambda c: self.background_efficiency(c) - eps_b, -30.0, 30.0, xtol=1e-12))

    def sculpted_mass_density(self, m, cut: float) -> np.ndarray:
        """The exact density of the background mass after the cut log r > cut: P(pass | m) / ε_B on [0, 1]
        (before the cut it is flat, 1). Zero outside [0, 1]."""
        m = np.asarray(m, dtype=float)
        inside = (m >= 0.0) & (m <= 1.0)
        return np.where(inside, self.background_pass_probability(np.clip(m, 0, 1), cut) / self.background_efficiency(cut), 0.0)


SCULPT = SculptToy()


def sculpt(n: int, rng: np.random.Generator):
    """``n`` signal and ``n`` background events of :data:`SCULPT`: ``(x, y)`` with x = (m, x₁, x₂)."""
    return SCULPT.sample(n, n, rng)


@dataclass(frozen=True)
class ParamMassToy:
    """A resonance of unknown mass θ on a falling background, one observable x ∈ [0, 3]:

        signal:      x ~ N(θ, 0.2²),   background:  p(x) ∝ e^(−x),   both truncated to [0, 3].

    The best classifier at each θ is the likelihood ratio r(x; θ) = p(x|S, θ)/p(x|B), a different
    function of x for every θ: a *parameterized* network f(x, θ) (Baldi et al. 2016) learns the whole
    family at once and can interpolate to a θ it was not trained on. :meth:`optimal_auc` gives the
    exact AUC by quadrature: 0.8014, 0.8772, 0.9255, 0.9548, 0.9731 at θ = 0.5, 1, 1.5, 2, 2.5.
    """

    sigma: float = 0.2
    low: float = 0.0
    high: float = 3.0

    def _signal(self, theta: float):
        a, b = (self.low - theta) / self.sigma, (self.high - theta) / self.sigma
        return stats.truncnorm(a, b, loc=theta, scale=self.sigma)

    def _background(self):
        return stats.truncexpon(b=self.high - self.low, loc=self.low)

    def sample(self, n_signal: int, n_background: int, theta: float, rng: np.random.Generator):
        """``x`` (N,) and ``y`` (N,): signal at mass ``theta``, then background."""
        xs = self._signal(theta).rvs(n_signal, random_state=rng)
        xb = self._background().rvs(n_background, random_state=rng)
        return np.concatenate([xs, xb]), np.concatenate([np.ones(n_signal, dtype=int), np.zeros(n_background, dtype=int)])

    def log_likelihood_ratio(self, x, theta: float) -> np.ndarray:
        """log p(x|S, θ) − log p(x|B), same shape as ``x``."""
        x = np.asarray(x, dtype=float)
        return self._signal(theta).logpdf(x) - self._background().logpdf(x)

    def optimal_auc(self, theta: float, n_grid: int = 200_001) -> float:
        """AUC of the exact likelihood ratio at ``theta``, by quadrature on a grid in x (accurate to ~1e-6)."""
        x = np.linspace(self.low, self.high, n_grid)
        ps, pb = self._signal(theta).pdf(x), self._background().pdf(x)
        order = np.argsort(-(np.log(ps + 1e-300) - np.log(pb)), kind="stable")
        dx = x[1] - x[0]
        eps_s = np.concatenate([[0.0], np.cumsum(ps[order]) * dx])
        eps_b = np.concatenate([[0.0], np.cumsum(pb[order]) * dx])
        return float(np.trapezoid(eps_s, eps_b) / (eps_s[-1] * eps_b[-1]))


PARAM_MASS = ParamMassToy()


def param_mass(n: int, theta: float, rng: np.random.Generator):
    """``n`` signal events at mass ``theta`` and ``n`` background events of :data:`PARAM_MASS`: ``(x, y)``."""
    return PARAM_MASS.sample(n, n, theta, rng)
