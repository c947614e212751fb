"""The entries and nodes of publishednodes.json as pydantic models: types, ranges, spellings."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .plan import AuthMode, Deadband, SecurityMode, Trigger, WatchdogBehavior
from .where import WhereClause

# OPC UA security policies the module speaks (asyncua), most secure first; the deprecated ones are refused.
POLICIES = ("Aes256_Sha256_RsaPss", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "None")
_POLICY_URI = "http://opcfoundation.org/UA/SecurityPolicy#"
_ATTRIBUTES = (
    "NodeId", "NodeClass", "BrowseName", "DisplayName", "Description", "WriteMask", "UserWriteMask",
    "IsAbstract", "Symmetric", "InverseName", "ContainsNoLoops", "EventNotifier", "Value", "DataType",
    "ValueRank", "ArrayDimensions", "AccessLevel", "UserAccessLevel", "MinimumSamplingInterval",
    "Historizing", "Executable", "UserExecutable", "DataTypeDefinition", "RolePermissions",
    "UserRolePermissions", "AccessRestrictions", "AccessLevelEx",
)  # fmt: skip
_INDEX_RANGE = re.compile(r"^\d+(:\d+)?(,\d+(:\d+)?)*$")
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
