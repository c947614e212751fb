"""`$body` queries: only for application/json with utf-8/16/32, JSONPath subset, objects are Undefined."""

from __future__ import annotations

import json

import pytest
from route_factories import matches, module_msg

from edgeloop_dev.routes import RoutableMessage, RouteSpec, compile_route, route_queries_body

DOC = {
    "machine": {"temperature": 31.5, "name": "press-1", "on": True, "spare": None},
    "values": [10, 20, {"deep": "x"}],
    "x y": "spaced",
    "big": 12345678901234567890,
}


def body_msg(
    content_type: str | None = "application/json", encoding: str | None = "utf-8", raw: bytes | None = None
) -> RoutableMessage:
    system: dict[str, str] = {}
    if content_type is not None:
        system["contentType"] = content_type
    if encoding is not None:
        system["contentEncoding"] = encoding
    payload = raw if raw is not None else json.dumps(DOC).encode(_python_codec(encoding))
    return module_msg(raw=payload, system=system, json_body=False)


def _python_codec(encoding: str | None) -> str:
    return {"utf-16": "utf-16", "utf-32": "utf-32"}.get((encoding or "").lower(), "utf-8")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        pytest.param("$body.machine.temperature > 30", True, id="nested-number"),
        pytest.param("$body.machine.temperature = 31.5", True, id="number-equality"),
        pytest.param("$body.machine.name = 'press-1'", True, id="string"),
        pytest.param("$body.machine.on = true", True, id="bool"),
        pytest.param("$body.machine.spare = null", True, id="json-null-is-null"),
        pytest.param("is_null($body.machine.spare)", True, id="is-null"),
        pytest.param("$body.values[1] = 20", True, id="array-index"),
        pytest.param("$body.values[2].deep = 'x'", True, id="index-then-member"),
        pytest.param("$body['x y'] = 'spaced'", True, id="quoted-member"),
        pytest.param("$body.machine['name'] = 'press-1'", True, id="quoted-member-after-dot-path"),
        pytest.param("$body.big > 1e19", True, id="big-integer-is-a-double"),
        pytest.param("is_defined($body.machine)", False, id="an-object-is-undefined"),
        pytest.param("is_defined($body.values)", False, id="an-array-is-undefined"),
        pytest.param("is_null($body.nothing.here)", True, id="no-match-is-null-as-selecttokens"),
        pytest.param("$body.values[9] = 1", False, id="index-out-of-range"),
        pytest.param("$body.machine.name = 1", False, id="string-vs-number-at-runtime-is-undefined"),
        pytest.param("$body.machine.temperature > as_number('30')", True, id="with-as-number"),
        pytest.param("$body.machine.temperature * 2 > 60", True, id="arithmetic"),
        pytest.param("$BODY.machine.temperature > 30", True, id="body-prefix-is-case-insensitive"),
        pytest.param("$body.Machine.temperature > 30", False, id="json-names-are-case-sensitive"),
        pytest.param("{$body.machine.temperature} > 30", True, id="escaped-body-query"),
        pytest.param("$body.machine.on AND true", True, id="body-bool-in-logic"),
        pytest.param("NOT $body.machine.on", False, id="not-of-body-bool"),
        pytest.param("NOT $body.machine.name", False, id="not-of-body-string-is-undefined"),
        pytest.param("($body.missing ?? 'x') = 'x'", False, id="coalesce-keeps-null-from-a-missing-path"),
        pytest.param("($body.machine ?? 'x') = 'x'", True, id="coalesce-replaces-undefined-object"),
        pytest.param("$body.machine.name || '!' = 'press-1!'", True, id="concat-body-string"),
        pytest.param("- $body.machine.temperature < 0", True, id="negate-body-number"),
    ],
)
def test_body_queries(condition: str, expected: bool) -> None:
    assert matches(condition, body_msg()) is expected


@pytest.mark.parametrize(
    ("content_type", "encoding", "expected"),
    [
        pytest.param("application/json", "utf-8", True, id="json-utf-8"),
        pytest.param("Application/JSON", "UTF-8", True, id="case-insensitive"),
        pytest.param("application/json", "utf-16", True, id="json-utf-16"),
        pytest.param("application/json", "utf-32", True, id="json-utf-32"),
        pytest.param("application/json", None, False, id="no-encoding"),
        pytest.param("application/json", "latin-1", False, id="other-encoding"),
        pytest.param(None, "utf-8", False, id="no-content-type"),
        pytest.param("text/plain", "utf-8", False, id="not-json"),
        pytest.param("application/json; charset=utf-8", "utf-8", False, id="parameters-are-not-json"),
    ],
)
def test_body_is_queried_only_for_json_with_a_unicode_encoding(
    content_type: str | None, encoding: str | None, expected: bool
) -> None:
    assert matches("$body.machine.temperature > 30", body_msg(content_type, encoding)) is expected


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"not json", id="invalid-json"),
        pytest.param(b"[1, 2]", id="top-level-array"),
        pytest.param(b"42", id="top-level-number"),
        pytest.param(b"\xff\xfe\xfd", id="undecodable"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[" * 100_000, id="deeply-nested"),
    ],
)
def test_an_unparseable_body_is_undefined_not_an_error(raw: bytes) -> None:
    msg = body_msg(raw=raw)
    assert not matches("$body.a = 1", msg)
    assert matches("NOT is_defined($body.a)", msg)


def test_an_application_property_named_like_the_query_wins() -> None:
    msg = module_msg(body={"a": 1}, props={"$body.a": "from-property"})
    assert matches("$body.a = 'from-property'", msg)
    assert matches("{$body.a} = 1", msg)  # braces force the body query


def test_the_body_is_parsed_once_per_message() -> None:
    msg = body_msg()
    assert msg.json_body() is msg.json_body()


def test_route_queries_body_for_the_linter() -> None:
    body = compile_route(RouteSpec("b", "FROM /* WHERE $body.a = 1 OR x = 'y' INTO $upstream"))
    plain = compile_route(RouteSpec("p", "FROM /* WHERE $connectionModuleId = 'm' INTO $upstream"))
    assert route_queries_body(body) and not route_queries_body(plain)
