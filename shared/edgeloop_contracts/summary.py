"""`summary` (anomaly_filter/summaries -> upstream_router/summaries): per-asset aggregates of a period."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from .base import Contract, require_finite
from .ids import content_message_id


class FieldStats(msgspec.Struct):
    """One field's good values over the period."""

    min: float
    max: float
    mean: float
    count: int

    def __post_init__(self) -> None:
        require_finite(Summary.KIND, "fields", self.min, self.max, self.mean)


class Summary(Contract, kw_only=True):
    """One asset over [periodStart, periodEnd): field aggregates and the anomalies opened.

    `merged` is set by upstream_router when it thinned several waiting summaries into one."""

    KIND = "summary"

    asset: str
    period_start: str
    period_end: str
    fields: dict[str, FieldStats]
    anomalies: int
    merged: int | UnsetType = UNSET


def summary_message_id(data: dict[str, Any]) -> str:
    """A summary's envelope id: from its content (as sent, after compliance), key order aside."""
    return content_message_id(Summary.KIND, data)
