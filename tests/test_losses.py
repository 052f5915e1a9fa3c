"""hepcourse.losses: each loss against its closed form, its gradient against the analytic one, and
its minimiser against what the likelihood says it must be."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import integrate, stats

from hepcourse import losses
EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound
FEW = 1e3 * EPS                  # a few float64 operations per element, O(1) values: <~ 4 eps



@pytest.fixture(autouse=True, scope="module")
def _float64():  # closed-form comparisons at 1e-10
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _rand(*shape, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).normal(size=shape))


# ------------------------------------------------------------------------------ Gaussian NLLs
def test_gaussian_nll_is_minus_log_normal_pdf():
    y, mu = _rand(50, seed=1), _rand(50, seed=2)
    sigma = torch.as_tensor(np.random.default_rng(3).uniform(0.1, 2.0, 50))
    expected = -stats.norm.logpdf(y.numpy(), mu.numpy(), sigma.numpy())
    np.testing.assert_allclose(losses.gaussian_nll(y, mu, sigma, reduction="none").numpy(), expected, rtol=FEW)
    assert losses.gaussian_nll(y, mu, sigma).item() == pytest.approx(expected.mean(), rel=1e-12)
    assert losses.gaussian_nll(y, mu, sigma, reduction="sum").item() == pytest.approx(expected.sum(), rel=1e-12)
    # without the constant, and with a common sigma: MSE / (2 sigma^2) + log sigma (Eqs. 1.24-1.25)
    got = losses.gaussian_nll(y, mu, 0.5, full=False).item()
    assert got == pytest.approx(F.mse_loss(mu, y).item() / (2 * 0.25) + math.log(0.5), rel=1e-12)


def test_heteroscedastic_nll_matches_the_closed_form():
    y, mu, log_sigma = _rand(200, seed=4), _rand(200, seed=5), 0.5 * _rand(200, seed=6)
    sigma = torch.exp(log_sigma)
    closed = (y - mu) ** 2 / (2 * sigma ** 2) + torch.log(sigma) + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(losses.heteroscedastic_nll(y, mu, log_sigma, reduction="none"), closed, rtol=FEW)
    np.testing.assert_allclose(losses.heteroscedastic_nll(y, mu, log_sigma), losses.gaussian_nll(y, mu, sigma),
                               rtol=100 * len(y) * EPS)                          # 200-term means: <= n eps
    # PyTorch's own Gaussian NLL takes the variance and drops the constant
    torch_nll = F.gaussian_nll_loss(mu, y, sigma ** 2, full=True)
    assert losses.heteroscedastic_nll(y, mu, log_sigma).item() == pytest.approx(torch_nll.item(), rel=1e-12)


def test_heteroscedastic_nll_gradients_are_analytic():
    y, mu = _rand(30, seed=7), _rand(30, seed=8).requires_grad_()
    sigma = torch.as_tensor(np.random.default_rng(9).uniform(0.2, 3.0, 30)).requires_grad_()
    losses.heteroscedastic_nll(y, mu, torch.log(sigma), reduction="sum").backward()
    r = (y - mu).detach()
    s = sigma.detach()
    np.testing.assert_allclose(sigma.grad, 1 / s - r ** 2 / s ** 3, rtol=1e4 * EPS)   # dL/dsigma (cancels: measured 23 eps)
    np.testing.assert_allclose(mu.grad, -r / s ** 2, rtol=FEW)                      # dL/dmu


def test_constant_heteroscedastic_model_learns_sample_mean_and_biased_std():
    y = torch.as_tensor(np.random.default_rng(10).normal(1.5, 0.7, 5000))
    m, s = y.mean(), y.std(unbiased=False)
    mu = m.clone().requires_grad_()
    log_sigma = torch.log(s).clone().requires_grad_()
    losses.heteroscedastic_nll(y, mu.expand_as(y), log_sigma.expand_as(y)).backward()
    tol = 100 * len(y) * EPS * float(y.abs().max() / s ** 2)                        # 5000-term means: <= n eps
    assert abs(mu.grad.item()) < tol and abs(log_sigma.grad.item()) < tol          # stationary point
    # and it is the minimum: a few steps of Adam from elsewhere land there
    mu2 = torch.zeros((), requires_grad=True)
    ls2 = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([mu2, ls2], lr=0.05)
    for _ in range(2000):
        opt.zero_grad()
        losses.heteroscedastic_nll(y, mu2.expand_as(y), ls2.expand_as(y)).backward()
        opt.step()
    assert mu2.item() == pytest.approx(m.item(), abs=1e-3)
    assert math.exp(ls2.item()) == pytest.approx(s.item(), abs=1e-3)


# ------------------------------------------------------------------------------ Bernoulli
def test_bce_is_the_bernoulli_nll():
    z = 3 * _rand(100, seed=11)
    y = torch.as_tensor(np.random.default_rng(12).integers(0, 2, 100))
    s = torch.sigmoid(z)
    manual = -(y * torch.log(s) + (1 - y) * torch.log(1 - s))
    # the manual log(1 − s) loses e^|z| eps relative for large |z|
    np.testing.assert_allclose(losses.bce_with_logits(z, y, reduction="none"), manual,
                               rtol=100 * EPS * float(torch.exp(z.abs().max())))
    w = torch.as_tensor(np.random.default_rng(13).uniform(0.5, 2.0, 100))
    assert losses.bce_with_logits(z, y, w).item() == pytest.approx(((w * manual).sum() / w.sum()).item(), rel=1e-12)
    assert np.isfinite(losses.bce_with_logits(torch.tensor([200.0, -200.0]), torch.tensor([0, 1])).item())


def test_bce_optimum_is_the_class_fraction_and_balanced_weights_make_it_one_half():
    y = torch.cat([torch.ones(200), torch.zeros(800)])

    def grad_at(prob, weight=None):
        # the BCE of a constant output s = prob is convex in the logit: zero gradient = the minimum
        z = torch.logit(torch.tensor(prob)).requires_grad_()
        losses.bce_with_logits(z.expand_as(y), y, weight).backward()
        return z.grad.item()

    tol = 100 * len(y) * EPS                                      # a 1000-term float64 mean: <= n eps
    assert abs(grad_at(0.2)) < tol and grad_at(0.3) > 1e-3    # PDG Eq. 41.11: s* = p(S) for a constant model
    w = losses.balanced_class_weights(y)
    assert w[y == 1].sum().item() == pytest.approx(w[y == 0].sum().item()) == pytest.approx(500.0)
    assert abs(grad_at(0.5, w)) < tol and abs(grad_at(0.2, w)) > 1e-3
    with pytest.raises(ValueError):
        losses.balanced_class_weights(torch.ones(5))


# ------------------------------------------------------------------------------ focal loss
def test_focal_loss_is_bce_at_gamma_zero_and_stays_finite():
    z, y = 4 * _rand(64, seed=14), torch.as_tensor(np.random.default_rng(15).integers(0, 2, 64))
    np.testing.assert_allclose(losses.focal_loss_with_logits(z, y, gamma=0.0),
                               F.binary_cross_entropy_with_logits(z, y.double()), rtol=100 * len(z) * EPS)   # 64-term means
    big = torch.tensor([100.0, -100.0, 100.0, -100.0], requires_grad=True)
    loss = losses.focal_loss_with_logits(big, torch.tensor([1, 0, 0, 1]), gamma=2.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.all(torch.isfinite(big.grad))


def test_focal_loss_gradient_is_analytic_and_suppressed_by_one_plus_gamma_p_to_gamma():
    gamma = 2.0
    z = torch.linspace(-12, 3, 61, requires_grad=True)
    losses.focal_loss_with_logits(z, torch.zeros(61), gamma=gamma, reduction="sum").backward()
    s = torch.sigmoid(z).detach()
    exact = s ** (gamma + 1) - gamma * s ** gamma * (1 - s) * torch.log1p(-s)     # y = 0
    np.testing.assert_allclose(z.grad, exact, rtol=1e4 * EPS, atol=1e-300)   # a few ops per element: measured 8 eps
    # relative to BCE (gradient s): ratio (1 + gamma) s^gamma for s -> 0, within 2% for z <= -5
    far = z.detach() <= -5
    ratio = (z.grad / s)[far]
    np.testing.assert_allclose(ratio, ((1 + gamma) * s ** gamma)[far], rtol=0.02)
    # seed 000 A6: at z = -8, gamma = 2 the exact ratio is 3.3734e-7 and the asymptotic one 3.3738e-7
    i = int(torch.argmin(torch.abs(z.detach() + 8)))
    assert (z.grad[i] / s[i]).item() == pytest.approx(3.3734e-7, rel=2e-4)
    assert ((1 + gamma) * s[i] ** gamma).item() == pytest.approx(3.3738e-7, rel=2e-4)


def test_focal_loss_alpha_weights_the_classes():
    z = _rand(10, seed=16)
    y1, y0 = torch.ones(10), torch.zeros(10)
    fl = lambda y, a: losses.focal_loss_with_logits(z, y, 2.0, a, reduction="none")
    np.testing.assert_allclose(fl(y1, 0.25), 0.25 * fl(y1, None), rtol=FEW)
    np.testing.assert_allclose(fl(y0, 0.25), 0.75 * fl(y0, None), rtol=FEW)


# ------------------------------------------------------------------------------ KL divergence
@pytest.mark.parametrize("mq,sq,mp,sp", [(0.3, 0.5, 0.0, 1.0), (-1.0, 2.0, 0.5, 0.7), (0.0, 1.0, 0.0, 1.0)])
def test_gaussian_kl_matches_quadrature(mq, sq, mp, sp):
    got = losses.gaussian_kl(torch.tensor(mq), torch.tensor(sq), mp, sp).item()
    q, p = stats.norm(mq, sq), stats.norm(mp, sp)
    expected, _ = integrate.quad(lambda t: q.pdf(t) * (q.logpdf(t) - p.logpdf(t)), mq - 12 * sq, mq + 12 * sq,
                                 epsabs=1e-13)
    assert got == pytest.approx(expected, abs=1e-9)
    assert got >= 0 and (got == 0) == (mq == mp and sq == sp)


def test_gaussian_kl_monte_carlo_is_not_symmetric_and_has_the_l2_gradient():
    rng = np.random.default_rng(17)
    mq, sq = torch.as_tensor(rng.normal(size=4)), torch.as_tensor(rng.uniform(0.3, 1.5, 4))
    mp, sp = torch.as_tensor(rng.normal(size=4)), torch.as_tensor(rng.uniform(0.3, 1.5, 4))
    kl = losses.gaussian_kl(mq, sq, mp, sp).sum()                     # diagonal Gaussians in 4 dimensions
    t = mq + sq * torch.as_tensor(rng.normal(size=(400_000, 4)))
    log_ratio = (stats.norm.logpdf(t, mq, sq) - stats.norm.logpdf(t, mp, sp)).sum(1)
    assert kl.item() == pytest.approx(log_ratio.mean(), abs=4 * log_ratio.std() / np.sqrt(len(log_ratio)))
    assert losses.gaussian_kl(mp, sp, mq, sq).sum().item() != pytest.approx(kl.item(), rel=1e-3)
    # dKL/dmu_q = (mu_q - mu_p)/sigma_p^2 for any sigma_q (Eqs. 1.79-1.81)
    mu = mq.clone().requires_grad_()
    losses.gaussian_kl(mu, sq, mp, sp).sum().backward()
    np.testing.assert_allclose(mu.grad, (mq - mp) / sp ** 2, rtol=FEW)
