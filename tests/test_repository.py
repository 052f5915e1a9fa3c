"""Repository rules: notebooks are committed without outputs; every source has its release."""

import json
import subprocess
from pathlib import Path

import pytest

from hepcourse.config import ROOT
from hepcourse.grading.course import assignments, release_notebook


def _committed_notebooks() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        files = [ROOT / line for line in out.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (e.g. an sdist)
        files = []
    files = files or [p for d in ("lectures", "solutions", "exercises") for p in (ROOT / d).rglob("*.ipynb")]
    return [p for p in files if ".ipynb_checkpoints" not in p.parts and p.exists()]


NOTEBOOKS = _committed_notebooks()


def test_there_are_notebooks():
    assert any("lectures" in p.parts for p in NOTEBOOKS) and any("solutions" in p.parts for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; run `nbstripout --keep-id {path.relative_to(ROOT)}`"
    assert all("id" in c for c in nb["cells"]), f"{path.name}: every cell needs a stable id (nbformat ≥ 4.5)"


def test_every_assignment_has_a_committed_release():
    for assignment in assignments():
        assert release_notebook(assignment).exists(), f"run `make release` for {assignment}"


def test_lecture_notebooks_end_with_asserts():
    lectures = [p for p in NOTEBOOKS if "lectures" in p.parts]
    for path in lectures:
        code = [("".join(c["source"])) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        assert any("assert" in src for src in code[-3:]), f"{path.name}: a lecture ends with asserts on its own results"
