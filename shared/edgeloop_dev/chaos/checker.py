"""Per-scenario verdict from a run's evidence: faults delivered, messages lost, duplicates, recovery (pure).

Definitions (a window is [t0, t1]; `drain_s` leaves the last seconds to the next window):
- injected: faults of the ground truth that started in [t0, t1) and were delivered by t1 or ended
  `grace_s` before it (a fault that may still be detected is left to the next window);
- delivered: an anomaly opened upstream for the fault's asset (source time in the fault, up to
  DETECTION_SLACK_S after its end) and, for kinds that trigger a write-back, a Good write on that asset's
  nodes in the plant in the same span;
- lost: each anomaly or audit event id the tap saw leave its module that never reached upstream.jsonl; each
  write request (tap: anomaly_filter/actions) with no audit upstream for its requestId; each Good plant write
  with no audit upstream for that node and value that says it was applied, or `indeterminate` (the writer
  died between the write and its recorded outcome); each router store drop of class safety, audit or anomaly;
- duplicates: envelope ids already seen upstream; a duplicate is "bad" unless it came in an upstream
  message with the same message id as the first copy (a re-send of the same message);
- recovery: from the end of the injection to the first Good telemetry, the first score and the first
  upstream message after it, and to steady state (every process running, telemetry and scores flowing,
  the router's link up and its safety/audit/anomaly queues empty): the largest of these.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from edgeloop_dev.chaos.evidence import Evidence, UpstreamEvent
from edgeloop_dev.chaos.truth import InjectedFault
from edgeloop_dev.demo.observe import parse_ts

DETECTION_SLACK_S = 30.0
# What the shipped rule set does for each fault kind: (anomaly upstream expected, write-back expected).
EXPECTED: dict[str, tuple[bool, bool]] = {
    "bearing_wear": (True, True),
    "cavitation": (True, True),
    "stuck": (True, True),
    "bad_status": (True, False),
    "spike": (False, False),
    "dip": (False, False),
    "uncertain_status": (False, False),
}
NEVER_DROPPED = ("safety", "alarm", "audit", "anomaly")
PRIORITY = {"safety": 0, "alarm": 1, "audit": 2, "anomaly": 3, "event": 4, "drift": 5, "summary": 6}


@dataclass(frozen=True)
class Window:
    """One scenario's span: t0 its start, inject_end when the last fault injection ended, t1 its check."""

    name: str
    t0: float
    inject_end: float
    t1: float


@dataclass
class ScenarioResult:
    """The figures of one scenario (the report's row) and the detail behind them."""

    name: str
    faults_injected: int = 0
    faults_expected: int = 0
    faults_delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    bad_duplicates: int = 0
    recovery_s: float | None = None
    telemetry_s: float | None = None
    scores_s: float | None = None
    upstream_s: float | None = None
    steady_s: float | None = None
    undelivered: list[str] = field(default_factory=list)
    lost_detail: list[str] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _asset_cap(asset: str) -> str:
    return asset[:1].upper() + asset[1:]


def fault_delivered(fault: InjectedFault, upstream: Iterable[UpstreamEvent], writes: Evidence) -> str | None:
    """None when the fault reached upstream and (if expected) the plant; else what is missing."""
    want_up, want_write = EXPECTED.get(fault.kind, (True, True))
    lo, hi = fault.start - 2.0, fault.end + DETECTION_SLACK_S
    missing = []
    if want_up:
        found = False
        for ev in upstream:
            if ev.kind != "anomaly" or ev.data.get("asset") != fault.asset:
                continue
            if ev.data.get("state") not in ("open", "escalate"):
                continue
            when = parse_ts(ev.data.get("sourceTimestamp")) or ev.ts or ev.t
            if lo <= when <= hi:
                found = True
                break
        if not found:
            missing.append("no anomaly upstream")
    if want_write:
        prefix = f"AI.{_asset_cap(fault.asset)}."
        if not any(
            w.node.startswith(prefix) and w.status == "Good" and lo <= w.t <= hi + 5 for w in writes.writes
        ):
            missing.append("no write-back in the plant")
    return "; ".join(missing) or None


def _lost(ev: Evidence, t0: float, t_end: float) -> list[str]:
    upstream_ids = {u.id for u in ev.upstream}
    audits = [u for u in ev.upstream if u.kind == "audit"]
    audited = {str(u.data.get("requestId")) for u in audits}
    out = []
    for line in ev.tap:
        t = float(line.get("t", 0.0))
        if not t0 <= t < t_end:
            continue
        name = line.get("in")
        if name in ("anomalies", "audit") and line.get("id") not in upstream_ids:
            out.append(f"{line.get('kind')} {line.get('id')} ({name}, seen {t:.1f}) never reached upstream")
        elif name == "actions" and str(line.get("requestId")) not in audited:
            out.append(f"write request {line.get('requestId')} (seen {t:.1f}) has no audit upstream")
    # A write is audited `applied`, or `indeterminate` when the writer was killed between the write and
    # its recorded outcome (it says so and never writes again): either way one audit names the write.
    applied = [
        (_audit_time(u), str(u.data.get("nodeId") or ""), u.data.get("value"))
        for u in audits
        if u.data.get("result") in ("applied", "indeterminate")
    ]
    for w in ev.writes:
        if not t0 <= w.t < t_end or w.status != "Good":
            continue
        if not any(
            node.endswith(w.node) and value == w.value and abs(at - w.t) <= 30 for at, node, value in applied
        ):
            out.append(
                f"plant write {w.node}={w.value!r} at {w.t:.1f} has no applied/indeterminate audit upstream"
            )
    return out


