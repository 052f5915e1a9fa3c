"""hepcourse.metrics.binned_kl and grouped_kl_bootstrap (chapter 08, the Lund-plane comparison)."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics


def test_binned_kl_equals_scipy_and_is_asymmetric():
    rng = np.random.default_rng(0)
    p, q = rng.integers(0, 50, 30).astype(float), rng.integers(1, 50, 30).astype(float)
    for eps in (0.0, 0.5):
        assert metrics.binned_kl(p, q, eps) == pytest.approx(stats.entropy(p + eps, q + eps), rel=1e-12)
    assert metrics.binned_kl(p, p) == 0.0
    assert metrics.binned_kl(p, q) != pytest.approx(metrics.binned_kl(q, p), rel=1e-3)
    assert metrics.binned_kl([1, 1], [1, 0]) == float("inf")
    assert np.isfinite(metrics.binned_kl([1, 1], [1, 0], eps=0.5))
    # two Bernoulli bins, closed form: KL = p ln(p/q) + (1-p) ln((1-p)/(1-q))
    assert metrics.binned_kl([0.3, 0.7], [0.5, 0.5]) == pytest.approx(0.3 * np.log(0.6) + 0.7 * np.log(1.4), rel=1e-12)


def test_grouped_bootstrap_error_matches_the_spread_over_independent_samples():
    """Groups of Poisson(3) entries in 10 bins, a shifted distribution for b: the bootstrap σ of the KL
    agrees with the spread of the KL over 40 independent pairs of samples: their ratio was 0.85–1.35 over five
    seeds (the σ of one sample's bootstrap fluctuates with that sample), hence the window 0.5–1.8."""
    rng = np.random.default_rng(1)
    pa, pb = np.full(10, 0.1), np.linspace(0.5, 1.5, 10) / 10

    def sample(p, n_groups):
        sizes = rng.poisson(3, n_groups)
        return rng.choice(10, sizes.sum(), p=p), np.repeat(np.arange(n_groups), sizes)

    kls = []
    for _ in range(40):
        ba, ga = sample(pa, 1000)
        bb, gb = sample(pb, 1000)
        kls.append(metrics.binned_kl(np.bincount(ba, minlength=10), np.bincount(bb, minlength=10), 0.5))
    kl, sigma = metrics.grouped_kl_bootstrap(ba, ga, 1000, bb, gb, 1000, n_bins=10, n_boot=100, seed=2)
    exact = stats.entropy(pa, pb)
    assert abs(np.mean(kls) - exact) < 4 * np.std(kls) / np.sqrt(40) + 3 * 9 / 3000   # plus the (bins-1)/2N bias
    assert 0.5 < sigma / np.std(kls, ddof=1) < 1.8, (sigma, np.std(kls, ddof=1))
    same, sigma_same = metrics.grouped_kl_bootstrap(ba, ga, 1000, ba, ga, 1000, n_bins=10, n_boot=20)
    assert same == 0.0 and sigma_same > 0
