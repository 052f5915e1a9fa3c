"""The formula search of chapter 09 (hepcourse.symbolic) against known formulas, Eqs. 6.82–6.83 of the main
text, and the WBF toy whose score is Eq. 6.89 (hepcourse.physics.toys_inference.WBFScore)."""

import numpy as np
import pytest
from scipy import optimize

from hepcourse import symbolic
from hepcourse.physics import toys_inference as ti

EPS = np.finfo(np.float64).eps


def _prims(x):
    p = {k: symbolic.Primitive(k, (lambda key: (lambda d: d[key]))(k)) for k in x}
    p["sin(c)"] = symbolic.Primitive("sin(c)", lambda d: np.sin(d["c"]), nodes=2)
    p["exp(a)"] = symbolic.Primitive("exp(a)", lambda d: np.exp(d["a"]), nodes=2)
    return p


def test_search_recovers_a_known_formula_and_its_constants():
    rng = np.random.default_rng(0)
    x = {k: rng.uniform(-2, 2, 500) for k in ("a", "b", "c")}
    y = 2.5 * x["a"] * x["b"] * np.sin(x["c"]) - 0.75 * np.exp(x["a"]) + 0.3          # 2 terms + offset
    prims = _prims(x)
    res = symbolic.search(x, y, prims, max_factors=3, max_terms=2, parsimony=1e-3)
    best = res.best
    assert set(best.terms) == {("a", "b", "sin(c)"), ("exp(a)",)} and best.offset, best.formula()
    coef = dict(zip(best.terms, best.coef[:2]))
    # noise-free: least squares is exact up to the conditioning of 3 columns on 500 points
    assert coef[("a", "b", "sin(c)")] == pytest.approx(2.5, abs=1e6 * EPS)
    assert coef[("exp(a)",)] == pytest.approx(-0.75, abs=1e6 * EPS) and best.coef[-1] == pytest.approx(0.3, abs=1e6 * EPS)
    assert best.nmse < 1e-20
    # nodes as PySR counts them: c·a·b·sin(c) = 8; + c·exp(a) (4) + '+' (1); + c0 and its '+' (2) = 15
    assert best.nodes == 15
    # the cost is the number of expressions: n products, C(n, 2) pairs, each with and without offset
    n = len(symbolic.products(prims, 3))
    assert n == 35 + 15 + 5 and res.n_tried          # 5 primitives: C(7,3) + C(6,2) + 5
    assert res.n_tried == 2 * (n + n * (n - 1) // 2)
    # the hall of fame improves strictly with complexity and ends at the exact formula
    nm = [c.nmse for c in res.hall_of_fame]
    assert all(b < a for a, b in zip(nm, nm[1:])) and res.hall_of_fame[-1].nmse < 1e-20
    assert res.best_within(8).nodes <= 8


def test_mse_star_and_acceptance_eq_6_83():
    assert symbolic.mse_star(0.1, 8, 0.005) == pytest.approx(0.14)
    assert symbolic.accept_prob(0.1, 0.2, 0.5) == 1.0 and symbolic.accept_prob(0.2, 0.2, 0.5) == 1.0
    # exp(−(new − old)/(T old)): a 10 % worse formula at T = 0.1 is accepted with probability 1/e
    assert symbolic.accept_prob(0.22, 0.2, 0.1) == pytest.approx(np.exp(-1), rel=1e-12)
    assert symbolic.accept_prob(0.4, 0.2, 1.0) == pytest.approx(np.exp(-1), rel=1e-12)


def test_anneal_finds_the_target_and_counts_its_cost():
    rng = np.random.default_rng(1)
    x = {k: rng.uniform(0.5, 2, 400) for k in ("a", "b", "c")}
    y = 1.7 * x["a"] * x["b"] * np.sin(x["c"])
    prims = _prims(x)
    runs = [symbolic.anneal(x, y, prims, ("a", "b", "sin(c)"), np.random.default_rng(s), max_steps=3000) for s in range(5)]
    assert all(r["found"] for r in runs), runs
    assert all(1 <= r["n_fitted"] <= len(symbolic.products(prims, 3)) for r in runs)
    assert all(0 < r["acceptance"] <= 1 and r["accepted"] <= r["steps"] for r in runs)
    # starting at the target costs one fit and no step
    r = symbolic.anneal(x, y, prims, ("a", "b", "sin(c)"), rng, start=("sin(c)", "b", "a"))
    assert r == {"found": True, "steps": 0, "accepted": 0, "acceptance": 0.0, "n_fitted": 1}


def test_wbf_toy_score_is_eq_6_89_with_zero_mean():
    wbf = ti.WBF_SCORE
    rng = np.random.default_rng(2)
    x, t = ti.wbf_score(200_000, rng)
    assert x.shape == (200_000, 4) and np.all(x[:, 0] >= x[:, 1]) and np.all((x[:, 3] >= 3.5) & (x[:, 3] <= 8))
    # E₀[t] = 0 (Δφ uniform over a period) and the closed-form standard deviation, within 4 MC errors
    assert abs(t.mean()) < 4 * t.std() / np.sqrt(t.size)
    assert t.std() == pytest.approx(wbf.score_std(), rel=4 * np.sqrt(2 / t.size) * 3)   # kurtosis ≈ 9: 3× the Gaussian error
    # the score is the θ-derivative of log p(x|θ) = log p₀ + θ t − log E₀[exp(θ t)] at θ = 0 (Monte Carlo normaliser)
    h = 1e-4
    logz = lambda th: np.log(np.mean(np.exp(th * t)))
    assert (logz(h) - logz(-h)) / (2 * h) == pytest.approx(t.mean(), abs=1e-6)
    # nonlinear least squares in the form of Eq. 6.89 recovers its constants on noise-free data
    f = lambda xx, a, b, c, d: -xx[0] * (xx[1] + c) * (a - b * xx[3]) * np.sin(xx[2] + d)
    p, _ = optimize.curve_fit(f, x[:2000].T, t[:2000], p0=(1.0, 0.1, 0.2, 0.0))
    np.testing.assert_allclose(p, [1.086, 0.10241, 0.24165, 0.00662], rtol=1e-6)
    # the joint score: the noisy target whose conditional mean is t
    tj = wbf.joint_score(x, rng, noise=0.5)
    assert np.std(tj - t) == pytest.approx(0.5 * wbf.score_std(), rel=0.01)
