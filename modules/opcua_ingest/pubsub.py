"""OPC UA Part 14 PubSub JSON network messages as OPC Publisher emits them, batched under a size limit.

Built with the shared contract's models (edgeloop_contracts.pubsub: DataValue, DataSetMessage,
NetworkMessage), handed on as JSON data at the cut, so the bytes sent are the contract's encoding."""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from msgspec import UNSET

from edgeloop_contracts import pubsub
from edgeloop_contracts.pubsub import DataSetMessage, DataValue, StatusCode

# edgeHub's limit is 256 KB including properties; leave room for them and for edgeHub's own.
DEFAULT_MAX_BYTES = 250_000
_DATASET_OVERHEAD = 220  # {"DataSetWriterId":..,"DataSetWriterGroup":..,"SequenceNumber":..,...}
_NETWORK_OVERHEAD = 160


@dataclass(slots=True)
class Sample:
    """One value change of one field of one data set writer (the asset)."""

    writer_id: str
    writer_group: str
    field: str
    value: Any
    source_ts: datetime | None
    server_ts: datetime | None
    status_code: int = 0  # 0 = Good
    status_symbol: str = "Good"


_iso_cache: dict[datetime, str] = {}  # the values of one publish response mostly share their timestamps
_ISO_CACHE_MAX = 4096


