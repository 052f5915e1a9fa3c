"""A simulated term, through the commands an instructor types (book/instructor.md, book/hub.md).

One assignment (chapter 00, the quickest to grade), six students and a roster of seven:

* ada works on the hub: fetches the release from nbgrader's exchange (configured system-wide by
  binder/jupyter/nbgrader_config.py), submits a blank notebook, then the right one; the
  instructor runs `nbgrader collect --update` (the newest wins);
* the others come from a course system's zip: a folder per student, the same file name in each
  (bob: one wrong part, carol: blank, dan: right but late, erin: an empty file, fay: right);
* autograde the class; the instructor gives fay a manual score in the gradebook (what the
  formgrader does); carol resubmits in a second zip: `collect` refuses it without --update, files
  it with --update (her first notebook kept in history/), and `autograde --student carol` regrades
  her alone;
* feedback, and the export with the roster: gus never submitted.

The grading data live in a temporary HEPCOURSE_GRADING_DIR, as an instructor's would in grading/.
"""

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from hepcourse.config import ROOT
from hepcourse.grading.sandbox import bwrap_path
from hepcourse.grading.submissions import filled_release, load_variants

pytestmark = pytest.mark.grading
A = "ch00_data"
RELEASE = ROOT / "exercises" / A / f"{A}.ipynb"
HIDDEN_ONLY = "the exact sagitta is never smaller than"       # a message only a hidden test prints
FILE = f"{A}.ipynb"                                             # what every student uploads


TIMES: dict[str, float] = {}


def run(*args, env, cwd=ROOT, ok=True):
    start = time.perf_counter()
    out = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    key = " ".join(a for a in args[1:4] if not a.startswith("/"))
    TIMES[key] = TIMES.get(key, 0) + time.perf_counter() - start
    if ok:
        assert out.returncode == 0, f"{args}: {out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def hepcourse(*args, env, ok=True):
    return run(sys.executable, "-m", "hepcourse.cli", *args, env=env, ok=ok)


def nbgrader(*args, env, cwd=ROOT):
    return run(str(Path(sys.executable).with_name("nbgrader")), *args, "--log-level=ERROR", env=env, cwd=cwd)


