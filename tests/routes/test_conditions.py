"""The condition language: literals, names, operators and three-valued logic, as edgeHub evaluates them."""

from __future__ import annotations

import pytest
from route_factories import matches, module_msg

from edgeloop_dev.routes import RoutableMessage

MSG = module_msg(
    "sensor",
    "out",
    props={"site": "north", "temp": "31.5", "count": "7", "$outputName": "shadow", "flag": "true"},
    system={"messageId": "m-1", "cid": "c-1"},
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # names
        pytest.param("site = 'north'", True, id="application-property-by-bare-name"),
        pytest.param("site = 'North'", False, id="string-equality-is-case-sensitive"),
        pytest.param("missing = 'x'", False, id="missing-property-is-undefined"),
        pytest.param("$connectionModuleId = 'sensor'", True, id="system-property"),
        pytest.param("$connectionDeviceId = 'dev1'", True, id="connection-device-id"),
        pytest.param("$messageId = 'm-1'", True, id="message-id"),
        pytest.param("$cid = 'c-1'", True, id="correlation-id-is-stored-as-cid"),
        pytest.param("$correlationId = 'c-1'", False, id="correlationId-is-undefined"),
        pytest.param("$outputName = 'shadow'", True, id="custom-property-named-$x-wins"),
        pytest.param("{$outputName} = 'out'", True, id="braces-force-the-system-property"),
        pytest.param("$contentType = 'application/json'", True, id="content-type"),
        pytest.param("flag = 'true'", True, id="property-values-are-strings"),
        pytest.param("SITE = 'north'", True, id="property-names-ignore-case"),
        pytest.param("$ConnectionModuleID = 'sensor'", True, id="system-property-names-ignore-case"),
        # literals
        pytest.param("true", True, id="true"),
        pytest.param("false", False, id="false"),
        pytest.param("undefined", False, id="undefined-never-matches"),
        pytest.param("null", False, id="null-is-false"),
        pytest.param("1 = 1.0", True, id="integers-are-doubles"),
        pytest.param("0x1F = 31", True, id="hex"),
        pytest.param("0XfF = 255", True, id="hex-uppercase-x"),
        pytest.param("1.5e1 = 15", True, id="real-with-exponent"),
        pytest.param(".5 = 0.5", True, id="real-without-leading-digit"),
        pytest.param("-2 < 0", True, id="negative-literal"),
        pytest.param("'it\\'s' = \"it's\"", True, id="escaped-quote"),
        pytest.param("'\\u0041' = 'A'", True, id="unicode-escape"),
        pytest.param("'a\\\\b' = concat('a', '\\\\', 'b')", True, id="escaped-backslash"),
        pytest.param("\"double\" = 'double'", True, id="double-and-single-quotes"),
        # comparison
        pytest.param("2 = 2", True, id="eq"),
        pytest.param("2 != 3", True, id="ne-bang"),
        pytest.param("2 <> 3", True, id="ne-angle"),
        pytest.param("2 <> 2", False, id="ne-false"),
        pytest.param("2 < 3", True, id="lt"),
        pytest.param("3 <= 3", True, id="le"),
        pytest.param("4 > 3", True, id="gt"),
        pytest.param("3 >= 4", False, id="ge"),
        pytest.param("'B' < 'a'", True, id="strings-compare-ordinally"),
        pytest.param("'abc' < 'abd'", True, id="string-lt"),
        pytest.param("true = true", True, id="bool-eq"),
        pytest.param("false < true", True, id="bool-order"),
        pytest.param("null = null", True, id="null-equals-null"),
        pytest.param("null <> null", False, id="null-not-different-from-null"),
        pytest.param("undefined = undefined", False, id="undefined-equals-nothing"),
        pytest.param("1 < 2 = true", True, id="comparison-binds-tighter-than-equality"),
        # arithmetic
        pytest.param("1 + 2 = 3", True, id="add"),
        pytest.param("5 - 2 = 3", True, id="subtract"),
        pytest.param("2 * 3 = 6", True, id="multiply"),
        pytest.param("7 / 2 = 3.5", True, id="divide"),
        pytest.param("7 % 4 = 3", True, id="modulo"),
        pytest.param("-7 % 4 = -3", True, id="modulo-keeps-the-sign-of-the-dividend"),
        pytest.param("1 / 0 > 1000000", True, id="divide-by-zero-is-infinity"),
        pytest.param("0 / 0 = 0 / 0", False, id="nan-equals-nothing"),
        pytest.param("- 3 = 0 - 3", True, id="unary-minus"),
        pytest.param("- (1 + 2) = -3", True, id="unary-minus-of-group"),
        pytest.param("1 + 2 * 3 = 7", True, id="multiplication-first"),
        pytest.param("(1 + 2) * 3 = 9", True, id="parentheses"),
        pytest.param("10 - 2 - 3 = 5", True, id="left-associative"),
        pytest.param("'a' || 'b' = 'ab'", True, id="concat-operator"),
        pytest.param("site || missing = 'north'", False, id="concat-with-undefined-is-undefined"),
        pytest.param("as_number(temp) > 30", True, id="as-number-of-a-property"),
        pytest.param("as_number(count) + 1 = 8", True, id="arithmetic-on-as-number"),
        # logic
        pytest.param("true AND true", True, id="and"),
        pytest.param("true and false", False, id="and-lowercase"),
        pytest.param("false OR true", True, id="or"),
        pytest.param("false Or false", False, id="or-mixed-case"),
        pytest.param("NOT false", True, id="not"),
        pytest.param("not (1 = 2)", True, id="not-lowercase"),
        pytest.param("NOT false = true", True, id="not-binds-tighter-than-comparison"),
        pytest.param("NOT true AND false", False, id="not-binds-tighter-than-and"),
        pytest.param("true OR true AND false", True, id="and-binds-tighter-than-or"),
        pytest.param("missing = 'x' AND false", False, id="undefined-and-false-is-false"),
        pytest.param("missing = 'x' AND true", False, id="undefined-and-true-is-undefined"),
        pytest.param("missing = 'x' OR true", True, id="undefined-or-true-is-true"),
        pytest.param("missing = 'x' OR false", False, id="undefined-or-false-is-undefined"),
        pytest.param("NOT (missing = 'x')", False, id="not-undefined-is-undefined"),
        pytest.param("NOT null", True, id="not-null-is-true"),
        pytest.param("null OR true", True, id="null-or-x-is-x"),
        pytest.param("NOT (null AND true)", True, id="null-and-x-is-null"),
        # coalesce
        pytest.param("(missing ?? 'dflt') = 'dflt'", True, id="coalesce-undefined"),
        pytest.param("(site ?? 'dflt') = 'north'", True, id="coalesce-defined"),
        pytest.param("(missing ?? other ?? 'z') = 'z'", True, id="coalesce-chain"),
        pytest.param("missing = 'x' ?? true", True, id="coalesce-binds-loosest"),
        pytest.param("undefined ?? undefined", False, id="coalesce-of-undefined-literals"),
        # comments and keywords
        pytest.param("/* hot? */ site = 'north' /* yes */", True, id="comments"),
        pytest.param("a*b = 'x'", False, id="a*b-is-one-name"),
    ],
)
def test_condition(condition: str, expected: bool) -> None:
    assert matches(condition, MSG, source="/messages") is expected


def test_a_name_with_operator_characters_is_one_property() -> None:
    msg = module_msg(props={"a*b": "x", "x-1": "y", "e.f": "z"})
    assert matches("a*b = 'x' AND x-1 = 'y' AND e.f = 'z'", msg)


def test_keywords_are_case_insensitive_in_the_whole_route() -> None:
    from edgeloop_dev.routes import RouteSpec, compile_route

    route = compile_route(RouteSpec("r", "select * from /messages/* where TRUE = 'yes' into $UPSTREAM"))
    assert route.matches(module_msg(props={"TRUE": "yes"}))  # upper-case TRUE is a name, not the literal
    route = compile_route(RouteSpec("r", "SeLeCt * FrOm /messages/* WhErE true InTo $Upstream"))
    assert route.matches(MSG)


@pytest.mark.parametrize(
    "msg",
    [
        pytest.param(RoutableMessage(b"", {}, {}), id="empty"),
        pytest.param(RoutableMessage(b"\xff\xfe", {"contentType": "application/json"}, {"x": ""}), id="junk"),
    ],
)
def test_conditions_on_bare_messages_are_false_not_errors(msg: RoutableMessage) -> None:
    assert not matches("x = 'y' OR $body.a = 1 OR as_number(x) > 0", msg)
