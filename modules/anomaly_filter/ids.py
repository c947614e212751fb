"""Deterministic ids: the same decision gets the same id after any restart or redelivery (uuid5)."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from .telemetry import format_ts

NAMESPACE = uuid.UUID("5d0f3c0e-2b6a-4c1e-9f43-7a1d2e8b9c60")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def event_id(asset: str, rule: str, start: float) -> str:
    """An anomaly event: asset + rule + the episode's start (source time, to the millisecond)."""
    return _uuid("event", asset, rule, format_ts(start))


def request_id(event: str, state: str, severity: str, index: int, target: str) -> str:
    """A write request: its event + the transition that fired it + which action of the rule."""
    return _uuid("request", event, state, severity, str(index), target)


def message_id(kind: str, *parts: str) -> str:
    """The envelope id of a message derived from a decision (anomaly transition, write request)."""
    return _uuid("message", kind, *parts)


def content_id(kind: str, data: Any) -> str:
    """The envelope id of a message defined by its content alone (a summary)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return _uuid("content", kind, digest)
