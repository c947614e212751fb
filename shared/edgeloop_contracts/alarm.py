"""`alarm` (upstream_router/upstream): one plant alarm or event from opcua_ingest's `ua-event` messages."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .base import Contract

ALARM_NS = uuid.UUID("5d0f4a2c-6f0e-4b8e-9a51-3c7e2b1d9f60")


class Alarm(Contract, kw_only=True):
    """An OPC UA alarm/condition or event of an asset (the data set writer), with the event's raw fields."""

    KIND = "alarm"

    asset: str
    source: str | None
    condition: str | None
    active: bool | None
    acked: bool | None
    severity: int | None
    message: str | None
    time: str | None
    event_type: str | None
    event_id: str | None
    publisher_id: str
    source_timestamp: str | None
    fields: dict[str, Any]


def alarm_id(publisher: str, asset: str, event_id: str | None, payload: Any) -> str:
    """A decision, not a draw: the OPC UA EventId when selected (unique per event), else the content; so a
    redelivered message, or the same message sent twice, lands on the id the store deduplicates on."""
    basis = event_id if event_id else json.dumps(payload, sort_keys=True, default=str)
    return str(uuid.uuid5(ALARM_NS, f"{publisher}|{asset}|{basis}"))
