"""The messages that cross edgeHub routes, as typed contracts shared by sender and receiver (msgspec)."""

from __future__ import annotations

from .base import Contract, convert, decode_json, encode
from .envelope import ENVELOPE_VERSION, Envelope, Source, decode_envelope, envelope_from_data, new_id

__all__ = [
    "ENVELOPE_VERSION",
    "Contract",
    "Envelope",
    "Source",
    "convert",
    "decode_envelope",
    "decode_json",
    "encode",
    "envelope_from_data",
    "new_id",
]
