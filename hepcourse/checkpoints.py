"""Committed checkpoints of lecture models, and their entries in ``data/MANIFEST``.

Full mode (the website) loads a lecture model from ``data/checkpoints/<name>.pt`` when the file
exists, and otherwise trains it, saves it and records it (DESIGN.md, "Modes"). Each record says how
to rebuild the model and which number it reaches on which test split, so that a test
(``tests/test_checkpoints.py``) can reload every checkpoint and reproduce that number:

.. code-block:: yaml

    checkpoints:
      data/checkpoints/ch02_classifier.pt:
        sha256: 3f5c...                 # of the .pt file
        seed: 1                         # the training seed
        model: {class: MLP, config: {n_in: 2, n_out: 1, hidden: [64, 64], ...}}
        test: {toy: GAUSS_2D, n: 100000, seed: 1002}   # regenerated from the toy and the seed
        # or a split of a course data set, with the network's input:
        # test: {dataset: jets-top-qcd, split: test, n: 5000, input: images, n_pixels: 40}
        metric: {name: bce, value: 0.4887, tolerance: 0.0001}
        notebook: lectures/ch02_neural_networks/01_from_fits_to_networks.ipynb

The MANIFEST is read and written by :mod:`hepcourse.data.manifest`, which keeps its
``datasets`` section as it is. Quick mode never
reads or writes a checkpoint (:func:`hepcourse.train.load_or_train`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import config, metrics, train
from .data import manifest
from .losses import bce_with_logits, heteroscedastic_nll
from .models import BayesianMLP, Ensemble, build, predictive_moments
from .physics import toys


TOYS = {"GAUSS_2D": toys.GAUSS_2D, "GAUSS_1D": toys.GAUSS_1D,
        "HETERO_SINE": toys.HETERO_SINE, "GAP_REGRESSION": toys.GAP_REGRESSION}
METRICS = ("auc", "bce", "nll", "mse")


def checkpoint_path(name: str) -> Path:
    """``data/checkpoints/<name>.pt``."""
    return config.CHECKPOINT_DIR / f"{name}.pt"


def model_spec(model: torch.nn.Module) -> dict:
    """What :func:`hepcourse.models.build` needs to rebuild ``model`` (before loading its weights)."""
    spec = {"class": type(model).__name__, "config": model.cfg.to_dict()}
    if isinstance(model, Ensemble):
        spec["k"] = model.k
    if isinstance(model, BayesianMLP):
        spec["prior_sigma"], spec["init_sigma"] = model.prior_sigma, model.init_sigma
    return spec


def test_sample(test: dict):
    """The test split described by ``test``: a classification toy gives ``(x, y)`` with ``n`` events
    per class; a regression toy gives ``(x, y)`` with ``n`` events. Always the same for the same seed.

    ``{"dataset": name, "split": ..., "n": jets per class, "input": ...}`` reads a split of a course
    data set (:func:`data_sample`); with ``"inputs"`` instead of ``"input"`` it is the test split of a
    chapter 04 tagger (:func:`jet_test_sample`)."""
    if "dataset" in test:
        return jet_test_sample(test) if "inputs" in test else data_sample(test)
    toy = TOYS[test["toy"]]
    rng = np.random.default_rng(test["seed"])
    if isinstance(toy, toys.GaussianToy):
        return toy.sample(test["n"], test["n"], rng)
    return toy.sample(test["n"], rng)


def data_sample(test: dict):
    """``(x, y)`` from a split of a course data set, with the network input ``test["input"]``:

    * ``"images"``: preprocessed jet images (N, n, n) of :func:`hepcourse.data.images.jet_images`
      (``n_pixels``, default 40; ``half_width``, default 0.8);
    * ``"constituents"``: the flat vectors of :func:`hepcourse.data.images.constituent_vectors`
      (``n_constituents``, default 30);
    * ``"features"``: the high-level features named in ``features`` (a list).
    """
    from .data import images, load

    kind = test.get("input", "features")
    if kind == "features":
        jets = load(test["dataset"], split=test["split"], n=test["n"], format="numpy", features=tuple(test["features"]))
        return jets.features, jets.labels
    jets = load(test["dataset"], split=test["split"], n=test["n"], format="numpy", particle_fields=("pt", "eta", "phi"),
                max_particles=test.get("max_particles", 128))
    if kind == "images":
        x = images.jet_images(jets, test.get("n_pixels", images.N_PIXELS), test.get("half_width", images.HALF_WIDTH))
    elif kind == "constituents":
        x = images.constituent_vectors(jets, test.get("n_constituents", 30))
    else:
        raise ValueError(f"test input must be 'images', 'constituents' or 'features', got {kind!r}")
    return x, jets.labels


# ---- chapter 04: taggers of jet constituents, tested on a split of a jet data set ----------------

def jet_test_sample(test: dict):
    """``{"dataset": "jets-top-qcd", "split": "test", "n": 5000, "max_particles": 30, "inputs": ...}``:
    ``n`` jets per class of the split, as the inputs of the model and the labels ``(inputs, y)``.

    ``inputs`` is ``"constituents"`` (default; a :class:`~hepcourse.data.constituents.ConstituentInputs`
    for ``model(x, p4, mask)``) or ``"flat"`` (the (Δη, Δφ, ln p_T) of the ``max_particles`` leading
    constituents in one vector, for an MLP)."""
    from .data import constituents

    inputs, y, _ = constituents.load_inputs(test["dataset"], test.get("split", "test"), test["n"],
                                            test.get("max_particles", 30))
    if test.get("inputs", "constituents") == "flat":
        return constituents.flat_features(inputs, test.get("max_particles", 30)).numpy(), y.numpy()
    return inputs, y.numpy()


@torch.no_grad()
def _predict_constituents(model: torch.nn.Module, inputs, batch: int = 1000) -> np.ndarray:
    """``model(x, p4, mask)`` in batches (attention and pair features grow as N²): (N, 1)."""
    out = [model(inputs.x[i:i + batch], inputs.p4[i:i + batch], inputs.mask[i:i + batch])
           for i in range(0, len(inputs), batch)]
    return torch.cat(out).reshape(-1, 1).numpy()

# ------------------------------------------------------------------------------------------------


@torch.no_grad()
def predict(model: torch.nn.Module, x: np.ndarray, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """The model's output on ``x`` as NumPy, on the CPU: (N, n_out), or for an ensemble or a Bayesian
    network the K members' or ``n_samples`` weight samples' outputs, (K, N, n_out)."""
    model = model.to("cpu").eval()
    if hasattr(x, "p4"):                                      # chapter 04: ConstituentInputs
        return _predict_constituents(model, x)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if isinstance(model, BayesianMLP):
        torch.manual_seed(seed)
        return model.sample_predictions(xt, n_samples).numpy()
    return torch.cat([model(batch) for batch in xt.split(4096)], dim=-2).numpy()   # in batches: images are large


def evaluate(model: torch.nn.Module, test: dict, metric: str) -> float:
    """``metric`` of ``model`` on the test split ``test``.

    ``auc``, ``bce``: a classifier with one output (a logit) on a classification toy (the BCE, unlike
    the AUC, depends on the calibration of the output and tells similar classifiers apart). ``mse``: mean squared
    error of the predicted mean. ``nll``: mean Gaussian negative log-likelihood of the test data
    under the predicted N(μ, σ²), for outputs (μ, log σ); for an ensemble or a Bayesian network μ
    and σ are the mean and σ_tot of :func:`hepcourse.models.predictive_moments`.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    x, y = test_sample(test)
    out = predict(model, x)
    if metric == "auc":
        return metrics.auc(y, out[..., 0])
    if metric == "bce":
        return float(bce_with_logits(torch.as_tensor(out[..., 0], dtype=torch.float64), torch.as_tensor(y)))
    if out.ndim == 3:                                    # (K, N, 2): ensemble members or weight samples
        mu, sigma = out[..., 0], np.exp(out[..., 1]) if out.shape[-1] > 1 else None
        mu, _, _, sigma = predictive_moments(mu, sigma)
    else:
        mu = out[:, 0]
        sigma = np.exp(out[:, 1]) if out.shape[1] > 1 else None
    if metric == "mse":
        return float(np.mean((mu - y) ** 2))
    return float(heteroscedastic_nll(torch.as_tensor(y), torch.as_tensor(mu), torch.as_tensor(np.log(sigma))))


