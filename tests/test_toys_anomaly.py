"""Chapter 06's toys (hepcourse.physics.toys_anomaly) and metrics.max_sic: the mixed-sample algebra, the
subspace toy's eigenvalues, the bump toy's densities against samples, and the SIC maximum."""

import numpy as np
import pytest

from hepcourse import metrics
from hepcourse.physics import toys
from hepcourse.physics.toys_anomaly import (BUMP, SUBSPACE, mixed_ratio, mixed_samples, pure_from_mixed,
                                            ratio_from_mixed)

EPS = np.finfo(np.float64).eps


def test_mixed_sample_algebra():
    rng = np.random.default_rng(0)
    r = np.exp(rng.normal(0, 2, 1000))                          # p_S/p_B over many orders of magnitude
    for f1, f2 in ((0.8, 0.2), (0.3, 0.1), (0.1, 0.6)):
        r12 = mixed_ratio(r, f1, f2)
        # round trip: relative rounding of a few ulp per operation, amplified by 1/|f1 − f2 r12|
        back = ratio_from_mixed(r12, f1, f2)
        assert np.allclose(back, r, rtol=1e4 * EPS, atol=0), np.max(np.abs(back / r - 1))
        # monotonic, with the sign of f1 − f2
        order = np.argsort(r)
        assert np.all(np.sign(np.diff(r12[order])) == np.sign(f1 - f2))
        # densities: mix two known densities and unmix them
        ps, pb = rng.uniform(0, 2, 50), rng.uniform(0, 2, 50)
        s, b = pure_from_mixed(f1 * ps + (1 - f1) * pb, f2 * ps + (1 - f2) * pb, f1, f2)
        assert np.allclose(s, ps, rtol=0, atol=100 * EPS) and np.allclose(b, pb, rtol=0, atol=100 * EPS)
    with pytest.raises(ValueError, match="f1 = f2"):
        ratio_from_mixed(1.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="f1 = f2"):
        pure_from_mixed(1.0, 1.0, 0.3, 0.3)


def test_mixed_samples():
    x, m, y = mixed_samples(20_000, 0.8, 0.2, np.random.default_rng(1))
    assert x.shape == (40_000, 2) and m.sum() == 20_000
    for label, f in ((1, 0.8), (0, 0.2)):
        frac = y[m == label].mean()
        assert abs(frac - f) < 4 * np.sqrt(f * (1 - f) / 20_000), (label, frac)
    # signal events come from the toy's signal: mean (1, 1)
    assert np.allclose(x[y == 1].mean(0), toys.GAUSS_2D.mu_s, atol=0.03)


def test_subspace_toy():
    assert np.allclose(SUBSPACE.basis().T @ SUBSPACE.basis(), np.eye(8), atol=100 * EPS)
    for k in (1, 2, 3):
        assert np.allclose(np.linalg.eigvalsh(SUBSPACE.covariance(k))[::-1], SUBSPACE.eigenvalues(k), rtol=0, atol=1e-12)
    assert SUBSPACE.linear_ae_error(2, 2) == pytest.approx(6 * SUBSPACE.sigma ** 2, rel=1e-12)
    x = SUBSPACE.sample(20_000, 2, np.random.default_rng(2))
    lam = np.linalg.eigvalsh(np.cov(x.T))[::-1]
    # sample eigenvalues: relative spread √(2/N) = 1 %; the smallest six are pushed apart by ±2.5 √(8/N)
    assert np.allclose(lam[:2], SUBSPACE.eigenvalues(2)[:2], rtol=0.05)
    assert abs(lam[2:].sum() / SUBSPACE.linear_ae_error(2, 2) - 1) < 0.03


def test_bump_toy():
    rng = np.random.default_rng(3)
    m, x, y = BUMP.sample(400_000, 2_000, rng)
    b = y == 0
    f_sr = BUMP.in_sr(m[b]).mean()
    assert BUMP.background_sr_fraction == pytest.approx(0.1133, abs=1e-4)
    assert abs(f_sr - BUMP.background_sr_fraction) < 4 * np.sqrt(0.11 * 0.89 / b.sum())
    assert np.all((m[b] >= 2.5) & (m[b] <= 4.5)) and BUMP.in_sr(m[~b]).mean() > 0.999
    # x1 follows m in the background: slope 0.5 (least squares on 4·10⁵ events: ±0.002)
    assert np.polyfit(m[b], x[b, 0], 1)[0] == pytest.approx(0.5, abs=0.01)
    # the background's x-density in the SR: normalised, and its mean and variance of x1 match the SR events
    grid = np.linspace(-1, 4.5, 2001)
    p = np.exp(BUMP.sr_log_pdf_background_x(np.stack([grid, np.zeros_like(grid)], 1))) * np.sqrt(2 * np.pi)   # p(x1)
    assert np.trapezoid(p, grid) == pytest.approx(1.0, abs=1e-6)
    x1_sr = x[b & BUMP.in_sr(m), 0]
    mean = np.trapezoid(grid * p, grid)
    assert abs(x1_sr.mean() - mean) < 4 * x1_sr.std() / np.sqrt(x1_sr.size)
    # the exact ratios: the supervised optimum (with m) beats the SR optimum on x alone, which beats chance
    sr = BUMP.in_sr(m)
    auc_full = metrics.auc(y[sr], BUMP.log_likelihood_ratio(m[sr], x[sr]))
    auc_x = metrics.auc(y[sr], BUMP.sr_log_likelihood_ratio(x[sr]))
    assert auc_full >= auc_x - 1e-3 and auc_x > 0.99


def test_max_sic():
    rng = np.random.default_rng(4)
    n = 100_000
    y = np.r_[np.ones(n), np.zeros(n)].astype(int)
    score = np.r_[rng.normal(2, 1, n), rng.normal(0, 1, n)]
    best, eps_s = metrics.max_sic(y, score, min_background=100)
    # exact: ε_S = Φ(2 − t), ε_B = Φ(−t) for a cut at t, maximised over the cuts with ε_B ≥ 100/n (the floor
    # binds: the unconstrained maximum is at t ≈ 4); 100 events give ε_B to 10 %, the SIC to 5 %
    from scipy import stats
    t = np.linspace(-2, 6, 8001)
    t = t[stats.norm.sf(t) >= 100 / n]
    exact = stats.norm.sf(t - 2) / np.sqrt(stats.norm.sf(t))
    assert best == pytest.approx(exact.max(), rel=0.06) and eps_s == pytest.approx(stats.norm.sf(t[exact.argmax()] - 2), abs=0.05)
    # the cut never keeps fewer than min_background background events
    s_eps, sic = metrics.significance_improvement(y, score)
    assert best <= sic.max()
    with pytest.raises(ValueError):
        metrics.max_sic(y[:10], score[:10], min_background=100)
