"""Repository rules: notebooks are committed without outputs; every source has its release."""

import json
import re
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


SOURCE_WORDING = re.compile(r"seed ?0\d\d|seed (item|problem|text|Eq)|seed's|the seed (says|calls|means|describes|quotes)",
                            re.IGNORECASE)
# the pages and lectures of chapters 00, 01 and 03 and the course pages around them; the other chapters follow
WORDING_FILES = [ROOT / "book" / name for name in ("intro.md", "data.md", "notation.md", "student.md", "ch00_data.md",
                                                    "ch01_classification.md", "ch03_cnn_taggers.md", "references.bib")] \
    + sorted((ROOT / "lectures").glob("ch0[013]_*/*.ipynb"))


@pytest.mark.parametrize("path", WORDING_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_cite_the_texts_not_our_filing_names(path):
    # learners read "Plehn et al. [key], Sec. 2.1.3" and "item A3 of [key]", never the words of our own filing
    # ("seed 003"); the bibliography keys themselves are not shown to readers
    text = path.read_text()
    if path.suffix == ".ipynb":
        text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
    text = re.sub(r"\{cite\}`[^`]*`|@\w+\{[\w]+,", "", text)             # citation keys are not prose
    hits = [m.group(0) for m in SOURCE_WORDING.finditer(text)]
    assert not hits, f"{path.relative_to(ROOT)} says {hits[:5]}: cite the text (author, section, bibliography key)"
