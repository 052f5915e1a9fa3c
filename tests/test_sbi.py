"""Chapter 09's simulation-based inference models (hepcourse.models.sbi): shapes, the losses' optima at the
exact ratio / score / posterior of the latent-Gaussian toy, the mixture density's normalisation and
sampling, and the grid posterior of a ratio estimator."""

import numpy as np
import pytest
import torch

from hepcourse.models import sbi
from hepcourse.physics import toys_inference as ti


class ExactNRE(torch.nn.Module):
    """log p(x|θ)/p(x) of the toy, scaled by c (c = 1: the optimum of the NRE loss)."""

    def __init__(self, toy, c=1.0):
        super().__init__()
        self.toy, self.c, self.dummy = toy, c, torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, theta):
        v = self.toy.log_ratio_to_evidence(x.double().numpy(), theta.double().numpy())
        return torch.as_tensor(self.c * v, dtype=torch.float64) + 0 * self.dummy


def test_shapes_and_configs():
    r = sbi.RatioEstimator(sbi.RatioConfig(x_dim=5, theta_dim=1, hidden=(16,)))
    assert r(torch.randn(7, 5), torch.randn(7)).shape == (7,)
    assert r(torch.randn(7, 5), torch.randn(7, 1)).shape == (7,)
    q = sbi.MixtureDensity(sbi.MixtureConfig(dim=2, context_dim=3, n_components=4, hidden=(16,)))
    assert q.log_prob(torch.randn(6, 2), torch.randn(6, 3)).shape == (6,)
    assert q.sample(10, torch.randn(3)).shape == (10, 2)
    assert q.sample(10, torch.randn(4, 3)).shape == (10, 4, 2)
    with pytest.raises(ValueError):
        sbi.RatioConfig(activation="nope")
    assert sbi.RatioConfig(hidden=[8]).to_dict()["hidden"] == [8]


def test_nre_and_sally_losses_are_minimal_at_the_exact_answer():
    lg = ti.LATENT_GAUSS
    rng = np.random.default_rng(0)
    theta, x = lg.sample_joint(40_000, rng)
    batch = (torch.as_tensor(x), torch.as_tensor(theta))
    with torch.no_grad():
        losses = {c: float(sbi.nre_loss(ExactNRE(lg, c), batch)) for c in (0.7, 1.0, 1.3)}
    assert losses[1.0] < losses[0.7] - 0.003 and losses[1.0] < losses[1.3] - 0.003, losses
    # SALLY: the exact marginal score beats any rescaling of it as a regression of the joint score
    lg1 = ti.LatentGauss(sigma=0.5, n_obs=1)
    x1, z1 = lg1.simulate(np.zeros(100_000), rng, return_latent=True)
    t = torch.as_tensor(z1[:, 0])
    mse = {c: float(sbi.sally_loss(lambda xx: c * (xx[:, 0] / lg1.s2), (torch.as_tensor(x1), t))) for c in (0.9, 1.0, 1.1)}
    assert mse[1.0] < mse[0.9] and mse[1.0] < mse[1.1], mse
    # its minimum is the conditional variance of z given x: σ²/(1 + σ²) = 0.2
    assert mse[1.0] == pytest.approx(0.2, abs=0.005)


def test_mixture_density_normalised_and_samples():
    torch.manual_seed(0)
    q = sbi.MixtureDensity(sbi.MixtureConfig(dim=1, context_dim=2, n_components=3, hidden=(16,))).double()
    ctx = torch.tensor([0.3, -1.0], dtype=torch.float64)
    grid = torch.linspace(-30, 30, 60_001, dtype=torch.float64)
    with torch.no_grad():
        p = q.log_prob(grid, ctx.expand(grid.numel(), 2)).exp()
    assert float(torch.trapezoid(p, grid)) == pytest.approx(1.0, abs=1e-6)
    s = q.sample(200_000, ctx)[:, 0]
    mean = float(torch.trapezoid(p * grid, grid))
    sd = float(torch.trapezoid(p * (grid - mean) ** 2, grid)) ** 0.5
    assert float(s.mean()) == pytest.approx(mean, abs=5 * sd / 200_000 ** 0.5)
    assert float(s.std()) == pytest.approx(sd, rel=0.01)
    # the NPE loss is the mean negative log density
    th, xs = torch.randn(5, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    assert float(sbi.npe_loss(q, (th, xs)).detach()) == pytest.approx(float(-q.log_prob(th, xs).mean().detach()), abs=1e-12)


def test_grid_posterior_of_the_exact_ratio_is_the_posterior():
    lg = ti.LATENT_GAUSS
    x = lg.simulate([1.7], np.random.default_rng(1))[0]
    grid = np.linspace(lg.low, lg.high, 2001)
    p = sbi.grid_posterior(ExactNRE(lg), x, grid)
    np.testing.assert_allclose(p, np.exp(lg.log_posterior(grid, x)), rtol=1e-5)
    s = sbi.sample_grid(grid, p, 100_000, np.random.default_rng(2))
    assert s.mean() == pytest.approx(float(lg.posterior(x).mean()), abs=0.01)
    assert s.std() == pytest.approx(float(lg.posterior(x).std()), rel=0.02)
