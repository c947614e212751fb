"""`$upstream`: cloud-bound messages in DIR/upstream.jsonl, as `az iot hub monitor-events` prints them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.az_payload import az_payload, prints_verbatim

UPSTREAM_FILE = "upstream.jsonl"
# Bodies az cannot print (gzip batches): kept as <x-opt-sequence-number>.bin for `edgeloop upstream --decode`.
BODIES_DIR = "upstream.bodies"

# edgeHub system property -> the AMQP property name az iot hub monitor-events prints under "system".
_SYSTEM_NAMES = {
    "messageId": "message_id",
    "cid": "correlation_id",
    "userId": "user_id",
    "to": "to",
    "contentType": "content_type",
    "contentEncoding": "content_encoding",
    "absolute-expiry-time": "absolute_expiry_time",
    "creationTime": "creation_time",
    "messageSchema": "iothub-message-schema",
    "iothub-interface-id": "iothub-interface-id",
}


def generation_id(device: str, module: str) -> str:
    """A stable stand-in for IoT Hub's identity generation id (digits, like the real ones)."""
    digest = hashlib.sha256(f"{device}/{module}".encode()).hexdigest()
    return f"{int(digest[:15], 16) % 10**18:018d}"


def make_event(
    body: bytes, system: dict[str, str], app: dict[str, str], seq: int, now: float, device: str
) -> dict[str, Any]:
    """One upstream event in the shape of `az iot hub monitor-events --properties all`."""
    payload = az_payload(body, system.get("contentType"))
    sys_out = {_SYSTEM_NAMES[k]: v for k, v in system.items() if k in _SYSTEM_NAMES}
    module = system.get("connectionModuleId", "")
    enqueued_ms = int(now * 1000)
    origin = system.get("connectionDeviceId", device)
    # What IoT Hub's Event Hubs endpoint annotates a module's message with (and nothing of ours).
    annotations: dict[str, Any] = {
        "iothub-connection-device-id": origin,
        "iothub-connection-module-id": module,
        "iothub-connection-auth-method": '{"scope":"module","type":"sas","issuer":"iothub"}',
        "iothub-connection-auth-generation-id": generation_id(origin, module),
        "iothub-enqueuedtime": enqueued_ms,
        "iothub-message-source": "Telemetry",
        "x-opt-sequence-number": seq,
        "x-opt-offset": str(seq),
        "x-opt-enqueued-time": enqueued_ms,
    }
    if "dt-subject" in system:  # a component's name travels as an annotation, not a system property
        annotations["dt-subject"] = system["dt-subject"]
    event: dict[str, Any] = {
        "origin": system.get("connectionDeviceId", device),
        "module": module,
        "interface": system.get("iothub-interface-id", ""),
        "component": system.get("dt-subject", ""),
        "payload": payload,
        "properties": {"system": sys_out, "application": dict(app)},
        "annotations": annotations,
    }
    return {"event": event}


class UpstreamLog:
    """Buffers upstream events and appends them to the JSONL file on flush (before PUBACK)."""

    def __init__(self, state_dir: Path, device: str, first_seq: int) -> None:
        self.path = state_dir / UPSTREAM_FILE
        self.device = device
        self.seq = first_seq
        self._pending: list[dict[str, Any]] = []
        self._bodies: list[tuple[int, bytes]] = []
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the hub's life
        self.listeners: list[Callable[[dict[str, Any], bytes, dict[str, str], dict[str, str]], None]] = []

    def append(self, body: bytes, system: dict[str, str], app: dict[str, str], now: float) -> None:
        """Queue one event; it is written at the next flush."""
        self.seq += 1
        event = make_event(body, system, app, self.seq, now, self.device)
        self._pending.append(event)
        if not prints_verbatim(body):
            self._bodies.append((self.seq, body))
        for listener in self.listeners:
            listener(event, body, system, app)

    def flush(self) -> None:
        """Write and flush every queued event."""
        if not self._pending:
            return
        if self._bodies:  # written first: a reader never sees a line whose body is not there yet
            folder = self.path.parent / BODIES_DIR
            folder.mkdir(exist_ok=True)
            for seq, body in self._bodies:
                (folder / f"{seq}.bin").write_bytes(body)
            self._bodies.clear()
        self._file.write("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in self._pending))
        self._file.flush()
        self._pending.clear()

    def close(self) -> None:
        """Flush and close the file."""
        self.flush()
        self._file.close()


def read_events(state_dir: Path) -> list[dict[str, Any]]:
    """Every upstream event recorded so far (a torn last line is skipped)."""
    path = state_dir / UPSTREAM_FILE
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def raw_body(state_dir: Path, event: dict[str, Any]) -> bytes | None:
    """The original bytes of a body az cannot print as it is (placeholder, garbled); else None."""
    seq = event.get("event", {}).get("annotations", {}).get("x-opt-sequence-number")
    path = state_dir / BODIES_DIR / f"{seq}.bin"
    return path.read_bytes() if isinstance(seq, int) and path.exists() else None


def count_events(state_dir: Path) -> int:
    """How many events the upstream file holds (the next sequence number continues from it)."""
    path = state_dir / UPSTREAM_FILE
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)
