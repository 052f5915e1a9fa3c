"""Performance metrics of a classifier, in the conventions of particle physics.

Notation (seed 003, Sec. 1.2.1): a cut ``score > t`` tags an event as signal. The signal
efficiency (true positive rate) is ε_S(t) = s_tagged / s_truth and the background efficiency
(false positive rate, mis-identification rate) is ε_B(t) = b_tagged / b_truth. The ROC curve
is the set of points (ε_S(t), ε_B(t)); the background *rejection* is 1/ε_B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
