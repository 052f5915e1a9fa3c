"""Grading throughput: the course's sandboxed parallel grader against plain sequential nbgrader.

    hepcourse bench grading --n 200 --baseline 20 --jobs 2 [--variants tests/submissions/ch01_classification.yml]

Builds a class of ``n`` submissions of an assignment (the reference solution, the blank release
and, when a ``variants`` file is given, its wrong-answer variants, in turn), grades it with
:func:`~hepcourse.grading.grader.autograde`, then grades the first ``baseline`` of them with
``nbgrader autograde`` (one after the other, no sandbox) in the same run, and reports
submissions per minute for both and their ratio.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import nbformat

from ..grading.course import course_config, release_notebook, source_notebook
from ..grading.grader import autograde
from ..grading.submissions import filled_release, load_variants


def fake_class(assignment: str, n: int, variants: Path | None = None) -> dict[str, nbformat.NotebookNode]:
    """``n`` submissions cycling through the solution, the blank release and the variants of ``variants``
    (a YAML file of wrong-answer variants, as in the course's ``tests/submissions/``), if given."""
    kinds = [("solution", filled_release(assignment)), ("blank", nbformat.read(release_notebook(assignment), 4))]
    if variants is not None:
        kinds += [(name, filled_release(assignment, v["replace"])) for name, v in load_variants(Path(variants)).items()]
    return {f"s{i:04d}_{name}": nb for i, (name, nb) in zip(range(n), itertools.cycle(kinds))}


def sequential_nbgrader(assignment: str, submissions: dict, workdir: Path) -> float:
    """Seconds ``nbgrader autograde`` takes for ``submissions``, one after the other, unsandboxed."""
    import shutil

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    shutil.copytree(source_notebook(assignment).parent, workdir / "source" / assignment)
    cfg = course_config(workdir, workdir / "gradebook.db", source="source", release="release")
    cfg.NbGraderAPI.log_level = "ERROR"
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    api.generate_assignment(assignment)
    for student, nb in submissions.items():
        target = workdir / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
    start = time.perf_counter()
    for student in submissions:
        api.autograde(assignment, student)
    return time.perf_counter() - start


def run(assignment: str = "ch01_classification", n: int = 200, baseline: int = 20, jobs: int = 2,
        sandbox: bool | None = None, variants: Path | None = None) -> dict:
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    subs = fake_class(assignment, n, variants)
    with tempfile.TemporaryDirectory(prefix="hepcourse-bench-") as tmp:
        start = time.perf_counter()
        grades = autograde(assignment, subs, workdir=Path(tmp) / "ours", jobs=jobs, sandbox=sandbox)
        ours = time.perf_counter() - start
        base_subs = dict(itertools.islice(subs.items(), baseline))
        theirs = sequential_nbgrader(assignment, base_subs, Path(tmp) / "nbgrader") if baseline else float("nan")
    graded = sum(g.score is not None for g in grades.values())
    return {"assignment": assignment, "submissions": n, "jobs": jobs, "graded": graded,
            "ours_s": round(ours, 1), "ours_per_min": round(60 * n / ours, 1),
            "baseline_submissions": baseline, "nbgrader_s": round(theirs, 1),
            "nbgrader_per_min": round(60 * baseline / theirs, 1) if baseline else None,
            "speedup": round((n / ours) / (baseline / theirs), 2) if baseline else None}
