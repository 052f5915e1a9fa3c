"""Performance metrics of a classifier, in the conventions of particle physics.

Notation (seed 003, Sec. 1.2.1): a cut ``score > t`` tags an event as signal. The signal
efficiency (true positive rate) is ε_S(t) = s_tagged / s_truth and the background efficiency
(false positive rate, mis-identification rate) is ε_B(t) = b_tagged / b_truth. The ROC curve
is the set of points (ε_S(t), ε_B(t)); the background *rejection* is 1/ε_B.

Besides the ROC curve of one score (:func:`roc_curve`, :func:`auc`, :func:`rejection_at`), the
module gives the statistical error of an AUC (:func:`auc_std`, DeLong), the ROC curve of the best
member of a family of selections such as rectangular cuts (:func:`best_selection_roc`), and the
significance of a counting experiment (:func:`significance_improvement`, :func:`asimov_significance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as _stats
from sklearn import metrics as _skm


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


def roc_curve(y, score, weight=None) -> ROC:
    """The ROC curve of ``score`` for labels ``y`` (1 = signal, 0 = background).

    Thin wrapper of :func:`sklearn.metrics.roc_curve` (event weights allowed) with
    the physics names ε_S (true positive rate) and ε_B (false positive rate).
    """
    y, score, w = _labels_scores(y, score, weight)
    eps_b, eps_s, thr = _skm.roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    return ROC(eps_s=eps_s, eps_b=eps_b, thresholds=thr)


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve, AUC = P(score_S > score_B) + ½ P(score_S = score_B).

    0.5 for a random guess, 1 for perfect separation; invariant under any strictly increasing
    transformation of the score.
    """
    y, score, w = _labels_scores(y, score, weight)
    return float(_skm.roc_auc_score(y, score, sample_weight=w))


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
    s, b = score[y == 1], score[y == 0]
    if len(s) < 2 or len(b) < 2:
        raise ValueError("the DeLong variance needs at least two signal and two background events")
    rank_all = _stats.rankdata(np.concatenate([s, b]))
    v_s = (rank_all[: len(s)] - _stats.rankdata(s)) / len(b)        # background fraction below each signal event
    v_b = 1.0 - (rank_all[len(s):] - _stats.rankdata(b)) / len(s)   # signal fraction above each background event
    return float(np.sqrt(v_s.var(ddof=1) / len(s) + v_b.var(ddof=1) / len(b)))


def best_selection_roc(eps_s, eps_b) -> ROC:
    """The ROC curve of the best member of a family of selections (its Pareto front).

    ``eps_s`` and ``eps_b`` (any shape, e.g. a grid of cut pairs) are the signal and background
    efficiencies of each selection. A selection is kept when no other one has at least its ε_S and
    at most its ε_B (of exact duplicates, one is kept): at each ε_S, the curve gives the smallest ε_B among the selections that keep at
    least that ε_S,

        ε_B*(ε_S) = min { ε_B(k) : ε_S(k) ≥ ε_S }.

    The trivial selections "keep nothing" (0, 0) and "keep everything" (1, 1) close the curve.
    Between two kept selections :meth:`ROC.rejection_at` and :attr:`ROC.auc` interpolate linearly,
    which a random mixture of the two selections achieves. Thresholds are NaN (a family of cuts
    has no single threshold). This is how the ROC curve of "the best rectangular cuts" is drawn;
    chosen and evaluated on the same events, it is slightly optimistic.
    """
    es = np.asarray(eps_s, dtype=float).ravel()
    eb = np.asarray(eps_b, dtype=float).ravel()
    if es.shape != eb.shape:
        raise ValueError(f"eps_s and eps_b differ in size: {es.shape} vs {eb.shape}")
    if not (np.all(np.isfinite(es)) and np.all(np.isfinite(eb))) or np.any((es < 0) | (es > 1) | (eb < 0) | (eb > 1)):
        raise ValueError("efficiencies must be finite and lie in [0, 1]")
    es, eb = np.r_[0.0, es], np.r_[0.0, eb]                           # "keep nothing" is always available
    order = np.lexsort((eb, -es))                                     # decreasing ε_S, then increasing ε_B
    es, eb = es[order], eb[order]
    front = eb < np.r_[np.inf, np.minimum.accumulate(eb)[:-1]]        # smaller ε_B than every selection with more ε_S
    es, eb = es[front][::-1], eb[front][::-1]
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
