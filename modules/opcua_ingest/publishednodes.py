"""OPC Publisher's publishednodes.json: each field honoured or refused, grouped into subscriptions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edgeloop_runtime.errors import ConfigError

from .schema import HONOURED_ENTRY, HONOURED_NODE, REFUSED_ENTRY, REFUSED_NODE, refusals
from .where import WhereClause

DEFAULT_SAMPLING_MS = 1000.0  # OPC Publisher's default OpcSamplingInterval
DEFAULT_PUBLISHING_MS = 1000.0
MAX_NODES_PER_SUBSCRIPTION = 1000  # OPC Publisher's --npd default

SecurityMode = Literal["None", "Sign", "SignAndEncrypt", "Best"]
# OPC UA security policies the module speaks (asyncua), most secure first; the deprecated ones are refused.
POLICIES = ("Aes256_Sha256_RsaPss", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "None")
_POLICY_URI = "http://opcfoundation.org/UA/SecurityPolicy#"
WatchdogBehavior = Literal["Diagnostic", "Reset", "FailFast"]
_ATTRIBUTES = (
    "NodeId", "NodeClass", "BrowseName", "DisplayName", "Description", "WriteMask", "UserWriteMask",
    "IsAbstract", "Symmetric", "InverseName", "ContainsNoLoops", "EventNotifier", "Value", "DataType",
    "ValueRank", "ArrayDimensions", "AccessLevel", "UserAccessLevel", "MinimumSamplingInterval",
    "Historizing", "Executable", "UserExecutable", "DataTypeDefinition", "RolePermissions",
    "UserRolePermissions", "AccessRestrictions", "AccessLevelEx",
)  # fmt: skip
_INDEX_RANGE = re.compile(r"^\d+(:\d+)?(,\d+(:\d+)?)*$")
AuthMode = Literal["Anonymous", "UsernamePassword", "Certificate"]
Trigger = Literal["Status", "StatusValue", "StatusValueTimestamp"]
Deadband = Literal["Absolute", "Percent"]
HeartbeatBehavior = Literal[
    "WatchdogLKV", "WatchdogLKG", "PeriodicLKV", "PeriodicLKG", "WatchdogLKVWithUpdatedTimestamps",
    "WatchdogLKVDiagnosticsOnly", "PeriodicLKVDropValue", "PeriodicLKGDropValue",
]  # fmt: skip

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$")


def timespan_ms(text: str) -> float:
    """Milliseconds of a .NET TimeSpan string such as `00:00:01` or `00:00:00.250`."""
    m = _TIMESPAN.match(text.strip())
    if not m:
        raise ValueError(f"not a timespan (expected [d.]hh:mm:ss[.fff]): {text!r}")
    days, h, mi, s, frac = m.groups()
    seconds = int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + int(s) + float(f"0.{frac or 0}")
    return seconds * 1000.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# BaseEventType fields (and the condition state every alarm has) selected by the simple form of EventFilter.
SIMPLE_EVENT_FIELDS: tuple[tuple[str, ...], ...] = (
    ("EventId",), ("EventType",), ("SourceNode",), ("SourceName",), ("Time",), ("ReceiveTime",), ("Message",),
    ("Severity",), ("ConditionName",), ("ActiveState", "Id"), ("AckedState", "Id"), ("Retain",),
)  # fmt: skip


class SelectClause(BaseModel):
    """One select clause of OPC Publisher's advanced EventFilter form."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type_definition_id: str = Field(default="i=2041", alias="TypeDefinitionId")
    browse_path: tuple[str, ...] = Field(alias="BrowsePath", min_length=1)
    attribute_id: Literal["Value", "NodeId"] = Field(default="Value", alias="AttributeId")
    index_range: str | None = Field(default=None, alias="IndexRange")
    display_name: str | None = Field(default=None, alias="DisplayName")


