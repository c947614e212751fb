"""Runtime values of the condition language and its operators, with edgeHub's Undefined/Null semantics.

Values are plain Python: `bool`, `float`, `str`, the NULL singleton, and None for Undefined. Anything
that meets Undefined gives Undefined; a route matches only when its condition is exactly True.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Final, TypeAlias


class _Null:
    """JSON/route `null` (distinct from Undefined, which is None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "null"


NULL: Final = _Null()

Value: TypeAlias = "bool | float | str | _Null | None"


class Type(enum.Enum):
    """Static types, as edgeHub's expression compiler sees them. ANY is a `$body` query value."""

    BOOL = "bool"
    NUMBER = "number"
    STRING = "string"
    NULL = "null"
    UNDEFINED = "undefined"
    ANY = "$body value"


def value_type(value: Value) -> Type:
    """The runtime type of a value."""
    if value is None:
        return Type.UNDEFINED
    if value is NULL:
        return Type.NULL
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, float):
        return Type.NUMBER
    return Type.STRING


def is_number(value: Value) -> bool:
    """True for a number (never a bool)."""
    return type(value) is float


# ---------------------------------------------------------------- arithmetic (C# double semantics)


def _div(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0.0 or math.isinf(a) or math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _add(a: float, b: float) -> float:
    return a + b


def _sub(a: float, b: float) -> float:
    return a - b


def _mul(a: float, b: float) -> float:
    return a * b


ARITHMETIC: Final[dict[str, Callable[[float, float], float]]] = {
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "%": _mod,
}


def arith(op: Callable[[float, float], float], a: Value, b: Value) -> Value:
    """A number operator on two runtime values; anything but two numbers gives Undefined."""
    if type(a) is float and type(b) is float:
        return op(a, b)
    return None


# ---------------------------------------------------------------- comparison


def _cmp(op: str, a: object, b: object) -> bool:
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)  # type: ignore[operator]
    if op == "<=":
        return bool(a <= b)  # type: ignore[operator]
    if op == ">":
        return bool(a > b)  # type: ignore[operator]
    return bool(a >= b)  # type: ignore[operator]


_NULL_NULL: Final = {"=": True, "!=": False, "<": False, ">": False, "<=": True, ">=": True}


def compare(op: str, a: Value, b: Value) -> Value:
    """`= != < <= > >=` on runtime values: same types only (strings ordinal), else Undefined.

    `op` is normalised (`<>` is `!=`). null compares with null only (null = null is true).
    """
    if a is None or b is None:
        return None
    ta = type(a)
    if ta is not type(b):
        return None
    if a is NULL:
        return _NULL_NULL[op]
    return _cmp(op, a, b)


# ---------------------------------------------------------------- three-valued logic


def truth(value: Value) -> bool | None:
    """A value in a boolean position: True, False, or None (Undefined) for anything else."""
    if value is True or value is False:
        return value
    return None


def and_(a: bool | None, b: bool | None) -> bool | None:
    """Kleene AND (Bool.& in edgeHub)."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or_(a: bool | None, b: bool | None) -> bool | None:
    """Kleene OR (Bool.| in edgeHub)."""
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not_(a: bool | None) -> bool | None:
    """Kleene NOT."""
    if a is None:
        return None
    return not a
