"""Persistent MQTT sessions keyed by client id `{device}/{module}`: subscriptions, packet ids, in-flight."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeloop_dev.hub.mqtt.server import MqttConnection
from edgeloop_dev.hub.store import Store, StoredMessage
from edgeloop_dev.hub.topics import DESIRED_FILTER, METHODS_FILTER, filter_matches


@dataclass(eq=False, slots=True)
class Session:
    """One client's session; it outlives its connections (the SDK never re-subscribes)."""

    client_id: str
    device: str
    module: str
    filters: set[str] = field(default_factory=set)
    conn: MqttConnection | None = None
    inflight: dict[int, StoredMessage] = field(default_factory=dict)
    _next_pid: int = 0
    inputs_subscribed: bool = False  # a filter covers the module's inputs (edgeHub's ModuleMessages)
    methods_subscribed: bool = False  # direct-method requests may be sent
    desired_subscribed: bool = False  # desired-property patches may be pushed

    def __post_init__(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Recompute what the filters cover (after SUBSCRIBE/UNSUBSCRIBE), once rather than per message."""
        probe = f"devices/{self.device}/modules/{self.module}/inputs/x/y"
        self.inputs_subscribed = any(filter_matches(f, probe) for f in self.filters)
        self.methods_subscribed = METHODS_FILTER in self.filters or any(
            filter_matches(f, "$iothub/methods/POST/x/y") for f in self.filters
        )
        self.desired_subscribed = DESIRED_FILTER in self.filters or any(
            filter_matches(f, "$iothub/twin/PATCH/properties/desired/x") for f in self.filters
        )

    def alloc_pid(self) -> int:
        """Next free packet id (1..65535) not used by an in-flight delivery."""
        for _ in range(65535):
            self._next_pid = self._next_pid % 65535 + 1
            if self._next_pid not in self.inflight:
                return self._next_pid
        raise RuntimeError("no free packet id")


class Sessions:
    """All sessions; subscriptions are persisted so they survive hub restarts too."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._by_id: dict[str, Session] = {}
        for client_id, filters in store.load_sessions().items():
            device, _, module = client_id.partition("/")
            self._by_id[client_id] = Session(client_id, device, module, set(filters))

    def get(self, client_id: str) -> Session | None:
        """The session for a client id, if any."""
        return self._by_id.get(client_id)

    def for_module(self, device: str, module: str) -> Session | None:
        """The session of a module."""
        return self._by_id.get(f"{device}/{module}")

    def open(self, client_id: str, device: str, module: str, clean: bool) -> tuple[Session, bool]:
        """Return (session, present); a clean session forgets the old subscriptions."""
        session = self._by_id.get(client_id)
        present = session is not None and not clean
        if session is None or clean:
            session = Session(client_id, device, module)
            self._by_id[client_id] = session
            self.save(session)
        return session, present

    def save(self, session: Session) -> None:
        """Persist a session's subscriptions (and refresh what they cover)."""
        session.refresh()
        self._store.save_session(session.client_id, sorted(session.filters))

    def connected(self) -> list[Session]:
        """Sessions with a live connection."""
        return [s for s in self._by_id.values() if s.conn is not None]
