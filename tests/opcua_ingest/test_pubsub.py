"""PubSub network messages: the contract shape, batching by size, sequence numbers."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from edgeloop_contracts import pubsub
from opcua_ingest import pubsub as ingest_pubsub
from opcua_ingest.pubsub import (
    NetworkMessageBatcher,
    Sample,
    encode,
    entry_size,
    field_entry,
    iso,
    json_value,
)

TS = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)


def sample(field: str = "Flow", value: object = 1.5, writer: str = "pump", code: int = 0) -> Sample:
    return Sample(writer, "plant", field, value, TS, TS, code, "BadSensorFailure" if code else "Good")


def test_network_message_has_the_contract_shape() -> None:
    b = NetworkMessageBatcher("edge1_opcua_ingest")
    assert b.add(sample()) == []
    b.add(sample("Speed", 1100.0))
    b.add(sample("Vibration", None, code=0x808F0000))
    b.add(sample("Load", 800, writer="conveyor"))
    (msg,) = b.flush()
    assert msg["MessageType"] == "ua-data" and msg["PublisherId"] == "edge1_opcua_ingest" and msg["MessageId"]
    pump, conveyor = msg["Messages"]
    assert pump["DataSetWriterId"] == "pump" and pump["DataSetWriterGroup"] == "plant"
    assert pump["MessageType"] == "ua-deltaframe" and pump["SequenceNumber"] == 1 and pump["Timestamp"]
    ts = "2026-11-22T10:00:00.123Z"
    assert pump["Payload"]["Flow"] == {"Value": 1.5, "SourceTimestamp": ts, "ServerTimestamp": ts}
    assert "StatusCode" not in pump["Payload"]["Speed"], "Good is omitted"
    assert pump["Payload"]["Vibration"]["StatusCode"] == {"Code": 0x808F0000, "Symbol": "BadSensorFailure"}
    assert conveyor["Payload"]["Load"]["Value"] == 800
    assert b.flush() == []


def test_the_sent_bytes_are_the_shared_contracts_and_keep_opc_publishers_key_order() -> None:
    b = NetworkMessageBatcher("edge1_opcua_ingest")
    b.add(sample(value=1e16))
    b.add(sample("Vibration", None, code=0x808F0000))
    b.add(sample("Tag", "é\u2028"))
    b.add(Sample("pump", "plant", "", None, None, None), "ua-keepalive")
    (msg,) = b.flush()
    sent = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()  # what ctx.send writes
    assert pubsub.encode(pubsub.decode(sent)) == sent == encode(msg)
    assert list(msg) == ["MessageId", "MessageType", "PublisherId", "Messages"]
    pump = msg["Messages"][0]
    assert list(pump) == [
        "DataSetWriterId",
        "DataSetWriterGroup",
        "SequenceNumber",
        "MessageType",
        "Timestamp",
        "Payload",
    ]
    assert list(pump["Payload"]["Vibration"]) == ["Value", "SourceTimestamp", "ServerTimestamp", "StatusCode"]
    assert b'"Value":1e+16,' in sent and msg["Messages"][-1]["Payload"] == {}


def test_a_field_that_changes_twice_starts_a_new_dataset_message_and_sequence_numbers_grow() -> None:
    b = NetworkMessageBatcher("p")
    b.add(sample(value=1.0))
    b.add(sample(value=2.0))
    (msg,) = b.flush()
    assert [m["Payload"]["Flow"]["Value"] for m in msg["Messages"]] == [1.0, 2.0]
    assert [m["SequenceNumber"] for m in msg["Messages"]] == [1, 2]
    b.add(sample(value=3.0))
    assert b.flush()[0]["Messages"][0]["SequenceNumber"] == 3


def test_queued_values_listed_item_by_item_make_one_full_message_per_round_not_one_per_pair() -> None:
    b = NetworkMessageBatcher("p")
    for field in ("A", "B", "C"):  # a publish response with two queued values per item, item by item
        b.add(sample(field, 1.0))
        b.add(sample(field, 2.0))
    (msg,) = b.flush()
    payloads = [{k: v["Value"] for k, v in m["Payload"].items()} for m in msg["Messages"]]
    assert payloads == [{"A": 1.0, "B": 1.0, "C": 1.0}, {"A": 2.0, "B": 2.0, "C": 2.0}]


def test_events_of_one_writer_stay_one_data_set_message_each() -> None:
    b = NetworkMessageBatcher("p")
    for severity in (100, 700):
        b.add(sample("Severity", severity), "ua-event")
        b.add(sample("Message", f"level {severity}"), "ua-event")
    (msg,) = b.flush()
    assert [sorted(m["Payload"]) for m in msg["Messages"]] == [["Message", "Severity"]] * 2
    assert [m["Payload"]["Severity"]["Value"] for m in msg["Messages"]] == [100, 700]


@pytest.mark.parametrize("limit", [pytest.param(4096, id="4KB"), pytest.param(250_000, id="250KB")])
def test_messages_never_exceed_the_limit_and_lose_nothing(limit: int) -> None:
    b = NetworkMessageBatcher("p", max_bytes=limit)
    out = []
    n = 30_000 if limit > 10_000 else 500
    for i in range(n):
        out += b.add(
            sample(f"Tag{i % 1000:04d}-with-a-longer-display-name", i * 1.000001, writer=f"w{i % 7}")
        )
    out += b.flush()
    assert len(out) > 1
    assert max(len(encode(m)) for m in out) <= limit
    values = [f["Value"] for m in out for d in m["Messages"] for f in d["Payload"].values()]
    assert sorted(values) == sorted(i * 1.000001 for i in range(n))


def test_json_values() -> None:
    assert json_value(math.nan) is None and json_value(math.inf) is None
    assert json_value(b"\x01\x02") == "AQI="
    assert json_value([1, 2.5, True]) == [1, 2.5, True]
    assert json_value(TS) == "2026-11-22T10:00:00.123Z"


def test_oversized_single_value_is_refused() -> None:
    b = NetworkMessageBatcher("p", max_bytes=2048)
    with pytest.raises(ValueError, match="larger than"):
        b.add(sample(value="x" * 5000))


@pytest.mark.parametrize(
    "value, code, server_ts",
    [
        pytest.param(1.5, 0, TS, id="float"),
        pytest.param(-3.25e-7, 0, TS, id="small-float"),
        pytest.param(1e22, 0, TS, id="large-float"),
        pytest.param(12, 0, TS, id="int"),
        pytest.param(True, 0, TS, id="true"),
        pytest.param(False, 0, TS, id="false"),
        pytest.param(None, 0, TS, id="null"),
        pytest.param("grüße", 0, TS, id="string-falls-back-to-json"),
        pytest.param(float("nan"), 0, TS, id="nan-is-null"),
        pytest.param(None, 0x80310000, None, id="bad-status-no-server-ts"),
    ],
)
def test_entry_size_equals_the_compact_json_length(
    value: object, code: int, server_ts: datetime | None
) -> None:
    entry = field_entry(Sample("pump", "plant", "Flow", value, TS, server_ts, code, "BadNoCommunication"))
    assert entry_size(entry) == len(encode(entry).decode())


def test_iso_is_cached_but_exact_for_naive_and_aware_times() -> None:
    naive = datetime(2026, 11, 22, 10, 0, 0, 123000)
    assert iso(naive) == iso(TS) == "2026-11-22T10:00:00.123Z"
    assert iso(naive) == "2026-11-22T10:00:00.123Z"
    plus_two = datetime(2026, 11, 22, 12, 0, 0, 123999, tzinfo=timezone(timedelta(hours=2)))
    assert iso(plus_two) == "2026-11-22T10:00:00.123Z"
    assert iso(None) is None


def test_a_keepalive_is_a_data_set_message_without_payload_in_sequence() -> None:
    b = NetworkMessageBatcher("p")
    b.add(sample(value=1.0))
    b.add(sample("", None), "ua-keepalive")
    (msg,) = b.flush()
    assert [(m["MessageType"], m["SequenceNumber"], m["Payload"]) for m in msg["Messages"]] == [
        ("ua-deltaframe", 1, {"Flow": msg["Messages"][0]["Payload"]["Flow"]}),
        ("ua-keepalive", 2, {}),
    ]


def test_key_frames_every_n_data_set_messages_carry_every_field() -> None:
    last = {"Flow": sample("Flow", 1.0), "Speed": sample("Speed", 50.0)}
    b = NetworkMessageBatcher("p", snapshot=lambda writer: list(last.values()))
    b.key_frames["pump"] = 3
    kinds = []
    for i in range(7):
        last["Flow"] = sample("Flow", float(i))
        b.add(last["Flow"])
        (msg,) = b.flush()
        (ds,) = msg["Messages"]
        kinds.append((ds["MessageType"], sorted(ds["Payload"]), ds["Payload"]["Flow"]["Value"]))
    key = ("ua-keyframe", ["Flow", "Speed"])
    delta = ("ua-deltaframe", ["Flow"])
    assert [k[:2] for k in kinds] == [key, delta, delta, key, delta, delta, key]
    assert [k[2] for k in kinds] == [float(i) for i in range(7)], "the change is on top of the key frame"


def test_a_key_frame_never_exceeds_the_limit() -> None:
    last = [sample(f"F{i}", float(i)) for i in range(200)]
    b = NetworkMessageBatcher("p", max_bytes=4096, snapshot=lambda writer: last)
    b.key_frames["pump"] = 2
    b.add(sample("Other", 1.0, writer="conveyor"))
    b.add(sample("F0", 9.0))
    out = b.flush()
    assert all(len(encode(m)) <= 4096 for m in out)
    pump = [d for m in out for d in m["Messages"] if d["DataSetWriterId"] == "pump"]
    assert [d["MessageType"] for d in pump] == ["ua-deltaframe"], "too big for one message: sent as a delta"


def test_the_message_stamp_does_not_fill_the_timestamp_cache() -> None:
    """Each network message's own `Timestamp` is new: only the samples' shared timestamps are cached."""
    ingest_pubsub._iso_cache.clear()
    b = NetworkMessageBatcher("edge1_opcua_ingest")
    for _ in range(200):
        b.add(sample())
        assert len(b.flush()) == 1
    assert len(ingest_pubsub._iso_cache) == 1  # TS alone, however many messages went out
