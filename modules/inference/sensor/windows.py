"""Window assembly from OPC UA PubSub JSON: rows per asset (values carried forward), cut by length/stride."""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np
from msgspec import UNSET

from edgeloop_contracts import pubsub
from edgeloop_contracts.pubsub import NetworkMessage, parse_time
from edgeloop_runtime.errors import ContractError

from ..errors import BadInput
from ..models.metadata import AssetSpec, WindowSpec

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


# asset, values, qualities, newest timestamp and its key, whether every quality is good
Update = tuple[str, dict[str, float], dict[str, str], str, float, bool]


def _taker(names: list[str]) -> Callable[[dict[str, float]], tuple[float, ...]]:
    """The values of `names` from a dict as a tuple, in order, in one C call; KeyError while one is unseen."""
    if len(names) > 1:
        return itemgetter(*names)
    return lambda last: tuple(last[name] for name in names)


@dataclass(slots=True)
class _AssetState:
    """The last `length` rows of one asset as parallel ring buffers (no object per row)."""

    spec: AssetSpec
    length: int
    pad: tuple[float, ...]  # zeros from the asset's fields to the window's width
    last: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    quality: str = "good"  # the worst of `status`, kept up to date with it
    rows: deque[array[float]] = field(init=False)  # doubles, zero-padded: float32 once per window
    qualities: deque[str] = field(init=False)
    ts: deque[str] = field(init=False)
    ts_keys: deque[float] = field(init=False)
    message_ids: deque[str] = field(init=False)
    since: int = 0
    emitted: bool = False

    take: Callable[[dict[str, float]], tuple[float, ...]] = field(init=False)  # the fields' values, in order

    def __post_init__(self) -> None:
        self.take = _taker(self.spec.fields)
        n = self.length  # every buffer drops its oldest entry together (maxlen)
        self.rows, self.qualities, self.ts = deque(maxlen=n), deque(maxlen=n), deque(maxlen=n)
        self.ts_keys, self.message_ids = deque(maxlen=n), deque(maxlen=n)


def _ts_key(ts: str | None) -> float:
    if not isinstance(ts, str):
        raise BadInput("bad_telemetry", f"timestamp must be an ISO 8601 string, got {type(ts).__name__}")
    try:
        return parse_time(ts)
    except ContractError as exc:
        raise BadInput("bad_telemetry", str(exc)) from exc


