"""The window assembler as it was before the typed decoder (frozen copy of modules/inference/windows.py at
cba3089): the judge of the new path's windows and the "before" arm of scripts/bench_inference.py."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from inference.errors import BadInput
from inference.models.metadata import AssetSpec, WindowSpec

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


@dataclass(slots=True)
class _Row:
    values: np.ndarray
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
    symbol = status.get("Symbol")
    code = status.get("Code")
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


class WindowAssembler:
    """Per-asset row buffers fed by PubSub network messages; emits windows every `stride` rows."""

    def __init__(
        self, window: WindowSpec, assets: dict[str, AssetSpec], fallback: dict[str, dict[str, float]]
    ):
        self.window = window
        self.fallback = fallback  # value used before a field's first good value (training mean)
        self._state = {name: _AssetState(spec) for name, spec in assets.items()}

    def feed(self, body: Any, message_id: str | None) -> list[Window]:
        """Validate one network message fully, then update the buffers; BadInput leaves state untouched."""
        updates = self._parse(body)
        mid = message_id or (body.get("MessageId") if isinstance(body.get("MessageId"), str) else "") or ""
        out: list[Window] = []
        for asset, fields, ts, ts_key in updates:
            st = self._state[asset]
            for name, (value, quality) in fields.items():
                if value is not None:
                    st.last[name] = value
                st.status[name] = quality
            row = self._row(asset, st, ts, ts_key, mid)
            if row is None:
                continue
            st.rows.append(row)
            if len(st.rows) > self.window.length:
                st.rows.popleft()
            st.since += 1
            if len(st.rows) == self.window.length and (not st.emitted or st.since >= self.window.stride):
                st.since = 0
                st.emitted = True
                out.append(self._cut(asset, st))
        return out

    def _parse(self, body: Any) -> list[tuple[str, dict[str, tuple[float | None, str]], str, float]]:
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
                updates.append((asset, fields, newest, newest_key))
        return updates

    def _row(self, asset: str, st: _AssetState, ts: str, ts_key: float, mid: str) -> _Row | None:
        vals = np.zeros(self.window.width, np.float32)
        quality = "good"
        for i, name in enumerate(st.spec.fields):
            if name in st.last:
                vals[i] = st.last[name]
            elif name in self.fallback.get(asset, {}) and name in st.status:
                vals[i] = self.fallback[asset][name]
            else:
                return None  # not every field seen yet
            q = st.status.get(name, "good")
            if QUALITY_ORDER[q] > QUALITY_ORDER[quality]:
                quality = q
        return _Row(vals, quality, ts, ts_key, mid)

    def _cut(self, asset: str, st: _AssetState) -> Window:
        rows = list(st.rows)
        quality = max((r.quality for r in rows), key=QUALITY_ORDER.__getitem__)
        newest = max(rows, key=lambda r: r.ts_key)
        ids = tuple(dict.fromkeys(r.message_id for r in rows if r.message_id))
        return Window(
            asset=asset,
            asset_index=st.spec.index,
            values=np.stack([r.values for r in rows]),
            quality=quality,
            window_start=rows[0].ts,
            window_end=rows[-1].ts,
            source_timestamp=newest.ts,
            message_ids=ids,
        )
