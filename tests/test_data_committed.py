"""The committed data: checksums, size, selection, and physics a physicist would check first.

Top jets: mass peak within 160–185 GeV and a W peak in the subjets; QCD jets: a mass distribution
that falls above its Sudakov peak. Read from the first jets of each class (quick) or all of them.
"""

import json

import awkward as ak
import numpy as np
import pytest

from hepcourse import config
from hepcourse.data import io, manifest
from hepcourse.data.registry import DATASETS
from hepcourse.physics.jets import invariant_mass, jet_four_vector, kt_axes

SPEC = DATASETS["jets-top-qcd"]
PATH = config.DATA_DIR / SPEC.filename
N = config.quick(5_000, None)   # jets per class read by these tests


@pytest.fixture(scope="module")
def jets():
    manifest.verify(PATH)
    return {tree: io.read(PATH, tree, entry_stop=N) for tree in ("top", "qcd")}


def _peak(x, lo, hi, width):
    counts, edges = np.histogram(x, bins=np.arange(lo, hi + width, width))
    return 0.5 * (edges[np.argmax(counts)] + edges[np.argmax(counts) + 1])


def test_manifest_matches_the_file_and_the_size_budget():
    info = manifest.verify(PATH)
    meta = io.read_meta(PATH)
    assert info["counts"] == meta["counts"] == {t: io.num_entries(PATH, t) for t in ("top", "qcd")}
    assert info["counts"]["top"] == info["counts"]["qcd"] >= 5_000
    assert info["settings"] == json.loads(json.dumps(SPEC.settings())) and meta["seed"] == info["seed"]
    assert info["versions"]["pythia8mc"] and info["versions"]["fastjet"]
    assert info["command"].startswith("hepcourse data make jets-top-qcd")
    total = sum(p.stat().st_size for p in config.DATA_DIR.rglob("*") if p.is_file())
    assert total <= 100e6, f"data/ holds {total / 1e6:.0f} MB; the budget is 100 MB"


def test_selection_and_layout(jets):
    for tree, arr in jets.items():
        pt, eta = ak.to_numpy(arr.jet_pt), ak.to_numpy(arr.jet_eta)
        assert np.all((pt > SPEC.pt_min) & (pt < SPEC.pt_max)) and np.all(np.abs(eta) < SPEC.eta_max)
        assert np.all(ak.to_numpy(arr.label) == (tree == "top"))
        assert ak.all(arr.part.pt[:, :-1] >= arr.part.pt[:, 1:]), "constituents are sorted by decreasing pT"
        assert ak.all(ak.num(arr.part.pt) == np.minimum(arr.jet_nparticles, SPEC.max_particles))
        # the jet is the sum of its constituents (exactly where none was cut)
        full = arr[arr.npart == arr.jet_nparticles]
        jpt, _, _, jm = jet_four_vector(full.part.pt, full.part.eta, full.part.phi, full.part.e)
        np.testing.assert_allclose(jpt, ak.to_numpy(full.jet_pt), rtol=1e-4)
        np.testing.assert_allclose(jm, ak.to_numpy(full.jet_m), rtol=2e-3, atol=0.05)
        # charges are those of the particle types
        pid, q = ak.to_numpy(ak.flatten(arr.part.pid)), ak.to_numpy(ak.flatten(arr.part.charge))
        assert np.all(q[pid == 211] == 1) and np.all(q[pid == -211] == -1) and np.all(q[pid == 22] == 0)
        assert not np.any(np.isin(np.abs(pid), [12, 14, 16])), "no neutrinos among the constituents"
    assert np.all(ak.to_numpy(jets["top"].truth_drmax) < SPEC.match_r)


def test_top_mass_peak_and_qcd_mass_falling(jets):
    m_top, m_qcd = ak.to_numpy(jets["top"].jet_m), ak.to_numpy(jets["qcd"].jet_m)
    assert 160 <= _peak(m_top, 100, 250, 5) <= 185
    assert np.mean((m_top > 150) & (m_top < 200)) > 0.7
    assert _peak(m_qcd, 0, 250, 10) < 120
    tail = np.histogram(m_qcd, bins=[100, 150, 200, 250, 300])[0]
    assert np.all(np.diff(tail) < 0), f"QCD jets per 50 GeV above 100 GeV should fall: {tail}"


