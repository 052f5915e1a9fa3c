"""Committed checkpoints of lecture models, and their entries in ``data/MANIFEST``.

Full mode (the website) loads a lecture model from ``data/checkpoints/<name>.pt`` when the file
exists, and otherwise trains it, saves it and records it (CONTRIBUTING.md, "Modes"). Each record says how
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
``datasets`` section as it is. Whether a model is trained or loaded is decided here and nowhere else
(:func:`will_train`): quick mode trains and never reads or writes a checkpoint, ``HEPCOURSE_RETRAIN=1``
trains and rewrites it, full mode otherwise loads it when it exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import config, distributed, metrics
from .data import manifest
from .losses import bce_with_logits, heteroscedastic_nll
from .models import BayesianMLP, build, predictive_moments
from .physics import toys
from .train import predict


TOYS = {"GAUSS_2D": toys.GAUSS_2D, "GAUSS_1D": toys.GAUSS_1D,
        "HETERO_SINE": toys.HETERO_SINE, "GAP_REGRESSION": toys.GAP_REGRESSION}
METRICS = ("auc", "bce", "nll", "mse")


def checkpoint_path(name: str) -> Path:
    """``data/checkpoints/<name>.pt``."""
    return config.CHECKPOINT_DIR / f"{name}.pt"


def will_train(*names: str, quick: bool | None = None) -> bool:
    """The one train-or-load policy: True in quick mode (``quick``, default ``config.QUICK``), with
    ``HEPCOURSE_RETRAIN=1``, or when a checkpoint ``data/checkpoints/<name>.pt`` of ``names`` is missing;
    False when full mode can load them all."""
    quick = config.QUICK if quick is None else quick
    return quick or config.RETRAIN or not all(checkpoint_path(n).exists() for n in names)


def model_spec(model: torch.nn.Module) -> dict:
    """What :func:`hepcourse.models.build` needs to rebuild ``model`` before loading its weights: its class
    and its config dataclass, which holds every hyperparameter."""
    return {"class": type(model).__name__, "config": model.cfg.to_dict()}


def test_sample(test: dict):
    """The test split described by ``test``: a classification toy gives ``(x, y)`` with ``n`` events
    per class; a regression toy gives ``(x, y)`` with ``n`` events. Always the same for the same seed.

    ``{"dataset": name, "split": ..., "n": jets per class, "input": ...}`` reads a split of a course
    data set (:func:`data_sample`)."""
    if "dataset" in test:
        return data_sample(test)
    toy = TOYS[test["toy"]]
    rng = np.random.default_rng(test["seed"])
    if isinstance(toy, toys.GaussianToy):
        return toy.sample(test["n"], test["n"], rng)
    return toy.sample(test["n"], rng)


def data_sample(test: dict):
    """``(x, y)`` from a split of a course data set, with the network input ``test["input"]``:

    * ``"features"``: the high-level features named in ``features`` (a list);
    * ``"images"``: preprocessed jet images (N, n, n) of :func:`hepcourse.data.images.jet_images`
      (``n_pixels``, default 40; ``half_width``, default 0.8) — chapter 03;
    * ``"constituents"``: the TopoDNN-like flat vectors of preprocessed constituents of
      :func:`hepcourse.data.images.constituent_vectors` (``n_constituents``, default 30) — chapter 03;
    * ``"particles"``: a :class:`~hepcourse.data.constituents.ConstituentInputs` of the
      ``max_particles`` (default 30) leading constituents, for ``model(x, p4, mask)`` — chapter 04;
    * ``"flat"``: their standardised (Δη, Δφ, ln p_T) in one vector,
      :func:`hepcourse.data.constituents.flat_features` — chapter 04's flat MLP.
    """
    from .data import constituents, images, load

    kind = test.get("input", "features")
    if kind == "features":
        jets = load(test["dataset"], split=test["split"], n=test["n"], format="numpy", features=tuple(test["features"]),
                    max_particles=0)                     # jet-level columns only: the constituents are not read
        return jets.features, jets.labels
    if kind in ("particles", "flat"):
        n_part = test.get("max_particles", 30)
        inputs, y, _ = constituents.load_inputs(test["dataset"], test["split"], test["n"], n_part)
        return (constituents.flat_features(inputs, n_part).numpy() if kind == "flat" else inputs), y.numpy()
    jets = load(test["dataset"], split=test["split"], n=test["n"], format="numpy", particle_fields=("pt", "eta", "phi"),
                max_particles=test.get("max_particles", 128))
    if kind == "images":
        x = images.jet_images(jets, test.get("n_pixels", images.N_PIXELS), test.get("half_width", images.HALF_WIDTH))
    elif kind == "constituents":
        x = images.constituent_vectors(jets, test.get("n_constituents", 30))
    else:
        raise ValueError(f"test input must be 'features', 'images', 'constituents', 'particles' or 'flat', got {kind!r}")
    return x, jets.labels


def outputs(model: torch.nn.Module, x, n_samples: int = 100, seed: int = 0,
            device: torch.device | None = None) -> np.ndarray:
    """The model's output on a test sample, on ``device`` (default the CPU, where the recorded metrics were
    measured): (N, n_out) or (N,), or for an ensemble or a Bayesian network the K members' or ``n_samples``
    weight samples' outputs, (K, N, n_out). Jets as constituents go in batches of 1000 (pair features grow as N²)."""
    device = device or torch.device("cpu")
    if isinstance(model, BayesianMLP):
        torch.manual_seed(seed)
        return predict(model, x, device=device, n_samples=n_samples)
    return predict(model, x, batch_size=1000 if hasattr(x, "tensors") else 4096, device=device)


