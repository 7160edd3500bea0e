"""Save the notebooks that nbval executes, so that the book is built from that very run.

nbval runs every code cell of a notebook in a fresh kernel and compares the cells tagged
``nbval-check-output`` with the committed outputs. With ``--nbval-save DIR`` (``make test``
passes ``--nbval-save _build/executed``) this plugin also keeps what each cell printed and
displayed in that run, and writes one executed copy per notebook:

    DIR/book/<name>.ipynb    the committed notebook with this run's outputs and, in
                             metadata["rnncourse"], {"run_id", "seconds", "executed_by"}
    DIR/run.json             {"run_id", "started", "finished", "executed_by",
                              "notebooks": {"book/<name>.ipynb": {"seconds", "status"}}}

``tools/build_book.py`` then builds the book from DIR with execution off: the pages, their
download buttons and what nbval checked come from one execution. A notebook with a failing
or skipped cell is not written (its status in run.json says why), so a book cannot be built
from a run that did not pass; its traceback goes to DIR/reports/<name>.log.

``tools/execute_notebooks.py --out DIR`` writes the same layout without nbval (``make book``).
"""
from __future__ import annotations

import datetime
import json
import pathlib
import shutil
import time
import uuid

import nbformat
import pytest
from IPython.core.displayhook import DisplayHook

def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nbval-save", metavar="DIR", default=None,
        help="write each notebook as nbval executed it to DIR/book/, with DIR/run.json "
             "(the book is then built from DIR: tools/build_book.py)")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class NotebookSaver:
    """Collects, per notebook, each cell's outputs and outcome; writes the notebook when
    its last cell has run."""

    def __init__(self, out: pathlib.Path, root: pathlib.Path) -> None:
        self.out = out
        self.root = root  # paths in run.json are relative to pytest's rootdir
        self.run_id = uuid.uuid4().hex
        self.started = _now()
        self.notebooks: dict[str, dict] = {}  # relative path -> {"seconds", "status"}
        self._start: dict[str, float] = {}  # relative path -> perf_counter at its first cell
        self._problems: dict[str, list[str]] = {}
        if out.exists():
            shutil.rmtree(out)  # a half-old folder would mix two runs
        (out / "book").mkdir(parents=True)
        self._write_run()

    def _write_run(self) -> None:
        run = {"run_id": self.run_id, "started": self.started, "finished": _now(),
               "executed_by": "nbval", "notebooks": self.notebooks}
        (self.out / "run.json").write_text(json.dumps(run, indent=2), encoding="utf-8")

    def relative(self, notebook_file) -> str:
        path = pathlib.Path(str(notebook_file.fspath)).resolve()
        return path.relative_to(self.root).as_posix()

    def cell_started(self, item) -> None:
        self._start.setdefault(self.relative(item.parent), time.perf_counter())

    def cell_report(self, item, report: pytest.TestReport) -> None:
        if report.skipped:
            problem = f"cell {item.cell_num} skipped"
        elif report.failed:
            problem = f"cell {item.cell_num} failed ({report.when}):\n{report.longreprtext}"
        else:
            return
        self._problems.setdefault(self.relative(item.parent), []).append(problem)

    def notebook_done(self, notebook_file) -> None:
        """Called after the last cell of ``notebook_file`` (an nbval IPyNbFile) has run."""
        name = self.relative(notebook_file)
        seconds = round(time.perf_counter() - self._start.get(name, time.perf_counter()), 2)
        problems = self._problems.get(name, [])
        cells = [i for i in notebook_file.session.items if i.parent is notebook_file]
        code_cells = [c for c in notebook_file.nb.cells if c.cell_type == "code"]
        if not problems and (len(cells) != len(code_cells)
                             or any(getattr(i, "test_outputs", None) is None for i in cells)):
            problems = ["not every cell was run (deselected?): no executed copy"]
        if problems:
            self.notebooks[name] = {"seconds": seconds, "status": "failed"}
            report = self.out / "reports" / (pathlib.Path(name).stem + ".log")
            report.parent.mkdir(exist_ok=True)
            report.write_text("\n\n".join(problems), encoding="utf-8")
        else:
            nb = notebook_file.nb  # nbval's own reading of the committed notebook
            for count, (cell, item) in enumerate(zip(code_cells, cells), start=1):
                cell.outputs = item.test_outputs
                if DisplayHook.semicolon_at_end_of_expression(cell.source):
                    # nbval runs cells with store_history=False, which makes IPython
                    # ignore a closing ';': drop the result it would have hidden
                    cell.outputs = [o for o in cell.outputs
                                    if o.get("output_type") != "execute_result"]
                cell.execution_count = count
                for output in cell.outputs:
                    if output.get("output_type") == "execute_result":
                        output["execution_count"] = count
            nb.metadata["rnncourse"] = {"run_id": self.run_id, "seconds": seconds,
                                        "executed_by": "nbval"}
            path = self.out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
            self.notebooks[name] = {"seconds": seconds, "status": "ok"}
        self._write_run()


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--nbval-save")
    if out:
        config._nbval_saver = NotebookSaver(pathlib.Path(out).resolve(),
                                            pathlib.Path(config.rootpath).resolve())


def _saver_for(item):
    saver = getattr(item.config, "_nbval_saver", None)
    is_cell = type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")
    return saver if is_cell else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    saver = _saver_for(item)
    if saver is not None:
        saver.cell_started(item)  # before setup: the first cell's setup starts the kernel
    yield
    if saver is not None and (nextitem is None or nextitem.parent is not item.parent):
        saver.notebook_done(item.parent)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    saver = _saver_for(item)
    if saver is not None:
        saver.cell_report(item, outcome.get_result())
