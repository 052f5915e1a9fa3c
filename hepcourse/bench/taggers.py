"""One benchmark table of the course's top taggers: ``hepcourse bench taggers [--quick]``.

Every tagger of chapters 01–04 is trained (or, in full mode, loaded from its committed checkpoint)
on the same splits of ``jets-top-qcd`` and evaluated on the same test jets:

* ``BDT``: gradient-boosted trees (scikit-learn's ``HistGradientBoostingClassifier``, chapter 01)
  on the jet mass, τ_21, τ_32 and the constituent multiplicity;
* ``flat MLP``: an MLP (chapter 02) on (Δη, Δφ, ln p_T) of the 30 leading constituents in one
  vector, the idea of the ATLAS TopoDNN;
* ``CNN`` and ``TopoDNN-like MLP``: the jet-image CNN of chapter 03 and its MLP on the 20 leading
  preprocessed constituents, from their committed lecture checkpoints (:data:`CHECKPOINT_TAGGERS`;
  full mode only; the trainings of :func:`run_seeds` retrain them with the lecture's settings,
  :data:`CH03_TAGGERS`);
* ``PFN``, ``EFN``, ``EdgeConv``, ``ParT-lite``, ``Lorentz``: the chapter 04 taggers on the
  constituents (:mod:`hepcourse.models`).

For each it reports the AUC (with DeLong's standard error), the background rejection 1/ε_B at
signal efficiencies ε_S = 0.3 and 0.5, the number of trainable parameters (leaves for the BDT), the
training time, the inference rate on the test jets and the device, in a CSV file, and draws the
rejection curves. Quick mode (``--quick`` or ``HEPCOURSE_QUICK=1``) trains tiny versions on
2000 jets in a few seconds each, and never touches the committed files.

Every network is evaluated by :func:`hepcourse.train.predict` on the device it names in its row; an
inference rate is timed after one warm-up pass (the first call pays for memory allocation and kernel
selection).

:data:`PUBLISHED` holds the numbers of Plehn et al. [plehn2022modern] (Tables 3 and 5) for the public
top-tagging data set (1.2M training jets, Delphes detector simulation, 200 constituents), which our
numbers can only be compared with in their ordering.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .. import checkpoints, config, metrics, models, train
from ..data import constituents
from ..losses import bce_loss

__all__ = ["TAGGERS", "CH03_TAGGERS", "PUBLISHED", "bench_dir", "CSV_NAME", "run", "read_csv", "load_tagger", "tagger", "scores",
           "training_data", "SEEDS_CSV_NAME", "LEVELS", "run_seeds", "read_seeds_csv", "aggregate", "ordering",
           "train_tagger"]

CSV_NAME = "ch04_taggers.csv"
PLOT_NAME = "ch04_rejection.png"
COLUMNS = ("tagger", "chapter", "auc", "auc_std", "rejection_03", "rejection_05", "parameters", "train_s",
           "jets_per_s", "device", "n_train", "epochs")
MAX_PARTICLES = 30
BDT_FEATURES = ("m", "tau21", "tau32", "n_particles")
NOTEBOOK = "lectures/ch04_sets_graphs_transformers/03_benchmark.ipynb"

PUBLISHED = [
    # (network, AUC, 1/ε_B at ε_S = 0.5, 1/ε_B at ε_S = 0.3, source)
    ("ATLAS TopoDNN", 0.972, None, "295 ± 5", "Table 3"),
    ("LoLa", 0.980, None, "722 ± 17", "Table 3"),
    ("P-CNN", 0.9803, "201 ± 4", "759 ± 24", "Table 5"),
    ("PFN", 0.9819, "247 ± 3", "888 ± 17", "Table 5"),
    ("ParticleNet", 0.9858, "397 ± 7", "1615 ± 93", "Table 3"),
    ("ParT", 0.9858, "413 ± 16", "1602 ± 81", "Table 3"),
    ("LorentzNet", 0.9868, "498 ± 18", "2195 ± 173", "Table 3"),
    ("PELICAN", 0.9870, None, "2250 ± 75", "Table 3"),
    ("L-GATr", 0.9870, "540 ± 20", "2240 ± 70", "Table 3"),
]
"""Plehn et al., *Modern Machine Learning for LHC Physicists* [plehn2022modern], Table 3 (Sec. 5.1) and
Table 5 (Sec. 5.3), on the public top-tagging data set; mean ± standard deviation of five trainings.
Table 5 gives PELICAN 2289 ± 204 at ε_S = 0.3 where Table 3 gives 2250 ± 75."""


def bench_dir() -> Path:
    """``data/benchmarks/``: the committed benchmark tables and plots."""
    return config.DATA_DIR / "benchmarks"


@dataclass
class Tagger:
    """A network of the benchmark: how to build it (full and quick size) and what it reads."""

    name: str
    chapter: str
    build: Callable[[bool], torch.nn.Module]     # quick → model
    inputs: str = "particles"                    # or "flat", "images", "constituents" (checkpoints.data_sample's kinds)
    lr: float = 1e-3
    epochs: int | None = None                    # full mode; None: the benchmark's (quick mode: always its own)
    batch: int | None = None
    patience: int | None = 4                     # None: no early stopping

    @property
    def checkpoint(self) -> str:
        """Its checkpoint's name: ``data/checkpoints/<name>.pt``, e.g. ``ch04_part_lite``."""
        return "ch04_" + self.name.lower().replace(" ", "_").replace("-", "_")


