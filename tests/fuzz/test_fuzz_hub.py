"""The local hub's MQTT codec, property bags and topics under mutated input (thousands of cases beyond
tests/hub's round trips), and the running hub under mutated packets on real TLS connections."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_harness import CASES
from fuzz_profiles import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from edgeloop_dev.hub import topics
from edgeloop_dev.hub.bag import decode_bag, split_properties
from edgeloop_dev.hub.harness import HubProcess, make_manifest, pick_hub_host
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.rawclient import RawClient

text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)
topic = text.filter(lambda t: t and "+" not in t and "#" not in t)
pid = st.integers(1, 65535)
packets = st.one_of(
    st.builds(codec.Publish, topic, st.binary(max_size=200), st.sampled_from([0, 1]), pid, st.booleans()),
    st.builds(codec.Puback, pid),
    st.builds(
        codec.Subscribe, pid, st.lists(st.tuples(text, st.integers(0, 1)), min_size=1, max_size=3).map(tuple)
    ),
    st.builds(codec.Unsubscribe, pid, st.lists(text, min_size=1, max_size=3).map(tuple)),
    st.builds(
        codec.Connect, text, st.none() | text, st.none() | st.binary(max_size=60), st.integers(0, 65535)
    ),
    st.just(codec.Pingreq()),
    st.just(codec.Disconnect()),
)


@st.composite
def mutated_stream(draw: st.DrawFn) -> bytes:
    """Valid packets back to back, then bytes flipped, dropped, duplicated or inserted."""
    data = bytearray(b"".join(codec.encode(p) for p in draw(st.lists(packets, min_size=1, max_size=4))))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "set", "drop", "insert", "dup", "truncate"]))
        if how == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif how == "set":
            data[i] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0xC0, 0x30, 0x10]))
        elif how == "drop":
            del data[i]
        elif how == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif how == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 16))]
        else:
            del data[i:]
    return bytes(data)


@fuzz_settings(4)
@given(data=mutated_stream(), chunk=st.integers(1, 64), server=st.booleans())
def test_codec_raises_only_codec_error_on_mutated_streams(data: bytes, chunk: int, server: bool) -> None:
    CASES["hub MQTT codec (mutated streams)"] += 1
    decoder = codec.Decoder(max_packet=4096, server=server)
    try:
        for i in range(0, len(data), chunk):
            for p in decoder.feed(data[i : i + chunk]):
                if isinstance(p, codec.Publish):
                    p = dataclasses.replace(p, retain=False)  # the hub never retains (as edgeHub)
                assert codec.Decoder().feed(codec.encode(p)) == [p], "a decoded packet re-encodes to itself"
    except codec.CodecError:
        pass


@fuzz_settings(5)
@given(
    bag=st.text(max_size=80)
    | st.lists(st.sampled_from(["&", "=", "%", "%2", "%zz", "$.mid", "a", "+", "%24.ct"]), max_size=20).map(
        "".join
    )
)
def test_property_bags_never_raise(bag: str) -> None:
    CASES["hub property bag decode"] += 1
    pairs = decode_bag(bag)
    system, app = split_properties(bag)
    assert all(isinstance(k, str) for k, _ in pairs) and isinstance(system, dict) and isinstance(app, dict)


segments = st.sampled_from(
    ["devices", "edgeloop-device", "modules", "m", "messages", "events", "$iothub", "twin", "GET", "PATCH",
     "properties", "reported", "methods", "res", "200", "?$rid=1", "?$rid=", "?$version=3&$rid=x", "", "%"]
)  # fmt: skip


@fuzz_settings(5)
@given(t=st.text(max_size=60) | st.lists(segments, max_size=8).map("/".join))
def test_topic_classification_never_raises(t: str) -> None:
    CASES["hub topic classify"] += 1
    assert topics.classify(t) is not None
    topics.query(t)


# ---- the running hub --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    h = HubProcess(
        Path(tmp_path_factory.mktemp("fuzzhub")) / "hub", make_manifest({}, {"m": {}}), pick_hub_host()
    )
    h.start()
    try:
        yield h
    finally:
        h.kill()


@fuzz_settings(2.5)
@given(data=mutated_stream(), authenticated=st.booleans())
def test_running_hub_survives_mutated_packets(hub: HubProcess, data: bytes, authenticated: bool) -> None:
    """Each connection sends garbage (after a valid CONNECT or instead of it); the hub keeps serving."""
    CASES["hub e2e mutated packets over TLS"] += 1
    with RawClient(hub.state_dir, hub.host, timeout=5) as raw:
        if authenticated:
            assert raw.connect_module("m") == 0
        try:
            raw.send_raw(data)
        except OSError:
            pass  # the hub already closed this connection
    assert hub.proc is not None and hub.proc.poll() is None, "the hub died:\n" + hub.log_tail()


def test_hub_still_serves_after_the_fuzzing(hub: HubProcess) -> None:
    with RawClient(hub.state_dir, hub.host) as raw:
        assert raw.connect_module("m") == 0
        raw.send(codec.Pingreq())
        assert raw.recv() == codec.Pingresp()
    assert hub.metric("edgeloop_hub_protocol_errors_total") >= 1
