"""hepcourse.physics.toys.pileup_events: the hard scatter balances (or balances the neutrino) exactly;
pile-up follows its stated multiplicity and p_T spectrum; the padding is empty."""

import numpy as np

from hepcourse.physics import toys


def test_hard_scatter_balances_and_the_neutrino_is_missing_momentum():
    ev = toys.pileup_events(2000, np.random.default_rng(0), neutrino_fraction=0.5)
    hard_sum = (ev.pxy * ev.hard[..., None]).sum(1)                     # (B, 2)
    np.testing.assert_allclose(hard_sum, -ev.neutrino, atol=1e-10)      # P w* = −p_T(ν)
    has_nu = np.hypot(*ev.neutrino.T) > 0
    assert 0.45 < has_nu.mean() < 0.55
    np.testing.assert_allclose(np.hypot(*ev.neutrino[has_nu].T).mean(), 40.0, rtol=0.1)   # Exp(40 GeV)
    # events without a neutrino balance exactly; the visible sum of all particles does not (pile-up)
    assert np.abs(hard_sum[~has_nu]).max() < 1e-10
    assert np.median(np.hypot(*(ev.pxy.sum(1)[~has_nu]).T)) > 1.0


def test_pileup_multiplicity_spectrum_and_padding():
    ev = toys.pileup_events(3000, np.random.default_rng(1), n_hard=8, mean_pileup=15.0, pt_pileup=2.0)
    n_pu = ev.mask.sum(1) - 8
    assert abs(n_pu.mean() - 15.0) < 4 * np.sqrt(15.0 / 3000) and abs(n_pu.var() / 15.0 - 1) < 0.1   # Poisson
    pu = ev.mask & ~ev.hard
    assert abs(np.hypot(*ev.pxy[pu].T).mean() - 2.0) < 0.05                    # Exp(2 GeV)
    assert np.all(ev.pxy[~ev.mask] == 0) and np.all(ev.hard[:, :8]) and not ev.hard[:, 8:].any()
    assert ev.pxy.shape == (3000, 8 + n_pu.max(), 2)


def test_same_seed_same_events():
    a = toys.pileup_events(5, np.random.default_rng(3), neutrino_fraction=0.5)
    b = toys.pileup_events(5, np.random.default_rng(3), neutrino_fraction=0.5)
    assert np.array_equal(a.pxy, b.pxy) and np.array_equal(a.neutrino, b.neutrino)
