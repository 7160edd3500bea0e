"""Execute notebooks top to bottom in a fresh kernel, in place or into a build folder.

    python tools/execute_notebooks.py book/05_rnn_scratch.ipynb [more.ipynb ...]
    python tools/execute_notebooks.py --out _build/executed book/*.ipynb

In place (``make notebooks``): the stored outputs are what nbval compares the tagged cells
against, and what GitHub shows; run this after changing the package or a notebook.

With ``--out DIR`` (``make book``): the committed notebooks stay as they are, and the
executed copies go to ``DIR/<path>`` (the notebook's path from the working directory:
``DIR/book/<name>.ipynb`` under ``make book``) with ``DIR/run.json``, the layout that
nbval writes under ``make test`` (see conftest.py) and that ``tools/build_book.py`` builds
the book from. A notebook that raises stops the run: no book is built from a failed run.
"""
from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import shutil
import sys
import time
import uuid

import nbformat
from nbclient import NotebookClient

def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def execute(path: pathlib.Path, timeout: int = 600) -> tuple[nbformat.NotebookNode, float]:
    """Run ``path`` in a fresh kernel (working directory: its folder); the executed
    notebook and the seconds it took, kernel start included."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path)
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="write executed copies to OUT/book/ with OUT/run.json "
                             "instead of overwriting the notebooks")
    args = parser.parse_args(argv)
    run = {"run_id": uuid.uuid4().hex, "started": _now(), "finished": None,
           "executed_by": "nbclient", "notebooks": {}}
    if args.out is not None:
        if args.out.exists():
            shutil.rmtree(args.out)  # never mix two runs
        (args.out / "book").mkdir(parents=True)
    total = 0.0
    for path in args.notebooks:
        nb, seconds = execute(path)
        total += seconds
        print(f"{path}: {seconds:.1f} s", flush=True)
        if args.out is None:
            nbformat.write(nb, path)
            continue
        name = path.resolve().relative_to(pathlib.Path.cwd().resolve()).as_posix()
        nb.metadata["rnncourse"] = {"run_id": run["run_id"], "seconds": round(seconds, 2),
                                    "executed_by": "nbclient"}
        nbformat.write(nb, args.out / name)
        run["notebooks"][name] = {"seconds": round(seconds, 2), "status": "ok"}
        run["finished"] = _now()
        (args.out / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")
    print(f"total: {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