def _audit_time(u: UpstreamEvent) -> float:
    """When the audited write landed: `appliedAt`; an indeterminate one has none, so when it was made."""
    return parse_ts(u.data.get("appliedAt")) or u.ts or u.t


def _duplicates(upstream: list[UpstreamEvent], t0: float, t1: float) -> tuple[int, int, list[str]]:
    first: dict[str, str] = {}
    dup = bad = 0
    detail = []
    for ev in upstream:
        if ev.id not in first:
            first[ev.id] = ev.message_id
            continue
        if not t0 <= ev.t < t1:
            continue
        dup += 1
        if ev.message_id != first[ev.id]:
            bad += 1
            detail.append(f"{ev.kind} {ev.id} again in message {ev.message_id} (first in {first[ev.id]})")
    return dup, bad, detail


def _first_after(times: Iterable[float], after: float) -> float | None:
    later = [t for t in times if t > after]
    return round(min(later) - after, 2) if later else None


def recovery(ev: Evidence, after: float) -> dict[str, float | None]:
    """Seconds from `after` to the first Good telemetry, score and upstream message."""
    tel = [float(x["t"]) for x in ev.tap if x.get("in") == "telemetry" and not x.get("bad")]
    scores = [float(x["t"]) for x in ev.tap if x.get("in") == "scores"]
    return {
        "telemetry_s": _first_after(tel, after),
        "scores_s": _first_after(scores, after),
        "upstream_s": _first_after(ev.upstream_times, after),
    }


def check(
    ev: Evidence,
    window: Window,
    faults: Iterable[InjectedFault],
    drops: Mapping[str, int],
    *,
    grace_s: float = DETECTION_SLACK_S,
    drain_s: float = 5.0,
) -> ScenarioResult:
    """The scenario's figures; `drops` is the router's drop count per "class/reason" during the window."""
    res = ScenarioResult(window.name)
    res.extra["window"] = {
        "t0": round(window.t0, 1),
        "injectEnd": round(window.inject_end, 1),
        "t1": round(window.t1, 1),
    }
    res.extra["faults"] = [
        f"{f.id} {f.kind} {f.asset} {f.start:.1f}-{f.end:.1f}"
        for f in faults
        if window.t0 - 60 <= f.start < window.t1
    ]
    for fault in faults:
        if not window.t0 <= fault.start < window.t1:
            continue
        why = fault_delivered(fault, ev.upstream, ev)
        if why is not None and fault.end + grace_s > window.t1:
            continue  # may still be detected: the next window (or the whole run's) counts it
        res.faults_injected += 1
        if EXPECTED.get(fault.kind, (True, True)) == (False, False):
            continue
        res.faults_expected += 1
        if why is None:
            res.faults_delivered += 1
        else:
            res.undelivered.append(f"{fault.id} {fault.kind} on {fault.asset}: {why}")
    res.lost_detail = _lost(ev, window.t0, window.t1 - drain_s)
    res.drops = {k: v for k, v in drops.items() if v}
    for key, n in res.drops.items():
        if key.split("/")[0] in NEVER_DROPPED:
            res.lost_detail.append(f"router dropped {n} x {key}")
    res.lost = len(res.lost_detail)
    res.duplicates, res.bad_duplicates, dup_detail = _duplicates(ev.upstream, window.t0, window.t1)
    res.extra["badDuplicates"] = dup_detail[:20]
    rec = recovery(ev, window.inject_end)
    res.telemetry_s, res.scores_s, res.upstream_s = rec["telemetry_s"], rec["scores_s"], rec["upstream_s"]
    known = [v for v in rec.values() if v is not None]
    res.recovery_s = max(known) if len(known) == len(rec) else None
    return res


IN_TRANSIT_S = 1.0  # filter -> hub -> router's store, under load


def drain_order(ev: Evidence, link_up: float, until: float) -> tuple[bool, list[str]]:
    """Classes of the backlog (events made before `link_up`) in the order they went upstream after it;
    True when no class was sent after a lower one. An event made in the last `IN_TRANSIT_S` before the
    link came back may still be on its way to the router's store then: it is not backlog yet."""
    seen: list[str] = []
    by_message: dict[str, str] = {}
    made_before = link_up - IN_TRANSIT_S
    for u in ev.upstream:
        if (
            link_up <= u.t <= until
            and u.ts is not None
            and u.ts < made_before
            and u.message_id not in by_message
        ):
            by_message[u.message_id] = u.cls
            seen.append(u.cls)
    ranks = [PRIORITY.get(c, 9) for c in seen]
    return all(a <= b for a, b in itertools.pairwise(ranks)), seen


def bad_gap(ev: Evidence, t_from: float, t_to: float) -> list[str]:
    """Bad-status fields in telemetry the tap saw between the two times (a marked connection gap)."""
    out: list[str] = []
    for x in ev.tap:
        if x.get("in") == "telemetry" and x.get("bad") and t_from <= float(x["t"]) <= t_to:
            out.extend(str(b) for b in x["bad"])
    return out
