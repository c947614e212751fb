"""The `$body.<path>` JSONPath subset: parsed once with lark (jsonpath.lark), evaluated like Newtonsoft."""

from __future__ import annotations

import functools
import json
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from .values import NULL, Value

Step = str | int


@functools.cache
def _parser() -> Lark:
    grammar = (
        resources.files(__name__.rpartition(".")[0]).joinpath("jsonpath.lark").read_text(encoding="utf-8")
    )
    return Lark(grammar, parser="lalr", start="path")


def _unquote(quoted: str) -> str:
    inner = quoted[1:-1]
    if quoted[0] == "'":
        inner = inner.replace("\\'", "'").replace('"', '\\"')
        quoted = '"' + inner + '"'
    try:
        result = json.loads(quoted)
    except ValueError as exc:
        raise ValueError(f"invalid quoted name {quoted}") from exc
    assert isinstance(result, str)
    return result


def parse_path(path: str) -> tuple[Step, ...]:
    """`a.b[0]['x y']` -> ("a", "b", 0, "x y"). Raises ValueError with a readable reason."""
    if not path.strip():
        raise ValueError("$body query cannot be empty")
    try:
        tree = _parser().parse(path)
    except LarkError as exc:
        raise ValueError(f"unsupported JSONPath {path!r} (use a.b, a[0] or ['name'])") from exc
    steps: list[Step] = []
    for node in tree.children:
        assert isinstance(node, Tree)
        token = node.children[0]
        assert isinstance(token, Token)
        if node.data == "member":
            steps.append(str(token))
        elif node.data == "index":
            steps.append(int(token))
        else:
            steps.append(_unquote(str(token)))
    return tuple(steps)


def select(document: object, steps: tuple[Step, ...]) -> Value:
    """The value at `steps` (Newtonsoft SelectTokens, one token): no match is null; an object or array
    is Undefined (edgeHub's BodyQuery); numbers are floats."""
    current = document
    for step in steps:
        if isinstance(step, int):
            if type(current) is list and step < len(current):
                current = current[step]
            else:
                return NULL
        elif type(current) is dict and step in current:
            current = current[step]
        else:
            return NULL
    if current is None:
        return NULL
    if current is True or current is False or type(current) is str:
        return current
    if type(current) is float:
        return current
    if type(current) is int:
        try:
            return float(current)
        except OverflowError:
            return None
    return None  # object or array


class _NoMatch:
    __slots__ = ()


NO_MATCH = _NoMatch()


def find(document: object, steps: tuple[Step, ...]) -> object:
    """The raw JSON value at `steps`, or NO_MATCH (used by twin_change_includes, where objects count)."""
    current = document
    for step in steps:
        if isinstance(step, int):
            if type(current) is list and step < len(current):
                current = current[step]
            else:
                return NO_MATCH
        elif type(current) is dict and step in current:
            current = current[step]
        else:
            return NO_MATCH
    return current
