"""The router: every matching route fires, one delivery per endpoint at the best priority, TTLs."""

from __future__ import annotations

import pytest
from route_factories import device_msg, module_msg, twin_msg

from edgeloop_dev.routes import (
    DEFAULT_PRIORITY,
    Delivery,
    Endpoint,
    RouteError,
    Router,
    RouteSpec,
    parse_routes,
)

B_IN = Endpoint("module", "b", "in")
UP = Endpoint("upstream")


def test_every_matching_route_fires_once_per_endpoint() -> None:
    router = Router(
        [
            RouteSpec("toB", 'FROM /messages/modules/a/* INTO BrokeredEndpoint("/modules/b/inputs/in")'),
            RouteSpec("up", "FROM /messages/* INTO $upstream"),
            RouteSpec("none", "FROM /messages/modules/z/* INTO $upstream"),
        ]
    )
    deliveries = router.route(module_msg("a", "out"))
    assert sorted(deliveries, key=lambda d: d.route_name) == [
        Delivery(B_IN, DEFAULT_PRIORITY, 7200, "toB"),
        Delivery(UP, DEFAULT_PRIORITY, 7200, "up"),
    ]


def test_routes_to_one_endpoint_are_grouped_at_the_best_priority_with_that_routes_ttl() -> None:
    router = Router(
        [
            RouteSpec("low", "FROM /* INTO $upstream", priority=5, ttl_secs=60),
            RouteSpec("high", "FROM /messages/* INTO $upstream", priority=1, ttl_secs=10),
            RouteSpec("default", "FROM /messages/modules/* INTO $upstream"),
        ],
        default_ttl_secs=300,
    )
    assert router.route(module_msg()) == [Delivery(UP, 1, 10, "high")]


def test_equal_priorities_keep_the_first_route_in_configuration_order() -> None:
    router = Router(
        [
            RouteSpec("first", "FROM /* INTO $upstream", priority=3),
            RouteSpec("second", "FROM /messages/* INTO $upstream", priority=3),
        ]
    )
    assert [d.route_name for d in router.route(module_msg())] == ["first"]


@pytest.mark.parametrize(
    ("route_ttl", "default_ttl", "expected"),
    [
        pytest.param(0, 7200, 7200, id="route-ttl-0-uses-the-global-ttl"),
        pytest.param(30, 7200, 30, id="route-ttl-overrides"),
        pytest.param(0, -1, None, id="negative-global-ttl-is-infinite"),
        pytest.param(45, -1, 45, id="route-ttl-beats-infinite-global"),
    ],
)
def test_ttl(route_ttl: int, default_ttl: int, expected: int | None) -> None:
    router = Router([RouteSpec("r", "FROM /* INTO $upstream", ttl_secs=route_ttl)], default_ttl)
    assert router.route(module_msg())[0].ttl_secs == expected


def test_no_match_gives_no_deliveries() -> None:
    router = Router([RouteSpec("r", "FROM /messages/modules/x/* INTO $upstream")])
    assert router.route(module_msg("y")) == []
    assert router.route(device_msg()) == []
    assert router.route(twin_msg({"properties": {"reported": {}}})) == []


def test_a_router_with_a_bad_route_raises_the_first_error_naming_it() -> None:
    with pytest.raises(RouteError) as info:
        Router(
            [RouteSpec("good", "FROM /* INTO $upstream"), RouteSpec("bad", "FROM /* WHERE INTO $upstream")]
        )
    assert info.value.route_name == "bad"
    assert "'bad'" in str(info.value)


def test_manifest_routes_end_to_end() -> None:
    desired = {
        "schemaVersion": "1.1",
        "routes": {
            "hot": {
                "route": "FROM /messages/modules/sensor/outputs/out WHERE $body.temperature > 30"
                ' INTO BrokeredEndpoint("/modules/b/inputs/in")',
                "priority": 0,
                "timeToLiveSecs": 60,
            },
            "all": "FROM /messages/* INTO $upstream",
        },
        "storeAndForwardConfiguration": {"timeToLiveSecs": 100},
    }
    router = Router(parse_routes(desired), default_ttl_secs=100)
    hot = router.route(module_msg(body={"temperature": 31.5}))
    cold = router.route(module_msg(body={"temperature": 20}))
    assert {(d.endpoint, d.priority, d.ttl_secs) for d in hot} == {(B_IN, 0, 60), (UP, DEFAULT_PRIORITY, 100)}
    assert [d.endpoint for d in cold] == [UP]