class EventFilterModel(BaseModel):
    """OPC Publisher's EventFilter: `TypeDefinitionId` alone (simple form) or `SelectClauses` (advanced)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type_definition_id: str | None = Field(default=None, alias="TypeDefinitionId")
    select_clauses: tuple[SelectClause, ...] | None = Field(default=None, alias="SelectClauses", min_length=1)
    where_clause: WhereClause | None = Field(default=None, alias="WhereClause")

    def where(self) -> WhereClause | None:
        """The where clause to send, None when it has no elements."""
        return self.where_clause if self.where_clause and self.where_clause.elements else None

    def selects(self) -> tuple[tuple[str, tuple[str, ...], str], ...]:
        """(type definition, browse path, field name) per selected field."""
        if self.select_clauses:
            return tuple(
                (c.type_definition_id, c.browse_path, c.display_name or "/".join(c.browse_path))
                for c in self.select_clauses
            )
        return tuple(("i=2041", path, "/".join(path)) for path in SIMPLE_EVENT_FIELDS)


class OpcNode(_Model):
    """One OpcNodes entry."""

    id: str = Field(alias="Id", min_length=1)
    display_name: str | None = Field(default=None, alias="DisplayName")
    field_id: str | None = Field(default=None, alias="DataSetFieldId", min_length=1)
    attribute: str = Field(default="Value", alias="AttributeId")
    index_range: str | None = Field(default=None, alias="IndexRange")
    discard_new: bool = Field(default=False, alias="DiscardNew")
    cyclic: bool = Field(default=False, alias="UseCyclicRead")
    heartbeat_behavior: HeartbeatBehavior = Field(default="WatchdogLKV", alias="HeartbeatBehavior")
    event_filter: EventFilterModel | None = Field(default=None, alias="EventFilter")
    sampling_ms: float | None = Field(default=None, alias="OpcSamplingInterval", ge=0)
    sampling_timespan: str | None = Field(default=None, alias="OpcSamplingIntervalTimespan")
    publishing_ms: float | None = Field(default=None, alias="OpcPublishingInterval", ge=0)
    publishing_timespan: str | None = Field(default=None, alias="OpcPublishingIntervalTimespan")
    heartbeat_s: float | None = Field(default=None, alias="HeartbeatInterval", ge=0)
    heartbeat_timespan: str | None = Field(default=None, alias="HeartbeatIntervalTimespan")
    queue_size: int = Field(default=1, alias="QueueSize", ge=0, le=10000)
    trigger: Trigger = Field(default="StatusValue", alias="DataChangeTrigger")
    deadband_type: Deadband | None = Field(default=None, alias="DeadbandType")
    deadband_value: float | None = Field(default=None, alias="DeadbandValue", ge=0)
    skip_first: bool = Field(default=False, alias="SkipFirst")

    @model_validator(mode="before")
    @classmethod
    def _expanded_node_id(cls, data: Any) -> Any:
        """`ExpandedNodeId` stands in for `Id` (OPC Publisher's backward-compatible spelling)."""
        if isinstance(data, dict) and "Id" not in data and data.get("ExpandedNodeId"):
            return {**data, "Id": data["ExpandedNodeId"]}
        return data

    @field_validator("attribute")
    @classmethod
    def _attribute(cls, v: str) -> str:
        if v not in _ATTRIBUTES:
            raise ValueError(f"AttributeId {v!r} is not an OPC UA attribute (e.g. Value, DisplayName)")
        return v

    @field_validator("index_range")
    @classmethod
    def _range(cls, v: str | None) -> str | None:
        if v is not None and not _INDEX_RANGE.match(v):
            raise ValueError(f"IndexRange {v!r} is not a numeric range (e.g. 1, 0:3, 0:1,2:3)")
        return v

    @field_validator("id")
    @classmethod
    def _node_id_shape(cls, v: str) -> str:
        if not re.match(r"^(nsu=[^;]+;|ns=\d+;)?[isgb]=.+$", v):
            raise ValueError(f"not a NodeId (expected [ns=N;|nsu=URI;]i=|s=|g=|b=...): {v!r}")
        return v


class Entry(_Model):
    """One publishednodes.json entry (an endpoint and a data set writer)."""

    endpoint_url: str = Field(alias="EndpointUrl", pattern=r"^opc\.tcp://.+")
    use_security: bool = Field(default=False, alias="UseSecurity")
    security_mode: SecurityMode | None = Field(default=None, alias="EndpointSecurityMode")
    security_policy: str | None = Field(default=None, alias="EndpointSecurityPolicy")
    auth_mode: AuthMode = Field(default="Anonymous", alias="OpcAuthenticationMode")
    username: str | None = Field(default=None, alias="OpcAuthenticationUsername")
    password: str | None = Field(default=None, alias="OpcAuthenticationPassword", repr=False)
    writer_group: str | None = Field(default=None, alias="DataSetWriterGroup")
    writer_id: str | None = Field(default=None, alias="DataSetWriterId")
    publishing_ms: float | None = Field(default=None, alias="DataSetPublishingInterval", ge=0)
    publishing_timespan: str | None = Field(default=None, alias="DataSetPublishingIntervalTimespan")
    sampling_ms: float | None = Field(default=None, alias="DataSetSamplingInterval", ge=0)
    sampling_timespan: str | None = Field(default=None, alias="DataSetSamplingIntervalTimespan")
    messaging_mode: str | None = Field(default=None, alias="MessagingMode")
    encoding: str | None = Field(default=None, alias="MessageEncoding")
    watchdog_behavior: WatchdogBehavior = Field(default="Reset", alias="DataSetWriterWatchdogBehavior")
    send_keepalive: bool = Field(default=False, alias="SendKeepAliveDataSetMessages")
    key_frame_count: int = Field(default=0, alias="DataSetKeyFrameCount", ge=0)
    item_watchdog: str | None = Field(default=None, alias="OpcNodeWatchdogTimespan")
    item_watchdog_condition: Literal["WhenAnyIsLate", "WhenAllAreLate"] = Field(
        default="WhenAnyIsLate", alias="OpcNodeWatchdogCondition"
    )
    metadata_ms: float | None = Field(default=None, alias="MetaDataUpdateTime", ge=0)
    metadata_timespan: str | None = Field(default=None, alias="MetaDataUpdateTimeTimespan")
    dataset_name: str | None = Field(default=None, alias="DataSetName")
    dataset_description: str | None = Field(default=None, alias="DataSetDescription")
    default_heartbeat_ms: float | None = Field(default=None, alias="DefaultHeartbeatInterval", ge=0)
    default_heartbeat_timespan: str | None = Field(default=None, alias="DefaultHeartbeatIntervalTimespan")
    default_heartbeat_behavior: HeartbeatBehavior | None = Field(
        default=None, alias="DefaultHeartbeatBehavior"
    )
    max_keepalive_count: int | None = Field(default=None, alias="MaxKeepAliveCount", ge=1)
    batch_size: int | None = Field(default=None, alias="BatchSize", ge=1)
    batch_trigger_ms: float | None = Field(default=None, alias="BatchTriggerInterval", ge=0)
    batch_trigger_timespan: str | None = Field(default=None, alias="BatchTriggerIntervalTimespan")
    nodes: list[OpcNode] = Field(alias="OpcNodes", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _legacy_node_id(cls, data: Any) -> Any:
        """OPC Publisher 2.5's form: one node per entry as `"NodeId": {"Identifier": "..."}`."""
        if isinstance(data, dict) and "NodeId" in data and "OpcNodes" not in data:
            node_id = data["NodeId"]
            ident = node_id.get("Identifier") if isinstance(node_id, dict) else node_id
            rest = {k: v for k, v in data.items() if k != "NodeId"}
            return {**rest, "OpcNodes": [{"Id": ident}]}
        return data

    @field_validator("security_policy")
    @classmethod
    def _policy(cls, v: str | None) -> str | None:
        if v is None:
            return v
        name = v.removeprefix(_POLICY_URI)
        if name not in POLICIES:
            raise ValueError(f"security policy {v!r} is refused (supported: {', '.join(POLICIES)})")
        return name

    @field_validator("messaging_mode")
    @classmethod
    def _mode(cls, v: str | None) -> str | None:
        if v in ("Samples", "FullSamples"):
            raise ValueError(
                f"MessagingMode {v} is refused, as OPC Publisher 3.0 refuses it: use PubSub "
                "(or FullNetworkMessages); this module emits OPC UA Part 14 network messages"
            )
        if v not in (None, "PubSub", "FullNetworkMessages"):
            raise ValueError(f"MessagingMode {v!r} is refused (supported: PubSub, FullNetworkMessages)")
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str | None) -> str | None:
        if v is not None and "Reversible" in v:
            raise ValueError(
                f"MessageEncoding {v!r} is refused: reversible encoding (values as Variants with Type and "
                "Body) is not supported; use Json (the non-reversible form, OPC Publisher's default)"
            )
        if v not in (None, "Json"):
            raise ValueError(f"MessageEncoding {v!r} is refused (supported: Json)")
        return v


@dataclass(frozen=True)
class NodePlan:
    """One monitored item, with its defaults resolved."""

    node_id: str
    field: str
    sampling_ms: float
    queue_size: int
    trigger: Trigger
    deadband_type: Deadband | None
    deadband_value: float
    heartbeat_s: float
    skip_first: bool
    attribute: str = "Value"
    index_range: str | None = None
    discard_new: bool = False
    heartbeat_behavior: str = "WatchdogLKV"
    cyclic: bool = False  # read at the sampling interval (UseCyclicRead) instead of monitored
    # Events: (type definition, browse path, field name) per select clause; the event type filtered on.
    event_selects: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    event_type: str | None = None
    event_where: WhereClause | None = None  # the advanced form's WhereClause, sent as the server's filter

    @property
    def is_event(self) -> bool:
        """Whether this node is an event notifier subscribed for events (an EventFilter), not a value."""
        return bool(self.event_selects)


@dataclass(frozen=True)
class SubscriptionPlan:
    """One OPC UA subscription: a data set writer at one publishing interval."""

    writer_id: str
    writer_group: str
    publishing_ms: float
    nodes: tuple[NodePlan, ...]
    send_keepalive: bool = False  # a `ua-keepalive` data set message for each subscription keep-alive
    key_frame_count: int = 0  # every Nth data set message of the writer is a key frame (0: none)
    metadata_ms: float = 0.0  # ua-metadata after each (re)subscription and at this interval (0: none)
    dataset_name: str | None = None
    dataset_description: str | None = None
    item_watchdog_s: float = 0.0  # OpcNodeWatchdogTimespan: items without a value this long are late
    watchdog_all: bool = False  # OpcNodeWatchdogCondition WhenAllAreLate (else any late item fires)
    keepalive_count: int = (
        0  # MaxKeepAliveCount asked of the server (0: from the module's subscriptionKeepaliveS)
    )


@dataclass(frozen=True)
class EndpointPlan:
    """One session: an endpoint with its security and credentials, and its subscriptions."""

    url: str
    security_mode: Literal["None", "SignAndEncrypt", "Sign", "Best"]
    auth_mode: AuthMode
    username: str | None
    password: str | None = field(repr=False)
    subscriptions: tuple[SubscriptionPlan, ...]
    security_policy: str | None = None  # None: the server's most secure endpoint in that mode
    watchdog_behavior: WatchdogBehavior = "Reset"

    @property
    def key(self) -> tuple[str, str, str | None, str, str | None]:
        """What identifies a session: URL, security mode and policy, authentication and user."""
        return (self.url, self.security_mode, self.security_policy, self.auth_mode, self.username)

    def writers(self) -> dict[str, list[str]]:
        """Field names per data set writer id."""
        out: dict[str, list[str]] = {}
        for sub in self.subscriptions:
            out.setdefault(sub.writer_id, []).extend(n.field for n in sub.nodes)
        return out


@dataclass(frozen=True)
class IngestPlan:
    """Everything to subscribe to, grouped into sessions and subscriptions."""

    endpoints: tuple[EndpointPlan, ...] = ()
    refused: tuple[str, ...] = ()  # entries left out, each with the reason
    # OPC Publisher's BatchSize / BatchTriggerInterval (ms): a network message goes when that many values are
    # batched or that long after the last one went; one pair per module (it has one output). None: not set.
    batch_size: int | None = None
    batch_trigger_ms: float | None = None

    @property
    def node_count(self) -> int:
        """Monitored items in total."""
        return sum(len(s.nodes) for e in self.endpoints for s in e.subscriptions)

    def min_publishing_ms(self) -> float:
        """The shortest publishing interval (the default flush interval of the batcher)."""
        values = [s.publishing_ms for e in self.endpoints for s in e.subscriptions]
        return min(values) if values else DEFAULT_PUBLISHING_MS


def _ms(number: float | None, timespan: str | None, default: float) -> float:
    """An interval in ms; the Timespan spelling wins when both are given (as OPC Publisher documents)."""
    if timespan is not None:
        return timespan_ms(timespan)
    if number is not None:
        return number
    return default


def _security(entry: Entry) -> Literal["None", "SignAndEncrypt", "Sign", "Best"]:
    mode = entry.security_mode
    if mode is None:
        if entry.security_policy not in (None, "None"):
            return "SignAndEncrypt"  # a policy asks for security even without UseSecurity
        return "SignAndEncrypt" if entry.use_security else "None"
    return mode


def _plan_entry(entry: Entry, index: int) -> tuple[EndpointPlan, list[str]]:
    errors: list[str] = []
    if entry.auth_mode == "UsernamePassword" and not (entry.username and entry.password is not None):
        errors.append(f"[{index}] OpcAuthenticationMode UsernamePassword needs a username and password")
    if entry.auth_mode == "Certificate" and not entry.username:
        errors.append(
            f"[{index}] OpcAuthenticationMode Certificate needs OpcAuthenticationUsername: the subject "
            "(or CN) of the user certificate in <PKI_DIR>/user/certs"
        )
    writer = entry.writer_id or entry.writer_group or entry.endpoint_url
    group = entry.writer_group or writer
    if _security(entry) == "None" and entry.security_policy not in (None, "None"):
        errors.append(f"[{index}] EndpointSecurityMode None contradicts EndpointSecurityPolicy")
    try:
        default_pub = _ms(entry.publishing_ms, entry.publishing_timespan, DEFAULT_PUBLISHING_MS)
    except ValueError as exc:
        errors.append(f"[{index}] DataSetPublishingIntervalTimespan: {exc}")
        default_pub = DEFAULT_PUBLISHING_MS
    try:
        item_watchdog_s = _ms(None, entry.item_watchdog, 0.0) / 1000.0
    except ValueError as exc:
        errors.append(f"[{index}] OpcNodeWatchdogTimespan: {exc}")
        item_watchdog_s = 0.0
    try:
        metadata_ms = _ms(entry.metadata_ms, entry.metadata_timespan, 0.0)
    except ValueError as exc:
        errors.append(f"[{index}] MetaDataUpdateTimeTimespan: {exc}")
        metadata_ms = 0.0
    try:
        default_sampling = _ms(entry.sampling_ms, entry.sampling_timespan, DEFAULT_SAMPLING_MS)
    except ValueError as exc:
        errors.append(f"[{index}] DataSetSamplingIntervalTimespan: {exc}")
        default_sampling = DEFAULT_SAMPLING_MS
    try:  # DefaultHeartbeatInterval is in ms, a node's HeartbeatInterval in seconds (as in OPC Publisher)
        default_heartbeat_s = _ms(entry.default_heartbeat_ms, entry.default_heartbeat_timespan, 0.0) / 1000.0
    except ValueError as exc:
        errors.append(f"[{index}].DefaultHeartbeatIntervalTimespan: {exc}")
        default_heartbeat_s = 0.0
    by_interval: dict[float, list[NodePlan]] = {}
    for j, node in enumerate(entry.nodes):
        try:
            pub = _ms(node.publishing_ms, node.publishing_timespan, default_pub)
            sampling = _ms(node.sampling_ms, node.sampling_timespan, default_sampling)
            heartbeat = (
                _ms(node.heartbeat_s, None, default_heartbeat_s)
                if node.heartbeat_timespan is None
                else (timespan_ms(node.heartbeat_timespan) / 1000.0)
            )
        except ValueError as exc:
            errors.append(f"[{index}].OpcNodes[{j}]: {exc}")
            continue
        if node.deadband_type and node.deadband_value is None:
            errors.append(f"[{index}].OpcNodes[{j}]: DeadbandType needs a DeadbandValue")
        if node.deadband_type == "Percent" and (node.deadband_value or 0) > 100:
            errors.append(f"[{index}].OpcNodes[{j}]: a Percent deadband is at most 100")
        by_interval.setdefault(pub, []).append(
            NodePlan(
                node_id=node.id,
                field=node.field_id or node.display_name or node.id,
                sampling_ms=sampling,
                queue_size=node.queue_size,
                trigger=node.trigger,
                deadband_type=node.deadband_type,
                deadband_value=node.deadband_value or 0.0,
                heartbeat_s=heartbeat,
                skip_first=node.skip_first,
                attribute=node.attribute,
                index_range=node.index_range,
                discard_new=node.discard_new,
                heartbeat_behavior=(
                    node.heartbeat_behavior
                    if "heartbeat_behavior" in node.model_fields_set
                    or entry.default_heartbeat_behavior is None
                    else entry.default_heartbeat_behavior
                ),
                cyclic=node.cyclic and node.event_filter is None,
                event_selects=node.event_filter.selects() if node.event_filter else (),
                event_type=node.event_filter.type_definition_id if node.event_filter else None,
                event_where=node.event_filter.where() if node.event_filter else None,
            )
        )
    subs: list[SubscriptionPlan] = []
    for pub, nodes in sorted(by_interval.items()):
        for start in range(0, len(nodes), MAX_NODES_PER_SUBSCRIPTION):
            chunk = tuple(nodes[start : start + MAX_NODES_PER_SUBSCRIPTION])
            subs.append(
                SubscriptionPlan(
                    writer, group, pub, chunk, entry.send_keepalive, entry.key_frame_count, metadata_ms,
                    entry.dataset_name, entry.dataset_description, item_watchdog_s,
                    entry.item_watchdog_condition == "WhenAllAreLate", entry.max_keepalive_count or 0,
                )
            )  # fmt: skip
    plan = EndpointPlan(
        url=entry.endpoint_url,
        security_mode=_security(entry),
        auth_mode=entry.auth_mode,
        username=entry.username,
        password=entry.password,
        subscriptions=tuple(subs),
        security_policy=entry.security_policy,
        watchdog_behavior=entry.watchdog_behavior,
    )
    return plan, errors


def _first_error(exc: ValidationError, index: int) -> str:
    err = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    return f"[{index}]{loc}: {err['msg']}"


def _field_refusals(raw: Any, index: int) -> list[str]:
    """Fields of one raw entry (and its nodes) that are refused or unknown."""
    if not isinstance(raw, dict):
        return []
    problems = refusals(raw, HONOURED_ENTRY, REFUSED_ENTRY, f"[{index}]")
    nodes = raw.get("OpcNodes")
    for j, node in enumerate(nodes if isinstance(nodes, list) else []):
        if isinstance(node, dict):
            problems += refusals(node, HONOURED_NODE, REFUSED_NODE, f"[{index}].OpcNodes[{j}]")
    return problems


def parse_published_nodes(doc: Any, origin: str = "publishedNodes") -> IngestPlan:
    """Validate a publishednodes.json document and group it.

    An entry with a problem (a refused field, a bad value, a field name that repeats in its writer) is left
    out, with its reason in `IngestPlan.refused`, and the rest is served. ConfigError, naming every problem,
    only when nothing at all can be served.
    """
    if not isinstance(doc, list):
        raise ConfigError("expected a JSON array of endpoint entries", field=origin)
    refused: list[str] = []
    sessions: dict[tuple[str, str, str | None, str, str | None], list[SubscriptionPlan]] = {}
    firsts: dict[tuple[str, str, str | None, str, str | None], EndpointPlan] = {}
    fields_seen: dict[str, set[str]] = {}
    batching: dict[str, Any] = {}
    for i, raw in enumerate(doc):
        problems = _field_refusals(raw, i)
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            refused += [*problems, _first_error(exc, i)]
            continue
        plan, more = _plan_entry(entry, i)
        problems += more + _field_clashes(plan, fields_seen) + _batching(entry, i, batching)
        if problems:
            refused += problems
            continue
        batching.update(_batch_fields(entry))
        for writer, names in plan.writers().items():
            fields_seen.setdefault(writer, set()).update(names)
        firsts.setdefault(plan.key, plan)
        sessions.setdefault(plan.key, []).extend(plan.subscriptions)
    endpoints = [
        replace(firsts[key], subscriptions=_merge_subscriptions(subs)) for key, subs in sessions.items()
    ]
    if refused and not endpoints:
        raise ConfigError(
            "; ".join(refused[:10]) + (f" (and {len(refused) - 10} more)" if len(refused) > 10 else ""),
            field=origin,
        )
    return IngestPlan(
        tuple(endpoints), tuple(refused), batching.get("BatchSize"), batching.get("BatchTriggerInterval")
    )


def _batch_fields(entry: Entry) -> dict[str, Any]:
    """The batching fields an entry sets (BatchTriggerInterval in ms, from either spelling)."""
    out: dict[str, Any] = {}
    if entry.batch_size is not None:
        out["BatchSize"] = entry.batch_size
    if entry.batch_trigger_timespan is not None or entry.batch_trigger_ms is not None:
        out["BatchTriggerInterval"] = _ms(entry.batch_trigger_ms, entry.batch_trigger_timespan, 0.0)
    return out


def _batching(entry: Entry, index: int, first: dict[str, Any]) -> list[str]:
    """An entry whose BatchSize / BatchTriggerInterval differ from an earlier entry's is refused: the module
    batches its one output once, for every writer."""
    try:
        mine = _batch_fields(entry)
    except ValueError as exc:
        return [f"[{index}].BatchTriggerIntervalTimespan: {exc}"]
    return [
        f"[{index}].{name}: refused, {value!r} differs from {first[name]!r} set by an earlier entry "
        "(batching is one setting for the module's one output)"
        for name, value in mine.items()
        if name in first and first[name] != value
    ]


def _merge_subscriptions(subs: list[SubscriptionPlan]) -> tuple[SubscriptionPlan, ...]:
    """Entries that repeat a writer id and interval on one endpoint share its subscription."""
    merged: dict[tuple[str, float], list[NodePlan]] = {}
    firsts: dict[tuple[str, float], SubscriptionPlan] = {}
    for s in subs:
        merged.setdefault((s.writer_id, s.publishing_ms), []).extend(s.nodes)
        firsts.setdefault((s.writer_id, s.publishing_ms), s)
    return tuple(
        replace(firsts[key], nodes=tuple(nodes[start : start + MAX_NODES_PER_SUBSCRIPTION]))
        for key, nodes in merged.items()
        for start in range(0, len(nodes), MAX_NODES_PER_SUBSCRIPTION)
    )


def _field_clashes(plan: EndpointPlan, seen: dict[str, set[str]]) -> list[str]:
    """A field name (DataSetFieldId or DisplayName) must be unique within its data set writer (the asset)."""
    errors = []
    for writer, fields in plan.writers().items():
        names = set(seen.get(writer, ()))
        for name in fields:
            if name in names:
                errors.append(f"DataSetWriterId {writer!r}: field {name!r} appears twice")
            names.add(name)
    return errors


def read_published_nodes_file(path: Path) -> Any:
    """The JSON document in the file named by PUBLISHED_NODES_FILE, unvalidated."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", field="PUBLISHED_NODES_FILE") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            field="PUBLISHED_NODES_FILE",
        ) from exc


def write_published_nodes_file(path: Path, doc: list[Any]) -> None:
    """Persist a document (the configuration methods' changes) atomically, as OPC Publisher keeps its file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_published_nodes_file(path: Path) -> IngestPlan:
    """Read and validate the file named by PUBLISHED_NODES_FILE."""
    return parse_published_nodes(read_published_nodes_file(path), origin="PUBLISHED_NODES_FILE")
