"""The harness side of guarded grading: an otter plugin (``rnncourse.autograde.plugin.GuardedGrading``).

otter runs plugins in its own process (``otter run``, and ``run_autograder`` on Gradescope),
which starts the student's kernel but never runs student code itself. The plugin

* ``before_grading`` (before the kernel starts): reads the assignment's tests into memory and
  removes them from the submission folder (otter then runs no test in the kernel), imports
  every ``rnncourse`` module -- the references the tests compare with are this process's,
  loaded before any student code ran -- and resolves each question's ``forbidden`` names
  into the code objects the kernel must watch for;
* ``before_execution``: appends the recording cell (``record.py``'s source and its
  configuration) to the notebook;
* ``after_grading``: runs every test here, with each answer replaced by the replay of what it
  returned in the kernel (``replay.Replay``); these verdicts replace otter's. A question
  whose answer ran forbidden code, or during which the kernel refused tampering, gets 0
  points and a flag, written to the results' ``output`` as ``flagged: <question>: <why>``.

The kernel's own results (otter pickles them in the kernel and unpickles them here) are
never read: unpickling data a submission could write would run its code in this process.

Configure it in the assignment's ``# ASSIGNMENT CONFIG``::

    plugins:
      - rnncourse.autograde.plugin.GuardedGrading:
          forbidden:
            q1: [rnncourse.seq2seq.sequence_mask, rnncourse.seq2seq.MaskedSoftmaxCELoss]
"""
from __future__ import annotations

import glob
import importlib
import json
import os
import pathlib
import pkgutil
import tempfile
from typing import Any

import nbformat

from otter.plugins import AbstractOtterPlugin
from otter.test_files import GradingResults
from otter.test_files.abstract_test import TestCaseResult
from otter.test_files.exception_test import ExceptionTestFile

from . import record
from .replay import Replay, ReplayError

MAX_RECORDING_BYTES = 512 * 2 ** 20
FLAG_PREFIX = "flagged: "


class _RefuseKernelResults:
    """Stands in for ``pickle`` in ``otter.execute``: the kernel's pickled verdicts are not read."""

    @staticmethod
    def load(file):
        raise RuntimeError("guarded grading does not read the kernel's results (the plugin's replay grades)")


def import_package() -> list[str]:
    """Import every rnncourse module now, before the kernel runs student code."""
    import rnncourse

    names = []
    for info in pkgutil.walk_packages(rnncourse.__path__, "rnncourse."):
        if info.name.endswith("__main__") or info.name.startswith("rnncourse.autograde"):
            continue
        importlib.import_module(info.name)
        names.append(info.name)
    return names


