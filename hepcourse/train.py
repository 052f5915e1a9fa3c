"""The one training loop of the course, and the one way to evaluate a network on data.

Every network in the course is trained by :func:`fit`: mini-batch gradient descent with Adam
(optionally with a cosine learning-rate schedule), the loss evaluated on a validation set after
each epoch, early stopping when it has not improved for ``patience`` epochs, and the weights of
the best epoch restored at the end. :func:`predict` evaluates a trained network on any number of
events (batched, on the compute device, without gradients) and returns NumPy.

Whether a lecture model is trained or loaded from its committed checkpoint is decided in one place,
:func:`hepcourse.checkpoints.load_or_train`.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from . import config, distributed

LossFn = Callable[[torch.nn.Module, object], torch.Tensor]
"""``loss_fn(model, batch) -> scalar tensor``: the batch is already on the model's device."""


@dataclass
class TrainConfig:
    """Hyperparameters of :func:`fit` (one dataclass, one place)."""

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 5          # epochs without validation improvement; None = never stop early
    min_delta: float = 0.0            # improvement smaller than this does not count
    grad_clip: float | None = None    # max global gradient norm
    amp: bool = False                 # mixed precision (bfloat16 autocast), used on CUDA only
    seed: int | None = 0              # None: do not reseed
    progress: bool | None = None      # None: a progress bar unless running in CI
    schedule: str | None = None       # "cosine": lr decays as ½(1 + cos(π e/epochs)) from lr to 0 over the epochs
    restore_best: bool = True         # False: keep the weights of the last epoch (e.g. to show overtraining)


@dataclass
class History:
    """What :func:`fit` returns: per-epoch mean losses and what happened."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1              # index into the lists, of the weights that were restored
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.train_loss)

    def summary(self) -> str:
        """One line for a notebook: epochs, time, and the monitored loss (validation, else training) after the
        first and the last epoch and at its best."""
        losses = self.val_loss or self.train_loss
        which = "validation" if self.val_loss else "training"
        return (f"trained {self.epochs_run} epochs in {self.seconds:.1f} s{' (stopped early)' * self.stopped_early}; "
                f"{which} loss {losses[0]:.4f} after the first epoch, {losses[-1]:.4f} after the last, "
                f"{losses[self.best_epoch]:.4f} at best (epoch {self.best_epoch + 1})")


class TensorLoader:
    """Mini-batches of in-memory arrays, reshuffled every epoch: a light ``DataLoader``.

    ``TensorLoader(x, y, batch_size=256)`` yields tuples ``(x[idx], y[idx])`` of tensors (NumPy
    arrays are converted, floating point to float32, integers to int64), one index slice per batch
    instead of one call per event, which makes it several times faster than a ``DataLoader`` over a
    ``TensorDataset`` for the small networks of the course. The order is drawn from a generator
    seeded with ``seed``, so a training run is reproducible; the last batch may be smaller.
    """

    def __init__(self, *arrays, batch_size: int = 256, shuffle: bool = True, seed: int = 0):
        if not arrays:
            raise ValueError("TensorLoader needs at least one array")
        self.tensors = tuple(self._as_tensor(a) for a in arrays)
        n = len(self.tensors[0])
        if any(len(t) != n for t in self.tensors):
            raise ValueError(f"arrays differ in length: {[len(t) for t in self.tensors]}")
        self.n, self.batch_size, self.shuffle = n, int(batch_size), shuffle
        self.generator = torch.Generator().manual_seed(seed)

    @staticmethod
    def _as_tensor(a) -> torch.Tensor:
        t = torch.as_tensor(a)
        return t.float() if t.is_floating_point() else t.long() if t.dtype != torch.bool else t

    def __len__(self) -> int:
        return (self.n + self.batch_size - 1) // self.batch_size

    def index_order(self) -> torch.Tensor:
        """The order of the events in the next epoch (a new permutation at each call when shuffling)."""
        return torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)

    def batch_indices(self, order: torch.Tensor):
        """The indices of each batch of one epoch in ``order``."""
        for start in range(0, self.n, self.batch_size):
            yield order[start:start + self.batch_size]

    def __iter__(self):
        for idx in self.batch_indices(self.index_order()):
            yield tuple(t[idx] for t in self.tensors)


def to_device(batch, device: torch.device):
    """Move a tensor, or a tuple/list/dict of tensors, to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _show_progress(cfg: TrainConfig) -> bool:
    """A progress bar unless told otherwise: ``cfg.progress``, then ``HEPCOURSE_PROGRESS=0`` (set by the
    website build: a static page would show every update of the bar), then ``CI``."""
    if cfg.progress is not None:
        return cfg.progress
    if os.environ.get("HEPCOURSE_PROGRESS", "").strip().lower() in {"0", "false", "no", "off"}:
        return False
    return os.environ.get("CI", "").lower() not in {"1", "true", "yes"}


