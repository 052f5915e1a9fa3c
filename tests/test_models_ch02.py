"""hepcourse.models (chapter 02): MLP and its initialisations, Bayesian layers, ensembles and the
repulsive term, checked against closed forms, Monte Carlo and analytic gradients."""

import inspect
import math

import numpy as np
import pytest
import torch

from hepcourse import config, losses, models
from hepcourse.models import bayesian, ensemble, mlp


# ------------------------------------------------------------------------------ MLP
def test_mlp_shapes_and_parameter_count():
    net = models.MLP(models.MLPConfig(n_in=3, n_out=2, hidden=(16, 8)))
    out, hidden = net(torch.randn(5, 3), return_hidden=True)
    assert out.shape == (5, 2) and [h.shape for h in hidden] == [(5, 16), (5, 8)]
    assert net.n_parameters() == (3 * 16 + 16) + (16 * 8 + 8) + (8 * 2 + 2)
    linear = models.MLP(n_in=2, n_out=1, hidden=())
    assert len(linear.layers) == 1 and linear(torch.zeros(4, 2)).shape == (4, 1)
    with pytest.raises(ValueError):
        models.MLPConfig(activation="swish")
    with pytest.raises(ValueError):
        models.MLPConfig(init="xavier")


@pytest.mark.parametrize("scheme,variance", [("he", lambda i, o: 2 / i), ("glorot", lambda i, o: 2 / (i + o)),
                                             ("lecun", lambda i, o: 1 / i), ("torch", lambda i, o: 1 / (3 * i)),
                                             ("small", lambda i, o: 1e-4)])
def test_initialisation_variances(scheme, variance):
    torch.manual_seed(0)
    net = models.MLP(models.MLPConfig(n_in=400, n_out=100, hidden=(), init=scheme))
    w = net.layers[0].weight
    assert w.shape == (100, 400)
    assert w.var().item() == pytest.approx(variance(400, 100), rel=0.03)   # 40 000 draws: 1% statistical error
    if scheme != "torch":
        assert torch.all(net.layers[0].bias == 0)


def test_he_initialisation_keeps_the_signal_of_a_deep_relu_network():
    """With σ_w² = 2/d_in the second moment of the activations is preserved layer by layer; with the
    PDG's printed σ_w² = 0.5/d_in (an erratum) it shrinks by 4 per layer, and with σ_w = 0.01 it vanishes."""
    torch.manual_seed(1)
    x = torch.randn(2000, 256)
    cfg = dict(n_in=256, n_out=1, hidden=(256,) * 10)
    _, h_he = models.MLP(models.MLPConfig(**cfg, init="he"))(x, return_hidden=True)
    ms = [float((h.detach() ** 2).mean()) for h in h_he]
    assert 0.5 < ms[-1] / ms[0] < 2.0
    _, h_small = models.MLP(models.MLPConfig(**cfg, init="small"))(x, return_hidden=True)
    ms_small = [float((h.detach() ** 2).mean()) for h in h_small]
    # each layer multiplies the second moment by d_in σ_w² / 2 = 256 · 1e-4 / 2 = 0.0128
    assert ms_small[-1] / ms_small[0] == pytest.approx(0.0128 ** 9, rel=0.5)


def test_models_never_choose_a_device_themselves():
    for module in (mlp, bayesian, ensemble):
        src = inspect.getsource(module)
        assert ".cuda(" not in src and "device(" not in src, module.__name__
    dev = config.device()
    net = models.Ensemble(models.MLPConfig(n_in=1, n_out=2, hidden=(8,)), k=3).to(dev)
    assert net(torch.zeros(4, 1, device=dev)).device.type == dev.type


# ------------------------------------------------------------------------------ Bayesian layers
def test_bayes_linear_kl_is_the_closed_form_sum_and_matches_monte_carlo():
    torch.manual_seed(2)
    layer = models.BayesLinear(3, 2, prior_sigma=0.8, init_sigma=0.3)
    with torch.no_grad():
        layer.weight_mu.normal_()
        layer.bias_mu.normal_()
    mu = torch.cat([layer.weight_mu.flatten(), layer.bias_mu])
    sig = torch.cat([layer.weight_sigma.flatten(), layer.bias_sigma])
    closed = ((sig ** 2 - 0.64 + mu ** 2) / (2 * 0.64) + math.log(0.8) - torch.log(sig)).sum()
    assert layer.kl().item() == pytest.approx(closed.item(), rel=1e-6)
    # Monte Carlo: <log q(θ) − log p(θ)>_q
    theta = mu + sig * torch.randn(200_000, mu.numel())
    log_q = torch.distributions.Normal(mu, sig).log_prob(theta).sum(1)
    log_p = torch.distributions.Normal(0.0, 0.8).log_prob(theta).sum(1)
    d = (log_q - log_p).double()
    assert layer.kl().item() == pytest.approx(d.mean().item(), abs=4 * d.std().item() / math.sqrt(len(d)))


