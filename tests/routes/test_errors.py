"""Routes edgeHub refuses: every problem is a RouteError at compile time, naming the route and position."""

from __future__ import annotations

import pytest

from edgeloop_dev.routes import Endpoint, RouteError, RouteSpec, compile_route


def compile_error(text: str) -> RouteError:
    with pytest.raises(RouteError) as info:
        compile_route(RouteSpec("my-route", text))
    error = info.value
    assert error.route_name == "my-route"
    assert error.route_text == text
    assert "'my-route'" in str(error)
    return error


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        # typing
        pytest.param("FROM /* WHERE temp > 30 INTO $upstream", 1, 20, "as_number", id="property-vs-number"),
        pytest.param("FROM /* WHERE 30 < temp INTO $upstream", 1, 18, "as_number", id="number-vs-property"),
        pytest.param(
            "FROM /* WHERE temp + 1 = 2 INTO $upstream", 1, 20, "as_number", id="property-arithmetic"
        ),
        pytest.param("FROM /* WHERE 'a' = true INTO $upstream", 1, 19, "same type", id="string-vs-bool"),
        pytest.param("FROM /* WHERE x = null INTO $upstream", 1, 17, "same type", id="string-vs-null"),
        pytest.param(
            "FROM /* WHERE x = undefined INTO $upstream", 1, 17, "same type", id="string-vs-undefined"
        ),
        pytest.param("FROM /* WHERE 1 || 'a' = 'a' INTO $upstream", 1, 17, "'||'", id="concat-needs-strings"),
        pytest.param("FROM /* WHERE 'a' AND true INTO $upstream", 1, 19, "AND", id="and-needs-booleans"),
        pytest.param("FROM /* WHERE 1 OR true INTO $upstream", 1, 17, "OR", id="or-needs-booleans"),
        pytest.param("FROM /* WHERE NOT 1 = 2 INTO $upstream", 1, 15, "NOT", id="not-binds-to-its-operand"),
        pytest.param("FROM /* WHERE NOT x INTO $upstream", 1, 15, "NOT", id="not-of-a-string"),
        pytest.param("FROM /* WHERE - 'a' = 'a' INTO $upstream", 1, 15, "unary", id="negate-a-string"),
        pytest.param("FROM /* WHERE (x ?? 1) = 1 INTO $upstream", 1, 18, "same type", id="coalesce-types"),
        pytest.param("FROM /* WHERE foo(x) INTO $upstream", 1, 15, "unknown function", id="unknown-function"),
        pytest.param(
            "FROM /* WHERE e5 = 1 INTO $upstream", 1, 18, "undefined and number", id="e5-is-an-undefined-real"
        ),
        pytest.param("FROM /* WHERE $body. = 1 INTO $upstream", 1, 15, "$body", id="empty-body-query"),
        pytest.param("FROM /* WHERE $body.a[b] = 1 INTO $upstream", 1, 15, "JSONPath", id="bad-body-path"),
        # syntax
        pytest.param(
            "FROM /* WHERE INTO $upstream", 1, 15, "unexpected 'INTO'", id="where-without-condition"
        ),
        pytest.param("FROM /* WHERE x = 'a INTO $upstream", 1, 19, "unterminated string", id="unterminated"),
        pytest.param(
            "FROM /* WHERE x = 'a\\nb' INTO $upstream", 1, 19, "unterminated string", id="bad-escape"
        ),
        pytest.param("FROM /* WHERE (x = 'a' INTO $upstream", 1, 24, "')'", id="missing-paren"),
        pytest.param("FROM /* WHERE (x = 'a')) INTO $upstream", 1, 24, "')'", id="extra-paren"),
        pytest.param("FROM /* WHERE x = 'a' @ INTO $upstream", 1, 23, "'@'", id="unknown-character"),
        pytest.param(
            "FROM /* WHERE as_number(x)*2 > 1 INTO $upstream", 1, 27, "spaces", id="operator-in-name"
        ),
        pytest.param(
            "FROM /* WHERE as_number(x) -1 > 1 INTO $upstream", 1, 28, "negative", id="minus-number"
        ),
        pytest.param("FROM messages INTO $upstream", 1, 6, "'/'", id="source-without-slash"),
        pytest.param("FROM / INTO $upstream", 1, 8, "unexpected 'INTO'", id="source-empty-item"),
        pytest.param("FROM /a/ INTO $upstream", 1, 10, "unexpected 'INTO'", id="source-trailing-slash"),
        pytest.param("/messages INTO $upstream", 1, 1, "FROM", id="no-from"),
        pytest.param("FROM /messages", 1, 15, "end of route", id="no-into"),
        pytest.param("FROM /messages INTO", 1, 20, "end of route", id="no-sink"),
        pytest.param("SELECT FROM /a INTO $upstream", 1, 8, "'*'", id="select-without-star"),
        pytest.param("FROM /a INTO $upstream extra", 1, 24, "'extra'", id="text-after-sink"),
        pytest.param("  ", 1, 1, "empty", id="empty-route"),
        # sinks
        pytest.param("FROM /a INTO $downstream", 1, 14, "$upstream", id="unknown-system-endpoint"),
        pytest.param(
            'FROM /a INTO Endpoint("/modules/b/inputs/c")', 1, 14, "BrokeredEndpoint", id="unknown-func"
        ),
        pytest.param('FROM /a INTO BrokeredEndpoint("/modules/b")', 1, 31, "/modules/", id="too-few-parts"),
        pytest.param(
            'FROM /a INTO BrokeredEndpoint("/modules/b/inputs/c/d")', 1, 31, "/modules/", id="too-many"
        ),
        pytest.param(
            'FROM /a INTO BrokeredEndpoint("/modules//inputs/c")', 1, 31, "/modules/", id="empty-module"
        ),
        pytest.param("FROM /a INTO BrokeredEndpoint(x)", 1, 31, "string", id="address-not-a-string"),
        pytest.param(
            "FROM /a\nWHERE x = 'a'\n  AND y > 1\nINTO $upstream", 3, 9, "as_number", id="multi-line-position"
        ),
    ],
)
def test_compile_errors_point_at_the_problem(text: str, line: int, column: int, fragment: str) -> None:
    error = compile_error(text)
    assert (error.line, error.column) == (line, column), str(error)
    assert fragment in error.message