TAGGERS = [
    Tagger("flat MLP", "02", lambda q: models.MLP(models.MLPConfig(n_in=3 * MAX_PARTICLES, hidden=(32,) if q else (128, 64, 64))),
           inputs="flat"),
    Tagger("PFN", "04", lambda q: models.ParticleFlowNetwork(
        models.DeepSetsConfig(phi_hidden=(32,), latent=32, f_hidden=(32,)) if q else models.DeepSetsConfig())),
    Tagger("EFN", "04", lambda q: models.EnergyFlowNetwork(
        models.DeepSetsConfig(phi_hidden=(32,), latent=32, f_hidden=(32,)) if q else models.DeepSetsConfig())),
    Tagger("EdgeConv", "04", lambda q: models.EdgeConvNet(
        models.EdgeConvConfig(k=4, blocks=((16,), (16,)), head=(16,)) if q else models.EdgeConvConfig())),
    Tagger("ParT-lite", "04", lambda q: models.ParticleTransformer(
        models.TransformerConfig(d=16, heads=2, layers=1, ffn=32, pair_hidden=(8,)) if q else models.TransformerConfig())),
    Tagger("Lorentz", "04", lambda q: models.LorentzInvariantNet(
        models.LorentzConfig(pair_hidden=(16,), particle_hidden=(16,), f_hidden=(16,)) if q else models.LorentzConfig()),
        lr=2e-3),
]
"""The networks of the benchmark, in the order of the table (the BDT comes first)."""

CH03_TAGGERS = [
    Tagger("CNN", "03", lambda q: models.CNN(models.CNNConfig(channels=(4, 4), pool_after=(0, 1), dense=(16,)) if q
                                             else models.CNNConfig()),
           inputs="images", lr=2e-3, epochs=10, batch=128, patience=None),
    Tagger("TopoDNN-like MLP", "03", lambda q: models.MLP(models.MLPConfig(
        n_in=60, n_out=1, hidden=(32,) if q else (256, 128, 64), activation="relu", dropout=0.2)),
        inputs="constituents", epochs=20, batch=128, patience=None),
]
"""The taggers of chapter 03 with the architecture and training settings of lecture 3.2 (``CNN_CFG``,
``CNN_TRAIN``, ``MLP_CFG``, ``MLP_TRAIN`` there; jet images of 40 × 40 pixels and the 20 leading constituents,
from all constituents up to 128), for the trainings of :func:`run_seeds`. The first table (:func:`run`) takes
the lecture's own trainings, :data:`CHECKPOINT_TAGGERS`."""


def _sizes(quick: bool) -> dict:
    return ({"train": 1000, "val": 500, "test": 1000, "epochs": 4, "batch": 64} if quick else
            {"train": 15_000, "val": 5_000, "test": 5_000, "epochs": 12, "batch": 256})


