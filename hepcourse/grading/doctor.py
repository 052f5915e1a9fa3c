"""``hepcourse grade doctor``: is this machine ready to grade a class?

Run it once on the grading machine (a laptop, a server, the hub) before the first deadline, and
after any change to it. Every check is done for real, the way grading does it:

* bubblewrap is installed and starts the course's sandbox (unprivileged user namespaces);
* inside a sandbox, through the same notebook runner as grading: the network is closed (neither
  the internet nor this machine's loopback), the hidden tests, the gradebook and the submissions
  are not visible, the memory, CPU and per-cell time limits apply; the wall-clock limit stops a
  notebook that runs too long;
* the gradebook is writable and outside ``_build/``; the hidden tests are in the source notebooks
  and in no release; no secret lies under a folder the sandbox shows (``/usr``, ``/etc``, Python);
* the Jupyter kernel grading starts (``python3``) exists.

Each finding says what to fix. :func:`diagnose` returns them; the command prints them and exits
with 1 when one failed.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .course import (LEGACY_GRADING_DIR, RELEASE_DIR, assignments, grading_dir, instructor_course,
                     release_notebook)
from .sandbox import BWRAP_HELP, Limits, _start_sandbox, bwrap_path, exposed, run_notebook, visible_paths

HIDDEN_MARK = "BEGIN HIDDEN TESTS"


@dataclass
class Finding:
    """One check: ``status`` is ok, warn or FAIL."""

    status: str
    what: str
    fix: str = ""


class LoopbackListener:
    """A TCP server on this machine's loopback that records whoever connects: a sandbox must not
    reach it (used here and by the robustness tests)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, addr = self.sock.accept()
                self.connections.append(addr)
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def _probe_notebook(port: int, secrets: dict[str, Path], limits: Limits) -> nbformat.NotebookNode:
    """The notebook run in the sandbox: each cell prints what it found, one line per check."""
    over = limits.memory_mb + 512
    cells = [
        "import socket\nreached = []\n"
        f"for host, port in [('1.1.1.1', 53), ('pypi.org', 443), ('127.0.0.1', {port})]:\n"
        "    try:\n        socket.create_connection((host, port), timeout=3).close()\n        reached.append(f'{host}:{port}')\n"
        "    except OSError:\n        pass\nprint('NETWORK', reached)",
        "import os\n"
        f"secrets = {({k: str(v) for k, v in secrets.items()})!r}\n"
        "print('VISIBLE', [f'{k} ({v})' for k, v in secrets.items() if os.path.exists(v)])",
        f"try:\n    block = bytearray({over} * 1024 * 1024)\n    print('MEMORY allocated {over} MB')\n"
        f"except MemoryError:\n    print('MEMORY refused {over} MB')",
        "import resource\nprint('CPU', resource.getrlimit(resource.RLIMIT_CPU)[0])",
        "import os\nprint('USER', os.getuid())",
        f"import time\ntime.sleep({limits.cell_s + 5})\nprint('SLEPT')",
        "print('AFTER-TIMEOUT')",
    ]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells],
                                    metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})


def _outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text", "") if out.get("output_type") == "stream"
                        else f"{out.get('ename', '')}: {out.get('evalue', '')}\n")
    return "".join(text)


def _line(text: str, key: str) -> str:
    return next((ln[len(key) + 1:] for ln in text.splitlines() if ln.startswith(key + " ")), "")


