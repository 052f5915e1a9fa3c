"""Chapter 06's data set dijet-features (more QCD dijets of dijet-resonance, jet-level only): MANIFEST and
settings, the same physics as dijet-resonance's QCD, and the committed events reproduced by the generator."""

import json

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from data_support import assert_regenerates
from hepcourse import config
from hepcourse.data import generate, io, manifest, registry

SPEC = registry.dataset("dijet-features")


def test_manifest_and_settings():
    path = config.DATA_DIR / SPEC.filename
    info = manifest.verify(path)
    meta = io.read_meta(path)
    assert info["counts"] == meta["counts"] == {"qcd": io.num_entries(path, "qcd")} == {"qcd": SPEC.default_events}
    assert info["settings"] == json.loads(json.dumps(SPEC.settings())) and info["seed"] == meta["seed"]
    assert info["command"].startswith("hepcourse data make dijet-features")
    # the QCD process of dijet-resonance, unchanged; no constituents
    assert SPEC.processes == (registry.dataset("dijet-resonance").processes[1],) and SPEC.max_particles == 0


def test_same_physics_as_dijet_resonance_qcd():
    ours = io.read(config.DATA_DIR / SPEC.filename, "qcd")
    ref = io.read(config.DATA_DIR / registry.dataset("dijet-resonance").filename, "qcd")
    assert ak.all(ak.num(ours.part.pt) == 0) and np.all(ak.to_numpy(ours.j1_pt) > 1200)
    # independent events of the same distribution: two-sample KS tests of m_jj and the jet masses do not reject
    # (p > 1e-3 each; the events of the two files are independent, chunk seeds differ by the data set's name)
    for field in ("mjj", "j1_m", "j2_m"):
        p = stats.ks_2samp(ak.to_numpy(ours[field]), ak.to_numpy(ref[field])).pvalue
        assert p > 1e-3, (field, p)
    assert not np.isin(ak.to_numpy(ours.mjj)[:200], ak.to_numpy(ref.mjj)).any()


@pytest.mark.skipif(not generate.versions()["pythia8mc"], reason="needs pythia8mc")
def test_reproduces_the_committed_events(tmp_path):
    assert_regenerates(SPEC.name, 6, tmp_path, ("mjj", "j1_m", "j2_tau2", "j1_nparticles"), trees=("qcd",))
