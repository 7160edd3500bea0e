"""What readers see of the notebooks' code: code that teaches, within 88 columns.

For every chapter notebook in ``book/``:

* every line of code shown on the page is at most 88 columns wide: the source of every
  code cell whose input is shown, and every line of every ``show_source(...)`` listing
  (the package source of each object shown, and the listing stored in the notebook);
* no visible cell is plumbing only: a cell whose input is shown does not consist of
  ``glue(...)`` calls alone (those belong in a ``remove-input``/``remove-cell`` cell);
* no cell prints a glue return value: a cell whose output is shown does not end with a
  bare ``glue(...)`` expression (its value would be printed, e.g. ``680``), and no stored
  ``execute_result`` of such a cell exists.

Wide characters (CJK) count as two columns, as in a monospace font.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import pathlib
import re
import textwrap
import unicodedata

import pytest

BOOK = pathlib.Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
MAX_COLUMNS = 88
HIDDEN_INPUT = {"remove-input", "remove-cell"}
HIDDEN_OUTPUT = {"remove-output", "remove-cell"}
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def columns(line: str) -> int:
    """Display width of a line in a monospace font (East Asian wide characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def code_cells(nb_path: pathlib.Path) -> list[tuple[int, dict]]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]


def parse(src: str) -> ast.Module:
    """Parse a cell, with IPython magics and shell escapes replaced by ``pass``."""
    lines = ["pass" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.splitlines()]
    return ast.parse("\n".join(lines))


def is_glue_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "glue") or (
        isinstance(func, ast.Attribute) and func.attr == "glue")


def is_glue_statement(stmt: ast.stmt) -> bool:
    """``glue(...)``, ``_ = glue(...)`` or ``x = glue(...)``."""
    if isinstance(stmt, ast.Expr):
        return is_glue_call(stmt.value)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return stmt.value is not None and is_glue_call(stmt.value)
    return False


def too_wide(lines: list[str]) -> list[str]:
    return [f"{columns(ln)} columns: {ln.strip()[:70]}" for ln in lines if columns(ln) > MAX_COLUMNS]


def rnncourse_imports(cells: list[tuple[int, dict]]) -> dict[str, object]:
    """Names bound by ``from rnncourse... import ...`` / ``import rnncourse...`` in the notebook."""
    names: dict[str, object] = {}
    for _, cell in cells:
        try:
            tree = parse(source(cell))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rnncourse"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    # `from rnncourse import ngram` names a submodule, imported on demand
                    obj = getattr(module, alias.name, None)
                    if obj is None:
                        obj = importlib.import_module(f"{node.module}.{alias.name}")
                    names[alias.asname or alias.name] = obj
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("rnncourse"):
                        module = importlib.import_module(alias.name)
                        if alias.asname:
                            names[alias.asname] = module
                        else:
                            names["rnncourse"] = importlib.import_module("rnncourse")
    return names


def resolve(expr: ast.AST, names: dict[str, object]) -> object:
    """The object a dotted name like ``RNNScratch.forward`` refers to, via the imports."""
    chain = []
    while isinstance(expr, ast.Attribute):
        chain.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in names:
        raise LookupError(ast.unparse(expr))
    obj = names[expr.id]
    for attr in reversed(chain):
        obj = getattr(obj, attr)
    return obj


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_code_cells_fit_in_88_columns(nb_path: pathlib.Path) -> None:
    problems = []
    for i, cell in code_cells(nb_path):
        if tags(cell) & HIDDEN_INPUT:
            continue
        problems += [f"cell {i}: {p}" for p in too_wide(source(cell).splitlines())]
    assert not problems, f"{nb_path.name}: shown code wider than {MAX_COLUMNS} columns:\n" + "\n".join(problems)


