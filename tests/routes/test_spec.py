"""Route specs from `$edgeHub` desired properties: schemaVersion, string and object routes, validation."""

from __future__ import annotations

import pytest

from edgeloop_dev.routes import DEFAULT_PRIORITY, RouteError, RouteSpec, parse_routes

R = "FROM /* INTO $upstream"


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2", "1.3"])
def test_string_routes_in_every_schema_version(version: str) -> None:
    assert parse_routes({"schemaVersion": version, "routes": {"a": R}}) == [RouteSpec("a", R)]


@pytest.mark.parametrize("version", ["1.1", "1.2", "1.3"])
def test_object_routes_from_1_1(version: str) -> None:
    desired = {
        "schemaVersion": version,
        "routes": {
            "full": {"route": R, "priority": 0, "timeToLiveSecs": 86400},
            "bare": {"route": R},
            "text": R,
        },
    }
    assert parse_routes(desired) == [
        RouteSpec("full", R, 0, 86400),
        RouteSpec("bare", R, DEFAULT_PRIORITY, 0),
        RouteSpec("text", R, DEFAULT_PRIORITY, 0),
    ]


def test_routes_keep_their_configuration_order() -> None:
    names = [f"r{i}" for i in (3, 1, 2)]
    specs = parse_routes({"schemaVersion": "1.0", "routes": {n: R for n in names}})
    assert [s.name for s in specs] == names


def test_no_routes_is_an_empty_list() -> None:
    assert parse_routes({"schemaVersion": "1.1"}) == []


@pytest.mark.parametrize(
    ("desired", "route_name", "fragment"),
    [
        pytest.param({"routes": {"a": R}}, "", "schemaVersion", id="schema-version-missing"),
        pytest.param({"schemaVersion": "2.0", "routes": {}}, "", "2.0", id="schema-version-unknown"),
        pytest.param({"schemaVersion": 1.1, "routes": {}}, "", "1.1", id="schema-version-not-a-string"),
        pytest.param(
            {"schemaVersion": "1.0", "routes": {"obj": {"route": R}}}, "obj", "1.0", id="object-route-in-1.0"
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"p": {"route": R, "priority": 10}}},
            "p",
            "priority",
            id="priority-above-9",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"p": {"route": R, "priority": -1}}},
            "p",
            "priority",
            id="priority-negative",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"p": {"route": R, "priority": "1"}}},
            "p",
            "priority",
            id="priority-not-a-number",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"p": {"route": R, "priority": True}}},
            "p",
            "priority",
            id="priority-bool",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"t": {"route": R, "timeToLiveSecs": -5}}},
            "t",
            "timeToLiveSecs",
            id="ttl-negative",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"t": {"route": R, "timeToLiveSecs": 1.5}}},
            "t",
            "timeToLiveSecs",
            id="ttl-fractional",
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"m": {"priority": 1}}}, "m", "route", id="no-route-text"
        ),
        pytest.param(
            {"schemaVersion": "1.1", "routes": {"u": {"route": R, "prio": 1}}}, "u", "prio", id="unknown-key"
        ),
        pytest.param({"schemaVersion": "1.1", "routes": {"n": 42}}, "n", "string", id="route-not-a-string"),
        pytest.param({"schemaVersion": "1.1", "routes": ["x"]}, "", "object", id="routes-not-an-object"),
    ],
)
def test_bad_specs_are_refused_naming_the_route(
    desired: dict[str, object], route_name: str, fragment: str
) -> None:
    with pytest.raises(RouteError) as info:
        parse_routes(desired)
    assert info.value.route_name == route_name
    assert fragment in str(info.value)
    if route_name:
        assert repr(route_name) in str(info.value)
