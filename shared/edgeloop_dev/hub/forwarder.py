"""Optional: forward `$upstream` messages to a real IoT Hub as a device, like iotedgehubdev does."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from edgeloop_dev.hub.metrics import HubMetrics
from edgeloop_runtime.logs import get_logger

log = get_logger(__name__)

MAX_BACKOFF_S = 30.0


class DeviceClient(Protocol):
    """The slice of azure-iot-device's IoTHubDeviceClient the forwarder uses (the seam for tests)."""

    def connect(self) -> None: ...

    def send_message(self, message: Any) -> None: ...

    def shutdown(self) -> None: ...


def _sdk_client(connection_string: str) -> DeviceClient:
    from azure.iot.device import IoTHubDeviceClient

    client: DeviceClient = IoTHubDeviceClient.create_from_connection_string(connection_string)
    return client


def to_sdk_message(body: bytes, system: dict[str, str], app: dict[str, str]) -> Any:
    """An azure.iot.device Message with the body, ids, content type/encoding and application properties."""
    from azure.iot.device import Message

    msg = Message(  # type: ignore[no-untyped-call]
        body,
        message_id=system.get("messageId"),
        content_encoding=system.get("contentEncoding"),
        content_type=system.get("contentType"),
    )
    if "cid" in system:
        msg.correlation_id = system["cid"]
    msg.custom_properties.update(app)
    return msg


Item = tuple[bytes, dict[str, str], dict[str, str]]


class UpstreamForwarder:
    """A bounded queue (drop-oldest, counted) drained by one thread that owns the SDK client."""

    def __init__(
        self,
        connection_string: str,
        metrics: HubMetrics,
        client_factory: Callable[[str], DeviceClient] = _sdk_client,
        maxsize: int = 10_000,
        message_factory: Callable[[bytes, dict[str, str], dict[str, str]], Any] = to_sdk_message,
    ) -> None:
        self._cs = connection_string
        self._metrics = metrics
        self._factory = client_factory
        self._make = message_factory
        self._queue: queue.Queue[Item | None] = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="upstream-forwarder", daemon=True)
        self._stopping = threading.Event()
        self.sent = 0

    def submit(
        self, _event: dict[str, Any], body: bytes, system: dict[str, str], app: dict[str, str]
    ) -> None:
        """Queue one upstream message (called on the hub's loop; never blocks)."""
        item = (body, dict(system), dict(app))
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._metrics.upstream_forward_errors.inc()
                    log.warning("upstream forward queue full: dropped the oldest message")
                except queue.Empty:
                    pass

    def start(self) -> None:
        """Start the forwarding thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish (after what is queued, within `timeout`) and wait for it."""
        self._stopping.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def _run(self) -> None:
        client: DeviceClient | None = None
        backoff = 1.0
        pending: Item | None = None
        while True:
            if pending is None:
                pending = self._queue.get()
                if pending is None:
                    break
            try:
                if client is None:
                    client = self._factory(self._cs)
                    client.connect()
                client.send_message(self._make(*pending))
                self.sent += 1
                pending = None
                backoff = 1.0
            except Exception as exc:  # the SDK's errors are many; all mean "try again later"
                self._metrics.upstream_forward_errors.inc()
                log.warning("upstream forward failed; retrying", error=str(exc), backoff_s=backoff)
                if self._stopping.wait(backoff):
                    break
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        if client is not None:
            try:
                client.shutdown()
            except Exception as exc:
                log.warning("upstream client shutdown failed", error=str(exc))


def wait_sent(forwarder: UpstreamForwarder, n: int, timeout: float = 5.0) -> bool:
    """Test helper: wait until `n` messages were forwarded."""
    deadline = time.monotonic() + timeout
    while forwarder.sent < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return forwarder.sent >= n
