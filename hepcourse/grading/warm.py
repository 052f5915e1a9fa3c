"""The pre-warmed sandbox: one long-lived process per grading slot, forking one isolated child per submission.

A fresh kernel per submission costs about two seconds of imports (NumPy, SciPy, PyTorch, the course's
package) and a notebook client, which is more than the cells of most assignments take. Here each
grading slot starts **one** bubblewrap sandbox (the same binds, environment and limits as
:func:`hepcourse.grading.sandbox.sandbox_command`) running a *warm parent*: it imports the heavy
modules once, creates an IPython shell, and then, for each submission, forks a child that

1. enters new user, mount, PID and IPC namespaces (``unshare``) nested in the sandbox's: it sees a
   fresh ``/tmp`` and ``/dev/shm``, its own folder as ``/home/student`` (holding only its notebook),
   and an empty read-only ``/jobs`` in place of the folder of submissions; the root file system and
   ``/dev`` are read-only, so nothing a submission writes outlives it;
2. forks the process that runs the notebook as PID 1 of the new PID namespace (every process it
   starts dies with it, and the warm parent is not in its namespace, so it can neither be signalled
   nor traced: the parent is also non-dumpable), drops every capability, sets ``no_new_privs``;
3. sets the limits (address space, CPU seconds, file size) with ``setrlimit``, as the cold runner
   does, and executes the notebook's cells in the shell: outputs, results, errors and display data
   as a Jupyter kernel reports them, output capped per cell, each cell interrupted (``SIGINT``, as
   ``nbclient`` does) at the cell time limit; the wall-clock limit kills the whole namespace.

Each finished cell is appended to ``cells.jsonl`` in the submission's folder, so a process that dies
(``os._exit``, a crash, the CPU limit) keeps the outputs of the cells before, exactly as a dead
kernel does; the grader builds the executed notebook from it (:func:`collect`). Nothing flows back
into the warm parent: each child is a fresh copy of it that never ran student code.

If the nested namespaces cannot be entered (a kernel that forbids nested user namespaces), the warm
parent says so at start (:class:`WarmSandbox` raises :class:`WarmUnavailable`) and the grader uses
the cold sandbox, one ``bwrap`` and one kernel per submission (:func:`~hepcourse.grading.sandbox.run_notebook`).

    python -m hepcourse.grading.warm        (run inside the sandbox by WarmSandbox; a line protocol on stdin/stdout)
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

PREFIX = "HEPCOURSE-WARM "
JOBS = "/jobs"                  # the folder of submissions, as the warm parent sees it
HOME = "/home/student"          # a submission's own folder, as its child sees it
WARM_IMPORTS = ("numpy", "scipy", "scipy.stats", "scipy.optimize", "torch", "torch.nn.functional", "sklearn.metrics",
                "sklearn.linear_model", "sklearn.tree", "matplotlib.pyplot", "vector", "hepcourse",
                "hepcourse.grading.checks", "hepcourse.physics", "hepcourse.losses", "hepcourse.data",
                "hepcourse.train", "hepcourse.metrics")
"""Imported once by the warm parent when the grader names no modules (what the assignments import);
a module that fails to import is skipped."""


def imports_of(nb) -> list[str]:
    """The modules the code cells of notebook ``nb`` import (``import a.b``, ``from a.b import c``), in
    order, with the grading helpers: what a warm parent imports for that assignment, so that it does
    no more work than each fresh kernel would."""
    import ast

    found = ["hepcourse.grading.checks"]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:          # magics, or a student's broken cell
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append(node.module)
    return list(dict.fromkeys(found))

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x8000000, 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 1, 4, 24, 38, 47
CAP_LAST = 63


class WarmUnavailable(RuntimeError):
    """The warm sandbox cannot start here (the grader then runs the cold sandbox)."""


# ----------------------------------------------------------------------------- inside: isolation

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _ok(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(libc, src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _ok(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def enter_namespaces(work: str) -> None:
    """In a fork of the warm parent: new user, mount, PID and IPC namespaces; ``work`` (a folder of
    ``/jobs``) becomes ``/home/student``, ``/jobs`` an empty read-only tmpfs, ``/tmp`` and ``/dev/shm``
    fresh. The next fork is PID 1 of the new PID namespace."""
    libc = _libc()
    uid, gid = os.getuid(), os.getgid()
    _ok(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl dumpable")       # /proc/self/*_map writable
    _ok(libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, work, HOME, None, MS_BIND | MS_REC)
    _mount(libc, "tmpfs", JOBS, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=555")
    for folder in ("/tmp", "/dev/shm"):
        if os.path.isdir(folder):
            # the sandbox's read-only binds below this folder (a course and its .venv under /tmp) must
            # stay visible above the fresh tmpfs: hold them by file descriptor, then bind them back
            kept = {point: (os.open(point, os.O_PATH), os.path.isdir(point)) for point in _mounts_below(folder)}
            _mount(libc, "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
            for point, (fd, is_dir) in kept.items():
                os.makedirs(point if is_dir else os.path.dirname(point), exist_ok=True)
                if not is_dir:
                    open(point, "a").close()                                   # a file is bound onto a file
                _mount(libc, f"/proc/self/fd/{fd}", point, None, MS_BIND | MS_REC)   # keeps its read-only flag
                os.close(fd)
    _ok(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl dumpable")


def _mounts_below(folder: str) -> list[str]:
    """The outermost mount points strictly below ``folder`` (from /proc/self/mountinfo), parents first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])   # \040 is a space
        if point.startswith(folder.rstrip("/") + "/"):
            points.append(point)
    outer = []
    for point in sorted(set(points), key=len):
        if not any(point == o or point.startswith(o + "/") for o in outer):
            outer.append(point)
    return outer


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> None:
    """Drop every capability (bounding, ambient, effective, permitted, inheritable) and set
    ``no_new_privs``: the namespaces' mounts can then no longer be changed or undone."""
    libc = _libc()
    for cap in range(CAP_LAST + 1):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)          # EINVAL past the kernel's last capability
    libc.prctl(PR_CAP_AMBIENT, 4, 0, 0, 0)                  # PR_CAP_AMBIENT_CLEAR_ALL
    _ok(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl no_new_privs")
    _ok(libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    status = Path("/proc/self/status").read_text()
    eff = [ln.split()[1] for ln in status.splitlines() if ln.startswith("CapEff:")]
    if not eff or int(eff[0], 16) != 0:
        raise OSError("capabilities were not dropped")


# ----------------------------------------------------------------------------- inside: executing cells

def _jsonable(value):
    """A display bundle's values as JSON (bytes, e.g. PNG, base64-encoded as Jupyter does)."""
    import base64

    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


class _Cell:
    """The outputs of the running cell, capped at ``cap`` bytes like :class:`~hepcourse.grading.runner.CappedClient`."""

    def __init__(self, cap: int):
        self.cap, self.used, self.outputs = cap, 0, []

    def add(self, output: dict, size: int) -> None:
        from .runner import TRUNCATED

        used, self.used = self.used, self.used + size
        if used >= self.cap:
            return
        if used + size > self.cap:
            if output["output_type"] != "stream":
                return
            output["text"] = output["text"][:max(self.cap - used, 0)] + TRUNCATED.format(kb=self.cap // 1024)
        last = self.outputs[-1] if self.outputs else {}
        if output["output_type"] == "stream" and last.get("output_type") == "stream" and last["name"] == output["name"]:
            last["text"] += output["text"]
            return
        self.outputs.append(_jsonable(output))


class _Stream:
    """``sys.stdout``/``sys.stderr`` of the running cell."""

    def __init__(self, name: str, box: list):
        self.name, self.box = name, box
        self.encoding, self.errors = "utf-8", "replace"

    def write(self, text) -> int:
        text = str(text)
        if text:
            self.box[0].add({"output_type": "stream", "name": self.name, "text": text}, len(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1 if self.name == "stdout" else 2

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False


def make_shell():
    """An IPython shell reporting outputs as a Jupyter kernel does (made once, in the warm parent)."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    box: list = [_Cell(1 << 30)]

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            size = sum(len(str(v)) for v in format_dict.values())
            box[0].add({"output_type": "execute_result", "data": format_dict, "metadata": md_dict or {},
                        "execution_count": self.prompt_count}, size)

        def finish_displayhook(self):
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            size = sum(len(str(v)) for v in data.values())
            box[0].add({"output_type": "display_data", "data": data, "metadata": metadata or {}}, size)

        def clear_output(self, wait=False):
            box[0].outputs.clear()

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype, evalue, stb):
            text = str(evalue)
            box[0].add({"output_type": "error", "ename": getattr(etype, "__name__", str(etype)), "evalue": text,
                        "traceback": list(stb)}, len(text))

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.InteractiveShell.colors = "nocolor"
    shell = Shell.instance(config=cfg)
    shell.hepcourse_box = box
    return shell


def run_cells(shell, nb, record, cell_s: int, output_kb: int) -> dict:
    """Execute the code cells of ``nb`` in ``shell``; each finished cell is written to ``record`` (a file)
    as one JSON line. Returns the total wall and CPU seconds of the cells."""
    from .runner import KERNEL_SETUP

    box = shell.hepcourse_box
    fired = []

    def interrupt(signum, frame):          # the cell time limit: SIGINT, as nbclient interrupts a kernel
        fired.append(True)
        signal.raise_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGALRM, interrupt)
    sys.stdout, sys.stderr = _Stream("stdout", box), _Stream("stderr", box)
    box[0] = _Cell(output_kb * 1024)
    shell.run_cell(KERNEL_SETUP, store_history=False, silent=True)
    wall = cpu = 0.0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        box[0] = _Cell(output_kb * 1024)
        fired.clear()
        count = shell.execution_count
        t0, c0 = time.perf_counter(), time.process_time()
        signal.setitimer(signal.ITIMER_REAL, cell_s)
        try:
            shell.run_cell(cell.source, store_history=True)
        except KeyboardInterrupt:          # interrupted outside the cell's own code
            box[0].add({"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": []}, 0)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        wall, cpu = wall + dt, cpu + dc
        if fired:
            why = f"the cell ran longer than {cell_s} s and was interrupted"
            box[0].add({"output_type": "error", "ename": "CellTimeoutError", "evalue": why,
                        "traceback": [f"CellTimeoutError: {why}"]}, 0)
        record.write(json.dumps({"cell": index, "execution_count": count, "outputs": box[0].outputs,
                                 "wall_s": dt, "cpu_s": dc}) + "\n")
        record.flush()
    record.write(json.dumps({"done": True, "wall_s": wall, "cpu_s": cpu}) + "\n")
    record.flush()
    return {"wall_s": wall, "cpu_s": cpu}


def _reseed() -> None:
    """Fresh random states, as a new kernel has (a fork would inherit the parent's)."""
    import random

    random.seed()
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed()


def _submission(shell, job: dict) -> None:
    """PID 1 of the submission's namespaces: drop privileges, set limits, run the cells; never returns."""
    import nbformat

    from .runner import set_limits

    code = 70
    try:
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        drop_privileges()
        os.chdir(HOME)
        null = os.open(os.devnull, os.O_RDONLY)
        log = os.open("kernel.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 1024)
        set_limits(job["memory_mb"], job["cpu_s"])
        _reseed()
        nb = nbformat.read("submission.ipynb", as_version=4)
        with open("cells.jsonl", "w") as record:
            run_cells(shell, nb, record, job["cell_s"], job["output_kb"])
        code = 0
    except BaseException as err:  # noqa: BLE001  (whatever happens, leave with a status)
        try:
            os.write(2, f"{type(err).__name__}: {err}\n".encode())
        except OSError:
            pass
    os._exit(code)


def _child(shell, job: dict) -> None:
    """The fork of the warm parent for one submission: namespaces, then PID 1 in them; never returns."""
    code = 71
    try:
        enter_namespaces(f"{JOBS}/{job['id']}")
        pid = os.fork()
        if pid == 0:
            _submission(shell, job)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        code = code if code >= 0 else 128 - code
    except BaseException as err:  # noqa: BLE001
        try:
            os.write(2, f"warm child: {type(err).__name__}: {err}\n".encode())
        except OSError:
            pass
    os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    """Exit status of child ``pid`` (as ``waitstatus_to_exitcode``), or None (killed) after ``timeout`` seconds."""
    fd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
    finally:
        os.close(fd)
    if not ready:
        os.kill(pid, signal.SIGKILL)       # its PID 1 follows (PDEATHSIG), and with it the namespace
        os.waitpid(pid, 0)
        return None
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _say(**msg) -> None:
    sys.__stdout__.write(PREFIX + json.dumps(msg) + "\n")
    sys.__stdout__.flush()


def _probe(shell) -> str:
    """'' if a child can enter the namespaces, drop privileges and no longer see other submissions."""
    os.makedirs(f"{JOBS}/.probe", exist_ok=True)
    open(f"{JOBS}/.probe-secret", "w").close()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 72
        try:
            enter_namespaces(f"{JOBS}/.probe")
            inner = os.fork()
            if inner == 0:
                bad = 73
                try:
                    drop_privileges()
                    hidden = not os.listdir(JOBS) and os.getpid() == 1 and not os.listdir(HOME)
                    try:
                        os.kill(parent, 0)             # the warm parent cannot be signalled from here
                        hidden = False
                    except (ProcessLookupError, PermissionError):
                        pass
                    bad = 0 if hidden else 74
                finally:
                    os._exit(bad)
            code = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
        finally:
            os._exit(code)
    status = _wait(pid, 30)
    shutil.rmtree(f"{JOBS}/.probe", ignore_errors=True)
    os.unlink(f"{JOBS}/.probe-secret")
    return "" if status == 0 else f"the isolated child could not start (exit status {status})"


def main() -> int:
    """The warm parent: imports, a shell, a probe of the isolation, then one forked child per request."""
    import importlib
    import warnings

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sys.argv[1:] or WARM_IMPORTS:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001  (an optional module missing: that submission imports it itself)
                pass
    import nbformat

    from . import runner  # noqa: F401  (the limits and the kernel's setup code)

    nbformat.reads(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])), as_version=4)
    shell = make_shell()
    _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    try:
        problem = _probe(shell)
    except OSError as err:
        problem = f"{type(err).__name__}: {err}"
    if problem:
        _say(status="unavailable", reason=problem)
        return 1
    _say(status="ready", seconds=round(time.perf_counter() - t0, 2))
    for line in sys.stdin:
        job = json.loads(line)
        start, before = time.perf_counter(), os.times()
        pid = os.fork()
        if pid == 0:
            _child(shell, job)
        status = _wait(pid, job["wall_s"])
        after = os.times()
        cpu = after.children_user + after.children_system - before.children_user - before.children_system
        own = os.times()
        _say(id=job["id"], exit=status, seconds=time.perf_counter() - start, cpu=cpu, own_cpu=own.user + own.system)
    own = os.times()
    _say(status="bye", cpu=own.user + own.system)       # the warm parent's own CPU time: imports, forks
    return 0


# ----------------------------------------------------------------------------- outside: the grader's side

class WarmSandbox:
    """A warm parent in the sandbox, serving one submission at a time (one per grading slot).

    ``folder`` (the grader's, outside the sandbox) holds ``jobs/<id>/`` for each submission and
    ``warm.log``; ``imports``: the modules to import once (default :data:`WARM_IMPORTS`; the grader
    passes :func:`imports_of` the assignment). Raises :class:`WarmUnavailable` when the sandbox or the isolated child cannot start.
    """

    def __init__(self, folder: Path, start_timeout: float = 300, imports: list[str] | None = None):
        from .sandbox import sandbox_command

        self.folder = Path(folder)
        self.jobs = self.folder / "jobs"
        self.jobs.mkdir(parents=True, exist_ok=True)
        self._buffer = b""
        cmd = sandbox_command(self.jobs, [sys.executable, "-m", "hepcourse.grading.warm", *(imports or [])], warm=True)
        with open(self.folder / "warm.log", "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                         start_new_session=True)
        reply = self._read(start_timeout)
        if not reply or reply.get("status") != "ready":
            self.close()
            why = (reply or {}).get("reason") or "no answer: " + (self.folder / "warm.log").read_text()[-500:]
            raise WarmUnavailable(why)
        self.start_seconds, self.cpu_s = reply["seconds"], 0.0

    def _read(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(PREFIX):
                    return json.loads(text[len(PREFIX):])
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, src: Path, dst: Path, limits) -> "Execution":  # noqa: F821
        """Execute notebook ``src`` into ``dst`` in a fresh isolated child, as
        :func:`~hepcourse.grading.sandbox.run_notebook` does with a fresh sandbox."""
        from .sandbox import Execution

        job = uuid.uuid4().hex
        work = self.jobs / job
        work.mkdir()
        shutil.copyfile(src, work / "submission.ipynb")
        request = {"id": job, "wall_s": limits.wall_s, "cell_s": limits.cell_s, "cpu_s": limits.cpu_s,
                   "memory_mb": limits.memory_mb, "output_kb": limits.output_kb}
        start = time.perf_counter()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as err:
            raise WarmUnavailable(f"the warm sandbox stopped: {err}") from err
        reply = self._read(limits.wall_s + 60)
        if reply is None or reply.get("id") != job:
            self.close()
            raise WarmUnavailable("the warm sandbox did not answer")
        # the warm parent's own CPU time so far: it may be gone before close() asks (bwrap's --die-with-parent
        # stops it when the grading thread that started it ends)
        self.cpu_s = reply.get("own_cpu", self.cpu_s)
        try:
            run = collect(work, dst, reply["exit"], time.perf_counter() - start, limits)
            run.cpu_s = reply.get("cpu", 0.0)
            return run
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def close(self) -> None:
        """Stop the warm parent; its own CPU time (imports, forks) is then in ``cpu_s`` (as of its last
        answer, if it had already stopped)."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                bye = self._read(30)
                self.cpu_s = (bye or {}).get("cpu", self.cpu_s)
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def collect(work: Path, dst: Path, exit_status: int | None, seconds: float, limits) -> "Execution":  # noqa: F821
    """Build the executed notebook ``dst`` from ``work/submission.ipynb`` and the cells recorded in
    ``work/cells.jsonl``, and say how the run ended (the statuses of the cold runner)."""
    import nbformat

    from .sandbox import Execution

    if exit_status is None:
        return Execution("timeout", f"the notebook ran longer than {limits.wall_s} s and was stopped", seconds)
    records, done = {}, None
    path = work / "cells.jsonl"
    if path.exists():
        with open(path) as lines:
            for line in lines:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("done"):
                    done = rec
                elif isinstance(rec.get("cell"), int):
                    records[rec["cell"]] = rec
    if done is None and not records:
        tail = (work / "kernel.log").read_text(errors="replace")[-300:] if (work / "kernel.log").exists() else ""
        return Execution("killed" if exit_status else "error",
                         f"the run was killed (exit {exit_status}, memory or CPU limit?): {tail}", seconds)
    nb = nbformat.read(work / "submission.ipynb", as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            rec = records.get(index, {})
            cell.outputs = [nbformat.from_dict(o) for o in rec.get("outputs", [])]
            cell.execution_count = rec.get("execution_count")
    cells_wall = sum(r.get("wall_s", 0.0) for r in records.values())
    cells_cpu = sum(r.get("cpu_s", 0.0) for r in records.values())
    if done is None:
        nb.metadata["hepcourse_grading"] = {"kernel_died": f"exit status {exit_status}"}
    nbformat.write(nb, dst)
    if done is None:
        return Execution("kernel-died", "the kernel died (os._exit, a crash, or the memory limit); later cells did not run",
                         seconds, cells_wall, cells_cpu)
    return Execution("ok", "", seconds, cells_wall, cells_cpu)


if __name__ == "__main__":
    sys.exit(main())
