"""Grading and data generation on a dask.distributed cluster (hepcourse.cluster), started here as a
`LocalCluster` of two worker processes with one thread each.

* grading: three ch01 submissions (the solution, the blank release, a variant with two mistakes in two
  parts) graded with the sandboxed runs on the workers (a warm sandbox in each worker) get the same
  scores, part by part, as the local path, and the gradebook of the grading process holds them: the
  workers send results back, this process alone records them;
* data: ee-z-hadrons in chunks of 100 events (300 events, three chunks, each from its own seed) made on
  the cluster is the local run's file array by array, and a run that lost a chunk regenerates only
  that one and gives the same file again (resumable).
"""

import dataclasses
import os

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the cluster extra (pip install -e '.[cluster]')")

from hepcourse.grading.sandbox import Limits, bwrap_path  # noqa: E402

NEEDS_BWRAP = pytest.mark.skipif(bwrap_path() is None and os.environ.get("CI", "").lower() not in {"1", "true"},
                                 reason="bubblewrap is not installed (apt-get install bubblewrap)")


@pytest.fixture(scope="module")
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                      silence_logs=40) as local, Client(local) as client:
        yield client


@pytest.mark.grading
@NEEDS_BWRAP
def test_grading_on_the_cluster_gives_the_local_grades(cluster, tmp_path):
    from nbgrader.api import Gradebook

    from hepcourse.config import ROOT
    from hepcourse.grading import autograde
    from hepcourse.grading.course import release_notebook
    from hepcourse.grading.submissions import filled_release, load_variants

    assignment = "ch01_classification"
    variants = load_variants(ROOT / "tests" / "submissions" / f"{assignment}.yml")
    name, wrong = next((k, v) for k, v in variants.items() if len(v["wrong_parts"]) >= 2)
    subs = {"solution": filled_release(assignment), "blank": release_notebook(assignment),
            "wrong": filled_release(assignment, wrong["replace"])}
    limits = Limits(wall_s=120, cell_s=60)
    local = autograde(assignment, subs, workdir=tmp_path / "local", jobs=1, limits=limits)
    remote = autograde(assignment, subs, workdir=tmp_path / "remote", limits=limits, scheduler=cluster)

    for student in subs:
        assert remote[student].score == local[student].score, f"{student}: {remote[student]} vs {local[student]}"
        assert {k: p.score for k, p in remote[student].parts.items()} == {k: p.score for k, p in local[student].parts.items()}
    assert local["solution"].score == local["solution"].max_score and local["blank"].score == 0
    lost = {k for k, p in remote["wrong"].parts.items() if not p.passed}
    assert lost == set(wrong["wrong_parts"]), f"{name}: lost {lost}, expected {wrong['wrong_parts']}"
    assert remote["solution"].cells_cpu_seconds > 0, "the workers did not run the warm sandbox"
    with Gradebook(f"sqlite:///{tmp_path / 'remote' / 'gradebook.db'}") as gb:
        recorded = {s.student_id: s.score for s in gb.assignment_submissions(assignment)}
    assert recorded == {s: g.score for s, g in remote.items()}


def test_data_on_the_cluster_is_the_local_file_array_by_array(cluster, tmp_path, monkeypatch):
    pytest.importorskip("pythia8mc", reason="event generation needs pythia8mc (the generate extra, Linux)")
    from hepcourse.data import generate, io, registry

    name = "ee-z-hadrons"
    spec = dataclasses.replace(registry.DATASETS[name], chunk_size=100)
    monkeypatch.setitem(registry.DATASETS, name, spec)
    run = dict(events=300, seed=7, progress=False, update_manifest=False)
    generate.make(name, jobs=1, out=tmp_path / "local.root", chunk_dir=tmp_path / "local", **run)
    generate.make(name, out=tmp_path / "cluster.root", chunk_dir=tmp_path / "cluster", scheduler=cluster, **run)
    chunks = sorted((tmp_path / "cluster").glob("*/*.root"))
    assert len(chunks) == 3
    chunks[1].unlink()                                  # an interrupted run: one chunk missing
    before = {c: c.stat().st_mtime_ns for c in (chunks[0], chunks[2])}
    generate.make(name, out=tmp_path / "resumed.root", chunk_dir=tmp_path / "cluster", scheduler=cluster, **run)
    assert chunks[1].exists() and {c: c.stat().st_mtime_ns for c in before} == before, "finished chunks were redone"

    trees = [t for t in io.tree_names(tmp_path / "local.root")]
    assert trees
    for other in ("cluster.root", "resumed.root"):
        for tree in trees:
            a, b = io.read(tmp_path / "local.root", tree), io.read(tmp_path / other, tree)
            assert a.fields == b.fields and len(a) == len(b) == 300
            _assert_same(a, b, f"{other}: {tree}")


def _assert_same(a, b, what):
    """Every leaf of two awkward arrays equal, value by value and in its structure."""
    import awkward as ak

    if a.fields:
        assert a.fields == b.fields, what
        for field in a.fields:
            _assert_same(a[field], b[field], f"{what}.{field}")
        return
    assert ak.to_list(ak.num(a, axis=-1)) == ak.to_list(ak.num(b, axis=-1)) if a.ndim > 1 else len(a) == len(b), what
    assert np.array_equal(ak.to_numpy(ak.flatten(a, axis=None)), ak.to_numpy(ak.flatten(b, axis=None))), f"{what} differs"


def test_the_data_page_projects_the_core_hours_from_the_manifest():
    from hepcourse import config
    from hepcourse.data import manifest

    rates = manifest.read_manifest()["datasets"]["jets-top-qcd.root"]["rates_jets_per_s_per_core"]
    page = " ".join((config.ROOT / "book" / "data.md").read_text().split())
    hours = {k: 1e6 / v / 3600 for k, v in rates.items()}
    assert (f"{rates['top']:.2f} top jets and {rates['qcd']:.2f} QCD jets per second per core, so 10⁶ jets per class "
            f"take {hours['top']:.1f} core-hours for the top jets and {hours['qcd']:.1f} core-hours for the QCD jets, "
            f"{hours['top'] + hours['qcd']:.1f} core-hours in all: about {round((hours['top'] + hours['qcd']) * 60 / 64, -1):.0f} "
            "minutes on 64 cores") in page
