"""Run-time switches, paths, the compute device and seeding.

Environment variables (read when this module is imported):

* ``HEPCOURSE_QUICK=1``   quick mode: small data, few epochs, loose asserts (CI, ``make test``);
* ``HEPCOURSE_RETRAIN=1`` full mode always trains instead of loading committed checkpoints;
* ``HEPCOURSE_DEVICE``    force a torch device (``cpu``, ``cuda``, ``cuda:1``, ``mps``);
* ``HEPCOURSE_NJOBS``     threads for libraries with their own thread pools (read by :func:`n_jobs`);
* ``HEPCOURSE_PROGRESS=0`` no training progress bars (set by the website build; read by ``train.fit``);
* ``HEPCOURSE_NO_PYTHIA=1`` behave as if pythia8mc were not installed (read by ``hepcourse.data.generate``;
  the tests use it to run the lectures' fallback to stored jets on Linux);
* ``HEPCOURSE_ROOT``     the course folder (the one holding ``_config.yml``, ``data/``, ``lectures/``), read
  when a path below is first used.

Paths: :data:`ROOT` is the course folder, :data:`DATA_DIR` its ``data/``, :data:`CHECKPOINT_DIR`
``data/checkpoints/`` and :data:`BUILD_DIR` ``_build/``. They are found on first use (:func:`course_root`),
so that the package's models, losses and metrics import anywhere, also outside a course checkout.
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



class CourseRootNotFound(FileNotFoundError):
    """No course folder: ``HEPCOURSE_ROOT`` is unset and no folder above the package or the working
    directory holds ``_config.yml``."""


_ROOT: Path | None = None


def _search_upwards(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file():
            return folder
    return None


def course_root() -> Path:
    """The course folder: ``HEPCOURSE_ROOT`` when set; else the first folder above the installed package
    that holds the book's ``_config.yml`` (a clone with ``pip install -e`` or a ``.venv`` inside it); else
    the first such folder above the working directory. Found once, then cached.

    Raises :class:`CourseRootNotFound` with what to do when there is none.
    """
    global _ROOT
    if _ROOT is not None:
        return _ROOT
    forced = os.environ.get("HEPCOURSE_ROOT", "").strip()
    if forced:
        root = Path(forced).expanduser().resolve()
        if not (root / "_config.yml").is_file():
            raise CourseRootNotFound(f"HEPCOURSE_ROOT={forced} has no _config.yml: point it at the course folder "
                                     "(the clone of the course repository)")
    else:
        root = _search_upwards(Path(__file__).resolve().parent) or _search_upwards(Path.cwd().resolve())
        if root is None:
            raise CourseRootNotFound(
                "cannot find the course folder (the one with _config.yml, data/ and lectures/): neither the "
                f"installed package ({Path(__file__).resolve().parent}) nor the working directory ({Path.cwd()}) "
                "lies inside it. Run from inside the course clone, or set HEPCOURSE_ROOT=/path/to/the/course.")
    _ROOT = root
    return root


def _path(name: str) -> Path:
    """A path attribute: set explicitly (``config.DATA_DIR = ...``, as tests do) or derived."""
    return globals()[name] if name in globals() else _PATHS[name]()


_PATHS = {"ROOT": course_root, "DATA_DIR": lambda: _path("ROOT") / "data",
          "CHECKPOINT_DIR": lambda: _path("DATA_DIR") / "checkpoints", "BUILD_DIR": lambda: _path("ROOT") / "_build"}


def __getattr__(name: str):
    """``config.ROOT``, ``DATA_DIR``, ``CHECKPOINT_DIR``, ``BUILD_DIR``: computed on first use (each from the one
    above it, so that setting ``config.ROOT`` in a test moves the others too)."""
    if name in _PATHS:
        return _PATHS[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def quick(quick_value, full_value):
    """Return ``quick_value`` in quick mode and ``full_value`` otherwise.

    The one idiom notebooks use for sizes: ``n_events = quick(5_000, 200_000)``.
    """
    return quick_value if QUICK else full_value


def device():
    """The torch device to compute on.

    ``HEPCOURSE_DEVICE`` wins when set; otherwise CUDA, then Apple's MPS, then the CPU. In a process started by
    ``torchrun`` (``LOCAL_RANK`` set), CUDA means the GPU of that number, ``cuda:LOCAL_RANK``: one GPU per process.
    """
    import torch

    local_rank = os.environ.get("LOCAL_RANK", "").strip()
    forced = os.environ.get("HEPCOURSE_DEVICE", "").strip()
    if forced:
        dev = torch.device(forced)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"HEPCOURSE_DEVICE={forced} but PyTorch sees no CUDA device; "
                               "unset HEPCOURSE_DEVICE to run on the CPU.")
        if dev.type == "cuda" and dev.index is None and local_rank:
            return torch.device("cuda", int(local_rank))
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda", int(local_rank)) if local_rank else torch.device("cuda")
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
