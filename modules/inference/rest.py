"""The REST contract of the common ASE GPU inference deployments: POST /predict, GET /health."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .errors import BadInput, ModelRejected
from .multipart import boundary_of, form_field
from .service import InferenceService

MAX_BODY = 10 * 1024 * 1024


def make_app(service: InferenceService) -> web.Application:
    """One image per request; requests share the frames' batcher."""
    app = web.Application(client_max_size=MAX_BODY)

    async def predict(request: web.Request) -> web.Response:
        image: bytes | None = None
        try:
            body = await request.read()
            if request.content_type.startswith("multipart/"):
                image = form_field(body, boundary_of(request.headers.get("Content-Type", "")), "image")
            else:
                image = body
        except ValueError as exc:
            service.metrics.rejected.labels(input="rest", reason="bad_request").inc()
            return _error(400, "bad_request", f"malformed request: {exc}")
        if image is None:
            service.metrics.rejected.labels(input="rest", reason="no_image").inc()
            return _error(400, "no_image", "send the image as multipart form field `image`")
        try:
            _loaded, result = await service.detect(bytes(image), "rest")
        except BadInput as exc:
            return _error(400, exc.reason, exc.detail)
        except ModelRejected as exc:
            return _error(503, exc.reason, exc.detail)
        return web.json_response({"detections": result.detections, "total": len(result.detections)})

    async def health(_request: web.Request) -> web.Response:
        status = service.status()
        loaded = status["loaded"]
        vision = loaded.get(service.settings.vision_model, {})
        ok = bool(vision)
        body: dict[str, Any] = {
            "status": "healthy" if ok else "unavailable",
            "provider": vision.get("provider", "none"),
            "model": {"name": service.settings.vision_model, "version": vision.get("version")},
            "models": loaded,
            "refused": status["refused"],
        }
        return web.json_response(body, status=200 if ok else 503)

    app.router.add_post("/predict", predict)
    app.router.add_get("/health", health)
    return app


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": detail, "reason": reason}, status=status)
