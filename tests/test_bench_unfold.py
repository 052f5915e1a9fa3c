"""Our iterative Bayesian unfolding (hepcourse.unfolding.ibu) against PyUnfold's (Bourbeau and Hampel-Arias 2018),
iteration by iteration, on a non-square response with efficiencies below one, a flat and a peaked prior, and
Poisson data. Needs the `peers` extra; marker `peers` (not in `make test`: `pytest -m peers tests/test_bench_unfold.py`).
The closed-form checks of IBU (convergence to the inverse, the efficiency law, = binned OmniFold) are in
tests/test_unfolding.py and run everywhere."""

import numpy as np
import pytest

from hepcourse import unfolding

pytestmark = pytest.mark.peers          # deselected by default (pyproject addopts), so `make test` neither runs nor skips it


def test_ibu_equals_pyunfold_iteration_by_iteration():
    pyunfold = pytest.importorskip("pyunfold", reason="the peers extra: pip install -e '.[peers]'")
    rng = np.random.default_rng(3)
    n_true, n_reco = 6, 8
    x_true = rng.gamma(2.0, 1.5, 40_000)
    x_reco = x_true * rng.normal(1.0, 0.15, x_true.size) + rng.normal(0, 0.3, x_true.size)
    x_reco[rng.uniform(size=x_true.size) < 0.1 + 0.02 * x_true] = -99.0                  # not reconstructed
    edges_t, edges_r = np.linspace(0, 9, n_true + 1), np.linspace(-0.5, 10, n_reco + 1)
    R = unfolding.response_matrix(x_true, x_reco, edges_t, edges_r, overflow=False)       # (8, 6), columns < 1
    eff = R.sum(0)
    assert np.all(eff < 0.95) and np.all(eff > 0.5), eff
    truth = np.array([2000.0, 3000.0, 2000.0, 1000.0, 500.0, 200.0])
    d = rng.poisson(R @ truth).astype(float)
    for prior in (None, np.array([1.0, 4.0, 3.0, 2.0, 1.0, 0.5])):
        ours = unfolding.ibu(d, R, prior=None if prior is None else prior * d.sum() / prior.sum(), n_iter=5,
                             return_all=True)[1:]                                     # (5, 6)
        theirs = pyunfold.iterative_unfold(
            data=d, data_err=np.sqrt(d), response=R, response_err=np.zeros_like(R), efficiencies=eff,
            efficiencies_err=np.zeros_like(eff), prior=None if prior is None else prior / prior.sum(),
            ts="ks", ts_stopping=-1.0, max_iter=5, return_iterations=True)
        theirs = np.stack([np.asarray(u, dtype=float) for u in theirs["unfolded"]])     # (5, 6)
        assert theirs.shape == ours.shape
        # the same arithmetic in another order: float64 rounding, ~1e-15 relative per step
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
