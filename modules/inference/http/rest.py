"""The REST contract of the common ASE GPU inference deployments: POST /predict, GET /health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from edgeloop_runtime import get_logger, utc_now_iso

from ..errors import BadInput, ModelRejected
from ..service import InferenceService
from .multipart import boundary_of, form_field

MAX_BODY = 10 * 1024 * 1024
_log = get_logger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]


def make_app(service: InferenceService, emit: Emit | None = None) -> web.Application:
    """One image per request; requests share the frames' batcher; `emit` also sends each result on the
    PREDICTIONS_OUTPUT (when set), so a route `FROM .../outputs/* INTO $upstream` carries it."""
    app = web.Application(client_max_size=MAX_BODY)

    async def predict(request: web.Request) -> web.Response:
        image: bytes | None = None
        try:
            body = await request.read()
            ctype = request.headers.get("Content-Type", "")
            image = form_field(body, boundary_of(ctype), "image") if _is_multipart(ctype) else body
        except ValueError as exc:
            service.metrics.rejected.labels(input="rest", reason="bad_request").inc()
            return _error(400, "bad_request", f"malformed request: {exc}")
        if image is None:
            service.metrics.rejected.labels(input="rest", reason="no_image").inc()
            return _error(400, "no_image", "send the image as multipart form field `image`")
        try:
            loaded, result = await service.detect(bytes(image), "rest")
        except BadInput as exc:
            return _error(400, exc.reason, exc.detail)
        except ModelRejected as exc:
            if exc.reason == "not_loaded":
                return _error(503, "waiting_for_model", service.status()["state"] + f": {exc.detail}")
            return _error(503, exc.reason, exc.detail)
        answer: dict[str, Any] = {"detections": result.detections, "total": len(result.detections)}
        if result.classes:
            answer["classes"] = result.classes
        if emit is not None:
            prediction = {
                "type": "prediction",
                "source": "rest",
                "model": {"name": loaded.name, "version": loaded.version},
                "width": result.width,
                "height": result.height,
                "at": utc_now_iso(),
                **answer,
            }
            try:
                await emit(prediction)
            except Exception as exc:  # the caller still gets its answer; the hub may be away
                service.metrics.rejected.labels(input="rest", reason="emit_failed").inc()
                _log.warning("prediction not sent on the output", error=str(exc))
        return web.json_response(answer)

    async def health(_request: web.Request) -> web.Response:
        status = service.status()
        loaded = status["loaded"]
        vision = loaded.get(service.settings.vision_model, {})
        ok = bool(vision)
        body: dict[str, Any] = {
            "status": "healthy" if ok else status["state"],
            "waiting": status["waiting"],
            "provider": vision.get("provider", "none"),
            "model": {"name": service.settings.vision_model, "version": vision.get("version")},
            "models": loaded,
            "refused": status["refused"],
        }
        return web.json_response(body, status=200 if ok else 503)

    app.router.add_post("/predict", predict)
    app.router.add_get("/health", health)
    return app


def _is_multipart(content_type: str) -> bool:
    """A plain prefix check: aiohttp's `request.content_type` parses every new multipart boundary with the
    stdlib email parser (its cache holds 56 values), ~176 us of GIL per upload."""
    return content_type[:10].lower() == "multipart/"


def _error(status: int, reason: str, detail: str) -> web.Response:
    return web.json_response({"error": detail, "reason": reason}, status=status)
