"""Execute one notebook; the program that runs *inside* the grading sandbox.

    python -m hepcourse.grading.runner IN.ipynb OUT.ipynb --cell-timeout S --memory-mb M --cpu-s C --output-kb K

Limits are set with ``setrlimit`` before the kernel starts, so the kernel inherits them: address
space (memory), CPU seconds, and the size of any file written. Outputs are capped while they
arrive, so a notebook that prints gigabytes cannot exhaust the grader's memory. The wall-clock
limit is enforced from outside (the parent kills the whole sandbox). ``resource`` exists only on
POSIX systems: on Windows (``hepcourse check`` of a learner) the notebook runs without these limits.
"""

from __future__ import annotations

import argparse
import sys

try:
    import resource
except ImportError:  # Windows: no setrlimit
    resource = None

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

TRUNCATED = "\n[output truncated by the grader: more than {kb} kB]\n"

# Run in the kernel before the notebook (and removed from the graded copy): memory the kernel
# gives back when a cell raises MemoryError, so that it can report the error and run the cells
# after it (see hepcourse.grading.checks.hold_memory_reserve).
MEMORY_RESERVE_MB = 256
KERNEL_SETUP = ("from hepcourse.grading.checks import hold_memory_reserve as _hold\n"
                f"_hold({MEMORY_RESERVE_MB})\n"
                "del _hold")


class CappedClient(NotebookClient):
    """A NotebookClient that keeps at most ``cap_bytes`` of stream/text output per cell."""

    def __init__(self, nb, cap_bytes: int, **kw):
        super().__init__(nb, **kw)
        self.cap_bytes = cap_bytes
        self._seen: dict[int, int] = {}

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._seen.get(cell_index, 0)
        self._seen[cell_index] = used + size
        if used >= self.cap_bytes:
            return None
        if used + size > self.cap_bytes and msg["msg_type"] == "stream":
            keep = max(self.cap_bytes - used, 0)
            content["text"] = content["text"][:keep] + TRUNCATED.format(kb=self.cap_bytes // 1024)
        elif used + size > self.cap_bytes:
            return None
        return super().output(outs, msg, display_id, cell_index)


def set_limits(memory_mb: int, cpu_s: int, file_mb: int = 256) -> list[str]:
    """Limit this process and its children (the kernel): address space, CPU time, size of a
    written file. Returns the limits the operating system accepted: none on Windows (no
    ``resource``); macOS may refuse the address-space limit, which it does not enforce anyway."""
    if resource is None:
        return []
    applied = []
    for name, value in (("RLIMIT_AS", memory_mb * 1024 * 1024), ("RLIMIT_CPU", cpu_s),
                        ("RLIMIT_FSIZE", file_mb * 1024 * 1024)):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            applied.append(name)
        except (ValueError, OSError, AttributeError):
            continue
    return applied


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--cell-timeout", type=int, default=30)
    p.add_argument("--memory-mb", type=int, default=4096)
    p.add_argument("--cpu-s", type=int, default=600)
    p.add_argument("--output-kb", type=int, default=64)
    args = p.parse_args(argv)

    set_limits(args.memory_mb, args.cpu_s)

    nb = nbformat.read(args.src, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(KERNEL_SETUP))
    client = CappedClient(nb, cap_bytes=args.output_kb * 1024, timeout=args.cell_timeout, allow_errors=True,
                          kernel_name="python3", startup_timeout=120, record_timing=False,
                          interrupt_on_timeout=True, resources={"metadata": {"path": "."}},
                          error_on_timeout={"ename": "CellTimeoutError",
                                            "evalue": f"the cell ran longer than {args.cell_timeout} s and was interrupted",
                                            "traceback": [f"CellTimeoutError: the cell ran longer than {args.cell_timeout} s"]})
    status = 0
    try:
        client.execute()
    except DeadKernelError as err:
        nb.metadata["hepcourse_grading"] = {"kernel_died": str(err)[:500]}
        status = 3
    nb.cells.pop(0)
    if resource is not None:            # what this run cost: the runner and its (waited) kernel
        own, kernel = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        nb.metadata.setdefault("hepcourse_grading", {})["cpu_s"] = round(
            own.ru_utime + own.ru_stime + kernel.ru_utime + kernel.ru_stime, 3)
    nbformat.write(nb, args.dst)
    return status


if __name__ == "__main__":
    sys.exit(main())
