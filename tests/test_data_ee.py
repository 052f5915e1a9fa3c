"""ee-z-hadrons: e+e- -> Z -> hadrons with a settable alpha_s, whole events and event shapes."""

import awkward as ak
import numpy as np
import pytest

from data_support import assert_regenerates
from hepcourse import config
from hepcourse.data import generate, io, load, manifest, registry

SPEC = registry.DATASETS["ee-z-hadrons"]
PATH = config.DATA_DIR / SPEC.filename


@pytest.fixture(scope="module")
def events():
    manifest.verify(PATH)
    return io.read(PATH, "events", entry_stop=config.quick(3_000, None))


def test_events_are_physical(events):
    charge = ak.sum(events.part.charge, axis=1)
    assert ak.all(charge == 0), "the visible final state of a Z decay is neutral"
    assert np.all(ak.to_numpy(events.n_charged) % 2 == 0)
    t = ak.to_numpy(events.thrust)
    assert np.all((t >= 0.5) & (t <= 1.0 + 1e-6))
    c = ak.to_numpy(events.c_parameter)
    assert np.all((c >= -1e-6) & (c <= 1.0 + 1e-6))
    # LEP1: <1 - T> ≈ 0.067 and about 20 charged particles (fewer here: K0_S and Λ are stable)
    assert 0.055 < np.mean(1 - t) < 0.08
    assert 16 < np.mean(ak.to_numpy(events.n_charged)) < 22
    e_vis = ak.to_numpy(events.e_visible)
    assert np.all(e_vis <= 91.1876 + 1e-3) and np.median(e_vis) > 85   # neutrinos carry the rest


def test_loader_reads_events():
    a = load("ee-z-hadrons", split="val", n=100)
    assert len(a) == 100 and set(np.asarray(a.entry) % 5) == {3}
    t = load("ee-z-hadrons", split="test", n=50, format="numpy", max_particles=80)
    assert t.particles.shape == (50, 80, 6) and t.feature_names[0] == "thrust"


@pytest.mark.skipif(not generate.versions()["pythia8mc"], reason="needs pythia8mc")
def test_reproduces_the_committed_events_and_alpha_s_matters(tmp_path):
    mine, theirs = assert_regenerates(SPEC.name, 200, tmp_path, ("thrust", "c_parameter", "n_particles"))["events"]
    assert np.array_equal(ak.to_numpy(ak.flatten(mine.part.e)), ak.to_numpy(ak.flatten(theirs.part.e)))
    means, n_charged = {}, {}
    for alphas in (0.11, 0.16):
        result = generate.make(SPEC.name, events=400, seed=7, out=tmp_path / f"a{alphas}.root", chunk_dir=tmp_path,
                               progress=False, update_manifest=False, params={"alphas": alphas})
        assert io.read_meta(result.path)["settings"]["extra"]["alphas"] == alphas
        events = io.read(result.path, "events")
        means[alphas] = np.mean(1 - ak.to_numpy(events.thrust))
        n_charged[alphas] = ak.to_numpy(events.n_charged)
    assert means[0.16] > means[0.11] + 0.01, means   # more emissions, less two-jet-like
    # more emissions, more hadrons: the mean charged multiplicity grows by more than 3 standard errors
    diff = n_charged[0.16].mean() - n_charged[0.11].mean()
    err = np.hypot(*(n.std() / np.sqrt(len(n)) for n in n_charged.values()))
    assert diff > 3 * err, (diff, err)


def test_unknown_parameter_is_refused():
    with pytest.raises(ValueError, match="alphas"):
        registry.with_params(SPEC, {"alpha": 0.1})
    assert registry.with_params(SPEC, {"alphas": 0.12}).filename == "ee-z-hadrons-alphas0.1200.root"
