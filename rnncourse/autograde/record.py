"""The kernel side of guarded grading: run the tests, record what the answers returned.

``plugin.GuardedGrading`` pastes this file's source into a cell it appends to the
submission, followed by ``main(globals(), CONFIG)``. So it runs in the student's kernel
after all of the student's code, and it imports nothing from ``rnncourse`` (a submission
may have replaced those modules there): only the standard library and torch.

``main`` runs every test function of the assignment with each answer the test takes (a
callable notebook global) wrapped in a recorder. The tests' own oracles and comparisons run
too, but nothing they compute is kept: a patched oracle or ``math.isclose`` changes nothing
that leaves this process. Each call of an answer (and of a callable or an iterator it
returns) is recorded in order as JSON: a digest of its arguments, what it returned or
raised, and what it changed in place (tensor arguments, their gradients, modules' training
mode, the random generators' states). The harness replays the recording to the same tests.

While an answer runs, ``Watch`` keeps a trace hook on (``sys.settrace``, and
``threading.settrace`` for new threads): a call of any function whose code matches the
code the question forbids -- by file, line and name, or by identical bytecode, so a
``types.FunctionType`` copy or a reloaded module counts -- marks the call ``forbidden``.
An audit hook refuses, inside an answer, what would switch the watch off or run code
elsewhere (``sys.setprofile``, ``sys.settrace``, subprocesses, ``ctypes``); each refusal
is recorded as tampering. A thread the answer starts through ``threading`` dies at its
start: ``threading`` gives it the trace hook with ``sys.settrace``, which is refused there.
"""
from __future__ import annotations

import base64
import collections
import hashlib
import inspect
import random
import sys
import threading
import types

import torch

# Audit events that must not happen while an answer runs (prefixes).
REFUSED_EVENTS = ("sys.setprofile", "sys.settrace", "subprocess.", "os.system", "os.exec", "os.posix_spawn",
                  "os.spawn", "os.fork", "os.forkpty", "ctypes.", "sys.addaudithook", "cpython.run_")
MIN_DIGEST_BYTES = 100  # bytecode shorter than this is matched by place only (see plugin.forbidden_codes)
MAX_ELEMENTS = 20_000_000  # numbers one test may record: a bound on the recording's size
TENSOR_DTYPES = {str(d): d for d in (torch.float64, torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                     torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)}


class Unsupported(Exception):
    """A value that the recording cannot carry to the harness."""


# ------------------------------------------------------------------ codes to watch

def code_key(code: types.CodeType) -> str:
    """Where a code object comes from: file, first line and name (a reloaded module keeps them)."""
    return f"{code.co_filename}:{code.co_firstlineno}:{code.co_name}"


def code_digest(code: types.CodeType) -> str:
    """The bytecode and the names it uses: a copy keeps them whatever it is renamed to."""
    return hashlib.sha256(code.co_code + repr(code.co_names).encode()).hexdigest()[:32]


