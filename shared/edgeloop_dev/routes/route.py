"""Compiling one route: source, condition and sink, into a CompiledRoute that matches messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from lark import Token, Tree

from .compiler import ConditionCompiler, Evaluator, unescape
from .errors import RouteError
from .message import SOURCE_TWIN_CHANGES, UPSTREAM, Endpoint, RoutableMessage
from .parser import parse
from .source import SourceScope, source_prefix, source_scope
from .values import Type

DEFAULT_PRIORITY: Final = 2_000_000_000


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """A route as configured: name, text, priority (0 highest; default lowest) and TTL (0: the global one)."""

    name: str
    text: str
    priority: int = DEFAULT_PRIORITY
    ttl_secs: int = 0


def _always_true(_m: RoutableMessage) -> object:
    return True


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A compiled route. `matches(msg)` is the hot path: a prefix check, then the compiled condition."""

    spec: RouteSpec
    source: str
    condition: str
    endpoint: Endpoint
    queries_body: bool
    condition_type: Type
    prefix: str
    scope: SourceScope
    _predicate: Callable[[RoutableMessage], object] = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        """The route's name."""
        return self.spec.name

    def matches(self, msg: RoutableMessage) -> bool:
        """Whether this route fires for `msg`: its source matches and its condition is true."""
        return msg.source_key.startswith(self.prefix) and self._predicate(msg) is True


def _endpoint(sink: Tree[Token], text: str) -> Endpoint:
    first = sink.children[0]
    assert isinstance(first, Token)
    if sink.data == "system_sink":
        if str(first).lower() != "$upstream":
            raise RouteError(
                f"unsupported endpoint {str(first)!r}: the only system endpoint is $upstream",
                route_text=text,
                line=first.line,
                column=first.column,
            )
        return UPSTREAM
    if str(first).lower() != "brokeredendpoint":
        raise RouteError(
            f'unsupported endpoint {str(first)!r}: use BrokeredEndpoint("/modules/<module>/inputs/<input>")',
            route_text=text,
            line=first.line,
            column=first.column,
        )
    string = sink.children[2]
    assert isinstance(string, Token)
    address = unescape(str(string))
    if address.startswith("/"):
        address = address[1:]
    if address.endswith("/"):
        address = address[:-1]
    items = address.split("/")
    if len(items) != 4 or not items[1] or not items[3]:
        raise RouteError(
            f"invalid BrokeredEndpoint address {unescape(str(string))!r}:"
            " expected /modules/<module>/inputs/<input>",
            route_text=text,
            line=string.line,
            column=string.column,
        )
    return Endpoint("module", items[1], items[3])


def _source_text(source: Tree[Token]) -> str:
    return "".join(str(t) if isinstance(t, Token) else str(t.children[0]) for t in source.children)


def compile_route(spec: RouteSpec) -> CompiledRoute:
    """Compile a route; RouteError (naming the route, with the position) if edgeHub would refuse it."""
    try:
        return _compile(spec)
    except RouteError as exc:
        raise exc.with_route(spec.name, spec.text) from None
    except RecursionError as exc:
        raise RouteError("route nested too deeply", route_name=spec.name, route_text=spec.text) from exc


def _compile(spec: RouteSpec) -> CompiledRoute:
    text = spec.text
    tree = parse(text)
    route = tree if tree.data == "route" else tree.children[0]
    assert isinstance(route, Tree)
    source_tree = next(c for c in route.children if isinstance(c, Tree) and c.data == "source")
    sink = route.children[-1]
    assert isinstance(sink, Tree)
    source = _source_text(source_tree)
    condition_node: Tree[Token] | None = None
    for i, child in enumerate(route.children):
        if isinstance(child, Token) and child.type == "WHERE":
            node = route.children[i + 1]
            assert isinstance(node, Tree)
            condition_node = node
    endpoint = _endpoint(sink, text)
    predicate: Evaluator | Callable[[RoutableMessage], object] = _always_true
    condition_text = "true"
    condition_type = Type.BOOL
    queries_body = False
    if condition_node is not None:
        compiler = ConditionCompiler(
            text, twin_source=source_prefix(source) == SOURCE_TWIN_CHANGES.lower() + "/"
        )
        compiled = compiler.compile(condition_node)
        predicate = compiled.fn
        condition_type = compiled.type
        queries_body = compiler.queries_body
        meta = condition_node.meta
        condition_text = text[meta.start_pos : meta.end_pos] if not meta.empty else "true"
    return CompiledRoute(
        spec=spec,
        source=source,
        condition=condition_text,
        endpoint=endpoint,
        queries_body=queries_body,
        condition_type=condition_type,
        prefix=source_prefix(source),
        scope=source_scope(source),
        _predicate=predicate,
    )
