"""Performance metrics of a classifier, in the conventions of particle physics.

Notation (Plehn et al. [plehn2022modern], Sec. 1.2.1): a cut ``score > t`` tags an event as signal. The signal
efficiency (true positive rate) is ε_S(t) = s_tagged / s_truth and the background efficiency
(false positive rate, mis-identification rate) is ε_B(t) = b_tagged / b_truth. The ROC curve
is the set of points (ε_S(t), ε_B(t)); the background *rejection* is 1/ε_B.

Besides the ROC curve of one score (:func:`roc_curve`, :func:`auc`, :func:`rejection_at`), the
module gives the statistical error of an AUC (:func:`auc_std`, DeLong) and of the difference of two
AUCs measured on the same events (:func:`auc_difference_std`, paired DeLong), the selections of a family such as
rectangular cuts that no other one beats (:func:`pareto_front`) and their ROC curve (:func:`best_selection_roc`), and the
significance of a counting experiment (:func:`significance_improvement`, :func:`asimov_significance`).

Calibration (chapter 02): whether a classifier's output s can be read as the probability p(S|x)
(:func:`reliability_curve`, :func:`expected_calibration_error`, :func:`fit_temperature`), and
whether predicted uncertainties have the stated coverage (:func:`pulls`, :func:`coverage`,
:func:`interval_coverage`, :func:`gaussian_coverage`).

Anomaly detection (chapter 06): the maximum of the SIC curve on a finite test set (:func:`max_sic`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize as _optimize
from scipy import special as _special
from scipy import stats as _stats


@dataclass(frozen=True)
class ROC:
    """A ROC curve: efficiencies at decreasing thresholds, from (0, 0) to (1, 1)."""

    eps_s: np.ndarray
    eps_b: np.ndarray
    thresholds: np.ndarray

    @property
    def auc(self) -> float:
        """Area under ε_S as a function of ε_B, by the trapezoidal rule (equals :func:`auc`)."""
        return float(np.trapezoid(self.eps_s, self.eps_b))

    def rejection_at(self, eps_s: float | np.ndarray) -> float | np.ndarray:
        """Background rejection 1/ε_B at signal efficiency ``eps_s`` (see :func:`rejection_at`)."""
        return _rejection_from_curve(self.eps_s, self.eps_b, eps_s)


def _labels_scores(y, score, weight=None):
    y = np.asarray(y).ravel()
    score = np.asarray(score, dtype=float).ravel()
    if y.shape != score.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {score.shape}")
    classes = set(np.unique(y).tolist())
    if not classes <= {0, 1} or len(classes) < 2:
        raise ValueError(f"labels must contain both 0 (background) and 1 (signal); got {sorted(classes)}")
    if not np.all(np.isfinite(score)):
        raise ValueError("scores contain NaN or infinity")
    w = None if weight is None else np.asarray(weight, dtype=float).ravel()
    return y.astype(int), score, w


def _sk_metrics():
    """``sklearn.metrics``, imported on first use (it costs ≈ 0.5 s CPU, paid only by the notebooks that need it)."""
    from sklearn import metrics
    return metrics


def roc_curve(y, score, weight=None) -> ROC:
    """The ROC curve of ``score`` for labels ``y`` (1 = signal, 0 = background).

    Thin wrapper of :func:`sklearn.metrics.roc_curve` (event weights allowed) with
    the physics names ε_S (true positive rate) and ε_B (false positive rate).
    """
    y, score, w = _labels_scores(y, score, weight)
    eps_b, eps_s, thr = _sk_metrics().roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    return ROC(eps_s=eps_s, eps_b=eps_b, thresholds=thr)


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve, AUC = P(score_S > score_B) + ½ P(score_S = score_B).

    0.5 for a random guess, 1 for perfect separation; invariant under any strictly increasing
    transformation of the score.
    """
    y, score, w = _labels_scores(y, score, weight)
    return float(_sk_metrics().roc_auc_score(y, score, sample_weight=w))


def auc_std(y, score) -> float:
    """DeLong's standard error of the empirical AUC.

    The empirical AUC is an average over all n_S·n_B signal–background pairs,
    AUC = (1/(n_S n_B)) Σ_i Σ_j ψ(s_i, b_j), with ψ(s, b) = 1 if s > b, ½ if s = b, 0 otherwise.
    Its structural components are, for each signal event, the fraction of background events
    scoring below it, V_S(s_i) = (1/n_B) Σ_j ψ(s_i, b_j), and for each background event the
    fraction of signal events scoring above it, V_B(b_j) = (1/n_S) Σ_i ψ(s_i, b_j). Then

        Var(AUC) = Var(V_S)/n_S + Var(V_B)/n_B,

    with the sample variances (ddof = 1) of the components (DeLong, DeLong and Clarke-Pearson
    1988, Biometrics 44, 837). The components are computed from mid-ranks in O(n log n)
    (Sun and Xu 2014, IEEE Signal Processing Letters 21, 1389): the rank of s_i among all events
    minus its rank among the signal events counts the background events below it, ties counting ½.

    Unweighted events only. For the binormal toy ``GAUSS_1D`` with 2000 + 2000 events it agrees
    with the spread of the AUC over independent samples (see ``tests/test_metrics.py``).
    """
    y, score, _ = _labels_scores(y, score)
    v_s, v_b = _delong_components(y, score)
    return float(np.sqrt(v_s.var(ddof=1) / len(v_s) + v_b.var(ddof=1) / len(v_b)))


def _delong_components(y, score):
    """DeLong's structural components (V_S per signal event, V_B per background event), see :func:`auc_std`."""
    s, b = score[y == 1], score[y == 0]
    if len(s) < 2 or len(b) < 2:
        raise ValueError("the DeLong variance needs at least two signal and two background events")
    rank_all = _stats.rankdata(np.concatenate([s, b]))
    v_s = (rank_all[: len(s)] - _stats.rankdata(s)) / len(b)        # background fraction below each signal event
    v_b = 1.0 - (rank_all[len(s):] - _stats.rankdata(b)) / len(s)   # signal fraction above each background event
    return v_s, v_b


def auc_difference_std(y, score_a, score_b) -> float:
    """Standard error of AUC_a − AUC_b for two classifiers evaluated on the *same* events (paired DeLong).

    Both AUCs are averages over the same signal–background pairs, so their statistical fluctuations
    are correlated. With the structural components of :func:`auc_std` for each score,

        Var(AUC_a − AUC_b) = Var(V_S^a − V_S^b)/n_S + Var(V_B^a − V_B^b)/n_B
                           = σ_a² + σ_b² − 2 Cov_ab,

    (DeLong, DeLong and Clarke-Pearson 1988, Biometrics 44, 837, Sec. 3). For two similar taggers the
    covariance cancels most of σ_a² + σ_b², so the paired error is much smaller than the unpaired
    √(σ_a² + σ_b²); it is 0 for identical scores. This is the *test-sample* error only: a difference
    between two trained models must also be compared with their training spread (other seeds, other
    training samples), which this formula does not know.
    """
    y, a, _ = _labels_scores(y, score_a)
    _, b, _ = _labels_scores(y, score_b)
    v_sa, v_ba = _delong_components(y, a)
    v_sb, v_bb = _delong_components(y, b)
    return float(np.sqrt((v_sa - v_sb).var(ddof=1) / len(v_sa) + (v_ba - v_bb).var(ddof=1) / len(v_ba)))


