"""Every builtin function, including Undefined inputs and twin_change_includes."""

from __future__ import annotations

import pytest
from route_factories import matches, module_msg, twin_msg

from edgeloop_dev.routes import RouteError, RouteSpec, compile_route

MSG = module_msg(
    props={"s": "Hello", "n": "42", "f": " -1,234.5e1 ", "neg": "(7)", "bad": "4x"}, body={"v": -2.5}
)


@pytest.mark.parametrize(
    "condition",
    [
        # math
        pytest.param("abs(-3) = 3", id="abs"),
        pytest.param("abs($body.v) = 2.5", id="abs-of-body"),
        pytest.param("exp(0) = 1", id="exp"),
        pytest.param("exp(100000) > 1e308", id="exp-overflow-is-infinity"),
        pytest.param("power(2, 10) = 1024", id="power"),
        pytest.param("NOT (power(-8, 0.5) = power(-8, 0.5))", id="power-domain-error-is-nan"),
        pytest.param("square(3) = 9", id="square"),
        pytest.param("ceiling(1.2) = 2", id="ceiling"),
        pytest.param("ceiling(-1.2) = -1", id="ceiling-negative"),
        pytest.param("floor(1.8) = 1", id="floor"),
        pytest.param("floor(-1.2) = -2", id="floor-negative"),
        pytest.param("sign(-5) = -1", id="sign-negative"),
        pytest.param("sign(0) = 0", id="sign-zero"),
        pytest.param("sign(3) = 1", id="sign-positive"),
        pytest.param("sqrt(16) = 4", id="sqrt"),
        pytest.param("NOT (sqrt(-1) = sqrt(-1))", id="sqrt-negative-is-nan"),
        # type checks
        pytest.param("as_number(n) = 42", id="as-number"),
        pytest.param("as_number(f) = -12345", id="as-number-dotnet-styles"),
        pytest.param("as_number(neg) = -7", id="as-number-parentheses-negative"),
        pytest.param("NOT is_defined(as_number(bad))", id="as-number-not-a-number-is-undefined"),
        pytest.param("as_number(3) = 3", id="as-number-of-a-number"),
        pytest.param("is_bool(true)", id="is-bool"),
        pytest.param("NOT is_bool('true')", id="is-bool-string"),
        pytest.param("is_defined(s)", id="is-defined"),
        pytest.param("NOT is_defined(missing)", id="is-defined-missing"),
        pytest.param("NOT is_defined(undefined)", id="is-defined-undefined"),
        pytest.param("is_defined(null)", id="null-is-defined"),
        pytest.param("is_null(null)", id="is-null"),
        pytest.param("NOT is_null(s)", id="is-null-string"),
        pytest.param("is_number(1)", id="is-number"),
        pytest.param("NOT is_number(n)", id="properties-are-not-numbers"),
        pytest.param("is_number($body.v)", id="is-number-body"),
        pytest.param("is_string(s)", id="is-string"),
        pytest.param("NOT is_string(missing)", id="is-string-undefined"),
        # strings
        pytest.param("concat(s, ' ', 'world') = 'Hello world'", id="concat-varargs"),
        pytest.param("concat(s) = 'Hello'", id="concat-one"),
        pytest.param("NOT is_defined(concat(s, missing))", id="concat-undefined"),
        pytest.param("length(s) = 5", id="length"),
        pytest.param("lower(s) = 'hello'", id="lower"),
        pytest.param("upper(s) = 'HELLO'", id="upper"),
        pytest.param("substring(s, 1) = 'ello'", id="substring-from"),
        pytest.param("substring(s, 1, 3) = 'ell'", id="substring-length"),
        pytest.param("NOT is_defined(substring(s, 9))", id="substring-out-of-range"),
        pytest.param("NOT is_defined(substring(s, 2, 9))", id="substring-length-out-of-range"),
        pytest.param("index_of(s, 'll') = 2", id="index-of"),
        pytest.param("index_of(s, 'L') = -1", id="index-of-is-ordinal"),
        pytest.param("starts_with(s, 'He')", id="starts-with"),
        pytest.param("NOT starts_with(s, 'he')", id="starts-with-is-case-sensitive"),
        pytest.param("ends_with(s, 'llo')", id="ends-with"),
        pytest.param("contains(s, 'ell')", id="contains"),
        pytest.param("NOT contains(s, 'x')", id="contains-false"),
        pytest.param("NOT is_defined(contains(missing, 'x'))", id="contains-undefined"),
        pytest.param("CONTAINS(s, 'ell')", id="function-names-are-case-insensitive"),
    ],
)
def test_builtin(condition: str) -> None:
    assert matches(condition, MSG, source="/messages")


TWIN_ROUTE = "FROM /twinChangeNotifications WHERE twin_change_includes({path}) INTO $upstream"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("properties.reported.telemetryConfig", True, id="changed-object"),
        pytest.param("properties.reported.telemetryConfig.sendFrequency", True, id="changed-leaf"),
        pytest.param("properties.reported.other", False, id="not-changed"),
        pytest.param("properties.desired", False, id="desired-not-in-a-reported-change"),
    ],
)
def test_twin_change_includes(path: str, expected: bool) -> None:
    route = compile_route(RouteSpec("t", TWIN_ROUTE.format(path=path)))
    msg = twin_msg({"version": 3, "properties": {"reported": {"telemetryConfig": {"sendFrequency": "5m"}}}})
    assert route.matches(msg) is expected


def test_twin_change_includes_is_only_for_twin_change_routes() -> None:
    with pytest.raises(RouteError, match="twinChangeNotifications") as info:
        compile_route(
            RouteSpec(
                "t", "FROM /messages/* WHERE twin_change_includes(properties.reported.x) INTO $upstream"
            )
        )
    assert (info.value.line, info.value.column) == (1, 24)


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        pytest.param("nope(1)", "unknown function 'nope'", id="unknown-function"),
        pytest.param("abs(1, 2) = 1", "abs", id="too-many-arguments"),
        pytest.param("substring('a') = 'a'", "substring", id="too-few-arguments"),
        pytest.param("length(3) = 1", "length", id="wrong-type"),
        pytest.param("abs(n) = 1", "abs", id="property-is-a-string-not-a-number"),
        pytest.param("power(2) = 4", "power", id="power-needs-two"),
        pytest.param("concat() = ''", "concat", id="concat-needs-one"),
        pytest.param("is_defined() = true", "is_defined", id="is-defined-needs-one"),
    ],
)
def test_bad_calls_fail_at_compile_time(condition: str, fragment: str) -> None:
    with pytest.raises(RouteError, match=fragment):
        matches(condition, MSG)
