"""Chapter 07: the two-sample distances of hepcourse.metrics against closed forms, scipy and brute force."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics


def _mmd2_brute(x, y, h):
    """The unbiased MMD² from full kernel matrices (the definition, for small samples)."""
    k = lambda a, b: np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * h * h))  # noqa: E731
    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * k(x, y).mean())


def test_mmd2_blocks_equal_the_definition():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 3)), rng.normal(0.2, 1.1, size=(250, 3))
    for h in (0.5, 2.0):
        # float64 sums of ~10⁵ terms of order 1: agreement to ~1e-13, far below any statistical error
        assert metrics.mmd2_unbiased(x, y, h) == pytest.approx(_mmd2_brute(x, y, h), abs=1e-11)


def test_mmd2_of_shifted_gaussians_matches_closed_form():
    assert metrics.gaussian_mmd2(0.5, 1.0, 1.0) == pytest.approx(0.047124, abs=5e-7)
    rng = np.random.default_rng(1)
    est = [metrics.mmd2_unbiased(rng.normal(0, 1, 1500), rng.normal(0.5, 1, 1500), 1.0) for _ in range(6)]
    # the unbiased estimator's spread at n = m = 1500 is 0.0058 (measured over 50 replicas): the mean of
    # six replicas has σ ≈ 0.0024; 4σ
    assert np.mean(est) == pytest.approx(0.047124, abs=0.0095)
    # unbiased under the null: identical distributions scatter around zero, also below it (spread at
    # n = m = 800: 0.0008 over 50 replicas, so the mean of six has σ ≈ 0.0003)
    null = [metrics.mmd2_unbiased(rng.normal(size=800), rng.normal(size=800), 1.0) for _ in range(6)]
    assert abs(np.mean(null)) < 0.0013 and min(null) < 0.0


def test_energy_distance_equals_scipy_in_one_dimension():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=700), rng.standard_t(4, size=500) + 0.1
    assert metrics.energy_distance(a, b) == pytest.approx(stats.energy_distance(a, b), rel=1e-9)
    assert metrics.energy_distance(a, a) == pytest.approx(0.0, abs=1e-6)   # √ of a rounding-level V-statistic


def test_wasserstein_of_a_shift_is_the_shift():
    rng = np.random.default_rng(3)
    x = rng.normal(size=5000)
    for a in (0.1, 1.0, 3.0):
        # the same events shifted: the sorted coupling moves every event by a (float64 rounding only)
        assert stats.wasserstein_distance(x, x + a) == pytest.approx(a, rel=1e-12)
    # independent samples: a plus the floor (E W₁ of two N(0,1) samples of 5000 is ≈ 0.016)
    y = rng.normal(size=5000) + 1.0
    assert stats.wasserstein_distance(x, y) == pytest.approx(1.0, abs=0.06)


def test_c2st_is_half_for_one_distribution_and_sees_a_shift():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2))
    auc, err = metrics.c2st_auc(a, b, seed=0)
    assert 0.005 < err < 0.02                 # DeLong at 2000 + 2000 test events: ≈ 0.0091
    assert abs(auc - 0.5) < 4 * err
    # a shift of 0.3 in x₀: the likelihood ratio's AUC is Φ(0.3/√2) = 0.584
    b[:, 0] += 0.3
    auc, err = metrics.c2st_auc(a, b, seed=0)
    assert auc == pytest.approx(stats.norm.cdf(0.3 / np.sqrt(2)), abs=4 * err + 0.01)


def test_histogram_chi2_is_one_for_one_distribution():
    rng = np.random.default_rng(5)
    chi2 = [metrics.histogram_chi2(rng.normal(size=5000), rng.normal(size=5000))[0] for _ in range(5)]
    assert np.mean(chi2) == pytest.approx(1.0, abs=4 * np.sqrt(2 / 19 / 5))
    chi2_narrow, pull = metrics.histogram_chi2(rng.normal(size=5000), rng.normal(0, 0.8, size=5000))
    assert chi2_narrow > 5 and pull > 5


def test_generator_report_table_and_floor():
    rng = np.random.default_rng(6)
    cov = [[1.0, 0.6], [0.6, 1.0]]
    truth, truth2 = (rng.multivariate_normal([0, 0], cov, 3000) for _ in range(2))
    narrow = rng.multivariate_normal([0, 0], np.diag([1.0, 0.64]), 3000)     # uncorrelated, x₁ 20% narrower
    df = metrics.generator_report(truth, narrow, features=["a", "b"], truth2=truth2, seed=0)
    assert list(df.index) == ["a", "b", "all"]
    assert list(df.columns[:2]) == ["w1", "w1_floor"] and "c2st_auc_floor" in df.columns
    # the floor is what two samples of one distribution give
    assert abs(df.loc["all", "c2st_auc_floor"] - 0.5) < 4 * df.loc["all", "c2st_err_floor"]
    assert df.loc["a", "chi2_ndf"] < 2.5 and df.loc["b", "chi2_ndf"] > 3 * df.loc["b", "chi2_ndf_floor"]
    # the missing correlation: the joint row sees it, above its floor
    assert df.loc["all", "c2st_auc"] > 0.5 + 5 * df.loc["all", "c2st_err"]
    assert df.loc["all", "mmd2"] > df.loc["all", "mmd2_floor"] and df.loc["all", "energy"] > df.loc["all", "energy_floor"]
    assert df.attrs["n_truth2"] == 3000
    without = metrics.generator_report(truth, narrow, seed=0)
    assert list(without.index) == ["x0", "x1", "all"] and "w1_floor" not in without.columns
    np.testing.assert_allclose(without["w1"], df["w1"])
