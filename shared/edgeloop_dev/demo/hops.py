"""Where closed-loop time goes, hop by hop, from the timestamps the messages already carry.

A benchmark routes `telemetry`, `scores` and `actions` into `$upstream` as well (`TAP_ROUTES`), so the
hub writes each of them to upstream.jsonl with the time it received it (`iothub-enqueuedtime`). For every
applied write-back the chain is followed back: audit -> its write request (by requestId) -> the score it
decided on (asset and sourceTimestamp) -> the telemetry message holding that newest row (the score's last
sourceMessageId) -> the row's OPC UA SourceTimestamp; and forward to the plant's own write record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edgeloop_dev.demo.observe import parse_ts, upstream_envelopes

TAP_ROUTES = {
    "benchTapTelemetry": "FROM /messages/modules/opcua_ingest/outputs/telemetry INTO $upstream",
    "benchTapScores": "FROM /messages/modules/inference/outputs/scores INTO $upstream",
    "benchTapActions": "FROM /messages/modules/anomaly_filter/outputs/actions INTO $upstream",
}

# (name, from, to): consecutive points of one decision's path; each hop is `to - from`.
HOPS = (
    ("source -> ingest built the PubSub message", "source", "ingest"),
    ("ingest -> hub received telemetry", "ingest", "hub_telemetry"),
    ("hub -> inference scored the window", "hub_telemetry", "score"),
    ("score -> hub received it", "score", "hub_score"),
    ("hub -> anomaly_filter decided the action", "hub_score", "action"),
    ("action -> hub received it", "action", "hub_action"),
    ("hub -> write applied in the plant", "hub_action", "applied"),
    ("applied -> audit (read-back verified)", "applied", "audited"),
)


@dataclass
class Chain:
    """The points of one decision (epoch seconds), as far as they could be found."""

    points: dict[str, float] = field(default_factory=dict)


@dataclass
class _Seen:
    telemetry: dict[str, tuple[float, float | None]] = field(default_factory=dict)  # MessageId -> times
    rows: dict[tuple[str, str], float] = field(default_factory=dict)  # (asset, newest ts) -> source
    scores: dict[tuple[str, str], tuple[float, float, str]] = field(default_factory=dict)
    actions: dict[str, tuple[float, float, dict[str, Any]]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)


def _dataset_times(payload: dict[str, Any], mid: str, enqueued: float, seen: _Seen) -> None:
    built: float | None = None
    for m in payload.get("Messages") or []:
        if not isinstance(m, dict):
            continue
        ts = parse_ts(m.get("Timestamp"))
        built = ts if built is None or (ts is not None and ts < built) else built
        raw = m.get("Payload")
        fields: dict[str, Any] = raw if isinstance(raw, dict) else {}
        stamps = [str(dv.get("SourceTimestamp")) for dv in fields.values() if isinstance(dv, dict)]
        stamps = [s for s in stamps if parse_ts(s) is not None]
        if stamps:
            newest = max(stamps, key=lambda s: parse_ts(s) or 0.0)
            seen.rows[(str(m.get("DataSetWriterId")), newest)] = parse_ts(newest) or 0.0
    seen.telemetry[mid] = (enqueued, built)


def _collect(events: Iterable[dict[str, Any]]) -> _Seen:
    seen = _Seen()
    for event in events:
        body = event.get("event", {})
        enqueued = parse_ts(body.get("annotations", {}).get("iothub-enqueuedtime"))
        payload = body.get("payload")
        if enqueued is None:
            continue
        if isinstance(payload, dict) and "Messages" in payload and "kind" not in payload:
            system = body.get("properties", {}).get("system", {})  # inference keeps the transport id
            _dataset_times(payload, str(system.get("message_id") or payload.get("MessageId")), enqueued, seen)
            continue
        for env in upstream_envelopes(event)[0]:
            raw = env.get("data")
            data: dict[str, Any] = raw if isinstance(raw, dict) else {}
            created = parse_ts(env.get("ts"))
            kind = env.get("kind")
            if kind == "score" and created is not None and data.get("type") == "window":
                ids = data.get("sourceMessageIds") or [""]
                key = (str(data.get("asset")), str(data.get("sourceTimestamp")))
                seen.scores[key] = (created, enqueued, str(ids[-1]))
            elif kind == "writeRequest" and created is not None:
                seen.actions[str(data.get("requestId"))] = (created, enqueued, data)
            elif kind == "audit" and data.get("result") == "applied":
                seen.audits.append(data)
    return seen


def chains(events: Iterable[dict[str, Any]], plant_writes: list[dict[str, Any]]) -> list[Chain]:
    """One chain per applied write-back audit, with every point that could be matched."""
    seen = _collect(events)
    used: set[int] = set()
    out = []
    for audit in seen.audits:
        chain = Chain()
        audited = parse_ts(audit.get("appliedAt"))
        if audited is not None:
            chain.points["audited"] = audited
        source_text = str(audit.get("sourceTimestamp"))
        source = parse_ts(source_text)
        if source is not None:
            chain.points["source"] = source
        action = seen.actions.get(str(audit.get("requestId")))
        if action is not None:
            chain.points["action"], chain.points["hub_action"] = action[0], action[1]
            score = seen.scores.get((str(action[2].get("asset")), source_text))
            if score is not None:
                chain.points["score"], chain.points["hub_score"] = score[0], score[1]
                telemetry = seen.telemetry.get(score[2])
                if telemetry is not None:
                    chain.points["hub_telemetry"] = telemetry[0]
                    if telemetry[1] is not None:
                        chain.points["ingest"] = telemetry[1]
        node = str(audit.get("nodeId", ""))
        for i, write in enumerate(plant_writes):
            when = parse_ts(write.get("ts"))
            if i in used or when is None or source is None or when < source:
                continue
            if node.endswith(str(write.get("node"))) and write.get("value") == audit.get("value"):
                used.add(i)
                chain.points["applied"] = when
                break
        out.append(chain)
    return out


def hop_ms(found: list[Chain]) -> dict[str, list[float]]:
    """Milliseconds per hop (HOPS), plus the two end-to-end spans, over the chains that have both ends."""
    spans_to = {name: (a, b) for name, a, b in HOPS}
    spans_to["source -> applied (end to end)"] = ("source", "applied")
    spans_to["ingest -> applied (the pipeline after OPC UA publishing)"] = ("ingest", "applied")
    out: dict[str, list[float]] = {name: [] for name in spans_to}
    for chain in found:
        for name, (a, b) in spans_to.items():
            if a in chain.points and b in chain.points:
                out[name].append((chain.points[b] - chain.points[a]) * 1000)
    return out
