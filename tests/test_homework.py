"""The homework (homework/, otter-grader): every assignment builds, and its tests grade right.

Each assignment is built once per session with ``otter assign`` into a temporary folder;
then every notebook to grade is graded with ``otter.api.grade_submission`` -- which runs
the autograder's guard plugin (``rnncourse.autograde``) as Gradescope does -- in spawned
worker processes, WORKERS at a time, and the tests below read the scores and flags:

* the solution, under two thread counts (1 and 4, for OpenMP and torch): grades must not
  depend on the grading machine;
* the released student notebook (hw01's is graded by the ``make grade`` test below, which
  grades it anyway);
* the solution with the typical wrong answers of ``homework/<hw>/wrong_answers.py``
  injected, several per submission: round r holds the r-th wrong answer of every question,
  so each question of a round is wrong at most once; the rounds alternate between the two
  thread counts. A wrong answer must lose points on its own question, and a question that
  no wrong answer of the round touches must keep full marks: that is what shows the
  hidden tests tell right from wrong;
* the solution with the attacks of ``homework/attacks.py``: an attack must earn nothing
  on the question it attacks.

Nothing here can hang for ever: each build and ``tools/grade.py`` run has a timeout, and
the gradings have GRADING_DEADLINE seconds together, after which the workers are killed
and the fixture fails with the submissions still running.
"""
from __future__ import annotations

import concurrent.futures
import importlib.util
import json
import multiprocessing
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOMEWORK = ROOT / "homework"
SOURCES = {path.stem: path for path in sorted(HOMEWORK.glob("hw*/hw*.ipynb"))}
OTTER = pathlib.Path(sys.executable).parent / "otter"
WORKERS = max(2, os.cpu_count() or 1)
THREADS = (1, 4)  # the solutions are graded under each; the wrong-answer rounds alternate
GRADING_DEADLINE = 1500  # seconds for every grading together (about 5 minutes on 2 idle cores)
BUILD_TIMEOUT = 600
GRADE_TOOL_TIMEOUT = 900


