"""hepcourse.physics.toys regression toys: samples follow the stated mean, width and support."""

import numpy as np
import pytest
from scipy import stats

from hepcourse.physics import toys
EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound


def test_hetero_sine_has_the_stated_mean_and_width():
    x, y = toys.hetero_sine(200_000, np.random.default_rng(0))
    assert x.shape == (200_000, 1) and y.shape == (200_000,)
    x = x[:, 0]
    assert x.min() >= 0 and x.max() <= 1
    t = (y - np.sin(2 * np.pi * x)) / (0.05 + 0.2 * x)      # standardised residuals: N(0, 1)
    assert abs(t.mean()) < 4 / np.sqrt(len(t)) and t.std() == pytest.approx(1.0, abs=0.01)
    assert stats.kstest(t, "norm").pvalue > 1e-3
    np.testing.assert_allclose(toys.HETERO_SINE.sigma([0.0, 0.5, 1.0]), [0.05, 0.15, 0.25])
    np.testing.assert_allclose(toys.HETERO_SINE.mean([0.25, 0.75]), [1.0, -1.0], atol=64 * EPS)   # sin at its extrema: <= 1 ulp


def test_gap_regression_leaves_the_gap_empty():
    x, y = toys.gap_regression(100_000, np.random.default_rng(1))
    x = x[:, 0]
    assert not np.any((x > 0.35) & (x < 0.65))
    assert np.mean(x < 0.35) == pytest.approx(0.5, abs=0.01)       # two intervals of equal length
    assert np.std(y - np.sin(2 * np.pi * x)) == pytest.approx(0.1, rel=0.01)
    np.testing.assert_array_equal(toys.GAP_REGRESSION.in_support([0.1, 0.5, 0.9, 1.2]), [True, False, True, False])


def test_log_likelihood_is_the_normal_density_and_seeds_fix_samples():
    toy = toys.HETERO_SINE
    a = toy.sample(10, np.random.default_rng(5))
    b = toy.sample(10, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    x, y = a
    np.testing.assert_allclose(toy.log_likelihood(x, y),
                               -0.5 * ((y - np.sin(2 * np.pi * x[:, 0])) / toy.sigma(x[:, 0])) ** 2
                               - np.log(toy.sigma(x[:, 0])) - 0.5 * np.log(2 * np.pi),
                               rtol=1e3 * EPS, atol=1e3 * EPS * 4)                 # terms <~ 4 may cancel
