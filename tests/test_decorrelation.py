"""hepcourse.decorrelation and the dependence metrics of hepcourse.metrics (chapter 05):
gradient reversal against autograd, distance correlation against a brute-force double-centred
reference and the Gaussian closed form, mutual information against −½ ln(1 − ρ²), the
Jensen–Shannon sculpting metric against scipy, and both decorrelation losses doing what they promise
on the toys with exact answers."""

import numpy as np
import pytest
import torch
from scipy.spatial import distance

from hepcourse import decorrelation as dc
from hepcourse import metrics, train
from hepcourse.models import MLP, MLPConfig
from hepcourse.physics import toys


def _dcor_brute(x, y):
    """dCor by the definition: double-centred distance matrices (Székely et al. 2007, Eqs. 2.8-2.10)."""
    def centred(v):
        a = np.abs(v[:, None] - v[None, :])
        return a - a.mean(0, keepdims=True) - a.mean(1, keepdims=True) + a.mean()
    A, B = centred(np.asarray(x, float)), centred(np.asarray(y, float))
    return np.sqrt((A * B).mean() / np.sqrt((A * A).mean() * (B * B).mean()))


# ---------------------------------------------------------------------------- gradient reversal
def test_grad_reverse_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(7, 3, dtype=torch.float64)
    for lam in (0.0, 0.5, 3.0):
        y = dc.grad_reverse(x, lam)
        assert torch.equal(y, x)
        (g,) = torch.autograd.grad((w * y ** 2).sum(), x)
        (g_plain,) = torch.autograd.grad((w * x ** 2).sum(), x)
        torch.testing.assert_close(g, -lam * g_plain, rtol=0, atol=0)         # exactly −λ times the upstream gradient
        torch.testing.assert_close(g, -lam * 2 * w * x, rtol=1e3 * torch.finfo(torch.float64).eps, atol=0)   # 3 products: <~ 2 eps


def test_grad_reverse_inside_a_loss_trains_the_two_sides_in_opposite_directions():
    # L = L_f + L_r(adv(GRL(s))): the adversary's parameters get +∂L_r, the classifier's −λ ∂L_r + ∂L_f
    torch.manual_seed(0)
    f, a = torch.nn.Linear(2, 1).double(), torch.nn.Linear(1, 1).double()
    x = torch.randn(16, 2, dtype=torch.float64)
    lam = 2.0
    s = f(x)
    lr_plain = (a(s) ** 2).mean()
    g_f_plain = torch.autograd.grad(lr_plain, f.weight, retain_graph=True)[0]
    g_a_plain = torch.autograd.grad(lr_plain, a.weight)[0]
    lr_rev = (a(dc.grad_reverse(f(x), lam)) ** 2).mean()
    g_f_rev, g_a_rev = torch.autograd.grad(lr_rev, [f.weight, a.weight])
    torch.testing.assert_close(g_f_rev, -lam * g_f_plain)
    torch.testing.assert_close(g_a_rev, g_a_plain)


# ---------------------------------------------------------------------------- distance correlation
def test_distance_correlation_matches_the_definition_and_its_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = x ** 2 + 0.3 * rng.normal(size=300)             # dependent but uncorrelated
    assert metrics.distance_correlation(x, y) == pytest.approx(_dcor_brute(x, y), rel=1e-10)
    # chunked computation in torch equals the one-block one, and is differentiable
    xt, yt = torch.tensor(x, requires_grad=True), torch.tensor(y)
    one = dc.distance_correlation_sq(xt, yt, chunk=10_000)
    many = dc.distance_correlation_sq(xt, yt, chunk=7)
    torch.testing.assert_close(one, many)
    (g,) = torch.autograd.grad(many, xt)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    # exact linear relation: 1; shift and scale (also negative) do not change it
    assert metrics.distance_correlation(x, -3 * x + 2) == pytest.approx(1.0, abs=1e-12)
    assert metrics.distance_correlation(5 * x - 1, -0.1 * y) == pytest.approx(metrics.distance_correlation(x, y), rel=1e-10)
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.15 < metrics.distance_correlation(x, y)


def test_distance_correlation_of_a_gaussian_pair():
    # closed form (Székely et al. 2007, Thm. 7): 0.5502 at ρ = 0.6 (mpmath: 0.5502157); the V-statistic's spread at N = 4000 is ~0.01
    assert metrics.gaussian_distance_correlation(0.6) == pytest.approx(0.550216, abs=1e-6)
    assert metrics.gaussian_distance_correlation(0.0) == 0.0
    assert metrics.gaussian_distance_correlation(1.0) == pytest.approx(1.0, abs=1e-12)
    vals = [metrics.distance_correlation(*np.random.default_rng(s).multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], 4000).T)
            for s in range(3)]
    assert np.mean(vals) == pytest.approx(0.5502, abs=0.015)
    ind = np.random.default_rng(9).normal(size=(2, 4000))
    assert metrics.distance_correlation(*ind) < 0.05


