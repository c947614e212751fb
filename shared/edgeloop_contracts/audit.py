"""`audit` (opcua_writeback/audit -> upstream_router/audit): the one outcome of one write request."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from msgspec import UNSET, UnsetType

from .base import Contract

AUDIT_NS = uuid.UUID("5f0c2a7e-6b1d-4f3a-9e2c-7d8a1b4c6e90")
Result = Literal["applied", "refused", "dry-run", "failed", "indeterminate"]


class Audit(Contract, kw_only=True):
    """What became of a write request; the envelope's correlationId is the request's.

    `requestId`, `target`, `value`, `readBack` and `sourceTimestamp` are the request's values as strict
    JSON can carry them, bounded (a long one is `{"truncated", "bytes", "sha256", "head"}`), so any JSON
    value. An audit cut to its essentials (too large) leaves out value, readBack, sourceTimestamp and
    appliedAt."""

    KIND = "audit"

    request_id: Any
    target: Any
    node_id: str | None
    value: Any | UnsetType = UNSET
    result: Result
    reason: str
    read_back: Any | UnsetType = UNSET
    attempts: int
    source_timestamp: Any | UnsetType = UNSET
    applied_at: str | UnsetType | None = UNSET


def audit_id(request_id: str) -> str:
    """The audit's message id: one per request id, so a repeat upstream is a recognisable duplicate."""
    return str(uuid.uuid5(AUDIT_NS, request_id))
