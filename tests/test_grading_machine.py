"""The grading machine: `hepcourse grade doctor`, a sandbox that cannot start, secrets the sandbox
would show, assignments changed after submissions, and the learner's check in grading's conditions
(also where `resource` does not exist, as on Windows)."""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from hepcourse.config import ROOT
from hepcourse.grading import autograde, sandbox
from hepcourse.grading.errors import CellsChanged, SandboxUnavailable, SecretsExposed
from hepcourse.grading.sandbox import Limits, bwrap_path, run_notebook
from hepcourse.grading.submissions import filled_release

pytestmark = pytest.mark.grading
NEEDS_BWRAP = pytest.mark.skipif(bwrap_path() is None and os.environ.get("CI", "").lower() not in {"1", "true"},
                                 reason="bubblewrap is not installed (apt-get install bubblewrap)")
BLOCKED = "bwrap: setting up uid map: Permission denied"          # Ubuntu 24.04's AppArmor, for instance


def doctor(tmp_path, path: str, *args):
    env = {**os.environ, "PATH": path, "HEPCOURSE_GRADING_DIR": str(tmp_path / "grading")}
    return subprocess.run([sys.executable, "-m", "hepcourse.cli", "grade", "doctor", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture()
def broken_bwrap(tmp_path):
    """A folder whose `bwrap` fails the way a blocked user namespace does."""
    folder = tmp_path / "fakebin"
    folder.mkdir()
    (folder / "bwrap").write_text(f"#!/bin/sh\necho '{BLOCKED}' >&2\nexit 1\n")
    (folder / "bwrap").chmod(0o755)
    return folder


@NEEDS_BWRAP
def test_doctor_passes_here_and_checks_for_real(tmp_path):
    out = doctor(tmp_path, os.environ["PATH"])
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    for line in ("ok    bubblewrap starts the sandbox", "ok    network closed inside the sandbox",
                 "ok    the hidden tests, the gradebook and the submissions are invisible",
                 "ok    memory limit applies", "ok    CPU-time limit applies", "ok    the per-cell time limit",
                 "ok    the wall-clock limit stops a notebook", "ok    the gradebook is writable",
                 "ok    hidden tests in the source notebooks of", "ok    nothing secret under the folders",
                 "warn  the hidden tests are those of the public repository"):
        assert line in out.stdout, f"missing {line!r} in\n{out.stdout}"
    assert "Ready to grade." in out.stdout


def test_doctor_without_bwrap_says_what_to_install(tmp_path):
    out = doctor(tmp_path, str(Path(sys.executable).parent))
    print(out.stdout)
    assert out.returncode == 1
    assert "FAIL  bubblewrap (bwrap) is not installed" in out.stdout and "apt-get install bubblewrap" in out.stdout


def test_doctor_with_a_blocked_bwrap_shows_its_error_and_the_fix(tmp_path, broken_bwrap):
    out = doctor(tmp_path, f"{broken_bwrap}:{Path(sys.executable).parent}:/usr/bin:/bin")
    print(out.stdout)
    assert out.returncode == 1
    assert "FAIL  bubblewrap" in out.stdout and BLOCKED in out.stdout
    assert "apparmor_restrict_unprivileged_userns" in out.stdout and "1 problem to fix" in out.stdout


def test_autograde_stops_before_grading_when_the_sandbox_cannot_start(tmp_path, broken_bwrap, monkeypatch):
    """A blocked bubblewrap used to give every student zero and 'needs manual grading'."""
    monkeypatch.setenv("PATH", f"{broken_bwrap}:{os.environ['PATH']}")
    sandbox._start_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable, match="Permission denied") as err:
            autograde("ch00_data", {"ada": filled_release("ch00_data")}, workdir=tmp_path / "course", sandbox=True)
        assert "unprivileged user namespaces" in str(err.value)
        assert not (tmp_path / "course").exists(), "nothing should have been prepared"
    finally:
        sandbox._start_sandbox.cache_clear()


def test_secrets_under_a_folder_the_sandbox_shows_are_refused(tmp_path, monkeypatch):
    assert sandbox.exposed({"hidden tests": Path("/usr/local/src/course/solutions")})
    assert sandbox.exposed({"gradebook": Path("/etc/hepcourse/gradebook.db")})
    assert not sandbox.exposed({"hidden tests": tmp_path / "solutions"})
    # a checkout under a shown folder: here the temporary folder plays /usr
    monkeypatch.setattr(sandbox, "visible_paths", lambda: [Path("/usr"), tmp_path])
    monkeypatch.setattr("hepcourse.grading.grader.check_sandbox", lambda: None)
    with pytest.raises(SecretsExposed, match="the hidden tests .*: inside .*, which the sandbox shows read-only"):
        autograde("ch00_data", {"ada": filled_release("ch00_data")}, workdir=tmp_path / "course", sandbox=True)
    assert not (tmp_path / "course" / "submitted").exists(), "no submission should have run"


def test_changing_cells_after_submissions_is_caught_and_explained(tmp_path):
    """Contents of a test cell may change mid-term (new hidden checks); its cells may not."""
    import shutil

    course, private = tmp_path / "course", tmp_path / "private"          # a private copy of solutions/
    shutil.copytree(ROOT / "solutions" / "ch00_data", private / "ch00_data")

    def grade():
        return autograde("ch00_data", {"ada": filled_release("ch00_data")}, workdir=course, source=private,
                         sandbox=False, jobs=1)

    assert grade()["ada"].score == 11
    source = private / "ch00_data" / "ch00_data.ipynb"
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_delta_r")
    cell.source = cell.source.replace("### END HIDDEN TESTS", "assert False, 'a check added mid-term'\n### END HIDDEN TESTS")
    cell.metadata["nbgrader"]["points"] = 3
    nbformat.write(nb, source)
    again = grade()
    assert again["ada"].score == 9 and again["ada"].max_score == 12, "new contents and points count at the next grading"
    assert "a check added mid-term" in again["ada"].parts["test_delta_r"].message
    new = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "grade_id": "test_new", "points": 1, "locked": True, "solution": False, "schema_version": 3}})
    nb.cells.insert(-1, new)
    nbformat.write(nb, source)
    with pytest.raises(CellsChanged, match="added: test_new.*1 submissions are recorded.*existing test cell"):
        grade()


