"""Chapter 06's autoencoder and VAE (hepcourse.models.autoencoder, hepcourse.models.vae): the KL in closed
form against Monte Carlo and torch.distributions, the reparameterisation gradient, the linear autoencoder
against PCA, and the VAE's negative ELBO against the exact evidence of a linear Gaussian model."""

import math

import numpy as np
import pytest
import torch

from hepcourse import losses, models, train
from hepcourse.models import VAE, Autoencoder, AutoencoderConfig, VAEConfig, kl_normal
from hepcourse.physics.toys_anomaly import SUBSPACE

EPS = np.finfo(np.float64).eps


def test_kl_closed_form_against_monte_carlo_and_torch():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([[0.3, -1.2, 0.0], [2.0, 0.1, -0.5]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7], [0.4, -2.0, 0.2]], dtype=torch.float64)
    kl = kl_normal(mu, logvar)                                                   # (2,)
    assert kl.shape == (2,)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    ref = torch.distributions.kl_divergence(q, p).sum(-1)
    # the same closed form evaluated in another order: agreement to a few ulp of the terms (|terms| < 5)
    assert torch.allclose(kl, ref, rtol=0, atol=50 * EPS), (kl, ref)
    assert torch.allclose(kl, losses.gaussian_kl(mu, torch.exp(0.5 * logvar), 0.0, 1.0).sum(-1), rtol=0, atol=50 * EPS)
    # Monte Carlo: KL = E_q[log q(z) − log p(z)], 2·10⁵ draws; within 4 standard errors
    n = 200_000
    z = mu + torch.exp(0.5 * logvar) * torch.randn((n, *mu.shape), generator=g, dtype=torch.float64)
    log_ratio = (q.log_prob(z) - p.log_prob(z)).sum(-1)                          # (n, 2)
    est, err = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(n)
    assert torch.all((est - kl).abs() < 4 * err), (est, kl, err)
    assert torch.all(kl >= 0) and float(kl_normal(torch.zeros(1, 4), torch.zeros(1, 4))) == 0.0


def test_reparameterisation_gradient():
    # d/dμ E[z²] = 2μ and d/dlog σ² E[z²] = σ² for z ∼ N(μ, σ²): the pathwise estimator through z = μ + σε
    torch.manual_seed(1)
    n = 100_000
    mu = torch.full((n, 1), 0.7, dtype=torch.float64, requires_grad=True)
    logvar = torch.full((n, 1), math.log(0.5), dtype=torch.float64, requires_grad=True)
    z = VAE.reparameterize(mu, logvar)
    (z ** 2).sum().backward()
    g_mu, g_lv = mu.grad[:, 0], logvar.grad[:, 0]                                  # per-draw gradients
    assert abs(g_mu.mean() - 1.4) < 4 * g_mu.std() / math.sqrt(n), g_mu.mean()
    assert abs(g_lv.mean() - 0.5) < 4 * g_lv.std() / math.sqrt(n), g_lv.mean()
    # the sample keeps its distribution: mean μ and variance σ²
    assert abs(z.mean() - 0.7) < 4 * math.sqrt(0.5 / n) and abs(z.var() - 0.5) < 4 * 0.5 * math.sqrt(2 / n)


def _pca_autoencoder(x: np.ndarray, m: int) -> Autoencoder:
    """A linear autoencoder in float64 with its weights set to the PCA solution of x."""
    mean = x.mean(0)
    vecs = np.linalg.eigh(np.cov(x.T, bias=True))[1][:, ::-1][:, :m]          # (n, m) leading eigenvectors
    ae = Autoencoder(AutoencoderConfig(n_in=x.shape[1], n_latent=m, hidden=())).double()
    enc, dec = ae.encoder.layers[0], ae.decoder.layers[0]
    with torch.no_grad():
        enc.weight.copy_(torch.from_numpy(vecs.T.copy()))
        enc.bias.copy_(torch.from_numpy(-vecs.T @ mean))
        dec.weight.copy_(torch.from_numpy(vecs.copy()))
        dec.bias.copy_(torch.from_numpy(mean))
    return ae


