"""hepcourse bench taggers: the quick benchmark writes a readable CSV and a plot, its numbers agree
with metrics computed from its own test scores, and the committed table matches the MANIFEST."""

import numpy as np
import pytest

from hepcourse import bench_taggers, config, metrics
from hepcourse.data import manifest


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bench")
    rows, scores = bench_taggers.run(quick=True, out=out, names=["BDT", "PFN", "EFN"])
    return out, rows, scores


def test_quick_run_writes_csv_and_plot(quick_run):
    out, rows, scores = quick_run
    assert (out / bench_taggers.CSV_NAME).exists() and (out / bench_taggers.PLOT_NAME).stat().st_size > 10_000
    back = bench_taggers.read_csv(out / bench_taggers.CSV_NAME)
    assert [r["tagger"] for r in back] == [r["tagger"] for r in rows] == ["BDT (m, τ21, τ32, n)", "PFN", "EFN"]
    for r, (name, (y, s)) in zip(back, scores.items()):
        assert r["auc"] == pytest.approx(metrics.auc(y, s), abs=1e-4)
        assert r["rejection_05"] == pytest.approx(metrics.rejection_at(y, s, 0.5), abs=0.1)
        assert r["parameters"] > 0 and r["jets_per_s"] > 0 and r["n_train"] == 2000
        assert 0.7 < r["auc"] <= 1.0, r
        assert len(y) == 2000 and set(np.unique(y)) == {0, 1}


def test_quick_run_never_writes_checkpoints(quick_run, monkeypatch):
    listed = set(manifest.read_manifest().get("checkpoints", {}))
    files = {p.relative_to(config.ROOT).as_posix() for p in config.CHECKPOINT_DIR.glob("*.pt")}
    assert files <= listed


def test_tagger_lookup_and_published_table():
    assert bench_taggers.tagger("EFN").chapter == "04"
    with pytest.raises(KeyError):
        bench_taggers.tagger("CNN-that-does-not-exist")
    published = {row[0]: row for row in bench_taggers.PUBLISHED}
    assert published["ParticleNet"][1:4] == (0.9858, "397 ± 7", "1615 ± 93")      # seed 003, Table 3
    assert published["PFN"][1:4] == (0.9819, "247 ± 3", "888 ± 17")              # seed 003, Table 5


def test_committed_table_matches_the_committed_checkpoints():
    """Each network row of data/benchmarks/ch04_taggers.csv has the AUC that data/MANIFEST records for
    its checkpoint (both are measured on the same test split)."""
    path = bench_taggers.BENCH_DIR / bench_taggers.CSV_NAME
    if not path.exists():
        pytest.skip("no committed benchmark table")
    entries = manifest.read_manifest().get("checkpoints", {})
    rows = {r["tagger"]: r for r in bench_taggers.read_csv(path)}
    for t in bench_taggers.TAGGERS:
        key = "data/checkpoints/ch04_" + t.name.lower().replace(" ", "_").replace("-", "_") + ".pt"
        assert key in entries, f"{key} missing from data/MANIFEST"
        assert rows[t.name]["auc"] == pytest.approx(entries[key]["metric"]["value"], abs=1e-4), t.name
