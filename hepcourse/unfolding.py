"""Unfolding: the response matrix, its inverse, iterative Bayesian unfolding and OmniFold (chapter 09).

Conventions. A response matrix ``R`` (n_reco, n_true) holds R_ij = P(reco bin i | true bin j), so a
particle-level histogram t folds into the expected detector-level histogram d = R t (Plehn et al.
[plehn2022modern], Eq. 6.1); a column sums to the efficiency of its true bin (1 when every event is
reconstructed somewhere). Histograms are event counts. Ratio estimators (the "classifiers" of
OmniFold) have the signature ``ratio(x_num, w_num, x_den, w_den) -> callable r`` with r(x) ≈
p_num(x)/p_den(x), the two weighted samples each normalised to unit total weight.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RatioEstimator = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], Callable[[np.ndarray], np.ndarray]]


# ------------------------------------------------------------------------------------ binned unfolding
def smearing_matrix(eps: float, n_bins: int = 3) -> np.ndarray:
    """The toy smearing matrix of Plehn et al. [plehn2022modern], Eq. 6.3, for ``n_bins`` bins: a fraction ε of
    each bin migrates to each neighbour (1 − 2ε stays; 1 − ε in the edge bins, which have one neighbour).
    Symmetric, columns sum to one, so a flat spectrum is unchanged (Eq. 6.4)."""
    if n_bins < 2:
        raise ValueError("a smearing matrix needs at least 2 bins")
    g = (1 - 2 * eps) * np.eye(n_bins) + eps * (np.eye(n_bins, k=1) + np.eye(n_bins, k=-1))
    g[0, 0] = g[-1, -1] = 1 - eps
    return g


def approximate_inverse(eps: float) -> np.ndarray:
    """Plehn et al. [plehn2022modern], Eq. 6.5: the inverse of the 3 × 3 smearing matrix to leading order in ε,

        Ḡ ≈ 1/(1 − 4ε) [[1 − 3ε, −ε, ε²], [−ε, 1 − 2ε, −ε], [ε², −ε, 1 − 3ε]],

    which differs from the exact inverse by at most 3ε² for ε ≤ 0.05. The ε² in the corners shows that
    local smearing needs a global unfolding matrix."""
    e = float(eps)
    return np.array([[1 - 3 * e, -e, e * e], [-e, 1 - 2 * e, -e], [e * e, -e, 1 - 3 * e]]) / (1 - 4 * e)


def _digitize(x, edges) -> np.ndarray:
    """Bin index 0 … n−1 of each value; values outside the edges go to the first or last bin."""
    return np.clip(np.searchsorted(np.asarray(edges), np.asarray(x, dtype=float), side="right") - 1, 0, len(edges) - 2)


def response_matrix(x_true, x_reco, edges_true, edges_reco, weights=None, overflow: bool = True) -> np.ndarray:
    """R (n_reco, n_true): R_ij = P(reco bin i | true bin j) from paired simulated events.

    With ``overflow`` (default) values outside the edges are put into the first or last bin, so
    every column sums to one; without it events reconstructed outside ``edges_reco`` are lost
    (the column sums are the efficiencies) and events outside ``edges_true`` are ignored.
    """
    x_true, x_reco = np.asarray(x_true, dtype=float), np.asarray(x_reco, dtype=float)
    w = np.ones_like(x_true) if weights is None else np.asarray(weights, dtype=float)
    nt, nr = len(edges_true) - 1, len(edges_reco) - 1
    if overflow:
        it, ir, keep = _digitize(x_true, edges_true), _digitize(x_reco, edges_reco), np.ones(x_true.size, bool)
    else:
        it = np.searchsorted(edges_true, x_true, side="right") - 1
        ir = np.searchsorted(edges_reco, x_reco, side="right") - 1
        keep = (it >= 0) & (it < nt)
        ir = np.where((ir >= 0) & (ir < nr), ir, nr)                      # nr = "not reconstructed"
    counts = np.zeros((nr + 1, nt))
    np.add.at(counts, (ir[keep], it[keep]), w[keep])
    n_true = counts.sum(0)
    return counts[:nr] / np.where(n_true > 0, n_true, 1.0)


def fold(R: np.ndarray, t) -> np.ndarray:
    """The expected detector-level histogram d = R t (Eq. 6.1)."""
    return np.asarray(R, dtype=float) @ np.asarray(t, dtype=float)


def unfold_inverse(d, R: np.ndarray) -> np.ndarray:
    """t̂ = R⁻¹ d (Eq. 6.2; least squares if R is not square): unbiased, but it amplifies the
    statistical fluctuations of d (see :func:`inverse_covariance`)."""
    R, d = np.asarray(R, dtype=float), np.asarray(d, dtype=float)
    if R.shape[0] == R.shape[1]:
        return np.linalg.solve(R, d)
    return np.linalg.lstsq(R, d, rcond=None)[0]


def inverse_covariance(R: np.ndarray, d) -> np.ndarray:
    """Covariance of t̂ = R⁻¹ d for Poisson-distributed counts of mean d: R⁻¹ diag(d) R⁻ᵀ."""
    Rinv = np.linalg.inv(np.asarray(R, dtype=float))
    return Rinv @ np.diag(np.asarray(d, dtype=float)) @ Rinv.T


def ibu(d, R: np.ndarray, prior=None, n_iter: int = 4, return_all: bool = False) -> np.ndarray:
    """Iterative Bayesian unfolding (D'Agostini 1995; Plehn et al. [plehn2022modern], Eq. 6.7 applied per bin):

        t_j^(n) = (t_j^(n−1) / ε_j) Σ_i R_ij d_i / Σ_k R_ik t_k^(n−1),     ε_j = Σ_i R_ij,

    starting from ``prior`` (default: flat with the total of d). Each step is Bayes' theorem with the
    previous result as prior, i.e. one step of expectation–maximisation of the Poisson likelihood; it
    converges to the inverse R⁻¹ d when that is non-negative, and stopping early regularises (fewer
    iterations: smaller variance, more prior dependence). Returns t^(n_iter) (n_true,), or every
    iterate (n_iter + 1, n_true) starting with the prior if ``return_all``.
    """
    R, d = np.asarray(R, dtype=float), np.asarray(d, dtype=float)
    eff = R.sum(0)
    t = np.full(R.shape[1], d.sum() / R.shape[1]) if prior is None else np.asarray(prior, dtype=float).copy()
    out = [t]
    for _ in range(n_iter):
        folded = R @ t                                                      # (n_reco,)
        ratio = np.divide(d, folded, out=np.zeros_like(d), where=folded > 0)
        t = t / np.where(eff > 0, eff, 1.0) * (R.T @ ratio)
        out.append(t)
    return np.array(out) if return_all else t


# ------------------------------------------------------------------------------------ ratio estimators
def _normalised(w, n) -> np.ndarray:
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    return w / w.sum()


def hist_ratio(edges) -> RatioEstimator:
    """A binned ratio estimator: r(x) = (fraction of the numerator's weight in x's bin) / (the same for the
    denominator), for 1D samples. Values outside ``edges`` count in the first or last bin. With it,
    :func:`omnifold` is iterative Bayesian unfolding (Andreassen et al. 2020; applications item A11)."""
    edges = np.asarray(edges, dtype=float)

    def estimator(x_num, w_num, x_den, w_den):
        n = len(edges) - 1
        hn = np.bincount(_digitize(x_num, edges), _normalised(w_num, len(x_num)), minlength=n)
        hd = np.bincount(_digitize(x_den, edges), _normalised(w_den, len(x_den)), minlength=n)
        r = np.divide(hn, hd, out=np.zeros(n), where=hd > 0)
        return lambda x: r[_digitize(x, edges)]

    return estimator


def _features(x, degree: int) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    cols = [x]
    if degree >= 2:
        iu = np.triu_indices(x.shape[1])
        cols.append((x[:, :, None] * x[:, None, :])[:, iu[0], iu[1]])     # x_a x_b, a ≤ b
    return np.concatenate(cols, axis=1)


def logistic_ratio(degree: int = 2, C: float = 1e4) -> RatioEstimator:
    """A classifier ratio estimator: logistic regression (scikit-learn) on the polynomial features of x
    up to ``degree`` (2: x_a and x_a x_b), trained with the two samples' weights normalised to equal totals,
    so r(x) = D/(1 − D) = exp(logit) (Plehn et al. [plehn2022modern], Eq. 4.94; PDG review Eq. 41.13).
    Exact in the large-sample limit when log p_num/p_den is a polynomial of that degree (two Gaussians:
    degree 2)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def estimator(x_num, w_num, x_den, w_den):
        f = np.concatenate([_features(x_num, degree), _features(x_den, degree)])
        scaler = StandardScaler().fit(f)
        y = np.concatenate([np.ones(len(x_num)), np.zeros(len(x_den))])
        w = np.concatenate([_normalised(w_num, len(x_num)), _normalised(w_den, len(x_den))]) * len(y) / 2
        clf = LogisticRegression(C=C, max_iter=1000).fit(scaler.transform(f), y, sample_weight=w)
        return lambda x: np.exp(clf.decision_function(scaler.transform(_features(x, degree))))

    return estimator


def network_ratio(hidden: tuple[int, ...] = (32, 32), epochs: int = 10, lr: float = 3e-3, batch_size: int = 512,
                  seed: int = 0, device=None) -> RatioEstimator:
    """A neural-network ratio estimator: an :class:`~hepcourse.models.MLP` classifier trained with
    :func:`hepcourse.train.fit` on the weighted binary cross-entropy (both samples normalised to equal
    totals), inputs standardised; r(x) = exp(logit) = D/(1 − D) (PDG review Eq. 41.13)."""
    import torch

    from . import losses, train
    from .models import MLP, MLPConfig

    def estimator(x_num, w_num, x_den, w_den):
        x = np.concatenate([np.asarray(x_num, dtype=float), np.asarray(x_den, dtype=float)])
        x = x[:, None] if x.ndim == 1 else x                                # (N, D)
        mu, sd = x.mean(0), x.std(0) + 1e-12
        y = np.concatenate([np.ones(len(x_num)), np.zeros(len(x_den))])
        w = np.concatenate([_normalised(w_num, len(x_num)), _normalised(w_den, len(x_den))]) * len(y) / 2
        net = MLP(MLPConfig(n_in=x.shape[1], hidden=hidden, activation="silu"))

        def loss(model, batch):
            xb, yb, wb = batch
            return losses.bce_with_logits(model(xb)[:, 0], yb, wb)

        train.fit(net, loss, train.TensorLoader(((x - mu) / sd).astype(np.float32), y.astype(np.float32),
                                                w.astype(np.float32), batch_size=batch_size, seed=seed),
                  cfg=train.TrainConfig(epochs=epochs, lr=lr, patience=None, seed=seed, schedule="cosine",
                                        progress=False), device=device or torch.device("cpu"))

        def r(xq):
            xq = np.asarray(xq, dtype=float)
            xq = xq[:, None] if xq.ndim == 1 else xq
            return np.exp(np.clip(train.predict(net, ((xq - mu) / sd).astype(np.float32),
                                                device=device or torch.device("cpu"))[:, 0], -30, 30))

        return r

    return estimator



def boosted_ratio(max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                  min_samples_leaf: int = 100, seed: int = 0) -> RatioEstimator:
    """A classifier ratio estimator from gradient-boosted decision trees (scikit-learn's
    ``HistGradientBoostingClassifier``, no early stopping): trained with the two samples' weights normalised to
    equal totals, r(x) = D/(1 − D) = exp(decision function) (PDG review Eq. 41.13). Fast and flexible on a few
    tabular observables (jet mass, N-subjettiness, multiplicity), with no feature scaling needed."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    def estimator(x_num, w_num, x_den, w_den):
        x = np.concatenate([np.asarray(x_num, dtype=float), np.asarray(x_den, dtype=float)])
        x = x[:, None] if x.ndim == 1 else x                                # (N, D)
        y = np.concatenate([np.ones(len(x_num)), np.zeros(len(x_den))])
        w = np.concatenate([_normalised(w_num, len(x_num)), _normalised(w_den, len(x_den))]) * len(y) / 2
        clf = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=learning_rate,
                                             max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
                                             early_stopping=False, random_state=seed).fit(x, y, sample_weight=w)

        def r(xq):
            xq = np.asarray(xq, dtype=float)
            return np.exp(np.clip(clf.decision_function(xq[:, None] if xq.ndim == 1 else xq), -30, 30))

        return r

    return estimator

# ------------------------------------------------------------------------------------ OmniFold
def omnifold(xp_sim, xr_sim, xr_data, n_iter: int = 4, ratio: RatioEstimator | None = None,
             w_data=None, return_step1: bool = False):
    """OmniFold (Andreassen et al. 2020; Plehn et al. [plehn2022modern], Sec. 6.1, Eqs. 6.8–6.10) on paired
    simulated events (x_p, x_r) and detector-level data.

    Starting from ν₀ = 1, iteration n
      1. reweights the detector-level simulation to the data: ω_n = ν_{n−1} · r₁(x_r), with r₁ the ratio of
         the data to the ν_{n−1}-weighted simulation (step 1 of Eq. 6.8), pulled to particle level through
         the pairs (step 2);
      2. turns the pulled per-event weights into a function of x_p: ν_n = ν_{n−1} · r₂(x_p), with r₂ the
         ratio of the ω_n-weighted to the ν_{n−1}-weighted particle-level simulation (step 3), which is
         pushed to detector level by the pairing for the next iteration (step 4).
    The unfolded distribution is ν_n p_sim(x_p) (Eq. 6.10). ``ratio`` defaults to :func:`logistic_ratio`;
    with :func:`hist_ratio` the iteration is IBU.

    Returns ν (n_iter, N_sim), normalised to mean 1 [and ω (n_iter, N_sim) if ``return_step1``].
    """
    ratio = ratio or logistic_ratio()
    xp_sim, xr_sim, xr_data = (np.asarray(a, dtype=float) for a in (xp_sim, xr_sim, xr_data))
    nu = np.ones(len(xp_sim))
    nus, omegas = [], []
    for _ in range(n_iter):
        omega = nu * ratio(xr_data, w_data, xr_sim, nu)(xr_sim)
        omega *= len(omega) / omega.sum()
        nu = nu * ratio(xp_sim, omega, xp_sim, nu)(xp_sim)
        nu *= len(nu) / nu.sum()
        nus.append(nu)
        omegas.append(omega)
    return (np.array(nus), np.array(omegas)) if return_step1 else np.array(nus)


def weighted_moments(x, w=None) -> tuple[float, float]:
    """Weighted mean and standard deviation of a 1D sample."""
    x = np.asarray(x, dtype=float)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=float)
    m = float(np.average(x, weights=w))
    return m, float(np.sqrt(np.average((x - m) ** 2, weights=w)))


def effective_size(w) -> float:
    """Kish's effective number of events of a weighted sample, (Σw)²/Σw²."""
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w))


