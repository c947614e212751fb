"""Deterministic ids: a decision gets the same uuid5 after any restart or redelivery, in every module."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

# anomaly_filter's decisions: anomaly events, write requests, and the envelope ids of both and of summaries.
FILTER_NS = uuid.UUID("5d0f3c0e-2b6a-4c1e-9f43-7a1d2e8b9c60")


def derive(namespace: uuid.UUID, *parts: str) -> str:
    """The uuid5 of the parts joined by the unit separator (a part can hold any other character)."""
    return str(uuid.uuid5(namespace, "\x1f".join(parts)))


def decision_message_id(kind: str, *parts: str) -> str:
    """The envelope id of a message derived from a decision (anomaly transition, write request)."""
    return derive(FILTER_NS, "message", kind, *parts)


def content_message_id(kind: str, data: Any) -> str:
    """The envelope id of a message defined by its content alone (a summary): key order does not matter."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return derive(FILTER_NS, "content", kind, digest)
