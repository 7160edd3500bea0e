"""Execute notebooks in place, top to bottom in a fresh kernel, and save their outputs.

    python tools/execute_notebooks.py book/05_rnn_scratch.ipynb [more.ipynb ...]

The stored outputs are what nbval compares the tagged cells against, and what GitHub
shows; run this after changing the package or a notebook (``make notebooks`` does all).
"""
from __future__ import annotations

import pathlib
import sys
import time

import nbformat
from nbclient import NotebookClient


def execute(path: pathlib.Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(paths: list[str]) -> None:
    total = 0.0
    for name in paths:
        seconds = execute(pathlib.Path(name))
        total += seconds
        print(f"{name}: {seconds:.1f} s", flush=True)
    print(f"total: {total:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
