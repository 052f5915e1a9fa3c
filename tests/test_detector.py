"""The toy detector: resolutions and efficiency as documented, and per-event reproducibility."""

import awkward as ak
import numpy as np
import pytest

from hepcourse.data import detector as det


def _jets(pid, charge, pt, eta=0.5, phi=1.0, n_per_jet=1, m=0.0):
    n = len(pt)
    pt = np.asarray(pt, dtype=float)
    e = np.sqrt((pt * np.cosh(eta)) ** 2 + m ** 2)
    counts = np.full(n // n_per_jet, n_per_jet)
    mk = lambda a, dt: ak.unflatten(np.broadcast_to(np.asarray(a, dtype=dt), (n,)).copy(), counts)  # noqa: E731
    return ak.zip({"pt": mk(pt, np.float32), "eta": mk(eta, np.float32), "phi": mk(phi, np.float32),
                   "e": mk(e, np.float32), "charge": mk(charge, np.int8), "pid": mk(pid, np.int32)})


def test_counter_based_random_numbers():
    keys = np.arange(100_000, dtype=np.uint64)
    u = det.uniform(0, 1, keys, 0)
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    z = det.normal(0, 1, keys, 3)
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    np.testing.assert_array_equal(det.uniform(0, 1, keys[500:], 0), u[500:])   # a pure function of the key
    assert not np.array_equal(det.uniform(1, 1, keys, 0), u)


def test_track_resolution_and_efficiency():
    d = det.DEFAULT
    n = 40_000
    jets = _jets(211, 1, np.full(n, 100.0))
    reco = det.apply(jets, det.event_keys("test", np.arange(n)))
    found = ak.num(reco.pt) > 0
    # 90% tracked; an untracked pion of 100 GeV is an HCAL cell instead (pid 130)
    tracks = reco[reco.charge != 0]
    eff = ak.mean(ak.num(tracks.pt) == 1)
    assert abs(eff - d.track_efficiency) < 4 * np.sqrt(0.09 / n)
    assert ak.all(found)
    ratio = ak.to_numpy(ak.flatten(tracks.pt)) / 100.0
    expected = np.hypot(d.curvature_resolution * 100.0, d.track_ms)   # 1.27%
    assert abs(np.std(ratio) / expected - 1) < 0.03
    assert abs(np.mean(ratio) - 1) < 0.001
    assert set(ak.to_numpy(ak.flatten(tracks.pid)).tolist()) == {211}


def test_sagitta_resolution_grows_with_pt():
    d = det.DEFAULT
    widths = []
    for pt in (20.0, 500.0):
        jets = _jets(13, -1, np.full(20_000, pt))
        reco = det.apply(jets, det.event_keys("mu", np.arange(20_000)))
        widths.append(np.std(ak.to_numpy(ak.flatten(reco.pt))) / pt)
        assert set(ak.to_numpy(ak.flatten(reco.pid)).tolist()) == {13}   # untracked muons are lost
    assert widths[1] == pytest.approx(np.hypot(d.curvature_resolution * 500, d.track_ms), rel=0.05)
    assert widths[1] > 4 * widths[0]


def test_photon_energy_resolution_and_cells():
    d = det.DEFAULT
    n = 40_000
    reco = det.apply(_jets(22, 0, np.full(n, 50.0), eta=0.0), det.event_keys("gamma", np.arange(n)))
    e = ak.to_numpy(ak.flatten(reco.e))
    expected = np.hypot(d.ecal_stochastic / np.sqrt(50.0), d.ecal_constant)   # 1.73%
    assert abs(np.std(e / 50.0) / expected - 1) < 0.03
    assert set(ak.to_numpy(ak.flatten(reco.pid)).tolist()) == {22}
    assert ak.all(reco.charge == 0)


def test_calorimeter_merges_neutrals_in_one_cell():
    # two photons 0.005 apart land in the same ECAL cell; one 0.3 away is another candidate
    jets = ak.zip({"pt": [[10.0, 5.0, 8.0]], "eta": [[0.0101, 0.0151, 0.3101]], "phi": [[0.0101, 0.0121, 0.0101]],
                   "e": [[10.0005, 5.0006, 8.386]], "charge": [[0, 0, 0]], "pid": [[22, 22, 22]]})
    reco = det.apply(jets, det.event_keys("cells", [0]))
    assert len(reco[0]) == 2
    assert float(ak.sum(reco.e)) == pytest.approx(10.0005 + 5.0006 + 8.386, rel=0.05)


def test_same_jet_same_smearing_whatever_is_read():
    rng = np.random.default_rng(0)
    counts = rng.integers(5, 40, 200)
    flat = dict(pt=rng.exponential(10, counts.sum()) + 0.5, eta=rng.normal(0, 1, counts.sum()),
                phi=rng.uniform(-np.pi, np.pi, counts.sum()))
    pid = rng.choice([211, -211, 22, 130, 11, 13], counts.sum())
    charge = np.where(np.isin(pid, [211]), 1, np.where(pid == -211, -1, np.where(pid == 11, -1, np.where(pid == 13, -1, 0))))
    jets = ak.zip({"pt": ak.unflatten(flat["pt"], counts), "eta": ak.unflatten(flat["eta"], counts),
                   "phi": ak.unflatten(flat["phi"], counts), "e": ak.unflatten(flat["pt"] * np.cosh(flat["eta"]), counts),
                   "charge": ak.unflatten(charge, counts), "pid": ak.unflatten(pid, counts)})
    keys = det.event_keys("top", np.arange(200))
    full = det.apply(jets, keys, seed=3)
    part = det.apply(jets[120:], keys[120:], seed=3)
    assert ak.all(ak.flatten(full[120:].pt) == ak.flatten(part.pt))
    other = det.apply(jets, keys, seed=4)
    assert not ak.all(ak.num(other.pt) == ak.num(full.pt)) or not ak.all(ak.flatten(other.pt) == ak.flatten(full.pt))
    # sorted by decreasing pT in every jet
    assert ak.all(full.pt[:, :-1] >= full.pt[:, 1:])
