"""Control API on loopback HTTP for `edgeloop invoke/twin`, the supervisor and tests (see DIR/hub.json)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from edgeloop_dev.hub.core import Hub
from edgeloop_dev.hub.errors import MethodError, TwinError

DEFAULT_METHOD_TIMEOUT_S = 30.0


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return None
    return json.loads(raw)


def build_app(hub: Hub) -> web.Application:
    """The control API's routes."""

    async def status(_: web.Request) -> web.Response:
        return web.json_response(hub.status())

    async def invoke(request: web.Request) -> web.Response:
        module = request.match_info["module"]
        try:
            body = await _json_body(request)
        except ValueError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("methodName"), str):
            return _error(
                400, 'body must be {"methodName": str, "payload": ..., "responseTimeoutInSeconds": n}'
            )
        timeout = body.get("responseTimeoutInSeconds", DEFAULT_METHOD_TIMEOUT_S)
        if not isinstance(timeout, int | float) or timeout <= 0:
            return _error(400, "responseTimeoutInSeconds must be a positive number")
        try:
            code, payload = await hub.invoke_method(module, body["methodName"], body.get("payload"), timeout)
        except MethodError as exc:
            return _error(exc.status, str(exc))
        return web.json_response({"status": code, "payload": payload})

    async def get_twin(request: web.Request) -> web.Response:
        return web.json_response(hub.twins.get(request.match_info["module"]))

    async def patch_desired(request: web.Request) -> web.Response:
        try:
            patch = await _json_body(request)
            twin = hub.push_desired(request.match_info["module"], patch)
        except (ValueError, TwinError) as exc:
            return _error(400, f"invalid desired patch: {exc}")
        return web.json_response(twin)

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_post("/modules/{module}/methods", invoke)
    app.router.add_get("/modules/{module}/twin", get_twin)
    app.router.add_patch("/modules/{module}/twin/properties/desired", patch_desired)
    return app
