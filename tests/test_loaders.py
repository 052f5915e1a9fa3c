"""hepcourse.data.load: every data set × every loader option either works as documented or is refused
with a clear error (a ValueError that names what the data set supports). On the committed files, 10 jets
(events) per class."""

import shutil

import numpy as np
import pytest
import torch

from hepcourse.data import datasets, load
from hepcourse.data.registry import DATASETS

N = 10
NAMES = sorted(DATASETS)
OWN_FEATURES = {"jets": datasets.FEATURES, "events": datasets.EVENT_SHAPES, "dijets": datasets.DIJET_FEATURES}


def kind(name):
    return DATASETS[name].kind


def n_rows(name):
    return N * len(DATASETS[name].processes)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["awkward", "numpy", "torch"])
def test_format(name, fmt):
    out = load(name, "test", n=N, format=fmt)
    assert len(out) == n_rows(name)
    if fmt == "awkward":
        assert "entry" in out.fields and "split" in out.fields
    else:
        arrays = (out.particles, out.mask, out.features, out.labels)
        assert all(isinstance(a, torch.Tensor if fmt == "torch" else np.ndarray) for a in arrays)
        assert out.features.shape == (n_rows(name), len(OWN_FEATURES[kind(name)]))
        assert out.feature_names == OWN_FEATURES[kind(name)]


@pytest.mark.parametrize("name", NAMES)
def test_splits_are_disjoint_and_a_wrong_one_is_refused(name):
    def jets(split):
        arr = load(name, split, n=N)
        trees = arr.tree.tolist() if "tree" in arr.fields else [""] * len(arr)
        return set(zip(trees, arr.entry.tolist()))

    entries = {s: jets(s) for s in ("train", "val", "test")}
    assert all(len(e) == n_rows(name) for e in entries.values())
    assert not entries["train"] & entries["val"] and not entries["val"] & entries["test"]
    with pytest.raises(ValueError, match="split must be one of"):
        load(name, "training", n=N)


@pytest.mark.parametrize("name", NAMES)
def test_format_must_be_known(name):
    with pytest.raises(ValueError, match="format must be"):
        load(name, "test", n=N, format="pandas")


@pytest.mark.parametrize("name", NAMES)
def test_detector(name):
    if kind(name) != "jets":
        with pytest.raises(ValueError, match="detector"):
            load(name, "test", n=N, detector=True)
        return
    truth = load(name, "test", n=N, format="numpy")
    reco = load(name, "test", n=N, format="numpy", detector=True)
    other = load(name, "test", n=N, format="numpy", detector=True, detector_seed=1)
    assert reco.meta["detector"] and np.array_equal(reco.labels, truth.labels)
    m = truth.feature_names.index("m")
    assert not np.allclose(reco.features[:, m], truth.features[:, m])      # smeared and recomputed
    assert not np.array_equal(reco.particles, other.particles)              # another detector seed, other smearing


@pytest.mark.parametrize("name", NAMES)
def test_max_particles(name):
    five = load(name, "test", n=N, format="numpy", max_particles=5)
    assert five.particles.shape[:2] == (n_rows(name), 5) and five.mask.shape == (n_rows(name), 5)
    level = load(name, "test", n=N, format="numpy", max_particles=0)        # jet/event level only: no constituents
    assert level.particles.shape[:2] == (n_rows(name), 0)
    np.testing.assert_array_equal(level.features, five.features)
    np.testing.assert_array_equal(level.labels, five.labels)


@pytest.mark.parametrize("name", NAMES)
def test_particle_fields(name):
    two = load(name, "test", n=N, format="numpy", particle_fields=("pt", "eta"))
    expected = ("pt", "eta", "jet") if kind(name) == "dijets" else ("pt", "eta")
    assert two.particle_fields == expected and two.particles.shape[-1] == len(expected)
    pt = two.particles[..., 0][two.mask]
    assert np.all(pt > 0)
    if kind(name) == "jets":
        derived = load(name, "test", n=N, format="numpy", particle_fields=("deta", "dr"))
        assert np.all(derived.particles[..., 1][derived.mask] >= 0)           # ΔR ≥ 0
    else:
        with pytest.raises(ValueError, match="particle_fields.*not available"):
            load(name, "test", n=N, format="numpy", particle_fields=("deta",))
    with pytest.raises(ValueError, match="particle_fields"):
        load(name, "test", n=N, format="numpy", particle_fields=("pt", "spin"))


@pytest.mark.parametrize("name", NAMES)
def test_features(name):
    own = OWN_FEATURES[kind(name)]
    some = own[-2:]
    out = load(name, "test", n=N, format="numpy", features=some)
    full = load(name, "test", n=N, format="numpy")
    assert out.feature_names == some
    np.testing.assert_array_equal(out.features, full.features[:, [own.index(f) for f in some]])
    foreign = next(f for k, fs in OWN_FEATURES.items() if k != kind(name) for f in fs if f not in own)
    for bad in (foreign, "not_a_feature"):
        with pytest.raises(ValueError, match="not features of"):
            load(name, "test", n=N, format="numpy", features=(bad,))


@pytest.mark.parametrize("name", NAMES)
def test_path_and_verify(name, tmp_path):
    copy = tmp_path / DATASETS[name].filename
    shutil.copy(datasets.data_path(name), copy)
    a = load(name, "test", n=N, format="numpy", path=copy)
    b = load(name, "test", n=N, format="numpy", verify=False)
    np.testing.assert_array_equal(a.features, b.features)
    assert a.meta["path"] == str(copy)


@pytest.mark.parametrize("name", NAMES)
def test_shuffle(name):
    plain = load(name, "test", n=N, format="numpy", shuffle=False)
    mixed = load(name, "test", n=N, format="numpy")
    assert sorted(mixed.meta["entry"].tolist()) == sorted(plain.meta["entry"].tolist())
    if len(DATASETS[name].processes) == 2:
        assert plain.labels[:N].all() and not plain.labels[N:].any()        # signal first without shuffling
        assert 0 < mixed.labels[:N].sum() < N                               # interleaved with it
    else:                                   # one process after the other, each in entry order without shuffling
        blocks = len(DATASETS[name].processes)
        assert np.sum(np.diff(plain.meta["entry"]) < 0) == blocks - 1
        assert np.sum(np.diff(mixed.meta["entry"]) < 0) > blocks - 1


def test_an_unknown_data_set_is_named():
    with pytest.raises(KeyError, match="known: "):
        load("jets-top-qcd-v2")
