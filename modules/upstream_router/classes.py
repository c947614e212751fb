"""Priority classes of upstream traffic and how an input message maps onto one."""

from __future__ import annotations

from typing import Any, Literal

Cls = Literal["safety", "audit", "anomaly", "drift", "summary"]
CLASSES: tuple[Cls, ...] = ("safety", "audit", "anomaly", "drift", "summary")
PRIORITY: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}
# Classes the bandwidth budget never holds back: they go as soon as the link allows.
NEVER_WAIT: frozenset[str] = frozenset({"safety", "audit", "anomaly"})

INPUT_CLASS: dict[str, Cls] = {
    "anomalies": "anomaly",
    "audit": "audit",
    "drift": "drift",
    "summaries": "summary",
    "deadletter": "audit",
}


def classify(input_name: str, envelope: dict[str, Any]) -> Cls:
    """The class of a message: critical anomalies are `safety`, otherwise by input."""
    if input_name == "anomalies":
        data = envelope.get("data")
        if isinstance(data, dict) and data.get("severity") == "critical":
            return "safety"
    return INPUT_CLASS.get(input_name, "summary")
