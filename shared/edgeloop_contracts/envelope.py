"""The version-1 envelope every JSON message between modules travels in, as a typed generic Struct."""

from __future__ import annotations

import uuid
from typing import Any, Generic, TypeVar

import msgspec

from .base import contract_error, convert, decode_json

ENVELOPE_VERSION = 1
D = TypeVar("D")


class Source(msgspec.Struct):
    """Who sent a message: module name and version (`module.json`'s image tag)."""

    module: str
    version: str


class Envelope(msgspec.Struct, Generic[D], kw_only=True, rename="camel"):
    """`{"v": 1, "kind", "id", "ts", "source": {"module", "version"}, "correlationId", "data"}`.

    The message id (`$.mid`) equals `id`; a re-send of the same event keeps it (the id rules live with
    each contract). `Envelope[Score]` decodes and checks the body in one pass; `Envelope[Any]` only the
    envelope."""

    v: int = ENVELOPE_VERSION
    kind: str
    id: str
    ts: str
    source: Source
    correlation_id: str | None = None
    data: D


class Forwarded(msgspec.Struct, kw_only=True, rename="camel"):
    """An envelope as a store-and-forward receiver (upstream_router) takes it: the id it deduplicates on is
    required and nothing else is, so an event with an odd envelope field is still kept and sent, never lost;
    `data` is kept as it came."""

    v: Any = None
    kind: Any = None
    id: str
    ts: Any = None
    source: Any = None
    correlation_id: Any = None
    data: Any = None


def new_id() -> str:
    """A fresh message id, for a message that is no decision (nothing downstream deduplicates on it)."""
    return str(uuid.uuid4())


def decode_envelope(raw: bytes | str, data_type: type[D]) -> Envelope[D]:
    """An envelope with its `data` checked as `data_type`; ContractError naming the field otherwise."""
    return _checked(decode_json(raw, _typed(data_type), "envelope"))


def envelope_from_data(obj: object, data_type: type[D]) -> Envelope[D]:
    """The same check over already parsed JSON (a message read with `msg.json()`)."""
    return _checked(convert(obj, _typed(data_type), "envelope"))


def forwarded_from_data(obj: object) -> Forwarded:
    """The lenient check of a parsed envelope for store-and-forward; ContractError naming the field."""
    return convert(obj, Forwarded, "envelope")


def _typed(data_type: type[D]) -> type[Envelope[D]]:
    typed: type[Envelope[D]] = Envelope.__class_getitem__(data_type)  # type: ignore[attr-defined]
    return typed


def _checked(env: Envelope[D]) -> Envelope[D]:
    if env.v != ENVELOPE_VERSION:
        raise contract_error(f"envelope: version {env.v} is not {ENVELOPE_VERSION}")
    return env
