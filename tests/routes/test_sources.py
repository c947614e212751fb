"""Route sources: every message source, and edgeHub's prefix rule (strip `*`, strip `/`, add one `/`)."""

from __future__ import annotations

import pytest
from route_factories import device_msg, module_msg, twin_msg

from edgeloop_dev.routes import RoutableMessage, RouteSpec, compile_route, route_source_target, source_prefix

OUT = module_msg("sensor", "out")
OUT2 = module_msg("sensor", "out2")
NO_OUTPUT = module_msg("sensor", None)
OTHER = module_msg("other", "out")
LEAF = device_msg()
TWIN = twin_msg({"properties": {"reported": {"a": 1}}})
ALL = {"out": OUT, "out2": OUT2, "no_output": NO_OUTPUT, "other": OTHER, "leaf": LEAF, "twin": TWIN}


@pytest.mark.parametrize(
    ("msg", "source"),
    [
        pytest.param(OUT, "/messages/modules/sensor/outputs/out", id="module-output"),
        pytest.param(NO_OUTPUT, "/messages/modules/sensor", id="module-without-output"),
        pytest.param(LEAF, "/messages", id="leaf-device"),
        pytest.param(TWIN, "/twinChangeNotifications", id="twin-change-notification"),
    ],
)
def test_message_sources(msg: RoutableMessage, source: str) -> None:
    assert msg.source == source


@pytest.mark.parametrize(
    ("source", "selected"),
    [
        pytest.param(
            "/*", {"out", "out2", "no_output", "other", "leaf", "twin"}, id="slash-star-is-everything"
        ),
        pytest.param("/messages/*", {"out", "out2", "no_output", "other", "leaf"}, id="messages-star"),
        pytest.param("/messages", {"out", "out2", "no_output", "other", "leaf"}, id="messages-prefix"),
        pytest.param("/messages/modules/*", {"out", "out2", "no_output", "other"}, id="all-modules"),
        pytest.param("/messages/modules/sensor/*", {"out", "out2", "no_output"}, id="one-module-star"),
        pytest.param("/messages/modules/sensor", {"out", "out2", "no_output"}, id="one-module"),
        pytest.param("/messages/modules/sensor/outputs/*", {"out", "out2"}, id="all-outputs-of-a-module"),
        pytest.param("/messages/modules/sensor/outputs/out", {"out"}, id="one-output-not-out2"),
        pytest.param("/messages/modules/sensor/outputs/out2", {"out2"}, id="out2-only"),
        pytest.param("/messages/modules/SENSOR/Outputs/OUT", {"out"}, id="case-insensitive"),
        pytest.param("/messages/modules/sens*", set(), id="star-is-not-a-glob-inside-a-name"),
        pytest.param("/messages/modules/sensor/outputs/o", set(), id="no-partial-name"),
        pytest.param("/messages/modules/*/outputs/out", set(), id="star-in-the-middle-matches-nothing"),
        pytest.param("/twinChangeNotifications", {"twin"}, id="twin-changes"),
    ],
)
def test_source_prefix_rule(source: str, selected: set[str]) -> None:
    route = compile_route(RouteSpec("r", f"FROM {source} INTO $upstream"))
    assert {name for name, msg in ALL.items() if route.matches(msg)} == selected


@pytest.mark.parametrize(
    ("source", "prefix"),
    [
        pytest.param("/*", "/", id="root"),
        pytest.param("/messages/*", "/messages/", id="star"),
        pytest.param("/messages/modules/m/outputs/o", "/messages/modules/m/outputs/o/", id="exact"),
        pytest.param("/A/B**", "/a/b/", id="many-stars-lowercased"),
    ],
)
def test_source_prefix(source: str, prefix: str) -> None:
    assert source_prefix(source) == prefix


@pytest.mark.parametrize(
    ("source", "target"),
    [
        pytest.param("/messages/modules/m/outputs/o", ("m", "o"), id="module-output"),
        pytest.param("/messages/modules/m/outputs/*", ("m", None), id="module-all-outputs"),
        pytest.param("/messages/modules/m/*", ("m", None), id="module-star"),
        pytest.param("/messages/modules/m", ("m", None), id="module"),
        pytest.param("/messages/modules/*", (None, None), id="all-modules"),
        pytest.param("/messages/*", (None, None), id="all-messages"),
        pytest.param("/*", (None, None), id="everything"),
        pytest.param("/twinChangeNotifications", (None, None), id="twin"),
    ],
)
def test_route_source_target_for_the_linter(source: str, target: tuple[str | None, str | None]) -> None:
    assert route_source_target(compile_route(RouteSpec("r", f"FROM {source} INTO $upstream"))) == target
