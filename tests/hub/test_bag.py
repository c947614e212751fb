"""Property bags: the SDK's outgoing encoding decodes losslessly; deliveries are encoded as edgeHub does."""

from __future__ import annotations

import gc
import tracemalloc
import urllib.parse
import uuid

from hypothesis import given
from hypothesis import strategies as st

from edgeloop_dev.hub.bag import (
    counted_size,
    decode_bag,
    encode_delivery_bag,
    escape,
    input_topic,
    split_properties,
)

props = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda k: not k.startswith("$")), st.text(max_size=20), max_size=5
)


def sdk_encode(system: dict[str, str], custom: dict[str, str]) -> str:
    """What azure-iot-device writes (urlencode with quote: `$` -> %24, space -> %20)."""
    parts = [urllib.parse.urlencode(system, quote_via=urllib.parse.quote)] if system else []
    if custom:
        parts.append(urllib.parse.urlencode(sorted(custom.items()), quote_via=urllib.parse.quote))
    return "&".join(parts)


@given(props, st.text(max_size=10), st.text(max_size=10))
def test_sdk_bag_decodes_losslessly(custom: dict[str, str], mid: str, ct: str) -> None:
    system, app = split_properties(sdk_encode({"$.on": "out 1", "$.mid": mid, "$.ct": ct}, custom))
    assert system == {"outputName": "out 1", "messageId": mid, "contentType": ct}
    assert app == custom


@given(props, st.text(max_size=10))
def test_delivery_bag_round_trips_through_the_sdk_parser(app: dict[str, str], cid: str) -> None:
    bag = encode_delivery_bag({"cid": cid, "outputName": "o", "connectionModuleId": "m"}, app)
    assert "/" not in bag  # the SDK splits the topic on "/"
    # the SDK's parser: split on & and =, unquote each side
    parsed = {
        urllib.parse.unquote(k): urllib.parse.unquote(v)
        for k, _, v in (p.partition("=") for p in bag.split("&"))
    }
    assert parsed == {**app, "$.cid": cid, "$.cmid": "m"}


def test_delivery_bag_matches_edgehub_order_and_escaping() -> None:
    system = {
        "contentEncoding": "utf-8",
        "contentType": "application/json",
        "messageId": "m1",
        "cid": "1234",
        "connectionDeviceId": "fromDevice1",
        "connectionModuleId": "fromModule1",
        "outputName": "not-forwarded",
    }
    bag = encode_delivery_bag(system, {"Foo": "Bar", "a b+c": "x/y"})
    assert bag == (
        "Foo=Bar&a%20b%2Bc=x%2Fy&%24.cid=1234&%24.mid=m1&%24.ct=application%2Fjson&%24.ce=utf-8"
        "&%24.cdid=fromDevice1&%24.cmid=fromModule1"
    )


def test_plus_stays_literal_and_missing_values() -> None:
    assert decode_bag("a+b=c+d&flag&e=") == [("a+b", "c+d"), ("flag", None), ("e", "")]


def test_escape_is_uri_escape_data_string() -> None:
    assert escape("A-Z_a.z~0 $&=/+") == "A-Z_a.z~0%20%24%26%3D%2F%2B"


def test_input_topic_has_no_trailing_slash_without_properties() -> None:
    assert input_topic("d", "m", "in1", "") == "devices/d/modules/m/inputs/in1"
    assert input_topic("d", "m", "in1", "a=b") == "devices/d/modules/m/inputs/in1/a=b"


def test_counted_size_counts_keys_and_values() -> None:
    assert counted_size(b"12345", {"messageId": "x"}, {"k": "vv"}) == 5 + 9 + 1 + 1 + 2


@given(st.text(max_size=30))
def test_escape_equals_percent_encoding_of_every_reserved_character(s: str) -> None:
    assert escape(s) == urllib.parse.quote(s, safe="")


def _one_message(n: int) -> str:
    mid, cid = uuid.uuid4(), uuid.uuid4()
    bag = f"%24.on=out&%24.mid={mid}&%24.cid={cid}&%24.ct=application%2Fjson&seq={n}&at=12%3A00%3A{n}"
    system, app = split_properties(bag)
    system["connectionModuleId"] = "m"
    return encode_delivery_bag(system, app)


def _retained_after(messages: int) -> int:
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(messages):
        _one_message(n)
    gc.collect()
    return tracemalloc.get_traced_memory()[0] - before


def test_unique_property_values_leave_nothing_behind() -> None:
    """Message and correlation ids are new in every message: decoding and encoding them keeps no copy."""
    tracemalloc.start()
    try:
        _retained_after(500)  # warm-up: names cached, interpreter free lists filled
        retained = _retained_after(5000)
    finally:
        tracemalloc.stop()
    assert retained < 64 * 1024, f"{retained} bytes retained after 5000 messages with unique ids"
