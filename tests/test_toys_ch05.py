"""Chapter 05's toys (hepcourse.physics.toys: PIVOT, SCULPT, PARAM_MASS): samples follow the stated
densities, and the optima quoted in the docstrings and lectures are the closed forms, recomputed here."""

import numpy as np
import pytest
from scipy import integrate, stats

from hepcourse import metrics
from hepcourse.physics import toys

EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound


def test_pivot_samples_and_exact_ratio():
    x, y, z = toys.PIVOT.sample(40_000, 40_000, np.random.default_rng(0))
    assert x.shape == (80_000, 2) and y.sum() == 40_000
    s, b = x[y == 1], x[y == 0]
    np.testing.assert_allclose(s.mean(0), [1, 1], atol=0.03)
    np.testing.assert_allclose(b.mean(0), [-1, 0], atol=0.03)
    # signal x2 = 1 + z + N(0, 1): residual after subtracting z is unit Gaussian, independent of z
    r = s[:, 1] - 1 - z[y == 1]
    assert abs(r.std() - 1) < 0.02 and abs(np.corrcoef(r, z[y == 1])[0, 1]) < 0.02
    # log r at fixed z against the ratio of the Gaussian densities
    pts = np.random.default_rng(1).normal(size=(50, 2)) * 2
    for zz in (-1.0, 0.0, 0.7):
        ref = (stats.norm.logpdf(pts[:, 0], 1) + stats.norm.logpdf(pts[:, 1], 1 + zz)
               - stats.norm.logpdf(pts[:, 0], -1) - stats.norm.logpdf(pts[:, 1], 0))
        np.testing.assert_allclose(toys.PIVOT.log_likelihood_ratio(pts, zz), ref, rtol=0,
                                   atol=1e3 * EPS * (1 + pts ** 2).sum(1).max())   # quadratic forms ~|x|² cancel


def test_pivot_anchors():
    # nominal optimum Φ(√(5/2)) and the best pivotal classifier (x1 only) Φ(√2)
    assert toys.PIVOT.nominal_auc == pytest.approx(0.943077, abs=1e-6)
    assert toys.PIVOT.pivotal_auc == pytest.approx(0.921350, abs=1e-6)
    x, y, _ = toys.PIVOT.sample(100_000, 100_000, np.random.default_rng(2), z=0.0)
    assert metrics.auc(y, toys.PIVOT.log_likelihood_ratio(x, 0.0)) == pytest.approx(0.9431, abs=0.002)
    assert metrics.auc(y, x[:, 0]) == pytest.approx(0.9214, abs=0.002)
    # a cut on x1 alone is pivotal: its AUC is the same at z = -1 and z = +1; the nominal optimum's is not
    for zz in (-1.0, 1.0):
        xz, yz, _ = toys.PIVOT.sample(50_000, 50_000, np.random.default_rng(3), z=zz)
        assert metrics.auc(yz, xz[:, 0]) == pytest.approx(0.9214, abs=0.003)
    # the nominal optimum degrades when the signal moves: at z = -1 its AUC falls below the pivotal one
    xz, yz, _ = toys.PIVOT.sample(50_000, 50_000, np.random.default_rng(4), z=-1.0)
    assert metrics.auc(yz, toys.PIVOT.log_likelihood_ratio(xz, 0.0)) < 0.92


def test_sculpt_samples_and_anchor():
    x, y = toys.SCULPT.sample(50_000, 50_000, np.random.default_rng(5))
    m, x1, x2 = x.T
    b = y == 0
    assert m[b].min() >= 0 and m[b].max() <= 1 and abs(m[b].mean() - 0.5) < 0.01
    assert np.corrcoef(m[b], x1[b])[0, 1] > 0.6 and abs(np.corrcoef(m[b], x2[b])[0, 1]) < 0.02
    assert abs(m[~b].std() - 0.05) < 0.002 and abs(x2[~b].mean() - 1.5) < 0.02
    # the decorrelated optimum: a cut on x2, AUC Φ(1.5/√2)
    assert toys.SCULPT.decorrelated_auc == pytest.approx(0.855578, abs=1e-6)
    assert metrics.auc(y, x2) == pytest.approx(0.8556, abs=0.003)
    # the exact ratio beats it and sculpts: background passing a cut at εS = 0.5 peaks at m = 0.5
    llr = toys.SCULPT.log_likelihood_ratio(x)
    assert metrics.auc(y, llr) > 0.96
    cut = np.quantile(llr[~b], 0.5)
    passed = llr[b] > cut
    assert abs(m[b][passed].mean() - 0.5) < 0.02 and m[b][passed].std() < 0.1
    assert metrics.sculpting_jsd(m[b], passed, bins=20, range=(0, 1)) > 0.3
    assert metrics.sculpting_jsd(m[b], x2[b] > np.quantile(x2[~b], 0.5), bins=20, range=(0, 1)) < 0.01
    # log r by hand at a few points inside [0, 1], +inf outside
    pts = np.array([[0.4, 0.3, 0.1], [0.9, 1.2, -0.5], [1.2, 0.5, 0.0]])
    ref = (stats.norm.logpdf(pts[:2, 0], 0.5, 0.05) + stats.norm.logpdf(pts[:2, 1], 0.5, 0.3) + stats.norm.logpdf(pts[:2, 2], 1.5)
           - stats.norm.logpdf(pts[:2, 1], pts[:2, 0], 0.3) - stats.norm.logpdf(pts[:2, 2]))
    got = toys.SCULPT.log_likelihood_ratio(pts)
    np.testing.assert_allclose(got[:2], ref, rtol=1e3 * EPS, atol=1e3 * EPS * 50)   # five log-densities <~ 35 may cancel
    assert np.isinf(got[2])