def codes_of(obj, seen: set | None = None) -> list[types.CodeType]:
    """Every code object of a function, a class's methods or a module's functions and classes."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return []
    seen.add(id(obj))
    if isinstance(obj, types.CodeType):
        return [obj] + [c for const in obj.co_consts if isinstance(const, types.CodeType) for c in codes_of(const, seen)]
    if isinstance(obj, (staticmethod, classmethod)):
        return codes_of(obj.__func__, seen)
    if isinstance(obj, property):
        return [c for f in (obj.fget, obj.fset, obj.fdel) if f is not None for c in codes_of(f, seen)]
    if isinstance(obj, types.FunctionType):
        return codes_of(obj.__code__, seen)
    if isinstance(obj, type):
        return [c for value in vars(obj).values() for c in codes_of(value, seen)]
    if isinstance(obj, types.ModuleType):
        return [c for value in vars(obj).values()
                if getattr(value, "__module__", None) == obj.__name__ for c in codes_of(value, seen)]
    return []


class Watch:
    """A trace hook on while an answer runs; ``hits`` names the forbidden code that ran.

    ``sys.settrace``'s global hook is called once per Python frame that starts (its
    ``None`` return turns line tracing off), so the cost is one call per Python function
    the answer runs; ``sys.setprofile`` would also call it around every C function (every
    ``dict.get`` of a token-counting loop). ``threading.settrace`` hands it to threads that
    the answer starts through ``threading`` -- whose ``sys.settrace`` the audit hook refuses,
    so that such a thread stops before its target runs, and is recorded as tampering.
    """

    def __init__(self, forbidden: dict[str, str], tamper: list[str]):
        # forbidden: code_key or code_digest -> the dotted name reported
        self.forbidden, self.tamper = forbidden, tamper
        self.hits: dict[str, None] = {}  # insertion-ordered set
        self.question = ""
        self._cache: dict[types.CodeType, str] = {}
        self._settrace, self._gettrace = sys.settrace, sys.gettrace
        self._thread_settrace = threading.settrace
        self.active = False
        self._trace_fn = self._trace  # one bound method: sys.gettrace() returns this very object
        sys.addaudithook(self._audit)  # cannot be removed: it refuses only while active

    def _match(self, code: types.CodeType) -> str:
        return self.forbidden.get(code_key(code)) or self.forbidden.get(code_digest(code), "")

    def _trace(self, frame, event, arg):
        code = frame.f_code
        name = self._cache.get(code)
        if name is None:
            name = self._cache[code] = self._match(code)
        if name:
            self.hits[f"{name} ({code.co_qualname})"] = None
        return None

    def _audit(self, event: str, args) -> None:
        if self.active and event.startswith(REFUSED_EVENTS):
            self.tamper.append(f"{self.question}: an answer triggered {event} while graded")
            raise RuntimeError(f"{event} is not allowed while an answer is graded")

    def __enter__(self) -> "Watch":
        self.hits = {}
        self._thread_settrace(self._trace_fn)
        self._settrace(self._trace_fn)
        self.active = True
        return self

    def __exit__(self, *exc) -> None:
        intact = self._gettrace() is self._trace_fn
        self.active = False
        self._settrace(None)
        self._thread_settrace(None)
        if not intact:
            self.tamper.append(f"{self.question}: the trace hook was replaced while an answer ran")


# ------------------------------------------------------------------------- encoding

def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def encode_tensor(t: torch.Tensor) -> dict:
    if str(t.dtype) not in TENSOR_DTYPES:
        raise Unsupported(f"a tensor of dtype {t.dtype}")
    return {"dtype": str(t.dtype), "shape": list(t.shape), "data": base64.b64encode(_tensor_bytes(t)).decode(),
            "requires_grad": bool(t.requires_grad)}


_PLAIN = (str, int, float, bool, type(None))


def digest(value, depth: int = 0) -> str:
    """A fingerprint of a call's arguments, equal in the kernel and in the harness."""
    h = hashlib.sha256()

    def feed(v, d):
        if d > 6:
            h.update(b"<deep>")
        elif v is None or isinstance(v, (bool, int, float, str, bytes)):
            h.update(repr((type(v).__name__, v)).encode())
        elif isinstance(v, torch.Tensor):
            h.update(repr(("tensor", str(v.dtype), tuple(v.shape))).encode() + _tensor_bytes(v))
        elif isinstance(v, (list, tuple)):
            h.update(f"[{len(v)}".encode())
            if all(type(item) in _PLAIN for item in v):  # a corpus of tokens: one repr, not one call each
                h.update(repr([(type(item).__name__, item) for item in v]).encode())
                return
            for item in v:
                feed(item, d + 1)
        elif isinstance(v, dict):
            h.update(f"{{{len(v)}".encode())
            for k, item in v.items():
                feed(k, d + 1)
                feed(item, d + 1)
        elif isinstance(v, torch.nn.Module):
            h.update(type(v).__name__.encode())
            for name, p in list(v.named_parameters()) + list(v.named_buffers()):
                h.update(name.encode())
                feed(p, d + 1)
        else:  # another object (a package model, a vocabulary, a proxy): its type only
            h.update(b"<" + type(v).__name__.encode() + b">" if not callable(v) else b"<callable>")

    feed(value, depth)
    return h.hexdigest()[:24]


class Encoder:
    """JSON for a returned value; callables and iterators become recorded objects."""

    def __init__(self, register):
        self.register, self.elements = register, 0

    def __call__(self, v, d: int = 0):
        if d > 20:
            raise Unsupported("a value nested more than 20 deep")
        # plain types only (a float subclass could redefine ==): int(v), float(v), str(v)
        if v is None or v is True or v is False:
            return v
        if isinstance(v, bool):
            return bool(v)
        if isinstance(v, str):
            return str.__str__(v)
        if isinstance(v, int):
            v = int.__index__(v)
            return v if abs(v) < 2 ** 53 else {"int": str(v)}
        if isinstance(v, float):
            v = float.__float__(v)
            return v if v == v and abs(v) != float("inf") else {"float": float.__repr__(v)}
        if isinstance(v, torch.Tensor):
            self.elements += v.numel()
            if self.elements > MAX_ELEMENTS:
                raise Unsupported(f"more than {MAX_ELEMENTS} numbers")
            return {"tensor": encode_tensor(v)}
        if type(v).__module__ == "numpy":
            if hasattr(v, "shape") and v.shape != ():
                return {"ndarray": self(torch.as_tensor(v), d + 1)}
            return self(v.item(), d + 1)
        if isinstance(v, tuple):
            return {"tuple": [self(x, d + 1) for x in v]}
        if isinstance(v, list):
            self.elements += len(v)
            return [self(x, d + 1) for x in v]
        if isinstance(v, collections.Counter):
            return {"counter": [[self(k, d + 1), self(x, d + 1)] for k, x in v.items()]}
        if isinstance(v, dict):
            self.elements += len(v)
            return {"dict": [[self(k, d + 1), self(x, d + 1)] for k, x in v.items()]}
        if isinstance(v, (set, frozenset)):
            return {"set": [self(x, d + 1) for x in v], "frozen": isinstance(v, frozenset)}
        if isinstance(v, range):
            return {"range": [v.start, v.stop, v.step]}
        if hasattr(v, "__next__") and hasattr(v, "__iter__"):
            return {"iterator": self.register(v, "iterator")}
        if callable(v) and not isinstance(v, type):
            return {"callable": self.register(v, "callable")}
        raise Unsupported(f"a {type(v).__module__}.{type(v).__qualname__}")


