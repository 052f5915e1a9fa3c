"""hepcourse as an installable package: its metadata, its lock file, one version, the course root, and every
module importable.

In the test run (CI): the constraints file pins exactly the installed environment and lies inside the
ranges of pyproject.toml, every third-party package the code imports is a declared dependency, every module
imports in a fresh interpreter, and the course folder is found (or a clear error says how to set it).
``make check-install`` (marker ``install``, minutes) also installs the package from the constraints into a
fresh virtual environment without the course's site-packages and imports every module there.
"""

import ast
import importlib.metadata as md
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import hepcourse
from hepcourse import config

ROOT = Path(hepcourse.__file__).resolve().parent.parent
PACKAGE = ROOT / "hepcourse"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
NOT_FROZEN = {"pip", "setuptools", "wheel", "distribute"}      # pip freeze leaves these out


def _constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def _requirements(extras: bool = True) -> list[tuple[str, Requirement]]:
    groups = [("core", PYPROJECT["project"]["dependencies"])]
    if extras:
        groups += list(PYPROJECT["project"]["optional-dependencies"].items())
    return [(group, Requirement(r)) for group, reqs in groups for r in reqs]


def _modules() -> list[str]:
    return sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                  for p in PACKAGE.rglob("*.py"))


# ---- one version ---------------------------------------------------------------------------------

