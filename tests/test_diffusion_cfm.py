"""hepcourse.models.diffusion, hepcourse.models.flow_matching and hepcourse.ode against closed forms."""

import math

import numpy as np
import pytest
import torch

from hepcourse import ode
from hepcourse.models.diffusion import (DDPM, DDPMConfig, ddpm_loss, forward_marginal, gaussian_eps, linear_schedule,
                                        mu_from_eps, posterior, respace, sample)
from hepcourse.models.flow_matching import (CFM, CFMConfig, cfm_loss, conditional_path, gaussian_velocity,
                                            log_prob)

SCHED = linear_schedule(1000, 1e-4, 2e-2)


# ------------------------------------------------------------------------------ DDPM
def test_posterior_equals_brute_force_gaussian_algebra():
    """q(x_{t−1} | x_t, x₀) ∝ q(x_t | x_{t−1}) q(x_{t−1} | x₀): precisions add, precision-weighted means add."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(50, 3, generator=g, dtype=torch.float64)
    x_t = torch.randn(50, 3, generator=g, dtype=torch.float64)
    t = torch.randint(2, 1001, (50,), generator=g)
    mean, var = posterior(x_t, x0, t, SCHED)
    beta = SCHED.betas[t][:, None]
    ab_prev = SCHED.alpha_bar[t - 1][:, None]
    precision = 1 / (1 - ab_prev) + (1 - beta) / beta
    brute_mean = (ab_prev.sqrt() * x0 / (1 - ab_prev) + (1 - beta).sqrt() * x_t / beta) / precision
    assert torch.allclose(mean, brute_mean, rtol=0, atol=1e-10)
    assert torch.allclose(var, (1 / precision).expand_as(var), rtol=0, atol=1e-12)


def test_mu_from_eps_is_the_posterior_mean_and_the_printed_form_is_not():
    """With x_t built from x₀ and ε, the ε-parameterised mean is the posterior mean (float64 identity); the
    worked case x_t = 0.7, ε = 0.3, t = 500 gives 0.700, the form printed in the main text 0.673."""
    g = torch.Generator().manual_seed(1)
    x0, eps = (torch.randn(40, 2, generator=g, dtype=torch.float64) for _ in range(2))
    t = torch.randint(1, 1001, (40,), generator=g)
    x_t, _, _ = forward_marginal(x0, t, SCHED, noise=eps)
    assert torch.allclose(mu_from_eps(x_t, eps, t, SCHED), posterior(x_t, x0, t, SCHED)[0], rtol=0, atol=1e-10)
    x_t, e = torch.tensor([0.7], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    beta = SCHED.betas[500]
    printed = (x_t - beta / beta.sqrt() * e) / (1 - beta).sqrt()
    assert mu_from_eps(x_t, e, 500, SCHED).item() == pytest.approx(0.7004, abs=5e-4)
    assert printed.item() == pytest.approx(0.6733, abs=5e-4)


def test_forward_chain_matches_closed_form_marginal():
    """Iterating x_t = √(1 − β_t) x_{t−1} + √β_t z from x₀ = 1.5 for 300 steps matches N(√ᾱ x₀, 1 − ᾱ) within 4σ."""
    g = torch.Generator().manual_seed(2)
    n, t = 20000, 300
    x = torch.full((n, 1), 1.5, dtype=torch.float64)
    for k in range(1, t + 1):
        b = SCHED.betas[k]
        x = (1 - b).sqrt() * x + b.sqrt() * torch.randn(n, 1, generator=g, dtype=torch.float64)
    _, mean, var = forward_marginal(torch.full((1, 1), 1.5, dtype=torch.float64), t, SCHED)
    assert abs(x.mean().item() - mean.item()) < 4 * math.sqrt(var.item() / n)
    assert abs(x.var().item() - var.item()) < 4 * var.item() * math.sqrt(2 / n)


def test_respace_keeps_alpha_bar_and_the_full_schedule():
    r = respace(SCHED, 10)
    assert r.T == 10 and torch.equal(r.times.long(), torch.arange(0, 1001, 100))
    assert torch.allclose(r.alpha_bar, SCHED.alpha_bar[::100], rtol=1e-12)
    assert torch.allclose(torch.cumprod(1 - r.betas, 0), r.alpha_bar, rtol=1e-12)
    full = respace(SCHED, 1000)
    assert torch.allclose(full.betas, SCHED.betas, rtol=0, atol=1e-15)


def test_ddpm_sampling_with_the_exact_eps_reaches_the_data_distribution():
    """Ancestral sampling with the exact ε of N(2, 0.5²) over 1000 steps gives mean 2 and std 0.5 (4σ of
    8000 samples, plus the discretisation's O(1/T)); with 10 respaced steps the std misses visibly."""
    m, s = 2.0, 0.5
    def eps(x, t):
        return gaussian_eps(x, t.long(), SCHED, m, s)
    g = torch.Generator().manual_seed(3)
    x = sample(eps, 8000, 1, SCHED, generator=g, dtype=torch.float64)
    assert abs(x.mean().item() - m) < 4 * s / math.sqrt(8000)
    assert abs(x.std().item() - s) < 4 * s / math.sqrt(2 * 8000) + 0.005
    coarse = sample(eps, 8000, 1, SCHED, n_steps=10, generator=g, dtype=torch.float64)
    assert abs(coarse.std().item() - s) > 0.05


def test_ddpm_model_shapes_and_loss():
    model = DDPM(DDPMConfig(dim=3, context_dim=1, T=50, hidden=(16,)))
    x, c = torch.randn(8, 3), torch.randn(8, 1)
    assert model(x, torch.randint(1, 51, (8,)), c).shape == (8, 3)
    loss = ddpm_loss(model, (x, c))
    assert loss.dim() == 0 and loss.item() > 0
    assert model.sample(5, c[:5], n_steps=7).shape == (5, 3)


# ------------------------------------------------------------------------------ flow matching and ODEs
def test_gaussian_velocity_is_the_conditional_mean_of_r_minus_x0():
    """v(x, t) = E[r − x₀ | x(t) = x]: (r − x₀, x(t)) are jointly Gaussian, so the conditional mean is
    linear in x; a least-squares fit on 10⁵ Monte Carlo pairs recovers slope and intercept (4σ)."""
    m, s, n = 2.0, 0.5, 100_000
    g = torch.Generator().manual_seed(4)
    for t in (0.2, 0.5, 0.8):
        x0 = m + s * torch.randn(n, 1, generator=g, dtype=torch.float64)
        r = torch.randn(n, 1, generator=g, dtype=torch.float64)
        xt = conditional_path(x0, r, torch.full((n,), t, dtype=torch.float64))
        target = (r - x0).squeeze(1).numpy()
        slope, intercept = np.polyfit(xt.squeeze(1).numpy(), target, 1)
        grid = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
        v0, v1 = gaussian_velocity(grid, torch.tensor([t, t], dtype=torch.float64), m, s).squeeze(1).tolist()
        resid = target - (slope * xt.squeeze(1).numpy() + intercept)
        se = resid.std() / (xt.std().item() * math.sqrt(n))
        assert abs(slope - (v1 - v0)) < 4 * se
        assert abs(intercept - v0) < 4 * se * (1 + abs(xt.mean().item()) / xt.std().item())


def test_exact_velocity_transports_noise_to_data_and_divergence_integral():
    """The flow of the exact velocity maps r to m + s r; RK4 with 5 steps to < 1e-3, Euler with 50 steps
    misses the width by about 3%. ∫₀¹ ∂ₓv dt = −ln s, and the divergence likelihood is the exact log-pdf."""
    m, s = 2.0, 0.5
    r = torch.linspace(-3, 3, 13, dtype=torch.float64).view(-1, 1)
    def v(x, t):
        return gaussian_velocity(x, t, m, s)
    rk4 = ode.odeint(v, r, 1.0, 0.0, 5, "rk4")
    assert (rk4 - (m + s * r)).abs().max().item() < 1e-3
    euler = ode.odeint(v, r, 1.0, 0.0, 50, "euler")
    width = (euler[-1] - euler[0]).item() / (r[-1] - r[0]).item()
    assert width == pytest.approx(0.485, abs=0.003)
    x = m + s * r
    z, div = ode.odeint_with_divergence(v, x, 0.0, 1.0, 20, "rk4")
    assert torch.allclose(div, torch.full_like(div, -math.log(s)), atol=1e-6)
    exact = -0.5 * ((x - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    assert torch.allclose(log_prob(v, x, 20, "rk4"), exact.squeeze(1), atol=1e-5)


def test_integrators_have_their_order():
    """dx/dt = x from 1 over [0, 1]: halving the step divides the error by ≈ 2, 4 and 16."""
    x = torch.ones(1, 1, dtype=torch.float64)
    for method, order in (("euler", 1), ("midpoint", 2), ("rk4", 4)):
        e1, e2 = (abs(ode.odeint(lambda y, t: y, x, 0.0, 1.0, n, method).item() - math.e) for n in (16, 32))
        assert math.log2(e1 / e2) == pytest.approx(order, abs=0.15)
    with pytest.raises(ValueError, match="method"):
        ode.odeint(lambda y, t: y, x, method="heun")


def test_cfm_model_shapes_and_loss_with_given_noise():
    model = CFM(CFMConfig(dim=2, context_dim=1, hidden=(16,)))
    x0, c, r, t = torch.randn(6, 2), torch.randn(6, 1), torch.randn(6, 2), torch.rand(6)
    loss = cfm_loss(model, x0, c, r, t)
    manual = (model((1 - t)[:, None] * x0 + t[:, None] * r, t, c) - (r - x0)).pow(2).mean()
    assert loss.item() == pytest.approx(manual.item(), rel=1e-6)
    assert model.sample(4, c[:4], n_steps=3).shape == (4, 2)
    assert model.log_prob(x0, c, n_steps=2).shape == (6,)
