"""Window assembly from OPC UA PubSub JSON: rows per asset (values carried forward), cut by length/stride."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

import msgspec
import numpy as np

from .errors import BadInput
from .metadata import AssetSpec, WindowSpec
from .pubsub import NetworkMessage

FLOAT32_MAX = float(np.finfo(np.float32).max)
QUALITY_ORDER = {"good": 0, "uncertain": 1, "bad": 2}


@dataclass(frozen=True, slots=True)
class Window:
    """One window ready to score: values [length, width] (float32, zero-padded), with its provenance."""

    asset: str
    asset_index: int
    values: np.ndarray
    quality: str
    window_start: str
    window_end: str
    source_timestamp: str
    message_ids: tuple[str, ...]


Update = tuple[str, dict[str, float], dict[str, str], str, float]  # asset, values, qualities, newest ts


@dataclass(slots=True)
class _Row:
    values: list[float]  # one per field of the asset, made float32 once per window
    quality: str
    ts: str
    ts_key: float
    message_id: str


@dataclass
class _AssetState:
    spec: AssetSpec
    last: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    rows: deque[_Row] = field(default_factory=deque)
    since: int = 0
    emitted: bool = False


def status_quality(status: Any) -> str:
    """good / uncertain / bad from an OPC UA StatusCode object (missing means Good)."""
    if status is None:
        return "good"
    if not isinstance(status, dict):
        raise BadInput("bad_telemetry", f"StatusCode must be an object, got {type(status).__name__}")
    return _quality(status.get("Symbol"), status.get("Code"))


def _quality(symbol: Any, code: Any) -> str:
    if isinstance(symbol, str) and symbol:
        low = symbol.lower()
        return "bad" if low.startswith("bad") else "uncertain" if low.startswith("uncertain") else "good"
    if isinstance(code, int) and not isinstance(code, bool):
        top = (code >> 30) & 0x3
        return "bad" if top >= 2 else "uncertain" if top == 1 else "good"
    return "good"


def _ts_key(ts: Any) -> float:
    if not isinstance(ts, str):
        raise BadInput("bad_telemetry", f"timestamp must be an ISO 8601 string, got {type(ts).__name__}")
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError as exc:
        raise BadInput("bad_telemetry", f"timestamp {ts[:40]!r} is not ISO 8601") from exc


def _number(field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(
            "bad_value", f"field {field_name!r}: Value must be a number, got {type(value).__name__}"
        )
    v = float(value) if abs(value) <= FLOAT32_MAX else math.inf  # the model's input is float32
    if not math.isfinite(v):
        raise BadInput("bad_value", f"field {field_name!r}: Value is {value!r} (not finite in float32)")
    return v


_TS_KEY = attrgetter("ts_key")


def _update(asset: str, fields: dict[str, tuple[float | None, str]], ts: str, key: float) -> Update:
    values = {name: value for name, (value, _q) in fields.items() if value is not None}
    return asset, values, {name: q for name, (_v, q) in fields.items()}, ts, key


class WindowAssembler:
    """Per-asset row buffers fed by PubSub network messages; emits windows every `stride` rows."""

    def __init__(
        self, window: WindowSpec, assets: dict[str, AssetSpec], fallback: dict[str, dict[str, float]]
    ):
        self.window = window
        self.fallback = fallback  # value used before a field's first good value (training mean)
        self._state = {
            name: _AssetState(spec, rows=deque(maxlen=window.length)) for name, spec in assets.items()
        }
        self._wanted = {name: frozenset(spec.fields) for name, spec in assets.items()}

    def feed(self, body: Any, message_id: str | None) -> list[Window]:
        """Validate one network message fully, then update the buffers; BadInput leaves state untouched.

        `body` is the parsed JSON, or a typed NetworkMessage (pubsub.py) that gives the same windows."""
        updates = self._parse_typed(body) if isinstance(body, NetworkMessage) else self._parse(body)
        given = body.MessageId if isinstance(body, NetworkMessage) else body.get("MessageId")
        mid = message_id or (given if isinstance(given, str) else "") or ""
        out: list[Window] = []
        for asset, values, qualities, ts, ts_key in updates:
            st = self._state[asset]
            st.last.update(values)  # only the fields that came with a value
            st.status.update(qualities)
            row = self._row(asset, st, ts, ts_key, mid)
            if row is None:
                continue
            st.rows.append(row)  # the oldest row drops out (maxlen)
            st.since += 1
            if len(st.rows) == self.window.length and (not st.emitted or st.since >= self.window.stride):
                st.since = 0
                st.emitted = True
                out.append(self._cut(asset, st))
        return out

    def _parse(self, body: Any) -> list[Update]:
        if not isinstance(body, dict):
            raise BadInput("bad_telemetry", "telemetry must be a PubSub network message (a JSON object)")
        messages = body.get("Messages")
        if not isinstance(messages, list):
            raise BadInput("bad_telemetry", "network message has no `Messages` list")
        updates = []
        for m in messages:
            if not isinstance(m, dict):
                raise BadInput("bad_telemetry", "each entry of `Messages` must be an object")
            asset = m.get("DataSetWriterId")
            if not isinstance(asset, str | int) or isinstance(asset, bool):
                raise BadInput("bad_telemetry", "dataset message without a DataSetWriterId")
            asset = str(asset)
            if m.get("MessageType") == "ua-keepalive" or asset not in self._state:
                continue
            payload = m.get("Payload")
            if not isinstance(payload, dict):
                raise BadInput("bad_telemetry", f"dataset message of {asset!r} has no `Payload` object")
            wanted = set(self._state[asset].spec.fields)
            fields: dict[str, tuple[float | None, str]] = {}
            newest = ""
            newest_key = -math.inf
            for name, dv in payload.items():
                if name not in wanted:
                    continue
                if not isinstance(dv, dict) or ("Value" not in dv and dv.get("StatusCode") is None):
                    raise BadInput("bad_telemetry", f"field {name!r} of {asset!r} has no `Value`")
                quality = status_quality(dv.get("StatusCode"))
                raw = dv.get("Value")
                value = _number(name, raw) if quality == "good" or raw is not None else None
                ts = dv.get("SourceTimestamp") or m.get("Timestamp") or body.get("Timestamp")
                key = _ts_key(ts)
                if key > newest_key:
                    newest, newest_key = str(ts), key
                fields[name] = (value, quality)
            if fields:
                updates.append(_update(asset, fields, newest, newest_key))
        return updates

    def _parse_typed(self, body: NetworkMessage) -> list[Update]:
        """`_parse` on the typed message: the same checks where types can still be wrong, each distinct
        timestamp string parsed once per message."""
        keys: dict[str, float] = {}
        updates = []
        for m in body.Messages:
            asset = str(m.DataSetWriterId)
            if m.MessageType == "ua-keepalive" or asset not in self._state:
                continue
            payload = m.Payload
            if payload is None:
                raise BadInput("bad_telemetry", f"dataset message of {asset!r} has no `Payload` object")
            wanted = self._wanted[asset]
            default_ts = m.Timestamp or body.Timestamp
            values: dict[str, float] = {}
            qualities: dict[str, str] = {}
            newest = ""
            newest_key = -math.inf
            for name, dv in payload.items():
                if name not in wanted:
                    continue
                status = dv.StatusCode
                raw = dv.Value
                if raw is msgspec.UNSET:
                    if status is None:
                        raise BadInput("bad_telemetry", f"field {name!r} of {asset!r} has no `Value`")
                    raw = None
                quality = "good" if status is None else _quality(status.Symbol, status.Code)
                if type(raw) is float and -FLOAT32_MAX <= raw <= FLOAT32_MAX:  # what _number gives it
                    values[name] = raw
                elif quality == "good" or raw is not None:
                    values[name] = _number(name, raw)
                ts = dv.SourceTimestamp or default_ts
                key = keys.get(ts) if ts is not None else None
                if key is None:
                    key = _ts_key(ts)
                    if ts is not None:
                        keys[ts] = key
                if key > newest_key:
                    newest, newest_key = str(ts), key
                qualities[name] = quality
            if qualities:
                updates.append((asset, values, qualities, newest, newest_key))
        return updates

    def _row(self, asset: str, st: _AssetState, ts: str, ts_key: float, mid: str) -> _Row | None:
        fields = st.spec.fields
        last = st.last
        if len(last) >= len(fields):  # every field seen (the common case): no per-field branches
            try:
                values = [last[name] for name in fields]
            except KeyError:
                pass
            else:  # every field has a status too (set with its value); statuses hold only these fields
                seen = set(st.status.values())
                quality = "bad" if "bad" in seen else "uncertain" if "uncertain" in seen else "good"
                return _Row(values, quality, ts, ts_key, mid)
        vals: list[float] = []
        quality = "good"
        for name in st.spec.fields:
            if name in st.last:
                vals.append(st.last[name])
            elif name in self.fallback.get(asset, {}) and name in st.status:
                vals.append(self.fallback[asset][name])
            else:
                return None  # not every field seen yet
            q = st.status.get(name, "good")
            if QUALITY_ORDER[q] > QUALITY_ORDER[quality]:
                quality = q
        return _Row(vals, quality, ts, ts_key, mid)

    def _cut(self, asset: str, st: _AssetState) -> Window:
        rows = list(st.rows)
        seen = {r.quality for r in rows}
        quality = "bad" if "bad" in seen else "uncertain" if "uncertain" in seen else "good"
        newest = max(rows, key=_TS_KEY)  # the first of equal keys, as max gives it
        ids = tuple(dict.fromkeys(r.message_id for r in rows if r.message_id))
        values = np.zeros((len(rows), self.window.width), np.float32)
        values[:, : len(st.spec.fields)] = [r.values for r in rows]
        return Window(
            asset=asset,
            asset_index=st.spec.index,
            values=values,
            quality=quality,
            window_start=rows[0].ts,
            window_end=rows[-1].ts,
            source_timestamp=newest.ts,
            message_ids=ids,
        )