def test_spec(quick: bool, inputs: str = "particles") -> dict:
    """The test split of the benchmark, as recorded with each checkpoint in data/MANIFEST."""
    return {"dataset": "jets-top-qcd", "split": "test", "n": _sizes(quick)["test"], "max_particles": MAX_PARTICLES,
            "input": inputs}


def _as_inputs(inp, kind: str) -> tuple:
    """The model's positional inputs: ``kind`` "particles" (x, p4, mask), "flat" (the flat MLP's vector), or
    "array", "images" or "constituents" (one array as it is: jet images, chapter 03's flat vectors)."""
    if kind in ("array", "images", "constituents"):
        return (torch.as_tensor(np.asarray(inp)),)
    return (constituents.flat_features(inp, MAX_PARTICLES),) if kind == "flat" else inp.tensors()


def _loader(inp, y, kind: str, shuffle: bool, seed: int = 0, batch: int = 256):
    return train.TensorLoader(*_as_inputs(inp, kind), y, batch_size=batch if shuffle else 2048, shuffle=shuffle, seed=seed)


def scores(model, inp, kind: str = "particles", device: torch.device | None = None) -> tuple[np.ndarray, float]:
    """The model's outputs on the test jets (:func:`hepcourse.train.predict` on ``device``, default
    ``config.device()``) and its inference rate in jets/s, timed after one warm-up pass over the first batch."""
    device = device or config.device()
    x = _as_inputs(inp, kind)
    train.predict(model, tuple(t[:1000] for t in x), batch_size=1000, device=device)      # warm-up
    start = time.perf_counter()
    out = train.predict(model, x, batch_size=1000, device=device)   # returns NumPy: the device has finished
    seconds = time.perf_counter() - start
    return out.reshape(len(inp), -1)[:, 0], len(inp) / seconds


def device_label(device: torch.device) -> str:
    """How a benchmark row names the device it ran on: ``cpu (2 threads)``, the GPU's name, or ``mps``."""
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} thread{'s' * (torch.get_num_threads() > 1)})"
    return torch.cuda.get_device_name(device) if device.type == "cuda" else device.type


def _row(name, chapter, y, score, parameters, train_s, jets_per_s, n_train, epochs, device: str) -> dict:
    rej = metrics.rejection_at(y, score, np.array([0.3, 0.5]))
    return {"tagger": name, "chapter": chapter, "auc": round(metrics.auc(y, score), 4),
            "auc_std": round(metrics.auc_std(y, score), 4), "rejection_03": round(float(rej[0]), 1),
            "rejection_05": round(float(rej[1]), 1), "parameters": int(parameters),
            "train_s": None if train_s is None else round(float(train_s), 1), "jets_per_s": int(round(jets_per_s, -1)),
            "device": device, "n_train": None if n_train is None else int(n_train), "epochs": epochs}


