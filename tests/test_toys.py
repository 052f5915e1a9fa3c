"""hepcourse.physics.toys: samples follow the stated densities; exact ratios match by-hand formulas."""

import numpy as np
import pytest

from hepcourse.physics import toys
EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound


def _log_gauss(x, mu, cov):
    d = x - np.asarray(mu)
    inv = np.linalg.inv(cov)
    return -0.5 * np.einsum("ni,ij,nj->n", d, inv, d) - 0.5 * np.log(np.linalg.det(2 * np.pi * np.asarray(cov)))


def test_gauss2d_samples_have_the_stated_moments():
    x, y = toys.GAUSS_2D.sample(50_000, 30_000, np.random.default_rng(0))
    assert x.shape == (80_000, 2) and y.sum() == 50_000 and set(np.unique(y)) == {0, 1}
    np.testing.assert_allclose(x[y == 1].mean(0), [1, 1], atol=0.03)
    np.testing.assert_allclose(np.cov(x[y == 1].T), [[1, 0.5], [0.5, 1]], atol=0.03)
    np.testing.assert_allclose(x[y == 0].mean(0), [0, 0], atol=0.04)
    np.testing.assert_allclose(np.cov(x[y == 0].T), [[2, 0], [0, 2]], atol=0.06)


def test_same_seed_same_sample_and_different_seed_differs():
    a = toys.GAUSS_2D.sample(10, 10, np.random.default_rng(5))[0]
    b = toys.GAUSS_2D.sample(10, 10, np.random.default_rng(5))[0]
    c = toys.GAUSS_2D.sample(10, 10, np.random.default_rng(6))[0]
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_log_likelihood_ratio_is_the_ratio_of_gaussians():
    x = np.random.default_rng(1).normal(size=(100, 2)) * 2
    expected = _log_gauss(x, [1, 1], [[1, 0.5], [0.5, 1]]) - _log_gauss(x, [0, 0], [[2, 0], [0, 2]])
    scale = (x ** 2).sum(1).max()                  # two quadratic forms of size ~|x|² are subtracted
    np.testing.assert_allclose(toys.GAUSS_2D.log_likelihood_ratio(x), expected, rtol=0, atol=1e3 * EPS * scale)
    assert toys.GAUSS_2D.log_likelihood_ratio([0.5, 0.5]).shape == (1,)


def test_signal_probability_is_the_bayes_posterior():
    x = np.random.default_rng(2).normal(size=(50, 2))
    r = np.exp(toys.GAUSS_2D.log_likelihood_ratio(x))
    tol = 1e3 * EPS * (1 + (x ** 2).sum(1).max())   # the rounding of log r (~ eps |x|²) carries into r
    np.testing.assert_allclose(toys.GAUSS_2D.signal_probability(x), r / (1 + r), rtol=tol)
    np.testing.assert_allclose(toys.GAUSS_2D.signal_probability(x, 0.2), 0.2 * r / (0.2 * r + 0.8), rtol=tol)


def test_gauss1d_closed_forms():
    assert toys.gauss1d_auc() == pytest.approx(0.921350, abs=1e-6)
    np.testing.assert_allclose(1 / toys.gauss1d_eps_b([0.5, 0.3]), [43.956, 172.57], rtol=1e-4)
    with pytest.raises(ValueError):
        toys.gauss1d_separation(toys.GaussianToy((1.0,), ((1.0,),), (0.0,), ((2.0,),)))  # unequal widths


@pytest.mark.parametrize("background", ["flat", "falling"])
def test_linear_densities_follow_eq_1_8(background):
    toy = toys.LinearDensities(A=2, B=1, background=background)
    x, y = toy.sample(200_000, np.random.default_rng(3))
    # signal density 2·O: mean 2/3; flat background mean ½; falling 2(1−O): mean 1/3
    assert x[y == 1].mean() == pytest.approx(2 / 3, abs=0.005)
    assert x[y == 0].mean() == pytest.approx(0.5 if background == "flat" else 1 / 3, abs=0.005)
    assert ((x >= 0) & (x <= 1)).all()
    # expected counts: A/2 = 1 signal per unit against B = 1 (flat) or A/2 = 1 (falling)
    assert y.mean() == pytest.approx(0.5, abs=1e-3)
    assert toy.bayes_split() == 0.5


def test_linear_densities_bayes_split_is_b_over_a():
    assert toys.LinearDensities(A=4, B=1).bayes_split() == 0.25
    with pytest.raises(ValueError):
        toys.LinearDensities(background="rising")
