"""Lecture checkpoints (data/MANIFEST): each file is present and unchanged, and reloading it reproduces
the metric recorded when it was trained, on its test split regenerated from the toy and the seed."""

import functools
import json

import numpy as np
import pytest
import torch
import yaml

from hepcourse import checkpoints, config, models, train
from hepcourse.data import manifest as data_manifest

ENTRIES = data_manifest.read_manifest()["checkpoints"]


@functools.lru_cache(maxsize=None)
def _test_sample(key: str):
    """The test split of a MANIFEST entry, read once per module: several checkpoints share one (the eight
    feature networks of chapter 05, the six particle taggers of chapters 04-05), and reading it costs more
    than evaluating a network on it."""
    return checkpoints.test_sample(json.loads(key))


@pytest.mark.parametrize("path", sorted(ENTRIES))
def test_checkpoint_reproduces_its_metric(path):
    entry = ENTRIES[path]
    file = config.ROOT / path
    assert file.exists(), f"{path} is listed in data/MANIFEST but missing: run `make checkpoints`"
    assert data_manifest.sha256(file) == entry["sha256"], f"{path} changed since it was recorded: run `make checkpoints`"
    model = checkpoints.load(path)
    metric = entry["metric"]
    value = checkpoints.evaluate(model, entry["test"], metric["name"],
                                 sample=_test_sample(json.dumps(entry["test"], sort_keys=True)))
    assert abs(value - metric["value"]) <= metric["tolerance"], (
        f"{path}: {metric['name']} = {value:.6f}, recorded {metric['value']} ± {metric['tolerance']}")


def test_every_committed_checkpoint_is_listed():
    files = {p.relative_to(config.ROOT).as_posix() for p in config.CHECKPOINT_DIR.glob("*.pt")}
    assert files <= set(ENTRIES), f"checkpoints without a MANIFEST entry: {sorted(files - set(ENTRIES))}"


@pytest.fixture
def course_root(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "ROOT", tmp_path)
    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(config, "CHECKPOINT_DIR", tmp_path / "data" / "checkpoints")
    monkeypatch.setenv("HEPCOURSE_DEVICE", "cpu")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "MANIFEST").write_text("datasets:\n  data/jets.root: {sha256: abc}\n")
    return tmp_path


def test_load_or_train_records_then_loads(course_root, monkeypatch):
    monkeypatch.setattr(config, "QUICK", False)
    monkeypatch.setattr(config, "RETRAIN", False)
    test = {"toy": "HETERO_SINE", "n": 500, "seed": 3}
    calls = []

    def fit(model):
        calls.append(1)
        x, y = checkpoints.test_sample({"toy": "HETERO_SINE", "n": 500, "seed": 4})
        return train.fit(model, lambda m, b: ((m(b[0])[:, 0] - b[1]) ** 2).mean(), train.TensorLoader(x, y, batch_size=100),
                         cfg=train.TrainConfig(epochs=3, progress=False))

    cfg = models.MLPConfig(n_in=1, n_out=2, hidden=(8,))
    model, result = checkpoints.load_or_train(models.MLP(cfg), "toy_net", fit, seed=0, test=test, metric="nll",
                                              tolerance=1e-6)
    assert result is not None and len(calls) == 1
    manifest = yaml.safe_load((course_root / "data" / "MANIFEST").read_text())
    assert manifest["datasets"] == {"data/jets.root": {"sha256": "abc"}}          # other entries are kept
    entry = manifest["checkpoints"]["data/checkpoints/toy_net.pt"]
    assert entry["model"] == {"class": "MLP", "config": cfg.to_dict()} and entry["test"] == test
    reloaded = checkpoints.load("data/checkpoints/toy_net.pt")
    assert checkpoints.evaluate(reloaded, test, "nll") == pytest.approx(entry["metric"]["value"], abs=1e-6)
    again, result = checkpoints.load_or_train(models.MLP(cfg), "toy_net", fit, seed=0, test=test, metric="nll",
                                              tolerance=1e-6)
    assert result is None and len(calls) == 1
    x = torch.rand(5, 1)
    torch.testing.assert_close(again.cpu()(x), reloaded(x))