PROBE = ("import os, torch, hepcourse.config as c\n"
         "print({k: os.environ.get(k) for k in ('HEPCOURSE_QUICK', 'OMP_NUM_THREADS', 'HEPCOURSE_DEVICE')}, "
         "c.QUICK, str(c.device()), torch.get_num_threads())")


def _probe(tmp_path, name, use_sandbox, env=None):
    src = tmp_path / f"{name}.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)]), src)
    run = run_notebook(src, tmp_path / f"{name}-out.ipynb", Limits(wall_s=120), sandbox=use_sandbox)
    assert run.status == "ok", run.reason
    return nbformat.read(tmp_path / f"{name}-out.ipynb", as_version=4).cells[0].outputs[0]["text"]


@NEEDS_BWRAP
def test_check_runs_in_the_conditions_of_grading(tmp_path, monkeypatch):
    """`hepcourse check` (no sandbox) sees the same mode, threads and device as the sandbox."""
    for k, v in {"HEPCOURSE_QUICK": "", "OMP_NUM_THREADS": "2", "HEPCOURSE_DEVICE": ""}.items():
        monkeypatch.setenv(k, v)                         # a learner's full-mode shell
    plain, boxed = _probe(tmp_path, "plain", False), _probe(tmp_path, "boxed", True)
    assert plain == boxed, (plain, boxed)
    assert "'HEPCOURSE_QUICK': '1'" in plain and "True cpu 1" in plain


def test_check_works_where_resource_does_not_exist(tmp_path):
    """Windows has no `resource` module: the check runs, without the memory and CPU limits."""
    fake = tmp_path / "windows"
    fake.mkdir()
    (fake / "resource.py").write_text("raise ImportError(\"No module named 'resource' (as on Windows)\")\n")
    mine = tmp_path / "ch00_data.ipynb"
    nbformat.write(filled_release("ch00_data"), mine)
    env = {**os.environ, "PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    probe = subprocess.run([sys.executable, "-c", "import hepcourse.grading.runner as r; print(r.resource)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.strip() == "None", probe.stdout + probe.stderr
    out = subprocess.run([sys.executable, "-m", "hepcourse.cli", "check", str(mine)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0 and "11 / 11" in out.stdout, out.stdout + out.stderr


def test_nbgraders_unsandboxed_autograde_is_off_and_says_what_to_run(tmp_path):
    """The formgrader's Autograde button and `nbgrader autograde` read nbgrader_config.py: they
    refuse to run student code and name the sandboxed command."""
    env = {**os.environ, "HEPCOURSE_GRADING_DIR": str(tmp_path / "grading"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("HEPCOURSE_ALLOW_UNSANDBOXED", None)
    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    out = subprocess.run([nbgrader, "generate_assignment", "ch00_data", "--force"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    nb = filled_release("ch00_data")
    nb.cells[1].source += f"\nopen({str(tmp_path / 'ran')!r}, 'w').write('student code ran')"
    submitted = tmp_path / "grading" / "submitted" / "eve" / "ch00_data" / "ch00_data.ipynb"
    submitted.parent.mkdir(parents=True)
    nbformat.write(nb, submitted)
    out = subprocess.run([nbgrader, "autograde", "ch00_data", "--student", "eve"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0 and not (tmp_path / "ran").exists()
    assert "hepcourse grade autograde ch00_data (add --student eve" in " ".join((out.stdout + out.stderr).split())
