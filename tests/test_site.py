"""The website, built in quick mode and opened from disk in headless Chromium; and the lectures.

One build per run (``_build/quick``; or the HTML folder in ``HEPCOURSE_SITE``), one browser for
the whole module. The build executes every lecture once, in quick mode, and
``test_lecture_executes[...]`` reports each lecture's outcome (with its traceback): a lecture that
fails fails its own test, and its page is left out of the browser checks, which still run on every
other page. Pages are opened as ``file://`` URLs, as a reader does after ``make book``. Without
Chromium the browser tests are skipped (and fail under ``CI=true``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import nbformat
import pytest
import yaml

import site_support as ss

pytestmark = [pytest.mark.site, pytest.mark.timeout(2400)]   # the module fixture builds the site (every lecture)

MATHJAX_DONE = ("() => !window.MathJax || !window.MathJax.startup || !window.MathJax.startup.promise"
                " || window.MathJax.startup.promise.then(() => true)")
SEARCH_DONE = ("() => { const s = document.querySelector('#search-results .search-summary');"
               " return s !== null && /found/i.test(s.textContent); }")
SEARCH_TERM = "pseudorapidity"   # appears in the first lecture (chapter 00: collider coordinates)


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def site() -> ss.Build:
    return ss.build_site()


@pytest.fixture(scope="module")
def html(site):
    assert (site.html / "index.html").exists(), f"the site was not built:\n{site.log_tail()}"
    return site.html


@pytest.fixture(scope="module")
def docs(site) -> list[str]:
    return ss.toc_docnames()


LECTURES = [d for d in ss.toc_docnames(ss.ROOT / "_toc.yml") if d.startswith("lectures/")]


@pytest.fixture(scope="module")
def lectures(docs, site):
    """The lecture pages whose notebook executed (a failed one is reported by its own test)."""
    found = [d for d in docs if d.startswith("lectures/")]
    assert found, "the TOC lists no lecture"
    return [d for d in found if not site.failed(d)]


@pytest.fixture(scope="module")
def exercises(docs):
    found = [d for d in docs if d.startswith("exercises/")]
    assert found, "the TOC lists no exercise"
    return found


@pytest.fixture(scope="module")
def chapter_pages(docs):
    found = [d for d in docs if re.fullmatch(r"book/ch\d\d_\w+", d)]
    assert found, "the TOC lists no chapter page (book/chNN_slug)"
    return found


class Visit:
    """One page opened in a fresh browser context (empty storage: a first-time visitor)."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.remote: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} ({r.failure})"))
        self.page.on("request", self._request)
        self.local_http = urlsplit(url).scheme == "http"
        try:
            self.page.goto(url, wait_until="load")
            self.page.wait_for_function(MATHJAX_DONE, timeout=15_000)
        except Exception as err:  # noqa: BLE001  (a page that does not load is reported, not raised)
            self.errors.append(f"did not load: {err}")

    def _request(self, request):
        scheme = urlsplit(request.url).scheme
        if scheme in ("file", "data") or (self.local_http and request.url.startswith("http://127.0.0.1:")):
            return
        self.remote.append(request.url)

    def close(self):
        if self.context is not None:
            self.context.close()
            self.context = None


@dataclass
class Rendered:
    """What a reader's browser got for one page (recorded once, checked by several tests)."""

    errors: list[str]
    remote: list[str]
    n_math: int = 0
    images: list[dict] = field(default_factory=list)
    text: str = ""
    code: list[str] = field(default_factory=list)


IMAGES_JS = ("els => els.map(e => ({src: e.getAttribute('src'), ok: e.complete && e.naturalWidth > 0,"
             " alt: (e.getAttribute('alt') || '').trim()}))")


