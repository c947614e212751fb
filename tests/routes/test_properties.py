"""Property tests: garbage never raises anything but RouteError; valid routes compile; evaluation never raises."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop_dev.routes import RoutableMessage, RouteError, Router, RouteSpec, compile_route

FAST = settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = [
    "a",
    "b",
    "n",
    "s",
    "v",
    "x y",
    "temp",
    "Site",
    "_k",
    "outputName",
    "connectionModuleId",
    "TRUE",
    "é",
]
names = st.sampled_from([n for n in NAMES if " " not in n])
body_paths = st.tuples(
    names,
    st.lists(st.one_of(names.map(lambda n: "." + n), st.integers(0, 3).map(lambda i: f"[{i}]")), max_size=3),
).map(lambda t: t[0] + "".join(t[1]))
numbers = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(0, 2**40).map(hex),
)


def quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def number_expr(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        numbers,
        names.map(lambda n: f"as_number({n})"),
        body_paths.map(lambda p: f"$body.{p}"),
    )
    if depth <= 0:
        return leaves
    sub = st.deferred(lambda: number_expr(depth - 1))
    return st.one_of(
        leaves,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "%"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        sub.map(lambda e: f"- ({e})"),
        st.tuples(st.sampled_from(["abs", "exp", "square", "ceiling", "floor", "sign", "sqrt"]), sub).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
        st.tuples(sub, sub).map(lambda t: f"power({t[0]}, {t[1]})"),
        string_expr(depth - 1).map(lambda s: f"length({s})"),
        st.tuples(string_expr(depth - 1), string_expr(depth - 1)).map(lambda t: f"index_of({t[0]}, {t[1]})"),
    )


def string_expr(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.text(max_size=10).map(quote),
        names,
        names.map(lambda n: f"${n}"),
        names.map(lambda n: f"{{${n}}}"),
    )
    if depth <= 0:
        return leaves
    sub = st.deferred(lambda: string_expr(depth - 1))
    return st.one_of(
        leaves,
        st.tuples(sub, sub).map(lambda t: f"({t[0]} || {t[1]})"),
        st.lists(sub, min_size=1, max_size=3).map(lambda a: f"concat({', '.join(a)})"),
        st.tuples(st.sampled_from(["lower", "upper"]), sub).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(sub, number_expr(depth - 1)).map(lambda t: f"substring({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"({t[0]} ?? {t[1]})"),
    )


def bool_expr(depth: int) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(["true", "false"]),
        names.map(lambda n: f"is_defined({n})"),
        body_paths.map(lambda p: f"is_null($body.{p})"),
    )
    if depth <= 0:
        return leaves
    sub = st.deferred(lambda: bool_expr(depth - 1))
    ops = st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="])
    return st.one_of(
        leaves,
        st.tuples(number_expr(depth - 1), ops, number_expr(depth - 1)).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(string_expr(depth - 1), ops, string_expr(depth - 1)).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(sub, st.sampled_from(["AND", "OR", "and", "Or"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        sub.map(lambda e: f"NOT ({e})"),
        st.tuples(
            st.sampled_from(["starts_with", "ends_with", "contains"]), string_expr(0), string_expr(0)
        ).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["is_bool", "is_number", "is_string", "is_null"]), string_expr(0)).map(
            lambda t: f"{t[0]}({t[1]})"
        ),
    )


sources = st.sampled_from(
    [
        "/*",
        "/messages/*",
        "/messages/modules/m/*",
        "/messages/modules/m/outputs/o",
        "/messages",
        "/twinChangeNotifications",
    ]
)
sinks = st.sampled_from(
    ["$upstream", 'BrokeredEndpoint("/modules/b/inputs/in")', "brokeredendpoint('/modules/c/inputs/x')"]
)
valid_routes = st.tuples(st.booleans(), sources, bool_expr(3), sinks).map(
    lambda t: f"{'SELECT * ' if t[0] else ''}FROM {t[1]} WHERE {t[2]} INTO {t[3]}"
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
prop_dicts = st.dictionaries(
    st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES).map(lambda n: "$" + n)),
    st.one_of(st.sampled_from(["", "1", "-2.5", "m", "o", "x"]), st.text(max_size=6)),
    max_size=5,
)
system_extras = st.fixed_dictionaries(
    {},
    optional={
        "contentType": st.sampled_from(["application/json", "APPLICATION/JSON", "text/plain", ""]),
        "contentEncoding": st.sampled_from(["utf-8", "UTF-16", "utf-32", "ascii", ""]),
        "connectionModuleId": st.sampled_from(["m", "M", "other", "$edgeHub"]),
        "outputName": st.sampled_from(["o", "o2", ""]),
        "messageType": st.sampled_from(["twinChangeNotification", "telemetry"]),
    },
)
bodies = st.one_of(
    st.binary(max_size=40),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(NAMES), json_values, max_size=4).map(
        lambda d: json.dumps(d).encode("utf-16")
    ),
)


@st.composite
def messages(draw: st.DrawFn) -> RoutableMessage:
    system = draw(prop_dicts)
    system.update(draw(system_extras))
    body = draw(bodies)
    return RoutableMessage(body, system, draw(prop_dicts))


TOKENS = [
    "SELECT", "*", "FROM", "WHERE", "INTO", "/", "messages", "modules", "$upstream", "BrokeredEndpoint",
    "(", ")", "{", "}", ",", "'s'", '"d"', "'", '"', "1", "-2.5e3", "0x1f", "AND", "or", "NOT", "??", "=",
    "<>", "!=", "<", ">=", "+", "-", "||", "%", "$body.a", "$body[0]", "$x", "name", "a*b", "true", "null",
    "undefined", "e5", "-e5", ".5", "1e999", "0x", "0xFFFFFFFFFFFFFFFFFF", "as_number", "contains", "twin_change_includes", "/*", "*/", " ", "\n", "\\", "@", "é",
]  # fmt: skip


@FAST
@given(st.text(max_size=80))
def test_random_text_raises_only_route_error(text: str) -> None:
    try:
        compile_route(RouteSpec("fuzz", text))
    except RouteError:
        pass


@FAST
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_token_soup_raises_only_route_error(text: str) -> None:
    try:
        route = compile_route(RouteSpec("fuzz", text))
    except RouteError as exc:
        assert exc.route_name == "fuzz"
        return
    route.matches(RoutableMessage(b'{"a": 1}', {"contentType": "application/json"}, {"name": "x"}))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_routes, st.lists(messages(), min_size=1, max_size=3))
def test_generated_valid_routes_compile_and_never_raise_when_evaluated(
    text: str, msgs: list[RoutableMessage]
) -> None:
    route = compile_route(RouteSpec("generated", text))
    for msg in msgs:
        assert route.matches(msg) in (True, False)


ALL_FEATURES = [
    RouteSpec("body", "FROM /* WHERE $body.a.b[0] > 1 OR $body['x y'] = 'z' OR is_null($body.n) INTO $upstream"),
    RouteSpec("props", "FROM /messages/* WHERE as_number(n) * 2 >= 10 AND NOT starts_with(s, 'x') INTO $upstream"),
    RouteSpec("sys", "FROM /messages/modules/m/* WHERE $connectionModuleId = 'm' OR {$outputName} = 'o' INTO $upstream"),
    RouteSpec("str", "FROM /* WHERE concat(lower(s), upper(s)) = substring(s, 1, 2) || s INTO $upstream"),
    RouteSpec("math", "FROM /* WHERE sqrt(abs($body.v)) + power($body.v, 2) / sign($body.v) % 3 > exp($body.v) INTO $upstream"),
    RouteSpec("misc", "FROM /* WHERE (s ?? $body.s) <> 'q' AND index_of(s, 'a') < length(s) INTO $upstream"),
    RouteSpec("twin", "FROM /twinChangeNotifications WHERE twin_change_includes(properties.reported.a) INTO $upstream"),
]  # fmt: skip
ROUTER = Router(ALL_FEATURES)


@settings(max_examples=1000, deadline=None)
@given(messages())
def test_evaluation_never_raises_on_arbitrary_messages(msg: RoutableMessage) -> None:
    deliveries = ROUTER.route(msg)
    assert len(deliveries) <= 1  # every route goes to $upstream: at most one delivery
