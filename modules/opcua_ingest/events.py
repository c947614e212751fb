"""Events and alarms: EventFilter monitored items, ConditionRefresh, events as Part 14 samples."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asyncua import Client, ua

from edgeloop_opcua import resolve_node_id
from edgeloop_runtime import get_logger

from .plan import NodePlan
from .pubsub import Sample
from .where import WhereClause

_log = get_logger(__name__)
_REFRESH_TYPES = {ua.NodeId(2787), ua.NodeId(2788)}  # RefreshStartEventType, RefreshEndEventType
_BASE_EVENT_TYPE = "i=2041"
EventTarget = tuple[str, str, tuple[str, ...]]  # writer, group, field names of the select clauses


def _qualified(element: str) -> ua.QualifiedName:
    """`Name` (namespace 0) or `ns:Name`, one browse path element (OPC Publisher's leading `/` dropped)."""
    head, sep, tail = element.removeprefix("/").partition(":")
    if sep and head.isdigit():
        return ua.QualifiedName(tail, int(head))
    return ua.QualifiedName(element.removeprefix("/"), 0)


def _operand(
    type_id: ua.NodeId, path: tuple[str, ...], attribute: str = "Value", index_range: str | None = None
) -> ua.SimpleAttributeOperand:
    op = ua.SimpleAttributeOperand()
    op.TypeDefinitionId = type_id
    op.BrowsePath = [_qualified(p) for p in path]
    op.AttributeId = getattr(ua.AttributeIds, attribute)
    op.IndexRange = index_range
    return op


_NODE_ID = re.compile(r"^(nsu=[^;]+;|ns=\d+;)?[isgb]=")


def _literal(value: Any, namespaces: list[str]) -> ua.LiteralOperand:
    """A JSON literal as a Variant: node id strings as NodeId, other strings String, integers Int32 (Int64
    when larger), floats Double, booleans Boolean, null a null Variant."""
    if isinstance(value, str) and _NODE_ID.match(value):
        variant = ua.Variant(resolve_node_id(value, namespaces), ua.VariantType.NodeId)
    elif isinstance(value, bool):
        variant = ua.Variant(value, ua.VariantType.Boolean)
    elif isinstance(value, int):
        kind = ua.VariantType.Int32 if -(2**31) <= value < 2**31 else ua.VariantType.Int64
        variant = ua.Variant(value, kind)
    elif isinstance(value, float):
        variant = ua.Variant(value, ua.VariantType.Double)
    elif isinstance(value, str):
        variant = ua.Variant(value, ua.VariantType.String)
    else:
        variant = ua.Variant()
    return ua.LiteralOperand(Value=variant)


def content_filter(
    where: WhereClause, namespaces: list[str], shift: int = 0
) -> list[ua.ContentFilterElement]:
    """OPC Publisher's WhereClause as asyncua ContentFilterElements (element operands moved by `shift`)."""
    out = []
    for element in where.elements:
        operands: list[Any] = []
        for op in element.operands:
            if op.kind == "element":
                operands.append(ua.ElementOperand(Index=(op.index or 0) + shift))
            elif op.kind == "literal":
                operands.append(_literal(op.value, namespaces))
            else:
                type_id = resolve_node_id(op.node_id or _BASE_EVENT_TYPE, namespaces)
                operands.append(
                    _operand(type_id, op.browse_path or (), op.attribute_id or "Value", op.index_range)
                )
        out.append(
            ua.ContentFilterElement(
                FilterOperator=getattr(ua.FilterOperator, element.operator), FilterOperands=operands
            )
        )
    return out


def _where(node: NodePlan, namespaces: list[str]) -> ua.ContentFilter:
    """OfType(the event type) when one other than BaseEventType is named, and the WhereClause: both, or
    either, joined by And."""
    of_type = None
    if node.event_type and node.event_type != _BASE_EVENT_TYPE:
        of_type = ua.ContentFilterElement(
            FilterOperator=ua.FilterOperator.OfType,
            FilterOperands=[
                ua.LiteralOperand(Value=ua.Variant(resolve_node_id(node.event_type, namespaces)))
            ],
        )
    if node.event_where is None:
        return ua.ContentFilter(Elements=[of_type] if of_type else [])
    if of_type is None:
        return ua.ContentFilter(Elements=content_filter(node.event_where, namespaces))
    both = ua.ContentFilterElement(
        FilterOperator=ua.FilterOperator.And,
        FilterOperands=[ua.ElementOperand(Index=1), ua.ElementOperand(Index=2)],
    )
    return ua.ContentFilter(Elements=[both, of_type, *content_filter(node.event_where, namespaces, shift=2)])


def event_item_request(
    nid: ua.NodeId, handle: int, node: NodePlan, namespaces: list[str]
) -> ua.MonitoredItemCreateRequest:
    """A monitored item on a notifier's EventNotifier attribute: EventType first (to drop ConditionRefresh's
    start and end markers), then the select clauses; an event type other than BaseEventType filters OfType,
    and the WhereClause (the advanced form) is the server's filter too."""
    flt = ua.EventFilter()
    base = ua.NodeId(2041)
    flt.SelectClauses = [_operand(base, ("EventType",))] + [
        _operand(resolve_node_id(type_id, namespaces), path) for type_id, path, _name in node.event_selects
    ]
    flt.WhereClause = _where(node, namespaces)
    params = ua.MonitoringParameters()
    params.ClientHandle = handle
    params.SamplingInterval = 0
    params.QueueSize = max(node.queue_size, 1000)  # a burst of alarms (a ConditionRefresh) must not be cut
    params.DiscardOldest = not node.discard_new
    params.Filter = flt
    mir = ua.MonitoredItemCreateRequest()
    mir.ItemToMonitor = ua.ReadValueId(NodeId=nid, AttributeId=ua.AttributeIds.EventNotifier)
    mir.MonitoringMode = ua.MonitoringMode.Reporting
    mir.RequestedParameters = params
    return mir


def _plain(value: Any) -> Any:
    """Event field values the Part 14 encoder takes as they are (node ids as their string form)."""
    if isinstance(value, ua.NodeId):
        return value.to_string()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def on_events(
    targets: dict[int, EventTarget], submit: Callable[[list[Sample]], None]
) -> Callable[[list[Any]], None]:
    """The event callback of a subscription: each event becomes the samples of one `ua-event` message."""

    def handle(events: list[Any]) -> None:
        out: list[Sample] = []
        for event in events:
            target = targets.get(event.ClientHandle)
            if target is None:
                continue
            fields = [v.Value for v in event.EventFields]
            if fields and fields[0] in _REFRESH_TYPES:
                continue
            writer, group, names = target
            when = next((v for v in fields[1:] if isinstance(v, datetime)), None)
            out.extend(
                Sample(writer, group, name, _plain(value), when, None)
                for name, value in zip(names, fields[1:], strict=False)
            )
        if out:
            submit(out)

    return handle


async def condition_refresh(client: Client, subscription_id: int) -> None:
    """Ask the server to send every retained condition again (active alarms after a (re)connect)."""
    try:
        condition_type = client.get_node(ua.NodeId(2782))
        await condition_type.call_method(ua.NodeId(3875), ua.Variant(subscription_id, ua.VariantType.UInt32))
    except Exception as exc:  # a server without conditions answers BadNotSupported / BadMethodInvalid
        _log.warning("ConditionRefresh refused", subscription=subscription_id, error=str(exc))
