"""Event generation is deterministic per seed, whatever the number of workers.

A short run (50 accepted jets per class) with the committed file's seed reproduces the file's
first jets exactly (every branch, every constituent), with one worker and with two; another seed
gives other jets. ROOT files differ in their bytes between writes, so arrays are compared.
"""

import json

import awkward as ak
import numpy as np
import pytest

pytest.importorskip("pythia8mc", reason="event generation needs pythia8mc (the generate extra, Linux)")

from hepcourse import config  # noqa: E402
from hepcourse.data import generate, io, manifest, registry  # noqa: E402

N = 50   # accepted jets per class: about 10 s of generation per run
SPEC = registry.DATASETS["jets-top-qcd"]


@pytest.fixture(scope="module")
def committed():
    path = config.DATA_DIR / SPEC.filename
    info = manifest.verify(path)
    return path, info


def _assert_same_jets(a, b, what):
    assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} jets"
    for field in a.fields:
        if field == "part":
            for sub in a.part.fields:
                assert ak.all(ak.num(a.part[sub]) == ak.num(b.part[sub])), f"{what}: constituent counts differ"
                assert np.array_equal(ak.to_numpy(ak.flatten(a.part[sub])), ak.to_numpy(ak.flatten(b.part[sub]))), \
                    f"{what}: part.{sub} differs"
        else:
            assert np.array_equal(ak.to_numpy(a[field]), ak.to_numpy(b[field])), f"{what}: {field} differs"


@pytest.mark.parametrize("jobs", [1, 2])
def test_short_run_reproduces_the_committed_file(committed, tmp_path, jobs):
    path, info = committed
    assert info["settings"] == json.loads(json.dumps(SPEC.settings())), \
        "the generator settings changed since data/ was made: regenerate with " + info["command"]
    out = tmp_path / "short.root"
    result = generate.make(SPEC.name, events=N, seed=info["seed"], jobs=jobs, out=out, chunk_dir=tmp_path / "chunks",
                           progress=False, update_manifest=False)
    assert result.counts == {"top": N, "qcd": N}
    for tree in ("top", "qcd"):
        _assert_same_jets(io.read(out, tree), io.read(path, tree, entry_stop=N), f"{tree}, {jobs} job(s)")


def test_another_seed_gives_other_jets(committed, tmp_path):
    path, info = committed
    out = tmp_path / "other.root"
    generate.make(SPEC.name, events=5, seed=info["seed"] + 1, out=out, chunk_dir=tmp_path / "chunks", progress=False,
                  update_manifest=False)
    for tree in ("top", "qcd"):
        mine, theirs = io.read(out, tree), io.read(path, tree, entry_stop=5)
        assert not np.array_equal(ak.to_numpy(mine.jet_pt), ak.to_numpy(theirs.jet_pt))


def test_chunk_seeds_depend_on_chunk_not_on_workers():
    seeds = {generate.chunk_seed(1, SPEC.name, p, k) for p in range(2) for k in range(50)}
    assert len(seeds) == 100 and all(1 <= s <= 900_000_000 for s in seeds)
    assert generate.chunk_seed(1, SPEC.name, 0, 3) == generate.chunk_seed(1, SPEC.name, 0, 3)
    assert generate.chunk_seed(2, SPEC.name, 0, 3) != generate.chunk_seed(1, SPEC.name, 0, 3)


def test_sample_events_full_record_holds_every_stage_and_the_visible_final_state():
    visible = generate.sample_events("jets-top-qcd", "top", 2, seed=7)
    record = generate.sample_events("jets-top-qcd", "top", 2, seed=7, full_record=True)
    for ev_visible, ev in zip(visible, record):
        status = np.abs(ak.to_numpy(ev.status))
        # every stage of the simulation chain wrote entries into the record of a tt̄ event
        for lo, hi in ((21, 29), (31, 39), (41, 49), (51, 59), (61, 69), (71, 79), (81, 89), (91, 99)):
            assert np.any((status >= lo) & (status <= hi)), f"no entry with |status| in {lo}–{hi}"
        # the final state without neutrinos is exactly what sample_events returns by default
        final = ev[(ev.status > 0) & ~np.isin(np.abs(ak.to_numpy(ev.pid)), list(generate.NEUTRINOS))]
        for field in ("px", "py", "pz", "E", "pid", "charge"):
            assert np.array_equal(ak.to_numpy(final[field]), ak.to_numpy(ev_visible[field])), field


def test_no_pythia_switch_hides_the_generator(monkeypatch):
    monkeypatch.setenv("HEPCOURSE_NO_PYTHIA", "1")
    with pytest.raises(ImportError, match="HEPCOURSE_NO_PYTHIA"):
        generate.sample_events("jets-top-qcd", "top", 1, seed=1)
