"""What example_module decides, without I/O: the number a message carries, scaled, as the message to send."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from edgeloop_runtime import ContractError

from .settings import Settings


@dataclass(frozen=True)
class Send:
    """An effect: one JSON message for the module to send (app.py does the sending)."""

    output: str
    data: dict[str, Any]
    kind: str
    correlation_id: str | None = None


def parse_value(body: object, limit: float) -> float:
    """The number in a `{"value": n}` body (bare, or as an envelope's data), or ContractError."""
    if isinstance(body, dict) and body.get("v") == 1 and isinstance(body.get("data"), dict):
        body = body["data"]
    value = body.get("value") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContractError(f"'value' must be a finite number, got {value!r}")
    if abs(value) > limit:
        raise ContractError(f"'value' {value} is above maxValue {limit}")
    return float(value)


def scale(body: object, settings: Settings) -> float:
    """The body's value times the gain in force (ContractError for a body without a usable value)."""
    return parse_value(body, settings.max_value) * settings.gain


def on_value(body: object, settings: Settings, message_id: str | None) -> Send:
    """One `values` input: the `scaled` message it becomes, correlated with the input."""
    return Send(
        "scaled", {"value": scale(body, settings), "gain": settings.gain}, "scaled", correlation_id=message_id
    )


def heartbeat_message(settings: Settings) -> Send | None:
    """The heartbeat to send this period, if heartbeats are on."""
    return Send("scaled", {"heartbeat": True}, "heartbeat") if settings.heartbeat_seconds > 0 else None