# ------------------------------------------------------------------ side effects

def _walk(value, path=(), depth=0):
    """(path, tensor or module) for the tensors and modules inside call arguments."""
    if depth > 3:
        return
    if isinstance(value, torch.Tensor):
        yield path, value
    elif isinstance(value, torch.nn.Module):
        yield path, value
    elif isinstance(value, (list, tuple)) and len(value) <= 10_000:
        if all(type(item) in _PLAIN for item in value):  # tokens hold no tensor
            return
        for i, item in enumerate(value):
            yield from _walk(item, path + (i,), depth + 1)
    elif isinstance(value, dict) and len(value) <= 10_000:
        for k, item in value.items():
            if isinstance(k, str):
                yield from _walk(item, path + (k,), depth + 1)


def _state(obj):
    if isinstance(obj, torch.nn.Module):
        return [m.training for m in obj.modules()]
    grad = obj.grad
    return (_tensor_bytes(obj), tuple(obj.shape), str(obj.dtype),
            None if grad is None else (_tensor_bytes(grad), tuple(grad.shape), str(grad.dtype)))


def snapshot(args: dict):
    """The state that an answer could change in place, before the call."""
    walked = list(_walk(args))
    return walked, [_state(obj) for _, obj in walked], random.getstate(), torch.random.get_rng_state()


def effects(snap, encode) -> dict:
    """What changed since ``snapshot``: the harness applies it to its own arguments."""
    walked, before, py_rng, torch_rng = snap
    changed = []
    for (path, obj), old in zip(walked, before):
        if _state(obj) == old:
            continue
        if isinstance(obj, torch.nn.Module):
            changed.append({"path": list(path), "training": [m.training for m in obj.modules()]})
        else:
            changed.append({"path": list(path), "tensor": encode(obj.detach()),
                            "grad": None if obj.grad is None else encode(obj.grad)})
    out = {"changed": changed} if changed else {}
    if random.getstate() != py_rng:
        version, internal, gauss = random.getstate()
        out["random"] = [version, list(internal), gauss]
    if not torch.equal(torch.random.get_rng_state(), torch_rng):
        out["torch_rng"] = encode(torch.random.get_rng_state())
    return out


# ------------------------------------------------------------------------ recording

def reset_generators() -> None:
    """The same random state before each test, here and in the harness: a test that draws
    from the global generators (a model initialized without a seed) draws the same."""
    random.seed(0)
    torch.manual_seed(0)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(0)


class Recording:
    """The calls of one test, in order."""

    def __init__(self, watch: Watch):
        self.watch, self.entries, self.objects = watch, [], 0
        self.depth = 0  # > 0 while an answer runs: what it calls itself is part of its call
        self.encode = Encoder(self._register)

    def _register(self, obj, kind: str) -> str:
        self.objects += 1
        return f"#{self.objects}"

    def wrap(self, target: str, fn):
        """A stand-in for the answer ``fn`` that records each call."""
        recording = self

        def recorded(*args, **kwargs):
            return recording.call(target, fn, args, kwargs)

        return recorded

    def call(self, target: str, fn, args: tuple, kwargs: dict, check_args: bool = True):
        if self.depth:  # a returned callable called by an answer: the outer call is recorded
            return fn(*args, **kwargs)
        arguments = {"args": list(args), "kwargs": kwargs}
        entry = {"target": target, "digest": digest(arguments) if check_args else ""}
        self.entries.append(entry)
        snap = snapshot(arguments)
        self.depth += 1
        try:
            with self.watch:
                value = fn(*args, **kwargs)
                if isinstance(value, torch.Tensor):  # a tensor view of an argument: copy it inside the watch
                    value = value.detach().clone()
        except BaseException as error:  # SystemExit too: it is the answer's outcome, not ours
            if isinstance(error, KeyboardInterrupt):
                raise
            entry["outcome"] = {"raise": [type(error).__name__, str(error)[:500]]}
            value = error
        finally:
            self.depth -= 1
        if self.watch.hits:
            entry["outcome"] = {"forbidden": next(iter(self.watch.hits))}
        elif "outcome" not in entry:
            try:
                entry["outcome"] = {"return": self.encode(value)}
            except Unsupported as why:
                entry["outcome"] = {"unsupported": str(why)}
        try:
            entry["effects"] = effects(snap, lambda t: self.encode(t)["tensor"])
        except Unsupported as why:
            entry["outcome"] = {"unsupported": str(why)}
        if isinstance(value, BaseException):
            raise value
        return self._wrap_returned(entry, value)

    def _wrap_returned(self, entry, value):
        """Callables and iterators the answer returned: their calls are the answer's too."""
        returned = entry["outcome"].get("return")
        if isinstance(returned, dict) and ("callable" in returned or "iterator" in returned):
            target = returned.get("callable") or returned.get("iterator")
            if "iterator" in returned:
                return _RecordedIterator(self, target, value)
            return self.wrap(target, value)
        return value


