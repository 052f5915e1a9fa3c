"""Chapter 09's simulation bank ee-z-alphas (Z -> hadrons, alpha_s drawn per chunk from a uniform prior, event
shapes only): MANIFEST and settings, the drawn values, the same physics as ee-z-hadrons, the committed events
reproduced by the generator; and the charged multiplicity that book/data.md states for ee-z-hadrons."""

import json
import re

import awkward as ak
import numpy as np
import pytest
from scipy import stats

from data_support import assert_regenerates
from hepcourse import config
from hepcourse.data import generate, io, manifest, registry

SPEC = registry.dataset("ee-z-alphas")
PATH = config.DATA_DIR / SPEC.filename
FIELDS = ["thrust", "c_parameter", "n_charged", "alphas", "event_chunk"]


@pytest.fixture(scope="module")
def bank():
    manifest.verify(PATH)
    return io.read(PATH, "events", fields=FIELDS)


def test_manifest_and_settings():
    info = manifest.verify(PATH)
    meta = io.read_meta(PATH)
    assert info["counts"] == meta["counts"] == {"events": io.num_entries(PATH, "events")} == {"events": SPEC.default_events}
    assert info["settings"] == json.loads(json.dumps(SPEC.settings())) and info["seed"] == meta["seed"]
    assert info["command"].startswith("hepcourse data make ee-z-alphas")
    assert info["size_bytes"] <= 3e6, "the bank's budget is 3 MB"
    # ee-z-hadrons' process, except for the shower's alpha_s, which the prior sets; no particles
    ee = registry.dataset("ee-z-hadrons")
    assert SPEC.processes == ee.processes and SPEC.common == ee.common and SPEC.max_particles == 0
    assert SPEC.prior == {"alphas": (0.11, 0.15)} and SPEC.extra == {}


def test_alpha_s_is_drawn_once_per_chunk_from_the_prior(bank):
    meta = io.read_meta(PATH)
    chunk, alphas = ak.to_numpy(bank.event_chunk), ak.to_numpy(bank.alphas)
    n_chunks = SPEC.default_events // SPEC.chunk_size
    assert np.array_equal(np.bincount(chunk), np.full(n_chunks, SPEC.chunk_size))
    per_chunk = alphas[::SPEC.chunk_size]
    assert np.array_equal(alphas, np.repeat(per_chunk, SPEC.chunk_size)), "one value of alpha_s per chunk"
    # the values are those of the chunks' seeds (so a run with any number of jobs gives the same file)
    expected = [registry.chunk_params(SPEC, s)["alphas"] for s in meta["chunk_seeds"]["events"]]
    assert per_chunk.tolist() == expected == [p["alphas"] for p in meta["chunk_params"]["events"]]
    assert np.all((per_chunk >= 0.11) & (per_chunk <= 0.15))
    assert stats.kstest(per_chunk, stats.uniform(0.11, 0.04).cdf).pvalue > 1e-3
    assert len(set(per_chunk.tolist())) == n_chunks


def test_same_physics_as_ee_z_hadrons_and_alpha_s_matters(bank):
    ref = io.read(config.DATA_DIR / registry.dataset("ee-z-hadrons").filename, "events", fields=["thrust", "n_charged"])
    alphas = ak.to_numpy(bank.alphas)
    near = np.abs(alphas - 0.1365) < 0.005          # the chunks near ee-z-hadrons' alpha_s (Monash, 0.1365)
    assert near.sum() >= 2_000
    for field in ("thrust", "n_charged"):
        p = stats.ks_2samp(ak.to_numpy(bank[field])[near], ak.to_numpy(ref[field])).pvalue
        assert p > 1e-3, (field, p)
    # more radiation at larger alpha_s: the per-chunk means of 1 - T and n_charged rise with it
    chunk = ak.to_numpy(bank.event_chunk)
    per_chunk = alphas[::SPEC.chunk_size]
    for field in ("thrust", "n_charged"):
        x = ak.to_numpy(bank[field]).astype(float)
        x = 1 - x if field == "thrust" else x
        means = np.bincount(chunk, weights=x) / np.bincount(chunk)
        fit = stats.linregress(per_chunk, means)
        assert fit.slope > 5 * fit.stderr, (field, fit)


@pytest.mark.skipif(not generate.versions()["pythia8mc"], reason="needs pythia8mc")
def test_reproduces_the_committed_events(tmp_path):
    mine, _ = assert_regenerates(SPEC.name, 20, tmp_path, ("thrust", "c_parameter", "b_wide", "n_charged", "alphas"))["events"]
    assert ak.all(ak.num(mine.part.pt) == 0)


def test_the_data_page_states_the_charged_multiplicity_of_ee_z_hadrons():
    # charged particles with c·tau > 10 mm count as stable (K0_S, Lambda): fewer than LEP's ~20.8, which counts
    # their decay products; adding those back (K0_S -> pi+ pi- 69.2%, Lambda -> p pi- 63.9%) comes close to it
    ref = io.read(config.DATA_DIR / registry.dataset("ee-z-hadrons").filename, "events", fields=["n_charged", "part"])
    n_ch = ak.to_numpy(ref.n_charged)
    pid = ref.part.pid
    k0s = ak.to_numpy(ak.sum(pid == 310, axis=1))
    lam = ak.to_numpy(ak.sum(np.abs(pid) == 3122, axis=1))
    added = 2 * (0.692 * k0s.mean() + 0.639 * lam.mean())
    page = " ".join((config.ROOT / "book" / "data.md").read_text().split())
    found = re.search(r"mean charged multiplicity is ([\d.]+) \(K\$\^0_S\$ and \$\\Lambda\$ decays would add ([\d.]+)\)", page)
    assert found, "book/data.md should state the mean charged multiplicity of ee-z-hadrons and what the decays add"
    assert float(found.group(1)) == round(n_ch.mean(), 1) and float(found.group(2)) == round(added, 1)
    assert n_ch.mean() < 20.8 - 1 and abs(n_ch.mean() + added - 20.8) < 1.0
