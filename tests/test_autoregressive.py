"""hepcourse.models.autoregressive: mixture conditionals, the causal mask, normalisation."""

import math

import numpy as np
import torch
from scipy import integrate, stats

from hepcourse.models.autoregressive import ARConfig, AutoregressiveDensity, ar_loss, gmm_log_prob


def test_mixture_integrates_to_one_and_matches_scipy():
    logits, mu, log_sigma = torch.tensor([0.3, -1.0, 0.5]), torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([-0.5, 0.2, -1.0])
    total = integrate.quad(lambda v: math.exp(gmm_log_prob(torch.tensor(v), logits, mu, log_sigma).item()), -20, 20,
                           points=[-1.0, 0.5, 2.0])[0]
    assert abs(total - 1) < 1e-5
    w = torch.softmax(logits, 0).numpy()
    x = np.linspace(-3, 4, 9)
    ref = np.log(sum(wk * stats.norm(m, math.exp(s)).pdf(x) for wk, m, s in zip(w, mu.numpy(), log_sigma.numpy())))
    got = gmm_log_prob(torch.tensor(x, dtype=torch.float64), logits.double(), mu.double(), log_sigma.double())
    assert np.allclose(got.numpy(), ref, atol=1e-10)


def test_chain_rule_with_exact_conditionals():
    """Σ_i log p(x_i | x_<i) = log p(x) for a correlated Gaussian with exact one-component conditionals."""
    rho = 0.8
    x = torch.tensor([[0.3, -0.4], [1.2, 0.9]], dtype=torch.float64)
    one = torch.zeros(2, 1, dtype=torch.float64)
    lp1 = gmm_log_prob(x[:, 0], one, one, one)
    lp2 = gmm_log_prob(x[:, 1], one, (rho * x[:, 0])[:, None], torch.full((2, 1), 0.5 * math.log(1 - rho ** 2),
                                                                          dtype=torch.float64))
    joint = stats.multivariate_normal([0, 0], [[1, rho], [rho, 1]]).logpdf(x.numpy())
    assert np.allclose((lp1 + lp2).numpy(), joint, atol=1e-10)


def test_causal_mask_and_shapes():
    """∂(parameters of p(x_i | x_<i))/∂x_j = 0 for j ≥ i; a randomly initialised 2D model is normalised."""
    torch.manual_seed(0)
    model = AutoregressiveDensity(ARConfig(dim=4, n_components=3, d_model=16, n_heads=2, n_layers=1)).double().eval()
    x = torch.randn(1, 4, dtype=torch.float64, requires_grad=True)
    logits, mu, _ = model.conditionals(x)
    for i in range(4):
        grad, = torch.autograd.grad(mu[0, i].sum() + logits[0, i].sum(), x, retain_graph=True)
        assert torch.all(grad[0, i:] == 0), (i, grad)
        if i > 0:
            assert grad[0, :i].abs().sum() > 0
    assert model.sample(5).shape == (5, 4)
    assert ar_loss(model, (torch.randn(3, 4, dtype=torch.float64),)).dim() == 0
    torch.manual_seed(1)
    m2 = AutoregressiveDensity(ARConfig(dim=2, n_components=2, d_model=8, n_heads=2, n_layers=1)).double().eval()
    g = torch.linspace(-8, 8, 241, dtype=torch.float64)
    xx, yy = torch.meshgrid(g, g, indexing="ij")
    with torch.no_grad():
        p = m2.log_prob(torch.stack([xx.ravel(), yy.ravel()], 1)).exp()
    assert abs(p.sum().item() * (g[1] - g[0]).item() ** 2 - 1) < 0.01