def test_bayes_linear_samples_weights_with_the_reparameterisation_trick():
    torch.manual_seed(3)
    layer = models.BayesLinear(4, 3, init_sigma=0.5)
    x = torch.randn(6, 4)
    a, b = layer(x), layer(x)
    assert not torch.allclose(a, b)                                     # a fresh weight sample per call
    torch.testing.assert_close(layer(x, sample=False), x @ layer.weight_mu.T + layer.bias_mu)
    # the output of one sample is μ-part + σ-part: gradients reach both means and widths
    layer(x).sum().backward()
    assert layer.weight_mu.grad.abs().sum() > 0 and layer.weight_rho.grad.abs().sum() > 0
    # the spread over samples is the propagated weight variance: Var(y_j) = Σ_i x_i² σ_ji² + σ_bj²
    xs = torch.randn(1, 4)
    samples = torch.stack([layer(xs)[0] for _ in range(20_000)]).detach()
    var = (xs ** 2 @ (layer.weight_sigma ** 2).T + layer.bias_sigma ** 2)[0].detach()
    torch.testing.assert_close(samples.var(0), var, rtol=0.05, atol=0)


def test_bayesian_mlp_kl_shapes_and_elbo():
    net = models.BayesianMLP(models.MLPConfig(n_in=1, n_out=2, hidden=(8, 8)), prior_sigma=1.0)
    assert net.sample_predictions(torch.zeros(5, 1), n=7).shape == (7, 5, 2)
    assert net.kl().item() == pytest.approx(sum(layer.kl().item() for layer in net.layers))
    assert models.elbo(torch.tensor(1.0), torch.tensor(50.0), 100).item() == pytest.approx(1.5)


def test_predictive_moments_split_the_mixture_variance():
    rng = np.random.default_rng(4)
    mu = torch.as_tensor(rng.normal(size=(6, 3)))
    sig = torch.as_tensor(rng.uniform(0.2, 1.0, size=(6, 3)))
    mean, stat, syst, tot = models.predictive_moments(mu, sig)
    torch.testing.assert_close(tot ** 2, stat ** 2 + syst ** 2, rtol=1e-12, atol=0)   # Eq. 1.87
    torch.testing.assert_close(stat, mu.std(0, unbiased=False), rtol=1e-12, atol=0)
    # Monte Carlo: draws A ~ N(μ_k, σ_k²) with k uniform have mean `mean` and std `tot`
    k = rng.integers(0, 6, size=400_000)
    a = rng.normal(mu.numpy()[k], sig.numpy()[k])
    assert np.all(np.abs(a.mean(0) - mean.numpy()) < 4 * tot.numpy() / math.sqrt(len(k)))
    np.testing.assert_allclose(a.std(0), tot.numpy(), rtol=0.01)
    m_np = models.predictive_moments(mu.numpy(), None)                                  # NumPy, no σ
    np.testing.assert_allclose(m_np[3], stat.numpy(), rtol=1e-12)


# ------------------------------------------------------------------------------ ensembles
def test_ensemble_members_are_independent_mlps():
    torch.manual_seed(5)
    ens = models.Ensemble(models.MLPConfig(n_in=2, n_out=3, hidden=(16,)), k=4)
    x = torch.randn(10, 2)
    out = ens(x)
    assert out.shape == (4, 10, 3)
    for k in range(4):
        torch.testing.assert_close(ens.member(k)(x), out[k])
    assert not torch.allclose(out[0], out[1])                        # independent initialisations
    # the loss of member 0 gives no gradient to the others
    out[0].sum().backward()
    for layer in ens.layers:
        assert layer.weight.grad[1:].abs().sum() == 0 and layer.weight.grad[0].abs().sum() > 0
    l2 = ens.l2()
    expected = [sum(float((p.detach() ** 2).sum()) for p in ens.member(k).parameters()) for k in range(4)]
    np.testing.assert_allclose(l2.detach().numpy(), expected, rtol=1e-5)


def test_repulsion_gradient_is_the_kernel_density_force():
    torch.manual_seed(6)
    f = torch.randn(5, 7, dtype=torch.float64, requires_grad=True)   # 5 members, a batch of 7 points
    h = 4.0
    rep = models.repulsion(f, h)
    assert rep.shape == (5,) and torch.all(rep >= 1 - 1e-12) and torch.all(rep <= 5)
    rep.sum().backward()
    fd = f.detach()
    d2 = ((fd[:, None] - fd[None]) ** 2).sum(-1)
    k = torch.exp(-d2 / h)
    # ∇_{f_i} Σ_j k(f_i, f_j) / Σ_j k(f_i, f_j) with the partners fixed = ∇_{f_i} log Σ_j k(f_i, f_j)
    expected = (k[:, :, None] * (-2 * (fd[:, None] - fd[None]) / h)).sum(1) / k.sum(1, keepdim=True)
    torch.testing.assert_close(f.grad, expected, rtol=1e-10, atol=1e-12)
    # a step against the gradient pushes the members apart
    spread_before = fd.std(0).mean()
    spread_after = (fd - 0.1 * f.grad).std(0).mean()
    assert spread_after > spread_before


