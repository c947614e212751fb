"""publishednodes.json parsing and grouping into sessions and subscriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeloop_runtime.errors import ConfigError
from opcua_ingest.entries import timespan_ms
from opcua_ingest.publishednodes import load_published_nodes_file, parse_published_nodes

EP = "opc.tcp://127.0.0.1:4840"


def entry(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "EndpointUrl": EP,
        "DataSetWriterId": "pump",
        "OpcNodes": [{"Id": "ns=2;s=Pump.Flow"}],
    }
    base.update(kw)
    return base


def test_defaults_follow_opc_publisher() -> None:
    plan = parse_published_nodes([entry()])
    (ep,) = plan.endpoints
    (sub,) = ep.subscriptions
    (node,) = sub.nodes
    assert (ep.security_mode, ep.auth_mode) == ("None", "Anonymous")
    assert sub.publishing_ms == 1000.0 and node.sampling_ms == 1000.0
    assert (node.queue_size, node.trigger, node.heartbeat_s, node.skip_first) == (
        1,
        "StatusValue",
        0.0,
        False,
    )
    assert node.field == "ns=2;s=Pump.Flow", "DisplayName defaults to the node id"


def test_one_subscription_per_writer_and_publishing_interval_one_session_per_endpoint() -> None:
    doc = [
        entry(DataSetWriterId="pump", DataSetPublishingInterval=100, OpcNodes=[
            {"Id": "nsu=urn:x;s=A", "DisplayName": "A"},
            {"Id": "nsu=urn:x;s=B", "DisplayName": "B", "OpcPublishingInterval": 500},
        ]),
        entry(DataSetWriterId="crusher", OpcNodes=[{"Id": "i=2258", "DisplayName": "T"}]),
        entry(DataSetWriterId="pump", DataSetPublishingInterval=100,
              OpcNodes=[{"Id": "ns=2;s=C", "DisplayName": "C"}]),
        entry(EndpointUrl="opc.tcp://other:4840", OpcNodes=[{"Id": "ns=2;s=D", "DisplayName": "D"}],
              DataSetWriterId="pump2"),
    ]  # fmt: skip
    plan = parse_published_nodes(doc)
    assert len(plan.endpoints) == 2
    subs = {
        (s.writer_id, s.publishing_ms): [n.field for n in s.nodes] for s in plan.endpoints[0].subscriptions
    }
    assert subs == {("pump", 100.0): ["A", "C"], ("pump", 500.0): ["B"], ("crusher", 1000.0): ["T"]}
    assert plan.node_count == 5
    assert plan.min_publishing_ms() == 100.0


def test_large_writers_are_split_at_1000_nodes() -> None:
    nodes = [{"Id": f"ns=2;s=T{i}", "DisplayName": f"T{i}"} for i in range(2500)]
    (ep,) = parse_published_nodes([entry(OpcNodes=nodes)]).endpoints
    assert [len(s.nodes) for s in ep.subscriptions] == [1000, 1000, 500]


@pytest.mark.parametrize(
    ("text", "ms"),
    [pytest.param("00:00:01", 1000.0, id="1s"), pytest.param("00:00:00.250", 250.0, id="250ms"),
     pytest.param("1.00:00:00", 86_400_000.0, id="1day")],
)  # fmt: skip
def test_timespans(text: str, ms: float) -> None:
    assert timespan_ms(text) == ms


def test_timespan_fields_and_security_and_credentials() -> None:
    doc = [entry(
        UseSecurity=True, OpcAuthenticationMode="UsernamePassword", OpcAuthenticationUsername="op",
        OpcAuthenticationPassword="pw", DataSetPublishingIntervalTimespan="00:00:00.200",
        OpcNodes=[{"Id": "ns=2;s=A", "OpcSamplingIntervalTimespan": "00:00:00.100", "HeartbeatInterval": 5,
                   "DeadbandType": "Percent", "DeadbandValue": 2.5, "SkipFirst": True, "QueueSize": 10,
                   "DataChangeTrigger": "StatusValueTimestamp"}],
    )]  # fmt: skip
    (ep,) = parse_published_nodes(doc).endpoints
    assert (ep.security_mode, ep.username, ep.password) == ("SignAndEncrypt", "op", "pw")
    assert "pw" not in repr(ep)
    node = ep.subscriptions[0].nodes[0]
    assert ep.subscriptions[0].publishing_ms == 200.0 and node.sampling_ms == 100.0
    assert (node.heartbeat_s, node.deadband_type, node.deadband_value, node.skip_first, node.queue_size) == (
        5.0, "Percent", 2.5, True, 10,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param({"EndpointUrl": EP}, "JSON array", id="not-a-list"),
        pytest.param([{"OpcNodes": [{"Id": "i=1"}]}], "EndpointUrl", id="no-endpoint"),
        pytest.param([entry(EndpointUrl="http://x")], "EndpointUrl", id="wrong-scheme"),
        pytest.param([entry(OpcNodes=[])], "OpcNodes", id="no-nodes"),
        pytest.param([entry(OpcNodes=[{"Id": "Pump.Flow"}])], "not a NodeId", id="bad-node-id"),
        pytest.param(
            [entry(OpcNodes=[{"Id": "i=1", "OpcSamplingInterval": "fast"}])],
            "OpcSamplingInterval",
            id="wrong-type",
        ),
        pytest.param(
            [entry(OpcNodes=[{"Id": "i=1", "DeadbandType": "Absolute"}])],
            "DeadbandValue",
            id="deadband-without-value",
        ),
        pytest.param([entry(OpcAuthenticationMode="UsernamePassword")], "username", id="no-credentials"),
        pytest.param(
            [entry(OpcNodes=[{"Id": "i=1", "DisplayName": "X"}, {"Id": "i=2", "DisplayName": "X"}])],
            "appears twice",
            id="duplicate-field",
        ),
        pytest.param([entry(DataSetPublishingIntervalTimespan="soon")], "timespan", id="bad-timespan"),
    ],
)
def test_invalid_documents_are_refused_with_a_clear_reason(doc: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_published_nodes(doc)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_published_nodes([entry(EndpointUrl="x"), entry(OpcNodes=[{"Id": "bad"}])])
    assert "[0]" in str(err.value) and "[1]" in str(err.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_published_nodes_file(tmp_path / "missing.json")
    bad = tmp_path / "pn.json"
    bad.write_text('[{"EndpointUrl": ')
    with pytest.raises(ConfigError, match=r"not valid JSON \(line 1"):
        load_published_nodes_file(bad)
    bad.write_text(json.dumps([entry()]))
    assert load_published_nodes_file(bad).node_count == 1
