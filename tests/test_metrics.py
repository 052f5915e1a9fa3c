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
