"""The audit event's body: every value bounded and strict JSON, whatever a request carried."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

from edgeloop_runtime import utc_now_iso

from .guard import WriteRequest
from .settings import TargetSpec

MAX_VALUE_CHARS = 1024  # an audit carries a value up to this size as JSON, else its head and sha256
MAX_TEXT_CHARS = 1024  # reasons and other strings in an audit


def audit_record(
    request: WriteRequest | None,
    raw: dict[str, Any] | None,
    spec: TargetSpec | None,
    result: str,
    reason: str,
    *,
    read_back: Any = None,
    attempts: int = 0,
) -> dict[str, Any]:
    """The `audit` event body (contract in DEVELOPERS.md); always small (values bounded, see `bounded`)."""
    src = raw or {}
    return {
        "requestId": bounded(request.request_id if request else src.get("requestId")),
        "target": bounded(request.target if request else src.get("target")),
        "nodeId": spec.node_id if spec else None,
        "value": bounded(request.value if request else src.get("value")),
        "result": result,
        "reason": _cut(reason),
        "readBack": bounded(read_back),
        "attempts": attempts,
        "sourceTimestamp": bounded(request.source_timestamp if request else src.get("sourceTimestamp")),
        "appliedAt": utc_now_iso() if result == "applied" else None,
    }


def bounded(value: Any) -> Any:
    """The value as strict JSON can carry it, at most MAX_VALUE_CHARS: else head + sha256 + size.

    NaN and infinities become their names as text; integers beyond 64 bits become decimal text.
    """
    safe = json_safe(value)
    text = json.dumps(safe, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return safe
    raw = text.encode("utf-8", "surrogatepass")
    return {
        "truncated": True,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "head": text[:256],
    }


def json_safe(value: Any) -> Any:
    """Strict-JSON form: non-finite floats as names, huge integers as text, keys as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return f"{len(str(abs(value)))}-digit integer" if abs(value) >= 10**4000 else str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "..."


def parse_ts(text: str | None) -> float | None:
    """An ISO-8601 timestamp with a zone as epoch seconds; None when absent or unusable."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if parsed.tzinfo is None else parsed.timestamp()
