"""`writeRequest` (anomaly_filter/actions -> opcua_writeback/requests): a value to write to the plant."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from .base import Contract
from .ids import FILTER_NS, decision_message_id, derive

MAX_ID_CHARS = 256  # requestId and target: longer ones are malformed
Key = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]


class AckValue(msgspec.Struct, kw_only=True, rename="camel"):
    """The value of an `acknowledge`/`confirm` target: the alarm's EventId (base64) and a comment."""

    event_id: str
    comment: str


class WriteRequest(Contract, kw_only=True):
    """Write `value` to the allow-listed `target`; the envelope's correlationId is the anomaly's eventId.

    `value` is any JSON value the target's type takes (checked by the write guard, not here): a number,
    text, a boolean, or an `AckValue` object for an acknowledge/confirm target."""

    KIND = "writeRequest"

    request_id: Key
    target: Key
    value: Any
    reason: str | None = None
    rule: str | None = None
    asset: str | None = None
    source_timestamp: str | None = None


def request_id(event: str, state: str, severity: str, index: int, target: str) -> str:
    """A write request: its event + the transition that fired it + which action of the rule."""
    return derive(FILTER_NS, "request", event, state, severity, str(index), target)


def request_message_id(request: str) -> str:
    """The envelope id of a write request."""
    return decision_message_id("writeRequest", request)
