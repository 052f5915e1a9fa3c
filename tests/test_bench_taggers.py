"""hepcourse bench taggers: the quick benchmark writes a readable CSV and a plot, its numbers agree
with metrics computed from its own test scores, it leaves the committed checkpoints alone, each row names
the device it ran on, and the committed table matches the MANIFEST."""

import numpy as np
import pytest

from hepcourse import config, metrics
from hepcourse.bench import taggers as bench_taggers
from hepcourse.data import manifest


def _committed_files():
    files = sorted(config.CHECKPOINT_DIR.glob("*.pt")) + [manifest.manifest_path()]
    return {p.name: (manifest.sha256(p), p.stat().st_mtime_ns) for p in files}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("bench")
    before = _committed_files()
    rows, scores = bench_taggers.run(quick=True, out=out, names=["BDT", "PFN", "EFN"])
    return out, rows, scores, before, _committed_files()


def test_quick_run_writes_csv_and_plot(quick_run):
    out, rows, scores, _, _ = quick_run
    assert (out / bench_taggers.CSV_NAME).exists() and (out / bench_taggers.PLOT_NAME).stat().st_size > 10_000
    back = bench_taggers.read_csv(out / bench_taggers.CSV_NAME)
    assert [r["tagger"] for r in back] == [r["tagger"] for r in rows] == ["BDT (m, τ21, τ32, n)", "PFN", "EFN"]
    for r, (name, (y, s)) in zip(back, scores.items()):
        assert r["auc"] == pytest.approx(metrics.auc(y, s), abs=1e-4)
        assert r["rejection_05"] == pytest.approx(metrics.rejection_at(y, s, 0.5), abs=0.1)
        assert r["parameters"] > 0 and r["jets_per_s"] > 0 and r["n_train"] == 2000
        assert 0.7 < r["auc"] <= 1.0, r
        assert len(y) == 2000 and set(np.unique(y)) == {0, 1}


def test_quick_run_leaves_the_committed_checkpoints_and_manifest_alone(quick_run):
    """The quick run trains tiny PFN and EFN models (their checkpoints exist: full mode would load them);
    it neither reads nor rewrites data/checkpoints/ch04_*.pt or data/MANIFEST (same bytes, same mtime)."""
    _, rows, _, before, after = quick_run
    assert {r["tagger"] for r in rows} >= {"PFN", "EFN"} and all(r["epochs"] for r in rows[1:])   # trained now
    assert after == before


def test_rows_name_the_device_they_ran_on(quick_run):
    import torch

    _, rows, _, _, _ = quick_run
    assert rows[0]["device"] == bench_taggers.device_label(torch.device("cpu"))     # the BDT runs on the CPU
    assert all(r["device"] == bench_taggers.device_label(config.device()) for r in rows[1:])
    assert bench_taggers.device_label(torch.device("cpu")).startswith("cpu (")


def test_tagger_lookup_and_published_table():
    assert bench_taggers.tagger("EFN").chapter == "04"
    with pytest.raises(KeyError):
        bench_taggers.tagger("CNN-that-does-not-exist")
    published = {row[0]: row for row in bench_taggers.PUBLISHED}
    assert published["ParticleNet"][1:4] == (0.9858, "397 ± 7", "1615 ± 93")      # Plehn et al., Table 3
    assert published["PFN"][1:4] == (0.9819, "247 ± 3", "888 ± 17")              # Plehn et al., Table 5


def test_committed_table_matches_the_committed_checkpoints():
    """Each network row of data/benchmarks/ch04_taggers.csv has the AUC that data/MANIFEST records for
    its checkpoint (both are measured on the same test split)."""
    path = bench_taggers.bench_dir() / bench_taggers.CSV_NAME
    if not path.exists():
        pytest.skip("no committed benchmark table")
    entries = manifest.read_manifest().get("checkpoints", {})
    rows = {r["tagger"]: r for r in bench_taggers.read_csv(path)}
    for t in bench_taggers.TAGGERS:
        key = f"data/checkpoints/{t.checkpoint}.pt"
        assert key in entries, f"{key} missing from data/MANIFEST"
        assert rows[t.name]["auc"] == pytest.approx(entries[key]["metric"]["value"], abs=1e-4), t.name


def test_the_chapter_03_trainings_use_the_settings_of_lecture_3_2():
    """The seeds run retrains the CNN and the TopoDNN-like MLP of lecture 3.2 (CH03_TAGGERS): same architecture,
    learning rate, epochs, batch size and early stopping (none) as the lecture's full mode, read from its source."""
    import json
    import re
    import types

    from hepcourse import config, models, train

    nb = json.loads((config.ROOT / "lectures/ch03_cnn_taggers/02_cnn_tagger.ipynb").read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    full = types.SimpleNamespace(quick=lambda quick_value, full_value: full_value)     # the lecture's full mode
    ns = {"models": models, "train": train, "config": full}
    for name in ("CNN_CFG", "CNN_TRAIN", "MLP_CFG", "MLP_TRAIN"):
        line = re.search(rf"^{name} = .*$", source, re.M)
        assert line, name
        exec(line.group(0), ns)
    assert re.search(r"def fit_tagger\(model, x, xv, cfg, batch_size=128\)", source)
    cnn, mlp = bench_taggers.tagger("CNN"), bench_taggers.tagger("TopoDNN-like MLP")
    assert cnn.build(False).cfg == ns["CNN_CFG"] and mlp.build(False).cfg == ns["MLP_CFG"]
    for t, cfg in ((cnn, ns["CNN_TRAIN"]), (mlp, ns["MLP_TRAIN"])):
        assert (t.lr, t.epochs, t.patience, t.batch) == (cfg.lr, cfg.epochs, cfg.patience, 128), t.name
        assert cfg.schedule == "cosine"                                  # the benchmark's schedule too