def _bdt(jets_train, jets_test, y_test, quick: bool, seed: int = 0) -> tuple[dict, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    feats = lambda j: np.stack([j.feature(f) for f in BDT_FEATURES], axis=1)   # noqa: E731
    bdt = HistGradientBoostingClassifier(max_iter=50 if quick else 300, learning_rate=0.1, max_leaf_nodes=15,
                                         early_stopping=False, random_state=seed)
    start = time.perf_counter()
    bdt.fit(feats(jets_train), jets_train.labels)
    train_s = time.perf_counter() - start
    x_test = feats(jets_test)
    bdt.decision_function(x_test[:100])                                   # warm-up
    start = time.perf_counter()
    score = bdt.decision_function(x_test)
    rate = len(score) / (time.perf_counter() - start)
    leaves = sum(p.get_n_leaf_nodes() for it in bdt._predictors for p in it)
    return _row("BDT (m, τ21, τ32, n)", "01", y_test, score, leaves, train_s, rate, len(jets_train), bdt.n_iter_,
                device_label(torch.device("cpu"))), score


CHECKPOINT_TAGGERS = [("CNN", "03", "data/checkpoints/ch03_cnn.pt"),
                      ("TopoDNN-like MLP", "03", "data/checkpoints/ch03_topodnn.pt")]
"""Taggers of other chapters that the benchmark takes from their committed lecture checkpoints
(full mode only), if present: evaluated on the same test jets, training time not recorded here."""


def _checkpoint_rows(y_test: np.ndarray, n_test: int):
    """Rows for :data:`CHECKPOINT_TAGGERS` whose MANIFEST test split is the benchmark's own."""
    from ..data import manifest

    entries = manifest.read_manifest().get("checkpoints", {})
    for name, chapter, path in CHECKPOINT_TAGGERS:
        entry = entries.get(path)
        if entry is None or not (config.ROOT / path).exists():
            continue
        test = entry["test"]
        if test.get("dataset") != "jets-top-qcd" or test.get("split") != "test" or test.get("n") != n_test:
            continue
        model = checkpoints.load(path)
        x, y = checkpoints.test_sample(test)
        if not np.array_equal(np.asarray(y), y_test):          # not the same test jets in the same order
            continue
        device = config.device()
        score, rate = scores(model, x, "array", device)
        n_par = sum(p.numel() for p in model.parameters() if p.requires_grad)
        yield _row(name, chapter, y_test, score, n_par, None, rate, None, None, device_label(device)), (name, score)


def load_tagger(tagger: Tagger, quick: bool = False, data=None, seed: int = 0):
    """The trained network of ``tagger``: from ``data/checkpoints/ch04_<name>.pt`` in full mode when
    it exists (and ``HEPCOURSE_RETRAIN`` is not set), else trained on ``data = (train, val)`` (each a pair
    of ConstituentInputs and labels; default :func:`training_data`). Returns ``(model, History or None)``."""
    config.seed_everything(seed)                      # the initial weights depend on the seed only
    model = tagger.build(quick)

    def fit(m):
        return _fit(m, tagger, quick, data if data is not None else training_data(quick), seed)

    # quick mode trains the tiny models and never reads or writes a checkpoint (checkpoints.will_train)
    return checkpoints.load_or_train(model, tagger.checkpoint, fit, seed=seed, test=test_spec(quick, tagger.inputs),
                                     metric="auc", tolerance=2e-4, notebook=NOTEBOOK, quick=quick)


def _fit(model, tagger: Tagger, quick: bool, data, seed: int):
    """Train ``model`` on ``data = ((inputs, y), (inputs, y))`` with the benchmark's settings."""
    sizes = _sizes(quick)
    own = not quick                                     # a tagger's own settings (chapter 03's) in full mode
    (inp_tr, y_tr), (inp_va, y_va) = data
    cfg = train.TrainConfig(epochs=tagger.epochs if own and tagger.epochs else sizes["epochs"],
                            lr=tagger.lr * (3 if quick else 1), patience=tagger.patience if own else 4, seed=seed,
                            schedule="cosine")
    batch = tagger.batch if own and tagger.batch else sizes["batch"]
    return train.fit(model, bce_loss, _loader(inp_tr, y_tr, tagger.inputs, True, seed, batch),
                     _loader(inp_va, y_va, tagger.inputs, False), cfg)


def train_tagger(tagger: Tagger, quick: bool, data, seed: int):
    """A fresh network of ``tagger`` trained with training ``seed`` (initial weights and batch order) on
    ``data``; never reads or writes a checkpoint. Returns ``(model in eval mode, History)``."""
    config.seed_everything(seed)
    model = tagger.build(quick)
    history = _fit(model, tagger, quick, data, seed)
    return model.to(config.device()).eval(), history


def run(quick: bool | None = None, out: Path | None = None, names: list[str] | None = None,
        seed: int = 0) -> tuple[list[dict], dict]:
    """Train or load every tagger, evaluate it on the test jets, write ``<out>/ch04_taggers.csv`` and
    ``<out>/ch04_rejection.png``. Full mode writes to ``data/benchmarks/`` and takes the training
    time of a tagger loaded from its checkpoint from the CSV already there (or the committed one);
    quick mode writes to ``_build/bench/``. Returns the rows and the test scores ``{tagger: (y, score)}``."""
    quick = config.QUICK if quick is None else quick
    out = Path(out) if out else (config.BUILD_DIR / "bench" if quick else bench_dir())
    sizes = _sizes(quick)
    config.seed_everything(seed)
    inp_tr, y_tr, jets_tr = constituents.load_inputs("jets-top-qcd", "train", sizes["train"], MAX_PARTICLES)
    inp_va, y_va, _ = constituents.load_inputs("jets-top-qcd", "val", sizes["val"], MAX_PARTICLES)
    inp_te, y_te, jets_te = constituents.load_inputs("jets-top-qcd", "test", sizes["test"], MAX_PARTICLES)
    y_test = y_te.numpy().astype(int)
    known = out / CSV_NAME if (out / CSV_NAME).exists() else bench_dir() / CSV_NAME   # training times of loaded taggers
    previous = {r["tagger"]: r for r in read_csv(known)} if known.exists() and not quick else {}

    rows, test_scores = [], {}
    if names is None or "BDT" in names:
        row, score = _bdt(jets_tr, jets_te, y_test, quick)
        rows.append(row)
        test_scores["BDT"] = (y_test, score)
    if not quick and (names is None or any(n in names for n, _, _ in CHECKPOINT_TAGGERS)):
        for row, (name, score) in _checkpoint_rows(y_test, sizes["test"]):
            rows.append(row)
            test_scores[name] = (y_test, score)
    for tagger in TAGGERS:
        if names is not None and tagger.name not in names:
            continue
        model, history = load_tagger(tagger, quick, ((inp_tr, y_tr), (inp_va, y_va)), seed)
        device = config.device()
        score, rate = scores(model, inp_te, tagger.inputs, device)
        n_par = sum(p.numel() for p in model.parameters() if p.requires_grad)
        if history is not None:
            train_s, epochs = history.seconds, history.epochs_run
        else:
            old = previous.get(tagger.name, {})
            train_s, epochs = old.get("train_s"), old.get("epochs")
        rows.append(_row(tagger.name, tagger.chapter, y_test, score, n_par, train_s, rate, len(y_tr), epochs,
                         device_label(device)))
        test_scores[tagger.name] = (y_test, score)
    if names is not None:                                  # keep the rows of the taggers not run now
        ran = {r["tagger"] for r in rows}
        rows = [r for r in rows] + [r for t, r in previous.items() if t not in ran]
        order = ["BDT"] + [n for n, _, _ in CHECKPOINT_TAGGERS] + [t.name for t in TAGGERS]
        rows.sort(key=lambda r: next((i for i, o in enumerate(order) if r["tagger"].startswith(o)), 99))
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / CSV_NAME)
    _plot(test_scores, out / PLOT_NAME)
    return rows, test_scores