def shown_objects(nb_path: pathlib.Path) -> list[tuple[int, str, object]]:
    """(cell index, label, object) for every ``show_source(...)`` argument of a cell
    whose output is shown; a cell that does not parse or an argument that does not
    resolve fails the test, naming the cell."""
    cells = code_cells(nb_path)
    names = rnncourse_imports(cells)
    shown = []
    for i, cell in cells:
        if tags(cell) & HIDDEN_OUTPUT:
            continue
        try:
            tree = parse(source(cell))
        except SyntaxError as error:
            pytest.fail(f"{nb_path.name}, cell {i}: does not parse: {error}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "show_source":
                for arg in node.args:
                    try:
                        shown.append((i, ast.unparse(arg), resolve(arg, names)))
                    except (LookupError, AttributeError) as error:
                        pytest.fail(f"{nb_path.name}, cell {i}: cannot resolve show_source "
                                    f"argument {error}")
    return shown


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_show_source_listings_fit_in_88_columns(nb_path: pathlib.Path) -> None:
    problems = []
    for i, label, obj in shown_objects(nb_path):
        lines, _ = inspect.getsourcelines(obj)
        problems += [f"cell {i}, listing of {label}: {p}"
                     for p in too_wide([ln.rstrip("\n") for ln in lines])]
    for i, cell in code_cells(nb_path):
        if tags(cell) & HIDDEN_OUTPUT:
            continue
        # The listings stored in the notebook (what the last run showed).
        for out in cell.get("outputs", []):
            markdown = out.get("data", {}).get("text/markdown")
            if markdown is None:
                continue
            markdown = markdown if isinstance(markdown, str) else "".join(markdown)
            for block in FENCE.findall(markdown):
                problems += [f"cell {i}, stored listing: {p}" for p in too_wide(block.splitlines())]
    assert not problems, (f"{nb_path.name}: listings wider than {MAX_COLUMNS} columns:\n"
                          + "\n".join(sorted(set(problems))))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_visible_cell_is_only_glue(nb_path: pathlib.Path) -> None:
    problems = []
    for i, cell in code_cells(nb_path):
        if tags(cell) & HIDDEN_INPUT:
            continue
        try:
            body = parse(source(cell)).body
        except SyntaxError:
            continue
        code = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if code and all(is_glue_statement(s) for s in code):
            first = source(cell).strip().splitlines()[0]
            problems.append(f"cell {i} shows only glue(...) calls: {first[:70]}")
    assert not problems, (f"{nb_path.name}: visible cells that are build plumbing "
                          "(tag them remove-input or remove-cell):\n" + "\n".join(problems))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_cell_prints_a_glue_return_value(nb_path: pathlib.Path) -> None:
    problems = []
    for i, cell in code_cells(nb_path):
        if tags(cell) & HIDDEN_OUTPUT:
            continue
        src = source(cell).rstrip()
        try:
            body = parse(src).body
        except SyntaxError:
            continue
        if not body:
            continue
        last = body[-1]
        if isinstance(last, ast.Expr) and is_glue_call(last.value) and not src.endswith(";"):
            results = [o for o in cell.get("outputs", []) if o.get("output_type") == "execute_result"]
            shown = ""
            if results:
                plain = results[0].get("data", {}).get("text/plain", "")
                shown = f" (stored output: {(plain if isinstance(plain, str) else ''.join(plain))[:40]})"
            problems.append(f"cell {i} ends with a bare glue(...), whose return value is printed"
                            f"{shown}: {src.splitlines()[-1].strip()[:60]}")
    assert not problems, (f"{nb_path.name}: cells print a glue return value (write `_ = glue(...)`, "
                          "or end the line with `;`):\n" + "\n".join(problems))


# ------------------------------------------------------------- what a listing teaches

MAX_GUARD_LINES = 3


def listing_tree(obj: object) -> tuple[ast.Module, list[str]]:
    lines, _ = inspect.getsourcelines(obj)
    text = textwrap.dedent("".join(lines))
    return ast.parse(text), text.splitlines()


def _is_check_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name.startswith(("check_", "_check", "_validate", "validate_"))


def guard_lines(tree: ast.AST) -> set[int]:
    """Lines of argument checking: an ``if`` whose body only raises, a bare ``raise``, an
    ``assert``, and a call of a check helper (``check_*``, ``_check*``, ``_validate*``),
    with every line each of them spans."""
    lines: set[int] = set()

    def span(node: ast.AST) -> None:
        lines.update(range(node.lineno, node.end_lineno + 1))

    for node in ast.walk(tree):
        if isinstance(node, ast.If) and all(isinstance(s, ast.Raise) for s in node.body):
            span(node)
        elif isinstance(node, (ast.Assert, ast.Raise)):
            span(node)
        elif isinstance(node, ast.Expr) and _is_check_call(node.value):
            span(node)
        elif (isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
              and _is_check_call(node.value)):
            span(node)
    return lines


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_listings_have_at_most_three_lines_of_argument_checking(nb_path: pathlib.Path) -> None:
    problems = []
    for i, label, obj in shown_objects(nb_path):
        tree, text = listing_tree(obj)
        guards = sorted(guard_lines(tree))
        if len(guards) > MAX_GUARD_LINES:
            shown = "; ".join(text[n - 1].strip()[:50] for n in guards[:6])
            problems.append(f"cell {i}, listing of {label}: {len(guards)} lines of argument "
                            f"checking ({shown} ...)")
    assert not problems, (f"{nb_path.name}: listings with more than {MAX_GUARD_LINES} lines of "
                          "argument checking (move them to a hidden helper, e.g. one "
                          "`_check_args(...)` line built from rnncourse.checks):\n"
                          + "\n".join(problems))


SHAPE_COMMENT = re.compile(r"#.*\(")


def _needs_shape(stmt: ast.stmt) -> bool:
    """A statement that computes a tensor: an assignment or return of a computed value
    (not a constant, a bare name, an empty container or None)."""
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        value = stmt.value
    elif isinstance(stmt, ast.Return):
        value = stmt.value
    else:
        return False
    if value is None or isinstance(value, (ast.Constant, ast.Name)) or _is_check_call(value):
        return False
    text = ast.unparse(value)
    if ".shape" in text or "len(" in text:  # sizes read off a tensor, not a tensor
        return False
    if all(isinstance(n, (ast.BinOp, ast.Name, ast.Attribute, ast.Constant, ast.operator,
                          ast.Load)) for n in ast.walk(value)):
        return False  # integer arithmetic on names (an index, a size)
    if isinstance(value, (ast.List, ast.Tuple, ast.Dict)) and all(
            isinstance(e, (ast.Name, ast.Constant)) for e in getattr(value, "elts", [])):
        return False
    return True


def shapeless_lines(obj: object) -> list[str]:
    """Statements of the ``forward`` in a listing (the method itself, or a class's) with
    no shape comment on their lines or the line above."""
    tree, text = listing_tree(obj)
    forwards = [n for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and n.name == "forward"]
    missing = []
    for fn in forwards:
        for stmt in ast.walk(fn):
            if not isinstance(stmt, ast.stmt) or not _needs_shape(stmt):
                continue
            around = text[max(stmt.lineno - 2, 0):stmt.end_lineno]
            if not any(SHAPE_COMMENT.search(line) for line in around):
                missing.append(text[stmt.lineno - 1].strip()[:60])
    return missing


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_shown_forwards_carry_shape_comments(nb_path: pathlib.Path) -> None:
    problems = []
    for i, label, obj in shown_objects(nb_path):
        problems += [f"cell {i}, listing of {label}: {line}" for line in shapeless_lines(obj)]
    assert not problems, (f"{nb_path.name}: tensor lines of a shown forward without a shape "
                          "comment (e.g. `# (batch, num_hiddens)`) on the line or above:\n"
                          + "\n".join(problems))