# ---------------------------------------------------------------------------- mutual information
def test_mutual_information_of_gaussian_pairs():
    # −½ ln(1 − ρ²) = 0.2231 at ρ = 0.6; 30 quantile bins, N = 1e5: 0.2213 ± 0.0015 over seeds
    for rho in (0.6, 0.3):
        x = np.random.default_rng(1).multivariate_normal([0, 0], [[1, rho], [rho, 1]], 100_000)
        assert metrics.mutual_information(x[:, 0], x[:, 1], bins=30) == pytest.approx(-0.5 * np.log(1 - rho ** 2), abs=0.008)
    # independent: the positive bias (B − 1)²/(2N) = 0.0042
    ind = np.random.default_rng(2).normal(size=(2, 100_000))
    assert metrics.mutual_information(*ind, bins=30) == pytest.approx(29 ** 2 / 2e5, abs=0.001)
    # invariant under monotone maps of either variable (quantile bins), symmetric
    x = np.random.default_rng(3).multivariate_normal([0, 0], [[1, 0.5], [0.5, 1]], 20_000)
    i0 = metrics.mutual_information(x[:, 0], x[:, 1])
    assert metrics.mutual_information(np.exp(x[:, 0]), x[:, 1] ** 3) == pytest.approx(i0, abs=1e-12)
    assert metrics.mutual_information(x[:, 1], x[:, 0]) == pytest.approx(i0, abs=1e-12)
    with pytest.raises(ValueError):
        metrics.mutual_information(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------------------- Jensen–Shannon, sculpting
def test_jensen_shannon_against_scipy_and_its_bounds():
    rng = np.random.default_rng(4)
    p, q = rng.uniform(size=12), rng.uniform(size=12)
    assert metrics.jensen_shannon(p, q) == pytest.approx(distance.jensenshannon(p, q, base=2) ** 2, rel=1e-10)
    assert metrics.jensen_shannon(p, 7 * p) == pytest.approx(0.0, abs=1e-15)
    assert metrics.jensen_shannon([1, 0, 0], [0, 2, 3]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.jensen_shannon([0, 0], [1, 1])


def test_sculpting_jsd_is_zero_for_an_unbiased_cut_and_grows_with_sculpting():
    rng = np.random.default_rng(5)
    m = rng.uniform(0, 300, 200_000)
    random_cut = rng.uniform(size=m.size) < 0.1
    assert metrics.sculpting_jsd(m, random_cut, bins=30, range=(0, 300)) < 0.002
    mild = rng.uniform(size=m.size) < 0.05 + 0.1 * (m > 150)
    window = (m > 140) & (m < 200)
    j_mild, j_window = (metrics.sculpting_jsd(m, c, bins=30, range=(0, 300)) for c in (mild, window))
    assert 0.01 < j_mild < j_window
    # a mass window of width 60 out of a flat 300: the passing histogram is P = uniform on 6 of 30 bins
    p, q = np.full(30, 1 / 30), np.where((np.arange(30) >= 14) & (np.arange(30) < 20), 1 / 6, 0.0)
    assert j_window == pytest.approx(metrics.jensen_shannon(p, q), abs=0.01)
    with pytest.raises(ValueError):
        metrics.sculpting_jsd(m, np.zeros(m.size, bool))


# ---------------------------------------------------------------------------- the losses on the toys
def _sculpt_data(n, seed):
    x, y = toys.SCULPT.sample(n, n, np.random.default_rng(seed))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y), torch.tensor(x[:, 0], dtype=torch.float32)


def _sculpt_eval(model, seed=99):
    x, y, m = _sculpt_data(20_000, seed)
    with torch.no_grad():
        s = torch.sigmoid(model(x)).reshape(-1).numpy()
    b = y.numpy() == 0
    cut = np.quantile(s[~b], 0.5)
    return (metrics.auc(y.numpy(), s), metrics.sculpting_jsd(m.numpy()[b], s[b] > cut, bins=20, range=(0, 1)),
            metrics.mutual_information(s[b], m.numpy()[b], bins=20))


@pytest.mark.parametrize("method", ["disco", "adversary"])
def test_decorrelation_on_the_sculpt_toy_approaches_the_decorrelated_optimum(method):
    """λ = 0 sculpts (AUC near the exact 0.97); large λ removes the sculpting and the mutual information
    and leaves an AUC near the best decorrelated classifier's 0.8556 (never far above it)."""
    torch.set_num_threads(1)
    x, y, m = _sculpt_data(6000, 0)
    z = m if method == "disco" else torch.tensor(dc.quantile_bins(m.numpy(), 10, m.numpy()[y.numpy() == 0]))
    results = {}
    for lam in (0.0, 30.0 if method == "disco" else 10.0):
        clf = MLP(MLPConfig(n_in=3, hidden=(32, 32), activation="silu"))
        if method == "disco":
            model, loss = clf, lambda mod, batch, lam=lam: dc.disco_loss(mod, batch, lam)
        else:
            model = dc.AdversarialPair(clf, dc.Adversary(dc.AdversaryConfig(n_bins=10)))
            loss = lambda mod, batch, lam=lam: dc.adversarial_loss(mod, batch, lam)
        opt = dc.adversarial_optimizer(model, 3e-3, 1e-2) if method != "disco" else None
        train.fit(model, loss, train.TensorLoader(x, y, z, batch_size=512, seed=1), cfg=train.TrainConfig(
            epochs=25, lr=3e-3, patience=None, restore_best=False, progress=False), optimizer=opt,
            device=torch.device("cpu"))
        results[lam] = _sculpt_eval(model)
    (auc0, jsd0, mi0), (auc1, jsd1, mi1) = results.values()
    assert auc0 > 0.93 and jsd0 > 0.05, results
    assert jsd1 < jsd0 / 5 and mi1 < mi0 / 3, results
    assert 0.80 < auc1 < toys.SCULPT.decorrelated_auc + 0.02, results
