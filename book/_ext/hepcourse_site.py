"""Small Sphinx fixes for the course website (registered in ``_config.yml``, ``sphinx.local_extensions``).

Duplicate inline scripts. Sphinx 7.4 registers a script that an extension adds *after* the HTML
builder is initialised twice: once directly on the builder (file name ``None``) and once more
in ``prepare_writing`` from the registry (file name ``""``), and the two no longer compare equal.
sphinx-thebe adds its configuration that way (``const THEBE_JS_URL = ...``; Jupyter Book 1
always loads sphinx-thebe), so every page declared the constant twice and the browser logged
``Identifier 'THEBE_JS_URL' has already been declared`` as an uncaught error; sphinx-togglebutton's
``var togglebuttonSelector`` is repeated the same way (harmless, but useless). We drop the
repeats from each page's script list, keeping the first occurrence, so the order is unchanged.
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


def setup(app) -> dict:
    # late priority: run after every extension that adds page-specific assets
    app.connect("html-page-context", drop_repeated_assets, priority=900)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
