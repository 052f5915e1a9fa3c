"""The classroom website (`make book SOLUTIONS=0`) publishes no solution, whatever was built before.

Sphinx never deletes a page: a build without the Solutions part into the folder of a build with it
used to leave `book/solutions/*.html` there, reachable by URL. Here a build with solutions goes
first, a classroom build into the same folder second, and no solution text may remain anywhere
under that folder. Notebooks are not executed (the leak is about pages, not outputs), so this takes
two fast builds instead of two executions of every lecture.
"""

import html
import re

import nbformat
import pytest

from hepcourse import site
from hepcourse.config import ROOT
from hepcourse.grading.course import assignments, release_notebook
from hepcourse.grading.submissions import solution_sources

pytestmark = pytest.mark.site
TITLE = "Solution of assignment"         # the generated solution pages' heading (hepcourse.site)


def solution_lines() -> set[str]:
    """Lines of the reference solutions (≥ 25 characters) that no page of the classroom site has:
    not in the releases, the lectures or the prose pages."""
    public = [c.source for a in assignments() for c in nbformat.read(release_notebook(a), as_version=4).cells]
    public += [c.source for nb in ROOT.glob("lectures/*/*.ipynb") for c in nbformat.read(nb, as_version=4).cells]
    public += [p.read_text() for p in (ROOT / "book").glob("*.md")]
    public = "\n".join(public)
    lines = {ln.strip() for a in assignments() for code in solution_sources(a).values() for ln in code.splitlines()}
    return {ln for ln in lines if len(ln) >= 25 and ln not in public}


def leaks(folder) -> dict[str, list[str]]:
    """File under ``folder`` → the solution lines (or the solution title) found in it; HTML is read
    as text (tags removed), everything else as bytes."""
    wanted = solution_lines() | {TITLE}
    found = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        text = data.decode("utf-8", "replace")
        if path.suffix == ".html":
            text = html.unescape(re.sub(r"<[^>]+>", "", text))
        hits = [w for w in wanted if w in text or w.encode() in data]
        if hits:
            found[str(path.relative_to(folder))] = hits[:3]
    return found


def test_classroom_build_after_a_solutions_build_leaves_no_solution(tmp_path):
    out = tmp_path / "site"
    first = site.build(quick=True, solutions=True, path_output=out, execute=False)
    assert first.returncode == 0, first.log[-4000:]
    before = leaks(out)
    assert (first.html / "book" / "solutions").is_dir() and any(p.endswith(".html") for p in before), \
        "the build with solutions should publish solution pages (else this test proves nothing)"
    second = site.build(quick=True, solutions=False, path_output=out, execute=False)
    assert second.returncode == 0, second.log[-4000:]
    assert second.html == first.html and (second.html / "index.html").exists()
    assert (second.html / "exercises" / "ch01_classification" / "ch01_classification.html").exists()
    assert leaks(out) == {}


def test_classroom_build_has_its_own_folder_by_default():
    assert site.CLASSROOM_OUTPUT.name == "classroom" and site.CLASSROOM_OUTPUT.parent == site.BUILD_DIR