def write_csv(rows: list[dict], path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r[k]) for k in COLUMNS})
    return path


def read_csv(path: Path | None = None) -> list[dict]:
    """The rows of a benchmark CSV (default: the committed ``data/benchmarks/ch04_taggers.csv``),
    with numbers as numbers."""
    path = Path(path) if path else bench_dir() / CSV_NAME
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in ("auc", "auc_std", "rejection_03", "rejection_05", "train_s"):
                r[k] = float(r[k]) if r[k] else None
            for k in ("parameters", "jets_per_s", "n_train", "epochs"):
                r[k] = int(float(r[k])) if r[k] else None
            rows.append(r)
    return rows


def _plot(scores: dict, path: Path) -> None:
    # no matplotlib.use("Agg") here: in a notebook it would switch off the inline figures that follow
    import matplotlib.pyplot as plt

    from .. import plot

    plot.use_style()
    curves = {name: metrics.roc_curve(y, s) for name, (y, s) in scores.items()}
    ax = plot.roc_plot(curves)
    ax.set_ylim(1, None)
    ax.set_title("top vs QCD jets, jets-top-qcd test split")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))   # beside the curves, not on them
    ax.figure.savefig(path, bbox_inches="tight")
    plt.close(ax.figure)


def tagger(name: str) -> Tagger:
    """The :class:`Tagger` of :data:`TAGGERS` or :data:`CH03_TAGGERS` called ``name`` (e.g. ``"EFN"``)."""
    for t in TAGGERS + CH03_TAGGERS:
        if t.name == name:
            return t
    raise KeyError(f"no tagger {name!r}; known: {', '.join(t.name for t in TAGGERS + CH03_TAGGERS)}")


