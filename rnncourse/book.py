"""Helpers for the book's notebooks: show tested source code, and glue computed values
into prose.

``show_source(obj)`` displays the source of a function or class of ``rnncourse`` as read
from the installed package (``inspect.getsource``), so the page shows exactly the code
the tests run. ``glue(name, value)`` stores a value computed in the notebook so the
prose can cite it with ``{glue:text}`name:.2f` ``; outside a Jupyter Book build (Colab,
a bare Jupyter) it falls back to doing nothing. ``record_device(device)``, called once
in a hidden cell of every chapter, glues the device the chapter ran on and the torch and
CUDA versions (``device_info(device)``); the book's Execution statistics page lists them
per chapter.
"""
from __future__ import annotations

import inspect
import os
import pathlib
import platform
from typing import Any

import torch

__all__ = ["show_source", "source_markdown", "glue", "check", "device_info",
           "record_device", "DEVICE_GLUE_KEYS"]

_PACKAGE_ROOT = pathlib.Path(__file__).resolve().parent


def source_markdown(obj: Any) -> str:
    """The source of ``obj`` as a Markdown code block headed by its file and line."""
    # a decorated function (@torch.no_grad()) would otherwise list the decorator's file
    obj = inspect.unwrap(obj)
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


# The names glued in this kernel, with their values: ``check`` refuses a name never glued.
_GLUED: dict[str, Any] = {}


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Record ``value`` under ``name`` for ``{glue:...}`` roles in the prose; returns
    ``value``.

    Uses ``myst_nb.glue`` when it is installed (the book build), otherwise is a no-op
    (plus an ordinary display when ``display=True``).
    """
    _GLUED[name] = value
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as ipy_display
            ipy_display(value)
        return value
    myst_glue(name, value, display=display)
    return value


def check(name: str, holds: bool, message: str = "") -> None:
    """Assert a claim that the prose makes about the glued value ``name``.

    The book's convention for claims (``tests/test_book_claims.py`` enforces it on every
    summary): a sentence whose truth depends on a measured value cites that value with
    ``{glue:text}`name` `` and a cell of the chapter (usually hidden) holds the claim::

        glue("ch08_gru_ppl", gru_ppl)
        check("ch08_gru_ppl", gru_ppl < rnn_ppl, "the GRU beats the plain RNN")

    Raises KeyError when ``name`` was never glued in this kernel (a typo would otherwise
    check nothing) and AssertionError, naming the claim, when ``holds`` is false.
    """
    if name not in _GLUED:
        raise KeyError(f"check({name!r}): no value was glued under that name")
    if not holds:
        raise AssertionError(f"claim about {name} = {_GLUED[name]!r} does not hold: "
                             f"{message}")


# The glue names record_device writes, read back by the book's _ext/execution_devices.py
# (the device column of the Execution statistics page). Prose may cite them too:
# {glue:text}`rnncourse_device`.
DEVICE_GLUE_KEYS = {"device": "rnncourse_device", "torch": "rnncourse_torch",
                    "cuda": "rnncourse_cuda"}


def _cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), else what ``platform``
    knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_info(device: torch.device | str) -> dict[str, str]:
    """What a run on ``device`` ran on, as strings: ``{"device", "torch", "cuda"}``.

    ``device`` is ``"CPU (<model>, <n> threads)"`` or ``"<GPU name> (cuda:<i>)"``;
    ``torch`` is ``torch.__version__`` (``2.13.0+cpu``, ``2.13.0+cu128``); ``cuda`` is
    the CUDA version torch was built with and cuDNN's, or ``"none"`` for a CPU build.
    Raises TypeError for anything but a ``torch.device`` or a device string, and
    ValueError for a CUDA device this machine does not have.
    """
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError as error:
            raise ValueError("device must name a torch device such as 'cpu' or "
                             f"'cuda:0', got {device!r}") from error
    if not isinstance(device, torch.device):
        raise TypeError(f"device must be a torch.device or a string such as 'cuda:0', "
                        f"got {type(device).__name__}")
    if device.type == "cpu":
        threads = torch.get_num_threads()
        name = f"CPU ({_cpu_name()}, {threads} thread{'' if threads == 1 else 's'})"
    elif device.type == "cuda":
        index = 0 if device.index is None else device.index
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
        name = f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    else:
        raise ValueError(f"device type {device.type!r} is not supported; expected cpu "
                         "or cuda")
    if torch.version.cuda is None:
        cuda = "none"
    else:
        cudnn = torch.backends.cudnn.version()
        cuda = torch.version.cuda + (f", cuDNN {cudnn}" if cudnn else "")
    return {"device": name, "torch": torch.__version__, "cuda": cuda}


def record_device(device: torch.device | str) -> None:
    """Glue the device this chapter ran on, and the torch and CUDA versions, for the
    book.

    Call once per chapter, in a cell tagged ``remove-cell``, after
    ``device = try_gpu()``::

        record_device(device)

    It stores ``rnncourse_device``, ``rnncourse_torch`` and ``rnncourse_cuda`` (see
    ``device_info``) as glue data of the notebook; the Execution statistics page shows
    them per chapter. Where ``$RNNCOURSE_EXECUTION_LOG`` names a file, it also appends a
    line to it: ``make test`` counts those lines to show that each chapter was executed
    once. Returns nothing, so it prints nothing as a cell's last line.
    """
    info = device_info(device)
    for field, key in DEVICE_GLUE_KEYS.items():
        glue(key, info[field])
    log = os.environ.get("RNNCOURSE_EXECUTION_LOG")
    if log:  # `make test` counts the chapters executed: each must run exactly once
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{os.getcwd()} pid {os.getpid()} {info['device']}\n")
