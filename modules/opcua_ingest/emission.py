"""The emission point: events leave in network messages of their own, marked so routes can pick them out."""

from __future__ import annotations

from typing import Any

from edgeloop_runtime.alarms import EVENT_MESSAGE_TYPE

# Application property on a network message that holds only `ua-event` data set messages. edgeHub routes
# cannot query `$body.Messages[*]`, so this is what a route filters on:
#   FROM /messages/modules/opcua_ingest/outputs/telemetry WHERE dataSetMessageType = 'ua-event' INTO ...
MESSAGE_TYPE_PROPERTY = "dataSetMessageType"
EVENT_PROPERTIES = {MESSAGE_TYPE_PROPERTY: EVENT_MESSAGE_TYPE}


def split_events(message: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A network message as (values, events): each keeps the header, the events one its own MessageId;
    either is None when it would be empty. Order within each part is kept."""
    datasets = message.get("Messages")
    if not isinstance(datasets, list):
        return message, None
    events = [d for d in datasets if isinstance(d, dict) and d.get("MessageType") == EVENT_MESSAGE_TYPE]
    if not events:
        return message, None
    values = [d for d in datasets if not (isinstance(d, dict) and d.get("MessageType") == EVENT_MESSAGE_TYPE)]
    header = {k: v for k, v in message.items() if k != "Messages"}
    event_message = {**header, "MessageId": f"{message.get('MessageId', '')}-events", "Messages": events}
    return ({**header, "Messages": values} if values else None), event_message