def _number(field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(
            "bad_value", f"field {field_name!r}: Value must be a number, got {type(value).__name__}"
        )
    v = float(value) if abs(value) <= FLOAT32_MAX else math.inf  # the model's input is float32
    if not math.isfinite(v):
        raise BadInput("bad_value", f"field {field_name!r}: Value is {value!r} (not finite in float32)")
    return v


def _worst(qualities: Any) -> str:
    seen = set(qualities)
    return "bad" if "bad" in seen else "uncertain" if "uncertain" in seen else "good"


class WindowAssembler:
    """Per-asset row buffers fed by PubSub network messages; emits windows every `stride` rows."""

    def __init__(
        self, window: WindowSpec, assets: dict[str, AssetSpec], fallback: dict[str, dict[str, float]]
    ):
        self.window = window
        self.fallback = fallback  # value used before a field's first good value (training mean)
        self._state = {
            name: _AssetState(spec, window.length, (0.0,) * (window.width - len(spec.fields)))
            for name, spec in assets.items()
        }
        self._wanted = {name: frozenset(spec.fields) for name, spec in assets.items()}

    def feed(self, body: NetworkMessage | bytes | object, message_id: str | None) -> list[Window]:
        """Validate one network message fully, then update the buffers; BadInput leaves state untouched.

        `body` is the message's UTF-8 JSON bytes, the typed message, or JSON already parsed; all go through
        the shared contract (edgeloop_contracts.pubsub), whose refusal is BadInput `bad_telemetry`."""
        try:
            msg = pubsub.decode(body) if isinstance(body, bytes) else pubsub.from_builtins(body)
        except ContractError as exc:
            raise BadInput("bad_telemetry", str(exc)) from exc
        updates = self._parse(msg)
        mid = message_id or msg.MessageId or ""
        out: list[Window] = []
        length, stride = self.window.length, self.window.stride
        for asset, values, qualities, ts, ts_key, all_good in updates:
            st = self._state[asset]
            st.last.update(values)  # only the fields that came with a value
            st.status.update(qualities)
            if not (all_good and st.quality == "good"):  # good stays good while only good comes
                st.quality = _worst(st.status.values())
            row = self._row(asset, st)
            if row is None:
                continue
            st.rows.append(row)  # the oldest row drops out of each buffer (maxlen)
            st.qualities.append(st.quality)
            st.ts.append(ts)
            st.ts_keys.append(ts_key)
            st.message_ids.append(mid)
            st.since += 1
            if len(st.rows) == length and (not st.emitted or st.since >= stride):
                st.since = 0
                st.emitted = True
                out.append(self._cut(asset, st))
        return out

    def _parse(self, body: NetworkMessage) -> list[Update]:
        """Each wanted asset's values, qualities and newest timestamp; the checks the contract's types leave
        (numbers finite in float32, a Value or a StatusCode), each distinct timestamp parsed once."""
        keys: dict[str, float] = {}
        updates = []
        high, low, real = FLOAT32_MAX, -FLOAT32_MAX, float  # locals: read once per message, not per field
        for m in body.Messages:
            asset = str(m.DataSetWriterId)
            if m.MessageType == "ua-keepalive" or asset not in self._state:
                continue
            payload = m.Payload
            if not isinstance(payload, dict):
                raise BadInput("bad_telemetry", f"dataset message of {asset!r} has no `Payload` object")
            wanted = self._wanted[asset]
            # as `a or b or c` over the JSON: an empty network Timestamp is refused, not taken as none
            default_ts = m.Timestamp or (None if body.Timestamp is UNSET else body.Timestamp)
            values: dict[str, float] = {}
            qualities: dict[str, str] = {}
            newest = ""
            newest_key = -math.inf
            last_ts: str | None = None  # the previous field's timestamp, already weighed as the newest
            all_good = True
            for name, dv in payload.items():
                if name not in wanted:
                    continue
                status = dv.StatusCode
                raw = dv.Value
                ts = dv.SourceTimestamp or default_ts
                if (
                    ts == last_ts
                    and ts is not None
                    and not status
                    and type(raw) is real
                    and low <= raw <= high
                ):  # the common field: a good float at the timestamp of the one before
                    values[name] = raw
                    qualities[name] = "good"
                    continue
                if raw is UNSET:
                    if not status:
                        raise BadInput("bad_telemetry", f"field {name!r} of {asset!r} has no `Value`")
                    raw = None
                quality = pubsub.status_quality(status)
                if type(raw) is float and -FLOAT32_MAX <= raw <= FLOAT32_MAX:  # what _number gives it
                    values[name] = raw
                elif quality == "good" or raw is not None:
                    values[name] = _number(name, raw)
                key = keys.get(ts) if ts is not None else None
                if key is None:
                    key = _ts_key(ts)
                    if ts is not None:
                        keys[ts] = key
                if key > newest_key:
                    newest, newest_key = str(ts), key
                qualities[name] = quality
                all_good = all_good and quality == "good"
                last_ts = ts
            if qualities:
                updates.append((asset, values, qualities, newest, newest_key, all_good))
        return updates

    def _row(self, asset: str, st: _AssetState) -> array[float] | None:
        """The asset's row now (values carried forward), or None while a field has no value yet."""
        fields = st.spec.fields
        last = st.last
        if len(last) >= len(fields):  # every field seen (the common case): one C call, no per-field branches
            try:
                return array("d", st.take(last) + st.pad)
            except KeyError:
                pass
        fallback = self.fallback.get(asset, {})
        vals: list[float] = []
        for name in fields:
            if name in last:
                vals.append(last[name])
            elif name in fallback and name in st.status:
                vals.append(fallback[name])
            else:
                return None  # not every field seen yet
        vals.extend(st.pad)
        return array("d", vals)

    def _cut(self, asset: str, st: _AssetState) -> Window:
        """The buffered rows as one window: one float32 copy, the provenance from the parallel buffers."""
        keys = st.ts_keys
        newest = st.ts[keys.index(max(keys))]  # the first of equal keys, as max over the rows gave it
        rows = np.frombuffer(b"".join(st.rows), np.float64)  # one copy, then each double rounded to
        values = rows.astype(np.float32).reshape(len(st.rows), self.window.width)  # float32 as before
        return Window(
            asset=asset,
            asset_index=st.spec.index,
            values=values,
            quality=_worst(st.qualities),
            window_start=st.ts[0],
            window_end=st.ts[-1],
            source_timestamp=newest,
            message_ids=tuple(dict.fromkeys(filter(None, st.message_ids))),
        )
