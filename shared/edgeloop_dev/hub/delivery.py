"""Per-endpoint delivery queues: priority order, FIFO within a priority, TTL checked when read (no I/O)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from edgeloop_dev.hub.store import StoredMessage


class EndpointQueue:
    """Messages waiting for one module input; the lowest priority number goes first."""

    __slots__ = ("_by_priority", "_priorities", "endpoint", "input", "module")

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.module, _, self.input = endpoint.partition("/")
        self._by_priority: dict[int, deque[StoredMessage]] = {}
        self._priorities: list[int] = []

    def _queue(self, priority: int) -> deque[StoredMessage]:
        q = self._by_priority.get(priority)
        if q is None:
            q = self._by_priority[priority] = deque()
            self._priorities.append(priority)
            self._priorities.sort()
        return q

    def push(self, msg: StoredMessage) -> None:
        """Append a new message."""
        self._queue(msg.priority).append(msg)

    def push_front(self, msgs: Iterable[StoredMessage]) -> None:
        """Put back in-flight messages (given oldest first) so they go out again first."""
        for msg in sorted(msgs, key=lambda m: m.id, reverse=True):
            self._queue(msg.priority).appendleft(msg)

    def pop(self, now: float, on_expired: Callable[[StoredMessage], None]) -> StoredMessage | None:
        """Next deliverable message; expired ones are handed to `on_expired` and skipped."""
        for priority in self._priorities:
            q = self._by_priority[priority]
            while q:
                msg = q.popleft()
                if msg.expires <= now:
                    on_expired(msg)
                    continue
                return msg
        return None

    def expire(self, now: float, on_expired: Callable[[StoredMessage], None]) -> None:
        """Drop every expired message (periodic cleanup, so queue lengths stay honest)."""
        for q in self._by_priority.values():
            if any(m.expires <= now for m in q):
                keep: list[StoredMessage] = []
                for m in q:
                    if m.expires > now:
                        keep.append(m)
                    else:
                        on_expired(m)
                q.clear()
                q.extend(keep)

    def lengths(self) -> dict[int, int]:
        """Messages waiting, per priority."""
        return {p: len(q) for p, q in self._by_priority.items()}

    def __len__(self) -> int:
        return sum(len(q) for q in self._by_priority.values())


class DeliveryQueues:
    """Every endpoint queue, found by endpoint or by module."""

    def __init__(self) -> None:
        self._by_endpoint: dict[str, EndpointQueue] = {}
        self._by_module: dict[str, list[EndpointQueue]] = {}

    def get(self, endpoint: str) -> EndpointQueue:
        """The queue of an endpoint `{module}/{input}`, created on first use."""
        q = self._by_endpoint.get(endpoint)
        if q is None:
            q = self._by_endpoint[endpoint] = EndpointQueue(endpoint)
            self._by_module.setdefault(q.module, []).append(q)
        return q

    def for_module(self, module: str) -> list[EndpointQueue]:
        """The queues of every input of a module."""
        return self._by_module.get(module, [])

    def all(self) -> list[EndpointQueue]:
        """Every queue."""
        return list(self._by_endpoint.values())
