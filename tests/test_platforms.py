"""What the Makefile and the container recipes promise on each platform, checked without installing.

* binder/postBuild (repo2docker) and binder/Containerfile install exactly the Makefile's pins:
  the same torch pin first, then the package with the same extras and the same constraints file;
* `make` with a Python older than 3.11 (macOS's /usr/bin/python3 is 3.9) stops and says how to get
  3.11 and that `make PYTHON=...` chooses one;
* `make clean` never deletes a gradebook; `make help` lists the targets learners, instructors and
  maintainers need, `make system` included.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hepcourse.config import ROOT

MAKEFILE = (ROOT / "Makefile").read_text()


def install_spec(text: str, variables: dict[str, str] | None = None) -> dict:
    """What the `pip install` lines of ``text`` install: the torch pin, the constraints files and
    the extras of the editable install of the course (Make variables substituted)."""
    for name, value in (variables or {}).items():
        text = text.replace(f"$({name})", value)
    lines = [ln for ln in text.splitlines() if re.search(r"\bpip install\b", ln) and not ln.lstrip().startswith("#")]
    joined = " ".join(lines)
    return {"torch": sorted(set(re.findall(r"torch==[\w.+]+", joined))),
            "constraints": sorted(set(re.findall(r"-c\s+(\S+)", joined))),
            "package": sorted(set(re.findall(r"-e\s+\"?(\.\[[\w,]+\])\"?", joined)))}


def makefile_spec() -> dict:
    variables = dict(re.findall(r"^([A-Z_]+)\s*:?=\s*(\S+)\s*$", MAKEFILE, re.M))
    recipe = MAKEFILE.split("$(STAMP):", 1)[1].split("\n\n", 1)[0]
    return install_spec(recipe, variables)


def test_the_makefile_install_line_is_understood():
    spec = makefile_spec()
    assert spec["torch"] and spec["package"], spec
    for name in spec["constraints"]:
        assert (ROOT / name).exists(), f"the Makefile installs with -c {name}, which does not exist"
        pins = (ROOT / name).read_text()
        assert re.search(rf"^{re.escape(spec['torch'][0])}$", pins, re.M), f"{name} pins another torch"


def test_repo2docker_installs_the_makefile_pins():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert install_spec(post) == makefile_spec()
    assert "hepcourse site" in post, "postBuild should build the website as `make book` does"
    assert "$(BIN)/hepcourse site" in MAKEFILE.split("book:", 1)[1].split("\n\n")[0], "make book no longer runs `hepcourse site`"
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_the_container_runs_make_install_and_make_book():
    recipe = (ROOT / "binder" / "Containerfile").read_text()
    assert re.search(r"^FROM \S+python:3\.11\S*", recipe, re.M), "the reference Python is 3.11"
    assert re.search(r"RUN make install\b", recipe) and "make book" in recipe
    assert "pip install" not in recipe.replace('pip install --no-cache-dir "jupyterhub==', ""), \
        "the container installs the course only through `make install`"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "_build", "grading"} <= set(ignored)


@pytest.fixture()
def makedir(tmp_path):
    """A folder with the Makefile and empty stand-ins for what its install target depends on."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shutil.copy(ROOT / "Makefile", tmp_path)
    for name in ["pyproject.toml", *makefile_spec()["constraints"]]:
        (tmp_path / name).write_text("")
    return tmp_path


def test_make_with_an_old_python_says_how_to_get_311(makedir):
    fake = makedir / "python3.9"
    fake.write_text("#!/bin/bash\n# a stand-in for macOS's /usr/bin/python3 (3.9)\n"
                    "if [ \"$1\" = -c ]; then exec python3 -c \"import sys; sys.version_info = (3, 9, 6, 'final', 0); "
                    "sys.version = '3.9.6'\n$2\"; fi\nexec python3 \"$@\"\n")
    fake.chmod(0o755)
    out = subprocess.run(["make", "install", f"PYTHON={fake}"], cwd=makedir, capture_output=True, text=True)
    assert out.returncode != 0 and not (makedir / ".venv").exists()
    msg = out.stdout + out.stderr
    assert "Python >= 3.11 is needed" in msg and "3.9.6" in msg and "brew install python@3.11" in msg
    assert "make PYTHON=" in msg


def test_make_clean_never_deletes_a_gradebook(makedir):
    (makedir / "_build" / "nbgrader").mkdir(parents=True)
    (makedir / "_build" / "nbgrader" / "gradebook.db").write_text("a term")
    out = subprocess.run(["make", "clean"], cwd=makedir, capture_output=True, text=True)
    assert out.returncode != 0 and "refusing" in out.stdout
    assert (makedir / "_build" / "nbgrader" / "gradebook.db").exists()
    (makedir / "grading").mkdir()
    (makedir / "grading" / "gradebook.db").write_text("this term")
    shutil.rmtree(makedir / "_build" / "nbgrader")
    out = subprocess.run(["make", "clean"], cwd=makedir, capture_output=True, text=True)
    assert out.returncode == 0 and not (makedir / "_build").exists()
    assert (makedir / "grading" / "gradebook.db").read_text() == "this term"


def test_make_help_lists_every_kind_of_user(makedir):
    out = subprocess.run(["make", "help"], cwd=makedir, capture_output=True, text=True).stdout
    targets = {ln.split()[1] for ln in out.splitlines() if ln.strip().startswith("make ")}
    assert {"book", "lab", "check", "release", "grade", "test", "system", "clean"} <= targets
    assert re.search(r"make test\s+maintainers", out)
