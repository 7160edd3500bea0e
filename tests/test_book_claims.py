"""Every claim of a chapter's summary is held by an assertion of that chapter.

The book's convention (``rnncourse.book.check``): a summary bullet that states a number or a
comparison must cite at least one value glued by the chapter (``{glue:text}`key:.2f` ``,
``{glue:}`key` ``), and a code cell of the chapter (usually hidden) must hold the claim with
``check("key", holds, message)`` for at least one key the bullet cites. Executing the
chapter (nbval, the book build) then fails when the claim stops holding; this test fails
when a claim has no such assertion at all.

Read from the notebook's source, without executing it:

* the summary is the text under the ``## Summary`` heading, up to the next heading of level
  1 or 2 (it may span several markdown cells); its bullets are the ``*``, ``-`` or ``1.``
  items with their continuation lines;
* a bullet **states a number** when a digit remains once math (``$...$``, ``$$...$$``), code
  spans, MyST roles (``{glue:text}`...` ``, ``{cite}`...` ``) and references to a chapter,
  section, exercise, figure or equation by number are removed;
* a bullet **states a comparison** when it contains one of ``COMPARISON_WORDS`` (whole
  words, any case);
* the **checked keys** are the first arguments of the calls ``check(...)`` (or
  ``something.check(...)``) in the chapter's code cells, found with ``ast``: a string
  literal, or an f-string, which matches every key its literal parts allow
  (``check(f"ch10_deep{n}_ppl", ...)`` holds ``ch10_deep1_ppl`` and ``ch10_deep2_ppl``).

``test_chapter_summary_claims_are_checked`` runs once per chapter, so a failure names the
chapter and lists each offending bullet with what it lacks.
"""
from __future__ import annotations

import ast
import json
import pathlib
import re

import pytest

BOOK = pathlib.Path(__file__).resolve().parent.parent / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))

COMPARISON_WORDS = (
    "beat", "beats", "beating", "better", "worse", "faster", "slower", "lower", "higher",
    "more", "less", "fewer", "outperform", "outperforms", "outperformed", "outperforming",
)
# whole words: not "lower-cases", "Moreover" or "regardless"
_COMPARISON = re.compile(r"(?<![\w-])(" + "|".join(COMPARISON_WORDS) + r")(?![\w-])",
                         re.I)