def test_one_version_everywhere():
    """pyproject.toml holds the version; the package reads it from its metadata; the book, its footer,
    CITATION.cff and the latest released CHANGELOG entry (below *Unreleased*) must say the same."""
    assert hepcourse.__version__ == VERSION
    book = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert book["parse"]["myst_substitutions"]["version"] == VERSION
    assert f"hepcourse {VERSION}" in book["html"]["extra_footer"]
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"] == VERSION
    latest = re.search(r"^## (\d+\.\d+\.\d+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.M).group(1)
    assert latest == VERSION
    assert not re.search(r"__version__\s*=\s*[\"']", (PACKAGE / "__init__.py").read_text())   # not written twice


# ---- install metadata --------------------------------------------------------------------------------

def test_constraints_pin_exactly_the_installed_environment():
    """constraints.txt is the lock file of the course's environment (`make install` uses it): every installed
    distribution is pinned there, at the version installed (`make constraints` rewrites it)."""
    pins = _constraints()
    # setuptools puts its own vendored copies (setuptools/_vendor/*.dist-info: jaraco, more-itertools, ...)
    # on sys.path once something imports it; they are part of setuptools, not of the environment
    installed = {canonicalize_name(d.metadata["Name"]): Version(d.version) for d in md.distributions()
                 if "_vendor" not in Path(str(d.locate_file(""))).parts}
    missing = sorted(n for n in installed if n not in pins and n not in NOT_FROZEN and n != "hepcourse")
    assert not missing, f"installed but not pinned in constraints.txt (run `make constraints`): {missing}"
    wrong = {n: (str(v), str(pins[n])) for n, v in installed.items()
             if n in pins and Version(v.base_version if n == "torch" else str(v)) != pins[n]}
    assert not wrong, f"installed version differs from constraints.txt: {wrong}"
    assert pins["torch"] == Version("2.13.0")


def test_every_pin_lies_in_the_ranges_of_pyproject():
    pins, env = _constraints(), default_environment()
    for group, req in _requirements():
        name = canonicalize_name(req.name)
        if name == "hepcourse" or (req.marker and not req.marker.evaluate(env)) or name not in pins:
            continue
        assert req.specifier.contains(pins[name], prereleases=True), f"{group}: {req} excludes the pin {pins[name]}"


def test_ranges_are_compatible_ranges_and_torch_is_exact():
    for group, req in _requirements():
        if canonicalize_name(req.name) in ("hepcourse",):
            continue
        ops = {s.operator for s in req.specifier}
        if req.name == "torch":
            assert str(req.specifier) == "==2.13.0", req
        else:
            assert "==" not in ops and ">=" in ops and "<" in ops, f"{group}: {req} is not a compatible range"


def test_direct_imports_are_declared_dependencies():
    """Every third-party package that hepcourse imports is a dependency of the package (pythia8mc, only
    needed to generate data, in the `generate` extra; the website build's jupyter-cache in the `book`
    extra, and only for hepcourse/site.py); tooling stays in the extras."""
    extra_of_module = {"site.py": "book",       # the website build (`hepcourse site`) needs the book extra
                       "bench/peers.py": "peers",   # chapter 08's comparison with zuko
                       "bench/sbi_peers.py": "peers",   # chapter 09's comparison with the sbi package
                       "cluster.py": "cluster"}     # grading and data generation on dask.distributed
    # bench/peers.py also holds `hepcourse bench peers` (PyG, energyflow, torchcfm, vector, FastJet)
    imported = {}                               # top-level module -> the extras that may provide it
    for path in PACKAGE.rglob("*.py"):
        allowed = {"generate", extra_of_module.get(path.relative_to(PACKAGE).as_posix())}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = {node.module.split(".")[0]}
            else:
                continue
            for name in names - set(sys.stdlib_module_names) - {"hepcourse", "__future__"}:
                imported[name] = imported.get(name, allowed) & allowed
    distributions = md.packages_distributions()
    core = {canonicalize_name(r.name) for _, r in _requirements(extras=False)}
    undeclared = {}
    for module, extras in sorted(imported.items()):
        names = {canonicalize_name(d) for d in distributions.get(module, [module])}
        declared = core | {canonicalize_name(r.name) for g, r in _requirements() if g in extras}
        if not names & declared:
            undeclared[module] = sorted(names)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    for name in ("fastjet", "sqlalchemy", "traitlets", "nbconvert"):
        assert name in core
    tooling = {"nbval", "nbstripout", "jupyter-book", "sphinx-mathjax-offline", "pytest", "pytest-xdist",
               "pytest-timeout", "playwright", "pytest-playwright", "jupyterlab"}
    assert not tooling & core, f"tooling among the core dependencies: {tooling & core}"


def test_pythia_is_only_asked_for_where_it_has_wheels():
    (req,) = [r for g, r in _requirements() if r.name == "pythia8mc"]
    assert req.marker.evaluate({**default_environment(), "sys_platform": "linux", "platform_machine": "x86_64"})
    assert not req.marker.evaluate({**default_environment(), "sys_platform": "linux", "platform_machine": "aarch64"})
    assert not req.marker.evaluate({**default_environment(), "sys_platform": "darwin", "platform_machine": "arm64"})


# ---- importing -------------------------------------------------------------------------------------

IMPORT_ALL = """
import importlib, sys
names = sys.argv[1:]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_module_imports_in_a_fresh_interpreter(tmp_path):
    mods = _modules()
    assert len(mods) > 40
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", IMPORT_ALL, *mods], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == str(len(mods))


# ---- the course folder -----------------------------------------------------------------------------

@pytest.fixture
def fresh_root(monkeypatch):
    monkeypatch.setattr(config, "_ROOT", None)
    monkeypatch.delenv("HEPCOURSE_ROOT", raising=False)
    return monkeypatch


def test_course_root_from_the_environment(fresh_root, tmp_path):
    (tmp_path / "_config.yml").write_text("title: x\n")
    fresh_root.setenv("HEPCOURSE_ROOT", str(tmp_path))
    assert config.course_root() == tmp_path.resolve()
    assert config.DATA_DIR == tmp_path.resolve() / "data" and config.CHECKPOINT_DIR.parent == config.DATA_DIR


def test_a_wrong_course_root_is_a_clear_error(fresh_root, tmp_path):
    fresh_root.setenv("HEPCOURSE_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(config.CourseRootNotFound, match="HEPCOURSE_ROOT.*_config.yml"):
        config.course_root()


def test_course_root_found_above_the_working_directory_or_a_clear_error(fresh_root, tmp_path):
    course, outside = tmp_path / "course", tmp_path / "elsewhere"
    (course / "lectures" / "ch01").mkdir(parents=True)
    (course / "_config.yml").write_text("title: x\n")
    outside.mkdir()
    fresh_root.setattr(config, "__file__", str(tmp_path / "site-packages" / "hepcourse" / "config.py"))
    fresh_root.chdir(course / "lectures" / "ch01")
    assert config.course_root() == course.resolve()
    fresh_root.setattr(config, "_ROOT", None)
    fresh_root.chdir(outside)
    with pytest.raises(config.CourseRootNotFound, match="HEPCOURSE_ROOT=/path/to/the/course"):
        _ = config.DATA_DIR


def test_the_package_reads_nothing_under_tests():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in PACKAGE.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1)
            if re.search(r"""["']tests["']|ROOT\s*/\s*["']tests""", line)]
    assert not hits, f"package code reads the tests folder: {hits}"


# ---- wording -----------------------------------------------------------------------------------------

def test_no_filing_words_in_the_package():
    """The course's source texts are cited as a reader expects (Plehn et al. [plehn2022modern], Sec. x),
    never by the team's filing names."""
    hits = [f"{p.relative_to(ROOT)}:{i}: {line.strip()[:80]}" for p in sorted(PACKAGE.rglob("*")) if p.is_file()
            and p.suffix in (".py", ".md", ".txt", ".yml", ".yaml", ".cfg", ".toml")
            for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"seed 00", line, flags=re.I)]
    assert not hits, "\n".join(hits)