def _efficiencies(eps_s, eps_b) -> tuple[np.ndarray, np.ndarray]:
    es = np.asarray(eps_s, dtype=float).ravel()
    eb = np.asarray(eps_b, dtype=float).ravel()
    if es.shape != eb.shape:
        raise ValueError(f"eps_s and eps_b differ in size: {es.shape} vs {eb.shape}")
    if not (np.all(np.isfinite(es)) and np.all(np.isfinite(eb))) or np.any((es < 0) | (es > 1) | (eb < 0) | (eb > 1)):
        raise ValueError("efficiencies must be finite and lie in [0, 1]")
    return es, eb


def pareto_front(eps_s, eps_b) -> np.ndarray:
    """Indices of the selections of a family that no other one beats (its Pareto front), in order of
    increasing ε_S.

    ``eps_s`` and ``eps_b`` (any shape, e.g. a grid of cut pairs; flattened) are the signal and background
    efficiencies of each selection. A selection is kept when every selection with at least its ε_S has a
    larger ε_B, i.e. no other one keeps as much signal with no more background (of exact duplicates, one is
    kept). Choose the front on one sample (validation) and measure it on another (test):
    ``best_selection_roc(eps_s_test[front], eps_b_test[front])``.
    """
    es, eb = _efficiencies(eps_s, eps_b)
    order = np.lexsort((eb, -es))                                     # decreasing ε_S, then increasing ε_B
    best_b = np.r_[np.inf, np.minimum.accumulate(eb[order])[:-1]]     # smallest ε_B among those with more ε_S
    return order[eb[order] < best_b][::-1]


def best_selection_roc(eps_s, eps_b) -> ROC:
    """The ROC curve of the best member of a family of selections: the curve through its
    :func:`pareto_front`,

        ε_B*(ε_S) = min { ε_B(k) : ε_S(k) ≥ ε_S },

    the smallest ε_B among the selections that keep at least ε_S (arrays of any shape, flattened). The
    trivial selections "keep nothing" (0, 0) and "keep everything" (1, 1) close the curve. Between two
    kept selections :meth:`ROC.rejection_at` and :attr:`ROC.auc` interpolate linearly, which a random
    mixture of the two selections achieves. Thresholds are NaN (a family of cuts has no single
    threshold). This is how the ROC curve of "the best rectangular cuts" is drawn; chosen and evaluated
    on the same events, it is slightly optimistic.
    """
    es, eb = _efficiencies(eps_s, eps_b)
    es, eb = np.r_[0.0, es], np.r_[0.0, eb]                           # "keep nothing" is always available
    front = pareto_front(es, eb)
    es, eb = es[front], eb[front]
    if es[-1] < 1.0 or eb[-1] < 1.0:                                  # close the curve with "keep everything"
        es, eb = np.r_[es, 1.0], np.r_[eb, 1.0]
    return ROC(eps_s=es, eps_b=eb, thresholds=np.full(len(es), np.nan))


def _rejection_from_curve(eps_s_curve, eps_b_curve, eps_s):
    eps_s = np.asarray(eps_s, dtype=float)
    if np.any((eps_s <= 0) | (eps_s > 1)):
        raise ValueError(f"signal efficiency must lie in (0, 1]; got {eps_s}")
    # The curve is non-decreasing in both coordinates; interpolate ε_B linearly in ε_S.
    # np.interp needs increasing x: where ε_S stays flat, take the smallest ε_B reached.
    xs, first = np.unique(eps_s_curve, return_index=True)
    eps_b = np.interp(eps_s, xs, np.asarray(eps_b_curve)[first])
    with np.errstate(divide="ignore"):
        rej = np.where(eps_b > 0, 1.0 / np.maximum(eps_b, 1e-300), np.inf)
    return float(rej) if rej.ndim == 0 else rej


def rejection_at(y, score, eps_s: float | np.ndarray, weight=None) -> float | np.ndarray:
    """Background rejection 1/ε_B at a fixed signal efficiency ε_S.

    ε_B is interpolated linearly in ε_S between the two ROC points that bracket the
    requested efficiency; ``inf`` where the interpolated ε_B is zero.
    """
    return roc_curve(y, score, weight).rejection_at(eps_s)


def rejection_error(y, score, eps_s: float | np.ndarray) -> float | np.ndarray:
    """Binomial standard error of :func:`rejection_at` from the finite number of background events.

    Of N_B background events, k = ε_B N_B pass the cut; k is binomial, so

        σ(1/ε_B) / (1/ε_B) = σ(ε_B) / ε_B = sqrt((1 − ε_B) / (ε_B N_B)) ≈ 1/sqrt(k).

    Unweighted events; the uncertainty of the cut position (set by the signal events) is
    neglected. ``inf`` where no background event passes.
    """
    y = np.asarray(y)
    return binomial_rejection_error(rejection_at(y, score, eps_s), np.sum(y == 0))


def binomial_rejection_error(rejection, n_background: int) -> float | np.ndarray:
    """The binomial error of a rejection 1/ε_B measured on ``n_background`` background events,

        σ(1/ε_B) = (1/ε_B) · sqrt((1 − ε_B) / (ε_B N_B)),

    the formula of :func:`rejection_error` for a rejection that is already known, for instance read
    off a :class:`ROC` of a family of cuts (:func:`best_selection_roc`). ``inf`` where ε_B = 0.
    """
    rej = np.asarray(rejection, dtype=float)
    if n_background < 1 or np.any(rej < 1):
        raise ValueError(f"need at least one background event and rejections >= 1; got N_B = {n_background}, {rej}")
    with np.errstate(divide="ignore", invalid="ignore"):
        eps_b = 1.0 / rej
        err = np.where(eps_b > 0, rej * np.sqrt((1 - eps_b) / (eps_b * n_background)), np.inf)
    return float(err) if err.ndim == 0 else err


def significance_improvement(y, score, weight=None) -> tuple[np.ndarray, np.ndarray]:
    """The significance improvement characteristic SIC(ε_S) = ε_S / √ε_B.

    A cut that keeps ε_S of the signal and ε_B of the background multiplies S/√B by ε_S/√ε_B
    (valid when the background is large enough for the Gaussian approximation). Returns
    ``(eps_s, sic)`` at the points of the ROC curve with ε_B > 0.
    """
    roc = roc_curve(y, score, weight)
    keep = roc.eps_b > 0
    return roc.eps_s[keep], roc.eps_s[keep] / np.sqrt(roc.eps_b[keep])


def asimov_significance(s, b):
    """Median discovery significance of a counting experiment (Asimov data set).

    Z_A = √(2[(s+b) ln(1+s/b) − s])   (Cowan, Cranmer, Gross, Vitells 2011, Eq. 97),
    which tends to s/√b for s ≪ b. ``s`` and ``b`` are expected event counts, b > 0.
    """
    s = np.asarray(s, dtype=float)
    b = np.asarray(b, dtype=float)
    if np.any(b <= 0) or np.any(s < 0):
        raise ValueError("need s >= 0 and b > 0")
    z = np.sqrt(2.0 * ((s + b) * np.log1p(s / b) - s))
    return float(z) if z.ndim == 0 else z


