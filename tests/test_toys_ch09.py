"""Chapter 09's latent-variable toy (hepcourse.physics.toys_inference.LatentGauss): samples follow the
stated densities; the ratio, the scores, the Fisher information and the posterior are the closed forms."""

import numpy as np
import pytest
from scipy import integrate, stats

from hepcourse.physics import toys_inference as ti


def test_latent_gauss_samples_and_closed_forms():
    lg = ti.LatentGauss(sigma=0.8, n_obs=1)
    rng = np.random.default_rng(0)
    x, z = lg.simulate(np.full(200_000, 0.0), rng, return_latent=True)
    x, z = x[:, 0], z[:, 0]
    assert x.std() == pytest.approx(np.sqrt(1.64), abs=0.01) and z.std() == pytest.approx(1.0, abs=0.01)
    # the marginal score is the conditional mean of the joint score: OLS slope of z on x = 1/(1 + σ²)
    slope = np.cov(x, lg.joint_score(z, 0.0))[0, 1] / x.var()
    assert slope == pytest.approx(1 / 1.64, rel=0.02)
    pts = np.linspace(-3, 3, 13)
    for th in (-1.0, 0.5):
        np.testing.assert_allclose(lg.log_ratio(pts, th), lg.log_likelihood(pts, th) - lg.log_likelihood(pts, 0.0),
                                   atol=1e-12)
        # E[p(z|θ)/p(z|0) | x] = p(x|θ)/p(x|0) (Eq. 6.61), by quadrature over z ~ p(z|x, θ = 0)
        for xx in (-1.0, 0.7):
            post = stats.norm(xx / 1.64, np.sqrt(0.64 / 1.64))
            val = integrate.quad(lambda zz: np.exp(lg.joint_log_ratio(zz, th)) * post.pdf(zz), -10, 10)[0]
            assert np.log(val) == pytest.approx(float(lg.log_ratio(xx, th)), abs=1e-8)
    # the score is the θ-derivative of the log-likelihood
    np.testing.assert_allclose(lg.score(pts, 0.3), (lg.log_likelihood(pts, 0.3 + 1e-6) - lg.log_likelihood(pts, 0.3 - 1e-6)) / 2e-6,
                               atol=1e-6)
    assert lg.cramer_rao(100) == pytest.approx(0.0164) and lg.fisher_information(100) == pytest.approx(100 / 1.64)


def test_latent_gauss_posterior():
    lg = ti.LATENT_GAUSS
    rng = np.random.default_rng(1)
    theta, x = lg.sample_joint(4, rng)
    grid = np.linspace(lg.low, lg.high, 4001)
    for k in range(4):
        # prior × likelihood normalised on a grid = the closed-form posterior
        logp = lg.log_likelihood(np.broadcast_to(x[k], (grid.size, lg.n_obs)), grid)
        p = np.exp(logp - logp.max())
        p /= np.trapezoid(p, grid)
        np.testing.assert_allclose(np.exp(lg.log_posterior(grid, x[k])), p, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(lg.log_ratio_to_evidence(x[k], grid), lg.log_posterior(grid, x[k]) + np.log(4), atol=1e-12)
    s = lg.sample_posterior(x, 20_000, rng)
    assert s.shape == (4, 20_000) and s.min() >= lg.low and s.max() <= lg.high
    np.testing.assert_allclose(s.mean(1), lg.posterior(x).mean(), atol=0.015)
    assert lg.sample_posterior(x[0], 10, rng).shape == (10,)