# ---- CONTRIBUTING.md -----------------------------------------------------------------------------------

def test_contributing_lists_every_module_and_only_existing_ones():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    listed = set(re.findall(r"^\s*[|*-]?\s*`(hepcourse[/\w.]*\.py)`", text, flags=re.M))
    files = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    assert files - listed == set(), f"modules missing from the package map of CONTRIBUTING.md: {sorted(files - listed)}"
    assert listed - files == set(), f"CONTRIBUTING.md lists modules that do not exist: {sorted(listed - files)}"
    for path in re.findall(r"`((?:tests|lectures|solutions|exercises|book|data)/[\w./-]+)`", text):
        if "NN" not in path and "<" not in path:
            assert (ROOT / path).exists(), f"CONTRIBUTING.md names {path}, which does not exist"
    for target in re.findall(r"`make ([a-z-]+)", text):
        assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), flags=re.M), f"no make target {target}"


# ---- a fresh virtual environment (make check-install) --------------------------------------------------

LIBRARY = ["hepcourse", "hepcourse.config", "hepcourse.train", "hepcourse.losses", "hepcourse.metrics",
           "hepcourse.plot", "hepcourse.models", "hepcourse.physics.jets", "hepcourse.physics.toys",
           "hepcourse.physics.lorentz", "hepcourse.data", "hepcourse.data.registry", "hepcourse.checkpoints"]


@pytest.mark.install
def test_fresh_venv_installs_from_the_constraints_and_imports_every_module(tmp_path):
    """A virtual environment without the system's site-packages; torch first, then the package (not
    editable, no extras) with the pins of constraints.txt, from pip's cache where it can."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    pip = [python, "-m", "pip", "install", "--quiet", "--no-compile", "-c", str(ROOT / "constraints.txt")]
    subprocess.run(pip + ["torch==2.13.0"], check=True, timeout=1800)
    source = tmp_path / "source"                                           # built outside the clone: no build/ there
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "hepcourse", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(pip + [str(source)], check=True, timeout=1800)
    env = {k: v for k, v in os.environ.items() if k not in ("HEPCOURSE_ROOT", "PYTHONPATH", "VIRTUAL_ENV")}
    env["MPLBACKEND"] = "Agg"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # outside a course clone: the library imports, the course folder is a clear error
    code = ("import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]\n"
            "from hepcourse import config\n"
            "try:\n    config.ROOT\nexcept config.CourseRootNotFound as e:\n    print('no root:', e)\n"
            "import hepcourse; print(hepcourse.__version__, hepcourse.__file__)")
    out = subprocess.run([python, "-c", code, *LIBRARY], cwd=outside, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "no root: cannot find the course folder" in out.stdout and VERSION in out.stdout
    assert str(venv) in out.stdout                                          # the installed copy, not the clone
    # with the course folder: every module
    out = subprocess.run([python, "-c", IMPORT_ALL, *_modules()], cwd=outside, env={**env, "HEPCOURSE_ROOT": str(ROOT)},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert subprocess.run([str(venv / "bin" / "hepcourse"), "--help"], env=env, capture_output=True).returncode == 0
