"""The DCS's own alarms as context for AI anomalies: annotate them, or hold their write-back requests."""

from __future__ import annotations

from typing import Any, Literal

from edgeloop_contracts.anomaly import SUPPRESSED_BY_DCS, Anomaly, DcsAlarmRef
from edgeloop_contracts.pubsub import NetworkMessage
from edgeloop_contracts.write_request import AckValue
from edgeloop_runtime.alarms import ActiveAlarms, alarms_in

DcsMode = Literal["annotate", "suppress", "ignore"]
SUPPRESSED_BY = SUPPRESSED_BY_DCS


class DcsAlarms:
    """The active DCS alarms per asset (from opcua_ingest's `ua-event` messages on telemetry) and the open
    anomalies suppressed because the DCS already alarmed when they opened."""

    def __init__(self) -> None:
        self.active = ActiveAlarms()
        self.suppressed: set[str] = set()  # event ids of open anomalies whose actions are held

    def fold(self, network_message: NetworkMessage | dict[str, Any]) -> int:
        """Take the alarms of one network message; how many there were."""
        found = alarms_in(network_message)
        for alarm in found:
            self.active.update(alarm)
        return len(found)

    def apply(self, mode: DcsMode, asset: str, state: str, event_id: str, data: Anomaly) -> bool:
        """Annotate one anomaly event with the asset's active alarms; True when its actions are held.

        Suppression is decided when the anomaly opens and holds to its close, so no transition of it
        (escalate, close) writes back what its open never wrote."""
        alarms = [] if mode == "ignore" else self.active.of(asset)
        if alarms:
            data.dcs_alarms = [
                DcsAlarmRef(a.source, a.condition, a.severity, a.message, a.time, a.acked) for a in alarms
            ]
        if state == "open" and mode == "suppress" and alarms:
            self.suppressed.add(event_id)
        held = event_id in self.suppressed
        if state == "close":
            self.suppressed.discard(event_id)
        if held:
            data.suppressed_by = SUPPRESSED_BY
        return held

    def ack_value(self, asset: str, condition: str, comment: str) -> AckValue | None:
        """An Acknowledge/Confirm request's value for the asset's active alarm of that ConditionName (its
        latest EventId, which the server checks); None when there is none or it carries no EventId."""
        for a in self.active.of(asset):
            if a.condition == condition and a.event_id:
                return AckValue(event_id=a.event_id, comment=comment)
        return None

    def to_doc(self) -> dict[str, Any]:
        """What must survive a restart, as JSON data."""
        return {"active": self.active.to_doc(), "suppressed": sorted(self.suppressed)}

    def load(self, doc: dict[str, Any]) -> None:
        """Take `to_doc` back (an empty document clears everything)."""
        self.active.load(list(doc.get("active", [])))
        self.suppressed = {str(e) for e in doc.get("suppressed", [])}
