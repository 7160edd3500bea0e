"""Build the book from one execution of its notebooks, with execution off.

    python tools/build_book.py [--executed _build/executed] [--build _build]

The notebooks were executed once, either by nbval under ``make test`` (conftest.py,
``--nbval-save``) or by ``tools/execute_notebooks.py --out`` under ``make book``; that run
left ``<executed>/book/<name>.ipynb`` and ``<executed>/run.json``. This script

1. checks that every notebook of ``_toc.yml`` was executed, successfully, in that run
   (its ``metadata["rnncourse"]["run_id"]`` is the run's), and stops with the reason if
   not: a book is never built from committed outputs or from two runs;
2. lays out a source tree in ``<build>/src``: the book's Markdown, figures, configuration
   and extensions, and the executed notebooks in place of the committed ones, with
   ``execute_notebooks: "off"`` in its ``_config.yml``;
3. runs ``jupyter-book build`` on it (``-W --keep-going``) into ``<build>/html``.

Sphinx copies each source notebook to ``html/_sources``, which the download button
serves: the page, its download and the run nbval checked are one and the same.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
# What the book's source tree holds besides the notebooks (see _config.yml).
BOOK_FILES = ["_config.yml", "_toc.yml", "references.bib"]
BOOK_DIRS = ["_ext", "_static", "book"]


def toc_notebooks(toc_file: pathlib.Path) -> list[str]:
    """The notebooks (``book/<name>.ipynb``) that ``_toc.yml`` lists, in its order."""
    found = []

    def walk(node) -> None:
        if isinstance(node, dict):
            name = node.get("file") or node.get("root")
            if name and (ROOT / f"{name}.ipynb").is_file():
                found.append(f"{name}.ipynb")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(toc_file.read_text(encoding="utf-8")))
    return found


def check_run(executed: pathlib.Path, notebooks: list[str]) -> dict:
    """run.json, after checking that it holds a successful execution of every notebook;
    raises RuntimeError naming what is missing."""
    run_file = executed / "run.json"
    if not run_file.is_file():
        raise RuntimeError(f"{run_file} does not exist: execute the notebooks first "
                           "(`make test`, or `make book`, which executes them)")
    run = json.loads(run_file.read_text(encoding="utf-8"))
    problems = []
    for name in notebooks:
        record = run["notebooks"].get(name)
        path = executed / name
        if record is None:
            problems.append(f"{name}: not executed in run {run['run_id']}")
        elif record["status"] != "ok":
            problems.append(f"{name}: {record['status']} in run {run['run_id']} "
                            f"(see {executed / 'reports'})")
        elif not path.is_file():
            problems.append(f"{name}: {path} is missing")
        else:
            meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
            if meta.get("rnncourse", {}).get("run_id") != run["run_id"]:
                problems.append(f"{name}: {path} is not from run {run['run_id']}")
    if problems:
        raise RuntimeError("cannot build the book from this run:\n  " + "\n  ".join(problems))
    return run


def count_executions(log: pathlib.Path, expected: int) -> int:
    """The number of chapter executions that ``log`` records (one line per call of
    ``rnncourse.book.record_device``, which every chapter makes once); raises RuntimeError
    unless it is ``expected``, one per notebook."""
    count = len(log.read_text(encoding="utf-8").splitlines()) if log.is_file() else 0
    if count != expected:
        raise RuntimeError(f"{log} records {count} chapter executions in this run, "
                           f"for {expected} notebooks: each must be executed exactly once")
    print(f"build_book: {count} chapter executions for {expected} notebooks (one each)")
    return count


def stage(executed: pathlib.Path, src: pathlib.Path, notebooks: list[str]) -> None:
    """The book's source tree in ``src``, with the executed notebooks and execution off."""
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    for name in BOOK_FILES:
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__")
    for name in BOOK_DIRS:
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in notebooks:
        shutil.copy2(executed / name, src / name)
    config = yaml.safe_load((src / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    (src / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False),
                                     encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executed", type=pathlib.Path, default=ROOT / "_build/executed")
    parser.add_argument("--build", type=pathlib.Path, default=ROOT / "_build")
    parser.add_argument("--execution-log", type=pathlib.Path, default=None,
                        help="the file $RNNCOURSE_EXECUTION_LOG named during the run: "
                             "check that it records one execution per notebook")
    args = parser.parse_args(argv)
    if args.build.resolve().name != "_build":  # jupyter-book writes <parent>/_build/html
        print("build_book: --build must be a folder named _build", file=sys.stderr)
        return 2
    notebooks = toc_notebooks(ROOT / "_toc.yml")
    try:
        run = check_run(args.executed, notebooks)
        if args.execution_log is not None:
            count_executions(args.execution_log, len(notebooks))
    except RuntimeError as error:
        print(f"build_book: {error}", file=sys.stderr)
        return 1
    src = args.build / "src"
    stage(args.executed, src, notebooks)
    print(f"build_book: {len(notebooks)} notebooks of run {run['run_id']} "
          f"({run['executed_by']}), built with execution off", flush=True)
    # jupyter-book writes to <path-output>/_build/html
    command = [str(pathlib.Path(sys.executable).parent / "jupyter-book"), "build",
               str(src), "--path-output", str(args.build.resolve().parent), "-W",
               "--keep-going"]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
