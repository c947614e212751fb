"""A subscription that hands whole publish responses to the caller instead of one callback per value."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from asyncua import Client, ua
from asyncua.common.subscription import Subscription

ItemsCallback = Callable[[list[Any]], None]  # list[ua.MonitoredItemNotification]
StatusCallback = Callable[[Any], None]  # ua.StatusCode
EventsCallback = Callable[[list[Any]], None]  # list[ua.EventFieldList]


class BatchSubscription(Subscription):  # type: ignore[misc]
    """asyncua's Subscription minus the per-item fan-out: `on_items` gets each DataChangeNotification's
    MonitoredItems list at once (ClientHandle, Value), `on_status` each StatusChangeNotification's status.

    The stock paths cost an object, a queue put/get or a task per value; at 10,000 values/s that is most of
    a client's CPU. Both callbacks run on the publish loop and must not block.
    """

    def __init__(
        self,
        session: Any,
        params: Any,
        on_items: ItemsCallback,
        on_status: StatusCallback,
        on_events: EventsCallback | None = None,
    ) -> None:
        super().__init__(session, params, None, queue_maxsize=1)
        self._on_items = on_items
        self._on_status = on_status
        self._on_events = on_events
        self.publishes = 0
        self.keepalives = 0
        self.on_keepalive: Callable[[], None] | None = None  # called for each keep-alive publish response
        self.last_publish_at: float | None = time.monotonic()
        self.revised_publishing_ms = float(params.RequestedPublishingInterval)
        self.revised_keepalive_count = int(params.RequestedMaxKeepAliveCount)

    async def publish_callback(self, publish_result: Any) -> None:
        """Dispatch one PublishResult (called by asyncua's publish loop)."""
        self.last_publish_at = time.monotonic()
        message = publish_result.NotificationMessage
        if not message.NotificationData:
            self.keepalives += 1
            if self.on_keepalive is not None:
                self.on_keepalive()
            return
        self.publishes += 1
        self.last_sequence_number = int(message.SequenceNumber)
        for notif in message.NotificationData:
            if isinstance(notif, ua.DataChangeNotification):
                self._on_items(notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification):
                self._on_status(notif.Status)
            elif isinstance(notif, ua.EventNotificationList) and self._on_events is not None:
                self._on_events(notif.Events)

    def keepalive_budget_s(self) -> float:
        """How long the server may stay silent on this subscription: the revised publishing interval times
        the revised max keep-alive count (after that it owes us at least a keep-alive)."""
        return self.revised_publishing_ms * max(self.revised_keepalive_count, 1) / 1000.0

    def silent_for(self, now: float | None = None) -> float:
        """Seconds since the last publish response (data or keep-alive) for this subscription."""
        last = self.last_publish_at
        return 0.0 if last is None else (time.monotonic() if now is None else now) - last


async def create_batch_subscription(
    client: Client,
    params: Any,
    on_items: ItemsCallback,
    on_status: StatusCallback,
    on_events: EventsCallback | None = None,
) -> BatchSubscription:
    """Create a BatchSubscription on the client's session (what `Client.create_subscription` does)."""
    sub = BatchSubscription(client.uaclient.session, params, on_items, on_status, on_events)
    sub.set_overflow_disconnect_handler(client.uaclient.notify_transport_lost)
    results = await sub.init()
    revised = client.get_subscription_revised_params(params, results)
    if revised is not None:
        await sub.update(revised)
    sub.revised_publishing_ms = float(results.RevisedPublishingInterval or params.RequestedPublishingInterval)
    # A modify after the create may change the count again: keep the larger (the budget errs on patience).
    sub.revised_keepalive_count = max(
        int(results.RevisedMaxKeepAliveCount or 0), int(sub.parameters.RequestedMaxKeepAliveCount or 0), 1
    )
    sub.last_publish_at = time.monotonic()
    return sub


def subscription_parameters(publishing_ms: float, keepalive_s: float = 10.0, keepalive_count: int = 0) -> Any:
    """CreateSubscriptionParameters: no cap on notifications per publish, keep-alive about `keepalive_s`
    (or exactly `keepalive_count` publishing intervals when given)."""
    count = keepalive_count or max(int(keepalive_s * 1000 / max(publishing_ms, 1.0)), 3)
    return ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=publishing_ms,
        RequestedLifetimeCount=max(10_000, 3 * count),
        RequestedMaxKeepAliveCount=count,
        MaxNotificationsPerPublish=0,
        PublishingEnabled=True,
        Priority=0,
    )


async def discard_subscription(client: Client, sub: BatchSubscription, timeout_s: float = 2.0) -> None:
    """Delete a subscription the server may already have dropped: ask it (a Bad answer is fine), then forget
    its publish callback locally either way (asyncua keeps the callback when the server says Bad)."""
    session = client.uaclient.session
    with contextlib.suppress(Exception):
        await asyncio.wait_for(sub.delete(), timeout_s)
    if sub.subscription_id is not None:
        session._subscription_callbacks.pop(sub.subscription_id, None)