def load_attacks() -> list[dict]:
    spec = importlib.util.spec_from_file_location("homework_attacks", HOMEWORK / "attacks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ATTACKS


def load_wrong_answers(hw: str) -> list[dict]:
    spec = importlib.util.spec_from_file_location(f"{hw}_wrong", SOURCES[hw].parent / "wrong_answers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG_ANSWERS


def solution_cell_index(nb: nbformat.NotebookNode, question: str) -> int:
    """The index of the last code cell before ``grader.check("question")``: the answer cell."""
    check = f'grader.check("{question}")'
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and check in cell.source:
            return max(j for j in range(i) if nb.cells[j].cell_type == "code")
    raise LookupError(f"no {check} cell in the notebook")


def inject(solution: pathlib.Path, question: str, code: str, out: pathlib.Path) -> pathlib.Path:
    """A copy of the solution notebook where a new cell after ``question``'s answer redefines it."""
    return inject_many(solution, [(question, code)], out)


def inject_many(solution: pathlib.Path, cells: list[tuple[str, str]], out: pathlib.Path) -> pathlib.Path:
    """A copy of the solution notebook with a new cell after each given question's answer."""
    nb = nbformat.read(solution, as_version=4)
    at = sorted(((solution_cell_index(nb, question), code) for question, code in cells), key=lambda ic: -ic[0])
    for index, code in at:  # from the last: the earlier indices stay right
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(code.strip("\n")))
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def wrong_rounds(hw: str) -> list[list[int]]:
    """Round r: the indices of the r-th wrong answer of every question that has one."""
    by_question: dict[str, list[int]] = {}
    for k, wrong in enumerate(load_wrong_answers(hw)):
        by_question.setdefault(wrong["question"], []).append(k)
    depth = max((len(ks) for ks in by_question.values()), default=0)
    return [[ks[r] for ks in by_question.values() if r < len(ks)] for r in range(depth)]


def _round_of(hw: str, k: int) -> int:
    (r,) = [r for r, ks in enumerate(wrong_rounds(hw)) if k in ks]
    return r


def _grade(submission: str, autograder_zip: str, threads: int) -> tuple[dict, dict, float, list[str]]:
    """(score by question, points possible by question, seconds, flags): runs in a worker process."""
    # the kernel inherits the environment; this process (the harness, where the replay runs) is told too
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch
    from otter.api import grade_submission

    torch.set_num_threads(threads)
    start = time.perf_counter()
    results = grade_submission(submission, autograder_zip, quiet=True)
    seconds = time.perf_counter() - start
    scores = {q: float(results.get_score(q)) for q in results.test_files}
    possible = {q: float(results.get_result(q).possible) for q in results.test_files}
    flags = [line[len("flagged: "):] for line in str(results.output or "").splitlines() if line.startswith("flagged: ")]
    return scores, possible, seconds, flags


def _execute(notebook: str) -> str:
    """Run a notebook top to bottom in a fresh kernel; '' if no cell raised, else the error."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(pathlib.Path(notebook).parent)}}).execute()
    except CellExecutionError as error:
        return str(error)[:2000]
    return ""


def _run_all(jobs: dict, deadline: float) -> dict:
    """Run ``jobs`` (key -> (function, args)) in spawned worker processes; key -> result.

    Spawned workers, not forked ones: a fork taken while the grade-tool thread runs can copy a
    held lock into the child, which then waits for ever (a CI run hung here until its limit).
    Whatever still runs after ``deadline`` seconds is killed, and the run fails naming it.
    """
    pool = concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    pending = set()
    try:
        futures = {key: pool.submit(fn, *args) for key, (fn, args) in jobs.items()}
        _, pending = concurrent.futures.wait(futures.values(), timeout=deadline)
        if pending:
            stuck = sorted(str(key) for key, f in futures.items() if f in pending)
            pytest.fail(f"grading did not finish within {deadline} s; still running or queued: {stuck}")
        return {key: future.result() for key, future in futures.items()}
    finally:
        if pending:
            for process in list((pool._processes or {}).values()):
                process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown()


LOOP_TIMEOUT = 180  # seconds: enough to grade the stub under load; the looping one is stopped then


def _grade_tool_submissions(folder: pathlib.Path, student: pathlib.Path, solution: pathlib.Path) -> pathlib.Path:
    """A class of five: the released notebook, one that loops, one that is garbage, a stray file,
    and the solution with hw01's attack (an answer that runs the package's code)."""
    folder.mkdir(parents=True)
    (folder / "alice.ipynb").write_bytes(student.read_bytes())
    (attack,) = [a for a in load_attacks() if a["hw"] == "hw01"]
    inject(solution, attack["question"], attack["code"], folder / "erin.ipynb")
    looping = nbformat.read(student, as_version=4)
    looping.cells.insert(0, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(1)"))
    nbformat.write(looping, folder / "bob.ipynb")
    (folder / "carol.ipynb").write_text("this is not a notebook {", encoding="utf-8")
    (folder / "dave.txt").write_text("my answers are in my head", encoding="utf-8")
    return folder


def _run_grade_tool(submissions: str, autograder_zip: str, out: str) -> dict:
    """Run tools/grade.py (what `make grade` runs); its exit status, output and CSV rows.

    Past GRADE_TOOL_TIMEOUT it gets SIGTERM, on which it kills the otter runs it started."""
    import csv

    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(ROOT / "tools" / "grade.py"), "hw01", submissions,
                                "--autograder", autograder_zip, "--out", out, "--timeout", str(LOOP_TIMEOUT)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=GRADE_TOOL_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        output += f"\n[test] tools/grade.py stopped after {GRADE_TOOL_TIMEOUT} s"
    rows = []
    if (pathlib.Path(out) / "scores.csv").exists():
        with open(pathlib.Path(out) / "scores.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    summary = (pathlib.Path(out) / "summary.txt").read_text() if (pathlib.Path(out) / "summary.txt").exists() else ""
    return {"returncode": process.returncode, "output": output, "rows": rows,
            "summary": summary, "seconds": time.perf_counter() - start}


def _build(root: pathlib.Path) -> dict:
    """otter assign every assignment (tests not run: the gradings below run them), in parallel."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    builds = {hw: subprocess.Popen([str(OTTER), "assign", "--no-run-tests", str(src), str(root / hw)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
              for hw, src in SOURCES.items()}
    built = {}
    for hw, process in builds.items():
        try:
            output, _ = process.communicate(timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in builds.values():
                other.kill()
            pytest.fail(f"otter assign {hw} ran past {BUILD_TIMEOUT} s")
        assert process.returncode == 0, f"otter assign failed for {hw}:\n{output}"
        (zip_path,) = (root / hw / "autograder").glob("*.zip")
        built[hw] = {"zip": zip_path, "solution": root / hw / "autograder" / f"{hw}.ipynb",
                     "student": root / hw / "student" / f"{hw}.ipynb"}
    return built


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Build every assignment, then grade everything there is to grade, in parallel."""
    root = tmp_path_factory.mktemp("homework")
    built = _build(root)
    jobs = {}  # (hw, label) -> (function, args)
    for hw, paths in built.items():
        zip_path = str(paths["zip"])
        for threads in THREADS:
            jobs[(hw, f"solution@{threads}")] = (_grade, (str(paths["solution"]), zip_path, threads))
        if hw != "hw01":  # hw01's stub is alice.ipynb of the grade-tool run
            jobs[(hw, "student")] = (_grade, (str(paths["student"]), zip_path, THREADS[0]))
        wrongs = load_wrong_answers(hw)
        for r, ks in enumerate(wrong_rounds(hw)):
            cells = [(wrongs[k]["question"], wrongs[k]["code"]) for k in ks]
            notebook = inject_many(paths["solution"], cells, root / "wrong" / hw / f"round{r}" / f"{hw}.ipynb")
            jobs[(hw, f"round{r}")] = (_grade, (str(notebook), zip_path, THREADS[(r + 1) % len(THREADS)]))
        copy_path = root / "student-run" / hw / f"{hw}.ipynb"  # a copy: its export cell writes a zip beside it
        copy_path.parent.mkdir(parents=True)
        copy_path.write_bytes(paths["student"].read_bytes())
        jobs[(hw, "student-run")] = (_execute, (str(copy_path),))
    for label, attacks in _attack_submissions().items():
        marker = root / "attacks" / f"{label}.marker"  # what a forged pickle would write, if it ran here
        cells = [(a["question"], a["code"].replace("{marker}", str(marker))) for a in attacks]
        notebook = inject_many(built["hw04"]["solution"], cells, root / "attacks" / label / "hw04.ipynb")
        jobs[("hw04", label)] = (_grade, (str(notebook), str(built["hw04"]["zip"]), THREADS[0]))
    # tools/grade.py runs beside the pool: its looping submission mostly sleeps until the timeout
    grade_dir = _grade_tool_submissions(root / "grade-tool", built["hw01"]["student"], built["hw01"]["solution"])
    grade_tool = concurrent.futures.ThreadPoolExecutor(1)
    grade_tool_future = grade_tool.submit(_run_grade_tool, str(grade_dir), str(built["hw01"]["zip"]),
                                          str(root / "grade-out"))
    try:
        results = _run_all(jobs, GRADING_DEADLINE)
        grade_tool_run = grade_tool_future.result(timeout=GRADE_TOOL_TIMEOUT + 60)
    finally:
        grade_tool.shutdown(wait=False)
    student_errors = {hw: results.pop((hw, "student-run")) for hw in built}
    scores = results
    alice = {row["submission"]: row for row in grade_tool_run["rows"]}.get("alice.ipynb")
    if alice is not None:  # hw01's stub, as graded by tools/grade.py
        questions = [q for q in alice if re.fullmatch(r"q\d+", q)]
        possible = scores[("hw01", "solution@1")][1]
        scores[("hw01", "student")] = ({q: float(alice[q]) for q in questions}, possible,
                                       float(alice["seconds"]), [f for f in alice["flags"].split("; ") if f])
    _report(scores, grade_tool_run)
    return {"built": built, "scores": scores, "student_errors": student_errors, "grade_tool": grade_tool_run,
            "root": root}


def _report(scores: dict, grade_tool_run: dict) -> None:
    """Print every grade (pytest shows it with -s or on failure); RNNCOURSE_HOMEWORK_REPORT=path.json
    also writes them there."""
    seconds = sorted(s for _, _, s, _ in scores.values())
    print(f"\nhomework: graded {len(seconds)} submissions, {WORKERS} at a time; seconds per submission: "
          f"median {seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}")
    rows = []
    for (hw, label), (score, possible, secs, flags) in sorted(scores.items()):
        what = label
        if label.startswith("round"):
            wrongs = load_wrong_answers(hw)
            what = f"{label} [" + "; ".join(f"{wrongs[k]['question']}: {wrongs[k]['name']}"
                                            for k in wrong_rounds(hw)[int(label[5:])]) + "]"
        elif label.startswith("attack"):
            what = f"{label} [" + "; ".join(f"{a['question']}: {a['name']}" for a in _attack_submissions()[label]) + "]"
        points = " ".join(f"{q}={score.get(q, 0):g}/{possible[q]:g}" for q in sorted(possible))
        print(f"  {hw} {what}: {sum(score.values()):g}/{sum(possible.values()):g} ({points}) {secs:.1f} s"
              + (f"\n      flags: {'; '.join(flags)}"[:600] if flags else ""))
        rows.append({"hw": hw, "label": label, "what": what, "scores": score, "possible": possible,
                     "seconds": secs, "flags": flags})
    path = os.environ.get("RNNCOURSE_HOMEWORK_REPORT")
    if path:
        pathlib.Path(path).write_text(json.dumps({"submissions": rows, "grade_tool": grade_tool_run}, indent=1))


def _attack_submissions() -> dict[str, list[dict]]:
    """label -> the attacks in that submission: one submission per class (a class's attacks
    attack different questions, so each question shows what its own attack earned)."""
    out: dict[str, list[dict]] = {}
    for attack in load_attacks():
        if attack.get("via") != "grade.py":
            out.setdefault(f"attack-class{attack['class']}", []).append(attack)
    for label, attacks in out.items():
        questions = [a["question"] for a in attacks]
        assert len(questions) == len(set(questions)), f"{label}: two attacks on one question: {questions}"
    return out


def test_every_assignment_is_found():
    assert set(SOURCES) == {"hw01", "hw02", "hw03", "hw04"}


@pytest.mark.parametrize("threads", THREADS)
@pytest.mark.parametrize("hw", sorted(SOURCES))
def test_the_solution_scores_full_marks_under_each_thread_count(graded, hw, threads):
    scores, possible, _, flags = graded["scores"][(hw, f"solution@{threads}")]
    assert scores == possible, f"{hw}, {threads} threads: the solution loses points: {scores} of {possible}"
    assert not flags, f"{hw}, {threads} threads: the solution is flagged: {flags}"
    assert 4 <= len(possible) <= 6, f"{hw} should have 4 to 6 questions, has {sorted(possible)}"


@pytest.mark.parametrize("hw", sorted(SOURCES))
def test_the_student_notebook_runs_and_scores_below_full_marks(graded, hw):
    scores, possible, _, _ = graded["scores"][(hw, "student")]
    assert sum(scores.values()) < sum(possible.values())
    assert graded["student_errors"][hw] == "", f"{hw}: the student notebook raised:\n{graded['student_errors'][hw]}"


def _solution_lines(source: nbformat.NotebookNode) -> list[str]:
    """Every line between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` in the source notebook's code."""
    lines, inside = [], False
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if line.strip() == "# BEGIN SOLUTION":
                inside = True
            elif line.strip() == "# END SOLUTION":
                inside = False
            elif inside and len(line.strip()) >= 12:
                lines.append(line.strip())
    return lines


def _tests(source: nbformat.NotebookNode, hidden: bool) -> list[str]:
    """The source of the (hidden or public) test functions of the source notebook."""
    tests, inside = [], False
    for cell in source.cells:
        if cell.cell_type == "raw" and cell.source.strip() in ("# BEGIN TESTS", "# END TESTS"):
            inside = cell.source.strip() == "# BEGIN TESTS"
        elif inside and cell.cell_type == "code":
            is_hidden = cell.source.lstrip().upper().startswith("# HIDDEN")
            if is_hidden == hidden:
                tests.append(cell.source)
    return tests


def _strings(value) -> list[str]:
    """Every string inside a JSON-like value (dicts, lists), keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(k) + _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("hw", sorted(SOURCES))
def test_the_student_notebook_holds_no_solution_and_no_hidden_test(graded, hw):
    source = nbformat.read(SOURCES[hw], as_version=4)
    student = nbformat.read(graded["built"][hw]["student"], as_version=4)
    # everything a student receives: the cells, and every string in the metadata
    parts = [cell.source for cell in student.cells]
    parts += _strings([cell.metadata for cell in student.cells]) + _strings(student.metadata)
    text = "\n".join(parts)
    solution = _solution_lines(source)
    assert len(solution) >= 10
    # a solution line may also occur in what students are meant to see (a prompt quoting an API)
    prompts = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
    leaked = [line for line in solution if line in text and line not in prompts]
    assert not leaked, f"{hw}: solution lines in the student notebook: {leaked[:5]}"
    hidden = _tests(source, hidden=True)
    assert hidden, f"{hw} has no hidden tests"
    names = [re.search(r"def (test_\w+)", test).group(1) for test in hidden]
    assert not [n for n in names if n in text], f"{hw}: hidden tests in the student notebook"
    # the search does see tests: the public ones are there, in the notebook's metadata
    public = [re.search(r"def (test_\w+)", test).group(1) for test in _tests(source, hidden=False)]
    assert public and all(name in "\n".join(_strings(student.metadata)) for name in public)
    student_dir = graded["built"][hw]["student"].parent
    assert sorted(p.name for p in student_dir.iterdir()) == [f"{hw}.ipynb"]


def _wrong_cases():
    return [(hw, k, wrong["question"], wrong["name"]) for hw in sorted(SOURCES)
            for k, wrong in enumerate(load_wrong_answers(hw))]


@pytest.mark.parametrize("hw", sorted(SOURCES))
def test_every_question_has_a_wrong_answer(hw):
    source = nbformat.read(SOURCES[hw], as_version=4)
    questions = re.findall(r"name: (q\d+)", "\n".join(c.source for c in source.cells if c.cell_type == "raw"))
    covered = {w["question"] for w in load_wrong_answers(hw)}
    assert set(questions) <= covered, f"{hw}: no wrong answer for {sorted(set(questions) - covered)}"


@pytest.mark.parametrize("hw,k,question,name", _wrong_cases(), ids=lambda v: str(v)[:40])
def test_a_wrong_answer_loses_points_on_its_question_only(graded, hw, k, question, name):
    r = _round_of(hw, k)
    scores, possible, _, flags = graded["scores"][(hw, f"round{r}")]
    assert scores[question] < possible[question], f"{hw} {question}: '{name}' keeps full marks"
    wrong_in_round = {load_wrong_answers(hw)[j]["question"] for j in wrong_rounds(hw)[r]}
    others = {q: s for q, s in scores.items() if q not in wrong_in_round and s < possible[q]}
    assert not others, f"{hw}: round {r} (with '{name}' on {question}) loses points on {others}, which it left right"
    assert not flags, f"{hw}: an honest wrong answer is flagged: {flags}"


def test_the_attacks_cover_every_class_twice():
    classes = [a["class"] for a in load_attacks()]
    assert all(classes.count(c) >= 2 for c in (1, 2, 3, 4)), classes


@pytest.mark.parametrize("label", sorted(_attack_submissions()))
def test_an_attack_earns_nothing_on_the_question_it_attacks(graded, label):
    scores, possible, _, flags = graded["scores"][("hw04", label)]
    attacks = _attack_submissions()[label]
    attacked = {a["question"] for a in attacks}
    for attack in attacks:
        q = attack["question"]
        flagged = any(f.startswith(f"{q}: ") for f in flags)
        assert scores[q] == 0 or flagged, f"{label}: '{attack['name']}' earns {scores[q]:g} on {q}, unflagged"
        assert scores[q] == 0, f"{label}: a flagged question keeps {scores[q]:g} points"
    if not any(a.get("also") == "all" for a in attacks):  # a grader patch may cost every question
        others = {q: s for q, s in scores.items() if q not in attacked and s < possible[q]}
        assert not others, f"{label}: questions it did not attack lose points: {others}"
    marker = graded["root"] / "attacks" / f"{label}.marker"
    assert not marker.exists(), f"{label}: the submission ran code in the grading process"


def test_running_forbidden_code_is_flagged_with_its_name(graded):
    _, _, _, flags = graded["scores"][("hw04", "attack-class1")]
    assert any(f.startswith("q1: ") and "rnncourse.seq2seq" in f for f in flags), flags  # a default argument
    assert any(f.startswith("q3: ") and "rnncourse.bleu" in f for f in flags), flags  # a FunctionType copy
    assert any(f.startswith("q2: ") and "MaskedSoftmaxCELoss" in f for f in flags), flags  # a reloaded module
    assert any(f.startswith("q6: ") and "sys.setprofile" in f for f in flags), flags  # the hook switched off


def test_make_grade_gives_every_submission_a_row(graded):
    run = graded["grade_tool"]
    assert run["returncode"] == 0, run["output"][-3000:]
    rows = {row["submission"]: row for row in run["rows"]}
    assert sorted(rows) == ["alice.ipynb", "bob.ipynb", "carol.ipynb", "dave.txt", "erin.ipynb"]
    questions = ["q1", "q2", "q3", "q4", "q5"]
    assert list(run["rows"][0]) == ["submission", *questions, "total", "possible", "status", "flags", "seconds",
                                    "error"]
    erin = rows["erin.ipynb"]  # the solution, but q2 runs the package's model
    assert erin["status"] == "ok" and float(erin["q2"]) == 0 and float(erin["total"]) == 11 - 3, erin
    assert erin["flags"].startswith("q2: ") and "rnncourse.ngram.LaplaceLM" in erin["flags"], erin
    assert all(rows[name]["flags"] == "" for name in ("alice.ipynb", "bob.ipynb", "carol.ipynb", "dave.txt"))
    assert rows["alice.ipynb"]["status"] == "ok" and float(rows["alice.ipynb"]["possible"]) == 11
    assert float(rows["alice.ipynb"]["total"]) < 11  # the released stub
    assert rows["bob.ipynb"]["status"] == "timeout" and "stopped" in rows["bob.ipynb"]["error"]
    assert rows["carol.ipynb"]["status"] == "not-a-notebook" and "JSON" in rows["carol.ipynb"]["error"]
    assert rows["dave.txt"]["status"] == "not-a-notebook"
    for name in ("bob.ipynb", "carol.ipynb", "dave.txt"):
        assert float(rows[name]["total"]) == 0
    summary = run["summary"]
    assert "5 submissions: 2 graded, 3 failed to run" in summary and "mean total" in summary
    assert "flagged: 1" in summary and "  erin.ipynb: q2: " in summary
    assert all(f"  {q} (of " in summary for q in questions) and "bob.ipynb: timeout" in summary
