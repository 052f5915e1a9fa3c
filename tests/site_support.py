"""Helpers for the website tests (tests/test_site.py): build the quick site, read the TOC, check links.

The site is built once per test run, in quick mode, into its own folder with its own execution
cache (``_build/quick``; the full site of ``make book`` lives in ``_build/html``):

    hepcourse.site.build(quick=True, path_output=_build/quick)   # = hepcourse site --quick ...

so the HTML lands in ``_build/quick/_build/html``. Set ``HEPCOURSE_SITE`` to an HTML folder that
is already built (for example ``_build/html``) to test that one instead, without building.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
QUICK_OUTPUT = ROOT / "_build" / "quick"
QUICK_HTML = QUICK_OUTPUT / "_build" / "html"
BUILD_TIMEOUT_S = 1800

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
INSTALL_HINT = "install chromium (apt-get install chromium)"


# ------------------------------------------------------------------------------------ browser
def chromium_path() -> str | None:
    """The Chromium executable (Debian's package), or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def require_chromium() -> str:
    """The Chromium path; skip the test without it, or fail under CI (CI=true) where it must exist."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"Chromium is missing, and CI must run the website tests: {INSTALL_HINT}", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return path


def launch_args(base: dict) -> dict:
    """pytest-playwright's ``browser_type_launch_args`` for the apt Chromium (skips without it)."""
    args = list(base.get("args", [])) + [a for a in CHROMIUM_ARGS if a not in base.get("args", [])]
    return {**base, "executable_path": require_chromium(), "args": args}


# ------------------------------------------------------------------------------------ build
@dataclass
class Build:
    """The site under test: its HTML folder and, when we built it here, how the build went."""

    html: Path
    returncode: int | None = None       # None: not built by the tests (HEPCOURSE_SITE)
    seconds: float = 0.0
    log: str = ""
    executions: dict = field(default_factory=dict)   # notebook path -> hepcourse.site.Execution

    def log_tail(self, n: int = 4000) -> str:
        return self.log[-n:]

    def failed(self, docname: str) -> bool:
        """Whether the notebook behind ``docname`` failed to execute (its own test reports it)."""
        e = self.executions.get(f"{docname}.ipynb")
        return e is not None and e.status == "failed"


def _progress(line: str) -> None:
    """Progress of the site build, written past pytest's capture (one line per notebook)."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"\n[site] {line.strip()}")
        stream.flush()


def build_site() -> Build:
    """Build the quick site once (or take ``HEPCOURSE_SITE``) and return where it is.

    The build executes every lecture once (two at a time), in quick mode: this is the suite's
    lecture test (``test_lecture_executes``), so no lecture runs twice in a test run.
    """
    given = os.environ.get("HEPCOURSE_SITE", "").strip()
    if given:
        html = Path(given).resolve()
        if not (html / "index.html").exists():
            pytest.fail(f"HEPCOURSE_SITE={given} has no index.html: build the site first", pytrace=False)
        return Build(html=html)
    from hepcourse import site as course_site

    built = course_site.build(quick=True, solutions=True, path_output=QUICK_OUTPUT, jobs=2, report=_progress)
    _progress(f"built in {built.seconds:.0f} s")
    return Build(html=built.html, returncode=built.returncode, seconds=built.seconds, log=built.log,
                 executions={e.notebook: e for e in built.executions})


def build_classroom_site() -> Build:
    """The quick site without the Solutions part (``SOLUTIONS=0``), notebooks not executed."""
    from hepcourse import site as course_site

    start = time.perf_counter()
    built = course_site.build(quick=True, solutions=False, path_output=ROOT / "_build" / "quick-classroom",
                              execute=False)
    return Build(html=built.html, returncode=built.returncode, seconds=time.perf_counter() - start, log=built.log)


# ------------------------------------------------------------------------------------ TOC
GENERATED_TOC = ROOT / "_build" / "toc" / "quick-solutions.yml"   # written by hepcourse.site.build


def toc_docnames(path: Path | None = None) -> list[str]:
    """Every document of a table of contents (root first), as docnames without suffix.

    Default: the one the quick build used (``_toc.yml`` plus the Solutions part), else ``_toc.yml``.
    """
    if path is None:
        path = GENERATED_TOC if GENERATED_TOC.exists() and not os.environ.get("HEPCOURSE_SITE") else ROOT / "_toc.yml"
    toc = yaml.safe_load(Path(path).read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", name) for name in names]


def source_of(docname: str) -> Path:
    for suffix in (".md", ".ipynb"):
        if (ROOT / f"{docname}{suffix}").exists():
            return ROOT / f"{docname}{suffix}"
    raise FileNotFoundError(docname)


# ------------------------------------------------------------------------------------ links
class _Links(HTMLParser):
    """Collects link targets (href/src) and element ids of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.targets: list[tuple[str, str]] = []     # (tag, url)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag in ("a", "link", "area") and attrs.get("href"):
            self.targets.append((tag, attrs["href"]))
        if tag in ("img", "script", "iframe", "source", "video", "audio") and attrs.get("src"):
            self.targets.append((tag, attrs["src"]))


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_links(html: Path) -> list[str]:
    """Internal links of every built page that point to a missing file or a missing anchor."""
    pages = [p for p in sorted(html.rglob("*.html")) if "_static" not in p.relative_to(html).parts]
    parsed = {p: _parse(p) for p in pages}
    problems = []
    for page, links in parsed.items():
        for tag, url in links.targets:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("//", "mailto:", "javascript:", "data:")):
                continue                                  # external (not loaded: checked by the browser test)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html)}: <{tag}> {url}"
            if not target.exists():
                problems.append(f"{where} -> missing file")
                continue
            if parts.fragment and target.suffix == ".html" and target in parsed:
                if unquote(parts.fragment) not in parsed[target].ids:
                    problems.append(f"{where} -> missing anchor #{parts.fragment}")
    return problems


# ------------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StaticServer:
    """``python -m http.server`` on a free local port, serving the built site."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1", "--directory", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("python -m http.server did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
