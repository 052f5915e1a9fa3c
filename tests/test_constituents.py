"""hepcourse.data.constituents: the input forms of the chapter 04 taggers, against NumPy references
built from hepcourse.physics.jets (φ wrapping, the E-scheme jet axis, invariant masses)."""

import numpy as np
import pytest
import torch

from hepcourse.data import constituents as C
from hepcourse.physics import jets
EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound


def toy_jets(b=4, n=12, seed=0, phi_axis=3.1, dtype=torch.float64):
    """Padded jets around (η, φ) = (0.5, phi_axis), with 3..n real particles each; φ in (−π, π]."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, n + 1, b)
    mask = np.arange(n)[None, :] < counts[:, None]
    pt = rng.exponential(20.0, (b, n)) + 0.5
    eta = 0.5 + rng.normal(0, 0.3, (b, n))
    phi = np.mod(phi_axis + rng.normal(0, 0.3, (b, n)) + np.pi, 2 * np.pi) - np.pi
    m = rng.uniform(0, 0.5, (b, n))
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + m ** 2)
    for a in (pt, eta, phi, e):
        a[~mask] = 0.0
    t = lambda a: torch.as_tensor(a, dtype=dtype)  # noqa: E731
    return t(pt), t(eta), t(phi), t(e), torch.as_tensor(mask)


def test_particle_features_match_numpy_reference():
    pt, eta, phi, e, mask = toy_jets()
    inp = C.from_kinematics(pt, eta, phi, e, mask)
    assert inp.x.shape == (4, 12, len(C.PARTICLE_INPUTS)) and inp.p4.shape == (4, 12, 4)
    for b in range(4):
        m = mask[b].numpy()
        p, h, f, en = (a[b].numpy()[m] for a in (pt, eta, phi, e))
        jpt, jeta, jphi, _ = jets.jet_four_vector(p, h, f, en)
        deta, dphi = h - jeta, jets.delta_phi(f, jphi)
        ref = np.stack([deta, dphi, np.log(p), np.log(en), np.log(p / p.sum()), np.log(en / en.sum()),
                        jets.delta_r(h, f, jeta, jphi)], axis=1)
        np.testing.assert_allclose(inp.x[b].numpy()[m], ref, rtol=1e4 * EPS, atol=1e4 * EPS)   # <= 12-term sums, logs: ~50 eps
        assert np.all(inp.x[b].numpy()[~m] == 0)
    assert inp.x[..., C.PARTICLE_INPUTS.index("dphi")].abs().max() < 1.5   # wrapped: the jets straddle φ = ±π


def test_pairwise_features_match_loop_reference():
    pt, eta, phi, e, mask = toy_jets(b=2, n=7, seed=1)
    u = C.pairwise_features(C.four_momenta(pt, eta, phi, e), mask)
    assert u.shape == (2, 7, 7, 4)
    for b in range(2):
        for i in range(7):
            for j in range(7):
                if not (mask[b, i] and mask[b, j]) or i == j:
                    assert torch.all(u[b, i, j] == 0)
                    continue
                pa = np.array(jets.to_cartesian(pt[b, i], eta[b, i], phi[b, i], e[b, i]))
                pb = np.array(jets.to_cartesian(pt[b, j], eta[b, j], phi[b, j], e[b, j]))
                ya, yb = jets.rapidity(pa[2], pa[3]), jets.rapidity(pb[2], pb[3])
                delta = np.hypot(ya - yb, jets.delta_phi(float(phi[b, i]), float(phi[b, j])))
                ptmin = min(float(pt[b, i]), float(pt[b, j]))
                s = pa + pb
                m2 = s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2
                ref = [np.log(delta), np.log(ptmin * delta), np.log(ptmin / float(pt[b, i] + pt[b, j])), np.log(m2)]
                np.testing.assert_allclose(u[b, i, j].numpy(), ref, rtol=1e-7, atol=1e-7)


def test_minkowski_products_sum_to_jet_mass():
    pt, eta, phi, e, mask = toy_jets(seed=2)
    d = C.minkowski_products(C.four_momenta(pt, eta, phi, e), mask)
    assert torch.allclose(d, d.transpose(1, 2))
    for b in range(4):
        m = mask[b].numpy()
        *_, mass = jets.jet_four_vector(*(a[b].numpy()[m] for a in (pt, eta, phi, e)))
        assert float(d[b].sum()) == pytest.approx(mass ** 2, rel=1e-9)
        diag = torch.diagonal(d[b]).numpy()[m]                                  # p_i² = m_i²
        p4 = C.four_momenta(pt[b], eta[b], phi[b], e[b]).numpy()[m]
        np.testing.assert_allclose(diag, p4[:, 0] ** 2 - (p4[:, 1:] ** 2).sum(1),
                                   atol=1e3 * EPS * (p4[:, 0] ** 2).max())            # E² − |p|² cancels: rounding ~ eps E²


def test_wrap_phi_and_flat_features():
    x = torch.tensor([np.pi - 0.01 - (-np.pi + 0.01), 0.3, -0.3, 2 * np.pi], dtype=torch.float64)
    np.testing.assert_allclose(C.wrap_phi(x).numpy(), jets.delta_phi(x.numpy(), 0.0), atol=1e3 * EPS * 2 * np.pi)
    pt, eta, phi, e, mask = toy_jets(n=12)
    inp = C.from_kinematics(pt, eta, phi, e, mask)
    flat = C.flat_features(inp, n=15)
    assert flat.shape == (4, 45)
    torch.testing.assert_close(flat[:, :3], (inp.x[:, 0, :3] - torch.tensor([0.0, 0.0, 2.3], dtype=flat.dtype))
                               / torch.tensor([0.2, 0.2, 1.1], dtype=flat.dtype))
    assert torch.all(flat[:, 36:] == 0)                                       # beyond the 12 stored
