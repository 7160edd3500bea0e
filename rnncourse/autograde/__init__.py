"""Guarded grading of the course's otter homework (homework/README.md, "Threat model").

otter runs a notebook's tests in the student's own kernel, so a submission can patch the
oracle, the comparisons or otter itself. This package moves the verdicts out of it:

* ``record`` runs in the student's kernel (pasted into the last cell by the plugin): it
  drives every test of the assignment there, but records only what the student's answers
  *returned* (and changed), serialized as JSON, while a trace hook watches that no code
  of the package the question forbids runs inside an answer;
* ``plugin.GuardedGrading`` is an otter plugin, so it runs in otter's harness process,
  where no student code ever runs: before the kernel starts it takes the tests and imports
  the package (the references); afterwards it runs the same tests again with the answers
  replaced by a replay of the recording, and those verdicts are the grade.
"""