def resolve(dotted: str):
    """``rnncourse.seq2seq.MaskedSoftmaxCELoss`` -> that object (a module, class or function)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ValueError(f"cannot resolve the forbidden name {dotted!r}")


def forbidden_codes(names: list[str]) -> dict[str, str]:
    """code key or bytecode digest -> the forbidden name it belongs to."""
    codes = {}
    for name in names:
        for code in record.codes_of(resolve(name)):
            codes.setdefault(record.code_key(code), name)
            # a copy is caught by its bytecode only for substantial named functions: comprehensions,
            # lambdas and short methods have twins everywhere (a student's listcomp included)
            if not code.co_name.startswith("<") and len(code.co_code) >= record.MIN_DIGEST_BYTES:
                codes.setdefault(record.code_digest(code), name)
    return codes


class GuardedGrading(AbstractOtterPlugin):
    """Verdicts from otter's process, from a replay of what the answers returned in the kernel."""

    def before_grading(self, config) -> None:
        self.tests: dict[str, str] = {}
        for path in sorted(glob.glob("./tests/*.py")):
            self.tests[pathlib.Path(path).stem] = pathlib.Path(path).read_text(encoding="utf-8")
            os.remove(path)  # the kernel runs no test of otter's; its recording is all that counts
        import_package()
        forbidden = (self.plugin_config or {}).get("forbidden", {})
        unknown = set(forbidden) - set(self.tests)
        if unknown:
            raise ValueError(f"forbidden names for questions that have no tests: {sorted(unknown)}")
        self.forbidden = {q: forbidden_codes(names) for q, names in forbidden.items()}
        self.forbidden_names = forbidden
        handle, self.recording_path = tempfile.mkstemp(prefix="rnncourse-recording-", suffix=".json")
        os.close(handle)
        os.remove(self.recording_path)  # the kernel creates it: a missing file means no recording
        import otter.execute

        otter.execute.pickle = _RefuseKernelResults

    def before_execution(self, submission):
        if isinstance(submission, str):  # a .py submission: a notebook of one cell
            submission = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(submission)])
        config = {"tests": self.tests, "forbidden": self.forbidden, "out": self.recording_path}
        source = pathlib.Path(record.__file__).read_text(encoding="utf-8")
        # The cell first checks that exec and compile are still Python's own (a Python function
        # in their place could rewrite the recorder), then runs the recorder in a namespace of
        # its own; main() gets the notebook's globals.
        code = (f"if not all(type(f).__name__ == 'builtin_function_or_method' and f.__name__ == n\n"
                f"           for f, n in ((exec, 'exec'), (compile, 'compile'))):\n"
                f"    raise SystemExit('grading refuses a notebook that replaced exec or compile')\n"
                "__rnncourse_recorder = {'__name__': 'rnncourse_recorder'}\n"
                f"exec(compile({source!r}, '<rnncourse recorder>', 'exec'), __rnncourse_recorder)\n"
                f"__rnncourse_recorder['main'](globals(), {config!r})\n"
                "del __rnncourse_recorder\n")
        submission.cells.append(nbformat.v4.new_code_cell(code))
        return submission

    def _load_recording(self) -> tuple[dict | None, str]:
        try:
            size = os.path.getsize(self.recording_path)
        except OSError:
            return None, "the notebook left no recording of its answers (its kernel died, or it stopped the grading cell)"
        try:
            if size > MAX_RECORDING_BYTES:
                return None, f"the recording of its answers is {size} bytes, more than {MAX_RECORDING_BYTES}"
            with open(self.recording_path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("tests"), dict):
                return None, "the recording of its answers is not one the grader wrote"
            return data, ""
        except (ValueError, UnicodeDecodeError) as error:
            return None, f"the recording of its answers is not valid JSON ({error})"[:300]
        finally:
            os.remove(self.recording_path)

    def _flags(self, recording: dict | None, why: str) -> dict[str, list[str]]:
        """question -> reasons it is flagged."""
        if recording is None:
            return {q: [why] for q in self.tests}
        flags: dict[str, list[str]] = {}
        for q in self.tests:
            for name in (recording.get("forbidden") or {}).get(q, []):
                flags.setdefault(q, []).append(f"the answer ran {name}, which the question forbids")
        for line in recording.get("tamper") or []:
            q, _, what = str(line).partition(": ")
            flags.setdefault(q if q in self.tests else "all", []).append(what[:300])
        if "all" in flags:  # tampering not tied to one question: every question
            for q in self.tests:
                flags.setdefault(q, []).extend(flags["all"])
            del flags["all"]
        return flags

    def _run_file(self, question: str, recorded: dict, flags: list[str]) -> ExceptionTestFile:
        test_file = ExceptionTestFile.from_string(self.tests[question], path=f"tests/{question}.py")
        test_file.test_case_results = []
        for tc in test_file.test_cases:
            case = recorded.get(tc.body.test_func.__name__)
            passed, message = True, "✅ Test case passed"
            if flags:
                passed, message = False, "❌ Flagged: " + "; ".join(flags)
            elif not isinstance(case, dict):
                passed, message = False, "❌ Test case failed\nthe notebook's run left no recording of this test"
            else:
                try:
                    environment = Replay(case).environment(tc.body.test_func)
                    record.reset_generators()  # as the kernel did before this test
                    tc.body.call_func(environment)
                except Exception as error:
                    try:
                        detail = test_file._generate_error_message(error)
                    except Exception:
                        detail = f"{type(error).__name__}: {error}"
                    passed, message = False, "❌ Test case failed\n" + detail
            test_file.test_case_results.append(TestCaseResult(test_case=tc, message=message, passed=passed))
        return test_file

    def after_grading(self, results: GradingResults) -> None:
        recording, why = self._load_recording()
        flags = self._flags(recording, why)
        tests = (recording or {}).get("tests", {})
        files = [self._run_file(q, tests.get(q) if isinstance(tests.get(q), dict) else {}, flags.get(q, []))
                 for q in sorted(self.tests, key=_natural)]
        fresh = GradingResults(files)
        results.results = fresh.results
        results._catastrophic_error = None
        lines = [f"{FLAG_PREFIX}{q}: {reason}" for q in sorted(flags, key=_natural) for reason in dict.fromkeys(flags[q])]
        results.set_output("\n".join(lines) if lines else "no flags")
        results.set_plugin_data(type(self).__name__, {"flags": flags})


def _natural(name: str) -> list[Any]:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
