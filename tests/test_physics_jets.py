"""hepcourse.physics.jets: kinematics and N-subjettiness against known answers."""

import awkward as ak
import numpy as np
import pytest
import vector

from hepcourse.physics import jets

EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound
SUM = 1e3 * 60 * EPS             # float64 sums over <= 60 constituents in two orders: <= 60 eps relative


def test_delta_phi_wraps():
    assert jets.delta_phi(3.1, -3.1) == pytest.approx(6.2 - 2 * np.pi)
    assert jets.delta_phi(-3.1, 3.1) == pytest.approx(2 * np.pi - 6.2)
    assert jets.delta_phi(0.5, 0.2) == pytest.approx(0.3)
    d = jets.delta_phi(np.linspace(-10, 10, 101), 0.3)
    assert np.all((d >= -np.pi) & (d < np.pi))


def test_delta_r_known_values():
    assert jets.delta_r(0.0, 0.0, 0.3, 0.4) == pytest.approx(0.5)
    assert jets.delta_r(1.0, np.pi - 0.1, 1.0, -np.pi + 0.2) == pytest.approx(0.3)


def test_cartesian_round_trip():
    rng = np.random.default_rng(1)
    pt, eta, phi, m = rng.uniform(1, 500, 100), rng.uniform(-3, 3, 100), rng.uniform(-np.pi, np.pi, 100), rng.uniform(0, 10, 100)
    back = jets.to_collider(*jets.to_cartesian(pt, eta, phi, m=m))
    for a, b in zip(back, (pt, eta, phi, m)):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-6)


def test_mass_of_two_massless_particles():
    # m^2 = 2 pT1 pT2 (cosh Δη − cos Δφ)
    pt = np.array([[100.0, 50.0]])
    eta = np.array([[0.3, -0.5]])
    phi = np.array([[0.1, 2.0]])
    e = pt * np.cosh(eta)
    _, _, _, m = jets.jet_four_vector(pt, eta, phi, e)
    expected = np.sqrt(2 * 100 * 50 * (np.cosh(0.8) - np.cos(1.9)))
    assert m[0] == pytest.approx(expected, rel=1e-12)


def test_jet_four_vector_matches_vector_library():
    rng = np.random.default_rng(2)
    counts = rng.integers(1, 30, 50)
    flat = dict(pt=rng.exponential(20, counts.sum()), eta=rng.normal(0, 0.4, counts.sum()),
                phi=rng.normal(3.0, 0.4, counts.sum()), mass=np.full(counts.sum(), 0.14))
    vec = vector.zip({k: ak.unflatten(v, counts) for k, v in flat.items()})
    total = ak.sum(vec, axis=1)
    e = ak.unflatten(np.sqrt((flat["pt"] * np.cosh(flat["eta"])) ** 2 + 0.14 ** 2), counts)
    pt, eta, phi, m = jets.jet_four_vector(vec.pt, vec.eta, vec.phi, e)
    np.testing.assert_allclose(pt, total.pt, rtol=SUM)
    np.testing.assert_allclose(m, total.mass, rtol=1e-8)
    np.testing.assert_allclose(eta, total.eta, rtol=SUM, atol=SUM)
    # padded input with a mask gives the same
    from hepcourse.data import pad
    arr, mask = pad(ak.zip({"pt": vec.pt, "eta": vec.eta, "phi": vec.phi, "e": e}), 32, dtype=np.float64)
    pt2, _, _, m2 = jets.jet_four_vector(arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3], mask=mask)
    np.testing.assert_allclose(pt2, total.pt, rtol=SUM)


def _random_jets(seed=3, n=40):
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 60, n)
    counts[:3] = [1, 2, 3]
    pt = ak.unflatten(rng.exponential(10, counts.sum()) + 0.5, counts)
    eta = ak.unflatten(rng.normal(0, 0.3, counts.sum()), counts)
    phi = ak.unflatten(np.mod(rng.normal(3.0, 0.3, counts.sum()) + np.pi, 2 * np.pi) - np.pi, counts)
    e = pt * np.cosh(eta) * 1.0001
    return pt, eta, phi, e


def test_tau_n_of_fastjet_equals_the_teaching_formula():
    """tau_n (FastJet contrib's N-subjettiness, the data path) equals the one-jet formula of
    nsubjettiness with the exclusive-kT axes of kt_axes, jet by jet (β = 1, R0 = 0.8)."""
    pt, eta, phi, e = _random_jets()
    taus = jets.tau_n(pt, eta, phi, e, 3)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    y = 0.5 * np.log((e + pz) / (e - pz))
    for n in (1, 2, 3):
        axes = jets.kt_axes(px, py, pz, e, n)
        for j in range(len(pt)):
            if len(pt[j]) <= n:
                assert taus[j, n - 1] == 0.0
                continue
            a = axes[j]
            a_y = 0.5 * np.log((a.E + a.pz) / (a.E - a.pz))
            expected = jets.nsubjettiness(pt[j], y[j], phi[j], a_y, np.arctan2(a.py, a.px))
            assert taus[j, n - 1] == pytest.approx(expected, rel=1e-9, abs=1e-12), (j, n)


