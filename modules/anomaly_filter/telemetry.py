"""OPC UA PubSub network messages (read through the shared contract) as per-asset samples; time formats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from edgeloop_contracts import pubsub
from edgeloop_contracts.pubsub import NetworkMessage, parse_time
from edgeloop_runtime.errors import ContractError


@dataclass(frozen=True)
class Sample:
    """One field value of one asset at one source time; `good` is False for a Bad status code (or no
    number); `status` is the StatusCode's Symbol, else Good / Uncertain / Bad by the shared status rule."""

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
    return parse_time(text)


def format_ts(ts: float) -> str:
    """Epoch seconds to ISO 8601 UTC with milliseconds and a Z."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_STATUS_TEXT = {"good": "Good", "uncertain": "Uncertain", "bad": "Bad"}


def parse_network_message(body: NetworkMessage | bytes | object) -> list[Sample]:
    """All samples in one `ua-data` network message (its UTF-8 bytes, typed, or parsed JSON), through the
    shared PubSub contract; keep-alives and events give none. Raises ContractError."""
    message = pubsub.decode(body) if isinstance(body, bytes) else pubsub.from_builtins(body)
    out: list[Sample] = []
    times: dict[str, float] = {}  # each distinct timestamp parsed once per message
    for msg in message.Messages:
        if msg.MessageType in (pubsub.KEEP_ALIVE, pubsub.EVENT):  # events: not signal values
            continue
        asset, payload = str(msg.DataSetWriterId), msg.Payload
        if not isinstance(payload, dict):
            raise ContractError(f"dataset message of {asset!r} has no `Payload` object")
        msg_ts = msg.Timestamp
        for field, entry in payload.items():
            ts_text = entry.SourceTimestamp or entry.ServerTimestamp or msg_ts or None
            if ts_text is None:
                parse_ts(ts_text)  # raises: a value with no time at all
                continue
            ts = times.get(ts_text)
            if ts is None:
                ts = times[ts_text] = parse_ts(ts_text)
            status = entry.StatusCode
            quality = pubsub.status_quality(status)
            text = (status.Symbol if status else None) or _STATUS_TEXT[quality]
            raw = entry.Value
            value = float(raw) if isinstance(raw, bool | int | float) else None
            out.append(Sample(asset, field, ts, value, quality != "bad" and value is not None, text))
    return out
