"""Plant alarms in: opcua_ingest's `ua-event` network messages become one enveloped `alarm` event each."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from msgspec import UNSET

from edgeloop_contracts import Envelope, Source, pubsub
from edgeloop_contracts.alarm import Alarm, alarm_id
from edgeloop_runtime.alarms import alarm_from_dataset
from edgeloop_runtime.errors import ContractError


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
        payload = pubsub.to_builtins(dataset.Payload)
        data = Alarm(
            asset=alarm.asset,
            source=alarm.source,
            condition=alarm.condition,
            active=alarm.active,
            acked=alarm.acked,
            severity=alarm.severity,
            message=alarm.message,
            time=alarm.time,
            event_type=alarm.event_type,
            event_id=alarm.event_id,
            publisher_id=publisher,
            source_timestamp=alarm.time,
            fields={k: None if v.Value is UNSET else v.Value for k, v in dataset.Payload.items()},
        )
        env = Envelope(
            kind=Alarm.KIND,
            id=alarm_id(publisher, str(dataset.DataSetWriterId), alarm.event_id, payload),
            ts=ts,
            source=Source(source["module"], source["version"]),
            correlation_id=_text(message.get("MessageId")),
            data=data,
        )
        out.append(msgspec.to_builtins(env))
    if not out:
        raise ContractError(
            "alarms input holds no `ua-event` data set message (route telemetry values elsewhere)"
        )
    return out


def _text(value: object) -> str | None:
    """The network message's MessageId as the correlation id (a number becomes its text)."""
    return None if value is None else str(value)
