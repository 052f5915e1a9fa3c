"""hepcourse bench taggers --level ... --seed ...: one row per (level, training seed, tagger), appended as each
finishes, an interrupted run continues without redoing rows, the detector level reads the jets through the toy
detector (what the detector does: tests/test_detector.py), and the aggregation's mean and spread are those of the rows (tiny sizes: the plumbing, not the physics)."""

import functools

import numpy as np
import pytest

from hepcourse.bench import taggers as bench_taggers


@pytest.fixture()
def tiny(monkeypatch):
    import torch

    torch.set_num_threads(1)
    monkeypatch.setattr(bench_taggers, "_sizes",
                        lambda quick: {"train": 150, "val": 100, "test": 150, "epochs": 2, "batch": 64})
    calls = []
    load = bench_taggers.constituents.load_inputs

    def spy(*args, **kwargs):
        calls.append(kwargs.get("detector", False))
        return load(*args, **kwargs)

    monkeypatch.setattr(bench_taggers.constituents, "load_inputs", spy)
    monkeypatch.setattr(bench_taggers, "_seed_data", functools.cache(bench_taggers._seed_data))   # read once
    return calls


def test_rows_are_appended_per_level_seed_and_tagger_and_a_rerun_resumes(tiny, tmp_path):
    names = ["BDT", "flat MLP"]
    rows = bench_taggers.run_seeds(levels=["detector"], seeds=[0, 1], names=names, quick=True, out=tmp_path)
    assert tiny == [True, True, True]                                  # train, val, test: all at detector level
    keys = [(r["level"], r["seed"], r["tagger"]) for r in rows]
    assert keys == [("detector", s, t) for s in (0, 1) for t in (bench_taggers.BDT_NAME, "flat MLP")]
    path = tmp_path / bench_taggers.SEEDS_CSV_NAME
    back = bench_taggers.read_seeds_csv(path)
    assert [(r["level"], r["seed"], r["tagger"]) for r in back] == keys
    assert all(r["n_train"] == 300 and r["epochs"] and 0 <= r["auc"] <= 1 for r in back)
    assert back[0]["auc"] > 0.9                                       # the BDT on m, τ21, τ32, n: even on 300 jets

    # interrupted after three rows: the rerun adds only the missing ones, and seed 2; the group (1, 2) trains
    # each tagger with both before the next tagger
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))
    again = bench_taggers.run_seeds(levels=["detector"], seeds=[0, (1, 2)], names=names, quick=True, out=tmp_path)
    assert [(r["seed"], r["tagger"]) for r in again] == [(2, bench_taggers.BDT_NAME), (1, "flat MLP"), (2, "flat MLP")]
    assert bench_taggers.run_seeds(levels=["detector"], seeds=[0, 1, 2], names=names, quick=True, out=tmp_path) == []

    rows = bench_taggers.read_seeds_csv(path)
    agg = {a["tagger"]: a for a in bench_taggers.aggregate(rows)}
    mlp = [r["auc"] for r in rows if r["tagger"] == "flat MLP"]
    assert agg["flat MLP"]["n"] == 3 and agg["flat MLP"]["seeds"] == [0, 1, 2]
    assert agg["flat MLP"]["auc"] == pytest.approx(np.mean(mlp), abs=1e-12)
    assert agg["flat MLP"]["auc_spread"] == pytest.approx(np.std(mlp, ddof=1), abs=1e-12)
    assert agg["flat MLP"]["auc_spread"] > 0                          # different trainings, different networks
    assert "| detector | flat MLP | 3 |" in bench_taggers.markdown_table(list(agg.values()))

    with pytest.raises(ValueError, match="level"):
        bench_taggers.run_seeds(levels=["parton"], seeds=[0], quick=True, out=tmp_path)


def test_chapter_03_taggers_train_on_images_and_constituent_vectors_of_the_level(tiny, tmp_path, monkeypatch):
    from hepcourse.data import images, load

    levels = []
    image_data = bench_taggers._image_data

    def spy(level, quick):
        levels.append(level)
        return image_data(level, quick)

    monkeypatch.setattr(bench_taggers, "_image_data", spy)
    names = ["CNN", "TopoDNN-like MLP"]
    rows = bench_taggers.run_seeds(levels=["detector"], seeds=[0, 1], names=names, quick=True, out=tmp_path)
    assert [(r["seed"], r["tagger"]) for r in rows] == [(s, t) for s in (0, 1) for t in ("TopoDNN-like MLP", "CNN")]
    assert levels == ["detector"]                                      # read once, through the toy detector
    assert all(r["n_train"] == 300 and r["chapter"] == "03" for r in rows)
    assert min(r["auc"] for r in rows if r["tagger"] == "CNN") > 0.75   # images of 300 jets: the mass is visible
    cnn = [r for r in rows if r["tagger"] == "CNN"]
    assert cnn[0]["auc"] != cnn[1]["auc"]                              # two trainings, two networks
    # the inputs are those of lecture 3.2, made from the detector-level jets (every constituent up to 128)
    data = image_data("detector", True)["test"]
    jets = load("jets-top-qcd", split="test", n=150, format="numpy", particle_fields=("pt", "eta", "phi"), detector=True)
    np.testing.assert_array_equal(data["images"], images.jet_images(jets))
    np.testing.assert_array_equal(data["constituents"], images.constituent_vectors(jets, 20))
    particle = image_data("particle", True)["test"]
    assert not np.array_equal(particle["images"], data["images"])      # the detector changes the images


def test_ordering_weighs_the_difference_by_the_spread_and_the_statistical_error():
    def row(level, tagger, seed, auc, auc_std=0.001):
        return {"level": level, "tagger": tagger, "seed": seed, "auc": auc, "auc_std": auc_std,
                "rejection_03": 100.0, "rejection_05": 30.0, "train_s": 1.0}

    rows = ([row("detector", "PFN", s, a) for s, a in enumerate((0.960, 0.962, 0.964))]
            + [row("detector", "EdgeConv", s, a) for s, a in enumerate((0.970, 0.972))]
            + [row("detector", "Lorentz", 0, 0.9625)])
    agg = bench_taggers.aggregate(rows)
    o = bench_taggers.ordering(agg, "detector", "PFN", "EdgeConv")
    # Δ = 0.971 − 0.962; error² = 2 × 0.001² + 0.002²/3 + 0.0014142²/2
    error = np.sqrt(2e-6 + 0.002 ** 2 / 3 + 0.001 ** 2 * 2 / 2)
    assert o["n"] == (3, 2) and o["delta"] == pytest.approx(0.009, abs=1e-12)
    assert o["error"] == pytest.approx(error, rel=1e-9) and o["verdict"] == "holds"
    assert bench_taggers.ordering(agg, "detector", "EdgeConv", "PFN")["verdict"] == "reversed"
    lorentz = bench_taggers.ordering(agg, "detector", "PFN", "Lorentz")      # one training: no spread term
    assert lorentz["error"] == pytest.approx(np.sqrt(2e-6 + 0.002 ** 2 / 3), rel=1e-9)
    assert lorentz["verdict"] == "not resolved"
    assert bench_taggers.ordering(agg, "detector", "PFN", "Lorentz", "≈")["verdict"] == "holds"
    assert bench_taggers.ordering(agg, "detector", "PFN", "EdgeConv", "≈")["verdict"] == "does not hold"