# ------------------------------------------------------------------------------------ calibration
@dataclass(frozen=True)
class Reliability:
    """A reliability curve: per bin of the predicted probability, its mean and the observed frequency."""

    edges: np.ndarray          # (n_bins + 1,) bin edges in the predicted probability
    predicted: np.ndarray      # (n_bins,) mean predicted probability in each bin (NaN if empty)
    observed: np.ndarray       # (n_bins,) fraction of signal (y = 1) in each bin (NaN if empty)
    counts: np.ndarray         # (n_bins,) events per bin
    observed_err: np.ndarray   # (n_bins,) binomial standard error of ``observed``

    @property
    def ece(self) -> float:
        """Expected calibration error Σ_b (n_b/N) |observed_b − predicted_b| (empty bins skipped)."""
        keep = self.counts > 0
        return float(np.sum(self.counts[keep] * np.abs(self.observed[keep] - self.predicted[keep])) / self.counts.sum())


def reliability_curve(y, prob, n_bins: int = 10) -> Reliability:
    """Reliability curve of predicted signal probabilities ``prob`` for labels ``y`` (1 = signal).

    The events are grouped in ``n_bins`` equal-width bins of ``prob`` on [0, 1]; for a calibrated
    classifier the fraction of signal in each bin equals the mean prediction there, so the curve lies
    on the diagonal. Binomial errors √(f(1 − f)/n_b).
    """
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(prob, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels and probabilities differ in length: {y.shape} vs {p.shape}")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("probabilities must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        predicted = np.bincount(idx, weights=p, minlength=n_bins) / counts
        observed = np.bincount(idx, weights=y, minlength=n_bins) / counts
        err = np.sqrt(observed * (1 - observed) / counts)
    return Reliability(edges, predicted, observed, counts.astype(int), err)


def expected_calibration_error(y, prob, n_bins: int = 10) -> float:
    """ECE = Σ_b (n_b/N) |f_b − p̄_b| over ``n_bins`` equal-width bins of the predicted probability.

    f_b is the observed fraction of signal and p̄_b the mean predicted probability in bin b (Naeini
    et al. 2015; Guo et al. 2017 use the confidence max(p, 1 − p) of the predicted class instead, the
    same up to how the bins are folded). 0 for a calibrated classifier up to statistical fluctuations
    of order √(p(1 − p) n_bins / N) · √(2/π), so compare two ECEs on the same number of events.
    """
    return reliability_curve(y, prob, n_bins).ece


def fit_temperature(logits, y) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 that minimises the BCE of sigmoid(z/T).

    Fitted on a held-out (validation) sample, never on the test sample. T > 1 softens
    over-confident outputs; the ranking of events, hence the ROC curve, is unchanged.
    """
    z = np.asarray(logits, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()

    def nll(log_t):
        u = z / np.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, u) - y * u))    # −[y log σ(u) + (1−y) log(1−σ(u))]

    res = _optimize.minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


# ------------------------------------------------------------------------------------ coverage
def pulls(y, mu, sigma) -> np.ndarray:
    """Pulls t = (μ − y)/σ of predictions μ with uncertainties σ against the truth y (Plehn et al. [plehn2022modern], Eq. 1.97).

    For calibrated Gaussian uncertainties t ~ N(0, 1) (Eq. 1.99): mean 0 and standard deviation 1.
    """
    return (np.asarray(mu, dtype=float) - np.asarray(y, dtype=float)) / np.asarray(sigma, dtype=float)


def gaussian_coverage(k: float | np.ndarray) -> float | np.ndarray:
    """Probability that a Gaussian lies within ±k standard deviations: 2Φ(k) − 1 (0.6827 for k = 1)."""
    return _special.erf(np.asarray(k, dtype=float) / np.sqrt(2.0))


def interval_coverage(truth, lo, hi) -> tuple[float, float]:
    """Fraction of ``truth`` inside [lo, hi], and its binomial standard error √(c(1 − c)/N)."""
    truth = np.asarray(truth, dtype=float)
    inside = (truth >= np.asarray(lo, dtype=float)) & (truth <= np.asarray(hi, dtype=float))
    c = float(np.mean(inside))
    return c, float(np.sqrt(c * (1 - c) / inside.size))


def coverage(y, mu, sigma, k: float = 1.0) -> tuple[float, float]:
    """Fraction of events with |y − μ| ≤ kσ, and its binomial error (compare with :func:`gaussian_coverage`)."""
    mu, sigma = np.asarray(mu, dtype=float), np.asarray(sigma, dtype=float)
    return interval_coverage(y, mu - k * sigma, mu + k * sigma)


# ----------------------------------------------------------------------- dependence and sculpting
# Chapter 05: how much a classifier's output depends on a quantity it should not use (a nuisance,
# the jet mass), and how much a cut on it distorts a distribution.


def mutual_information(a, b, bins: int = 30) -> float:
    """Mutual information I(a; b) in nats from a 2D histogram with ``bins`` equally populated bins
    per variable (quantile binning) — Plehn et al. [main text], Sec. 1.2.1, Eq. 1.15:

        I = Σ_ij p_ij ln( p_ij / (p_i p_j) ),

    with p_ij the fraction of events in cell (i, j) and p_i, p_j the marginals. Zero for independent
    variables up to the estimator's positive bias ≈ (bins − 1)² / (2N); for a bivariate Gaussian with
    correlation ρ the exact value is −½ ln(1 − ρ²) (0.2231 at ρ = 0.6), which 30 bins and 10⁵ events
    reproduce to about 0.002.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a and b differ in length: {a.size} and {b.size}")
    ia, ib = (_quantile_index(v, bins) for v in (a, b))
    joint = np.bincount(ia * bins + ib, minlength=bins * bins).reshape(bins, bins) / a.size
    pa, pb = joint.sum(1), joint.sum(0)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))


def _quantile_index(v: np.ndarray, bins: int) -> np.ndarray:
    """Bin index 0 … bins−1 of each value in equally populated bins (ties go to one bin)."""
    edges = np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, v, side="right")


def distance_correlation(a, b) -> float:
    """Distance correlation dCor(a, b) ∈ [0, 1] of two 1D samples (Székely, Rizzo, Bakirov 2007):
    zero if and only if a and b are independent (as N → ∞), one for an exact linear relation, and
    unchanged by a shift or rescaling of either. Computed in float64 by
    :func:`hepcourse.decorrelation.distance_correlation_sq` (the square is what DisCo penalises), in
    O(N²) time and O(N) memory. For a bivariate Gaussian with correlation ρ the exact value is
    :func:`gaussian_distance_correlation`.
    """
    import torch

    from .decorrelation import distance_correlation_sq

    x = torch.as_tensor(np.asarray(a, dtype=np.float64).ravel())
    y = torch.as_tensor(np.asarray(b, dtype=np.float64).ravel())
    return float(torch.sqrt(distance_correlation_sq(x, y).clamp_min(0.0)))