# {glue:text}`key:.2f`, {glue:}`key`, {glue}`key`: the key is what comes before the first ":"
_GLUE_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`([^`:]+)(?::[^`]*)?`")
_ROLE = re.compile(r"\{[A-Za-z][\w:-]*\}`[^`]*`")
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_INLINE_MATH = re.compile(r"\$[^$]*\$")
_CODE_SPAN = re.compile(r"`[^`]*`")
# "chapter 3", "chapters 5, 8 and 9", "exercise 2", "section 10b", "section 5.1": references
_NUMBER = r"\d+(?:\.\d+)*[a-z]?"
_REFERENCE = re.compile(
    r"\b(?:chapters?|sections?|exercises?|figures?|equations?|cells?)\s+"
    + _NUMBER + r"(?:\s*(?:,|and|or|to|–|-)\s*" + _NUMBER + r")*", re.I)
# a digit that starts a number: not one inside a name ("seq2seq", "d2l", "U+202F")
_DIGIT = re.compile(r"(?<![A-Za-z_+])\d")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_BULLET = re.compile(r"^(?:[*+-]|\d+[.)])\s+")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def summary_bullets(cells: list[dict]) -> list[str] | None:
    """The bullets of the ``## Summary`` section (None when the chapter has none)."""
    lines: list[str] | None = None
    inside = False
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        for line in _source(cell).splitlines():
            heading = _HEADING.match(line)
            if heading and len(heading.group(1)) <= 2:
                inside = (len(heading.group(1)) == 2
                          and heading.group(2).lower() == "summary")
                if inside and lines is None:
                    lines = []
                continue
            if inside:
                lines.append(line)
    return None if lines is None else _split_bullets(lines)


def _split_bullets(lines: list[str]) -> list[str]:
    bullets: list[str] = []
    for line in lines:
        if _BULLET.match(line):
            bullets.append(_BULLET.sub("", line, count=1))
        elif bullets and line.strip() and line[:1].isspace():
            bullets[-1] += "\n" + line.strip()
        elif line.strip() and bullets:
            # a paragraph after the list: not part of a bullet
            bullets.append("")
    return [b for b in bullets if b]


def cited_keys(text: str) -> set[str]:
    """The glue keys a piece of prose cites."""
    return {m.group(1).strip() for m in _GLUE_ROLE.finditer(text)}


def plain_text(text: str) -> str:
    """The prose of a bullet without math, code spans, roles and numbered references."""
    for pattern in (_ROLE, _DISPLAY_MATH, _INLINE_MATH, _CODE_SPAN, _REFERENCE):
        text = pattern.sub(" ", text)
    return text


def claim_kind(text: str) -> str | None:
    """"a number", "a comparison ('word')" or None for a bullet that states neither."""
    plain = plain_text(text)
    if _DIGIT.search(plain):
        return f"a number ({_DIGIT.search(plain).group(0)!r} in "\
               f"{plain[max(0, _DIGIT.search(plain).start() - 20):][:40].strip()!r})"
    word = _COMPARISON.search(plain)
    if word:
        return f"a comparison ({word.group(0)!r})"
    return None


def _parse(src: str) -> ast.Module | None:
    lines = ["pass" if ln.lstrip().startswith(("%", "!")) else ln
             for ln in src.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _key_pattern(node: ast.expr) -> re.Pattern | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.compile(re.escape(node.value) + r"\Z")
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(re.escape(value.value))
            else:
                parts.append(r".+")
        return re.compile("".join(parts) + r"\Z")
    return None


def checked_key_patterns(cells: list[dict]) -> list[re.Pattern]:
    """Patterns of the keys named as first argument of ``check(...)`` in the code cells."""
    patterns = []
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        tree = _parse(_source(cell))
        if tree is None:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else None)
            if name != "check":
                continue
            pattern = _key_pattern(node.args[0])
            if pattern is not None:
                patterns.append(pattern)
    return patterns


def summary_violations(nb: dict) -> list[str]:
    """Every summary bullet of ``nb`` that breaks the convention, with the reason."""
    cells = nb.get("cells", [])
    bullets = summary_bullets(cells)
    if bullets is None:
        return ["the chapter has no '## Summary' section"]
    patterns = checked_key_patterns(cells)
    problems = []
    for number, bullet in enumerate(bullets, 1):
        kind = claim_kind(bullet)
        if kind is None:
            continue
        keys = cited_keys(bullet)
        first_words = " ".join(bullet.split()[:8])
        if not keys:
            problems.append(f"bullet {number} ({first_words} ...) states {kind} but cites "
                            "no glued value")
        elif not any(p.match(key) for key in keys for p in patterns):
            problems.append(f"bullet {number} ({first_words} ...) states {kind}; it cites "
                            f"{sorted(keys)}, but no check(...) of the chapter names any "
                            "of them")
    return problems


# ------------------------------------------------------------------------- every chapter

@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_summary_claims_are_checked(nb_path: pathlib.Path) -> None:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    problems = summary_violations(nb)
    assert not problems, (f"{nb_path.name}: summary claims without an assertion "
                          "(cite a glued value and check(...) it):\n  "
                          + "\n  ".join(problems))


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 10


# ------------------------------------------------------------------- the checker itself

def _nb(*cells: tuple[str, str]) -> dict:
    return {"cells": [{"cell_type": kind, "metadata": {}, "source": src}
                      for kind, src in cells]}


_GLUE_CELL = ("code", 'glue("ch99_ppl", ppl)\ncheck("ch99_ppl", ppl < 5.0, "below 5")\n')


def test_compliant_chapter_passes() -> None:
    nb = _nb(("markdown", "# Title\n\nText with 12 numbers is fine outside the summary."),
             ("code", "%matplotlib inline\nppl = 4.2"),
             _GLUE_CELL,
             ("markdown", "## Summary\n\n"
                          "* A bullet without claims: models read text.\n"
                          "* The model reaches a perplexity of {glue:text}`ch99_ppl:.2f`,\n"
                          "  better than the unigram model.\n"
                          "* $h_t = \\tanh(W x_1)$ and `nn.RNN(28, 512)` and chapter 3.\n"
                          "\n## Exercises\n\n1. Train it 10 times longer: is it better?"))
    assert summary_violations(nb) == []


def test_number_without_glue_fails() -> None:
    nb = _nb(_GLUE_CELL, ("markdown", "## Summary\n\n* The model reaches 4.20 on the test."))
    [problem] = summary_violations(nb)
    assert "bullet 1" in problem and "a number" in problem and "cites no glued" in problem


def test_comparison_word_without_glue_fails() -> None:
    for word in ("beats", "Faster", "lower", "fewer", "outperforms", "more"):
        nb = _nb(_GLUE_CELL,
                 ("markdown", f"## Summary\n\n* Fine.\n* The GRU {word} the plain RNN."))
        [problem] = summary_violations(nb)
        assert "bullet 2" in problem and "comparison" in problem, (word, problem)


def test_comparison_inside_a_longer_word_is_no_comparison() -> None:
    nb = _nb(("markdown", "## Summary\n\n* Moreover, it lower-cases regardless of seq2seq."))
    assert summary_violations(nb) == []


def test_glued_value_without_check_fails() -> None:
    nb = _nb(("code", 'glue("ch99_ppl", ppl)\nassert ppl < 5'),
             ("markdown", "## Summary\n\n* Perplexity {glue:text}`ch99_ppl:.2f`, lower."))
    [problem] = summary_violations(nb)
    assert "no check(...)" in problem and "ch99_ppl" in problem


def test_check_of_another_key_or_in_markdown_does_not_count() -> None:
    nb = _nb(("code", 'check("ch99_other", True)'),
             ("markdown", 'Prose mentioning check("ch99_ppl", True).'),
             ("markdown", "## Summary\n\n* Perplexity {glue:}`ch99_ppl` is 3 times lower."))
    assert len(summary_violations(nb)) == 1


def test_fstring_and_attribute_checks_count() -> None:
    nb = _nb(("code", 'for n in (1, 2):\n    book.check(f"ch99_deep{n}_ppl", True, "ok")'),
             ("markdown", "## Summary\n\n* Two layers: {glue:text}`ch99_deep2_ppl:.2f`, "
                          "higher than 1."))
    assert summary_violations(nb) == []


def test_numbers_in_math_code_roles_and_references_are_no_claims() -> None:
    nb = _nb(("markdown", "## Summary\n\n"
                          "* $$x_{t+1} = 2 x_t$$ and $\\rho^{100}$ and `seed=0`.\n"
                          "* As in chapters 5, 8 and 9 {cite}`graves2013generating`.\n"
                          "* See exercise 2, section 10b and section 5.1."))
    assert summary_violations(nb) == []


def test_summary_spanning_cells_ends_at_the_next_heading() -> None:
    nb = _nb(("markdown", "## Summary\n\n* First, plain."),
             ("markdown", "* Second: 3 times faster.\n\n## Exercises\n\n1. Do 5 things."))
    [problem] = summary_violations(nb)
    assert "bullet 2" in problem


def test_chapter_without_summary_fails() -> None:
    assert summary_violations(_nb(("markdown", "# Title\n\n## Exercises\n"))) == [
        "the chapter has no '## Summary' section"]


def test_continuation_lines_belong_to_their_bullet() -> None:
    nb = _nb(_GLUE_CELL,
             ("markdown", "## Summary\n\n* The model, trained\n  for 10 epochs, is fine.\n"
                          "* Fine too."))
    [problem] = summary_violations(nb)
    assert "bullet 1" in problem
