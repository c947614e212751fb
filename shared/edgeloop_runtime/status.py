"""What the getStatus method answers, from the parts of a running module it reports on."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .context import Context
from .inputs import InputQueue
from .methods import method_names
from .spec import ModuleSpec


def status_snapshot(
    spec: ModuleSpec[Any, Any],
    ctx: Context[Any, Any],
    *,
    config_state: dict[str, Any],
    queues: Mapping[str, InputQueue],
    unacknowledged: int,
    held_back: list[dict[str, Any]],
) -> dict[str, Any]:
    """Version, config, queues, counters, last error, endpoints, and what status providers add."""
    status: dict[str, Any] = {
        "module": spec.name,
        "version": spec.version,
        "status": ctx.status,
        "healthy": ctx.healthy,
        "uptimeSeconds": round(time.monotonic() - ctx.started_at, 3),
        "config": config_state,
        "inputs": {
            name: {"queued": q.queue.qsize(), "capacity": q.queue.maxsize, "overflow": q.overflow}
            for name, q in queues.items()
        },
        "unacknowledged": unacknowledged,
        "heldBack": held_back,
        "methods": method_names(spec.methods),
        "lastError": ctx.last_error,
        "endpoints": ctx.endpoints,
    }
    for provider in spec.status_providers:
        status.update(provider(ctx))
    return status
