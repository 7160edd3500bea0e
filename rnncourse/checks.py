"""Argument checks: the one place the package says what a bad argument is.

One convention everywhere: a value of the wrong **type** raises ``TypeError``, a value of
the right type but out of range raises ``ValueError``, and each message names the
argument. ``bool`` is never accepted where an integer or a number is asked for (``True``
is an ``int`` to Python, but ``num_epochs=True`` is a mistake, not 1).

Public entry points check their arguments once, at the top, usually in one line that
calls a small ``_check_args`` of their module built from these helpers; the code the book
shows then reads as the algorithm. Every helper returns the value it checked, so that
``n = check_int("n", n, minimum=1)`` also works.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_int",
    "check_positive_int",
    "check_number",
    "check_positive",
    "check_probability",
    "check_bool",
    "check_type",
    "check_choice",
    "check_callable",
]


def _none_ok(value: Any, allow_none: bool) -> bool:
    return allow_none and value is None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None, *, allow_none: bool = False) -> Any:
    """``value`` is an integer (not a bool) in ``[minimum, maximum]``."""
    if _none_ok(value, allow_none):
        return value
    if not _is_int(value):
        raise TypeError(f"{name} must be an integer, got {value!r} "
                        f"({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """``value`` is an integer >= 1 (not a bool)."""
    return check_int(name, value, minimum=1, allow_none=allow_none)


def check_number(name: str, value: Any, minimum: float | None = None,
                 maximum: float | None = None, *, strict: bool = False,
                 finite: bool = True, allow_none: bool = False) -> Any:
    """``value`` is a real number (not a bool), finite unless ``finite=False``, and in
    ``[minimum, maximum]`` (``strict=True``: ``(minimum, maximum)``). NaN is always
    refused."""
    if _none_ok(value, allow_none):
        return value
    if not _is_number(value):
        raise TypeError(f"{name} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'above' if strict else 'at least'} "
                         f"{minimum:g}, got {value!r}")
    if maximum is not None and (value >= maximum if strict else value > maximum):
        raise ValueError(f"{name} must be {'below' if strict else 'at most'} "
                         f"{maximum:g}, got {value!r}")
    return value


def check_positive(name: str, value: Any, *, finite: bool = True,
                   allow_none: bool = False) -> Any:
    """``value`` is a number > 0 (finite unless ``finite=False``)."""
    return check_number(name, value, minimum=0, strict=True, finite=finite,
                        allow_none=allow_none)


def check_probability(name: str, value: Any, *, allow_one: bool = False) -> Any:
    """``value`` is a number in [0, 1) (``allow_one=True``: [0, 1]), e.g. a dropout
    rate."""
    check_number(name, value, minimum=0)
    if value > 1 or (value == 1 and not allow_one):
        raise ValueError(f"{name} must be in [0, {'1]' if allow_one else '1)'}, "
                         f"got {value!r}")
    return value


def check_bool(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """``value`` is True or False (not 0 or 1)."""
    if _none_ok(value, allow_none) or isinstance(value, bool):
        return value
    raise TypeError(f"{name} must be True or False{' or None' if allow_none else ''}, "
                    f"got {value!r}")


def check_type(name: str, value: Any, types: type | tuple[type, ...], *,
               allow_none: bool = False) -> Any:
    """``isinstance(value, types)``."""
    if _none_ok(value, allow_none) or isinstance(value, types):
        return value
    names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple)
                                              else (types,)))
    raise TypeError(f"{name} must be a {names}, got {type(value).__name__}")


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


def check_callable(name: str, value: Any, what: str = "a function", *,
                   allow_none: bool = False) -> Any:
    """``value`` can be called (``what`` says what kind of function is wanted)."""
    if _none_ok(value, allow_none) or callable(value):
        return value
    raise TypeError(f"{name} must be {what}, got {value!r}")
