"""Training on several processes (GPUs or CPU cores) with ``torchrun``: data-parallel :func:`hepcourse.train.fit`.

``torchrun --nproc_per_node=4 script.py`` starts four copies of a script that calls ``train.fit`` (each copy with
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` in its environment). ``fit`` then, with no change to the script:

* joins the process group (:func:`init`: NCCL on CUDA, gloo on the CPU) on the device of its ``LOCAL_RANK``
  (:func:`hepcourse.config.device` returns ``cuda:LOCAL_RANK``);
* wraps the model in :class:`DataParallel`, PyTorch's ``DistributedDataParallel`` (Li et al. 2020): every process
  holds the same weights, computes the gradient of its part of each mini-batch, and the gradients are averaged
  (all-reduce) before every optimiser step, so all processes take the same step;
* gives each process its part of every global batch (:func:`shard`): process r of W takes the events r, r + W,
  r + 2W, … of the batch the one-process loop would take, which is what ``DistributedSampler`` does with a
  batch size of B/W. The mean of the W partial gradients is then the gradient of the global batch of B events
  (exactly so when W divides B; the last, smaller batch is filled up with events from the start, as
  ``DistributedSampler`` does, so that every process takes the same number of steps);
* averages each epoch's losses over the processes, and takes the early-stopping decision from those averages
  (one all-reduce), so that all processes stop at the same epoch and restore the same weights;
* shows its progress bar on process 0 only; :func:`hepcourse.checkpoints.load_or_train` writes checkpoints and
  ``data/MANIFEST`` entries on process 0 only (:func:`is_main`).

A loss function receives the :class:`DataParallel` wrapper and may call any method of the model through it —
``model.log_prob(x)``, ``model.kl()``, ``model.l2()`` — each call runs through the wrapper's forward, where the
gradient averaging is set up. :func:`unwrap` returns the model itself. In one process nothing of this happens:
``fit`` trains the model as it always did.
"""

from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["launched", "world_size", "rank", "local_rank", "is_main", "init", "barrier", "all_reduce_mean",
           "any_rank", "DataParallel", "wrap", "unwrap", "shard", "ShardedLoader"]


def launched() -> bool:
    """True in a process that ``torchrun`` (or another launcher setting ``WORLD_SIZE``) started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """The number of processes that train together (1 without a process group)."""
    return dist.get_world_size() if _active() else 1


def rank() -> int:
    """This process's number, 0 … world_size − 1 (0 without a process group)."""
    return dist.get_rank() if _active() else 0


def local_rank() -> int:
    """This process's number on its machine (``LOCAL_RANK``, set by ``torchrun``; 0 otherwise): its GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """True in the process that writes files and shows progress (rank 0), and in a single process."""
    return rank() == 0


def init(device: torch.device | None = None) -> bool:
    """Join the process group when launched by ``torchrun`` with ``WORLD_SIZE`` > 1 and not joined yet:
    NCCL for a CUDA ``device``, gloo otherwise; the address, rank and size come from the environment.
    Returns True when a process group of several processes is active. Does nothing in a single process."""
    if _active():
        return True
    if not launched() or not dist.is_available():
        return False
    if not dist.is_initialized():
        if device is not None and device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device is not None and device.type == "cuda" else "gloo")
        atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    return _active()


def barrier() -> None:
    """Wait until every process arrives here (nothing in a single process)."""
    if _active():
        dist.barrier()


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over the processes (the same tensor on every process); ``value`` itself alone."""
    if not _active():
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / dist.get_world_size()


def any_rank(*flags: bool, device: torch.device | None = None) -> tuple[bool, ...]:
    """Each flag, true if it is true on any process (one all-reduce for all of them)."""
    if not _active():
        return tuple(bool(f) for f in flags)
    t = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