def test_linear_autoencoder_is_pca():
    rng = np.random.default_rng(3)
    x = SUBSPACE.sample(4000, 2, rng)                                           # 2D subspace of R^8, σ = 0.05
    lam = np.linalg.eigvalsh(np.cov(x.T, bias=True))[::-1]
    # the PCA weights: the mean error is the sum of the discarded sample eigenvalues (a float64 identity)
    pca = _pca_autoencoder(x, 2)
    err = models.reconstruction_error(pca, x)
    assert err.shape == (4000,)
    xt = torch.from_numpy(x)
    with torch.no_grad():
        err64 = ((pca(xt) - xt) ** 2).sum(-1).mean().item()
    assert abs(err64 - lam[2:].sum()) < 1e-9 * lam.sum(), (err64, lam[2:].sum())
    # and 6σ² in the population (the sample value scatters by ≈ √(2/(6N)) ≈ 1 % around it)
    assert SUBSPACE.linear_ae_error(2, 2) == pytest.approx(6 * 0.05 ** 2, rel=1e-12)
    assert abs(lam[2:].sum() / (6 * 0.05 ** 2) - 1) < 0.05
    # a trained tied linear autoencoder reaches the PCA error (measured over seeds 0-3: 1.0007 times it after
    # 20 epochs on half the events) and spans the same subspace; the PCA error is the minimum (float32: 1e-5)
    ae = Autoencoder(AutoencoderConfig(n_in=8, n_latent=2, hidden=(), tied=True))
    train.fit(ae, models.reconstruction_loss, train.TensorLoader(x[:2000], batch_size=64, seed=0),
              cfg=train.TrainConfig(epochs=20, lr=1e-2, patience=None, progress=False, schedule="cosine"))
    trained = models.reconstruction_error(ae, x).mean()
    assert lam[2:].sum() * (1 - 1e-5) <= trained < 1.01 * lam[2:].sum(), (trained, lam[2:].sum())
    w = ae.encoder.layers[0].weight.detach().double().numpy().T                # (8, 2): its columns span the subspace
    basis = SUBSPACE.basis()[:, :2]
    residual = w - basis @ (basis.T @ w)
    assert np.linalg.norm(residual) < 0.05 * np.linalg.norm(w)


def test_complexity_bias_is_exact_in_the_linear_limit():
    rng = np.random.default_rng(4)
    simple, rich = SUBSPACE.sample(5000, 1, rng), SUBSPACE.sample(5000, 2, rng)
    # a 1D PCA autoencoder of the simple class: the rich class has the extra variance s₂² outside its subspace
    on_simple = _pca_autoencoder(simple, 1)
    e_rich = models.reconstruction_error(on_simple, rich).mean()
    assert e_rich == pytest.approx(SUBSPACE.cross_error(1, 1, 2), rel=0.05)
    # a 2D one of the rich class reconstructs the simple class as well as its own events
    on_rich = _pca_autoencoder(rich, 2)
    e_simple = models.reconstruction_error(on_rich, simple).mean()
    assert e_simple == pytest.approx(SUBSPACE.cross_error(2, 2, 1), rel=0.05)
    assert SUBSPACE.cross_error(2, 2, 1) == pytest.approx(6 * 0.05 ** 2, rel=1e-12)


def _linear_gaussian_vae(w: float, b: np.ndarray, sigma_x: float, exact_encoder: bool) -> VAE:
    """A VAE with a 1D latent, linear decoder x = w·a z + b (a a fixed unit vector) and linear encoder."""
    n = len(b)
    vae = VAE(VAEConfig(n_in=n, n_latent=1, hidden=(), sigma_x=sigma_x)).double()
    a = np.ones(n) / math.sqrt(n)
    with torch.no_grad():
        vae.decoder.layers[0].weight.copy_(torch.from_numpy(w * a[:, None]))
        vae.decoder.layers[0].bias.copy_(torch.from_numpy(b))
        enc = vae.encoder.layers[0]                                            # outputs (μ, log σ²)
        if exact_encoder:   # the exact posterior: precision 1 + w²/σ², mean (w/σ²) aᵀ(x − b) / precision
            prec = 1 + w ** 2 / sigma_x ** 2
            enc.weight.copy_(torch.from_numpy(np.stack([w / sigma_x ** 2 / prec * a, np.zeros(n)])))
            enc.bias.copy_(torch.tensor([-(w / sigma_x ** 2 / prec) * a @ b, -math.log(prec)], dtype=torch.float64))
    return vae


