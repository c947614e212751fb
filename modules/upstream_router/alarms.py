"""Plant alarms in: opcua_ingest's `ua-event` network messages become one enveloped `alarm` event each."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from msgspec import UNSET

from edgeloop_contracts import pubsub
from edgeloop_contracts.pubsub import DataSetMessage
from edgeloop_runtime.alarms import alarm_from_dataset
from edgeloop_runtime.errors import ContractError

ALARM_NS = uuid.UUID("5d0f4a2c-6f0e-4b8e-9a51-3c7e2b1d9f60")


def _alarm_id(publisher: str, dataset: DataSetMessage, event_id: str | None) -> str:
    """A decision, not a draw: the OPC UA EventId when selected (unique per event), else the content; so a
    redelivered message, or the same message sent twice, lands on the id the store deduplicates on."""
    basis = (
        event_id if event_id else json.dumps(pubsub.to_builtins(dataset.Payload), sort_keys=True, default=str)
    )
    return str(uuid.uuid5(ALARM_NS, f"{publisher}|{dataset.DataSetWriterId}|{basis}"))


def alarm_envelopes(message: object, *, source: dict[str, str], now: float) -> list[dict[str, Any]]:
    """Every `ua-event` data set message of a Part 14 network message (read through the shared PubSub
    contract) as an `alarm` envelope; a message with none is a contract error (the route should only send
    event messages here)."""
    if not isinstance(message, dict) or not isinstance(message.get("Messages"), list):
        raise ContractError("alarms input must be a Part 14 network message with a `Messages` list")
    publisher = str(message.get("PublisherId", ""))
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
    out = []
    for raw in message["Messages"]:  # each on its own, as the alarm reader takes them: an odd one is skipped
        dataset = pubsub.dataset_from_builtins(raw, skip_odd_fields=True)
        alarm = alarm_from_dataset(dataset) if dataset is not None else None
        if dataset is None or alarm is None or not isinstance(dataset.Payload, dict):
            continue
        data = {
            "asset": alarm.asset,
            "source": alarm.source,
            "condition": alarm.condition,
            "active": alarm.active,
            "acked": alarm.acked,
            "severity": alarm.severity,
            "message": alarm.message,
            "time": alarm.time,
            "eventType": alarm.event_type,
            "eventId": alarm.event_id,
            "publisherId": publisher,
            "sourceTimestamp": alarm.time,
            "fields": {k: None if v.Value is UNSET else v.Value for k, v in dataset.Payload.items()},
        }
        out.append(
            {
                "v": 1,
                "kind": "alarm",
                "id": _alarm_id(publisher, dataset, alarm.event_id),
                "ts": ts,
                "source": source,
                "correlationId": message.get("MessageId"),
                "data": data,
            }
        )
    if not out:
        raise ContractError(
            "alarms input holds no `ua-event` data set message (route telemetry values elsewhere)"
        )
    return out
