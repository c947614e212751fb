"""Compiles a parsed condition into a Python closure once, type-checking it as edgeHub does."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from lark import Token, Tree

from . import jsonpath
from .builtins import BUILTINS, TWIN_CHANGE_INCLUDES
from .errors import RouteError
from .message import BODY_NOT_QUERYABLE
from .values import ARITHMETIC, NULL, Type, Value, and_, arith, compare, not_, or_, truth

if TYPE_CHECKING:
    from .message import RoutableMessage

Evaluator = Callable[["RoutableMessage"], Value]
MAX_DEPTH: Final = 200

_FAST_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_UNICODE_ESCAPE: Final = re.compile(r"\\[Uu]([0-9A-Fa-f]{4})")
_SIMPLE_ESCAPE: Final = re.compile(r"\\([\"'\\])")


def unescape(quoted: str) -> str:
    """A STRING token's value, unescaped as ConditionVisitor.Unescape: \\uXXXX first, then \\" \\' \\\\."""
    inner = quoted[1:-1]
    inner = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), inner)
    return _SIMPLE_ESCAPE.sub(lambda m: m.group(1), inner)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A typed, compiled sub-expression. `constant` is set when the value does not depend on the message."""

    type: Type
    fn: Evaluator
    constant: bool = False
    value: Value = None
    is_property: bool = False


def _const(t: Type, value: Value) -> Compiled:
    return Compiled(t, lambda _m: value, constant=True, value=value)


def _undefined(_m: RoutableMessage) -> Value:
    return None


