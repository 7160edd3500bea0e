"""The homework guard's parts without otter (rnncourse/autograde): fast, in this process.

tests/test_homework.py grades whole notebooks through otter; these check the pieces it
relies on: the watch sees forbidden code however it is reached and refuses to be switched
off, what a recording carries decodes to the same values, and a replay reproduces what the
answer returned and changed -- or refuses when the test calls it differently.
"""
from __future__ import annotations

import collections
import importlib.util
import math
import random
import sys
import types

import pytest
import torch

import rnncourse.bleu
import rnncourse.seq2seq
from rnncourse.autograde import plugin, record
from rnncourse.autograde.replay import ForbiddenCode, Replay, ReplayError, decode_tensor

FORBIDDEN = ["rnncourse.seq2seq.sequence_mask", "rnncourse.seq2seq.MaskedSoftmaxCELoss", "rnncourse.bleu.bleu"]


@pytest.fixture(scope="module")
def watch():
    return record.Watch(plugin.forbidden_codes(FORBIDDEN), [])


def _hits(watch, fn):
    with watch:
        fn()
    return list(watch.hits)


def test_the_watch_sees_forbidden_code_by_every_route(watch):
    held = {"f": rnncourse.bleu.bleu}
    assert _hits(watch, lambda: held["f"]("a b", "a b c", 2))[0].startswith("rnncourse.bleu.bleu")
    renamed = types.FunctionType(rnncourse.bleu.bleu.__code__.replace(co_name="mine"), vars(rnncourse.bleu))
    assert _hits(watch, lambda: renamed("a b", "a b c", 2))  # caught by its bytecode
    spec = importlib.util.spec_from_file_location("rnncourse.copy_of_seq2seq", rnncourse.seq2seq.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    loss = copy.MaskedSoftmaxCELoss()
    hits = _hits(watch, lambda: loss(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long), torch.tensor([1, 2])))
    assert any("MaskedSoftmaxCELoss" in h for h in hits), hits


def test_a_thread_the_answer_starts_is_stopped_and_recorded(watch, monkeypatch):
    import threading

    ran, died = [], []

    def answer():
        thread = threading.Thread(target=lambda: ran.append(rnncourse.bleu.bleu("a b", "a b c", 2)))
        thread.start()
        thread.join()

    # threading installs the watch's trace hook in the new thread with sys.settrace, which the
    # audit hook refuses while an answer runs: the thread dies before its target starts
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: died.append(unraisable.exc_value))
    before = len(watch.tamper)
    _hits(watch, answer)
    assert ran == [] and any("sys.settrace" in str(error) for error in died), (ran, died)
    assert len(watch.tamper) > before and "sys.settrace" in watch.tamper[-1]
    assert sys.gettrace() is None


def test_the_watch_leaves_the_answers_own_code_alone(watch):
    def mine(tokens):
        return [t for t in tokens if t], {t: 1 for t in tokens}, math.exp(0.5)  # comprehensions everywhere

    assert _hits(watch, lambda: mine(["a", "", "b"])) == []
    assert sys.gettrace() is None  # the hook is off outside an answer


def test_the_watch_refuses_to_be_switched_off(watch):
    def switch_off():
        sys.settrace(None)

    with pytest.raises(RuntimeError, match="sys.settrace"), watch:
        switch_off()
    assert any("sys.settrace" in t for t in watch.tamper)
    sys.settrace(None)  # allowed outside an answer


def _round_trip(value):
    encoded = record.Encoder(lambda obj, kind: "#1")(value)
    text = record.to_json({"v": encoded})
    import json

    return Replay({}).decode(json.loads(text)["v"])


def test_recorded_values_decode_to_the_same_values():
    for dtype in (torch.float32, torch.float64, torch.int64, torch.bool, torch.bfloat16):
        t = (torch.randn(2, 3) * 3).to(dtype)
        back = _round_trip(t)
        assert back.dtype == dtype and torch.equal(back, t)
    assert _round_trip(torch.empty(0, 4)).shape == (0, 4)
    value = {"a": [1, 2.5, None, True], ("x", 1): (3,), "s": {1, 2}, "c": collections.Counter("aab")}
    assert _round_trip(value) == value and isinstance(_round_trip(value)["c"], collections.Counter)
    assert math.isnan(_round_trip(float("nan"))) and _round_trip(-math.inf) == -math.inf
    assert _round_trip(2 ** 70) == 2 ** 70

    class Agreeable(float):  # a float that equals everything: it arrives as a plain float
        def __eq__(self, other):
            return True

    assert type(_round_trip(Agreeable(0.5))) is float and _round_trip(Agreeable(0.5)) != 0.25
    with pytest.raises(record.Unsupported):
        record.Encoder(lambda obj, kind: "#1")(object())


def test_a_tampered_tensor_does_not_decode():
    good = record.encode_tensor(torch.ones(2, 2))
    with pytest.raises(ReplayError):
        decode_tensor(dict(good, shape=[3, 3]))
    with pytest.raises(ReplayError):
        decode_tensor(dict(good, dtype="object"))


def _record(test, answers: dict, watch) -> tuple[dict, object]:
    """What the kernel side records of ``test`` (and what the test returned there)."""
    import json

    recording = record.Recording(watch)
    returned = test(**{name: recording.wrap(name, fn) for name, fn in answers.items()})
    return json.loads(record.to_json({"entries": recording.entries, "values": {}})), returned


def test_a_replay_returns_and_changes_what_the_answer_did(watch):
    def clip(params, theta):  # changes gradients in place and draws from both generators
        random.random()
        torch.rand(1)
        for p in params:
            p.grad.mul_(0.5)
        return 1.5

    def batches(n):
        yield from (torch.full((2,), float(i)) for i in range(n))

    def test(clip, batches):
        p = torch.zeros(2, requires_grad=True)
        p.grad = torch.tensor([2.0, 4.0])
        random.seed(0)
        torch.manual_seed(0)
        assert clip([p], 1.0) == 1.5
        assert torch.equal(p.grad, torch.tensor([1.0, 2.0]))
        state = (random.random(), float(torch.rand(1)))
        assert [float(b[0]) for b in batches(3)] == [0.0, 1.0, 2.0]
        return state

    recorded, kernel_state = _record(test, {"clip": clip, "batches": batches}, watch)
    replay = Replay(recorded)
    # the replay applies the gradients and the generators' states the answer left
    assert test(**replay.environment(test)) == kernel_state


def test_a_replay_refuses_other_calls_and_reports_forbidden_code(watch):
    def answer(x):
        return rnncourse.bleu.bleu("a b", "a b c", 2) if x == "cheat" else x

    def test(answer):
        answer(torch.ones(2))
        answer("cheat")

    recorded, _ = _record(test, {"answer": answer}, watch)
    assert "forbidden" in recorded["entries"][1]["outcome"]
    replay = Replay(recorded)
    answer_here = replay.environment(test)["answer"]
    with pytest.raises(ReplayError, match="other arguments"):
        answer_here(torch.zeros(2))  # not what the kernel's test passed
    replay = Replay(recorded)
    answer_here = replay.environment(test)["answer"]
    assert torch.equal(answer_here(torch.ones(2)), torch.ones(2))
    with pytest.raises(ForbiddenCode):
        answer_here("cheat")
    with pytest.raises(ReplayError, match="more often"):
        answer_here("again")
