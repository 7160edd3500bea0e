"""Make each page's download button serve the notebook executed by this build.

``jupyter-book build`` executes every notebook afresh (``execute_notebooks: force``) and
renders the HTML from that run, writing the executed notebook to
``_build/jupyter_execute/<path>.ipynb``. The theme's download button, however, links to
``_build/html/_sources/<path>.ipynb``, which Sphinx copies from the *committed* notebook:
its outputs come from an older run. This post-build step copies the executed notebook
over the one in ``_sources``, so that the page and its download come from one run.

Usage (the Makefile runs it after every build)::

    python tools/fix_downloads.py [BUILD_DIR]     # default: _build

It fails (exit status 1) when a notebook under ``html/_sources`` has no executed
counterpart: the download would then silently serve stale outputs.
"""
from __future__ import annotations

import argparse
import pathlib
import shutil
import sys


def replace_sources_with_executed(build_dir: pathlib.Path) -> list[pathlib.Path]:
    """Copy ``jupyter_execute/**.ipynb`` over ``html/_sources/**.ipynb``; return the copied paths.

    Raises FileNotFoundError when the build folder lacks ``html/_sources`` or when a
    notebook in it has no executed counterpart.
    """
    sources = build_dir / "html" / "_sources"
    executed = build_dir / "jupyter_execute"
    if not sources.is_dir():
        raise FileNotFoundError(f"{sources} does not exist: run `jupyter-book build .` first")
    notebooks = sorted(sources.rglob("*.ipynb"))
    missing = [nb for nb in notebooks if not (executed / nb.relative_to(sources)).is_file()]
    if missing:
        names = ", ".join(str(nb.relative_to(sources)) for nb in missing)
        raise FileNotFoundError(
            f"no executed notebook in {executed} for: {names}; the download buttons would "
            "serve the committed notebooks instead of this build's")
    for nb in notebooks:
        shutil.copyfile(executed / nb.relative_to(sources), nb)
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", default="_build", type=pathlib.Path)
    args = parser.parse_args(argv)
    try:
        copied = replace_sources_with_executed(args.build_dir)
    except FileNotFoundError as error:
        print(f"fix_downloads: {error}", file=sys.stderr)
        return 1
    print(f"fix_downloads: {len(copied)} download(s) now serve this build's executed notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
