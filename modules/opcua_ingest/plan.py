"""The subscription plan a publishednodes document resolves to: sessions, subscriptions, monitored items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .where import WhereClause

DEFAULT_SAMPLING_MS = 1000.0  # OPC Publisher's default OpcSamplingInterval
DEFAULT_PUBLISHING_MS = 1000.0
MAX_NODES_PER_SUBSCRIPTION = 1000  # OPC Publisher's --npd default

SecurityMode = Literal["None", "Sign", "SignAndEncrypt", "Best"]
WatchdogBehavior = Literal["Diagnostic", "Reset", "FailFast"]
AuthMode = Literal["Anonymous", "UsernamePassword", "Certificate"]
Trigger = Literal["Status", "StatusValue", "StatusValueTimestamp"]
Deadband = Literal["Absolute", "Percent"]


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