class _Dispatch(nn.Module):
    """Holds the model and calls its method ``name``: DDP's forward runs every call, whatever the method."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, name: str, *args, **kwargs):
        return self.inner(*args, **kwargs) if name == "forward" else getattr(self.inner, name)(*args, **kwargs)


class DataParallel(DistributedDataParallel):
    """``DistributedDataParallel`` through which every method of the model can be called.

    ``net(x)`` is the model's forward; ``net.log_prob(x)``, ``net.kl()``, ``net.loss(x)`` call the model's methods,
    each through DDP's forward (which prepares the averaging of the gradients that the next ``backward`` makes);
    any other attribute (``net.cfg``) is the model's. Several such calls before one ``backward`` are fine: each
    parameter's gradient is complete, and averaged once, when ``backward`` has summed all its contributions.
    """

    def __init__(self, model: nn.Module, device: torch.device, **kwargs):
        super().__init__(_Dispatch(model), device_ids=[device.index] if device.type == "cuda" else None, **kwargs)

    def forward(self, *args, **kwargs):
        return super().forward("forward", *args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)                  # DDP's own attributes, its submodule "module"
        except AttributeError:
            pass
        inner = super().__getattr__("module").inner
        attr = getattr(inner, name)
        if name.startswith("_") or not callable(attr) or isinstance(attr, nn.Module):
            return attr

        def through_ddp(*args, **kwargs):
            return DistributedDataParallel.forward(self, name, *args, **kwargs)

        through_ddp.__name__ = name
        return through_ddp


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in a :class:`DataParallel` when several processes train together, else ``model`` itself."""
    return DataParallel(model, device) if _active() else model


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a :class:`DataParallel` (or a plain ``DistributedDataParallel``); any other model itself."""
    if isinstance(model, DataParallel):
        return model.module.inner
    return model.module if isinstance(model, DistributedDataParallel) else model


class ShardedLoader:
    """This process's part of every batch of ``loader`` (see the module's docstring).

    A :class:`hepcourse.train.TensorLoader` is split batch by batch: the same order of events on every process
    (its generator has the same seed everywhere), process r takes the events r, r + W, … of each batch. A
    ``torch.utils.data.DataLoader`` is rebuilt around a ``DistributedSampler`` with batch size B/W (W must divide
    B), and told each new epoch (``set_epoch``). Anything else cannot be split and raises ``TypeError``.
    """

    def __init__(self, loader, rank_: int, world: int):
        from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

        from .train import TensorLoader

        self.loader, self.rank, self.world, self.epoch = loader, rank_, world, 0
        if isinstance(loader, TensorLoader):
            self.kind = "tensors"
        elif isinstance(loader, DataLoader):
            if loader.batch_size is None or loader.batch_size % world:
                raise ValueError(f"the DataLoader's batch size {loader.batch_size} must be a multiple of the "
                                 f"number of processes {world}: each takes an equal part of every batch")
            self.sampler = DistributedSampler(loader.dataset, num_replicas=world, rank=rank_,
                                              shuffle=isinstance(loader.sampler, RandomSampler), drop_last=False)
            self.loader = DataLoader(loader.dataset, batch_size=loader.batch_size // world, sampler=self.sampler,
                                     num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                                     pin_memory=loader.pin_memory, drop_last=loader.drop_last)
            self.kind = "dataloader"
        else:
            raise TypeError(f"with {world} processes, fit splits a hepcourse.train.TensorLoader or a "
                            f"torch.utils.data.DataLoader among them; got a {type(loader).__name__}")

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        if self.kind == "dataloader":
            self.sampler.set_epoch(self.epoch)
            self.epoch += 1
            yield from self.loader
            return
        order = self.loader.index_order()
        for idx in self.loader.batch_indices(order):
            short = -len(idx) % self.world                       # fill the last batch up to a multiple of W
            if short:
                idx = torch.cat([idx, order[:short]])
            yield tuple(t[idx[self.rank::self.world]] for t in self.loader.tensors)


def shard(loader, device: torch.device | None = None):
    """``loader`` split among the processes (a :class:`ShardedLoader`), or ``loader`` itself in one process."""
    if loader is None or not _active():
        return loader
    return ShardedLoader(loader, rank(), world_size())
