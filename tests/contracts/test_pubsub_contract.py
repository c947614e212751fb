"""The shared OPC UA PubSub contract: one status rule every reader uses, one decoder with clear refusals, and
the encoder that gives opcua_ingest's bytes back."""

from __future__ import annotations

import json

import pytest

from anomaly_filter.telemetry import parse_network_message
from edgeloop_contracts import pubsub
from edgeloop_contracts.registry import CONTRACTS
from edgeloop_runtime.errors import ContractError
from inference.models.metadata import AssetSpec, WindowSpec
from inference.sensor.windows import WindowAssembler


@pytest.mark.parametrize(
    ("code", "symbol", "expected"),
    [
        pytest.param(None, None, "good", id="no-status-is-good"),
        pytest.param(0, "Good", "good", id="good-code"),
        pytest.param(0x40000000, None, "uncertain", id="uncertain-code-alone"),
        pytest.param(0x408F0000, "UncertainLastUsableValue", "uncertain", id="uncertain-last-usable"),
        pytest.param(0x80000000, None, "bad", id="bad-code-alone"),
        pytest.param(0x80310000, "BadNoCommunication", "bad", id="bad-no-communication"),
        pytest.param(0xC0000000, None, "bad", id="reserved-severity-reads-bad"),
        pytest.param(None, "UncertainInitialValue", "uncertain", id="uncertain-symbol-alone"),
        pytest.param(None, "badSensorFailure", "bad", id="symbol-prefix-any-case"),
        pytest.param(0, "BadSensorFailure", "good", id="the-code-decides-over-the-symbol"),
    ],
)
def test_status_quality_follows_the_part4_severity_bits(
    code: int | None, symbol: str | None, expected: str
) -> None:
    assert pubsub.quality(code, symbol) == expected


def _message(status: dict[str, object] | None) -> bytes:
    rows = []
    for i in range(3):
        payload: dict[str, object] = {}
        for name in ("Flow", "Speed"):
            dv: dict[str, object] = {"Value": 1.0 + i, "SourceTimestamp": f"2027-01-15T08:00:0{i}.000Z"}
            if status is not None and i == 2 and name == "Flow":
                dv["StatusCode"] = status
            payload[name] = dv
        rows.append({"DataSetWriterId": "pump", "MessageType": "ua-deltaframe", "Payload": payload})
    return json.dumps(
        {"MessageId": "m1", "MessageType": "ua-data", "PublisherId": "p", "Messages": rows}
    ).encode()


@pytest.mark.parametrize(
    "status",
    [
        pytest.param({"Code": 0x40000000}, id="uncertain-by-code-only"),
        pytest.param({"Symbol": "UncertainLastUsableValue"}, id="uncertain-by-symbol-only"),
    ],
)
def test_inference_and_anomaly_filter_both_read_an_uncertain_value_as_uncertain(
    status: dict[str, object],
) -> None:
    """The case they disagreed on: anomaly_filter read a Code-only Uncertain as Good (it checked bit 31 only),
    inference as uncertain."""
    asm = WindowAssembler(
        WindowSpec(length=3, stride=1, width=2), {"pump": AssetSpec(fields=["Flow", "Speed"], index=0)}, {}
    )
    (window,) = asm.feed(_message(status), None)
    last = [s for s in parse_network_message(_message(status)) if s.field == "Flow"][-1]
    assert (window.quality, last.good, last.status.startswith("Uncertain")) == ("uncertain", True, True)


def test_a_message_without_a_status_is_good_for_both_readers() -> None:
    asm = WindowAssembler(
        WindowSpec(length=3, stride=1, width=2), {"pump": AssetSpec(fields=["Flow", "Speed"], index=0)}, {}
    )
    (window,) = asm.feed(_message(None), None)
    assert window.quality == "good"
    assert {(s.good, s.status) for s in parse_network_message(_message(None))} == {(True, "Good")}


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        pytest.param(b'{"Messages": {}}', "$.Messages", id="messages-not-a-list"),
        pytest.param(b'{"Messages": [{"Payload": {}}]}', "DataSetWriterId", id="no-writer-id"),
        pytest.param(
            b'{"Messages": [{"DataSetWriterId": true}]}', "$.Messages[0].DataSetWriterId", id="bool-writer"
        ),
        pytest.param(
            b'{"Messages": [{"DataSetWriterId": "a", "Payload": {"F": {"StatusCode": {"Code": "x"}}}}]}',
            "$.Messages[0].Payload[...].StatusCode.Code",
            id="status-code-not-a-number",
        ),
        pytest.param(b'{"Messages": [', "not valid UTF-8 JSON", id="truncated"),
        pytest.param(
            b'{"Messages": [{"DataSetWriterId": "a", "Payload": {"F": {"Value": NaN}}}]}', "JSON", id="nan"
        ),
    ],
)
def test_a_message_that_breaks_the_contract_is_a_contract_error_naming_where(raw: bytes, names: str) -> None:
    with pytest.raises(ContractError) as err:
        pubsub.decode(raw)
    assert names in str(err.value)


def test_parsed_json_is_refused_as_the_bytes_are() -> None:
    with pytest.raises(ContractError, match=r"\$\.Messages\[0\]\.DataSetWriterId"):
        pubsub.from_builtins({"Messages": [{"DataSetWriterId": True}]})


def test_a_message_round_trips_byte_for_byte_through_the_models() -> None:
    sent = {
        "MessageId": "m1",
        "MessageType": "ua-data",
        "PublisherId": "edge1_opcua_ingest",
        "Messages": [
            {
                "DataSetWriterId": "pump",
                "DataSetWriterGroup": "plant",
                "SequenceNumber": 7,
                "MessageType": "ua-deltaframe",
                "Timestamp": "2027-01-15T08:00:00.100Z",
                "Payload": {
                    "Flow": {
                        "Value": 1e16,
                        "SourceTimestamp": None,
                        "ServerTimestamp": "2027-01-15T08:00:00.000Z",
                    },
                    "Speed": {
                        "Value": None,
                        "SourceTimestamp": "2027-01-15T08:00:00.000Z",
                        "ServerTimestamp": "2027-01-15T08:00:00.000Z",
                        "StatusCode": {"Code": 2150891520, "Symbol": "BadNoCommunication"},
                    },
                    "Tag": {"Value": "é\u2028", "SourceTimestamp": None, "ServerTimestamp": None},
                },
            },
            {"DataSetWriterId": "pump", "MessageType": "ua-keepalive", "Payload": {}},
        ],
    }
    raw = json.dumps(sent, separators=(",", ":"), ensure_ascii=False).encode()
    assert pubsub.encode(pubsub.decode(raw)) == raw


def test_the_contract_is_registered_as_a_plain_json_body() -> None:
    info = CONTRACTS["opcua-pubsub"]
    assert (info.model, info.enveloped, info.content_type) == (
        pubsub.NetworkMessage,
        False,
        "application/json",
    )