def test_median_bandwidth_and_identical_members():
    d2 = torch.tensor([[0.0, 1.0, 4.0], [1.0, 0.0, 9.0], [4.0, 9.0, 0.0]])
    assert models.median_bandwidth(d2).item() == pytest.approx(4.0 / math.log(3))
    same = torch.ones(4, 3, requires_grad=True)
    rep = models.repulsion(same)
    rep.sum().backward()
    torch.testing.assert_close(rep, torch.ones(4))
    assert torch.all(same.grad == 0)


def test_build_rebuilds_every_model_from_its_spec():
    cfg = {"n_in": 1, "n_out": 2, "hidden": [8], "activation": "tanh", "dropout": 0.0, "init": "glorot"}
    assert isinstance(models.build({"class": "MLP", "config": cfg}), models.MLP)
    ens = models.build({"class": "Ensemble", "config": {**cfg, "k": 3}})
    assert ens.k == 3 and ens(torch.zeros(2, 1)).shape == (3, 2, 2)
    assert models.Ensemble(models.MLPConfig(**cfg), k=3).cfg == ens.cfg          # member config + k: the same
    bnn = models.build({"class": "BayesianMLP", "config": {**cfg, "prior_sigma": 0.5, "init_sigma": 0.01}})
    assert bnn.layers[0].prior_sigma == 0.5 and bnn.cfg.init_sigma == 0.01
    assert models.MLPConfig(**cfg).to_dict() == cfg
    assert models.EnsembleConfig(**cfg, k=3).to_dict() == {**cfg, "k": 3}


def test_repulsive_ensemble_loss_trains_on_a_toy():
    """The pieces of Eq. (1.63) together: NLL + repulsion/N + L2/(2Nσ²). Members started almost
    identical (1e-3 apart) stay close under gradient descent alone; the repulsion spreads them
    (measured: mean spread 0.004 without and 0.021 with repulsion on the data)."""
    torch.manual_seed(7)
    x = torch.linspace(-1, 1, 64).unsqueeze(1)
    y = torch.sin(3 * x[:, 0]) + 0.1 * torch.randn(64)
    cfg = models.MLPConfig(n_in=1, n_out=2, hidden=(16,))

    def run(repulsive: bool):
        torch.manual_seed(8)
        ens = models.Ensemble(cfg, k=4)
        with torch.no_grad():
            for layer in ens.layers:
                layer.weight.copy_(layer.weight[:1].expand_as(layer.weight) + 1e-3 * torch.randn_like(layer.weight))
                layer.bias.copy_(layer.bias[:1].expand_as(layer.bias))
        opt = torch.optim.Adam(ens.parameters(), lr=1e-2)
        for _ in range(300):
            out = ens(x)                                                      # (K, B, 2)
            nll = losses.heteroscedastic_nll(y, out[..., 0], out[..., 1], reduction="none").mean(1)   # (K,)
            loss = nll + ens.l2() / (2 * 64 * 1.0 ** 2)
            if repulsive:
                loss = loss + models.repulsion(out[..., 0]) / 64
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        return ens(x)[..., 0].std(0).mean().item()

    plain, repulsive = run(False), run(True)
    assert repulsive > 3 * plain, (plain, repulsive)


def test_repulsion_needs_the_stop_gradient_in_the_denominator():
    """Seed 003, Eq. (1.63) as printed lets gradients flow through the normalising sum: the force then
    changes sign and pulls the members together. With the denominator detached (models.repulsion)
    a gradient step pushes them apart."""
    torch.manual_seed(0)
    f = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    k = lambda a, b: torch.exp(-((a - b) ** 2).sum(-1) / 3.0)
    printed = sum(sum(k(f[i], f[j].detach()) for j in range(4)) / sum(k(f[i], f[j]) for j in range(4)) for i in range(4))
    g_printed, = torch.autograd.grad(printed, f)
    g_ours, = torch.autograd.grad(models.repulsion(f, 3.0).sum(), f)
    spread = lambda x: ((x[:, None] - x[None]) ** 2).sum().item()
    fd = f.detach()
    assert spread(fd - 0.05 * g_printed) < spread(fd) < spread(fd - 0.05 * g_ours)
