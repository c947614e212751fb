"""Message and route factories for the route-language tests."""

from __future__ import annotations

import json

from edgeloop_dev.routes import RoutableMessage, RouteSpec, compile_route

JSON_UTF8 = {"contentType": "application/json", "contentEncoding": "utf-8"}


def module_msg(
    module: str = "sensor",
    output: str | None = "out",
    *,
    body: object = None,
    raw: bytes | None = None,
    props: dict[str, str] | None = None,
    system: dict[str, str] | None = None,
    json_body: bool = True,
) -> RoutableMessage:
    """A message a module sent to an output (JSON utf-8 unless told otherwise)."""
    sys_props = {"connectionDeviceId": "dev1", "connectionModuleId": module}
    if output is not None:
        sys_props["outputName"] = output
    if json_body:
        sys_props.update(JSON_UTF8)
    sys_props.update(system or {})
    payload = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    return RoutableMessage(payload, sys_props, dict(props or {}))


def device_msg(*, props: dict[str, str] | None = None) -> RoutableMessage:
    """A leaf-device telemetry message."""
    return RoutableMessage(b"{}", {"connectionDeviceId": "leaf", **JSON_UTF8}, dict(props or {}))


def twin_msg(body: object) -> RoutableMessage:
    """A twin-change notification as edgeHub produces it for a reported-properties patch."""
    return RoutableMessage(
        json.dumps(body).encode(),
        {
            "connectionDeviceId": "dev1",
            "connectionModuleId": "$edgeHub",
            "messageType": "twinChangeNotification",
            "messageSchema": "twinChangeNotification",
            **JSON_UTF8,
        },
        {"$.cdid": "dev1", "$.cmid": "sensor"},
    )


def where(condition: str, source: str = "/*") -> str:
    """A route text with this condition."""
    return f"FROM {source} WHERE {condition} INTO $upstream"


def matches(condition: str, msg: RoutableMessage, source: str = "/*") -> bool:
    """Whether a route with this condition fires for msg."""
    return compile_route(RouteSpec("r", where(condition, source))).matches(msg)
