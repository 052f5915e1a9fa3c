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

Without ``bwrap`` (a learner checking their own notebook) the same runner runs unsandboxed, with
the same environment (:func:`grading_environment`: quick mode, one thread, the CPU) and, where the
operating system has them, the same limits; only the isolation is missing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import hepcourse
from hepcourse import config

from .errors import SandboxUnavailable, SecretsExposed

BWRAP_HELP = (
    "bubblewrap needs unprivileged user namespaces. On Debian/Ubuntu: `apt-get install bubblewrap`; "
    "on Ubuntu 24.04 AppArmor blocks them for unconfined programs: "
    "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0` (or an AppArmor profile for bwrap); "
    "on older kernels `sudo sysctl kernel.unprivileged_userns_clone=1`; inside a container (Docker, "
    "Kubernetes) the runtime's seccomp/AppArmor profile must allow unshare and mount (grade on the "
    "host or in a VM if it cannot). `hepcourse grade doctor` checks this.")


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission: the one place where grading's limits are set.

    ``cell_s`` is wall-clock time: the slowest graded cells train a small network (assignments 02
    and 03 state CPU-time limits of 15 to 25 s for them, measured inside the test, which a busy
    machine does not count against the learner). 90 s leaves that room on a grading machine
    that runs two submissions per core, and bounds what an endless loop costs; ``wall_s`` is
    four such cells. ``hepcourse grade autograde --wall-s/--cell-s`` (``make grade WALL_S= CELL_S=``)
    change the two time limits for one run.
    """

    wall_s: int = 360          # whole notebook, kernel start included
    cell_s: int = 90           # one cell (then the kernel is interrupted and the next cell runs)
    cpu_s: int = 300
    memory_mb: int = 4096      # address space of each process (kernel, runner)
    output_kb: int = 64        # output kept per cell


@dataclass
class Execution:
    """How running one notebook ended."""

    status: str                # "ok", "timeout", "killed", "kernel-died", "error"
    reason: str = ""
    seconds: float = 0.0
    cells_s: float = 0.0       # wall time of the cells themselves (the warm sandbox measures it)
    cells_cpu_s: float = 0.0   # their CPU time
    cpu_s: float = 0.0         # CPU time of the whole sandboxed run (runner or child, and the kernel)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def visible_paths() -> list[Path]:
    """The folders bound read-only into the sandbox: the operating system, Python, the ``hepcourse``
    package and the course's data sets (``data/``, read by assignments through ``hepcourse.data.load``),
    and the course's ``_config.yml``, which marks the course folder for :func:`hepcourse.config.course_root`
    (``HEPCOURSE_ROOT`` in the sandbox's environment)."""
    paths = {"/usr", "/etc", sys.base_prefix, sys.prefix, str(Path(hepcourse.__file__).resolve().parent),
             str(config.DATA_DIR.resolve()), str(config.ROOT.resolve() / "_config.yml")}
    return [Path(p) for p in sorted(paths) if os.path.exists(p)]


def exposed(secrets: dict[str, Path]) -> list[str]:
    """Which of ``secrets`` (what → path: hidden tests, gradebook, submissions) student code could
    read inside the sandbox, because they lie inside one of :func:`visible_paths`."""
    found = []
    for what, path in secrets.items():
        real = Path(path).resolve()
        for seen in visible_paths():
            if real == seen.resolve() or seen.resolve() in real.parents:
                found.append(f"{what} ({real}): inside {seen}, which the sandbox shows read-only")
                break
    return found


def check_not_exposed(secrets: dict[str, Path]) -> None:
    """Raise :class:`SecretsExposed` if any of ``secrets`` would be visible to student code."""
    found = exposed(secrets)
    if found:
        raise SecretsExposed("; ".join(found) + ". Move the course checkout (or HEPCOURSE_GRADING_DIR, or "
                             "the private solutions) outside /usr, /etc and the Python installation")


def _ro_binds() -> list[str]:
    args = []
    for p in map(str, visible_paths()):
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    for link, target in (("/bin", "usr/bin"), ("/sbin", "usr/sbin"), ("/lib", "usr/lib"), ("/lib64", "usr/lib64")):
        if os.path.islink(link):
            args += ["--symlink", target, link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    return args


def grading_environment() -> dict[str, str]:
    """The variables every graded notebook runs with, in the sandbox and in ``hepcourse check``
    alike: quick mode, one thread, the CPU (the sandbox has no GPU device), no interactive plots."""
    return {"HEPCOURSE_QUICK": "1", "HEPCOURSE_DEVICE": "cpu", "CUDA_VISIBLE_DEVICES": "",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "NBGRADER_EXECUTION": "autograde"}


def sandbox_command(workdir: Path, argv: list[str], warm: bool = False) -> list[str]:
    """The ``bwrap`` command line that runs ``argv`` with ``workdir`` as its only writable folder.

    ``warm``: the sandbox of a warm parent (:mod:`hepcourse.grading.warm`): ``workdir`` (a folder
    of submissions) is bound at ``/jobs``, ``/home/student`` is an empty tmpfs, and the root and
    ``/dev`` are read-only, so nothing written there can reach the next submission."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap); "
                                 "grading untrusted submissions without a sandbox is unsafe")
    home = "/home/student"
    env = {"HOME": home, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLCONFIGDIR": f"{home}/.mpl", "IPYTHONDIR": f"{home}/.ipython",
           "JUPYTER_RUNTIME_DIR": f"{home}/.runtime", "JUPYTER_DATA_DIR": f"{home}/.jupyter",
           **grading_environment(),
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
    if warm:
        cmd += ["--bind", str(workdir), "/jobs", "--tmpfs", home, "--chdir", home,
                "--remount-ro", "/dev", "--remount-ro", "/"]
    else:
        cmd += ["--bind", str(workdir), home, "--chdir", home]
    return cmd + argv


@lru_cache(maxsize=None)
def _start_sandbox(bwrap: str) -> str:
    """'' if ``bwrap`` can start this course's sandbox, else its error output (cached per process)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="hepcourse-bwrap-") as tmp:
        try:
            proc = subprocess.run(sandbox_command(Path(tmp), [sys.executable, "-c", "print('sandbox ok')"]),
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"{type(err).__name__}: {err}"
    if proc.returncode == 0 and "sandbox ok" in proc.stdout:
        return ""
    return (proc.stderr or proc.stdout).strip()[-500:] or f"exit status {proc.returncode}"


def check_sandbox() -> None:
    """Raise :class:`SandboxUnavailable`, saying what to fix, unless a sandbox starts here.

    Called before a class is graded: a blocked bubblewrap would otherwise give every student zero.
    """
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable("sandboxed grading needs bubblewrap, which is not installed "
                                 "(Debian/Ubuntu: apt-get install bubblewrap). " + BWRAP_HELP)
    error = _start_sandbox(bwrap)
    if error:
        raise SandboxUnavailable(f"bubblewrap ({bwrap}) cannot start the grading sandbox on this machine: "
                                 f"{error}\n{BWRAP_HELP}")


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and everything it started (its process group; on Windows the process)."""
    if hasattr(os, "killpg"):
        os.killpg(proc.pid, signal.SIGKILL)
    else:  # pragma: no cover  (Windows)
        proc.kill()


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
        env = {**os.environ, **grading_environment()}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=limits.wall_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
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
    cpu = _cpu_of(dst)
    if proc.returncode == 3:
        return Execution("kernel-died", "the kernel died (os._exit, a crash, or the memory limit); later cells did not run",
                         seconds, cpu_s=cpu)
    return Execution("ok", "", seconds, cpu_s=cpu)


def _cpu_of(executed: Path) -> float:
    """The CPU seconds the runner recorded in the executed notebook (its own and its kernel's): the
    sandbox's processes are not children this process can account for."""
    import json

    try:
        return float(json.loads(Path(executed).read_text())["metadata"].get("hepcourse_grading", {}).get("cpu_s", 0.0))
    except (ValueError, KeyError, TypeError, OSError):
        return 0.0
