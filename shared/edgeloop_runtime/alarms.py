"""The alarm contract: a plant alarm as opcua_ingest emits it (a Part 14 `ua-event` data set message).

opcua_ingest sends each OPC UA event as one data set message with `"MessageType": "ua-event"` whose payload
has one `{"Value": ...}` entry per selected field. The simple EventFilter form names the fields after their
browse paths (`SourceName`, `ActiveState/Id`, ...); the advanced form may rename them (`DisplayName`), so the
reader below also takes a few common renamings. Consumers (routing, anomaly_filter) read alarms with
`alarm_from_dataset` and keep the active ones with `ActiveAlarms`. The message itself is read through the
shared PubSub contract (edgeloop_contracts.pubsub); a data set message that breaks it is not an alarm.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from msgspec import UNSET

from edgeloop_contracts import pubsub
from edgeloop_contracts.pubsub import DataSetMessage, DataValue, NetworkMessage

EVENT_MESSAGE_TYPE = pubsub.EVENT
_ALIASES: dict[str, tuple[str, ...]] = {
    "source": ("SourceName", "Source"),
    "condition": ("ConditionName", "Condition"),
    "active": ("ActiveState/Id", "Active", "ActiveState"),
    "acked": ("AckedState/Id", "Acked", "AckedState"),
    "severity": ("Severity",),
    "message": ("Message",),
    "time": ("Time",),
    "event_type": ("EventType",),
    "event_id": ("EventId",),
}


@dataclass(frozen=True)
class AlarmEvent:
    """One alarm or event of an asset (the data set writer)."""

    asset: str
    source: str | None
    condition: str | None
    active: bool | None  # None: a plain event, not a condition
    acked: bool | None
    severity: int | None
    message: str | None
    time: str | None
    event_type: str | None
    event_id: str | None

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        """What one alarm is: asset, source and condition name."""
        return (self.asset, self.source, self.condition)


_TEXT_FIELDS = ("source", "condition", "message", "time", "event_type", "event_id")


def _pick(payload: dict[str, DataValue], name: str) -> Any:
    for alias in _ALIASES[name]:
        entry = payload.get(alias)
        if entry is not None and entry.Value is not UNSET:
            return entry.Value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _severity(value: Any) -> int | None:
    """OPC UA Severity (1..1000) as an int; anything else (text, NaN, infinity, a boolean) is None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value)


def alarm_from_dataset(dataset: DataSetMessage | object) -> AlarmEvent | None:
    """The alarm in one data set message of a network message's `Messages` (typed, or parsed JSON); None for
    anything else."""
    typed = pubsub.dataset_from_builtins(dataset, skip_odd_fields=True)  # an odd field reads as unknown
    if typed is None or typed.MessageType != EVENT_MESSAGE_TYPE or not isinstance(typed.Payload, dict):
        return None
    payload = typed.Payload
    active, acked, severity = _pick(payload, "active"), _pick(payload, "acked"), _pick(payload, "severity")
    return AlarmEvent(
        asset=str(typed.DataSetWriterId),
        source=_text(_pick(payload, "source")),
        condition=_text(_pick(payload, "condition")),
        active=active if isinstance(active, bool) else None,
        acked=acked if isinstance(acked, bool) else None,
        severity=_severity(severity),
        message=_text(_pick(payload, "message")),
        time=_text(_pick(payload, "time")),
        event_type=_text(_pick(payload, "event_type")),
        event_id=_text(_pick(payload, "event_id")),
    )


def alarms_in(network_message: NetworkMessage | dict[str, Any]) -> list[AlarmEvent]:
    """Every alarm of a network message (`ua-data` with `ua-event` data set messages), typed or parsed JSON
    (then each data set message is read on its own: one that breaks the contract is skipped)."""
    if isinstance(network_message, NetworkMessage):
        datasets: list[Any] = list(network_message.Messages)
    else:
        found = network_message.get("Messages", [])
        datasets = found if isinstance(found, list) else []
    out = []
    for dataset in datasets:
        alarm = alarm_from_dataset(dataset)
        if alarm is not None:
            out.append(alarm)
    return out


class ActiveAlarms:
    """The alarms active right now per asset, from the events as they come (a ConditionRefresh after every
    reconnect resends the active ones, so a restart of the consumer or of the link converges)."""

    def __init__(self) -> None:
        self._active: dict[tuple[str, str | None, str | None], AlarmEvent] = {}

    def update(self, alarm: AlarmEvent) -> None:
        """Take one event: an active condition is kept, an inactive one dropped, plain events ignored."""
        if alarm.active is True:
            self._active[alarm.key] = alarm
        elif alarm.active is False:
            self._active.pop(alarm.key, None)

    def of(self, asset: str) -> list[AlarmEvent]:
        """The active alarms of one asset, most severe first."""
        found = [a for a in self._active.values() if a.asset == asset]
        return sorted(found, key=lambda a: -(a.severity or 0))

    def to_doc(self) -> list[dict[str, Any]]:
        """The active alarms as plain JSON data (to persist)."""
        return [asdict(a) for a in self._active.values()]

    def load(self, doc: list[dict[str, Any]]) -> None:
        """Replace the active alarms with those of `to_doc` (unknown keys ignored)."""
        self._active = {}
        for raw in doc:
            flag = {k: raw.get(k) if isinstance(raw.get(k), bool) else None for k in ("active", "acked")}
            severity = raw.get("severity")
            alarm = AlarmEvent(
                asset=str(raw.get("asset", "")),
                **{k: _text(raw.get(k)) for k in _TEXT_FIELDS},
                active=flag["active"],
                acked=flag["acked"],
                severity=severity if isinstance(severity, int) and not isinstance(severity, bool) else None,
            )
            self._active[alarm.key] = alarm
