"""Small Sphinx fixes for the course website (registered in ``_config.yml``, ``sphinx.local_extensions``).

Duplicate inline scripts. Sphinx 7.4 registers a script that an extension adds *after* the HTML
builder is initialised twice: once directly on the builder (file name ``None``) and once more
in ``prepare_writing`` from the registry (file name ``""``), and the two no longer compare equal.
sphinx-thebe adds its configuration that way (``const THEBE_JS_URL = ...``; Jupyter Book 1
always loads sphinx-thebe), so every page declared the constant twice and the browser logged
``Identifier 'THEBE_JS_URL' has already been declared`` as an uncaught error; sphinx-togglebutton's
``var togglebuttonSelector`` is repeated the same way (harmless, but useless). We drop the
repeats from each page's script list, keeping the first occurrence, so the order is unchanged.

Chapter numbers from 00. The course's chapters are 00, 01, 02, ... (their captions in ``_toc.yml``
say so), but Sphinx numbers the first numbered chapter 1: chapter 00 would be "1." and chapter 01
"2.". When chapter 00's pages (``*/ch00_*``) are numbered 1, we subtract one from the chapter
component of every section and figure number after Sphinx assigns them (it reassigns them on
every build, in ``env-get-updated``; we run after it in the same event, so the shift is applied
exactly once per build).
"""

from __future__ import annotations

from typing import Any


def _asset_key(asset: Any) -> tuple:
    filename = getattr(asset, "filename", asset) or ""
    attributes = getattr(asset, "attributes", {}) or {}
    return (str(filename), getattr(asset, "priority", None),
            tuple(sorted((str(k), str(v)) for k, v in attributes.items())))


def _drop_repeats(assets: list) -> None:
    seen: set[tuple] = set()
    unique = []
    for asset in assets:
        key = _asset_key(asset)
        if key not in seen:
            seen.add(key)
            unique.append(asset)
    assets[:] = unique


def drop_repeated_assets(app, pagename, templatename, context, doctree) -> None:
    for name in ("script_files", "css_files"):
        assets = context.get(name)
        if isinstance(assets, list):
            _drop_repeats(assets)


def _shift(number):
    return (number[0] - 1,) + tuple(number[1:]) if number else number


def number_chapters_from_zero(app, env):
    secnumbers = getattr(env, "toc_secnumbers", {})
    firsts = {number[0] for doc, numbers in secnumbers.items() if "/ch00_" in doc for number in numbers.values() if number}
    if firsts != {1}:   # no chapter 00 (Sphinx reassigns all numbers on every build, so this runs once per build)
        return []
    for numbers in secnumbers.values():
        for anchor, number in numbers.items():
            numbers[anchor] = _shift(number)
    # the numbers are also stored on the table-of-contents references and the page titles
    from docutils import nodes

    for doc in secnumbers:
        for ref in env.tocs[doc].findall(nodes.reference):
            if ref.get("secnumber"):
                ref["secnumber"] = list(_shift(ref["secnumber"]))
        title = env.titles.get(doc)
        if title is not None and title.get("secnumber"):
            title["secnumber"] = list(_shift(title["secnumber"]))
    for figtypes in getattr(env, "toc_fignumbers", {}).values():
        for ids in figtypes.values():
            for fig_id, number in ids.items():
                if len(number) > 1:
                    ids[fig_id] = _shift(number)
    return sorted(env.found_docs)   # every page shows numbers in its navigation: rewrite them all


def setup(app) -> dict:
    # after Sphinx's toctree collector, which (re)assigns all numbers in the same event
    app.connect("env-get-updated", number_chapters_from_zero, priority=900)
    # late priority: run after every extension that adds page-specific assets
    app.connect("html-page-context", drop_repeated_assets, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
