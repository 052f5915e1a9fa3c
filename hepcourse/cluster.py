"""Past one machine: grading a class and generating data sets on a ``dask.distributed`` cluster.

Both jobs are many independent tasks whose results one process collects:

* **grading** (``hepcourse grade autograde ASSIGNMENT --scheduler ADDRESS``): each submission's
  sandboxed run (:func:`execute_notebook`: the notebook in, the executed notebook and how the run
  ended out) is a task on a worker, in the worker's own sandbox (warm, as locally, or cold); the
  grading process keeps the nbgrader side, sanitising before and recording after, so it stays the
  one writer to the gradebook;
* **data generation** (``hepcourse data make NAME --scheduler ADDRESS``): each chunk is a task
  (:func:`generate_chunk_bytes`) with the seed it has locally (from the base seed, the data set,
  the process and the chunk), returned as the bytes of its chunk file, which the submitting
  process writes under the chunk's final name; finished chunks are skipped, so a run resumes, and
  the merged file is the same array by array as a local run with any number of workers.

``ADDRESS`` is a scheduler's address (``tcp://host:8786``), or ``$HEPCOURSE_SCHEDULER``; without
either everything stays local. The workers need the same course environment (``pip install
-e ".[cluster]"`` from the same commit) and, for grading, bubblewrap. The course's own test starts a
``distributed.LocalCluster`` of two worker processes (``tests/test_cluster.py``).
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
from pathlib import Path

SCHEDULER_VARIABLE = "HEPCOURSE_SCHEDULER"


def scheduler_address(address: str | None = None) -> str | None:
    """``address``, else ``$HEPCOURSE_SCHEDULER``, else None (run locally)."""
    return address or os.environ.get(SCHEDULER_VARIABLE) or None


def connect(address):
    """A ``distributed.Client`` of ``address`` (a ``Client`` is returned as it is)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ImportError("running on a dask cluster needs `distributed`: pip install -e \".[cluster]\"") from err
    if isinstance(address, Client):
        return address
    return Client(address)


def as_completed(futures):
    """``distributed.as_completed``: the futures in the order they finish."""
    from distributed import as_completed as completed

    return completed(futures)


# ----------------------------------------------------------------------------- grading

_SLOTS = {}
_LOCK = threading.Lock()


def _worker_slots(jobs: int, imports: list[str]):
    """This worker process's warm sandboxes for the modules ``imports`` (started on first use, closed
    when the worker exits)."""
    from .grading.grader import WarmSlots

    key = tuple(imports)
    with _LOCK:
        if key not in _SLOTS:
            folder = Path(tempfile.mkdtemp(prefix="hepcourse-warm-"))
            _SLOTS[key] = WarmSlots(folder, jobs, imports)
            atexit.register(_SLOTS[key].close)
        return _SLOTS[key]


def execute_notebook(notebook: str, limits, sandbox: bool = True, warm: bool | None = None):
    """A worker's task: run ``notebook`` (the text of the sanitised notebook with the grader's
    markers) in this machine's sandbox with ``limits``; returns (the executed notebook's text or
    None, the :class:`~hepcourse.grading.sandbox.Execution`)."""
    from .grading.sandbox import check_sandbox, run_notebook

    if sandbox:
        check_sandbox()
    with tempfile.TemporaryDirectory(prefix="hepcourse-job-") as tmp:
        src, dst = Path(tmp) / "input.ipynb", Path(tmp) / "raw.ipynb"
        src.write_text(notebook)
        if sandbox and warm is not False:
            try:
                from distributed import get_worker

                jobs = get_worker().state.nthreads
            except (ImportError, ValueError, AttributeError):
                jobs = 1
            import nbformat

            from .grading.warm import imports_of

            execution = _worker_slots(jobs, imports_of(nbformat.reads(notebook, as_version=4))).run(src, dst, limits)
        else:
            execution = run_notebook(src, dst, limits, sandbox=sandbox)
        return (dst.read_text() if dst.exists() else None), execution


# ----------------------------------------------------------------------------- data generation

def generate_chunk_bytes(name: str, p: int, k: int, n: int, seed: int, spec=None) -> tuple[bytes, dict]:
    """A worker's task: generate chunk ``k`` of process ``p`` (``n`` jets or events, the chunk's own
    ``seed``) into a file on the worker; returns its bytes and stats."""
    from .data.generate import _run_chunk

    with tempfile.TemporaryDirectory(prefix="hepcourse-chunk-") as tmp:
        path = Path(tmp) / "chunk.root"
        stats = _run_chunk(name, p, k, n, seed, str(path), spec)
        return path.read_bytes(), stats


def write_chunk_bytes(path: Path, data: bytes) -> None:
    """Write a chunk returned by a worker under its final name, atomically (as ``io.write_chunk``)."""
    from .data.io import _tmp

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)
