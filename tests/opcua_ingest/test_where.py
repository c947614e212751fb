"""EventFilter WhereClause: OPC Publisher's JSON form validated when the file loads, then sent as asyncua's
ContentFilter (the servers themselves filter: tests/opcua_ingest/test_where_e2e.py)."""

from __future__ import annotations

from typing import Any

import pytest
from asyncua import ua

from edgeloop_runtime.errors import ConfigError
from opcua_ingest.events import event_item_request
from opcua_ingest.publishednodes import parse_published_nodes

SEVERITY = {"NodeId": "i=2041", "BrowsePath": ["Severity"]}


def doc(event_filter: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "EndpointUrl": "opc.tcp://127.0.0.24:4840",
            "DataSetWriterId": "alarms",
            "OpcNodes": [{"Id": "i=2253", "EventFilter": event_filter}],
        }
    ]


def where_of(event_filter: dict[str, Any]) -> list[ua.ContentFilterElement]:
    (ep,) = parse_published_nodes(doc(event_filter)).endpoints
    (node,) = ep.subscriptions[0].nodes
    request = event_item_request(ua.NodeId(2253), 1, node, ["http://opcfoundation.org/UA/", "urn:x"])
    elements: list[ua.ContentFilterElement] = request.RequestedParameters.Filter.WhereClause.Elements
    return elements


def test_a_comparison_becomes_an_element_with_an_event_field_and_a_literal() -> None:
    (element,) = where_of(
        {
            "SelectClauses": [{"BrowsePath": ["Severity"]}],
            "WhereClause": {
                "Elements": [
                    {"FilterOperator": "GreaterThanOrEqual", "FilterOperands": [SEVERITY, {"Value": 500}]}
                ]
            },
        }
    )
    assert element.FilterOperator == ua.FilterOperator.GreaterThanOrEqual
    field, literal = element.FilterOperands
    assert isinstance(field, ua.SimpleAttributeOperand)
    assert (field.TypeDefinitionId, [q.Name for q in field.BrowsePath]) == (ua.NodeId(2041), ["Severity"])
    assert field.AttributeId == ua.AttributeIds.Value
    assert isinstance(literal, ua.LiteralOperand) and literal.Value == ua.Variant(500, ua.VariantType.Int32)


def test_element_operands_and_node_id_literals() -> None:
    elements = where_of(
        {
            "SelectClauses": [{"BrowsePath": ["Severity"]}],
            "WhereClause": {
                "Elements": [
                    {"FilterOperator": "Or", "FilterOperands": [{"Index": 1}, {"Index": 2}]},
                    {"FilterOperator": "OfType", "FilterOperands": [{"Value": "nsu=urn:x;i=9341"}]},
                    {
                        "FilterOperator": "Equals",
                        "FilterOperands": [{"BrowsePath": ["/SourceName"]}, {"Value": "Level"}],
                    },
                ]
            },
        }
    )
    assert [e.FilterOperator for e in elements] == [
        ua.FilterOperator.Or,
        ua.FilterOperator.OfType,
        ua.FilterOperator.Equals,
    ]
    assert [op.Index for op in elements[0].FilterOperands] == [1, 2]
    assert elements[1].FilterOperands[0].Value == ua.Variant(ua.NodeId(9341, 1), ua.VariantType.NodeId)
    source, name = elements[2].FilterOperands
    assert [q.Name for q in source.BrowsePath] == ["SourceName"], "OPC Publisher's leading / is dropped"
    assert name.Value == ua.Variant("Level", ua.VariantType.String)


def test_a_type_definition_and_a_where_clause_are_joined_by_and() -> None:
    elements = where_of(
        {
            "TypeDefinitionId": "i=2915",
            "SelectClauses": [{"BrowsePath": ["Severity"]}],
            "WhereClause": {
                "Elements": [
                    {"FilterOperator": "Not", "FilterOperands": [{"Index": 1}]},
                    {"FilterOperator": "LessThan", "FilterOperands": [SEVERITY, {"Value": 100}]},
                ]
            },
        }
    )
    assert [e.FilterOperator for e in elements] == [
        ua.FilterOperator.And,
        ua.FilterOperator.OfType,
        ua.FilterOperator.Not,
        ua.FilterOperator.LessThan,
    ]
    assert [op.Index for op in elements[0].FilterOperands] == [1, 2]
    assert elements[1].FilterOperands[0].Value.Value == ua.NodeId(2915)
    assert elements[2].FilterOperands[0].Index == 3, "the where clause's own references move with it"


def test_an_empty_where_clause_filters_nothing() -> None:
    assert where_of({"SelectClauses": [{"BrowsePath": ["Severity"]}], "WhereClause": {"Elements": []}}) == []


@pytest.mark.parametrize(
    ("elements", "named"),
    [
        pytest.param(
            [{"FilterOperator": "InView", "FilterOperands": [{"Value": "i=1"}]}],
            "InView",
            id="operator-not-for-events",
        ),
        pytest.param(
            [{"FilterOperator": "Equals", "FilterOperands": [SEVERITY]}],
            "takes 2 operands, not 1",
            id="operand-count",
        ),
        pytest.param(
            [{"FilterOperator": "Not", "FilterOperands": [{"Index": 0}]}], "must point to a later", id="cycle"
        ),
        pytest.param(
            [{"FilterOperator": "Not", "FilterOperands": [{"Index": 4}]}],
            "must point to a later",
            id="dangling-index",
        ),
        pytest.param(
            [{"FilterOperator": "IsNull", "FilterOperands": [{"Value": 1, "Index": 1}]}],
            "exactly one of",
            id="two-kinds",
        ),
        pytest.param(
            [{"FilterOperator": "IsNull", "FilterOperands": [{**SEVERITY, "Alias": "s"}]}],
            "Alias",
            id="alias",
        ),
        pytest.param(
            [{"FilterOperator": "IsNull", "FilterOperands": [{"Value": [1, 2]}]}], "Value", id="array-literal"
        ),
    ],
)
def test_a_where_clause_the_module_cannot_send_refuses_the_entry(elements: list[Any], named: str) -> None:
    with pytest.raises(ConfigError, match=rf"OpcNodes\[0\]\.EventFilter\.WhereClause.*{named}"):
        parse_published_nodes(
            doc({"SelectClauses": [{"BrowsePath": ["Severity"]}], "WhereClause": {"Elements": elements}})
        )
