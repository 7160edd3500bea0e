"""Helpers for the book's notebooks: show tested source code, and glue computed values into prose.

``show_source(obj)`` displays the source of a function or class of ``rnncourse`` as read
from the installed package (``inspect.getsource``), so the page shows exactly the code
the tests run. ``glue(name, value)`` stores a value computed in the notebook so the prose
can cite it with ``{glue:text}`name:.2f` ``; outside a Jupyter Book build (Colab, a bare
Jupyter) it falls back to doing nothing.
"""
from __future__ import annotations

import inspect
import pathlib
from typing import Any

__all__ = ["show_source", "source_markdown", "glue"]

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent


def source_markdown(obj: Any) -> str:
    """The source of ``obj`` as a Markdown code block headed by its file and line."""
    lines, first_line = inspect.getsourcelines(obj)
    path = pathlib.Path(inspect.getsourcefile(obj)).resolve()
    try:
        where = "rnncourse/" + path.relative_to(_PACKAGE_ROOT).as_posix()
    except ValueError:
        where = path.name
    code = "".join(lines).rstrip("\n")
    return f"`{where}`, line {first_line}:\n\n```python\n{code}\n```"


def show_source(*objs: Any) -> None:
    """Display the tested source of each object (function, class or method)."""
    from IPython.display import Markdown, display

    for obj in objs:
        display(Markdown(source_markdown(obj)))


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Record ``value`` under ``name`` for ``{glue:...}`` roles in the prose; returns ``value``.

    Uses ``myst_nb.glue`` when it is installed (the book build), otherwise is a no-op
    (plus an ordinary display when ``display=True``).
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as ipy_display
            ipy_display(value)
        return value
    myst_glue(name, value, display=display)
    return value
