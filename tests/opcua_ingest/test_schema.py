"""Every publishednodes.json field is honoured or refused by name; one bad entry never discards the rest."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from edgeloop_runtime.errors import ConfigError
from opcua_ingest.app import IngestState, _reported
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.schema import HONOURED_ENTRY, HONOURED_NODE, REFUSED_ENTRY, REFUSED_NODE
from opcua_ingest.service import IngestStats

EP = "opc.tcp://127.0.0.1:4840"
README = Path(__file__).resolve().parents[2] / "modules" / "opcua_ingest" / "README.md"


def entry(**kw: Any) -> dict[str, Any]:
    return {"EndpointUrl": EP, "DataSetWriterId": "pump", "OpcNodes": [{"Id": "ns=2;s=Pump.Flow"}], **kw}


def node_of(doc: list[dict[str, Any]]) -> Any:
    return parse_published_nodes(doc).endpoints[0].subscriptions[0].nodes[0]


def test_the_readme_table_names_every_field_the_code_knows() -> None:
    text = README.read_text()
    found = re.findall(r"^\| `(\w+)` \| (honoured|refused)", text, re.M)
    rows = dict(found)
    assert all(rows[name] == status for name, status in found), "a field in both tables has one status"
    assert not (HONOURED_ENTRY | HONOURED_NODE) & (set(REFUSED_ENTRY) | set(REFUSED_NODE)), "never both"
    for name in HONOURED_ENTRY | HONOURED_NODE:
        assert rows.get(name) == "honoured", name
    for name in set(REFUSED_ENTRY) | set(REFUSED_NODE):
        assert name in rows, name


def test_data_set_sampling_interval_is_milliseconds_and_nodes_override_it() -> None:
    doc = [entry(DataSetSamplingInterval=100, OpcNodes=[{"Id": "i=1", "DisplayName": "A"},
                 {"Id": "i=2", "DisplayName": "B", "OpcSamplingInterval": 250}])]  # fmt: skip
    nodes = parse_published_nodes(doc).endpoints[0].subscriptions[0].nodes
    assert [n.sampling_ms for n in nodes] == [100.0, 250.0]
    assert node_of([entry(DataSetSamplingIntervalTimespan="00:00:00.050")]).sampling_ms == 50.0


def test_a_timespan_wins_over_the_milliseconds_as_opc_publisher_documents() -> None:
    doc = [entry(DataSetPublishingInterval=100, DataSetPublishingIntervalTimespan="00:00:02",
                 OpcNodes=[{"Id": "i=1", "OpcSamplingInterval": 10, "OpcSamplingIntervalTimespan": "00:00:00.5"}])]  # fmt: skip
    (ep,) = parse_published_nodes(doc).endpoints
    assert ep.subscriptions[0].publishing_ms == 2000.0 and ep.subscriptions[0].nodes[0].sampling_ms == 500.0


def test_the_legacy_node_id_form_and_expanded_node_id() -> None:
    legacy = {"EndpointUrl": EP, "UseSecurity": False, "NodeId": {"Identifier": "ns=2;s=Pump.Flow"}}
    assert node_of([legacy]).node_id == "ns=2;s=Pump.Flow"
    expanded = entry(OpcNodes=[{"ExpandedNodeId": "nsu=urn:x;s=Speed"}])
    assert node_of([expanded]).node_id == "nsu=urn:x;s=Speed"


def test_field_names_prefer_data_set_field_id_then_display_name() -> None:
    doc = [entry(OpcNodes=[{"Id": "i=1", "DisplayName": "Flow", "DataSetFieldId": "flow_m3h"},
                           {"Id": "i=2", "DisplayName": "Speed"}, {"Id": "i=3"}])]  # fmt: skip
    nodes = parse_published_nodes(doc).endpoints[0].subscriptions[0].nodes
    assert [n.field for n in nodes] == ["flow_m3h", "Speed", "i=3"]


def test_attribute_index_range_and_discard_new_reach_the_plan() -> None:
    node = node_of([entry(OpcNodes=[{"Id": "i=1", "AttributeId": "DisplayName"}])])
    assert (node.attribute, node.index_range, node.discard_new) == ("DisplayName", None, False)
    node = node_of([entry(OpcNodes=[{"Id": "i=1", "IndexRange": "1:2", "DiscardNew": True, "QueueSize": 5}])])
    assert (node.attribute, node.index_range, node.discard_new, node.queue_size) == ("Value", "1:2", True, 5)


@pytest.mark.parametrize(
    ("mode", "ok"),
    [("PubSub", True), ("FullNetworkMessages", True), ("Samples", False), ("FullSamples", False)],
)
def test_messaging_modes(mode: str, ok: bool) -> None:
    if ok:
        assert parse_published_nodes([entry(MessagingMode=mode, MessageEncoding="Json")]).endpoints
        return
    with pytest.raises(ConfigError, match=f"MessagingMode {mode} is refused.*use PubSub"):
        parse_published_nodes([entry(MessagingMode=mode)])


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        pytest.param({"UseReverseConnect": True}, "UseReverseConnect", id="reverse-connect"),
        pytest.param(
            {"DataSetWriterWatchdogBehavior": "ExitProcess"},
            "DataSetWriterWatchdogBehavior",
            id="exit-process",
        ),
        pytest.param({"MessageEncoding": "Uadp"}, "MessageEncoding", id="uadp"),
        pytest.param({"MessageEncoding": "JsonReversible"}, "MessageEncoding.*reversible", id="reversible"),
        pytest.param({"MessageEncoding": "IsReversible"}, "MessageEncoding.*reversible", id="is-reversible"),
        pytest.param({"EndpointSecurityPolicy": "Basic128Rsa15"}, "Basic128Rsa15", id="deprecated-policy"),
        pytest.param(
            {"OpcAuthenticationMode": "Certificate"},
            "Certificate needs OpcAuthenticationUsername",
            id="x509-user-without-subject",
        ),
        pytest.param({"UseSecuriti": True}, "UseSecuriti.*not a field", id="typo"),
        pytest.param(
            {
                "OpcNodes": [
                    {
                        "Id": "i=2253",
                        "EventFilter": {
                            "WhereClause": {
                                "Elements": [
                                    {"FilterOperator": "InView", "FilterOperands": [{"Value": "i=1"}]}
                                ]
                            }
                        },
                    }
                ]
            },
            r"OpcNodes\[0\]\.EventFilter\.WhereClause.*InView",
            id="where-clause-operator",
        ),
        pytest.param(
            {"OpcNodes": [{"Id": "i=1", "HeartbeatBehavior": "Reserved"}]},
            "HeartbeatBehavior",
            id="reserved-heartbeat",
        ),
        pytest.param({"OpcNodes": [{"Id": "i=1", "AttributeId": "Colour"}]}, "AttributeId", id="attribute"),
        pytest.param({"OpcNodes": [{"Id": "i=1", "IndexRange": "one"}]}, "IndexRange", id="index-range"),
    ],
)
def test_what_is_not_honoured_is_refused_naming_the_field(extra: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_published_nodes([entry(**extra)])


def test_off_values_of_refused_fields_are_accepted_as_opc_publisher_writes_them() -> None:
    doc = [entry(UseReverseConnect=False, DataSetFetchDisplayNames=False, MetaDataUpdateTime=0,
                 OpcNodes=[{"Id": "i=1", "RegisterNode": False, "FetchDisplayName": False}])]  # fmt: skip
    assert parse_published_nodes(doc).node_count == 1


def test_one_refused_entry_leaves_the_rest_served_and_says_why() -> None:
    doc = [
        entry(DataSetWriterId="pump"),
        entry(DataSetWriterId="crusher", EndpointSecurityPolicy="Basic256"),
        entry(
            DataSetWriterId="conveyor",
            OpcNodes=[{"Id": "i=7", "EventFilter": {"WhereClause": {"Elements": [{}]}}}],
        ),
    ]
    plan = parse_published_nodes(doc)
    assert [s.writer_id for e in plan.endpoints for s in e.subscriptions] == ["pump"]
    assert len(plan.refused) == 2
    assert "[1]" in plan.refused[0] and "Basic256" in plan.refused[0]
    assert plan.refused[1].startswith("[2].OpcNodes[0].EventFilter.WhereClause")


def test_leaving_the_policy_out_asks_for_the_servers_most_secure_endpoint() -> None:
    (ep,) = parse_published_nodes([entry(UseSecurity=True)]).endpoints
    assert (ep.security_mode, ep.security_policy) == ("SignAndEncrypt", None)
    (ep,) = parse_published_nodes([entry(EndpointSecurityMode="Best")]).endpoints
    assert (ep.security_mode, ep.security_policy) == ("Best", None)
    policy = "http://opcfoundation.org/UA/SecurityPolicy#Aes256_Sha256_RsaPss"
    (ep,) = parse_published_nodes(
        [entry(EndpointSecurityPolicy=policy, EndpointSecurityMode="Sign")]
    ).endpoints
    assert (ep.security_mode, ep.security_policy) == ("Sign", "Aes256_Sha256_RsaPss")


def test_refused_entries_are_visible_in_the_reported_properties() -> None:
    plan = parse_published_nodes([entry(), entry(DataSetWriterId="x", UseReverseConnect=True)])
    # only what _reported reads of the module state (the rest is metrics and sessions)
    state = SimpleNamespace(
        plan=plan, stats=IngestStats(), plan_error=None, sessions={}, last_change=None, pki=None
    )
    published = _reported(cast(IngestState, state), 0.0, 0.0)["publishedNodes"]
    assert published["status"] == "partial" and published["nodes"] == 1
    assert published["refused"] == [
        "[1].UseReverseConnect: refused, reverse connect is not supported (value True)"
    ]


def test_heartbeat_behavior_reaches_the_plan() -> None:
    node = node_of(
        [entry(OpcNodes=[{"Id": "i=1", "HeartbeatInterval": 2, "HeartbeatBehavior": "PeriodicLKG"}])]
    )
    assert (node.heartbeat_s, node.heartbeat_behavior) == (2.0, "PeriodicLKG")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("DataSetRouting", "UseBrowseNames", id="routing"),
        pytest.param("PublisherId", "line-7", id="publisher-id"),
        pytest.param("WriterGroupMessageTtlTimepan", "00:01:00", id="ttl-as-opc-publisher-spells-it"),
    ],
)
def test_fields_of_the_newer_entry_model_are_refused_by_name_not_as_unknown(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"\[0\]\.{field}: refused, (?!not a field)"):
        parse_published_nodes([entry(**{field: value})])


def test_informational_fields_of_the_newer_entry_model_are_accepted() -> None:
    doc = [entry(LastChangeDateTime="2026-12-05T05:00:00Z", WriterGroupRootNodeId="i=85", WriterGroupType="i=58",
                 WriterGroupProperties={"site": "north"}, DataSetRouting="None", MetaDataRetention=False)]  # fmt: skip
    assert parse_published_nodes(doc).node_count == 1


def test_default_heartbeat_fields_are_the_nodes_defaults() -> None:
    doc = [entry(DefaultHeartbeatInterval=2500, DefaultHeartbeatBehavior="PeriodicLKG",
                 OpcNodes=[{"Id": "i=1", "DisplayName": "A"},
                           {"Id": "i=2", "DisplayName": "B", "HeartbeatInterval": 7, "HeartbeatBehavior": "WatchdogLKV"}])]  # fmt: skip
    a, b = parse_published_nodes(doc).endpoints[0].subscriptions[0].nodes
    assert (a.heartbeat_s, a.heartbeat_behavior) == (2.5, "PeriodicLKG"), (
        "ms on the entry, the node's defaults"
    )
    assert (b.heartbeat_s, b.heartbeat_behavior) == (7.0, "WatchdogLKV"), "a node's own fields win"
    (c,) = (
        parse_published_nodes([entry(DefaultHeartbeatIntervalTimespan="00:00:03")])
        .endpoints[0]
        .subscriptions[0]
        .nodes
    )
    assert c.heartbeat_s == 3.0