def test_w_peak_in_the_top_subjets(jets):
    masses = {}
    for tree, arr in jets.items():
        arr = arr[:2_000]
        p = arr.part
        axes = kt_axes(p.pt * np.cos(p.phi), p.pt * np.sin(p.phi), p.pt * np.sinh(p.eta), p.e, 3)
        pairs = ak.combinations(axes[ak.num(axes) == 3], 2)
        masses[tree] = invariant_mass(*(ak.to_numpy(pairs["0"][c] + pairs["1"][c]) for c in ("px", "py", "pz", "E"))).min(1)
    assert 65 <= _peak(masses["top"], 30, 150, 5) <= 95
    in_window = lambda m: np.mean((m > 65) & (m < 95))  # noqa: E731
    assert in_window(masses["top"]) > 0.5 and in_window(masses["top"]) > 3 * in_window(masses["qcd"])


def test_substructure_separates_the_classes(jets):
    tau32 = {t: ak.to_numpy(a.jet_tau3 / a.jet_tau2) for t, a in jets.items()}
    assert np.median(tau32["top"]) < np.median(tau32["qcd"]) - 0.2
    assert np.median(ak.to_numpy(jets["top"].jet_nparticles)) > np.median(ak.to_numpy(jets["qcd"].jet_nparticles))
    # the truth partons: the top near m_t, its W near m_W
    assert abs(np.median(ak.to_numpy(jets["top"].top_m)) - 172.5) < 2
    assert abs(np.median(ak.to_numpy(jets["top"].w_m)) - 80.4) < 2


def test_the_data_page_states_the_committed_counts_and_sizes():
    # book/data.md's overview table is written by hand; it must agree with data/MANIFEST
    page = (config.ROOT / "book" / "data.md").read_text()
    for filename, info in manifest.read_manifest()["datasets"].items():
        row = next((line for line in page.splitlines() if line.startswith("|") and f"data/{filename}" in line), None)
        assert row is not None, f"book/data.md has no table row for data/{filename}"
        count = max(info["counts"].values())
        assert f"{count:,}".replace(",", " ") in row, f"{filename}: {count} per class is not in {row!r}"
        assert f"{info['size_bytes'] / 1e6:.1f} MB" in row, f"{filename}: size {info['size_bytes'] / 1e6:.1f} MB is not in {row!r}"


def test_the_pages_state_the_numbers_of_the_committed_file():
    # numbers that book/data.md and book/ch00_data.md quote about the whole committed file (25 000 jets
    # per class), recomputed from it: the share of jets above the 128-constituent cap, and the table of
    # the chapter page (mass peak in 5 GeV bins, median tau32, median multiplicity)
    data_page = (config.ROOT / "book" / "data.md").read_text()
    chapter = (config.ROOT / "book" / "ch00_data.md").read_text()
    rows = {key: next(line for line in chapter.splitlines() if line.startswith(f"| {key}"))
            for key in ("jet mass", "median $\\tau_{32}$", "median number of constituents")}
    words = {"top": "top jets", "qcd": "QCD jets"}
    for tree in ("top", "qcd"):
        a = io.read(PATH, tree, fields=["jet_m", "jet_tau2", "jet_tau3", "jet_nparticles"])
        m, n = ak.to_numpy(a.jet_m), ak.to_numpy(a.jet_nparticles)
        above_cap = np.mean(n > SPEC.max_particles)
        assert f"{above_cap:.1%} of\nthe {words[tree]}" in data_page or f"{above_cap:.1%} of the {words[tree]}" in data_page, \
            f"book/data.md should say that {above_cap:.1%} of the {words[tree]} exceed the cap"
        assert f"{_peak(m, 100 if tree == 'top' else 0, 250, 5.0):.1f} GeV" in rows["jet mass"]
        assert f"{np.median(ak.to_numpy(a.jet_tau3) / ak.to_numpy(a.jet_tau2)):.2f}" in rows["median $\\tau_{32}$"]
        assert f"| {np.median(n):.0f} " in rows["median number of constituents"] or f" {np.median(n):.0f} |" in rows["median number of constituents"]


def test_the_data_page_states_the_rates_and_acceptances_of_the_manifest():
    info = manifest.read_manifest()["datasets"][SPEC.filename]
    page = " ".join((config.ROOT / "book" / "data.md").read_text().split())      # one line: the page wraps anywhere
    rates, generated = info["rates_jets_per_s_per_core"], info["generated_events"]
    assert f"{rates['top']:.2f} top jets and {rates['qcd']:.2f} QCD jets per second per core" in page
    assert (f"{info['counts']['top'] / generated['top']:.1%} of the $t\\bar t$ events and "
            f"{info['counts']['qcd'] / generated['qcd']:.1%} of the QCD events give an accepted jet") in page
