"""The router's logic: accept inputs into the store, pick the next batch by priority and budget, thin."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeloop_contracts.envelope import forwarded_from_data
from edgeloop_runtime.compliance import CompliancePolicy
from edgeloop_runtime.errors import ContractError

from . import dataset
from .batching import BATCH_NS, Encoded, encode_within
from .budget import Budget
from .classes import CLASSES, DEFAULT_ALARM_MIN_SEVERITY, classify
from .frames import FrameBuffer
from .store import PutResult, Store, Upload
from .thinning import check_summary, merge_summaries

DEFAULT_INTERVALS: dict[str, float] = {
    "safety": 0.0,
    "alarm": 0.0,
    "audit": 0.0,
    "anomaly": 0.0,
    "event": 1.0,
    "drift": 5.0,
    "summary": 60.0,
}


@dataclass
class Policy:
    """How the router batches and what it uploads."""

    compress: bool = True
    batch_interval_s: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERVALS))
    max_batch_messages: int = 200
    max_message_bytes: int = 250_000
    blob_wait_s: float = 10.0
    thin_after: int = 2
    upload_blobs: bool = True
    alarm_min_severity: int = DEFAULT_ALARM_MIN_SEVERITY  # active plant alarms from here on are `alarm`


@dataclass
class Accepted:
    """What accepting one input did."""

    cls: str
    result: PutResult
    uploads: int = 0


class Router:
    """Pure routing over a Store; the module calls it from its handlers and its sender loop."""

    def __init__(
        self,
        store: Store,
        budget: Budget,
        policy: Policy,
        *,
        source: dict[str, str],
        blob_url: Callable[[str], str] | None = None,
        frames: FrameBuffer | None = None,
        compliance: CompliancePolicy | None = None,
    ) -> None:
        self.store = store
        # The one place compliance is enforced for upstream: every input is reduced and redacted
        # here, before it is stored, so nothing non-compliant is sent, uploaded or even kept.
        self.compliance = compliance or CompliancePolicy()
        self.budget = budget
        self.policy = policy
        self.source = source
        self.blob_url = blob_url
        self.frames = frames or FrameBuffer()
        self.sent_bytes: Counter[str] = Counter()
        self.sent_messages: Counter[str] = Counter()
        self.sent_events: Counter[str] = Counter()

    # --- intake --------------------------------------------------------------------------------
    def accept(self, input_name: str, envelope: object, now: float) -> Accepted:
        """Persist one input (durable on return), with the blob uploads its evidence needs.

        The envelope is checked as edgeloop_contracts' `Forwarded` (only its string `id` is required, so
        an odd envelope field never loses the event; ContractError naming it otherwise); its `data` is
        stored as it came, compliance applied: the router forwards every kind, including unknown fields."""
        if not isinstance(envelope, dict):
            raise ContractError("input must be an enveloped JSON object with a string `id`")
        forwarded_from_data(envelope)
        cls = classify(input_name, envelope, alarm_min_severity=self.policy.alarm_min_severity)
        if input_name == "summaries":
            check_summary(envelope.get("data"))
        if "data" in envelope:
            envelope = {**envelope, "data": self.compliance.apply(input_name, envelope["data"])}
        uploads: list[Upload] = []
        hold = 0.0
        if input_name == "anomalies" and isinstance(envelope.get("data"), dict):
            with_blobs, uploads = self._with_evidence(envelope)
            if uploads and not self.store.evidence_fits(sum(len(u.data) for u in uploads)):
                # Evidence over its share of the quota: the event itself goes, small as always,
                # marked and counted; its window or frame is what is given up, never the event.
                self.store.count_drop("evidence", "quota", len(uploads))
                data = {**envelope["data"], "window": None, "evidenceDropped": "storeQuota"}
                envelope = {**envelope, "data": data}
                uploads = []
            else:
                envelope = with_blobs
            hold = now + self.policy.blob_wait_s if uploads else 0.0
        body = json.dumps(envelope, separators=(",", ":")).encode()
        for up in uploads:
            self.store.put_upload(up)
        result = self.store.put(envelope["id"], cls, body, hold_until=hold, now=now)
        return Accepted(cls, result, len(uploads))

    def _with_evidence(self, envelope: dict[str, Any]) -> tuple[dict[str, Any], list[Upload]]:
        data = dict(envelope["data"])
        if self.blob_url is None or not self.policy.upload_blobs:
            return envelope, []
        uploads: list[Upload] = []
        blobs: list[dict[str, str]] = []
        meta = dataset.metadata(data)
        if data.get("window"):
            path = dataset.blob_path(data, "json")
            uploads.append(
                Upload(path, envelope["id"], "application/json", meta, dataset.window_document(data))
            )
            blobs.append({"kind": "window", "url": self.blob_url(path)})
        raw_evidence = data.get("evidence")
        evidence: dict[str, Any] = raw_evidence if isinstance(raw_evidence, dict) else {}
        camera = evidence.get("cameraId")
        if camera and evidence.get("frameAllowed", True) and data.get("state") == "open":
            frame = self.frames.find(str(camera), evidence.get("seq"), evidence.get("captureTs"))
            if frame is not None:
                path = dataset.blob_path(data, "jpg")
                uploads.append(
                    Upload(path, envelope["id"], "image/jpeg", {**meta, "cameraId": frame.camera}, frame.jpeg)
                )
                blobs.append({"kind": "frame", "url": self.blob_url(path)})
        if not uploads:
            return envelope, []
        data["window"] = None
        data["blobUrl"] = blobs[0]["url"]
        data["evidence"] = {**evidence, "blobs": blobs}
        return {**envelope, "data": data}, uploads

    # --- sending -------------------------------------------------------------------------------
    def next_batch(self, now: float, *, flush: bool = False) -> Encoded | None:
        """The next message to send: highest class first; batching windows and the budget apply."""
        for cls in CLASSES:
            items = self.store.pending(cls, now=now, limit=self.policy.max_batch_messages)
            if not items:
                continue
            interval = self.policy.batch_interval_s.get(cls, 0.0)
            full = len(items) >= self.policy.max_batch_messages
            if not flush and not full and now - items[0].created < interval:
                continue
            enc = encode_within(
                items, compress=self.policy.compress, source=self.source, limit=self.policy.max_message_bytes
            )
            if self.budget.allows(cls, len(enc.payload), now):
                return enc
            if cls == "summary":
                self.thin(now)
            # A class held back by the budget holds back every class below it too.
            return None
        return None

    def sent(self, enc: Encoded, now: float) -> None:
        """Record a delivered message: forget its items, spend the budget, count."""
        self.store.ack(enc.seqs)
        self.budget.spend(len(enc.payload), now)
        self.sent_bytes[enc.cls] += len(enc.payload)
        self.sent_messages[enc.cls] += 1
        self.sent_events[enc.cls] += len(enc.seqs)

    def thin(self, now: float) -> int:
        """Merge each asset's waiting summaries into one when more than `thin_after` wait; returns merges."""
        items = self.store.pending("summary", now=now, limit=100_000)
        by_asset: dict[str, list[Any]] = {}
        for it in items:
            env = it.envelope()
            asset = str((env.get("data") or {}).get("asset"))
            by_asset.setdefault(asset, []).append((it, env))
        merged = 0
        for group in by_asset.values():
            if len(group) <= self.policy.thin_after:
                continue
            envs = [e for _it, e in group]
            env = merge_summaries(envs)
            env["id"] = str(uuid.uuid5(BATCH_NS, "thin:" + ",".join(e["id"] for e in envs)))
            body = json.dumps(env, separators=(",", ":")).encode()
            self.store.replace([it.seq for it, _e in group], env["id"], "summary", body, group[0][0].created)
            self.store.count_drop("summary", "thinned", len(group) - 1)
            merged += len(group) - 1
        return merged

    # --- status --------------------------------------------------------------------------------
    def status(self, now: float) -> dict[str, Any]:
        """The answer to `getQueueStatus`."""
        return {
            "queues": self.store.depth(now),
            "uploadsPending": self.store.uploads_pending(),
            "disk": self.store.disk_bytes(),
            "drops": {f"{c}/{r}": n for (c, r), n in sorted(self.store.drops.items())},
            "sent": {
                c: {
                    "messages": self.sent_messages[c],
                    "events": self.sent_events[c],
                    "bytes": self.sent_bytes[c],
                }
                for c in CLASSES
            },
            "budget": {
                "bytesPerHour": self.budget.bytes_per_hour,
                "tokens": None if self.budget.bytes_per_hour is None else round(self.budget.tokens),
            },
        }