def evaluate(model: torch.nn.Module, test: dict, metric: str, device: torch.device | None = None,
             sample=None) -> float:
    """``metric`` of ``model`` on the test split ``test``.

    ``auc``, ``bce``: a classifier with one output (a logit) on a classification toy (the BCE, unlike
    the AUC, depends on the calibration of the output and tells similar classifiers apart). ``mse``: mean squared
    error of the predicted mean. ``nll``: mean Gaussian negative log-likelihood of the test data
    under the predicted N(μ, σ²), for outputs (μ, log σ); for an ensemble or a Bayesian network μ
    and σ are the mean and σ_tot of :func:`hepcourse.models.predictive_moments`. The network runs on
    ``device`` (default the CPU). ``sample``: the ``(x, y)`` of :func:`test_sample` (``test``), when the caller
    has read it already (several models evaluated on one split).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    x, y = test_sample(test) if sample is None else sample
    out = outputs(model, x, device=device)
    if out.ndim == 1:                                    # (N,): one logit per event (chapter 04 taggers)
        out = out[:, None]
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
    """Write (or replace) the MANIFEST entry of checkpoint ``name``; returns the entry. Under ``torchrun`` only
    process 0 writes (the others return the entry without writing)."""
    path = checkpoint_path(name)
    if value is None:
        value = evaluate(model, test, metric)
    entry = {"sha256": manifest.sha256(path), "seed": int(seed), "model": model_spec(model), "test": dict(test),
             "metric": {"name": metric, "value": round(float(value), 6), "tolerance": float(tolerance)},
             "notebook": notebook}
    if distributed.is_main():
        manifest.write_section("checkpoints", path.relative_to(config.ROOT).as_posix(), entry)
    return entry


def load(path: str | Path) -> torch.nn.Module:
    """Rebuild the model of a MANIFEST entry (path relative to the repository) and load its weights."""
    entry = manifest.read_manifest()["checkpoints"][Path(path).as_posix()]
    model = build(entry["model"])
    model.load_state_dict(torch.load(config.ROOT / path, map_location="cpu", weights_only=True))
    return model.eval()


def load_or_train(model: torch.nn.Module, name: str, train_fn: Callable[[torch.nn.Module], object], *,
                  seed: int, test: dict, metric: str, tolerance: float, notebook: str = "", quick: bool | None = None):
    """Load ``model``'s weights from ``data/checkpoints/<name>.pt``, or train it and record what it trained.

    :func:`will_train` decides. When it loads, the weights are read on the CPU and the model is moved to
    :func:`hepcourse.config.device`. When it trains (``train_fn(model)``), quick mode (``quick``, default
    ``config.QUICK``) neither reads nor writes; full mode saves the weights and writes the MANIFEST entry
    with ``metric`` evaluated on ``test``. Returns ``(model, result of train_fn or None)``.
    """
    quick = config.QUICK if quick is None else quick
    path = checkpoint_path(name)
    if not will_train(name, quick=quick):
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.to(config.device()).eval(), None
    result = train_fn(model)
    if not quick and distributed.is_main():       # under torchrun: one process writes the file and the MANIFEST
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
        record(name, model, seed, test, metric, tolerance, notebook)
    distributed.barrier()
    return model.to(config.device()).eval(), result
