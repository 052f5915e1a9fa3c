"""Run a notebook in a sandbox: bubblewrap, fresh folder, resource limits, no network.

What the sandbox does (``bwrap`` from Debian's ``bubblewrap``):

* a new user (nobody), PID, IPC, UTS and network namespace: no network at all (only its own
  loopback, which the kernel's ZeroMQ sockets need), no signals to processes outside;
* a file system built from read-only binds of the operating system (``/usr``, ``/etc``), the
  Python installation, the ``hepcourse`` package and the course's public data sets (``data/``, which
  assignments read through ``hepcourse.data.load``), plus one writable folder holding a fresh copy
  of the one notebook being graded; the course folder, its ``solutions/`` (hidden tests), the
  gradebook and other students' files are not in it at all;
* limits: wall clock (the parent kills the sandbox), CPU seconds, address space (memory), size of
  written files, and the output kept per cell (see :mod:`hepcourse.grading.runner`).

Without ``bwrap`` (a learner checking their own notebook) the same runner runs unsandboxed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import hepcourse
from hepcourse import config


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission."""

    wall_s: int = 180          # whole notebook, kernel start included
    cell_s: int = 30           # one cell (then the kernel is interrupted and the next cell runs)
    cpu_s: int = 300
    memory_mb: int = 4096      # address space of each process (kernel, runner)
    output_kb: int = 64        # output kept per cell


@dataclass
class Execution:
    """How running one notebook ended."""

    status: str                # "ok", "timeout", "killed", "kernel-died", "error"
    reason: str = ""
    seconds: float = 0.0


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _ro_binds() -> list[str]:
    # the course's data sets (data/) are read by assignments through hepcourse.data.load; _config.yml marks
    # the course folder for hepcourse.config.course_root (HEPCOURSE_ROOT below)
    paths = {"/usr", "/etc", sys.base_prefix, sys.prefix, str(Path(hepcourse.__file__).resolve().parent),
             str(config.DATA_DIR.resolve()), str(config.ROOT.resolve() / "_config.yml")}
    args = []
    for p in sorted(paths):
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")):
        if os.path.islink(link):
            args += ["--symlink", target, link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    return args


def sandbox_command(workdir: Path, argv: list[str]) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` with ``workdir`` as its only writable folder."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap); "
                           "grading untrusted submissions without a sandbox is unsafe")
    home = "/home/student"
    env = {"HOME": home, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.mpl", "IPYTHONDIR": f"{home}/.ipython",
           "JUPYTER_RUNTIME_DIR": f"{home}/.runtime", "JUPYTER_DATA_DIR": f"{home}/.jupyter",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "HEPCOURSE_QUICK": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "NBGRADER_EXECUTION": "autograde",
           # import the hepcourse this grader runs (a git worktree, or PYTHONPATH), not the one an
           # editable install points to, which is not mounted; only the package folder is bound there
           "PYTHONPATH": str(Path(hepcourse.__file__).resolve().parent.parent),
           "HEPCOURSE_ROOT": str(config.ROOT.resolve())}
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534",
           "--die-with-parent", "--new-session", "--clearenv"]
    for k, v in env.items():
        cmd += ["--setenv", k, v]
    # /tmp first: later mounts cover earlier ones, and the course (its .venv) may live under /tmp
    cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    cmd += _ro_binds()
    cmd += ["--bind", str(workdir), home, "--chdir", home]
    return cmd + argv


def run_notebook(src: Path, dst: Path, limits: Limits = Limits(), sandbox: bool = True) -> Execution:
    """Execute notebook ``src`` into ``dst`` (outputs filled in), in a sandbox unless told otherwise.

    ``src`` is copied into a fresh folder beside ``dst``; whatever the notebook writes stays there.
    """
    import time

    work = Path(dst).parent / (Path(dst).stem + ".run")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copyfile(src, work / "submission.ipynb")
    argv = [sys.executable, "-m", "hepcourse.grading.runner", "submission.ipynb", "executed.ipynb",
            "--cell-timeout", str(limits.cell_s), "--memory-mb", str(limits.memory_mb),
            "--cpu-s", str(limits.cpu_s), "--output-kb", str(limits.output_kb)]
    if sandbox:
        cmd, cwd, env = sandbox_command(work, argv), None, None
    else:
        cmd, cwd = argv, work
        env = {**os.environ, "MPLBACKEND": "Agg", "NBGRADER_EXECUTION": "autograde"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=limits.wall_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        timed_out = True
    seconds = time.perf_counter() - start
    tail = (log or b"").decode(errors="replace")[-2000:]
    executed = work / "executed.ipynb"
    if timed_out:
        return Execution("timeout", f"the notebook ran longer than {limits.wall_s} s and was stopped", seconds)
    if not executed.exists():
        if proc.returncode and proc.returncode < 0 or "MemoryError" in tail:
            return Execution("killed", f"the run was killed (signal {-proc.returncode}, memory or CPU limit?): {tail[-300:]}", seconds)
        return Execution("error", f"the notebook could not be run (exit {proc.returncode}): {tail[-500:]}", seconds)
    shutil.move(executed, dst)
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode == 3:
        return Execution("kernel-died", "the kernel died (os._exit, a crash, or the memory limit); later cells did not run", seconds)
    return Execution("ok", "", seconds)
