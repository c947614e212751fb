"""The IoT Edge workload API subset the SDK uses: trust bundle and sign (HTTP on loopback, unix socket)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from aiohttp import web

from edgeloop_dev.hub.errors import AuthError
from edgeloop_dev.hub.identity import IdentityStore


def build_app(identities: IdentityStore, ca_pem_path: Path) -> web.Application:
    """`GET /trust-bundle` and `POST /modules/{m}/genid/{g}/sign` (api-version ignored)."""

    ca_pem = ca_pem_path.read_text()

    async def trust_bundle(_: web.Request) -> web.Response:
        return web.json_response({"certificate": ca_pem})

    async def sign(request: web.Request) -> web.Response:
        module = request.match_info["module"]
        ident = identities.get(module)
        if ident is None:
            return web.json_response({"message": f"module {module!r} not found"}, status=404)
        if ident.generation_id != request.match_info["genid"]:
            return web.json_response({"message": "generation id does not match"}, status=404)
        try:
            body = json.loads(await request.read())
            data = base64.b64decode(body["data"], validate=True)
        except (ValueError, KeyError, TypeError):
            return web.json_response(
                {"message": 'body must be {"keyId", "algo", "data": base64}'}, status=400
            )
        if body.get("algo", "HMACSHA256") != "HMACSHA256":
            return web.json_response({"message": "only HMACSHA256 is supported"}, status=400)
        try:
            digest = identities.sign(module, data)
        except AuthError as exc:
            return web.json_response({"message": str(exc)}, status=404)
        return web.json_response({"digest": base64.b64encode(digest).decode()})

    app = web.Application()
    app.router.add_get("/trust-bundle", trust_bundle)
    app.router.add_post("/modules/{module}/genid/{genid}/sign", sign)
    return app
