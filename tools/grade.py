"""Grade a folder of homework submissions locally with ``otter run``: ``make grade HW=hw01 SUBMISSIONS=dir/``.

    python tools/grade.py hw01 dir/ [--timeout 300] [--jobs 2] [--autograder ZIP] [--out DIR]

Every ``.ipynb`` (or otter submission ``.zip``) in ``dir/`` is graded in its own ``otter run``
process against the autograder zip that ``make homework`` built in
``_build/homework/<hw>/autograder/``. Writes ``<out>/scores.csv`` (default
``_build/homework/<hw>/results/``): one row per file of ``dir/``, with each question's points,
the total, the status, the flags and, for a submission that could not be graded, why. A
submission that crashes, runs past ``--timeout`` seconds or is not a notebook gets its row
(status ``error``, ``timeout`` or ``not-a-notebook``, 0 points) and never stops the run.
A Ctrl-C (or SIGTERM) kills the otter runs in progress, kernels included, and exits.
``flags`` lists what the autograder's guard (``rnncourse.autograde``) flagged -- an answer
that ran the code its question forbids, tampering with the grading -- as
``q1: why; q3: why``; a flagged question has 0 points. ``<out>/summary.txt`` (also printed)
gives the mean, each question's distribution of points, the flagged submissions and the
submissions that failed.

Threads: the kernel and the grader use ``OMP_NUM_THREADS`` from the environment, 1 when it is
unset (several submissions are graded at once); grades do not depend on it.

Security: ``otter run`` executes the students' code as the user running this script, with
that user's files and network. Use it on a machine with no secrets; for a real class,
grade in otter's Docker containers (``otter grade``) or on Gradescope.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import csv
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from tqdm import tqdm

ROOT = pathlib.Path(__file__).resolve().parents[1]
GRADABLE = (".ipynb", ".zip")
SHARED_DATA = ROOT.parent / "shared" / "data"  # verified corpora beside the checkout (course machines, CI)
# The otter runs in progress: each has a session of its own (so that a timeout kills its kernel
# too), which a Ctrl-C or a SIGTERM of this script does not reach; _stop kills them.
_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _natural(name: str) -> list:
    """q2 before q10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def find_autograder(hw: str) -> pathlib.Path:
    zips = sorted((ROOT / "_build" / "homework" / hw / "autograder").glob("*.zip"), key=os.path.getmtime)
    if not zips:
        raise SystemExit(f"no autograder zip in _build/homework/{hw}/autograder/: run `make homework` first")
    return zips[-1]


def questions_of(autograder: pathlib.Path) -> list[str]:
    """The question names of an autograder zip: its tests/<question>.py files."""
    with zipfile.ZipFile(autograder) as archive:
        names = [pathlib.PurePosixPath(n) for n in archive.namelist()]
    return sorted((n.stem for n in names if n.parent.name == "tests" and n.suffix == ".py"), key=_natural)


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^\w*(Error|Exception)\b", line):
            return line[:300]
    return (lines[-1] if lines else "no output")[:300]


