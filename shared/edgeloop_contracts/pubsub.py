"""OPC UA Part 14 PubSub JSON network messages as OPC Publisher emits them: models, status rule, codec.

One decoder for every reader (inference windows, anomaly_filter telemetry, the alarm readers) and the encoder
opcua_ingest sends with. Field names are the spec's PascalCase. An optional field left out is `UNSET` (falsy)
and is left out again on encoding, so a message round-trips byte for byte; `null` stays `None`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from edgeloop_runtime.errors import ContractError

Quality = Literal["good", "uncertain", "bad"]
DATA_MESSAGE_TYPE = "ua-data"
DELTA_FRAME, KEY_FRAME, KEEP_ALIVE, EVENT = "ua-deltaframe", "ua-keyframe", "ua-keepalive", "ua-event"


class StatusCode(msgspec.Struct, gc=False, omit_defaults=True):
    """An OPC UA StatusCode as OPC Publisher writes it; left out of a DataValue when Good."""

    Code: int | None = None
    Symbol: str | None = None


class DataValue(msgspec.Struct, gc=False):
    """One field of a data set message: its value (any JSON; events carry text and booleans) and times."""

    Value: Any = UNSET
    SourceTimestamp: str | UnsetType | None = UNSET
    ServerTimestamp: str | UnsetType | None = UNSET
    StatusCode: StatusCode | UnsetType | None = UNSET


class DataSetMessage(msgspec.Struct):
    """One data set message: an asset's (the writer's) fields, by DisplayName, or one event's fields."""

    DataSetWriterId: str | int
    DataSetWriterGroup: str | UnsetType | None = UNSET
    SequenceNumber: int | UnsetType | None = UNSET
    MessageType: str | UnsetType | None = UNSET  # ua-deltaframe, ua-keyframe, ua-keepalive, ua-event
    Timestamp: str | UnsetType | None = UNSET
    Payload: dict[str, DataValue] | UnsetType | None = UNSET


class NetworkMessage(msgspec.Struct, kw_only=True):
    """A `ua-data` network message: a publisher's data set messages, in order (the header first, as OPC
    Publisher writes it: fields encode in this order)."""

    MessageId: str | UnsetType | None = UNSET
    MessageType: str | UnsetType | None = UNSET
    PublisherId: str | UnsetType | None = UNSET
    Timestamp: str | UnsetType | None = UNSET
    Messages: list[DataSetMessage]


_DECODER = msgspec.json.Decoder(NetworkMessage)


def _refused(exc: msgspec.MsgspecError) -> ContractError:
    """A decoder error as the ContractError every reader raises, naming where the message is wrong."""
    if isinstance(exc, msgspec.ValidationError):
        return ContractError(f"not an OPC UA PubSub network message: {exc}")
    return ContractError(f"PubSub network message is not valid UTF-8 JSON: {exc}")


def decode(data: bytes | str) -> NetworkMessage:
    """A network message straight from its JSON bytes; raises ContractError naming what is wrong."""
    try:
        return _DECODER.decode(data)
    except msgspec.MsgspecError as exc:
        raise _refused(exc) from exc


def from_builtins(obj: object) -> NetworkMessage:
    """A network message from JSON already parsed (dicts and lists); raises ContractError as `decode` does."""
    if isinstance(obj, NetworkMessage):
        return obj
    try:
        return msgspec.convert(obj, NetworkMessage)
    except (msgspec.MsgspecError, RecursionError) as exc:
        if isinstance(exc, msgspec.MsgspecError):
            raise _refused(exc) from exc
        raise ContractError("PubSub network message is nested too deeply") from exc


def dataset_from_builtins(obj: object, *, skip_odd_fields: bool = False) -> DataSetMessage | None:
    """One data set message from parsed JSON, or None when it is not one (for readers that skip what they
    cannot read, like the alarm readers). `skip_odd_fields` drops Payload entries that are not DataValues
    instead of refusing the whole message."""
    if isinstance(obj, DataSetMessage):
        return obj
    try:
        return msgspec.convert(obj, DataSetMessage)
    except (msgspec.MsgspecError, RecursionError):
        pass
    if not (skip_odd_fields and isinstance(obj, dict) and isinstance(obj.get("Payload"), dict)):
        return None
    payload: dict[str, object] = obj["Payload"]
    kept = {k: v for k, v in payload.items() if _is_data_value(v)}
    return dataset_from_builtins({**obj, "Payload": kept}) if len(kept) < len(payload) else None


def _is_data_value(obj: object) -> bool:
    try:
        msgspec.convert(obj, DataValue)
    except (msgspec.MsgspecError, RecursionError):
        return False
    return True


def network_message(message_id: str, publisher_id: str, messages: list[DataSetMessage]) -> NetworkMessage:
    """A `ua-data` network message as opcua_ingest sends it."""
    return NetworkMessage(
        MessageId=message_id, MessageType=DATA_MESSAGE_TYPE, PublisherId=publisher_id, Messages=messages
    )


def encode(message: object) -> bytes:
    """A network message (the models, or the same shape as dicts) as compact UTF-8 JSON, byte for byte what
    the runtime's `ctx.send` writes (Python's float spelling, `1e+16`, which msgspec would write `1e16`)."""
    try:
        return json.dumps(
            msgspec.to_builtins(message), separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        raise ContractError(f"network message is not valid JSON: {exc}") from exc


def to_builtins(message: object) -> Any:
    """A model (or a container of models) as plain JSON data: dicts and lists, fields left out stay out."""
    return msgspec.to_builtins(message)


def quality(code: int | None, symbol: str | None) -> Quality:
    """Good / uncertain / bad from a StatusCode: the severity bits of `Code` (OPC UA Part 4 7.39: the top
    two bits, 00 Good, 01 Uncertain, 10 Bad, 11 reserved and read as Bad); without a Code, the Symbol's
    prefix (case-insensitive); without either, Good."""
    if code is not None:
        top = (code >> 30) & 0x3
        return "good" if top == 0 else "uncertain" if top == 1 else "bad"
    if symbol:
        low = symbol.lower()
        return "bad" if low.startswith("bad") else "uncertain" if low.startswith("uncertain") else "good"
    return "good"


def status_quality(status: StatusCode | UnsetType | None) -> Quality:
    """The quality of a DataValue's StatusCode; a missing one means Good."""
    return quality(status.Code, status.Symbol) if status else "good"


def parse_time(text: str) -> float:
    """An ISO 8601 timestamp (`Z` or an offset; none means UTC) as epoch seconds; raises ContractError.

    Readers parse each distinct string once per message (a message's fields mostly share one)."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ContractError(f"timestamp {text[:40]!r} is not ISO 8601") from exc
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).timestamp()
