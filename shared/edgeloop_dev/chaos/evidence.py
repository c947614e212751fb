"""What a run leaves in its state directory, parsed: upstream.jsonl, the tap's witness lines, plant writes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop_dev.demo.observe import UPSTREAM_FILE, parse_ts, upstream_envelopes
from edgeloop_dev.plant import AUDIT_FILE

TAP_FILE = "chaos-tap.jsonl"


@dataclass(frozen=True)
class UpstreamEvent:
    """One envelope that reached `$upstream`, with the upstream message that carried it."""

    t: float  # when the hub enqueued the message (epoch s)
    message_id: str
    cls: str
    id: str
    kind: str
    ts: float | None  # the envelope's own timestamp (when its producer made it)
    data: dict[str, Any]


@dataclass(frozen=True)
class PlantWrite:
    """One write the plant received."""

    t: float
    node: str
    value: Any
    status: str


@dataclass
class Evidence:
    """Everything the checker reads, loaded from one state directory."""

    upstream: list[UpstreamEvent] = field(default_factory=list)
    upstream_times: list[float] = field(default_factory=list)  # every upstream message, even empty ones
    tap: list[dict[str, Any]] = field(default_factory=list)
    writes: list[PlantWrite] = field(default_factory=list)


def _lines(path: Path) -> list[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    out = []
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if isinstance(doc, dict):
            out.append(doc)
    return out


def parse_upstream(event: dict[str, Any], state_dir: Path | None = None) -> tuple[float, list[UpstreamEvent]]:
    """The enqueued time of one upstream.jsonl line and the envelopes it carried (pure)."""
    body = event.get("event", {})
    t = parse_ts(body.get("annotations", {}).get("iothub-enqueuedtime")) or 0.0
    props = body.get("properties", {})
    message_id = str(props.get("system", {}).get("message_id", ""))
    cls = str(props.get("application", {}).get("class", "?"))
    envelopes, _size = upstream_envelopes(event, state_dir)
    out = []
    for env in envelopes:
        data = env.get("data")
        out.append(
            UpstreamEvent(
                t=t,
                message_id=message_id,
                cls=cls,
                id=str(env.get("id", "")),
                kind=str(env.get("kind", "?")),
                ts=parse_ts(env.get("ts")),
                data=data if isinstance(data, dict) else {},
            )
        )
    return t, out


def load_evidence(state_dir: Path) -> Evidence:
    """Read upstream.jsonl, the tap file and the plant's write trail as they are now."""
    ev = Evidence()
    for line in _lines(state_dir / UPSTREAM_FILE):
        t, events = parse_upstream(line, state_dir)
        ev.upstream_times.append(t)
        ev.upstream.extend(events)
    ev.tap = _lines(state_dir / TAP_FILE)
    for rec in _lines(state_dir / "plant" / AUDIT_FILE):
        ev.writes.append(
            PlantWrite(
                t=parse_ts(rec.get("ts")) or 0.0,
                node=str(rec.get("node", "")),
                value=rec.get("value"),
                status=str(rec.get("status", "")),
            )
        )
    return ev
