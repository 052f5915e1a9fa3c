"""The p_T^miss toy of item A13 (closed forms), the sorted W₁ and the penalised DDPM loss (chapter 08)."""

import functools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from hepcourse.metrics import w1_sorted
from hepcourse.models.diffusion import (DDPM, DDPMConfig, forward_marginal, linear_schedule, penalised_ddpm_loss,
                                        x0_from_eps)
from hepcourse.physics.toys_ptmiss import MissingPtToy, pt_miss, rayleigh_w1


def test_w1_sorted_is_scipy_and_its_gradient_is_sign_over_n():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 1000), rng.exponential(1.0, 1000)
    exact = stats.wasserstein_distance(a, b)
    assert w1_sorted(a, b) == pytest.approx(exact, rel=1e-12)                 # float64 sums of 1000 terms
    ta = torch.tensor(a, requires_grad=True)
    w = w1_sorted(ta, torch.tensor(b))
    assert w.item() == pytest.approx(exact, rel=1e-12)
    w.backward()
    order_a, order_b = np.argsort(a), np.argsort(b)
    expected = np.empty(1000)
    expected[order_a] = np.sign(a[order_a] - b[order_b]) / 1000
    np.testing.assert_array_equal(ta.grad.numpy(), expected)
    assert w1_sorted(a, a + 0.3) == pytest.approx(0.3, abs=1e-12)                # a shift costs its size
    with pytest.raises(ValueError, match="equal size"):
        w1_sorted(a, b[:10])
    with pytest.raises(ValueError, match="equal size"):
        w1_sorted(ta, torch.tensor(b[:10]))


def test_toy_moments_and_rayleigh_ptmiss():
    toy, n = MissingPtToy(), 200_000
    x = toy.sample(n, np.random.default_rng(2))
    sd = toy.std
    assert np.all(np.abs(x.mean(0) - toy.mean) < 5 * sd / math.sqrt(n))
    c = np.cov(x.T)
    assert np.abs(c - toy.cov()).max() < 5 * np.sqrt(2.0 / n) * sd.max() ** 2    # 5σ of a sample covariance
    pm = pt_miss(x)
    assert pm.mean() == pytest.approx(toy.ptmiss_mean(), abs=5 * 0.655 * toy.sigma_nu / math.sqrt(n))
    assert stats.kstest(pm, stats.rayleigh(scale=toy.sigma_nu).cdf).pvalue > 1e-3
    # the torch version is the same function and differentiable
    tx = torch.tensor(x[:5], requires_grad=True)
    pt_miss(tx).sum().backward()
    np.testing.assert_allclose(pt_miss(tx).detach().numpy(), pm[:5], rtol=1e-12)
    assert tx.grad is not None


def test_rayleigh_w1_against_scipy_on_quantile_grids():
    u = (np.arange(200_000) + 0.5) / 200_000                                   # midpoints of equal-probability bins
    q = np.sqrt(-2 * np.log1p(-u))                                              # Rayleigh(1) quantiles
    assert stats.wasserstein_distance(10 * q, 7 * q) == pytest.approx(rayleigh_w1(10, 7), rel=1e-4)  # midpoint rule
    assert rayleigh_w1(7, 10) == rayleigh_w1(10, 7) == pytest.approx(3 * math.sqrt(math.pi / 2), rel=1e-15)


def test_denoiser_is_the_regression_of_z0_on_zt_and_its_ptmiss_scale():
    toy, n, ab = MissingPtToy(), 200_000, 0.6
    rng = np.random.default_rng(4)
    z0 = (toy.sample(n, rng) - toy.mean) / toy.std
    zt = math.sqrt(ab) * z0 + math.sqrt(1 - ab) * rng.standard_normal(z0.shape)
    ols = np.linalg.lstsq(zt, z0, rcond=None)[0].T                              # E[z0 | zt] is linear
    exact = toy.denoiser(np.eye(6), ab).T                                       # the matrix K
    assert np.abs(ols - exact).max() < 0.01                                    # OLS error ≈ 1/√n ≈ 0.002
    hat = toy.mean + toy.std * toy.denoiser(zt, ab)
    s = hat.reshape(n, 3, 2).sum(1)
    assert s.std(0) == pytest.approx([toy.onestep_ptmiss_scale(ab)] * 2, rel=0.01)
    assert toy.onestep_ptmiss_scale(1.0) == pytest.approx(toy.sigma_nu, rel=1e-12)
    scales = [toy.onestep_ptmiss_scale(a) for a in (0.99, 0.9, 0.5, 0.1, 1e-4)]
    assert all(x > y for x, y in zip(scales, scales[1:])) and scales[-1] < 0.1
    tz = torch.tensor(zt[:3])
    np.testing.assert_allclose(toy.denoiser(tz, ab).numpy(), toy.denoiser(zt[:3], ab), rtol=1e-12)


def test_x0_from_eps_inverts_the_forward_marginal():
    sched = linear_schedule(200, 1e-4, 0.1)
    x0, eps = torch.randn(50, 3, dtype=torch.float64), torch.randn(50, 3, dtype=torch.float64)
    t = torch.randint(1, 201, (50,))
    xt, _, _ = forward_marginal(x0, t, sched, noise=eps)
    assert (x0_from_eps(xt, eps, t, sched) - x0).abs().max() < 1e-9


def test_penalised_loss_without_penalty_is_the_ddpm_loss_and_the_penalty_has_gradients():
    model = DDPM(DDPMConfig(dim=6, T=50, beta_T=0.2, hidden=(16,)))
    x0 = torch.randn(256, 6)
    feature = functools.partial(lambda z: pt_miss(z))
    torch.manual_seed(5)
    plain = model.loss(x0)
    torch.manual_seed(5)
    assert penalised_ddpm_loss(model, (x0,), feature, lam=0.0).item() == plain.item()
    torch.manual_seed(5)
    pen = penalised_ddpm_loss(model, (x0,), feature, lam=1.0, t_max=5)
    assert pen.item() > plain.item()                                            # the same DDPM term plus W₁ > 0
    pen.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
