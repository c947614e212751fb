"""The hub's Prometheus metrics, named as edgeHub names them where one applies."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary


class HubMetrics:
    """Every metric the hub exports, in its own registry; children cached for the hot path."""

    def __init__(self, device_id: str, iothub: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        base = ["iothub", "edge_device", "instance_number"]
        self._base = (iothub, device_id, "1")
        self.received = Counter(
            "edgehub_messages_received",
            "Messages received from clients",
            [*base, "protocol", "id"],
            registry=r,
        )
        self.sent = Counter(
            "edgehub_messages_sent",
            "Messages sent to endpoints",
            [*base, "from", "to", "from_route_output", "to_route_input", "priority"],
            registry=r,
        )
        self.dropped = Counter(
            "edgehub_messages_dropped",
            "Messages dropped (no_route, ttl_expiry, message_size)",
            [*base, "reason", "from", "from_route_output"],
            registry=r,
        )
        self.queue_length = Gauge(
            "edgehub_queue_length",
            "Messages stored per endpoint",
            [*base, "endpoint", "priority"],
            registry=r,
        )
        self.connected_clients = Gauge(
            "edgehub_connected_clients", "Connected clients", base, registry=r
        ).labels(*self._base)
        self.message_size = Summary(
            "edgehub_message_size_bytes", "Size of received messages", [*base, "id"], registry=r
        )
        self.unack = Counter(
            "edgehub_messages_unack",
            "Deliveries not acknowledged before disconnect",
            [*base, "source"],
            registry=r,
        )
        self.protocol_errors = Counter(
            "edgeloop_hub_protocol_errors", "Clients disconnected for bad input", ["reason"], registry=r
        )
        self.auth_failures = Counter(
            "edgeloop_hub_auth_failures", "CONNECTs refused", ["return_code"], registry=r
        )
        self.twin_errors = Counter(
            "edgeloop_hub_twin_errors", "Twin requests refused", ["reason"], registry=r
        )
        self.method_calls = Counter(
            "edgeloop_hub_method_calls", "Direct methods invoked through the hub", ["status"], registry=r
        )
        self.connects = Counter("edgeloop_hub_connects", "CONNECTs accepted", ["id"], registry=r)
        self.store_errors = Counter("edgeloop_hub_store_errors", "Failed store writes", registry=r)
        self.upstream_forward_errors = Counter(
            "edgeloop_hub_upstream_forward_errors", "Upstream messages not forwarded to IoT Hub", registry=r
        )
        self._received: dict[str, Counter] = {}
        self._sent: dict[tuple[str, str, str, str, int], Counter] = {}

    def count_received(self, client_id: str) -> None:
        """One message received from `client_id`."""
        child = self._received.get(client_id)
        if child is None:
            child = self._received[client_id] = self.received.labels(*self._base, "mqtt", client_id)
        child.inc()

    def count_sent(self, src: str, dst: str, output: str, input_name: str, priority: int) -> None:
        """One message delivered to an endpoint."""
        key = (src, dst, output, input_name, priority)
        child = self._sent.get(key)
        if child is None:
            child = self._sent[key] = self.sent.labels(
                *self._base, src, dst, output, input_name, str(priority)
            )
        child.inc()

    def count_dropped(self, reason: str, src: str, output: str, n: int = 1) -> None:
        """Messages dropped, with edgeHub's reason label."""
        self.dropped.labels(*self._base, reason, src, output).inc(n)

    def set_queue_length(self, endpoint: str, priority: int, n: int) -> None:
        """Messages stored for an endpoint at a priority."""
        self.queue_length.labels(*self._base, endpoint, str(priority)).set(n)
