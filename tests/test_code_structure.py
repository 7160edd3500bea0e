"""The package's structure rules (issue 15): small signatures, one way to check
arguments, one helper for evaluation mode and one for a module's device, one checkpoint
module.

These read the package's source with ``ast``/``inspect``; they fail naming the place that
breaks a rule.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil

import rnncourse

PACKAGE = pathlib.Path(rnncourse.__file__).parent
MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py")
MAX_PARAMETERS = 10


def trees() -> list[tuple[str, ast.Module]]:
    return [(p.name, ast.parse(p.read_text(encoding="utf-8"))) for p in MODULES]


def public_callables():
    for info in pkgutil.iter_modules(rnncourse.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"rnncourse.{info.name}")
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and (attr == "__init__"
                                                       or not attr.startswith("_")):
                        yield f"{module.__name__}.{name}.{attr}", member


def test_no_public_function_takes_more_than_ten_parameters():
    too_many = []
    for name, fn in public_callables():
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.name not in ("self", "cls")]
        if len(params) > MAX_PARAMETERS:
            too_many.append(f"{name}: {len(params)} parameters")
    assert not too_many, ("public functions with more than "
                          f"{MAX_PARAMETERS} parameters (group settings that travel "
                          "together in a small checked dataclass):\n" + "\n".join(too_many))


def _is_bool_isinstance(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance" and len(node.args) == 2):
        return False
    kinds = node.args[1]
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(isinstance(n, ast.Name) and n.id == "bool" for n in names)


def test_integer_and_number_checks_live_in_the_checks_module():
    """'Is it an int, and not a bool?' is answered in rnncourse/checks.py only."""
    found = []
    for name, tree in trees():
        if name == "checks.py":
            continue
        found += [f"{name}:{n.lineno}" for n in ast.walk(tree) if _is_bool_isinstance(n)]
    assert not found, ("isinstance(..., bool) outside rnncourse/checks.py (use check_int, "
                       "check_number or check_bool):\n" + "\n".join(found))


def test_no_module_defines_its_own_generic_checks():
    generic = {"_check_positive_int", "_check_int", "_check_positive", "_check_theta",
               "_check_number", "_check_str", "_check_order", "_check_alpha",
               "_check_beam_size", "_check_eps", "_check_discount"}
    found = [f"{name}:{n.lineno} {n.name}" for name, tree in trees()
             for n in ast.walk(tree)
             if isinstance(n, ast.FunctionDef) and n.name in generic]
    assert not found, "generic checks written again outside rnncourse/checks.py:\n" + "\n".join(found)


def _calls(tree: ast.AST, attr: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute) and n.func.attr == attr]


def test_evaluation_mode_has_one_helper():
    """`module.eval()` and the saved `.training` flag appear only in utils.evaluating."""
    found = []
    for name, tree in trees():
        if name == "utils.py":
            continue
        found += [f"{name}:{c.lineno} .eval()" for c in _calls(tree, "eval") if not c.args]
        found += [f"{name}:{n.lineno} .training" for n in ast.walk(tree)
                  if isinstance(n, ast.Attribute) and n.attr == "training"
                  and isinstance(n.ctx, ast.Load)
                  and not (isinstance(n.value, ast.Name) and n.value.id == "self")]
    assert not found, ("evaluation mode switched by hand (use rnncourse.utils.evaluating):\n"
                       + "\n".join(found))


def test_the_device_of_a_module_has_one_helper():
    """`next(net.parameters()).device` is written once, in utils.device_of."""
    found = []
    for name, tree in trees():
        if name == "utils.py":
            continue
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and n.attr == "device"
                    and isinstance(n.value, ast.Call)
                    and getattr(n.value.func, "id", "") == "next"):
                found.append(f"{name}:{n.lineno}")
            if isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and getattr(
                    n.iter.func, "attr", "") == "parameters" and any(
                    isinstance(s, ast.Return) and isinstance(s.value, ast.Attribute)
                    and s.value.attr == "device" for s in n.body):
                found.append(f"{name}:{n.lineno}")
    assert not found, "a module's device looked up by hand (use rnncourse.utils.device_of):\n" + "\n".join(found)


def test_one_checkpoint_module():
    """torch.save/torch.load and CheckpointError live in rnncourse/checkpoint.py only."""
    found = []
    for name, tree in trees():
        if name == "checkpoint.py":
            continue
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and n.attr in ("save", "load")
                    and isinstance(n.value, ast.Name) and n.value.id == "torch"):
                found.append(f"{name}:{n.lineno} torch.{n.attr}")
            if isinstance(n, ast.ClassDef) and n.name.endswith("CheckpointError"):
                found.append(f"{name}:{n.lineno} class {n.name}")
    assert (PACKAGE / "checkpoint.py").exists(), "rnncourse/checkpoint.py is missing"
    assert not found, "checkpoint code outside rnncourse/checkpoint.py:\n" + "\n".join(found)
