"""The learner's workflow through the `hepcourse` command, and collecting a class's files.

The instructor's whole workflow (collect, autograde, manual grades, feedback, export) is the
simulated term of test_term.py."""

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from hepcourse.config import ROOT
from hepcourse.grading import classroom, instructor
from hepcourse.grading.errors import GradingError, SubmissionConflict, UnknownAssignment
from hepcourse.grading.submissions import filled_release, load_variants

pytestmark = pytest.mark.grading
ASSIGNMENT = "ch01_classification"


def hepcourse(*args, env=None, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "hepcourse.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_start_copies_the_exercise_and_never_overwrites_work(tmp_path):
    path = classroom.start("ch01", workspace=tmp_path)
    assert path == tmp_path / f"{ASSIGNMENT}.ipynb"
    assert path.read_bytes() == (ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    path.write_text(path.read_text().replace("YOUR CODE HERE", "my answer"))
    with pytest.raises(FileExistsError, match="--force"):
        classroom.start("ch01", workspace=tmp_path)
    assert "my answer" in path.read_text()
    classroom.start("ch01", workspace=tmp_path, force=True)
    assert "my answer" not in path.read_text()
    with pytest.raises(UnknownAssignment, match="ch01_classification"):
        classroom.find_assignment("ch77")
    out = hepcourse("start", "ch77")
    assert out.returncode == 2 and out.stderr.startswith("error: no assignment matches") and "Traceback" not in out.stderr


def test_check_reports_every_part_and_leaves_the_notebook_alone(tmp_path):
    # the swapped AUC alone (its variant pairs it with mistakes in other parts): one failed part
    variant = load_variants(ROOT / "tests" / "submissions" / f"{ASSIGNMENT}.yml")[
        "log_lr_no_normalisation__gain_without_child_weights__auc_swapped"]
    mine = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(filled_release(ASSIGNMENT, {"sol_roc": variant["replace"]["sol_roc"]}), mine)
    before = hashlib.sha256(mine.read_bytes()).hexdigest(), mine.stat().st_mtime_ns
    start = time.perf_counter()
    out = hepcourse("check", str(mine))
    seconds = time.perf_counter() - start
    assert out.returncode == 1, out.stdout + out.stderr            # not full marks
    assert "test_roc_auc" in out.stdout and "FAILED" in out.stdout and "13 / 15" in out.stdout, out.stdout
    # parts as the notebook names them, the failed cell under its part
    assert "Part D — ROC curve, AUC and background rejection" in out.stdout, out.stdout
    lines = out.stdout.splitlines()
    part = next(i for i, ln in enumerate(lines) if ln.startswith("Part D — ROC curve"))
    assert "1 / 3" in lines[part] and "FAILED" in lines[part] and lines[part + 1].split()[0] == "test_roc_auc"
    assert "Did you swap signal and background?" in " ".join(out.stdout.split()), out.stdout
    assert (hashlib.sha256(mine.read_bytes()).hexdigest(), mine.stat().st_mtime_ns) == before
    # alone on 2 cores a check takes 7-23 s; in the suite two other grading jobs share the cores
    assert seconds < 120, f"checking a notebook took {seconds:.0f} s"
    assert len(list(tmp_path.iterdir())) == 1, "check left files next to the notebook"


def test_check_of_the_solution_passes(tmp_path):
    mine = tmp_path / f"{ASSIGNMENT}.ipynb"
    nbformat.write(filled_release(ASSIGNMENT), mine)
    out = hepcourse("check", str(mine))
    assert out.returncode == 0 and "15 / 15" in out.stdout, out.stdout + out.stderr


def test_check_without_solutions_runs_the_visible_tests_and_says_so(tmp_path, monkeypatch):
    """A class's image has no solutions/: check grades with the release's visible tests alone."""
    from hepcourse.grading import course

    mine = tmp_path / "ch00_data.ipynb"
    nbformat.write(filled_release("ch00_data"), mine)
    monkeypatch.setattr(course, "SOURCE_DIR", tmp_path / "absent")
    assert course.assignments() == sorted(p.parent.name for p in (ROOT / "exercises").glob("*/*.ipynb")
                                          if p.stem == p.parent.name)
    grade = classroom.check(mine, sandbox=False)
    assert grade.score == grade.max_score == 11 and "hidden tests are not on this machine" in grade.error
    assert "hidden tests are not on this machine" in classroom.report(grade)


# ----------------------------------------------------------------------------- collecting (no grading)

def _names(tmp_path, files: dict, **kw):
    """Collect a zip of ``files`` (name in zip → bytes) into a fresh grading folder; return the ids."""
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return instructor.collect("ch01", archive, **kw).filed


@pytest.fixture()
def grading_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("HEPCOURSE_GRADING_DIR", str(tmp_path / "grading"))
    return tmp_path / "grading"


def test_collect_names_students_by_file_or_by_folder(tmp_path, grading_dir):
    nb = (ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    flat = _names(tmp_path, {"class/Ada Lovelace.ipynb": nb, "class/bob.ipynb": nb, "__MACOSX/class/._bob.ipynb": b"x"})
    assert flat == ["Ada_Lovelace", "bob"]
    shutil.rmtree(grading_dir)
    per_folder = _names(tmp_path, {f"Ann Lee_{i}_assignsubmission_file_/{ASSIGNMENT}.ipynb": nb for i in (1, 2)})
    assert per_folder == ["Ann_Lee_1_assignsubmission_file", "Ann_Lee_2_assignsubmission_file"]
    stamp = grading_dir / "submitted" / "Ann_Lee_1_assignsubmission_file" / ASSIGNMENT / "timestamp.txt"
    assert instructor.parse_time(stamp.read_text()).tzinfo is not None


def test_collect_keeps_the_newest_of_two_versions_in_one_export(tmp_path, grading_dir):
    nb = nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    old, new = nbformat.writes(nb), nbformat.writes(filled_release(ASSIGNMENT))
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("late/ada.ipynb", date_time=(2026, 3, 2, 10, 0, 0)), new)
        zf.writestr(zipfile.ZipInfo("early/ada.ipynb", date_time=(2026, 3, 1, 10, 0, 0)), old)
    done = instructor.collect("ch01", archive, names_from="file")
    filed = grading_dir / "submitted" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert done.filed == ["ada"] and filed.read_text() == new
    assert [Path(p).read_text() for p in done.kept_older] == [old]
    with pytest.raises(SubmissionConflict, match="--update"):
        instructor.collect("ch01", archive, names_from="file")
    again = instructor.collect("ch01", archive, update=True, names_from="file")
    assert filed.read_text() == new and again.filed == [] and again.kept_older == done.kept_older  # nothing new


def test_roster_matches_course_system_names(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,submission\nu1,Ada Lovelace_77\nu2,bob\nu3,carl\n")
    keys = instructor.read_roster(roster)
    assert keys == {"u1": "Ada_Lovelace_77", "u2": "bob", "u3": "carl"}
    rows = [instructor.Row("Ada_Lovelace_77_assignsubmission_file", None, "graded"), instructor.Row("bob", None, "graded"),
            instructor.Row("zoe", None, "graded")]
    out = instructor.with_roster(rows, keys, 15)
    assert [(r.student, r.status) for r in out] == [("u1", "graded"), ("u2", "graded"), ("u3", "no submission"),
                                                    ("zoe", "not on the roster")]
    bad = tmp_path / "bad.csv"
    bad.write_text("name\nAda\n")
    with pytest.raises(GradingError, match="'id' column"):
        instructor.read_roster(bad)


def test_grading_data_are_never_under_build(monkeypatch):
    from hepcourse.grading import course

    monkeypatch.delenv("HEPCOURSE_GRADING_DIR", raising=False)
    assert course.grading_dir() == (ROOT / "grading").resolve()
    assert (ROOT / "_build").resolve() not in course.grading_dir().parents
    cfg = course.instructor_course()
    assert cfg.CourseDirectory.db_url == f"sqlite:///{ROOT.resolve() / 'grading' / 'gradebook.db'}"
    assert cfg.CourseDirectory.submitted_directory == "grading/submitted"
    out = subprocess.run(["git", "check-ignore", "-q", "grading/gradebook.db"], cwd=ROOT)
    assert out.returncode == 0, "grading/ must be git-ignored"


def test_nbgrader_config_honours_the_grading_dir(tmp_path):
    """nbgrader's own commands (and the formgrader) see the folder `hepcourse grade` uses."""
    code = ("from traitlets.config.loader import PyFileConfigLoader; "
            "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config(); "
            "print(c.CourseDirectory.db_url); print(c.CourseDirectory.submitted_directory); "
            "print(c.CourseDirectory.release_directory)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "HEPCOURSE_GRADING_DIR": str(tmp_path / "term")})
    db, submitted, release = out.stdout.split()
    assert db == f"sqlite:///{tmp_path / 'term' / 'gradebook.db'}", out.stderr
    assert (ROOT / submitted).resolve() == tmp_path / "term" / "submitted" and release == "exercises"
