"""Chapter 09's unfolding (hepcourse.unfolding) against the main text's identities, the inverse and the
reference OmniFold run on the paired Gaussian toy; chapter 09's posterior diagnostics (hepcourse.metrics)."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics, unfolding
from hepcourse.physics import toys_inference as ti

EPS = np.finfo(np.float64).eps


def test_smearing_matrix_identities_and_approximate_inverse():
    for eps in (0.01, 0.05, 0.1, 0.3):
        G = unfolding.smearing_matrix(eps)
        np.testing.assert_allclose(G.sum(0), 1.0, atol=10 * EPS)
        np.testing.assert_allclose(G @ np.full(3, 7.0), 7.0, atol=100 * EPS)              # flat is invariant
        for n in (2.0, 5.0, 40.0):                                                      # Eq. 6.4
            np.testing.assert_allclose(G @ [1, n, 0], np.array([1, n, 0]) + eps * np.array([n - 1, -2 * n + 1, n]),
                                       atol=100 * EPS * n)
    for eps in (0.01, 0.02, 0.05):                                                      # Eq. 6.5 to ≤ 3ε²
        dev = np.abs(np.linalg.inv(unfolding.smearing_matrix(eps)) - unfolding.approximate_inverse(eps)).max()
        assert 1.5 * eps ** 2 < dev <= 3 * eps ** 2, (eps, dev / eps ** 2)
    assert unfolding.smearing_matrix(0.2, 10).shape == (10, 10)


def test_ibu_converges_to_the_inverse_and_is_em():
    rng = np.random.default_rng(0)
    for eps in (0.05, 0.2):
        G = unfolding.smearing_matrix(eps, 5)
        t = rng.uniform(100, 1000, 5)
        d = G @ t
        np.testing.assert_allclose(unfolding.ibu(d, G, n_iter=2000), t, rtol=1e-10)
        np.testing.assert_allclose(unfolding.unfold_inverse(d, G), t, rtol=1e-12)
    # each iteration keeps the total and raises the Poisson log-likelihood of the data (EM)
    d = rng.poisson(G @ t).astype(float)
    its = unfolding.ibu(d, G, n_iter=20, return_all=True)
    np.testing.assert_allclose(its.sum(1), d.sum(), rtol=1e-12)
    ll = [stats.poisson.logpmf(d, G @ x).sum() for x in its]
    assert np.all(np.diff(ll) > -1e-9)
    # efficiency: a column that loses a fraction κ of its events is corrected exactly
    R = G * np.array([1.0, 0.8, 1.0, 0.9, 1.0])
    np.testing.assert_allclose(unfolding.ibu(R @ t, R, n_iter=3000), t, rtol=1e-8)


def test_response_matrix_from_events():
    rng = np.random.default_rng(1)
    xt = rng.uniform(0, 3, 200_000)
    xr = xt + rng.normal(0, 0.3, xt.size)
    edges = np.arange(4.0)
    R = unfolding.response_matrix(xt, xr, edges, edges)
    np.testing.assert_allclose(R.sum(0), 1.0, atol=1e-12)
    # P(stay in bin) for uniform truth in a unit bin smeared by σ = 0.3, edge bins keep their overflow
    stay = 1 - 2 * 0.3 / np.sqrt(2 * np.pi) * (1 - np.exp(-1 / (2 * 0.09))) - 2 * (
        stats.norm.cdf(-1 / 0.3) - 0.0)  # (the second term is negligible)
    assert R[1, 1] == pytest.approx(stay, abs=0.005)
    R_lost = unfolding.response_matrix(xt, xr, edges, edges, overflow=False)
    assert np.all(R_lost.sum(0) < 1) and R_lost.sum(0)[1] > R_lost.sum(0)[0]


def test_inverse_variance_five_times_ibu():
    # 10 bins, ε = 0.2, flat 500 events per bin: the inverse's summed variance (closed form) is ≈ 5× that of
    # 3-iteration IBU (400 Poisson toys: the variance is known to ≈ 7 %)
    G = unfolding.smearing_matrix(0.2, 10)
    t = np.full(10, 500.0)
    v_inv = np.trace(unfolding.inverse_covariance(G, G @ t))
    assert v_inv == pytest.approx(27541.0, abs=1.0)
    D = np.random.default_rng(2).poisson(G @ t, (400, 10)).astype(float)
    v_ibu = np.array([unfolding.ibu(x, G, n_iter=3) for x in D]).var(0).sum()
    assert 4.2 < v_inv / v_ibu < 6.0, (v_inv, v_ibu)
    v_inv_toys = np.linalg.solve(G, D.T).T.var(0).sum()
    assert v_inv_toys == pytest.approx(v_inv, rel=0.2)


def test_omnifold_with_histograms_is_ibu():
    rng = np.random.default_rng(3)
    xp, xr, _, xr_data = ti.unfold_gauss(20_000, rng)
    edges = np.linspace(-3, 3, 13)
    nus = unfolding.omnifold(xp, xr, xr_data, n_iter=5, ratio=unfolding.hist_ratio(edges))
    R = unfolding.response_matrix(xp, xr, edges, edges)
    d = np.bincount(unfolding._digitize(xr_data, edges), minlength=12).astype(float)
    prior = np.bincount(unfolding._digitize(xp, edges), minlength=12) * d.sum() / len(xp)
    ibu = unfolding.ibu(d, R, prior, n_iter=5, return_all=True)
    for k in range(5):
        of = np.bincount(unfolding._digitize(xp, edges), nus[k], minlength=12) * d.sum() / len(xp)
        np.testing.assert_allclose(of, ibu[k + 1], rtol=1e-9)


def test_omnifold_reference_run():
    # Plehn et al., Sec. 6.1 on the paired toy, N = 5·10⁴: (0.243, 1.139) after one iteration, close to the
    # prior-biased closed form (0.24, 1.132); (0.301, 1.199) after four; the data's truth (0.299, 1.205)
    xp, xr, xp_data, xr_data = ti.unfold_gauss(50_000, np.random.default_rng(0))
    nus = unfolding.omnifold(xp, xr, xr_data, n_iter=4)
    m1, s1 = unfolding.weighted_moments(xp, nus[0])
    m4, s4 = unfolding.weighted_moments(xp, nus[3])
    mt, st = unfolding.weighted_moments(xp_data)
    assert (round(mt, 3), round(st, 3)) == (0.299, 1.205)
    assert abs(m1 - 0.243) < 0.002 and abs(s1 - 1.139) < 0.002, (m1, s1)
    assert abs(m4 - 0.301) < 0.002 and abs(s4 - 1.199) < 0.002, (m4, s4)
    assert abs(m4 - mt) < 0.02 and abs(s4 - st) < 0.03
    assert 0.65 * len(xp) < unfolding.effective_size(nus[3]) < 0.85 * len(xp)   # exact ratio: 0.76


def test_prior_bias_closed_form():
    ug = ti.UNFOLD_GAUSS
    m, s = ug.unfolded_moments()
    assert m == pytest.approx(0.24, abs=1e-12) and s == pytest.approx(1.1320777, abs=1e-7)
    mean, sd = ug.posterior_moments(np.array([1.0]))
    assert mean[0] == pytest.approx(0.8, abs=1e-12) and sd ** 2 == pytest.approx(0.2, abs=1e-12)
    its = ug.iterated_moments(6)
    bias = [abs(mm - 0.3) for mm, _ in its]
    assert bias[1] < 0.5 * bias[0] and np.all(np.diff(bias) < 0) and abs(its[-1][1] - 1.2) < 1e-3
    # Monte Carlo: sampling the simulation's posterior for each data event gives the closed form
    rng = np.random.default_rng(4)
    _, xr = ug.sample(200_000, rng, "data")
    mu, sd = ug.posterior_moments(xr)
    xu = rng.normal(mu, sd)
    assert xu.mean() == pytest.approx(0.24, abs=0.01) and xu.std() == pytest.approx(1.132, abs=0.01)


def test_posterior_diagnostics():
    rng = np.random.default_rng(5)
    # C2ST (chapter 07's c2st_auc): same density → AUC 0.5 within its error; shifted by δ = 1 → at most Φ(1/√2) = 0.76
    a, b = rng.normal(size=(2, 4000, 2))
    auc0, err0 = metrics.c2st_auc(a, b)
    assert abs(auc0 - 0.5) < 4 * err0
    auc1, err1 = metrics.c2st_auc(a, b + np.array([1.0, 0.0]))
    assert stats.norm.cdf(1 / np.sqrt(2)) - 0.03 < auc1 < stats.norm.cdf(1 / np.sqrt(2)) + 3 * err1
    # coverage and SBC of the exact posterior and of a too-narrow one
    lg = ti.LATENT_GAUSS
    theta, x = lg.sample_joint(2000, rng)
    samples = lg.sample_posterior(x, 99, rng)                                      # (2000, 99)
    levels = np.array([0.1, 0.5, 0.68, 0.9, 0.95])
    cov = metrics.expected_coverage(metrics.posterior_quantile(samples, theta), levels)
    np.testing.assert_allclose(cov, levels, atol=3 * np.sqrt(0.25 / 2000) + 0.015)   # + the finite number of samples
    exact_u = lg.posterior(x).cdf(theta)
    np.testing.assert_allclose(metrics.expected_coverage(exact_u, levels), levels, atol=3 * np.sqrt(0.25 / 2000))
    ranks = metrics.sbc_ranks(samples, theta)
    counts, p = metrics.sbc_uniformity(ranks, 99, 10)
    assert counts.sum() == 2000 and p > 1e-3
    m = x.mean(1, keepdims=True)
    narrow = m + 0.5 * (samples - m)                                               # half the width: overconfident
    assert metrics.expected_coverage(metrics.posterior_quantile(narrow, theta), [0.68])[0] < 0.5
    assert metrics.sbc_uniformity(metrics.sbc_ranks(narrow, theta), 99, 10)[1] < 1e-6
    lp_s = lg.log_posterior(samples.T, x).T
    hpd = metrics.hpd_coverage(lp_s, lg.log_posterior(theta, x), levels)
    np.testing.assert_allclose(hpd, levels, atol=3 * np.sqrt(0.25 / 2000) + 0.015)


def test_boosted_ratio_and_closure():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.3, 1.0, 20_000), rng.normal(0.0, 1.0, 20_000)
    r = unfolding.boosted_ratio(max_iter=30)(a, None, b, None)
    xq = np.linspace(-1.5, 1.5, 7)
    # exact ratio of N(0.3, 1) to N(0, 1): exp(0.3 x − 0.045); trees on 2·10⁴ events are noisy point by point
    # (up to 30 % at 1.5σ over three seeds, 6–10 % on average over |x| ≤ 1.5) ...
    assert np.mean(np.abs(r(xq) / np.exp(0.3 * xq - 0.045) - 1)) < 0.15
    # ... but the reweighted sample has the numerator's moments (measured: within 0.005)
    m, s = unfolding.weighted_moments(b, r(b))
    assert abs(m - a.mean()) < 0.02 and abs(s - a.std()) < 0.02, (m, s)
    # weights on the denominator: reweighting b by the exact ratio leaves nothing to learn
    r2 = unfolding.boosted_ratio(max_iter=30)(a, None, b, np.exp(0.3 * b - 0.045))
    assert np.mean(np.abs(r2(xq) - 1)) < 0.15
    # histograms and the closure χ²/ndf (Eq. 1 of lecture 9.4)
    h, w2 = unfolding.weighted_hist([0.5, 1.5, 1.5, 9.0], [0, 1, 2, 3], [1.0, 2.0, 3.0, 0.5])
    np.testing.assert_array_equal(h, [1.0, 5.0, 0.5])
    np.testing.assert_array_equal(w2, [1.0, 13.0, 0.25])
    c = unfolding.closure([110.0, 90.0, 0.0], [100.0, 100.0, 0.0], var_unfolded=[0.0, 100.0, 0.0], min_count=50)
    assert c["ndf"] == 2 and c["chi2_ndf"] == pytest.approx((1.0 + 0.5) / 2) and c["max_rel_dev"] == pytest.approx(0.1)
