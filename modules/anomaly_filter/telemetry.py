"""Parse OPC UA PubSub JSON network messages (OPC Publisher's format) into per-asset samples."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgeloop_runtime.alarms import EVENT_MESSAGE_TYPE
from edgeloop_runtime.errors import ContractError


@dataclass(frozen=True)
class Sample:
    """One field value of one asset at one source time; `good` is False for a Bad status code."""

    asset: str
    field: str
    ts: float
    value: float | None
    good: bool
    status: str


def parse_ts(text: object) -> float:
    """ISO 8601 (with a trailing Z) to epoch seconds; raises ContractError."""
    if not isinstance(text, str):
        raise ContractError(f"timestamp must be a string, got {type(text).__name__}")
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ContractError(f"bad timestamp {text!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def format_ts(ts: float) -> str:
    """Epoch seconds to ISO 8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(entry: dict[str, Any]) -> tuple[bool, str]:
    code = entry.get("StatusCode")
    if code is None:
        return True, "Good"
    if isinstance(code, dict):
        symbol = str(code.get("Symbol") or "")
        num = code.get("Code")
    else:
        symbol, num = "", code
    if symbol:
        return not symbol.startswith("Bad"), symbol
    try:
        bad = (int(num) & 0x80000000) != 0 if num is not None else False
    except (TypeError, ValueError, OverflowError):
        bad = True
    return not bad, "Bad" if bad else "Good"


def parse_network_message(body: object) -> list[Sample]:
    """All samples in one `ua-data` network message; keep-alives give none. Raises ContractError."""
    if not isinstance(body, dict) or not isinstance(body.get("Messages"), list):
        raise ContractError("telemetry must be a PubSub network message with a `Messages` list")
    out: list[Sample] = []
    for msg in body["Messages"]:
        if not isinstance(msg, dict):
            raise ContractError("each PubSub dataset message must be an object")
        if msg.get("MessageType") in ("ua-keepalive", EVENT_MESSAGE_TYPE):  # events: not signal values
            continue
        asset = msg.get("DataSetWriterId")
        payload = msg.get("Payload")
        if not isinstance(asset, str) or not isinstance(payload, dict):
            raise ContractError("a dataset message needs a string `DataSetWriterId` and a `Payload` object")
        msg_ts = msg.get("Timestamp")
        for field, entry in payload.items():
            if not isinstance(entry, dict):
                raise ContractError(f"field {field!r} of {asset!r} is not a DataValue object")
            ts_text = entry.get("SourceTimestamp") or entry.get("ServerTimestamp") or msg_ts
            ts = parse_ts(ts_text)
            good, status = _status(entry)
            raw = entry.get("Value")
            value = float(raw) if isinstance(raw, bool | int | float) else None
            out.append(Sample(asset, str(field), ts, value, good and value is not None, status))
    return out
