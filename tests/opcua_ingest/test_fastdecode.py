"""The fast item decoder gives exactly what asyncua's own decoder gives, for the fast shapes and the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from edgeloop_opcua.fastdecode import decode_items, install

NOW = datetime(2026, 12, 5, 5, 40, 1, 123456, tzinfo=UTC)
V = ua.VariantType


def values() -> list[Any]:
    """DataValues of every shape a server sends: the fast scalars and everything asyncua must decode."""
    fast = [ua.Variant(True, V.Boolean), ua.Variant(-5, V.SByte), ua.Variant(250, V.Byte), ua.Variant(-300, V.Int16),
            ua.Variant(60000, V.UInt16), ua.Variant(-70000, V.Int32), ua.Variant(4_000_000_000, V.UInt32),
            ua.Variant(-(2**40), V.Int64), ua.Variant(2**63, V.UInt64), ua.Variant(1.5, V.Float),
            ua.Variant(3.14159, V.Double)]  # fmt: skip
    slow = [ua.Variant("text", V.String), ua.Variant([1.0, 2.0], V.Double), ua.Variant(NOW, V.DateTime),
            ua.Variant(ua.LocalizedText("x"), V.LocalizedText), ua.Variant(b"\x00\x01", V.ByteString),
            ua.Variant(ua.NodeId(5, 2), V.NodeId), ua.Variant([[1, 2], [3, 4]], V.Int32, Dimensions=[2, 2])]  # fmt: skip
    out: list[Any] = [
        ua.DataValue(variant, ua.StatusCode(0), SourceTimestamp=NOW, ServerTimestamp=NOW)
        for variant in fast + slow
    ]
    out += [
        ua.DataValue(ua.Variant(1.0, V.Double)),  # no timestamps, no status
        ua.DataValue(ua.Variant(2.0, V.Double), ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue), NOW),
        ua.DataValue(None, ua.StatusCode(ua.StatusCodes.BadNoCommunication), ServerTimestamp=NOW),  # no value
        ua.DataValue(
            ua.Variant(3.0, V.Double),
            SourceTimestamp=NOW,
            SourcePicoseconds=7,
            ServerTimestamp=NOW,
            ServerPicoseconds=9,
        ),
        ua.DataValue(ua.Variant(4.0, V.Double), SourceTimestamp=NOW + timedelta(microseconds=10)),
        ua.DataValue(ua.Variant(None, V.Null)),
    ]
    return out


def response(items: list[Any]) -> bytes:
    resp = ua.PublishResponse()
    resp.Parameters.NotificationMessage.NotificationData = [
        ua.DataChangeNotification(MonitoredItems=items),
        ua.StatusChangeNotification(Status=ua.StatusCode(0)),  # something after the list, read from there on
    ]
    return bytes(struct_to_binary(resp))


def test_every_shape_decodes_as_asyncua_decodes_it() -> None:
    items = [ua.MonitoredItemNotification(ClientHandle=i, Value=dv) for i, dv in enumerate(values())]
    data = response(items)
    expected = struct_from_binary(ua.PublishResponse, Buffer(data))
    install()
    got = struct_from_binary(ua.PublishResponse, Buffer(data))
    assert got == expected
    assert got.Parameters.NotificationMessage.NotificationData[0].MonitoredItems == items


@pytest.mark.parametrize(
    "n", [pytest.param(0, id="empty"), pytest.param(1, id="one"), pytest.param(500, id="500")]
)
def test_the_reader_ends_right_after_the_list(n: int) -> None:
    items = [ua.MonitoredItemNotification(ClientHandle=i, Value=ua.DataValue(ua.Variant(i * 0.5, V.Double),
             SourceTimestamp=NOW, ServerTimestamp=NOW)) for i in range(n)]  # fmt: skip
    body = bytes(struct_to_binary(ua.DataChangeNotification(MonitoredItems=items))) + b"tail"
    buf = Buffer(body)
    assert decode_items(buf) == items
    assert bytes(buf)[:4] == b"\x00\x00\x00\x00"  # DiagnosticInfos: an empty array, then our tail


def test_an_asyncua_it_does_not_agree_with_keeps_its_own_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    from asyncua.ua import ua_binary

    from edgeloop_opcua import fastdecode

    monkeypatch.setattr(fastdecode, "_installed", False)
    monkeypatch.setattr(fastdecode, "_agrees", lambda: False)
    before = ua_binary._create_list_deserializer
    assert fastdecode.install() is False
    assert ua_binary._create_list_deserializer is before


def test_the_self_check_passes_on_this_asyncua() -> None:
    from edgeloop_opcua import fastdecode

    assert fastdecode._agrees()
