"""hepcourse.physics.calorimeter (the toy shower simulator and its preprocessing) and the shower metrics."""

import numpy as np
import pytest
from scipy import stats

from hepcourse import metrics as M
from hepcourse.physics.calorimeter import (Calorimeter, CaloConfig, ShowerPreprocessor, apply_threshold,
                                           denormalize_layers, dequantize, normalize_layers)

CAL = Calorimeter()


def test_fractions_are_normalised():
    E = np.geomspace(1, 100, 7)
    assert np.allclose(CAL.mean_layer_fractions(E).sum(1), 1.0, atol=1e-12)
    assert np.allclose(CAL.q.sum(1), 1.0, atol=1e-12)
    # the shower maximum moves deeper with energy: less in the first layer, more leakage
    m = CAL.mean_layer_fractions(E)
    assert np.all(np.diff(m[:, 0]) < 0) and np.all(np.diff(m[:, -1]) > 0)


@pytest.mark.parametrize("E", [2.0, 50.0])
def test_simulation_matches_closed_form_means(E):
    """Voxel means, response and resolution of 20000 showers (no noise, no threshold) agree with the
    closed forms within 4σ of their Monte Carlo errors."""
    rng = np.random.default_rng(0)
    n = 20000
    x = CAL.simulate(np.full(n, E), rng, noise=False, threshold=False)
    mean = CAL.mean_voxels(np.array([E]))[0]
    pull = (x.mean(0) - mean) / (x.std(0) / np.sqrt(n))
    assert np.abs(pull).max() < 4.5            # 15 voxels: the largest of 15 |N(0,1)| stays below 4.5
    r = x.sum((1, 2)) / E
    assert abs(r.mean() - CAL.mean_response(np.array([E]))[0]) < 4 * r.std() / np.sqrt(n)
    res = r.std() / r.mean()
    assert abs(res - CAL.resolution(np.array([E]))[0]) < 4 * res / np.sqrt(2 * n)


def test_readout_threshold_and_sparsity():
    rng = np.random.default_rng(1)
    x = CAL.simulate(CAL.sample_energies(3000, rng), rng)
    nonzero = x[x > 0]
    assert nonzero.min() >= CAL.cfg.threshold
    assert 0.05 < (x == 0).mean() < 0.5                       # the low-energy showers are sparse


def test_layer_normalisation_round_trip_and_dequantisation():
    rng = np.random.default_rng(2)
    E = CAL.sample_energies(500, rng)
    x = CAL.simulate(E, rng)
    e, frac = normalize_layers(x)
    assert np.allclose(frac.sum(2), 1.0, atol=1e-12)
    assert np.allclose(denormalize_layers(e, frac), x, rtol=0, atol=1e-12)
    thr = CAL.cfg.threshold
    d = dequantize(x, thr, rng)
    assert np.all(d > 0)
    assert np.array_equal(apply_threshold(d, thr) == 0, x == 0)          # the sparsity pattern, exactly
    assert np.array_equal(apply_threshold(d, thr), x)


def test_preprocessor_round_trip():
    """features → showers restores the showers (the dequantised zeros fall below the threshold again)."""
    rng = np.random.default_rng(3)
    E = CAL.sample_energies(800, rng)
    x = CAL.simulate(E, rng)
    pre = ShowerPreprocessor(CAL.cfg.n_layers, CAL.cfg.n_rings, CAL.cfg.threshold)
    pre.fit(x, E, np.random.default_rng(9))
    f = pre.features(x, E, np.random.default_rng(9))          # the same dequantisation: standardised exactly
    assert f.shape == (800, CAL.cfg.n_voxels) and np.all(np.isfinite(f))
    assert np.allclose(f.mean(0), 0, atol=1e-9) and np.allclose(f.std(0), 1, atol=1e-9)
    back = pre.showers(f, E)
    assert np.array_equal(back == 0, x == 0)
    assert np.allclose(back, x, rtol=1e-9, atol=1e-12)
    assert np.all(np.abs(pre.context(np.array([1.0, 10.0, 100.0])).ravel() - [-1, 0, 1]) < 1e-12)


def test_w1_binned_equals_scipy_and_shift_law():
    rng = np.random.default_rng(4)
    c = np.arange(8.0)
    p, q = rng.random(8), rng.random(8)
    assert M.w1_binned(p, q, c) == pytest.approx(stats.wasserstein_distance(c, c, p, q), abs=1e-12)
    shifted = np.r_[0.0, 0.0, p[:-2]]
    shifted[-1] += 0.0
    p0 = np.r_[p[:-2], 0.0, 0.0]
    assert M.w1_binned(p0, shifted, c) == pytest.approx(2.0, abs=1e-12)  # every bin moved by δ = 2


def test_calibration_error_on_a_miscalibrated_generator():
    """S ~ N(0.97 E, (0.15 √E)²) against f(E) = 0.95 E: CE = 0.02 E within 3 stderr in every bin (item B8)."""
    rng = np.random.default_rng(5)
    E = rng.uniform(1, 100, 40000)
    S = 0.97 * E + 0.15 * np.sqrt(E) * rng.standard_normal(len(E))
    edges = np.linspace(1, 100, 6)
    ce = M.calibration_error(E, S, lambda e: 0.95 * e, edges)
    assert np.all(np.abs(ce["ce"] - 0.02 * ce["center"]) < 3 * ce["stderr"] + 1e-3)
    rr = M.response_resolution(E, S, edges)
    assert np.allclose(rr["response"], 0.97, atol=4 * rr["response_err"].max())


def test_shower_report_flags_a_wider_last_layer():
    """A generator whose last layer is laterally 10% wider (core radius 0.9 → 1.0 R_M): the report flags
    layer 2's profile W₁ far above the simulator floor and the classifier sees it, while the floor's AUC is
    0.5 within 4σ."""
    rng = np.random.default_rng(6)
    n = 3000
    E1, E2, E3 = (CAL.sample_energies(n, rng) for _ in range(3))
    ref, ref2 = CAL.simulate(E1, rng), CAL.simulate(E2, rng)
    wide = Calorimeter(CaloConfig(r_core=(0.4, 0.6, 1.0))).simulate(E3, rng)
    rep = M.shower_report(ref, E1, wide, E3, CAL.ring_centers, np.geomspace(1, 100, 5),
                          lambda e: e * CAL.mean_response(e), ref2=ref2, E_ref2=E2)
    assert rep.loc["w1_profile_2", "generated"] > 10 * rep.loc["w1_profile_2", "floor"]
    assert rep.loc["w1_profile_0", "generated"] < 5 * rep.loc["w1_profile_0", "floor"] + 0.005
    assert rep.loc["c2st_auc", "generated"] > 0.6
    assert abs(rep.loc["c2st_auc", "floor"] - 0.5) < 4 * rep.loc["c2st_err", "floor"] + 0.01