class ConditionCompiler:
    """One condition: `compile(tree)` gives a Compiled; `queries_body` says whether it reads `$body`."""

    def __init__(self, text: str, *, twin_source: bool) -> None:
        self.text = text
        self.twin_source = twin_source
        self.queries_body = False
        self._depth = 0

    # ------------------------------------------------------------ helpers
    def error(self, message: str, at: Token | Tree[Token] | None) -> RouteError:
        """A RouteError at a token or node."""
        line = column = None
        if isinstance(at, Token):
            line, column = at.line, at.column
        elif isinstance(at, Tree) and not at.meta.empty:
            line, column = at.meta.line, at.meta.column
        return RouteError(message, route_text=self.text, line=line, column=column)

    def compile(self, node: Tree[Token] | Token) -> Compiled:
        """Compile one node (recursively)."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self.error(f"condition nested more than {MAX_DEPTH} levels deep", node)
            if isinstance(node, Token):  # a lone token never reaches here with the grammar's ? rules
                raise self.error(f"unexpected {str(node)!r}", node)
            handler = getattr(self, f"_{node.data}", None)
            if handler is None:
                raise self.error(f"unsupported expression {node.data}", node)
            result: Compiled = handler(node)
            return result
        finally:
            self._depth -= 1

    # ------------------------------------------------------------ literals and names
    def _nested(self, node: Tree[Token]) -> Compiled:
        return self.compile(node.children[1])

    def _literal(self, node: Tree[Token]) -> Compiled:
        token = node.children[0]
        assert isinstance(token, Token)
        kind, text = token.type, str(token)
        if kind == "TRUE":
            return _const(Type.BOOL, True)
        if kind == "FALSE":
            return _const(Type.BOOL, False)
        if kind == "NULL":
            return _const(Type.NULL, NULL)
        if kind == "UNDEFINED":
            return _const(Type.UNDEFINED, None)
        if kind == "STRING":
            return _const(Type.STRING, unescape(text))
        if kind == "HEX":
            value = int(text[2:], 16)
            if value >= 1 << 64:  # long.TryParse fails: the literal is Undefined
                return _const(Type.UNDEFINED, None)
            return _const(Type.NUMBER, float(value - (1 << 64) if value >= 1 << 63 else value))
        try:  # double.TryParse: `e5` lexes as a real but is not a number, so the literal is Undefined
            return _const(Type.NUMBER, float(text))
        except ValueError:
            return _const(Type.UNDEFINED, None)

    def _property(self, node: Tree[Token]) -> Compiled:
        name = str(node.children[0]).lower()

        def app_property(m: RoutableMessage) -> Value:
            return m.app_property(name)

        return Compiled(Type.STRING, app_property, is_property=True)

    def _sys_property(self, node: Tree[Token]) -> Compiled:
        token = node.children[0]
        assert isinstance(token, Token)
        text = str(token)
        body = self._body_query(token)
        if "[" in text or "]" in text:
            return body if body is not None else _const(Type.UNDEFINED, None)
        if body is not None:
            body_fn = body.fn
            key = text.lower()

            def app_or_body(m: RoutableMessage) -> Value:
                value = m.app_property(key)
                return value if value is not None else body_fn(m)

            return Compiled(Type.ANY, app_or_body)
        key, name = text.lower(), text[1:].lower()

        def app_or_system(m: RoutableMessage) -> Value:
            value = m.app_property(key)
            return value if value is not None else m.system_property(name)

        return Compiled(Type.STRING, app_or_system)

    def _sys_property_escaped(self, node: Tree[Token]) -> Compiled:
        token = node.children[1]
        assert isinstance(token, Token)
        text = str(token)
        body = self._body_query(token)
        if body is not None:
            return body
        if "[" in text or "]" in text:
            return _const(Type.UNDEFINED, None)
        name = text[1:].lower()

        def system(m: RoutableMessage) -> Value:
            return m.system_property(name)

        return Compiled(Type.STRING, system)

    def _body_query(self, token: Token) -> Compiled | None:
        text = str(token)
        lowered = text[:6].lower()
        if lowered == "$body.":
            path = text[6:]
        elif lowered.startswith("$body["):
            path = text[5:]
        else:
            return None
        try:
            steps = jsonpath.parse_path(path)
        except ValueError as exc:
            raise self.error(f"error in $body query: {exc}", token) from exc
        self.queries_body = True
        select = jsonpath.select

        def body_query(m: RoutableMessage) -> Value:
            document = m.json_body()
            if document is BODY_NOT_QUERYABLE:
                return None
            return select(document, steps)

        return Compiled(Type.ANY, body_query)

    # ------------------------------------------------------------ functions
    def _func(self, node: Tree[Token]) -> Compiled:
        name_token = node.children[0]
        assert isinstance(name_token, Token)
        name = str(name_token).lower()
        arg_list = node.children[2]
        if name == TWIN_CHANGE_INCLUDES:
            return self._twin_change_includes(name_token, arg_list)
        builtin = BUILTINS.get(name)
        if builtin is None:
            known = ", ".join([*sorted(BUILTINS), TWIN_CHANGE_INCLUDES])
            raise self.error(f"unknown function {str(name_token)!r} (builtins: {known})", name_token)
        args = [self.compile(a) for a in arg_list.children[::2]] if isinstance(arg_list, Tree) else []
        types = [a.type for a in args]
        if not builtin.accepts(types):
            given = ", ".join(t.value for t in types)
            raise self.error(
                f"invalid arguments to {builtin.name}({given}); expected {builtin.describe()}", name_token
            )
        impl = builtin.impl
        fns = [a.fn for a in args]
        if len(fns) == 1:
            (f0,) = fns

            def call1(m: RoutableMessage) -> Value:
                return impl(f0(m))

            return Compiled(builtin.result, call1)
        if len(fns) == 2:
            f0, f1 = fns

            def call2(m: RoutableMessage) -> Value:
                return impl(f0(m), f1(m))

            return Compiled(builtin.result, call2)

        def calln(m: RoutableMessage) -> Value:
            return impl(*[f(m) for f in fns])

        return Compiled(builtin.result, calln)

    def _twin_change_includes(self, name_token: Token, arg_list: object) -> Compiled:
        if not self.twin_source:
            raise self.error(
                "twin_change_includes is only valid in routes FROM /twinChangeNotifications", name_token
            )
        path = ""
        if isinstance(arg_list, Tree) and not arg_list.meta.empty:
            path = "".join(self.text[arg_list.meta.start_pos : arg_list.meta.end_pos].split())
        try:
            steps = jsonpath.parse_path(path)
        except ValueError as exc:
            raise self.error(f"twin_change_includes: {exc}", name_token) from exc
        if not (
            (len(steps) >= 2 and steps[0] == "properties" and steps[1] in ("desired", "reported"))
            or (steps and steps[0] == "tags")
        ):
            raise self.error(
                "twin_change_includes needs a path under properties.desired, properties.reported or tags",
                name_token,
            )
        find, no_match = jsonpath.find, jsonpath.NO_MATCH

        def includes(m: RoutableMessage) -> Value:
            document = m.twin_change_body()
            if document is BODY_NOT_QUERYABLE:
                return None
            found = find(document, steps)
            return not (found is no_match or found is None)

        return Compiled(Type.BOOL, includes)

    # ------------------------------------------------------------ operators
    def _operands_match(self, left: Compiled, right: Compiled) -> bool:
        return left.type is right.type or Type.ANY in (left.type, right.type)

    def _type_error(self, op: Token, left: Compiled, right: Compiled) -> RouteError:
        message = (
            f"operator {str(op)!r} needs operands of the same type,"
            f" got {left.type.value} and {right.type.value}"
        )
        numeric = {Type.NUMBER} & {left.type, right.type}
        if numeric and (left.is_property or right.is_property):
            message += "; application properties are always strings: compare as numbers with as_number(name)"
        return self.error(message, op)

    def _negate(self, node: Tree[Token]) -> Compiled:
        op = node.children[0]
        operand = self.compile(node.children[1])
        if operand.type not in (Type.NUMBER, Type.ANY):
            raise self.error(f"unary '-' needs a number, got {operand.type.value}", op)
        f = operand.fn

        def negate(m: RoutableMessage) -> Value:
            v = f(m)
            return -v if type(v) is float else None

        return Compiled(operand.type, negate)

    def _not_(self, node: Tree[Token]) -> Compiled:
        op = node.children[0]
        operand = self.compile(node.children[1])
        if operand.type is Type.NULL:  # NOT null is true (Null.operator!)
            return _const(Type.BOOL, True)
        if operand.type not in (Type.BOOL, Type.ANY):
            raise self.error(f"NOT needs a boolean, got {operand.type.value}", op)
        f = operand.fn

        def negation(m: RoutableMessage) -> Value:
            return not_(truth(f(m)))

        return Compiled(Type.BOOL, negation)

    def _logic_operands(self, node: Tree[Token]) -> tuple[Compiled, Token, Compiled]:
        left = self.compile(node.children[0])
        op = node.children[1]
        right = self.compile(node.children[2])
        assert isinstance(op, Token)
        allowed = (Type.NULL, Type.BOOL, Type.UNDEFINED, Type.ANY)
        if left.type not in allowed or right.type not in allowed:
            raise self.error(
                f"{str(op).upper()} needs booleans, got {left.type.value} and {right.type.value}", op
            )
        return left, op, right

    def _and_(self, node: Tree[Token]) -> Compiled:
        left, _op, right = self._logic_operands(node)
        if Type.NULL in (left.type, right.type):  # Null & x is null
            return _const(Type.NULL, NULL)
        lf, rf = left.fn, right.fn

        def conjunction(m: RoutableMessage) -> Value:
            a = truth(lf(m))
            if a is False:
                return False
            return and_(a, truth(rf(m)))

        return Compiled(Type.BOOL, conjunction)

    def _or_(self, node: Tree[Token]) -> Compiled:
        left, _op, right = self._logic_operands(node)
        if left.type is Type.NULL and right.type is Type.NULL:
            return _const(Type.NULL, NULL)
        if Type.NULL in (left.type, right.type):  # Null | x is x
            other = right if left.type is Type.NULL else left
            of = other.fn

            def either(m: RoutableMessage) -> Value:
                return truth(of(m))

            return Compiled(Type.BOOL, either)
        lf, rf = left.fn, right.fn

        def disjunction(m: RoutableMessage) -> Value:
            a = truth(lf(m))
            if a is True:
                return True
            return or_(a, truth(rf(m)))

        return Compiled(Type.BOOL, disjunction)

    def _coalesce(self, node: Tree[Token]) -> Compiled:
        left = self.compile(node.children[0])
        op = node.children[1]
        right = self.compile(node.children[2])
        assert isinstance(op, Token)
        if not self._operands_match(left, right):
            raise self._type_error(op, left, right)
        if left.type is Type.UNDEFINED:
            return right
        result = Type.ANY if Type.ANY in (left.type, right.type) else left.type
        lf, rf = left.fn, right.fn

        def coalesce(m: RoutableMessage) -> Value:
            v = lf(m)
            return v if v is not None else rf(m)

        return Compiled(result, coalesce)

    def _equality(self, node: Tree[Token]) -> Compiled:
        return self._comparison(node)

    def _compare(self, node: Tree[Token]) -> Compiled:
        return self._comparison(node)

    def _comparison(self, node: Tree[Token]) -> Compiled:
        left = self.compile(node.children[0])
        op = node.children[1]
        right = self.compile(node.children[2])
        assert isinstance(op, Token)
        if not self._operands_match(left, right):
            raise self._type_error(op, left, right)
        symbol = "!=" if str(op) == "<>" else str(op)
        lf, rf = left.fn, right.fn
        if left.type is right.type and left.type in (Type.STRING, Type.NUMBER):
            fast = _FAST_OPS[symbol]
            if right.constant:
                c = right.value
                if c is None:
                    return Compiled(Type.BOOL, _undefined)

                def against_constant(m: RoutableMessage) -> Value:
                    a = lf(m)
                    return None if a is None else fast(a, c)

                return Compiled(Type.BOOL, against_constant)

            def typed(m: RoutableMessage) -> Value:
                a = lf(m)
                if a is None:
                    return None
                b = rf(m)
                return None if b is None else fast(a, b)

            return Compiled(Type.BOOL, typed)

        def dynamic(m: RoutableMessage) -> Value:
            return compare(symbol, lf(m), rf(m))

        return Compiled(Type.BOOL, dynamic)

    def _arith(self, node: Tree[Token]) -> Compiled:
        left = self.compile(node.children[0])
        op = node.children[1]
        right = self.compile(node.children[2])
        assert isinstance(op, Token)
        symbol = str(op)
        wanted = Type.STRING if symbol == "||" else Type.NUMBER
        for side in (left, right):
            if side.type not in (wanted, Type.ANY):
                raise self.error(
                    f"operator {symbol!r} needs {wanted.value}s, got {left.type.value} and {right.type.value}"
                    + (
                        "; application properties are always strings: use as_number(name)"
                        if wanted is Type.NUMBER and (left.is_property or right.is_property)
                        else ""
                    ),
                    op,
                )
        lf, rf = left.fn, right.fn
        if symbol == "||":

            def concat(m: RoutableMessage) -> Value:
                a, b = lf(m), rf(m)
                return a + b if type(a) is str and type(b) is str else None

            return Compiled(Type.STRING, concat)
        fn = ARITHMETIC[symbol]

        def arithmetic(m: RoutableMessage) -> Value:
            return arith(fn, lf(m), rf(m))

        result = Type.ANY if Type.ANY in (left.type, right.type) else Type.NUMBER
        return Compiled(result, arithmetic)