def gaussian_distance_correlation(rho: float) -> float:
    """dCor of a bivariate Gaussian with correlation ρ (Székely, Rizzo, Bakirov 2007, Theorem 7):

        dCor²(ρ) = [ρ arcsin ρ + √(1 − ρ²) − ρ arcsin(ρ/2) − √(4 − ρ²) + 1] / (1 + π/3 − √3),

    about |ρ| for small |ρ| and below it otherwise (0.5661 at ρ = 0.6).
    """
    r = abs(float(rho))
    num = r * np.arcsin(r) + np.sqrt(1 - r * r) - r * np.arcsin(r / 2) - np.sqrt(4 - r * r) + 1
    return float(np.sqrt(max(num, 0.0) / (1 + np.pi / 3 - np.sqrt(3))))


def jensen_shannon(p, q) -> float:
    """Jensen–Shannon divergence in bits of two histograms (each normalised to unit sum here):

        JSD(P, Q) = ½ KL(P ‖ M) + ½ KL(Q ‖ M),   M = ½ (P + Q),   KL(P ‖ M) = Σ_k P_k log₂(P_k / M_k),

    symmetric, finite even where one histogram is empty, 0 for P = Q and 1 for disjoint supports.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in shape: {p.shape} and {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0 or np.any(p < 0) or np.any(q < 0):
        raise ValueError("histograms need non-negative entries and a positive sum")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(u):
        nz = u > 0
        return np.sum(u[nz] * np.log2(u[nz] / m[nz]))

    return float(0.5 * kl(p) + 0.5 * kl(q))


def sculpting_jsd(m, passed, bins=30, range=None) -> float:
    """How much a cut sculpts a distribution: the Jensen–Shannon divergence (bits) between the
    normalised histograms of ``m`` (background jet masses, GeV) before the cut and after it
    (``passed``: boolean mask of the events that survive). Zero when the cut keeps every mass with the
    same efficiency; the decorrelation literature plots 1/JSD, larger is better (its papers compare the
    passing with the failing events, which orders taggers the same way). ``bins`` and ``range`` as
    in ``numpy.histogram``; fix them when comparing taggers.
    """
    m = np.asarray(m, dtype=float).ravel()
    passed = np.asarray(passed, dtype=bool).ravel()
    if m.shape != passed.shape:
        raise ValueError(f"m and passed differ in length: {m.size} and {passed.size}")
    if not passed.any():
        raise ValueError("no event passes the cut: the sculpted distribution is undefined")
    edges = np.histogram_bin_edges(m, bins=bins, range=range)
    return jensen_shannon(np.histogram(m, edges)[0], np.histogram(m[passed], edges)[0])


# ------------------------------------------------------------------------------- anomaly detection
# Chapter 06: the figure of merit of a search that cuts on an anomaly score. The SIC curve itself is
# :func:`significance_improvement`; a finite test set makes its maximum a question of statistics.


def max_sic(y, score, min_background: int = 25) -> tuple[float, float]:
    """The maximum of the significance improvement SIC = ε_S/√ε_B (:func:`significance_improvement`) over
    the cuts that keep at least ``min_background`` background events of the test set, and the ε_S where
    it is reached: ``(max SIC, ε_S)``.

    At tight cuts ε_B rests on a handful of events and ε_S/√ε_B is dominated by their Poisson
    fluctuation (with one event left it is ε_S √N_B); with n events left ε_B has a relative error of
    1/√n, so the default of 25 keeps the SIC's statistical error near 10 %. Unweighted events.
    """
    y, score, _ = _labels_scores(y, score)
    n_b = int(np.sum(y == 0))
    if min_background < 1 or n_b < min_background:
        raise ValueError(f"need min_background >= 1 and at least that many background events ({n_b})")
    roc = roc_curve(y, score)
    keep = roc.eps_b * n_b >= min_background - 1e-9
    sic = roc.eps_s[keep] / np.sqrt(roc.eps_b[keep])
    i = int(np.argmax(sic))
    return float(sic[i]), float(roc.eps_s[keep][i])
# ------------------------------------------------------------------ distances between two samples
# Chapter 07: how close a generated sample is to the truth. Every number here is a two-sample
# statistic that fluctuates even between two independent samples of the same distribution, so the
# evaluation table (:func:`generator_report`) puts each one next to the same number for a second
# sample of the truth: the floor that no generator can beat.


def _as_2d(x) -> np.ndarray:
    """(N,) or (N, F) array-like → float64 (N, F)."""
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"expected samples of shape (N,) or (N, F); got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("samples contain NaN or infinity")
    return a


def _pairwise_sum(a: np.ndarray, b: np.ndarray, fn, exclude_diagonal: bool = False, block: int = 1024) -> float:
    """Σ_ij fn(|a_i − b_j|²) in blocks of ``block`` rows (O(block·M) memory); with ``exclude_diagonal``
    (a is b) the terms i = j, each fn(0), are left out."""
    total = 0.0
    b2 = np.sum(b * b, axis=1)
    for start in range(0, len(a), block):
        ab = a[start:start + block]                                          # (blk, F)
        d2 = np.sum(ab * ab, axis=1)[:, None] + b2[None, :] - 2.0 * ab @ b.T  # (blk, M)
        np.maximum(d2, 0.0, out=d2)
        total += float(np.sum(fn(d2)))
    if exclude_diagonal:
        total -= len(a) * float(fn(np.zeros(1))[0])
    return total


def mmd2_unbiased(x, y, bandwidth: float) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy with a Gaussian kernel
    k(x, x') = exp(−|x − x'|² / 2h²) of bandwidth h (Plehn et al. [plehn2022modern], Sec. 4.2.2, Eq. 4.32;
    Gretton et al. 2012, Lemma 6):

        MMD²_u = 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/(nm) Σ_ij k(x_i, y_j).

    ``x`` (n,) or (n, F), ``y`` (m,) or (m, F). Its expectation is the population MMD², which is zero
    if and only if the two densities agree; the estimate itself can be negative. For N(μ₁, σ²) and
    N(μ₂, σ²) in one dimension the population value is 2c (1 − exp(−Δμ² / 2(h² + 2σ²))) with
    c = h / √(h² + 2σ²): 0.047124 for Δμ = 0.5, σ = h = 1. O(nm) time, computed in blocks.
    """
    x, y = _as_2d(x), _as_2d(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y have different numbers of features: {x.shape[1]} and {y.shape[1]}")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("the unbiased MMD² needs at least two events in each sample")
    if not bandwidth > 0:
        raise ValueError(f"the bandwidth must be positive, got {bandwidth}")
    n, m = len(x), len(y)

    def kernel(d2):
        return np.exp(-d2 / (2.0 * bandwidth * bandwidth))

    kxx = _pairwise_sum(x, x, kernel, exclude_diagonal=True) / (n * (n - 1))
    kyy = _pairwise_sum(y, y, kernel, exclude_diagonal=True) / (m * (m - 1))
    kxy = _pairwise_sum(x, y, kernel) / (n * m)
    return float(kxx + kyy - 2.0 * kxy)


def gaussian_mmd2(delta_mu: float, sigma: float, bandwidth: float) -> float:
    """Population MMD² of N(μ, σ²) and N(μ + Δμ, σ²) in one dimension with the Gaussian kernel of
    :func:`mmd2_unbiased`: 2c (1 − exp(−Δμ² / 2(h² + 2σ²))), c = h/√(h² + 2σ²) (each kernel expectation is
    a Gaussian integral: E k(x, y) = c exp(−(μ_x − μ_y)² / 2(h² + 2σ²)))."""
    s2 = bandwidth**2 + 2.0 * sigma**2
    c = bandwidth / np.sqrt(s2)
    return float(2.0 * c * (1.0 - np.exp(-delta_mu**2 / (2.0 * s2))))


def median_heuristic(x, max_n: int = 1000, seed: int = 0) -> float:
    """The median pairwise distance of (at most ``max_n`` events of) ``x``: the usual MMD bandwidth."""
    x = _as_2d(x)
    if len(x) > max_n:
        x = x[np.random.default_rng(seed).choice(len(x), max_n, replace=False)]
    d2 = np.sum(x * x, 1)[:, None] + np.sum(x * x, 1)[None, :] - 2.0 * x @ x.T
    iu = np.triu_indices(len(x), 1)
    return float(np.sqrt(max(np.median(np.maximum(d2[iu], 0.0)), 1e-300)))


def energy_distance(x, y) -> float:
    """Energy distance of two samples in any number of dimensions (Székely and Rizzo 2013),

        D(x, y) = √( 2/(nm) Σ_ij |x_i − y_j| − 1/n² Σ_ij |x_i − x_j| − 1/m² Σ_ij |y_i − y_j| ),

    the square root of the V-statistic, in the convention of :func:`scipy.stats.energy_distance`, with
    which it agrees in one dimension to rounding (there D² = 2 ∫ (F_n − G_m)² dx; ``tests/test_metrics_generative.py``
    checks it). Zero for identical samples; it grows like the distance between the two distributions and
    is sensitive to the whole distribution, but, being a mean of distances, weakly to far tails. Features
    enter with their units: standardise them first when they differ (:func:`generator_report` does).
    """
    x, y = _as_2d(x), _as_2d(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y have different numbers of features: {x.shape[1]} and {y.shape[1]}")
    n, m = len(x), len(y)
    exy = _pairwise_sum(x, y, np.sqrt) / (n * m)
    exx = _pairwise_sum(x, x, np.sqrt) / (n * n)
    eyy = _pairwise_sum(y, y, np.sqrt) / (m * m)
    return float(np.sqrt(max(2.0 * exy - exx - eyy, 0.0)))


def c2st_auc(a, b, seed: int = 0, test_fraction: float = 0.5) -> tuple[float, float]:
    """Classifier two-sample test (Lopez-Paz and Oquab 2017): a classifier learns to tell sample ``a``
    (label 0) from sample ``b`` (label 1) on a random ``1 − test_fraction`` of the events; its ROC AUC on
    the remaining events, with DeLong's error (:func:`auc_std`), is returned as ``(auc, auc_err)``.

    By Neyman–Pearson, the best classifier learns the likelihood ratio p_b/p_a (Plehn et al.
    [plehn2022modern], Sec. 4 and Eq. 4.19), so AUC = 0.5 within its error means that this classifier
    finds no difference; AUC > 0.5 measures one, in any dimension and in correlations. The classifier
    is scikit-learn's ``HistGradientBoostingClassifier`` (100 boosting rounds of 15-leaf trees, early
    stopping on 10% of the training events), fast on 10⁴–10⁶ events and needing no standardisation.
    The AUC is a lower bound on what the best classifier reaches. The error is the test sample's only:
    over independent samples of one distribution (4000 + 4000 events, two features) the AUC scatters by
    0.011 where DeLong says 0.009, the rest being the training's own fluctuation.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import train_test_split

    a, b = _as_2d(a), _as_2d(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a and b have different numbers of features: {a.shape[1]} and {b.shape[1]}")
    if min(len(a), len(b)) < 20:
        raise ValueError("a classifier two-sample test needs at least 20 events in each sample")
    x = np.concatenate([a, b])
    y = np.r_[np.zeros(len(a), dtype=int), np.ones(len(b), dtype=int)]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed,
                                                        stratify=y)
    clf = HistGradientBoostingClassifier(max_iter=100, max_leaf_nodes=15, learning_rate=0.1,
                                         early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
                                         random_state=seed)
    clf.fit(x_train, y_train)
    score = clf.predict_proba(x_test)[:, 1]
    return auc(y_test, score), auc_std(y_test, score)


def histogram_ratio(truth, generated, edges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised histograms of two samples and their bin-by-bin comparison, for a ratio panel.

    Returns ``(ratio, ratio_err, pull)`` per bin of ``edges``: ratio = (n_g/N_g)/(n_t/N_t) with the
    Poisson error of both counts, σ_r/r = √(1/n_g + 1/n_t), and the pull
    (n_g/N_g − n_t/N_t) / √(n_g/N_g² + n_t/N_t²), which is N(0, 1) bin by bin when both samples come from
    the same distribution (NaN where both bins are empty). Events outside ``edges`` count in N but in no bin.
    """
    t, g = np.asarray(truth, dtype=float).ravel(), np.asarray(generated, dtype=float).ravel()
    nt, _ = np.histogram(t, edges)
    ng, _ = np.histogram(g, edges)
    ft, fg = nt / len(t), ng / len(g)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = fg / ft
        ratio_err = ratio * np.sqrt(1.0 / ng + 1.0 / nt)
        pull = (fg - ft) / np.sqrt(ng / len(g) ** 2 + nt / len(t) ** 2)
    return ratio, ratio_err, pull


def histogram_chi2(truth, generated, n_bins: int = 20) -> tuple[float, float]:
    """χ²/ndf and the largest |pull| of the normalised histograms of two 1D samples, in ``n_bins`` bins
    equally populated by ``truth`` (the outer bins open to ±∞, so every event counts). With the pulls of
    :func:`histogram_ratio`, χ² = Σ pull² over the non-empty bins and ndf = their number − 1 (the two
    normalisations are fixed). For two samples of one distribution χ²/ndf = 1 ± √(2/ndf) and the largest
    |pull| of 20 bins is about 2; a generator that misses a region shows up as a large pull there.
    """
    t = np.asarray(truth, dtype=float).ravel()
    inner = np.unique(np.quantile(t, np.linspace(0, 1, n_bins + 1)[1:-1]))
    edges = np.r_[-np.inf, inner, np.inf]
    _, _, pull = histogram_ratio(t, generated, edges)
    pull = pull[np.isfinite(pull)]
    if len(pull) < 2:
        raise ValueError("fewer than two non-empty bins: cannot compare the histograms")
    return float(np.sum(pull**2) / (len(pull) - 1)), float(np.max(np.abs(pull)))


def _feature_table(truth, generated, features):
    """Both samples as float64 (N, F) arrays and the feature names (a DataFrame's columns by default)."""
    import pandas as pd

    def pick(s):
        if isinstance(s, pd.DataFrame):
            return _as_2d(s[list(features)].to_numpy() if features is not None else s.to_numpy())
        return _as_2d(s)

    names = list(features) if features is not None else (
        [str(c) for c in truth.columns] if isinstance(truth, pd.DataFrame) else None)
    t, g = pick(truth), pick(generated)
    if names is None:
        names = [f"x{k}" for k in range(t.shape[1])]
    if len(names) != t.shape[1] or g.shape[1] != t.shape[1]:
        raise ValueError(f"{len(names)} feature names for samples with {t.shape[1]} and {g.shape[1]} features")
    return t, g, names


def generator_report(truth, generated, features=None, truth2=None, seed: int = 0, n_bins: int = 20,
                     max_pairs: int = 2000, max_c2st: int = 50_000):
    """The evaluation table of a generator (chapter 07; every generator of the course reports it).

    ``truth`` and ``generated`` are samples (N, F) (arrays or DataFrames; ``features`` names the columns,
    or picks them from a DataFrame). Returns a :class:`pandas.DataFrame` with one row per feature and a
    last row ``"all"`` for the joint distribution:

    * ``w1`` — the 1D Wasserstein distance (:func:`scipy.stats.wasserstein_distance`, in the feature's units);
    * ``chi2_ndf``, ``max_pull`` — the normalised histograms in ``n_bins`` truth-quantile bins
      (:func:`histogram_chi2`);
    * ``energy`` — the energy distance (per feature :func:`scipy.stats.energy_distance`; on the row
      ``all`` :func:`energy_distance` of the features standardised with the truth's mean and standard
      deviation, on at most ``max_pairs`` events of each sample);
    * ``mmd2`` — :func:`mmd2_unbiased` on the same standardised events, with the bandwidth of
      :func:`median_heuristic` on the truth (per feature: of that feature);
    * ``c2st_auc``, ``c2st_err`` — the classifier two-sample test on all features (:func:`c2st_auc`, at
      most ``max_c2st`` events of each sample; row ``all`` only).

    With ``truth2``, a second sample of the truth independent of ``truth`` (best of the same size as
    ``generated``), every column gets a twin ``<name>_floor``: the same statistic for truth vs truth2,
    the value that statistical fluctuations alone give. A generator is as good as this table can tell
    where its numbers are compatible with the floor. ``df.attrs`` holds the sample sizes and bandwidths.
    """
    import pandas as pd
    from scipy import stats as st

    t, g, names = _feature_table(truth, generated, features)
    others = {"": g}
    if truth2 is not None:
        others["_floor"] = _feature_table(truth, truth2, features)[1]
    rng = np.random.default_rng(seed)
    mean, std = t.mean(0), t.std(0)
    std = np.where(std > 0, std, 1.0)

    def sub(a, k):
        return a if len(a) <= k else a[rng.choice(len(a), k, replace=False)]

    t_pairs = (sub(t, max_pairs) - mean) / std
    bandwidth_all = median_heuristic(t_pairs, seed=seed)
    bandwidths = [median_heuristic(t_pairs[:, [k]], seed=seed) for k in range(t.shape[1])]
    t_c2st = sub(t, max_c2st)

    table = {}
    for suffix, other in others.items():
        o_pairs = (sub(other, max_pairs) - mean) / std
        cols = {c: [] for c in ("w1", "chi2_ndf", "max_pull", "energy", "mmd2", "c2st_auc", "c2st_err")}
        for k in range(t.shape[1]):
            chi2, pull = histogram_chi2(t[:, k], other[:, k], n_bins)
            cols["w1"].append(st.wasserstein_distance(t[:, k], other[:, k]))
            cols["chi2_ndf"].append(chi2)
            cols["max_pull"].append(pull)
            cols["energy"].append(st.energy_distance(t[:, k], other[:, k]))
            cols["mmd2"].append(mmd2_unbiased(t_pairs[:, [k]], o_pairs[:, [k]], bandwidths[k]))
            cols["c2st_auc"].append(np.nan)
            cols["c2st_err"].append(np.nan)
        auc_all, err_all = c2st_auc(t_c2st, sub(other, max_c2st), seed=seed)
        for c, v in (("w1", np.nan), ("chi2_ndf", np.nan), ("max_pull", np.nan),
                     ("energy", energy_distance(t_pairs, o_pairs)),
                     ("mmd2", mmd2_unbiased(t_pairs, o_pairs, bandwidth_all)),
                     ("c2st_auc", auc_all), ("c2st_err", err_all)):
            cols[c].append(v)
        for c, v in cols.items():
            table[c + suffix] = v
    order = [c + s for c in ("w1", "chi2_ndf", "max_pull", "energy", "mmd2", "c2st_auc", "c2st_err")
             for s in others]
    df = pd.DataFrame(table, index=pd.Index(names + ["all"], name="feature"))[order]
    df.attrs.update(n_truth=len(t), n_generated=len(g), n_truth2=None if truth2 is None else len(others["_floor"]),
                    mmd_bandwidth=bandwidth_all, mmd_bandwidths=dict(zip(names, bandwidths)), n_bins=n_bins,
                    seed=seed)
    return df


# ------------------------------------------------------------------ calorimeter showers
# Chapter 08: the physics validation of a shower generator against the simulator (the fast-simulation
# checks of a detector group): energy response and resolution against the incident energy, calibration
# error, per-layer energies and lateral profiles (W₁), the sparsity pattern, and the two-sample tests of
# the evaluation table. Showers are arrays (N, L, R) in GeV: L layers of R voxels (rings).


def _energy_bins(E: np.ndarray, edges):
    """The showers of each bin of the incident energy: a boolean mask per bin, at least 2 showers each."""
    idx = np.digitize(E, edges) - 1
    for b in range(len(edges) - 1):
        sel = idx == b
        if sel.sum() < 2:
            raise ValueError(f"energy bin [{edges[b]}, {edges[b + 1]}) holds {int(sel.sum())} showers: need at least 2")
        yield sel


def response_resolution(E, S, edges) -> dict:
    """Energy response ⟨S/E⟩ and relative resolution σ(S/E)/⟨S/E⟩ in bins of the incident energy ``E`` (N,),
    for visible energies ``S`` (N,). Returns a dict of arrays per bin: ``center`` (mean E), ``n``,
    ``response`` with ``response_err`` (σ/√n), ``resolution`` with ``resolution_err`` (≈ resolution/√(2(n−1)),
    the Gaussian error of a standard deviation)."""
    E, S = np.asarray(E, dtype=float), np.asarray(S, dtype=float)
    r = S / E
    out = {k: [] for k in ("center", "n", "response", "response_err", "resolution", "resolution_err")}
    for sel in _energy_bins(E, edges):
        n = int(sel.sum())
        mean, std = r[sel].mean(), r[sel].std(ddof=1)
        out["center"].append(E[sel].mean())
        out["n"].append(n)
        out["response"].append(mean)
        out["response_err"].append(std / np.sqrt(n))
        out["resolution"].append(std / mean)
        out["resolution_err"].append(std / mean / np.sqrt(2 * (n - 1)))
    return {k: np.asarray(v) for k, v in out.items()}


def fit_response(E, S, deg: int = 2) -> np.poly1d:
    """The response f(E) = Σ c_k E^k of degree ``deg`` fitted by least squares to a *held-out* reference sample
    (the target a generator is calibrated against; applications text item B8)."""
    return np.poly1d(np.polyfit(np.asarray(E, dtype=float), np.asarray(S, dtype=float), deg))


def calibration_error(E, S, f, edges) -> dict:
    """Calibration error of a conditional generator in bins of E: CE = |⟨S − f(E)⟩| with its standard error
    σ(S − f(E))/√n, and the signed bias ⟨S − f(E)⟩ (the absolute value alone is biased upwards: for a
    perfect generator E|CE| ≈ √(2/π) · stderr). ``f`` is a callable, e.g. :func:`fit_response` on a
    held-out reference or the simulator's closed form. Returns arrays per bin: ``center``, ``ce``,
    ``stderr``, ``signed``, ``z`` = signed/stderr, and ``relative`` = ce/center."""
    E, S = np.asarray(E, dtype=float), np.asarray(S, dtype=float)
    d = S - f(E)
    out = {k: [] for k in ("center", "ce", "stderr", "signed", "z", "relative")}
    for sel in _energy_bins(E, edges):
        n = int(sel.sum())
        signed, stderr = d[sel].mean(), d[sel].std(ddof=1) / np.sqrt(n)
        out["center"].append(E[sel].mean())
        out["ce"].append(abs(signed))
        out["stderr"].append(stderr)
        out["signed"].append(signed)
        out["z"].append(signed / stderr)
        out["relative"].append(abs(signed) / E[sel].mean())
    return {k: np.asarray(v) for k, v in out.items()}


def w1_binned(p, q, centers) -> float:
    """W₁ of two histograms ``p``, ``q`` (normalised here) on the same ordered bin ``centers``:
    Σ_k |C_p(k) − C_q(k)| (x_{k+1} − x_k) with the cumulative sums C (applications text item B5); equal to
    ``scipy.stats.wasserstein_distance(centers, centers, p, q)``. A shift of every bin by δ gives |δ|."""
    p, q, c = (np.asarray(a, dtype=float) for a in (p, q, centers))
    cp, cq = np.cumsum(p / p.sum()), np.cumsum(q / q.sum())
    return float(np.sum(np.abs(cp - cq)[:-1] * np.diff(c)))


def layer_profile_w1(gen, ref, centers) -> np.ndarray:
    """Per layer, W₁ (in the units of ``centers``) between the energy-weighted mean lateral profiles of two
    shower samples (N, L, R) (item B5): where the energy sits, layer by layer. (L,)"""
    g, r = np.asarray(gen, dtype=float).sum(0), np.asarray(ref, dtype=float).sum(0)     # (L, R)
    return np.array([w1_binned(g[l], r[l], centers) for l in range(g.shape[0])])


def layer_energy_w1(gen, ref, E_gen, E_ref) -> np.ndarray:
    """Per layer, the 1D W₁ between the distributions of the layer energy fraction E_l/E_inc of two shower
    samples (N, L, R) with their incident energies. (L,)"""
    from scipy.stats import wasserstein_distance

    fg = np.asarray(gen, dtype=float).sum(2) / np.asarray(E_gen, dtype=float)[:, None]
    fr = np.asarray(ref, dtype=float).sum(2) / np.asarray(E_ref, dtype=float)[:, None]
    return np.array([wasserstein_distance(fg[:, l], fr[:, l]) for l in range(fg.shape[1])])


def sparsity(x) -> np.ndarray:
    """The fraction of showers in which each voxel reads zero: (L, R)."""
    return (np.asarray(x) == 0).mean(axis=0)


def shower_features(x, E) -> np.ndarray:
    """The features of the two-sample tests of :func:`shower_report`: log E_inc and every voxel over E_inc,
    (N, 1 + L·R)."""
    x, E = np.asarray(x, dtype=float), np.asarray(E, dtype=float)
    return np.concatenate([np.log(E)[:, None], x.reshape(len(x), -1) / E[:, None]], axis=1)


def shower_report(ref, E_ref, gen, E_gen, centers, edges, f, ref2=None, E_ref2=None, seed: int = 0,
                  max_pairs: int = 2000):
    """The physics validation of a shower generator: one row per check, the generated sample against the
    reference ``ref`` (N, L, R) in column ``generated`` and, with a second independent reference ``ref2``,
    the same check for ref2 against ref in column ``floor`` (what statistics alone give; a generator passes
    where it is compatible with the floor). ``f`` is the target response for the calibration error,
    ``edges`` the incident-energy bins, ``centers`` the ring radii. Rows:

    * ``response`` — max over bins |⟨S/E⟩ − ⟨S/E⟩_ref|; ``resolution`` — max over bins |σ/σ_ref − 1|;
    * ``calibration`` — mean over bins of CE/E (:func:`calibration_error`); ``calibration_z`` — mean |z|;
    * ``w1_layer_energy_l`` (fraction of E_inc) and ``w1_profile_l`` (R_M) per layer;
    * ``sparsity`` — max over voxels of the difference of the zero fractions;
    * ``energy_distance`` (:func:`energy_distance` of the standardised :func:`shower_features`, at most
      ``max_pairs`` showers of each sample), ``c2st_auc`` and ``c2st_err`` (:func:`c2st_auc`) — the joint
      tests of the evaluation table of chapter 07 (:func:`generator_report`).
    """
    import pandas as pd

    def checks(x, E):
        rr, rx = response_resolution(E_ref, np.asarray(ref).sum((1, 2)), edges), \
            response_resolution(E, np.asarray(x).sum((1, 2)), edges)
        ce = calibration_error(E, np.asarray(x).sum((1, 2)), f, edges)
        row = {"response": np.max(np.abs(rx["response"] - rr["response"])),
               "resolution": np.max(np.abs(rx["resolution"] / rr["resolution"] - 1)),
               "calibration": ce["relative"].mean(), "calibration_z": np.abs(ce["z"]).mean()}
        for l, v in enumerate(layer_energy_w1(x, ref, E, E_ref)):
            row[f"w1_layer_energy_{l}"] = v
        for l, v in enumerate(layer_profile_w1(x, ref, centers)):
            row[f"w1_profile_{l}"] = v
        row["sparsity"] = np.max(np.abs(sparsity(x) - sparsity(ref)))
        a, b = shower_features(ref, E_ref), shower_features(x, E)
        mean, std = a.mean(0), np.where(a.std(0) > 0, a.std(0), 1.0)
        rng = np.random.default_rng(seed)
        sub_a = a[rng.permutation(len(a))[:max_pairs]]
        sub_b = b[rng.permutation(len(b))[:max_pairs]]
        row["energy_distance"] = energy_distance((sub_a - mean) / std, (sub_b - mean) / std)
        row["c2st_auc"], row["c2st_err"] = c2st_auc(a, b, seed=seed)
        return row

    table = {"generated": checks(gen, E_gen)}
    if ref2 is not None:
        table["floor"] = checks(ref2, E_ref2)
    return pd.DataFrame(table)
# ----------------------------------------------------------------------- posterior diagnostics
# Chapter 09: is a learned posterior the right one? A classifier two-sample test against samples of
# the exact posterior (:func:`c2st_auc`, above), the expected coverage of its credible intervals, and
# simulation-based calibration (the PDG review [pdg2025ml], Sec. 41.6, "calibration"; Talts et al. 2018).


def posterior_quantile(samples, truth) -> np.ndarray:
    """The posterior CDF at the true parameter, estimated from posterior samples: the fraction of the
    samples (M, S) of each of M posteriors that lie below its truth (M,). Uniform on [0, 1] for a
    calibrated posterior, averaged over the prior."""
    samples, truth = np.asarray(samples, dtype=float), np.asarray(truth, dtype=float)
    return np.mean(samples < truth[:, None], axis=1)


def expected_coverage(quantiles, levels) -> np.ndarray:
    """Expected coverage of central credible intervals: for each credibility level α of ``levels``, the
    fraction of the M posteriors whose central α-interval [q_{(1−α)/2}, q_{(1+α)/2}] contains the truth,
    i.e. |u − ½| ≤ α/2 for u the posterior CDF at the truth (:func:`posterior_quantile`). A calibrated
    posterior gives coverage = α (the diagonal); below it the posterior is overconfident (too narrow or
    biased), above it conservative. Binomial error of each point: √(α(1 − α)/M)."""
    u = np.asarray(quantiles, dtype=float)
    levels = np.asarray(levels, dtype=float)
    return np.mean(np.abs(u[None, :] - 0.5) <= levels[:, None] / 2 + 1e-12, axis=1)


def hpd_coverage(log_prob_samples, log_prob_truth, levels) -> np.ndarray:
    """Expected coverage of highest-posterior-density regions (any dimension): the truth lies in the
    α-HPD region of its posterior when the fraction of posterior samples with a higher density than the
    truth's is at most α. ``log_prob_samples`` (M, S): the posterior's log density at S of its own samples;
    ``log_prob_truth`` (M,): at the truth. Calibrated: coverage = α."""
    lps, lpt = np.asarray(log_prob_samples, dtype=float), np.asarray(log_prob_truth, dtype=float)
    frac = np.mean(lps > lpt[:, None], axis=1)                               # (M,)
    return np.mean(frac[None, :] <= np.asarray(levels, dtype=float)[:, None], axis=1)


def sbc_ranks(samples, truth) -> np.ndarray:
    """Simulation-based calibration (Talts et al. 2018): the rank of each truth among its L posterior
    samples, the number of samples below it: integers 0 … L, (M,). If θ ~ prior, x ~ p(x|θ) and the
    samples come from the right posterior, the ranks are uniform on {0, …, L}."""
    samples, truth = np.asarray(samples, dtype=float), np.asarray(truth, dtype=float)
    return np.sum(samples < truth[:, None], axis=1)


def sbc_uniformity(ranks, n_samples: int, n_bins: int = 10) -> tuple[np.ndarray, float]:
    """Histogram of SBC ranks (0 … ``n_samples``) in ``n_bins`` equal bins and the p-value of a χ² test of
    uniformity. (n_samples + 1) should be a multiple of n_bins, so each bin holds as many ranks."""
    ranks = np.asarray(ranks)
    if (n_samples + 1) % n_bins:
        raise ValueError(f"n_samples + 1 = {n_samples + 1} is not a multiple of n_bins = {n_bins}")
    counts = np.bincount(ranks * n_bins // (n_samples + 1), minlength=n_bins)
    return counts, float(_stats.chisquare(counts).pvalue)


# ------------------------------------------------------------------ binned KL divergence (chapter 08)
def binned_kl(p, q, eps: float = 0.0) -> float:
    """Kullback–Leibler divergence in nats of two histograms (each normalised to unit sum here),

        KL(P ‖ Q) = Σ_k P_k ln(P_k / Q_k),

    after adding the pseudo-count ``eps`` to every bin of both (so that KL stays finite where Q_k = 0 < P_k).
    Asymmetric, ≥ 0, zero for P = Q; equal to ``scipy.stats.entropy(p + eps, q + eps)``. On finite samples it
    is biased upwards (≈ (bins − 1)/(2N) per sample for P = Q): compare it with the floor of two samples of
    the same distribution.
    """
    p, q = np.asarray(p, dtype=float).ravel() + eps, np.asarray(q, dtype=float).ravel() + eps
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in size: {p.shape} and {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0 or np.any(p < 0) or np.any(q < 0):
        raise ValueError("histograms need non-negative entries and a positive sum")
    p, q = p / p.sum(), q / q.sum()
    nz = p > 0
    if np.any(q[nz] == 0):
        return float("inf")
    return float(np.sum(p[nz] * np.log(p[nz] / q[nz])))


def grouped_kl_bootstrap(bin_a, group_a, n_groups_a: int, bin_b, group_b, n_groups_b: int, n_bins: int,
                         eps: float = 0.5, n_boot: int = 200, seed: int = 0) -> tuple[float, float]:
    """``(KL, σ_bootstrap)`` of :func:`binned_kl` between two samples whose entries come in groups — the
    emissions of a jet in a Lund plane: entry i of sample a falls in bin ``bin_a[i]`` (0 … n_bins − 1) and
    belongs to group ``group_a[i]`` (0 … n_groups_a − 1). The bootstrap resamples whole groups (jets) with
    replacement in both samples (multinomial weights per group), so correlations between the entries of
    a group are kept; σ is the standard deviation of the bootstrap replicas."""
    rng = np.random.default_rng(seed)
    bin_a, group_a = np.asarray(bin_a, dtype=np.int64), np.asarray(group_a, dtype=np.int64)
    bin_b, group_b = np.asarray(bin_b, dtype=np.int64), np.asarray(group_b, dtype=np.int64)

    def hist(bins, groups, weights):
        return np.bincount(bins, weights=weights[groups], minlength=n_bins)

    kl = binned_kl(hist(bin_a, group_a, np.ones(n_groups_a)), hist(bin_b, group_b, np.ones(n_groups_b)), eps)
    reps = np.empty(n_boot)
    for k in range(n_boot):
        wa = np.bincount(rng.integers(0, n_groups_a, n_groups_a), minlength=n_groups_a).astype(float)
        wb = np.bincount(rng.integers(0, n_groups_b, n_groups_b), minlength=n_groups_b).astype(float)
        reps[k] = binned_kl(hist(bin_a, group_a, wa), hist(bin_b, group_b, wb), eps)
    return kl, float(reps.std(ddof=1))


# ------------------------------------------------------ differentiable 1D Wasserstein distance (chapter 08)
def w1_sorted(a, b):
    """W₁ of two 1D samples of the same size n by sorting (the optimal transport of equal-weight points on a
    line pairs them in order):

        W₁ = (1/n) Σ_k |a_(k) − b_(k)|,     ∂W₁/∂a_(k) = sign(a_(k) − b_(k)) / n.

    Equal to ``scipy.stats.wasserstein_distance(a, b)`` for equal sizes. NumPy arrays give a float; torch
    tensors give a 0-d tensor through which gradients flow (a loss term, such as the physics penalty of a
    diffusion model, chapter 08)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.sort(np.asarray(a, dtype=float).ravel()), np.sort(np.asarray(b, dtype=float).ravel())
        if a.shape != b.shape:
            raise ValueError(f"w1_sorted needs samples of equal size, got {a.size} and {b.size}")
        return float(np.abs(a - b).mean())
    a, b = a.reshape(-1), b.reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"w1_sorted needs samples of equal size, got {a.numel()} and {b.numel()}")
    return (a.sort().values - b.sort().values).abs().mean()
