"""The warm sandbox (hepcourse.grading.warm): one warm parent forks an isolated child per submission.

Each guarantee of the cold sandbox is checked on a child: it sees only its own folder (not the
other submissions, not the warm parent's), cannot signal or trace the warm parent, holds no
capability, and leaves nothing behind for the next submission (files in /tmp, /dev/shm or its
folder, background processes, changed modules); the time limits interrupt a cell and stop a
notebook, and a child that dies keeps the outputs of the cells before, as a dead kernel does.
The grades it gives are checked against the expected ones by tests/test_assignments.py and
tests/test_robustness.py (every assignment is graded warm) and against the cold sandbox by
tests/test_cluster.py. Also: `hepcourse bench grading --assignment ch01` takes the chapter.
"""

import os

import nbformat
import pytest

from hepcourse import cli
from hepcourse.grading.sandbox import Limits, bwrap_path

pytestmark = pytest.mark.grading
NEEDS_BWRAP = pytest.mark.skipif(bwrap_path() is None and os.environ.get("CI", "").lower() not in {"1", "true"},
                                 reason="bubblewrap is not installed (apt-get install bubblewrap)")

FIRST = [
    # what a submission sees
    "import os, sys, signal, subprocess\n"
    "print(sorted(os.listdir('/jobs')), sorted(os.listdir('.')), os.getpid())",
    "status = open('/proc/self/status').read()\n"
    "print([ln.split()[1] for ln in status.splitlines() if ln.startswith(('CapEff', 'NoNewPrivs'))])",
    # what it tries to leave behind
    "open('/tmp/left', 'w').write('x'); open('/dev/shm/left', 'w').write('x'); open('left', 'w').write('x')\n"
    "import numpy; numpy.left_by_the_first = True\n"
    "sleeper = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
    "print('sleeper', sleeper.pid)",
    # what it tries against the warm parent (its pid as seen in the sandbox)
    "hits = []\n"
    "for pid in range(2, 64):\n"
    "    try:\n"
    "        os.kill(pid, 0); hits.append(pid)\n"
    "    except (ProcessLookupError, PermissionError):\n"
    "        pass\n"
    "print('reachable', [pid for pid in hits if pid != sleeper.pid])",
]
SECOND = [
    "import os, numpy\n"
    "print([os.path.exists(p) for p in ('/tmp/left', '/dev/shm/left', 'left')], hasattr(numpy, 'left_by_the_first'))\n"
    "def cmdline(pid):\n"
    "    try:\n"
    "        return open(f'/proc/{pid}/cmdline', 'rb').read()\n"
    "    except OSError:\n"
    "        return b''\n"
    "print('sleepers', [p for p in os.listdir('/proc') if p.isdigit() and cmdline(p) == b'sleep\\x00300\\x00'])",
    "import time\nwhile True:\n    time.sleep(0.01)",                  # interrupted at the cell limit
    "print('after the interrupt')",
    "import os\nos._exit(3)",                                          # the 'kernel' dies
    "print('never')",
]


def _notebook(path, sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


@NEEDS_BWRAP
def test_each_submission_runs_isolated_and_leaves_nothing_behind(tmp_path):
    from hepcourse.grading.warm import WarmSandbox

    warm = WarmSandbox(tmp_path / "slot")
    try:
        (warm.jobs / "someone_else").mkdir()                           # another submission's folder
        first = warm.run(_notebook(tmp_path / "a.ipynb", FIRST), tmp_path / "a_out.ipynb", Limits(cell_s=10, wall_s=60))
        second = warm.run(_notebook(tmp_path / "b.ipynb", SECOND), tmp_path / "b_out.ipynb", Limits(cell_s=2, wall_s=60))
        slow = warm.run(_notebook(tmp_path / "c.ipynb", ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                                        "while True:\n    pass"]),
                        tmp_path / "c_out.ipynb", Limits(cell_s=1, wall_s=4))
        alive = warm.alive
    finally:
        warm.close()

    assert first.status == "ok" and first.cells_cpu_s > 0, first
    a = nbformat.read(tmp_path / "a_out.ipynb", as_version=4).cells
    assert _text(a[0]).startswith("[] ["), f"the child sees other submissions' folders in /jobs: {_text(a[0])}"
    assert "'submission.ipynb'" in _text(a[0]) and "someone_else" not in _text(a[0])
    assert _text(a[0]).split()[-1] == "1", "the child is not PID 1 of its own PID namespace"
    assert _text(a[1]).strip() == "['0000000000000000', '1']", f"capabilities left, or no_new_privs not set: {_text(a[1])}"
    assert "sleeper" in _text(a[2])
    assert _text(a[3]).strip() == "reachable []", f"the child can signal processes outside its namespace: {_text(a[3])}"

    assert second.status == "kernel-died" and "kernel died" in second.reason, second
    b = nbformat.read(tmp_path / "b_out.ipynb", as_version=4).cells
    assert _text(b[0]).splitlines() == ["[False, False, False] False", "sleepers []"], \
        f"files, module state or processes of the previous submission are visible: {_text(b[0])}"
    errors = [o.ename for o in b[1].outputs if o.output_type == "error"]
    assert errors == ["KeyboardInterrupt", "CellTimeoutError"], b[1].outputs
    assert _text(b[2]) == "after the interrupt\n"
    assert b[4].outputs == [], "a cell ran after the process died"

    assert slow.status == "timeout" and "longer than 4 s" in slow.reason
    assert alive, "a submission stopped the warm parent"


def test_bench_takes_the_chapter_like_make_grade():
    from hepcourse.bench.grading import fake_class, variants_path
    from hepcourse.config import ROOT

    full = ROOT / "tests" / "submissions" / "ch01_classification.yml"
    assert variants_path(ROOT / "tests" / "submissions" / "ch01.yml", "ch01") == full
    assert variants_path(ROOT / "tests" / "submissions", "ch01") == full
    with pytest.raises(FileNotFoundError):
        variants_path(ROOT / "tests" / "submissions" / "ch99.yml", "ch01")
    args = cli.parser().parse_args(["bench", "grading", "--assignment", "ch01", "--variants", "tests/submissions/ch01.yml"])
    assert args.assignment == "ch01" and args.func is cli._bench_grading
    kinds = {name.split("_", 1)[1] for name in fake_class("ch01", 40, variants_path(args.variants, args.assignment))}
    assert {"solution", "blank"} < kinds and len(kinds) == 2 + len(__import__("yaml").safe_load(full.read_text())["variants"])
