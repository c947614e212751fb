"""The condition language's builtin functions (edgeHub's ConditionVisitor.Builtins), on runtime values."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .values import NULL, Type, Value

N, S, B = Type.NUMBER, Type.STRING, Type.BOOL
_ALL: Final = frozenset(Type)


@dataclass(frozen=True, slots=True)
class Builtin:
    """A builtin: accepted argument types per position (the last repeats when `varargs`)."""

    name: str
    signatures: tuple[tuple[frozenset[Type], ...], ...]
    result: Type
    impl: Callable[..., Value]
    varargs: bool = False

    def accepts(self, types: list[Type]) -> bool:
        """Whether the static argument types fit a signature (a `$body` value fits any)."""
        for sig in self.signatures:
            if self.varargs:
                if len(types) < len(sig) - 1:
                    continue
                wanted = [sig[min(i, len(sig) - 1)] for i in range(len(types))]
            else:
                if len(types) != len(sig):
                    continue
                wanted = list(sig)
            if all(t is Type.ANY or t in w for t, w in zip(types, wanted, strict=True)):
                return True
        return False

    def describe(self) -> str:
        """The accepted signatures, for error messages."""
        out = []
        for sig in self.signatures:
            args = ["|".join(sorted(t.value for t in s)) if s != _ALL else "any" for s in sig]
            if self.varargs:
                args[-1] += ", ..."
            out.append(f"{self.name}({', '.join(args)})")
        return " or ".join(out)


def _num(fn: Callable[[float], float]) -> Callable[[Value], Value]:
    def run(x: Value) -> Value:
        if type(x) is not float:
            return None
        try:
            return fn(x)
        except (ValueError, OverflowError, ArithmeticError):
            return None

    return run


def _round(fn: Callable[[float], int]) -> Callable[[float], float]:
    def run(x: float) -> float:
        return x if not math.isfinite(x) else float(fn(x))

    return run


def _sign(x: float) -> float:
    if math.isnan(x):
        raise ArithmeticError("sign of NaN")
    return 0.0 if x == 0 else math.copysign(1.0, x)


def _sqrt(x: float) -> float:
    return math.nan if x < 0 else math.sqrt(x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _power(x: Value, y: Value) -> Value:
    if type(x) is not float or type(y) is not float:
        return None
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        if x == 0.0 and y < 0:
            return math.inf
        return math.nan


# double.TryParse(NumberStyles.Any, InvariantCulture): spaces, sign, thousands separators, decimal point,
# exponent, parentheses for negatives; "NaN" and "Infinity" as .NET spells them.
_NUMBER: Final = re.compile(r"^(\()?([+-])?((?:\d[\d,]*)?(?:\.\d*)?)(?:[eE]([+-]?\d+))?(\))?$")
_SPECIAL: Final = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "+Infinity": math.inf,
    "∞": math.inf,
    "-∞": -math.inf,
}


def as_number(x: Value) -> Value:
    """as_number(string|number): the number, or Undefined when the text is not one."""
    if type(x) is float:
        return x
    if type(x) is not str:
        return None
    text = x.strip(" \t\n\r\v\f")
    if text in _SPECIAL:
        return _SPECIAL[text]
    m = _NUMBER.match(text)
    if not m:
        return None
    open_paren, sign, mantissa, exponent, close_paren = m.groups()
    if bool(open_paren) != bool(close_paren) or (open_paren and sign):
        return None
    digits = mantissa.replace(",", "")
    if not any(c.isdigit() for c in digits) or mantissa.startswith(","):
        return None
    try:
        value = float(f"{digits}e{exponent or 0}")
    except (ValueError, OverflowError):
        return None
    return -value if (sign == "-" or open_paren) else value


def _is(kind: Callable[[Value], bool]) -> Callable[[Value], Value]:
    def run(x: Value) -> Value:
        return kind(x)

    return run


def _str1(fn: Callable[[str], Value]) -> Callable[[Value], Value]:
    def run(x: Value) -> Value:
        return fn(x) if type(x) is str else None

    return run


def _str2(fn: Callable[[str, str], Value]) -> Callable[[Value, Value], Value]:
    def run(x: Value, y: Value) -> Value:
        return fn(x, y) if type(x) is str and type(y) is str else None

    return run


def _same_length(fn: Callable[[str], str]) -> Callable[[str], str]:
    """Invariant-culture case mapping: one character for one (ToLowerInvariant never changes length)."""

    def run(s: str) -> str:
        r = fn(s)
        if len(r) == len(s):
            return r
        return "".join(m if len(m := fn(c)) == 1 else c for c in s)

    return run


def concat(*args: Value) -> Value:
    """concat(string, ...): Undefined if any part is not a string."""
    for a in args:
        if type(a) is not str:
            return None
    return "".join(args)  # type: ignore[arg-type]


def _integral(x: Value) -> int | None:
    if type(x) is not float or not math.isfinite(x):
        return None
    return int(x)


def substring(s: Value, start: Value, length: Value = 0.0, *, has_length: bool = False) -> Value:
    """substring(s, start[, length]) as String.Substring; out of range gives Undefined."""
    if type(s) is not str:
        return None
    i = _integral(start)
    if i is None or i < 0 or i > len(s):
        return None
    if not has_length:
        return s[i:]
    n = _integral(length)
    if n is None or n < 0 or i + n > len(s):
        return None
    return s[i : i + n]


def _substring(*args: Value) -> Value:
    if len(args) == 3:
        return substring(args[0], args[1], args[2], has_length=True)
    return substring(args[0], args[1])


_ANY1: Final = ((_ALL,),)
_N1: Final = ((frozenset({N}),),)
_S1: Final = ((frozenset({S}),),)
_S2: Final = ((frozenset({S}), frozenset({S})),)

BUILTINS: Final[dict[str, Builtin]] = {
    b.name: b
    for b in (
        Builtin("abs", _N1, N, _num(abs)),
        Builtin("exp", _N1, N, _num(_exp)),
        Builtin("power", ((frozenset({N}), frozenset({N})),), N, _power),
        Builtin("square", _N1, N, _num(lambda x: x * x)),
        Builtin("ceiling", _N1, N, _num(_round(math.ceil))),
        Builtin("floor", _N1, N, _num(_round(math.floor))),
        Builtin("sign", _N1, N, _num(_sign)),
        Builtin("sqrt", _N1, N, _num(_sqrt)),
        Builtin("as_number", ((frozenset({S}),), (frozenset({N}),)), N, as_number),
        Builtin("is_bool", _ANY1, B, _is(lambda x: x is True or x is False)),
        Builtin("is_defined", _ANY1, B, _is(lambda x: x is not None)),
        Builtin("is_null", _ANY1, B, _is(lambda x: x is NULL)),
        Builtin("is_number", _ANY1, B, _is(lambda x: type(x) is float)),
        Builtin("is_string", _ANY1, B, _is(lambda x: type(x) is str)),
        Builtin("concat", ((frozenset({S}), frozenset({S})),), S, concat, varargs=True),
        Builtin("length", _S1, N, _str1(lambda s: float(len(s)))),
        Builtin("lower", _S1, S, _str1(_same_length(str.lower))),
        Builtin("upper", _S1, S, _str1(_same_length(str.upper))),
        Builtin(
            "substring",
            (
                (frozenset({S}), frozenset({N})),
                (frozenset({S}), frozenset({N}), frozenset({N})),
            ),
            S,
            _substring,
        ),
        Builtin("index_of", _S2, N, _str2(lambda s, f: float(s.find(f)))),
        Builtin("starts_with", _S2, B, _str2(str.startswith)),
        Builtin("ends_with", _S2, B, _str2(str.endswith)),
        Builtin("contains", _S2, B, _str2(lambda s, f: f in s)),
    )
}

TWIN_CHANGE_INCLUDES: Final = "twin_change_includes"