@pytest.fixture(scope="module")
def rendered(browser, html, docs) -> dict[str, Rendered]:
    """Open every page of the TOC (and index, search, genindex) once, from disk, and record it."""
    out = {}
    for rel in [f"{d}.html" for d in docs] + ["index.html", "search.html", "genindex.html"]:
        path = html / rel
        if not path.exists():
            out[rel] = Rendered(errors=[f"{rel} was not built"], remote=[])
            continue
        v = Visit(browser, path.as_uri())
        r = Rendered(errors=v.errors, remote=v.remote)
        if not v.errors or not v.errors[-1].startswith("did not load"):
            r.n_math = v.page.locator("mjx-container").count()
            r.images = v.page.eval_on_selector_all("article img, main img", IMAGES_JS)
            r.text = v.page.locator("body").inner_text()
            r.code = v.page.locator("div.cell pre").all_inner_texts()
        v.close()
        out[rel] = r
    return out


@pytest.fixture
def visit(browser):
    opened = []

    def _open(url: str) -> Visit:
        v = Visit(browser, url)
        opened.append(v)
        return v

    yield _open
    for v in opened:
        v.close()


# ------------------------------------------------------------------------------------ lectures
@pytest.mark.parametrize("lecture", LECTURES)
def test_lecture_executes(site, lecture):
    """Each lecture runs top to bottom in quick mode, its closing asserts included."""
    if site.returncode is None:
        pytest.skip(f"testing the site in HEPCOURSE_SITE={site.html}; the lectures were not executed here")
    run = site.executions.get(f"{lecture}.ipynb")
    assert run is not None, f"{lecture} was not executed by the site build"
    if run.status == "failed":
        pytest.fail(f"{lecture}.ipynb failed after {run.seconds:.0f} s:\n{run.error[-4000:]}", pytrace=False)
    print(f"{lecture}: {run.status} in {run.seconds:.1f} s")


# ------------------------------------------------------------------------------------ build
def test_build_succeeds_with_warnings_as_errors(site):
    if site.returncode is None:
        pytest.skip(f"testing the site in HEPCOURSE_SITE={site.html}; it was not built here")
    reports = sorted(site.html.glob("reports/*.log"))
    assert site.returncode == 0, (
        f"`jupyter-book build . -W --keep-going` failed (rc {site.returncode}) after {site.seconds:.0f} s; "
        f"notebook tracebacks: {[str(r) for r in reports]}\n{site.log_tail()}")
    print(f"quick site built in {site.seconds:.1f} s")


def test_internal_links_resolve(html):
    broken = ss.broken_links(html)
    assert not broken, "broken internal links:\n" + "\n".join(broken[:40])


def test_bibliography_page_lists_the_references(html, docs):
    bib_pages = [d for d in docs if ss.source_of(d).suffix == ".md" and "{bibliography}" in ss.source_of(d).read_text()]
    assert bib_pages, "no page of the TOC has a {bibliography} directive"
    text = (html / f"{bib_pages[0]}.html").read_text()
    entries = re.findall(r'role="doc-biblioentry"', text)
    n_bib = len(re.findall(r"^@\w+\s*\{", (ss.ROOT / "book" / "references.bib").read_text(), flags=re.M))
    assert len(entries) >= n_bib > 0, f"{bib_pages[0]}.html lists {len(entries)} references, references.bib has {n_bib}"


# ------------------------------------------------------------------------------------ browser
def test_every_page_loads_without_errors_or_remote_requests(rendered):
    problems = {rel: r.errors + [f"remote request: {u}" for u in r.remote]
                for rel, r in rendered.items() if r.errors or r.remote}
    assert not problems, "pages with console errors or non-local requests:\n" + "\n".join(
        f"  {page}: {msgs}" for page, msgs in problems.items())


def test_math_is_typeset(rendered, docs, lectures, chapter_pages):
    for doc in (docs[0], chapter_pages[0], lectures[0]):
        assert rendered[f"{doc}.html"].n_math > 0, (
            f"{doc}.html: no MathJax output (mjx-container); is MathJax served from _static/mathjax?")


def test_lecture_figures_load_and_have_alt_text(rendered, lectures):
    for doc in lectures:
        images = rendered[f"{doc}.html"].images
        assert images, f"{doc}.html shows no figure"
        unloaded = [i["src"] for i in images if not i["ok"]]
        no_alt = [i["src"] for i in images if not i["alt"]]
        assert not unloaded, f"{doc}.html: images not loaded: {unloaded}"
        assert not no_alt, f"{doc}.html: images without alt text: {no_alt}"


