"""record_device/device_info (rnncourse.book) and the book's device table (_ext/execution_devices.py).

The table test builds a two-notebook Sphinx project with MyST-NB, exactly as the book is
built: the notebooks are executed by the build, one calls record_device and one does not.
"""
import json
import pathlib
import platform
import subprocess
import sys

import nbformat
import pytest
import torch

from rnncourse.book import DEVICE_GLUE_KEYS, device_info, record_device

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_device_info_cpu_names_the_build():
    info = device_info(torch.device("cpu"))
    assert set(info) == {"device", "torch", "cuda"}
    threads = torch.get_num_threads()
    assert info["device"].startswith("CPU (")
    assert info["device"].endswith(f", {threads} thread{'' if threads == 1 else 's'})")
    assert info["torch"] == torch.__version__
    assert info["cuda"] == ("none" if torch.version.cuda is None else info["cuda"])
    assert device_info("cpu") == info


@pytest.mark.parametrize("bad, error", [(3, TypeError), (None, TypeError), ("gpu", ValueError),
                                        ("meta", ValueError)])
def test_device_info_rejects_bad_devices(bad, error):
    with pytest.raises(error, match="device"):
        device_info(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_device_info_rejects_a_missing_gpu():
    with pytest.raises(ValueError, match="0 CUDA device"):
        device_info("cuda:0")


def test_record_device_returns_nothing_and_rejects_bad_input():
    assert record_device("cpu") is None  # a bare last line prints nothing
    with pytest.raises(TypeError):
        record_device(0)


def _notebook(path: pathlib.Path, source: str) -> None:
    """A chapter whose one code cell is hidden (`remove-cell`), as the chapters' record_device cells are."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["remove-cell"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), cell]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _build(src: pathlib.Path, out: pathlib.Path) -> subprocess.CompletedProcess:
    """The book's build: every Sphinx warning is an error (-W)."""
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going",
                           str(src), str(out)],
                          capture_output=True, text=True, timeout=300, cwd=src)


def test_execution_page_shows_the_device_of_each_chapter(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(REPO / '_ext')!r})\n"
        "extensions = ['myst_nb', 'execution_devices']\n"
        "nb_execution_mode = 'force'\n"
        "exclude_patterns = ['_build']\n")
    (src / "index.md").write_text("# Book\n\n```{toctree}\nrecorded\nexecution\n```\n")
    (src / "execution.md").write_text("# Execution statistics\n\n```{device-exec-table}\n```\n")
    _notebook(src / "recorded.ipynb",
              "import torch\nfrom rnncourse.book import record_device\nrecord_device(torch.device('cpu'))")
    result = _build(src, tmp_path / "html")
    assert result.returncode == 0, result.stderr
    glue = json.loads((tmp_path / "jupyter_execute" / "recorded.glue.json").read_text())
    assert set(DEVICE_GLUE_KEYS.values()) <= set(glue)
    page = (tmp_path / "html" / "execution.html").read_text(encoding="utf-8")
    expected = device_info("cpu")
    for column in ("Page", "Device", "PyTorch", "CUDA", "Run time (s)"):
        assert f"<p>{column}</p>" in page
    # The kernel may run a different number of threads than this process: compare the CPU's name.
    assert "<p>" + expected["device"].rsplit(",", 1)[0] + ", " in page
    assert f"<p>{expected['torch']}</p>" in page and f"<p>{expected['cuda']}</p>" in page
    assert 'href="recorded.html"' in page

    # A chapter that forgets record_device is reported, so `-W` fails the book build.
    (src / "index.md").write_text("# Book\n\n```{toctree}\nrecorded\nforgot\nexecution\n```\n")
    _notebook(src / "forgot.ipynb", "x = 1 + 1")
    result = _build(src, tmp_path / "html2")
    assert result.returncode != 0
    assert "forgot: the notebook did not call rnncourse.book.record_device" in result.stderr
    page = (tmp_path / "html2" / "execution.html").read_text(encoding="utf-8")
    assert "<p>not recorded</p>" in page
