"""The MQTT 3.1.1 codec: round trips of every packet, and garbage never raises anything but CodecError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edgeloop_dev.hub.mqtt import codec

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
topic = text.filter(lambda t: t and "+" not in t and "#" not in t)
pid = st.integers(1, 65535)

packets = st.one_of(
    st.builds(codec.Publish, topic, st.binary(max_size=300), st.just(0)),
    st.builds(codec.Publish, topic, st.binary(max_size=300), st.just(1), pid, st.booleans()),
    st.builds(codec.Puback, pid),
    st.builds(
        codec.Subscribe, pid, st.lists(st.tuples(text, st.integers(0, 2)), min_size=1, max_size=4).map(tuple)
    ),
    st.builds(codec.Suback, pid, st.lists(st.sampled_from([0, 1, 0x80]), max_size=4).map(tuple)),
    st.builds(codec.Unsubscribe, pid, st.lists(text, min_size=1, max_size=4).map(tuple)),
    st.builds(codec.Unsuback, pid),
    st.builds(codec.Connack, st.integers(0, 5), st.booleans()),
    st.builds(
        codec.Connect,
        text,
        st.none() | text,
        st.none() | st.binary(max_size=100),
        st.integers(0, 65535),
        st.booleans(),
    ),
    st.just(codec.Pingreq()),
    st.just(codec.Pingresp()),
    st.just(codec.Disconnect()),
)


@given(st.lists(packets, min_size=1, max_size=5), st.integers(1, 64))
def test_round_trip_in_any_chunking(pkts: list[codec.Packet], chunk: int) -> None:
    data = b"".join(codec.encode(p) for p in pkts)
    decoder = codec.Decoder()
    out: list[codec.Packet] = []
    for i in range(0, len(data), chunk):
        out.extend(decoder.feed(data[i : i + chunk]))
    assert out == pkts


@given(st.binary(max_size=300))
def test_garbage_raises_only_codec_error(data: bytes) -> None:
    for decoder in (codec.Decoder(), codec.Decoder(server=True)):
        try:
            decoder.feed(data)
        except codec.CodecError:
            pass


def test_large_publish_uses_a_four_byte_length() -> None:
    p = codec.Publish("t", b"x" * 300_000, 1, 9)
    data = codec.encode(p)
    assert data[1] & 0x80 and data[2] & 0x80
    assert codec.Decoder().feed(data) == [p]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"\x00\x00", "reserved", id="type-0"),
        pytest.param(b"\x36\x05\x00\x01t\x00\x01", "QoS 3", id="qos-3"),
        pytest.param(b"\x34\x05\x00\x01t\x00\x01", "QoS 2", id="qos-2"),
        pytest.param(b"\x80\x06\x00\x01\x00\x01t\x01", "flags", id="subscribe-bad-flags"),
        pytest.param(b"\x32\x05\x00\x01t\x00\x00", "packet id 0", id="pid-0"),
        pytest.param(b"\x30\x05\x00\x01+\x00\x00", "wildcards", id="wildcard-topic"),
        pytest.param(b"\x30\x04\x00\x02\xc3\x28", "UTF-8", id="bad-utf8"),
    ],
)
def test_malformed_packets_are_named(data: bytes, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.Decoder().feed(data)


def test_server_decoder_wants_connect_first() -> None:
    with pytest.raises(codec.CodecError, match="CONNECT"):
        codec.Decoder(server=True).feed(codec.encode(codec.Pingreq()))


def test_size_limit() -> None:
    with pytest.raises(codec.CodecError, match="exceeds"):
        codec.Decoder(max_packet=1000).feed(codec.encode(codec.Publish("t", b"x" * 2000)))