def _search_results(v) -> list[str]:
    v.page.wait_for_function(SEARCH_DONE, timeout=15_000)
    return v.page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.getAttribute('href'))")


def test_search_from_disk_finds_the_lecture(html, lectures, visit):
    v = visit((html / "search.html").as_uri() + f"?q={SEARCH_TERM}")
    hits = [h.split("?")[0].split("#")[0] for h in _search_results(v)]
    assert f"{lectures[0]}.html" in hits, f"searching {SEARCH_TERM!r} from disk: {hits}"
    assert not v.errors, v.errors


def test_search_over_http_finds_the_lecture(html, lectures, visit):
    server = ss.StaticServer(html)
    try:
        v = visit(f"{server.url}/search.html?q={SEARCH_TERM}")
        hits = [h.split("?")[0].split("#")[0] for h in _search_results(v)]
        assert f"{lectures[0]}.html" in hits, f"searching {SEARCH_TERM!r} over http: {hits}"
        assert not v.errors and not v.remote, v.errors + v.remote
    finally:
        server.close()


SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def test_exercise_page_shows_instructions_and_stubs(rendered, exercises):
    for doc in exercises:
        nb = nbformat.read(ss.source_of(doc), as_version=4)
        headings = [line.lstrip("#").strip() for c in nb.cells if c.cell_type == "markdown"
                    for line in c.source.splitlines() if re.match(r"#{1,3} ", line)]
        n_stubs = sum(c.source.count("raise NotImplementedError()") for c in nb.cells if c.cell_type == "code")
        assert headings and n_stubs, f"{doc}: the release has no headings or no stubs"
        page = rendered[f"{doc}.html"]
        text = page.text.translate(SMART_QUOTES)       # Sphinx typesets ' and " as curly quotes
        missing = [h for h in headings if re.sub(r"[`*_]", "", h.split("$")[0]).strip()[:30] not in text]
        shown = sum(t.count("raise NotImplementedError()") for t in page.code)
        assert not missing, f"{doc}.html does not show the headings {missing}"
        assert shown == n_stubs, f"{doc}.html shows {shown} stubs `raise NotImplementedError()`, the release has {n_stubs}"


def test_intro_shows_the_course_version(rendered, docs):
    config = yaml.safe_load((ss.ROOT / "_config.yml").read_text())
    version = config["parse"]["myst_substitutions"]["version"]
    package = tomllib.loads((ss.ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version == package, f"_config.yml says version {version}, pyproject.toml {package}"
    assert f"version {version}" in rendered[f"{docs[0]}.html"].text, f"version {version} is not on the front page"


def test_solutions_part_shows_solutions_without_hidden_tests(site, html, docs):
    solutions = [d for d in docs if d.startswith("book/solutions/")]
    assert solutions, "the default build (SOLUTIONS=1) has no Solutions part"
    for doc in solutions:
        page = (html / f"{doc}.html").read_text()
        code = " ".join(re.sub(r"<[^>]+>", "", m) for m in re.findall(r'<div class="highlight[^"]*">(.*?)</div>', page, re.S))
        assert "def " in code and "HIDDEN TESTS" not in page and "BEGIN SOLUTION" not in page, doc
        assert "raise NotImplementedError()" not in code, f"{doc}: a solution page still has the exercise's stubs"
        if site.executions.get(f"{doc}.ipynb"):      # the quick build of the tests renders solutions unexecuted
            assert "passed" in page, f"{doc}: the visible tests' output (executed solution) is missing"


def test_classroom_build_has_no_solutions_part():
    built = ss.build_classroom_site()
    assert built.returncode == 0, built.log_tail()
    assert not (built.html / "book" / "solutions").exists()
    index = (built.html / "index.html").read_text()
    assert "Solutions" not in index and "solutions_intro" not in index
    assert (built.html / "exercises" / "ch01_classification" / "ch01_classification.html").exists()
