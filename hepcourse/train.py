"""The one training loop of the course, and load-or-train for lecture models.

Every network in the course is trained by :func:`fit`: mini-batch gradient descent with Adam
(optionally with a cosine learning-rate schedule), the loss evaluated on a validation set after
each epoch, early stopping when it has not improved for ``patience`` epochs, and the weights of
the best epoch restored at the end.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from tqdm import tqdm

from . import config

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

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        for start in range(0, self.n, self.batch_size):
            idx = order[start:start + self.batch_size]
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
    total, count = 0.0, 0
    for batch in loader:
        batch = to_device(batch, device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model, batch)
        if train:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        total += float(loss.detach())
        count += 1
    if count == 0:
        raise ValueError("the data loader yielded no batches")
    return total / count


def fit(model: torch.nn.Module, loss_fn: LossFn, train_loader: Iterable,
        val_loader: Iterable | None = None, cfg: TrainConfig | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        device: torch.device | None = None) -> History:
    """Train ``model`` in place and return its :class:`History`.

    With a ``val_loader``, the weights of the epoch with the lowest validation loss are restored
    at the end (unless ``cfg.restore_best`` is false) and training stops after ``cfg.patience``
    epochs without improvement. Without one, the training loss plays that role. The model stays on ``device`` (default ``config.device()``).
    """
    cfg = cfg or TrainConfig()
    device = device or config.device()
    if cfg.seed is not None:
        config.seed_everything(cfg.seed)
    model.to(device)
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    amp = cfg.amp and device.type == "cuda"
    if cfg.schedule not in (None, "cosine"):
        raise ValueError(f"schedule must be None or 'cosine', got {cfg.schedule!r}")
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
                 if cfg.schedule == "cosine" else None)

    history = History()
    best_loss, best_state, bad_epochs = float("inf"), None, 0
    start = time.perf_counter()
    bar = tqdm(range(cfg.epochs), desc="epochs", unit="epoch", disable=not _show_progress(cfg),
               ascii=True, leave=True)
    for epoch in bar:
        model.train()
        train_loss = _mean_loss(model, loss_fn, train_loader, device, amp, True, optimizer, cfg.grad_clip)
        history.train_loss.append(train_loss)
        monitored = train_loss
        if val_loader is not None:
            model.eval()
            with torch.no_grad():
                monitored = _mean_loss(model, loss_fn, val_loader, device, amp, False)
            history.val_loss.append(monitored)
        bar.set_postfix(train=f"{train_loss:.4g}", val=f"{monitored:.4g}" if val_loader else "-")
        if scheduler is not None:
            scheduler.step()

        if monitored < best_loss - cfg.min_delta:
            best_loss, bad_epochs, history.best_epoch = monitored, 0, epoch
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad_epochs += 1
            if cfg.patience is not None and bad_epochs >= cfg.patience:
                history.stopped_early = True
                break
    bar.close()
    if best_state is not None and cfg.restore_best:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


def load_or_train(model: torch.nn.Module, checkpoint: str | Path,
                  train: Callable[[torch.nn.Module], object]) -> tuple[torch.nn.Module, object]:
    """Load ``model``'s weights from ``checkpoint`` if it exists, else call ``train(model)`` and save.

    Full mode on the website loads the committed checkpoints (fast ``make book``); quick mode
    (``HEPCOURSE_QUICK=1``) and ``HEPCOURSE_RETRAIN=1`` always train and never overwrite a
    committed checkpoint in quick mode. Returns ``(model, result of train or None)``.
    """
    path = Path(checkpoint)
    if path.exists() and not (config.QUICK or config.RETRAIN):
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        model.to(config.device()).eval()
        return model, None
    result = train(model)
    if not config.QUICK:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, path)
    return model, result