def test_a_comment_after_a_star_source_swallows_the_condition_as_in_edgehub() -> None:
    # edgeHub's lexer reads `/* WHERE ... */` as one comment: the route has no condition at all.
    route = compile_route(RouteSpec("r", "FROM /messages/* WHERE a = 'x' /* why */ INTO $upstream"))
    assert route.source == "/messages"
    assert route.condition == "true"


def test_the_message_shows_the_line_with_a_caret() -> None:
    error = compile_error("FROM /* WHERE temp > 30 INTO $upstream")
    assert str(error).splitlines()[-2:] == [
        "    FROM /* WHERE temp > 30 INTO $upstream",
        "                       ^",
    ]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    error = compile_error("FROM /a WHERE " + "(" * 300 + "true" + ")" * 300 + " INTO $upstream")
    assert "nested" in error.message


@pytest.mark.parametrize(
    ("sink", "endpoint"),
    [
        pytest.param("$upstream", Endpoint("upstream"), id="upstream"),
        pytest.param("$UpStream", Endpoint("upstream"), id="upstream-any-case"),
        pytest.param(
            'BrokeredEndpoint("/modules/b/inputs/in")', Endpoint("module", "b", "in"), id="brokered"
        ),
        pytest.param(
            "brokeredendpoint('/modules/b/inputs/in')", Endpoint("module", "b", "in"), id="any-case-single"
        ),
        pytest.param(
            'BrokeredEndpoint("modules/b/inputs/in/")', Endpoint("module", "b", "in"), id="slashes-optional"
        ),
        pytest.param(
            'BrokeredEndpoint("/modules/b\\u002Dx/inputs/in")', Endpoint("module", "b-x", "in"), id="escapes"
        ),
    ],
)
def test_sinks(sink: str, endpoint: Endpoint) -> None:
    assert compile_route(RouteSpec("r", f"FROM /* INTO {sink}")).endpoint == endpoint


def test_a_route_error_is_a_config_error_naming_the_routes_field() -> None:
    from edgeloop_runtime.errors import ConfigError

    error = compile_error("FROM /a WHERE t > 1 INTO $upstream")
    assert isinstance(error, ConfigError)
    assert error.field == "routes.my-route"
    assert str(error).startswith("route 'my-route': ")