def _mean_loss(model, loss_fn: LossFn, loader: Iterable, device, amp: bool, train: bool,
               optimizer=None, grad_clip=None) -> float:
    """Mean of the batch losses of one pass over ``loader``. The sum stays on the device: one
    transfer to the host per epoch, not one per batch (which would make the GPU wait every step)."""
    total, count = torch.zeros((), dtype=torch.float64, device=device), 0
    for batch in loader:
        batch = to_device(batch, device)
        if train and isinstance(optimizer, torch.optim.LBFGS):
            def closure():                        # L-BFGS re-evaluates the loss in its line search
                optimizer.zero_grad(set_to_none=True)
                value = loss_fn(model, batch)
                value.backward()
                return value
            optimizer.step(closure)
            with torch.no_grad():
                loss = loss_fn(model, batch)      # the loss where the step ended
        else:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                loss = loss_fn(model, batch)
        if train and not isinstance(optimizer, torch.optim.LBFGS):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        total += loss.detach()
        count += 1
    if count == 0:
        raise ValueError("the data loader yielded no batches")
    return float(distributed.all_reduce_mean(total / count))   # the mean over the processes (one: itself)


def fit(model: torch.nn.Module, loss_fn: LossFn, train_loader: Iterable,
        val_loader: Iterable | None = None, cfg: TrainConfig | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        device: torch.device | None = None) -> History:
    """Train ``model`` in place and return its :class:`History`.

    With a ``val_loader``, the weights of the epoch with the lowest validation loss are restored
    at the end (unless ``cfg.restore_best`` is false) and training stops after ``cfg.patience``
    epochs without improvement. Without one, the training loss plays that role. The model stays on ``device`` (default ``config.device()``).

    Under ``torchrun`` with several processes the same call trains data-parallel (:mod:`hepcourse.distributed`):
    the model in ``DistributedDataParallel``, each process on its part of every batch, the losses and the
    early-stopping decision shared, progress shown by process 0; the loss function may call the model's other
    methods (``model.kl()``) through the wrapper. With one process nothing changes.

    ``optimizer=torch.optim.LBFGS(...)`` trains a small model to convergence the way a fit is minimised
    (quasi-Newton with a line search, e.g. ``line_search_fn="strong_wolfe"``): each batch is one
    ``optimizer.step(closure)`` of up to ``max_iter`` iterations that re-evaluates the loss on that batch.
    L-BFGS needs a deterministic loss, so give it the whole training set as one batch (full batch); an
    epoch is then one such step, and the recorded training loss is the loss where it ended.
    """
    cfg = cfg or TrainConfig()
    device = device or config.device()
    distributed.init(device)                      # under torchrun: join the process group (else nothing)
    if cfg.seed is not None:
        config.seed_everything(cfg.seed)
    model.to(device)
    net = distributed.wrap(model, device)         # DistributedDataParallel with several processes, else model
    train_loader, val_loader = distributed.shard(train_loader), distributed.shard(val_loader)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if isinstance(optimizer, torch.optim.LBFGS) and hasattr(train_loader, "__len__") and len(train_loader) != 1:
        raise ValueError(f"L-BFGS needs the full training set as one batch, got {len(train_loader)} batches")
    amp = cfg.amp and device.type == "cuda"
    if cfg.schedule not in (None, "cosine"):
        raise ValueError(f"schedule must be None or 'cosine', got {cfg.schedule!r}")
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
                 if cfg.schedule == "cosine" else None)

    history = History()
    best_loss, best_state, bad_epochs = float("inf"), None, 0
    start = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc="epochs", unit="epoch", disable=not (_show_progress(cfg) and distributed.is_main()),
               ascii=True, leave=True)
    for epoch in bar:
        net.train()
        train_loss = _mean_loss(net, loss_fn, train_loader, device, amp, True, optimizer, cfg.grad_clip)
        history.train_loss.append(train_loss)
        monitored = train_loss
        if val_loader is not None:
            net.eval()
            with torch.no_grad():
                monitored = _mean_loss(net, loss_fn, val_loader, device, amp, False)
            history.val_loss.append(monitored)
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{monitored:.4g}" if val_loader else "-")
        if scheduler is not None:
            scheduler.step()

        improved = monitored < best_loss - cfg.min_delta
        stop = not improved and cfg.patience is not None and bad_epochs + 1 >= cfg.patience
        improved, stop = distributed.any_rank(improved, stop, device=device)   # all processes decide alike
        if improved:
            best_loss, bad_epochs, history.best_epoch = monitored, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if stop:
                history.stopped_early = True
                break
    bar.close()
    if best_state is not None and cfg.restore_best:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


