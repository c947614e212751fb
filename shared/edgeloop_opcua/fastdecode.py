"""A fast path for the bulk of every publish response: DataChangeNotification items with scalar numbers.

asyncua decodes each MonitoredItemNotification field by field through generic dataclass decoders (about 8 us a
value, most of a client's CPU at 10,000 values/s). `install()` swaps in a decoder for the item list that reads
the common shape (a scalar Boolean or number, status, source and server timestamps, no picoseconds) with
`struct` directly, and hands every other item to asyncua's own decoder from the item's first byte, so the
objects are the same `ua.MonitoredItemNotification`s either way (tests/opcua_ingest/test_fastdecode.py).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary
from asyncua.ua.uatypes import win_epoch_to_datetime

# Variant type id -> (struct format, size) for the scalar types taken on the fast path.
_SCALARS: dict[int, tuple[struct.Struct, ua.VariantType]] = {
    vt.value: (struct.Struct(fmt), vt)
    for vt, fmt in (
        (ua.VariantType.Boolean, "<?"), (ua.VariantType.SByte, "<b"), (ua.VariantType.Byte, "<B"),
        (ua.VariantType.Int16, "<h"), (ua.VariantType.UInt16, "<H"), (ua.VariantType.Int32, "<i"),
        (ua.VariantType.UInt32, "<I"), (ua.VariantType.Int64, "<q"), (ua.VariantType.UInt64, "<Q"),
        (ua.VariantType.Float, "<f"), (ua.VariantType.Double, "<d"),
    )
}  # fmt: skip
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_I64 = struct.Struct("<q")
_GOOD = ua.StatusCode(0)
_TIMES: dict[int, datetime] = {}  # the items of one response mostly share their timestamps
_TIMES_MAX = 8192
_installed = False


def _time(raw: int) -> datetime:
    t = _TIMES.get(raw)
    if t is None:
        if len(_TIMES) >= _TIMES_MAX:
            _TIMES.clear()
        t = _TIMES[raw] = win_epoch_to_datetime(raw)
    return t


def decode_items(data: Any) -> list[Any]:
    """A MonitoredItemNotification array from an asyncua Buffer (the reader's position moves past it)."""
    if not isinstance(data, Buffer):
        return _slow_list()(data)
    count = ua_binary.Primitives.Int32.unpack(data)
    if count <= 0:
        return []
    raw, pos = data._data, data._cur_pos  # asyncua's Buffer: bytes/memoryview and a cursor
    end = pos + data._size
    slow = _slow_item()
    out: list[Any] = []
    append = out.append
    for _ in range(count):
        start = pos
        item = None
        if pos + 6 <= end:
            handle = _U32.unpack_from(raw, pos)[0]
            mask = raw[pos + 4]
            if (
                mask & 0x01 and not mask & 0x30 and not mask & 0xC0
            ):  # a value, no picoseconds, no unknown bits
                scalar = _SCALARS.get(raw[pos + 5])  # the Variant's encoding byte: scalar, no dimensions
                if scalar is not None:
                    fmt, vtype = scalar
                    p = pos + 6
                    need = fmt.size + (4 if mask & 0x02 else 0) + (8 if mask & 0x04 else 0)
                    need += 8 if mask & 0x08 else 0
                    if p + need <= end:
                        value = fmt.unpack_from(raw, p)[0]
                        p += fmt.size
                        status = _GOOD
                        if mask & 0x02:
                            code = _U32.unpack_from(raw, p)[0]
                            status = ua.StatusCode(code) if code else _GOOD
                            p += 4
                        src = srv = None
                        if mask & 0x04:
                            src = _time(_I64.unpack_from(raw, p)[0])
                            p += 8
                        if mask & 0x08:
                            srv = _time(_I64.unpack_from(raw, p)[0])
                            p += 8
                        dv = ua.DataValue(ua.Variant(value, vtype, None, False), status, src, srv)
                        item = ua.MonitoredItemNotification(ClientHandle=handle, Value=dv)
                        pos = p
        if item is None:  # anything else: asyncua's own decoder from the item's first byte
            data.rewind(start)
            data._size = end - start
            item = slow(data)
            pos = data._cur_pos
        append(item)
    data.rewind(pos)
    data._size = end - pos
    return out


@functools.cache
def _slow_item() -> Callable[[Any], Any]:
    return ua_binary._create_dataclass_deserializer(ua.MonitoredItemNotification)  # type: ignore[no-any-return]


@functools.cache
def _slow_list() -> Callable[[Any], list[Any]]:
    return _ORIGINAL_LIST(ua.MonitoredItemNotification)  # type: ignore[no-any-return]


_ORIGINAL_LIST: Any = getattr(ua_binary, "_create_list_deserializer", None)


def _agrees() -> bool:
    """Whether `decode_items` reads what asyncua writes, as asyncua reads it (a guard against a changed
    asyncua: its decoder internals are not public)."""
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    values = [ua.Variant(1.5, ua.VariantType.Double), ua.Variant(7, ua.VariantType.Int32),
              ua.Variant(True, ua.VariantType.Boolean), ua.Variant("x", ua.VariantType.String)]  # fmt: skip
    items = [
        ua.MonitoredItemNotification(ClientHandle=i, Value=ua.DataValue(v, ua.StatusCode(0), when, when))
        for i, v in enumerate(values)
    ]
    body = bytes(ua_binary.struct_to_binary(ua.DataChangeNotification(MonitoredItems=items)))
    expected = ua_binary.struct_from_binary(ua.DataChangeNotification, Buffer(body)).MonitoredItems
    return bool(decode_items(Buffer(body)) == expected == items)


def install() -> bool:
    """Decode DataChangeNotification item lists with `decode_items` in this process (idempotent); False, with
    asyncua's own decoder left in place, when this asyncua's internals are not the ones it was written for."""
    global _installed
    if _installed:
        return True
    try:
        if _ORIGINAL_LIST is None or not _agrees():
            return False
        original = _ORIGINAL_LIST

        @functools.cache
        def list_deserializer(uatype: Any) -> Callable[[Any], list[Any]]:
            if uatype is ua.MonitoredItemNotification:
                return decode_items
            return original(uatype)  # type: ignore[no-any-return]

        ua_binary._create_list_deserializer = list_deserializer
        ua_binary._create_type_deserializer.cache_clear()
        ua_binary._create_dataclass_deserializer.cache_clear()
        _slow_item.cache_clear()
    except Exception:  # any surprise from asyncua's internals: keep its own decoder
        return False
    _installed = True
    return True
