"""GaussianToy.linear_score_performance: closed forms for a linear score w·x, checked by sampling."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics
from hepcourse.physics import toys


def test_linear_score_on_gauss1d_is_the_1d_closed_form():
    auc, rej = toys.GAUSS_1D.linear_score_performance([1.0], [0.3, 0.5])
    assert auc == pytest.approx(toys.gauss1d_auc())
    np.testing.assert_allclose(rej, 1 / toys.gauss1d_eps_b([0.3, 0.5]))
    np.testing.assert_allclose(rej, [172.6, 43.96], atol=0.05)


def test_linear_score_on_gauss2d_closed_forms_and_invariances():
    auc_x1, _ = toys.GAUSS_2D.linear_score_performance([1, 0], 0.5)
    auc_sum, rej_sum = toys.GAUSS_2D.linear_score_performance([1, 1], 0.3)
    assert auc_x1 == pytest.approx(stats.norm.cdf(1 / np.sqrt(3)))       # 0.7181
    assert auc_sum == pytest.approx(stats.norm.cdf(2 / np.sqrt(7)))      # 0.7752
    # a positive scale of w changes nothing; −w turns the score around
    auc_scaled, rej_scaled = toys.GAUSS_2D.linear_score_performance([3, 3], 0.3)
    assert auc_scaled == pytest.approx(auc_sum) and rej_scaled == pytest.approx(rej_sum)
    assert toys.GAUSS_2D.linear_score_performance([-1, -1], 0.3)[0] == pytest.approx(1 - auc_sum)
    # ε_S → 1 keeps all background
    assert toys.GAUSS_2D.linear_score_performance([1, 1], 1.0)[1] == pytest.approx(1.0)


def test_linear_score_matches_a_sample():
    x, y = toys.GAUSS_2D.sample(200_000, 200_000, np.random.default_rng(0))
    eps = np.array([0.3, 0.5])
    for w in ([1, 0], [1, 1], [2, -0.5]):
        auc, rej = toys.GAUSS_2D.linear_score_performance(w, eps)
        score = x @ np.asarray(w, dtype=float)
        assert metrics.auc(y, score) == pytest.approx(auc, abs=4 * metrics.auc_std(y, score))
        np.testing.assert_allclose(metrics.rejection_at(y, score, eps), rej, rtol=0.05)