def _inputs(x) -> tuple:
    """The model's positional inputs: one array, a tuple of arrays, or an object with ``tensors()``
    (:class:`hepcourse.data.constituents.ConstituentInputs`)."""
    if hasattr(x, "tensors"):
        return tuple(x.tensors())
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _rng_state(device: torch.device):
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return torch.get_rng_state()


def _set_rng_state(device: torch.device, state) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)
    else:
        torch.set_rng_state(state)


@torch.no_grad()
def predict(model: torch.nn.Module, x, batch_size: int = 4096, device: torch.device | None = None,
            n_samples: int | None = None) -> np.ndarray:
    """``model``'s output on ``x`` as a NumPy array: in batches of ``batch_size`` events, on ``device``
    (default :func:`hepcourse.config.device`, where the model is moved), in eval mode, without gradients.

    ``x`` is an array or tensor (N, ...); a tuple ``(x, p4, mask)`` for models called as ``model(*x)``; or a
    :class:`~hepcourse.data.constituents.ConstituentInputs`. Floating-point inputs take the dtype of the
    model's parameters (NumPy float64 → float32). The outputs of the batches are joined along the model's
    batch axis, ``model.batch_axis`` (0, or 1 for an :class:`~hepcourse.models.Ensemble`'s (K, N, n_out)).

    ``n_samples``: for a stochastic network (a :class:`~hepcourse.models.BayesianMLP`, which draws its
    weights at every call), stack ``n_samples`` passes: (n_samples, N, ...). Each pass uses one draw of
    the weights for all batches (the random state is rewound before each batch), so each sample is one
    function of x, and the result does not depend on ``batch_size``. Seed torch first for reproducible draws.
    """
    device = device or config.device()
    model = model.to(device).eval()
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32

    def as_tensor(a) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a)
        return t.to(dtype) if t.is_floating_point() else t

    inputs = tuple(as_tensor(a) for a in _inputs(x))
    n = len(inputs[0])
    axis = getattr(model, "batch_axis", 0)
    batches = [tuple(t[i:i + batch_size] for t in inputs) for i in range(0, n, batch_size)]

    def one_pass(rewind: bool) -> torch.Tensor:
        state = _rng_state(device) if rewind else None
        outs = []
        for k, batch in enumerate(batches):
            if rewind and k:
                _set_rng_state(device, state)                # the same weight draw for every batch
            outs.append(model(*(t.to(device, non_blocking=True) for t in batch)))
        return torch.cat(outs, dim=axis)

    if n_samples is None:
        return one_pass(False).cpu().numpy()
    return torch.stack([one_pass(True) for _ in range(n_samples)]).cpu().numpy()
