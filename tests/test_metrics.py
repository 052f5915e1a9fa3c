"""hepcourse.metrics against closed forms and hand-made examples."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics
from hepcourse.physics import toys


def test_auc_of_gauss1d_matches_closed_form():
    x, y = toys.GAUSS_1D.sample(100_000, 100_000, np.random.default_rng(0))
    # Φ(√2) = 0.92135; the AUC estimate's σ for 10⁵ + 10⁵ events is ≈ 6e-4
    assert metrics.auc(y, x[:, 0]) == pytest.approx(stats.norm.cdf(np.sqrt(2)), abs=0.0025)


def test_auc_of_exact_ratio_on_gauss2d_matches_quadrature():
    # Independent reference: P(log r_S > log r_B) by quadrature of the two densities on a grid.
    g = np.linspace(-12, 12, 801)
    dx = g[1] - g[0]
    pts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    ps = stats.multivariate_normal([1, 1], [[1, 0.5], [0.5, 1]]).pdf(pts) * dx * dx
    pb = stats.multivariate_normal([0, 0], [[2, 0], [0, 2]]).pdf(pts) * dx * dx
    lr = np.log(ps) - np.log(pb)
    order = np.argsort(-lr)
    b_above = np.cumsum(pb[order]) - pb[order] / 2
    auc_quadrature = 1 - np.sum(ps[order] * b_above)
    assert auc_quadrature == pytest.approx(0.8366, abs=5e-4)

    x, y = toys.GAUSS_2D.sample(100_000, 100_000, np.random.default_rng(1))
    auc_mc = metrics.auc(y, toys.GAUSS_2D.log_likelihood_ratio(x))
    assert auc_mc == pytest.approx(auc_quadrature, abs=0.004)
    # no single observable reaches the optimum: x1 alone has Φ(1/√3) = 0.718
    assert metrics.auc(y, x[:, 0]) == pytest.approx(stats.norm.cdf(1 / np.sqrt(3)), abs=0.004)


def test_rejection_interpolates_on_hand_made_roc():
    # 4 signal and 4 background scores; best ROC points (0,0) (¼,0) (½,¼) (¾,½) (1,¾)
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([4.0, 3.0, 2.0, 1.0, 3.5, 2.5, 1.5, 0.5])
    assert metrics.rejection_at(y, s, 0.5) == pytest.approx(4.0)
    assert metrics.rejection_at(y, s, 0.375) == pytest.approx(8.0)      # ε_B = 0.125
    assert metrics.rejection_at(y, s, 0.6) == pytest.approx(1 / 0.35)
    assert metrics.rejection_at(y, s, 0.25) == np.inf                   # no background passes
    np.testing.assert_allclose(metrics.rejection_at(y, s, [0.5, 0.375]), [4.0, 8.0])


def test_rejection_of_gauss1d_matches_closed_form():
    x, y = toys.GAUSS_1D.sample(200_000, 400_000, np.random.default_rng(2))
    for eps_s, closed in [(0.5, 43.96), (0.3, 172.6)]:
        assert 1 / toys.gauss1d_eps_b(eps_s) == pytest.approx(closed, abs=0.05)
        assert metrics.rejection_at(y, x[:, 0], eps_s) == pytest.approx(closed, rel=0.1)


def test_auc_ties_and_invariances():
    y = np.array([1, 1, 0, 0])
    assert metrics.auc(y, [1.0, 2.0, 1.0, 0.0]) == pytest.approx(0.875)  # a tie counts ½
    rng = np.random.default_rng(3)
    x, y = toys.GAUSS_1D.sample(500, 500, rng)
    s = x[:, 0]
    assert metrics.auc(y, np.exp(s)) == pytest.approx(metrics.auc(y, s))
    assert metrics.auc(y, -s) == pytest.approx(1 - metrics.auc(y, s))
    assert metrics.roc_curve(y, s).auc == pytest.approx(metrics.auc(y, s))


def test_weights_count_as_repeated_events():
    y = np.array([1, 1, 0, 0, 0])
    s = np.array([0.9, 0.2, 0.5, 0.1, 0.3])
    w = np.array([2, 1, 1, 3, 1])
    assert metrics.auc(y, s, w) == pytest.approx(metrics.auc(np.repeat(y, w), np.repeat(s, w)))


def test_significance_improvement_is_eps_s_over_sqrt_eps_b():
    y = np.array([1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.6, 0.7, 0.3, 0.2, 0.1])
    eps_s, sic = metrics.significance_improvement(y, s)
    # the cut s > 0.65 (keeping 0.9 and 0.7) gives ε_S = ½, ε_B = ¼, SIC = 1
    assert any(np.isclose(e, 0.5) and np.isclose(v, 1.0) for e, v in zip(eps_s, sic))
    assert np.all(np.isfinite(sic))


def test_asimov_significance():
    assert metrics.asimov_significance(10, 100) == pytest.approx(0.98399, abs=1e-5)
    assert metrics.asimov_significance(1, 1e4) == pytest.approx(1 / 100, rel=1e-3)  # → s/√b
    np.testing.assert_allclose(metrics.asimov_significance([0, 5], [1, 1]), [0, np.sqrt(2 * (6 * np.log(6) - 5))])
    with pytest.raises(ValueError):
        metrics.asimov_significance(1, 0)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="both 0"):
        metrics.auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN"):
        metrics.auc([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="length"):
        metrics.auc([1, 0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="signal efficiency"):
        metrics.rejection_at([1, 0], [0.3, 0.2], 0.0)


def _delong_by_pairs(y, score):
    # O(n_S n_B) DeLong variance straight from the definition, ties counting ½
    s, b = score[y == 1], score[y == 0]
    psi = (s[:, None] > b[None, :]) + 0.5 * (s[:, None] == b[None, :])
    return np.sqrt(psi.mean(1).var(ddof=1) / len(s) + psi.mean(0).var(ddof=1) / len(b))


def test_auc_std_on_a_hand_example():
    # signal 3, 2, 0.5 and background 1, 0: V_S = (1, 1, ½), V_B = (⅔, 1), AUC = 5/6
    # Var = Var(V_S)/3 + Var(V_B)/2 = (1/12)/3 + (1/18)/2 = 1/18
    y, s = np.array([1, 1, 1, 0, 0]), np.array([3.0, 2.0, 0.5, 1.0, 0.0])
    assert metrics.auc(y, s) == pytest.approx(5 / 6)
    assert metrics.auc_std(y, s) == pytest.approx(np.sqrt(1 / 18), rel=1e-12)
    # with ties (integer scores) the rank formula equals the pairwise definition
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    s = rng.integers(0, 6, 300) + y
    assert metrics.auc_std(y, s) == pytest.approx(_delong_by_pairs(y, s.astype(float)), rel=1e-12)
    with pytest.raises(ValueError, match="two signal"):
        metrics.auc_std([1, 0, 0], [0.3, 0.2, 0.1])


def test_auc_std_matches_the_spread_over_independent_samples():
    # Exact variance of the empirical AUC (Hanley & McNeil 1982, Radiology 143, 29, with the exact pair
    # probabilities in place of their exponential approximation):
    # Var = [A(1−A) + (n_S−1)(Q1 − A²) + (n_B−1)(Q2 − A²)] / (n_S n_B), where for GAUSS_1D
    # Q1 = P(s1 > b, s2 > b) = Q2 = P(Z1 < √2, Z2 < √2) with correlation ½, and A = Φ(√2).
    n, reps = 2000, 200
    a = stats.norm.cdf(np.sqrt(2))
    q = stats.multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]]).cdf([np.sqrt(2), np.sqrt(2)])
    sigma_exact = np.sqrt((a * (1 - a) + 2 * (n - 1) * (q - a**2)) / n**2)   # 0.00411
    rng = np.random.default_rng(10)
    aucs, sigmas = [], []
    for _ in range(reps):
        x, y = toys.GAUSS_1D.sample(n, n, rng)
        aucs.append(metrics.auc(y, x[:, 0]))
        sigmas.append(metrics.auc_std(y, x[:, 0]))
    # the spread of 200 AUCs has a relative error of 1/√398 = 5%: allow 15% (3σ)
    assert np.std(aucs, ddof=1) == pytest.approx(np.mean(sigmas), rel=0.15)
    assert np.mean(sigmas) == pytest.approx(sigma_exact, rel=0.03)
    assert np.std(sigmas) < 0.1 * np.mean(sigmas)           # each single estimate is already good


def test_best_selection_roc_on_a_hand_made_family():
    # (ε_S, ε_B) of seven selections; D is beaten by C, F by E, G keeps no signal, H duplicates C
    family = {"A": (0.2, 0.01), "B": (0.5, 0.1), "C": (0.5, 0.05), "D": (0.4, 0.2),
              "E": (0.8, 0.3), "F": (0.7, 0.4), "G": (0.0, 0.05), "H": (0.5, 0.05)}
    eps_s, eps_b = np.array(list(family.values())).T
    roc = metrics.best_selection_roc(eps_s, eps_b)
    np.testing.assert_allclose(roc.eps_s, [0, 0.2, 0.5, 0.8, 1])
    np.testing.assert_allclose(roc.eps_b, [0, 0.01, 0.05, 0.3, 1])
    assert np.all(np.isnan(roc.thresholds))
    # trapezoids in ε_B: 0.01·0.1 + 0.04·0.35 + 0.25·0.65 + 0.7·0.9 = 0.8075
    assert roc.auc == pytest.approx(0.8075)
    assert roc.rejection_at(0.5) == pytest.approx(20.0)
    assert roc.rejection_at(0.35) == pytest.approx(1 / 0.03)      # halfway between A and C
    # the shape of the input does not matter (a grid of cut pairs), nor the order of the selections
    grid = metrics.best_selection_roc(eps_s[::-1].reshape(2, 4), eps_b[::-1].reshape(2, 4))
    np.testing.assert_allclose(grid.eps_s, roc.eps_s)
    np.testing.assert_allclose(grid.eps_b, roc.eps_b)
    # a selection that keeps everything with ε_B < 1 ends the curve before the closing point (1, 1)
    closed = metrics.best_selection_roc([0.5, 1.0], [0.1, 0.6])
    np.testing.assert_allclose(closed.eps_b, [0, 0.1, 0.6, 1])
    assert metrics.best_selection_roc([0.5, 1.0], [0.1, 1.0]).eps_s.tolist() == [0, 0.5, 1]
    with pytest.raises(ValueError, match="lie in"):
        metrics.best_selection_roc([0.5, 1.2], [0.1, 0.2])


def test_best_selection_roc_of_a_single_cut_family_is_its_roc():
    # the cuts x > t on one observable form a family whose best member is the cut itself
    x, y = toys.GAUSS_1D.sample(3000, 3000, np.random.default_rng(5))
    t = np.linspace(-4, 4, 81)
    eps_s = (x[y == 1, 0][:, None] > t).mean(0)
    eps_b = (x[y == 0, 0][:, None] > t).mean(0)
    roc = metrics.best_selection_roc(eps_s, eps_b)
    for e in (0.3, 0.5, 0.8):
        assert roc.rejection_at(e) == pytest.approx(metrics.rejection_at(y, x[:, 0], e), rel=0.05)
    assert roc.auc == pytest.approx(metrics.auc(y, x[:, 0]), abs=2e-3)
    assert np.all(np.diff(roc.eps_s) >= 0) and np.all(np.diff(roc.eps_b) >= 0)


def test_rejection_error_is_the_binomial_spread():
    # Unit Gaussians 2 apart, 2000 events each; at eps_S = 0.5 the cut sits at the signal median,
    # so eps_B = 1 - Phi(2) = 0.02275 and the formula gives 1/eps_B * sqrt((1 - eps_B)/(eps_B N_B)).
    # Over 300 samples the spread of 1/eps_B agrees with it within 25% (the cut position, set by
    # the signal events, adds about 10% in quadrature).
    from scipy.stats import norm

    from hepcourse import metrics
    rng = np.random.default_rng(5)
    rejs, errs = [], []
    y = np.r_[np.ones(2000), np.zeros(2000)]
    for _ in range(300):
        s = np.r_[rng.normal(2, 1, 2000), rng.normal(0, 1, 2000)]
        rejs.append(metrics.rejection_at(y, s, 0.5))
        errs.append(metrics.rejection_error(y, s, 0.5))
    eps_b = norm.sf(2.0)
    expected = np.sqrt((1 - eps_b) / (eps_b * 2000)) / eps_b
    assert abs(np.mean(errs) / expected - 1) < 0.1, (np.mean(errs), expected)
    assert abs(np.std(rejs) / np.mean(errs) - 1) < 0.25, (np.std(rejs), np.mean(errs))
    assert metrics.rejection_error(y, np.r_[np.ones(2000), np.zeros(2000)], 0.5) == np.inf   # nothing passes


def test_auc_difference_std_limits_and_pairwise_definition():
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)
    a = rng.normal(size=400) + y
    b = a + rng.normal(scale=0.5, size=400)
    # identical scores: no difference at all; a monotonic transformation gives the same ranks
    assert metrics.auc_difference_std(y, a, a) == 0.0
    assert metrics.auc_difference_std(y, a, np.exp(a)) == pytest.approx(0.0, abs=1e-15)
    # from the definition: Var(V^a − V^b) over signal and background pairs, O(n_S n_B)
    s_a, b_a, s_b, b_b = a[y == 1], a[y == 0], b[y == 1], b[y == 0]
    psi_a = (s_a[:, None] > b_a[None, :]).astype(float)
    psi_b = (s_b[:, None] > b_b[None, :]).astype(float)
    d = psi_a - psi_b
    by_pairs = np.sqrt(d.mean(1).var(ddof=1) / len(s_a) + d.mean(0).var(ddof=1) / len(b_a))
    assert metrics.auc_difference_std(y, a, b) == pytest.approx(by_pairs, rel=1e-12)
    # a score and its negative: AUC_a − AUC_(−a) = 2 AUC_a − 1, so the error is twice σ(AUC_a)
    assert metrics.auc_difference_std(y, a, -a) == pytest.approx(2 * metrics.auc_std(y, a), rel=1e-12)


def test_auc_difference_std_matches_the_spread_over_independent_test_samples():
    # Two correlated scores (correlation 0.8 within each class, means 1 and 1.2 apart from the
    # background): over 400 independent test samples of 500 + 500 events the standard deviation of
    # AUC_a − AUC_b agrees with the mean paired-DeLong error; its relative error is 1/√798 = 3.5%,
    # so allow 15%. The unpaired error √(σ_a² + σ_b²) is more than twice as large.
    cov = [[1.0, 0.8], [0.8, 1.0]]
    rng = np.random.default_rng(12)
    n, reps = 500, 400
    y = np.r_[np.ones(n), np.zeros(n)]
    diffs, paired, unpaired = [], [], []
    for _ in range(reps):
        x = np.r_[rng.multivariate_normal([1.0, 1.2], cov, n), rng.multivariate_normal([0.0, 0.0], cov, n)]
        diffs.append(metrics.auc(y, x[:, 0]) - metrics.auc(y, x[:, 1]))
        paired.append(metrics.auc_difference_std(y, x[:, 0], x[:, 1]))
        unpaired.append(np.hypot(metrics.auc_std(y, x[:, 0]), metrics.auc_std(y, x[:, 1])))
    assert np.std(diffs, ddof=1) == pytest.approx(np.mean(paired), rel=0.15)
    assert np.mean(unpaired) > 2 * np.mean(paired)
    # the mean difference is the exact one: Φ(1/√2) − Φ(1.2/√2)
    exact = stats.norm.cdf(1 / np.sqrt(2)) - stats.norm.cdf(1.2 / np.sqrt(2))
    assert np.mean(diffs) == pytest.approx(exact, abs=4 * np.mean(paired) / np.sqrt(reps))


def test_binomial_rejection_error_is_the_formula_of_rejection_error():
    assert metrics.binomial_rejection_error(100.0, 5000) == pytest.approx(100 * np.sqrt(0.99 / 50))
    assert metrics.binomial_rejection_error(np.inf, 5000) == np.inf
    np.testing.assert_allclose(metrics.binomial_rejection_error([10.0, 20.0], 1000),
                               [10 * np.sqrt(0.9 / 100), 20 * np.sqrt(0.95 / 50)])
    x, y = toys.GAUSS_1D.sample(2000, 2000, np.random.default_rng(3))
    rej = metrics.rejection_at(y, x[:, 0], 0.5)
    assert metrics.rejection_error(y, x[:, 0], 0.5) == pytest.approx(metrics.binomial_rejection_error(rej, 2000))
    with pytest.raises(ValueError, match="background"):
        metrics.binomial_rejection_error(0.5, 100)
