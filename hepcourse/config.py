"""Run-time switches, paths, the compute device and seeding.

Environment variables (read when this module is imported):

* ``HEPCOURSE_QUICK=1``   quick mode: small data, few epochs, loose asserts (CI, ``make test``);
* ``HEPCOURSE_RETRAIN=1`` full mode always trains instead of loading committed checkpoints;
* ``HEPCOURSE_DEVICE``    force a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``);
* ``HEPCOURSE_NJOBS``     threads for libraries with their own thread pools (read by :func:`n_jobs`);
* ``HEPCOURSE_PROGRESS=0`` no training progress bars (set by the website build; read by ``train.fit``).
* ``HEPCOURSE_NO_PYTHIA=1`` behave as if pythia8mc were not installed (read by ``hepcourse.data.generate``;
  the tests use it to run the lectures' fallback to stored jets on Linux).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


QUICK: bool = _flag("HEPCOURSE_QUICK")
RETRAIN: bool = _flag("HEPCOURSE_RETRAIN")

ROOT: Path = Path(__file__).resolve().parent.parent
"""The repository root (the folder holding ``hepcourse/``)."""
DATA_DIR: Path = ROOT / "data"
CHECKPOINT_DIR: Path = DATA_DIR / "checkpoints"
BUILD_DIR: Path = ROOT / "_build"


def quick(quick_value, full_value):
    """Return ``quick_value`` in quick mode and ``full_value`` otherwise.

    The one idiom notebooks use for sizes: ``n_events = quick(5_000, 200_000)``.
    """
    return quick_value if QUICK else full_value


def device():
    """The torch device to compute on.

    ``HEPCOURSE_DEVICE`` wins when set; otherwise CUDA, then Apple's MPS, then the CPU.
    """
    import torch

    forced = os.environ.get("HEPCOURSE_DEVICE", "").strip()
    if forced:
        dev = torch.device(forced)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"HEPCOURSE_DEVICE={forced} but PyTorch sees no CUDA device; "
                               "unset HEPCOURSE_DEVICE to run on the CPU.")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def n_jobs() -> int:
    """Threads for libraries with their own thread pools (XGBoost ``n_jobs``, scikit-learn's OpenMP).

    ``HEPCOURSE_NJOBS`` wins when set; otherwise 1 when ``OMP_NUM_THREADS=1`` (the test suite's
    parallel workers), else min(2, available cores). The cap at 2 is deliberate: the course's models
    are small, and on a machine shared with other jobs, OpenMP threads that wait for each other can
    make more threads several times slower. Read at each call, so it follows the environment.
    """
    forced = os.environ.get("HEPCOURSE_NJOBS", "").strip()
    if forced:
        try:
            value = int(forced)
        except ValueError:
            value = 0
        if value < 1:
            raise ValueError(f"HEPCOURSE_NJOBS={forced!r}: expected a positive whole number of threads")
        return value
    if os.environ.get("OMP_NUM_THREADS", "").strip() == "1":
        return 1
    return min(2, _available_cpus())


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch, and return a fresh ``numpy.random.Generator(seed)``.

    Results are reproducible on one machine and device; across devices (CPU vs GPU) floating
    point sums differ in the last bits, so trained numbers agree only within tolerances.
    """
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # the package's numpy parts work without torch
        pass
    else:
        torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)
