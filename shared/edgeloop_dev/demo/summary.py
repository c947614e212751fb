"""The demo's verdict: faults injected and detected, write-backs, upstream volume, closed-loop latency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeloop_dev.demo.observe import DemoState, parse_ts
from edgeloop_dev.plant import Fault

# An anomaly counts for a fault if it opens on the same asset between shortly before the fault
# starts and this long after it ends (slow faults such as bearing wear are caught late).
DETECTION_SLACK_S = 30.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Everything the demo prints at the end and writes to DIR/summary.json."""

    duration_s: float
    faults_injected: int
    faults_detected: int
    anomalies_opened: int
    writebacks_applied: int
    writebacks_refused: int
    plant_writes: int
    upstream_messages: int
    upstream_bytes: int
    writeback_latency_p50_ms: float | None
    writeback_latency_p99_ms: float | None
    upstream_latency_p50_ms: float | None
    upstream_latency_p99_ms: float | None
    loop_closed: bool
    missing: tuple[str, ...]
    # "kind on asset" -> [injected, detected], for every fault that started within the run
    faults_by_kind: dict[str, list[int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detected_faults(
    faults: Sequence[Fault], opens: Sequence[dict[str, Any]], plant_start: float
) -> list[Fault]:
    """The faults for which an anomaly opened on the same asset in the fault's window."""
    found = []
    for fault in faults:
        lo, hi = plant_start + fault.start_s - 2.0, plant_start + fault.end_s + DETECTION_SLACK_S
        for anomaly in opens:
            when = parse_ts(anomaly.get("sourceTimestamp")) or anomaly.get("_enqueued") or 0.0
            if anomaly.get("asset") == fault.asset and lo <= when <= hi:
                found.append(fault)
                break
    return found


def summarize(state: DemoState, faults: Sequence[Fault], plant_start: float, duration_s: float) -> Summary:
    """The summary of a run; the loop is closed when a fault was detected, written back and sent upstream."""
    injected = [f for f in faults if f.start_s < duration_s]
    detected = detected_faults(injected, state.anomaly_opens, plant_start)
    missing = []
    if not detected:
        missing.append("no injected fault was detected")
    if state.audits["applied"] == 0 or not state.plant_writes:
        missing.append("no write-back reached the plant")
    if not state.anomaly_opens:
        missing.append("no anomaly reached upstream")
    return Summary(
        duration_s=round(duration_s, 1),
        faults_injected=len(injected),
        faults_detected=len(detected),
        anomalies_opened=len(state.anomaly_opens),
        writebacks_applied=state.audits["applied"],
        writebacks_refused=state.audits["refused"],
        plant_writes=len(state.plant_writes),
        upstream_messages=state.upstream_messages,
        upstream_bytes=state.upstream_bytes,
        writeback_latency_p50_ms=_round(percentile(state.writeback_latency_ms, 50)),
        writeback_latency_p99_ms=_round(percentile(state.writeback_latency_ms, 99)),
        upstream_latency_p50_ms=_round(percentile(state.upstream_latency_ms, 50)),
        upstream_latency_p99_ms=_round(percentile(state.upstream_latency_ms, 99)),
        loop_closed=not missing,
        missing=tuple(missing),
        faults_by_kind=by_kind(injected, detected),
    )


def by_kind(injected: Sequence[Fault], detected: Sequence[Fault]) -> dict[str, list[int]]:
    """`kind on asset` -> [injected, detected], in the order the kinds were first injected."""
    out: dict[str, list[int]] = {}
    found = {f.id for f in detected}
    for fault in injected:
        counts = out.setdefault(f"{fault.kind} on {fault.asset}", [0, 0])
        counts[0] += 1
        counts[1] += fault.id in found
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
