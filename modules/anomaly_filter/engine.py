"""The filter's logic, free of I/O: telemetry and scores in, anomaly, action and summary messages out."""

from __future__ import annotations

import fnmatch
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, cast

from edgeloop_contracts import Contract, pubsub
from edgeloop_contracts.anomaly import DATA_QUALITY, Anomaly, Severity
from edgeloop_contracts.score import ModelRef
from edgeloop_contracts.summary import Summary
from edgeloop_contracts.write_request import WriteRequest, request_message_id
from edgeloop_runtime.errors import ContractError

from . import compliance, ids
from .dcs import DcsAlarms
from .emits import Emit
from .episodes import Change, Episode
from .rules import SEVERITY_RANK, Rule, RuleSet
from .scores import Score, parse_score
from .signals import AssetBuffer, restore_runs, saved_runs
from .summaries import Summarizer
from .telemetry import format_ts, parse_network_message

UPSTREAM_OUTPUTS = ("anomalies", "summaries")
DQ_KIND = DATA_QUALITY


@dataclass
class DqState:
    """The open data-quality event of an asset, if any."""

    event_id: str
    start: float
    fields: list[str]
    last_bad: float


class FilterEngine:
    """Rules engine over scores, combined with raw-signal checks and OPC UA data quality."""

    def __init__(
        self, rules: RuleSet | None = None, *, buffer_len: int = 20000, dedup_len: int = 4096
    ) -> None:
        self.rules = rules or RuleSet.model_validate({})
        self.buffer_len = buffer_len
        self.buffers: dict[str, AssetBuffer] = {}
        self.episodes: dict[tuple[str, str], Episode] = {}
        self.dq: dict[str, DqState] = {}
        self.summarizer = Summarizer(self.rules.summary_period_s)
        self.seen: OrderedDict[tuple[str, str, str, float], None] = OrderedDict()
        self.dedup_len = dedup_len
        self.counts: Counter[str] = Counter()
        self.model_of: dict[str, ModelRef] = {}
        self.latest_ts: float | None = None
        self.dcs = DcsAlarms()

    # --- configuration -------------------------------------------------------------------------
    def set_rules(self, rules: RuleSet) -> list[Emit]:
        """Swap in a validated rule set; open anomalies of removed rules are closed."""
        out: list[Emit] = []
        names = {r.name: r for r in rules.rules}
        for key, ep in list(self.episodes.items()):
            new = names.get(key[0])
            if new is None:
                change = ep.close_now(ep.open_start)
                if change is not None:
                    out += self._events(ep.rule, key[1], change, None, None)
                del self.episodes[key]
            else:
                ep.rule = new
        if rules.summary_period_s != self.rules.summary_period_s:
            out += [self._emit("summaries", s) for s in self.summarizer.flush()]
            self.summarizer = Summarizer(rules.summary_period_s)
        self.rules = rules
        return out

    def _checks(self) -> dict[str, tuple[float, int]]:
        checks: dict[str, tuple[float, int]] = {}
        for r in self.rules.rules:
            for s in r.signals:
                if s.method == "zscore":
                    checks[s.field] = (s.alpha, s.warmup)
        return checks

    def _known(self, asset: str) -> None:
        if self.rules.known_assets and asset not in self.rules.known_assets:
            self.counts["unknown_asset"] += 1
            raise ContractError(f"unknown asset {asset!r} (known: {', '.join(self.rules.known_assets)})")

    # --- telemetry -----------------------------------------------------------------------------
    def on_telemetry(self, body: object) -> list[Emit]:
        """Fold a PubSub network message into the ring buffers, stats, summaries and data quality."""
        message = pubsub.decode(body) if isinstance(body, bytes) else pubsub.from_builtins(body)
        samples = parse_network_message(message)
        self.counts["dcs_alarm_events"] += self.dcs.fold(message)
        checks = self._checks()
        out: list[Emit] = []
        for s in samples:
            if self.rules.known_assets and s.asset not in self.rules.known_assets:
                self.counts["unknown_asset"] += 1
                continue
            self.latest_ts = s.ts if self.latest_ts is None else max(self.latest_ts, s.ts)
            buf = self.buffers.setdefault(s.asset, AssetBuffer(self.buffer_len))
            buf.add(s, checks)
            done = self.summarizer.add(s.asset, s.field, s.ts, s.value if s.good else None)
            if done is not None:
                out.append(self._emit("summaries", done))
            if not s.good:
                out += self._dq_bad(s.asset, s.ts, [s.field], s.status, None)
            elif s.asset in self.dq and s.ts - self.dq[s.asset].last_bad >= self.rules.data_quality_clear_s:
                out += self._dq_good(s.asset, s.ts, None)
        self.counts["samples"] += len(samples)
        return out

    def _dq_bad(self, asset: str, ts: float, fields: list[str], status: str, sc: Score | None) -> list[Emit]:
        st = self.dq.get(asset)
        if st is not None:
            st.last_bad = max(st.last_bad, ts)
            st.fields = sorted(set(st.fields) | set(fields))
            return []
        st = self.dq[asset] = DqState(ids.event_id(asset, DQ_KIND, ts), ts, sorted(fields), ts)
        self.counts["data_quality_events"] += 1
        return [self._dq_event(asset, st, "open", None, status, sc)]

    def _dq_good(self, asset: str, ts: float, sc: Score | None) -> list[Emit]:
        st = self.dq.pop(asset)
        return [self._dq_event(asset, st, "close", ts, "Good", sc)]

    def _dq_event(
        self, asset: str, st: DqState, state: str, end: float | None, status: str, sc: Score | None
    ) -> Emit:
        data = Anomaly(
            event_id=st.event_id,
            state="close" if state == "close" else "open",
            asset=asset,
            anomaly_kind=DQ_KIND,
            severity=self.rules.data_quality_severity,
            score=None,
            thresholds={},
            start=format_ts(st.start),
            end=format_ts(end) if end is not None else None,
            evidence={"fields": st.fields, "status": status},
            model=self.model_of.get(asset),
            source_timestamp=format_ts(end if end is not None else st.last_bad),
            window=None,
        )
        mid = ids.message_id("anomaly", st.event_id, state)
        return self._emit("anomalies", data, sc.msg_id if sc else None, mid)

    # --- scores --------------------------------------------------------------------------------
    def on_score(self, envelope: object) -> list[Emit]:
        """Evaluate one score message against every matching rule."""
        sc = parse_score(envelope)
        self._known(sc.asset)
        if sc.key in self.seen:
            self.counts["duplicate_scores"] += 1
            return []
        self.seen[sc.key] = None
        while len(self.seen) > self.dedup_len:
            self.seen.popitem(last=False)
        self.counts["scores"] += 1
        self.model_of[sc.asset] = ModelRef(sc.model_name, sc.model_version)
        buf = self.buffers.get(sc.asset)
        bad_fields = buf.has_bad(sc.start, sc.end) if buf else []
        if sc.quality == "bad" or bad_fields:
            self.counts["bad_quality_windows"] += 1
            return self._dq_bad(sc.asset, sc.end, bad_fields, "Bad", sc)
        out: list[Emit] = []
        if sc.asset in self.dq:
            out += self._dq_good(sc.asset, sc.end, sc)
        matched = False
        for rule in self.rules.rules:
            if not self._matches(rule, sc):
                continue
            matched = True
            out += self._evaluate(rule, sc, buf)
        if not matched:
            self.counts["unmatched_scores"] += 1
        return out

    @staticmethod
    def _matches(rule: Rule, sc: Score) -> bool:
        return (
            rule.type == sc.type
            and fnmatch.fnmatchcase(sc.model_name, rule.model)
            and any(fnmatch.fnmatchcase(sc.asset, a) for a in rule.assets)
        )

    def _evaluate(self, rule: Rule, sc: Score, buf: AssetBuffer | None) -> list[Emit]:
        if rule.classes:
            confs = [float(d.get("confidence", 0.0)) for d in sc.detections if d.get("class") in rule.classes]
            value = max(confs, default=0.0)
        elif rule.scale == "relative" and sc.threshold:
            value = sc.score / sc.threshold
        else:
            value = sc.score
        zs: dict[str, float] = {}
        sig = 0.0
        for s in rule.signals:
            if buf is None:
                continue
            if s.method == "stuck":
                run = buf.max_flat_run(s.field, sc.start, sc.end)
                secs = buf.flat_seconds(s.field, sc.end)
                zs[f"{s.field}.flatSamples"] = float(run)
                zs[f"{s.field}.flatSeconds"] = round(secs, 3)
                sig = max(sig, run / s.min_samples, secs / s.flat_seconds)
            else:
                z = buf.max_abs_z(s.field, sc.start, sc.end)
                zs[s.field] = z
                sig = max(sig, z / s.z_above)
        model_hit = value >= rule.raise_above
        if rule.combine == "and":
            hit = model_hit and sig >= 1.0
        elif rule.combine == "or":
            hit = model_hit or sig >= 1.0
            value = max(value, sig * rule.raise_above)
        else:
            hit = model_hit
        ep = self.episodes.setdefault((rule.name, sc.asset), Episode(rule, sc.asset))
        if ep.seen(sc.end, sc.model_name):
            self.counts["duplicate_scores"] += 1  # redelivered after a restart: never steps again
            return []
        ep.mark(sc.end, sc.model_name)
        change = ep.step(sc.end, value, hit)
        if change is None:
            if ep.is_open and hit:
                self.counts["deduplicated"] += 1
            return []
        return self._events(rule, sc.asset, change, sc, zs, value)

    def _events(
        self,
        rule: Rule,
        asset: str,
        change: Change,
        sc: Score | None,
        zs: dict[str, float] | None,
        value: float | None = None,
    ) -> list[Emit]:
        evidence: dict[str, Any] = {"rule": rule.name}
        if sc is not None:
            top = sorted(sc.contributions.items(), key=lambda kv: -abs(kv[1]))[:5]
            evidence["contributions"] = dict(top)
            if sc.detections:
                evidence["detections"] = sc.detections
                classes = {str(d.get("class")) for d in sc.detections}
                evidence["frameAllowed"] = not (classes & set(self.rules.compliance.no_frame_classes))
            evidence.update(sc.camera)
            evidence["sourceMessageIds"] = sc.source_ids
        if zs:
            evidence["signals"] = {k: round(v, 3) for k, v in zs.items()}
        window = None
        buf = self.buffers.get(asset)
        if buf is not None and change.state in ("open", "close"):
            end = change.end if change.end is not None else (sc.end if sc else change.start)
            window = buf.window(change.start - self.rules.window_before_s, end, self.rules.window_max_samples)
        data = Anomaly(
            event_id=change.event_id,
            state=change.state,
            asset=asset,
            anomaly_kind=rule.kind,
            severity=cast(Severity, change.severity),  # a rule's severity (rules.Severity)
            score=sc.score if sc else None,
            thresholds={
                "raise": rule.raise_above,
                "clear": rule.clear_below,
                "scale": rule.scale,
                "model": sc.threshold if sc else None,
                "value": round(value, 6) if value is not None else None,
            },
            start=format_ts(change.start),
            end=format_ts(change.end) if change.end is not None else None,
            evidence=evidence,
            model=ModelRef(sc.model_name, sc.model_version) if sc else self.model_of.get(asset),
            source_timestamp=(sc.source_ts or format_ts(sc.end)) if sc else format_ts(change.start),
            window=window,
        )
        held = self.dcs.apply(rule.dcs_alarm, asset, change.state, change.event_id, data)
        self.counts[f"anomaly_{change.state}"] += 1
        mid = ids.message_id("anomaly", change.event_id, change.state, change.severity)
        out = [self._emit("anomalies", data, sc.msg_id if sc else None, mid)]
        if change.state == "open":
            done = self.summarizer.count_anomaly(asset, sc.end if sc else change.start)
            if done is not None:
                out.append(self._emit("summaries", done))
        if held:  # the DCS already alarms on it: counted and sent marked, no write-back request
            self.counts["dcs_suppressed_transitions"] += 1
            return out
        out += self._actions(rule, asset, change, data)
        return out

    def _actions(self, rule: Rule, asset: str, change: Change, anomaly: Anomaly) -> list[Emit]:
        out: list[Emit] = []
        event = anomaly.to_data() if rule.actions else {}
        for index, a in enumerate(rule.actions):
            if change.state not in a.on or SEVERITY_RANK[change.severity] < SEVERITY_RANK[a.min_severity]:
                continue
            fmt = {**event, "rule": rule.name, "score": event["score"] or 0.0}
            try:
                reason = a.reason.format(**fmt)
            except (KeyError, ValueError, IndexError):
                reason = f"{rule.name}: {change.state}"
            if a.from_field is not None:
                last = self.buffers[asset].last.get(a.from_field) if asset in self.buffers else None
                if last is None:
                    self.counts["action_no_value"] += 1
                    continue
                value: Any = last * a.scale
            elif a.ack_condition is not None:
                value = self.dcs.ack_value(asset, a.ack_condition, reason)
                if value is None:
                    self.counts["action_no_dcs_alarm"] += 1
                    continue
            else:
                value = a.value
            target = a.target.format(asset=asset)
            request = ids.request_id(change.event_id, change.state, change.severity, index, target)
            data = WriteRequest(
                request_id=request,
                target=target,
                value=value,
                reason=reason,
                rule=rule.name,
                asset=asset,
                source_timestamp=anomaly.source_timestamp,
            )
            out.append(Emit("actions", data, data.KIND, change.event_id, request_message_id(request)))
        return out

    # --- summaries and compliance --------------------------------------------------------------
    def flush_summaries(self, before: float | None) -> list[Emit]:
        """Summaries of periods that ended before `before` (source time; None: all)."""
        return [self._emit("summaries", s) for s in self.summarizer.flush(before)]

    def _emit(
        self, output: str, body: Anomaly | Summary, corr: str | None = None, mid: str | None = None
    ) -> Emit:
        """An upstream-bound message: reduced by the filter's own compliance rules when it has any for it."""
        sent: Contract | dict[str, Any] = body
        policy = self.rules.compliance
        if output in policy.outputs or policy.redact_keys:
            sent = compliance.apply(policy, output, body.to_data())
        if mid is None:
            mid = ids.content_id(body.KIND, sent.to_data() if isinstance(sent, Contract) else sent)
        return Emit(output, sent, body.KIND, corr, mid)

    # --- durable state (pure data in and out; the module persists it) -------------------------
    def snapshot(self) -> dict[str, Any]:
        """Episodes, open data-quality events and flat lines under way as JSON data: what must survive a
        restart."""
        return {
            "v": 1,
            "episodes": [ep.to_doc() for ep in self.episodes.values()],
            "dataQuality": {
                asset: {
                    "eventId": st.event_id,
                    "start": st.start,
                    "fields": st.fields,
                    "lastBad": st.last_bad,
                }
                for asset, st in self.dq.items()
            },
            "dcsAlarms": self.dcs.to_doc(),
            "flat": saved_runs(self.buffers, self.rules.flat_saved_s),
        }

    def restore(self, doc: dict[str, Any]) -> list[Emit]:
        """Take a snapshot back after a restart; an open episode whose rule is gone is closed now."""
        self.load(doc)
        restore_runs(self.buffers, doc.get("flat", {}), self.buffer_len)
        out: list[Emit] = []
        names = {r.name for r in self.rules.rules}
        for key, ep in list(self.episodes.items()):
            if key[0] in names:
                continue
            change = ep.close_now(ep.last_ts if ep.last_ts is not None else ep.open_start)
            if change is not None:
                out += self._events(ep.rule, key[1], change, None, None)
            del self.episodes[key]
        self.counts["episodes_restored"] += len(self.episodes)
        return out

    def load(self, doc: dict[str, Any]) -> None:
        """Replace episodes and data-quality state with a snapshot's (also: undo a failed message)."""
        rules = {r.name: r for r in self.rules.rules}
        self.episodes = {}
        for raw in doc.get("episodes", []):
            ep = Episode.from_doc(raw, rules.get(str(raw["rule"]["name"])))
            self.episodes[(ep.rule.name, ep.asset)] = ep
        self.dq = {
            asset: DqState(str(d["eventId"]), float(d["start"]), list(d["fields"]), float(d["lastBad"]))
            for asset, d in doc.get("dataQuality", {}).items()
        }
        self.dcs.load(doc.get("dcsAlarms", {}))
        self.seen.clear()  # the episodes' own source-time marks deduplicate from here on
