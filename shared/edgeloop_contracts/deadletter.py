"""`deadletter` (upstream_router/upstream): another module's dead letter, wrapped with what failed."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import msgspec

from .base import Contract

DEADLETTER_NS = uuid.UUID("0b7e3f0e-9d7c-4f57-8d0a-5d8f2c1e6a44")


class DeadLetter(Contract, kw_only=True):
    """Who dead-lettered what and why (the `edgeloop*` properties), and the body: redacted JSON cut to
    16 KB, or for anything else its size and SHA-256 only (`body` null)."""

    KIND = "deadletter"

    from_: str | None = msgspec.field(name="from")
    input: str | None
    error: str | None
    original_message_id: str
    content_type: str | None
    body_bytes: int
    body_sha256: str
    body_encoding: Literal["json", "text", "omitted"]
    body: Any
    truncated: bool


def deadletter_id(sender: str | None, original_message_id: str) -> str:
    """One wrapped dead letter per sender and original message id (a redelivery keeps it)."""
    return str(uuid.uuid5(DEADLETTER_NS, f"{sender}:{original_message_id}"))