def test_vae_negative_elbo_bounds_the_exact_evidence():
    # linear Gaussian model: z ∼ N(0, 1), x = w a z + b + σ_x ε, so p(x) = N(b, w² a aᵀ + σ_x² 1) exactly
    torch.manual_seed(5)
    w, b, sigma_x = 1.5, np.array([0.2, -0.1, 0.4]), 0.5
    a = np.ones(3) / math.sqrt(3)
    cov = w ** 2 * np.outer(a, a) + sigma_x ** 2 * np.eye(3)
    x = torch.tensor([[0.5, 0.1, 0.9], [-1.0, -0.8, -0.3], [2.0, 0.0, 0.1]], dtype=torch.float64)
    from scipy import stats
    nll_exact = -stats.multivariate_normal(b, cov).logpdf(x.numpy())                  # (3,)
    reps = 20_000
    xr = x.repeat(reps, 1)
    for exact, check in ((True, "equal"), (False, "above")):
        vae = _linear_gaussian_vae(w, b, sigma_x, exact)
        with torch.no_grad():
            draws = vae.loss(xr).view(reps, 3)                                    # one-draw estimates of −ELBO
        est, err = draws.mean(0).numpy(), (draws.std(0) / math.sqrt(reps)).numpy()
        if check == "equal":     # with the exact posterior the bound is tight: −ELBO = −log p(x)
            assert np.all(np.abs(est - nll_exact) < 4 * err + 1e-9), (est, nll_exact, err)
        else:                    # any other encoder: −ELBO > −log p(x), here by far more than the MC error
            assert np.all(est - nll_exact > 4 * err), (est, nll_exact, err)
    # β weights the KL term only
    vae = _linear_gaussian_vae(w, b, sigma_x, False)
    vae2 = VAE(VAEConfig(**{**vae.cfg.to_dict(), "beta": 3.0})).double()
    vae2.load_state_dict(vae.state_dict())
    torch.manual_seed(6)
    l1 = vae.loss(x)
    torch.manual_seed(6)
    l3 = vae2.loss(x)
    with torch.no_grad():
        kl = kl_normal(*vae.encode(x))
    assert torch.allclose(l3 - l1, 2.0 * kl, rtol=0, atol=1e-12)


def test_vae_trains_and_scores_and_models_build():
    rng = np.random.default_rng(7)
    x = SUBSPACE.sample(2000, 1, rng).astype(np.float32)
    vae = VAE(VAEConfig(n_in=8, n_latent=1, hidden=(32,), sigma_x=0.1))
    hist = train.fit(vae, models.vae_loss, train.TensorLoader(x, batch_size=128, seed=0),
                     cfg=train.TrainConfig(epochs=15, lr=3e-3, patience=None, progress=False))
    assert hist.train_loss[-1] < hist.train_loss[0] - 10, hist.train_loss
    s = models.vae_scores(vae, x)
    assert set(s) == {"reconstruction", "kl"} and s["kl"].shape == (2000,) and np.all(s["kl"] >= 0)
    x_hat, mu, logvar = vae(torch.from_numpy(x[:5]))
    assert x_hat.shape == (5, 8) and mu.shape == logvar.shape == (5, 1)
    for model in (vae, Autoencoder(AutoencoderConfig(n_in=8, n_latent=3, hidden=(16, 8))),
                  Autoencoder(AutoencoderConfig(n_in=8, n_latent=2, hidden=(), tied=True))):
        spec = {"class": type(model).__name__, "config": model.cfg.to_dict()}
        rebuilt = models.build(spec)
        rebuilt.load_state_dict(model.state_dict())
        assert rebuilt.cfg == model.cfg
    ae = Autoencoder(AutoencoderConfig(n_in=8, n_latent=3, hidden=(16, 8)))
    with torch.no_grad():
        manual = ((ae(torch.from_numpy(x)) - torch.from_numpy(x)) ** 2).sum(-1).double().numpy()
    assert np.allclose(models.reconstruction_error(ae, x), manual, rtol=1e-5, atol=1e-7)
