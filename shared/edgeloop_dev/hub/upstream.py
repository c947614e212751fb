"""`$upstream`: cloud-bound messages in DIR/upstream.jsonl, shaped like `az iot hub monitor-events`."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

UPSTREAM_FILE = "upstream.jsonl"

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


def decode_payload(body: bytes) -> tuple[Any, bool]:
    """Return (payload, is_base64): parsed JSON, else text, else base64 of bytes that are not UTF-8."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode(), True
    try:
        return json.loads(text), False
    except ValueError:
        return text, False


def make_event(
    body: bytes, system: dict[str, str], app: dict[str, str], seq: int, now: float, device: str
) -> dict[str, Any]:
    """One upstream event in the shape of `az iot hub monitor-events --properties all`."""
    payload, is_b64 = decode_payload(body)
    sys_out = {_SYSTEM_NAMES[k]: v for k, v in system.items() if k in _SYSTEM_NAMES}
    if is_b64:
        sys_out["payload-encoding"] = "base64"
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
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for the hub's life
        self.listeners: list[Callable[[dict[str, Any], bytes, dict[str, str], dict[str, str]], None]] = []

    def append(self, body: bytes, system: dict[str, str], app: dict[str, str], now: float) -> None:
        """Queue one event; it is written at the next flush."""
        self.seq += 1
        event = make_event(body, system, app, self.seq, now, self.device)
        self._pending.append(event)
        for listener in self.listeners:
            listener(event, body, system, app)

    def flush(self) -> None:
        """Write and flush every queued event."""
        if not self._pending:
            return
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


def count_events(state_dir: Path) -> int:
    """How many events the upstream file holds (the next sequence number continues from it)."""
    path = state_dir / UPSTREAM_FILE
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(1 for _ in f)