def iso(ts: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds and a Z, or None."""
    if ts is None:
        return None
    text = _iso_cache.get(ts)
    if text is None:
        text = _format(ts)
        if len(_iso_cache) >= _ISO_CACHE_MAX:
            _iso_cache.clear()
        _iso_cache[ts] = text
    return text


def _format(ts: datetime) -> str:
    utc = ts.astimezone(UTC) if ts.tzinfo is not None and ts.utcoffset() else ts
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def json_value(value: Any) -> Any:
    """An OPC UA value as JSON (non-finite floats become null, bytes base64, times ISO)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    text = getattr(value, "Text", None)  # LocalizedText
    if isinstance(text, str):
        return text
    return str(value)


_ENTRY_FRAME = len('{"Value":,"SourceTimestamp":,"ServerTimestamp":}')


def entry_size(entry: DataValue) -> int:
    """Compact JSON length of a Payload entry, in characters (computed without encoding for the common Good
    scalar)."""
    value, src, srv = entry.Value, entry.SourceTimestamp, entry.ServerTimestamp
    kind = type(value)
    if (
        entry.StatusCode is not UNSET
        or kind not in _SCALAR_JSON
        or not isinstance(src, str)
        or not isinstance(srv, str)
    ):
        return len(json.dumps(pubsub.to_builtins(entry), separators=(",", ":"), ensure_ascii=False))
    return _ENTRY_FRAME + _SCALAR_JSON[kind](value) + len(src) + len(srv) + 4


_SCALAR_JSON: dict[type, Callable[[Any], int]] = {
    float: lambda v: len(repr(v)),
    int: lambda v: len(repr(v)),
    bool: lambda v: 4 if v else 5,
    type(None): lambda v: 4,
}


def field_entry(s: Sample) -> DataValue:
    """The Payload entry of one field; a Good status is omitted, as OPC Publisher does."""
    return DataValue(
        json_value(s.value),
        iso(s.source_ts),
        iso(s.server_ts),
        StatusCode(s.status_code, s.status_symbol) if s.status_code else UNSET,
    )


@dataclass
class _DataSet:
    writer_id: str
    writer_group: str
    message_type: str
    payload: dict[str, DataValue]
    size: int
    key: bool = False  # a key frame: every field's last known value, the changes on top
    prefilled: set[str] = field(default_factory=set)  # fields still holding their last known value


class NetworkMessageBatcher:
    """Collects samples into DataSetMessages per writer and cuts network messages under `max_bytes`.

    `add` returns network messages that became full; `flush` returns the rest. A field that changes
    twice before a flush goes to its writer's next DataSetMessage (the k-th change of every field in the k-th
    message), so no value is lost or merged and queued values make full messages.
    A writer in `key_frames` (OPC Publisher's DataSetKeyFrameCount N) has its 1st, N+1th... data set
    message sent as a `ua-keyframe`: `snapshot(writer)` (the last known values) with the changes on top.
    """

    def __init__(
        self,
        publisher_id: str,
        max_bytes: int = DEFAULT_MAX_BYTES,
        snapshot: Callable[[str], list[Sample]] | None = None,
    ) -> None:
        if max_bytes < 1024:
            raise ValueError("max_bytes must be at least 1024")
        self.publisher_id = publisher_id
        self.max_bytes = max_bytes
        self._seq: dict[str, int] = {}
        self._open: dict[str, list[_DataSet]] = {}  # per writer, its open data set messages in order
        self._gen: dict[str, dict[str, int]] = {}  # per writer, each field's changes since the last cut
        self._closed: list[_DataSet] = []
        self._size = _NETWORK_OVERHEAD
        self._ready: list[dict[str, Any]] = []
        self.pending_values = 0
        self.key_frames: dict[str, int] = {}
        self._snapshot = snapshot
        self._created: dict[str, int] = {}

    def add(self, s: Sample, message_type: str = pubsub.DELTA_FRAME) -> list[dict[str, Any]]:
        """Add one sample; return network messages completed by size."""
        if message_type == pubsub.KEEP_ALIVE:
            return self._add_keepalive(s)
        entry = field_entry(s)
        cost = entry_size(entry) + len(s.field) + 6
        if cost + _DATASET_OVERHEAD + _NETWORK_OVERHEAD > self.max_bytes:
            raise ValueError(f"one value of {s.writer_id}/{s.field} is larger than {self.max_bytes} bytes")
        ds = self._place(s, message_type, cost)
        delta = cost
        if ds.prefilled and s.field in ds.prefilled:  # the change replaces the last known value
            ds.prefilled.discard(s.field)
            delta -= entry_size(ds.payload[s.field]) + len(s.field) + 6
        ds.payload[s.field] = entry
        ds.size += delta
        self._size += delta
        self.pending_values += 1
        out, self._ready = self._ready, []
        return out

    def _place(self, s: Sample, message_type: str, cost: int) -> _DataSet:
        """The open data set message that takes this sample: a field's k-th change since the last cut goes to
        its writer's k-th open data set message (a publish response that carries two queued values per item,
        item by item, makes two full messages, not one per pair); an event's fields go in a row."""
        group = self._open.get(s.writer_id)
        if group and group[0].message_type != message_type:
            self._close(s.writer_id)
            group = None
        counts = self._gen.setdefault(s.writer_id, {})
        if message_type == pubsub.DELTA_FRAME:
            k = counts.get(s.field, 0)
        else:  # events and key frames: a repeated field starts the next message
            k = len(group) - 1 if group else 0
            if group and s.field in group[k].payload and s.field not in group[k].prefilled:
                k += 1
        if group and k < len(group):
            if self._size + cost <= self.max_bytes:
                counts[s.field] = k + 1
                return group[k]
            self._cut()
        elif self._size + cost + _DATASET_OVERHEAD + len(s.writer_id) + len(s.writer_group) > self.max_bytes:
            self._cut()
        ds = self._new_dataset(s, message_type, cost)
        group = self._open[s.writer_id]
        self._gen.setdefault(s.writer_id, {})[s.field] = len(group)
        return ds

    def _close(self, writer_id: str) -> None:
        """Move a writer's open data set messages to the closed ones (they keep their order)."""
        self._closed.extend(self._open.pop(writer_id, ()))
        self._gen.pop(writer_id, None)

    def _new_dataset(self, s: Sample, message_type: str, cost: int) -> _DataSet:
        """Open a writer's next data set message (a key frame when its turn has come)."""
        overhead = _DATASET_OVERHEAD + len(s.writer_id) + len(s.writer_group)
        ds = _DataSet(s.writer_id, s.writer_group, message_type, {}, overhead)
        every = self.key_frames.get(s.writer_id, 0)
        if every and message_type == pubsub.DELTA_FRAME and self._snapshot is not None:
            turn = self._created.get(s.writer_id, 0)
            self._created[s.writer_id] = turn + 1
            if turn % every == 0:
                entries = {x.field: field_entry(x) for x in self._snapshot(s.writer_id)}
                pre = sum(entry_size(e) + len(f) + 6 for f, e in entries.items())
                if pre + cost + overhead + _NETWORK_OVERHEAD <= self.max_bytes:  # else it goes as a delta
                    if self._size + pre + cost + overhead > self.max_bytes:
                        self._cut()
                    ds.payload.update(entries)
                    ds.prefilled = set(entries)
                    ds.key = True
                    ds.size += pre
        self._open.setdefault(s.writer_id, []).append(ds)
        self._size += ds.size
        return ds

    def _add_keepalive(self, s: Sample) -> list[dict[str, Any]]:
        """A keep-alive data set message of one writer: no payload, its own sequence number."""
        cost = _DATASET_OVERHEAD + len(s.writer_id) + len(s.writer_group)
        if self._size + cost > self.max_bytes:
            self._cut()
        self._close(s.writer_id)
        self._closed.append(_DataSet(s.writer_id, s.writer_group, pubsub.KEEP_ALIVE, {}, cost))
        self._size += cost
        out, self._ready = self._ready, []
        return out

    def flush(self) -> list[dict[str, Any]]:
        """Everything pending as network messages (empty list when nothing is pending)."""
        self._cut()
        out, self._ready = self._ready, []
        return out

    def _cut(self) -> None:
        datasets = self._closed + [ds for group in self._open.values() for ds in group]
        self._closed, self._open, self._gen = [], {}, {}
        self._size = _NETWORK_OVERHEAD
        self.pending_values = 0
        if not datasets:
            return
        stamp = _format(datetime.now(UTC))  # unique: caching it would only evict the shared ones
        message = pubsub.network_message(
            str(uuid.uuid4()), self.publisher_id, [self._dataset_message(ds, stamp) for ds in datasets]
        )
        self._ready.append(pubsub.to_builtins(message))  # JSON data, as the runtime's send takes it

    def _dataset_message(self, ds: _DataSet, stamp: str | None) -> DataSetMessage:
        seq = self._seq.get(ds.writer_id, 0) + 1
        self._seq[ds.writer_id] = seq
        return DataSetMessage(
            DataSetWriterId=ds.writer_id,
            DataSetWriterGroup=ds.writer_group,
            SequenceNumber=seq,
            MessageType=pubsub.KEY_FRAME if ds.key else ds.message_type,
            Timestamp=stamp,
            Payload=ds.payload,
        )


def encode(message: object) -> bytes:
    """A network message as compact UTF-8 JSON: the shared contract's encoding."""
    return pubsub.encode(message)
