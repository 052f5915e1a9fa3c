"""dijet-resonance (LHC Olympics-like): the resonance and its daughters where they were put."""

import awkward as ak
import numpy as np
import pytest

from data_support import assert_regenerates
from hepcourse import config
from hepcourse.data import generate, io, load, manifest, registry

SPEC = registry.DATASETS["dijet-resonance"]
PATH = config.DATA_DIR / SPEC.filename


@pytest.fixture(scope="module")
def events():
    manifest.verify(PATH)
    return {t: io.read(PATH, t, entry_stop=config.quick(4_000, None)) for t in ("signal", "qcd")}


def _peak(x, lo, hi, width):
    counts, edges = np.histogram(x, bins=np.arange(lo, hi + width, width))
    return 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])


def test_selection(events):
    for arr in events.values():
        assert np.all(ak.to_numpy(arr.j1_pt) > SPEC.pt_min)
        assert np.all(np.abs(ak.to_numpy(arr.j1_eta)) < SPEC.eta_max) and np.all(np.abs(ak.to_numpy(arr.j2_eta)) < SPEC.eta_max)
        assert ak.all(ak.num(arr.part.pt) <= 2 * SPEC.max_particles)
        assert ak.all(ak.sum(arr.part.jet == 0, axis=1) == np.minimum(arr.j1_nparticles, SPEC.max_particles))


def test_resonance_and_daughter_masses(events):
    sig, bkg = events["signal"], events["qcd"]
    assert 3200 <= _peak(ak.to_numpy(sig.mjj), 2000, 5000, 100) <= 3700
    heavy = np.maximum(ak.to_numpy(sig.j1_m), ak.to_numpy(sig.j2_m))
    light = np.minimum(ak.to_numpy(sig.j1_m), ak.to_numpy(sig.j2_m))
    assert 450 <= _peak(heavy, 200, 800, 20) <= 560      # X: 500 GeV
    assert 80 <= _peak(light, 20, 300, 10) <= 130        # Y: 100 GeV
    counts = np.histogram(ak.to_numpy(bkg.mjj), bins=[2600, 3000, 3400, 3800, 4200])[0]
    assert np.all(np.diff(counts) < 0), f"the QCD dijet mass spectrum should fall: {counts}"


def test_loader_features():
    t = load("dijet-resonance", split="test", n=200, format="numpy")
    assert t.feature_names[0] == "mjj" and t.features.shape == (400, 10) and set(t.labels) == {0, 1}


@pytest.mark.skipif(not generate.versions()["pythia8mc"], reason="needs pythia8mc")
def test_reproduces_the_committed_events(tmp_path):
    for mine, theirs in assert_regenerates(SPEC.name, 15, tmp_path, ("mjj", "j1_m", "j2_tau2"), ("signal", "qcd")).values():
        assert np.array_equal(ak.to_numpy(ak.flatten(mine.part.pt)), ak.to_numpy(ak.flatten(theirs.part.pt)))
