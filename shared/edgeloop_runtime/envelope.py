"""The versioned JSON envelope for messages between modules, and edgeHub's size accounting."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

ENVELOPE_VERSION = 1
# edgeHub refuses a message whose body plus property keys and values exceed this (RoutingEdgeHub).
MAX_MESSAGE_BYTES = 256 * 1024
# System properties edgeHub adds on the way (edgeMessageId, connection ids, enqueue time, ...).
EDGEHUB_OVERHEAD_BYTES = 512


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a Z."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A fresh message id."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded envelope: the kind of message, who sent it, and its data."""

    kind: str
    id: str
    ts: str
    module: str
    version: str
    correlation_id: str | None
    data: Any


def make_envelope(
    kind: str,
    data: Any,
    *,
    module: str,
    version: str,
    message_id: str | None = None,
    correlation_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wrap data in the version-1 envelope."""
    envelope: dict[str, Any] = {
        "v": ENVELOPE_VERSION,
        "kind": kind,
        "id": message_id or new_id(),
        "ts": utc_now_iso(),
        "source": {"module": module, "version": version},
        "correlationId": correlation_id,
        "data": data,
    }
    if extra:
        envelope.update(extra)
    return envelope


def parse_envelope(obj: Any) -> Envelope | None:
    """Return the envelope if obj is one (version 1), else None."""
    if not isinstance(obj, dict) or obj.get("v") != ENVELOPE_VERSION or "data" not in obj:
        return None
    source = obj.get("source") if isinstance(obj.get("source"), dict) else {}
    assert isinstance(source, dict)
    return Envelope(
        kind=str(obj.get("kind", "")),
        id=str(obj.get("id", "")),
        ts=str(obj.get("ts", "")),
        module=str(source.get("module", "")),
        version=str(source.get("version", "")),
        correlation_id=obj.get("correlationId"),
        data=obj["data"],
    )


def edgehub_size(body: bytes, properties: dict[str, str], system_properties: dict[str, str]) -> int:
    """A message's size as edgeHub counts it: body plus every property key and value."""
    size = len(body)
    for bag in (properties, system_properties):
        for key, value in bag.items():
            size += len(key.encode()) + len(str(value).encode())
    return size + EDGEHUB_OVERHEAD_BYTES
