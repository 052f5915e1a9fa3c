"""Event shapes against known answers and an exhaustive thrust search."""

import itertools

import awkward as ak
import numpy as np
import pytest

from hepcourse.physics.event_shapes import event_shapes, thrust

EPS = np.finfo(np.float64).eps   # 2.2e-16: float64 tolerances below are multiples of it, >= 100x the rounding bound
FEW = 1e3 * EPS                  # closed forms with O(1) values: a few roundings, <~ 4 eps


def _events(list_of_momenta):
    arr = ak.Array([[{"px": p[0], "py": p[1], "pz": p[2], "E": float(np.linalg.norm(p))} for p in ev]
                    for ev in list_of_momenta])
    return arr.px, arr.py, arr.pz, arr.E


def test_two_jets_and_mercedes():
    back_to_back = [(10.0, 5.0, 3.0), (-10.0, -5.0, -3.0)]
    c, s = np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)
    mercedes = [(30.0, 0.0, 0.0), (30 * c, 30 * s, 0.0), (30 * c, -30 * s, 0.0)]
    shapes = event_shapes(*_events([back_to_back, mercedes]))
    np.testing.assert_allclose(shapes["thrust"], [1.0, 2 / 3], atol=FEW)
    np.testing.assert_allclose(shapes["c_parameter"], [0.0, 0.75], atol=FEW)
    np.testing.assert_allclose(shapes["sphericity"], [0.0, 0.75], atol=FEW)
    np.testing.assert_allclose(shapes["aplanarity"], [0.0, 0.0], atol=FEW)
    np.testing.assert_allclose(shapes["b_total"], [0.0, 0.5 * 30 * s * 2 / 90], atol=FEW)
    assert shapes["heavy_jet_mass"][0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(shapes["e_visible"], [2 * np.sqrt(134), 90.0])


def test_isotropic_limit():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4000, 3))
    shapes = event_shapes(*_events([v]))
    assert shapes["thrust"][0] == pytest.approx(0.5, abs=0.02)
    assert shapes["c_parameter"][0] == pytest.approx(1.0, abs=0.02)
    assert shapes["sphericity"][0] == pytest.approx(1.0, abs=0.03)


def test_thrust_equals_exhaustive_search():
    rng = np.random.default_rng(1)
    events = [rng.normal(size=(int(n), 3)) * rng.exponential(5, size=(int(n), 1)) for n in rng.integers(2, 9, 40)]
    got, axis = thrust(*_events(events)[:3])
    for ev, t, ax in zip(events, got, axis):
        norm = np.linalg.norm(ev, axis=1).sum()
        best = max(np.linalg.norm((np.array(signs)[:, None] * ev).sum(0)) for signs in itertools.product([1, -1], repeat=len(ev)))
        assert t == pytest.approx(best / norm, abs=1e-9)
        assert np.abs(ev @ ax).sum() / norm == pytest.approx(t, abs=1e-12)