def record(name: str, model: torch.nn.Module, seed: int, test: dict, metric: str, tolerance: float,
           notebook: str = "", value: float | None = None) -> dict:
    """Write (or replace) the MANIFEST entry of checkpoint ``name``; returns the entry."""
    path = checkpoint_path(name)
    if value is None:
        value = evaluate(model, test, metric)
    entry = {"sha256": manifest.sha256(path), "seed": int(seed), "model": model_spec(model), "test": dict(test),
             "metric": {"name": metric, "value": round(float(value), 6), "tolerance": float(tolerance)},
             "notebook": notebook}
    manifest.write_section("checkpoints", path.relative_to(config.ROOT).as_posix(), entry)
    return entry


def load(path: str | Path) -> torch.nn.Module:
    """Rebuild the model of a MANIFEST entry (path relative to the repository) and load its weights."""
    entry = manifest.read_manifest()["checkpoints"][Path(path).as_posix()]
    model = build(entry["model"])
    model.load_state_dict(torch.load(config.ROOT / path, map_location="cpu", weights_only=True))
    return model.eval()


def load_or_train(model: torch.nn.Module, name: str, train_fn: Callable[[torch.nn.Module], object], *,
                  seed: int, test: dict, metric: str, tolerance: float, notebook: str = ""):
    """:func:`hepcourse.train.load_or_train` for ``data/checkpoints/<name>.pt``, recording what it trained.

    Quick mode trains and neither reads nor writes. Full mode loads the checkpoint if it exists
    (unless ``HEPCOURSE_RETRAIN=1``); when it trains, it saves the weights and writes the MANIFEST
    entry with ``metric`` evaluated on ``test``. Returns ``(model, result of train_fn or None)``.
    """
    path = checkpoint_path(name)
    trains = config.QUICK or config.RETRAIN or not path.exists()
    model, result = train.load_or_train(model, path, train_fn)
    if trains and not config.QUICK:
        record(name, model, seed, test, metric, tolerance, notebook)
        model.to(config.device())
    return model, result