def training_data(quick: bool | None = None):
    """The benchmark's training and validation jets, ``((inputs, y), (inputs, y))``."""
    quick = config.QUICK if quick is None else quick
    sizes = _sizes(quick)
    return tuple(constituents.load_inputs("jets-top-qcd", split, sizes[split], MAX_PARTICLES)[:2]
                 for split in ("train", "val"))


# ---------------------------------------------------------------------------------------------------------
# Several training seeds, particle and detector level: ``hepcourse bench taggers --level ... --seed ...``

SEEDS_CSV_NAME = "ch04_taggers_seeds.csv"
SEED_COLUMNS = ("level", "seed") + COLUMNS
LEVELS = ("particle", "detector")
BDT_NAME = "BDT (m, τ21, τ32, n)"
CHEAP_FIRST = ["BDT", "flat MLP", "TopoDNN-like MLP", "PFN", "EFN", "CNN", "ParT-lite", "Lorentz", "EdgeConv"]
"""The order of a seeds run: by the single-thread training time (11 s … 663 s in the committed table), so that
an interrupted run has finished as many rows as it could."""


def _seed_data(level: str, quick: bool) -> dict:
    """``{split: (inputs, y, jets)}`` of the benchmark at ``level`` (the toy detector on read at detector level)."""
    sizes = _sizes(quick)
    return {split: constituents.load_inputs("jets-top-qcd", split, sizes[split], MAX_PARTICLES,
                                            detector=level == "detector")
            for split in ("train", "val", "test")}


def _image_data(level: str, quick: bool) -> dict:
    """``{split: {"images": (N, 40, 40), "constituents": (N, 60), "y": (N,)}}`` at ``level``: the inputs of the
    chapter 03 taggers as lecture 3.2 makes them (every constituent up to 128, :data:`CH03_TAGGERS`)."""
    from ..data import images, load

    sizes, out = _sizes(quick), {}
    for split in ("train", "val", "test"):
        jets = load("jets-top-qcd", split=split, n=sizes[split], format="numpy", particle_fields=("pt", "eta", "phi"),
                    detector=level == "detector")
        out[split] = {"images": images.jet_images(jets), "constituents": images.constituent_vectors(jets, 20),
                      "y": torch.as_tensor(jets.labels, dtype=torch.float32)}
    return out


def _append_row(row: dict, path: Path) -> None:
    """Append one row to the seeds CSV (header first if the file is new) and flush it to disk."""
    import os

    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SEED_COLUMNS)
        if new:
            w.writeheader()
        w.writerow({k: ("" if row.get(k) is None else row[k]) for k in SEED_COLUMNS})
        f.flush()
        os.fsync(f.fileno())


def read_seeds_csv(path: Path | None = None) -> list[dict]:
    """The rows of a seeds CSV (default: the committed ``data/benchmarks/ch04_taggers_seeds.csv``)."""
    path = Path(path) if path else bench_dir() / SEEDS_CSV_NAME
    rows = read_csv(path)
    for r in rows:
        r["seed"] = int(r["seed"])
    return rows


