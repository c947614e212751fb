"""A typed decoder of OPC UA PubSub JSON network messages (msgspec): bytes straight to structs, no dicts.

It accepts only the well-formed shape; anything else (another type somewhere, NaN, invalid UTF-8...) is
`None`, and the caller parses the message as plain JSON and validates it field by field as before, so a
malformed message gets the same error either way.
"""

from __future__ import annotations

from typing import Any

import msgspec


class StatusCode(msgspec.Struct, gc=False):
    Code: int | None = None
    Symbol: str | None = None


class DataValue(msgspec.Struct, gc=False):
    Value: int | float | msgspec.UnsetType | None = msgspec.UNSET  # ints stay ints, as from json.loads
    SourceTimestamp: str | None = None
    StatusCode: StatusCode | None = None


class DataSetMessage(msgspec.Struct):
    DataSetWriterId: str | int
    MessageType: str | None = None
    Timestamp: str | None = None
    Payload: dict[str, DataValue] | None = None


class NetworkMessage(msgspec.Struct):
    Messages: list[DataSetMessage]
    MessageId: Any = None
    Timestamp: str | None = None


_DECODER = msgspec.json.Decoder(NetworkMessage)


def decode_network_message(data: bytes) -> NetworkMessage | None:
    """The message as structs, or None when it is not well-formed UTF-8 JSON of the PubSub shape."""
    try:
        return _DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
