"""The lark parser for route.lark, with lark's errors turned into RouteError at the right position."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from .errors import RouteError, position_of

_READABLE: Final = {
    "SELECT": "SELECT",
    "FROM": "FROM",
    "WHERE": "WHERE",
    "INTO": "INTO",
    "AND": "AND",
    "OR": "OR",
    "NOT": "NOT",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "UNDEFINED": "undefined",
    "HEX": "a number",
    "REAL": "a number",
    "INTEGER": "a number",
    "STRING": "a string",
    "OP_COALESCE": "??",
    "EQ_OP": "= != <>",
    "CMP_OP": "< <= > >=",
    "ADD_OP": "+ ||",
    "MINUS": "-",
    "OP_MOD": "%",
    "OP_MUL": "*",
    "OP_DIV": "/",
    "LPAREN": "(",
    "RPAREN": ")",
    "LBRACE": "{",
    "RBRACE": "}",
    "COMMA": ",",
    "SYS_PROP": "a $property",
    "ID": "a name",
    "$END": "the end",
}
_UNTERMINATED: Final = "unterminated string (the escapes allowed are \\\" \\' \\\\ and \\uXXXX)"
# Characters that edgeHub's lexer keeps inside a name: `a*b`, `x-1`, `a||b` are single names there.
_OPERATOR_CHARS: Final = set("*+-%|!")


@functools.cache
def _parser() -> Lark:
    grammar = resources.files(__name__.rpartition(".")[0]).joinpath("route.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        start="route",
        propagate_positions=True,
        maybe_placeholders=True,
    )


def _expected(names: set[str] | frozenset[str] | None) -> str:
    readable = sorted({_READABLE.get(n, n) for n in names or ()})
    return " or ".join(r if r[0].isalpha() else f"'{r}'" for r in readable)


def _hint(token: Token) -> str:
    text = str(token)
    if token.type == "ID" and _OPERATOR_CHARS & set(text) and len(text) > 1:
        return (
            f"; edgeHub reads {text!r} as one name, because * + - % | ! may appear in names:"
            " put spaces around operators"
        )
    if token.type in ("INTEGER", "REAL") and text.startswith("-"):
        return f"; edgeHub reads {text!r} as a negative number: write '- {text[1:]}' to subtract"
    return ""


def _from_lark(exc: UnexpectedInput, text: str) -> RouteError:
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        if token.type == "UNTERMINATED_STRING":
            return RouteError(_UNTERMINATED, route_text=text, line=token.line, column=token.column)
        if token.type == "$END":
            line, column = position_of(text, len(text))
            return RouteError(
                f"unexpected end of route; expected {_expected(exc.expected)}",
                route_text=text,
                line=line,
                column=column,
            )
        return RouteError(
            f"unexpected {str(token)!r}; expected {_expected(exc.expected)}{_hint(token)}",
            route_text=text,
            line=token.line,
            column=token.column,
        )
    if isinstance(exc, UnexpectedCharacters):
        char = exc.char
        message = _UNTERMINATED if char in "'\"" else f"unexpected character {char!r}"
        line, column = position_of(text, exc.pos_in_stream or 0)
        return RouteError(message, route_text=text, line=line, column=column)
    line, column = position_of(text, exc.pos_in_stream or 0)
    return RouteError(f"syntax error: {exc}", route_text=text, line=line, column=column)


def parse(text: str) -> Tree[Token]:
    """Parse a whole route; RouteError (no route name yet) on any problem."""
    if not text.strip():
        raise RouteError("empty route", route_text=text, line=1, column=1)
    try:
        return _parser().parse(text)
    except UnexpectedInput as exc:
        raise _from_lark(exc, text) from exc
    except (LarkError, RecursionError) as exc:
        raise RouteError(f"syntax error: {exc}", route_text=text) from exc
