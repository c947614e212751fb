"""`anomaly` (anomaly_filter/anomalies -> upstream_router/anomalies): an anomaly event's transition."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from .base import Contract, require_finite
from .ids import FILTER_NS, decision_message_id, derive
from .score import ModelRef

Transition = Literal["open", "escalate", "close"]
Severity = Literal["info", "warning", "critical"]
DATA_QUALITY = "dataQuality"  # anomalyKind of a Bad-status (data quality) event
SUPPRESSED_BY_DCS = "dcsAlarm"


class AnomalyWindow(msgspec.Struct):
    """The raw values around the event as aligned rows (None where a value was missing or not Good)."""

    timestamps: list[str]
    fields: dict[str, list[float | None]]


class DcsAlarmRef(msgspec.Struct):
    """An active DCS alarm on the asset when the event happened (rule `dcsAlarm`)."""

    source: str | None
    condition: str | None
    severity: int | None
    message: str | None
    time: str | None
    acked: bool | None


class Anomaly(Contract, kw_only=True):
    """One transition (open, escalate, close) of an anomaly event; `eventId` is the same for all three.

    `blobUrl` and `evidenceDropped` are added by upstream_router when it moves the evidence to Blob
    Storage (or gives it up under its store quota)."""

    KIND = "anomaly"

    event_id: str
    state: Transition
    asset: str
    anomaly_kind: str
    severity: Severity
    score: float | None
    thresholds: dict[str, Any]
    start: str
    end: str | None
    evidence: dict[str, Any]
    model: ModelRef | None
    source_timestamp: str
    window: AnomalyWindow | None
    dcs_alarms: list[DcsAlarmRef] | UnsetType = UNSET
    suppressed_by: str | UnsetType = UNSET
    blob_url: str | UnsetType = UNSET
    evidence_dropped: str | UnsetType = UNSET

    def __post_init__(self) -> None:
        require_finite(self.KIND, "score", self.score)


def event_id(asset: str, rule: str, start: str) -> str:
    """An anomaly event: asset + rule + the episode's start (source time as ISO 8601, to the millisecond)."""
    return derive(FILTER_NS, "event", asset, rule, start)


def anomaly_message_id(event: str, state: str, *more: str) -> str:
    """The envelope id of one transition of an event (rule events add the severity)."""
    return decision_message_id("anomaly", event, state, *more)