def run_seeds(levels=("detector",), seeds=(0,), names: list[str] | None = None, quick: bool | None = None,
              out: Path | None = None, log: Callable[[str], None] | None = None) -> list[dict]:
    """Train every tagger once per (level, training seed) and append one row per (level, seed, tagger) to
    ``<out>/ch04_taggers_seeds.csv`` as soon as it is measured; rows already in the file are skipped, so an
    interrupted run continues where it stopped. Order: level by level; within a level, ``seeds`` in turn, each
    an int or a group of ints (e.g. ``[0, (1, 2)]``: every tagger with seed 0, then each tagger with seeds 1
    and 2 before the next tagger), the taggers :data:`CHEAP_FIRST`. Every network is trained afresh (no
    checkpoint is read or written), except at particle level with seed 0 in full mode, where the committed
    checkpoints *are* those trainings (:func:`load_tagger`; their training times from the committed table),
    as are the CNN and TopoDNN-like rows of chapter 03 (lecture 3.2's checkpoints, no training time recorded);
    their other trainings use lecture 3.2's settings (:data:`CH03_TAGGERS`). The data: the same splits as
    :func:`run`; at detector level the jets pass through the toy detector when read and the BDT's features and
    the jet images are recomputed from the detector-level constituents. Returns the rows written now."""
    quick = config.QUICK if quick is None else quick
    out = Path(out) if out else (config.BUILD_DIR / "bench" if quick else bench_dir())
    out.mkdir(parents=True, exist_ok=True)
    path = out / SEEDS_CSV_NAME
    done = {(r["level"], r["seed"], r["tagger"]) for r in read_seeds_csv(path)} if path.exists() else set()
    previous = {r["tagger"]: r for r in read_csv(bench_dir() / CSV_NAME)} if (bench_dir() / CSV_NAME).exists() else {}
    wanted = [n for n in CHEAP_FIRST if names is None or n in names]
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"level {level!r}: one of {', '.join(LEVELS)}")
    jobs = []                                           # (level, seed, tagger name), in the order they run
    for level in levels:
        for group in seeds:
            group = (group,) if isinstance(group, int) else tuple(group)
            jobs += [(level, seed, name) for name in wanted for seed in group]
    jobs = [j for j in jobs if (j[0], j[1], BDT_NAME if j[2] == "BDT" else j[2]) not in done]
    ch03 = [t.name for t in CH03_TAGGERS]
    written, data, image_data = [], {}, {}
    for level, seed, name in jobs:
        committed = level == "particle" and seed == 0 and not quick    # the committed checkpoints' training
        if level not in data:
            data = {level: _seed_data(level, quick)}   # one level in memory at a time
        if name in ch03 and not committed and level not in image_data:
            image_data = {level: _image_data(level, quick)}
        (inp_tr, y_tr, jets_tr), (inp_va, y_va, _), (inp_te, y_te, jets_te) = (data[level][s]
                                                                               for s in ("train", "val", "test"))
        y_test = y_te.numpy().astype(int)
        if log:
            log(f"{level} level, training seed {seed}: {name} ...")
        if name == "BDT":
            row = _bdt(jets_tr, jets_te, y_test, quick, seed)[0]
        elif name in ch03 and committed:
            row = next((r for r, _ in _checkpoint_rows(y_test, _sizes(quick)["test"]) if r["tagger"] == name), None)
            if row is None:                             # no checkpoint for these test jets
                continue
        else:
            t = tagger(name)
            if name in ch03:
                split = {k: (v[t.inputs], v["y"]) for k, v in image_data[level].items()}
                if not np.array_equal(split["test"][1].numpy(), y_test):
                    raise RuntimeError("the chapter 03 inputs are not the benchmark's test jets in the same order")
                pair, inp_te = (split["train"], split["val"]), split["test"][0]
                y_tr = split["train"][1]
            else:
                pair = ((inp_tr, y_tr), (inp_va, y_va))
            if committed:
                model, history = load_tagger(t, quick, pair, seed)
            else:
                model, history = train_tagger(t, quick, pair, seed)
            device = config.device()
            score, rate = scores(model, inp_te, t.inputs, device)
            n_par = sum(p.numel() for p in model.parameters() if p.requires_grad)
            old = previous.get(name, {}) if history is None else {}
            train_s = history.seconds if history is not None else old.get("train_s")
            epochs = history.epochs_run if history is not None else old.get("epochs")
            row = _row(name, t.chapter, y_test, score, n_par, train_s, rate, len(y_tr), epochs, device_label(device))
        row = {"level": level, "seed": seed, **row}
        _append_row(row, path)                          # on disk at once: an interrupted run keeps it
        written.append(row)
        if log:
            log(f"  {row['tagger']}: AUC {row['auc']:.4f}, 1/eB(0.3) {row['rejection_03']}, train {row['train_s']} s")
    return written