def _sandbox_findings(secrets: dict[str, Path]) -> list[Finding]:
    """Run the probe notebook in a sandbox with short limits and read what it saw."""
    limits = Limits(wall_s=120, cell_s=3, cpu_s=100, memory_mb=1024)
    listener = LoopbackListener()
    with tempfile.TemporaryDirectory(prefix="hepcourse-doctor-") as tmp:
        src, dst = Path(tmp) / "probe.ipynb", Path(tmp) / "done.ipynb"
        nbformat.write(_probe_notebook(listener.port, secrets, limits), src)
        try:
            run = run_notebook(src, dst, limits, sandbox=True)
        finally:
            listener.close()
        if not dst.exists():
            return [Finding("FAIL", f"a notebook could not be run in the sandbox: {run.reason}",
                            "see the message; `hepcourse check --sandbox` on a notebook shows the same")]
        text = _outputs(nbformat.read(dst, as_version=4))
    net, visible = _line(text, "NETWORK"), _line(text, "VISIBLE")
    findings = [
        Finding("ok", "network closed inside the sandbox (the internet and this machine's loopback unreachable)")
        if net == "[]" and not listener.connections else
        Finding("FAIL", f"the sandbox reached the network: {net or 'the loopback of this machine'}",
                "bubblewrap must run with --unshare-all (a private network namespace)"),
        Finding("ok", "the hidden tests, the gradebook and the submissions are invisible inside the sandbox")
        if visible == "[]" else
        Finding("FAIL", f"visible inside the sandbox: {visible}", "move them out of the folders the sandbox shows"),
        Finding("ok", f"memory limit applies (allocating {limits.memory_mb + 512} MB fails at {limits.memory_mb} MB)")
        if "MEMORY refused" in text else Finding("FAIL", f"memory limit not applied: {_line(text, 'MEMORY') or text[-200:]}"),
        Finding("ok", f"CPU-time limit applies ({_line(text, 'CPU')} s)") if _line(text, "CPU") == str(limits.cpu_s)
        else Finding("FAIL", f"CPU-time limit not applied: {_line(text, 'CPU') or 'no answer'}"),
        Finding("ok", f"the per-cell time limit interrupts a cell ({limits.cell_s} s) and grading goes on")
        if ("CellTimeoutError" in text or "KeyboardInterrupt" in text) and "AFTER-TIMEOUT" in text
        and "SLEPT" not in text else
        Finding("FAIL", "the per-cell time limit did not interrupt a sleeping cell"),
        Finding("ok", "student code runs as an unprivileged user (nobody)") if _line(text, "USER") == "65534"
        else Finding("warn", f"student code runs as uid {_line(text, 'USER')}, not nobody"),
    ]
    return findings


def _wall_clock_finding() -> Finding:
    """A notebook that sleeps past the wall-clock limit is stopped, and grading says so."""
    limits = Limits(wall_s=10, cell_s=60)
    with tempfile.TemporaryDirectory(prefix="hepcourse-doctor-") as tmp:
        src = Path(tmp) / "sleep.ipynb"
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ntime.sleep(50)")]), src)
        run = run_notebook(src, Path(tmp) / "done.ipynb", limits, sandbox=True)
    if run.status == "timeout" and run.seconds < limits.wall_s + 10:
        return Finding("ok", f"the wall-clock limit stops a notebook ({limits.wall_s} s: stopped after {run.seconds:.0f} s)")
    return Finding("FAIL", f"the wall-clock limit did not stop a notebook: {run.status} after {run.seconds:.0f} s")


def _bwrap_findings() -> list[Finding]:
    bwrap = bwrap_path()
    if bwrap is None:
        return [Finding("FAIL", "bubblewrap (bwrap) is not installed or not on PATH",
                        "apt-get install bubblewrap (Debian/Ubuntu), dnf install bubblewrap (Fedora)")]
    _start_sandbox.cache_clear()
    error = _start_sandbox(bwrap)
    if error:
        return [Finding("FAIL", f"bubblewrap ({bwrap}) cannot start the grading sandbox: {error}", BWRAP_HELP)]
    return [Finding("ok", f"bubblewrap starts the sandbox ({bwrap})")]


def _gradebook_finding(db: Path) -> Finding:
    """The gradebook (or its folder) can be written, and lives where `make clean` never reaches."""
    where = db if db.exists() else db.parent
    if db.exists():
        try:
            con = sqlite3.connect(db, timeout=5)
            con.execute("BEGIN IMMEDIATE")
            con.rollback()
            con.close()
        except sqlite3.Error as err:
            return Finding("FAIL", f"the gradebook {db} cannot be written: {err}", "check its owner and permissions")
    else:
        probe = next((p for p in [where, *where.parents] if p.exists()), None)
        if probe is None or not os.access(probe, os.W_OK):
            return Finding("FAIL", f"the gradebook's folder {where} cannot be created", "check permissions, "
                           "or set HEPCOURSE_GRADING_DIR to a writable folder")
    build = Path(LEGACY_GRADING_DIR).parent.resolve()
    if build in db.resolve().parents:
        return Finding("warn", f"the gradebook {db} is under {build}, which `make clean` deletes",
                       "set HEPCOURSE_GRADING_DIR (or NBGRADER_DB) to a folder outside _build/")
    return Finding("ok", f"the gradebook is writable: {db}{'' if db.exists() else ' (created at the first grading)'}")