def weighted_hist(x, edges, w=None) -> tuple[np.ndarray, np.ndarray]:
    """Counts Σw per bin and their statistical variance Σw² (values outside the edges in the first or last bin)."""
    idx = _digitize(x, edges)
    w = np.ones(len(idx)) if w is None else np.asarray(w, dtype=float)
    n = len(edges) - 1
    return np.bincount(idx, w, minlength=n), np.bincount(idx, w * w, minlength=n)


def closure(unfolded, truth, var_unfolded=None, var_truth=None, min_count: float = 50.0) -> dict:
    """Closure of an unfolded histogram against the particle-level truth it should reproduce:

        χ²/ndf = (1/n) Σ_i (u_i − t_i)² / (σ²_{u,i} + σ²_{t,i})

    over the n bins with t_i > 0, with σ²_t = t (Poisson) unless ``var_truth`` is given and σ²_u =
    ``var_unfolded`` (default 0), and the largest relative deviation |u_i − t_i|/t_i over the bins with at
    least ``min_count`` true entries. Returns ``{"chi2_ndf", "ndf", "max_rel_dev"}``."""
    u, t = np.asarray(unfolded, dtype=float), np.asarray(truth, dtype=float)
    vu = np.zeros_like(u) if var_unfolded is None else np.asarray(var_unfolded, dtype=float)
    vt = t if var_truth is None else np.asarray(var_truth, dtype=float)
    m = t > 0
    big = t >= min_count
    return {"chi2_ndf": float(np.sum((u - t)[m] ** 2 / (vu + vt)[m]) / m.sum()), "ndf": int(m.sum()),
            "max_rel_dev": float(np.max(np.abs(u - t)[big] / t[big])) if big.any() else float("nan")}
