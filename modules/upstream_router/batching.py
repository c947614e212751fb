"""Batches of one class as one upstream message: a `batch` envelope, gzip or plain JSON, under 256 KB."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgeloop_contracts import Envelope, Source
from edgeloop_contracts import encode as encode_json
from edgeloop_contracts.batch import BATCH_NS, Batch
from edgeloop_contracts.batch import batch_id as contract_batch_id

from .properties import routing_properties
from .store import Item

__all__ = ["BATCH_NS", "Encoded", "batch_id", "decode", "encode", "encode_within"]


@dataclass(frozen=True)
class Encoded:
    """One upstream message ready to send."""

    message_id: str
    cls: str
    payload: bytes
    content_encoding: str
    seqs: list[int]
    event_ids: list[str]
    properties: dict[str, str]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_id(event_ids: list[str]) -> str:
    """A batch's message id, derived from its events so a re-send of the same batch keeps it."""
    return contract_batch_id(event_ids)


def encode(items: list[Item], *, compress: bool, source: dict[str, str]) -> Encoded:
    """One message for these items: the single envelope as is, or a `batch` of them."""
    ids = [it.id for it in items]
    cls = items[0].cls
    events = [it.envelope() for it in items]
    if len(items) == 1:
        body = items[0].body
        mid = ids[0]
    else:
        mid = batch_id(ids)
        env = Envelope(
            kind=Batch.KIND,
            id=mid,
            ts=_now_iso(),
            source=Source(source.get("module", ""), source.get("version", "")),
            data=Batch(class_=cls, count=len(events), events=events),
        )
        body = encode_json(env)
    encoding = "gzip" if compress else "utf-8"
    payload = gzip.compress(body, compresslevel=6, mtime=0) if compress else body
    props = routing_properties(cls, events, batch=len(items) > 1, encoding=encoding)
    return Encoded(mid, cls, payload, encoding, [it.seq for it in items], ids, props)


def encode_within(items: list[Item], *, compress: bool, source: dict[str, str], limit: int) -> Encoded:
    """The largest prefix of `items` whose encoding fits in `limit` bytes (at least one item). A single
    event too large as JSON text goes gzip even when plain JSON is chosen: readable by consumers that
    honour `content_encoding`, where plain text could not be sent at all."""
    n = len(items)
    while True:
        enc = encode(items[:n], compress=compress, source=source)
        if n == 1 and len(enc.payload) > limit and not compress:
            return encode(items[:1], compress=True, source=source)
        if len(enc.payload) <= limit or n == 1:
            return enc
        n = max(1, int(n * limit / len(enc.payload) * 0.9)) if len(enc.payload) > limit * 2 else n // 2 or 1


def decode(payload: bytes, content_encoding: str | None) -> list[dict[str, Any]]:
    """The events in an upstream message (for tests, the benchmark and cloud-side readers)."""
    raw = gzip.decompress(payload) if content_encoding == "gzip" else payload
    env = json.loads(raw)
    if not isinstance(env, dict):
        raise ValueError(f"an upstream message is a JSON object, not {type(env).__name__}")
    if env.get("kind") == "batch":
        events: list[dict[str, Any]] = env["data"]["events"]
        return events
    return [env]
