"""Submissions that try to earn points they did not, for tests/test_homework.py (README "Threat model").

Each entry's ``code`` is a cell put after the solution's answer to ``question`` of ``hw``
(like wrong_answers.py); the answer it leaves is wrong or calls the package. What guarded
grading must do: no points on ``question``, or the submission flagged; ``also: "all"`` marks
an attack on the grader itself, which may cost every question. The tests grade the attacks
on hw04 together, one submission per class (a class's attacks attack different questions,
so each question shows what its own attack earned).

Four classes (issue 16): 1 reach the forbidden code by a route the old name-swapping test did
not replace; 2 patch the oracle; 3 patch the comparisons; 4 patch the grader.
"""

ATTACKS = [
    # ---------------------------------------------------------------- 1: reach the package's code
    {
        "hw": "hw04", "question": "q1", "class": 1, "name": "the package's function held in a default argument",
        "code": '''
import rnncourse.seq2seq

def sequence_mask(X, valid_len, value=0, _mask=rnncourse.seq2seq.sequence_mask):
    return _mask(X, valid_len, value)
''',
    },
    {
        "hw": "hw04", "question": "q3", "class": 1, "name": "a types.FunctionType copy of the package's code, in a closure",
        "code": '''
import types
import rnncourse.bleu

def _make():
    copy = types.FunctionType(rnncourse.bleu.bleu.__code__, vars(rnncourse.bleu), "my_bleu")
    def bleu(pred_seq, label_seq, k=2):
        return copy(pred_seq, label_seq, k)
    return bleu

bleu = _make()
''',
    },
    {
        "hw": "hw04", "question": "q5", "class": 1, "name": "the package's search kept in a container, renamed",
        "code": '''
import rnncourse.decoding
_TOOLS = {"search": rnncourse.decoding.beam_search}

def beam_search(net, src_tokens, tgt_vocab, num_steps, beam_size, alpha=0.75):
    if beam_size < 1:
        raise ValueError("beam_size must be >= 1")
    return _TOOLS["search"](net, src_tokens, tgt_vocab, num_steps, beam_size, alpha)[0]
''',
    },
    {
        "hw": "hw04", "question": "q2", "class": 1, "name": "a fresh copy of the package's module, loaded from its file",
        "code": '''
import importlib.util
import rnncourse.seq2seq
_spec = importlib.util.spec_from_file_location("rnncourse.my_seq2seq", rnncourse.seq2seq.__file__)
_mine = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mine)

def masked_ce_loss(pred, label, valid_len):
    return _mine.MaskedSoftmaxCELoss()(pred, label, valid_len)
''',
    },
    {
        "hw": "hw04", "question": "q6", "class": 1, "name": "the profile hook switched off, then the package called",
        "code": '''
import sys
import rnncourse.attention

def masked_softmax(scores, valid_lens):
    sys.setprofile(None)
    sys.settrace(None)
    return rnncourse.attention.masked_softmax(scores, valid_lens)
''',
    },
    {
        "hw": "hw01", "question": "q2", "class": 1, "via": "grade.py",  # graded by tools/grade.py's test
        "name": "the package's model reached through a lambda's default",
        "code": '''
import rnncourse.ngram

bigram_model = (lambda tokens, eps1, eps2, _lm=rnncourse.ngram.LaplaceLM:
                (lambda x_next, x, _m=_lm(list(tokens), 2, (eps1, eps2)): _m.prob(x_next, (x,))))
''',
    },
    # ---------------------------------------------------------------- 2: patch the oracle
    {
        "hw": "hw04", "question": "q3", "class": 2, "name": "a BLEU without brevity penalty put in the package's place",
        "code": '''
import rnncourse.bleu

def bleu(pred_seq, label_seq, k=2):
    pred, label = pred_seq.split(), label_seq.split()
    if not label:
        raise ValueError("the label is empty")
    if not pred:
        return 0.0
    score = 1.0
    for n in range(1, min(k, len(pred)) + 1):
        grams = [tuple(label[i:i + n]) for i in range(len(label) - n + 1)]
        matches = 0
        for i in range(len(pred) - n + 1):
            if tuple(pred[i:i + n]) in grams:
                grams.remove(tuple(pred[i:i + n]))
                matches += 1
        score *= (matches / (len(pred) - n + 1)) ** (0.5 ** n)
    return score

rnncourse.bleu.bleu = bleu
rnncourse.bleu.bleu.__module__ = "rnncourse.bleu"
''',
    },
    {
        "hw": "hw04", "question": "q2", "class": 2, "name": "the package's loss made to call the (garbage) answer",
        "code": '''
import rnncourse.seq2seq

def masked_ce_loss(pred, label, valid_len):
    return torch.tensor(0.0)  # garbage

rnncourse.seq2seq.MaskedSoftmaxCELoss.forward = lambda self, pred, label, valid_len: masked_ce_loss(pred, label, valid_len)
''',
    },
    {
        "hw": "hw04", "question": "q1", "class": 2, "name": "the package function's code replaced by the (garbage) answer's",
        "code": '''
import rnncourse.seq2seq

def sequence_mask(X, valid_len, value=0):
    return X  # garbage: no mask, no checks

rnncourse.seq2seq.sequence_mask.__code__ = sequence_mask.__code__
''',
    },
    # ---------------------------------------------------------------- 3: patch the comparisons
    {
        "hw": "hw04", "question": "q1", "class": 3, "name": "garbage, with torch's comparisons made to always agree",
        "code": '''
import torch.testing

def sequence_mask(X, valid_len, value=0):
    return X.clone()

torch.testing.assert_close = lambda *args, **kwargs: None
torch.equal = lambda *args, **kwargs: True
torch.allclose = lambda *args, **kwargs: True
''',
    },
    {
        "hw": "hw04", "question": "q3", "class": 3, "name": "garbage, with math.isclose and float equality patched",
        "code": '''
import math

class _Agreeable(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def bleu(pred_seq, label_seq, k=2):
    return _Agreeable(0.5)

math.isclose = lambda *args, **kwargs: True
''',
    },
    # ---------------------------------------------------------------- 4: patch the grader
    {
        "hw": "hw04", "question": "q3", "class": 4, "also": "all",
        "name": "otter's test runner replaced in the kernel so that every test passes",
        "code": '''
from otter.test_files import abstract_test, exception_test

def _run(self, global_environment):
    self.test_case_results = [abstract_test.TestCaseResult(test_case=tc, message="passed", passed=True)
                              for tc in self.test_cases]

exception_test.ExceptionTestFile.run = _run

def bleu(pred_seq, label_seq, k=2):
    return 0.25
''',
    },
    {
        "hw": "hw04", "question": "q1", "class": 4, "also": "all",
        "name": "a forged results pickle whose loading runs code in the grader",
        "code": '''
import os, pickle

class _Forged:
    def __reduce__(self):
        return (os.system, ("echo forged > {marker}",))

_real_dump = pickle.dump
pickle.dump = lambda obj, f, *args, **kwargs: _real_dump(_Forged(), f)

def sequence_mask(X, valid_len, value=0):
    return X.clone()
''',
    },
    {
        "hw": "hw04", "question": "q5", "class": 4, "also": "all",
        "name": "open() replaced, to rewrite the recording of the answers on its way out",
        "code": '''
import builtins, io

def beam_search(net, src_tokens, tgt_vocab, num_steps, beam_size, alpha=0.75):
    return "a", 1.0  # garbage

class _Rewriter(io.StringIO):
    def __init__(self, path):
        super().__init__()
        self.path = path
    def __exit__(self, *exc):
        text = self.getvalue().replace('"raise"', '"return"')  # any rewrite of the verdict's evidence
        with io.open(self.path, "w", encoding="utf-8") as f:
            f.write(text)

_real_open = builtins.open
builtins.open = lambda path, mode="r", *args, **kwargs: (
    _Rewriter(path) if "recording" in str(path) and "w" in mode else _real_open(path, mode, *args, **kwargs))
''',
    },
]
