"""Upstream messages carry routing-friendly application properties that IoT Hub routing queries filter on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ur_factories import anomaly, envelope, summary
from ur_process import ModuleProcess

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.routes import RoutableMessage, RouteSpec, compile_route
from upstream_router.batching import encode
from upstream_router.properties import MAX_VALUE_CHARS, clean, routing_properties
from upstream_router.store import Item

ROUTER = "upstream_router"
# IoT Hub's rule for property names and values (ASCII letters, digits and these marks).
IOT_HUB_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")


def _items(envs: list[dict[str, Any]], cls: str) -> list[Item]:
    out = []
    for seq, env in enumerate(envs):
        body = json.dumps(env).encode()
        out.append(Item(seq, env["id"], cls, 0.0, len(body), body))
    return out


def matches(query: str, properties: dict[str, str]) -> bool:
    """Whether an IoT Hub routing query (edgeHub's condition language, the same grammar) selects a message."""
    route = compile_route(RouteSpec("r", f"FROM /messages/* WHERE {query} INTO $upstream"))
    system = {"connectionDeviceId": "d", "connectionModuleId": ROUTER, "outputName": "upstream"}
    return route.matches(RoutableMessage(b"\x1f\x8b", system, properties))  # the body is never read


def test_one_anomaly_names_its_class_priority_asset_severity_kind_and_schema() -> None:
    enc = encode(_items([anomaly("pump", "critical")], "safety"), compress=False, source={})
    assert enc.properties == {
        "class": "safety",
        "priority": "high",
        "kind": "anomaly",
        "events": "1",
        "schema": "edgeloop-envelope",
        "schemaVersion": "1",
        "encoding": "json",
        "asset": "pump",
        "severity": "critical",
    }


def test_a_mixed_batch_lists_its_assets_and_keeps_the_highest_severity() -> None:
    envs = [anomaly("pump", "warning"), anomaly("crusher", "critical"), anomaly("pump", "info")]
    enc = encode(_items(envs, "anomaly"), compress=True, source={})
    props = enc.properties
    assert props["assets"] == "crusher|pump" and "asset" not in props
    assert props["severity"] == "critical" and props["events"] == "3"
    assert props["schema"] == "edgeloop-envelope-batch" and props["encoding"] == "gzip"


@pytest.mark.parametrize(
    ("cls", "priority"),
    [
        pytest.param("safety", "high", id="safety-high"),
        pytest.param("alarm", "high", id="active-alarm-high"),
        pytest.param("event", "normal", id="plant-event-normal"),
        pytest.param("audit", "high", id="audit-high"),
        pytest.param("anomaly", "high", id="anomaly-high"),
        pytest.param("drift", "normal", id="drift-normal"),
        pytest.param("summary", "low", id="summary-low"),
    ],
)
def test_priority_follows_the_class(cls: str, priority: str) -> None:
    assert routing_properties(cls, [envelope("x", {})], batch=False, encoding="utf-8")["priority"] == priority


def test_names_and_values_stay_within_iot_hub_rules_whatever_the_asset_is_called() -> None:
    odd = "Line 3/Crusher (north) é" + "x" * 300
    envs = [summary(asset=odd), summary(asset="pump")]
    props = routing_properties("summary", envs, batch=True, encoding="utf-8")
    for name, value in props.items():
        assert IOT_HUB_TOKEN.match(name) and IOT_HUB_TOKEN.match(value), (name, value)
        assert len(value) <= MAX_VALUE_CHARS
    assert clean("Line 3/Crusher") == "Line_3_Crusher"
    assert sum(len(k) + len(v) for k, v in props.items()) < 1024  # far under the 256 KB message limit


def test_routing_queries_select_on_the_properties_alone() -> None:
    pump_critical = encode(_items([anomaly("pump", "critical")], "safety"), compress=True, source={})
    crusher_warning = encode(_items([anomaly("crusher")], "anomaly"), compress=False, source={})
    summaries = encode(_items([summary("pump"), summary("pump", 1)], "summary"), compress=True, source={})
    messages = {"pump_critical": pump_critical, "crusher_warning": crusher_warning, "summaries": summaries}

    def selected(query: str) -> set[str]:
        return {name for name, enc in messages.items() if matches(query, enc.properties)}

    assert selected("priority = 'high' AND class = 'anomaly'") == {"crusher_warning"}
    assert selected("priority = 'high'") == {"pump_critical", "crusher_warning"}
    assert selected("asset = 'pump'") == {"pump_critical", "summaries"}
    assert selected("severity = 'critical' OR class = 'safety'") == {"pump_critical"}
    assert selected("encoding = 'gzip' AND kind = 'summary'") == {"summaries"}
    assert selected("NOT IS_DEFINED(severity)") == {"summaries"}
    assert selected("CONTAINS(kind, 'anomaly')") == {"pump_critical", "crusher_warning"}


def test_the_router_module_sends_them_as_application_properties_through_the_hub(
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
    module_process: Callable[..., ModuleProcess],
    tmp_path: Path,
) -> None:
    routes = {
        f"to_{i}": f'FROM /messages/modules/src/outputs/{i} INTO BrokeredEndpoint("/modules/{ROUTER}/inputs/{i}")'
        for i in ("anomalies", "summaries")
    }
    routes["up"] = f"FROM /messages/modules/{ROUTER}/outputs/upstream INTO $upstream"
    hub = hub_factory(make_manifest(routes, {"src": {}, ROUTER: {}}))
    env = {
        **hub.env(ROUTER),
        "STORE_PATH": str(tmp_path / "router" / "queue.db"),
        "BATCH_INTERVAL_SECONDS": json.dumps({"summary": 0.5}),
    }
    module_process(ROUTER, env)
    src = sdk_module(hub.env("src"), inputs=False)
    critical = anomaly("crusher", "critical", window=False)
    src.send_json("anomalies", critical, message_id=critical["id"])
    for minute, asset in enumerate(("pump", "pump")):
        s = summary(asset, minute)
        src.send_json("summaries", s, message_id=s["id"])

    def application() -> list[dict[str, str]]:
        return [
            r["event"]["properties"]["application"] for r in hub.upstream() if r["event"]["module"] == ROUTER
        ]

    got = wait_for(lambda: (apps := application()) and sum(int(a["events"]) for a in apps) >= 3 and apps, 30)
    by_class = {a["class"]: a for a in got}
    assert by_class["safety"] == {
        "class": "safety",
        "priority": "high",
        "kind": "anomaly",
        "events": "1",
        "schema": "edgeloop-envelope",
        "schemaVersion": "1",
        "encoding": "json",
        "asset": "crusher",
        "severity": "critical",
    }
    assert by_class["summary"]["asset"] == "pump" and by_class["summary"]["priority"] == "low"
    assert [a["class"] for a in got if matches("priority = 'high' AND asset = 'crusher'", a)] == ["safety"]
