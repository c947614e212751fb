"""Upstream forwarding to a real IoT Hub, tested at the SDK seam (no hub is reachable here)."""

from __future__ import annotations

from typing import Any

from edgeloop_dev.hub.forwarder import UpstreamForwarder, to_sdk_message, wait_sent
from edgeloop_dev.hub.metrics import HubMetrics


class FakeDeviceClient:
    """Records messages; fails the first `failures` sends."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[Any] = []
        self.connected = False
        self.shut = False

    def connect(self) -> None:
        self.connected = True

    def send_message(self, message: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("link down")
        self.sent.append(message)

    def shutdown(self) -> None:
        self.shut = True


def test_forwards_body_ids_and_properties_in_order() -> None:
    fake = FakeDeviceClient()
    fwd = UpstreamForwarder(
        "HostName=h;DeviceId=d;SharedAccessKey=a2V5", HubMetrics("d", "h"), lambda cs: fake
    )
    fwd.start()
    for i in range(3):
        fwd.submit(
            {},
            f"b{i}".encode(),
            {"messageId": f"m{i}", "contentType": "application/json", "cid": "c"},
            {"k": "v"},
        )
    assert wait_sent(fwd, 3)
    fwd.stop()
    assert [m.data for m in fake.sent] == [b"b0", b"b1", b"b2"]
    assert fake.sent[0].message_id == "m0"
    assert fake.sent[0].correlation_id == "c"
    assert fake.sent[0].content_type == "application/json"
    assert fake.sent[0].custom_properties == {"k": "v"}
    assert fake.connected and fake.shut


def test_retries_after_a_failure_without_losing_the_message() -> None:
    fake = FakeDeviceClient(failures=1)
    metrics = HubMetrics("d", "h")
    fwd = UpstreamForwarder("cs", metrics, lambda cs: fake)
    fwd.start()
    fwd.submit({}, b"x", {}, {})
    assert wait_sent(fwd, 1, timeout=5)
    fwd.stop()
    assert [m.data for m in fake.sent] == [b"x"]
    assert metrics.upstream_forward_errors._value.get() == 1


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    metrics = HubMetrics("d", "h")
    fwd = UpstreamForwarder("cs", metrics, lambda cs: FakeDeviceClient(), maxsize=2)
    for i in range(3):  # not started: nothing drains
        fwd.submit({}, str(i).encode(), {}, {})
    assert metrics.upstream_forward_errors._value.get() == 1
    fake = FakeDeviceClient()
    fwd._factory = lambda cs: fake
    fwd.start()
    assert wait_sent(fwd, 2)
    fwd.stop()
    assert [m.data for m in fake.sent] == [b"1", b"2"]


def test_sdk_message_conversion() -> None:
    msg = to_sdk_message(b"{}", {"messageId": "1", "contentEncoding": "utf-8"}, {"a": "b"})
    assert (msg.message_id, msg.content_encoding, msg.custom_properties) == ("1", "utf-8", {"a": "b"})
