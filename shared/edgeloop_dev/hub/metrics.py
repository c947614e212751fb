"""The hub's Prometheus metrics: edgeHub's 21 built-in ones with their names and labels
(Azure/iotedge doc/BuiltInMetrics.md), so dashboards made for IoT Edge work locally, plus a few of ours."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote

from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

BASE = ["iothub", "edge_device", "instance_number"]
_SOURCE = re.compile(r"(?:^|&)%24\.cmid=([^&]*)")  # connectionModuleId in an encoded delivery bag
UPSTREAM = "upstream"  # edgeHub's name for the cloud in `to`


def source_module(bag: str) -> str:
    """The module that sent a stored message, from its delivery bag ("" when it did not come from one)."""
    match = _SOURCE.search(bag)
    return unquote(match.group(1)) if match else ""


class HubMetrics:
    """Every metric the hub exports, in its own registry; children cached for the hot path."""

    def __init__(self, device_id: str, iothub: str) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        # instance_number: a GUID per run of the hub, as edgeHub's, so restarts are told apart
        self._base = (iothub, device_id, str(uuid.uuid4()))
        self.device_id = device_id

        def counter(name: str, doc: str, labels: list[str]) -> Counter:
            return Counter(name, doc, [*BASE, *labels], registry=r)

        def summary(name: str, doc: str, labels: list[str]) -> Summary:
            return Summary(name, doc, [*BASE, *labels], registry=r)

        self.gettwin = counter("edgehub_gettwin", "Total number of GetTwin calls", ["source", "id"])
        self.received = counter(
            "edgehub_messages_received",
            "Total number of messages received from clients",
            ["route_output", "id"],
        )
        self.sent = counter(
            "edgehub_messages_sent",
            "Total number of messages sent to clients or upstream",
            ["from", "to", "from_route_output", "to_route_input", "priority"],
        )
        self.reported = counter(
            "edgehub_reported_properties", "Total reported property updates calls", ["target", "id"]
        )
        self.message_size = summary("edgehub_message_size_bytes", "Message size from clients", ["id"])
        self.gettwin_duration = summary(
            "edgehub_gettwin_duration_seconds", "Time taken for get twin operations", ["source", "id"]
        )
        self.send_duration = summary(
            "edgehub_message_send_duration_seconds",
            "Time taken to send a message",
            ["from", "to", "from_route_output", "to_route_input"],
        )
        self.process_duration = summary(
            "edgehub_message_process_duration_seconds",
            "Time taken to process a message from the queue",
            ["from", "to", "priority"],
        )
        self.reported_duration = summary(
            "edgehub_reported_properties_update_duration_seconds",
            "Time taken to update reported properties",
            ["target", "id"],
        )
        self.method_duration = summary(
            "edgehub_direct_method_duration_seconds", "Time taken to resolve a direct method", ["from", "to"]
        )
        self.methods = counter(
            "edgehub_direct_methods", "Total number of direct methods sent", ["from", "to"]
        )
        self.queue_length = Gauge(
            "edgehub_queue_length",
            "Current length of edgeHub's queue for a given priority",
            [*BASE, "endpoint", "priority"],
            registry=r,
        )
        self.dropped = counter(
            "edgehub_messages_dropped",
            "Total number of messages removed because of reason (no_route, ttl_expiry; ours: message_size)",
            ["reason", "from", "from_route_output"],
        )
        self.unack = counter(
            "edgehub_messages_unack",
            "Messages unacknowledged: storage failure (ours: also deliveries open at disconnect)",
            ["reason", "from", "from_route_output"],
        )
        self.offline_count = counter(
            "edgehub_offline_count", "Total number of times edgeHub went offline", ["id"]
        )
        self.offline_duration = summary(
            "edgehub_offline_duration_seconds", "Time edgeHub was offline", ["id"]
        )
        self.retries = counter(
            "edgehub_operation_retry",
            "Total number of times edgeHub operations were retried",
            ["id", "operation"],
        )
        self.connect_failed = counter(
            "edgehub_client_connect_failed",
            "Total number of times individual client failed to connect to edgeHub",
            ["id", "reason"],
        )
        self.connected_clients = Gauge(
            "edgehub_connected_clients", "Current number of connected clients to edge hub", BASE, registry=r
        ).labels(*self._base)
        self.connect_success = counter(
            "edgehub_client_connect_success",
            "Total number of times individual client successfully connect to edgeHub",
            ["id"],
        )
        self.disconnects = counter(
            "edgehub_client_disconnect",
            "Total number of times individual client disconnected from edgeHub",
            ["id"],
        )
        # edgeHub's own id, where a metric names the hub itself
        self.hub_id = f"{device_id}/$edgeHub"
        self.offline_count.labels(*self._base, self.hub_id)  # 0 until the forwarder loses IoT Hub
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
        self._received: dict[tuple[str, str], Counter] = {}
        self._sent: dict[tuple[str, str, str, str, int], Counter] = {}
        self._process: dict[tuple[str, str, int], Summary] = {}

    def count_received(self, client_id: str, output: str = "", size: int | None = None) -> None:
        """One message received from `client_id` on `output` (and its size)."""
        key = (client_id, output)
        child = self._received.get(key)
        if child is None:
            child = self._received[key] = self.received.labels(*self._base, output, client_id)
        child.inc()
        if size is not None:
            self.message_size.labels(*self._base, client_id).observe(size)

    def count_sent(self, src: str, dst: str, output: str, input_name: str, priority: int) -> None:
        """One message delivered to an endpoint (`dst` a module, or "upstream")."""
        key = (src, dst, output, input_name, priority)
        child = self._sent.get(key)
        if child is None:
            child = self._sent[key] = self.sent.labels(
                *self._base, src, dst, output, input_name, str(priority)
            )
        child.inc()

    def observe_process(self, src: str, dst: str, priority: int, seconds: float) -> None:
        """Time a message spent stored before delivery."""
        key = (src, dst, priority)
        child = self._process.get(key)
        if child is None:
            child = self._process[key] = self.process_duration.labels(*self._base, src, dst, str(priority))
        child.observe(max(0.0, seconds))

    def count_dropped(self, reason: str, src: str, output: str, n: int = 1) -> None:
        """Messages dropped, with edgeHub's reason label."""
        self.dropped.labels(*self._base, reason, src, output).inc(n)

    def count_unack(self, reason: str, src: str, n: int) -> None:
        """Deliveries left unacknowledged."""
        self.unack.labels(*self._base, reason, src, "").inc(n)

    def set_queue_length(self, endpoint: str, priority: int, n: int) -> None:
        """Messages stored for an endpoint at a priority."""
        self.queue_length.labels(*self._base, endpoint, str(priority)).set(n)

    def client_connected(self, client_id: str) -> None:
        """A CONNECT accepted."""
        self.connect_success.labels(*self._base, client_id).inc()
        self.connects.labels(client_id).inc()

    def client_refused(self, client_id: str, return_code: int) -> None:
        """A CONNECT refused."""
        self.connect_failed.labels(*self._base, client_id, "not authenticated").inc()
        self.auth_failures.labels(str(return_code)).inc()

    def client_disconnected(self, client_id: str) -> None:
        """A client's connection ended."""
        self.disconnects.labels(*self._base, client_id).inc()

    def twin_get(self, client_id: str, seconds: float) -> None:
        """A GetTwin answered."""
        self.gettwin.labels(*self._base, client_id, client_id).inc()
        self.gettwin_duration.labels(*self._base, client_id, client_id).observe(seconds)

    def reported_update(self, client_id: str, seconds: float) -> None:
        """A reported-properties patch applied (edgeHub's target: upstream, where the twin lives)."""
        self.reported.labels(*self._base, UPSTREAM, client_id).inc()
        self.reported_duration.labels(*self._base, UPSTREAM, client_id).observe(seconds)

    def method_call(self, module_id: str, status: int, seconds: float) -> None:
        """A direct method to a module resolved (from the cloud side: `upstream`)."""
        self.methods.labels(*self._base, UPSTREAM, module_id).inc()
        self.method_duration.labels(*self._base, UPSTREAM, module_id).observe(seconds)
        self.method_calls.labels(str(status)).inc()
