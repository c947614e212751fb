"""Direct methods: the registry's dispatcher, with `ping` and `getStatus` built in for every module."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .errors import ContractError, MethodError
from .logs import get_logger
from .messages import MethodRequest

if TYPE_CHECKING:
    from .runner import ModuleRunner

_log = get_logger(__name__)
BUILTIN_METHODS = ("ping", "getStatus")


def status_snapshot(runner: ModuleRunner) -> dict[str, Any]:
    """What getStatus answers: version, config, queues, counters, last error, endpoints."""
    ctx = runner.ctx
    status: dict[str, Any] = {
        "module": runner.module.name,
        "version": runner.module.version,
        "status": ctx.status,
        "healthy": ctx.healthy,
        "uptimeSeconds": round(time.monotonic() - ctx.started_at, 3),
        "config": runner.config_state,
        "inputs": {
            name: {"queued": q.queue.qsize(), "capacity": q.queue.maxsize, "overflow": q.overflow}
            for name, q in runner.queues.items()
        },
        "unacknowledged": runner.client.unacknowledged() if runner.client is not None else 0,
        "heldBack": list(runner.intake.held.values()),
        "methods": sorted([*BUILTIN_METHODS, *runner.module.methods]),
        "lastError": ctx.last_error,
        "endpoints": ctx.endpoints,
    }
    for provider in runner.module.status_providers:
        status.update(provider(ctx))
    return status


async def call_method(runner: ModuleRunner, request: MethodRequest) -> tuple[int, Any]:
    """Run one method call and return (status, payload); never raises."""
    if request.name == "ping":
        return 200, {"pong": True, "module": runner.module.name, "version": runner.module.version}
    if request.name == "getStatus":
        return 200, status_snapshot(runner)
    handler = runner.module.methods.get(request.name)
    if handler is None:
        return 404, {
            "error": f"unknown method {request.name!r}",
            "methods": sorted([*BUILTIN_METHODS, *runner.module.methods]),
        }
    try:
        return 200, await handler(runner.ctx, request.payload)
    except MethodError as exc:
        return exc.status, exc.payload()
    except ContractError as exc:
        return 400, {"error": str(exc)}
    except Exception as exc:
        runner.ctx.record_error(f"method:{request.name}", exc)
        _log.exception("method handler failed", method=request.name)
        return 500, {"error": f"{type(exc).__name__}: {exc}"}
