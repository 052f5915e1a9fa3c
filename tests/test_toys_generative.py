"""Chapter 07 toys against their closed forms."""

import numpy as np
import pytest
from scipy import integrate

from hepcourse.physics import toys_generative as tg


def test_camelback_quantiles_and_fit():
    camel = tg.CamelBack()
    edges = camel.quantile_edges(20)
    np.testing.assert_allclose(camel.cdf(edges), np.arange(1, 20) / 20, atol=1e-10)
    assert edges[9] == pytest.approx(0.0, abs=1e-9)                        # symmetric humps
    assert integrate.quad(camel.pdf, -np.inf, np.inf)[0] == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(0)
    fit = tg.CamelBack.fit(camel.sample(20_000, rng))
    # 20 000 events: σ(μ) ≈ 1/√10 000 = 0.01; 5σ
    assert fit.mu == pytest.approx((-2, 2), abs=0.05) and fit.sigma == pytest.approx((1, 1), abs=0.05)
    assert tg.model_quantile_mse(camel.cdf, edges) == pytest.approx(0.0, abs=1e-20)


def test_expected_quantile_mse_of_a_sample():
    assert tg.expected_quantile_mse(20, 100) == pytest.approx(4.75e-4, rel=1e-12)
    camel, rng = tg.CamelBack(), np.random.default_rng(1)
    edges = camel.quantile_edges(20)
    mse = [tg.quantile_mse(camel.sample(100, rng), edges) for _ in range(2000)]
    # the MSE of one replica has a spread ≈ 2.2e-4: the mean of 2000 has σ ≈ 5e-6; 4σ
    assert np.mean(mse) == pytest.approx(4.75e-4, abs=2e-5)
    assert tg.amplification(tg.expected_quantile_mse(20, 500), 100) == pytest.approx(5.0, rel=1e-12)


def test_breit_wigner_map_makes_weights_constant():
    bw, rng = tg.BreitWigner(), np.random.default_rng(2)
    assert bw.integral() == pytest.approx(integrate.quad(bw.f, *bw.s_range, points=[bw.m**2], limit=200)[0],
                                          rel=1e-8)
    s, w = bw.sample_mapped(10_000, rng)
    assert np.all((s >= bw.s_range[0] * (1 - 1e-12)) & (s <= bw.s_range[1] * (1 + 1e-12)))
    assert np.std(w) / np.mean(w) < 1e-12                                    # float64 rounding only
    assert np.mean(w) == pytest.approx(bw.integral(), rel=1e-12)
    assert bw.flat_efficiency() == pytest.approx(0.0644, abs=5e-4)
    s, w = bw.sample_flat(200_000, rng)
    assert np.mean(w) == pytest.approx(bw.integral(), rel=0.02)              # flat sampling: σ/mean ≈ 0.9% here
    kept, eff = tg.hit_or_miss(s, w, rng, w_max=bw.f(bw.m**2) * np.ptp(bw.s_range))
    n = len(w)
    exact = bw.flat_efficiency()
    assert eff == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / n) + 4 * 0.009 * exact)
    assert len(kept) == round(eff * n)


def test_signed_mixture_moments():
    mix, rng = tg.SignedMixture(), np.random.default_rng(3)
    assert mix.variance == pytest.approx(1.3433, abs=5e-5) and mix.negative_fraction == pytest.approx(0.2390, abs=5e-5)
    assert integrate.quad(mix.pdf, -np.inf, np.inf)[0] == pytest.approx(1.0, abs=1e-9)
    assert np.all(mix.pdf(np.linspace(-6, 6, 1001)) > 0)
    x, w = mix.sample(400_000, rng)
    mu, sigma = tg.weighted_gauss_mle(x, w)
    # σ² estimator spread at 4·10⁵ signed events: 0.004 (measured over 20 samples); 4σ
    assert sigma**2 == pytest.approx(mix.variance, abs=0.02) and mu == pytest.approx(0.0, abs=0.01)
    assert np.mean(w < 0) == pytest.approx(mix.negative_fraction, abs=4 * np.sqrt(0.24 * 0.76 / 400_000))


def test_ppca_elbo_gap_is_the_posterior_kl():
    ppca, rng = tg.PPCA(), np.random.default_rng(4)
    x = ppca.sample(50, rng)
    m, S = ppca.posterior(x)
    np.testing.assert_allclose(ppca.elbo(x, m, S), ppca.log_evidence(x), rtol=0, atol=1e-8)
    m2, S2 = m + 0.1 * rng.normal(size=m.shape), np.diag(np.diag(S)) * 1.5
    assert np.all(ppca.elbo(x, m2, S2) < ppca.log_evidence(x))
    # with the same covariance S, the gap is exactly KL(N(m2, S) ‖ N(m, S)) = ½ (m2 − m)ᵀ S⁻¹ (m2 − m)
    gap = ppca.log_evidence(x) - ppca.elbo(x, m2, S)
    d = m2 - m
    np.testing.assert_allclose(gap, 0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(S), d), rtol=1e-6)


def test_subtraction_and_ring():
    sub, rng = tg.Subtraction(), np.random.default_rng(5)
    xb = sub.sample_background(100_000, rng)
    # p_B ∝ 1/x: ln x is uniform on [0, ln 10]
    assert np.mean(np.log(xb)) == pytest.approx(np.log(10) / 2, abs=4 * np.log(10) / np.sqrt(12 * 100_000))
    xsb = sub.sample_signal_plus_background(200_000, rng)
    h_sb, edges = np.histogram(xsb, 18, (1, 10))
    h_b, _ = np.histogram(xb, edges)
    norm = np.log(10) + 0.9
    s = h_sb / (200_000 / norm) - h_b / (100_000 / np.log(10))        # density of S: 0.1 per unit x, per 0.5 bin 0.05
    assert np.mean(s) == pytest.approx(0.05, abs=0.005)
    x = tg.gaussian_ring(8000, rng)
    counts, off = tg.ring_modes(x)
    # a 2D Gaussian lies beyond 3σ of its centre with probability exp(−9/2) = 0.011
    assert counts.min() > 800 and off == pytest.approx(np.exp(-4.5), abs=4 * np.sqrt(0.011 / 8000))



def test_z_to_mumu_kinematics():
    rng = np.random.default_rng(6)
    x = tg.z_to_mumu(20_000, rng)
    m = tg.dimuon_mass(x)
    assert x.shape == (20_000, 6) and np.all((m > 60 - 1e-6) & (m < 120 + 1e-6))
    # the mass follows the Breit–Wigner in s: the median is near m_Z, the quartiles at ±Γ/2 in m (for Γ ≪ m)
    q1, med, q3 = np.percentile(m, [25, 50, 75])
    assert med == pytest.approx(91.19, abs=0.1) and q3 - q1 == pytest.approx(2.5, abs=0.2)
    import torch
    np.testing.assert_allclose(tg.dimuon_mass(torch.as_tensor(x[:100])).numpy(), m[:100], rtol=1e-9)
    pt = np.hypot(x[:, 0] + x[:, 3], x[:, 1] + x[:, 4])
    assert np.mean(pt) == pytest.approx(10.0, abs=4 * 10 / np.sqrt(20_000))   # exponential p_T of the Z, mean 10 GeV