class _RecordedIterator:
    def __init__(self, recording: Recording, target: str, iterator):
        self.recording, self.target, self.iterator = recording, target, iterator

    def __iter__(self):
        return self

    def __next__(self):
        return self.recording.call(self.target, next, (self.iterator,), {}, check_args=False)


class _TestCase:
    """A stand-in for ``otter.test_files.test_case``: collects the test functions."""
    collected: list = []

    def __init__(self, name=None, points=None, hidden=False, success_message=None, failure_message=None):
        self.name = name

    def __call__(self, func):
        _TestCase.collected.append(func)
        return self


def test_functions(source: str, path: str) -> list:
    """The test functions of an otter exception-based test file, in order."""
    _TestCase.collected = []
    namespace = {"test_case": _TestCase, "__name__": "otter_test"}
    exec(compile(source.replace("from otter.test_files import test_case", ""), path, "exec"), namespace)
    return list(_TestCase.collected)


def run_tests(user_globals: dict, tests: dict[str, str], forbidden: dict[str, dict[str, str]]) -> dict:
    """Run every test, recording the answers' calls: the JSON-able recording."""
    tamper: list[str] = []
    watch = Watch({}, tamper)
    out = {"version": 1, "tests": {}, "forbidden": {}, "tamper": tamper}
    for question, source in tests.items():
        watch.forbidden, watch.question, watch._cache = forbidden.get(question, {}), question, {}
        hits = set()
        for func in test_functions(source, f"tests/{question}.py"):
            recording = Recording(watch)
            env, values = {}, {}
            for name in inspect.signature(func).parameters:
                value = user_globals.get(name)
                if callable(value) and not isinstance(value, type):
                    env[name] = recording.wrap(name, value)
                else:
                    env[name] = value
                    try:
                        values[name] = Encoder(lambda obj, kind: "#0")(value)
                    except Unsupported as why:
                        values[name] = {"unsupported": str(why)}
            error = ""
            reset_generators()
            try:
                func(**env)
            except Exception as e:  # the kernel's verdict does not count; only the recording does
                error = f"{type(e).__name__}: {e}"[:300]
            hits.update(e["outcome"]["forbidden"] for e in recording.entries if "forbidden" in e.get("outcome", {}))
            out["tests"].setdefault(question, {})[func.__name__] = {
                "entries": recording.entries, "values": values, "kernel_error": error}
        out["forbidden"][question] = sorted(hits)
    return out


_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)} | {ord('"'): '\\"', ord("\\"): "\\\\"}


def to_json(value) -> str:
    """JSON text of the recording, written here rather than by the json module, which a
    submission could have patched to rewrite the recording on its way out."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return float.__repr__(value) if value == value and abs(value) != float("inf") else "null"
    if type(value) is str:
        return '"' + str.translate(value, _ESCAPES) + '"'
    if type(value) in (list, tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if type(value) is dict:
        return "{" + ",".join(to_json(str(k)) + ":" + to_json(v) for k, v in value.items()) + "}"
    raise Unsupported(f"a {type(value).__name__} in the recording")


def main(user_globals: dict, config: dict) -> None:
    """Record every test's calls of the answers in ``user_globals`` into ``config["out"]``."""
    recording = run_tests(user_globals, config["tests"], config["forbidden"])
    text = to_json(recording)
    import _io  # not builtins.open or io.open, which a submission can replace with its own function

    if type(_io.open).__name__ != "builtin_function_or_method" or _io.open.__name__ != "open":
        raise SystemExit("grading refuses a notebook that replaced _io.open")
    with _io.open(config["out"], "w", encoding="utf-8") as f:
        f.write(text)
