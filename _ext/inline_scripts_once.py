"""Emit each inline ``<script>`` of a page once.

Why: Sphinx 7.4 (the last Sphinx that jupyter-book 1.x accepts) registers a body-only
script (``app.add_js_file(None, body=...)``) twice when an extension adds it after the
HTML builder is initialised: once as filename ``None`` and once, while preparing the
pages, as filename ``''``; the duplicate check compares the two and finds them different
(sphinx-doc/sphinx#13402, fixed in Sphinx 8.2). sphinx-thebe adds
``const THEBE_JS_URL = ...`` that way, so every page threw
``SyntaxError: Identifier 'THEBE_JS_URL' has already been declared``
(sphinx-togglebutton's ``var togglebuttonSelector`` is doubled the same way, silently).

This extension drops the second copy of an identical inline script from each page's
``script_files`` (the list the theme renders), keeping the first one in its place.
Scripts with a ``src`` are left alone: Sphinx already deduplicates those.
"""
from __future__ import annotations

from typing import Any


def _drop_repeated_inline_scripts(app: Any, pagename: str, templatename: str,
                                  context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen_bodies: set[str] = set()
    kept = []
    for script in scripts:
        filename = getattr(script, "filename", script)
        attributes = getattr(script, "attributes", {}) or {}
        body = attributes.get("body")
        if not filename and body is not None:
            if body in seen_bodies:
                continue
            seen_bodies.add(body)
        kept.append(script)
    # In place: the theme and Sphinx hold references to this very list.
    scripts[:] = kept


def setup(app: Any) -> dict:
    # Late priority: run after every extension that adds scripts per page.
    app.connect("html-page-context", _drop_repeated_inline_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
