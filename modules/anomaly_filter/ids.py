"""Deterministic ids: the same decision gets the same id after any restart or redelivery (uuid5).

The rules are the contracts' (edgeloop_contracts), so a receiver can derive the same ids; here they take
the filter's own types (source time as epoch seconds)."""

from __future__ import annotations

from typing import Any

from edgeloop_contracts import anomaly, ids, write_request

from .telemetry import format_ts

NAMESPACE = ids.FILTER_NS


def event_id(asset: str, rule: str, start: float) -> str:
    """An anomaly event: asset + rule + the episode's start (source time, to the millisecond)."""
    return anomaly.event_id(asset, rule, format_ts(start))


def request_id(event: str, state: str, severity: str, index: int, target: str) -> str:
    """A write request: its event + the transition that fired it + which action of the rule."""
    return write_request.request_id(event, state, severity, index, target)


def message_id(kind: str, *parts: str) -> str:
    """The envelope id of a message derived from a decision (anomaly transition, write request)."""
    return ids.decision_message_id(kind, *parts)


def content_id(kind: str, data: Any) -> str:
    """The envelope id of a message defined by its content alone (a summary)."""
    return ids.content_message_id(kind, data)
