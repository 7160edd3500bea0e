"""Replay, in the harness, what an answer did in the student's kernel (see ``record.py``).

A test runs here with each answer replaced by a stand-in that, call after call, checks that
it is called as it was in the kernel (same answer, same digest of the arguments), applies
what the call changed in place, and returns (or raises) what the answer returned (or
raised) there. Decoding is strict: JSON only, tensors of known dtypes whose byte counts
match their shapes; nothing in the recording can run code here.
"""
from __future__ import annotations

import base64
import builtins
import collections
import inspect
import random

import torch

from .record import TENSOR_DTYPES, digest


class ReplayError(Exception):
    """The test calls an answer in a way the recording does not hold."""


class ForbiddenCode(Exception):
    """The answer ran code its question forbids."""


def decode_tensor(d: dict) -> torch.Tensor:
    dtype = TENSOR_DTYPES.get(d.get("dtype"))
    shape = d.get("shape")
    if dtype is None or not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ReplayError(f"a recorded tensor with dtype {d.get('dtype')!r} and shape {shape!r}")
    data = base64.b64decode(d.get("data", ""), validate=True)
    count = 1
    for n in shape:
        count *= n
    if len(data) != count * torch.empty(0, dtype=dtype).element_size():
        raise ReplayError("a recorded tensor whose data does not match its shape")
    t = torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape).clone() if count else torch.empty(shape, dtype=dtype)
    if d.get("requires_grad") and t.is_floating_point():
        t.requires_grad_(True)
    return t


def exception(name: str, message: str) -> Exception:
    """The builtin exception the answer raised (its type is what tests check), else a RuntimeError."""
    cls = getattr(builtins, str(name), None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:
            pass
    return RuntimeError(f"{name}: {message}")


class Replay:
    """The stand-ins for the answers of one test, fed by that test's recording."""

    def __init__(self, recorded: dict):
        self.entries = recorded.get("entries") or []
        self.values = recorded.get("values") or {}
        self.position = 0

    def environment(self, test_func) -> dict:
        """What otter passes a test function: stand-ins for answers, recorded values for the rest."""
        env = {}
        for name in inspect.signature(test_func).parameters:
            if name in self.values:
                value = self.values[name]
                if isinstance(value, dict) and "unsupported" in value:
                    raise ReplayError(f"{name} is {value['unsupported']}, which grading cannot carry")
                env[name] = self.decode(value)
            else:
                env[name] = self.stand_in(name)
        return env

    def stand_in(self, target: str):
        def replayed(*args, **kwargs):
            return self.call(target, args, kwargs)

        replayed.__name__ = target
        return replayed

    def call(self, target: str, args: tuple, kwargs: dict, check_args: bool = True):
        if self.position >= len(self.entries):
            raise ReplayError(f"{target} is called here more often than the notebook's run called it")
        entry = self.entries[self.position]
        self.position += 1
        arguments = {"args": list(args), "kwargs": kwargs}
        if not isinstance(entry, dict) or entry.get("target") != target:
            raise ReplayError(f"the notebook's run called the answers in another order (expected {target})")
        if check_args and entry.get("digest") != digest(arguments):
            raise ReplayError(f"{target} was called with other arguments in the notebook's run")
        self._apply(entry.get("effects") or {}, arguments)
        outcome = entry.get("outcome") or {}
        if "forbidden" in outcome:
            raise ForbiddenCode(f"the answer ran {outcome['forbidden']}, which the question forbids")
        if "unsupported" in outcome:
            raise ReplayError(f"{target} returned {outcome['unsupported']}, which grading cannot carry")
        if "raise" in outcome:
            name, message = (list(outcome["raise"]) + ["", ""])[:2]
            raise exception(name, str(message))
        if "return" not in outcome:
            raise ReplayError(f"the recording of a call of {target} holds no outcome")
        return self.decode(outcome["return"])

    def _apply(self, effects: dict, arguments: dict) -> None:
        for change in effects.get("changed", []):
            obj = arguments
            try:
                for key in change["path"]:
                    obj = obj[key]
            except (KeyError, IndexError, TypeError):
                raise ReplayError("the recording changes an argument this call does not have") from None
            if "training" in change and isinstance(obj, torch.nn.Module):
                for module, training in zip(obj.modules(), change["training"]):
                    module.training = bool(training)
            elif "tensor" in change and isinstance(obj, torch.Tensor):
                new = decode_tensor(change["tensor"])
                with torch.no_grad():
                    if new.shape == obj.shape and new.dtype == obj.dtype:
                        obj.copy_(new)
                    else:
                        obj.data = new
                obj.grad = None if change.get("grad") is None else decode_tensor(change["grad"])
        if "random" in effects:
            version, internal, gauss = effects["random"]
            random.setstate((version, tuple(internal), gauss))
        if "torch_rng" in effects:
            torch.random.set_rng_state(decode_tensor(effects["torch_rng"]))

    def decode(self, v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.decode(x) for x in v]
        if not isinstance(v, dict) or len(v) not in (1, 2):
            raise ReplayError("a recorded value of unknown form")
        if "tensor" in v:
            return decode_tensor(v["tensor"])
        if "ndarray" in v:
            return self.decode(v["ndarray"]).numpy()
        if "int" in v:
            return int(v["int"])
        if "float" in v:
            return float(v["float"])
        if "tuple" in v:
            return tuple(self.decode(x) for x in v["tuple"])
        if "dict" in v:
            return {_hashable(self.decode(k)): self.decode(x) for k, x in v["dict"]}
        if "counter" in v:
            return collections.Counter({_hashable(self.decode(k)): self.decode(x) for k, x in v["counter"]})
        if "set" in v:
            items = {_hashable(self.decode(x)) for x in v["set"]}
            return frozenset(items) if v.get("frozen") else items
        if "range" in v:
            return range(*[int(x) for x in v["range"]])
        if "callable" in v:
            return self.stand_in(str(v["callable"]))
        if "iterator" in v:
            return _ReplayedIterator(self, str(v["iterator"]))
        raise ReplayError("a recorded value of unknown form")


def _hashable(key):
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key


class _ReplayedIterator:
    def __init__(self, replay: Replay, target: str):
        self.replay, self.target = replay, target

    def __iter__(self):
        return self

    def __next__(self):
        return self.replay.call(self.target, (self,), {}, check_args=False)