def aggregate(rows: list[dict]) -> list[dict]:
    """Mean and spread over training seeds, per (level, tagger), in :data:`LEVELS` order and the order of the
    committed table: ``n`` (rows found), the means of AUC, 1/ε_B at 0.3 and 0.5 and training time, their
    sample standard deviations over seeds (``None`` with one row) and ``auc_stat``, the mean of the rows'
    DeLong errors (the statistical error of one training on these test jets)."""
    order = [BDT_NAME] + [n for n, _, _ in CHECKPOINT_TAGGERS] + [t.name for t in TAGGERS]
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["level"], r["tagger"]), []).append(r)
    out = []
    for (level, name), rs in sorted(groups.items(), key=lambda kv: (LEVELS.index(kv[0][0]),
                                                                     order.index(kv[0][1]) if kv[0][1] in order else 99)):
        agg = {"level": level, "tagger": name, "n": len(rs), "seeds": sorted(r["seed"] for r in rs)}
        for k in ("auc", "rejection_03", "rejection_05", "train_s"):
            v = np.array([r[k] for r in rs if r[k] is not None], dtype=float)
            agg[k] = float(v.mean()) if len(v) else None          # inf: no background jet passes the cut
            agg[k + "_spread"] = float(v.std(ddof=1)) if len(v) > 1 and np.isfinite(v).all() else None
        agg["auc_stat"] = float(np.mean([r["auc_std"] for r in rs]))
        out.append(agg)
    return out


def markdown_table(agg: list[dict]) -> str:
    """The aggregated table as Markdown: mean ± spread over trainings (n of them), the statistical error of one."""
    def pm(a, k, fmt):
        s = a[k + "_spread"]
        return "–" if a[k] is None else (format(a[k], fmt) + ("" if s is None else " ± " + format(s, fmt)))

    lines = ["| level | tagger | n | AUC ± spread | stat. error | 1/ε_B (ε_S = 0.3) | 1/ε_B (ε_S = 0.5) | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for a in agg:
        lines.append(f"| {a['level']} | {a['tagger']} | {a['n']} | {pm(a, 'auc', '.4f')} | {a['auc_stat']:.4f} | "
                     f"{pm(a, 'rejection_03', '.0f')} | {pm(a, 'rejection_05', '.1f')} | "
                     f"{'–' if a['train_s'] is None else format(a['train_s'], '.0f')} |")
    return "\n".join(lines)


def ordering(agg: list[dict], level: str, worse: str, better: str, relation: str = "<", k: float = 2.0) -> dict:
    """Does ``worse`` < ``better`` (``relation="<"``) or ``worse`` ≈ ``better`` (``"≈"``) hold in AUC at ``level``?

    The difference of the mean AUCs over trainings, Δ = AUC(better) − AUC(worse), and its error: for each tagger
    the spread over trainings divided by √n (n ≥ 2) and the statistical error of one training on the test jets
    (DeLong), all in quadrature (the two taggers' statistical errors treated as independent: on the same test
    jets they are correlated, so this error is conservative). With ``n_sigma = Δ / error``: "<" *holds* if
    ``n_sigma > k``, is *reversed* if ``n_sigma < −k``, else *not resolved*; "≈" *holds* if
    ``|n_sigma| ≤ k``, else *does not hold*. Returns ``{"delta", "error", "n_sigma", "n": (n_worse, n_better),
    "verdict"}``."""
    rows = {(a["level"], a["tagger"]): a for a in agg}
    a, b = rows[(level, worse)], rows[(level, better)]
    var = a["auc_stat"] ** 2 + b["auc_stat"] ** 2
    for r in (a, b):
        if r["auc_spread"] is not None:
            var += r["auc_spread"] ** 2 / r["n"]
    delta = b["auc"] - a["auc"]
    n_sigma = delta / np.sqrt(var)
    if relation == "<":
        verdict = "holds" if n_sigma > k else "reversed" if n_sigma < -k else "not resolved"
    elif relation == "≈":
        verdict = "holds" if abs(n_sigma) <= k else "does not hold"
    else:
        raise ValueError(f"relation {relation!r}: '<' or '≈'")
    return {"delta": float(delta), "error": float(np.sqrt(var)), "n_sigma": float(n_sigma), "n": (a["n"], b["n"]),
            "verdict": verdict}