def grade_one(submission: pathlib.Path, autograder: pathlib.Path, timeout: float) -> dict:
    """Grade one file with ``otter run`` in a child process; never raises."""
    row = {"submission": submission.name, "status": "ok", "scores": {}, "seconds": 0.0, "error": "", "flags": []}
    if submission.suffix not in GRADABLE:
        row.update(status="not-a-notebook", error=f"not a .ipynb or .zip file: {submission.name}")
        return row
    if submission.suffix == ".ipynb":
        try:
            json.loads(submission.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            row.update(status="not-a-notebook", error=f"not a notebook (not JSON): {error}"[:300])
            return row
    elif not zipfile.is_zipfile(submission):
        row.update(status="not-a-notebook", error="not a zip file")
        return row
    otter = pathlib.Path(sys.executable).parent / "otter"
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if "RNNCOURSE_DATA_DIR" not in env and (SHARED_DATA / "timemachine.txt").exists():
        env["RNNCOURSE_DATA_DIR"] = str(SHARED_DATA)  # the Makefile's rule, for runs outside make
    with tempfile.TemporaryDirectory(prefix="grade-") as out:
        start = time.perf_counter()
        # a session of its own, so that a timeout kills the kernel the grader started too
        with _LOCK:
            if _STOPPING.is_set():
                row.update(status="error", error="grading was stopped (SIGINT or SIGTERM) before this submission")
                return row
            process = subprocess.Popen([str(otter), "run", "--no-logo", "-a", str(autograder), "-o", out,
                                        str(submission)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, start_new_session=True, env=env)
            _RUNNING.add(process)
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            process.communicate()
            row.update(status="timeout", seconds=time.perf_counter() - start,
                       error=f"still running after {timeout:g} s (a loop that never ends?): stopped")
            return row
        finally:
            with _LOCK:
                _RUNNING.discard(process)
        row["seconds"] = time.perf_counter() - start
        results = pathlib.Path(out) / "results.json"
        if process.returncode != 0 or not results.exists():
            row.update(status="error", error=f"otter run failed (exit {process.returncode}): {_last_error_line(output)}")
            return row
        data = json.loads(results.read_text())
    for test in data.get("tests", []):
        # Gradescope format: one entry per question, named "q1" or "q1 - 1" (one per test case)
        question = test.get("name", "").split(" - ")[0].strip()
        row["scores"][question] = row["scores"].get(question, 0.0) + float(test.get("score") or 0.0)
    row["flags"] = flags_of(data)
    return row


def _kill(process: subprocess.Popen) -> None:
    """Kill an otter run and everything in its session (the kernel it started)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop(signum, frame) -> None:
    """SIGINT, SIGTERM: start no other otter run, kill the ones in progress, exit."""
    with _LOCK:
        _STOPPING.set()
        for process in list(_RUNNING):
            _kill(process)
    raise SystemExit(128 + signum)


def flags_of(results: dict) -> list[str]:
    """The guard's flags (``q1: why``) from the ``output`` of otter's results.json."""
    prefix = "flagged: "  # rnncourse.autograde.plugin.FLAG_PREFIX
    return [line[len(prefix):].strip() for line in str(results.get("output") or "").splitlines()
            if line.startswith(prefix)]


def summarize(rows: list[dict], questions: list[str], possible: dict[str, float]) -> str:
    graded = [r for r in rows if r["status"] == "ok"]
    lines = [f"{len(rows)} submissions: {len(graded)} graded, {len(rows) - len(graded)} failed to run"]
    if rows:
        totals = [sum(r["scores"].get(q, 0.0) for q in questions) for r in rows]
        total_possible = sum(possible.values())
        lines.append(f"mean total: {sum(totals) / len(totals):.2f} / {total_possible:g} (failed submissions count 0)")
    for q in questions:
        counts = collections.Counter(r["scores"].get(q, 0.0) for r in rows)
        spread = ", ".join(f"{points:g} pts: {n}" for points, n in sorted(counts.items()))
        mean = sum(r["scores"].get(q, 0.0) for r in rows) / max(len(rows), 1)
        lines.append(f"  {q} (of {possible.get(q, float('nan')):g}): mean {mean:.2f}; {spread}")
    flagged = [r for r in rows if r.get("flags")]
    lines.append(f"flagged: {len(flagged)}" + (" (their flagged questions score 0)" if flagged else ""))
    lines += [f"  {r['submission']}: {'; '.join(r['flags'])}"[:2000] for r in flagged]
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines.append("failed:")
        lines += [f"  {r['submission']}: {r['status']}: {r['error']}" for r in failed]
    seconds = sorted(r["seconds"] for r in graded)
    if seconds:
        lines.append(f"seconds per graded submission: median {seconds[len(seconds) // 2]:.1f}, max {seconds[-1]:.1f}")
    return "\n".join(lines)


def points_possible(autograder: pathlib.Path, questions: list[str]) -> dict[str, float]:
    """Each question's points, read from the test files in the autograder zip."""
    possible = {}
    with zipfile.ZipFile(autograder) as archive:
        for q in questions:
            source = archive.read(f"tests/{q}.py").decode()
            match = re.search(r"^points\s*=\s*([0-9.]+)", source, flags=re.MULTILINE)
            points = [float(p) for p in re.findall(r"@test_case\(points=([0-9.]+)", source)]
            possible[q] = float(match.group(1)) if match else sum(points)
    return possible


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("hw", help="the assignment, e.g. hw01")
    parser.add_argument("submissions", type=pathlib.Path, help="a folder of .ipynb or otter .zip submissions")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per submission (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    parser.add_argument("--autograder", type=pathlib.Path, help="the autograder zip (default: the one make homework built)")
    parser.add_argument("--out", type=pathlib.Path, help="results folder (default _build/homework/<hw>/results)")
    args = parser.parse_args(argv)
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is not a folder")
    if args.timeout <= 0 or args.jobs < 1:
        parser.error("--timeout must be positive and --jobs at least 1")
    autograder = args.autograder or find_autograder(args.hw)
    out = args.out or ROOT / "_build" / "homework" / args.hw / "results"
    out.mkdir(parents=True, exist_ok=True)
    questions = questions_of(autograder)
    possible = points_possible(autograder, questions)
    files = sorted((p for p in args.submissions.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: _natural(p.name))
    print(f"grading {len(files)} files of {args.submissions} with {autograder.name}, "
          f"{args.jobs} at a time, {args.timeout:g} s each at most", flush=True)
    rows = []
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(grade_one, f, autograder, args.timeout) for f in files]
        # disable=False: the Makefile sets TQDM_DISABLE=1 for the book, not for this bar
        for future in tqdm(concurrent.futures.as_completed(futures), total=len(futures), unit="submission",
                           disable=False, file=sys.stderr):
            rows.append(future.result())
    rows.sort(key=lambda r: _natural(r["submission"]))
    with open(out / "scores.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", *questions, "total", "possible", "status", "flags", "seconds", "error"])
        total_possible = sum(possible.values())
        for r in rows:
            scores = [r["scores"].get(q, 0.0) for q in questions]
            writer.writerow([r["submission"], *(f"{s:g}" for s in scores), f"{sum(scores):g}", f"{total_possible:g}",
                             r["status"], "; ".join(r["flags"]), f"{r['seconds']:.1f}", r["error"]])
    summary = summarize(rows, questions, possible)
    (out / "summary.txt").write_text(summary + "\n", encoding="utf-8")
    print(summary)
    print(f"wrote {out / 'scores.csv'} and {out / 'summary.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