def zip_of(path: Path, files: dict[str, tuple[bytes, datetime]]) -> Path:
    """A course system's export: {name in zip: (bytes, submission time)}."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, when) in files.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when.astimezone().timetuple()[:6]), data)
    return path


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    if bwrap_path() is None and os.environ.get("CI", "").lower() not in {"1", "true"}:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    base = tmp_path_factory.mktemp("term")
    config = base / "etc-jupyter"
    config.mkdir()
    shutil.copy(ROOT / "binder" / "jupyter" / "nbgrader_config.py", config)
    (base / "exchange").mkdir()
    os.chmod(base / "exchange", 0o1777)
    env = {**os.environ, "HEPCOURSE_GRADING_DIR": str(base / "grading"), "JUPYTER_CONFIG_PATH": str(config),
           "NBGRADER_EXCHANGE": str(base / "exchange"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    due = (datetime.now(timezone.utc) + timedelta(days=1)).replace(second=0, microsecond=0)
    solution = nbformat.writes(filled_release(A)).encode()
    blank = RELEASE.read_bytes()
    name, variant = next((n, v) for n, v in load_variants(ROOT / "tests" / "submissions" / f"{A}.yml").items()
                         if v["wrong_parts"])
    wrong = nbformat.writes(filled_release(A, variant["replace"])).encode()
    steps = {}

    # the hub: release to the exchange, ada fetches and submits twice, the instructor collects
    nbgrader("release_assignment", A, "--force", env=env)
    ada_home = base / "home-ada"
    ada_home.mkdir()
    ada = {**env, "USER": "ada", "LOGNAME": "ada", "HOME": str(ada_home)}
    nbgrader("fetch_assignment", A, env=ada, cwd=ada_home)
    # nbgrader names a submission after the login (or $JUPYTERHUB_USER for a hub's shared "jovyan");
    # here every "student" is the same login, so the id is given as nbgrader allows
    nbgrader("submit", A, "--student=ada", env=ada, cwd=ada_home)     # the release as fetched: blank
    (ada_home / A / FILE).write_bytes(solution)
    nbgrader("submit", A, "--student=ada", env=ada, cwd=ada_home)     # the resubmission
    nbgrader("collect", A, "--update", env=env)

    # the course system's zip: a folder per student, the same file name inside
    before = due - timedelta(days=2)
    folder = "{}_{}_assignsubmission_file_/" + FILE
    zip1 = zip_of(base / "export1.zip", {
        folder.format("Bob Builder", 1002): (wrong, before),
        folder.format("Carol Chen", 1003): (blank, before),
        folder.format("Dan Dare", 1004): (solution, due + timedelta(hours=26)),
        folder.format("Erin Eve", 1005): (b"", before),
        folder.format("Fay Fox", 1006): (solution, before),
    })
    steps["collect"] = hepcourse("grade", "collect", "ch00", str(zip1), "--due", due.isoformat(), env=env)
    steps["autograde"] = hepcourse("grade", "autograde", "ch00", "--jobs", "2", env=env)

    # a manual score in the gradebook, as the formgrader writes it
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{base / 'grading' / 'gradebook.db'}", course_id="hepcourse") as gb:
        grade = gb.find_grade("test_scaling", A, A, "Fay_Fox_1006_assignsubmission_file")
        grade.manual_score = 1.0
        gb.db.commit()

    # carol resubmits after the first grading: refused without --update, filed with it, regraded alone
    zip2 = zip_of(base / "export2.zip", {folder.format("Carol Chen", 1003): (solution, before + timedelta(hours=5))})
    steps["collect_again"] = hepcourse("grade", "collect", "ch00", str(zip2), env=env, ok=False)
    steps["collect_update"] = hepcourse("grade", "collect", "ch00", str(zip2), "--update", env=env)
    steps["regrade"] = hepcourse("grade", "autograde", "ch00", "--student", "Carol_Chen_1003_assignsubmission_file",
                                 env=env)
    steps["feedback"] = hepcourse("grade", "feedback", "ch00", env=env)

    roster = base / "roster.csv"
    roster.write_text("id,submission,name\ns1001,ada,Ada\ns1002,Bob Builder_1002,Bob\ns1003,Carol Chen_1003,Carol\n"
                      "s1004,Dan Dare_1004,Dan\ns1005,Erin Eve_1005,Erin\ns1006,Fay Fox_1006,Fay\ns1007,gus,Gus\n")
    steps["export"] = hepcourse("grade", "export", "ch00", "--roster", str(roster), "--out", str(base / "grades.csv"),
                                env=env)
    print((base / "grades.csv").read_text())
    print("seconds per step:", {k: round(v, 1) for k, v in TIMES.items()})
    rows = {r["student"]: r for r in csv.DictReader((base / "grades.csv").open(encoding="utf-8"))}
    return {"base": base, "steps": steps, "rows": rows, "due": due, "wrong_parts": variant["wrong_parts"],
            "env": env}


def test_the_roster_gives_every_student_a_row(term):
    rows = term["rows"]
    assert list(rows) == [f"s100{i}" for i in range(1, 8)]
    assert rows["s1007"]["status"] == "no submission" and rows["s1007"]["total"] == "0"
    assert rows["s1002"]["submission"] == "Bob_Builder_1002_assignsubmission_file"


def test_part_columns_carry_the_grade_id_and_the_part_title(term):
    header = next(csv.reader((term["base"] / "grades.csv").open(encoding="utf-8")))
    assert "test_jet_kinematics: Part A — a jet from its constituents" in header
    assert "test_delta_r: Part B — the ΔR matrix" in header
    assert header[:2] == ["student", "submission"] and header[-6:] == \
        ["total", "max", "status", "reason", "submitted_at", "hours_late"]


def test_scores_follow_the_answers(term):
    rows = term["rows"]
    assert rows["s1001"]["total"] == "11", "ada's resubmission (the solution) should be the one graded"
    assert rows["s1002"]["status"] == "graded"
    for part in term["wrong_parts"]:
        col = next(c for c in rows["s1002"] if c.split(":")[0] == part)
        assert rows["s1002"][col] == "0"
    assert float(rows["s1002"]["total"]) < 11


def test_a_resubmission_replaces_the_older_one_which_is_kept(term):
    steps, base = term["steps"], term["base"]
    assert steps["collect_again"].returncode == 2 and "--update" in steps["collect_again"].stderr
    assert term["rows"]["s1003"]["total"] == "11"                       # regraded: her newer notebook
    kept = list((base / "grading" / "history" / A / "Carol_Chen_1003_assignsubmission_file").glob("*.ipynb"))
    assert len(kept) == 1 and kept[0].read_bytes() == RELEASE.read_bytes()
    assert "graded 1 submissions" in steps["regrade"].stdout
    inbound = list((base / "exchange" / "hepcourse" / "inbound").iterdir())
    assert len([p for p in inbound if p.name.startswith("ada+")]) == 2   # the exchange keeps both of ada's


def test_late_work_is_marked_with_its_hours(term):
    rows = term["rows"]
    assert float(rows["s1004"]["hours_late"]) == pytest.approx(26.0, abs=0.02)
    assert rows["s1004"]["total"] == "11"
    assert all(rows[s]["hours_late"] == "0.00" for s in ("s1001", "s1002", "s1003", "s1006"))
    assert "due date of ch00_data" in term["steps"]["collect"].stdout


def test_an_empty_file_needs_manual_grading_with_its_reason(term):
    row = term["rows"]["s1005"]
    assert row["status"] == "needs manual grading" and "empty" in row["reason"] and row["total"] == "0"
    out = term["steps"]["autograde"].stdout
    assert "1 need a look" in out and "Erin_Eve_1005_assignsubmission_file (the submitted file is empty)" in out


def test_a_manual_grade_from_the_gradebook_is_exported(term):
    row = term["rows"]["s1006"]
    col = next(c for c in row if c.startswith("test_scaling"))
    assert row[col] == "1" and row["total"] == "10" and row["status"] == "graded by hand"


def test_collect_names_students_by_folder_and_says_so(term):
    out = term["steps"]["collect"].stdout
    assert "collected 5 submissions" in out and "Fay_Fox_1006_assignsubmission_file" in out


def test_feedback_hides_hidden_tests_and_renders_math_offline(term, browser):
    root = term["base"] / "grading" / "feedback"
    pages = sorted(root.glob(f"*/{A}/*.html"))
    assert len(pages) == 5                       # every recorded submission; the empty file has none
    assert (root / "_mathjax" / "tex-chtml.js").exists()
    for page in pages:
        html = page.read_text()
        assert "BEGIN HIDDEN TESTS" not in html and HIDDEN_ONLY not in html
        assert "cdnjs" not in html and "https://cdn" not in html
        assert "../../_mathjax/tex-chtml.js" in html
    page = browser.new_page()
    remote = []
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else remote.append(r.url))
    page.goto(pages[0].as_uri())
    page.wait_for_selector("mjx-container", timeout=20_000)
    assert page.locator("mjx-container").count() > 3 and remote == []
    page.close()


def test_the_gradebook_is_intact_and_outside_build(term):
    db = term["base"] / "grading" / "gradebook.db"
    con = sqlite3.connect(db)
    assert con.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert con.execute("select count(*) from submitted_assignment").fetchone()[0] == 5