def test_tau_n_properties():
    pt, eta, phi, e = _random_jets(4)
    taus = jets.tau_n(pt, eta, phi, e, 3)
    n = ak.to_numpy(ak.num(pt))
    # tau_N = 0 with at most N constituents (each is its own axis)
    for k in range(3):
        assert np.all(taus[n <= k + 1, k] == 0)
    assert np.all(taus >= 0)
    # invariant under a common rescaling of all momenta
    np.testing.assert_allclose(jets.tau_n(3 * pt, eta, phi, 3 * e, 3), taus, rtol=SUM, atol=SUM)
    # and under a rotation in phi (across the ±pi boundary)
    rotated = np.mod(phi + 2.5 + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(jets.tau_n(pt, eta, rotated, e, 3), taus, rtol=SUM, atol=SUM)


def test_nsubjettiness_single_jet_known_answer():
    # every constituent on one of the axes -> 0; one particle at ΔR = 0.4 carrying half the pT -> 0.5·0.4/0.8
    assert jets.nsubjettiness([1, 2], [0, 1], [0, 0], [0, 1], [0, 0]) == 0.0
    assert jets.nsubjettiness([1, 1], [0, 0.4], [0, 0], [0.0], [0.0]) == pytest.approx(0.25)


def test_sagitta_known_answer_and_scaling():
    from hepcourse.physics import tracking

    # B = 0.5 T, L = 5 m, pT = 1 TeV: R = 6667 m, s = 469 µm (seed item B7)
    assert tracking.radius(1000.0, 0.5) == pytest.approx(6666.667, rel=1e-6)
    assert tracking.sagitta(1000.0, 0.5, 5.0) == pytest.approx(4.6875e-4, rel=1e-6)
    assert tracking.sagitta_approx(1000.0, 0.5, 5.0) == pytest.approx(4.6875e-4, rel=1e-12)
    assert np.isnan(tracking.sagitta(0.1, 2.0, 1.0))   # R = 0.17 m: curls up before 1 m
    pt = np.geomspace(1, 1000, 50)
    slope, const, err = tracking.fit_power_law(pt, tracking.sagitta_approx(pt, 2.0, 1.0))
    assert slope == pytest.approx(-1.0, abs=1e-12) and const == pytest.approx(0.3 * 2.0 / 8)
    assert tracking.pt_from_sagitta(tracking.sagitta_approx(pt, 2.0, 1.0), 2.0, 1.0) == pytest.approx(pt)
    from hepcourse.data.detector import DEFAULT
    # the toy detector's curvature resolution is the sagitta resolution over the sagitta at 1 GeV
    assert DEFAULT.curvature_resolution == pytest.approx(DEFAULT.sigma_sagitta / tracking.sagitta_approx(1.0, DEFAULT.b_field, DEFAULT.lever_arm))


# ------------------------------------------------------------------ primary Lund plane (chapter 08)
def _three_particle_jets():
    """Two jets of three massless particles (pt, eta = y, phi, e = pt cosh eta), worked out by hand:
    a = (50, +0.05, 0), b = (50, -0.05, 0), c = (10, 0, 0.4). C/A merges a and b first (ΔR = 0.1 < ΔR_ac = 0.403);
    a + b has p_T = 100 GeV exactly (both at φ = 0) and y = 0 (symmetric), so the first primary declustering is
    (a+b) | c with Δ = 0.4 and k_t = 10 · 0.4 = 4 GeV, the second a | b with Δ = 0.1 and k_t = 50 · 0.1 = 5 GeV.
    The second jet is the first boosted along z (η + 0.7), rotated across φ = ±π and listed in another order:
    Δ and k_t are invariant under both."""
    pt = [[50.0, 50.0, 10.0], [10.0, 50.0, 50.0]]
    eta = [[0.05, -0.05, 0.0], [0.7, 0.75, 0.65]]
    phi0 = np.pi - 0.2
    phi = [[0.0, 0.0, 0.4], [jets.delta_phi(phi0 + 0.4, 0.0), phi0, phi0]]
    e = [[p * np.cosh(h) for p, h in zip(pr, hr)] for pr, hr in zip(pt, eta)]
    return tuple(ak.Array(v) for v in (pt, eta, phi, e))


def test_primary_lund_three_particle_jet_by_hand():
    delta, kt = jets.primary_lund(*_three_particle_jets())
    for j in range(2):
        np.testing.assert_allclose(np.asarray(delta[j]), [0.4, 0.1], rtol=1e-9)
        np.testing.assert_allclose(np.asarray(kt[j]), [4.0, 5.0], rtol=1e-9)
    lx, ly = jets.lund_coordinates(np.asarray(delta[0]), np.asarray(kt[0]))
    np.testing.assert_allclose(lx, [np.log(2.0), np.log(8.0)], rtol=1e-9)      # ln(R/Δ) with R = 0.8
    np.testing.assert_allclose(ly, [np.log(4.0), np.log(5.0)], rtol=1e-9)


def test_lund_histogram_counts_emissions_per_jet_and_area():
    delta, kt = jets.primary_lund(*_three_particle_jets())
    rho, xe, ye = jets.lund_histogram(delta, kt, bins=(np.linspace(0, 3, 4), np.linspace(0, 3, 4)))
    area = np.outer(np.diff(xe), np.diff(ye))
    assert (rho * area).sum() == pytest.approx(2.0)          # two emissions per jet, all inside the range
    assert rho[0, 1] == pytest.approx(1.0) and rho[2, 1] == pytest.approx(1.0)   # (ln 2, ln 4) and (ln 8, ln 5)