def test_param_mass_densities_and_optimal_aucs():
    toy = toys.PARAM_MASS
    x, y = toy.sample(50_000, 50_000, 1.5, np.random.default_rng(6))
    assert x.min() >= 0 and x.max() <= 3
    assert abs(x[y == 1].mean() - 1.5) < 0.005 and abs(x[y == 1].std() - 0.2) < 0.003
    # truncated exponential on [0, 3]: mean 1 − 3/(e³ − 1)
    assert abs(x[y == 0].mean() - (1 - 3 / (np.e ** 3 - 1))) < 0.01
    # densities normalised on [0, 3] (quad), ratio = Gaussian / exponential up to the normalisations
    for theta in (0.5, 1.5):
        ps = integrate.quad(lambda t: np.exp(toy.log_likelihood_ratio(t, theta)) * np.exp(-t) / (1 - np.exp(-3)), 0, 3,
                            points=[theta])[0]
        assert ps == pytest.approx(1.0, abs=1e-8)
    # the optimum at each θ, quoted in the lectures and the assignment
    for theta, auc in ((0.5, 0.8014), (1.0, 0.8772), (1.5, 0.9255), (2.0, 0.9548), (2.5, 0.9731)):
        assert toy.optimal_auc(theta) == pytest.approx(auc, abs=6e-5)
    xs, ys = toy.sample(100_000, 100_000, 1.5, np.random.default_rng(7))
    assert metrics.auc(ys, toy.log_likelihood_ratio(xs, 1.5)) == pytest.approx(0.9255, abs=0.002)


def test_sculpt_exact_mass_density_after_a_cut_matches_sampling():
    T = toys.SCULPT
    # log r at fixed m on background is Gaussian with the stated mean and width
    rng = np.random.default_rng(11)
    for m in (0.2, 0.5, 0.62):
        x = np.stack([np.full(200_000, m), m + T.sigma_x1 * rng.standard_normal(200_000), rng.standard_normal(200_000)], 1)
        lr = T.log_likelihood_ratio(x)
        mean, sd = T.log_ratio_given_mass(m)
        assert abs(lr.mean() - mean) < 4 * sd / np.sqrt(len(lr)), (m, lr.mean(), mean)
        assert abs(lr.std() / sd - 1) < 4 / np.sqrt(2 * len(lr)), (m, lr.std(), sd)
    # the cut for εB = 0.2, the sampled efficiency and the mass density after the cut
    cut = T.cut_for_background_efficiency(0.2)
    assert abs(T.background_efficiency(cut) - 0.2) < 1e-9
    x, _ = T.sample(0, 200_000, np.random.default_rng(12))
    passed = T.log_likelihood_ratio(x) > cut
    assert abs(passed.mean() - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(passed)), passed.mean()
    edges = np.linspace(0, 1, 21)
    fine = np.linspace(0, 1, 20 * 40 + 1)
    dens = T.sculpted_mass_density(fine, cut)
    p_bin = np.array([np.trapezoid(dens[k * 40:(k + 1) * 40 + 1], fine[k * 40:(k + 1) * 40 + 1]) for k in range(20)])
    assert abs(p_bin.sum() - 1) < 1e-4
    counts, _ = np.histogram(x[passed, 0], bins=edges)
    exp = p_bin * passed.sum()
    ok = exp > 5
    chi2 = np.sum((counts[ok] - exp[ok]) ** 2 / exp[ok])
    assert chi2 < ok.sum() + 5 * np.sqrt(2 * ok.sum()), (chi2, ok.sum())
    assert T.sculpted_mass_density(np.array([-0.1, 1.1]), cut).tolist() == [0.0, 0.0]
