"""What the demo sees, from the files every part leaves in DIR: upstream.jsonl, the plant's write trail."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.upstream import raw_body

UPSTREAM_FILE = "upstream.jsonl"


def parse_ts(value: object) -> float | None:
    """An ISO 8601 timestamp (or epoch milliseconds, as IoT Hub annotations carry) as epoch seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def upstream_envelopes(
    event: dict[str, Any], state_dir: Path | None = None
) -> tuple[list[dict[str, Any]], int]:
    """The envelopes in one upstream.jsonl event (batches unpacked, gzip undone), and its byte size.

    A body az prints only as a placeholder (a gzip batch) is read from the bytes the hub keeps in `state_dir`.
    """
    body = event.get("event", {})
    payload = body.get("payload")
    system = body.get("properties", {}).get("system", {})
    encoding = str(system.get("content_encoding", "")).lower()
    raw = raw_body(state_dir, event) if state_dir is not None else None
    if raw is not None:
        size = len(raw)
        try:
            payload = json.loads(gzip.decompress(raw) if encoding == "gzip" else raw)
        except (OSError, ValueError):
            return [], size
    else:
        size = len(json.dumps(payload, separators=(",", ":")).encode()) if payload is not None else 0
    if not isinstance(payload, dict):
        return [], size
    if payload.get("kind") == "batch" and isinstance(payload.get("data"), dict):
        events = payload["data"].get("events", [])
        return [e for e in events if isinstance(e, dict)], size
    return [payload], size


class JsonlTail:
    """Reads the lines appended to a JSON-lines file since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def read(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        out = []
        for line in chunk[: end + 1].splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


@dataclass
class DemoState:
    """Counters and recent events for the dashboard and the summary."""

    upstream_messages: int = 0
    upstream_bytes: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    anomalies: dict[str, dict[str, Any]] = field(default_factory=dict)
    anomaly_opens: list[dict[str, Any]] = field(default_factory=list)
    recent: deque[tuple[float, str]] = field(default_factory=lambda: deque(maxlen=12))
    audits: Counter[str] = field(default_factory=Counter)
    plant_writes: list[dict[str, Any]] = field(default_factory=list)
    writeback_latency_ms: list[float] = field(default_factory=list)
    upstream_latency_ms: list[float] = field(default_factory=list)

    def add_upstream(self, event: dict[str, Any], state_dir: Path | None = None) -> None:
        envelopes, size = upstream_envelopes(event, state_dir)
        self.upstream_messages += 1
        self.upstream_bytes += size
        app = event.get("event", {}).get("properties", {}).get("application", {})
        self.by_class[str(app.get("class", "?"))] += 1
        enqueued = parse_ts(event.get("event", {}).get("annotations", {}).get("iothub-enqueuedtime"))
        for env in envelopes:
            self._add_envelope(env, enqueued)

    def _add_envelope(self, env: dict[str, Any], enqueued: float | None) -> None:
        kind = str(env.get("kind", "?"))
        data = env.get("data") if isinstance(env.get("data"), dict) else {}
        assert isinstance(data, dict)
        self.by_kind[kind] += 1
        if kind == "anomaly":
            event_id = str(data.get("eventId", env.get("id")))
            state = str(data.get("state", "?"))
            self.anomalies[event_id] = data
            what = f"{data.get('asset', '?')}/{data.get('anomalyKind', '?')}"
            label = f"{state:<8} {what} {data.get('severity', '')}"
            self.recent.append((enqueued or 0.0, label))
            if state == "open":
                self.anomaly_opens.append({**data, "_enqueued": enqueued})
                source = parse_ts(data.get("sourceTimestamp"))
                if source is not None and enqueued is not None:
                    self.upstream_latency_ms.append((enqueued - source) * 1000)
        elif kind == "audit":
            result = str(data.get("result", "?"))
            self.audits[result] += 1
            source, applied = parse_ts(data.get("sourceTimestamp")), parse_ts(data.get("appliedAt"))
            if result == "applied" and source is not None and applied is not None:
                self.writeback_latency_ms.append((applied - source) * 1000)

    def add_plant_write(self, record: dict[str, Any]) -> None:
        self.plant_writes.append(record)
