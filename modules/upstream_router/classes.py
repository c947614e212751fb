"""Priority classes of upstream traffic and how an input message maps onto one."""

from __future__ import annotations

from typing import Any, Literal

Cls = Literal["safety", "alarm", "audit", "anomaly", "event", "drift", "summary"]
# Highest priority first. `alarm`: a plant alarm that is active and severe; `event`: every other plant
# event (returns to normal, acknowledgements, low severities, plain events).
CLASSES: tuple[Cls, ...] = ("safety", "alarm", "audit", "anomaly", "event", "drift", "summary")
PRIORITY: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}
# Classes the bandwidth budget never holds back: they go as soon as the link allows.
NEVER_WAIT: frozenset[str] = frozenset({"safety", "alarm", "audit", "anomaly"})
DEFAULT_ALARM_MIN_SEVERITY = 500  # OPC UA severity 1..1000: 500 and above is "high" on most DCSs

INPUT_CLASS: dict[str, Cls] = {
    "anomalies": "anomaly",
    "alarms": "event",
    "audit": "audit",
    "drift": "drift",
    "summaries": "summary",
    "deadletter": "audit",
}


def classify(
    input_name: str, envelope: dict[str, Any], *, alarm_min_severity: int = DEFAULT_ALARM_MIN_SEVERITY
) -> Cls:
    """The class of a message: critical anomalies are `safety`, active severe plant alarms `alarm`,
    otherwise by input."""
    data = envelope.get("data")
    if input_name == "anomalies" and isinstance(data, dict) and data.get("severity") == "critical":
        return "safety"
    if input_name == "alarms" and isinstance(data, dict):
        severity = data.get("severity")
        if (
            data.get("active") is True
            and isinstance(severity, int)
            and not isinstance(severity, bool)
            and severity >= alarm_min_severity
        ):
            return "alarm"
    return INPUT_CLASS.get(input_name, "summary")
