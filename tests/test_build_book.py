"""One execution per notebook: nbval's run is saved (conftest.py, --nbval-save), the book is
built from it (tools/build_book.py), and the browser test ties the pages to it
(tools/browser_test.py's check_one_run). Each runs here on small notebooks of its own."""
import json
import os
import pathlib
import subprocess
import sys

import nbformat
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

import browser_test  # noqa: E402
import build_book  # noqa: E402

# The notebook prints a value that no stored output can predict, and writes it to a file:
# the saved notebook must show this run's value.
FRESH = ("import uuid, pathlib\nvalue = uuid.uuid4().hex\n"
         "pathlib.Path('value.txt').write_text(value)\nprint(value)")


def _notebook(path: pathlib.Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def _nbval(root: pathlib.Path, out: pathlib.Path, *notebooks: pathlib.Path):
    """pytest with nbval and the repository's conftest.py as a plugin, rooted at ``root``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "--rootdir", str(root), "--nbval-lax", "--nbval-save", str(out), "-q",
         *map(str, notebooks)],
        capture_output=True, text=True, timeout=300, cwd=root, env=env)


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    (root / "book").mkdir()
    _notebook(root / "book" / "good.ipynb", [FRESH, "x = 41\nx + 1", "x + 1;", "x + 2  # shown"])
    _notebook(root / "book" / "bad.ipynb", ["print('before')", "1 / 0"])
    result = _nbval(root, root / "executed", root / "book" / "good.ipynb",
                    root / "book" / "bad.ipynb")
    return root, result


def test_nbval_saves_the_run_it_checked(saved_run):
    root, result = saved_run
    assert result.returncode == 1, result.stdout  # bad.ipynb fails
    run = json.loads((root / "executed" / "run.json").read_text())
    assert run["executed_by"] == "nbval" and len(run["run_id"]) == 32
    assert run["notebooks"]["book/good.ipynb"]["status"] == "ok"
    assert run["notebooks"]["book/good.ipynb"]["seconds"] > 0
    nb = nbformat.read(root / "executed" / "book" / "good.ipynb", as_version=4)
    assert nb.metadata["rnncourse"]["run_id"] == run["run_id"]
    cells = [c for c in nb.cells if c.cell_type == "code"]
    # this run's value, not a stored one (the committed notebook had no outputs at all)
    assert cells[0].outputs[0]["text"].strip() == (root / "book" / "value.txt").read_text()
    assert [c.execution_count for c in cells] == [1, 2, 3, 4]
    assert cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert cells[1].outputs[0]["execution_count"] == 2
    assert cells[2].outputs == []  # a closing ';' hides the result, as in Jupyter
    assert cells[3].outputs[0]["data"]["text/plain"] == "43"  # a comment is no ';'
    nbformat.validate(nb)


def test_a_failing_notebook_is_not_saved_and_leaves_a_report(saved_run):
    root, _ = saved_run
    run = json.loads((root / "executed" / "run.json").read_text())
    assert run["notebooks"]["book/bad.ipynb"]["status"] == "failed"
    assert not (root / "executed" / "book" / "bad.ipynb").exists()
    assert "ZeroDivisionError" in (root / "executed" / "reports" / "bad.log").read_text()


def test_execute_notebooks_writes_the_same_layout(tmp_path):
    (tmp_path / "book").mkdir()
    _notebook(tmp_path / "book" / "good.ipynb", [FRESH])
    out = tmp_path / "executed"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "execute_notebooks.py"),
                             "--out", str(out), "book/good.ipynb"],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["executed_by"] == "nbclient"
    assert run["notebooks"]["book/good.ipynb"]["status"] == "ok"
    nb = nbformat.read(out / "book" / "good.ipynb", as_version=4)
    assert nb.metadata["rnncourse"]["run_id"] == run["run_id"]
    assert nb.cells[1].outputs[0]["text"].strip() == (tmp_path / "book" / "value.txt").read_text()
    # the committed notebook is left as it was
    assert nbformat.read(tmp_path / "book" / "good.ipynb", as_version=4).cells[1].outputs == []


def test_the_book_is_built_only_from_one_successful_run(saved_run, tmp_path):
    root, _ = saved_run
    executed = root / "executed"
    assert build_book.check_run(executed, ["book/good.ipynb"])["notebooks"]
    with pytest.raises(RuntimeError, match="bad.ipynb: failed"):
        build_book.check_run(executed, ["book/good.ipynb", "book/bad.ipynb"])
    with pytest.raises(RuntimeError, match="other.ipynb: not executed"):
        build_book.check_run(executed, ["book/other.ipynb"])
    with pytest.raises(RuntimeError, match="run.json does not exist"):
        build_book.check_run(tmp_path, ["book/good.ipynb"])
    # a copy from another run is refused
    stale = tmp_path / "stale"
    (stale / "book").mkdir(parents=True)
    run = json.loads((executed / "run.json").read_text())
    (stale / "run.json").write_text(json.dumps(dict(run, run_id="0" * 32)))
    (stale / "book" / "good.ipynb").write_bytes((executed / "book" / "good.ipynb").read_bytes())
    with pytest.raises(RuntimeError, match="is not from run 0000"):
        build_book.check_run(stale, ["book/good.ipynb"])


def test_the_toc_lists_every_chapter_notebook():
    notebooks = build_book.toc_notebooks(REPO / "_toc.yml")
    assert len(notebooks) == len(set(notebooks))
    assert set(notebooks) == {f"book/{p.name}" for p in (REPO / "book").glob("*.ipynb")}


def test_executions_are_counted(tmp_path):
    log = tmp_path / "executions.log"
    with pytest.raises(RuntimeError, match="records 0 chapter executions"):
        build_book.count_executions(log, 2)
    log.write_text("a\nb\nc\n")
    with pytest.raises(RuntimeError, match="records 3 chapter executions in this run, for 2"):
        build_book.count_executions(log, 2)
    assert build_book.count_executions(log, 3) == 3


def test_record_device_appends_to_the_execution_log(tmp_path, monkeypatch):
    from rnncourse.book import record_device

    log = tmp_path / "executions.log"
    monkeypatch.setenv("RNNCOURSE_EXECUTION_LOG", str(log))
    record_device("cpu")
    record_device("cpu")
    assert len(log.read_text().splitlines()) == 2


def test_the_browser_test_ties_downloads_and_statistics_to_the_run(tmp_path):
    run_id = "a" * 32
    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"run_id": run_id}))
    html = tmp_path / "html"
    (html / "_sources" / "book").mkdir(parents=True)
    (html / "book").mkdir()

    def download(name: str, rid: str) -> None:
        nb = nbformat.v4.new_notebook()
        nb.metadata["rnncourse"] = {"run_id": rid}
        nbformat.write(nb, html / "_sources" / "book" / name)

    download("one.ipynb", run_id)
    download("two.ipynb", run_id)
    (html / "book" / "execution.html").write_text(f"<p>{run_id[:12]}</p>" * 2)
    assert browser_test.check_one_run(html, run_file) == []
    download("two.ipynb", "b" * 32)
    (problem,) = browser_test.check_one_run(html, run_file)
    assert "two.ipynb: the download comes from run bbbb" in problem
    download("two.ipynb", run_id)
    (html / "book" / "execution.html").write_text(f"<p>{run_id[:12]}</p>")
    (problem,) = browser_test.check_one_run(html, run_file)
    assert "on 1 rows, not on each of the 2 notebooks" in problem
    assert "does not exist" in browser_test.check_one_run(html, tmp_path / "none.json")[0]