def test_retrain_trains_again_and_the_policy_is_one_function(course_root, monkeypatch):
    monkeypatch.setattr(config, "QUICK", False)
    monkeypatch.setattr(config, "RETRAIN", False)
    assert checkpoints.will_train("absent") and checkpoints.will_train("absent", quick=False)
    calls = []

    def fit(model):
        calls.append(1)
        with torch.no_grad():
            model.layers[0].weight.fill_(float(len(calls)))

    args = dict(seed=0, test={"toy": "HETERO_SINE", "n": 50, "seed": 3}, metric="mse", tolerance=1.0)
    checkpoints.load_or_train(models.MLP(n_in=1, n_out=1, hidden=()), "line", fit, **args)
    assert not checkpoints.will_train("line") and checkpoints.will_train("line", quick=True)
    loaded, result = checkpoints.load_or_train(models.MLP(n_in=1, n_out=1, hidden=()), "line", fit, **args)
    assert result is None and len(calls) == 1 and loaded.layers[0].weight.item() == 1.0
    monkeypatch.setattr(config, "RETRAIN", True)
    assert checkpoints.will_train("line")
    checkpoints.load_or_train(models.MLP(n_in=1, n_out=1, hidden=()), "line", fit, **args)
    monkeypatch.setattr(config, "RETRAIN", False)
    again, _ = checkpoints.load_or_train(models.MLP(n_in=1, n_out=1, hidden=()), "line", fit, **args)
    assert len(calls) == 2 and again.layers[0].weight.item() == 2.0          # retrained and rewritten


def test_a_spec_with_hyperparameters_outside_the_config_is_refused():
    with pytest.raises(ValueError, match="config"):
        models.build({"class": "Ensemble", "config": {"n_in": 1, "n_out": 2, "hidden": [8]}, "k": 3})


def test_quick_mode_neither_reads_nor_writes(course_root, monkeypatch):
    monkeypatch.setattr(config, "QUICK", True)
    before = (course_root / "data" / "MANIFEST").read_text()
    checkpoints.load_or_train(models.MLP(n_in=1, n_out=1, hidden=()), "quick_net", lambda m: None, seed=0,
                              test={"toy": "HETERO_SINE", "n": 10, "seed": 0}, metric="mse", tolerance=1.0)
    assert not (course_root / "data" / "checkpoints" / "quick_net.pt").exists()
    assert (course_root / "data" / "MANIFEST").read_text() == before


@pytest.mark.parametrize("spec,metric", [({"class": "Ensemble", "config": {"n_in": 1, "n_out": 2, "hidden": [8], "k": 3}}, "nll"),
                                         ({"class": "BayesianMLP", "config": {"n_in": 1, "n_out": 2, "hidden": [8],
                                                                              "prior_sigma": 1.0, "init_sigma": 0.01}}, "nll"),
                                         ({"class": "MLP", "config": {"n_in": 2, "n_out": 1, "hidden": [4]}}, "auc"),
                                         ({"class": "MLP", "config": {"n_in": 2, "n_out": 1, "hidden": [4]}}, "bce")])
def test_evaluate_handles_every_model_family(spec, metric):
    torch.manual_seed(0)
    model = models.build(spec)
    again = checkpoints.model_spec(model)
    assert again["class"] == spec["class"] and set(again) == {"class", "config"}
    assert {k: v for k, v in again["config"].items() if k in spec["config"]} == spec["config"]   # every hyperparameter
    toy = "GAUSS_2D" if metric in ("auc", "bce") else "GAP_REGRESSION"
    value = checkpoints.evaluate(model, {"toy": toy, "n": 200, "seed": 1}, metric)
    assert np.isfinite(value)
    assert value == checkpoints.evaluate(model, {"toy": toy, "n": 200, "seed": 1}, metric)   # deterministic