def _hidden_test_findings(source: Path | None) -> list[Finding]:
    src_dir = Path(source) if source else None
    findings, missing = [], []
    for a in assignments():
        nb = (src_dir or Path(instructor_course().CourseDirectory.root) / "solutions") / a / f"{a}.ipynb"
        if not nb.exists() or HIDDEN_MARK not in nb.read_text(encoding="utf-8"):
            missing.append(a)
        if release_notebook(a).exists() and HIDDEN_MARK in release_notebook(a).read_text(encoding="utf-8"):
            findings.append(Finding("FAIL", f"the release {release_notebook(a)} contains hidden tests",
                                    "regenerate it: make release FORCE=1"))
    where = src_dir or "solutions/"
    findings.append(Finding("FAIL", f"no hidden tests found for {', '.join(missing)} in {where}",
                            "pass --solutions <folder of the private source notebooks>") if missing else
                    Finding("ok", f"hidden tests in the source notebooks of {len(assignments())} assignments "
                                  f"({where}) and in none of the releases ({RELEASE_DIR.name}/)"))
    if source is None:
        findings.append(Finding("warn", "the hidden tests are those of the public repository's solutions/, "
                                        "which students can read", "for a graded class, grade with --solutions "
                                                                   "<private copy> (instructor guide: keeping the hidden tests private)"))
    return findings


def _kernel_finding() -> Finding:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        return Finding("FAIL", "no Jupyter kernel named python3, which grading starts",
                       "python -m ipykernel install --sys-prefix")
    import sys

    exe = sys.executable if spec.argv[0] in {"python", "python3", "{python}"} else spec.argv[0]
    return Finding("ok", f"the kernel grading starts, python3, is installed (it runs {exe})")


def diagnose(source: Path | None = None, sandbox_probe: bool = True) -> list[Finding]:
    """Every check, in order; ``source``: the private solutions folder grading will use."""
    cfg = instructor_course(source)
    db = Path(cfg.CourseDirectory.db_url.removeprefix("sqlite:///"))
    root = Path(cfg.CourseDirectory.root)
    src = Path(source) if source else root / "solutions"
    secrets = {"the hidden tests": src, "the gradebook": db, "the grading folder": grading_dir()}
    findings = _bwrap_findings()
    if sandbox_probe and findings[-1].status == "ok":
        findings += _sandbox_findings(secrets) + [_wall_clock_finding()]
    leaks = exposed(secrets)
    findings.append(Finding("FAIL", "; ".join(leaks), "move the checkout (or HEPCOURSE_GRADING_DIR, --solutions) "
                            "outside " + ", ".join(map(str, visible_paths())))
                    if leaks else Finding("ok", f"nothing secret under the folders the sandbox shows ({root} is not under "
                                                "/usr, /etc or the Python installation)"))
    findings.append(_gradebook_finding(db))
    if (LEGACY_GRADING_DIR / "gradebook.db").exists() and LEGACY_GRADING_DIR.resolve() != grading_dir():
        findings.append(Finding("warn", f"an old gradebook is in {LEGACY_GRADING_DIR} (version 0.3.0's place)",
                                f"mv {LEGACY_GRADING_DIR} {grading_dir()}  (see the CHANGELOG's upgrade notes)"))
    findings += _hidden_test_findings(source)
    findings.append(_kernel_finding())
    return findings


def report(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"  {f.status:<5} {f.what}")
        if f.fix and f.status != "ok":
            lines.append(f"        fix: {f.fix}")
    failed = sum(f.status == "FAIL" for f in findings)
    lines.append(f"\n{failed} problem{'s' if failed != 1 else ''} to fix before grading a class." if failed
                 else "\nReady to grade.")
    return "\n".join(lines)
