"""Sphinx extension: the Execution statistics table, with the device each chapter ran on.

Every chapter calls ``rnncourse.book.record_device(device)`` in a hidden cell, which glues
``rnncourse_device``, ``rnncourse_torch`` and ``rnncourse_cuda`` (``DEVICE_GLUE_KEYS``).
MyST-NB writes each executed notebook's glue data to ``<output_folder>/<docname>.glue.json``
and its execution record (run time, success) to the build environment. The directive

    ```{device-exec-table}
    ```

is replaced, once every document has been read and executed (a post-transform), by a table
with one row per executed notebook: document, device, PyTorch, CUDA, run time, status and
the run it comes from, then the total run time. The book is built with execution off from
one recorded run (tools/build_book.py): each notebook's ``metadata["rnncourse"]`` holds
that run's ``run_id`` and the notebook's ``seconds``; a build that executes (MyST-NB's
own record) is listed too. A
notebook that never called ``record_device`` gets a warning (an error under ``-W``), so a
chapter cannot silently drop out of the record. (In a build that executes nothing, the
notebooks' stored records are listed, with no run time.)

Registered in ``_config.yml``: ``sphinx: local_extensions: {execution_devices: _ext}``.
"""
from __future__ import annotations

import ast
import json
import pathlib
import posixpath

from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from myst_nb.sphinx_ import NbMetadataCollector

from rnncourse.book import DEVICE_GLUE_KEYS

LOGGER = logging.getLogger(__name__)
# The key MyST-NB's own exec table sets on a document: when a notebook is re-executed,
# documents carrying it are rebuilt, so the table is never stale in an incremental build.
HAS_EXEC_TABLE = "has_exec_table"
COLUMNS = ["Page", "Device", "PyTorch", "CUDA", "Run time (s)", "Status", "Run"]


def read_run_record(env, docname: str) -> dict:
    """``metadata["rnncourse"]`` of a notebook: ``{"run_id", "seconds", "executed_by"}``,
    written by the one execution the book is built from (conftest.py under ``make test``,
    tools/execute_notebooks.py under ``make book``); empty for a page that is no notebook
    or a notebook that holds none."""
    path = pathlib.Path(env.doc2path(docname))
    if path.suffix != ".ipynb" or not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))["metadata"].get("rnncourse", {})


class DeviceExecTableNode(nodes.General, nodes.Element):
    """Placeholder for the table, replaced in ``DeviceExecTableTransform``."""


class DeviceExecTable(SphinxDirective):
    """``{device-exec-table}``: where the table goes."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, HAS_EXEC_TABLE, True)
        return [DeviceExecTableNode()]


def read_device_glue(glue_file: pathlib.Path) -> dict[str, str] | None:
    """``{"device", "torch", "cuda"}`` from one notebook's glue JSON, or None if not recorded."""
    if not glue_file.is_file():
        return None
    glue = json.loads(glue_file.read_text(encoding="utf-8"))
    if DEVICE_GLUE_KEYS["device"] not in glue:
        return None
    info = {}
    for field, key in DEVICE_GLUE_KEYS.items():
        text = glue.get(key, {}).get("data", {}).get("text/plain", "")
        try:  # a glued str is stored as its repr: "'NVIDIA H200 (cuda:0)'"
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        info[field] = str(value)
    return info


def _cell(content: nodes.Node | str) -> nodes.entry:
    paragraph = nodes.paragraph()
    paragraph += nodes.Text(content) if isinstance(content, str) else content
    return nodes.entry("", paragraph)


def make_table(env, parent_docname: str) -> nodes.table:
    output_folder = pathlib.Path(env.mystnb_config.output_folder)
    table = nodes.table(classes=["colwidths-auto"])
    tgroup = nodes.tgroup(cols=len(COLUMNS))
    table += tgroup
    for _ in COLUMNS:
        tgroup += nodes.colspec(colwidth=1)
    header = nodes.row()
    for name in COLUMNS:
        header += _cell(name)
    tgroup += nodes.thead("", header)
    body = nodes.tbody()
    tgroup += body
    metadata = NbMetadataCollector.get_doc_data(env)
    total = 0.0
    for docname in sorted(metadata):
        exec_data = metadata[docname].get("exec_data") or {}
        record = read_run_record(env, docname)
        recorded = DEVICE_GLUE_KEYS["device"] in (metadata[docname].get("glue") or [])
        if not exec_data and not record and not recorded:
            continue  # not a notebook, or one neither executed nor holding a record
        info = read_device_glue(output_folder.joinpath(*(docname + ".glue.json").split("/")))
        if info is None:
            LOGGER.warning(f"{docname}: the notebook did not call rnncourse.book.record_device"
                           "(device), so the Execution statistics cannot say where it ran",
                           location=docname, type="rnncourse", subtype="device")
            info = {"device": "not recorded", "torch": "", "cuda": ""}
        link = pending_xref(refdoc=parent_docname, refdomain="std", reftype="doc",
                            reftarget=posixpath.relpath(docname, posixpath.dirname(parent_docname)),
                            refexplicit=True, refwarn=True, classes=["xref", "doc"])
        title = env.titles.get(docname)  # the page's title, as the table of contents shows it
        link += nodes.inline(text=title.astext() if title is not None else docname)
        # a build from one recorded run (execution off) reads the run's own times
        runtime = record.get("seconds", exec_data.get("runtime"))
        succeeded = bool(record) or exec_data.get("succeeded")
        total += runtime or 0.0
        row = nodes.row()
        row += _cell(link)
        row += _cell(info["device"])
        row += _cell(info["torch"])
        row += _cell(info["cuda"])
        row += _cell("-" if runtime is None else f"{runtime:.1f}")
        row += _cell("-" if not (exec_data or record) else "ok" if succeeded else "failed")
        row += _cell(record.get("run_id", "-")[:12])
        body += row
    row = nodes.row()
    for text in ["Total", "", "", "", f"{total:.1f}", "", ""]:
        row += _cell(text)
    body += row
    return table


class DeviceExecTableTransform(SphinxPostTransform):
    """Fill the placeholder once every notebook has been executed and its glue written."""

    default_priority = 8  # before the reference resolvers (9, 10), so the links resolve

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(DeviceExecTableNode)):
            node.replace_self(make_table(self.env, self.env.docname))


def setup(app: Sphinx) -> dict:
    app.add_node(DeviceExecTableNode)
    app.add_directive("device-exec-table", DeviceExecTable)
    app.add_post_transform(DeviceExecTableTransform)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
